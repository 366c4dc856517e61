//! The rules of files: what an upload must be to be kept, who may see a
//! file, how download links are signed and checked, and merchants'
//! documents.

use std::collections::HashMap;

use chrono::Duration;
use entity::{
    CommunityId, FileId, MerchantDocumentId, MerchantId, MerchantRole, UserId, courier, file,
    merchant_approval, merchant_document, merchant_visit_photo,
};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::storage::Storage;
use super::views::{AttachDocument, ClaimedType, DownloadLink, MerchantDocument};
use crate::auth::Principal;
use crate::auth::access::{COURIER_STAFF, MERCHANT_REVIEWERS};
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// Keeps an upload of the `claimed` type: its content must really be of
/// that type (sniffed), and an image at most `storage.max_image_pixels`.
/// Nothing is stored for a refused file, and the bytes of a file whose row
/// could not be written are removed again.
pub async fn upload<C: ConnectionTrait>(
    db: &C,
    storage: &Storage,
    settings: &Settings,
    uploader: UserId,
    claimed: ClaimedType,
    bytes: &[u8],
) -> ApiResult<file::Model> {
    if bytes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ContentMismatch,
            "the file is empty",
        ));
    }
    let sniffed = infer::get(bytes)
        .map(|k| k.mime_type())
        .unwrap_or("application/octet-stream");
    if sniffed != claimed.as_str() {
        return Err(ApiError::new(
            ErrorCode::ContentMismatch,
            format!(
                "the content is {sniffed}, not the claimed {}",
                claimed.as_str()
            ),
        ));
    }
    let max_pixels = settings.storage.max_image_pixels;
    let (width, height) = if claimed.as_str().starts_with("image/") {
        let size = imagesize::blob_size(bytes)
            .map_err(|_| ApiError::new(ErrorCode::ContentMismatch, "the image cannot be read"))?;
        let pixels = (size.width as u64).saturating_mul(size.height as u64);
        if pixels > max_pixels {
            return Err(ApiError::new(
                ErrorCode::ImageTooLarge,
                format!("the image has {pixels} pixels; at most {max_pixels} are accepted"),
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
    let sha256 = hex::encode(Sha256::digest(bytes));
    let size_bytes = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    storage
        .put(&key, bytes.to_vec())
        .await
        .map_err(ApiError::internal)?;
    let row = file::ActiveModel {
        id: Set(id),
        content_type: Set(claimed.into_string()),
        size_bytes: Set(size_bytes),
        width: Set(width),
        height: Set(height),
        sha256: Set(sha256),
        storage_key: Set(key.clone()),
        uploaded_by: Set(uploader),
        created_at: Set(now),
    }
    .insert(db)
    .await;
    match row {
        Ok(saved) => Ok(saved),
        Err(e) => {
            // No row, no file: remove the orphaned bytes.
            if let Err(cleanup) = storage.delete(&key).await {
                tracing::warn!(error = %format!("{cleanup:#}"), "could not remove an orphaned upload");
            }
            Err(e.into())
        }
    }
}

/// A picture the caller uploaded, for attaching to something as `field`.
pub async fn own_image<C: ConnectionTrait>(
    db: &C,
    uploader: UserId,
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

fn signature(settings: &Settings, id: FileId, expires: i64) -> String {
    // A key of its own, derived from the token secret, so a download
    // signature can never pass for anything else. HMAC zero-pads keys to
    // its block, so the 32-byte derived key padded to 64 is the same key,
    // through the infallible fixed-size constructor.
    let derived = Sha256::new()
        .chain_update(b"anjia file download\0")
        .chain_update(settings.auth.jwt_secret.expose_secret().as_bytes())
        .finalize();
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&derived);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
    mac.update(format!("{id}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `caller` may see `f`: its uploader; for a merchant's document,
/// the merchant's owners (and staff, for photos) and the reviewers of a
/// community the merchant applied to; operator admins.
async fn may_see<C: ConnectionTrait>(
    db: &C,
    caller: &Principal,
    f: &file::Model,
) -> ApiResult<bool> {
    if f.uploaded_by == caller.user.id || caller.is_operator_admin {
        return Ok(true);
    }
    // A product's image is shop-window material: anyone signed in.
    if entity::product_image::Entity::find()
        .filter(entity::product_image::Column::FileId.eq(f.id))
        .one(db)
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
        .one(db)
        .await?
    {
        return Ok(holds(&[photo.community_id], MERCHANT_REVIEWERS));
    }
    // A courier's photo: the employer's side, and the managers and guards of
    // the communities the courier works in.
    if let Some(c) = courier::Entity::find()
        .filter(courier::Column::PhotoFileId.eq(f.id))
        .one(db)
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
                .all(db)
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
        .one(db)
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
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.community_id)
        .collect();
    Ok(holds(&communities, MERCHANT_REVIEWERS))
}

/// A link to file `id` for `caller`, if they may see it; a file they may
/// not see is as absent as one that does not exist (404).
pub async fn link<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    caller: &Principal,
    id: FileId,
) -> ApiResult<DownloadLink> {
    let f = file::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !may_see(db, caller, &f).await? {
        return Err(ApiError::not_found());
    }
    Ok(signed_link(settings, f.id))
}

/// A signed download link for `id`, valid `storage.download_url_ttl_secs`.
/// Hand it only to callers the file's attachment allows.
pub fn signed_link(settings: &Settings, id: FileId) -> DownloadLink {
    let ttl = i64::try_from(settings.storage.download_url_ttl_secs).unwrap_or(300);
    let expires_at = clock::now() + Duration::seconds(ttl);
    let expires = expires_at.timestamp();
    let sig = signature(settings, id, expires);
    DownloadLink {
        url: format!("/files/{id}?expires={expires}&signature={sig}"),
        expires_at,
    }
}

/// The file a signed link names, with its bytes: the signature must be the
/// one [`signed_link`] made (compared in constant time) and the link not
/// expired.
pub async fn download<C: ConnectionTrait>(
    db: &C,
    storage: &Storage,
    settings: &Settings,
    id: FileId,
    expires: i64,
    given: &str,
) -> ApiResult<(file::Model, Vec<u8>)> {
    let expected = signature(settings, id, expires);
    // Constant-time comparison of the two hex strings.
    let matches = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !matches {
        return Err(ApiError::new(
            ErrorCode::LinkInvalid,
            "this link is not valid",
        ));
    }
    if expires <= clock::now().timestamp() {
        return Err(ApiError::new(
            ErrorCode::LinkExpired,
            "this link has expired; ask for a new one",
        ));
    }
    let f = file::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let bytes = storage
        .get(&f.storage_key)
        .await
        .map_err(ApiError::internal)?;
    Ok((f, bytes))
}

// ---------------------------------------------------------------- merchant documents

/// Attaches a file `uploader` uploaded to `merchant` in the given role; a
/// sensitive document must be a PDF or an image.
pub async fn attach_document<C: ConnectionTrait>(
    db: &C,
    uploader: UserId,
    merchant: MerchantId,
    body: AttachDocument,
) -> ApiResult<MerchantDocument> {
    let f = file::Entity::find_by_id(body.file_id)
        .filter(file::Column::UploadedBy.eq(uploader))
        .one(db)
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
        merchant_id: Set(merchant),
        file_id: Set(f.id),
        role: Set(body.role),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    Ok(MerchantDocument {
        id: doc.id,
        role: doc.role,
        file: f.into(),
    })
}

/// A merchant's documents, oldest first.
pub async fn documents_of<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
) -> ApiResult<Vec<MerchantDocument>> {
    let docs = merchant_document::Entity::find()
        .filter(merchant_document::Column::MerchantId.eq(merchant))
        .order_by_asc(merchant_document::Column::Id)
        .all(db)
        .await?;
    let files: HashMap<FileId, file::Model> = file::Entity::find()
        .filter(file::Column::Id.is_in(docs.iter().map(|d| d.file_id)))
        .all(db)
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

/// A merchant's documents, for the reviewers of `community`: only a
/// merchant that applied there (otherwise 404).
pub async fn community_documents<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    merchant: MerchantId,
) -> ApiResult<Vec<MerchantDocument>> {
    // The approval row itself, read here: files sit below the merchant
    // capability and do not call into it.
    merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    documents_of(db, merchant).await
}
