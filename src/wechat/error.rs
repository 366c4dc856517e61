//! How a call to WeChat failed, and what the API answers for it.

use crate::kernel::error::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    #[error("WeChat answered errcode {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    #[error("calling WeChat failed: {0}")]
    Transport(String),
    #[error("WeChat's answer could not be read: {0}")]
    Decode(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("WeChat is in sandbox mode: nothing is sent")]
    Sandbox,
    /// Refused before sending: the request breaks WeChat's rules.
    #[error("{0}")]
    Invalid(String),
}

impl WechatError {
    pub fn errcode(&self) -> Option<i64> {
        match self {
            WechatError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    /// The access token was refused: expired, revoked or not this app's.
    pub fn is_token_error(&self) -> bool {
        matches!(self.errcode(), Some(40001 | 42001 | 40014))
    }

    /// Retrying will not help: the person refused, the template is gone, the
    /// openid is wrong, the request is invalid.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.errcode(),
            Some(
                40003 // invalid openid
                | 40013 // invalid appid
                | 40036 | 40037 // invalid template id
                | 41028 | 41029 | 41030 // invalid form id / page
                | 43004 // the person does not follow the account
                | 43101 // the person refused subscribe messages
                | 43104 // appid and openid do not match
                | 45015 // customer-service window (48 h) closed
                | 47003 // an argument is invalid
                | 48001 // this API is not authorised for the account
            )
        ) || matches!(self, WechatError::Sandbox | WechatError::Invalid(_))
    }
}

impl From<WechatError> for ApiError {
    fn from(e: WechatError) -> Self {
        match e {
            WechatError::Db(db) => ApiError::from(db),
            WechatError::Invalid(message) => ApiError::new(ErrorCode::ValidationFailed, message),
            WechatError::Sandbox => ApiError::new(
                ErrorCode::WechatSandbox,
                "WeChat runs in sandbox mode here (no app id): use POST /api/v1/dev/login instead",
            ),
            other => {
                tracing::warn!(error = %other, "a WeChat call failed");
                ApiError::new(
                    ErrorCode::WechatUnavailable,
                    "WeChat did not complete the request; try again",
                )
            }
        }
    }
}
