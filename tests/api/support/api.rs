//! One call per endpoint the scenarios go through, so a test reads as the
//! steps it describes: `app.place_order(&resident, w.community, &request)`.
//! Each call takes a typed request, expects the status a success answers
//! and returns a typed answer; its `try_` twin returns the raw response, for
//! the cases where the answer is an error.

use std::fmt;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use reqwest::Response;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Session, TestApp, status_and_json};

/// POSTs `body` to `path` as `who` and expects 201 Created; the new resource.
pub async fn created(app: &TestApp, who: &Session, path: &str, body: Value) -> Value {
    let (status, body) = status_and_json(app.post(path, Some(&who.access), body).await).await;
    assert_eq!(status, 201, "{path}: {body}");
    body
}

/// GETs `path` as `who` and expects 200 OK; the answer.
pub async fn get(app: &TestApp, who: &Session, path: &str) -> Value {
    let (status, body) = status_and_json(app.get(path, Some(&who.access)).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// `res`'s body after checking its status is `expected`.
async fn expect(res: Response, expected: u16, what: &str) -> Value {
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, expected, "{what}: {body}");
    body
}

/// The id in an answer.
fn id_of(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_owned()
}

/// An answer the scenario goes on with: its id, typed, and the whole body,
/// which the answer reads as (`order["status"]`) for the assertions.
macro_rules! answer {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub id: String,
            body: Value,
        }

        impl From<Value> for $name {
            fn from(body: Value) -> Self {
                Self { id: id_of(&body), body }
            }
        }

        impl Deref for $name {
            type Target = Value;
            fn deref(&self) -> &Value {
                &self.body
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.body.fmt(f)
            }
        }
    };
}

answer!(
    /// An order as its endpoints answer it.
    Order
);
answer!(
    /// A group buy as its organiser created it.
    GroupBuy
);

impl GroupBuy {
    /// The id of its first item.
    pub fn first_item(&self) -> &str {
        self.body["items"][0]["id"].as_str().unwrap()
    }

    /// When it stops taking orders.
    pub fn deadline(&self) -> DateTime<Utc> {
        self.body["deadline"].as_str().unwrap().parse().unwrap()
    }
}

/// How an order reaches its resident.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "fulfilment", rename_all = "snake_case")]
pub enum Receiving<'a> {
    /// Collected at one of the community's pickup points.
    Pickup { pickup_point_id: &'a str },
    /// Brought to the household's door.
    Delivery,
}

impl<'a> Receiving<'a> {
    /// Collected at `point`.
    pub fn at(point: &'a str) -> Self {
        Self::Pickup {
            pickup_point_id: point,
        }
    }
}

/// So many of one product.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Line<'a> {
    pub product_id: &'a str,
    pub quantity: u32,
}

/// `POST /communities/{id}/orders`: an order from one shop.
#[derive(Clone, Debug, Serialize)]
pub struct OrderRequest<'a> {
    pub merchant_id: &'a str,
    pub lines: Vec<Line<'a>>,
    pub receiving: Receiving<'a>,
}

impl<'a> OrderRequest<'a> {
    /// `quantity` of `product` from `shop`, received as `receiving` says.
    pub fn of(shop: &'a str, product: &'a str, quantity: u32, receiving: Receiving<'a>) -> Self {
        Self {
            merchant_id: shop,
            lines: vec![Line {
                product_id: product,
                quantity,
            }],
            receiving,
        }
    }
}

/// So many of one group buy's item.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ItemLine<'a> {
    pub item_id: &'a str,
    pub quantity: u32,
}

/// `POST /communities/{id}/group-buys/{id}/orders`: joining a group buy.
#[derive(Clone, Debug, Serialize)]
pub struct JoinRequest<'a> {
    pub items: Vec<ItemLine<'a>>,
    pub receiving: Receiving<'a>,
    /// A few words to the other participants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intro: Option<&'a str>,
}

impl<'a> JoinRequest<'a> {
    /// `quantity` of the group buy's first item, collected at `point`.
    pub fn pickup(group: &'a GroupBuy, quantity: u32, point: &'a str) -> Self {
        Self {
            items: vec![ItemLine {
                item_id: group.first_item(),
                quantity,
            }],
            receiving: Receiving::at(point),
            intro: None,
        }
    }
}

