use entity::pickup_point::{OpeningHours, OpeningPeriod};
use entity::{
    BuildingId, CommunityId, GateId, HouseholdId, PickupPointId, UnitId, building, gate, household,
    pickup_point, unit,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter,
    QuerySelect, Set,
};

use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult};

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

pub fn parse_room(value: &str) -> ApiResult<String> {
    let room = crate::kernel::text::required("room", value, 20)?;
    if room.contains('/') {
        return Err(ApiError::invalid_field("room", "must not contain '/'"));
    }
    Ok(room)
}

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

pub async fn find_building<C: ConnectionTrait>(
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

pub async fn create_unit<C: ConnectionTrait>(
    db: &C,
    building: &building::Model,
    name: String,
) -> ApiResult<unit::Model> {
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

pub async fn create_household<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    building: BuildingId,
    unit: Option<UnitId>,
    room: String,
    area: Option<Area>,
) -> ApiResult<household::Model> {
    let now = clock::now();
    Ok(household::ActiveModel {
        id: Set(HouseholdId::new()),
        community_id: Set(community),
        building_id: Set(building),
        unit_id: Set(unit),
        address_key: Set(address_key(building, unit, &room)),
        room: Set(room),
        area_centi_m2: Set(area.map(Area::centi)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

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

pub async fn find_pickup_point<C: ConnectionTrait>(
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
