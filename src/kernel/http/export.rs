//! CSV exports of back-office lists: UTF-8 with a byte-order mark (so Excel
//! reads the Chinese correctly), one header row, personal data masked as in
//! the JSON lists.

use actix_web::HttpResponse;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};

use crate::kernel::error::{ApiError, ApiResult};

/// Most rows one export holds; filter to narrow a larger list.
pub const EXPORT_LIMIT: u64 = 50_000;

pub fn csv_response(
    filename: &str,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> ApiResult<HttpResponse> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(64 * (rows.len() + 1)));
    writer.write_record(header).map_err(ApiError::internal)?;
    for row in rows {
        writer
            .write_record(row.iter().map(|cell| defuse(cell)))
            .map_err(ApiError::internal)?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    let mut bytes = Vec::with_capacity(body.len() + 3);
    bytes.extend_from_slice("\u{feff}".as_bytes());
    bytes.extend_from_slice(&body);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            ContentDisposition {
                disposition: DispositionType::Attachment,
                parameters: vec![DispositionParam::Filename(filename.to_owned())],
            },
        ))
        .body(bytes))
}

/// Spreadsheets run cells that start with `=`, `+`, `-` or `@` as formulas;
/// names and notes come from clients, so such cells get a leading `'`.
fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// An enum's name as the API writes it (`home_based`, not `HomeBased`).
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
