//! Property-fee bills over HTTP: finance issue them and chase arrears;
//! residents see and pay them (wallet, WeChat Pay, or both).

use actix_web::{HttpRequest, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    CommunityId, FeeBillId, FeeBillStatus, FeePaymentId, FeePaymentStatus, Fen, HouseholdId,
    PaymentMethod, UserId, building, fee_bill, fee_payment, household, household_member, unit,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Generated, NewBill};
use crate::auth::access::FINANCE;
use crate::auth::{Caller, CommunityScope};
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::payment::wechat_pay::RequestPayment;
use crate::state::AppState;

// ---------------------------------------------------------------- views

/// One payment towards a bill; a succeeded one is a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeePayment {
    /// The receipt number.
    pub id: FeePaymentId,
    pub method: PaymentMethod,
    /// Fen.
    pub amount: Fen,
    pub status: FeePaymentStatus,
    pub paid_by: UserId,
    pub paid_at: Option<DateTime<Utc>>,
    /// WeChat Pay's trade number, for the WeChat Pay part.
    pub out_trade_no: Option<String>,
}

impl From<fee_payment::Model> for FeePayment {
    fn from(p: fee_payment::Model) -> Self {
        Self {
            id: p.id,
            method: p.method,
            amount: p.amount,
            status: p.status,
            paid_by: p.paid_by,
            paid_at: p.paid_at,
            out_trade_no: p.out_trade_no,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeeBill {
    pub id: FeeBillId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub period: String,
    /// Fen.
    pub amount: Fen,
    /// Fen paid so far.
    pub paid_amount: Fen,
    /// Fen still owed.
    pub outstanding: Fen,
    pub status: FeeBillStatus,
    /// Square metres billed (generated bills), e.g. `89.56`.
    pub area_m2: Option<String>,
    /// Fen per square metre (generated bills).
    pub rate_fen: Option<i64>,
    pub due_on: NaiveDate,
    pub paid_at: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    /// Voided by finance (`status` = `void`): when and why.
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
}

impl From<fee_bill::Model> for FeeBill {
    fn from(b: fee_bill::Model) -> Self {
        Self {
            outstanding: super::outstanding(&b),
            id: b.id,
            community_id: b.community_id,
            household_id: b.household_id,
            period: b.period,
            amount: b.amount,
            paid_amount: b.paid_amount,
            status: b.status,
            area_m2: b
                .area_centi_m2
                .map(|a| crate::structure::service::Area::from_centi(a).display()),
            rate_fen: b.rate_fen,
            due_on: b.due_on,
            paid_at: b.paid_at,
            issued_at: b.created_at,
            voided_at: b.voided_at,
            void_reason: b.void_reason,
        }
    }
}

/// A bill with its payments (receipts).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeeBillDetail {
    #[serde(flatten)]
    pub bill: FeeBill,
    /// The household's address.
    pub address: String,
    /// Oldest first.
    pub payments: Vec<FeePayment>,
}

async fn detail(state: &AppState, bill: fee_bill::Model) -> ApiResult<FeeBillDetail> {
    let payments = fee_payment::Entity::find()
        .filter(fee_payment::Column::BillId.eq(bill.id))
        .order_by_asc(fee_payment::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(FeePayment::from)
        .collect();
    let address = crate::structure::service::household_address(&state.db, bill.household_id)
        .await?
        .unwrap_or_default();
    Ok(FeeBillDetail {
        bill: bill.into(),
        address,
        payments,
    })
}

// ---------------------------------------------------------------- finance

fn period(value: &str) -> ApiResult<String> {
    crate::kernel::text::required("period", value, 32)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// The period billed, as you name it (`2026-Q4`, `2026年`): one bill per
    /// household and period.
    pub period: String,
    /// Fen per square metre for the period.
    pub rate_fen: i64,
    pub due_on: NaiveDate,
}

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
    let body = body.into_inner();
    let period = period(&body.period)?;
    if !(1..=100_000).contains(&body.rate_fen) {
        return Err(ApiError::invalid_field(
            "rate_fen",
            "fen per square metre, 1 to 100000",
        ));
    }
    Ok(web::Json(
        super::generate(
            &state.db,
            scope.id(),
            &period,
            body.rate_fen,
            body.due_on,
            caller.user.id,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportTarget {
    pub period: String,
    pub due_on: NaiveDate,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub issued: usize,
    /// Households already billed for the period (left as they were).
    pub already_billed: usize,
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
    let target = target.into_inner();
    let period = period(&target.period)?;
    let csv = crate::kernel::http::read_csv(&req, payload).await?;
    let buildings: Vec<building::Model> = building::Entity::find()
        .filter(building::Column::CommunityId.eq(scope.id()))
        .all(&state.db)
        .await?;
    let units: Vec<unit::Model> = unit::Entity::find()
        .filter(unit::Column::BuildingId.is_in(buildings.iter().map(|b| b.id)))
        .all(&state.db)
        .await?;
    let households: Vec<household::Model> = household::Entity::find()
        .filter(household::Column::CommunityId.eq(scope.id()))
        .all(&state.db)
        .await?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv.as_ref());
    let headers = reader
        .headers()
        .map_err(|_| ApiError::invalid_field("file", "not a readable CSV file"))?
        .clone();
    let column = |names: [&str; 2]| headers.iter().position(|h| names.contains(&h));
    let (Some(b_col), u_col, Some(r_col), Some(a_col)) = (
        column(["building", "楼栋"]),
        column(["unit", "单元"]),
        column(["room", "房号"]),
        column(["amount", "金额"]),
    ) else {
        return Err(ApiError::invalid_field(
            "file",
            "the header row needs building, unit, room and amount (楼栋, 单元, 房号, 金额)",
        ));
    };
    let mut bills: Vec<NewBill> = Vec::new();
    let mut problems = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let Ok(record) = record else {
            problems.push(serde_json::json!({ "row": row, "problem": "unreadable" }));
            continue;
        };
        let cell = |c: usize| record.get(c).unwrap_or("").trim();
        let found = buildings
            .iter()
            .find(|b| b.name == cell(b_col))
            .and_then(|b| {
                let unit_name = u_col.map(cell).unwrap_or("");
                let unit = if unit_name.is_empty() {
                    None
                } else {
                    Some(
                        units
                            .iter()
                            .find(|u| u.building_id == b.id && u.name == unit_name)?
                            .id,
                    )
                };
                let key = crate::structure::service::address_key(b.id, unit, cell(r_col));
                households.iter().find(|h| h.address_key == key)
            });
        let Some(h) = found else {
            problems.push(serde_json::json!({ "row": row, "problem": "no such household" }));
            continue;
        };
        let Some(amount) = super::parse_yuan(cell(a_col)).filter(|a| *a > Fen::ZERO) else {
            problems
                .push(serde_json::json!({ "row": row, "problem": "amount: yuan, e.g. 1234.50" }));
            continue;
        };
        if bills.iter().any(|b| b.household == h.id) {
            problems.push(serde_json::json!({ "row": row, "problem": "household listed twice" }));
            continue;
        }
        bills.push(NewBill {
            household: h.id,
            amount,
            area_centi_m2: None,
            rate_fen: None,
        });
    }
    if !problems.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ImportRejected,
            format!("{} bad row(s); nothing was issued", problems.len()),
        )
        .with_details(serde_json::json!({ "rows": problems })));
    }
    let candidates = bills.len();
    let txn = begin_write(&state.db).await?;
    let issued = super::issue(
        &txn,
        scope.id(),
        &period,
        target.due_on,
        "imported",
        caller.user.id,
        bills,
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(Imported {
        issued,
        already_billed: candidates - issued,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BillFilter {
    pub period: Option<String>,
    pub status: Option<FeeBillStatus>,
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
    let mut select = fee_bill::Entity::find().filter(fee_bill::Column::CommunityId.eq(scope.id()));
    if let Some(p) = &filter.period {
        select = select.filter(fee_bill::Column::Period.eq(p.trim()));
    }
    if let Some(s) = filter.status {
        select = select.filter(fee_bill::Column::Status.eq(s));
    }
    let page = query
        .parse()?
        .fetch(select, fee_bill::Column::Id, |b| b.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(FeeBill::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The business day today (for due dates).
fn today(state: &AppState) -> NaiveDate {
    clock::now()
        .with_timezone(&state.settings.payment.timezone())
        .date_naive()
}

/// A bill past its due date with money still owed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Arrear {
    #[serde(flatten)]
    pub bill: FeeBill,
    pub address: String,
    pub days_overdue: i64,
    pub reminded_at: Option<DateTime<Utc>>,
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
    let today = today(&state);
    let select = overdue(scope.id(), today);
    let page = query
        .parse()?
        .fetch(select, fee_bill::Column::Id, |b| b.id.as_uuid(), &state.db)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for b in page.items {
        let address = crate::structure::service::household_address(&state.db, b.household_id)
            .await?
            .unwrap_or_default();
        items.push(Arrear {
            days_overdue: (today - b.due_on).num_days(),
            reminded_at: b.reminded_at,
            address,
            bill: b.into(),
        });
    }
    Ok(web::Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

fn overdue(community: CommunityId, today: NaiveDate) -> sea_orm::Select<fee_bill::Entity> {
    fee_bill::Entity::find()
        .filter(fee_bill::Column::CommunityId.eq(community))
        .filter(
            fee_bill::Column::Status.is_in([FeeBillStatus::Unpaid, FeeBillStatus::PartiallyPaid]),
        )
        .filter(fee_bill::Column::DueOn.lt(today))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidBill {
    /// Why (billed in error, exempt, …): kept on the bill and in the ledger.
    pub reason: String,
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
    let reason = crate::kernel::text::required("reason", &body.into_inner().reason, 200)?;
    let bill = super::void(&state.db, scope.id(), path.1, caller.user.id, &reason).await?;
    Ok(web::Json(bill.into()))
}

/// What a round of reminders did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reminded {
    /// Overdue bills reminded now.
    pub bills: usize,
    /// Messages queued (one per verified member of each household).
    pub messages: usize,
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
    let now = clock::now();
    let recent = now - chrono::Duration::hours(24);
    let txn = begin_write(&state.db).await?;
    let due = overdue(scope.id(), today(&state))
        .filter(
            sea_orm::Condition::any()
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
                sea_orm::Condition::any()
                    .add(household_member::Column::TenantUntil.is_null())
                    .add(household_member::Column::TenantUntil.gt(now)),
            )
            .select_only()
            .column(household_member::Column::UserId)
            .into_tuple()
            .all(&txn)
            .await?;
        for user in members {
            crate::outbox::notify(
                &txn,
                &state.settings,
                user,
                "fee_reminder",
                &[
                    ("period", b.period.clone()),
                    ("amount", super::outstanding(b).yuan()),
                    ("due_on", b.due_on.to_string()),
                ],
            )
            .await?;
            messages += 1;
        }
    }
    fee_bill::Entity::update_many()
        .col_expr(fee_bill::Column::RemindedAt, Expr::value(now))
        .filter(fee_bill::Column::Id.is_in(due.iter().map(|b| b.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(web::Json(Reminded {
        bills: due.len(),
        messages,
    }))
}

// ---------------------------------------------------------------- residents

/// The bill if the caller may see it here: their household's, or any for
/// finance.
async fn visible(
    state: &AppState,
    scope: &CommunityScope,
    id: FeeBillId,
) -> ApiResult<fee_bill::Model> {
    fee_bill::Entity::find_by_id(id)
        .filter(fee_bill::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .filter(|b| scope.has_any_role(FINANCE) || scope.membership(b.household_id).is_some())
        .ok_or_else(ApiError::not_found)
}

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
    // Finance see this community's households only: another's is not found.
    entity::household::Entity::find_by_id(household)
        .filter(entity::household::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(web::Json(
        fee_bill::Entity::find()
            .filter(fee_bill::Column::CommunityId.eq(scope.id()))
            .filter(fee_bill::Column::HouseholdId.eq(household))
            .order_by_asc(fee_bill::Column::Id)
            .limit(200)
            .all(&state.db)
            .await?
            .into_iter()
            .map(FeeBill::from)
            .collect(),
    ))
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
    let bill = visible(&state, &scope, path.1).await?;
    Ok(web::Json(detail(&state, bill).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeePay {
    /// Fen to take from the household's wallet (抵扣); the rest is paid by
    /// WeChat Pay (or the sandbox). 0 when absent.
    #[serde(default)]
    pub wallet: Fen,
}

/// What the resident's client does next.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeePaying {
    pub bill: FeeBillDetail,
    /// Present when WeChat Pay is to take the rest: call
    /// `wx.requestPayment` with these; the bill is paid when its
    /// notification arrives.
    pub request_payment: Option<RequestPayment>,
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
    crate::orders::routes::require_resident(&scope)?;
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
