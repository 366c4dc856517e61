//! The payment port's rules: how a payment starts (the household's wallet,
//! the sandbox or WeChat Pay), the one posting every payment makes, the
//! household's wallet (its balance lives in the ledger, `household_wallet`,
//! never negative), and refunds ([`refunds`]).
//!
//! A payment is applied by the payments flow (`flows/payments.rs`), the one
//! internal path that the wallet, the sandbox and a verified WeChat Pay
//! notification all take.

pub mod refunds;

use chrono::{DateTime, Utc};
use entity::{Fen, JournalKind, LedgerAccountKind, PaymentMethod, UserId, order};
use sea_orm::ConnectionTrait;

use super::views::{PaymentStart, Wallet, WalletMovement};
use super::wechat_pay::{self, WechatPay};
use crate::config::{Environment, PaymentProvider, Settings};
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger::{self, Account, Entry};

/// Whether payments can be taken at all with this configuration.
pub fn check_available(settings: &Settings) -> ApiResult<()> {
    match settings.payment.provider {
        PaymentProvider::Sandbox if settings.environment == Environment::Production => {
            Err(ApiError::new(
                ErrorCode::PaymentUnavailable,
                "payments are not configured on this server (sandbox payments are refused in production)",
            ))
        }
        PaymentProvider::Sandbox | PaymentProvider::WechatPay => Ok(()),
    }
}

/// What the configured provider is asked to take.
pub struct Charge<'a> {
    /// Whose WeChat sign-in pays.
    pub payer: UserId,
    /// The provider's trade number (an order's number, a fee part's).
    pub trade_no: &'a str,
    pub amount: Fen,
    /// Payable until then.
    pub expires: DateTime<Utc>,
    /// What the payer sees in WeChat (at most 127 characters are sent).
    pub description: String,
}

/// How a payment is made.
pub enum Via<'a> {
    /// The household's wallet pays at once. A WeChat Pay prepay still open
    /// under this trade number could take the money a second time: it is
    /// closed at WeChat Pay first.
    Wallet { open_prepay: Option<&'a str> },
    /// The configured provider takes it: the sandbox at once, WeChat Pay
    /// when the payer completes `wx.requestPayment`.
    Provider(Charge<'a>),
}

/// Starts a payment the way `via` says, for orders and property fees alike:
/// what the client does next. Nothing is recorded here: a wallet's or the
/// sandbox's payment is recorded by the caller at once, WeChat Pay's when
/// its notification arrives. `pay` is WeChat Pay when it is the configured
/// provider.
pub async fn start<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    pay: Option<&WechatPay>,
    via: Via<'_>,
) -> ApiResult<PaymentStart> {
    let charge = match via {
        Via::Wallet { open_prepay } => {
            if let (Some(trade_no), Some(pay)) = (open_prepay, pay) {
                // Refused by WeChat Pay if it was paid meanwhile.
                pay.close(trade_no).await.map_err(|e| {
                    ApiError::new(
                        ErrorCode::PaymentUnavailable,
                        "a WeChat Pay payment for this order may be under way; try again in a minute",
                    )
                    .with_cause(anyhow::anyhow!(
                        "closing the prepay before a wallet payment: {e}"
                    ))
                })?;
            }
            return Ok(PaymentStart::Wallet);
        }
        Via::Provider(charge) => charge,
    };
    check_available(settings)?;
    match (settings.payment.provider, pay) {
        (PaymentProvider::WechatPay, Some(pay)) => {
            let openid = wechat_pay::payer_openid(db, charge.payer, &pay.settings.app_id).await?;
            let request_payment = pay
                .prepay(
                    charge.trade_no,
                    charge.amount,
                    charge.expires,
                    &openid,
                    &charge.description,
                )
                .await?;
            Ok(PaymentStart::WechatPay { request_payment })
        }
        _ => Ok(PaymentStart::Sandbox),
    }
}

/// Refuses a wallet payment of `amount` the household's wallet cannot
/// cover, before a provider is asked for the rest.
pub async fn ensure_wallet_holds<C: ConnectionTrait>(
    db: &C,
    household: entity::HouseholdId,
    amount: Fen,
) -> ApiResult<()> {
    let held = ledger::balance(db, Account::household_wallet(household)).await?;
    if held < amount.as_i64() {
        return Err(ApiError::new(
            ErrorCode::InsufficientBalance,
            format!(
                "the wallet holds {} yuan",
                crate::kernel::money::fen(held, "a household's wallet balance")?.yuan()
            ),
        )
        .with_details(serde_json::json!({ "available": held, "needed": amount })));
    }
    Ok(())
}

/// Records a payment of `order` into escrow, once: the one posting every
/// provider's payment path makes (in the caller's transaction).
pub async fn post_payment<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    method: PaymentMethod,
) -> ApiResult<()> {
    let from = match method {
        PaymentMethod::Sandbox | PaymentMethod::WechatPay => Account::wechat_clearing(),
        PaymentMethod::Wallet => Account::household_wallet(order.household_id),
    };
    ledger::post(
        db,
        Entry::new(JournalKind::Payment, format!("payment:{}", order.id))
            .order(order.community_id, order.id)
            .memo(&format!("order {} paid by {method}", order.order_no))
            .by(Some(order.user_id))
            .debit(from, order.amount)
            .credit(Account::escrow(order.community_id), order.amount),
    )
    .await?;
    Ok(())
}

/// A household's wallet (家庭钱包): its balance and latest 50 movements,
/// newest first. `allowed` says whether the caller may see it (a verified
/// member of the household, the community's finance staff, an operator);
/// a household of another community, or one the caller may not see, is not
/// found.
pub async fn wallet<C: ConnectionTrait>(
    db: &C,
    community: entity::CommunityId,
    household: entity::HouseholdId,
    allowed: bool,
) -> ApiResult<Wallet> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let here = entity::household::Entity::find_by_id(household)
        .filter(entity::household::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .is_some();
    if !here || !allowed {
        return Err(ApiError::not_found());
    }
    let account = Account::household_wallet(household);
    let rows = db::query_all(
        db,
        "SELECT e.created_at, e.kind, e.order_id, e.memo, l.amount FROM journal_lines l \
         JOIN journal_entries e ON e.id = l.entry_id \
         WHERE l.account_id = $1 ORDER BY l.id DESC LIMIT 50",
        [account.id().as_uuid().into()],
    )
    .await?;
    let mut movements = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get("", "kind")?;
        let amount: i64 = r.try_get("", "amount")?;
        movements.push(WalletMovement {
            at: r.try_get("", "created_at")?,
            kind: serde_json::from_value(serde_json::Value::String(kind))
                .map_err(ApiError::internal)?,
            amount: amount * LedgerAccountKind::HouseholdWallet.sign(),
            order_id: r.try_get("", "order_id")?,
            memo: r.try_get("", "memo")?,
        });
    }
    Ok(Wallet {
        household_id: household,
        balance: crate::kernel::money::fen(
            ledger::balance(db, account).await?,
            "a household's wallet balance",
        )?,
        movements,
    })
}
