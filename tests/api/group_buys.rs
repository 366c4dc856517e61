//! Group buys, orders and pickup, through HTTP, with the sweepers driven by
//! the test at the time it chooses.

use chrono::{Duration, Utc};
use entity::{OrderStatus, refund};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::api::created;
use crate::support::fixtures::{World, group_buy, join, join_body, world};
use crate::support::outbox::messages;
use crate::support::{Session, TestApp, assert_error, spawn_app, spawn_app_on, status_and_json};

async fn joined(app: &TestApp, w: &World, who: &Session, group: &Value, quantity: u32) -> Value {
    let (status, body) = status_and_json(join(app, w, who, group, quantity).await).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn pay(app: &TestApp, w: &World, who: &Session, order: &Value) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/orders/{}/pay",
                w.community,
                order["id"].as_str().unwrap()
            ),
            Some(&who.access),
            json!({}),
        )
        .await,
    )
    .await
}

async fn group_now(app: &TestApp, w: &World, who: &Session, group: &Value) -> Value {
    let (status, body) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/group-buys/{}",
                w.community,
                group["id"].as_str().unwrap()
            ),
            Some(&who.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn order_now(app: &TestApp, w: &World, who: &Session, order: &Value) -> Value {
    let (status, body) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/orders/{}",
                w.community,
                order["id"].as_str().unwrap()
            ),
            Some(&who.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn move_group(app: &TestApp, w: &World, group: &Value, body: Value) -> (u16, Value) {
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

async fn sweep_at(app: &TestApp, at: chrono::DateTime<Utc>) -> anjia::jobs::SweepReport {
    anjia::jobs::sweep(&app.state, at)
        .await
        .unwrap_or_else(|e| panic!("sweep: {}", e.message))
}

#[tokio::test]
async fn a_group_buy_succeeds_when_enough_households_pay_and_ends_at_the_pickup_counter() {
    let app = spawn_app().await;
    let w = world(&app, 3).await;
    let group = group_buy(&app, &w, 2, 20, json!({})).await;
    assert_eq!(group["status"], "open");
    assert_eq!(group["households_joined"], 0);

    // Two orders from one household count once.
    let a1 = joined(&app, &w, &w.residents[0], &group, 1).await;
    assert_eq!(a1["status"], "pending_payment");
    assert_eq!(a1["amount"], 500);
    assert_eq!(a1["lines"][0]["unit_price"], 500);
    assert_eq!(pay(&app, &w, &w.residents[0], &a1).await.0, 200);
    let a2 = joined(&app, &w, &w.residents[0], &group, 2).await;
    assert_eq!(a2["amount"], 1000);
    assert_eq!(pay(&app, &w, &w.residents[0], &a2).await.0, 200);
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["status"], "open");
    assert_eq!(g["group_buy"]["households_joined"], 1);

    // A second household's payment reaches the minimum: everyone is told.
    let b = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community,
                group["id"].as_str().unwrap()
            ),
            Some(&w.residents[1].access),
            json!({
                "items": [{ "item_id": group["items"][0]["id"], "quantity": 1 }],
                "receiving": { "fulfilment": "pickup", "pickup_point_id": w.point },
                "intro": "3号楼的王阿姨，草莓爱好者",
            }),
        )
        .await;
    let (status, b) = status_and_json(b).await;
    assert_eq!(status, 201, "{b}");
    let (status, paid) = pay(&app, &w, &w.residents[1], &b).await;
    assert_eq!((status, &paid["status"]), (200, &json!("paid")), "{paid}");
    assert_eq!(paid["payment_method"], "sandbox");
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["status"], "succeeded");
    assert_eq!(g["group_buy"]["households_joined"], 2);
    assert_eq!(g["group_buy"]["items"][0]["stock"], 16);
    // Participants see each other's introductions; outsiders do not.
    assert_eq!(g["introductions"][0]["intro"], "3号楼的王阿姨，草莓爱好者");
    assert_eq!(g["introductions"][0]["name"], "住**");
    let outsider = group_now(&app, &w, &w.residents[2], &group).await;
    assert_eq!(outsider["introductions"], json!([]));
    let told: Vec<_> = messages(&app, "group_succeeded")
        .await
        .into_iter()
        .map(|m| m.user_id.unwrap().as_uuid())
        .collect();
    assert_eq!(told.len(), 2, "each participant is told once");
    assert!(told.contains(&w.residents[0].user_id) && told.contains(&w.residents[1].user_id));
    // Paying again changes nothing.
    assert_eq!(pay(&app, &w, &w.residents[1], &b).await.0, 200);
    assert_eq!(messages(&app, "order_paid").await.len(), 3);

    // The deadline closes it; the organiser fulfils and delivers to the point.
    let deadline: chrono::DateTime<Utc> = group["deadline"].as_str().unwrap().parse().unwrap();
    let report = sweep_at(&app, deadline + Duration::seconds(1)).await;
    assert_eq!(report.deadlines, 1);
    assert_eq!(
        group_now(&app, &w, &w.manager, &group).await["group_buy"]["status"],
        "closed"
    );
    let (status, body) = move_group(&app, &w, &group, json!({ "status": "ready" })).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("invalid_transition")),
        "{body}"
    );
    let (status, body) = move_group(&app, &w, &group, json!({ "status": "fulfilling" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        order_now(&app, &w, &w.residents[1], &b).await["order"]["status"],
        "preparing"
    );
    let (status, body) = move_group(&app, &w, &group, json!({ "status": "ready" })).await;
    assert_eq!(status, 200, "{body}");

    let detail = order_now(&app, &w, &w.residents[1], &b).await;
    assert_eq!(detail["order"]["status"], "ready_for_pickup");
    let moves: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        moves,
        [
            "pending_payment",
            "paid",
            "accepted",
            "preparing",
            "ready_for_pickup"
        ]
    );
    assert_eq!(detail["events"][1]["actor_role"], "system");
    assert_eq!(detail["events"][2]["actor_role"], "staff");
    let code = detail["pickup_codes"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 8);
    assert_eq!(messages(&app, "pickup_ready").await.len(), 3);
    // Another person's view of the order shows no code.
    assert!(
        detail["client"].is_null(),
        "residents do not see client info"
    );
    let staff_view = order_now(&app, &w, &w.manager, &b).await;
    assert_eq!(staff_view["pickup_codes"], json!([]));
    assert!(staff_view["client"]["ip"].is_string());

    // Staff at the point verify the code once.
    let guard = app.staff(w.community, "gate_guard").await;
    let verify = format!(
        "/api/v1/communities/{}/pickup-points/{}/verifications",
        w.community, w.point
    );
    let (status, done) = status_and_json(
        app.post(&verify, Some(&guard.access), json!({ "code": code }))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["order"]["status"], "completed");
    assert_eq!(done["delegated"], false);
    let again = app
        .post(&verify, Some(&guard.access), json!({ "code": code }))
        .await;
    assert_error(again, 409, "pickup_code_used").await;
    let wrong = app
        .post(&verify, Some(&guard.access), json!({ "code": "12345678" }))
        .await;
    assert_error(wrong, 404, "not_found").await;
    let (status, body) = move_group(&app, &w, &group, json!({ "status": "completed" })).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn joins_are_refused_when_sold_out_over_the_household_limit_past_the_deadline_or_from_outside()
 {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let group = group_buy(&app, &w, 1, 3, json!({})).await;
    let group_id = group["id"].as_str().unwrap();
    // Per-household limit 2 on a second group buy.
    let limited = created(
        &app,
        &w.manager,
        &format!("/api/v1/communities/{}/group-buys", w.community),
        json!({
            "title": "限购鸡蛋", "min_households": 1,
            "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(),
            "pickup_point_ids": [w.point], "publish": true,
            "items": [{ "title": "鸡蛋", "unit": "盒", "price": 1200, "stock": 100, "per_household_limit": 2 }],
        }),
    )
    .await;
    joined(&app, &w, &w.residents[0], &limited, 2).await;
    let over = join(&app, &w, &w.residents[0], &limited, 1).await;
    let body = assert_error(over, 409, "household_limit_exceeded").await;
    assert_eq!(body["details"]["limit"], 2);
    // Another household has its own allowance.
    joined(&app, &w, &w.residents[1], &limited, 2).await;

    // Stock 3: 2 + 2 does not fit.
    joined(&app, &w, &w.residents[0], &group, 2).await;
    let sold_out = join(&app, &w, &w.residents[1], &group, 2).await;
    assert_error(sold_out, 409, "sold_out").await;
    joined(&app, &w, &w.residents[1], &group, 1).await;
    let none_left = join(&app, &w, &w.residents[1], &group, 1).await;
    assert_error(none_left, 409, "sold_out").await;

    // Outsiders: another community's resident, an unverified user, staff.
    let other = world(&app, 1).await;
    let path = format!(
        "/api/v1/communities/{}/group-buys/{group_id}/orders",
        w.community
    );
    let body = join_body(&group, &w.point, 1);
    let res = app
        .post(&path, Some(&other.residents[0].access), body.clone())
        .await;
    assert_error(res, 404, "not_found").await;
    let stranger = app.resident().await;
    let res = app.post(&path, Some(&stranger.access), body.clone()).await;
    assert_error(res, 404, "not_found").await;
    let admin = app.operator_admin().await;
    let res = app.post(&path, Some(&admin.access), body.clone()).await;
    assert_error(res, 403, "not_a_resident").await;
    // Another community's group buy is not found from here.
    let theirs = group_buy(&app, &other, 1, 5, json!({})).await;
    let res = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community,
                theirs["id"].as_str().unwrap()
            ),
            Some(&w.residents[0].access),
            join_body(&theirs, &w.point, 1),
        )
        .await;
    assert_error(res, 404, "not_found").await;

    // A draft is invisible to residents; one not started yet refuses.
    let draft = group_buy(&app, &w, 1, 5, json!({ "publish": false })).await;
    let res = join(&app, &w, &w.residents[0], &draft, 1).await;
    assert_error(res, 404, "not_found").await;
    let later = group_buy(
        &app,
        &w,
        1,
        5,
        json!({ "starts_at": (Utc::now() + Duration::hours(2)).to_rfc3339() }),
    )
    .await;
    let res = join(&app, &w, &w.residents[0], &later, 1).await;
    assert_error(res, 409, "group_buy_not_open").await;

    // Past the deadline (before any sweep has run).
    let late = group_buy(&app, &w, 1, 5, json!({})).await;
    entity::group_buy::Entity::update_many()
        .set(entity::group_buy::ActiveModel {
            deadline: sea_orm::Set(Utc::now() - Duration::minutes(1)),
            ..Default::default()
        })
        .filter(
            entity::group_buy::Column::Id.eq(late["id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let res = join(&app, &w, &w.residents[0], &late, 1).await;
    assert_error(res, 409, "deadline_passed").await;

    // Bad input: an item of another group buy, zero, door delivery not offered.
    let mut foreign = join_body(&group, &w.point, 1);
    foreign["items"][0]["item_id"] = limited["items"][0]["id"].clone();
    let res = app.post(&path, Some(&w.residents[0].access), foreign).await;
    assert_error(res, 422, "validation_failed").await;
    let res = join(&app, &w, &w.residents[0], &limited, 0).await;
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community,
                limited["id"].as_str().unwrap()
            ),
            Some(&w.residents[1].access),
            json!({ "items": [{ "item_id": limited["items"][0]["id"], "quantity": 1 }],
                    "receiving": { "fulfilment": "delivery" } }),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_first_order_and_takes_stock_once() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let group = group_buy(&app, &w, 1, 10, json!({})).await;
    let path = format!(
        "/api/v1/communities/{}/group-buys/{}/orders",
        w.community,
        group["id"].as_str().unwrap()
    );
    let send = |body: Value, key: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&w.residents[0].access)
            .header("Idempotency-Key", key)
            .header("X-Client-Kind", "mini_program")
            .json(&body)
            .send()
    };
    let body = join_body(&group, &w.point, 3);
    let (s1, first) = status_and_json(send(body.clone(), "key-1").await.unwrap()).await;
    let (s2, second) = status_and_json(send(body.clone(), "key-1").await.unwrap()).await;
    assert_eq!((s1, s2), (201, 200), "{first} {second}");
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["client_kind"], "mini_program");
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["items"][0]["stock"], 7, "stock taken once");
    let other = join_body(&group, &w.point, 1);
    let res = send(other, "key-1").await.unwrap();
    assert_error(res, 422, "idempotency_key_reused").await;

    // Five copies at once make one order.
    let copies = (0..5).map(|_| send(body.clone(), "key-2"));
    let results = futures_util::future::join_all(copies).await;
    let mut ids = std::collections::BTreeSet::new();
    for r in results {
        let (status, b) = status_and_json(r.unwrap()).await;
        assert!(status == 201 || status == 200, "{status} {b}");
        ids.insert(b["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["items"][0]["stock"], 4);
}

#[tokio::test]
async fn unpaid_orders_let_go_of_their_stock_at_the_payment_deadline() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let group = group_buy(&app, &w, 1, 5, json!({})).await;
    let order = joined(&app, &w, &w.residents[0], &group, 5).await;
    let deadline: chrono::DateTime<Utc> =
        order["payment_deadline"].as_str().unwrap().parse().unwrap();
    let created_at: chrono::DateTime<Utc> = order["created_at"].as_str().unwrap().parse().unwrap();
    assert!((890..=900).contains(&(deadline - created_at).num_seconds()));
    assert_eq!(sweep_at(&app, Utc::now()).await.expired, 0);
    let report = sweep_at(&app, deadline + Duration::seconds(1)).await;
    assert_eq!(report.expired, 1);
    let after = order_now(&app, &w, &w.residents[0], &order).await;
    assert_eq!(after["order"]["status"], "expired");
    assert_eq!(after["events"][1]["reason"], "not paid in time");
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["items"][0]["stock"], 5);
    let (status, body) = pay(&app, &w, &w.residents[0], &order).await;
    assert_eq!((status, &body["code"]), (409, &json!("invalid_transition")));
    // A second sweep finds nothing more to do.
    assert_eq!(
        sweep_at(&app, deadline + Duration::seconds(2))
            .await
            .expired,
        0
    );
}

