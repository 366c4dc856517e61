//! The file endpoints: upload, signed download links, and merchants'
//! documents. Handlers only; the rules are in `super::service`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::{CommunityId, FileId, MerchantId};

use super::service;
use super::views::{
    AttachDocument, ClaimedType, DownloadLink, MerchantDocument, SignedQuery, StoredFile,
};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, UploadLimit, declared_length, read_limited};
use crate::state::AppState;

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
    // The claim is checked before a byte of the body is read.
    let claimed = ClaimedType::parse(
        req.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let limit = req
        .app_data::<web::Data<UploadLimit>>()
        .map_or(10 << 20, |l| l.0);
    let bytes = read_limited(payload.into_inner(), declared_length(&req), limit).await?;
    let saved = service::upload(
        &state.db,
        &state.storage,
        &state.settings,
        caller.user.id,
        claimed,
        &bytes,
    )
    .await?;
    Ok(HttpResponse::Created().json(StoredFile::from(saved)))
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
    let link = service::link(&state.db, &state.settings, &caller, path.into_inner()).await?;
    Ok(web::Json(link))
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
    let (f, bytes) = service::download(
        &state.db,
        &state.storage,
        &state.settings,
        path.into_inner(),
        query.expires,
        &query.signature,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(f.content_type)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(bytes))
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
    let doc = service::attach_document(
        &state.db,
        caller.user.id,
        scope.merchant.id,
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Created().json(doc))
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
    Ok(web::Json(
        service::documents_of(&state.db, scope.merchant.id).await?,
    ))
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
    Ok(web::Json(
        service::community_documents(&state.db, scope.id(), path.1).await?,
    ))
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
