//! Settlement: confirmed orders' money goes from escrow to the merchant at
//! the cutoff, less the property's commission; statements in JSON and CSV;
//! two settlers at once settle each order once.

use chrono::{Duration, Utc};
use entity::order;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use crate::support::api::get;
use crate::support::fixtures::{completed_order, shop, world};
use crate::support::jobs::settle;
use crate::support::{spawn_app, status_and_json};

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
    crate::support::assert_error(res, 422, "validation_failed").await;

    let id = completed_order(&app, &w, &owner, &shop, &product, 2).await;
    let o = order::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let balance = format!("/api/v1/merchants/{shop}/balance");
    let before = get(&app, &owner, &balance).await;
    assert_eq!(
        (
            &before["communities"][0]["available"],
            &before["communities"][0]["in_escrow"]
        ),
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
            &after["communities"][0]["available"],
            &after["communities"][0]["in_escrow"],
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

    // The statement of the day it settled (the business day is
    // Asia/Shanghai's).
    let today = (confirmed + Duration::days(1))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let statement = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/statements/{today}"),
    )
    .await;
    assert_eq!(statement["communities"][0]["orders"], 1);
    assert_eq!(
        (
            &statement["communities"][0]["gross"],
            &statement["communities"][0]["commission"],
            &statement["communities"][0]["net"]
        ),
        (&json!(13_600), &json!(340), &json!(13_260))
    );
    assert_eq!(
        statement["communities"][0]["lines"][0]["order_no"],
        o.order_no.as_str()
    );
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
    assert_eq!(empty["communities"][0]["orders"], 0);
    let res = app
        .get(
            &format!("/api/v1/merchants/{shop}/statements/yesterday"),
            Some(&owner.access),
        )
        .await;
    crate::support::assert_error(res, 422, "validation_failed").await;
    // Another merchant sees nothing of it (not even that it exists).
    let (other, _, _) = crate::support::fixtures::shop(&app, &w).await;
    let res = app.get(&balance, Some(&other.access)).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn one_batch_settles_several_merchants_each_credited_its_own_orders_less_its_own_commission()
{
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner_a, shop_a, product_a) = shop(&app, &w).await;
    let (owner_b, shop_b, product_b) = shop(&app, &w).await;
    let operator = app.operator_admin().await;
    let res = app
        .put(
            &format!("/api/v1/merchants/{shop_a}/commission"),
            Some(&operator.access),
            json!({ "commission_bp": 250 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Shop A: 1 box and 2 boxes (68.00 each); shop B: 3 boxes, no commission.
    completed_order(&app, &w, &owner_a, &shop_a, &product_a, 1).await;
    completed_order(&app, &w, &owner_a, &shop_a, &product_a, 2).await;
    completed_order(&app, &w, &owner_b, &shop_b, &product_b, 3).await;
    let at = Utc::now() + Duration::days(1);
    assert_eq!(settle(&app, at).await, 3, "all three in one batch");
    assert_eq!(settle(&app, at).await, 0, "and only once");

    let a = get(
        &app,
        &owner_a,
        &format!("/api/v1/merchants/{shop_a}/balance"),
    )
    .await;
    // 6,800 less 170 (2.5%), and 13,600 less 340.
    assert_eq!(
        (
            &a["communities"][0]["available"],
            &a["communities"][0]["in_escrow"]
        ),
        (&json!(19_890), &json!(0))
    );
    let b = get(
        &app,
        &owner_b,
        &format!("/api/v1/merchants/{shop_b}/balance"),
    )
    .await;
    assert_eq!(
        (
            &b["communities"][0]["available"],
            &b["communities"][0]["in_escrow"]
        ),
        (&json!(20_400), &json!(0))
    );

    let day = at.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let statement = get(
        &app,
        &owner_a,
        &format!("/api/v1/merchants/{shop_a}/statements/{day}"),
    )
    .await;
    assert_eq!(
        statement["communities"][0]["orders"], 2,
        "only shop A's own orders: {statement}"
    );
    let mut lines: Vec<(i64, i64, i64)> = statement["communities"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["gross"].as_i64().unwrap(),
                l["commission"].as_i64().unwrap(),
                l["net"].as_i64().unwrap(),
            )
        })
        .collect();
    lines.sort();
    assert_eq!(lines, vec![(6_800, 170, 6_630), (13_600, 340, 13_260)]);
    let statement = get(
        &app,
        &owner_b,
        &format!("/api/v1/merchants/{shop_b}/statements/{day}"),
    )
    .await;
    assert_eq!(
        (
            &statement["communities"][0]["orders"],
            &statement["communities"][0]["gross"],
            &statement["communities"][0]["net"]
        ),
        (&json!(1), &json!(20_400), &json!(20_400))
    );

    // One entry per merchant for the batch, each order's escrow on a line
    // of its own; every invariant holds.
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(
        report.entries,
        3 + 2,
        "three payments, two settlement entries"
    );

    // A settlement record moved to the other merchant (or changed in any
    // way) no longer agrees with the ledger.
    let backend = app.db.get_database_backend();
    let moved = app
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            anjia::kernel::db::sql(
                backend,
                "UPDATE order_settlements SET merchant_id = $1 WHERE order_id = \
                 (SELECT order_id FROM order_settlements WHERE merchant_id = $2 AND gross = 6800)",
            ),
            [
                shop_b.parse::<uuid::Uuid>().unwrap().into(),
                shop_a.parse::<uuid::Uuid>().unwrap().into(),
            ],
        ))
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(moved, 1);
    let text = anjia::ledger::verify(&app.db)
        .await
        .unwrap()
        .problems
        .join("\n");
    assert!(text.contains("settled to someone else's account"), "{text}");
    assert!(
        text.contains("its orders' merchant is owed 6630 but it credited 0"),
        "{text}"
    );
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
                let n = anjia::settlement::service::settle_due(&db, &payment, at, batch)
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
    assert_eq!(balance["communities"][0]["available"], 8 * 6_800);
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    // A payment per order, and a settlement entry per batch (each run took
    // at most three or two orders at a time).
    let batches = report.entries - 8;
    assert!((3..=8).contains(&batches), "{batches} settlement entries");
    let day = at.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let statement = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/statements/{day}"),
    )
    .await;
    assert_eq!(
        statement["communities"][0]["orders"], 8,
        "each order on the statement once"
    );
    assert_eq!(statement["communities"][0]["gross"], 8 * 6_800);
}

