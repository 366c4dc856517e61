//! Merchants' money: their balance and their daily statements (JSON and
//! CSV), per community, and the commission the property takes (set by an
//! operator).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    CommunityId, Fen, LedgerAccountKind, MerchantId, community, merchant, merchant_approval,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::MerchantScope;
use crate::kernel::db::sql;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::Json;
use crate::ledger::{self, Account};
use crate::state::AppState;

/// What the property holds for a merchant, community by community: each
/// community's property holds, settles and pays out what the merchant
/// earned there.
#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantBalance {
    pub merchant_id: MerchantId,
    /// The property's commission, in basis points (100 = 1%).
    pub commission_bp: i32,
    /// One per community the merchant sells (or sold) in.
    pub communities: Vec<CommunityBalance>,
}

/// A merchant's money in one community.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityBalance {
    pub community_id: CommunityId,
    pub community_name: String,
    /// Settled to the merchant, not yet paid out (fen): what it may
    /// withdraw from this community.
    pub available: Fen,
    /// Paid by residents for orders not yet settled, held in escrow (fen,
    /// before commission).
    pub in_escrow: Fen,
    /// Payouts asked for or approved, not yet paid (fen).
    pub payouts_in_flight: Fen,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// Only this community's figures.
    pub community_id: Option<CommunityId>,
}

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
    let names: std::collections::HashMap<CommunityId, String> = community::Entity::find()
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

/// The merchant's balance with the property, per community
/// (`?community_id=` for one).
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/balance", tag = "settlement",
    params(("merchant_id" = MerchantId, Path), BalanceQuery),
    responses((status = 200, body = MerchantBalance), (status = 404, body = ErrorBody)))]
pub async fn balance(
    state: web::Data<AppState>,
    scope: MerchantScope,
    query: web::Query<BalanceQuery>,
) -> ApiResult<web::Json<MerchantBalance>> {
    let m = &scope.merchant;
    let backend = state.db.get_database_backend();
    let rows = state
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT o.community_id, CAST(COALESCE(-SUM(l.amount), 0) AS BIGINT) AS held \
                 FROM journal_lines l \
                 JOIN ledger_accounts a ON a.id = l.account_id \
                 JOIN orders o ON o.id = l.order_id \
                 WHERE a.kind = $1 AND o.merchant_id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM order_settlements s WHERE s.order_id = o.id) \
                 GROUP BY o.community_id",
            ),
            [
                LedgerAccountKind::Escrow.as_str().into(),
                m.id.as_uuid().into(),
            ],
        ))
        .await?;
    let mut held = std::collections::HashMap::new();
    for r in rows {
        held.insert(
            r.try_get::<CommunityId>("", "community_id")?,
            r.try_get::<i64>("", "held")?,
        );
    }
    let mut communities = Vec::new();
    for (community_id, community_name) in
        communities_of(&state.db, m.id, query.community_id).await?
    {
        let account = |f: fn(MerchantId, CommunityId) -> Account| f(m.id, community_id);
        communities.push(CommunityBalance {
            community_id,
            community_name,
            available: fen(ledger::balance(&state.db, account(Account::merchant_payable)).await?)?,
            in_escrow: fen(held.get(&community_id).copied().unwrap_or(0))?,
            payouts_in_flight: fen(ledger::balance(
                &state.db,
                account(Account::payouts_in_flight),
            )
            .await?)?,
        });
    }
    Ok(web::Json(MerchantBalance {
        merchant_id: m.id,
        commission_bp: m.commission_bp,
        communities,
    }))
}

/// One settled order on a statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLine {
    pub order_no: String,
    pub settled_at: DateTime<Utc>,
    /// What the resident paid and was not refunded (fen).
    pub gross: Fen,
    /// The property's commission (fen).
    pub commission: Fen,
    /// Credited to the merchant (fen).
    pub net: Fen,
}

/// A merchant's settlements on one business day, community by community.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyStatement {
    pub merchant_id: MerchantId,
    /// The business day (`payment.settlement_timezone`).
    pub date: NaiveDate,
    /// One per community the merchant sells (or sold) in.
    pub communities: Vec<CommunityStatement>,
}

/// What settled to a merchant in one community on the day.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityStatement {
    pub community_id: CommunityId,
    pub community_name: String,
    pub lines: Vec<StatementLine>,
    pub orders: usize,
    pub gross: Fen,
    pub commission: Fen,
    pub net: Fen,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `csv` for a spreadsheet; JSON otherwise.
    pub format: Option<String>,
    /// Only this community's settlements.
    pub community_id: Option<CommunityId>,
}

