use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::kernel::error::{ApiError, ErrorCode};

/// The request body limit, registered as app data.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A JSON request body. Unlike `actix_web::web::Json`, failures name exactly
/// what went wrong: `400 invalid_json` with line and column for malformed
/// JSON, `422 invalid_body` with the field path for a missing field or a
/// wrong type, `413` beyond the body limit, `415` for another content type.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map(|l| l.0)
            .unwrap_or(256 * 1024);
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let declared_len = declared_length(req);
        let payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the body as application/json",
                )
                .into());
            }
            let body = read_limited(payload, declared_len, limit).await?;
            parse(&body).map(Json).map_err(Into::into)
        })
    }
}

/// The `Content-Length` the client declared, if any.
pub fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads a whole body, refusing it (`413`) as soon as it is known to exceed
/// `limit`: from the declared length, or while streaming.
pub async fn read_limited(
    mut payload: Payload,
    declared_len: Option<usize>,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    if declared_len.is_some_and(|n| n > limit) {
        return Err(payload_too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(payload_error)?;
        if body.len() + chunk.len() > limit {
            return Err(payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body, naming the failing field on a type error.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    let value = result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let (line, column) = (inner.line(), inner.column());
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { None } else { Some(path) };
                let message = match &field {
                    Some(f) => format!("{f}: {}", strip_position(&inner.to_string())),
                    None => strip_position(&inner.to_string()),
                };
                ApiError::new(ErrorCode::InvalidBody, message)
                    .with_details(json!({ "field": field, "line": line, "column": column }))
            }
            _ => ApiError::new(
                ErrorCode::InvalidJson,
                format!(
                    "malformed JSON at line {line}, column {column}: {}",
                    strip_position(&inner.to_string())
                ),
            )
            .with_details(json!({ "line": line, "column": column })),
        }
    })?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the position is in `details`.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

pub(crate) fn payload_error(err: actix_web::error::PayloadError) -> ApiError {
    match err {
        actix_web::error::PayloadError::Overflow => payload_too_large(),
        other => ApiError::new(
            ErrorCode::InvalidJson,
            format!("could not read the body: {other}"),
        ),
    }
}

pub(crate) fn payload_too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        qty: u32,
    }

    #[test]
    fn a_wrong_type_names_the_field_path() {
        let err = parse::<Body>(br#"{"name":"a","items":[{"qty":"x"}]}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidBody);
        assert_eq!(err.details.unwrap()["field"], "items[0].qty");
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let err = parse::<Body>(b"{\n \"name\": }").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidJson);
        let d = err.details.unwrap();
        assert_eq!(d["line"], 2);
    }
}
