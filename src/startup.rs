//! Building and running the server. Production and tests start it the same
//! way: [`Application::build`] binds (port 0 picks a free port) and reports
//! the real port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use sea_orm::DatabaseConnection;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::access::AccessTable;
use crate::config::Settings;
use crate::kernel::db;
use crate::kernel::error::ApiError;
use crate::kernel::http::{self, BodyLimit};
use crate::state::AppState;
use crate::telemetry::{self, Metrics};
use crate::{openapi, routes};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Connects to the database (migrating it when configured), binds the
    /// listener and prepares the server; [`Application::run`] serves.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = db::when_not_locked(|| db::connect(&settings.database)).await?;
        if settings.database.migrate_on_start {
            db::when_not_locked(|| async { Ok(db::migrate_up(&db).await?) })
                .await
                .context("applying migrations")?;
        }
        let indexed = crate::catalog::search::catch_up(&db)
            .await
            .context("indexing products for search")?;
        if indexed > 0 {
            tracing::info!(indexed, "products indexed for search by a new tokenizer");
        }
        Self::build_with_db(settings, db)
    }

    pub fn build_with_db(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address)
            .with_context(|| format!("binding {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let body_limit = settings.server.body_limit_bytes;
        let upload_limit = web::Data::new(http::UploadLimit(settings.server.upload_limit_bytes));
        let state = AppState::new(settings, db)?;

        // Built once: the table's metadata for the guard and the document.
        let table = routes::table(&state.settings);
        let mut rules = AccessTable::default();
        for r in &table {
            rules.insert(r.method.clone(), &r.path, r.access);
        }
        let document = openapi::document(&table)?;
        drop(table);

        let rules = web::Data::new(rules);
        let metrics = web::Data::new(Metrics::new()?);
        let shared = web::Data::new(state.clone());
        let body_limit = web::Data::new(BodyLimit(body_limit));
        let settings = Arc::clone(&state.settings);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(rules.clone())
                .app_data(metrics.clone())
                .app_data(body_limit.clone())
                .app_data(upload_limit.clone())
                .app_data(http::query_config())
                .app_data(http::path_config())
                .app_data(web::PayloadConfig::new(body_limit.0))
                .configure(|cfg| routes::register(cfg, routes::table(&settings)))
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi.json", document.clone()),
                )
                .default_service(web::to(not_found))
                .wrap(from_fn(telemetry::observe))
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM (graceful: in-flight requests finish),
    /// with the outbox worker alongside when `outbox.worker` is on.
    pub async fn run(self) -> std::io::Result<()> {
        let worker = self
            .state
            .settings
            .outbox
            .worker
            .then(|| tokio::spawn(outbox_worker(&self.state).run()));
        let jobs = self
            .state
            .settings
            .jobs
            .enabled
            .then(|| tokio::spawn(crate::jobs::run(self.state.clone())));
        let served = self.server.await;
        for task in [worker, jobs].into_iter().flatten() {
            task.abort();
        }
        served
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        crate::kernel::error::ErrorCode::NotFound,
        "no such route; see /docs",
    ))
}

/// The outbox's worker with a sender for each channel that is not a WeChat
/// message: WeChat Pay refunds and merchant transfers.
pub fn outbox_worker(state: &AppState) -> crate::outbox::Worker {
    use entity::OutboxChannel;
    crate::outbox::Worker::new(
        state.db.clone(),
        state.settings.clone(),
        state.wechat.clone(),
    )
    .with_sender(
        OutboxChannel::PayRefund,
        Arc::new(crate::payment::service::refunds::RefundSender {
            pay: state.wechat_pay.clone(),
        }),
    )
    .with_sender(
        OutboxChannel::PayTransfer,
        Arc::new(crate::settlement::transfer::TransferSender {
            pay: state.wechat_pay.clone(),
            settings: state.settings.clone(),
        }),
    )
}
