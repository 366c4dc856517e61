//! `GET /wechat/callback` (URL verification) and `POST /wechat/callback`
//! (messages and events, in plaintext, compatible or safe mode).
//!
//! Order matters: the signature and timestamp are checked before the body is
//! even parsed, so a forged or replayed request has no effect. Each callback
//! is claimed once by its MsgId (or sender + time + event) in a table every
//! instance shares; WeChat's retries get the first answer again. Work gets
//! `wechat.reply_budget_ms`; beyond it the reply is `success` and the real
//! answer follows as a customer-service message through the outbox.

use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use secrecy::ExposeSecret;
use serde::Deserialize;
use utoipa::IntoParams;

use super::crypto::{MsgCrypt, same_signature, sha1_sorted};
use super::dedupe::Claim;
use super::message::Inbound;
use super::replies::{self, Reply};
use super::{identity, xml};
use crate::kernel::db::sql;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{declared_length, read_limited};
use crate::outbox;
use crate::state::AppState;

/// WeChat's messages are small; anything larger is not from WeChat.
const MAX_CALLBACK_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
    /// URL verification only.
    pub echostr: Option<String>,
    /// `aes` in safe and compatible mode.
    pub encrypt_type: Option<String>,
    /// Safe mode: the signature over the ciphertext too.
    pub msg_signature: Option<String>,
    /// The sender (WeChat adds it; the body is authoritative).
    pub openid: Option<String>,
}

fn refused(message: &str) -> ApiError {
    ApiError::new(ErrorCode::WechatSignatureInvalid, message.to_owned())
}

/// Checks `signature` over token, timestamp and nonce, and the timestamp's age.
fn verify(state: &AppState, q: &CallbackQuery) -> ApiResult<()> {
    let settings = &state.settings.wechat;
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

/// URL verification: echoes `echostr` when the signature matches.
#[utoipa::path(get, path = "/wechat/callback", tag = "wechat",
    params(CallbackQuery),
    responses((status = 200, description = "`echostr`, as text", content_type = "text/plain"),
        (status = 403, description = "`wechat_signature_invalid`", body = ErrorBody)))]
pub async fn verify_url(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> ApiResult<HttpResponse> {
    verify(&state, &query)?;
    let echostr = query
        .echostr
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidQuery, "echostr is missing"))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(echostr))
}

fn bad_message(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::WechatBadMessage,
        format!("the message cannot be read: {message}"),
    )
}

/// Messages and events from WeChat. Answers a passive reply (XML, encrypted
/// in safe mode) or `success`.
#[utoipa::path(post, path = "/wechat/callback", tag = "wechat",
    params(CallbackQuery),
    request_body(content = String, content_type = "text/xml"),
    responses((status = 200, description = "A passive reply (XML) or `success`", content_type = "text/xml"),
        (status = 400, description = "`wechat_bad_message`: malformed XML, DOCTYPE or entities", body = ErrorBody),
        (status = 403, description = "`wechat_signature_invalid`: bad signature or stale timestamp", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody)))]
pub async fn receive(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    verify(&state, &query)?;
    let body = read_limited(
        payload.into_inner(),
        declared_length(&req),
        MAX_CALLBACK_BYTES,
    )
    .await?;
    let outer = xml::parse(&body).map_err(bad_message)?;
    let safe = query
        .encrypt_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("aes"));
    // The plain signature does not cover the body: with a key configured
    // (safe or compatible mode), only messages signed over their ciphertext count.
    if !safe
        && !state
            .settings
            .wechat
            .encoding_aes_key
            .expose_secret()
            .is_empty()
    {
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
        let settings = &state.settings.wechat;
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
    let reply = dispatch(&state, inbound.clone()).await?;
    Ok(match reply {
        None => HttpResponse::Ok()
            .content_type(ContentType::plaintext())
            .body("success"),
        Some(xml_reply) => {
            let body = match crypt {
                Some(crypt) => {
                    let encrypted = crypt.encrypt(&xml_reply);
                    let timestamp = Utc::now().timestamp().to_string();
                    let token = state.settings.wechat.token.expose_secret();
                    let signature = sha1_sorted(&[token, &timestamp, &query.nonce, &encrypted]);
                    xml::encrypted_envelope(&encrypted, &signature, &timestamp, &query.nonce)
                }
                None => xml_reply,
            };
            HttpResponse::Ok()
                .content_type(ContentType::xml())
                .body(body)
        }
    })
}

