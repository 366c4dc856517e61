//! The escrow ledger: payments held in escrow, refunds taken out of it,
//! entries that must balance, balances that may not go negative, facts
//! recorded once, and `verify` catching a ledger that breaks an invariant.

use anjia::kernel::error::ErrorCode;
use anjia::ledger::{self, Account, Entry, Posted};
use chrono::Utc;
use entity::{CommunityId, Fen, HouseholdId, JournalKind, OrderId};
use sea_orm::{ConnectionTrait, EntityTrait, Statement, TransactionTrait};
use serde_json::json;

use crate::support::api::{OrderRequest, Receiving};
use crate::support::fixtures::shop;
use crate::support::fixtures::world;
use crate::support::{spawn_app, status_and_json};

fn fen(v: i64) -> Fen {
    Fen::new(v).unwrap()
}

/// Asserts `verify` finds nothing wrong.
async fn assert_ledger_holds<C: ConnectionTrait>(db: &C) {
    let report = ledger::verify(db).await.unwrap();
    assert!(report.ok(), "ledger problems: {:#?}", report.problems);
}

#[tokio::test]
async fn a_payment_is_held_in_the_community_s_escrow_and_a_rejection_refunds_it_out() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let r = &w.residents[0];
    let community = CommunityId::from_uuid(w.community);
    let order = app
        .place_order(
            r,
            w.community,
            &OrderRequest::of(&shop, &product, 2, Receiving::at(&w.point)),
        )
        .await;
    let id: OrderId = order.id.parse().unwrap();
    assert_eq!(ledger::escrow_of(&app.db, community, id).await.unwrap(), 0);

    let pay = format!("/api/v1/communities/{}/orders/{id}/pay", w.community);
    app.pay(r, w.community, &order.id).await;
    assert_eq!(
        ledger::escrow_of(&app.db, community, id).await.unwrap(),
        13_600,
        "two boxes at 68.00 are held for the order"
    );
    assert_eq!(
        ledger::balance(&app.db, Account::wechat_clearing())
            .await
            .unwrap(),
        13_600
    );
    // Paying again changes nothing.
    let res = app.post(&pay, Some(&r.access), json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        ledger::balance(&app.db, Account::escrow(community))
            .await
            .unwrap(),
        13_600
    );
    assert_ledger_holds(&app.db).await;

    let (status, _) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/orders/{id}/status"),
            Some(&owner.access),
            json!({ "status": "rejected", "reason": "今日缺货" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ledger::escrow_of(&app.db, community, id).await.unwrap(), 0);
    // The sandbox pays refunds back at once: nothing in flight, nothing left
    // at WeChat for this order.
    for account in [
        Account::refunds_in_flight(),
        Account::wechat_clearing(),
        Account::escrow(community),
    ] {
        assert_eq!(ledger::balance(&app.db, account).await.unwrap(), 0);
    }
    assert_ledger_holds(&app.db).await;
}

#[tokio::test]
async fn an_unbalanced_entry_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let community = CommunityId::new();
    let entry = Entry::new(JournalKind::Payment, "payment:unbalanced")
        .debit(Account::wechat_clearing(), fen(500))
        .credit(Account::escrow(community), fen(400));
    let refused = ledger::post(&app.db, entry).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Internal);
    let report = ledger::verify(&app.db).await.unwrap();
    assert_eq!((report.entries, report.lines), (0, 0));
}