#[tokio::test]
async fn a_failed_group_buy_refunds_every_paid_order_with_no_one_in_the_loop() {
    let app = spawn_app().await;
    let w = world(&app, 3).await;
    let group = group_buy(&app, &w, 3, 10, json!({})).await;
    let a = joined(&app, &w, &w.residents[0], &group, 2).await;
    let b = joined(&app, &w, &w.residents[1], &group, 1).await;
    let c = joined(&app, &w, &w.residents[2], &group, 1).await;
    pay(&app, &w, &w.residents[0], &a).await;
    pay(&app, &w, &w.residents[1], &b).await;
    let deadline: chrono::DateTime<Utc> = group["deadline"].as_str().unwrap().parse().unwrap();
    let report = sweep_at(&app, deadline + Duration::seconds(1)).await;
    // The unpaid order's own deadline (never later than the group's) has
    // passed too: it expires; the two paid ones are refunded.
    assert_eq!(
        (report.expired, report.deadlines, report.settled),
        (1, 1, 2),
        "{report:?}"
    );
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["status"], "failed");
    assert_eq!(g["group_buy"]["items"][0]["stock"], 10);
    let a_now = order_now(&app, &w, &w.residents[0], &a).await;
    assert_eq!(a_now["order"]["status"], "refunded");
    assert_eq!(a_now["refunds"][0]["amount"], 1000);
    assert_eq!(a_now["refunds"][0]["status"], "succeeded");
    assert_eq!(
        order_now(&app, &w, &w.residents[2], &c).await["order"]["status"],
        "expired"
    );
    assert_eq!(refund::Entity::find().all(&app.db).await.unwrap().len(), 2);
    assert_eq!(messages(&app, "group_failed").await.len(), 2);
    assert_eq!(messages(&app, "refund_done").await.len(), 2);
    // Nothing is done twice.
    let again = sweep_at(&app, deadline + Duration::seconds(5)).await;
    assert_eq!((again.deadlines, again.settled), (0, 0));
    let res = join(&app, &w, &w.residents[2], &group, 1).await;
    assert_error(res, 409, "group_buy_not_open").await;
}

