//! Catalog orders through their state machine, pickup slots, collectors,
//! reminders, the message board, and joins under contention.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::api::{OrderMove, OrderRequest, Receiving, created};
use crate::support::fixtures::{World, group_buy, join, shop, world};
use crate::support::jobs::sweep;
use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

/// `who` places an order; the status and the answer.
async fn order(
    app: &TestApp,
    w: &World,
    who: &Session,
    request: &OrderRequest<'_>,
) -> (u16, Value) {
    status_and_json(app.try_place_order(who, w.community, request).await).await
}

async fn act(app: &TestApp, w: &World, who: &Session, order: &str, action: &str) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/orders/{order}/{action}",
                w.community
            ),
            Some(&who.access),
            json!({}),
        )
        .await,
    )
    .await
}

/// The shop moves `order`; the status and the answer.
async fn seller(
    app: &TestApp,
    owner: &Session,
    shop: &str,
    order: &str,
    to: OrderMove<'_>,
) -> (u16, Value) {
    status_and_json(app.try_move_order(owner, shop, order, &to).await).await
}

async fn stock(app: &TestApp, owner: &Session, shop: &str) -> i64 {
    let (_, page) = status_and_json(
        app.get(
            &format!("/api/v1/merchants/{shop}/products"),
            Some(&owner.access),
        )
        .await,
    )
    .await;
    page["items"][0]["stock"].as_i64().unwrap()
}

