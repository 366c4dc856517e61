//! A merchant that may not sell sells nothing: a suspension (or rejection,
//! or a change of verified details) pauses its group buys, an expired
//! verification refuses joins and payments as it is read, and the property
//! decides what becomes of a paused group buy. And only a courier who may
//! carry an order is dispatched with it.

use chrono::{Duration, Utc};
use entity::{CourierStatus, courier, merchant_approval, order};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};

use crate::support::api::{OrderRequest, Receiving, created};
use crate::support::fixtures::shop;
use crate::support::fixtures::{World, join_body, world};
use crate::support::jobs::sweep;
use crate::support::outbox::messages_of;
use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

/// A merchant's published group buy in the world's community (one item at
/// ¥5.00, stock 20).
async fn shop_group(app: &TestApp, w: &World, owner: &Session, shop: &str, min: i32) -> Value {
    created(
        app,
        owner,
        &format!("/api/v1/merchants/{shop}/group-buys"),
        json!({
            "community_id": w.community, "title": "海带团", "min_households": min,
            "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(),
            "pickup_point_ids": [w.point], "publish": true,
            "items": [{ "title": "连江海带", "unit": "袋", "price": 500, "stock": 20 }],
        }),
    )
    .await
}

async fn join(app: &TestApp, w: &World, who: &Session, group: &Value) -> reqwest::Response {
    app.post(
        &format!(
            "/api/v1/communities/{}/group-buys/{}/orders",
            w.community,
            group["id"].as_str().unwrap()
        ),
        Some(&who.access),
        join_body(group, &w.point, 1),
    )
    .await
}

async fn joined(app: &TestApp, w: &World, who: &Session, group: &Value) -> String {
    let (status, body) = status_and_json(join(app, w, who, group).await).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn pay(app: &TestApp, w: &World, who: &Session, order: &str) -> reqwest::Response {
    app.try_pay(who, w.community, order).await
}

async fn catalog_order(
    app: &TestApp,
    w: &World,
    who: &Session,
    shop: &str,
    product: &str,
) -> reqwest::Response {
    let request = OrderRequest::of(shop, product, 1, Receiving::at(&w.point));
    app.try_place_order(who, w.community, &request).await
}

async fn group_status(app: &TestApp, w: &World, group: &Value) -> Value {
    let (status, body) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/group-buys/{}",
                w.community,
                group["id"].as_str().unwrap()
            ),
            Some(&w.manager.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["group_buy"]["status"].clone()
}

async fn order_status(app: &TestApp, id: &str) -> entity::OrderStatus {
    order::Entity::find_by_id(id.parse::<entity::OrderId>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn standing(app: &TestApp, w: &World, shop: &str, action: &str, body: Value) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/merchants/{shop}/{action}",
                w.community
            ),
            Some(&w.manager.access),
            body,
        )
        .await,
    )
    .await
}

async fn property_move(app: &TestApp, w: &World, group: &Value, body: Value) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/status",
                w.community,
                group["id"].as_str().unwrap()
            ),
            Some(&w.manager.access),
            body,
        )
        .await,
    )
    .await
}

fn verification() -> Value {
    json!({ "valid_until": (Utc::now() + Duration::days(90)).to_rfc3339() })
}

