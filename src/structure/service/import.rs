//! Bulk import of households and owner records (业主登记) from the property's
//! own systems, as CSV (UTF-8, with a header row).
//!
//! Columns (English or Chinese headers; order free):
//!
//! | column | 中文 | required |
//! |---|---|---|
//! | `building` | 楼栋 | yes |
//! | `unit` | 单元 | no (buildings without units) |
//! | `room` | 房号 | yes |
//! | `area_m2` | 面积 | no |
//! | `owner_name` | 业主姓名 | with an owner |
//! | `owner_phone` | 业主电话 | with an owner |
//! | `owner_id_number` | 身份证号 | no |
//!
//! Every row is checked before anything is written: a dry run reports every
//! bad row (its line number and why); a real run writes all rows or, if any
//! row is bad, none. Missing buildings, units and households are created;
//! existing ones are matched by name; an owner already on record for the
//! household (same phone number) is updated.

use std::collections::HashMap;

use entity::{
    BuildingId, CommunityId, HouseholdId, OwnerRecordId, UnitId, building, household, owner_record,
    unit,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Area, address_key, create_building};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult};
use crate::pii::{IdNumber, PhoneNumber, PiiCipher};

/// Rows are written in chunks of this many (and progress reported after each).
const CHUNK: usize = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Data rows read (not counting the header).
    pub rows: usize,
    pub households_created: usize,
    pub households_matched: usize,
    pub owners_created: usize,
    pub owners_updated: usize,
    /// Every bad row. A real run with any bad row writes nothing.
    pub errors: Vec<RowError>,
}

struct Owner {
    name: String,
    phone: PhoneNumber,
    id_number: Option<IdNumber>,
}

struct Row {
    building: String,
    unit: Option<String>,
    room: String,
    area: Option<Area>,
    owner: Option<Owner>,
}

#[derive(Clone, Copy)]
enum Column {
    Building,
    Unit,
    Room,
    Area,
    OwnerName,
    OwnerPhone,
    OwnerIdNumber,
}

fn column(header: &str) -> Option<Column> {
    Some(
        match header
            .trim()
            .trim_start_matches('\u{feff}')
            .to_lowercase()
            .as_str()
        {
            "building" | "楼栋" | "楼号" => Column::Building,
            "unit" | "单元" => Column::Unit,
            "room" | "房号" | "房间" => Column::Room,
            "area_m2" | "area" | "面积" => Column::Area,
            "owner_name" | "业主姓名" | "业主" => Column::OwnerName,
            "owner_phone" | "业主电话" | "电话" | "手机" => Column::OwnerPhone,
            "owner_id_number" | "身份证号" | "身份证" => Column::OwnerIdNumber,
            _ => return None,
        },
    )
}

/// A household's address as written in the file: building, unit, room.
type Place = (String, Option<String>, String);