/// Claims `key` for this delivery (see [`super::dedupe`]).
async fn claim(state: &AppState, key: &str, reply: Option<&str>) -> ApiResult<Claim> {
    state
        .callbacks_seen
        .claim(key.to_owned(), reply.map(str::to_owned))
        .await
}

async fn remember_reply(state: &AppState, key: &str, reply: &str) -> ApiResult<()> {
    let backend = state.db.get_database_backend();
    state
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "UPDATE wechat_callback_seen SET reply = $2 WHERE key = $1",
            ),
            [key.into(), reply.into()],
        ))
        .await?;
    Ok(())
}

/// Lets WeChat's next retry try again after a failure of ours.
async fn release(state: &AppState, key: &str) {
    let backend = state.db.get_database_backend();
    let deleted = state
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql(backend, "DELETE FROM wechat_callback_seen WHERE key = $1"),
            [key.into()],
        ))
        .await;
    if let Err(e) = deleted {
        tracing::warn!(error = %e, "releasing a callback key failed");
    }
}

/// De-duplicates, handles within the reply budget, and returns the reply XML.
async fn dispatch(state: &AppState, inbound: Inbound) -> ApiResult<Option<String>> {
    // Hashed: event keys carry URLs and scenes of any length.
    let key = sha1_sorted(&[&format!(
        "{}:{}",
        state.settings.wechat.app_id,
        inbound.dedupe_key()
    )]);
    // Events that change something are claimed before they run, and their
    // answer is kept for retries. The rest (replies computed from reads) are
    // recorded as seen afterwards; a late answer's follow-up message goes out
    // only from the delivery that recorded the key first.
    let effects = inbound.has_side_effects();
    if effects {
        match claim(state, &key, None).await? {
            Claim::Seen(reply) => return Ok(reply),
            Claim::New => {}
        }
    }
    let budget = Duration::from_millis(state.settings.wechat.reply_budget_ms);
    let work = {
        let state = state.clone();
        let inbound = inbound.clone();
        tokio::spawn(async move { replies::handle(&state, &inbound).await })
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
                return Ok(match claim(state, &key, None).await? {
                    Claim::Seen(Some(first)) => Some(first),
                    Claim::New | Claim::Seen(None) => xml,
                });
            }
            if let Some(xml) = &xml {
                remember_reply(state, &key, xml).await?;
            }
            Ok(xml)
        }
        Ok(Ok(Err(e))) => {
            if effects {
                release(state, &key).await;
            }
            Err(e)
        }
        Ok(Err(join)) => {
            if effects {
                release(state, &key).await;
            }
            Err(ApiError::internal(anyhow::anyhow!(
                "callback handler failed: {join}"
            )))
        }
        Err(_) => {
            // Too slow for WeChat's window: answer now, send the reply later.
            let state = state.clone();
            tokio::spawn(async move {
                match work.await {
                    Ok(Ok(Some(reply))) => {
                        let first =
                            effects || matches!(claim(&state, &key, None).await, Ok(Claim::New));
                        if first && let Err(e) = follow_up(&state, &inbound, &reply).await {
                            tracing::error!(error = ?e, "queueing a late reply failed");
                        }
                    }
                    Ok(Ok(None)) => {}
                    // WeChat's next retry may try again.
                    Ok(Err(e)) => {
                        tracing::error!(error = ?e, "a slow callback failed");
                        release(&state, &key).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a slow callback panicked");
                        release(&state, &key).await;
                    }
                }
            });
            Ok(None)
        }
    }
}

async fn follow_up(state: &AppState, inbound: &Inbound, reply: &Reply) -> ApiResult<()> {
    let user = identity::user_of(&state.db, &state.settings.wechat.app_id, &inbound.from).await?;
    outbox::custom_text(
        &state.db,
        &state.settings,
        &inbound.from,
        user,
        &reply.to_text(),
    )
    .await
}
