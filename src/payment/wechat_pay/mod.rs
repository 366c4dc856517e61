//! WeChat Pay API v3: the client ([`client`]: JSAPI / mini-program prepay,
//! refunds, queries, every call signed and every answer verified), its
//! answers as typed values ([`answers`]), the notifications ([`notify`],
//! their handlers in [`routes`]), reconciliation ([`reconcile`]) and the
//! daily bills ([`bills`]). The base URL comes from `wechat_pay.api_base`
//! (tests fake it on loopback).

pub mod answers;
pub mod bills;
pub mod client;
pub mod crypto;
pub mod notify;
pub mod reconcile;
pub mod routes;

pub use client::{RequestPayment, WechatPay, payer_openid};
