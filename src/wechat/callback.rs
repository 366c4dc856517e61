//! What `GET /wechat/callback` (URL verification) and `POST /wechat/callback`
//! (messages and events, in plaintext, compatible or safe mode) do.
//!
//! Order matters: the signature and timestamp are checked before the body is
//! even parsed, so a forged or replayed request has no effect. Each callback
//! is claimed once by its MsgId (or sender + time + event) in a table every
//! instance shares; WeChat's retries get the first answer again. Work gets
//! `wechat.reply_budget_ms`; beyond it the reply is `success` and the real
//! answer follows as a customer-service message through the outbox.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use super::crypto::{MsgCrypt, same_signature, sha1_sorted};
use super::dedupe::{self, Claim, DedupeStore};
use super::message::Inbound;
use super::replies::{self, Reply};
use super::views::CallbackQuery;
use super::{identity, xml};
use crate::config::{Settings, WechatSettings};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::outbox;

/// WeChat's messages are small; anything larger is not from WeChat.
pub const MAX_CALLBACK_BYTES: usize = 64 * 1024;

/// What handling a callback uses. Owned (each part is cheap to clone): a
/// reply that misses WeChat's window is finished by a task of its own.
#[derive(Clone, Debug)]
pub struct Callbacks {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    /// Callbacks already seen, shared by every instance.
    pub seen: DedupeStore,
}

fn refused(message: &str) -> ApiError {
    ApiError::new(ErrorCode::WechatSignatureInvalid, message.to_owned())
}

/// Checks `signature` over token, timestamp and nonce, and the timestamp's
/// age: before a message's body is even read.
pub fn check_signature(settings: &WechatSettings, q: &CallbackQuery) -> ApiResult<()> {
    let token = settings.token.expose_secret();
    if token.is_empty() {
        return Err(refused("wechat.token is not configured"));
    }
    let sent: i64 = q
        .timestamp
        .trim()
        .parse()
        .map_err(|_| refused("the timestamp is not a number"))?;
    let skew = settings.max_clock_skew_secs;
    if Utc::now().timestamp().abs_diff(sent) > skew {
        return Err(refused("the timestamp is outside the allowed clock skew"));
    }
    let expected = sha1_sorted(&[token, &q.timestamp, &q.nonce]);
    if !same_signature(&expected, &q.signature) {
        return Err(refused("the signature does not match"));
    }
    Ok(())
}

/// URL verification: the `echostr` to echo when the signature matches.
pub fn verify_url(settings: &WechatSettings, query: &CallbackQuery) -> ApiResult<String> {
    check_signature(settings, query)?;
    query
        .echostr
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidQuery, "echostr is missing"))
}

fn bad_message(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::WechatBadMessage,
        format!("the message cannot be read: {message}"),
    )
}

/// Handles one message or event from WeChat (its signature already
/// checked, see [`check_signature`]): the passive reply to answer (XML,
/// encrypted in safe mode), or `None` for `success`.
pub async fn receive(
    callbacks: &Callbacks,
    query: &CallbackQuery,
    body: &[u8],
) -> ApiResult<Option<String>> {
    let settings = &callbacks.settings.wechat;
    let outer = xml::parse(body).map_err(bad_message)?;
    let safe = query
        .encrypt_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("aes"));
    // The plain signature does not cover the body: with a key configured
    // (safe or compatible mode), only messages signed over their ciphertext count.
    if !safe && !settings.encoding_aes_key.expose_secret().is_empty() {
        return Err(refused(
            "safe mode is configured: unencrypted callbacks are refused",
        ));
    }
    let (fields, crypt) = if safe {
        let encrypt = outer
            .get("Encrypt")
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad_message("Encrypt is missing"))?;
        let msg_signature = query
            .msg_signature
            .as_deref()
            .ok_or_else(|| refused("msg_signature is missing"))?;
        let expected = sha1_sorted(&[
            settings.token.expose_secret(),
            &query.timestamp,
            &query.nonce,
            encrypt,
        ]);
        if !same_signature(&expected, msg_signature) {
            return Err(refused("the message signature does not match"));
        }
        let crypt = MsgCrypt::new(settings.encoding_aes_key.expose_secret(), &settings.app_id)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("wechat.encoding_aes_key: {e}")))?;
        let plain = crypt.decrypt(encrypt).map_err(bad_message)?;
        (
            xml::parse(plain.as_bytes()).map_err(bad_message)?,
            Some(crypt),
        )
    } else {
        (outer, None)
    };
    let inbound = Inbound::from_fields(&fields).map_err(bad_message)?;
    let reply = dispatch(callbacks, inbound.clone()).await?;
    Ok(reply.map(|xml_reply| match crypt {
        Some(crypt) => {
            let encrypted = crypt.encrypt(&xml_reply);
            let timestamp = Utc::now().timestamp().to_string();
            let token = settings.token.expose_secret();
            let signature = sha1_sorted(&[token, &timestamp, &query.nonce, &encrypted]);
            xml::encrypted_envelope(&encrypted, &signature, &timestamp, &query.nonce)
        }
        None => xml_reply,
    }))
}

