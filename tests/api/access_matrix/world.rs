//! One community with a real resource behind every kind of id a path can
//! name: the access matrix calls each route with them, and the foreign
//! sweep calls this community's routes with another community's.

use entity::{UserId, household_member, staff_role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::support::{Session, TestApp, status_and_json};

/// The seeded 食 category.
pub const FOOD: &str = "01960000-0000-7000-8000-000000000002";

pub async fn created(
    app: &TestApp,
    who: &Session,
    path: String,
    body: serde_json::Value,
) -> String {
    let (status, body) = status_and_json(app.post(&path, Some(&who.access), body).await).await;
    assert_eq!(status, 201, "{path}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A community's resources, and the people who own them.
pub struct World {
    pub community: Uuid,
    pub building: String,
    pub household: String,
    pub pickup_point: String,
    pub claim: String,
    /// An owner of `household`.
    pub resident: Session,
    /// A merchant verified here, its owner and a clerk.
    pub shop: String,
    pub merchant_owner: Session,
    pub clerk: Session,
    pub product: String,
    pub shop_courier: String,
    pub property_courier: String,
    pub property_group: String,
    pub shop_group: String,
    /// The resident's orders: from the property's group buy, and from the
    /// shop's catalog.
    pub property_order: String,
    pub shop_order: String,
    pub withdrawal: String,
    pub dispute: String,
    pub refund: String,
    pub bill: String,
}

/// Builds a world in `community`; `n` (0–9) keeps its phone numbers apart
/// from other worlds'.
pub async fn build(app: &TestApp, admin: &Session, community: Uuid, n: u64) -> World {
    let phone = |kind: u64| format!("13{kind}1234{n}99{kind}");
    let building = created(
        app,
        admin,
        format!("/api/v1/communities/{community}/buildings"),
        json!({ "name": "1号楼" }),
    )
    .await;
    let household = created(
        app,
        admin,
        format!("/api/v1/communities/{community}/households"),
        json!({ "building_id": building, "room": "101" }),
    )
    .await;
    let pickup_point = created(
        app,
        admin,
        format!("/api/v1/communities/{community}/pickup-points"),
        json!({ "name": "大堂", "location": "1号楼", "opening_hours": [{ "weekdays": [1], "opens": "08:00", "closes": "20:00" }] }),
    )
    .await;
    let resident = app
        .dev_login(json!({ "households": [{ "household_id": household, "role": "owner" }] }))
        .await;
    // A merchant applying here, with an owner and a clerk.
    let merchant_owner = app.resident().await;
    let shop = created(
        app,
        &merchant_owner,
        "/api/v1/merchants".to_owned(),
        json!({
            "shop_name": format!("矩阵商店{n}"), "business_scope": "测试", "categories": ["食"],
            "location_kind": "shop", "address": "底商", "contact_phone": phone(8),
            "owner_name": "矩阵", "owner_id_number": "11010519491231002X", "community_ids": [community],
        }),
    )
    .await;
    let clerk_phone = phone(6);
    created(
        app,
        &merchant_owner,
        format!("/api/v1/merchants/{shop}/staff"),
        json!({ "phone": clerk_phone, "display_name": "店员" }),
    )
    .await;
    let clerk = app.dev_login(json!({ "phone": clerk_phone })).await;
    // A settled balance and a withdrawal of it, for the finance routes.
    fund(app, &shop, community).await;
    let withdrawal = created(
        app,
        &merchant_owner,
        format!("/api/v1/merchants/{shop}/withdrawals"),
        json!({ "amount": 100, "community_id": community }),
    )
    .await;
    let courier_body = |phone: String| {
        json!({
            "name": "骑手", "phone": phone, "id_number": "11010519491231002X",
            "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        })
    };
    let shop_courier = created(
        app,
        &merchant_owner,
        format!("/api/v1/merchants/{shop}/couriers"),
        courier_body(phone(5)),
    )
    .await;
    let property_courier = created(
        app,
        admin,
        format!("/api/v1/communities/{community}/couriers"),
        courier_body(format!("135{n}2349992")),
    )
    .await;
    // A pending claim on `household`, for approve and reject.
    let claimant = app.resident().await;
    let claim = created(
        app,
        &claimant,
        format!("/api/v1/communities/{community}/claims"),
        json!({ "building": "1号楼", "room": "101", "name": "某人", "role": "family" }),
    )
    .await;
    let product = created(
        app,
        &merchant_owner,
        format!("/api/v1/merchants/{shop}/products"),
        json!({ "kind": "service", "category_id": FOOD, "title": "上门清洗", "unit": "次", "price": 5000 }),
    )
    .await;
    // The shop verified here, a group buy of its own and one of the
    // property's, and an order of the resident's from each.
    created(
        app,
        admin,
        format!("/api/v1/communities/{community}/merchants/{shop}/visits"),
        json!({ "notes": "ok" }),
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/communities/{community}/merchants/{shop}/verify"),
            Some(&admin.access),
            json!({ "valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let deadline = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let group = |community_field: bool| {
        let mut body = json!({
            "title": "矩阵团购", "min_households": 2, "deadline": deadline,
            "pickup_point_ids": [pickup_point], "publish": true,
            "items": [{ "title": "苹果", "unit": "斤", "price": 500, "stock": 10 }],
        });
        if community_field {
            body["community_id"] = json!(community);
        }
        body
    };
    let property_group = created(
        app,
        admin,
        format!("/api/v1/communities/{community}/group-buys"),
        group(false),
    )
    .await;
    let shop_group = created(
        app,
        &merchant_owner,
        format!("/api/v1/merchants/{shop}/group-buys"),
        group(true),
    )
    .await;
    let (_, detail) = status_and_json(
        app.get(
            &format!("/api/v1/communities/{community}/group-buys/{property_group}"),
            Some(&resident.access),
        )
        .await,
    )
    .await;
    let item = detail["group_buy"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let property_order = created(
        app,
        &resident,
        format!("/api/v1/communities/{community}/group-buys/{property_group}/orders"),
        json!({ "items": [{ "item_id": item, "quantity": 1 }],
                "receiving": { "fulfilment": "pickup", "pickup_point_id": pickup_point } }),
    )
    .await;
    let shop_order = created(
        app,
        &resident,
        format!("/api/v1/communities/{community}/orders"),
        json!({ "merchant_id": shop, "lines": [{ "product_id": product, "quantity": 1 }],
                "receiving": { "fulfilment": "pickup", "pickup_point_id": pickup_point } }),
    )
    .await;
    // A dispute of the shop's order (written directly: the order need not
    // have been delivered for the guard to be tested).
    let shop_order_model =
        entity::order::Entity::find_by_id(shop_order.parse::<entity::OrderId>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    let dispute = entity::DisputeId::new();
    entity::dispute::Entity::insert(entity::dispute::ActiveModel::from(entity::dispute::Model {
        id: dispute,
        community_id: shop_order_model.community_id,
        order_id: shop_order_model.id,
        merchant_id: shop_order_model.merchant_id,
        household_id: shop_order_model.household_id,
        opened_by: shop_order_model.user_id,
        status: entity::DisputeStatus::Open,
        reason: "矩阵".into(),
        requested_refund: shop_order_model.amount,
        refund_to: entity::RefundTo::Original,
        proposed_refund: None,
        refund_amount: None,
        escalated_at: None,
        resolved_at: None,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }))
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    // A refund of the shop's order (succeeded: retrying it is refused, after the guard).
    let refund = entity::RefundId::new();
    entity::refund::Entity::insert(entity::refund::ActiveModel::from(entity::refund::Model {
        id: refund,
        order_id: shop_order_model.id,
        amount: shop_order_model.amount,
        reason: "矩阵".into(),
        idempotency_key: format!("matrix:refund:{n}"),
        provider: "sandbox".into(),
        status: entity::RefundStatus::Succeeded,
        created_at: chrono::Utc::now(),
        completed_at: Some(chrono::Utc::now()),
        checked_at: None,
    }))
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    // A fee bill of the resident's household.
    let household_id: entity::HouseholdId = household.parse().unwrap();
    anjia::fees::service::issue(
        &app.db,
        entity::CommunityId::from_uuid(community),
        "2026-Q4",
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        "imported",
        UserId::from_uuid(admin.user_id),
        vec![anjia::fees::service::NewBill {
            household: household_id,
            amount: entity::Fen::new(100).unwrap(),
            area_centi_m2: None,
            rate_fen: None,
        }],
    )
    .await
    .unwrap();
    let bill = entity::fee_bill::Entity::find()
        .filter(entity::fee_bill::Column::HouseholdId.eq(household_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    World {
        community,
        building,
        household,
        pickup_point,
        claim,
        resident,
        shop,
        merchant_owner,
        clerk,
        product,
        shop_courier,
        property_courier,
        property_group,
        shop_group,
        property_order,
        shop_order,
        withdrawal,
        dispute: dispute.to_string(),
        refund: refund.to_string(),
        bill,
    }
}

/// Test funds for the shop in `community`, straight from clearing: no
/// escrow left, so no settled orders need stand behind them (`ledger
/// verify` checks that).
async fn fund(app: &TestApp, shop: &str, community: Uuid) {
    let merchant: entity::MerchantId = shop.parse().unwrap();
    let community = entity::CommunityId::from_uuid(community);
    anjia::ledger::post(
        &app.db,
        anjia::ledger::Entry::new(
            entity::JournalKind::Settlement,
            format!("test:matrix-funds:{shop}"),
        )
        .community(community)
        .debit(
            anjia::ledger::Account::wechat_clearing(),
            entity::Fen::new(10_000).unwrap(),
        )
        .credit(
            anjia::ledger::Account::merchant_payable(merchant, community),
            entity::Fen::new(10_000).unwrap(),
        ),
    )
    .await
    .unwrap();
}

impl World {
    /// A member just added to the world's household (each call a new one).
    pub async fn fresh_member(&self, app: &TestApp) -> Uuid {
        let member = app
            .dev_login(
                json!({ "households": [{ "household_id": self.household, "role": "family" }] }),
            )
            .await;
        household_member::Entity::find()
            .filter(household_member::Column::UserId.eq(UserId::from_uuid(member.user_id)))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
            .as_uuid()
    }

    /// A staff role just granted in the world's community.
    pub async fn fresh_assignment(&self, app: &TestApp) -> Uuid {
        let holder = app.staff(self.community, "gate_guard").await;
        staff_role::Entity::find()
            .filter(staff_role::Column::UserId.eq(UserId::from_uuid(holder.user_id)))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
            .as_uuid()
    }

    /// A note just left on the world's pickup point's board.
    pub async fn fresh_note(&self, app: &TestApp) -> String {
        created(
            app,
            &self.resident,
            format!(
                "/api/v1/communities/{}/pickup-points/{}/notes",
                self.community, self.pickup_point
            ),
            json!({ "body": "门口见" }),
        )
        .await
    }

    /// A clerk just added to the world's shop.
    pub async fn fresh_clerk(&self, app: &TestApp, phone: u64) -> String {
        created(
            app,
            &self.merchant_owner,
            format!("/api/v1/merchants/{}/staff", self.shop),
            json!({ "phone": phone.to_string(), "display_name": "临时店员" }),
        )
        .await
    }

    /// The world's resource that `placeholder` names in `pattern` (a
    /// merchant's path names the shop's group buy, order and courier; a
    /// community's, the property's).
    pub fn id(&self, pattern: &str, placeholder: &str) -> Option<String> {
        let merchant_path = pattern.starts_with("/api/v1/merchants");
        let pick = |shop: &String, property: &String| {
            if merchant_path {
                shop.clone()
            } else {
                property.clone()
            }
        };
        Some(match placeholder {
            "{community_id}" => self.community.to_string(),
            "{building_id}" => self.building.clone(),
            "{household_id}" => self.household.clone(),
            "{pickup_point_id}" => self.pickup_point.clone(),
            "{claim_id}" => self.claim.clone(),
            "{merchant_id}" => self.shop.clone(),
            "{product_id}" => self.product.clone(),
            "{group_buy_id}" => pick(&self.shop_group, &self.property_group),
            "{order_id}" => pick(&self.shop_order, &self.property_order),
            "{courier_id}" => pick(&self.shop_courier, &self.property_courier),
            "{withdrawal_id}" => self.withdrawal.clone(),
            "{dispute_id}" => self.dispute.clone(),
            "{bill_id}" => self.bill.clone(),
            "{refund_id}" => self.refund.clone(),
            "{category_id}" => FOOD.to_owned(),
            "{date}" => "2026-11-23".to_owned(),
            _ => return None,
        })
    }

    /// `pattern` with this world's resources in place of every id it has
    /// (but those listed in `keep`, left for the caller to fill).
    pub fn fill(&self, pattern: &str, keep: &[&str]) -> String {
        let mut path = pattern.to_owned();
        for placeholder in pattern.split('/').filter(|s| s.starts_with('{')) {
            if keep.contains(&placeholder) {
                continue;
            }
            if let Some(id) = self.id(pattern, placeholder) {
                path = path.replace(placeholder, &id);
            }
        }
        path
    }
}
