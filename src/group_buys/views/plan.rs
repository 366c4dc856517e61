//! An organiser's requests parsed into values that hold every rule: a
//! [`Plan`] cannot exist with a deadline in the past, an empty pickup offer
//! or an item priced above its usual price, so the service writes one
//! without checking again.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::{
    Fen, GroupBuyId, GroupBuyItemId, GroupBuyStatus, PickupPointId, ProductId, group_buy,
    group_buy_item,
};
use sea_orm::Set;

use super::{GroupBuyMove, NewGroupBuy};
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::text;

/// What the database knows of the ids a request names, read by the service
/// before the request is parsed.
#[derive(Debug, Default)]
pub struct Known {
    /// The community's active pickup points among those named.
    pub active_points: BTreeSet<PickupPointId>,
    /// The organising merchant's products among those named (none when the
    /// property organises).
    pub products: HashMap<ProductId, ProductDefaults>,
}

/// What an item takes from its product when it does not say.
#[derive(Debug, Clone)]
pub struct ProductDefaults {
    pub title: String,
    pub unit: String,
    pub price: Fen,
}

/// A group buy's details, checked and ready to write (for a new group buy
/// or an edited draft). Made only by [`Plan::parse`].
#[derive(Debug)]
pub struct Plan {
    title: String,
    description: String,
    min_households: i32,
    starts_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    /// Both ends of the pickup window, or neither.
    pickup_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    door_delivery: bool,
    /// Each point once, in id order.
    points: Vec<PickupPointId>,
    /// 1 to 50.
    items: Vec<PlanItem>,
}

/// One item of a [`Plan`].
#[derive(Debug)]
struct PlanItem {
    product_id: Option<ProductId>,
    title: String,
    unit: String,
    price: Fen,
    /// Not below `price`.
    original_price: Option<Fen>,
    /// 1 to 1,000,000.
    stock: i64,
    /// At least 1 when given.
    per_household_limit: Option<i32>,
    sort_order: i32,
}

impl Plan {
    /// Checks `body` as of `now`, against what the database `known`s of
    /// the points and products it names. The first broken rule is the
    /// answer, in the order the fields are listed.
    pub fn parse(body: NewGroupBuy, now: DateTime<Utc>, known: &Known) -> ApiResult<Plan> {
        let title = text::required("title", &body.title, 60)?;
        let description = body.description.trim().to_owned();
        if description.chars().count() > 2000 {
            return Err(ApiError::invalid_field(
                "description",
                "at most 2,000 characters",
            ));
        }
        if !(1..=10_000).contains(&body.min_households) {
            return Err(ApiError::invalid_field(
                "min_households",
                "between 1 and 10,000",
            ));
        }
        let starts_at = body.starts_at.unwrap_or(now);
        if body.deadline <= now || body.deadline <= starts_at {
            return Err(ApiError::invalid_field(
                "deadline",
                "must be in the future and after starts_at",
            ));
        }
        let pickup_window = match (body.pickup_starts_at, body.pickup_ends_at) {
            (Some(a), Some(b)) if b <= a => {
                return Err(ApiError::invalid_field(
                    "pickup_ends_at",
                    "must be after pickup_starts_at",
                ));
            }
            (Some(a), Some(b)) => Some((a, b)),
            (Some(_), None) | (None, Some(_)) => {
                return Err(ApiError::invalid_field(
                    "pickup_starts_at",
                    "give both ends of the pickup window, or neither",
                ));
            }
            (None, None) => None,
        };
        if body.pickup_point_ids.is_empty() && !body.door_delivery {
            return Err(ApiError::invalid_field(
                "pickup_point_ids",
                "offer a pickup point, door delivery, or both",
            ));
        }
        let mut points = body.pickup_point_ids;
        points.sort();
        points.dedup();
        if !points.iter().all(|p| known.active_points.contains(p)) {
            return Err(ApiError::invalid_field(
                "pickup_point_ids",
                "not an active pickup point of this community",
            ));
        }
        if body.items.is_empty() || body.items.len() > 50 {
            return Err(ApiError::invalid_field("items", "1 to 50 items"));
        }
        let mut items = Vec::with_capacity(body.items.len());
        for (n, i) in body.items.into_iter().enumerate() {
            let from = match i.product_id {
                Some(p) => Some(known.products.get(&p).ok_or_else(|| {
                    ApiError::invalid_field(
                        "product_id",
                        "not a product of the organising merchant",
                    )
                })?),
                None => None,
            };
            let title = match (&i.title, from) {
                (Some(t), _) => text::required("title", t, 60)?,
                (None, Some(p)) => p.title.clone(),
                (None, None) => return Err(ApiError::invalid_field("title", "required")),
            };
            let unit = match (&i.unit, from) {
                (Some(u), _) => text::required("unit", u, 16)?,
                (None, Some(p)) => p.unit.clone(),
                (None, None) => return Err(ApiError::invalid_field("unit", "required")),
            };
            let original_price = i.original_price.or(from.map(|p| p.price));
            if original_price.is_some_and(|o| o < i.price) {
                return Err(ApiError::invalid_field(
                    "original_price",
                    "must not be below the group price",
                ));
            }
            if !(1..=1_000_000).contains(&i.stock) {
                return Err(ApiError::invalid_field("stock", "between 1 and 1,000,000"));
            }
            if i.per_household_limit.is_some_and(|l| l < 1) {
                return Err(ApiError::invalid_field(
                    "per_household_limit",
                    "at least 1 (leave it out for no limit)",
                ));
            }
            items.push(PlanItem {
                product_id: i.product_id,
                title,
                unit,
                price: i.price,
                original_price,
                stock: i.stock,
                per_household_limit: i.per_household_limit,
                sort_order: i.sort_order.unwrap_or(n as i32),
            });
        }
        Ok(Plan {
            title,
            description,
            min_households: body.min_households,
            starts_at,
            deadline: body.deadline,
            pickup_window,
            door_delivery: body.door_delivery,
            points,
            items,
        })
    }