/// The merchant's statement for one business day: every order settled that
/// day with its gross, commission and net, and the totals, per community
/// (`?community_id=` for one). `?format=csv` answers a CSV file.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/statements/{date}", tag = "settlement",
    params(("merchant_id" = MerchantId, Path), ("date" = String, Path, description = "YYYY-MM-DD"), StatementQuery),
    responses((status = 200, body = DailyStatement), (status = 200, description = "CSV", body = String, content_type = "text/csv"),
        (status = 400, description = "`invalid_query`: a query parameter is malformed (such as `community_id`)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn statement(
    state: web::Data<AppState>,
    scope: MerchantScope,
    path: web::Path<(MerchantId, String)>,
    query: web::Query<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let date = NaiveDate::parse_from_str(&path.1, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid_field("date", "must be a date such as 2026-11-23"))?;
    let (from, to) = super::business_day(&state.settings.payment, date);
    let backend = state.db.get_database_backend();
    let rows = state
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT s.community_id, o.order_no, s.settled_at, s.gross, s.commission \
                 FROM order_settlements s JOIN orders o ON o.id = s.order_id \
                 WHERE s.merchant_id = $1 AND s.settled_at >= $2 AND s.settled_at < $3 \
                 ORDER BY s.settled_at, o.order_no",
            ),
            [scope.merchant.id.as_uuid().into(), from.into(), to.into()],
        ))
        .await?;
    let mut by_community: std::collections::HashMap<CommunityId, Vec<StatementLine>> =
        std::collections::HashMap::new();
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
    for (community_id, community_name) in
        communities_of(&state.db, scope.merchant.id, query.community_id).await?
    {
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
    let statement = DailyStatement {
        merchant_id: scope.merchant.id,
        date,
        communities,
    };
    if query.format.as_deref() == Some("csv") {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for c in &statement.communities {
            rows.extend(c.lines.iter().map(|l| {
                vec![
                    c.community_name.clone(),
                    l.order_no.clone(),
                    l.settled_at.to_rfc3339(),
                    l.gross.yuan(),
                    l.commission.yuan(),
                    l.net.yuan(),
                ]
            }));
            rows.push(vec![
                c.community_name.clone(),
                "合计 total".to_owned(),
                String::new(),
                c.gross.yuan(),
                c.commission.yuan(),
                c.net.yuan(),
            ]);
        }
        return crate::kernel::http::csv_response(
            &format!("statement-{date}.csv"),
            &[
                "community",
                "order_no",
                "settled_at",
                "gross_yuan",
                "commission_yuan",
                "net_yuan",
            ],
            rows,
        );
    }
    Ok(HttpResponse::Ok().json(statement))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Commission {
    /// Basis points of each settled order the property keeps (0 to 10,000;
    /// 250 = 2.5%).
    pub commission_bp: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantCommission {
    pub merchant_id: MerchantId,
    pub commission_bp: i32,
}

/// Sets the property's commission on a merchant's settled orders (operator
/// admins). Applies to orders settled from now on.
#[utoipa::path(put, path = "/api/v1/merchants/{merchant_id}/commission", tag = "settlement",
    params(("merchant_id" = MerchantId, Path)), request_body = Commission,
    responses((status = 200, body = MerchantCommission), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_commission(
    state: web::Data<AppState>,
    path: web::Path<MerchantId>,
    body: Json<Commission>,
) -> ApiResult<web::Json<MerchantCommission>> {
    let bp = body.into_inner().commission_bp;
    if !(0..=10_000).contains(&bp) {
        return Err(ApiError::invalid_field(
            "commission_bp",
            "must be from 0 to 10000 (basis points)",
        ));
    }
    let id = path.into_inner();
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
        .exec(&state.db)
        .await?
        .rows_affected;
    if updated == 0 {
        return Err(ApiError::not_found());
    }
    Ok(web::Json(MerchantCommission {
        merchant_id: id,
        commission_bp: bp,
    }))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{FINANCE, MERCHANT_OWNER};
    vec![
        // Merchants' money: balance, daily statements, commission
        route::<__path_balance, _, _>(Merchant(MERCHANT_OWNER), balance),
        route::<__path_statement, _, _>(Merchant(MERCHANT_OWNER), statement),
        route::<__path_set_commission, _, _>(OperatorAdmin, set_commission),
        route::<crate::settlement::withdrawals::__path_request, _, _>(Merchant(MERCHANT_OWNER), crate::settlement::withdrawals::request),
        route::<crate::settlement::withdrawals::__path_list_for_merchant, _, _>(Merchant(MERCHANT_OWNER), crate::settlement::withdrawals::list_for_merchant),
        route::<crate::settlement::withdrawals::__path_list_for_community, _, _>(Staff(FINANCE), crate::settlement::withdrawals::list_for_community),
        route::<crate::settlement::withdrawals::__path_decide, _, _>(Staff(FINANCE), crate::settlement::withdrawals::decide),
    ]
}