/// Reads and checks every row. Returns the good rows and one error per bad row.
fn parse(bytes: &[u8]) -> (Vec<Row>, Vec<RowError>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut errors = Vec::new();
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            errors.push(RowError {
                line: 1,
                reason: format!("unreadable header: {e} (save the file as CSV UTF-8)"),
            });
            return (Vec::new(), errors);
        }
    };
    let mut positions: HashMap<u8, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        match column(h) {
            Some(c) => {
                if positions.insert(c as u8, i).is_some() {
                    errors.push(RowError {
                        line: 1,
                        reason: format!("column {h:?} appears twice"),
                    });
                }
            }
            None if h.trim().is_empty() => {}
            None => errors.push(RowError {
                line: 1,
                reason: format!("unknown column {h:?}"),
            }),
        }
    }
    for (required, name) in [(Column::Building, "building"), (Column::Room, "room")] {
        if !positions.contains_key(&(required as u8)) {
            errors.push(RowError {
                line: 1,
                reason: format!("missing column {name}"),
            });
        }
    }
    if !errors.is_empty() {
        return (Vec::new(), errors);
    }

    let mut rows = Vec::new();
    let mut seen_owner: HashMap<(Place, String), u64> = HashMap::new();
    let mut seen_area: HashMap<Place, (u64, Option<Area>)> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.iter().skip(headers.len()).any(|f| !f.is_empty()) {
            errors.push(RowError {
                line,
                reason: "more fields than the header (a comma inside a value? quote the value)"
                    .to_owned(),
            });
            continue;
        }
        let get = |c: Column| -> Option<String> {
            positions
                .get(&(c as u8))
                .and_then(|&i| record.get(i))
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        match check_row(&get) {
            Ok(row) => {
                let place = (row.building.clone(), row.unit.clone(), row.room.clone());
                if let Some((first, area)) = seen_area.get(&place)
                    && row.area.is_some()
                    && area.is_some()
                    && *area != row.area
                {
                    errors.push(RowError {
                        line,
                        reason: format!("area differs from line {first} for the same household"),
                    });
                    continue;
                }
                if let Some(owner) = &row.owner {
                    let key = (place.clone(), owner.phone.as_str().to_owned());
                    if let Some(first) = seen_owner.get(&key) {
                        errors.push(RowError {
                            line,
                            reason: format!(
                                "same owner phone for the same household as line {first}"
                            ),
                        });
                        continue;
                    }
                    seen_owner.insert(key, line);
                }
                let entry = seen_area.entry(place).or_insert((line, None));
                if entry.1.is_none() {
                    entry.1 = row.area;
                }
                rows.push(row);
            }
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    (rows, errors)
}

fn check_row(get: &dyn Fn(Column) -> Option<String>) -> Result<Row, String> {
    let text = |value: Option<String>, name: &str, max: usize| -> Result<Option<String>, String> {
        match value {
            None => Ok(None),
            Some(v) => crate::kernel::text::required(name, &v, max)
                .map(Some)
                .map_err(|e| e.message),
        }
    };
    let building = text(get(Column::Building), "building", 50)?.ok_or("building is empty")?;
    let unit = text(get(Column::Unit), "unit", 50)?;
    let room = text(get(Column::Room), "room", 20)?.ok_or("room is empty")?;
    if room.contains('/') {
        return Err("room must not contain '/'".to_owned());
    }
    let area = get(Column::Area)
        .map(|a| Area::parse(&a).map_err(|e| format!("area_m2 {e}")))
        .transpose()?;
    let name = text(get(Column::OwnerName), "owner_name", 64)?;
    let phone = get(Column::OwnerPhone);
    let id_number = get(Column::OwnerIdNumber);
    let owner = match (name, phone) {
        (None, None) if id_number.is_none() => None,
        (Some(name), Some(phone)) => Some(Owner {
            name,
            phone: PhoneNumber::parse(&phone).map_err(|e| format!("owner_phone {e}"))?,
            id_number: id_number
                .map(|n| IdNumber::parse(&n).map_err(|e| format!("owner_id_number {e}")))
                .transpose()?,
        }),
        (None, _) => return Err("owner_name is empty but the row has owner details".to_owned()),
        (Some(_), None) => return Err("owner_phone is required with owner_name".to_owned()),
    };
    Ok(Row {
        building,
        unit,
        room,
        area,
        owner,
    })
}

/// Checks `csv`, then (unless `dry_run`) writes it through `db`, which must be
/// a write transaction the caller commits. `progress(done, total)` is called
/// after each chunk of written rows.
pub async fn import_owners<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    community: CommunityId,
    csv: &[u8],
    dry_run: bool,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> ApiResult<ImportReport> {
    let (rows, errors) = parse(csv);
    let mut report = ImportReport {
        dry_run,
        rows: rows.len() + errors.iter().filter(|e| e.line > 1).count(),
        errors,
        ..Default::default()
    };
    report.errors.sort_by_key(|e| e.line);
    if !report.errors.is_empty() && !dry_run {
        return Ok(report);
    }

    // What the community has already.
    let mut buildings: HashMap<String, BuildingId> = building::Entity::find()
        .filter(building::Column::CommunityId.eq(community))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.name, b.id))
        .collect();
    let mut units: HashMap<(BuildingId, String), UnitId> = unit::Entity::find()
        .filter(unit::Column::CommunityId.eq(community))
        .all(db)
        .await?
        .into_iter()
        .map(|u| ((u.building_id, u.name), u.id))
        .collect();
    let mut households: HashMap<String, (HouseholdId, Option<i64>)> = household::Entity::find()
        .filter(household::Column::CommunityId.eq(community))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.address_key, (h.id, h.area_centi_m2)))
        .collect();
    let mut owners: HashMap<(HouseholdId, String), OwnerRecordId> = owner_record::Entity::find()
        .filter(owner_record::Column::CommunityId.eq(community))
        .all(db)
        .await?
        .into_iter()
        .map(|o| ((o.household_id, o.phone_hash), o.id))
        .collect();

    let now = clock::now();
    let total = rows.len();
    let mut new_households = Vec::new();
    let mut area_updates: Vec<(HouseholdId, i64)> = Vec::new();
    let mut owner_rows = Vec::new();
    let mut counted_households: HashMap<HouseholdId, ()> = HashMap::new();
    for (done, row) in rows.iter().enumerate() {
        let building_id = match buildings.get(&row.building) {
            Some(id) => *id,
            None => {
                let id = if dry_run {
                    BuildingId::new()
                } else {
                    create_building(db, community, row.building.clone())
                        .await?
                        .id
                };
                buildings.insert(row.building.clone(), id);
                id
            }
        };
        let unit_id = match &row.unit {
            None => None,
            Some(name) => Some(match units.get(&(building_id, name.clone())) {
                Some(id) => *id,
                None => {
                    let id = if dry_run {
                        UnitId::new()
                    } else {
                        unit::ActiveModel {
                            id: Set(UnitId::new()),
                            community_id: Set(community),
                            building_id: Set(building_id),
                            name: Set(name.clone()),
                            created_at: Set(now),
                        }
                        .insert(db)
                        .await?
                        .id
                    };
                    units.insert((building_id, name.clone()), id);
                    id
                }
            }),
        };
        let key = address_key(building_id, unit_id, &row.room);
        let household_id = match households.get(&key) {
            Some((id, area)) => {
                if counted_households.insert(*id, ()).is_none() {
                    report.households_matched += 1;
                }
                if let Some(new_area) = row.area
                    && *area != Some(new_area.centi())
                {
                    area_updates.push((*id, new_area.centi()));
                }
                *id
            }
            None => {
                let id = HouseholdId::new();
                report.households_created += 1;
                counted_households.insert(id, ());
                households.insert(key.clone(), (id, row.area.map(Area::centi)));
                new_households.push(household::ActiveModel {
                    id: Set(id),
                    community_id: Set(community),
                    building_id: Set(building_id),
                    unit_id: Set(unit_id),
                    room: Set(row.room.clone()),
                    address_key: Set(key),
                    area_centi_m2: Set(row.area.map(Area::centi)),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
                id
            }
        };
        if let Some(owner) = &row.owner {
            let phone_hash = owner.phone.lookup_hash(pii);
            let existing = owners.get(&(household_id, phone_hash.clone())).copied();
            match existing {
                Some(_) => report.owners_updated += 1,
                None => report.owners_created += 1,
            }
            if !dry_run {
                owner_rows.push(owner_record::ActiveModel {
                    id: Set(existing.unwrap_or_default()),
                    community_id: Set(community),
                    household_id: Set(household_id),
                    owner_name: Set(owner.name.clone()),
                    phone_enc: Set(pii.encrypt(owner.phone.as_str())?),
                    phone_masked: Set(owner.phone.masked()),
                    id_number_hash: Set(owner.id_number.as_ref().map(|n| n.lookup_hash(pii))),
                    id_number_enc: Set(owner
                        .id_number
                        .as_ref()
                        .map(|n| pii.encrypt(n.as_str()))
                        .transpose()?),
                    id_number_masked: Set(owner.id_number.as_ref().map(IdNumber::masked)),
                    phone_hash: Set(phone_hash.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
            }
            owners.insert((household_id, phone_hash), existing.unwrap_or_default());
        }
        if !dry_run && (new_households.len() >= CHUNK || owner_rows.len() >= CHUNK) {
            flush(db, &mut new_households, &mut owner_rows).await?;
            progress(done + 1, total);
        }
    }
    if !dry_run {
        flush(db, &mut new_households, &mut owner_rows).await?;
        for (id, area) in area_updates {
            household::ActiveModel {
                id: Set(id),
                area_centi_m2: Set(Some(area)),
                updated_at: Set(now),
                ..Default::default()
            }
            .update(db)
            .await?;
        }
        progress(total, total);
    }
    Ok(report)
}

async fn flush<C: ConnectionTrait>(
    db: &C,
    households: &mut Vec<household::ActiveModel>,
    owners: &mut Vec<owner_record::ActiveModel>,
) -> ApiResult<()> {
    if !households.is_empty() {
        household::Entity::insert_many(std::mem::take(households))
            .exec(db)
            .await?;
    }
    if !owners.is_empty() {
        // New owners are inserted; an owner already on record for the
        // household (same phone) gets the new name, and the new ID number
        // only where the file gives one (a phone-only export must not erase
        // the ID numbers on record).
        let (with_id, without_id): (Vec<_>, Vec<_>) = std::mem::take(owners)
            .into_iter()
            .partition(|o| matches!(o.id_number_hash, Set(Some(_))));
        let mut always = vec![
            owner_record::Column::OwnerName,
            owner_record::Column::PhoneEnc,
            owner_record::Column::UpdatedAt,
        ];
        if !without_id.is_empty() {
            owner_record::Entity::insert_many(without_id)
                .on_conflict(
                    OnConflict::columns([
                        owner_record::Column::HouseholdId,
                        owner_record::Column::PhoneHash,
                    ])
                    .update_columns(always.clone())
                    .to_owned(),
                )
                .exec(db)
                .await?;
        }
        if !with_id.is_empty() {
            always.extend([
                owner_record::Column::IdNumberHash,
                owner_record::Column::IdNumberEnc,
                owner_record::Column::IdNumberMasked,
            ]);
            owner_record::Entity::insert_many(with_id)
                .on_conflict(
                    OnConflict::columns([
                        owner_record::Column::HouseholdId,
                        owner_record::Column::PhoneHash,
                    ])
                    .update_columns(always)
                    .to_owned(),
                )
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// The refusal of a real run with bad rows.
pub fn rejected(report: ImportReport) -> ApiError {
    let count = report.errors.len();
    ApiError::new(
        crate::kernel::error::ErrorCode::ImportRejected,
        format!("{count} bad row(s); nothing was written"),
    )
    .with_details(serde_json::json!({ "error_count": count, "errors": report.errors }))
}
