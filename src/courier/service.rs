//! The rules of couriers: registering one (photo, phone and identity
//! sealed, a fresh pass number), who sees which couriers, renewing passes
//! and suspending, and delivery companies with their staff accounts.

use std::collections::HashMap;

use entity::{
    CommunityId, CompanyStaffId, CourierId, CourierStatus, DeliveryCompanyId, EmployerKind,
    MerchantId, UserId, courier, delivery_company, delivery_company_staff, merchant_approval, user,
};
use rand::Rng;
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Select, Set, TransactionSession, TransactionTrait,
};

use super::views::{
    CompanyFields, CompanyStaffFields, CompanyStaffMember, CourierFields, CourierFilter,
    CourierStatusChange, PassExpiry,
};
use crate::files::service::own_image;
use crate::kernel::clock;
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{EXPORT_LIMIT, Page, PageRequest};
use crate::pii::{IdNumber, PhoneNumber, PiiCipher, Sealed};
use crate::user as users;

// ---------------------------------------------------------------- companies

/// Registers a third-party delivery company, its contact phone sealed.
pub async fn create_company<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    fields: CompanyFields,
    by: UserId,
) -> ApiResult<delivery_company::Model> {
    let phone = seal_phone(pii, &fields.contact_phone)?;
    Ok(delivery_company::ActiveModel {
        id: Set(DeliveryCompanyId::new()),
        name: Set(fields.name),
        contact_phone_hash: Set(phone.hash),
        contact_phone_enc: Set(phone.enc),
        contact_phone_masked: Set(phone.masked),
        created_by: Set(by),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

/// A page of the registered delivery companies.
pub async fn list_companies<C: ConnectionTrait>(
    db: &C,
    page: PageRequest,
) -> ApiResult<Page<delivery_company::Model>> {
    Ok(page
        .fetch(
            delivery_company::Entity::find(),
            delivery_company::Column::Id,
            |m| m.id.as_uuid(),
            db,
        )
        .await?)
}

/// Gives the person with this phone number an account of `company`,
/// creating the person if the number is new. The caller forgets the
/// person's cached principal (they now act for the company).
pub async fn add_company_staff<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    pii: &PiiCipher,
    company: DeliveryCompanyId,
    fields: CompanyStaffFields,
) -> ApiResult<CompanyStaffMember> {
    let txn = db::begin_write(db).await?;
    let person = match users::service::find_by_phone(&txn, pii, &fields.phone).await? {
        Some(u) => u,
        None => {
            users::service::create(&txn, pii, fields.display_name, Some(&fields.phone), None)
                .await?
        }
    };
    let row = delivery_company_staff::ActiveModel {
        id: Set(CompanyStaffId::new()),
        company_id: Set(company),
        user_id: Set(person.id),
        created_at: Set(clock::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(CompanyStaffMember {
        id: row.id,
        user_id: person.id,
        display_name: person.display_name,
        phone: person.phone_masked,
        since: row.created_at,
    })
}

/// The company's staff accounts, oldest first.
pub async fn company_staff<C: ConnectionTrait>(
    db: &C,
    company: DeliveryCompanyId,
) -> ApiResult<Vec<CompanyStaffMember>> {
    let rows = delivery_company_staff::Entity::find()
        .filter(delivery_company_staff::Column::CompanyId.eq(company))
        .order_by_asc(delivery_company_staff::Column::Id)
        .all(db)
        .await?;
    let users: HashMap<UserId, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let u = users.get(&r.user_id)?;
            Some(CompanyStaffMember {
                id: r.id,
                user_id: u.id,
                display_name: u.display_name.clone(),
                phone: u.phone_masked.clone(),
                since: r.created_at,
            })
        })
        .collect())
}

// ---------------------------------------------------------------- registering

/// A phone number checked with the request, sealed for storing: its lookup
/// hash, its ciphertext and its masked form.
fn seal_phone(pii: &PiiCipher, phone: &PhoneNumber) -> ApiResult<Sealed> {
    Ok(Sealed {
        hash: phone.lookup_hash(pii),
        enc: pii.encrypt(phone.as_str())?,
        masked: phone.masked(),
    })
}

/// An identity number checked with the request, sealed like a phone number.
fn seal_id_number(pii: &PiiCipher, id: &IdNumber) -> ApiResult<Sealed> {
    Ok(Sealed {
        hash: id.lookup_hash(pii),
        enc: pii.encrypt(id.as_str())?,
        masked: id.masked(),
    })
}

/// `AJ` and ten random digits; unique (the index says so, and a clash is
/// retried).
fn pass_number() -> String {
    format!("AJ{:010}", rand::rng().random_range(0..10_000_000_000u64))
}

/// Who employs a courier being registered.
pub struct Employer {
    pub kind: EmployerKind,
    pub merchant: Option<MerchantId>,
    pub company: Option<DeliveryCompanyId>,
    pub community: Option<CommunityId>,
}

/// Registers a courier with a fresh pass number, active; the phone and the
/// identity number sealed, the photo one `by` uploaded.
pub async fn register<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    employer: Employer,
    fields: CourierFields,
    by: UserId,
) -> ApiResult<courier::Model> {
    let phone = seal_phone(pii, &fields.phone)?;
    let id = seal_id_number(pii, &fields.id_number)?;
    let photo = match fields.photo_file_id {
        Some(f) => Some(own_image(db, by, f, "photo_file_id").await?.id),
        None => None,
    };
    let now = clock::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let row = courier::ActiveModel {
            id: Set(CourierId::new()),
            employer_kind: Set(employer.kind),
            merchant_id: Set(employer.merchant),
            company_id: Set(employer.company),
            community_id: Set(employer.community),
            name: Set(fields.name.clone()),
            phone_hash: Set(phone.hash.clone()),
            phone_enc: Set(phone.enc.clone()),
            phone_masked: Set(phone.masked.clone()),
            id_number_hash: Set(id.hash.clone()),
            id_number_enc: Set(id.enc.clone()),
            id_number_masked: Set(id.masked.clone()),
            photo_file_id: Set(photo),
            pass_number: Set(pass_number()),
            pass_valid_until: Set(fields.pass_valid_until.get()),
            status: Set(CourierStatus::Active),
            status_reason: Set(None),
            registered_by: Set(by),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match row.insert(db).await {
            Ok(saved) => return Ok(saved),
            Err(e) if attempt < 3 && db::is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

// ---------------------------------------------------------------- who sees which couriers

/// Couriers who work in this community: the property's own, those of
/// merchants verified here now, and those of delivery companies (who serve
/// every community).
fn visible_in(community: CommunityId, merchants: Vec<MerchantId>) -> Condition {
    Condition::any()
        .add(courier::Column::CommunityId.eq(community))
        .add(courier::Column::MerchantId.is_in(merchants))
        .add(courier::Column::EmployerKind.eq(EmployerKind::Company))
}

/// The merchants verified in `community` right now.
async fn merchants_of<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
) -> ApiResult<Vec<MerchantId>> {
    let now = clock::now();
    Ok(merchant_approval::Entity::find()
        .select_only()
        .column(merchant_approval::Column::MerchantId)
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .filter(merchant_approval::Column::Status.eq(entity::MerchantStatus::Verified))
        .filter(merchant_approval::Column::VerifiedUntil.gt(now))
        .into_tuple()
        .all(db)
        .await?)
}

/// The couriers working in `community` that match `filter`.
async fn filtered<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    filter: &CourierFilter,
) -> ApiResult<Select<courier::Entity>> {
    let merchants = merchants_of(db, community).await?;
    let mut select = courier::Entity::find().filter(visible_in(community, merchants));
    if let Some(k) = filter.employer_kind {
        select = select.filter(courier::Column::EmployerKind.eq(k));
    }
    if let Some(m) = filter.merchant_id {
        select = select.filter(courier::Column::MerchantId.eq(m));
    }
    if let Some(c) = filter.company_id {
        select = select.filter(courier::Column::CompanyId.eq(c));
    }
    if let Some(s) = filter.status {
        select = select.filter(courier::Column::Status.eq(s));
    }
    Ok(select)
}

/// A page of the couriers working in `community` that match `filter`.
pub async fn community_couriers<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    filter: &CourierFilter,
    page: PageRequest,
) -> ApiResult<Page<courier::Model>> {
    let select = filtered(db, community, filter).await?;
    Ok(page
        .fetch(select, courier::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// The couriers working in `community` that match `filter`, for an export
/// (at most `EXPORT_LIMIT`, oldest first).
pub async fn community_export<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    filter: &CourierFilter,
) -> ApiResult<Vec<courier::Model>> {
    Ok(filtered(db, community, filter)
        .await?
        .order_by_asc(courier::Column::Id)
        .limit(EXPORT_LIMIT)
        .all(db)
        .await?)
}

/// A courier who works in `community`, or 404.
pub async fn visible_courier<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: CourierId,
) -> ApiResult<courier::Model> {
    let merchants = merchants_of(db, community).await?;
    courier::Entity::find_by_id(id)
        .filter(visible_in(community, merchants))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The merchant's couriers, oldest first.
pub async fn merchant_couriers<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
) -> ApiResult<Vec<courier::Model>> {
    Ok(courier::Entity::find()
        .filter(courier::Column::MerchantId.eq(merchant))
        .order_by_asc(courier::Column::Id)
        .all(db)
        .await?)
}

/// The company's couriers, oldest first.
pub async fn company_couriers<C: ConnectionTrait>(
    db: &C,
    company: DeliveryCompanyId,
) -> ApiResult<Vec<courier::Model>> {
    Ok(courier::Entity::find()
        .filter(courier::Column::CompanyId.eq(company))
        .order_by_asc(courier::Column::Id)
        .all(db)
        .await?)
}

// ---------------------------------------------------------------- passes and status

/// One of the property's own couriers of `community`: the only couriers
/// whose status and pass the property changes (merchants and companies
/// manage theirs, which work in other communities too).
async fn own_courier<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: CourierId,
) -> ApiResult<courier::Model> {
    let found = visible_courier(db, community, id).await?;
    if found.community_id != Some(community) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this courier is managed by their merchant or delivery company",
        ));
    }
    Ok(found)
}

