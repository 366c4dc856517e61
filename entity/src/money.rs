//! Money: integer fen (分), never floats.

use std::fmt;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

/// The largest amount anjia accepts anywhere: ¥100,000,000.00. Far above any
/// order or bill, far below overflow when multiplied by quantities.
pub const MAX_FEN: i64 = 10_000_000_000;

/// An amount of money in fen (1/100 yuan), never negative. Amounts from
/// clients are parsed into this (and refused when negative or absurd);
/// arithmetic is checked.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    DeriveValueType,
    utoipa::ToSchema,
)]
#[serde(try_from = "i64", into = "i64")]
#[schema(value_type = i64, format = Int64, example = 1280)]
pub struct Fen(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FenOutOfRange;

impl fmt::Display for FenOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an amount in fen from 0 to {MAX_FEN}")
    }
}

impl std::error::Error for FenOutOfRange {}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn new(fen: i64) -> Result<Self, FenOutOfRange> {
        if (0..=MAX_FEN).contains(&fen) {
            Ok(Self(fen))
        } else {
            Err(FenOutOfRange)
        }
    }

    pub fn as_i64(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).and_then(|f| Fen::new(f).ok())
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).and_then(|f| Fen::new(f).ok())
    }

    /// `bp` basis points of this amount (`bp` taken between 0 and 10,000),
    /// rounded down: never more than the amount itself.
    pub fn basis_points(self, bp: i64) -> Fen {
        let bp = i128::from(bp.clamp(0, 10_000));
        // At most `self`, so within range.
        Fen(i64::try_from(i128::from(self.0) * bp / 10_000).unwrap_or(self.0))
    }

    /// `12.34`: yuan with two decimals, for messages ("{amount} 元").
    pub fn yuan(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }

    /// The price of `quantity` units.
    pub fn times(self, quantity: u32) -> Option<Fen> {
        self.0
            .checked_mul(i64::from(quantity))
            .and_then(|f| Fen::new(f).ok())
    }
}

impl TryFrom<i64> for Fen {
    type Error = FenOutOfRange;
    fn try_from(fen: i64) -> Result<Self, Self::Error> {
        Fen::new(fen)
    }
}

impl From<Fen> for i64 {
    fn from(fen: Fen) -> i64 {
        fen.0
    }
}

/// `¥12.34`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A signed amount of fen: an account's balance, or a change of one (a
/// ledger line's debit is positive, its credit negative). Any `i64` is a
/// balance; arithmetic is checked, and turning one into an amount
/// ([`Balance::to_fen`]) fails below zero or beyond [`MAX_FEN`]. Serialises
/// as its integer fen, and compares with a plain count of fen.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    DeriveValueType,
    utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = i64, format = Int64, example = -1280)]
pub struct Balance(i64);

impl Balance {
    pub const ZERO: Balance = Balance(0);

    pub const fn new(fen: i64) -> Self {
        Self(fen)
    }

    pub fn as_i64(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Balance) -> Option<Balance> {
        self.0.checked_add(other.0).map(Balance)
    }

    pub fn checked_sub(self, other: Balance) -> Option<Balance> {
        self.0.checked_sub(other.0).map(Balance)
    }

    /// The same balance seen from the other side (a credit as a debit).
    pub fn checked_neg(self) -> Option<Balance> {
        self.0.checked_neg().map(Balance)
    }

    /// This balance as an amount: refused below zero or beyond [`MAX_FEN`].
    pub fn to_fen(self) -> Result<Fen, FenOutOfRange> {
        Fen::new(self.0)
    }
}

impl From<Fen> for Balance {
    fn from(fen: Fen) -> Self {
        Self(fen.0)
    }
}

impl From<Balance> for i64 {
    fn from(b: Balance) -> i64 {
        b.0
    }
}

impl PartialEq<i64> for Balance {
    fn eq(&self, fen: &i64) -> bool {
        self.0 == *fen
    }
}

impl PartialOrd<i64> for Balance {
    fn partial_cmp(&self, fen: &i64) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(fen)
    }
}

/// Its integer fen (`-1280`), as it serialises: what logs and the ledger's
/// messages print.
impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_fen_within_range_and_arithmetic_is_checked() {
        assert_eq!(Fen::new(1234).unwrap().to_string(), "¥12.34");
        assert_eq!(Fen::new(5).unwrap().to_string(), "¥0.05");
        assert_eq!(Fen::new(120).unwrap().yuan(), "1.20");
        assert!(Fen::new(-1).is_err());
        assert!(Fen::new(MAX_FEN + 1).is_err());
        let price = Fen::new(999).unwrap();
        assert_eq!(price.times(3), Some(Fen::new(2997).unwrap()));
        assert_eq!(Fen::new(MAX_FEN).unwrap().times(2), None);
        assert_eq!(price.checked_sub(Fen::new(1000).unwrap()), None);
        assert!(
            serde_json::from_str::<Fen>("-5").is_err(),
            "negative amounts are refused at the boundary"
        );
        assert!(
            serde_json::from_str::<Fen>("1.5").is_err(),
            "no fractions of a fen"
        );
        assert_eq!(serde_json::to_string(&price).unwrap(), "999");
    }

    #[test]
    fn balances_are_signed_checked_and_become_amounts_only_within_range() {
        let owed = Balance::new(-250);
        assert_eq!(owed.checked_neg(), Some(Balance::new(250)));
        assert_eq!(
            owed.checked_add(Balance::from(Fen::new(300).unwrap())),
            Some(Balance::new(50))
        );
        assert_eq!(Balance::new(i64::MAX).checked_add(Balance::new(1)), None);
        assert_eq!(Balance::new(i64::MIN).checked_neg(), None);
        assert!(owed.to_fen().is_err());
        assert_eq!(Balance::new(50).to_fen(), Ok(Fen::new(50).unwrap()));
        assert!(Balance::new(MAX_FEN + 1).to_fen().is_err());
        assert!(owed < 0 && owed == -250);
        assert_eq!(serde_json::to_string(&owed).unwrap(), "-250");
        assert_eq!(serde_json::from_str::<Balance>("-250").unwrap(), owed);
        assert_eq!(owed.to_string(), "-250");
    }
}
