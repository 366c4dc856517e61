use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    CommunityId, DocumentRole, FileId, MerchantDocumentId, MerchantId, MerchantRole, courier, file,
    merchant_approval, merchant_document, merchant_visit_photo,
};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::auth::access::{COURIER_STAFF, MERCHANT_REVIEWERS};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, UploadLimit, declared_length, read_limited};
use crate::state::AppState;

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

fn claimed_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
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
}

/// Upload a file: the raw bytes as the body, with its `Content-Type`
/// (`image/jpeg`, `image/png`, `image/webp` or `application/pdf`). The type
/// is sniffed from the content and must match the claim; images are
/// limited in pixels, every file in bytes (`server.upload_limit_bytes`).
/// Nothing is stored for a refused file. Attach it afterwards (for example
/// as a merchant's document).
#[utoipa::path(post, path = "/api/v1/files", tag = "files",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes, sent with its real Content-Type"),
    responses(
        (status = 201, body = StoredFile),
        (status = 413, body = ErrorBody),
        (status = 415, description = "Not an accepted type", body = ErrorBody),
        (status = 422, description = "Content does not match the claimed type, or too many pixels", body = ErrorBody),
    ))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let claimed = claimed_type(&req)
        .filter(|t| ACCEPTED.contains(&t.as_str()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnsupportedFileType,
                "send JPEG, PNG or WebP images, or PDF documents, with their Content-Type",
            )
        })?;
    let limit = req
        .app_data::<web::Data<UploadLimit>>()
        .map_or(10 << 20, |l| l.0);
    let bytes = read_limited(payload.into_inner(), declared_length(&req), limit).await?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ContentMismatch,
            "the file is empty",
        ));
    }
    let sniffed = infer::get(&bytes)
        .map(|k| k.mime_type())
        .unwrap_or("application/octet-stream");
    if sniffed != claimed {
        return Err(ApiError::new(
            ErrorCode::ContentMismatch,
            format!("the content is {sniffed}, not the claimed {claimed}"),
        ));
    }
    let (width, height) = if claimed.starts_with("image/") {
        let size = imagesize::blob_size(&bytes)
            .map_err(|_| ApiError::new(ErrorCode::ContentMismatch, "the image cannot be read"))?;
        let pixels = (size.width as u64).saturating_mul(size.height as u64);
        if pixels > state.settings.storage.max_image_pixels {
            return Err(ApiError::new(
                ErrorCode::ImageTooLarge,
                format!(
                    "the image has {pixels} pixels; at most {} are accepted",
                    state.settings.storage.max_image_pixels
                ),
            ));
        }
        (
            i32::try_from(size.width).ok(),
            i32::try_from(size.height).ok(),
        )
    } else {
        (None, None)
    };
    let id = FileId::new();
    let now = clock::now();
    // The key holds nothing the client chose.
    let key = format!("files/{}/{id}", now.format("%Y/%m"));
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let size_bytes = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    state
        .storage
        .put(&key, bytes.to_vec())
        .await
        .map_err(ApiError::internal)?;
    let row = file::ActiveModel {
        id: Set(id),
        content_type: Set(claimed),
        size_bytes: Set(size_bytes),
        width: Set(width),
        height: Set(height),
        sha256: Set(sha256),
        storage_key: Set(key.clone()),
        uploaded_by: Set(caller.user.id),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await;
    match row {
        Ok(saved) => Ok(HttpResponse::Created().json(StoredFile::from(saved))),
        Err(e) => {
            // No row, no file: remove the orphaned bytes.
            if let Err(cleanup) = state.storage.delete(&key).await {
                tracing::warn!(error = %format!("{cleanup:#}"), "could not remove an orphaned upload");
            }
            Err(e.into())
        }
    }
}

/// A picture the caller uploaded, for attaching to something as `field`.
pub async fn own_image<C: sea_orm::ConnectionTrait>(
    db: &C,
    uploader: entity::UserId,
    id: FileId,
    field: &str,
) -> ApiResult<file::Model> {
    let f = file::Entity::find_by_id(id)
        .filter(file::Column::UploadedBy.eq(uploader))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::invalid_field(field, "no such file of yours"))?;
    if !f.content_type.starts_with("image/") {
        return Err(ApiError::invalid_field(field, "must be an image"));
    }
    Ok(f)
}

// ---------------------------------------------------------------- signed links

