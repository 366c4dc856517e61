//! The rules of a community's structure: checked areas, rooms and opening
//! hours, the address key that makes an address unique, and the buildings,
//! units, households, gates, pickup points and owner records of one
//! community (every query filtered by it).

pub mod import;

use entity::pickup_point::{OpeningHours, OpeningPeriod};
use entity::{
    BuildingId, CommunityId, GateId, HouseholdId, PickupPointId, UnitId, building, gate, household,
    owner_record, pickup_point, unit,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, JoinType, QueryFilter, QuerySelect, Set, TransactionTrait,
};

use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::{Page, PageRequest};
use crate::kernel::{clock, db};
use crate::pii::PiiCipher;
use import::ImportReport;

/// A checked new household: its room and area are valid (the building and
/// unit are checked against the community when it is created).
pub struct HouseholdFields {
    pub building: BuildingId,
    pub unit: Option<UnitId>,
    pub room: String,
    pub area: Option<Area>,
}

/// Which households to list: by building, unit or exact room.
pub struct HouseholdSearch {
    pub building: Option<BuildingId>,
    pub unit: Option<UnitId>,
    pub room: Option<String>,
}

/// A checked new pickup point.
pub struct PickupPointFields {
    pub name: String,
    pub location: String,
    pub hours: OpeningHours,
}

/// Checked changes to a pickup point: each field present is replaced.
pub struct PickupPointChangeSet {
    pub name: Option<String>,
    pub location: Option<String>,
    pub hours: Option<OpeningHours>,
    pub active: Option<bool>,
}

/// A floor area, exact to 0.01 m² (no floats): `"89.5"` → 8950.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Area(i64);

