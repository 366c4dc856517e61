//! Daily bill reconciliation against a fake WeChat Pay: the sweep fetches a
//! day's trade and fund-flow bills once they exist (retrying while WeChat
//! Pay is still making them), checks each download's SHA-1, books WeChat
//! Pay's fees, and the report names every planted difference; finance see
//! their community's, operators all; `anjia pay reconcile` does the same.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha1::Digest;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::api::{OrderRequest, Receiving};
use crate::support::fakes::wechat_pay::{
    API_V3_KEY, APP_ID, Fake, MCH_ID, PUBLIC_KEY_ID, instance, keys, transaction,
};
use crate::support::fixtures::pending_order;
use crate::support::{TestDb, status_and_json};

const DAY: &str = "2026-11-23";

const TRADE_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// A payment line of the trade bill, as WeChat Pay writes it.
fn paid_line(at: &str, wechat_id: &str, out_no: &str, yuan: &str, fee: &str) -> String {
    format!(
        "`{at},`{APP_ID},`{MCH_ID},`0,`,`{wechat_id},`{out_no},`o-1,`JSAPI,`SUCCESS,`OTHERS,`CNY,`{yuan},`0.00,`0,`0,`0.00,`0.00,`,`,`赣南脐橙,`,`{fee},`0.60%,`{yuan},`0.00,`"
    )
}

fn trade_bill(lines: &[String], fees: &str) -> String {
    let total: i64 = lines.len() as i64;
    format!(
        "{TRADE_HEADER}\r\n{}\r\n总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`{total},`0.00,`0.00,`0.00,`{fees},`0.00,`0.00\r\n",
        lines.join("\r\n")
    )
}

fn fund_bill(lines: &[(&str, &str, &str, &str, &str)]) -> String {
    let mut text = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\n".to_owned();
    for (n, (wechat_id, kind, direction, yuan, voucher)) in lines.iter().enumerate() {
        text.push_str(&format!(
            "`{DAY} 10:00:{n:02},`{wechat_id},`F{n},`交易,`{kind},`{direction},`{yuan},`0.00,`system,`,`{voucher}\n"
        ));
    }
    text.push_str(&format!(
        "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n`{}.0,`0.0,`0.00,`0.0,`0.00\n",
        lines.len()
    ));
    text
}

/// Mounts one bill: its signed answer naming a download, and the file.
async fn serve_bill(fake: &Fake, api: &str, token: &str, text: &str) {
    let digest = hex::encode(sha1::Sha1::digest(text.as_bytes()));
    let answer = json!({
        "hash_type": "SHA1", "hash_value": digest,
        "download_url": format!("{}/v3/billdownload/file?token={token}", fake.app.fake_wechat.uri()),
    })
    .to_string();
    Mock::given(method("GET"))
        .and(path(api))
        .and(query_param("bill_date", DAY))
        .respond_with(fake.answer(200, &answer))
        .mount(&fake.app.fake_wechat)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/billdownload/file"))
        .and(query_param("token", token))
        .respond_with(ResponseTemplate::new(200).set_body_raw(text.to_owned(), "text/plain"))
        .mount(&fake.app.fake_wechat)
        .await;
}

/// An order paid through WeChat Pay's notification at `success_time`.
async fn paid_by_wechat(
    fake: &Fake,
    order_no: &str,
    total: i64,
    wechat_id: &str,
    success_time: &str,
) {
    let mut tx = transaction(order_no, total);
    tx["transaction_id"] = json!(wechat_id);
    tx["success_time"] = json!(success_time);
    let body = fake.notification(&tx);
    let (status, answer) = fake
        .send(&body, &fake.signed(&body, Utc::now().timestamp()))
        .await;
    assert_eq!(status, 204, "{answer}");
}