#[tokio::test]
async fn two_sweepers_at_once_fail_a_group_and_refund_each_paid_order_exactly_once() {
    let first = spawn_app().await;
    let second = spawn_app_on(first.test_db(), |_| {}).await;
    let w = world(&first, 12).await;
    let group = group_buy(&first, &w, 20, 100, json!({})).await;
    for r in &w.residents {
        let o = joined(&first, &w, r, &group, 1).await;
        assert_eq!(pay(&first, &w, r, &o).await.0, 200);
    }
    let deadline: chrono::DateTime<Utc> = group["deadline"].as_str().unwrap().parse().unwrap();
    let at = deadline + Duration::seconds(1);
    // Small batches, so the two really interleave.
    let mut state_a = first.state.clone();
    let mut state_b = second.state.clone();
    for s in [&mut state_a, &mut state_b] {
        let mut settings = (*s.settings).clone();
        settings.jobs.batch_size = 3;
        s.settings = std::sync::Arc::new(settings);
    }
    let run = |state: anjia::state::AppState| async move {
        let mut total = anjia::jobs::SweepReport::default();
        loop {
            let r = anjia::jobs::sweep(&state, at)
                .await
                .unwrap_or_else(|e| panic!("sweep: {}", e.message));
            if r == anjia::jobs::SweepReport::default() {
                return total;
            }
            total.deadlines += r.deadlines;
            total.settled += r.settled;
        }
    };
    let (a, b) = tokio::join!(run(state_a), run(state_b));
    assert_eq!(a.deadlines + b.deadlines, 1, "{a:?} {b:?}");
    assert_eq!(a.settled + b.settled, 12, "{a:?} {b:?}");
    let refunds = refund::Entity::find().all(&first.db).await.unwrap();
    assert_eq!(refunds.len(), 12);
    let orders = entity::order::Entity::find().all(&first.db).await.unwrap();
    assert!(orders.iter().all(|o| o.status == OrderStatus::Refunded));
    let mut refunded: Vec<_> = refunds.iter().map(|r| r.order_id).collect();
    refunded.sort();
    refunded.dedup();
    assert_eq!(refunded.len(), 12, "one refund per order");
    assert_eq!(messages(&first, "group_failed").await.len(), 12);
    // The ledger saw twelve payments and twelve refunds, each once: every
    // closed order's escrow is back to zero.
    let report = anjia::ledger::verify(&first.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(
        report.entries,
        12 * 3,
        "payment, refund decided, refund paid"
    );
}

#[tokio::test]
async fn the_organiser_cancelling_refunds_at_once_and_merchants_run_their_own_group_buys() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let group = group_buy(&app, &w, 5, 10, json!({})).await;
    let a = joined(&app, &w, &w.residents[0], &group, 1).await;
    pay(&app, &w, &w.residents[0], &a).await;
    let (status, body) = move_group(&app, &w, &group, json!({ "status": "cancelled" })).await;
    assert_eq!(
        (status, &body["code"]),
        (422, &json!("validation_failed")),
        "{body}"
    );
    let (status, body) = move_group(
        &app,
        &w,
        &group,
        json!({ "status": "cancelled", "reason": "果园遭遇冰雹" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_reason"], "果园遭遇冰雹");
    let now = order_now(&app, &w, &w.residents[0], &a).await;
    assert_eq!(now["order"]["status"], "refunded");
    assert_eq!(now["order"]["status_reason"], "团购已取消");
    assert_eq!(messages(&app, "group_cancelled").await.len(), 1);
    let (status, _) = move_group(&app, &w, &group, json!({ "status": "open" })).await;
    assert_eq!(status, 409);

    // A resident may cancel a paid order while the group is still open.
    let open = group_buy(&app, &w, 5, 10, json!({})).await;
    let b = joined(&app, &w, &w.residents[1], &open, 1).await;
    pay(&app, &w, &w.residents[1], &b).await;
    let (status, cancelled) = status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/orders/{}/cancel",
                w.community,
                b["id"].as_str().unwrap()
            ),
            Some(&w.residents[1].access),
            json!({ "reason": "买多了" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(refund::Entity::find().all(&app.db).await.unwrap().len(), 2);

    // A merchant not verified here cannot open one; once verified it can,
    // and the property may only cancel it.
    let owner = app.resident().await;
    let shop = created(
        &app,
        &owner,
        "/api/v1/merchants",
        json!({
            "shop_name": format!("果园{}", Uuid::now_v7().simple()), "business_scope": "水果",
            "categories": ["食"], "location_kind": "shop", "address": "底商", "contact_phone": "13812340001",
            "owner_name": "王五", "owner_id_number": "11010519491231002X", "community_ids": [w.community],
        }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({
        "community_id": w.community, "title": "果园直供", "min_households": 1,
        "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(), "door_delivery": true,
        "items": [{ "title": "橙子", "unit": "箱", "price": 5000, "stock": 10 }],
    });
    let res = app
        .post(
            &format!("/api/v1/merchants/{shop}/group-buys"),
            Some(&owner.access),
            body.clone(),
        )
        .await;
    assert_error(res, 409, "merchant_not_selling").await;
    created(
        &app,
        &w.manager,
        &format!(
            "/api/v1/communities/{}/merchants/{shop}/visits",
            w.community
        ),
        json!({ "notes": "ok" }),
    )
    .await;
    let res = app
        .post(
            &format!(
                "/api/v1/communities/{}/merchants/{shop}/verify",
                w.community
            ),
            Some(&w.manager.access),
            json!({ "valid_until": (Utc::now() + Duration::days(90)).to_rfc3339() }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let theirs = created(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys"),
        body,
    )
    .await;
    assert_eq!(theirs["status"], "draft");
    assert_eq!(theirs["organiser_kind"], "merchant");
    let listed = status_and_json(
        app.get(
            &format!("/api/v1/communities/{}/group-buys", w.community),
            Some(&w.residents[0].access),
        )
        .await,
    )
    .await
    .1;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["status"] != "draft"),
        "residents never see drafts"
    );
    let publish = app
        .post(
            &format!(
                "/api/v1/merchants/{shop}/group-buys/{}/status",
                theirs["id"].as_str().unwrap()
            ),
            Some(&owner.access),
            json!({ "status": "open" }),
        )
        .await;
    assert_eq!(publish.status(), 200);
    let (status, body) = move_group(&app, &w, &theirs, json!({ "status": "closed" })).await;
    assert_eq!((status, &body["code"]), (403, &json!("forbidden")));
    let delivery = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community,
                theirs["id"].as_str().unwrap()
            ),
            Some(&w.residents[0].access),
            json!({ "items": [{ "item_id": theirs["items"][0]["id"], "quantity": 1 }],
                    "receiving": { "fulfilment": "delivery", "address": "2号楼 808", } }),
        )
        .await;
    assert_error(delivery, 422, "validation_failed").await;
    let (status, order) = status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community,
                theirs["id"].as_str().unwrap()
            ),
            Some(&w.residents[0].access),
            json!({ "items": [{ "item_id": theirs["items"][0]["id"], "quantity": 1 }],
                    "receiving": { "fulfilment": "delivery", "address": "2号楼 808", "address_remark": "送到父母家" } }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["address"], "2号楼 808");
    assert_eq!(order["merchant_id"], json!(shop));
    let (status, mine) = status_and_json(
        app.get("/api/v1/me/orders", Some(&w.residents[0].access))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let merchant_view = app
        .get(
            &format!("/api/v1/merchants/{shop}/orders"),
            Some(&owner.access),
        )
        .await;
    let (_, merchant_view) = status_and_json(merchant_view).await;
    assert_eq!(merchant_view["items"][0]["id"], order["id"]);
}

async fn patch(app: &TestApp, who: &Session, path: &str, body: Value) -> (u16, Value) {
    status_and_json(
        app.request(reqwest::Method::PATCH, path, Some(&who.access), Some(body))
            .await,
    )
    .await
}

#[tokio::test]
async fn the_organiser_edits_a_draft_until_it_is_published() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let draft = group_buy(&app, &w, 2, 10, json!({ "publish": false })).await;
    assert_eq!(draft["status"], "draft");
    let path = format!(
        "/api/v1/communities/{}/group-buys/{}",
        w.community,
        draft["id"].as_str().unwrap()
    );
    let window = (
        (Utc::now() + Duration::days(2)).to_rfc3339(),
        (Utc::now() + Duration::days(3)).to_rfc3339(),
    );
    let (status, edited) = patch(
        &app,
        &w.manager,
        &path,
        json!({
            "title": "本地蓝莓", "min_households": 3,
            "pickup_starts_at": window.0, "pickup_ends_at": window.1,
            "items": [{ "title": "蓝莓", "unit": "盒", "price": 1200, "stock": 30, "per_household_limit": 2 }],
        }),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["title"], "本地蓝莓");
    assert_eq!(edited["min_households"], 3);
    assert_eq!(edited["status"], "draft");
    assert_eq!(edited["items"].as_array().unwrap().len(), 1);
    assert_eq!(edited["items"][0]["price"], 1200);
    assert_eq!(edited["items"][0]["stock"], 30);
    assert_ne!(edited["items"][0]["id"], draft["items"][0]["id"]);
    assert!(edited["pickup_starts_at"].is_string());

    // What is left out stays; null clears the pickup window.
    let (status, again) = patch(
        &app,
        &w.manager,
        &path,
        json!({ "description": "周末到货", "pickup_starts_at": null, "pickup_ends_at": null }),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["description"], "周末到货");
    assert_eq!(again["title"], "本地蓝莓");
    assert_eq!(again["items"][0]["title"], "蓝莓");
    assert_eq!(again["items"][0]["per_household_limit"], 2);
    assert_eq!(again["pickup_point_ids"], edited["pickup_point_ids"]);
    assert!(again["pickup_starts_at"].is_null());

    // Checked like a new group buy; a refused edit changes nothing.
    for (body, field) in [
        (
            json!({ "deadline": (Utc::now() - Duration::hours(1)).to_rfc3339() }),
            "deadline",
        ),
        (
            json!({ "pickup_point_ids": [], "door_delivery": false }),
            "pickup_point_ids",
        ),
        (json!({ "items": [] }), "items"),
        (json!({ "pickup_starts_at": window.0 }), "pickup_starts_at"),
        (json!({ "min_households": 0 }), "min_households"),
    ] {
        let (status, err) = patch(&app, &w.manager, &path, body).await;
        assert_eq!(
            (status, err["details"]["field"].as_str()),
            (422, Some(field)),
            "{err}"
        );
    }
    let (_, now) = status_and_json(app.get(&path, Some(&w.manager.access)).await).await;
    assert_eq!(now["group_buy"]["items"], again["items"]);
    assert_eq!(now["group_buy"]["description"], "周末到货");

    // Published: no more edits.
    let res = app
        .post(
            &format!("{path}/status"),
            Some(&w.manager.access),
            json!({ "status": "open" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&w.manager.access),
            Some(json!({ "title": "改名" })),
        )
        .await;
    assert_error(res, 409, "invalid_transition").await;
}

#[tokio::test]
async fn a_merchant_edits_its_own_draft_and_the_property_cannot() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = crate::support::fixtures::shop(&app, &w).await;
    let draft = created(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys"),
        json!({
            "community_id": w.community, "title": "脐橙团", "min_households": 1,
            "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(),
            "pickup_point_ids": [w.point],
            "items": [{ "product_id": product, "price": 5000, "stock": 5 }],
        }),
    )
    .await;
    let id = draft["id"].as_str().unwrap();
    let (status, edited) = patch(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys/{id}"),
        json!({ "items": [{ "product_id": product, "price": 4500, "stock": 8 }] }),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    // Title, unit and the struck price come from the product.
    assert_eq!(edited["items"][0]["title"], "赣南脐橙");
    assert_eq!(edited["items"][0]["original_price"], 6800);
    assert_eq!(edited["items"][0]["price"], 4500);
    // Another merchant's product is refused.
    let (_, other_shop, other_product) = crate::support::fixtures::shop(&app, &w).await;
    assert_ne!(other_shop, shop);
    let (status, err) = patch(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys/{id}"),
        json!({ "items": [{ "product_id": other_product, "price": 100, "stock": 1 }] }),
    )
    .await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (422, Some("product_id")),
        "{err}"
    );
    // The property may cancel a merchant's group buy but not edit it.
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/communities/{}/group-buys/{id}", w.community),
            Some(&w.manager.access),
            Some(json!({ "title": "物业改的" })),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
}