impl Area {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        const MESSAGE: &str = "must be square metres with at most two decimals, such as 89.50";
        let value = value.trim();
        let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
        if whole.is_empty()
            || whole.len() > 7
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MESSAGE);
        }
        let whole: i64 = whole.parse().map_err(|_| MESSAGE)?;
        let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| MESSAGE)?;
        let centi = whole * 100 + frac;
        if centi == 0 {
            return Err("must be more than zero");
        }
        Ok(Self(centi))
    }

    pub fn from_centi(centi: i64) -> Self {
        Self(centi)
    }

    pub fn centi(self) -> i64 {
        self.0
    }

    /// `"89.50"`
    pub fn display(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Checks weekdays (1–7) and `HH:MM` times, each period opening before it
/// closes.
pub fn parse_opening_hours(periods: Vec<OpeningPeriod>) -> ApiResult<OpeningHours> {
    if periods.is_empty() {
        return Err(ApiError::invalid_field(
            "opening_hours",
            "needs at least one period",
        ));
    }
    let mut out = Vec::with_capacity(periods.len());
    for (i, mut p) in periods.into_iter().enumerate() {
        let field = format!("opening_hours[{i}]");
        if p.weekdays.is_empty() || p.weekdays.iter().any(|d| !(1..=7).contains(d)) {
            return Err(ApiError::invalid_field(
                &format!("{field}.weekdays"),
                "must be days 1 (Monday) to 7 (Sunday)",
            ));
        }
        p.weekdays.sort_unstable();
        p.weekdays.dedup();
        let opens = parse_hhmm(&p.opens)
            .ok_or_else(|| ApiError::invalid_field(&format!("{field}.opens"), "must be HH:MM"))?;
        let closes = parse_hhmm(&p.closes)
            .ok_or_else(|| ApiError::invalid_field(&format!("{field}.closes"), "must be HH:MM"))?;
        if closes <= opens {
            return Err(ApiError::invalid_field(
                &format!("{field}.closes"),
                "must be after opens",
            ));
        }
        p.opens = opens.format("%H:%M").to_string();
        p.closes = closes.format("%H:%M").to_string();
        out.push(p);
    }
    Ok(OpeningHours(out))
}

fn parse_hhmm(value: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(value.trim(), "%H:%M").ok()
}

/// The uniqueness key of an address within a community.
pub fn address_key(building: BuildingId, unit: Option<UnitId>, room: &str) -> String {
    match unit {
        Some(u) => format!("{building}/{u}/{room}"),
        None => format!("{building}/-/{room}"),
    }
}

/// A checked room number: at most 20 characters, no '/' (it separates the
/// parts of an address key).
pub fn parse_room(value: &str) -> ApiResult<String> {
    let room = crate::kernel::text::required("room", value, 20)?;
    if room.contains('/') {
        return Err(ApiError::invalid_field("room", "must not contain '/'"));
    }
    Ok(room)
}

/// Adds a building (409 if the name is taken).
pub async fn create_building<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    name: String,
) -> ApiResult<building::Model> {
    Ok(building::ActiveModel {
        id: Set(BuildingId::new()),
        community_id: Set(community),
        name: Set(name),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

async fn find_building<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: BuildingId,
) -> ApiResult<building::Model> {
    building::Entity::find_by_id(id)
        .filter(building::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// One page of the community's buildings.
pub async fn buildings<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    page: PageRequest,
) -> ApiResult<Page<building::Model>> {
    let select = building::Entity::find().filter(building::Column::CommunityId.eq(community));
    Ok(page
        .fetch(select, building::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Adds a unit to a building of `community` (404 if there is no such
/// building, 409 if the name is taken).
pub async fn create_unit<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    building: BuildingId,
    name: String,
) -> ApiResult<unit::Model> {
    let building = find_building(db, community, building).await?;
    Ok(unit::ActiveModel {
        id: Set(UnitId::new()),
        community_id: Set(building.community_id),
        building_id: Set(building.id),
        name: Set(name),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

/// One page of the units of a building of `community` (404 if there is no
/// such building).
pub async fn units<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    building: BuildingId,
    page: PageRequest,
) -> ApiResult<Page<unit::Model>> {
    let building = find_building(db, community, building).await?;
    let select = unit::Entity::find().filter(unit::Column::BuildingId.eq(building.id));
    Ok(page
        .fetch(select, unit::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Adds a household to `community`: its building must be one of the
/// community's and its unit one of that building's (422 otherwise); its
/// address must be free (409).
pub async fn create_household<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    fields: HouseholdFields,
) -> ApiResult<household::Model> {
    let building = building::Entity::find_by_id(fields.building)
        .filter(building::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field("building_id", "no such building in this community")
        })?;
    if let Some(unit_id) = fields.unit {
        unit::Entity::find_by_id(unit_id)
            .filter(unit::Column::BuildingId.eq(building.id))
            .one(db)
            .await?
            .ok_or_else(|| ApiError::invalid_field("unit_id", "no such unit in this building"))?;
    }
    let now = clock::now();
    Ok(household::ActiveModel {
        id: Set(HouseholdId::new()),
        community_id: Set(community),
        building_id: Set(building.id),
        unit_id: Set(fields.unit),
        address_key: Set(address_key(building.id, fields.unit, &fields.room)),
        room: Set(fields.room),
        area_centi_m2: Set(fields.area.map(Area::centi)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// One page of the community's households that match `search`.
pub async fn households<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    search: HouseholdSearch,
    page: PageRequest,
) -> ApiResult<Page<household::Model>> {
    let mut select = household::Entity::find().filter(household::Column::CommunityId.eq(community));
    if let Some(b) = search.building {
        select = select.filter(household::Column::BuildingId.eq(b));
    }
    if let Some(u) = search.unit {
        select = select.filter(household::Column::UnitId.eq(u));
    }
    if let Some(r) = search.room {
        select = select.filter(household::Column::Room.eq(r));
    }
    Ok(page
        .fetch(select, household::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// A household of `community` (404 otherwise).
pub async fn find_household<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: HouseholdId,
) -> ApiResult<household::Model> {
    household::Entity::find_by_id(id)
        .filter(household::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Adds a gate (409 if the name is taken).
pub async fn create_gate<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    name: String,
) -> ApiResult<gate::Model> {
    Ok(gate::ActiveModel {
        id: Set(GateId::new()),
        community_id: Set(community),
        name: Set(name),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

/// One page of the community's gates.
pub async fn gates<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    page: PageRequest,
) -> ApiResult<Page<gate::Model>> {
    let select = gate::Entity::find().filter(gate::Column::CommunityId.eq(community));
    Ok(page
        .fetch(select, gate::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Adds an open pickup point (409 if the name is taken).
pub async fn create_pickup_point<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    name: String,
    location: String,
    hours: OpeningHours,
) -> ApiResult<pickup_point::Model> {
    let now = clock::now();
    Ok(pickup_point::ActiveModel {
        id: Set(PickupPointId::new()),
        community_id: Set(community),
        name: Set(name),
        location: Set(location),
        opening_hours: Set(hours),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// One page of the community's pickup points.
pub async fn pickup_points<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    page: PageRequest,
) -> ApiResult<Page<pickup_point::Model>> {
    let select =
        pickup_point::Entity::find().filter(pickup_point::Column::CommunityId.eq(community));
    Ok(page
        .fetch(select, pickup_point::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Changes a pickup point of `community` (404 if there is no such point,
/// 409 if the new name is taken).
pub async fn update_pickup_point<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: PickupPointId,
    changes: PickupPointChangeSet,
) -> ApiResult<pickup_point::Model> {
    let current = pickup_point_in(db, community, id).await?;
    let mut model = current.into_active_model();
    if let Some(v) = changes.name {
        model.name = Set(v);
    }
    if let Some(v) = changes.location {
        model.location = Set(v);
    }
    if let Some(v) = changes.hours {
        model.opening_hours = Set(v);
    }
    if let Some(v) = changes.active {
        model.active = Set(v);
    }
    model.updated_at = Set(clock::now());
    Ok(model.update(db).await?)
}

/// One page of the community's owner register, optionally for one household.
pub async fn owner_records<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    household: Option<HouseholdId>,
    page: PageRequest,
) -> ApiResult<Page<owner_record::Model>> {
    let mut select =
        owner_record::Entity::find().filter(owner_record::Column::CommunityId.eq(community));
    if let Some(h) = household {
        select = select.filter(owner_record::Column::HouseholdId.eq(h));
    }
    Ok(page
        .fetch(select, owner_record::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Imports a CSV of households and owners into `community` in one write
/// transaction: a dry run reports and writes nothing; a real run with any
/// bad row is refused (`422 import_rejected`) and writes nothing either.
pub async fn import_register<C>(
    db: &C,
    pii: &PiiCipher,
    community: CommunityId,
    csv: &[u8],
    dry_run: bool,
) -> ApiResult<ImportReport>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = db::begin_write(db).await?;
    let report = import::import_owners(&txn, pii, community, csv, dry_run, &mut |_, _| {}).await?;
    if !dry_run && !report.errors.is_empty() {
        return Err(import::rejected(report));
    }
    txn.commit().await?;
    Ok(report)
}

/// The community's pickup point `id` (404 otherwise).
pub async fn pickup_point_in<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: PickupPointId,
) -> ApiResult<pickup_point::Model> {
    pickup_point::Entity::find_by_id(id)
        .filter(pickup_point::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// `1号楼 1单元 101`: how people write a household's address, read in one
/// query (the household joined to its building and unit). `None` when there
/// is no such household.
pub async fn household_address<C: ConnectionTrait>(
    db: &C,
    id: HouseholdId,
) -> ApiResult<Option<String>> {
    let row: Option<(String, Option<String>, String)> = household::Entity::find_by_id(id)
        .select_only()
        .column(building::Column::Name)
        .column(unit::Column::Name)
        .column(household::Column::Room)
        .join(
            JoinType::InnerJoin,
            household::Entity::belongs_to(building::Entity)
                .from(household::Column::BuildingId)
                .to(building::Column::Id)
                .into(),
        )
        .join(
            JoinType::LeftJoin,
            household::Entity::belongs_to(unit::Entity)
                .from(household::Column::UnitId)
                .to(unit::Column::Id)
                .into(),
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.map(|(building, unit, room)| {
        [Some(building), unit, Some(room)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }))
}

#[cfg(test)]
mod tests {
    use super::Area;

    #[test]
    fn areas_parse_exactly_to_hundredths() {
        assert_eq!(Area::parse("89.5").unwrap().centi(), 8950);
        assert_eq!(Area::parse("89.05").unwrap().display(), "89.05");
        assert_eq!(Area::parse("120").unwrap().display(), "120.00");
        for bad in ["", "-1", "1.234", "abc", "0", "1e3", ".5"] {
            assert!(Area::parse(bad).is_err(), "{bad}");
        }
    }
}
