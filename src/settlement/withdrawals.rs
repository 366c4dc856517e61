//! Withdrawals (提现): a merchant asks for its settled balance to be paid
//! out; the property's finance staff approve or reject it, then record the
//! payment (a bank transfer made outside anjia, with its reference), or,
//! when configured, WeChat Pay's merchant transfer pays it
//! ([`super::transfer`]).
//!
//! A merchant's money is kept per community: each withdrawal is paid from
//! one community's balance, and only that community's finance staff see and
//! decide it. The amount is set aside when asked for (merchant payable →
//! payouts in flight, in that community), so two requests can never promise
//! more than the balance; a rejection puts it back; the payment takes it out
//! of the property's clearing account. Every move is a conditional update
//! plus its ledger entry, in one transaction.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use entity::{
    CommunityId, Fen, JournalKind, MerchantId, UserId, WithdrawalId, WithdrawalStatus,
    merchant_approval, withdrawal, withdrawal_allocation,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::Json;
use crate::ledger::{self, Account, Entry};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    pub id: WithdrawalId,
    pub merchant_id: MerchantId,
    /// The community whose balance pays it.
    pub community_id: CommunityId,
    /// Fen.
    pub amount: Fen,
    /// What each community's balance pays of it: the one community, for a
    /// payout asked for since balances are kept per community; possibly
    /// several for an older one (first in, first out by settlement date).
    pub allocations: Vec<Allocation>,
    pub status: WithdrawalStatus,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub paid_by: Option<UserId>,
    pub paid_at: Option<DateTime<Utc>>,
    pub payout_reference: Option<String>,
    /// Paid by WeChat transfer: its state as WeChat Pay reported it
    /// (`queued` until sent; `WAIT_USER_CONFIRM`: the owner confirms).
    pub transfer_state: Option<String>,
    /// While the owner must confirm: pass as `package` to
    /// `wx.requestMerchantTransfer` in the mini-program.
    pub transfer_package: Option<String>,
}

/// One community's part of a withdrawal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Allocation {
    pub community_id: CommunityId,
    /// Fen.
    pub amount: Fen,
}

