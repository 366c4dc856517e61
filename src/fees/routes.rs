//! Property-fee bills over HTTP: finance issue them and chase arrears;
//! residents see and pay them (wallet, WeChat Pay, or both).

use actix_web::{HttpRequest, web};
use entity::{CommunityId, FeeBillId, HouseholdId, fee_bill};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::service;
use super::views::{
    Arrear, BillFilter, FeeBill, FeeBillDetail, FeePay, FeePaying, Generated, Generation,
    ImportTarget, Imported, Reminded, VoidBill,
};
use crate::auth::access::FINANCE;
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

/// A bill with its payments and address, as the API shows it.
async fn detail(state: &AppState, bill: fee_bill::Model) -> ApiResult<FeeBillDetail> {
    Ok(service::detail(&state.db, bill).await?.into())
}

// ---------------------------------------------------------------- finance

/// Bill every household with a floor area on record for a period: area ×
/// rate, rounded to the fen. Households already billed for the period are
/// left alone, so running it again only fills the gaps.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/fee-bills/generate", tag = "fees",
    params(("community_id" = CommunityId, Path)), request_body = Generation,
    responses((status = 200, body = Generated),
        (status = 409, description = "`conflict`: another run is issuing bills for the same period; try again", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn generate(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    body: Json<Generation>,
) -> ApiResult<web::Json<Generated>> {
    let (billing, rate) = body.into_inner().parse()?;
    let issued = service::generate(&state.db, scope.id(), &billing, rate, caller.user.id).await?;
    Ok(web::Json(issued.into()))
}

/// Import a period's bills from a spreadsheet (`text/csv`), columns
/// `building`, `unit` (empty when the building has none), `room`, `amount`
/// (yuan, e.g. `1234.50`), or 楼栋, 单元, 房号, 金额. Every row is checked
/// first: any bad row and nothing is issued (`422 import_rejected`, with
/// every bad row in `details`).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/fee-bills/import", tag = "fees",
    params(("community_id" = CommunityId, Path), ImportTarget),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Imported),
        (status = 409, description = "`conflict`: another run is issuing bills for the same period; try again", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "Bad rows; nothing issued", body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    req: HttpRequest,
    target: web::Query<ImportTarget>,
    payload: web::Payload,
) -> ApiResult<web::Json<Imported>> {
    let billing = target.parse()?;
    let csv = crate::kernel::http::read_csv(&req, payload).await?;
    let issued = service::import(&state.db, scope.id(), &billing, caller.user.id, &csv).await?;
    Ok(web::Json(issued.into()))
}

/// Every bill of the community, oldest first (finance).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/fee-bills", tag = "fees",
    params(("community_id" = CommunityId, Path), BillFilter, PageQuery),
    responses((status = 200, body = Page<FeeBill>)))]
