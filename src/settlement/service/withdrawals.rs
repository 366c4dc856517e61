//! Withdrawals (提现): a merchant asks for its settled balance to be paid
//! out; the property's finance staff approve or reject it, then record the
//! payment (a bank transfer made outside anjia, with its reference), or,
//! when configured, WeChat Pay's merchant transfer pays it
//! ([`crate::settlement::transfer`]).
//!
//! A merchant's money is kept per community: each withdrawal is paid from
//! one community's balance, and only that community's finance staff see and
//! decide it. The amount is set aside when asked for (merchant payable →
//! payouts in flight, in that community), so two requests can never promise
//! more than the balance; a rejection puts it back; the payment takes it out
//! of the property's clearing account. Every move is a state machine's move
//! (`db::transition`) plus its ledger entry, in one transaction.

use std::collections::HashMap;

use entity::{
    CommunityId, JournalKind, MerchantId, UserId, WithdrawalId, WithdrawalStatus,
    merchant_approval, withdrawal, withdrawal_allocation,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger::{self, Account, Entry};
use crate::payment::wechat_pay::WechatPay;
use crate::settlement::views::{Withdrawal, WithdrawalAsked, WithdrawalDecision};
use crate::settlement::{payouts, transfer};

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

/// Asks for a payout of `merchant`'s available balance in one community,
/// by its owner `by`: the amount is set aside at once (refused when the
/// balance is short).
pub async fn request(
    db: &DatabaseConnection,
    merchant: MerchantId,
    by: UserId,
    asked: WithdrawalAsked,
) -> ApiResult<Withdrawal> {
    let WithdrawalAsked { amount, community } = asked;
    if merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(db)
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
    let txn = begin_write(db).await?;
    let created = withdrawal::ActiveModel {
        id: Set(id),
        merchant_id: Set(merchant),
        community_id: Set(community),
        amount: Set(amount),
        status: Set(WithdrawalStatus::Requested),
        requested_by: Set(by),
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
        .by(Some(by))
        .memo("payout requested")
        .debit(Account::merchant_payable(merchant, community), amount)
        .credit(Account::payouts_in_flight(merchant, community), amount),
    )
    .await?;
    txn.commit().await?;
    Ok(Withdrawal::new(created, vec![allocation]))
}

/// The merchant's withdrawals, newest first (at most 200; `community`:
/// only those drawing on its balance).
pub async fn of_merchant<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    community: Option<CommunityId>,
) -> ApiResult<Vec<Withdrawal>> {
    let mut select = withdrawal::Entity::find().filter(withdrawal::Column::MerchantId.eq(merchant));
    if let Some(c) = community {
        select = select.filter(withdrawal::Column::Id.in_subquery(drawing_on(c)));
    }
    let found = select
        .order_by_desc(withdrawal::Column::Id)
        .limit(200)
        .all(db)
        .await?;
    views(db, found).await
}

/// Withdrawals paid from `community`'s balances, newest first (at most 500).
pub async fn of_community<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
) -> ApiResult<Vec<Withdrawal>> {
    let found = withdrawal::Entity::find()
        .filter(withdrawal::Column::Id.in_subquery(drawing_on(community)))
        .order_by_desc(withdrawal::Column::Id)
        .limit(500)
        .all(db)
        .await?;
    views(db, found).await
}

/// Who decides a withdrawal: the user, and whether they are finance (or an
/// operator admin) in a community.
pub struct Decider<F: Fn(CommunityId) -> bool> {
    pub user: UserId,
    /// The community whose finance staff decide (its balance pays it).
    pub community: CommunityId,
    /// Whether the user may decide for another community's balance.
    pub finance_in: F,
}

/// Approves, rejects or records the payment of a withdrawal paid from the
/// decider's community's balance. A payout asked for before balances were
/// kept per community may draw on several: deciding it takes finance's
/// standing in each. An approved payout is paid by WeChat transfer when
/// configured and possible (`pay` is WeChat Pay when it is the provider).
pub async fn decide<F: Fn(CommunityId) -> bool>(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    decider: Decider<F>,
    id: WithdrawalId,
    decision: WithdrawalDecision,
) -> ApiResult<Withdrawal> {
    let w = withdrawal::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let allocations = payouts::allocations_of(db, w.id).await?;
    if !allocations
        .iter()
        .any(|a| a.community_id == decider.community)
    {
        return Err(ApiError::not_found());
    }
    let elsewhere: Vec<CommunityId> = allocations
        .iter()
        .map(|a| a.community_id)
        .filter(|c| *c != decider.community)
        .filter(|c| !(decider.finance_in)(*c))
        .collect();
    if !elsewhere.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this payout also draws on money earned in communities where you are not finance",
        )
        .with_details(serde_json::json!({ "communities": elsewhere })));
    }
    let to = decision.status;
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
    let by = decider.user;
    let mut update =
        withdrawal::Entity::update_many().col_expr(withdrawal::Column::UpdatedAt, Expr::value(now));
    let (kind, entry) = match to {
        WithdrawalStatus::Approved => {
            update = update
                .col_expr(withdrawal::Column::DecidedBy, Expr::value(by))
                .col_expr(withdrawal::Column::DecidedAt, Expr::value(now));
            ("approved", None)
        }
        WithdrawalStatus::Rejected => {
            let reason = crate::kernel::text::required(
                "reason",
                decision.reason.as_deref().unwrap_or(""),
                200,
            )?;
            update = update
                .col_expr(withdrawal::Column::DecidedBy, Expr::value(by))
                .col_expr(withdrawal::Column::DecidedAt, Expr::value(now))
                .col_expr(withdrawal::Column::Reason, Expr::value(reason.clone()));
            (
                "rejected",
                Some(payouts::ending(&w, &allocations, false, &reason)?),
            )
        }
        WithdrawalStatus::Paid => {
            let reference = crate::kernel::text::required(
                "payout_reference",
                decision.payout_reference.as_deref().unwrap_or(""),
                64,
            )?;
            update = update
                .col_expr(withdrawal::Column::PaidBy, Expr::value(by))
                .col_expr(withdrawal::Column::PaidAt, Expr::value(now))
                .col_expr(
                    withdrawal::Column::PayoutReference,
                    Expr::value(reference.clone()),
                );
            let memo = format!("paid out, reference {reference}");
            (
                "paid",
                Some(payouts::ending(&w, &allocations, true, &memo)?),
            )
        }
        WithdrawalStatus::Requested => {
            return Err(ApiError::new(
                ErrorCode::InvalidTransition,
                "a withdrawal cannot go back to requested",
            ));
        }
    };
    let txn = begin_write(db).await?;
    db::transition(
        &txn,
        update.filter(withdrawal::Column::Id.eq(w.id)),
        withdrawal::Column::Status,
        w.status,
        to,
    )
    .await?;
    if let Some(entry) = entry {
        ledger::post(&txn, entry.by(Some(by))).await?;
    }
    // Approved: paid by WeChat transfer when configured and possible.
    if to == WithdrawalStatus::Approved {
        transfer::queue(&txn, pay, &w).await?;
    }
    let after = withdrawal::Entity::find_by_id(w.id)
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    crate::outbox::service::notify(
        &txn,
        settings,
        w.requested_by,
        "withdrawal_update",
        &[("amount", w.amount.yuan()), ("status", kind.to_owned())],
    )
    .await?;
    txn.commit().await?;
    Ok(Withdrawal::new(after, allocations))
}
