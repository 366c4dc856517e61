//! A merchant's profile: registering one (its owner on its staff, an
//! application to each community named), reading it with its standing,
//! and changing it (a verified detail changed goes back to review).

use entity::{
    MerchantId, MerchantRole, MerchantStaffId, MerchantStatus, UserId, community, merchant,
    merchant_approval, merchant_staff,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use super::{Action, apply, next, transition};
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult};
use crate::merchant::views::{Merchant, MerchantEdit, NewMerchant};
use crate::pii::PiiCipher;

/// Creates a merchant owned by `owner`, applying to each named community,
/// in the caller's transaction.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    body: NewMerchant,
    owner: UserId,
) -> ApiResult<(merchant::Model, Vec<merchant_approval::Model>)> {
    let profile = body.parse(pii)?;
    for (i, c) in profile.community_ids.iter().enumerate() {
        if community::Entity::find_by_id(*c).one(db).await?.is_none() {
            return Err(ApiError::invalid_field(
                &format!("community_ids[{i}]"),
                "no such community",
            ));
        }
    }
    let now = clock::now();
    let created = merchant::ActiveModel {
        id: Set(MerchantId::new()),
        shop_name: Set(profile.shop_name),
        business_scope: Set(profile.business_scope),
        categories: Set(profile.categories),
        location_kind: Set(profile.location_kind),
        address: Set(profile.address),
        contact_phone_hash: Set(profile.contact_phone.hash),
        contact_phone_enc: Set(profile.contact_phone.enc),
        contact_phone_masked: Set(profile.contact_phone.masked),
        owner_name: Set(profile.owner_name),
        owner_id_hash: Set(profile.owner_id.hash),
        owner_id_enc: Set(profile.owner_id.enc),
        owner_id_masked: Set(profile.owner_id.masked),
        created_by: Set(owner),
        commission_bp: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    add_staff_row(db, created.id, owner, MerchantRole::Owner).await?;
    let mut approvals = Vec::new();
    let mut seen = Vec::new();
    for c in profile.community_ids {
        if !seen.contains(&c) {
            seen.push(c);
            approvals.push(apply(db, created.id, c).await?);
        }
    }
    Ok((created, approvals))
}

/// Registers a merchant (商家入驻) in one transaction: [`create`].
pub async fn register(
    db: &DatabaseConnection,
    pii: &PiiCipher,
    body: NewMerchant,
    owner: UserId,
) -> ApiResult<Merchant> {
    let txn = begin_write(db).await?;
    let (created, approvals) = create(&txn, pii, body, owner).await?;
    txn.commit().await?;
    Ok(Merchant::new(created, approvals))
}

/// Puts `user` on the merchant's staff as `role`.
pub async fn add_staff_row<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    user: UserId,
    role: MerchantRole,
) -> ApiResult<merchant_staff::Model> {
    Ok(merchant_staff::ActiveModel {
        id: Set(MerchantStaffId::new()),
        merchant_id: Set(merchant),
        user_id: Set(user),
        role: Set(role),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

async fn approvals_of<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
) -> ApiResult<Vec<merchant_approval::Model>> {
    Ok(merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .order_by_asc(merchant_approval::Column::Id)
        .all(db)
        .await?)
}

/// The merchant's profile with its standing in every community.
pub async fn profile(db: &DatabaseConnection, m: merchant::Model) -> ApiResult<Merchant> {
    let approvals = approvals_of(db, m.id).await?;
    Ok(Merchant::new(m, approvals))
}

/// The profiles of the merchants `ids`.
pub async fn profiles(db: &DatabaseConnection, ids: Vec<MerchantId>) -> ApiResult<Vec<Merchant>> {
    let merchants = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(ids))
        .order_by_asc(merchant::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(merchants.len());
    for m in merchants {
        out.push(profile(db, m).await?);
    }
    Ok(out)
}

/// Writes `edit` over `current`, in the caller's transaction. A verified
/// detail changed (name, scope, categories, location, address, owner) sends
/// the merchant back to review in every community where it was verified,
/// expired or rejected; a suspension stays. Returns the merchant as
/// written and the standings sent back to review.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: &merchant::Model,
    edit: MerchantEdit,
) -> ApiResult<(merchant::Model, Vec<merchant_approval::Model>)> {
    let mut model = current.clone().into_active_model();
    let mut reviewed_change = false;
    if let Some(v) = edit.shop_name {
        reviewed_change |= v != current.shop_name;
        model.shop_name = Set(v);
    }
    if let Some(v) = edit.business_scope {
        reviewed_change |= v != current.business_scope;
        model.business_scope = Set(v);
    }
    if let Some(v) = edit.categories {
        reviewed_change |= v != current.categories;
        model.categories = Set(v);
    }
    if let Some(v) = edit.location_kind {
        reviewed_change |= v != current.location_kind;
        model.location_kind = Set(v);
    }
    if let Some(v) = edit.address {
        reviewed_change |= v != current.address;
        model.address = Set(v);
    }
    if let Some(v) = edit.owner_name {
        reviewed_change |= v != current.owner_name;
        model.owner_name = Set(v);
    }
    if let Some(id) = edit.owner_id {
        reviewed_change |= id.hash != current.owner_id_hash;
        model.owner_id_hash = Set(id.hash);
        model.owner_id_enc = Set(id.enc);
        model.owner_id_masked = Set(id.masked);
    }
    if let Some(phone) = edit.contact_phone {
        model.contact_phone_hash = Set(phone.hash);
        model.contact_phone_enc = Set(phone.enc);
        model.contact_phone_masked = Set(phone.masked);
    }
    model.updated_at = Set(clock::now());
    let updated = model.update(db).await?;
    let mut resubmitted = Vec::new();
    if reviewed_change {
        let now = clock::now();
        for a in approvals_of(db, updated.id).await? {
            if next(a.effective_status(now), Action::Resubmit).is_ok()
                && a.status != MerchantStatus::Applied
            {
                resubmitted.push(transition(db, &a, Action::Resubmit, None, None, None).await?);
            }
        }
    }
    Ok((updated, resubmitted))
}
