//! The WeChat protocol layer, owned by anjia (no crate does all of it).
//!
//! - [`crypto`], [`xml`], [`message`]: signatures, safe-mode encryption, the
//!   XML on the wire, typed messages and events.
//! - [`callback`], [`dedupe`] and [`replies`]: what `/wechat/callback` does,
//!   the callbacks already seen, and what the service account answers.
//! - [`client`] and [`token`]: calls to WeChat's API and the shared
//!   access_token / jsapi_ticket (one copy in the database, one refresher).
//! - [`oauth`], [`miniprogram`], [`identity`]: signing people in from the
//!   service account and the mini-program, as one person.
//! - [`menu`], [`qr`]: the custom menu and parametric QR codes.
//! - [`routes`] and [`views`]: the endpoints, and what they take and answer.
//!
//! Outbound messages go through [`crate::outbox`].

pub mod callback;
pub mod client;
pub mod crypto;
pub mod dedupe;
pub mod error;
pub mod identity;
pub mod menu;
pub mod message;
pub mod miniprogram;
pub mod oauth;
pub mod qr;
pub mod replies;
pub mod routes;
pub mod token;
pub mod views;
pub mod xml;