#[tokio::test]
async fn a_merchant_withdraws_its_balance_and_finance_approves_pays_or_rejects() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    completed_order(&app, &w, &owner, &shop, &product, 2).await;
    assert_eq!(settle(&app, Utc::now() + Duration::days(1)).await, 1);
    let community = w.community;
    let finance = app.staff(community, "finance").await;
    let balance_path = format!("/api/v1/merchants/{shop}/balance");
    let ask = |amount: i64| {
        let path = format!("/api/v1/merchants/{shop}/withdrawals");
        let owner = owner.clone();
        let app = &app;
        async move {
            status_and_json(
                app.post(
                    &path,
                    Some(&owner.access),
                    json!({ "amount": amount, "community_id": community }),
                )
                .await,
            )
            .await
        }
    };
    let decide = |id: String, body: Value| {
        let path = format!(
            "/api/v1/communities/{}/withdrawals/{id}/status",
            w.community
        );
        let finance = finance.clone();
        let app = &app;
        async move { status_and_json(app.post(&path, Some(&finance.access), body).await).await }
    };

    // More than the balance (136.00) is refused; nothing is set aside.
    let (status, body) = ask(13_601).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("insufficient_balance")),
        "{body}"
    );
    let (status, first) = ask(10_000).await;
    assert_eq!(
        (status, &first["status"]),
        (201, &json!("requested")),
        "{first}"
    );
    let b = get(&app, &owner, &balance_path).await;
    assert_eq!(
        (
            &b["communities"][0]["available"],
            &b["communities"][0]["payouts_in_flight"]
        ),
        (&json!(3_600), &json!(10_000))
    );
    let (status, _) = ask(5_000).await;
    assert_eq!(status, 409, "the rest of the balance is only 36.00");

    // Finance sees it, approves it, and records the transfer.
    let list = get(
        &app,
        &finance,
        &format!("/api/v1/communities/{}/withdrawals", w.community),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = first["id"].as_str().unwrap().to_owned();
    let (status, body) = decide(
        id.clone(),
        json!({ "status": "paid", "payout_reference": "X" }),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("invalid_transition")),
        "approve first"
    );
    let (status, body) = decide(id.clone(), json!({ "status": "approved" })).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("approved")),
        "{body}"
    );
    let (status, _) = decide(id.clone(), json!({ "status": "paid" })).await;
    assert_eq!(status, 422, "the transfer's reference is required");
    let (status, body) = decide(
        id.clone(),
        json!({ "status": "paid", "payout_reference": "ICBC-20261123-0001" }),
    )
    .await;
    assert_eq!((status, &body["status"]), (200, &json!("paid")), "{body}");
    assert_eq!(body["payout_reference"], "ICBC-20261123-0001");
    let (status, _) = decide(id, json!({ "status": "rejected", "reason": "late" })).await;
    assert_eq!(status, 409, "paid is final");
    let b = get(&app, &owner, &balance_path).await;
    assert_eq!(
        (
            &b["communities"][0]["available"],
            &b["communities"][0]["payouts_in_flight"]
        ),
        (&json!(3_600), &json!(0))
    );

    // A rejected request gives the amount back.
    let (_, second) = ask(3_600).await;
    let second = second["id"].as_str().unwrap().to_owned();
    let (status, _) = decide(second.clone(), json!({ "status": "rejected" })).await;
    assert_eq!(status, 422, "a rejection needs a reason");
    let (status, body) = decide(
        second,
        json!({ "status": "rejected", "reason": "账户信息不全" }),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("rejected")),
        "{body}"
    );
    let b = get(&app, &owner, &balance_path).await;
    assert_eq!(b["communities"][0]["available"], 3_600);
    assert_eq!(
        crate::support::outbox::messages_of(&app, "withdrawal_update").await,
        3
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);

    // Finance of another community sees none of it.
    let other = world(&app, 0).await;
    let stranger = app.staff(other.community, "finance").await;
    let res = app
        .get(
            &format!("/api/v1/communities/{}/withdrawals", other.community),
            Some(&stranger.access),
        )
        .await;
    let (_, list) = status_and_json(res).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn an_order_left_queued_after_it_settled_is_taken_off_the_queue_instead_of_blocking_settlement()
 {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let first = completed_order(&app, &w, &owner, &shop, &product, 1).await;
    let at = Utc::now() + Duration::days(1);
    assert_eq!(settle(&app, at).await, 1);
    // Whatever put it back (a bug, a hand edit), it must not stop the rest.
    let confirmed = order::Entity::find_by_id(first)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .confirmed_at
        .unwrap();
    entity::settlement_queue::Entity::insert(entity::settlement_queue::ActiveModel {
        order_id: sea_orm::Set(first),
        confirmed_at: sea_orm::Set(confirmed),
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    let text = anjia::ledger::verify(&app.db)
        .await
        .unwrap()
        .problems
        .join("\n");
    assert!(
        text.contains("has settled but still waits to settle"),
        "{text}"
    );
    completed_order(&app, &w, &owner, &shop, &product, 2).await;
    assert_eq!(settle(&app, at).await, 0, "the round only cleans up");
    assert_eq!(settle(&app, at).await, 1, "the next settles the other");
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(
        balance["communities"][0]["available"],
        3 * 6_800,
        "each order once"
    );
}
