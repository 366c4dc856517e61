//! Sums of money read from the database or worked out from it, as [`Fen`].
//! An amount out of range there (below zero, or beyond `MAX_FEN`) is a
//! broken invariant: it is logged and answered as an internal error, never
//! shown as ¥0.

use entity::Fen;

use crate::kernel::error::{ApiError, ApiResult};

/// `value` (fen: a plain count or a ledger balance) as [`Fen`]; `what`
/// names it in the log.
pub fn fen(value: impl Into<i64>, what: &str) -> ApiResult<Fen> {
    let value = value.into();
    Fen::new(value).map_err(|e| {
        tracing::error!(value, what, "an amount out of range");
        ApiError::internal(anyhow::anyhow!("{what} is {value} fen: not {e}"))
    })
}
