//! The WeChat protocol layer, owned by anjia (no crate does all of it).
//!
//! - [`crypto`], [`xml`], [`message`]: signatures, safe-mode encryption, the
//!   XML on the wire, typed messages and events.
//! - [`callback`] and [`replies`]: `/wechat/callback` and what it answers.
//! - [`client`] and [`token`]: calls to WeChat's API and the shared
//!   access_token / jsapi_ticket (one copy in the database, one refresher).
//! - [`oauth`], [`miniprogram`], [`identity`]: signing people in from the
//!   service account and the mini-program, as one person.
//! - [`menu`], [`qr`]: the custom menu and parametric QR codes.
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
pub mod token;
pub mod xml;

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MANAGER};
    vec![
        // WeChat callbacks (the signature is the authorization). Early in the
        // table on purpose: actix tries resources in registration order, and
        // these are the busiest unauthenticated routes.
        route::<callback::__path_verify_url, _, _>(Public, callback::verify_url),
        route::<callback::__path_receive, _, _>(Public, callback::receive),
        route::<miniprogram::__path_login, _, _>(Public, miniprogram::login),
        route::<miniprogram::__path_bind_phone, _, _>(SignedIn, miniprogram::bind_phone),
        // WeChat: callbacks (the signature is the authorization), OAuth, JS-SDK, menu, QR codes
        route::<oauth::__path_authorize, _, _>(Public, oauth::authorize),
        route::<oauth::__path_callback, _, _>(Public, oauth::callback),
        route::<oauth::__path_jssdk_config, _, _>(Public, oauth::jssdk_config),
        route::<menu::__path_sync_route, _, _>(OperatorAdmin, menu::sync_route),
        route::<qr::__path_invite_qr, _, _>(SignedIn, qr::invite_qr),
        route::<qr::__path_pickup_point_qr, _, _>(Staff(MANAGER), qr::pickup_point_qr),
        route::<qr::__path_qr_image, _, _>(Public, qr::qr_image),
    ]
}