    /// Sets the group buy row's own columns.
    pub fn row(&self, model: &mut group_buy::ActiveModel, now: DateTime<Utc>) {
        model.title = Set(self.title.clone());
        model.description = Set(self.description.clone());
        model.min_households = Set(self.min_households);
        model.starts_at = Set(self.starts_at);
        model.deadline = Set(self.deadline);
        model.pickup_starts_at = Set(self.pickup_window.map(|(a, _)| a));
        model.pickup_ends_at = Set(self.pickup_window.map(|(_, b)| b));
        model.door_delivery = Set(self.door_delivery);
        model.updated_at = Set(now);
    }

    /// The item rows of group buy `group` (fresh item ids).
    pub fn item_rows(&self, group: GroupBuyId) -> Vec<group_buy_item::ActiveModel> {
        self.items
            .iter()
            .map(|i| group_buy_item::ActiveModel {
                id: Set(GroupBuyItemId::new()),
                group_buy_id: Set(group),
                product_id: Set(i.product_id),
                title: Set(i.title.clone()),
                unit: Set(i.unit.clone()),
                price: Set(i.price),
                original_price: Set(i.original_price),
                stock: Set(i.stock),
                initial_stock: Set(i.stock),
                per_household_limit: Set(i.per_household_limit),
                sort_order: Set(i.sort_order),
            })
            .collect()
    }

    /// Where it can be collected: each point once.
    pub fn points(&self) -> &[PickupPointId] {
        &self.points
    }
}

/// An organiser's move, checked: a status an organiser may ask for, and the
/// reason a cancellation needs.
#[derive(Debug)]
pub struct OrganiserMove {
    to: GroupBuyStatus,
    reason: Option<String>,
}

impl GroupBuyMove {
    /// Refuses the statuses that follow from facts rather than from the
    /// organiser (payments, the deadline, the merchant's standing) and a
    /// cancellation without a reason.
    pub fn parse(self) -> ApiResult<OrganiserMove> {
        use GroupBuyStatus::*;
        if matches!(self.status, Succeeded | Failed | Draft | Paused) {
            return Err(ApiError::invalid_field(
                "status",
                "succeeded and failed follow from payments and the deadline, paused from the merchant's standing",
            ));
        }
        let reason = self
            .reason
            .as_deref()
            .map(|r| text::required("reason", r, 200))
            .transpose()?;
        if self.status == Cancelled && reason.is_none() {
            return Err(ApiError::invalid_field(
                "reason",
                "say why (the participants are told)",
            ));
        }
        Ok(OrganiserMove {
            to: self.status,
            reason,
        })
    }
}

