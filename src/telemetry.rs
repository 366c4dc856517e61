//! Logs, request ids and Prometheus metrics.
//!
//! Every request passes through [`observe`]: it takes the caller's
//! `X-Request-Id` (or makes one), runs the request inside a tracing span that
//! carries it, turns a panic into a logged `500 internal`, records the
//! request's route, status and latency, and echoes the id back.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use sea_orm::DatabaseConnection;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};
use crate::kernel::error::ApiError;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global tracing subscriber: pretty for people, JSON for log
/// collectors. `RUST_LOG` overrides the configured level.
pub fn init_tracing(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // `try_init` fails only when a subscriber is already set (tests, or a
    // second call): keeping the first one is right.
    let _ = match settings.format {
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
}

/// The id of the current request, in request extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Accepts a caller's request id if it is short and printable; otherwise
/// makes a new one (a client cannot inject log lines or huge values).
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    // Any token is a valid method: keep the label set bounded.
    let method_label = match method.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => method.as_str(),
        _ => "OTHER",
    };
    // The route is known once the router has matched one: the access guard
    // records it in this span and leaves it in the request's extensions.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = tracing::field::Empty
    );
    let started = Instant::now();

    let outcome = next.call(req).instrument(span.clone()).await;
    let (status, route) = match &outcome {
        Ok(res) => (
            res.status(),
            res.request()
                .extensions()
                .get::<crate::auth::access::MatchedRoute>()
                .map(|r| std::sync::Arc::clone(&r.0)),
        ),
        Err(err) => (err.as_response_error().status_code(), None),
    };
    let route: &str = route.as_deref().unwrap_or("unmatched");
    let quiet = matches!(route, "/health" | "/ready" | "/metrics");
    let elapsed = started.elapsed();
    if let Some(m) = &metrics {
        m.requests
            .with_label_values(&[method_label, route, status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[method_label, route])
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms, "request finished");
        } else if quiet {
            tracing::debug!(status = status.as_u16(), latency_ms, "request finished");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "request finished");
        }
    });
    let mut response = outcome?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// Turns a panic in a handler into a logged `500 internal` instead of a
/// dropped connection. Wraps each resource (after routing: actix forbids
/// holding a copy of the request before it is routed).
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let http_req = req.request().clone();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(outcome) => outcome.map(ServiceResponse::map_into_boxed_body),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            if let Some(m) = &metrics {
                m.panics.inc();
            }
            tracing::error!(panic = %message, "handler panicked");
            let error =
                ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).error_response();
            Ok(ServiceResponse::new(http_req, error))
        }
    }
}

/// This instance's Prometheus metrics (each instance is scraped on its own).
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    panics: IntCounter,
    pool_size: IntGauge,
    pool_idle: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("anjia".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let panics = IntCounter::new("http_handler_panics_total", "handler panics caught")?;
        let pool_size = IntGauge::new("db_pool_connections", "open database connections")?;
        let pool_idle = IntGauge::new("db_pool_idle_connections", "idle database connections")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(panics.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            panics,
            pool_size,
            pool_idle,
        })
    }

    /// The text exposition format, with the pool gauges sampled now.
    pub fn render(&self, db: &DatabaseConnection) -> Result<String, ApiError> {
        let (size, idle) = crate::kernel::db::pool_usage(db);
        self.pool_size.set(i64::from(size));
        self.pool_idle.set(i64::try_from(idle).unwrap_or(i64::MAX));
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .map_err(ApiError::internal)?;
        String::from_utf8(buffer).map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    #[allow(clippy::panic)]
    async fn explodes() -> &'static str {
        panic!("boom")
    }

    #[actix_web::test]
    async fn a_panicking_handler_becomes_a_logged_500_not_a_dropped_connection() {
        let metrics = web::Data::new(super::Metrics::new().unwrap());
        let app = test::init_service(
            App::new().app_data(metrics.clone()).service(
                web::resource("/boom")
                    .route(web::get().to(explodes))
                    .wrap(from_fn(super::catch_panic)),
            ),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
        assert_eq!(res.status(), 500);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["code"], "internal");
        assert!(
            !body.to_string().contains("boom"),
            "the cause leaked: {body}"
        );
        assert_eq!(metrics.panics.get(), 1);
    }
}
