//! The real server on a random port with a fresh database, and the requests
//! and assertions every test makes.

use std::path::PathBuf;

use anjia::config::{Environment, Settings};
use anjia::startup::Application;
use anjia::state::AppState;
use reqwest::{Method, Response};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use uuid::Uuid;

pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

pub fn test_settings() -> Settings {
    Settings::load_from(&config_dir(), Environment::Test).expect("test settings")
}

/// A database of its own for one test: a temporary SQLite file, or (with
/// ANJIA_TEST_DATABASE_URL pointing at a PostgreSQL server) a database created
/// now and dropped when the test ends. [`TestDb::new`] starts migrated, as a
/// copy of a schema migrated once per test run (a file copy on SQLite, a
/// database made from a template on PostgreSQL); [`TestDb::empty`] starts
/// with nothing, for the tests of migrating itself.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

pub fn postgres_admin_url() -> Option<String> {
    std::env::var("ANJIA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The migrated schema every test copies: a PostgreSQL template database's
/// name, or a SQLite file's path. Made by the first test that asks, unless
/// an earlier run made it for the same migrations.
static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Runs `work` on a runtime of its own (the caller may be inside another).
fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
    .join()
    .expect("template thread")
}

/// A name for the migrated schema: the migrations' sources, hashed, so a
/// template made by an earlier run is reused until a migration changes.
fn schema_version() -> String {
    use sha2::Digest;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migration/src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("migration sources")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut hash = sha2::Sha256::new();
    for f in files {
        hash.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        hash.update(std::fs::read(&f).expect("migration source"));
    }
    hex::encode(&hash.finalize()[..8])
}

fn template() -> &'static str {
    TEMPLATE.get_or_init(|| {
        on_own_runtime(async {
            let version = schema_version();
            match postgres_admin_url() {
                Some(admin) => {
                    let name = format!("anjia_tmpl_{version}");
                    let conn = Database::connect(&admin)
                        .await
                        .expect("connect to PostgreSQL");
                    let exists = conn
                        .query_one_raw(sea_orm::Statement::from_sql_and_values(
                            sea_orm::DbBackend::Postgres,
                            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
                            [name.clone().into()],
                        ))
                        .await
                        .expect("look for the template")
                        .is_some();
                    if !exists {
                        // Made under a name of its own, then renamed: a
                        // template is whole or absent, whoever races.
                        let draft = format!("anjia_draft_{}", Uuid::now_v7().simple());
                        conn.execute_unprepared(&format!("CREATE DATABASE {draft}"))
                            .await
                            .expect("create the template database");
                        let db = Database::connect(with_database(&admin, &draft))
                            .await
                            .expect("connect to the template");
                        anjia::kernel::db::migrate_up(&db)
                            .await
                            .expect("migrate the template");
                        db.close().await.ok();
                        if conn
                            .execute_unprepared(&format!("ALTER DATABASE {draft} RENAME TO {name}"))
                            .await
                            .is_err()
                        {
                            // Another run made it first.
                            let _ = conn
                                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {draft}"))
                                .await;
                        }
                    }
                    conn.close().await.ok();
                    name
                }
                None => {
                    let path = std::env::temp_dir().join(format!("anjia-test-schema-{version}.db"));
                    if !path.exists() {
                        let draft = std::env::temp_dir()
                            .join(format!("anjia-test-schema-{}.db", Uuid::now_v7().simple()));
                        let db =
                            Database::connect(format!("sqlite://{}?mode=rwc", draft.display()))
                                .await
                                .expect("create the template");
                        anjia::kernel::db::migrate_up(&db)
                            .await
                            .expect("migrate the template");
                        db.close().await.ok();
                        // Whole or absent: a rename, whoever races.
                        std::fs::rename(&draft, &path).expect("keep the template");
                    }
                    path.display().to_string()
                }
            }
        })
    })
}

impl TestDb {
    /// A migrated database.
    pub async fn new() -> Self {
        Self::create(true).await
    }

    /// A database with nothing in it, not even the migrations' table.
    pub async fn empty() -> Self {
        Self::create(false).await
    }

