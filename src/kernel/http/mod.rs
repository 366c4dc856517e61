//! HTTP plumbing shared by every route: the JSON body extractor, pagination,
//! extractor error handlers and client information.

mod export;
mod json;
mod pagination;

pub use export::{EXPORT_LIMIT, csv_response, wire_name};

pub use json::{BodyLimit, Json, declared_length, read_limited};

/// The limit for file bodies (CSV imports, uploads), registered as app data.
#[derive(Clone, Copy, Debug)]
pub struct UploadLimit(pub usize);
pub use pagination::{Page, PageQuery, PageRequest};

use actix_web::{HttpRequest, HttpResponse, web};

use crate::kernel::error::{ApiError, ErrorCode};

/// `201 Created` with `body`, or `200 OK` marked `Idempotent-Replayed` when
/// the request repeated an `Idempotency-Key` already answered.
pub fn created_or_replayed<T: serde::Serialize>(body: T, replayed: bool) -> HttpResponse {
    if replayed {
        HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(body)
    } else {
        HttpResponse::Created().json(body)
    }
}

/// Reads a `text/csv` request body (at most the upload limit); other
/// content types are refused with `415`.
pub async fn read_csv(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let is_csv = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        });
    if !is_csv {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the file as text/csv",
        ));
    }
    let limit = req
        .app_data::<web::Data<UploadLimit>>()
        .map_or(10 << 20, |l| l.0);
    read_limited(payload.into_inner(), declared_length(req), limit).await
}

/// For `PATCH` fields that can be cleared: absent → `None` (unchanged),
/// `null` → `Some(None)` (cleared), a value → `Some(Some(v))`. Use with
/// `#[serde(default, deserialize_with = "crate::kernel::http::nullable")]`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// Query-string errors become `400 invalid_query`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::new(ErrorCode::InvalidQuery, err.to_string()).into())
}

/// A path segment that does not parse (a malformed id) names no resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| ApiError::not_found().into())
}

/// The caller's IP address: the socket's peer, or (when configured, behind
/// our own load balancer) the last `X-Forwarded-For` entry, the one our
/// proxy appended. Entries further left are the client's own words.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        })
        .flatten();
    match forwarded {
        Some(ip) => ip.to_string(),
        None => req
            .peer_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string()),
    }
}