#[tokio::test]
async fn a_catalog_order_goes_from_submission_to_confirmation_with_every_move_logged() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let r = &w.residents[0];
    let body = OrderRequest::of(&shop, &product, 2, Receiving::Delivery);
    let (status, o) = order(&app, &w, r, &body).await;
    assert_eq!(status, 201, "{o}");
    assert_eq!(o["amount"], 13600, "the server's price, times two");
    assert_eq!(
        o["address"], "1号楼 101",
        "the verified household by default"
    );
    assert_eq!(stock(&app, &owner, &shop).await, 8);
    let id = o["id"].as_str().unwrap().to_owned();

    // The merchant cannot take an unpaid order.
    let (status, _) = seller(&app, &owner, &shop, &id, OrderMove::to("accepted")).await;
    assert_eq!(status, 409);
    assert_eq!(act(&app, &w, r, &id, "pay").await.0, 200);
    let (status, body) = seller(&app, &owner, &shop, &id, OrderMove::to("accepted")).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("accepted")),
        "{body}"
    );
    assert!(body["processed_by"].is_string());
    // Accepted: the resident can no longer cancel.
    let (status, body) = act(&app, &w, r, &id, "cancel").await;
    assert_eq!((status, &body["code"]), (409, &json!("invalid_transition")));
    // A pickup step makes no sense for a delivery.
    let (status, _) = seller(&app, &owner, &shop, &id, OrderMove::to("preparing")).await;
    assert_eq!(status, 200);
    let (status, body) = seller(&app, &owner, &shop, &id, OrderMove::to("ready_for_pickup")).await;
    assert_eq!((status, &body["code"]), (422, &json!("validation_failed")));
    let (status, body) = seller(&app, &owner, &shop, &id, OrderMove::to("dispatched")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = act(&app, &w, r, &id, "confirm").await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("completed")),
        "{body}"
    );
    let (status, detail) = status_and_json(
        app.get(
            &format!("/api/v1/merchants/{shop}/orders/{id}"),
            Some(&owner.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let trail: Vec<(&str, &str)> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["to"].as_str().unwrap(), e["actor_role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        trail,
        [
            ("pending_payment", "resident"),
            ("paid", "system"),
            ("accepted", "merchant"),
            ("preparing", "merchant"),
            ("dispatched", "merchant"),
            ("completed", "resident"),
        ]
    );
    assert!(
        detail["client"].is_null(),
        "merchants do not see client info"
    );
    assert!(
        crate::support::outbox::messages_of(&app, "order_accepted").await >= 1
            && crate::support::outbox::messages_of(&app, "delivery_update").await >= 1
    );
}

#[tokio::test]
async fn rejections_cancellations_and_exceptions_give_the_money_and_stock_back() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let r = &w.residents[0];
    let body = |q: u32| OrderRequest::of(&shop, &product, q, Receiving::at(&w.point));
    // Rejected with a reason: refunded, stock back.
    let (_, a) = order(&app, &w, r, &body(3)).await;
    let a = a["id"].as_str().unwrap().to_owned();
    act(&app, &w, r, &a, "pay").await;
    let (status, _) = seller(&app, &owner, &shop, &a, OrderMove::to("rejected")).await;
    assert_eq!(status, 422, "a reason is required");
    let (status, body_a) = seller(
        &app,
        &owner,
        &shop,
        &a,
        OrderMove::to("rejected").because("今日缺货"),
    )
    .await;
    assert_eq!(
        (status, &body_a["status"]),
        (200, &json!("rejected")),
        "{body_a}"
    );
    assert_eq!(stock(&app, &owner, &shop).await, 10);
    // Cancelled by the resident before acceptance: refunded.
    let (_, b) = order(&app, &w, r, &body(1)).await;
    let b = b["id"].as_str().unwrap().to_owned();
    act(&app, &w, r, &b, "pay").await;
    let (status, _) = act(&app, &w, r, &b, "cancel").await;
    assert_eq!(status, 200);
    // An exception, resolved by a refund.
    let (_, c) = order(&app, &w, r, &body(1)).await;
    let c = c["id"].as_str().unwrap().to_owned();
    act(&app, &w, r, &c, "pay").await;
    seller(&app, &owner, &shop, &c, OrderMove::to("accepted")).await;
    let (status, _) = seller(
        &app,
        &owner,
        &shop,
        &c,
        OrderMove::to("refunded").because("x"),
    )
    .await;
    assert_eq!(status, 409, "only exceptions are refunded by the seller");
    let (status, _) = seller(
        &app,
        &owner,
        &shop,
        &c,
        OrderMove::to("exception").because("运输途中损坏"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body_c) = seller(
        &app,
        &owner,
        &shop,
        &c,
        OrderMove::to("refunded").because("损坏退款"),
    )
    .await;
    assert_eq!(
        (status, &body_c["status"]),
        (200, &json!("refunded")),
        "{body_c}"
    );
    assert_eq!(stock(&app, &owner, &shop).await, 10);
    let refunds = refund_count(&app).await;
    assert_eq!(refunds, 3);
    let ledger = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(ledger.ok(), "{:#?}", ledger.problems);
    // The rejected order's detail shows its refund; rejecting twice fails.
    let (status, _) = seller(
        &app,
        &owner,
        &shop,
        &a,
        OrderMove::to("rejected").because("again"),
    )
    .await;
    assert_eq!(status, 409);
    // Orders need stock, a selling merchant, and a verified resident.
    let (status, refused) = order(&app, &w, r, &body(11)).await;
    assert_eq!((status, &refused["code"]), (409, &json!("sold_out")));
    let stranger = app.resident().await;
    let (status, _) = order(&app, &w, &stranger, &body(1)).await;
    assert_eq!(status, 404);
}

async fn book(app: &TestApp, w: &World, who: &Session, id: &str, slot: &str) -> reqwest::Response {
    app.post(
        &format!(
            "/api/v1/communities/{}/orders/{id}/pickup-slot",
            w.community
        ),
        Some(&who.access),
        json!({ "slot_id": slot }),
    )
    .await
}

async fn refund_count(app: &TestApp) -> usize {
    use sea_orm::EntityTrait;
    entity::refund::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn delivered_orders_confirm_themselves_after_the_configured_days() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let r = &w.residents[0];
    let (_, o) = order(
        &app,
        &w,
        r,
        &OrderRequest::of(&shop, &product, 1, Receiving::Delivery),
    )
    .await;
    let id = o["id"].as_str().unwrap().to_owned();
    act(&app, &w, r, &id, "pay").await;
    for s in ["accepted", "preparing", "dispatched", "delivered"] {
        let (status, body) = seller(&app, &owner, &shop, &id, OrderMove::to(s)).await;
        assert_eq!(status, 200, "{s}: {body}");
    }
    let report = sweep(&app, Utc::now() + Duration::days(6)).await;
    assert_eq!(report.confirmed, 0);
    let report = sweep(&app, Utc::now() + Duration::days(8)).await;
    assert_eq!(report.confirmed, 1);
    let (_, detail) = status_and_json(
        app.get(
            &format!("/api/v1/communities/{}/orders/{id}", w.community),
            Some(&r.access),
        )
        .await,
    )
    .await;
    assert_eq!(detail["order"]["status"], "completed");
    assert_eq!(
        detail["events"].as_array().unwrap().last().unwrap()["reason"],
        "confirmed automatically"
    );
}

#[tokio::test]
async fn pickup_slots_collectors_reminders_and_the_message_board() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let (r, neighbour) = (&w.residents[0], &w.residents[1]);
    let base = format!(
        "/api/v1/communities/{}/pickup-points/{}",
        w.community, w.point
    );
    // Slots from the opening hours (08:00–20:00), one place each.
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    let (status, slots) = status_and_json(
        app.post(
            &format!("{base}/slots"),
            Some(&w.manager.access),
            json!({ "from": tomorrow, "days": 1, "slot_minutes": 60, "capacity": 1 }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{slots}");
    assert_eq!(slots.as_array().unwrap().len(), 12);
    let slot = slots[0]["id"].as_str().unwrap().to_owned();

    let body = OrderRequest::of(&shop, &product, 1, Receiving::at(&w.point));
    let mut ids = Vec::new();
    for who in [r, neighbour] {
        let (_, o) = order(&app, &w, who, &body).await;
        let id = o["id"].as_str().unwrap().to_owned();
        act(&app, &w, who, &id, "pay").await;
        for s in ["accepted", "preparing", "ready_for_pickup"] {
            let (status, b) = seller(&app, &owner, &shop, &id, OrderMove::to(s)).await;
            assert_eq!(status, 200, "{b}");
        }
        ids.push(id);
    }
    let (status, booked) = status_and_json(book(&app, &w, r, &ids[0], &slot).await).await;
    assert_eq!(status, 200, "{booked}");
    assert_eq!(booked["pickup_slot_id"], json!(slot));
    assert_error(
        book(&app, &w, neighbour, &ids[1], &slot).await,
        409,
        "slot_full",
    )
    .await;
    // Someone else's order is not theirs to book.
    assert_error(
        book(&app, &w, neighbour, &ids[0], &slot).await,
        404,
        "not_found",
    )
    .await;

    // The resident names the neighbour to collect (代取). The answer is the
    // same whether the number is nobody's, an outsider's or a resident's,
    // so it tells nobody who lives here; only the resident gets a code.
    let outsider = app
        .dev_login(json!({ "display_name": "外人", "phone": "13700000001" }))
        .await;
    let neighbour_phone = phone_of(&app, neighbour).await;
    let mut answers = Vec::new();
    for phone in ["13700000000", "13700000001", neighbour_phone.as_str()] {
        let res = app
            .post(
                &format!(
                    "/api/v1/communities/{}/orders/{}/collector",
                    w.community, ids[0]
                ),
                Some(&r.access),
                json!({ "phone": phone }),
            )
            .await;
        answers.push(status_and_json(res).await);
    }
    assert_eq!(answers[0], (204, json!("")), "{answers:?}");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(
        crate::support::outbox::messages_of(&app, "pickup_delegated").await,
        1,
        "only the resident is told"
    );
    let (_, theirs) = status_and_json(
        app.get("/api/v1/me/pickup-codes", Some(&outsider.access))
            .await,
    )
    .await;
    assert_eq!(theirs, json!([]));
    let (_, codes) = status_and_json(
        app.get("/api/v1/me/pickup-codes", Some(&neighbour.access))
            .await,
    )
    .await;
    let delegated: Vec<&Value> = codes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["delegated"] == true)
        .collect();
    assert_eq!(delegated.len(), 1, "{codes}");
    assert_eq!(delegated[0]["order_id"], json!(ids[0]));
    let guard = app.staff(w.community, "gate_guard").await;
    let (status, done) = status_and_json(
        app.post(
            &format!("{base}/verifications"),
            Some(&guard.access),
            json!({ "code": delegated[0]["code"] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["delegated"], true);
    // The resident's own code went with it.
    let (_, mine) =
        status_and_json(app.get("/api/v1/me/pickup-codes", Some(&r.access)).await).await;
    assert_eq!(mine, json!([]));

    // The neighbour's own order waits: reminded after 24 h, reported to staff.
    let report = sweep(&app, Utc::now() + Duration::hours(25)).await;
    assert_eq!(report.reminders, 1);
    assert_eq!(
        crate::support::outbox::messages_of(&app, "pickup_reminder").await,
        1
    );
    let (status, waiting) = status_and_json(
        app.get(&format!("{base}/uncollected"), Some(&guard.access))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(waiting["items"][0]["order"]["id"], json!(ids[1]));
    assert!(waiting["items"][0]["last_reminded_at"].is_string());

    // The message board: residents write, staff remove.
    let note = created(
        &app,
        r,
        &format!("{base}/notes"),
        json!({ "body": "今天六点后有人吗？" }),
    )
    .await;
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("{base}/notes/{}", note["id"].as_str().unwrap()),
            Some(&r.access),
            None,
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("{base}/notes/{}", note["id"].as_str().unwrap()),
            Some(&guard.access),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let (_, board) =
        status_and_json(app.get(&format!("{base}/notes"), Some(&r.access)).await).await;
    assert_eq!(board["items"], json!([]));
}

/// The phone number a test resident signed in with (decrypted).
async fn phone_of(app: &TestApp, who: &Session) -> String {
    use sea_orm::EntityTrait;
    let u = entity::user::Entity::find_by_id(entity::UserId::from_uuid(who.user_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    app.state.pii.decrypt(&u.phone_enc.unwrap()).unwrap()
}

/// 200 joins at once against a stock of 50: exactly 50 hold stock, the rest
/// are told `sold_out`, nothing fails. Proves the guard on PostgreSQL (run
/// with ANJIA_TEST_DATABASE_URL); SQLite gives the same counts.
#[tokio::test]
async fn two_hundred_concurrent_joins_against_a_stock_of_fifty_sell_exactly_fifty() {
    let app = spawn_app().await;
    let w = world(&app, 20).await;
    let group = group_buy(&app, &w, 1, 50, json!({})).await;
    let joins = (0..200).map(|n| join(&app, &w, &w.residents[n % 20], &group, 1));
    let results = futures_util::future::join_all(joins).await;
    let (mut made, mut sold_out) = (0, 0);
    for res in results {
        let (status, body) = status_and_json(res).await;
        match (status, body["code"].as_str()) {
            (201, _) => made += 1,
            (409, Some("sold_out")) => sold_out += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!((made, sold_out), (50, 150));
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let holding = entity::order::Entity::find()
        .filter(entity::order::Column::Status.eq(entity::OrderStatus::PendingPayment))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(holding.len(), 50);
    let item = entity::group_buy_item::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.initial_stock == 50)
        .unwrap();
    assert_eq!(item.stock, 0);
}