    async fn create(migrated: bool) -> Self {
        let template = migrated.then(template);
        match postgres_admin_url() {
            Some(admin) => {
                let name = format!("anjia_test_{}", Uuid::now_v7().simple());
                let conn = Database::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                let from = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
                conn.execute_unprepared(&format!("CREATE DATABASE {name}{from}"))
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let url = with_database(&admin, &name);
                Self {
                    url,
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let file = dir.path().join("anjia.db");
                if let Some(t) = template {
                    std::fs::copy(t, &file).expect("copy the template");
                }
                let url = format!("sqlite://{}?mode=rwc", file.display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }
}

/// `postgres://u@h:5432/postgres?x` → `postgres://u@h:5432/<name>?x`
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs outside async; a short-lived runtime of its own does
            // the DROP (FORCE closes the server's pooled connections).
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(conn) = Database::connect(&admin).await {
                        let _ = conn
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// Stands in for WeChat's API (`wechat.api_base` and `open_base` point
    /// here); the WeChat tests mount their expectations on it.
    #[allow(dead_code)]
    pub fake_wechat: wiremock::MockServer,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db: DatabaseConnection,
    /// Keeps the database alive (and dropped after) as long as the app.
    _test_db: std::sync::Arc<TestDb>,
    /// This app's file store.
    pub files: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let test_db = std::sync::Arc::new(TestDb::new().await);
    spawn_app_on(test_db, customize).await
}

/// Another server on an existing test database (several instances, one
/// database).
pub async fn spawn_app_on(
    test_db: std::sync::Arc<TestDb>,
    customize: impl FnOnce(&mut Settings),
) -> TestApp {
    let fake_wechat = wiremock::MockServer::start().await;
    let files = tempfile::tempdir().expect("file store");
    let mut settings = test_settings();
    settings.storage.fs_root = files.path().display().to_string();
    settings.database.url = test_db.url.clone();
    settings.wechat.api_base = fake_wechat.uri();
    settings.wechat.open_base = fake_wechat.uri();
    settings.server.host = "127.0.0.1".to_owned();
    settings.server.port = 0;
    customize(&mut settings);
    let app = Application::build(settings)
        .await
        .unwrap_or_else(|e| panic!("build app: {e:#}"));
    let port = app.port();
    let state = app.state().clone();
    tokio::spawn(app.run());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        fake_wechat,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db: state.db.clone(),
        state,
        _test_db: test_db,
        files,
    }
}

/// Tokens from a sign-in.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: Uuid,
    pub access: String,
    pub refresh: String,
}

impl Session {
    fn from_json(v: &Value) -> Self {
        Self {
            user_id: v["user_id"].as_str().unwrap().parse().unwrap(),
            access: v["access_token"].as_str().unwrap().to_owned(),
            refresh: v["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

impl TestApp {
    /// The database this app runs on (to start another instance on it).
    #[allow(dead_code)]
    pub fn test_db(&self) -> std::sync::Arc<TestDb> {
        std::sync::Arc::clone(&self._test_db)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    /// Signs in through the development login.
    pub async fn dev_login(&self, body: Value) -> Session {
        let res = self.post("/api/v1/dev/login", None, body).await;
        assert_eq!(res.status(), 200, "dev login failed");
        Session::from_json(&res.json().await.unwrap())
    }

    pub async fn operator_admin(&self) -> Session {
        self.dev_login(json!({ "display_name": "运营管理员", "operator_admin": true }))
            .await
    }

    pub async fn resident(&self) -> Session {
        self.dev_login(json!({ "display_name": "居民" })).await
    }

    pub async fn staff(&self, community: Uuid, role: &str) -> Session {
        self.dev_login(json!({
            "display_name": format!("{role} staff"),
            "staff_roles": [{ "community_id": community, "role": role }],
        }))
        .await
    }

    /// Creates a community as a fresh operator admin; returns its id.
    pub async fn community(&self, name: &str) -> Uuid {
        let admin = self.operator_admin().await;
        let res = self
            .post(
                "/api/v1/communities",
                Some(&admin.access),
                json!({ "name": name, "address": "福州市仓山区" }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }
}

/// Status and JSON body, for assertions with context.
pub async fn status_and_json(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Asserts an error response's status and code.
pub async fn assert_error(res: Response, status: u16, code: &str) -> Value {
    let (got, body) = status_and_json(res).await;
    assert_eq!(
        (got, body["code"].as_str()),
        (status, Some(code)),
        "body: {body}"
    );
    assert!(
        body["message"].is_string(),
        "error without a message: {body}"
    );
    body
}

/// How many migrations came after `name` (e.g. `m20261123_000023_fee_bill_void`):
/// the steps `migrate_down` takes to undo them, however many are added later.
pub fn migrations_after(name: &str) -> u32 {
    use migration::MigratorTrait;
    let names: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let at = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no migration {name}"));
    u32::try_from(names.len() - at - 1).unwrap()
}
