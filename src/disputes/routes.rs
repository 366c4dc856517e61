//! Disputes over HTTP: residents open and follow them, merchants answer,
//! customer service decide. See the module above for the rules.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    ActorRole, CommunityId, DisputeAction, DisputeId, DisputeStatus, Fen, FileId, HouseholdId,
    MerchantId, OrderId, OrderStatus, RefundTo, UserId, dispute, dispute_event, dispute_photo,
    order,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Opening, Step};
use crate::auth::access::DISPUTE_STAFF;
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::files::routes::DownloadLink;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::orders::service::Actor;
use crate::state::AppState;

// ---------------------------------------------------------------- views

#[derive(Debug, Serialize, ToSchema)]
pub struct Dispute {
    pub id: DisputeId,
    pub order_id: OrderId,
    pub community_id: CommunityId,
    /// Absent when the property sells the order.
    pub merchant_id: Option<MerchantId>,
    pub household_id: HouseholdId,
    pub opened_by: UserId,
    pub status: DisputeStatus,
    pub reason: String,
    /// Fen: what the resident asks back.
    pub requested_refund: Fen,
    pub refund_to: RefundTo,
    /// Fen: the merchant's offer, if one was made.
    pub proposed_refund: Option<Fen>,
    /// Fen: what was refunded in the end (once resolved).
    pub refund_amount: Option<Fen>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<dispute::Model> for Dispute {
    fn from(d: dispute::Model) -> Self {
        Self {
            id: d.id,
            order_id: d.order_id,
            community_id: d.community_id,
            merchant_id: d.merchant_id,
            household_id: d.household_id,
            opened_by: d.opened_by,
            status: d.status,
            reason: d.reason,
            requested_refund: d.requested_refund,
            refund_to: d.refund_to,
            proposed_refund: d.proposed_refund,
            refund_amount: d.refund_amount,
            escalated_at: d.escalated_at,
            resolved_at: d.resolved_at,
            opened_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputePhoto {
    pub file_id: FileId,
    /// A short-lived download link.
    pub link: DownloadLink,
}

/// One step of a dispute's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeEvent {
    /// Absent for the system (automatic escalation).
    pub actor_id: Option<UserId>,
    pub actor_role: ActorRole,
    pub action: DisputeAction,
    /// Fen: the refund asked for, offered or decided at this step.
    pub amount: Option<Fen>,
    pub note: Option<String>,
    pub photos: Vec<DisputePhoto>,
    pub at: DateTime<Utc>,
}

/// A dispute, its order and its whole history.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeDetail {
    pub dispute: Dispute,
    pub order_no: String,
    /// Fen.
    pub order_amount: Fen,
    pub order_status: OrderStatus,
    /// Fen: what escrow still holds for the order.
    pub held: Fen,
    /// Oldest first.
    pub events: Vec<DisputeEvent>,
}

async fn detail(state: &AppState, d: dispute::Model) -> ApiResult<DisputeDetail> {
    let o = order::Entity::find_by_id(d.order_id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let held = super::held(&state.db, &o).await?;
    let photos = dispute_photo::Entity::find()
        .filter(dispute_photo::Column::DisputeId.eq(d.id))
        .order_by_asc(dispute_photo::Column::Id)
        .all(&state.db)
        .await?;
    let events = dispute_event::Entity::find()
        .filter(dispute_event::Column::DisputeId.eq(d.id))
        .order_by_asc(dispute_event::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|e| DisputeEvent {
            photos: photos
                .iter()
                .filter(|p| p.event_id == e.id)
                .map(|p| DisputePhoto {
                    file_id: p.file_id,
                    link: crate::files::routes::signed_link(&state.settings, p.file_id),
                })
                .collect(),
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            action: e.action,
            amount: e.amount,
            note: e.note,
            at: e.created_at,
        })
        .collect();
    Ok(DisputeDetail {
        dispute: d.into(),
        order_no: o.order_no,
        order_amount: o.amount,
        order_status: o.status,
        held,
        events,
    })
}

/// One page of `select`, oldest first.
async fn page(
    state: &AppState,
    select: sea_orm::Select<dispute::Entity>,
    query: &PageQuery,
) -> ApiResult<web::Json<Page<Dispute>>> {
    let page = query
        .parse()?
        .fetch(select, dispute::Column::Id, |d| d.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(Dispute::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

// ---------------------------------------------------------------- input

/// At most 9 photos, each an image the caller uploaded.
async fn own_photos(state: &AppState, user: UserId, ids: &[FileId]) -> ApiResult<Vec<FileId>> {
    if ids.len() > 9 {
        return Err(ApiError::invalid_field(
            "photo_file_ids",
            "at most 9 photos",
        ));
    }
    let mut photos = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if photos.contains(id) {
            return Err(ApiError::invalid_field(
                "photo_file_ids",
                "list each photo once",
            ));
        }
        let field = format!("photo_file_ids[{i}]");
        photos.push(
            crate::files::routes::own_image(&state.db, user, *id, &field)
                .await?
                .id,
        );
    }
    Ok(photos)
}

fn note(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => crate::kernel::text::required(field, v, 500).map(Some),
    }
}

fn required_note(value: Option<&str>) -> ApiResult<String> {
    note("note", value)?.ok_or_else(|| ApiError::invalid_field("note", "say why"))
}

// ---------------------------------------------------------------- residents

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDispute {
    /// What went wrong (at most 500 characters).
    pub reason: String,
    /// Fen to ask back; everything the order holds when absent.
    pub refund: Option<Fen>,
    /// `original` (default): back the way it was paid; `wallet`: into the
    /// household's wallet.
    #[serde(default)]
    pub refund_to: RefundTo,
    /// Up to 9 images you uploaded (`POST /api/v1/files`).
    #[serde(default)]
    pub photo_file_ids: Vec<FileId>,
}

/// Dispute an order of your household (售后): after the merchant took it,
/// within `payment.dispute_window_days` of its fulfilment and before it
/// settles. Its money stays in escrow until the dispute ends. One dispute
/// per order.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/dispute", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = NewDispute,
    responses((status = 201, body = DisputeDetail),
        (status = 409, description = "`invalid_transition`, `dispute_window_closed`, `dispute_exists`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn open(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<NewDispute>,
) -> ApiResult<HttpResponse> {
    let o = crate::orders::routes::own_order(&state, &scope, path.1).await?;
    let body = body.into_inner();
    let reason = crate::kernel::text::required("reason", &body.reason, 500)?;
    let photos = own_photos(&state, caller.user.id, &body.photo_file_ids).await?;
    let d = super::open(
        &state.db,
        &state.settings,
        o.id,
        caller.user.id,
        Opening {
            reason,
            refund: body.refund,
            refund_to: body.refund_to,
            photos,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(detail(&state, d).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeFilter {
    pub status: Option<DisputeStatus>,
}

/// Disputes here, oldest first: every one for customer service and the
/// manager, your households' for residents.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/disputes", tag = "disputes",
    params(("community_id" = CommunityId, Path), DisputeFilter, PageQuery),
    responses((status = 200, body = Page<Dispute>)))]
pub async fn list(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<DisputeFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Dispute>>> {
    let mut select = dispute::Entity::find().filter(dispute::Column::CommunityId.eq(scope.id()));
    if !scope.has_any_role(DISPUTE_STAFF) {
        select = select.filter(
            dispute::Column::HouseholdId.is_in(scope.memberships.iter().map(|m| m.household_id)),
        );
    }
    if let Some(s) = filter.status {
        select = select.filter(dispute::Column::Status.eq(s));
    }
    page(&state, select, &query).await
}

/// The dispute if the caller may see it here: their household's, or any
/// for dispute staff.
async fn visible(
    state: &AppState,
    scope: &CommunityScope,
    id: DisputeId,
) -> ApiResult<dispute::Model> {
    let d = dispute::Entity::find_by_id(id)
        .filter(dispute::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if scope.has_any_role(DISPUTE_STAFF) || scope.membership(d.household_id).is_some() {
        Ok(d)
    } else {
        Err(ApiError::not_found())
    }
}

/// A dispute with its whole history.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/disputes/{dispute_id}", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("dispute_id" = DisputeId, Path)),
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, DisputeId)>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let d = visible(&state, &scope, path.1).await?;
    Ok(web::Json(detail(&state, d).await?))
}

/// What the resident does next.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResidentAction {
    /// Take the merchant's offer: it is refunded at once.
    AcceptProposal,
    /// Ask the property's customer service to decide.
    Escalate,
    /// Drop the dispute: the order settles as usual.
    Withdraw,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentReply {
    pub action: ResidentAction,
    /// At most 500 characters.
    pub note: Option<String>,
    /// Up to 9 more images you uploaded.
    #[serde(default)]
    pub photo_file_ids: Vec<FileId>,
}

/// Answer the merchant: take its offer, escalate to customer service, or
/// withdraw.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/disputes/{dispute_id}/reply", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("dispute_id" = DisputeId, Path)), request_body = ResidentReply,
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reply(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, DisputeId)>,
    body: Json<ResidentReply>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let body = body.into_inner();
    crate::orders::routes::require_resident(&scope)?;
    let d = dispute::Entity::find_by_id(path.1)
        .filter(dispute::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .filter(|d| scope.membership(d.household_id).is_some())
        .ok_or_else(ApiError::not_found)?;
    let note = note("note", body.note.as_deref())?;
    let photos = own_photos(&state, caller.user.id, &body.photo_file_ids).await?;
    let (to, action, amount) = match body.action {
        ResidentAction::AcceptProposal => {
            let offer = d
                .proposed_refund
                .filter(|_| d.status == DisputeStatus::Proposed);
            let Some(offer) = offer else {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    "there is no offer from the merchant to accept",
                ));
            };
            (
                DisputeStatus::Resolved,
                DisputeAction::ProposalAccepted,
                Some(offer),
            )
        }
        ResidentAction::Escalate => (DisputeStatus::Escalated, DisputeAction::Escalated, None),
        ResidentAction::Withdraw => (DisputeStatus::Withdrawn, DisputeAction::Withdrawn, None),
    };
    let txn = begin_write(&state.db).await?;
    let moved = crate::flows::disputes::apply(
        &txn,
        &state.settings,
        &d,
        to,
        Step {
            action,
            actor: Actor::resident(caller.user.id),
            amount,
            note,
            photos: &photos,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(detail(&state, moved).await?))
}

/// What customer service decide.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything the order holds goes back; the order is refunded.
    FullRefund,
    /// `refund` fen go back; the rest settles to the merchant.
    PartialRefund,
    /// Nothing goes back; the order settles to the merchant.
    NoRefund,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub outcome: Outcome,
    /// Fen; required for `partial_refund` (less than the order holds).
    pub refund: Option<Fen>,
    /// Why (at most 500 characters); the resident and the merchant see it.
    pub note: String,
}

/// Decide an escalated dispute (customer service, the manager): the refund
/// is made at once and the rest settles to the merchant.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/disputes/{dispute_id}/decision", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("dispute_id" = DisputeId, Path)), request_body = Decision,
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition` (not escalated)", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, DisputeId)>,
    body: Json<Decision>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let body = body.into_inner();
    let d = visible(&state, &scope, path.1).await?;
    let note = required_note(Some(&body.note))?;
    if d.status != DisputeStatus::Escalated {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "customer service decide escalated disputes; this one is {}",
                d.status
            ),
        ));
    }
    let o = order::Entity::find_by_id(d.order_id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let held = super::held(&state.db, &o).await?;
    let refund = match (body.outcome, body.refund) {
        (Outcome::FullRefund, _) => held,
        (Outcome::NoRefund, _) => Fen::ZERO,
        (Outcome::PartialRefund, Some(r)) if r > Fen::ZERO && r < held => r,
        (Outcome::PartialRefund, _) => {
            return Err(ApiError::invalid_field(
                "refund",
                format!(
                    "a partial refund is more than 0 and less than {} yuan",
                    held.yuan()
                ),
            ));
        }
    };
    let txn = begin_write(&state.db).await?;
    let moved = crate::flows::disputes::apply(
        &txn,
        &state.settings,
        &d,
        DisputeStatus::Resolved,
        Step {
            action: DisputeAction::Decided,
            actor: Actor::staff(caller.user.id),
            amount: Some(refund),
            note: Some(note),
            photos: &[],
        },
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(detail(&state, moved).await?))
}

// ---------------------------------------------------------------- merchants

/// The merchant's disputes, oldest first.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/disputes", tag = "disputes",
    params(("merchant_id" = MerchantId, Path), DisputeFilter, PageQuery),
    responses((status = 200, body = Page<Dispute>)))]
pub async fn merchant_list(
    state: web::Data<AppState>,
    scope: MerchantScope,
    filter: web::Query<DisputeFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Dispute>>> {
    let mut select =
        dispute::Entity::find().filter(dispute::Column::MerchantId.eq(scope.merchant.id));
    if let Some(s) = filter.status {
        select = select.filter(dispute::Column::Status.eq(s));
    }
    page(&state, select, &query).await
}

async fn merchant_dispute(
    state: &AppState,
    scope: &MerchantScope,
    id: DisputeId,
) -> ApiResult<dispute::Model> {
    dispute::Entity::find_by_id(id)
        .filter(dispute::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// One of the merchant's disputes, with its whole history.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/disputes/{dispute_id}", tag = "disputes",
    params(("merchant_id" = MerchantId, Path), ("dispute_id" = DisputeId, Path)),
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody)))]
pub async fn merchant_get(
    state: web::Data<AppState>,
    scope: MerchantScope,
    path: web::Path<(MerchantId, DisputeId)>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let d = merchant_dispute(&state, &scope, path.1).await?;
    Ok(web::Json(detail(&state, d).await?))
}

/// The merchant's answer.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MerchantAction {
    /// Refund what the resident asked for, at once.
    Accept,
    /// Offer a smaller refund (`refund`); the resident takes it or escalates.
    Propose,
    /// Refuse (say why in `note`); the resident may escalate.
    Reject,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantAnswer {
    pub action: MerchantAction,
    /// Fen; required to propose (more than 0, less than asked for).
    pub refund: Option<Fen>,
    /// Required to propose or reject (at most 500 characters).
    pub note: Option<String>,
    /// Up to 9 images you uploaded.
    #[serde(default)]
    pub photo_file_ids: Vec<FileId>,
}

/// Answer a dispute opened on one of the merchant's orders: accept,
/// propose a smaller refund, or reject.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/disputes/{dispute_id}/answer", tag = "disputes",
    params(("merchant_id" = MerchantId, Path), ("dispute_id" = DisputeId, Path)), request_body = MerchantAnswer,
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition` (already answered)", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn answer(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    path: web::Path<(MerchantId, DisputeId)>,
    body: Json<MerchantAnswer>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let body = body.into_inner();
    let d = merchant_dispute(&state, &scope, path.1).await?;
    let photos = own_photos(&state, caller.user.id, &body.photo_file_ids).await?;
    let (to, action, amount, note) = match body.action {
        MerchantAction::Accept => (
            DisputeStatus::Resolved,
            DisputeAction::Accepted,
            Some(d.requested_refund),
            note("note", body.note.as_deref())?,
        ),
        MerchantAction::Propose => {
            let refund = body
                .refund
                .filter(|r| *r > Fen::ZERO && *r < d.requested_refund)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "refund",
                        format!(
                            "an offer is more than 0 and less than the {} yuan asked for",
                            d.requested_refund.yuan()
                        ),
                    )
                })?;
            (
                DisputeStatus::Proposed,
                DisputeAction::Proposed,
                Some(refund),
                Some(required_note(body.note.as_deref())?),
            )
        }
        MerchantAction::Reject => (
            DisputeStatus::MerchantRejected,
            DisputeAction::Rejected,
            None,
            Some(required_note(body.note.as_deref())?),
        ),
    };
    if d.status != DisputeStatus::Open {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("this dispute is {}: it was answered already", d.status),
        ));
    }
    let txn = begin_write(&state.db).await?;
    let moved = crate::flows::disputes::apply(
        &txn,
        &state.settings,
        &d,
        to,
        Step {
            action,
            actor: Actor::merchant(caller.user.id),
            amount,
            note,
            photos: &photos,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(detail(&state, moved).await?))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{DISPUTE_STAFF, MERCHANT_ANY, RESIDENTS_ONLY};
    vec![
        // Disputes: residents open and reply, merchants answer, customer service decide
        route::<__path_open, _, _>(Residents(RESIDENTS_ONLY), open),
        route::<__path_list, _, _>(Residents(DISPUTE_STAFF), list),
        route::<__path_get, _, _>(Residents(DISPUTE_STAFF), get),
        route::<__path_reply, _, _>(Residents(RESIDENTS_ONLY), reply),
        route::<__path_decide, _, _>(Staff(DISPUTE_STAFF), decide),
        route::<__path_merchant_list, _, _>(Merchant(MERCHANT_ANY), merchant_list),
        route::<__path_merchant_get, _, _>(Merchant(MERCHANT_ANY), merchant_get),
        route::<__path_answer, _, _>(Merchant(MERCHANT_ANY), answer),
    ]
}
