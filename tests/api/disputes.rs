//! Disputes: a resident objects to an order the merchant took; the two
//! negotiate; customer service decide when they cannot agree; the decision
//! refunds out of escrow and the rest settles to the merchant. (The same
//! flow through WeChat Pay's refund API is in `wechat_pay.rs`.)

use chrono::{Duration, Utc};
use entity::{OrderId, dispute, order};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::api::{OrderMove, OrderRequest, Receiving, get};
use crate::support::fixtures::{dispatched_order, shop, world};
use crate::support::jobs::settle;
use crate::support::jobs::sweep;
use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

async fn post(app: &TestApp, who: &Session, path: &str, body: Value) -> (u16, Value) {
    status_and_json(app.post(path, Some(&who.access), body).await).await
}

async fn the_order(app: &TestApp, id: &str) -> order::Model {
    order::Entity::find_by_id(id.parse::<OrderId>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

fn actions(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn verified(app: &TestApp) {
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn a_dispute_customer_service_settle_with_a_partial_refund_refunds_part_and_settles_the_rest()
{
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let resident = &w.residents[0];
    let id = dispatched_order(&app, &w, &owner, &shop, &product, 2).await;
    let base = format!("/api/v1/communities/{}", w.community);

    // The resident asks 68.00 back, with a photo.
    let (_, photo) = status_and_json(
        crate::support::fixtures::upload(
            &app,
            resident,
            "image/png",
            crate::support::fixtures::png(64, 64),
        )
        .await,
    )
    .await;
    let photo = photo["id"].as_str().unwrap().to_owned();
    let (status, opened) = post(
        &app,
        resident,
        &format!("{base}/orders/{id}/dispute"),
        json!({ "reason": "一箱烂了一半", "refund": 6800, "photo_file_ids": [photo] }),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    let dispute = opened["dispute"]["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["dispute"]["status"], "open");
    assert_eq!(opened["held"], 13_600);
    assert_eq!(opened["events"][0]["photos"][0]["file_id"], photo.as_str());
    assert!(
        opened["events"][0]["photos"][0]["link"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/files/{photo}?"))
    );

    // Confirming receipt does not let the money go while the dispute is live.
    app.confirm_receipt(resident, w.community, &id).await;
    let confirmed = the_order(&app, &id).await.confirmed_at.unwrap();
    assert_eq!(settle(&app, confirmed + Duration::days(1)).await, 0);

    // The merchant offers 30.00; the resident wants the property to decide.
    let answer = format!("/api/v1/merchants/{shop}/disputes/{dispute}/answer");
    let (status, body) = post(
        &app,
        &owner,
        &answer,
        json!({ "action": "propose", "refund": 6800 }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed")),
        "an offer is less than asked"
    );
    let (status, body) = post(
        &app,
        &owner,
        &answer,
        json!({ "action": "propose", "refund": 3000 }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed")),
        "with a note: {body}"
    );
    let (status, proposed) = post(
        &app,
        &owner,
        &answer,
        json!({ "action": "propose", "refund": 3000, "note": "只有几个坏果" }),
    )
    .await;
    assert_eq!(status, 200, "{proposed}");
    assert_eq!(proposed["dispute"]["status"], "proposed");
    assert_eq!(proposed["dispute"]["proposed_refund"], 3000);
    let (status, _) = post(&app, &owner, &answer, json!({ "action": "accept" })).await;
    assert_eq!(status, 409, "answered once");
    let reply = format!("{base}/disputes/{dispute}/reply");
    let (status, escalated) = post(
        &app,
        resident,
        &reply,
        json!({ "action": "escalate", "note": "坏了一半" }),
    )
    .await;
    assert_eq!(status, 200, "{escalated}");
    assert_eq!(escalated["dispute"]["status"], "escalated");

    // Customer service decide 40.00 back.
    let service = app.staff(w.community, "customer_service").await;
    let decision = format!("{base}/disputes/{dispute}/decision");
    let (status, body) = post(
        &app,
        &service,
        &decision,
        json!({ "outcome": "partial_refund", "refund": 13_600, "note": "x" }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed")),
        "partial is less than held"
    );
    let (status, decided) = post(
        &app,
        &service,
        &decision,
        json!({ "outcome": "partial_refund", "refund": 4000, "note": "照片可见约三成损坏" }),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["dispute"]["status"], "resolved");
    assert_eq!(decided["dispute"]["refund_amount"], 4000);
    assert_eq!(decided["held"], 9600);
    assert_eq!(decided["order_status"], "completed");
    assert_eq!(
        actions(&decided),
        ["opened", "proposed", "escalated", "decided"],
        "the whole history"
    );
    let (status, _) = post(
        &app,
        &service,
        &decision,
        json!({ "outcome": "full_refund", "note": "again" }),
    )
    .await;
    assert_eq!(status, 409, "decided once");

    // The resident sees the refund on the order; the rest settles to the merchant.
    let detail = get(&app, resident, &format!("{base}/orders/{id}")).await;
    assert_eq!(detail["refunds"].as_array().unwrap().len(), 1, "{detail}");
    assert_eq!(detail["refunds"][0]["amount"], 4000);
    assert_eq!(detail["refunds"][0]["status"], "succeeded");
    assert_eq!(settle(&app, confirmed + Duration::days(1)).await, 1);
    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(balance["communities"][0]["available"], 9600, "{balance}");
    assert_eq!(balance["communities"][0]["in_escrow"], 0, "{balance}");
    verified(&app).await;

    // Everyone involved sees the same history; the merchant lists it.
    let seen = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/disputes/{dispute}"),
    )
    .await;
    assert_eq!(actions(&seen), actions(&decided));
    let listed = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/disputes?status=resolved"),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let mine = get(&app, resident, &format!("{base}/disputes")).await;
    assert_eq!(mine["items"][0]["id"], dispute.as_str());
}

#[tokio::test]
async fn a_merchant_accepting_a_full_refund_refunds_the_order_into_the_wallet_asked_for() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let resident = &w.residents[0];
    let id = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    let base = format!("/api/v1/communities/{}", w.community);
    let (status, opened) = post(
        &app,
        resident,
        &format!("{base}/orders/{id}/dispute"),
        json!({ "reason": "送错了", "refund_to": "wallet" }),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(
        opened["dispute"]["requested_refund"], 6800,
        "everything by default"
    );
    let dispute = opened["dispute"]["id"].as_str().unwrap();
    let (status, accepted) = post(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/disputes/{dispute}/answer"),
        json!({ "action": "accept" }),
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["dispute"]["status"], "resolved");
    assert_eq!(accepted["order_status"], "refunded");
    assert_eq!(accepted["held"], 0);
    let o = the_order(&app, &id).await;
    let wallet = get(
        &app,
        resident,
        &format!("{base}/households/{}/wallet", o.household_id),
    )
    .await;
    assert_eq!(wallet["balance"], 6800, "{wallet}");
    let refunds = anjia::payment::service::refunds::refunds_of(&app.db, o.id)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1, "refunded once, by the dispute");
    let stock = entity::product::Entity::find_by_id(product.parse::<entity::ProductId>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .stock;
    assert_eq!(
        stock,
        Some(9),
        "delivered goods do not go back on the shelf"
    );
    assert_eq!(refunds[0].idempotency_key, format!("dispute:{dispute}"));
    verified(&app).await;
}

#[tokio::test]
async fn only_a_taken_unsettled_order_within_the_window_can_be_disputed_and_only_once() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let resident = &w.residents[0];
    let base = format!("/api/v1/communities/{}", w.community);
    let open = |id: &str| format!("{base}/orders/{id}/dispute");
    let reason = json!({ "reason": "不满意" });

    // Paid but not taken: cancel instead.
    let delivered = OrderRequest::of(&shop, &product, 1, Receiving::Delivery);
    let paid = app.place_order(resident, w.community, &delivered).await.id;
    app.try_pay(resident, w.community, &paid).await;
    let res = app
        .post(&open(&paid), Some(&resident.access), reason.clone())
        .await;
    assert_error(res, 409, "invalid_transition").await;

    // Asking more than was paid, or nothing, is refused.
    let id = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    for refund in [0, 6801] {
        let res = app
            .post(
                &open(&id),
                Some(&resident.access),
                json!({ "reason": "x", "refund": refund }),
            )
            .await;
        assert_error(res, 422, "validation_failed").await;
    }
    // Another household's resident cannot see the order at all.
    let res = app
        .post(&open(&id), Some(&w.residents[1].access), reason.clone())
        .await;
    assert_error(res, 404, "not_found").await;
    // Past the window (fulfilled eight days ago): too late.
    order::Entity::update_many()
        .col_expr(
            order::Column::FulfilledAt,
            Expr::value(Utc::now() - Duration::days(8)),
        )
        .filter(order::Column::Id.eq(id.parse::<OrderId>().unwrap()))
        .exec(&app.db)
        .await
        .unwrap();
    let res = app
        .post(&open(&id), Some(&resident.access), reason.clone())
        .await;
    assert_error(res, 409, "dispute_window_closed").await;

    // Settled: too late as well.
    let settled = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    post(
        &app,
        resident,
        &format!("{base}/orders/{settled}/confirm"),
        json!({}),
    )
    .await;
    assert_eq!(settle(&app, Utc::now() + Duration::days(1)).await, 1);
    let res = app
        .post(&open(&settled), Some(&resident.access), reason.clone())
        .await;
    assert_error(res, 409, "dispute_window_closed").await;

    // One dispute per order.
    let fresh = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    let res = app
        .post(&open(&fresh), Some(&resident.access), reason.clone())
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(&open(&fresh), Some(&resident.access), reason.clone())
        .await;
    assert_error(res, 409, "dispute_exists").await;
    assert_eq!(
        dispute::Entity::find().all(&app.db).await.unwrap().len(),
        1,
        "nothing half-written by the refusals"
    );
}

#[tokio::test]
async fn a_dispute_nobody_settles_goes_to_customer_service_who_alone_decide() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let resident = &w.residents[0];
    let base = format!("/api/v1/communities/{}", w.community);
    let id = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    let (_, opened) = post(
        &app,
        resident,
        &format!("{base}/orders/{id}/dispute"),
        json!({ "reason": "没收到" }),
    )
    .await;
    let dispute = opened["dispute"]["id"].as_str().unwrap().to_owned();
    let decision = format!("{base}/disputes/{dispute}/decision");
    let service = app.staff(w.community, "customer_service").await;
    let body = json!({ "outcome": "no_refund", "note": "已签收" });

    // Not yet escalated: the two sides negotiate first.
    let (status, _) = post(&app, &service, &decision, body.clone()).await;
    assert_eq!(status, 409);
    // Staff without the duty, and the other household, are kept out.
    let finance = app.staff(w.community, "finance").await;
    assert_error(
        app.post(&decision, Some(&finance.access), body.clone())
            .await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .get(
            &format!("{base}/disputes/{dispute}"),
            Some(&w.residents[1].access),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let elsewhere = app.community("别处").await;
    let stranger = app.staff(elsewhere, "customer_service").await;
    assert_error(
        app.get(
            &format!("{base}/disputes/{dispute}"),
            Some(&stranger.access),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Three days on, the sweep hands it to customer service, once.
    let report = sweep(&app, Utc::now() + Duration::days(4)).await;
    assert_eq!(report.escalated, 1);
    let report = sweep(&app, Utc::now() + Duration::days(4)).await;
    assert_eq!(report.escalated, 0);
    let seen = get(&app, &service, &format!("{base}/disputes/{dispute}")).await;
    assert_eq!(seen["dispute"]["status"], "escalated");
    assert_eq!(seen["events"][1]["actor_role"], "system");
    let (status, _) = post(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/disputes/{dispute}/answer"),
        json!({ "action": "accept" }),
    )
    .await;
    assert_eq!(status, 409, "too late for the merchant to answer");

    // No refund: the order completes and settles in full.
    let (status, decided) = post(&app, &service, &decision, body).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["dispute"]["refund_amount"], 0);
    assert_eq!(decided["order_status"], "completed");
    assert_eq!(settle(&app, Utc::now() + Duration::days(1)).await, 1);
    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(balance["communities"][0]["available"], 6800);
    verified(&app).await;
}

#[tokio::test]
async fn a_withdrawn_dispute_lets_the_order_settle_and_a_merchant_refund_ends_one() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let resident = &w.residents[0];
    let base = format!("/api/v1/communities/{}", w.community);

    let id = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    let (_, opened) = post(
        &app,
        resident,
        &format!("{base}/orders/{id}/dispute"),
        json!({ "reason": "晚了" }),
    )
    .await;
    let dispute = opened["dispute"]["id"].as_str().unwrap().to_owned();
    let (status, rejected) = post(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/disputes/{dispute}/answer"),
        json!({ "action": "reject", "note": "按时送达" }),
    )
    .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["dispute"]["status"], "merchant_rejected");
    let reply = format!("{base}/disputes/{dispute}/reply");
    let (status, _) = post(
        &app,
        resident,
        &reply,
        json!({ "action": "accept_proposal" }),
    )
    .await;
    assert_eq!(status, 409, "there is no offer");
    let (status, withdrawn) = post(&app, resident, &reply, json!({ "action": "withdraw" })).await;
    assert_eq!(status, 200, "{withdrawn}");
    assert_eq!(withdrawn["dispute"]["status"], "withdrawn");
    post(
        &app,
        resident,
        &format!("{base}/orders/{id}/confirm"),
        json!({}),
    )
    .await;
    assert_eq!(settle(&app, Utc::now() + Duration::days(1)).await, 1);

    // An order in trouble: the merchant refunds it itself, which ends the dispute.
    let other = dispatched_order(&app, &w, &owner, &shop, &product, 1).await;
    let (_, opened) = post(
        &app,
        resident,
        &format!("{base}/orders/{other}/dispute"),
        json!({ "reason": "没到" }),
    )
    .await;
    let dispute = opened["dispute"]["id"].as_str().unwrap().to_owned();
    app.move_order(
        &owner,
        &shop,
        &other,
        &OrderMove::to("exception").because("测试"),
    )
    .await;
    app.move_order(
        &owner,
        &shop,
        &other,
        &OrderMove::to("refunded").because("测试"),
    )
    .await;
    let seen = get(&app, resident, &format!("{base}/disputes/{dispute}")).await;
    assert_eq!(seen["dispute"]["status"], "resolved");
    assert_eq!(seen["dispute"]["refund_amount"], 6800);
    assert_eq!(seen["held"], 0);
    verified(&app).await;
}
