//! What ends a payout, shared by finance's decisions ([`super::withdrawals`])
//! and WeChat Pay's transfer results ([`super::transfer`]): which
//! communities' balances a withdrawal draws on, and the entry that pays it
//! out or gives it back to them.

use entity::{JournalKind, WithdrawalId, withdrawal, withdrawal_allocation};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::kernel::error::{ApiError, ApiResult};
use crate::ledger::{Account, Entry};

/// The communities a withdrawal draws on, and how much each.
pub async fn allocations_of<C: ConnectionTrait>(
    db: &C,
    w: WithdrawalId,
) -> ApiResult<Vec<withdrawal_allocation::Model>> {
    Ok(withdrawal_allocation::Entity::find()
        .filter(withdrawal_allocation::Column::WithdrawalId.eq(w))
        .order_by_asc(withdrawal_allocation::Column::CommunityId)
        .all(db)
        .await?)
}

/// The entry that ends a payout: paid out of the property's account, or
/// (rejected, or the transfer failed) back to each balance it came from.
pub fn ending(
    w: &withdrawal::Model,
    allocations: &[withdrawal_allocation::Model],
    paid: bool,
    memo: &str,
) -> ApiResult<Entry> {
    if allocations.iter().map(|a| a.amount.as_i64()).sum::<i64>() != w.amount.as_i64() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "withdrawal {} of {} is not allocated to its communities (anjia ledger verify)",
            w.id,
            w.amount
        )));
    }
    let (kind, word) = if paid {
        (JournalKind::WithdrawalPaid, "paid")
    } else {
        (JournalKind::WithdrawalRejected, "rejected")
    };
    let mut entry = Entry::new(kind, format!("withdrawal:{}:{word}", w.id))
        .subject(w.id)
        .memo(memo);
    for a in allocations {
        entry = entry.debit(
            Account::payouts_in_flight(w.merchant_id, a.community_id),
            a.amount,
        );
        entry = if paid {
            entry.credit(Account::wechat_clearing(), a.amount)
        } else {
            entry.credit(
                Account::merchant_payable(w.merchant_id, a.community_id),
                a.amount,
            )
        };
    }
    Ok(entry)
}