fn signature(state: &AppState, id: FileId, expires: i64) -> String {
    // A key of its own, derived from the token secret, so a download
    // signature can never pass for anything else. HMAC zero-pads keys to
    // its block, so the 32-byte derived key padded to 64 is the same key,
    // through the infallible fixed-size constructor.
    let derived = Sha256::new()
        .chain_update(b"anjia file download\0")
        .chain_update(state.settings.auth.jwt_secret.expose_secret().as_bytes())
        .finalize();
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&derived);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
    mac.update(format!("{id}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLink {
    /// Relative to this server; works without a token until `expires_at`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Whether `caller` may see `f`: its uploader; for a merchant's document,
/// the merchant's owners (and staff, for photos) and the reviewers of a
/// community the merchant applied to; operator admins.
async fn may_see(state: &AppState, caller: &Caller, f: &file::Model) -> ApiResult<bool> {
    if f.uploaded_by == caller.user.id || caller.is_operator_admin {
        return Ok(true);
    }
    // A product's image is shop-window material: anyone signed in.
    if entity::product_image::Entity::find()
        .filter(entity::product_image::Column::FileId.eq(f.id))
        .one(&state.db)
        .await?
        .is_some()
    {
        return Ok(true);
    }
    let holds = |communities: &[CommunityId], roles: &[entity::StaffRole]| {
        caller
            .staff_roles
            .iter()
            .any(|r| communities.contains(&r.community_id) && roles.contains(&r.role))
    };
    // A verification visit's photo: the reviewers of that community.
    if let Some(photo) = merchant_visit_photo::Entity::find()
        .filter(merchant_visit_photo::Column::FileId.eq(f.id))
        .one(&state.db)
        .await?
    {
        return Ok(holds(&[photo.community_id], MERCHANT_REVIEWERS));
    }
    // A courier's photo: the employer's side, and the managers and guards of
    // the communities the courier works in.
    if let Some(c) = courier::Entity::find()
        .filter(courier::Column::PhotoFileId.eq(f.id))
        .one(&state.db)
        .await?
    {
        if c.merchant_id
            .is_some_and(|m| caller.merchant_roles.iter().any(|(mm, _)| *mm == m))
            || c.company_id
                .is_some_and(|co| caller.companies.contains(&co))
        {
            return Ok(true);
        }
        let communities: Vec<CommunityId> = match (c.community_id, c.merchant_id) {
            (Some(community), _) => vec![community],
            (None, Some(m)) => merchant_approval::Entity::find()
                .filter(merchant_approval::Column::MerchantId.eq(m))
                .all(&state.db)
                .await?
                .into_iter()
                .map(|a| a.community_id)
                .collect(),
            // A delivery company's courier works everywhere.
            (None, None) => caller.staff_roles.iter().map(|r| r.community_id).collect(),
        };
        return Ok(holds(&communities, COURIER_STAFF));
    }
    let Some(doc) = merchant_document::Entity::find()
        .filter(merchant_document::Column::FileId.eq(f.id))
        .one(&state.db)
        .await?
    else {
        return Ok(false);
    };
    match caller
        .merchant_roles
        .iter()
        .find(|(m, _)| *m == doc.merchant_id)
        .map(|(_, r)| *r)
    {
        Some(MerchantRole::Owner) => return Ok(true),
        Some(MerchantRole::Staff) if !doc.role.is_sensitive() => return Ok(true),
        _ => {}
    }
    let communities: Vec<CommunityId> = merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(doc.merchant_id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| a.community_id)
        .collect();
    Ok(holds(&communities, MERCHANT_REVIEWERS))
}

/// A short-lived link to download a file you may see (others get 404).
#[utoipa::path(get, path = "/api/v1/files/{file_id}/link", tag = "files",
    params(("file_id" = FileId, Path)),
    responses((status = 200, body = DownloadLink), (status = 404, body = ErrorBody)))]
pub async fn link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<FileId>,
) -> ApiResult<web::Json<DownloadLink>> {
    let f = file::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !may_see(&state, &caller, &f).await? {
        return Err(ApiError::not_found());
    }
    Ok(web::Json(signed_link(&state, f.id)))
}

/// A signed download link for `id`, valid `storage.download_url_ttl_secs`.
/// Hand it only to callers the file's attachment allows.
pub fn signed_link(state: &AppState, id: FileId) -> DownloadLink {
    let ttl = i64::try_from(state.settings.storage.download_url_ttl_secs).unwrap_or(300);
    let expires_at = clock::now() + chrono::Duration::seconds(ttl);
    let expires = expires_at.timestamp();
    let sig = signature(state, id, expires);
    DownloadLink {
        url: format!("/files/{id}?expires={expires}&signature={sig}"),
        expires_at,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    pub expires: i64,
    pub signature: String,
}

/// Download through a signed link from `/api/v1/files/{file_id}/link`.
#[utoipa::path(get, path = "/files/{file_id}", tag = "files",
    params(("file_id" = FileId, Path), SignedQuery),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 403, description = "Bad signature", body = ErrorBody),
        (status = 410, description = "Expired link", body = ErrorBody),
    ))]
