//! A group buy from open to its end: it succeeds when enough households
//! pay and ends at the pickup counter; unpaid orders let go of their stock;
//! a failed or cancelled group buy refunds every paid order, once, however
//! many sweepers run.

use chrono::{Duration, Utc};
use entity::{OrderStatus, refund};
use sea_orm::EntityTrait;
use serde_json::json;
use uuid::Uuid;

use super::{group_now, joined, move_group, order_now, pay};
use crate::support::api::{GroupBuy, GroupBuyMove, JoinRequest, MerchantApplication, created};
use crate::support::fixtures::{group_buy, join, world};
use crate::support::jobs::sweep;
use crate::support::outbox::messages;
use crate::support::{assert_error, spawn_app, spawn_app_on, status_and_json};

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
    let with_intro = JoinRequest {
        intro: Some("3号楼的王阿姨，草莓爱好者"),
        ..JoinRequest::pickup(&group, 1, &w.point)
    };
    let b = app
        .join_group_buy(&w.residents[1], w.community, &group.id, &with_intro)
        .await;
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
    let deadline = group.deadline();
    let report = sweep(&app, deadline + Duration::seconds(1)).await;
    assert_eq!(report.deadlines, 1);
    assert_eq!(
        group_now(&app, &w, &w.manager, &group).await["group_buy"]["status"],
        "closed"
    );
    let (status, body) = move_group(&app, &w, &group, GroupBuyMove::to("ready")).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("invalid_transition")),
        "{body}"
    );
    let (status, body) = move_group(&app, &w, &group, GroupBuyMove::to("fulfilling")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        order_now(&app, &w, &w.residents[1], &b).await["order"]["status"],
        "preparing"
    );
    let (status, body) = move_group(&app, &w, &group, GroupBuyMove::to("ready")).await;
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
    let (status, body) = move_group(&app, &w, &group, GroupBuyMove::to("completed")).await;
    assert_eq!(status, 200, "{body}");
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
    assert_eq!(sweep(&app, Utc::now()).await.expired, 0);
    let report = sweep(&app, deadline + Duration::seconds(1)).await;
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
        sweep(&app, deadline + Duration::seconds(2)).await.expired,
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
    let deadline = group.deadline();
    let report = sweep(&app, deadline + Duration::seconds(1)).await;
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
    let again = sweep(&app, deadline + Duration::seconds(5)).await;
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
    let deadline = group.deadline();
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
    let (status, body) = move_group(&app, &w, &group, GroupBuyMove::to("cancelled")).await;
    assert_eq!(
        (status, &body["code"]),
        (422, &json!("validation_failed")),
        "{body}"
    );
    let (status, body) = move_group(
        &app,
        &w,
        &group,
        GroupBuyMove::to("cancelled").because("果园遭遇冰雹"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_reason"], "果园遭遇冰雹");
    let now = order_now(&app, &w, &w.residents[0], &a).await;
    assert_eq!(now["order"]["status"], "refunded");
    assert_eq!(now["order"]["status_reason"], "团购已取消");
    assert_eq!(messages(&app, "group_cancelled").await.len(), 1);
    let (status, _) = move_group(&app, &w, &group, GroupBuyMove::to("open")).await;
    assert_eq!(status, 409);

    // A resident may cancel a paid order while the group is still open.
    let open = group_buy(&app, &w, 5, 10, json!({})).await;
    let b = joined(&app, &w, &w.residents[1], &open, 1).await;
    pay(&app, &w, &w.residents[1], &b).await;
    let (status, cancelled) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{}/orders/{}/cancel", w.community, b.id),
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
    let name = format!("果园{}", Uuid::now_v7().simple());
    let orchard = MerchantApplication {
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
    let shop = app.apply_as_merchant(&owner, &orchard).await;
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
    app.visit_merchant(&w.manager, w.community, &shop, "ok")
        .await;
    app.verify_merchant(
        &w.manager,
        w.community,
        &shop,
        Utc::now() + Duration::days(90),
    )
    .await;
    let theirs = GroupBuy::from(
        created(
            &app,
            &owner,
            &format!("/api/v1/merchants/{shop}/group-buys"),
            body,
        )
        .await,
    );
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
            &format!("/api/v1/merchants/{shop}/group-buys/{}/status", theirs.id),
            Some(&owner.access),
            json!({ "status": "open" }),
        )
        .await;
    assert_eq!(publish.status(), 200);
    let (status, body) = move_group(&app, &w, &theirs, GroupBuyMove::to("closed")).await;
    assert_eq!((status, &body["code"]), (403, &json!("forbidden")));
    let delivery = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community, theirs.id
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
                theirs.id
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