/// `POST /merchants`: a shop's application to trade in communities.
#[derive(Clone, Debug, Serialize)]
pub struct MerchantApplication<'a> {
    pub shop_name: &'a str,
    pub business_scope: &'a str,
    pub categories: &'a [&'a str],
    pub location_kind: &'a str,
    pub address: &'a str,
    pub contact_phone: &'a str,
    pub owner_name: &'a str,
    pub owner_id_number: &'a str,
    pub community_ids: &'a [Uuid],
}

/// `POST /merchants/{id}/products`: something a shop sells.
#[derive(Clone, Debug, Serialize)]
pub struct NewProduct<'a> {
    pub kind: &'a str,
    pub category_id: &'a str,
    pub title: &'a str,
    pub unit: &'a str,
    pub price: i64,
    pub stock: i64,
}

/// `POST /merchants/{id}/orders/{id}/status`: the shop moves an order.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OrderMove<'a> {
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

impl<'a> OrderMove<'a> {
    /// To `status`, with no reason given.
    pub fn to(status: &'a str) -> Self {
        Self {
            status,
            reason: None,
        }
    }

    /// The same move, with `reason` given.
    pub fn because(self, reason: &'a str) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }
}

/// `POST /communities/{id}/group-buys/{id}/status`: the organiser moves a
/// group buy.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct GroupBuyMove<'a> {
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

impl<'a> GroupBuyMove<'a> {
    /// To `status`, with no reason given.
    pub fn to(status: &'a str) -> Self {
        Self {
            status,
            reason: None,
        }
    }

    /// The same move, with `reason` given.
    pub fn because(self, reason: &'a str) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }
}

/// The community's own paths.
fn community(id: Uuid) -> String {
    format!("/api/v1/communities/{id}")
}

impl TestApp {
    // The community's structure.

    /// A building in `community`; its id.
    pub async fn add_building(&self, manager: &Session, community_id: Uuid, name: &str) -> String {
        let path = format!("{}/buildings", community(community_id));
        id_of(&created(self, manager, &path, json!({ "name": name })).await)
    }

    /// A household in `building`; its id.
    pub async fn add_household(
        &self,
        manager: &Session,
        community_id: Uuid,
        building: &str,
        room: &str,
    ) -> String {
        let path = format!("{}/households", community(community_id));
        let body = json!({ "building_id": building, "room": room });
        id_of(&created(self, manager, &path, body).await)
    }

    /// A pickup point open every day from 08:00 to 20:00; its id.
    pub async fn add_pickup_point(
        &self,
        manager: &Session,
        community_id: Uuid,
        name: &str,
        location: &str,
    ) -> String {
        let path = format!("{}/pickup-points", community(community_id));
        let body = json!({ "name": name, "location": location, "opening_hours": [
            { "weekdays": [1, 2, 3, 4, 5, 6, 7], "opens": "08:00", "closes": "20:00" }] });
        id_of(&created(self, manager, &path, body).await)
    }

    // Merchants and their products.

    /// `owner` applies with a shop; its id.
    pub async fn apply_as_merchant(
        &self,
        owner: &Session,
        application: &MerchantApplication<'_>,
    ) -> String {
        let body = serde_json::to_value(application).unwrap();
        id_of(&created(self, owner, "/api/v1/merchants", body).await)
    }

    /// The manager records a visit to `shop`.
    pub async fn visit_merchant(
        &self,
        manager: &Session,
        community_id: Uuid,
        shop: &str,
        notes: &str,
    ) {
        let path = format!("{}/merchants/{shop}/visits", community(community_id));
        created(self, manager, &path, json!({ "notes": notes })).await;
    }

    /// The manager verifies `shop` until `valid_until`.
    pub async fn verify_merchant(
        &self,
        manager: &Session,
        community_id: Uuid,
        shop: &str,
        valid_until: DateTime<Utc>,
    ) {
        let path = format!("{}/merchants/{shop}/verify", community(community_id));
        let body = json!({ "valid_until": valid_until.to_rfc3339() });
        let res = self.post(&path, Some(&manager.access), body).await;
        expect(res, 200, &path).await;
    }

    /// `owner` adds a product to `shop`; its id.
    pub async fn add_product(
        &self,
        owner: &Session,
        shop: &str,
        product: &NewProduct<'_>,
    ) -> String {
        let path = format!("/api/v1/merchants/{shop}/products");
        let body = serde_json::to_value(product).unwrap();
        id_of(&created(self, owner, &path, body).await)
    }

    // Orders.