impl OrganiserMove {
    pub fn to(&self) -> GroupBuyStatus {
        self.to
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use entity::{Fen, GroupBuyStatus, PickupPointId, ProductId};

    use super::{Known, Plan, ProductDefaults};
    use crate::group_buys::views::{GroupBuyMove, NewGroupBuy, NewGroupBuyItem};
    use crate::kernel::error::ApiError;

    fn fen(n: i64) -> Fen {
        Fen::new(n).unwrap()
    }

    fn item() -> NewGroupBuyItem {
        NewGroupBuyItem {
            product_id: None,
            title: Some("Lychees".into()),
            unit: Some("box".into()),
            price: fen(3000),
            original_price: Some(fen(4000)),
            stock: 10,
            per_household_limit: Some(2),
            sort_order: None,
        }
    }

    /// A plan that passes, with one known active point.
    fn body(point: PickupPointId) -> NewGroupBuy {
        NewGroupBuy {
            community_id: None,
            title: "Lychee season".into(),
            description: String::new(),
            min_households: 5,
            starts_at: None,
            deadline: chrono::Utc::now() + Duration::days(2),
            pickup_starts_at: None,
            pickup_ends_at: None,
            door_delivery: false,
            pickup_point_ids: vec![point],
            items: vec![item()],
            publish: false,
        }
    }

    /// A change that breaks a plan, with the field it must be refused on.
    type Case<T> = (&'static str, Box<dyn FnOnce(&mut T)>);
    type PlanCase = (&'static str, Box<dyn FnOnce(&mut NewGroupBuy, &mut Known)>);

    fn known(point: PickupPointId) -> Known {
        Known {
            active_points: [point].into(),
            ..Known::default()
        }
    }

    /// The field `change` breaks, or the plan when it breaks nothing.
    fn parse(change: impl FnOnce(&mut NewGroupBuy, &mut Known)) -> Result<Plan, String> {
        let point = PickupPointId::new();
        let (mut body, mut known) = (body(point), known(point));
        change(&mut body, &mut known);
        Plan::parse(body, chrono::Utc::now(), &known).map_err(field)
    }

    fn field(e: ApiError) -> String {
        e.details
            .as_ref()
            .and_then(|d| d["field"].as_str())
            .unwrap_or_else(|| panic!("not a field's error: {}", e.message))
            .to_owned()
    }

    #[test]
    fn a_sound_plan_parses_with_its_defaults() {
        let point = PickupPointId::new();
        let mut b = body(point);
        b.pickup_point_ids = vec![point, point];
        b.description = "  fresh  ".into();
        let before = chrono::Utc::now();
        let plan = Plan::parse(b, chrono::Utc::now(), &known(point)).unwrap();
        assert_eq!(plan.points(), [point], "each point once");
        assert_eq!(plan.description, "fresh");
        assert!(plan.starts_at >= before, "starts when published");
        assert_eq!(plan.items[0].sort_order, 0, "sorted as listed");
        assert!(parse(|b, _| b.door_delivery = true).is_ok());
        let window = parse(|b, _| {
            let now = chrono::Utc::now();
            b.pickup_starts_at = Some(now + Duration::days(3));
            b.pickup_ends_at = Some(now + Duration::days(4));
        });
        assert!(window.unwrap().pickup_window.is_some());
    }

    #[test]
    fn the_group_buy_itself_must_hold_its_rules() {
        let now = chrono::Utc::now();
        let cases: Vec<PlanCase> = vec![
            ("title", Box::new(|b, _| b.title = "  ".into())),
            ("title", Box::new(|b, _| b.title = "长".repeat(61))),
            (
                "description",
                Box::new(|b, _| b.description = "x".repeat(2001)),
            ),
            ("min_households", Box::new(|b, _| b.min_households = 0)),
            ("min_households", Box::new(|b, _| b.min_households = 10_001)),
            (
                "deadline",
                Box::new(move |b, _| b.deadline = now - Duration::minutes(1)),
            ),
            (
                "deadline",
                Box::new(move |b, _| b.starts_at = Some(b.deadline + Duration::hours(1))),
            ),
            (
                "pickup_ends_at",
                Box::new(move |b, _| {
                    b.pickup_starts_at = Some(now + Duration::days(3));
                    b.pickup_ends_at = Some(now + Duration::days(3));
                }),
            ),
            (
                "pickup_starts_at",
                Box::new(move |b, _| b.pickup_starts_at = Some(now + Duration::days(3))),
            ),
            (
                "pickup_starts_at",
                Box::new(move |b, _| b.pickup_ends_at = Some(now + Duration::days(3))),
            ),
            (
                "pickup_point_ids",
                Box::new(|b, _| b.pickup_point_ids.clear()),
            ),
            (
                "pickup_point_ids",
                Box::new(|b, _| b.pickup_point_ids.push(PickupPointId::new())),
            ),
            ("pickup_point_ids", Box::new(|_, k| k.active_points.clear())),
            ("items", Box::new(|b, _| b.items.clear())),
            (
                "items",
                Box::new(|b, _| b.items = (0..51).map(|_| item()).collect()),
            ),
        ];
        for (want, change) in cases {
            assert_eq!(parse(change).map(|_| ()), Err(want.to_owned()));
        }
    }

    #[test]
    fn every_item_must_hold_its_rules() {
        let cases: Vec<Case<NewGroupBuyItem>> = vec![
            (
                "product_id",
                Box::new(|i| i.product_id = Some(ProductId::new())),
            ),
            ("title", Box::new(|i| i.title = None)),
            ("title", Box::new(|i| i.title = Some("x".repeat(61)))),
            ("unit", Box::new(|i| i.unit = None)),
            ("unit", Box::new(|i| i.unit = Some(" ".into()))),
            (
                "original_price",
                Box::new(|i| i.original_price = Some(fen(2999))),
            ),
            ("stock", Box::new(|i| i.stock = 0)),
            ("stock", Box::new(|i| i.stock = 1_000_001)),
            (
                "per_household_limit",
                Box::new(|i| i.per_household_limit = Some(0)),
            ),
        ];
        for (want, change) in cases {
            // The broken item is the second: the first passes.
            let got = parse(|b, _| {
                let mut broken = item();
                change(&mut broken);
                b.items.push(broken);
            });
            assert_eq!(got.map(|_| ()), Err(want.to_owned()));
        }
    }

    #[test]
    fn an_item_takes_what_it_leaves_out_from_its_product() {
        let product = ProductId::new();
        let defaults = ProductDefaults {
            title: "Mangoes".into(),
            unit: "kg".into(),
            price: fen(5000),
        };
        let of_product = |original: Option<Fen>| {
            let defaults = defaults.clone();
            parse(move |b, k| {
                k.products.insert(product, defaults);
                b.items = vec![NewGroupBuyItem {
                    product_id: Some(product),
                    title: None,
                    unit: None,
                    original_price: original,
                    ..item()
                }];
            })
        };
        let plan = of_product(None).unwrap();
        let i = &plan.items[0];
        assert_eq!((i.title.as_str(), i.unit.as_str()), ("Mangoes", "kg"));
        assert_eq!(i.original_price, Some(fen(5000)));
        // A product priced below the group price is no usual price.
        let cheap = parse(|b, k| {
            k.products.insert(
                product,
                ProductDefaults {
                    price: fen(100),
                    ..defaults.clone()
                },
            );
            b.items[0].product_id = Some(product);
            b.items[0].original_price = None;
        });
        assert_eq!(cheap.map(|_| ()), Err("original_price".to_owned()));
    }

    #[test]
    fn organisers_ask_only_for_their_own_moves_and_say_why_they_cancel() {
        let ask = |status, reason: Option<&str>| {
            GroupBuyMove {
                status,
                reason: reason.map(str::to_owned),
            }
            .parse()
            .map_err(field)
        };
        for status in [
            GroupBuyStatus::Succeeded,
            GroupBuyStatus::Failed,
            GroupBuyStatus::Draft,
            GroupBuyStatus::Paused,
        ] {
            assert_eq!(ask(status, None).map(|_| ()), Err("status".to_owned()));
        }
        assert_eq!(
            ask(GroupBuyStatus::Cancelled, None).map(|_| ()),
            Err("reason".to_owned())
        );
        assert_eq!(
            ask(GroupBuyStatus::Closed, Some(" ")).map(|_| ()),
            Err("reason".to_owned())
        );
        let cancel = ask(GroupBuyStatus::Cancelled, Some(" rain ")).unwrap();
        assert_eq!(
            (cancel.to(), cancel.reason()),
            (GroupBuyStatus::Cancelled, Some("rain"))
        );
        assert_eq!(ask(GroupBuyStatus::Open, None).unwrap().reason(), None);
    }
}
