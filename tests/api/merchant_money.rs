//! A merchant's money is kept per community: each community's property
//! holds, settles and pays out what the merchant earned there, and its
//! finance staff see and decide nothing else. Balances kept together before
//! are split per community without losing a fen.

use chrono::{Duration, Utc};
use entity::{CommunityId, Fen, JournalKind, LedgerAccountKind, MerchantId, WithdrawalId};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::api::{NewProduct, get};
use crate::support::fixtures::{World, completed_order, world};
use crate::support::jobs::settle;
use crate::support::{Session, TestApp, migrations_after, spawn_app, status_and_json};

/// The shop (verified in `a`) also verified in `b`.
async fn also_in(app: &TestApp, owner: &Session, shop: &str, b: &World) {
    let res = app
        .post(
            &format!("/api/v1/merchants/{shop}/applications"),
            Some(&owner.access),
            json!({ "community_id": b.community }),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.visit_merchant(&b.manager, b.community, shop, "ok")
        .await;
    let until = Utc::now() + Duration::days(90);
    app.verify_merchant(&b.manager, b.community, shop, until)
        .await;
}

/// A product of the shop's with plenty of stock.
async fn product(app: &TestApp, owner: &Session, shop: &str) -> String {
    let fish_balls = NewProduct {
        kind: "goods",
        category_id: "01960000-0000-7000-8000-000000000002",
        title: "福州鱼丸",
        unit: "袋",
        price: 1000,
        stock: 100,
    };
    app.add_product(owner, shop, &fish_balls).await
}

fn figures(balance: &Value, community: Uuid) -> (i64, i64, i64) {
    let c = balance["communities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["community_id"] == json!(community))
        .unwrap_or_else(|| panic!("no {community} in {balance}"));
    (
        c["available"].as_i64().unwrap(),
        c["in_escrow"].as_i64().unwrap(),
        c["payouts_in_flight"].as_i64().unwrap(),
    )
}

async fn ask(
    app: &TestApp,
    owner: &Session,
    shop: &str,
    amount: i64,
    community: Uuid,
) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/withdrawals"),
            Some(&owner.access),
            json!({ "amount": amount, "community_id": community }),
        )
        .await,
    )
    .await
}

