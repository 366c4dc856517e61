//! Disputes as the API shows them, and what residents, merchants and
//! customer service send, parsed into the service's checked values.

use chrono::{DateTime, Utc};
use entity::{
    ActorRole, CommunityId, DisputeAction, DisputeId, DisputeStatus, Fen, FileId, HouseholdId,
    MerchantId, OrderId, OrderStatus, RefundTo, UserId, dispute,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, MerchantMove, Opening, ResidentMove, Said};
use crate::files::views::DownloadLink;
use crate::kernel::error::{ApiError, ApiResult};

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

impl DisputeDetail {
    /// `d` as the API shows it, each photo with a download link `link`
    /// signs.
    pub fn new(d: service::Detail, link: impl Fn(FileId) -> DownloadLink) -> Self {
        let events = d
            .events
            .into_iter()
            .map(|(e, photos)| DisputeEvent {
                photos: photos
                    .into_iter()
                    .map(|file_id| DisputePhoto {
                        file_id,
                        link: link(file_id),
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
        Self {
            dispute: d.dispute.into(),
            order_no: d.order.order_no,
            order_amount: d.order.amount,
            order_status: d.order.status,
            held: d.held,
            events,
        }
    }
}

// ---------------------------------------------------------------- input

/// At most 9 photos, each listed once.
fn photos(ids: Vec<FileId>) -> ApiResult<Vec<FileId>> {
    if ids.len() > 9 {
        return Err(ApiError::invalid_field(
            "photo_file_ids",
            "at most 9 photos",
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(ApiError::invalid_field(
                "photo_file_ids",
                "list each photo once",
            ));
        }
    }
    Ok(ids)
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

impl NewDispute {
    pub fn parse(self) -> ApiResult<Opening> {
        Ok(Opening {
            reason: crate::kernel::text::required("reason", &self.reason, 500)?,
            refund: self.refund,
            refund_to: self.refund_to,
            photos: photos(self.photo_file_ids)?,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeFilter {
    pub status: Option<DisputeStatus>,
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

impl ResidentReply {
    pub fn parse(self) -> ApiResult<(ResidentMove, Said)> {
        let note = note("note", self.note.as_deref())?;
        let said = Said {
            note,
            photos: photos(self.photo_file_ids)?,
        };
        let what = match self.action {
            ResidentAction::AcceptProposal => ResidentMove::AcceptProposal,
            ResidentAction::Escalate => ResidentMove::Escalate,
            ResidentAction::Withdraw => ResidentMove::Withdraw,
        };
        Ok((what, said))
    }
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

impl Decision {
    pub fn parse(self) -> ApiResult<(service::Outcome, String)> {
        let note = required_note(Some(&self.note))?;
        let outcome = match self.outcome {
            Outcome::FullRefund => service::Outcome::FullRefund,
            Outcome::PartialRefund => service::Outcome::PartialRefund(self.refund),
            Outcome::NoRefund => service::Outcome::NoRefund,
        };
        Ok((outcome, note))
    }
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

impl MerchantAnswer {
    pub fn parse(self) -> ApiResult<(MerchantMove, Said)> {
        let photos = photos(self.photo_file_ids)?;
        let (what, note) = match self.action {
            MerchantAction::Accept => (MerchantMove::Accept, note("note", self.note.as_deref())?),
            MerchantAction::Propose => (
                MerchantMove::Propose(self.refund),
                Some(required_note(self.note.as_deref())?),
            ),
            MerchantAction::Reject => (
                MerchantMove::Reject,
                Some(required_note(self.note.as_deref())?),
            ),
        };
        Ok((what, Said { note, photos }))
    }
}
