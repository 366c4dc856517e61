//! The `anjia` command: `serve` (the default), `migrate`, `admin create`,
//! `config check`, `seed-demo`, `import owners`, `wechat menu sync`,
//! `ledger verify`, `pay reconcile`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use entity::operator_admin;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::auth::password::{self, Password};
use crate::config::Settings;
use crate::kernel::{clock, db, text};
use crate::pii::{PhoneNumber, PiiCipher};
use crate::startup::Application;
use crate::{telemetry, user};

#[derive(Debug, Parser)]
#[command(
    name = "anjia",
    version,
    about = "安家: community life services backend"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Operator admin accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Fill the database with a demo community to explore (idempotent).
    SeedDemo,
    /// Bulk imports from the property's own systems.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// The WeChat service account.
    Wechat {
        #[command(subcommand)]
        action: WechatAction,
    },
    /// The escrow ledger.
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// WeChat Pay.
    Pay {
        #[command(subcommand)]
        action: PayAction,
    },
    /// Exit 0 if the local server answers /health (for container health checks).
    Healthcheck {
        /// Port of the local server (default: ANJIA__SERVER__PORT, else 8080).
        #[arg(long, env = "ANJIA__SERVER__PORT", default_value_t = 8080)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations.
    Up,
    /// Roll back migrations (the last one unless --steps or --all).
    Down {
        #[arg(long, conflicts_with = "all")]
        steps: Option<u32>,
        #[arg(long)]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create an operator admin (or promote the user with this phone number).
    Create {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        name: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// Households and owner records from CSV (the same format as
    /// POST /api/v1/communities/{id}/owner-records/import).
    Owners {
        /// The CSV file (UTF-8, header row).
        file: std::path::PathBuf,
        /// The community: its id or exact name.
        #[arg(long)]
        community: String,
        /// Check every row and report, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WechatAction {
    /// The custom menu.
    Menu {
        #[command(subcommand)]
        action: MenuAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum MenuAction {
    /// Push `[[wechat.menu]]` from the configuration to WeChat.
    Sync,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Check every ledger invariant; exit 1 and list the problems if any fails.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum PayAction {
    /// Fetch a business day's trade and fund-flow bills from WeChat Pay,
    /// book its fees, and print what differs from the ledger (exit 1 when
    /// something does).
    Reconcile {
        /// The business day, YYYY-MM-DD (Beijing time).
        #[arg(long)]
        date: chrono::NaiveDate,
        /// Report on the bills fetched before; ask WeChat Pay for nothing.
        #[arg(long)]
        no_fetch: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Load and validate the configuration; print it with secrets redacted.
    Check,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Healthcheck { port } = command {
        return healthcheck(port);
    }
    let settings = Settings::load()?;
    match command {
        Command::Healthcheck { .. } => Ok(()),
        Command::Serve => serve(settings).await,
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!("# environment: {}", settings.environment);
            println!("{}", settings.redacted_json()?);
            println!("# configuration OK");
            Ok(())
        }
        Command::Migrate { action } => {
            telemetry::init_tracing(&settings.log);
            let conn = db::connect(&settings.database).await?;
            match action {
                MigrateAction::Up => db::migrate_up(&conn).await?,
                MigrateAction::Down { steps, all } => {
                    let steps = if all { None } else { Some(steps.unwrap_or(1)) };
                    db::migrate_down(&conn, steps).await?;
                }
                MigrateAction::Status => {}
            }
            for (name, applied) in db::migration_status(&conn).await? {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
            Ok(())
        }
        Command::Admin {
            action:
                AdminAction::Create {
                    phone,
                    name,
                    password_stdin,
                },
        } => create_admin(settings, &phone, &name, password_stdin).await,
        Command::Import {
            what:
                ImportWhat::Owners {
                    file,
                    community,
                    dry_run,
                },
        } => import_owners(settings, &file, &community, dry_run).await,
        Command::Wechat {
            action: WechatAction::Menu {
                action: MenuAction::Sync,
            },
        } => {
            telemetry::init_tracing(&settings.log);
            let conn = db::connect_migrated(&settings.database).await?;
            let menu = settings.wechat.menu.clone();
            let client = crate::wechat::client::WechatClient::new(std::sync::Arc::new(settings))?;
            let synced = crate::wechat::menu::sync(&client, &conn, &menu).await?;
            if synced.sandbox {
                println!("sandbox mode (no wechat.app_id): nothing sent; the menu would be:");
            } else {
                println!("menu pushed to WeChat:");
            }
            println!("{}", serde_json::to_string_pretty(&synced.menu)?);
            Ok(())
        }
        Command::Ledger {
            action: LedgerAction::Verify,
        } => {
            telemetry::init_tracing(&settings.log);
            let conn = db::connect_migrated(&settings.database).await?;
            let report = crate::ledger::verify(&conn)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!(
                "{} entries, {} lines, {} accounts",
                report.entries, report.lines, report.accounts
            );
            if report.ok() {
                println!("ledger OK: every invariant holds");
                Ok(())
            } else {
                for problem in &report.problems {
                    println!("problem: {problem}");
                }
                bail!("the ledger breaks {} invariant(s)", report.problems.len())
            }
        }
        Command::Pay {
            action: PayAction::Reconcile { date, no_fetch },
        } => reconcile_day(settings, date, no_fetch).await,
        Command::SeedDemo => {
            telemetry::init_tracing(&settings.log);
            let conn = db::connect_migrated(&settings.database).await?;
            let pii = PiiCipher::from_settings(&settings.pii)?;
            crate::demo::seed(&conn, &pii).await
        }
    }
}

async fn reconcile_day(
    settings: Settings,
    date: chrono::NaiveDate,
    no_fetch: bool,
) -> anyhow::Result<()> {
    use crate::payment::wechat_pay::bills::{self, NotFetched, report};
    telemetry::init_tracing(&settings.log);
    let conn = db::connect_migrated(&settings.database).await?;
    if !no_fetch {
        let Some(pay) = crate::payment::wechat_pay::WechatPay::from_settings(&settings)? else {
            bail!(
                "WeChat Pay is not configured (payment.provider = \"wechat_pay\" and [wechat_pay])"
            );
        };
        match bills::fetch(&pay, &conn, date, &mut |step| println!("{step}")).await {
            Ok(_) => {}
            Err(NotFetched::NotYet) => {
                bail!("WeChat Pay is still making the bills of {date}; try again in half an hour")
            }
            Err(NotFetched::Failed(e)) => bail!("{e}"),
        }
    }
    println!("matching against the ledger");
    let r = report::report(&conn, date, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if r.state != report::BillState::Fetched {
        bail!(
            "the bills of {date} have not been fetched yet ({:?}); run without --no-fetch",
            r.state
        );
    }
    println!(
        "{date}: {} payments ({}), {} refunds ({}), fees {}; fund flows: {} lines, in {}, out {}",
        r.trade.payments.count,
        report::yuan(r.trade.payments.amount),
        r.trade.refunds.count,
        report::yuan(r.trade.refunds.amount),
        report::yuan(r.trade.fees),
        r.fund.lines,
        report::yuan(r.fund.income),
        report::yuan(r.fund.expense),
    );
    for d in &r.differences {
        println!(
            "difference: {:?} in the {} bill: {} {} (WeChat {}): ours {}, the bill's {}",
            d.problem,
            d.bill,
            d.kind,
            d.out_no,
            d.wechat_id.as_deref().unwrap_or("-"),
            d.ours.map_or("-".to_owned(), report::yuan),
            d.theirs.map_or("-".to_owned(), report::yuan),
        );
    }
    if r.differences.is_empty() {
        println!("reconciled: the bills and the ledger agree");
        Ok(())
    } else {
        bail!(
            "{} difference(s) between the bills and the ledger",
            r.differences.len()
        )
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init_tracing(&settings.log);
    let host = settings.server.host.clone();
    let environment = settings.environment;
    let sandbox = settings.wechat.sandbox();
    let app = Application::build(settings).await?;
    tracing::info!(
        address = %format!("http://{host}:{}", app.port()),
        environment = %environment,
        wechat_sandbox = sandbox,
        "anjia is listening (API docs at /docs)"
    );
    app.run().await.context("serving")
}

async fn create_admin(
    settings: Settings,
    phone: &str,
    name: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let phone = PhoneNumber::parse(phone).map_err(|e| anyhow::anyhow!("--phone: {e}"))?;
    let name =
        text::required("name", name, 64).map_err(|e| anyhow::anyhow!("--name: {}", e.message))?;
    let secret = read_password(password_stdin)?;
    let secret =
        Password::parse("password", secret).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let hash = password::hash(secret)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let conn = db::connect_migrated(&settings.database).await?;
    let pii = PiiCipher::from_settings(&settings.pii)?;
    let txn = db::begin_write(&conn).await?;
    let existing = user::service::find_by_phone(&txn, &pii, &phone)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let account = match existing {
        Some(u) => {
            let mut m: entity::user::ActiveModel = u.into();
            m.password_hash = Set(Some(hash));
            m.updated_at = Set(clock::now());
            m.update(&txn).await?
        }
        None => user::service::create(&txn, &pii, name, Some(&phone), Some(hash))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    if operator_admin::Entity::find_by_id(account.id)
        .one(&txn)
        .await?
        .is_none()
    {
        operator_admin::ActiveModel {
            user_id: Set(account.id),
            granted_by: Set(None),
            created_at: Set(clock::now()),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    println!(
        "operator admin {} ({}) can sign in at POST /api/v1/auth/login",
        account.display_name,
        phone.masked()
    );
    Ok(())
}

async fn import_owners(
    settings: Settings,
    file: &std::path::Path,
    community: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    use entity::community as communities;
    use sea_orm::{ColumnTrait, QueryFilter};
    let csv = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let conn = db::connect_migrated(&settings.database).await?;
    let pii = PiiCipher::from_settings(&settings.pii)?;
    let found = match community.parse::<entity::CommunityId>() {
        Ok(id) => communities::Entity::find_by_id(id).one(&conn).await?,
        Err(_) => {
            communities::Entity::find()
                .filter(communities::Column::Name.eq(community))
                .one(&conn)
                .await?
        }
    };
    let Some(found) = found else {
        bail!("no community with id or name {community:?}");
    };
    let txn = db::begin_write(&conn).await?;
    let mut last_shown = std::time::Instant::now();
    let mut progress = |done: usize, total: usize| {
        if done == total || last_shown.elapsed().as_millis() >= 250 {
            eprintln!(
                "  written {done}/{total} rows ({}%)",
                done * 100 / total.max(1)
            );
            last_shown = std::time::Instant::now();
        }
    };
    let report = crate::structure::service::import::import_owners(
        &txn,
        &pii,
        found.id,
        &csv,
        dry_run,
        &mut progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for e in &report.errors {
        eprintln!("line {}: {}", e.line, e.reason);
    }
    let summary = format!(
        "{} rows: {} households created, {} matched; {} owners created, {} updated",
        report.rows,
        report.households_created,
        report.households_matched,
        report.owners_created,
        report.owners_updated
    );
    if !report.errors.is_empty() {
        if dry_run {
            println!("dry run: {summary}; {} bad row(s)", report.errors.len());
        }
        bail!("{} bad row(s); nothing was written", report.errors.len());
    }
    if dry_run {
        println!("dry run, nothing written: {summary}");
    } else {
        txn.commit().await?;
        println!("imported into {}: {summary}", found.name);
    }
    Ok(())
}

/// A plain HTTP/1.0 probe: no client library, no shell, no curl in the image.
fn healthcheck(port: u16) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::time::Duration;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        bail!(
            "unhealthy: {}",
            response.lines().next().unwrap_or("no answer")
        )
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(line);
    }
    let first = rpassword::prompt_password("password: ")?;
    let second = rpassword::prompt_password("again: ")?;
    if first != second {
        bail!("the passwords differ");
    }
    Ok(first)
}