async fn another_order(fake: &Fake, p: &crate::support::fixtures::Pending) -> String {
    let app = &fake.app;
    let o = app
        .place_order(
            &p.resident,
            p.w.community,
            &OrderRequest::of(&p.shop, &p.product, 2, Receiving::at(&p.w.point)),
        )
        .await;
    o["order_no"].as_str().unwrap().to_owned()
}

fn problems(report: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["problem"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["out_no"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn a_day_s_bills_are_fetched_once_they_exist_their_fees_booked_and_every_difference_reported()
{
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let p = pending_order(&fake).await;
    let (a, b, c) = (
        p.order.order_no.clone(),
        another_order(&fake, &p).await,
        another_order(&fake, &p).await,
    );
    // Paid at WeChat Pay on the 23rd (Beijing), the last one a minute
    // before midnight: the bill of the 23rd has it.
    paid_by_wechat(&fake, &a, 13_600, "4200000001", "2026-11-23T09:00:00+08:00").await;
    paid_by_wechat(&fake, &b, 13_600, "4200000002", "2026-11-23T12:00:00+08:00").await;
    paid_by_wechat(&fake, &c, 13_600, "4200000003", "2026-11-23T23:59:00+08:00").await;

    // Planted: b billed for 135.00; c missing from the bill; a payment the
    // ledger never heard of; the fund bill's fee on a differs from the trade
    // bill's; the property's own transfer to its bank is not ours to match.
    let trade = trade_bill(
        &[
            paid_line("2026-11-23 09:00:00", "4200000001", &a, "136.00", "0.82000"),
            paid_line("2026-11-23 12:00:00", "4200000002", &b, "135.00", "0.81000"),
            paid_line(
                "2026-11-23 13:00:00",
                "4200000009",
                "20261123999999999999",
                "50.00",
                "0.30000",
            ),
        ],
        "1.93000",
    );
    let fund = fund_bill(&[
        ("4200000001", "交易", "收入", "136.00", &a),
        ("4200000001", "扣除交易手续费", "支出", "0.80", &a),
        ("4200000002", "交易", "收入", "135.00", &b),
        ("1900000001202611230001", "提现", "支出", "100.00", ""),
    ]);
    // The first time WeChat Pay is still making the bill.
    let creating = json!({ "code": "STATEMENT_CREATING", "message": "账单生成中" }).to_string();
    Mock::given(method("GET"))
        .and(path("/v3/bill/tradebill"))
        .and(query_param("bill_date", DAY))
        .respond_with(fake.answer(400, &creating))
        .up_to_n_times(1)
        .mount(&app.fake_wechat)
        .await;
    serve_bill(&fake, "/v3/bill/tradebill", "trade", &trade).await;
    serve_bill(&fake, "/v3/bill/fundflowbill", "fund", &fund).await;

    let beijing = chrono_tz::Asia::Shanghai;
    let day = NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
    let next_morning = |h: u32, m: u32| {
        beijing
            .from_local_datetime(&day.succ_opt().unwrap().and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let sweep = |at| async move {
        anjia::payment::wechat_pay::bills::sweep(
            app.state.wechat_pay.as_deref().unwrap(),
            &app.db,
            at,
        )
        .await
        .unwrap()
    };
    assert_eq!(
        sweep(next_morning(9, 59)).await,
        0,
        "not before 10:00 the next day"
    );
    let operator = app.operator_admin().await;
    let (_, before) = status_and_json(
        app.get(
            &format!("/api/v1/pay-reconciliations/{DAY}"),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(before["state"], "not_asked", "{before}");
    assert_eq!(sweep(next_morning(10, 0)).await, 0, "still being made");
    assert_eq!(
        sweep(next_morning(10, 5)).await,
        0,
        "asked again only after 30 minutes"
    );
    let (_, waiting) = status_and_json(
        app.get(
            &format!("/api/v1/pay-reconciliations/{DAY}"),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(
        (&waiting["state"], &waiting["attempts"]),
        (&json!("waiting"), &json!(1)),
        "{waiting}"
    );
    assert_eq!(
        waiting["differences"],
        json!([]),
        "nothing is missing from a bill not yet in"
    );
    assert_eq!(sweep(next_morning(10, 31)).await, 1);
    assert_eq!(sweep(next_morning(11, 31)).await, 0, "fetched once");

    // WeChat Pay's fees are booked: 0.82 + 0.81 + 0.30 out of clearing.
    let fees = anjia::ledger::balance(&app.db, anjia::ledger::Account::provider_fees())
        .await
        .unwrap();
    assert_eq!(fees, 193);
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);

    let (status, all) = status_and_json(
        app.get(
            &format!("/api/v1/pay-reconciliations/{DAY}"),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["state"], "fetched");
    assert_eq!(
        (&all["trade"]["payments"]["count"], &all["trade"]["fees"]),
        (&json!(3), &json!(193))
    );
    assert_eq!(
        problems(&all),
        vec![
            ("amount_differs".to_owned(), "payment".to_owned(), b.clone()),
            ("fee_differs".to_owned(), "fee".to_owned(), a.clone()),
            (
                "missing_here".to_owned(),
                "payment".to_owned(),
                "20261123999999999999".to_owned()
            ),
            (
                "missing_in_bill".to_owned(),
                "payment".to_owned(),
                c.clone()
            ),
        ],
        "{all}"
    );
    assert_eq!(all["fund"]["other"], 1);
    // The community's finance see their own transactions' differences only.
    let finance = app.staff(p.w.community, "finance").await;
    let (status, ours) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/pay-reconciliations/{DAY}",
                p.w.community
            ),
            Some(&finance.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{ours}");
    assert_eq!(problems(&ours).len(), 3, "{ours}");
    assert!(problems(&ours).iter().all(|(p, _, _)| p != "missing_here"));
    let csv = app
        .get(
            &format!("/api/v1/pay-reconciliations/{DAY}?format=csv"),
            Some(&operator.access),
        )
        .await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "{DAY},amount_differs,trade,payment,{b},4200000002,136.00,135.00"
        )),
        "{text}"
    );

    // A payment near midnight billed on the next day still matches by its
    // number: the next day's bill has c.
    let next = "2026-11-24";
    let next_trade = trade_bill(
        &[paid_line(
            "2026-11-24 00:00:30",
            "4200000003",
            &c,
            "136.00",
            "0.82000",
        )],
        "0.82000",
    );
    for (api, token, text) in [
        ("/v3/bill/tradebill", "trade-24", next_trade),
        ("/v3/bill/fundflowbill", "fund-24", fund_bill(&[])),
    ] {
        let digest = hex::encode(sha1::Sha1::digest(text.as_bytes()));
        let answer = json!({ "hash_type": "SHA1", "hash_value": digest,
            "download_url": format!("{}/v3/billdownload/file?token={token}", app.fake_wechat.uri()) })
        .to_string();
        Mock::given(method("GET"))
            .and(path(api))
            .and(query_param("bill_date", next))
            .respond_with(fake.answer(200, &answer))
            .mount(&app.fake_wechat)
            .await;
        Mock::given(method("GET"))
            .and(path("/v3/billdownload/file"))
            .and(query_param("token", token))
            .respond_with(ResponseTemplate::new(200).set_body_raw(text, "text/plain"))
            .mount(&app.fake_wechat)
            .await;
    }
    assert_eq!(sweep(next_morning(10, 0) + Duration::days(1)).await, 1);
    let (_, again) = status_and_json(
        app.get(
            &format!("/api/v1/pay-reconciliations/{DAY}"),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert!(
        !problems(&again)
            .iter()
            .any(|(p, _, _)| p == "missing_in_bill"),
        "{again}"
    );

    // The command line fetches the day again (booking no fee twice) and
    // reports the same, with its progress; it exits 1 on differences.
    let url = app.state.settings.database.url.clone();
    let base = app.state.settings.wechat_pay.api_base.clone();
    let out = crate::support::cli::anjia(
        &["pay", "reconcile", "--date", DAY],
        &[
            ("ANJIA__DATABASE__URL", url.as_str()),
            ("ANJIA__PAYMENT__PROVIDER", "wechat_pay"),
            ("ANJIA__WECHAT_PAY__MCH_ID", MCH_ID),
            ("ANJIA__WECHAT_PAY__APP_ID", APP_ID),
            ("ANJIA__WECHAT_PAY__API_V3_KEY", API_V3_KEY),
            (
                "ANJIA__WECHAT_PAY__MERCHANT_SERIAL_NO",
                "3775B6A45ACD588826D15E583A95F5DD00000000",
            ),
            (
                "ANJIA__WECHAT_PAY__MERCHANT_PRIVATE_KEY_PATH",
                fake.keys.merchant_path.as_str(),
            ),
            ("ANJIA__WECHAT_PAY__PLATFORM_PUBLIC_KEY_ID", PUBLIC_KEY_ID),
            (
                "ANJIA__WECHAT_PAY__PLATFORM_PUBLIC_KEY_PATH",
                fake.keys.platform_path.as_str(),
            ),
            ("ANJIA__WECHAT_PAY__API_BASE", base.as_str()),
            (
                "ANJIA__WECHAT_PAY__NOTIFY_URL",
                "https://anjia.example/wechat/pay/notify",
            ),
            (
                "ANJIA__WECHAT_PAY__REFUND_NOTIFY_URL",
                "https://anjia.example/wechat/pay/refund-notify",
            ),
        ],
        None,
    );
    let printed = crate::support::cli::text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("fetching the trade bill of 2026-11-23"),
        "{printed}"
    );
    assert!(printed.contains("SHA-1 verified"), "{printed}");
    assert!(printed.contains("0 fees booked"), "{printed}");
    assert!(
        printed.contains(&format!(
            "difference: AmountDiffers in the trade bill: payment {b}"
        )),
        "{printed}"
    );
    assert_eq!(
        anjia::ledger::balance(&app.db, anjia::ledger::Account::provider_fees())
            .await
            .unwrap(),
        193 + 82
    );
}

#[tokio::test]
async fn a_download_that_does_not_match_its_digest_is_refused_and_a_day_without_movements_is_empty()
{
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let pay = app.state.wechat_pay.as_deref().unwrap();
    let day = NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
    let answer =
        json!({ "hash_type": "SHA1", "hash_value": "0000000000000000000000000000000000000000",
        "download_url": format!("{}/v3/billdownload/file?token=bad", app.fake_wechat.uri()) })
        .to_string();
    Mock::given(method("GET"))
        .and(path("/v3/bill/tradebill"))
        .respond_with(fake.answer(200, &answer))
        .up_to_n_times(1)
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/billdownload/file"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(trade_bill(&[], "0.00000"), "text/plain"),
        )
        .mount(&app.fake_wechat)
        .await;
    let refused = anjia::payment::wechat_pay::bills::fetch(pay, &app.db, day, &mut |_| {}).await;
    assert!(matches!(
        refused,
        Err(anjia::payment::wechat_pay::bills::NotFetched::Failed(_))
    ));
    assert_eq!(
        entity::pay_bill_line::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        0
    );

    let none =
        json!({ "code": "NO_STATEMENT_EXIST", "message": "请求的账单文件不存在" }).to_string();
    for api in ["/v3/bill/tradebill", "/v3/bill/fundflowbill"] {
        Mock::given(method("GET"))
            .and(path(api))
            .respond_with(fake.answer(400, &none))
            .mount(&app.fake_wechat)
            .await;
    }
    let fetched = anjia::payment::wechat_pay::bills::fetch(pay, &app.db, day, &mut |_| {})
        .await
        .unwrap_or_else(|_| panic!("a day without movements is fetched"));
    assert_eq!((fetched.trade_lines, fetched.fund_lines), (0, 0));
}