#[tokio::test]
async fn a_wallet_or_merchant_balance_never_goes_below_zero() {
    let app = spawn_app().await;
    let community = CommunityId::new();
    let household = HouseholdId::new();
    let wallet = Account::household_wallet(household);
    // 30.00 comes into the wallet (as a refund would bring it).
    let txn = app.db.begin().await.unwrap();
    ledger::post(
        &txn,
        Entry::new(JournalKind::RefundDecided, "test:wallet-in")
            .community(community)
            .debit(Account::escrow(community), fen(3_000))
            .credit(wallet, fen(3_000)),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(ledger::balance(&app.db, wallet).await.unwrap(), 3_000);

    // Spending 30.01 is refused, and the transaction leaves nothing behind.
    let txn = app.db.begin().await.unwrap();
    let refused = ledger::post(
        &txn,
        Entry::new(JournalKind::Payment, "test:wallet-out")
            .community(community)
            .debit(wallet, fen(3_001))
            .credit(Account::escrow(community), fen(3_001)),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InsufficientBalance);
    assert_eq!(refused.details.as_ref().unwrap()["available"], 3_000);
    txn.rollback().await.unwrap();
    assert_eq!(ledger::balance(&app.db, wallet).await.unwrap(), 3_000);

    // Spending exactly what is there works, once per key.
    let spend = || {
        Entry::new(JournalKind::Payment, "test:wallet-out")
            .community(community)
            .debit(wallet, fen(3_000))
            .credit(Account::escrow(community), fen(3_000))
    };
    assert_eq!(
        ledger::post(&app.db, spend()).await.unwrap(),
        Posted::Recorded
    );
    assert_eq!(
        ledger::post(&app.db, spend()).await.unwrap(),
        Posted::AlreadyRecorded
    );
    assert_eq!(ledger::balance(&app.db, wallet).await.unwrap(), 0);
    assert_ledger_holds(&app.db).await;
}

#[tokio::test]
async fn fifty_concurrent_postings_of_one_fact_record_it_once() {
    let app = spawn_app().await;
    let community = CommunityId::new();
    let merchant = entity::MerchantId::new();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let db = app.db.clone();
            tokio::spawn(async move {
                let txn = anjia::kernel::db::begin_write(&db).await.unwrap();
                let posted = ledger::post(
                    &txn,
                    Entry::new(JournalKind::Settlement, "test:settle-once")
                        .community(community)
                        .debit(Account::escrow(community), fen(1_000))
                        .credit(Account::merchant_payable(merchant, community), fen(1_000)),
                )
                .await
                .unwrap();
                txn.commit().await.unwrap();
                posted
            })
        })
        .collect();
    let mut recorded = 0;
    for t in tasks {
        if t.await.unwrap().recorded() {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1);
    assert_eq!(
        ledger::balance(&app.db, Account::merchant_payable(merchant, community))
            .await
            .unwrap(),
        1_000
    );
}