/// Claims `key` for this delivery (see [`super::dedupe`]).
async fn claim(callbacks: &Callbacks, key: &str, reply: Option<&str>) -> ApiResult<Claim> {
    callbacks
        .seen
        .claim(key.to_owned(), reply.map(str::to_owned))
        .await
}

/// De-duplicates, handles within the reply budget, and returns the reply XML.
async fn dispatch(callbacks: &Callbacks, inbound: Inbound) -> ApiResult<Option<String>> {
    // Hashed: event keys carry URLs and scenes of any length.
    let key = sha1_sorted(&[&format!(
        "{}:{}",
        callbacks.settings.wechat.app_id,
        inbound.dedupe_key()
    )]);
    // Events that change something are claimed before they run, and their
    // answer is kept for retries. The rest (replies computed from reads) are
    // recorded as seen afterwards; a late answer's follow-up message goes out
    // only from the delivery that recorded the key first.
    let effects = inbound.has_side_effects();
    if effects {
        match claim(callbacks, &key, None).await? {
            Claim::Seen(reply) => return Ok(reply),
            Claim::New => {}
        }
    }
    let budget = Duration::from_millis(callbacks.settings.wechat.reply_budget_ms);
    let work = {
        let callbacks = callbacks.clone();
        let inbound = inbound.clone();
        tokio::spawn(
            async move { replies::handle(&callbacks.db, &callbacks.settings, &inbound).await },
        )
    };
    let mut work = work;
    // A budget of 0 always answers at once and replies afterwards.
    let finished = if budget.is_zero() {
        Err(())
    } else {
        tokio::time::timeout(budget, &mut work)
            .await
            .map_err(|_| ())
    };
    match finished {
        Ok(Ok(Ok(reply))) => {
            let xml = reply.map(|r| r.to_xml(&inbound));
            if !effects {
                // Recorded as seen (a key only: batches stay small); a retry
                // computes the same answer again, which has no effect.
                return Ok(match claim(callbacks, &key, None).await? {
                    Claim::Seen(Some(first)) => Some(first),
                    Claim::New | Claim::Seen(None) => xml,
                });
            }
            if let Some(xml) = &xml {
                dedupe::remember_reply(&callbacks.db, &key, xml).await?;
            }
            Ok(xml)
        }
        Ok(Ok(Err(e))) => {
            if effects {
                dedupe::release(&callbacks.db, &key).await;
            }
            Err(e)
        }
        Ok(Err(join)) => {
            if effects {
                dedupe::release(&callbacks.db, &key).await;
            }
            Err(ApiError::internal(anyhow::anyhow!(
                "callback handler failed: {join}"
            )))
        }
        Err(_) => {
            // Too slow for WeChat's window: answer now, send the reply later.
            let callbacks = callbacks.clone();
            tokio::spawn(async move {
                match work.await {
                    Ok(Ok(Some(reply))) => {
                        let first = effects
                            || matches!(claim(&callbacks, &key, None).await, Ok(Claim::New));
                        if first && let Err(e) = follow_up(&callbacks, &inbound, &reply).await {
                            tracing::error!(error = ?e, "queueing a late reply failed");
                        }
                    }
                    Ok(Ok(None)) => {}
                    // WeChat's next retry may try again.
                    Ok(Err(e)) => {
                        tracing::error!(error = ?e, "a slow callback failed");
                        dedupe::release(&callbacks.db, &key).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a slow callback panicked");
                        dedupe::release(&callbacks.db, &key).await;
                    }
                }
            });
            Ok(None)
        }
    }
}

async fn follow_up(callbacks: &Callbacks, inbound: &Inbound, reply: &Reply) -> ApiResult<()> {
    let user = identity::user_of(
        &callbacks.db,
        &callbacks.settings.wechat.app_id,
        &inbound.from,
    )
    .await?;
    outbox::service::custom_text(
        &callbacks.db,
        &callbacks.settings,
        &inbound.from,
        user,
        &reply.to_text(),
    )
    .await
}
