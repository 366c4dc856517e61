//! The rules of personal data: which duty may see a full value of which
//! kind of subject, where each value is kept, and the access log that
//! records every look.

use entity::{
    CommunityId, CourierId, MerchantId, PiiAccessId, PiiField, PiiSubject, StaffRole, UserId,
    household_member, merchant, merchant_approval, owner_record, pii_access, user,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::CommunityScope;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageRequest};
use crate::kernel::{clock, db};
use crate::pii::PiiCipher;

/// A checked request for one full value: the caller's duty allows it and
/// it says why.
pub struct Reveal {
    pub kind: PiiSubject,
    pub id: Uuid,
    pub field: PiiField,
    pub purpose: String,
}

/// Who may see full values of each kind: the duty that needs them.
fn readers(kind: PiiSubject) -> &'static [StaffRole] {
    match kind {
        PiiSubject::OwnerRecord | PiiSubject::Resident => {
            &[StaffRole::Manager, StaffRole::BuildingManager]
        }
        PiiSubject::Merchant => &[StaffRole::Manager, StaffRole::CustomerService],
        PiiSubject::Courier => &[StaffRole::Manager, StaffRole::GateGuard],
    }
}

/// Whether the caller's roles here include a duty that needs full values of
/// `kind` (403 otherwise).
pub fn may_reveal(scope: &CommunityScope, kind: PiiSubject) -> ApiResult<()> {
    if scope.has_any_role(readers(kind)) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// Decrypts one full value of a subject of `community` for `by` and logs
/// the access (404 when the subject is not of this community or does not
/// hold the value). Returns the value and the log entry's id.
pub async fn reveal<C>(
    db: &C,
    pii: &PiiCipher,
    community: CommunityId,
    by: UserId,
    request: Reveal,
) -> ApiResult<(String, PiiAccessId)>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let sealed = sealed_value(db, community, request.kind, request.id, request.field)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let value = pii.decrypt(&sealed)?;
    let txn = db::begin_write(db).await?;
    let logged = pii_access::ActiveModel {
        id: Set(PiiAccessId::new()),
        community_id: Set(community),
        accessed_by: Set(by),
        subject_kind: Set(request.kind),
        subject_id: Set(request.id),
        field: Set(request.field),
        purpose: Set(request.purpose),
        created_at: Set(clock::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(
        accessed_by = %by,
        subject_kind = ?request.kind,
        subject_id = %request.id,
        field = ?request.field,
        "personal data revealed"
    );
    Ok((value, logged.id))
}

/// The stored ciphertext of the value, if the subject belongs to `community`
/// and holds it.
async fn sealed_value<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    kind: PiiSubject,
    id: Uuid,
    field: PiiField,
) -> ApiResult<Option<String>> {
    Ok(match kind {
        PiiSubject::OwnerRecord => {
            owner_record::Entity::find_by_id(entity::OwnerRecordId::from_uuid(id))
                .filter(owner_record::Column::CommunityId.eq(community))
                .one(db)
                .await?
                .and_then(|o| match field {
                    PiiField::Phone => Some(o.phone_enc),
                    PiiField::IdNumber => o.id_number_enc,
                })
        }
        PiiSubject::Resident => {
            let user_id = UserId::from_uuid(id);
            let now = clock::now();
            let member = household_member::Entity::find()
                .filter(household_member::Column::UserId.eq(user_id))
                .filter(household_member::Column::CommunityId.eq(community))
                .filter(household_member::Column::RemovedAt.is_null())
                .all(db)
                .await?
                .into_iter()
                .find(|m| m.is_active(now));
            match (member, field) {
                (Some(_), PiiField::Phone) => user::Entity::find_by_id(user_id)
                    .one(db)
                    .await?
                    .and_then(|u| u.phone_enc),
                _ => None,
            }
        }
        PiiSubject::Merchant => {
            let merchant_id = MerchantId::from_uuid(id);
            let serves = merchant_approval::Entity::find()
                .filter(merchant_approval::Column::MerchantId.eq(merchant_id))
                .filter(merchant_approval::Column::CommunityId.eq(community))
                .one(db)
                .await?
                .is_some();
            if serves {
                merchant::Entity::find_by_id(merchant_id)
                    .one(db)
                    .await?
                    .map(|m| match field {
                        PiiField::Phone => m.contact_phone_enc,
                        PiiField::IdNumber => m.owner_id_enc,
                    })
            } else {
                None
            }
        }
        PiiSubject::Courier => {
            let id = CourierId::from_uuid(id);
            match crate::courier::service::visible_courier(db, community, id).await {
                Ok(c) => Some(match field {
                    PiiField::Phone => c.phone_enc,
                    PiiField::IdNumber => c.id_number_enc,
                }),
                Err(e) if e.code == ErrorCode::NotFound => None,
                Err(e) => return Err(e),
            }
        }
    })
}

/// One page of the community's access log: who saw which personal data,
/// when and why.
pub async fn access_log<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    page: PageRequest,
) -> ApiResult<Page<pii_access::Model>> {
    let select = pii_access::Entity::find().filter(pii_access::Column::CommunityId.eq(community));
    Ok(page
        .fetch(select, pii_access::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}
