//! Database connection, migrations and transactions, for SQLite (a laptop)
//! and PostgreSQL (production) alike.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use entity::states::Machine;
use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde::{Deserialize, Serialize, Serializer};

use super::error::{ApiError, ApiResult, ErrorCode};

/// The database pool, as `[database]` configures it.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    #[serde(serialize_with = "redact_url")]
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout_secs: u64,
    pub migrate_on_start: bool,
    pub log_statements: bool,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redacted_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("log_statements", &self.log_statements)
            .finish()
    }
}

/// Shows a database URL without its password.
fn redact_url<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redacted_url(url))
}

pub fn redacted_url(url: &str) -> String {
    // scheme://user:password@host/db?password=… → the password hidden in
    // both places. The last '@' ends the user info (a password may hold '@').
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
                None => base.to_owned(),
            },
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Key of the PostgreSQL advisory lock held while migrating ("anjia" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0061_6e6a_6961;

pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_file(&settings.url)
        && let Some(parent) = Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the database folder {}", parent.display()))?;
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .sqlx_logging(settings.log_statements)
        // WAL lets readers run beside the one writer; writers wait for each
        // other (busy timeout) instead of failing at once.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        })
        // PostgreSQL's JIT compiles a statement's expressions when its
        // estimated cost is high, and generic plans of prepared statements
        // (sqlx prepares everything) often are: search took 40–90 ms to
        // compile what runs in under 1 ms. Short OLTP statements never win it
        // back, so it is off for this pool.
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    let db = Database::connect(options).await.with_context(|| {
        format!(
            "connecting to the database at {}",
            redacted_url(&settings.url)
        )
    })?;
    Ok(db)
}

/// Connects and applies pending migrations, riding out SQLite's "database
/// is locked" while another process (a running server) holds the file: what
/// the command-line tools start with.
pub async fn connect_migrated(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let db = when_not_locked(|| connect(settings)).await?;
    when_not_locked(|| async { Ok(migrate_up(&db).await?) })
        .await
        .context("applying migrations")?;
    Ok(db)
}

/// The file behind an SQLite URL (`sqlite://data/anjia.db?mode=rwc`), if any.
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.to_owned())
    }
}