#[tokio::test]
async fn a_suspended_merchant_takes_no_joins_or_payments_and_the_property_resumes_its_group_buy_once_verified_again()
 {
    let app = spawn_app().await;
    let w = world(&app, 3).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let group = shop_group(&app, &w, &owner, &shop, 2).await;
    // Pausing follows from the merchant's standing; nobody asks for it.
    let (status, body) = status_and_json(
        app.post(
            &format!(
                "/api/v1/merchants/{shop}/group-buys/{}/status",
                group["id"].as_str().unwrap()
            ),
            Some(&owner.access),
            json!({ "status": "paused" }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (422, &json!("validation_failed")),
        "{body}"
    );
    let paid = joined(&app, &w, &w.residents[0], &group).await;
    assert_eq!(pay(&app, &w, &w.residents[0], &paid).await.status(), 200);
    let waiting = joined(&app, &w, &w.residents[1], &group).await;
    let (status, pending) =
        status_and_json(catalog_order(&app, &w, &w.residents[2], &shop, &product).await).await;
    assert_eq!(status, 201, "{pending}");
    let pending = pending["id"].as_str().unwrap().to_owned();

    let (status, body) = standing(
        &app,
        &w,
        &shop,
        "suspend",
        json!({ "reason": "食品安全检查" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(group_status(&app, &w, &group).await, "paused");
    assert_eq!(
        messages_of(&app, "group_paused").await,
        1,
        "the one paying household is told"
    );

    // Nothing more is sold: no join, no payment, no catalog order.
    assert_error(
        join(&app, &w, &w.residents[2], &group).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_error(
        pay(&app, &w, &w.residents[1], &waiting).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_error(
        pay(&app, &w, &w.residents[2], &pending).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_error(
        catalog_order(&app, &w, &w.residents[2], &shop, &product).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_eq!(
        order_status(&app, &waiting).await,
        entity::OrderStatus::PendingPayment
    );

    // The merchant cannot move it; the property cannot resume it while the
    // merchant is still suspended.
    let (status, body) = status_and_json(
        app.post(
            &format!(
                "/api/v1/merchants/{shop}/group-buys/{}/status",
                group["id"].as_str().unwrap()
            ),
            Some(&owner.access),
            json!({ "status": "cancelled", "reason": "不做了" }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("invalid_transition")),
        "{body}"
    );
    let (status, body) = property_move(&app, &w, &group, json!({ "status": "open" })).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("merchant_not_selling")),
        "{body}"
    );
    let (status, body) = property_move(&app, &w, &group, json!({ "status": "fulfilling" })).await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );

    // Verified again, the property resumes it; the waiting household pays
    // and the group reaches its minimum.
    let (status, body) = standing(&app, &w, &shop, "verify", verification()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        group_status(&app, &w, &group).await,
        "paused",
        "only the property resumes it"
    );
    let (status, body) = property_move(&app, &w, &group, json!({ "status": "open" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "open");
    assert_eq!(messages_of(&app, "group_resumed").await, 1);
    assert_eq!(pay(&app, &w, &w.residents[1], &waiting).await.status(), 200);
    assert_eq!(group_status(&app, &w, &group).await, "succeeded");
    assert_eq!(pay(&app, &w, &w.residents[2], &pending).await.status(), 200);
}

#[tokio::test]
async fn a_paused_group_buy_is_cancelled_by_the_property_or_fails_at_its_deadline_and_every_paid_order_is_refunded()
 {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let (owner, shop, _) = shop(&app, &w).await;
    let cancelled = shop_group(&app, &w, &owner, &shop, 1).await;
    let lapsing = shop_group(&app, &w, &owner, &shop, 5).await;
    let a = joined(&app, &w, &w.residents[0], &cancelled).await;
    assert_eq!(pay(&app, &w, &w.residents[0], &a).await.status(), 200);
    assert_eq!(group_status(&app, &w, &cancelled).await, "succeeded");
    let b = joined(&app, &w, &w.residents[1], &lapsing).await;
    assert_eq!(pay(&app, &w, &w.residents[1], &b).await.status(), 200);

    // Sent back to review by a change of its verified details: both pause.
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/merchants/{shop}"),
            Some(&owner.access),
            Some(json!({ "shop_name": "改名后的海鲜铺" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(group_status(&app, &w, &cancelled).await, "paused");
    assert_eq!(group_status(&app, &w, &lapsing).await, "paused");

    // A paid order of a group that had succeeded stays (the property decides);
    // one whose group had not succeeded may still be cancelled by its resident.
    let (status, body) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{}/orders/{a}/cancel", w.community),
            Some(&w.residents[0].access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("invalid_transition")),
        "{body}"
    );

    let (status, body) = property_move(
        &app,
        &w,
        &cancelled,
        json!({ "status": "cancelled", "reason": "商家停业" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(order_status(&app, &a).await, entity::OrderStatus::Refunded);

    // The deadline passes while paused: the sweeper fails it and refunds.
    let report = sweep(&app, Utc::now() + Duration::days(2)).await;
    assert!(report.deadlines >= 1, "{report:?}");
    assert_eq!(group_status(&app, &w, &lapsing).await, "failed");
    assert_eq!(order_status(&app, &b).await, entity::OrderStatus::Refunded);
    let (status, body) = property_move(&app, &w, &lapsing, json!({ "status": "open" })).await;
    assert_eq!(status, 403, "a failed group buy does not resume: {body}");
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn a_verification_past_its_date_refuses_joins_and_payments_as_it_is_read() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let group = shop_group(&app, &w, &owner, &shop, 2).await;
    let waiting = joined(&app, &w, &w.residents[0], &group).await;
    let (_, pending) =
        status_and_json(catalog_order(&app, &w, &w.residents[0], &shop, &product).await).await;
    let pending = pending["id"].as_str().unwrap().to_owned();

    // The verification lapses (no one moves anything: it is computed when read).
    let approval = merchant_approval::Entity::find()
        .filter(
            merchant_approval::Column::MerchantId.eq(shop.parse::<entity::MerchantId>().unwrap()),
        )
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut lapsed = approval.into_active_model();
    lapsed.verified_until = Set(Some(Utc::now() - Duration::minutes(1)));
    lapsed.update(&app.db).await.unwrap();

    assert_error(
        join(&app, &w, &w.residents[1], &group).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_error(
        pay(&app, &w, &w.residents[0], &waiting).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_error(
        pay(&app, &w, &w.residents[0], &pending).await,
        409,
        "merchant_not_selling",
    )
    .await;
    assert_error(
        catalog_order(&app, &w, &w.residents[1], &shop, &product).await,
        409,
        "merchant_not_selling",
    )
    .await;

    // Re-verified, it sells again.
    let (status, body) = standing(&app, &w, &shop, "verify", verification()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(group_status(&app, &w, &group).await, "open");
    assert_eq!(pay(&app, &w, &w.residents[0], &waiting).await.status(), 200);
}

#[tokio::test]
async fn the_property_s_own_group_buys_are_not_paused_by_a_merchant_s_suspension() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, _) = shop(&app, &w).await;
    let theirs = shop_group(&app, &w, &owner, &shop, 1).await;
    let ours = crate::support::fixtures::group_buy(&app, &w, 1, 10, json!({})).await;
    let (status, _) = standing(&app, &w, &shop, "suspend", json!({ "reason": "投诉" })).await;
    assert_eq!(status, 200);
    assert_eq!(group_status(&app, &w, &theirs).await, "paused");
    assert_eq!(group_status(&app, &w, &ours).await, "open");
    let o = joined(&app, &w, &w.residents[0], &ours).await;
    assert_eq!(pay(&app, &w, &w.residents[0], &o).await.status(), 200);
}

async fn register_courier(app: &TestApp, owner: &Session, shop: &str, phone: &str) -> String {
    created(
        app,
        owner,
        &format!("/api/v1/merchants/{shop}/couriers"),
        json!({
            "name": "骑手", "phone": phone, "id_number": "11010519491231002X",
            "pass_valid_until": (Utc::now() + Duration::days(30)).to_rfc3339(),
        }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_courier(app: &TestApp, id: &str, change: impl FnOnce(&mut courier::ActiveModel)) {
    let found = courier::Entity::find_by_id(id.parse::<entity::CourierId>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut model = found.into_active_model();
    change(&mut model);
    model.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn an_order_is_dispatched_only_with_the_merchant_s_own_courier_active_and_with_a_valid_pass()
{
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (other_owner, other_shop, _) = shop(&app, &w).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let ours = register_courier(&app, &owner, &shop, "13512340001").await;
    let suspended = register_courier(&app, &owner, &shop, "13512340002").await;
    let lapsed = register_courier(&app, &owner, &shop, "13512340003").await;
    let theirs = register_courier(&app, &other_owner, &other_shop, "13512340004").await;
    set_courier(&app, &suspended, |c| {
        c.status = Set(CourierStatus::Suspended);
        c.status_reason = Set(Some("违规".into()));
    })
    .await;
    set_courier(&app, &lapsed, |c| {
        c.pass_valid_until = Set(Utc::now() - Duration::hours(1))
    })
    .await;

    let o = app
        .place_order(
            &w.residents[0],
            w.community,
            &OrderRequest::of(&shop, &product, 1, Receiving::Delivery),
        )
        .await;
    let id = o["id"].as_str().unwrap().to_owned();
    assert_eq!(pay(&app, &w, &w.residents[0], &id).await.status(), 200);
    let seller = |body: Value| {
        let (app, shop, owner, id) = (&app, &shop, &owner, &id);
        async move {
            status_and_json(
                app.post(
                    &format!("/api/v1/merchants/{shop}/orders/{id}/status"),
                    Some(&owner.access),
                    body,
                )
                .await,
            )
            .await
        }
    };
    for step in ["accepted", "preparing"] {
        let (status, body) = seller(json!({ "status": step })).await;
        assert_eq!(status, 200, "{body}");
    }
    for (courier, want, code) in [
        (theirs.as_str(), 422, "validation_failed"),
        (
            "01960000-0000-7000-8000-00000000abcd",
            422,
            "validation_failed",
        ),
        (suspended.as_str(), 409, "courier_unavailable"),
        (lapsed.as_str(), 409, "courier_unavailable"),
    ] {
        let (status, body) = seller(json!({ "status": "dispatched", "courier_id": courier })).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want, Some(code)),
            "{courier}: {body}"
        );
        assert_eq!(
            order_status(&app, &id).await,
            entity::OrderStatus::Preparing
        );
    }
    let (status, body) = seller(json!({ "status": "dispatched", "courier_id": ours })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["courier_id"], json!(ours));
}