async fn decide(
    app: &TestApp,
    who: &Session,
    community: Uuid,
    id: &str,
    body: Value,
) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!("/api/v1/communities/{community}/withdrawals/{id}/status"),
            Some(&who.access),
            body,
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn a_merchant_selling_in_two_communities_is_paid_from_each_only_what_it_earned_there() {
    let app = spawn_app().await;
    let a = world(&app, 1).await;
    let b = world(&app, 1).await;
    let (owner, shop, _) = crate::support::fixtures::shop(&app, &a).await;
    also_in(&app, &owner, &shop, &b).await;
    let fish = product(&app, &owner, &shop).await;
    completed_order(&app, &a, &owner, &shop, &fish, 3).await;
    completed_order(&app, &b, &owner, &shop, &fish, 1).await;
    completed_order(&app, &b, &owner, &shop, &fish, 1).await;
    assert_eq!(settle(&app, Utc::now() + Duration::days(1)).await, 3);

    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(
        balance["communities"].as_array().unwrap().len(),
        2,
        "{balance}"
    );
    assert_eq!(figures(&balance, a.community), (3_000, 0, 0));
    assert_eq!(figures(&balance, b.community), (2_000, 0, 0));
    let only_b = get(
        &app,
        &owner,
        &format!(
            "/api/v1/merchants/{shop}/balance?community_id={}",
            b.community
        ),
    )
    .await;
    assert_eq!(only_b["communities"].as_array().unwrap().len(), 1);
    let day = (Utc::now() + Duration::days(1))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let statement = get(
        &app,
        &owner,
        &format!(
            "/api/v1/merchants/{shop}/statements/{day}?community_id={}",
            b.community
        ),
    )
    .await;
    assert_eq!(
        statement["communities"][0]["community_id"],
        json!(b.community)
    );
    assert_eq!(
        (
            &statement["communities"][0]["orders"],
            &statement["communities"][0]["net"]
        ),
        (&json!(2), &json!(2_000))
    );

    // B's balance pays B's withdrawals, however much A holds.
    let (status, body) = ask(&app, &owner, &shop, 2_001, b.community).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("insufficient_balance")),
        "{body}"
    );
    let (status, body) = ask(&app, &owner, &shop, 1_500, b.community).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["community_id"], json!(b.community));
    assert_eq!(
        body["allocations"],
        json!([{ "community_id": b.community, "amount": 1_500 }])
    );
    let from_b = body["id"].as_str().unwrap().to_owned();
    let elsewhere = app.community("别处小区").await;
    let (status, body) = ask(&app, &owner, &shop, 100, elsewhere).await;
    assert_eq!(
        (status, &body["code"]),
        (422, &json!("validation_failed")),
        "{body}"
    );

    // A's finance sees none of it and cannot decide it; B's can.
    let finance_a = app.staff(a.community, "finance").await;
    let finance_b = app.staff(b.community, "finance").await;
    let list_a = get(
        &app,
        &finance_a,
        &format!("/api/v1/communities/{}/withdrawals", a.community),
    )
    .await;
    assert_eq!(list_a, json!([]));
    let list_b = get(
        &app,
        &finance_b,
        &format!("/api/v1/communities/{}/withdrawals", b.community),
    )
    .await;
    assert_eq!(list_b.as_array().unwrap().len(), 1);
    let (status, _) = decide(
        &app,
        &finance_a,
        a.community,
        &from_b,
        json!({ "status": "approved" }),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = decide(
        &app,
        &finance_b,
        b.community,
        &from_b,
        json!({ "status": "approved" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = decide(
        &app,
        &finance_b,
        b.community,
        &from_b,
        json!({ "status": "paid", "payout_reference": "CCB-1" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(figures(&balance, a.community), (3_000, 0, 0));
    assert_eq!(figures(&balance, b.community), (500, 0, 0));
    let mine = get(
        &app,
        &owner,
        &format!(
            "/api/v1/merchants/{shop}/withdrawals?community_id={}",
            a.community
        ),
    )
    .await;
    assert_eq!(mine, json!([]));
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

/// History as it was written before balances were kept per community: a
/// credit or a withdrawal's move on the merchant's one balance, at `at`.
async fn post_at(app: &TestApp, entry: anjia::ledger::Entry, at: chrono::DateTime<Utc>) {
    let id = entry.id();
    anjia::ledger::post(&app.db, entry).await.unwrap();
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            anjia::kernel::db::sql(
                backend,
                "UPDATE journal_entries SET created_at = $1 WHERE id = $2",
            ),
            [at.into(), id.as_uuid().into()],
        ))
        .await
        .unwrap();
}

async fn old_withdrawal(
    app: &TestApp,
    merchant: MerchantId,
    by: Uuid,
    amount: i64,
    status: &str,
    at: chrono::DateTime<Utc>,
) -> WithdrawalId {
    let id = WithdrawalId::new();
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            anjia::kernel::db::sql(
                backend,
                "INSERT INTO withdrawals (id, merchant_id, amount, status, requested_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            ),
            [
                id.as_uuid().into(),
                merchant.as_uuid().into(),
                amount.into(),
                status.into(),
                by.into(),
                at.into(),
            ],
        ))
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn balances_kept_for_all_communities_before_are_split_first_in_first_out_without_losing_a_fen()
 {
    use anjia::ledger::{Account, Entry};
    let app = spawn_app().await;
    let a = world(&app, 1).await;
    let b = world(&app, 1).await;
    let (owner, shop, _) = crate::support::fixtures::shop(&app, &a).await;
    also_in(&app, &owner, &shop, &b).await;
    let merchant: MerchantId = shop.parse().unwrap();
    let (ca, cb) = (
        CommunityId::from_uuid(a.community),
        CommunityId::from_uuid(b.community),
    );
    let since = migrations_after("m20261123_000023_fee_bill_void");
    anjia::kernel::db::migrate_down(&app.db, Some(since))
        .await
        .unwrap();

    // 100.00 settled in A, then 50.00 in B; a payout of 80.00 paid, one of
    // 40.00 still waiting (the rest of A's and the first of B's), one of
    // 10.00 rejected (B's, given back).
    let payable = Account::merchant_wide(LedgerAccountKind::MerchantPayable, merchant);
    let in_flight = Account::merchant_wide(LedgerAccountKind::PayoutsInFlight, merchant);
    let fen = |v: i64| Fen::new(v).unwrap();
    let t = |h: i64| Utc::now() - Duration::days(10) + Duration::hours(h);
    for (n, (community, amount)) in [(ca, 10_000), (cb, 5_000)].into_iter().enumerate() {
        post_at(
            &app,
            Entry::new(JournalKind::Settlement, format!("test:old-settlement:{n}"))
                .community(community)
                .debit(Account::wechat_clearing(), fen(amount))
                .credit(payable, fen(amount)),
            t(n as i64),
        )
        .await;
    }
    let mut ids = Vec::new();
    for (n, (amount, status)) in [(8_000, "paid"), (4_000, "approved"), (1_000, "rejected")]
        .into_iter()
        .enumerate()
    {
        let at = t(10 + 10 * n as i64);
        let w = old_withdrawal(&app, merchant, owner.user_id, amount, status, at).await;
        post_at(
            &app,
            Entry::new(
                JournalKind::WithdrawalRequested,
                format!("withdrawal:{w}:requested"),
            )
            .subject(w)
            .debit(payable, fen(amount))
            .credit(in_flight, fen(amount)),
            at,
        )
        .await;
        let end = match status {
            "paid" => Some(
                Entry::new(JournalKind::WithdrawalPaid, format!("withdrawal:{w}:paid"))
                    .debit(in_flight, fen(amount))
                    .credit(Account::wechat_clearing(), fen(amount)),
            ),
            "rejected" => Some(
                Entry::new(
                    JournalKind::WithdrawalRejected,
                    format!("withdrawal:{w}:rejected"),
                )
                .debit(in_flight, fen(amount))
                .credit(payable, fen(amount)),
            ),
            _ => None,
        };
        if let Some(end) = end {
            post_at(&app, end.subject(w), at + Duration::hours(1)).await;
        }
        ids.push(w);
    }
    // A settlement in B after the rejection: it comes after B's first 50.00.
    post_at(
        &app,
        Entry::new(JournalKind::Settlement, "test:old-settlement:late")
            .community(cb)
            .debit(Account::wechat_clearing(), fen(700))
            .credit(payable, fen(700)),
        t(40),
    )
    .await;

    anjia::kernel::db::migrate_up(&app.db).await.unwrap();
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    // A: 100.00 − 80.00 paid − 20.00 waiting; B: 50.00 − 20.00 waiting + 7.00.
    assert_eq!(figures(&balance, a.community), (0, 0, 2_000));
    assert_eq!(figures(&balance, b.community), (3_700, 0, 2_000));
    let listed = get(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/withdrawals"),
    )
    .await;
    let of = |w: WithdrawalId| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(w))
            .unwrap()
            .clone()
    };
    assert_eq!(
        of(ids[0])["allocations"],
        json!([{ "community_id": a.community, "amount": 8_000 }])
    );
    let spanning = of(ids[1]);
    assert_eq!(
        spanning["community_id"],
        json!(a.community),
        "its oldest money is A's"
    );
    let parts = spanning["allocations"].as_array().unwrap();
    for community in [a.community, b.community] {
        assert!(
            parts.contains(&json!({ "community_id": community, "amount": 2_000 })),
            "{spanning}"
        );
    }
    assert_eq!(parts.len(), 2);
    assert_eq!(
        of(ids[2])["allocations"],
        json!([{ "community_id": b.community, "amount": 1_000 }])
    );

    // The waiting one draws on both: finance of one alone may not decide it.
    let finance_a = app.staff(a.community, "finance").await;
    let spanning_id = ids[1].to_string();
    let (status, body) = decide(
        &app,
        &finance_a,
        a.community,
        &spanning_id,
        json!({ "status": "paid", "payout_reference": "OLD-2" }),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let both = app
        .dev_login(json!({ "staff_roles": [
            { "community_id": a.community, "role": "finance" },
            { "community_id": b.community, "role": "finance" },
        ] }))
        .await;
    let (status, body) = decide(
        &app,
        &both,
        b.community,
        &spanning_id,
        json!({ "status": "paid", "payout_reference": "OLD-2" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let balance = get(&app, &owner, &format!("/api/v1/merchants/{shop}/balance")).await;
    assert_eq!(figures(&balance, a.community), (0, 0, 0));
    assert_eq!(figures(&balance, b.community), (3_700, 0, 0));
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    // Money has moved per community since: the split cannot be undone.
    assert!(
        anjia::kernel::db::migrate_down(&app.db, Some(since))
            .await
            .is_err()
    );
}
