//! Liveness, readiness and metrics, for load balancers and Prometheus.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::telemetry::Metrics;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// Alive: the process answers. Touches nothing else.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`
    pub status: &'static str,
    /// `ok`
    pub database: &'static str,
    /// `current`
    pub migrations: &'static str,
}

/// Ready for traffic: the database answers and every migration is applied.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Database unreachable or migrations pending", body = ErrorBody),
    ))]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<web::Json<Readiness>> {
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::unavailable("the database is unreachable", e))?;
    let pending = crate::kernel::db::pending_migrations(&state.db)
        .await
        .map_err(|e| ApiError::unavailable("the migration table is unreadable", e))?;
    if !pending.is_empty() {
        return Err(ApiError::unavailable(
            "migrations are pending",
            anyhow::anyhow!("pending migrations: {}", pending.join(", ")),
        )
        .with_details(serde_json::json!({ "pending": pending })));
    }
    Ok(web::Json(Readiness {
        status: "ready",
        database: "ok",
        migrations: "current",
    }))
}

/// Prometheus metrics of this instance: requests by route and status, latency
/// histogram, database pool usage.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> ApiResult<HttpResponse> {
    let body = metrics.render(&state.db)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    vec![
        // Operations
        route::<__path_health, _, _>(Public, health),
        route::<__path_ready, _, _>(Public, ready),
        route::<__path_metrics, _, _>(Public, metrics),
    ]
}
