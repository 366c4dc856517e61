//! The day's reconciliation for finance (their community's transactions)
//! and operators (every line), as JSON or CSV.

use actix_web::{HttpResponse, web};
use entity::CommunityId;
use serde::Deserialize;
use utoipa::IntoParams;

use super::report::{self, Reconciliation};
use crate::auth::CommunityScope;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportFormat {
    /// `csv` for the differences as a spreadsheet; JSON otherwise.
    pub format: Option<String>,
}

fn answer(r: Reconciliation, format: &ReportFormat) -> ApiResult<HttpResponse> {
    if format.format.as_deref() == Some("csv") {
        return crate::kernel::http::csv_response(
            &format!("reconciliation-{}.csv", r.date),
            &report::CSV_HEADER,
            report::csv_rows(&r),
        );
    }
    Ok(HttpResponse::Ok().json(r))
}

/// The reconciliation of one business day against WeChat Pay's trade and
/// fund-flow bills, for this community's payments, refunds and payouts:
/// the totals and every difference (missing here, missing in the bill,
/// amounts that differ). `?format=csv` answers the differences as CSV.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pay-reconciliations/{date}", tag = "settlement",
    params(("community_id" = CommunityId, Path), ("date" = String, Path, description = "YYYY-MM-DD, Beijing time"), ReportFormat),
    responses((status = 200, body = Reconciliation), (status = 200, description = "CSV", body = String, content_type = "text/csv"),
        (status = 422, body = ErrorBody)))]
pub async fn community(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, String)>,
    format: web::Query<ReportFormat>,
) -> ApiResult<HttpResponse> {
    let date = crate::kernel::text::day("date", &path.1)?;
    let r = report::report(&state.db, date, Some(scope.id())).await?;
    answer(r, &format)
}

/// The reconciliation of one business day, every line of both bills
/// (operators): what no community can be told of, such as a payment the
/// ledger has nothing behind, is here. `?format=csv` for the differences.
#[utoipa::path(get, path = "/api/v1/pay-reconciliations/{date}", tag = "settlement",
    params(("date" = String, Path, description = "YYYY-MM-DD, Beijing time"), ReportFormat),
    responses((status = 200, body = Reconciliation), (status = 200, description = "CSV", body = String, content_type = "text/csv"),
        (status = 422, body = ErrorBody)))]
pub async fn company(
    state: web::Data<AppState>,
    path: web::Path<String>,
    format: web::Query<ReportFormat>,
) -> ApiResult<HttpResponse> {
    let date = crate::kernel::text::day("date", &path)?;
    let r = report::report(&state.db, date, None).await?;
    answer(r, &format)
}