/// Runs `attempt` again (a few times, backing off) while SQLite answers
/// "database is locked" without waiting, as it can when two fresh
/// connections race to switch a new file into WAL mode (several instances
/// starting on one SQLite file). Any other error is returned at once.
pub async fn when_not_locked<T, F, Fut>(mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut delay = Duration::from_millis(50);
    for _ in 0..6 {
        match attempt().await {
            Err(e) if format!("{e:#}").contains("database is locked") => {
                tracing::warn!(error = %format!("{e:#}"), "SQLite busy at start; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
    attempt().await
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`,
/// so two writers queue on the busy timeout instead of one failing when it
/// upgrades from reading to writing; PostgreSQL needs nothing special.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Applies every pending migration. On PostgreSQL the whole run happens in
/// one transaction holding an advisory lock, so instances starting together
/// migrate one after the other (the later ones find nothing to do); on SQLite
/// an immediate transaction does the same.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = lock_for_migration(db).await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Rolls back `steps` migrations (all when `None`), under the same lock.
pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    let txn = lock_for_migration(db).await?;
    Migrator::down(&txn, steps).await?;
    txn.commit().await
}

async fn lock_for_migration(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    Ok(txn)
}

/// Each migration's name and whether it is applied (read-only: creates nothing).
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    Ok(Migrator::get_migration_with_status_read_only(db)
        .await?
        .iter()
        .map(|m| (m.name().to_owned(), m.status() == MigrationStatus::Applied))
        .collect())
}

/// Names of migrations not yet applied.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(migration_status(db)
        .await?
        .into_iter()
        .filter(|(_, applied)| !applied)
        .map(|(name, _)| name)
        .collect())
}

/// Pool size and idle connections, for `/metrics`.
pub fn pool_usage(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    }
}

/// Raw SQL written with PostgreSQL's numbered placeholders (`$1`), for the
/// connection's engine (SQLite takes `?1`).
pub fn sql(backend: DbBackend, postgres: &str) -> String {
    match backend {
        DbBackend::Postgres => postgres.to_owned(),
        _ => postgres.replace('$', "?"),
    }
}

/// A raw `SELECT` written for PostgreSQL (`$1` placeholders), on any engine.
pub async fn query_all<C: ConnectionTrait>(
    db: &C,
    postgres: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    db.query_all_raw(statement(db, postgres, values)).await
}

/// The first row of a raw `SELECT` written for PostgreSQL, on any engine.
pub async fn query_one<C: ConnectionTrait>(
    db: &C,
    postgres: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Result<Option<sea_orm::QueryResult>, DbErr> {
    db.query_one_raw(statement(db, postgres, values)).await
}

/// A raw write written for PostgreSQL, on any engine.
pub async fn execute<C: ConnectionTrait>(
    db: &C,
    postgres: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Result<sea_orm::ExecResult, DbErr> {
    db.execute_raw(statement(db, postgres, values)).await
}

fn statement<C: ConnectionTrait>(
    db: &C,
    postgres: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    let backend = db.get_database_backend();
    sea_orm::Statement::from_sql_and_values(backend, sql(backend, postgres), values)
}

/// Applies one move of a state machine to one row: `update` (filtered to
/// the row, with whatever else the move writes) also sets `status` to `to`,
/// and only while the row is still `from`. A move the machine does not allow
/// answers `invalid_transition` before anything is written; a row that moved
/// meanwhile (another request won the race) answers `invalid_transition`
/// too, and nothing is written.
pub async fn transition<E, S, C>(
    db: &C,
    update: sea_orm::UpdateMany<E>,
    status: E::Column,
    from: S,
    to: S,
) -> ApiResult<()>
where
    E: sea_orm::EntityTrait,
    S: Machine + Into<sea_orm::Value>,
    C: ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    if !from.may_become(to) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "{} {} that is {from} cannot become {to}",
                S::ARTICLE,
                S::NOUN
            ),
        )
        .with_details(serde_json::json!({ "status": from, "requested": to })));
    }
    let update = update
        .col_expr(status, Expr::value(to))
        .filter(status.eq(from));
    guarded(
        db,
        update,
        ApiError::new(
            ErrorCode::InvalidTransition,
            format!("the {} changed meanwhile; reload it and try again", S::NOUN),
        ),
    )
    .await
}

/// Runs an update guarded by what the row held when it was read (its
/// status, a paid amount, a slot): it must change exactly one row, or the
/// row changed meanwhile and `changed` is the answer.
pub async fn guarded<E, C>(
    db: &C,
    update: sea_orm::UpdateMany<E>,
    changed: ApiError,
) -> ApiResult<()>
where
    E: sea_orm::EntityTrait,
    C: ConnectionTrait,
{
    if update.exec(db).await?.rows_affected == 1 {
        Ok(())
    } else {
        Err(changed)
    }
}

/// Ids of due rows claimed for a sweep, in the caller's transaction:
/// `postgres_sql` selects an `id` column; on PostgreSQL the rows are locked
/// and rows another instance holds are skipped (`FOR UPDATE SKIP LOCKED`);
/// SQLite serialises writers instead.
pub async fn claim_ids<T: sea_orm::TryGetable, C: ConnectionTrait>(
    txn: &C,
    postgres_sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<T>, DbErr> {
    let backend = txn.get_database_backend();
    let skip = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    txn.query_all_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql(backend, &format!("{postgres_sql}{skip}")),
        values,
    ))
    .await?
    .into_iter()
    .map(|r| r.try_get::<T>("", "id"))
    .collect()
}

/// Claims due rows for a question to an outside system (WeChat Pay) and
/// stamps them `stamp = now`, in one short transaction: no other instance,
/// and no later round before the stamp ages, asks about them again. Returns
/// their ids (the caller asks outside any transaction).
pub async fn claim_and_stamp<E: sea_orm::EntityTrait>(
    db: &DatabaseConnection,
    postgres_sql: &str,
    values: Vec<sea_orm::Value>,
    id: E::Column,
    stamp: E::Column,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<uuid::Uuid>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let txn = begin_write(db).await?;
    let ids: Vec<uuid::Uuid> = claim_ids(&txn, postgres_sql, values).await?;
    if ids.is_empty() {
        txn.rollback().await?;
        return Ok(ids);
    }
    E::update_many()
        .col_expr(stamp, sea_orm::sea_query::Expr::value(now))
        .filter(id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(ids)
}

/// Whether `err` is a unique-index violation (someone else got there first).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://data/anjia.db?mode=rwc").as_deref(),
            Some("data/anjia.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x@y/z"), None);
    }
}
