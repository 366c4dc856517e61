//! What the personal-data routes take and answer.

use chrono::{DateTime, Utc};
use entity::{PiiAccessId, PiiField, PiiSubject, UserId, pii_access};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::service::{self, Reveal};
use crate::auth::CommunityScope;
use crate::kernel::error::ApiResult;
use crate::kernel::text;

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

impl RevealRequest {
    /// A request the caller's duty allows (403 otherwise, before the
    /// purpose is looked at), with its purpose given.
    pub fn parse(self, scope: &CommunityScope) -> ApiResult<Reveal> {
        service::may_reveal(scope, self.subject_kind)?;
        Ok(Reveal {
            kind: self.subject_kind,
            id: self.subject_id,
            field: self.field,
            purpose: text::required("purpose", &self.purpose, 200)?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revealed {
    pub value: String,
    /// The access-log entry this created.
    pub access_id: PiiAccessId,
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

impl From<pii_access::Model> for AccessEntry {
    fn from(e: pii_access::Model) -> Self {
        Self {
            id: e.id,
            accessed_by: e.accessed_by,
            subject_kind: e.subject_kind,
            subject_id: e.subject_id,
            field: e.field,
            purpose: e.purpose,
            at: e.created_at,
        }
    }
}