pub async fn list(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<BillFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<FeeBill>>> {
    let page = query.parse()?;
    let found = service::list(
        &state.db,
        scope.id(),
        filter.period.as_deref(),
        filter.status,
        page,
    )
    .await?;
    Ok(web::Json(found.map(FeeBill::from)))
}

/// The arrears list (欠费): bills past their due date not fully paid,
/// oldest bill first.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/fee-bills/arrears", tag = "fees",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, body = Page<Arrear>)))]
pub async fn arrears(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Arrear>>> {
    let page = query.parse()?;
    let found = service::arrears(&state.db, &state.settings, scope.id(), page).await?;
    Ok(web::Json(found.map(Arrear::from)))
}

/// Voids a bill nothing has been paid on (作废): billed in error, or the
/// household is exempt. Its receivable and revenue are reversed; the
/// household may be billed for the period again.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/fee-bills/{bill_id}/void", tag = "fees",
    params(("community_id" = CommunityId, Path), ("bill_id" = FeeBillId, Path)), request_body = VoidBill,
    responses((status = 200, body = FeeBill), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`: money has been paid on it, or a WeChat Pay payment is under way", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn void(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, FeeBillId)>,
    body: Json<VoidBill>,
) -> ApiResult<web::Json<FeeBill>> {
    let reason = body.into_inner().parse()?;
    let bill = service::void(&state.db, scope.id(), path.1, caller.user.id, &reason).await?;
    Ok(web::Json(bill.into()))
}

/// Remind the households of overdue bills (through the outbox, one message
/// per verified member). A bill reminded in the last 24 hours is skipped,
/// so pressing it twice does not nag.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/fee-bills/reminders", tag = "fees",
    params(("community_id" = CommunityId, Path)),
    responses((status = 200, body = Reminded)))]
pub async fn remind(
    state: web::Data<AppState>,
    scope: CommunityScope,
) -> ApiResult<web::Json<Reminded>> {
    let done = service::remind(&state.db, &state.settings, scope.id()).await?;
    Ok(web::Json(done.into()))
}

// ---------------------------------------------------------------- residents

/// A household's bills, newest period last (its members, and finance).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/households/{household_id}/fee-bills", tag = "fees",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path)),
    responses((status = 200, body = Vec<FeeBill>), (status = 404, body = ErrorBody)))]
pub async fn household_bills(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId)>,
) -> ApiResult<web::Json<Vec<FeeBill>>> {
    let household = path.1;
    if !scope.has_any_role(FINANCE) && scope.membership(household).is_none() {
        return Err(ApiError::not_found());
    }
    let bills = service::household_bills(&state.db, scope.id(), household).await?;
    Ok(web::Json(bills.into_iter().map(FeeBill::from).collect()))
}

/// A bill with its payments (the receipts).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/fee-bills/{bill_id}", tag = "fees",
    params(("community_id" = CommunityId, Path), ("bill_id" = FeeBillId, Path)),
    responses((status = 200, body = FeeBillDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, FeeBillId)>,
) -> ApiResult<web::Json<FeeBillDetail>> {
    // Their household's bill, or any for finance.
    let found = service::visible_detail(&state.db, scope.id(), path.1, |b| {
        scope.has_any_role(FINANCE) || scope.membership(b.household_id).is_some()
    })
    .await?;
    Ok(web::Json(found.into()))
}

/// Pay a bill of your household: from its wallet, by WeChat Pay, or both
/// (the wallet part is taken at once).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/fee-bills/{bill_id}/pay", tag = "fees",
    params(("community_id" = CommunityId, Path), ("bill_id" = FeeBillId, Path)), request_body = FeePay,
    responses((status = 200, body = FeePaying), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition` (paid already), `insufficient_balance` (wallet), `payment_unavailable` (no mini-program sign-in, or sandbox payments in production), `conflict` (the bill changed meanwhile)", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat Pay refused or failed the prepay", body = ErrorBody)))]
pub async fn pay(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, FeeBillId)>,
    body: Json<FeePay>,
) -> ApiResult<web::Json<FeePaying>> {
    crate::orders::service::require_resident(&scope)?;
    let bill = fee_bill::Entity::find_by_id(path.1)
        .filter(fee_bill::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .filter(|b| scope.membership(b.household_id).is_some())
        .ok_or_else(ApiError::not_found)?;
    let (bill, request_payment) = crate::flows::payments::pay_fee_bill(
        &state.db,
        &state.settings,
        state.wechat_pay.as_deref(),
        bill,
        caller.user.id,
        body.into_inner().wallet,
    )
    .await?;
    Ok(web::Json(FeePaying {
        bill: detail(&state, bill).await?,
        request_payment,
    }))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{FINANCE, RESIDENTS_ONLY};
    vec![
        // Property-fee bills (the fixed paths before /fee-bills/{bill_id})
        route::<__path_generate, _, _>(Staff(FINANCE), generate),
        route::<__path_import, _, _>(Staff(FINANCE), import),
        route::<__path_list, _, _>(Staff(FINANCE), list),
        route::<__path_arrears, _, _>(Staff(FINANCE), arrears),
        route::<__path_remind, _, _>(Staff(FINANCE), remind),
        route::<__path_get, _, _>(Residents(FINANCE), get),
        route::<__path_pay, _, _>(Residents(RESIDENTS_ONLY), pay),
        route::<__path_void, _, _>(Staff(FINANCE), void),
        route::<__path_household_bills, _, _>(Residents(FINANCE), household_bills),
    ]
}
