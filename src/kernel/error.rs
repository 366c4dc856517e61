//! One error type for the whole API. Every failure becomes
//! `{"code": "snake_case", "message": "…", "details": …}` with the status its
//! code implies. Codes are stable: clients switch on them, and the OpenAPI
//! document lists them (the `ErrorCode` schema). Internal causes are logged
//! here and never returned.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Every error code the API returns. Adding a variant is an API change:
/// existing codes never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // 400
    /// The body is not well-formed JSON (`details` gives line and column).
    InvalidJson,
    /// A query-string parameter is missing or malformed.
    InvalidQuery,
    /// A pagination cursor was not issued by this API.
    InvalidCursor,
    /// A WeChat callback whose XML is malformed, or carries a DOCTYPE or entities.
    WechatBadMessage,
    /// An OAuth `state` that is forged, altered or expired: start again.
    OauthStateInvalid,
    /// The redirect or page URL is not on `wechat.oauth_redirect_allowlist`.
    RedirectNotAllowed,
    // 401
    /// No bearer token was sent.
    Unauthenticated,
    /// The bearer token is malformed, forged, or its user no longer exists.
    InvalidToken,
    /// The access token has expired: refresh it.
    TokenExpired,
    /// Wrong phone number or password.
    InvalidCredentials,
    /// The refresh token is unknown or revoked.
    InvalidRefreshToken,
    /// The refresh token has expired: log in again.
    RefreshTokenExpired,
    /// A rotated refresh token was presented again; its whole family is revoked.
    RefreshTokenReused,
    // 403
    /// The account is disabled.
    AccountDisabled,
    /// A WeChat callback whose signature does not match, or whose timestamp
    /// is beyond `wechat.max_clock_skew_secs`; nothing was processed.
    WechatSignatureInvalid,
    /// The caller is known but lacks the role this action needs.
    Forbidden,
    /// A download link's signature does not match.
    LinkInvalid,
    // 404
    /// No such resource (or not visible to the caller).
    NotFound,
    // 405
    MethodNotAllowed,
    // 409
    /// The request conflicts with the current state.
    Conflict,
    /// The phone number belongs to another user.
    PhoneTaken,
    /// Another community already has this name.
    CommunityNameTaken,
    /// The user already holds this role in this community.
    RoleAlreadyGranted,
    /// Another building of this community has this name.
    BuildingNameTaken,
    /// Another unit of this building has this name.
    UnitNameTaken,
    /// A household already exists at this building, unit and room.
    HouseholdExists,
    /// Another gate of this community has this name.
    GateNameTaken,
    /// Another pickup point of this community has this name.
    PickupPointNameTaken,
    /// The user already belongs to this household.
    AlreadyMember,
    /// The user already has a claim on this household awaiting a decision.
    ClaimPending,
    /// The claim was already approved or rejected.
    ClaimDecided,
    /// The action does not apply in the current state (`details` gives the
    /// state and the action).
    InvalidTransition,
    /// The merchant has already applied to this community.
    AlreadyApplied,
    /// The user is already on this merchant's staff.
    AlreadyStaff,
    /// The file is already attached somewhere.
    AlreadyAttached,
    /// The merchant changed its details after the reviewer loaded them.
    MerchantChanged,
    /// WeChat runs in sandbox mode here (no app id): use the development
    /// login instead of WeChat sign-in.
    WechatSandbox,
    // 410
    /// The invitation has expired, was used, or was withdrawn.
    InviteExpired,
    /// The download link has expired: ask for a new one.
    LinkExpired,
    // 413
    PayloadTooLarge,
    // 415
    /// The body must be `application/json`.
    UnsupportedMediaType,
    /// Files must be JPEG, PNG, WebP images or PDF documents.
    UnsupportedFileType,
    // 422
    /// The JSON is well-formed but a field is missing, of the wrong type, or
    /// not allowed (`details.field` names it).
    InvalidBody,
    /// A value breaks a rule (`details.field` names it where there is one).
    ValidationFailed,
    /// The file's content is not what its Content-Type claims.
    ContentMismatch,
    /// The image has more pixels than allowed.
    ImageTooLarge,
    /// An import file has bad rows (`details.errors` lists each line and
    /// why); nothing was written.
    ImportRejected,
    // 429
    /// Too many attempts; retry after `Retry-After` seconds.
    RateLimited,
    // 500
    /// Something failed on our side; it is logged with the request id.
    Internal,
    // 502
    /// WeChat refused or failed the call; retry later.
    WechatUnavailable,
    // 403 (orders)
    /// Only a verified member of a household here may do this (staff and
    /// operators act through their own routes).
    NotAResident,
    // 409 (orders and group buys)
    /// Not enough stock left for this quantity (`details.item_id`).
    SoldOut,
    /// The household would hold more of this item than the group buy allows
    /// (`details.item_id`, `details.limit`).
    HouseholdLimitExceeded,
    /// The group buy does not take orders now (not started, closed, failed…).
    GroupBuyNotOpen,
    /// The group buy's deadline has passed.
    DeadlinePassed,
    /// The order's payment deadline has passed; it no longer holds stock.
    PaymentDeadlinePassed,
    /// The merchant does not sell in this community (not verified, expired
    /// or suspended).
    MerchantNotSelling,
    /// The payment provider cannot take this payment (sandbox payments are
    /// refused in production).
    PaymentUnavailable,
    /// This pickup code was already used (or is no longer valid).
    PickupCodeUsed,
    /// The balance (a wallet's or a merchant's) is smaller than the amount.
    InsufficientBalance,
    /// The pickup slot is fully booked.
    SlotFull,
    /// The order can no longer be disputed: its window has passed or it has
    /// settled to the merchant.
    DisputeWindowClosed,
    /// The order already has a dispute (one per order).
    DisputeExists,
    /// The courier is suspended or their pass (通行证) has expired.
    CourierUnavailable,
    // 422 (orders)
    /// This `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused,
    // 503
    /// A dependency (such as the database) is unavailable.
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidJson | InvalidQuery | InvalidCursor | WechatBadMessage | OauthStateInvalid
            | RedirectNotAllowed => StatusCode::BAD_REQUEST,
            Unauthenticated | InvalidToken | TokenExpired | InvalidCredentials
            | InvalidRefreshToken | RefreshTokenExpired | RefreshTokenReused => {
                StatusCode::UNAUTHORIZED
            }
            AccountDisabled | Forbidden | LinkInvalid | WechatSignatureInvalid | NotAResident => {
                StatusCode::FORBIDDEN
            }
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict
            | PhoneTaken
            | CommunityNameTaken
            | RoleAlreadyGranted
            | BuildingNameTaken
            | UnitNameTaken
            | HouseholdExists
            | GateNameTaken
            | PickupPointNameTaken
            | AlreadyMember
            | ClaimPending
            | ClaimDecided
            | InvalidTransition
            | AlreadyApplied
            | AlreadyStaff
            | AlreadyAttached
            | MerchantChanged
            | WechatSandbox
            | SoldOut
            | HouseholdLimitExceeded
            | GroupBuyNotOpen
            | DeadlinePassed
            | PaymentDeadlinePassed
            | MerchantNotSelling
            | PaymentUnavailable
            | PickupCodeUsed
            | InsufficientBalance
            | SlotFull
            | DisputeWindowClosed
            | DisputeExists
            | CourierUnavailable => StatusCode::CONFLICT,
            InviteExpired | LinkExpired => StatusCode::GONE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType | UnsupportedFileType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            InvalidBody | ValidationFailed | ImportRejected | ContentMismatch | ImageTooLarge
            | IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            WechatUnavailable => StatusCode::BAD_GATEWAY,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A sentence for people; do not parse it.
    pub message: String,
    /// Structured context, such as the offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
    retry_after_secs: Option<u64>,
    /// The internal cause: logged, never sent.
    source: Option<anyhow::Error>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            retry_after_secs: None,
            source: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Attaches an internal cause: logged, never sent.
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.source = Some(cause.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "your roles do not allow this action")
    }

    /// A rule broken by one field of the request.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(ErrorCode::ValidationFailed, format!("{field}: {message}"))
            .with_details(serde_json::json!({ "field": field }))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::RateLimited,
            format!("too many attempts; try again in {retry_after_secs} seconds"),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// An unexpected failure: the cause is logged, the client sees only
    /// `internal`.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::Internal, "internal error");
        e.source = Some(cause.into());
        e
    }

    pub fn unavailable(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::ServiceUnavailable, message);
        e.source = Some(cause.into());
        e
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            if self.code.status().is_server_error() {
                tracing::error!(code = ?self.code, error = %format!("{source:#}"), "request failed");
            } else {
                tracing::warn!(code = ?self.code, error = %format!("{source:#}"), "request refused");
            }
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.insert_header((header::RETRY_AFTER, value));
        }
        response.json(ErrorBody {
            code: self.code,
            message: self.message.clone(),
            details: self.details.clone(),
        })
    }
}