#[tokio::test]
async fn verify_reports_a_tampered_balance_and_an_unbalanced_entry() {
    let app = spawn_app().await;
    let community = CommunityId::new();
    let merchant = entity::MerchantId::new();
    ledger::post(
        &app.db,
        // Straight from clearing: a settlement out of escrow needs settled
        // orders behind it (another check).
        Entry::new(JournalKind::Settlement, "test:tamper")
            .community(community)
            .debit(Account::wechat_clearing(), fen(1_000))
            .credit(Account::merchant_payable(merchant, community), fen(1_000)),
    )
    .await
    .unwrap();
    assert_ledger_holds(&app.db).await;
    // A settlement taking escrow that no settled order stands behind.
    ledger::post(
        &app.db,
        Entry::new(JournalKind::Settlement, "test:drain")
            .community(community)
            .debit(Account::escrow(community), fen(700))
            .credit(Account::merchant_payable(merchant, community), fen(700)),
    )
    .await
    .unwrap();
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            anjia::kernel::db::sql(
                backend,
                "UPDATE ledger_accounts SET balance = 5000 WHERE id = $1",
            ),
            [Account::merchant_payable(merchant, community)
                .id()
                .as_uuid()
                .into()],
        ))
        .await
        .unwrap();
    app.db
        .execute_unprepared("UPDATE journal_lines SET amount = amount + 1 WHERE amount < 0")
        .await
        .unwrap();
    let report = ledger::verify(&app.db).await.unwrap();
    let text = report.problems.join("\n");
    assert!(text.contains("entry test:tamper is unbalanced"), "{text}");
    assert!(
        text.contains(
            "settlement test:drain: its orders settled for 0 but it took 700 out of escrow"
        ),
        "{text}"
    );
    assert!(
        text.contains("merchant_payable account") && text.contains("keeps a balance of 5000"),
        "{text}"
    );
    assert_eq!(
        entity::journal_entry::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn money_kept_in_the_wallet_pays_the_next_order_and_comes_back_to_it() {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let (owner, shop, product) = shop(&app, &w).await;
    let r = &w.residents[0];
    let orders = format!("/api/v1/communities/{}/orders", w.community);
    let order = |quantity: u32| {
        let (app, shop, product, w, r) = (&app, &shop, &product, &w, r.clone());
        async move {
            let request = OrderRequest::of(shop, product, quantity, Receiving::at(&w.point));
            app.place_order(&r, w.community, &request).await
        }
    };
    let first = order(2).await;
    let id = first["id"].as_str().unwrap();
    let household = first["household_id"].as_str().unwrap().to_owned();
    let wallet = format!(
        "/api/v1/communities/{}/households/{household}/wallet",
        w.community
    );
    assert_eq!(
        app.post(&format!("{orders}/{id}/pay"), Some(&r.access), json!({}))
            .await
            .status(),
        200
    );
    let (status, cancelled) = status_and_json(
        app.post(
            &format!("{orders}/{id}/cancel"),
            Some(&r.access),
            json!({ "reason": "买多了", "refund_to": "wallet" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    let (_, seen) = status_and_json(app.get(&wallet, Some(&r.access)).await).await;
    assert_eq!(seen["balance"], 13_600, "{seen}");
    assert_eq!(seen["movements"][0]["amount"], 13_600);
    assert_eq!(seen["movements"][0]["kind"], "refund_succeeded");

    // The wallet pays the next order at once.
    let second = order(1).await;
    let (status, paid) = status_and_json(
        app.post(
            &format!("{orders}/{}/pay", second["id"].as_str().unwrap()),
            Some(&r.access),
            json!({ "method": "wallet" }),
        )
        .await,
    )
    .await;
    assert_eq!((status, &paid["status"]), (200, &json!("paid")), "{paid}");
    assert_eq!(paid["payment"]["provider"], "wallet");
    assert_eq!(paid["payment_method"], "wallet");
    // Not enough left for two more boxes: refused, nothing moves.
    let third = order(2).await;
    let third_id = third["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("{orders}/{third_id}/pay"),
            Some(&r.access),
            json!({ "method": "wallet" }),
        )
        .await;
    let refused = crate::support::assert_error(res, 409, "insufficient_balance").await;
    assert_eq!(refused["details"]["available"], 6_800);
    let (_, third) = status_and_json(
        app.get(&format!("{orders}/{third_id}"), Some(&r.access))
            .await,
    )
    .await;
    assert_eq!(third["order"]["status"], "pending_payment");

    // A refund of a wallet payment goes back to the wallet.
    let (status, _) = status_and_json(
        app.post(
            &format!(
                "/api/v1/merchants/{shop}/orders/{}/status",
                second["id"].as_str().unwrap()
            ),
            Some(&owner.access),
            json!({ "status": "rejected", "reason": "今日缺货" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, seen) = status_and_json(app.get(&wallet, Some(&r.access)).await).await;
    assert_eq!(seen["balance"], 13_600);
    assert_ledger_holds(&app.db).await;

    // A neighbour sees nothing of it; finance may look.
    let neighbour = &w.residents[1];
    assert_eq!(
        app.get(&wallet, Some(&neighbour.access)).await.status(),
        404
    );
    let finance = app.staff(w.community, "finance").await;
    assert_eq!(app.get(&wallet, Some(&finance.access)).await.status(), 200);
}

/// What the randomized run may answer to each kind of operation: success,
/// or a refusal the rules allow (never a 5xx, never anything else).
fn allowed(status: u16) -> bool {
    matches!(status, 200 | 201 | 409 | 422)
}

#[tokio::test]
async fn three_thousand_random_operations_keep_every_ledger_invariant() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    let app = spawn_app().await;
    let w = world(&app, 4).await;
    let (owner, shop, _) = shop(&app, &w).await;
    let (_, product) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/products"),
            Some(&owner.access),
            json!({ "kind": "goods", "category_id": "01960000-0000-7000-8000-000000000002",
                    "title": "土鸡蛋", "unit": "盒", "price": 1_250, "stock": 1_000_000 }),
        )
        .await,
    )
    .await;
    let product = product["id"].as_str().unwrap().to_owned();
    let finance = app.staff(w.community, "finance").await;
    let service = app.staff(w.community, "customer_service").await;
    let base = format!("/api/v1/communities/{}", w.community);
    let orders_path = format!("{base}/orders");
    // The dispute of each disputed order; every fee bill and its household's resident.
    let mut disputes: Vec<(String, String, usize)> = Vec::new();
    let mut bills: Vec<(String, usize)> = Vec::new();
    // Orders a merchant has moved on (the ones a resident may dispute).
    let mut taken: Vec<(String, usize)> = Vec::new();
    let mut rng = StdRng::seed_from_u64(20_261_123);
    // (order id, which resident) of every order made so far.
    let mut orders: Vec<(String, usize)> = Vec::new();
    let mut withdrawals: Vec<String> = Vec::new();
    let mut clock = Utc::now();
    let started = clock;
    let mut done: std::collections::BTreeMap<&str, usize> = Default::default();
    for step in 0..3_000 {
        let roll: u32 = rng.random_range(0..104);
        let (what, status, body) = if roll < 12 || orders.is_empty() {
            let who = rng.random_range(0..w.residents.len());
            let quantity: u32 = rng.random_range(1..4);
            let (status, body) = status_and_json(
                app.post(
                    &orders_path,
                    Some(&w.residents[who].access),
                    json!({ "merchant_id": shop, "lines": [{ "product_id": product, "quantity": quantity }],
                            "receiving": { "fulfilment": "delivery" } }),
                )
                .await,
            )
            .await;
            if status == 201 {
                orders.push((body["id"].as_str().unwrap().to_owned(), who));
            }
            ("order", status, body)
        } else if roll >= 102 && !bills.is_empty() {
            // A member pays a fee bill, part of it from the wallet maybe.
            let (id, who) = bills[rng.random_range(0..bills.len())].clone();
            let wallet: i64 = if rng.random_bool(0.5) {
                rng.random_range(0..3_000)
            } else {
                0
            };
            let (status, body) = status_and_json(
                app.post(
                    &format!("{base}/fee-bills/{id}/pay"),
                    Some(&w.residents[who].access),
                    json!({ "wallet": wallet }),
                )
                .await,
            )
            .await;
            ("pay fee", status, body)
        } else if roll >= 100 {
            // Finance bill a household for a new period.
            let who = rng.random_range(0..w.residents.len());
            let amount: i64 = rng.random_range(1..5_000);
            let period = format!("P{step}");
            let res = app
                .client
                .post(app.url(&format!(
                    "{base}/fee-bills/import?period={period}&due_on=2026-12-31"
                )))
                .bearer_auth(&finance.access)
                .header("content-type", "text/csv")
                .body(format!(
                    "building,unit,room,amount\n1号楼,,{},{}.{:02}\n",
                    101 + who,
                    amount / 100,
                    amount % 100
                ))
                .send()
                .await
                .unwrap();
            let (status, body) = status_and_json(res).await;
            if status == 200 {
                let (_, listed) = status_and_json(
                    app.get(
                        &format!("{base}/fee-bills?period={period}"),
                        Some(&finance.access),
                    )
                    .await,
                )
                .await;
                bills.push((listed["items"][0]["id"].as_str().unwrap().to_owned(), who));
            }
            ("bill", status, body)
        } else if roll < 72 {
            // Mostly recent orders, so orders travel their whole way.
            let from = orders.len().saturating_sub(4);
            let (id, who) = orders[rng.random_range(from..orders.len())].clone();
            let r = &w.residents[who];
            let (what, res) = match rng.random_range(0..19) {
                16 if !taken.is_empty() => {
                    let (id, who) = taken[rng.random_range(0..taken.len())].clone();
                    let r = &w.residents[who];
                    let mut body = json!({ "reason": "随机", "refund_to": if rng.random_bool(0.5) { "wallet" } else { "original" } });
                    if rng.random_bool(0.5) {
                        body["refund"] = json!(rng.random_range(1..2_500));
                    }
                    let res = app
                        .post(
                            &format!("{orders_path}/{id}/dispute"),
                            Some(&r.access),
                            body,
                        )
                        .await;
                    let (status, body) = status_and_json(res).await;
                    if status == 201 {
                        disputes.push((
                            id.clone(),
                            body["dispute"]["id"].as_str().unwrap().to_owned(),
                            who,
                        ));
                    }
                    assert!(allowed(status), "step {step} (dispute): {status} {body}");
                    if status == 201 {
                        *done.entry("dispute").or_insert(0) += 1;
                    }
                    continue;
                }
                16..=18 if !disputes.is_empty() => {
                    // Someone acts on one of the disputes so far.
                    // Mostly the latest, which are likely still live.
                    let from = disputes.len().saturating_sub(2);
                    let (_, d, by) = disputes[rng.random_range(from..disputes.len())].clone();
                    match rng.random_range(0..3) {
                        0 => {
                            let answer = match rng.random_range(0..3) {
                                0 => json!({ "action": "accept" }),
                                1 => {
                                    json!({ "action": "propose", "refund": rng.random_range(1..1_500), "note": "随机" })
                                }
                                _ => json!({ "action": "reject", "note": "随机" }),
                            };
                            (
                                "answer dispute",
                                app.post(
                                    &format!("/api/v1/merchants/{shop}/disputes/{d}/answer"),
                                    Some(&owner.access),
                                    answer,
                                )
                                .await,
                            )
                        }
                        1 => {
                            let action = ["escalate", "escalate", "withdraw", "accept_proposal"]
                                [rng.random_range(0..4)];
                            (
                                "reply dispute",
                                app.post(
                                    &format!("{base}/disputes/{d}/reply"),
                                    Some(&w.residents[by].access),
                                    json!({ "action": action }),
                                )
                                .await,
                            )
                        }
                        _ => {
                            let decision = match rng.random_range(0..3) {
                                0 => json!({ "outcome": "full_refund", "note": "随机" }),
                                1 => {
                                    json!({ "outcome": "partial_refund", "refund": rng.random_range(1..1_500), "note": "随机" })
                                }
                                _ => json!({ "outcome": "no_refund", "note": "随机" }),
                            };
                            (
                                "decide dispute",
                                app.post(
                                    &format!("{base}/disputes/{d}/decision"),
                                    Some(&service.access),
                                    decision,
                                )
                                .await,
                            )
                        }
                    }
                }
                0..=2 => (
                    "pay",
                    app.post(
                        &format!("{orders_path}/{id}/pay"),
                        Some(&r.access),
                        json!({}),
                    )
                    .await,
                ),
                3 => (
                    "pay from wallet",
                    app.post(
                        &format!("{orders_path}/{id}/pay"),
                        Some(&r.access),
                        json!({ "method": "wallet" }),
                    )
                    .await,
                ),
                4 => {
                    let to = if rng.random_bool(0.5) {
                        "wallet"
                    } else {
                        "original"
                    };
                    (
                        "cancel",
                        app.post(
                            &format!("{orders_path}/{id}/cancel"),
                            Some(&r.access),
                            json!({ "refund_to": to }),
                        )
                        .await,
                    )
                }
                5..=7 => (
                    "confirm",
                    app.post(
                        &format!("{orders_path}/{id}/confirm"),
                        Some(&r.access),
                        json!({}),
                    )
                    .await,
                ),
                8 => (
                    "reject",
                    app.post(
                        &format!("/api/v1/merchants/{shop}/orders/{id}/status"),
                        Some(&owner.access),
                        json!({ "status": "rejected", "reason": "随机" }),
                    )
                    .await,
                ),
                _ => {
                    // The merchant moves it one step on, whichever applies.
                    let mut last = None;
                    for next in ["accepted", "preparing", "dispatched"] {
                        let res = app
                            .post(
                                &format!("/api/v1/merchants/{shop}/orders/{id}/status"),
                                Some(&owner.access),
                                json!({ "status": next }),
                            )
                            .await;
                        let moved = res.status() == 200;
                        last = Some(res);
                        if moved {
                            taken.push((id.clone(), who));
                            break;
                        }
                    }
                    ("seller", last.unwrap())
                }
            };
            let (status, body) = status_and_json(res).await;
            (what, status, body)
        } else if roll < 82 {
            clock += chrono::Duration::days(1);
            // Every fifth day, disputes left alone (opened in real time, so
            // judged from now) go to customer service.
            if (clock - started).num_days() % 5 == 0 {
                anjia::disputes::service::escalate_due(
                    &app.db,
                    &app.state.settings,
                    Utc::now() + chrono::Duration::days(4),
                    50,
                )
                .await
                .unwrap();
            }
            let n = anjia::settlement::service::settle_due(
                &app.db,
                &app.state.settings.payment,
                clock,
                50,
            )
            .await
            .unwrap();
            ("settle", if n > 0 { 200 } else { 409 }, json!(n))
        } else if roll < 92 || withdrawals.is_empty() {
            let amount: i64 = rng.random_range(1..20_000);
            let (status, body) = status_and_json(
                app.post(
                    &format!("/api/v1/merchants/{shop}/withdrawals"),
                    Some(&owner.access),
                    json!({ "amount": amount, "community_id": w.community }),
                )
                .await,
            )
            .await;
            if status == 201 {
                withdrawals.push(body["id"].as_str().unwrap().to_owned());
            }
            ("withdraw", status, body)
        } else {
            let id = &withdrawals[rng.random_range(0..withdrawals.len())];
            let decision = match rng.random_range(0..3) {
                0 => json!({ "status": "approved" }),
                1 => json!({ "status": "rejected", "reason": "随机" }),
                _ => json!({ "status": "paid", "payout_reference": "RANDOM-1" }),
            };
            let (status, body) = status_and_json(
                app.post(
                    &format!(
                        "/api/v1/communities/{}/withdrawals/{id}/status",
                        w.community
                    ),
                    Some(&finance.access),
                    decision,
                )
                .await,
            )
            .await;
            ("decide withdrawal", status, body)
        };
        assert!(allowed(status), "step {step} ({what}): {status} {body}");
        if matches!(status, 200 | 201) {
            *done.entry(what).or_insert(0) += 1;
        }
        if step % 300 == 299 {
            assert_ledger_holds(&app.db).await;
        }
    }
    assert_ledger_holds(&app.db).await;
    // Every kind of operation happened, many times over.
    eprintln!("random run: {done:?}");
    for what in [
        "order",
        "pay",
        "pay from wallet",
        "cancel",
        "confirm",
        "seller",
        "reject",
        "settle",
        "withdraw",
        "decide withdrawal",
        "dispute",
        "answer dispute",
        "reply dispute",
        "decide dispute",
        "bill",
        "pay fee",
    ] {
        assert!(
            done.get(what).copied().unwrap_or(0) >= 3,
            "{what}: {done:?}"
        );
    }
    // The command line agrees. The server is done: its connections go, so
    // that none of them holds SQLite's lock while the command migrates.
    let url = app.state.settings.database.url.clone();
    app.db.clone().close().await.unwrap();
    let out = crate::support::cli::anjia(
        &["ledger", "verify"],
        &[("ANJIA__DATABASE__URL", url.as_str())],
        None,
    );
    assert!(out.status.success(), "{}", crate::support::cli::text(&out));
    assert!(crate::support::cli::text(&out).contains("ledger OK"));
}
