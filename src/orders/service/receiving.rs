//! The resident's side of an order: who may order, for which household,
//! and how the order is to reach them.

use chrono::{DateTime, Utc};
use entity::{CommunityId, Fulfilment, HouseholdId, PickupPointId, pickup_point};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::auth::CommunityScope;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::views::Receiving;

/// Refuses callers without a household here (staff and operators act
/// through their own routes).
pub fn require_resident(scope: &CommunityScope) -> ApiResult<()> {
    if scope.memberships.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotAResident,
            "only verified residents of this community can do this",
        ));
    }
    Ok(())
}

/// The household the caller orders for: the one named, or their only one
/// here. Staff and operators without a household here are refused.
pub fn ordering_household(
    scope: &CommunityScope,
    named: Option<HouseholdId>,
) -> ApiResult<HouseholdId> {
    require_resident(scope)?;
    match named {
        Some(h) if scope.membership(h).is_some() => Ok(h),
        Some(_) => Err(ApiError::invalid_field(
            "household_id",
            "you are not a verified member of this household",
        )),
        None if scope.memberships.len() == 1 => Ok(scope.memberships[0].household_id),
        None => Err(ApiError::invalid_field(
            "household_id",
            "you belong to several households here; say which one this order is for",
        )),
    }
}

/// How an order will be received, checked.
pub struct Reception {
    pub pickup_point_id: Option<PickupPointId>,
    pub address: String,
    pub address_remark: Option<String>,
    pub delivery_time: Option<DateTime<Utc>>,
}

/// Checks how the order is to be received: at one of `points_offered`
/// (any active point of the community when `None`), or at the door when
/// `door_delivery` allows it, at the household's address or another one
/// with a remark saying why.
pub async fn resolve_receiving<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    household: HouseholdId,
    r: &Receiving,
    points_offered: Option<&[PickupPointId]>,
    door_delivery: bool,
) -> ApiResult<Reception> {
    let home = crate::structure::service::household_address(db, household)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match r.fulfilment {
        Fulfilment::Pickup => {
            let point = r
                .pickup_point_id
                .ok_or_else(|| ApiError::invalid_field("pickup_point_id", "required for pickup"))?;
            let offered = match points_offered {
                Some(points) => points.contains(&point),
                None => pickup_point::Entity::find_by_id(point)
                    .filter(pickup_point::Column::CommunityId.eq(community))
                    .one(db)
                    .await?
                    .is_some_and(|p| p.active),
            };
            if !offered {
                return Err(ApiError::invalid_field(
                    "pickup_point_id",
                    "not a pickup point offered for this order",
                ));
            }
            Ok(Reception {
                pickup_point_id: Some(point),
                address: home,
                address_remark: None,
                delivery_time: None,
            })
        }
        Fulfilment::Delivery => {
            if !door_delivery {
                return Err(ApiError::invalid_field(
                    "fulfilment",
                    "this group buy does not deliver to the door; choose a pickup point",
                ));
            }
            let remark = r
                .address_remark
                .as_deref()
                .map(|v| crate::kernel::text::required("address_remark", v, 200))
                .transpose()?;
            let address = match r.address.as_deref().map(str::trim) {
                None | Some("") => home.clone(),
                Some(a) => crate::kernel::text::required("address", a, 200)?,
            };
            if address != home && remark.is_none() {
                return Err(ApiError::invalid_field(
                    "address_remark",
                    "say why the order goes to an address other than your household's",
                ));
            }
            if let Some(t) = r.delivery_time
                && t < clock::now()
            {
                return Err(ApiError::invalid_field(
                    "delivery_time",
                    "must be in the future",
                ));
            }
            Ok(Reception {
                pickup_point_id: None,
                address,
                address_remark: remark,
                delivery_time: r.delivery_time,
            })
        }
    }
}
