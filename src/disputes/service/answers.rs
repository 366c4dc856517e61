//! What each side may do next, as a move for the disputes flow to apply:
//! the resident takes an offer, escalates or withdraws; the merchant
//! accepts, proposes a smaller refund or rejects; customer service decide
//! an escalated dispute.

use entity::{DisputeAction, DisputeStatus, Fen, FileId, UserId, dispute, order};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{Step, held};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::Actor;

/// A step one side says, checked: its note (at most 500 characters) and
/// photos (at most 9, each once; that they are the actor's own images is
/// checked with the move).
pub struct Said {
    pub note: Option<String>,
    pub photos: Vec<FileId>,
}

/// A move worked out for a dispute: where it goes and the step recorded.
pub struct Move {
    pub to: DisputeStatus,
    pub action: DisputeAction,
    pub actor: Actor,
    pub amount: Option<Fen>,
    pub note: Option<String>,
    pub photos: Vec<FileId>,
}

impl Move {
    /// The step the history records, borrowing the move's photos.
    pub fn step(&mut self) -> Step<'_> {
        Step {
            action: self.action,
            actor: self.actor,
            amount: self.amount,
            note: self.note.take(),
            photos: &self.photos,
        }
    }
}

/// Checks that every photo is an image `user` uploaded.
pub(super) async fn own_photos<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    photos: &[FileId],
) -> ApiResult<()> {
    for (i, id) in photos.iter().enumerate() {
        let field = format!("photo_file_ids[{i}]");
        crate::files::service::own_image(db, user, *id, &field).await?;
    }
    Ok(())
}

/// What the resident does next.
#[derive(Clone, Copy, Debug)]
pub enum ResidentMove {
    AcceptProposal,
    Escalate,
    Withdraw,
}

/// The resident's move on their household's dispute `d`.
pub async fn resident_move<C: ConnectionTrait>(
    db: &C,
    d: &dispute::Model,
    by: UserId,
    what: ResidentMove,
    said: Said,
) -> ApiResult<Move> {
    own_photos(db, by, &said.photos).await?;
    let (to, action, amount) = match what {
        ResidentMove::AcceptProposal => {
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
        ResidentMove::Escalate => (DisputeStatus::Escalated, DisputeAction::Escalated, None),
        ResidentMove::Withdraw => (DisputeStatus::Withdrawn, DisputeAction::Withdrawn, None),
    };
    Ok(Move {
        to,
        action,
        actor: Actor::resident(by),
        amount,
        note: said.note,
        photos: said.photos,
    })
}

/// The merchant's answer, checked (a note is required to propose or
/// reject).
#[derive(Clone, Copy, Debug)]
pub enum MerchantMove {
    Accept,
    /// The offer as sent; it must be more than 0 and less than asked for.
    Propose(Option<Fen>),
    Reject,
}

/// The merchant's answer to its dispute `d`, which it answers once.
pub async fn merchant_move<C: ConnectionTrait>(
    db: &C,
    d: &dispute::Model,
    by: UserId,
    what: MerchantMove,
    said: Said,
) -> ApiResult<Move> {
    own_photos(db, by, &said.photos).await?;
    let (to, action, amount) = match what {
        MerchantMove::Accept => (
            DisputeStatus::Resolved,
            DisputeAction::Accepted,
            Some(d.requested_refund),
        ),
        MerchantMove::Propose(refund) => {
            let refund = refund
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
            )
        }
        MerchantMove::Reject => (
            DisputeStatus::MerchantRejected,
            DisputeAction::Rejected,
            None,
        ),
    };
    if d.status != DisputeStatus::Open {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("this dispute is {}: it was answered already", d.status),
        ));
    }
    Ok(Move {
        to,
        action,
        actor: Actor::merchant(by),
        amount,
        note: said.note,
        photos: said.photos,
    })
}

/// What customer service decide.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// Everything the order holds goes back.
    FullRefund,
    /// This much goes back (more than 0, less than the order holds).
    PartialRefund(Option<Fen>),
    NoRefund,
}

/// Customer service's decision of the escalated dispute `d`, with the note
/// both sides see.
pub async fn decision<C: ConnectionTrait>(
    db: &C,
    d: &dispute::Model,
    by: UserId,
    outcome: Outcome,
    note: String,
) -> ApiResult<Move> {
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
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let held = held(db, &o).await?;
    let refund = match outcome {
        Outcome::FullRefund => held,
        Outcome::NoRefund => Fen::ZERO,
        Outcome::PartialRefund(Some(r)) if r > Fen::ZERO && r < held => r,
        Outcome::PartialRefund(_) => {
            return Err(ApiError::invalid_field(
                "refund",
                format!(
                    "a partial refund is more than 0 and less than {} yuan",
                    held.yuan()
                ),
            ));
        }
    };
    Ok(Move {
        to: DisputeStatus::Resolved,
        action: DisputeAction::Decided,
        actor: Actor::staff(by),
        amount: Some(refund),
        note: Some(note),
        photos: Vec::new(),
    })
}
