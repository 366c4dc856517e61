//! A period's bills imported from a spreadsheet: columns `building`,
//! `unit` (empty when the building has none), `room`, `amount` (yuan), or
//! 楼栋, 单元, 房号, 金额. Every row is checked first: any bad row and
//! nothing is issued.

use entity::{CommunityId, Fen, UserId, building, household, unit};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{Billing, Issued, NewBill, issue_all, parse_yuan};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// Issues the bills `csv` lists for the period (`422 import_rejected`, with
/// every bad row in `details`, when any row is bad).
pub async fn import(
    db: &DatabaseConnection,
    community: CommunityId,
    billing: &Billing,
    by: UserId,
    csv: &[u8],
) -> ApiResult<Issued> {
    let buildings: Vec<building::Model> = building::Entity::find()
        .filter(building::Column::CommunityId.eq(community))
        .all(db)
        .await?;
    let units: Vec<unit::Model> = unit::Entity::find()
        .filter(unit::Column::BuildingId.is_in(buildings.iter().map(|b| b.id)))
        .all(db)
        .await?;
    let households: Vec<household::Model> = household::Entity::find()
        .filter(household::Column::CommunityId.eq(community))
        .all(db)
        .await?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv);
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
        let Some(amount) = parse_yuan(cell(a_col)).filter(|a| *a > Fen::ZERO) else {
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
    issue_all(db, community, billing, "imported", by, bills).await
}
