//! What the file endpoints take and answer: stored files, signed download
//! links, merchant documents, and the upload's claimed type checked before
//! a byte of the body is read.

use chrono::{DateTime, Utc};
use entity::{DocumentRole, FileId, MerchantDocumentId, file};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// The types anjia accepts, as sniffed from the bytes.
const ACCEPTED: &[&str] = &["image/jpeg", "image/png", "image/webp", "application/pdf"];

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredFile {
    pub id: FileId,
    pub content_type: String,
    pub size_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: DateTime<Utc>,
}

impl From<file::Model> for StoredFile {
    fn from(f: file::Model) -> Self {
        Self {
            id: f.id,
            content_type: f.content_type,
            size_bytes: f.size_bytes,
            width: f.width,
            height: f.height,
            created_at: f.created_at,
        }
    }
}

/// The type an upload claims (its `Content-Type`, parameters dropped,
/// `image/jpg` read as `image/jpeg`), one of the accepted types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedType(String);

impl ClaimedType {
    /// Checks the `Content-Type` header's value; anything not accepted
    /// (or none) is `unsupported_file_type`.
    pub fn parse(header: Option<&str>) -> ApiResult<Self> {
        header
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .map(|v| {
                if v == "image/jpg" {
                    "image/jpeg".to_owned()
                } else {
                    v
                }
            })
            .filter(|t| ACCEPTED.contains(&t.as_str()))
            .map(Self)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnsupportedFileType,
                    "send JPEG, PNG or WebP images, or PDF documents, with their Content-Type",
                )
            })
    }

    /// The MIME type, such as `image/png`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The MIME type, to store with the file.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLink {
    /// Relative to this server; works without a token until `expires_at`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    pub expires: i64,
    pub signature: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantDocument {
    pub id: MerchantDocumentId,
    pub role: DocumentRole,
    pub file: StoredFile,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachDocument {
    /// A file you uploaded and have not attached elsewhere.
    pub file_id: FileId,
    pub role: DocumentRole,
}