/// Unique constraints whose violation means something to the client. SQLite
/// names the columns (`users.phone_hash`), PostgreSQL the index, so both are
/// listed.
const UNIQUE_CONSTRAINTS: &[(&str, &str, ErrorCode, &str)] = &[
    (
        "uq_users_phone_hash",
        "users.phone_hash",
        ErrorCode::PhoneTaken,
        "this phone number belongs to another user",
    ),
    (
        "uq_communities_name",
        "communities.name",
        ErrorCode::CommunityNameTaken,
        "another community already has this name",
    ),
    (
        "uq_staff_roles_assignment",
        "staff_roles.community_id, staff_roles.user_id, staff_roles.role",
        ErrorCode::RoleAlreadyGranted,
        "the user already holds this role in this community",
    ),
    (
        "uq_buildings_name",
        "buildings.community_id, buildings.name",
        ErrorCode::BuildingNameTaken,
        "another building of this community has this name",
    ),
    (
        "uq_units_name",
        "units.building_id, units.name",
        ErrorCode::UnitNameTaken,
        "another unit of this building has this name",
    ),
    (
        "uq_households_address",
        "households.community_id, households.address_key",
        ErrorCode::HouseholdExists,
        "a household already exists at this address",
    ),
    (
        "uq_gates_name",
        "gates.community_id, gates.name",
        ErrorCode::GateNameTaken,
        "another gate of this community has this name",
    ),
    (
        "uq_merchant_communities",
        "merchant_communities.merchant_id, merchant_communities.community_id",
        ErrorCode::AlreadyApplied,
        "the merchant has already applied to this community",
    ),
    (
        "uq_merchant_staff_user",
        "merchant_staff.merchant_id, merchant_staff.user_id",
        ErrorCode::AlreadyStaff,
        "the user is already on this merchant's staff",
    ),
    (
        "uq_delivery_companies_name",
        "delivery_companies.name",
        ErrorCode::Conflict,
        "a delivery company with this name is registered",
    ),
    (
        "uq_merchant_documents_file",
        "merchant_documents.file_id",
        ErrorCode::AlreadyAttached,
        "this file is already attached",
    ),
    (
        "uq_delivery_company_staff_user",
        "delivery_company_staff.company_id, delivery_company_staff.user_id",
        ErrorCode::AlreadyStaff,
        "the user is already on this company's staff",
    ),
    (
        "uq_household_claims_pending",
        "household_claims.household_id, household_claims.user_id",
        ErrorCode::ClaimPending,
        "a claim of yours on this household is waiting for a building manager",
    ),
    (
        "uq_pickup_points_name",
        "pickup_points.community_id, pickup_points.name",
        ErrorCode::PickupPointNameTaken,
        "another pickup point of this community has this name",
    ),
];

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
            for (index, columns, code, text) in UNIQUE_CONSTRAINTS {
                if message.contains(index) || message.contains(columns) {
                    return ApiError::new(*code, *text);
                }
            }
            let mut e = ApiError::new(ErrorCode::Conflict, "this record already exists");
            e.source = Some(err.into());
            return e;
        }
        if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
            return ApiError::unavailable("the database is unavailable", err);
        }
        ApiError::internal(err)
    }
}

impl<E: std::fmt::Display + std::fmt::Debug> From<sea_orm::TransactionError<E>> for ApiError
where
    E: Into<ApiError>,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}