    /// `who` places an order in `community`; expects it made.
    pub async fn place_order(
        &self,
        who: &Session,
        community_id: Uuid,
        request: &OrderRequest<'_>,
    ) -> Order {
        let res = self.try_place_order(who, community_id, request).await;
        expect(res, 201, "place an order").await.into()
    }

    /// `who` places an order in `community`; the raw answer.
    pub async fn try_place_order(
        &self,
        who: &Session,
        community_id: Uuid,
        request: &OrderRequest<'_>,
    ) -> Response {
        let path = format!("{}/orders", community(community_id));
        let body = serde_json::to_value(request).unwrap();
        self.post(&path, Some(&who.access), body).await
    }

    /// `who` pays `order`; expects it paid (or already so).
    pub async fn pay(&self, who: &Session, community_id: Uuid, order: &str) -> Order {
        let res = self.try_pay(who, community_id, order).await;
        expect(res, 200, "pay").await.into()
    }

    /// `who` pays `order`; the raw answer.
    pub async fn try_pay(&self, who: &Session, community_id: Uuid, order: &str) -> Response {
        let path = format!("{}/orders/{order}/pay", community(community_id));
        self.post(&path, Some(&who.access), json!({})).await
    }

    /// `who` confirms receiving `order`.
    pub async fn confirm_receipt(&self, who: &Session, community_id: Uuid, order: &str) -> Order {
        let path = format!("{}/orders/{order}/confirm", community(community_id));
        let res = self.post(&path, Some(&who.access), json!({})).await;
        expect(res, 200, &path).await.into()
    }

    /// `order` as `who` sees it: the order, its events, pickup codes, ….
    pub async fn order_detail(&self, who: &Session, community_id: Uuid, order: &str) -> Value {
        let path = format!("{}/orders/{order}", community(community_id));
        get(self, who, &path).await
    }

    /// The shop moves `order`; expects the move made.
    pub async fn move_order(
        &self,
        owner: &Session,
        shop: &str,
        order: &str,
        to: &OrderMove<'_>,
    ) -> Value {
        let res = self.try_move_order(owner, shop, order, to).await;
        expect(res, 200, to.status).await
    }

    /// The shop moves `order`; the raw answer.
    pub async fn try_move_order(
        &self,
        owner: &Session,
        shop: &str,
        order: &str,
        to: &OrderMove<'_>,
    ) -> Response {
        let path = format!("/api/v1/merchants/{shop}/orders/{order}/status");
        let body = serde_json::to_value(to).unwrap();
        self.post(&path, Some(&owner.access), body).await
    }

    // Group buys.

    /// `who` creates a group buy in `community`; expects it made.
    pub async fn create_group_buy(
        &self,
        who: &Session,
        community_id: Uuid,
        body: Value,
    ) -> GroupBuy {
        let path = format!("{}/group-buys", community(community_id));
        created(self, who, &path, body).await.into()
    }

    /// `who` joins `group`; expects an order made.
    pub async fn join_group_buy(
        &self,
        who: &Session,
        community_id: Uuid,
        group: &str,
        request: &JoinRequest<'_>,
    ) -> Order {
        let res = self
            .try_join_group_buy(who, community_id, group, request)
            .await;
        expect(res, 201, "join a group buy").await.into()
    }

    /// `who` joins `group`; the raw answer.
    pub async fn try_join_group_buy(
        &self,
        who: &Session,
        community_id: Uuid,
        group: &str,
        request: &JoinRequest<'_>,
    ) -> Response {
        let path = format!("{}/group-buys/{group}/orders", community(community_id));
        let body = serde_json::to_value(request).unwrap();
        self.post(&path, Some(&who.access), body).await
    }

    /// `group` as `who` sees it: the group buy and the introductions.
    pub async fn group_buy_detail(&self, who: &Session, community_id: Uuid, group: &str) -> Value {
        let path = format!("{}/group-buys/{group}", community(community_id));
        get(self, who, &path).await
    }

    /// The organiser moves `group`; the raw answer.
    pub async fn try_move_group_buy(
        &self,
        organiser: &Session,
        community_id: Uuid,
        group: &str,
        to: &GroupBuyMove<'_>,
    ) -> Response {
        let path = format!("{}/group-buys/{group}/status", community(community_id));
        let body = serde_json::to_value(to).unwrap();
        self.post(&path, Some(&organiser.access), body).await
    }
}
