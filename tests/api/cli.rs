//! The `anjia` command, run as a separate process.

use serde_json::{Value, json};

use crate::support::cli::{anjia, text};
use crate::support::{TestDb, spawn_app_on};

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let out = anjia(
        &["config", "check"],
        &[
            ("ANJIA__SERVER__PORT", "9999"),
            ("ANJIA__DATABASE__URL", "postgres://anjia:hunter2@db/anjia"),
        ],
        None,
    );
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("9999"), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
    assert!(!printed.contains("insecure-test-jwt-secret"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");
}

#[test]
fn an_unknown_configuration_key_is_an_error() {
    let out = anjia(&["config", "check"], &[("ANJIA__SERVER__PROT", "1")], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("prot"), "{}", text(&out));
}

#[test]
fn the_retired_profit_sharing_key_is_refused_rather_than_silently_ignored() {
    let out = anjia(
        &["config", "check"],
        &[("ANJIA__WECHAT_PAY__PROFIT_SHARING", "true")],
        None,
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("profit_sharing"), "{}", text(&out));
}

#[test]
fn production_refuses_to_start_without_real_secrets_or_with_the_sandbox() {
    let out = anjia(&["config", "check"], &[("ANJIA_ENV", "production")], None);
    assert!(!out.status.success());
    let printed = text(&out);
    assert!(printed.contains("auth.jwt_secret"), "{printed}");
    assert!(printed.contains("sandbox"), "{printed}");

    let out = anjia(
        &["serve"],
        &[
            ("ANJIA_ENV", "production"),
            (
                "ANJIA__AUTH__JWT_SECRET",
                "insecure-test-jwt-secret-0123456789abcdef0123",
            ),
            ("ANJIA__AUTH__DEV_LOGIN", "true"),
        ],
        None,
    );
    assert!(!out.status.success());
    let printed = text(&out);
    assert!(printed.contains("development value"), "{printed}");
    assert!(printed.contains("dev_login"), "{printed}");
}

#[tokio::test]
async fn migrate_reports_status_and_rolls_back_and_forward() {
    let db = TestDb::empty().await;
    let env = [("ANJIA__DATABASE__URL", db.url.as_str())];
    let out = anjia(&["migrate", "status"], &env, None);
    assert!(
        text(&out).contains("pending m20261123_000001_core"),
        "{}",
        text(&out)
    );
    let out = anjia(&["migrate", "up"], &env, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("applied m20261123_000001_core"));
    let out = anjia(&["migrate", "down", "--all"], &env, None);
    assert!(
        text(&out).contains("pending m20261123_000001_core"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn admin_create_makes_an_operator_admin_who_can_sign_in() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let env = [("ANJIA__DATABASE__URL", db.url.as_str())];
    let out = anjia(
        &[
            "admin",
            "create",
            "--phone",
            "13600000001",
            "--name",
            "运营",
            "--password-stdin",
        ],
        &env,
        Some("operator-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("136****0001"));

    let app = spawn_app_on(db.clone(), |_| {}).await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": "13600000001", "password": "operator-password" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let me: Value = app
        .get("/api/v1/me", body["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["is_operator_admin"], true);

    let out = anjia(
        &[
            "admin",
            "create",
            "--phone",
            "123",
            "--name",
            "x",
            "--password-stdin",
        ],
        &env,
        Some("operator-password\n"),
    );
    assert!(!out.status.success());
    let out = anjia(
        &[
            "admin",
            "create",
            "--phone",
            "13600000002",
            "--name",
            "x",
            "--password-stdin",
        ],
        &env,
        Some("short\n"),
    );
    assert!(!out.status.success());
}

#[tokio::test]
async fn seed_demo_creates_a_community_with_staff_and_is_idempotent() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let env = [("ANJIA__DATABASE__URL", db.url.as_str())];
    let first = anjia(&["seed-demo"], &env, None);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("households: 32 created"),
        "{}",
        text(&first)
    );
    assert!(
        text(&first).contains("four products on the shop's shelf"),
        "{}",
        text(&first)
    );
    let second = anjia(&["seed-demo"], &env, None);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("households: 0 created, 32 already there"),
        "{}",
        text(&second)
    );

    let app = spawn_app_on(db.clone(), |_| {}).await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": "13800000001", "password": anjia::demo::DEMO_PASSWORD }),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let token = body["access_token"].as_str();
    let me: Value = app.get("/api/v1/me", token).await.json().await.unwrap();
    assert_eq!(me["staff_roles"][0]["role"], "manager");
    let community = me["staff_roles"][0]["community_id"].as_str().unwrap();
    let staff: Value = app
        .get(&format!("/api/v1/communities/{community}/staff"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff["items"].as_array().unwrap().len(), 5);
    let households: Value = app
        .get(
            &format!("/api/v1/communities/{community}/households?limit=100"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(households["items"].as_array().unwrap().len(), 32);
    let points: Value = app
        .get(
            &format!("/api/v1/communities/{community}/pickup-points"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(points["items"][0]["opening_hours"][0]["opens"], "08:00");
    // An open group buy, and bookable slots at the point.
    let groups: Value = app
        .get(
            &format!("/api/v1/communities/{community}/group-buys"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(groups["items"][0]["status"], "open", "{groups}");
    assert_eq!(groups["items"][0]["items"].as_array().unwrap().len(), 2);
    let point = points["items"][0]["id"].as_str().unwrap();
    let slots: Value = app
        .get(
            &format!("/api/v1/communities/{community}/pickup-points/{point}/slots"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(slots.as_array().unwrap().len() >= 26, "{slots}");

    // A verified merchant whose owner signs in, with a courier who may pass.
    let body: Value = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": "13800000011", "password": anjia::demo::DEMO_PASSWORD }),
        )
        .await
        .json()
        .await
        .unwrap();
    let owner = body["access_token"].as_str();
    let mine: Value = app
        .get("/api/v1/me/merchants", owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["communities"][0]["status"], "verified");
    let shop = mine[0]["id"].as_str().unwrap();
    let couriers: Value = app
        .get(&format!("/api/v1/merchants/{shop}/couriers"), owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(couriers[0]["may_pass"], true);
}

#[tokio::test]
async fn import_owners_from_the_command_line_reports_progress_and_bad_rows() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let app = spawn_app_on(db.clone(), |_| {}).await;
    let community = app.community("命令行导入").await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("owners.csv");
    let mut csv = String::from("building,unit,room,area_m2,owner_name,owner_phone\n");
    for i in 0..1200 {
        csv.push_str(&format!(
            "{}号楼,1单元,{},88.00,业主{i},1370000{i:04}\n",
            i / 100 + 1,
            100 + i % 100
        ));
    }
    std::fs::write(&good, &csv).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "building,room,owner_name,owner_phone\n1号楼,101,张三,12345\n",
    )
    .unwrap();
    let env = [("ANJIA__DATABASE__URL", db.url.as_str())];
    let id = community.to_string();
    let good = good.to_str().unwrap();

    let out = anjia(
        &[
            "import",
            "owners",
            bad.to_str().unwrap(),
            "--community",
            &id,
        ],
        &env,
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("line 2: owner_phone"), "{}", text(&out));

    let out = anjia(
        &[
            "import",
            "owners",
            good,
            "--community",
            "命令行导入",
            "--dry-run",
        ],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("dry run, nothing written: 1200 rows: 1200 households created"),
        "{}",
        text(&out)
    );

    let out = anjia(&["import", "owners", good, "--community", &id], &env, None);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    assert!(
        printed.contains("written 1200/1200 rows (100%)"),
        "{printed}"
    );
    assert!(printed.contains("1200 owners created"), "{printed}");

    let out = anjia(
        &["import", "owners", good, "--community", "no such place"],
        &env,
        None,
    );
    assert!(!out.status.success());
}

#[tokio::test]
async fn healthcheck_passes_against_a_running_server_and_fails_without_one() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let app = spawn_app_on(db, |_| {}).await;
    let port = app.port.to_string();
    let out =
        tokio::task::spawn_blocking(move || anjia(&["healthcheck", "--port", &port], &[], None))
            .await
            .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = anjia(&["healthcheck", "--port", &closed.to_string()], &[], None);
    assert!(!out.status.success());
}

#[tokio::test]
async fn wechat_menu_sync_pushes_the_configured_menu() {
    let db = TestDb::new().await;
    let fake = wiremock::MockServer::start().await;
    use wiremock::matchers::{body_partial_json, method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "T", "expires_in": 7200})),
        )
        .expect(1)
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/create"))
        .and(query_param("access_token", "T"))
        .and(body_partial_json(
            json!({"button": [{"name": "社区团购", "key": "group_buys"}]}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .expect(1)
        .mount(&fake)
        .await;
    let uri = fake.uri();
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        anjia(
            &["wechat", "menu", "sync"],
            &[
                ("ANJIA__DATABASE__URL", url.as_str()),
                ("ANJIA__WECHAT__APP_ID", "wxclitest0000001"),
                ("ANJIA__WECHAT__APP_SECRET", "test-secret"),
                ("ANJIA__WECHAT__TOKEN", "test-token"),
                ("ANJIA__WECHAT__API_BASE", uri.as_str()),
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("menu pushed to WeChat"),
        "{}",
        text(&out)
    );

    // In sandbox mode it prints the menu and calls nothing.
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        anjia(
            &["wechat", "menu", "sync"],
            &[("ANJIA__DATABASE__URL", url.as_str())],
            None,
        )
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sandbox mode"), "{}", text(&out));
}

#[tokio::test]
async fn ledger_verify_passes_on_a_sound_ledger_and_fails_listing_each_problem() {
    use anjia::ledger::{Account, Entry};
    use entity::{CommunityId, Fen, JournalKind};
    use sea_orm::ConnectionTrait;
    let db = std::sync::Arc::new(TestDb::new().await);
    let env = [("ANJIA__DATABASE__URL", db.url.as_str())];
    let sound = anjia(&["ledger", "verify"], &env, None);
    assert!(sound.status.success(), "{}", text(&sound));
    assert!(text(&sound).contains("ledger OK"), "{}", text(&sound));

    let conn = sea_orm::Database::connect(db.url.as_str()).await.unwrap();
    let community = CommunityId::new();
    anjia::ledger::post(
        &conn,
        Entry::new(JournalKind::Payment, "test:cli")
            .community(community)
            .debit(Account::wechat_clearing(), Fen::new(100).unwrap())
            .credit(Account::escrow(community), Fen::new(100).unwrap()),
    )
    .await
    .unwrap();
    conn.execute_unprepared("UPDATE journal_lines SET amount = 99 WHERE amount = 100")
        .await
        .unwrap();
    conn.close().await.unwrap();
    let broken = anjia(&["ledger", "verify"], &env, None);
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(
        text(&broken).contains("problem: entry test:cli is unbalanced: 2 lines summing to -1"),
        "{}",
        text(&broken)
    );
}

#[test]
fn choosing_wechat_pay_without_its_keys_is_a_configuration_error() {
    let out = anjia(
        &["config", "check"],
        &[("ANJIA__PAYMENT__PROVIDER", "wechat_pay")],
        None,
    );
    let printed = text(&out);
    assert!(!out.status.success(), "{printed}");
    for field in [
        "wechat_pay.mch_id",
        "wechat_pay.api_v3_key",
        "platform_public_key_id",
    ] {
        assert!(printed.contains(field), "{field}: {printed}");
    }
}
