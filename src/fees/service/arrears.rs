//! Arrears (欠费): bills past their due date with money still owed, and
//! the reminders finance queue for them through the outbox.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{CommunityId, FeeBillStatus, UserId, fee_bill, household_member};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use super::outstanding;
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::ApiResult;
use crate::kernel::http::{Page, PageRequest};

/// The business day at `now` (for due dates).
fn today(settings: &Settings, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&settings.payment.timezone()).date_naive()
}

/// The community's bills past their due date and not fully paid.
fn overdue(community: CommunityId, today: NaiveDate) -> Select<fee_bill::Entity> {
    fee_bill::Entity::find()
        .filter(fee_bill::Column::CommunityId.eq(community))
        .filter(
            fee_bill::Column::Status.is_in([FeeBillStatus::Unpaid, FeeBillStatus::PartiallyPaid]),
        )
        .filter(fee_bill::Column::DueOn.lt(today))
}

/// An overdue bill, with its household's address.
pub struct Overdue {
    pub bill: fee_bill::Model,
    pub address: String,
    pub days_overdue: i64,
}

/// One page of the arrears list, oldest bill first.
pub async fn arrears(
    db: &DatabaseConnection,
    settings: &Settings,
    community: CommunityId,
    page: PageRequest,
) -> ApiResult<Page<Overdue>> {
    let today = today(settings, clock::now());
    let page = page
        .fetch(
            overdue(community, today),
            fee_bill::Column::Id,
            |b| b.id.as_uuid(),
            db,
        )
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for bill in page.items {
        let address = crate::structure::service::household_address(db, bill.household_id)
            .await?
            .unwrap_or_default();
        items.push(Overdue {
            days_overdue: (today - bill.due_on).num_days(),
            address,
            bill,
        });
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// What a round of reminders did.
pub struct Reminders {
    /// Overdue bills reminded now.
    pub bills: usize,
    /// Messages queued (one per current member of each household).
    pub messages: usize,
}

/// Reminds the households of overdue bills (through the outbox, one
/// message per current member). A bill reminded in the last 24 hours is
/// skipped, so pressing it twice does not nag.
pub async fn remind(
    db: &DatabaseConnection,
    settings: &Settings,
    community: CommunityId,
) -> ApiResult<Reminders> {
    let now = clock::now();
    let recent = now - chrono::Duration::hours(24);
    let txn = begin_write(db).await?;
    let due = overdue(community, today(settings, now))
        .filter(
            Condition::any()
                .add(fee_bill::Column::RemindedAt.is_null())
                .add(fee_bill::Column::RemindedAt.lt(recent)),
        )
        .order_by_asc(fee_bill::Column::Id)
        .limit(1_000)
        .all(&txn)
        .await?;
    let mut messages = 0;
    for b in &due {
        // Current members only: not the removed, not tenants whose tenancy ended.
        let members: Vec<UserId> = household_member::Entity::find()
            .filter(household_member::Column::HouseholdId.eq(b.household_id))
            .filter(household_member::Column::RemovedAt.is_null())
            .filter(
                Condition::any()
                    .add(household_member::Column::TenantUntil.is_null())
                    .add(household_member::Column::TenantUntil.gt(now)),
            )
            .select_only()
            .column(household_member::Column::UserId)
            .into_tuple()
            .all(&txn)
            .await?;
        for user in members {
            crate::outbox::service::notify(
                &txn,
                settings,
                user,
                "fee_reminder",
                &[
                    ("period", b.period.clone()),
                    ("amount", outstanding(b).yuan()),
                    ("due_on", b.due_on.to_string()),
                ],
            )
            .await?;
            messages += 1;
        }
    }
    // Stamped whatever their status now: a reminder went out for each.
    fee_bill::Entity::update_many()
        .col_expr(fee_bill::Column::RemindedAt, Expr::value(now))
        .filter(fee_bill::Column::Id.is_in(due.iter().map(|b| b.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Reminders {
        bills: due.len(),
        messages,
    })
}
