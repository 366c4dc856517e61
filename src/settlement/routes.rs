//! Merchants' money over HTTP: their balance and their daily statements
//! (JSON and CSV), per community, the commission the property takes (set by
//! an operator), and withdrawals (a merchant asks, the community's finance
//! staff decide).

use actix_web::{HttpResponse, web};
use entity::{CommunityId, MerchantId, WithdrawalId};

use super::service::{money, withdrawals};
use super::views::{
    BalanceQuery, Commission, CommunityFilter, DailyStatement, MerchantBalance, MerchantCommission,
    NewWithdrawal, StatementQuery, Withdrawal, WithdrawalDecision,
};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::Json;
use crate::state::AppState;

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
    Ok(web::Json(
        money::balance(&state.db, m.id, m.commission_bp, query.community_id).await?,
    ))
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
    let date = crate::kernel::text::day("date", &path.1)?;
    let statement = money::statement(
        &state.db,
        &state.settings.payment,
        scope.merchant.id,
        date,
        query.community_id,
    )
    .await?;
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
    let bp = body.into_inner().parse()?;
    let id = path.into_inner();
    money::set_commission(&state.db, id, bp).await?;
    Ok(web::Json(MerchantCommission {
        merchant_id: id,
        commission_bp: bp,
    }))
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
    let asked = body.into_inner().parse()?;
    let made = withdrawals::request(&state.db, scope.merchant.id, caller.user.id, asked).await?;
    Ok(HttpResponse::Created().json(made))
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
    Ok(web::Json(
        withdrawals::of_merchant(&state.db, scope.merchant.id, filter.community_id).await?,
    ))
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
    Ok(web::Json(
        withdrawals::of_community(&state.db, scope.id()).await?,
    ))
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
    let decider = withdrawals::Decider {
        user: caller.user.id,
        community: scope.id(),
        finance_in: |c: CommunityId| {
            caller.is_operator_admin
                || caller
                    .roles_in(c)
                    .iter()
                    .any(|r| crate::auth::access::FINANCE.contains(r))
        },
    };
    Ok(web::Json(
        withdrawals::decide(
            &state.db,
            &state.settings,
            state.wechat_pay.as_deref(),
            decider,
            path.1,
            body.into_inner(),
        )
        .await?,
    ))
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
        route::<__path_request, _, _>(Merchant(MERCHANT_OWNER), request),
        route::<__path_list_for_merchant, _, _>(Merchant(MERCHANT_OWNER), list_for_merchant),
        route::<__path_list_for_community, _, _>(Staff(FINANCE), list_for_community),
        route::<__path_decide, _, _>(Staff(FINANCE), decide),
    ]
}
