//! The worlds tests start from: a community with residents, a manager and a
//! pickup point; a verified shop with a product; a group buy; orders at the
//! step a scenario needs; merchants and files.

use chrono::{Duration, Utc};
use entity::{OrderId, order};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::api::{
    GroupBuy, JoinRequest, MerchantApplication, NewProduct, OrderMove, OrderRequest, Receiving,
};
use super::fakes::wechat_pay::{APP_ID, Fake};
use super::{Session, TestApp, status_and_json};

/// A community with households, verified residents (one per household),
/// a manager and a pickup point open every day.
pub struct World {
    pub community: Uuid,
    pub manager: Session,
    pub point: String,
    pub residents: Vec<Session>,
}

pub async fn world(app: &TestApp, households: usize) -> World {
    let community = app
        .community(&format!("团购小区{}", Uuid::now_v7().simple()))
        .await;
    let manager = app.staff(community, "manager").await;
    let building = app.add_building(&manager, community, "1号楼").await;
    let point = app
        .add_pickup_point(&manager, community, "东门驿站", "东门")
        .await;
    let mut residents = Vec::new();
    for n in 0..households {
        let room = format!("{}", 101 + n);
        let h = app
            .add_household(&manager, community, &building, &room)
            .await;
        residents.push(
            app.dev_login(json!({
                "display_name": format!("住户{n}"),
                "phone": format!("139{:08}", (Uuid::now_v7().as_u128() + n as u128) % 100_000_000),
                "households": [{ "household_id": h, "role": "owner" }],
            }))
            .await,
        );
    }
    World {
        community,
        manager,
        point,
        residents,
    }
}

