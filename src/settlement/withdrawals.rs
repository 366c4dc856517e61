//! Withdrawals (提现): a merchant asks for its settled balance to be paid
//! out; the property's finance staff approve or reject it, then record the
//! payment (a bank transfer made outside anjia, with its reference), or,
//! when configured, WeChat Pay's merchant transfer pays it
//! ([`super::transfer`]).
//!
//! The amount is set aside when asked for (merchant payable → payouts in
//! flight), so two requests can never promise more than the balance; a
//! rejection puts it back; the payment takes it out of the property's
//! clearing account. Every move is a conditional update plus its ledger
//! entry, in one transaction.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    Fen, JournalKind, MerchantId, UserId, WithdrawalId, WithdrawalStatus, merchant_approval,
    withdrawal,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::clock;
use crate::db::begin_write;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::http::Json;
use crate::ledger::{self, Account, Entry};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    pub id: WithdrawalId,
    pub merchant_id: MerchantId,
    /// Fen.
    pub amount: Fen,
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

impl From<withdrawal::Model> for Withdrawal {
    fn from(w: withdrawal::Model) -> Self {
        Self {
            id: w.id,
            merchant_id: w.merchant_id,
            amount: w.amount,
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
    /// Fen; at most the available balance.
    pub amount: Fen,
}

/// Ask for a payout of the available balance (the merchant's owner). The
/// amount is set aside at once.
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
    let amount = body.into_inner().amount;
    if amount == Fen::ZERO {
        return Err(ApiError::invalid_field("amount", "must be more than zero"));
    }
    let now = clock::now();
    let id = WithdrawalId::new();
    let merchant = scope.merchant.id;
    let txn = begin_write(&state.db).await?;
    let created = withdrawal::ActiveModel {
        id: Set(id),
        merchant_id: Set(merchant),
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
    ledger::post(
        &txn,
        Entry::new(
            JournalKind::WithdrawalRequested,
            format!("withdrawal:{id}:requested"),
        )
        .subject(id)
        .by(Some(caller.user.id))
        .memo("payout requested")
        .debit(Account::merchant_payable(merchant), amount)
        .credit(Account::payouts_in_flight(merchant), amount),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(Withdrawal::from(created)))
}

/// The merchant's withdrawals, newest first.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/withdrawals", tag = "settlement",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Vec<Withdrawal>)))]
pub async fn list_for_merchant(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Vec<Withdrawal>>> {
    Ok(web::Json(
        withdrawal::Entity::find()
            .filter(withdrawal::Column::MerchantId.eq(scope.merchant.id))
            .order_by_desc(withdrawal::Column::Id)
            .limit(200)
            .all(&state.db)
            .await?
            .into_iter()
            .map(Withdrawal::from)
            .collect(),
    ))
}

/// Merchants that have been verified to sell in this community (whose
/// money the property here has held); a merchant that only applied, or was
/// rejected, is not this community's business.
async fn merchants_here(state: &AppState, scope: &CommunityScope) -> ApiResult<Vec<MerchantId>> {
    Ok(merchant_approval::Entity::find()
        .filter(merchant_approval::Column::CommunityId.eq(scope.id()))
        .filter(merchant_approval::Column::Status.is_in([
            entity::MerchantStatus::Verified,
            entity::MerchantStatus::Suspended,
            entity::MerchantStatus::Expired,
        ]))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| a.merchant_id)
        .collect())
}

/// Withdrawals of the merchants that sell in this community, newest first
/// (finance).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/withdrawals", tag = "settlement",
    params(("community_id" = entity::CommunityId, Path)),
    responses((status = 200, body = Vec<Withdrawal>)))]
pub async fn list_for_community(
    state: web::Data<AppState>,
    scope: CommunityScope,
) -> ApiResult<web::Json<Vec<Withdrawal>>> {
    let merchants = merchants_here(&state, &scope).await?;
    Ok(web::Json(
        withdrawal::Entity::find()
            .filter(withdrawal::Column::MerchantId.is_in(merchants))
            .order_by_desc(withdrawal::Column::Id)
            .limit(500)
            .all(&state.db)
            .await?
            .into_iter()
            .map(Withdrawal::from)
            .collect(),
    ))
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

/// Approve, reject or record the payment of a withdrawal (finance).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/withdrawals/{withdrawal_id}/status", tag = "settlement",
    params(("community_id" = entity::CommunityId, Path), ("withdrawal_id" = WithdrawalId, Path)),
    request_body = WithdrawalDecision,
    responses((status = 200, body = Withdrawal), (status = 404, body = ErrorBody),
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
    if !merchants_here(&state, &scope)
        .await?
        .contains(&w.merchant_id)
    {
        return Err(ApiError::not_found());
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
                crate::text::required("reason", body.reason.as_deref().unwrap_or(""), 200)?;
            update = update
                .col_expr(withdrawal::Column::DecidedBy, Expr::value(caller.user.id))
                .col_expr(withdrawal::Column::DecidedAt, Expr::value(now))
                .col_expr(withdrawal::Column::Reason, Expr::value(reason.clone()));
            (
                "rejected",
                Some(
                    Entry::new(
                        JournalKind::WithdrawalRejected,
                        format!("withdrawal:{}:rejected", w.id),
                    )
                    .memo(&reason)
                    .debit(Account::payouts_in_flight(w.merchant_id), w.amount)
                    .credit(Account::merchant_payable(w.merchant_id), w.amount),
                ),
            )
        }
        WithdrawalStatus::Paid => {
            let reference = crate::text::required(
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
            (
                "paid",
                Some(
                    Entry::new(
                        JournalKind::WithdrawalPaid,
                        format!("withdrawal:{}:paid", w.id),
                    )
                    .memo(&format!("paid out, reference {reference}"))
                    .debit(Account::payouts_in_flight(w.merchant_id), w.amount)
                    .credit(Account::wechat_clearing(), w.amount),
                ),
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
        ledger::post(&txn, entry.subject(w.id).by(Some(caller.user.id))).await?;
    }
    // Approved: paid by WeChat transfer when configured and possible.
    if to == WithdrawalStatus::Approved {
        super::transfer::queue(&txn, &state, &w).await?;
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
    Ok(web::Json(after.into()))
}