pub async fn download(
    state: web::Data<AppState>,
    path: web::Path<FileId>,
    query: web::Query<SignedQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let expected = signature(&state, id, query.expires);
    // Constant-time comparison of the two hex strings.
    let matches = expected.len() == query.signature.len()
        && expected
            .bytes()
            .zip(query.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !matches {
        return Err(ApiError::new(
            ErrorCode::LinkInvalid,
            "this link is not valid",
        ));
    }
    if query.expires <= clock::now().timestamp() {
        return Err(ApiError::new(
            ErrorCode::LinkExpired,
            "this link has expired; ask for a new one",
        ));
    }
    let f = file::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let bytes = state
        .storage
        .get(&f.storage_key)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(f.content_type)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(bytes))
}

// ---------------------------------------------------------------- merchant documents

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

/// Attach an uploaded file to the merchant: a photo, the lease contract
/// (租赁合同) or the owner's identity document.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/documents", tag = "files",
    params(("merchant_id" = MerchantId, Path)), request_body = AttachDocument,
    responses((status = 201, body = MerchantDocument), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn attach_merchant_document(
    state: web::Data<AppState>,
    caller: Caller,
    scope: MerchantScope,
    body: Json<AttachDocument>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let f = file::Entity::find_by_id(body.file_id)
        .filter(file::Column::UploadedBy.eq(caller.user.id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::invalid_field("file_id", "no such file of yours"))?;
    if body.role.is_sensitive()
        && f.content_type != "application/pdf"
        && !f.content_type.starts_with("image/")
    {
        return Err(ApiError::invalid_field(
            "file_id",
            "documents are PDF or images",
        ));
    }
    let doc = merchant_document::ActiveModel {
        id: Set(MerchantDocumentId::new()),
        merchant_id: Set(scope.merchant.id),
        file_id: Set(f.id),
        role: Set(body.role),
        created_at: Set(clock::now()),
    }
    .insert(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(MerchantDocument {
        id: doc.id,
        role: doc.role,
        file: f.into(),
    }))
}

async fn documents_of(state: &AppState, merchant: MerchantId) -> ApiResult<Vec<MerchantDocument>> {
    let docs = merchant_document::Entity::find()
        .filter(merchant_document::Column::MerchantId.eq(merchant))
        .order_by_asc(merchant_document::Column::Id)
        .all(&state.db)
        .await?;
    let files: std::collections::HashMap<FileId, file::Model> = file::Entity::find()
        .filter(file::Column::Id.is_in(docs.iter().map(|d| d.file_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    Ok(docs
        .into_iter()
        .filter_map(|d| {
            Some(MerchantDocument {
                id: d.id,
                role: d.role,
                file: files.get(&d.file_id)?.clone().into(),
            })
        })
        .collect())
}

/// The merchant's documents (links come from `/api/v1/files/{id}/link`,
/// which shows sensitive ones to owners only).
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/documents", tag = "files",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Vec<MerchantDocument>)))]
pub async fn merchant_documents(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Vec<MerchantDocument>>> {
    Ok(web::Json(documents_of(&state, scope.merchant.id).await?))
}

/// A merchant's documents, for the reviewers of a community it applied to.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/merchants/{merchant_id}/documents", tag = "files",
    params(("community_id" = CommunityId, Path), ("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Vec<MerchantDocument>), (status = 404, body = ErrorBody)))]
pub async fn community_merchant_documents(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, MerchantId)>,
) -> ApiResult<web::Json<Vec<MerchantDocument>>> {
    crate::merchant::service::find_approval(&state.db, path.1, scope.id()).await?;
    Ok(web::Json(documents_of(&state, path.1).await?))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MERCHANT_ANY, MERCHANT_OWNER, MERCHANT_REVIEWERS};
    vec![
        // Files: upload, signed download links, merchant documents
        route::<__path_upload, _, _>(SignedIn, upload),
        route::<__path_link, _, _>(SignedIn, link),
        // The signature in the query is the authorization.
        route::<__path_download, _, _>(Public, download),
        route::<__path_attach_merchant_document, _, _>(Merchant(MERCHANT_OWNER), attach_merchant_document),
        route::<__path_merchant_documents, _, _>(Merchant(MERCHANT_ANY), merchant_documents),
        route::<__path_community_merchant_documents, _, _>(Staff(MERCHANT_REVIEWERS), community_merchant_documents),
    ]
}
