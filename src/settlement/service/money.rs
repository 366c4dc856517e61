//! Merchants' money as they see it: their balance per community, their
//! daily statements, and the commission the property takes.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{
    CommunityId, Fen, LedgerAccountKind, MerchantId, community, merchant, merchant_approval,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::config::PaymentSettings;
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult};
use crate::ledger::{self, Account};
use crate::settlement::views::{
    CommunityBalance, CommunityStatement, DailyStatement, MerchantBalance, StatementLine,
};

fn fen(v: impl Into<i64>) -> ApiResult<Fen> {
    crate::kernel::money::fen(v, "a merchant's figure")
}

/// The communities a merchant has applied to, with their names, in order
/// of application (one, with `only`).
async fn communities_of<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    only: Option<CommunityId>,
) -> ApiResult<Vec<(CommunityId, String)>> {
    let mut select = merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .order_by_asc(merchant_approval::Column::CreatedAt);
    if let Some(c) = only {
        select = select.filter(merchant_approval::Column::CommunityId.eq(c));
    }
    let ids: Vec<CommunityId> = select
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.community_id)
        .collect();
    let names: HashMap<CommunityId, String> = community::Entity::find()
        .filter(community::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    Ok(ids
        .into_iter()
        .map(|id| {
            let name = names.get(&id).cloned().unwrap_or_default();
            (id, name)
        })
        .collect())
}

/// What the property holds for the merchant `m` (commission `commission_bp`),
/// per community (`only`: one).
pub async fn balance<C: ConnectionTrait>(
    db: &C,
    m: MerchantId,
    commission_bp: i32,
    only: Option<CommunityId>,
) -> ApiResult<MerchantBalance> {
    let rows = db::query_all(
        db,
        "SELECT o.community_id, CAST(COALESCE(-SUM(l.amount), 0) AS BIGINT) AS held \
         FROM journal_lines l \
         JOIN ledger_accounts a ON a.id = l.account_id \
         JOIN orders o ON o.id = l.order_id \
         WHERE a.kind = $1 AND o.merchant_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM order_settlements s WHERE s.order_id = o.id) \
         GROUP BY o.community_id",
        [
            LedgerAccountKind::Escrow.as_str().into(),
            m.as_uuid().into(),
        ],
    )
    .await?;
    let mut held = HashMap::new();
    for r in rows {
        held.insert(
            r.try_get::<CommunityId>("", "community_id")?,
            r.try_get::<i64>("", "held")?,
        );
    }
    let mut communities = Vec::new();
    for (community_id, community_name) in communities_of(db, m, only).await? {
        let account = |f: fn(MerchantId, CommunityId) -> Account| f(m, community_id);
        communities.push(CommunityBalance {
            community_id,
            community_name,
            available: fen(ledger::balance(db, account(Account::merchant_payable)).await?)?,
            in_escrow: fen(held.get(&community_id).copied().unwrap_or(0))?,
            payouts_in_flight: fen(
                ledger::balance(db, account(Account::payouts_in_flight)).await?,
            )?,
        });
    }
    Ok(MerchantBalance {
        merchant_id: m,
        commission_bp,
        communities,
    })
}

/// The merchant's statement for the business day `date`: every order
/// settled that day with its gross, commission and net, and the totals,
/// per community (`only`: one).
pub async fn statement<C: ConnectionTrait>(
    db: &C,
    settings: &PaymentSettings,
    merchant: MerchantId,
    date: NaiveDate,
    only: Option<CommunityId>,
) -> ApiResult<DailyStatement> {
    let (from, to) = super::business_day(settings, date);
    let rows = db::query_all(
        db,
        "SELECT s.community_id, o.order_no, s.settled_at, s.gross, s.commission \
         FROM order_settlements s JOIN orders o ON o.id = s.order_id \
         WHERE s.merchant_id = $1 AND s.settled_at >= $2 AND s.settled_at < $3 \
         ORDER BY s.settled_at, o.order_no",
        [merchant.as_uuid().into(), from.into(), to.into()],
    )
    .await?;
    let mut by_community: HashMap<CommunityId, Vec<StatementLine>> = HashMap::new();
    for r in rows {
        let gross: i64 = r.try_get("", "gross")?;
        let commission: i64 = r.try_get("", "commission")?;
        by_community
            .entry(r.try_get("", "community_id")?)
            .or_default()
            .push(StatementLine {
                order_no: r.try_get("", "order_no")?,
                settled_at: r.try_get("", "settled_at")?,
                gross: fen(gross)?,
                commission: fen(commission)?,
                net: fen(gross - commission)?,
            });
    }
    let mut communities = Vec::new();
    for (community_id, community_name) in communities_of(db, merchant, only).await? {
        let lines = by_community.remove(&community_id).unwrap_or_default();
        let total =
            |f: fn(&StatementLine) -> Fen| fen(lines.iter().map(|l| f(l).as_i64()).sum::<i64>());
        communities.push(CommunityStatement {
            community_id,
            community_name,
            orders: lines.len(),
            gross: total(|l| l.gross)?,
            commission: total(|l| l.commission)?,
            net: total(|l| l.net)?,
            lines,
        });
    }
    Ok(DailyStatement {
        merchant_id: merchant,
        date,
        communities,
    })
}

/// Sets the property's commission on the merchant's orders settled from
/// now on (`bp` checked: 0 to 10,000 basis points).
pub async fn set_commission<C: ConnectionTrait>(db: &C, id: MerchantId, bp: i32) -> ApiResult<()> {
    let updated = merchant::Entity::update_many()
        .col_expr(
            merchant::Column::CommissionBp,
            sea_orm::sea_query::Expr::value(bp),
        )
        .col_expr(
            merchant::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(crate::kernel::clock::now()),
        )
        .filter(merchant::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    if updated == 0 {
        return Err(ApiError::not_found());
    }
    Ok(())
}