/// Suspends one of the property's own couriers (a reason required) or makes
/// them active again. The change is checked once the courier is found.
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: CourierId,
    change: CourierStatusChange,
) -> ApiResult<courier::Model> {
    let current = own_courier(db, community, id).await?;
    let change = change.parse()?;
    let mut m = current.into_active_model();
    m.status = Set(change.status);
    m.status_reason = Set(change.reason);
    m.updated_at = Set(clock::now());
    Ok(m.update(db).await?)
}

/// Renews the pass of one of the property's own couriers.
pub async fn renew_property_pass<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: CourierId,
    until: PassExpiry,
) -> ApiResult<courier::Model> {
    let current = own_courier(db, community, id).await?;
    let mut m = current.into_active_model();
    m.pass_valid_until = Set(until.get());
    m.updated_at = Set(clock::now());
    Ok(m.update(db).await?)
}

/// Renews the pass of one of the merchant's couriers, unless the property
/// suspended them (only the property lifts that).
pub async fn renew_merchant_pass<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    id: CourierId,
    until: PassExpiry,
) -> ApiResult<courier::Model> {
    let current = courier::Entity::find_by_id(id)
        .filter(courier::Column::MerchantId.eq(merchant))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if current.status == CourierStatus::Suspended {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the property suspended this courier; ask the property",
        ));
    }
    let mut m = current.into_active_model();
    m.pass_valid_until = Set(until.get());
    m.updated_at = Set(clock::now());
    Ok(m.update(db).await?)
}
