//! Settlement: confirmed orders' money goes from escrow to the merchant at
//! the cutoff, less the property's commission; statements in JSON and CSV;
//! two settlers at once settle each order once.

use chrono::{Duration, Utc};
use entity::{OrderId, order};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::group_buys::{World, world};
use crate::helpers::{Session, TestApp, spawn_app, status_and_json};
use crate::orders::shop;

/// A delivered, paid and confirmed order of `quantity` boxes (68.00 each).
async fn completed_order(
    app: &TestApp,
    w: &World,
    owner: &Session,
    shop: &str,
    product: &str,
    quantity: u32,
) -> OrderId {
    let r = &w.residents[0];
    let community = format!("/api/v1/communities/{}/orders", w.community);
    let (status, o) = status_and_json(
        app.post(
            &community,
            Some(&r.access),
            json!({ "merchant_id": shop, "lines": [{ "product_id": product, "quantity": quantity }],
                    "receiving": { "fulfilment": "delivery" } }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    let act = |action: &'static str| {
        let path = format!("{community}/{id}/{action}");
        async move { app.post(&path, Some(&r.access), json!({})).await.status() }
    };
    assert_eq!(act("pay").await, 200);
    for step in ["accepted", "preparing", "dispatched"] {
        let res = app
            .post(
                &format!("/api/v1/merchants/{shop}/orders/{id}/status"),
                Some(&owner.access),
                json!({ "status": step }),
            )
            .await;
        assert_eq!(res.status(), 200, "{step}");
    }
    assert_eq!(act("confirm").await, 200);
    id.parse().unwrap()
}

async fn settle(app: &TestApp, at: chrono::DateTime<Utc>) -> usize {
    anjia::settlement::settle_due(&app.db, &app.state.settings.payment, at, 100)
        .await
        .unwrap()
}

async fn get(app: &TestApp, who: &Session, path: &str) -> Value {
    let (status, body) = status_and_json(app.get(path, Some(&who.access)).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn a_confirmed_order_settles_to_its_merchant_at_the_cutoff_less_the_commission() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let operator = app.operator_admin().await;
    let res = app
        .put(
            &format!("/api/v1/merchants/{shop}/commission"),
            Some(&operator.access),
            json!({ "commission_bp": 250 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .put(
            &format!("/api/v1/merchants/{shop}/commission"),
            Some(&operator.access),
            json!({ "commission_bp": 10_001 }),
        )
        .await;
    crate::helpers::assert_error(res, 422, "validation_failed").await;

    let id = completed_order(&app, &w, &owner, &shop, &product, 2).await;
    let o = order::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let balance = format!("/api/v1/merchants/{shop}/balance");
    let before = get(&app, &owner, &balance).await;
    assert_eq!(
        (&before["available"], &before["in_escrow"]),
        (&json!(0), &json!(13_600)),
        "held for the merchant, not yet theirs"
    );

    // Before the next cutoff nothing moves; after it the order settles once.
    let confirmed = o.confirmed_at.unwrap();
    assert_eq!(settle(&app, confirmed - Duration::seconds(1)).await, 0);
    assert_eq!(settle(&app, confirmed + Duration::days(1)).await, 1);
    assert_eq!(settle(&app, confirmed + Duration::days(2)).await, 0);
    let after = get(&app, &owner, &balance).await;
    assert_eq!(
        (
            &after["available"],
            &after["in_escrow"],
            &after["commission_bp"]
        ),
        (&json!(13_260), &json!(0), &json!(250)),
        "{after}"
    );
    assert_eq!(
        anjia::ledger::escrow_of(&app.db, o.community_id, o.id)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        anjia::ledger::balance(
            &app.db,
            anjia::ledger::Account::property_revenue(o.community_id)
        )
        .await
        .unwrap(),
        340
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);

    // Today's statement (the business day is Asia/Shanghai's).
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let statement = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/statements/{today}"),
    )
    .await;
    assert_eq!(statement["orders"], 1);
    assert_eq!(
        (
            &statement["gross"],
            &statement["commission"],
            &statement["net"]
        ),
        (&json!(13_600), &json!(340), &json!(13_260))
    );
    assert_eq!(statement["lines"][0]["order_no"], o.order_no.as_str());
    let csv = app
        .get(
            &format!("/api/v1/merchants/{shop}/statements/{today}?format=csv"),
            Some(&owner.access),
        )
        .await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert!(text.contains(&format!("{},", o.order_no)), "{text}");
    assert!(text.contains("136.00,3.40,132.60"), "{text}");
    let yesterday = today.pred_opt().unwrap();
    let empty = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/statements/{yesterday}"),
    )
    .await;
    assert_eq!(empty["orders"], 0);
    let res = app
        .get(
            &format!("/api/v1/merchants/{shop}/statements/yesterday"),
            Some(&owner.access),
        )
        .await;
    crate::helpers::assert_error(res, 422, "validation_failed").await;
    // Another merchant sees nothing of it (not even that it exists).
    let (other, _, _) = crate::orders::shop(&app, &w).await;
    let res = app.get(&balance, Some(&other.access)).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn two_settlers_at_once_settle_each_order_exactly_once() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    for _ in 0..8 {
        completed_order(&app, &w, &owner, &shop, &product, 1).await;
    }
    let at = Utc::now() + Duration::days(1);
    let run = |batch: u32| {
        let db = app.db.clone();
        let payment = app.state.settings.payment.clone();
        async move {
            let mut total = 0;
            loop {
                let n = anjia::settlement::settle_due(&db, &payment, at, batch)
                    .await
                    .unwrap();
                if n == 0 {
                    return total;
                }
                total += n;
            }
        }
    };
    let (a, b) = tokio::join!(run(3), run(2));
    assert_eq!(a + b, 8, "{a} + {b}");
    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(balance["available"], 8 * 6_800);
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(
        report.entries,
        8 * 2,
        "a payment and a settlement per order"
    );
}
