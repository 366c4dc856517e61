//! Property-fee bills: finance issue them by area × rate or from a
//! spreadsheet, residents pay them (the wallet-and-WeChat-Pay split is in
//! `wechat_pay.rs`), finance chase the arrears.

use chrono::{Duration, Utc};
use entity::{HouseholdId, household};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::fixtures::world;
use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

async fn get(app: &TestApp, who: &Session, path: &str) -> Value {
    let (status, body) = status_and_json(app.get(path, Some(&who.access)).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn households(app: &TestApp, community: uuid::Uuid) -> Vec<household::Model> {
    household::Entity::find()
        .filter(household::Column::CommunityId.eq(entity::CommunityId::from_uuid(community)))
        .all(&app.db)
        .await
        .unwrap()
}

async fn import(
    app: &TestApp,
    who: &Session,
    community: uuid::Uuid,
    query: &str,
    csv: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!(
            "/api/v1/communities/{community}/fee-bills/import?{query}"
        )))
        .bearer_auth(&who.access)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn finance_bill_each_household_its_area_times_the_rate_once_per_period() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let base = format!("/api/v1/communities/{}", w.community);
    let all = households(&app, w.community).await;
    // One household has its floor area on record (89.56 m²), the other not.
    let measured = all.iter().find(|h| h.room == "101").unwrap().id;
    household::Entity::update_many()
        .col_expr(household::Column::AreaCentiM2, Expr::value(8956i64))
        .filter(household::Column::Id.eq(measured))
        .exec(&app.db)
        .await
        .unwrap();
    let finance = app.staff(w.community, "finance").await;
    let body = json!({ "period": "2026-Q4", "rate_fen": 235, "due_on": "2026-12-31" });
    let (status, generated) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/generate"),
            Some(&finance.access),
            body.clone(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{generated}");
    assert_eq!(generated["issued"], 1);
    assert_eq!(generated["without_area"].as_array().unwrap().len(), 1);
    let (_, again) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/generate"),
            Some(&finance.access),
            body,
        )
        .await,
    )
    .await;
    assert_eq!(
        (&again["issued"], &again["already_billed"]),
        (&json!(0), &json!(1)),
        "once per period"
    );
    let res = app
        .post(
            &format!("{base}/fee-bills/generate"),
            Some(&finance.access),
            json!({ "period": " ", "rate_fen": 235, "due_on": "2026-12-31" }),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;

    // 89.56 m² × 2.35 = 210.466 yuan: 210.47.
    let listed = get(&app, &finance, &format!("{base}/fee-bills?period=2026-Q4")).await;
    let bill = &listed["items"][0];
    assert_eq!(
        (&bill["amount"], &bill["area_m2"], &bill["status"]),
        (&json!(21_047), &json!("89.56"), &json!("unpaid"))
    );
    let id = bill["id"].as_str().unwrap();
    assert_eq!(
        anjia::ledger::balance(&app.db, anjia::ledger::Account::fee_receivable(measured))
            .await
            .unwrap(),
        21_047
    );
    // The household's members see it; the neighbours do not.
    let (owner, neighbour) = (&w.residents[0], &w.residents[1]);
    let mine = get(
        &app,
        owner,
        &format!("{base}/households/{measured}/fee-bills"),
    )
    .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_error(
        app.get(&format!("{base}/fee-bills/{id}"), Some(&neighbour.access))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get(
            &format!("{base}/households/{measured}/fee-bills"),
            Some(&neighbour.access),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Paid in full by the sandbox: a receipt, nothing owed.
    let (status, paid) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/{id}/pay"),
            Some(&owner.access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["bill"]["status"], "paid");
    assert!(paid["request_payment"].is_null());
    assert_eq!(paid["bill"]["payments"][0]["method"], "sandbox");
    let res = app
        .post(
            &format!("{base}/fee-bills/{id}/pay"),
            Some(&owner.access),
            json!({ "wallet": 100 }),
        )
        .await;
    assert_error(res, 409, "invalid_transition").await;
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn an_import_checks_every_row_first_and_arrears_are_reminded_once_a_day() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let base = format!("/api/v1/communities/{}", w.community);
    let finance = app.staff(w.community, "finance").await;
    // Due dates are business days (Asia/Shanghai).
    let overdue =
        (Utc::now().with_timezone(&chrono_tz::Asia::Shanghai) - Duration::days(10)).date_naive();
    let query = format!("period=2026-10&due_on={overdue}");

    let bad = "楼栋,单元,房号,金额\n1号楼,,101,180.50\n1号楼,,909,10\n1号楼,,102,abc\n";
    let res = import(&app, &finance, w.community, &query, bad).await;
    let body = assert_error(res, 422, "import_rejected").await;
    assert_eq!(
        body["details"]["rows"].as_array().unwrap().len(),
        2,
        "{body}"
    );
    assert!(
        get(&app, &finance, &format!("{base}/fee-bills")).await["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing issued"
    );

    let good = "building,unit,room,amount\n1号楼,,101,180.50\n1号楼,,102,99\n";
    let (status, imported) =
        status_and_json(import(&app, &finance, w.community, &query, good).await).await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["issued"], 2);
    let res = app
        .client
        .post(app.url(&format!("{base}/fee-bills/import?{query}")))
        .bearer_auth(&finance.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(res, 415, "unsupported_media_type").await;

    // Both are overdue; one household pays part from nothing in its wallet: refused.
    let arrears = get(&app, &finance, &format!("{base}/fee-bills/arrears")).await;
    let items = arrears["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{arrears}");
    assert_eq!(items[0]["days_overdue"], 10);
    assert!(items[0]["address"].as_str().unwrap().contains("101"));
    let payer = &w.residents[1];
    let theirs: HouseholdId = entity::household_member::Entity::find()
        .filter(
            entity::household_member::Column::UserId.eq(entity::UserId::from_uuid(payer.user_id)),
        )
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .household_id;
    let bill = items
        .iter()
        .find(|i| i["household_id"] == theirs.to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!("{base}/fee-bills/{bill}/pay"),
            Some(&payer.access),
            json!({ "wallet": 100 }),
        )
        .await;
    assert_error(res, 409, "insufficient_balance").await;
    let res = app
        .post(
            &format!("{base}/fee-bills/{bill}/pay"),
            Some(&payer.access),
            json!({ "wallet": 1_000_000 }),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;

    // Reminders: one message per member of each household, once a day.
    let (status, reminded) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/reminders"),
            Some(&finance.access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{reminded}");
    assert_eq!(
        (&reminded["bills"], &reminded["messages"]),
        (&json!(2), &json!(2))
    );
    let (_, again) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/reminders"),
            Some(&finance.access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(again["bills"], 0, "not twice in a day");

    // Paid: off the arrears list.
    let res = app
        .post(
            &format!("{base}/fee-bills/{bill}/pay"),
            Some(&payer.access),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let arrears = get(&app, &finance, &format!("{base}/fee-bills/arrears")).await;
    assert_eq!(arrears["items"].as_array().unwrap().len(), 1);
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn finance_void_a_bill_billed_in_error_and_bill_the_period_again_but_not_one_with_money_on_it()
 {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let base = format!("/api/v1/communities/{}", w.community);
    let all = households(&app, w.community).await;
    for h in &all {
        household::Entity::update_many()
            .col_expr(household::Column::AreaCentiM2, Expr::value(10_000i64))
            .filter(household::Column::Id.eq(h.id))
            .exec(&app.db)
            .await
            .unwrap();
    }
    let finance = app.staff(w.community, "finance").await;
    // 100 m² at 3.00 yuan billed by mistake (the rate is 2.00).
    let generate_path = format!("{base}/fee-bills/generate");
    let generate = |rate: i64| {
        app.post(
            &generate_path,
            Some(&finance.access),
            json!({ "period": "2027-Q1", "rate_fen": rate, "due_on": "2027-03-31" }),
        )
    };
    let (status, generated) = status_and_json(generate(300).await).await;
    assert_eq!(
        (status, &generated["issued"]),
        (200, &json!(2)),
        "{generated}"
    );
    let listed = get(&app, &finance, &format!("{base}/fee-bills?period=2027-Q1")).await;
    let bills: Vec<(String, HouseholdId)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_owned(),
                b["household_id"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let (owner, _) = (&w.residents[0], &w.residents[1]);
    let mine = all.iter().find(|h| h.room == "101").unwrap().id;
    let (paid_id, _) = bills.iter().find(|(_, h)| *h == mine).unwrap().clone();
    let (wrong_id, wrong_household) = bills.iter().find(|(_, h)| *h != mine).unwrap().clone();

    // Residents and other staff cannot void; a reason is required.
    assert_error(
        app.post(
            &format!("{base}/fee-bills/{wrong_id}/void"),
            Some(&owner.access),
            json!({ "reason": "我不想付" }),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.post(
            &format!("{base}/fee-bills/{wrong_id}/void"),
            Some(&finance.access),
            json!({ "reason": "  " }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    // One household pays its bill; that one cannot be voided any more.
    let res = app
        .post(
            &format!("{base}/fee-bills/{paid_id}/pay"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_error(
        app.post(
            &format!("{base}/fee-bills/{paid_id}/void"),
            Some(&finance.access),
            json!({ "reason": "费率错误" }),
        )
        .await,
        409,
        "invalid_transition",
    )
    .await;

    // The other is voided: it owes nothing, its receivable and the revenue
    // are reversed, and it leaves the arrears.
    let (status, voided) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/{wrong_id}/void"),
            Some(&finance.access),
            json!({ "reason": "费率错误" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(
        (
            &voided["status"],
            &voided["outstanding"],
            &voided["void_reason"]
        ),
        (&json!("void"), &json!(0), &json!("费率错误"))
    );
    assert!(voided["voided_at"].is_string());
    assert_eq!(
        anjia::ledger::balance(
            &app.db,
            anjia::ledger::Account::fee_receivable(wrong_household)
        )
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        anjia::ledger::balance(
            &app.db,
            anjia::ledger::Account::fee_revenue(entity::CommunityId::from_uuid(w.community))
        )
        .await
        .unwrap(),
        30_000,
        "only the paid bill's revenue is left"
    );
    assert_error(
        app.post(
            &format!("{base}/fee-bills/{wrong_id}/void"),
            Some(&finance.access),
            json!({ "reason": "again" }),
        )
        .await,
        409,
        "invalid_transition",
    )
    .await;

    // The period is billed again at the right rate: only the voided
    // household gets a new bill.
    let (status, again) = status_and_json(generate(200).await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["issued"], &again["already_billed"]),
        (&json!(1), &json!(1))
    );
    let listed = get(
        &app,
        &finance,
        &format!("{base}/fee-bills?period=2027-Q1&status=unpaid"),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["amount"], 20_000);
    assert_eq!(
        listed["items"][0]["household_id"],
        json!(wrong_household.to_string())
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    // With a voided bill on record the schema cannot go back before voiding.
    let later = crate::support::migrations_after("m20261123_000023_fee_bill_void");
    anjia::kernel::db::migrate_down(&app.db, Some(later))
        .await
        .unwrap();
    assert!(
        anjia::kernel::db::migrate_down(&app.db, Some(1))
            .await
            .is_err()
    );
    anjia::kernel::db::migrate_up(&app.db).await.unwrap();
    let still = get(&app, &finance, &format!("{base}/fee-bills/{wrong_id}")).await;
    assert_eq!(still["status"], "void");
}