/// A published group buy of the property's: one item at ¥5.00.
pub async fn group_buy(app: &TestApp, w: &World, min: i32, stock: i64, extra: Value) -> GroupBuy {
    let mut body = json!({
        "title": "本地草莓", "min_households": min,
        "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(),
        "pickup_point_ids": [w.point], "door_delivery": true, "publish": true,
        "items": [{ "title": "草莓", "unit": "盒", "price": 500, "original_price": 800, "stock": stock }],
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    app.create_group_buy(&w.manager, w.community, body).await
}

/// The body joining `group` with `quantity` of its first item, collected
/// at `point`, for the tests that change it before sending it.
pub fn join_body(group: &Value, point: &str, quantity: u32) -> Value {
    json!({
        "items": [{ "item_id": group["items"][0]["id"], "quantity": quantity }],
        "receiving": { "fulfilment": "pickup", "pickup_point_id": point },
    })
}

/// `who` joins `group` with `quantity` of its first item, collected at the
/// world's pickup point; the raw answer.
pub async fn join(
    app: &TestApp,
    w: &World,
    who: &Session,
    group: &GroupBuy,
    quantity: u32,
) -> reqwest::Response {
    let request = JoinRequest::pickup(group, quantity, &w.point);
    app.try_join_group_buy(who, w.community, &group.id, &request)
        .await
}

const FOOD: &str = "01960000-0000-7000-8000-000000000002";

/// A merchant verified in the world's community, with one product (stock 10).
pub async fn shop(app: &TestApp, w: &World) -> (Session, String, String) {
    let owner = app.resident().await;
    let name = format!("鲜果铺{}", Uuid::now_v7().simple());
    let application = MerchantApplication {
        shop_name: &name,
        business_scope: "水果",
        categories: &["食"],
        location_kind: "shop",
        address: "底商",
        contact_phone: "13812340001",
        owner_name: "王五",
        owner_id_number: "11010519491231002X",
        community_ids: &[w.community],
    };
    let shop = app.apply_as_merchant(&owner, &application).await;
    app.visit_merchant(&w.manager, w.community, &shop, "ok")
        .await;
    app.verify_merchant(
        &w.manager,
        w.community,
        &shop,
        Utc::now() + Duration::days(90),
    )
    .await;
    let oranges = NewProduct {
        kind: "goods",
        category_id: FOOD,
        title: "赣南脐橙",
        unit: "箱",
        price: 6800,
        stock: 10,
    };
    let product = app.add_product(&owner, &shop, &oranges).await;
    (owner, shop, product)
}

/// A shop's order of `quantity` boxes (68.00 each), paid and dispatched to
/// the door: waiting for the resident's confirmation.
pub async fn dispatched_order(
    app: &TestApp,
    w: &World,
    owner: &Session,
    shop: &str,
    product: &str,
    quantity: u32,
) -> String {
    let r = &w.residents[0];
    let request = OrderRequest::of(shop, product, quantity, Receiving::Delivery);
    let id = app.place_order(r, w.community, &request).await.id;
    app.pay(r, w.community, &id).await;
    for status in ["accepted", "preparing", "dispatched"] {
        app.move_order(owner, shop, &id, &OrderMove::to(status).because("测试"))
            .await;
    }
    id
}

/// A delivered, paid and confirmed order of `quantity` boxes (68.00 each).
pub async fn completed_order(
    app: &TestApp,
    w: &World,
    owner: &Session,
    shop: &str,
    product: &str,
    quantity: u32,
) -> OrderId {
    let id = dispatched_order(app, w, owner, shop, product, quantity).await;
    app.confirm_receipt(&w.residents[0], w.community, &id).await;
    id.parse().unwrap()
}

/// An order of two boxes (136.00) by a resident signed in to the mini-program.
/// A pending order, with the shop that sells it.
pub struct Pending {
    pub w: World,
    pub resident: Session,
    pub id: String,
    pub order: order::Model,
    pub seller: Session,
    pub shop: String,
    pub product: String,
}

pub async fn pending_order(fake: &Fake) -> Pending {
    let app = &fake.app;
    let w = world(app, 1).await;
    let (seller, shop, product) = shop(app, &w).await;
    let r = w.residents[0].clone();
    entity::wechat_identity::ActiveModel {
        id: Set(entity::WechatIdentityId::new()),
        user_id: Set(entity::UserId::from_uuid(r.user_id)),
        app_id: Set(APP_ID.into()),
        openid: Set(format!("o-{}", r.user_id.simple())),
        unionid: Set(None),
        session_key_enc: Set(None),
        created_at: Set(chrono::Utc::now()),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let request = OrderRequest::of(&shop, &product, 2, Receiving::at(&w.point));
    let id = app.place_order(&r, w.community, &request).await.id;
    let model = order::Entity::find_by_id(id.parse::<entity::OrderId>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    Pending {
        w,
        resident: r,
        id,
        order: model,
        seller,
        shop,
        product,
    }
}

/// A merchant with this shop name who applied to `communities`.
pub async fn merchant_named(app: &TestApp, name: &str, communities: &[Uuid]) -> (Session, String) {
    let owner = app.resident().await;
    let application = MerchantApplication {
        shop_name: name,
        business_scope: "水果零售",
        categories: &["食"],
        location_kind: "shop",
        address: "1号楼底商101",
        contact_phone: "13812340001",
        owner_name: "王五",
        owner_id_number: "11010519491231002X",
        community_ids: communities,
    };
    let shop = app.apply_as_merchant(&owner, &application).await;
    (owner, shop)
}

/// `shop` visited and verified for a year by a manager of `community`.
pub async fn verify(app: &TestApp, community: Uuid, shop: &str) {
    let manager = app.staff(community, "manager").await;
    app.visit_merchant(&manager, community, shop, "店面整洁")
        .await;
    let until = Utc::now() + Duration::days(365);
    app.verify_merchant(&manager, community, shop, until).await;
}

/// The category 食 (food), after checking the five roots.
pub async fn food(app: &TestApp, who: &Session) -> String {
    let (_, tree) = status_and_json(app.get("/api/v1/categories", Some(&who.access)).await).await;
    let roots: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["衣", "食", "住", "行", "生活服务"]);
    tree[1]["id"].as_str().unwrap().to_owned()
}

/// The start of a PNG: signature and IHDR with the given size (enough for
/// type sniffing and the pixel check).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0u8; 64]);
    b
}

/// `who` uploads `bytes` as `content_type`; the raw answer.
pub async fn upload(
    app: &TestApp,
    who: &Session,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&who.access)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}