impl Withdrawal {
    fn new(w: withdrawal::Model, allocations: Vec<withdrawal_allocation::Model>) -> Self {
        Self {
            id: w.id,
            merchant_id: w.merchant_id,
            community_id: w.community_id,
            amount: w.amount,
            allocations: allocations
                .into_iter()
                .map(|a| Allocation {
                    community_id: a.community_id,
                    amount: a.amount,
                })
                .collect(),
            status: w.status,
            requested_by: w.requested_by,
            requested_at: w.created_at,
            decided_by: w.decided_by,
            decided_at: w.decided_at,
            reason: w.reason,
            paid_by: w.paid_by,
            paid_at: w.paid_at,
            payout_reference: w.payout_reference,
            transfer_state: w.transfer_state,
            transfer_package: w.transfer_package,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWithdrawal {
    /// Fen; at most the available balance in the community.
    pub amount: Fen,
    /// The community whose balance pays it (each community's property
    /// holds and pays out what the merchant earned there).
    pub community_id: CommunityId,
}

async fn views<C: ConnectionTrait>(
    db: &C,
    found: Vec<withdrawal::Model>,
) -> ApiResult<Vec<Withdrawal>> {
    let ids: Vec<WithdrawalId> = found.iter().map(|w| w.id).collect();
    let mut parts: HashMap<WithdrawalId, Vec<withdrawal_allocation::Model>> = HashMap::new();
    for a in withdrawal_allocation::Entity::find()
        .filter(withdrawal_allocation::Column::WithdrawalId.is_in(ids))
        .order_by_asc(withdrawal_allocation::Column::CommunityId)
        .all(db)
        .await?
    {
        parts.entry(a.withdrawal_id).or_default().push(a);
    }
    Ok(found
        .into_iter()
        .map(|w| {
            let mine = parts.remove(&w.id).unwrap_or_default();
            Withdrawal::new(w, mine)
        })
        .collect())
}

/// Withdrawals drawing on `community`'s balance (a subquery of ids).
fn drawing_on(community: CommunityId) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(withdrawal_allocation::Column::WithdrawalId)
        .from(withdrawal_allocation::Entity)
        .and_where(withdrawal_allocation::Column::CommunityId.eq(community))
        .to_owned()
}

/// Ask for a payout of the available balance in one community (the
/// merchant's owner). The amount is set aside at once.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/withdrawals", tag = "settlement",
    params(("merchant_id" = MerchantId, Path)), request_body = NewWithdrawal,
    responses((status = 201, body = Withdrawal),
        (status = 409, description = "`insufficient_balance`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn request(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    body: Json<NewWithdrawal>,
) -> ApiResult<HttpResponse> {
    let NewWithdrawal {
        amount,
        community_id: community,
    } = body.into_inner();
    if amount == Fen::ZERO {
        return Err(ApiError::invalid_field("amount", "must be more than zero"));
    }
    let merchant = scope.merchant.id;
    if merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(&state.db)
        .await?
        .is_none()
    {
        return Err(ApiError::invalid_field(
            "community_id",
            "not a community this merchant sells in",
        ));
    }
    let now = clock::now();
    let id = WithdrawalId::new();
    let txn = begin_write(&state.db).await?;
    let created = withdrawal::ActiveModel {
        id: Set(id),
        merchant_id: Set(merchant),
        community_id: Set(community),
        amount: Set(amount),
        status: Set(WithdrawalStatus::Requested),
        requested_by: Set(caller.user.id),
        decided_by: Set(None),
        decided_at: Set(None),
        reason: Set(None),
        paid_by: Set(None),
        paid_at: Set(None),
        payout_reference: Set(None),
        transfer_state: Set(None),
        transfer_bill_no: Set(None),
        transfer_package: Set(None),
        transfer_checked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let allocation = withdrawal_allocation::ActiveModel {
        withdrawal_id: Set(id),
        community_id: Set(community),
        amount: Set(amount),
    }
    .insert(&txn)
    .await?;
    ledger::post(
        &txn,
        Entry::new(
            JournalKind::WithdrawalRequested,
            format!("withdrawal:{id}:requested"),
        )
        .subject(id)
        .community(community)
        .by(Some(caller.user.id))
        .memo("payout requested")
        .debit(Account::merchant_payable(merchant, community), amount)
        .credit(Account::payouts_in_flight(merchant, community), amount),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(Withdrawal::new(created, vec![allocation])))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunityFilter {
    /// Only this community's.
    pub community_id: Option<CommunityId>,
}

/// The merchant's withdrawals, newest first (`?community_id=` for one
/// community's).
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/withdrawals", tag = "settlement",
    params(("merchant_id" = MerchantId, Path), CommunityFilter),
    responses((status = 200, body = Vec<Withdrawal>)))]
pub async fn list_for_merchant(
    state: web::Data<AppState>,
    scope: MerchantScope,
    filter: web::Query<CommunityFilter>,
) -> ApiResult<web::Json<Vec<Withdrawal>>> {
    let mut select =
        withdrawal::Entity::find().filter(withdrawal::Column::MerchantId.eq(scope.merchant.id));
    if let Some(c) = filter.community_id {
        select = select.filter(withdrawal::Column::Id.in_subquery(drawing_on(c)));
    }
    let found = select
        .order_by_desc(withdrawal::Column::Id)
        .limit(200)
        .all(&state.db)
        .await?;
    Ok(web::Json(views(&state.db, found).await?))
}

/// Withdrawals paid from this community's balances, newest first
/// (finance): merchants' money earned here, and only that.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/withdrawals", tag = "settlement",
    params(("community_id" = entity::CommunityId, Path)),
    responses((status = 200, body = Vec<Withdrawal>)))]
pub async fn list_for_community(
    state: web::Data<AppState>,
    scope: CommunityScope,
) -> ApiResult<web::Json<Vec<Withdrawal>>> {
    let found = withdrawal::Entity::find()
        .filter(withdrawal::Column::Id.in_subquery(drawing_on(scope.id())))
        .order_by_desc(withdrawal::Column::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    Ok(web::Json(views(&state.db, found).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalDecision {
    /// `approved`, `rejected` (with a reason) or `paid` (with the
    /// transfer's reference).
    pub status: WithdrawalStatus,
    /// Required to reject; at most 200 characters.
    pub reason: Option<String>,
    /// Required for `paid`: the bank or WeChat transfer's reference.
    pub payout_reference: Option<String>,
}

/// Approve, reject or record the payment of a withdrawal paid from this
/// community's balance (finance). A payout asked for before balances were
/// kept per community may draw on several: deciding it takes finance's
/// standing in each.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/withdrawals/{withdrawal_id}/status", tag = "settlement",
    params(("community_id" = entity::CommunityId, Path), ("withdrawal_id" = WithdrawalId, Path)),
    request_body = WithdrawalDecision,
    responses((status = 200, body = Withdrawal), (status = 404, body = ErrorBody),
        (status = 403, description = "`forbidden`: it also draws on a community where you are not finance", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(entity::CommunityId, WithdrawalId)>,
    body: Json<WithdrawalDecision>,
) -> ApiResult<web::Json<Withdrawal>> {
    let body = body.into_inner();
    let w = withdrawal::Entity::find_by_id(path.1)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let allocations = super::payouts::allocations_of(&state.db, w.id).await?;
    if !allocations.iter().any(|a| a.community_id == scope.id()) {
        return Err(ApiError::not_found());
    }
    let elsewhere: Vec<CommunityId> = allocations
        .iter()
        .map(|a| a.community_id)
        .filter(|c| *c != scope.id())
        .filter(|c| {
            !caller.is_operator_admin
                && !caller
                    .roles_in(*c)
                    .iter()
                    .any(|r| crate::auth::access::FINANCE.contains(r))
        })
        .collect();
    if !elsewhere.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this payout also draws on money earned in communities where you are not finance",
        )
        .with_details(serde_json::json!({ "communities": elsewhere })));
    }
    let to = body.status;
    if w.transfer_state.is_some() && w.status == WithdrawalStatus::Approved {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "this payout is under way by WeChat transfer; its result settles it",
        ));
    }
    if !w.status.may_become(to) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("a withdrawal that is {} cannot become {to}", w.status),
        ));
    }
    let now = clock::now();
    let mut update = withdrawal::Entity::update_many()
        .col_expr(withdrawal::Column::Status, Expr::value(to))
        .col_expr(withdrawal::Column::UpdatedAt, Expr::value(now));
    let (kind, entry) = match to {
        WithdrawalStatus::Approved => {
            update = update
                .col_expr(withdrawal::Column::DecidedBy, Expr::value(caller.user.id))
                .col_expr(withdrawal::Column::DecidedAt, Expr::value(now));
            ("approved", None)
        }
        WithdrawalStatus::Rejected => {
            let reason =
                crate::kernel::text::required("reason", body.reason.as_deref().unwrap_or(""), 200)?;
            update = update
                .col_expr(withdrawal::Column::DecidedBy, Expr::value(caller.user.id))
                .col_expr(withdrawal::Column::DecidedAt, Expr::value(now))
                .col_expr(withdrawal::Column::Reason, Expr::value(reason.clone()));
            (
                "rejected",
                Some(super::payouts::ending(&w, &allocations, false, &reason)?),
            )
        }
        WithdrawalStatus::Paid => {
            let reference = crate::kernel::text::required(
                "payout_reference",
                body.payout_reference.as_deref().unwrap_or(""),
                64,
            )?;
            update = update
                .col_expr(withdrawal::Column::PaidBy, Expr::value(caller.user.id))
                .col_expr(withdrawal::Column::PaidAt, Expr::value(now))
                .col_expr(
                    withdrawal::Column::PayoutReference,
                    Expr::value(reference.clone()),
                );
            let memo = format!("paid out, reference {reference}");
            (
                "paid",
                Some(super::payouts::ending(&w, &allocations, true, &memo)?),
            )
        }
        WithdrawalStatus::Requested => {
            return Err(ApiError::new(
                ErrorCode::InvalidTransition,
                "a withdrawal cannot go back to requested",
            ));
        }
    };
    let txn = begin_write(&state.db).await?;
    let moved = update
        .filter(withdrawal::Column::Id.eq(w.id))
        .filter(withdrawal::Column::Status.eq(w.status))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the withdrawal changed meanwhile; reload it and try again",
        ));
    }
    if let Some(entry) = entry {
        ledger::post(&txn, entry.by(Some(caller.user.id))).await?;
    }
    // Approved: paid by WeChat transfer when configured and possible.
    if to == WithdrawalStatus::Approved {
        super::transfer::queue(&txn, state.wechat_pay.as_deref(), &w).await?;
    }
    let after = withdrawal::Entity::find_by_id(w.id)
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    crate::outbox::notify(
        &txn,
        &state.settings,
        w.requested_by,
        "withdrawal_update",
        &[("amount", w.amount.yuan()), ("status", kind.to_owned())],
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(Withdrawal::new(after, allocations)))
}
