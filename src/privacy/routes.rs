use actix_web::web;
use chrono::{DateTime, Utc};
use entity::{
    CommunityId, PiiAccessId, PiiField, PiiSubject, StaffRole, UserId, household_member, merchant,
    merchant_approval, owner_record, pii_access, user,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::{clock, db, text};
use crate::state::AppState;

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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    pub subject_kind: PiiSubject,
    /// The owner record's, resident's (user), merchant's or courier's id.
    #[schema(value_type = String, format = Uuid)]
    pub subject_id: Uuid,
    pub field: PiiField,
    /// Why it is needed (logged; at most 200 characters).
    pub purpose: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revealed {
    pub value: String,
    /// The access-log entry this created.
    pub access_id: PiiAccessId,
}

/// See one full personal value, logged. Owner records and residents: the
/// manager and building managers; merchants: the manager and customer
/// service; couriers: the manager and gate guards. The subject must belong
/// to this community.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pii/reveal", tag = "privacy",
    params(("community_id" = CommunityId, Path)), request_body = RevealRequest,
    responses(
        (status = 200, body = Revealed),
        (status = 403, description = "Your duty does not need this", body = ErrorBody),
        (status = 404, description = "No such subject here, or no such value held", body = ErrorBody),
    ))]
pub async fn reveal(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    body: Json<RevealRequest>,
) -> ApiResult<web::Json<Revealed>> {
    let body = body.into_inner();
    if !scope.has_any_role(readers(body.subject_kind)) {
        return Err(ApiError::forbidden());
    }
    let purpose = text::required("purpose", &body.purpose, 200)?;
    let community = scope.id();
    let sealed = sealed_value(
        &state,
        community,
        body.subject_kind,
        body.subject_id,
        body.field,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    let value = state.pii.decrypt(&sealed)?;
    let txn = db::begin_write(&state.db).await?;
    let logged = pii_access::ActiveModel {
        id: Set(PiiAccessId::new()),
        community_id: Set(community),
        accessed_by: Set(caller.user.id),
        subject_kind: Set(body.subject_kind),
        subject_id: Set(body.subject_id),
        field: Set(body.field),
        purpose: Set(purpose),
        created_at: Set(clock::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(
        accessed_by = %caller.user.id,
        subject_kind = ?body.subject_kind,
        subject_id = %body.subject_id,
        field = ?body.field,
        "personal data revealed"
    );
    Ok(web::Json(Revealed {
        value,
        access_id: logged.id,
    }))
}

/// The stored ciphertext of the value, if the subject belongs to `community`
/// and holds it.
async fn sealed_value(
    state: &AppState,
    community: CommunityId,
    kind: PiiSubject,
    id: Uuid,
    field: PiiField,
) -> ApiResult<Option<String>> {
    let db = &state.db;
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
            let merchant_id = entity::MerchantId::from_uuid(id);
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
            match crate::courier::routes::visible_courier(
                db,
                community,
                entity::CourierId::from_uuid(id),
            )
            .await
            {
                Ok(c) => Some(match field {
                    PiiField::Phone => c.phone_enc,
                    PiiField::IdNumber => c.id_number_enc,
                }),
                Err(e) if e.code == crate::kernel::error::ErrorCode::NotFound => None,
                Err(e) => return Err(e),
            }
        }
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEntry {
    pub id: PiiAccessId,
    pub accessed_by: UserId,
    pub subject_kind: PiiSubject,
    #[schema(value_type = String, format = Uuid)]
    pub subject_id: Uuid,
    pub field: PiiField,
    pub purpose: String,
    pub at: DateTime<Utc>,
}

/// Who saw which personal data in this community, when and why.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pii/access-log", tag = "privacy",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, body = Page<AccessEntry>)))]
pub async fn access_log(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<AccessEntry>>> {
    let select = pii_access::Entity::find().filter(pii_access::Column::CommunityId.eq(scope.id()));
    let page = query
        .parse()?
        .fetch(
            select,
            pii_access::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    Ok(web::Json(page.map(|e| AccessEntry {
        id: e.id,
        accessed_by: e.accessed_by,
        subject_kind: e.subject_kind,
        subject_id: e.subject_id,
        field: e.field,
        purpose: e.purpose,
        at: e.created_at,
    })))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MANAGER, PII_READERS};
    vec![
        // Personal data
        route::<__path_reveal, _, _>(Staff(PII_READERS), reveal),
        route::<__path_access_log, _, _>(Staff(MANAGER), access_log),
    ]
}
