//! The route table: every endpoint, its access rule and its handler, in one
//! place. The API document and the access guard are both built from this
//! table, so a route cannot exist without a rule or without documentation.
//!
//! Each capability lists its own routes (`table()` in its `routes.rs`);
//! this file merges them and registers them. Method and path come from each
//! handler's `#[utoipa::path]` annotation, so they are written once.

use actix_web::middleware::{Next, from_fn};
use actix_web::web;

pub use crate::auth::ApiRoute;
use crate::config::Settings;
use crate::{
    auth, catalog, community, courier, disputes, fees, files, group_buys, health, merchant, orders,
    outbox, payment, pickup, privacy, resident, settlement, structure, user, wechat,
};

/// The whole API: each capability's table, merged. Order matters only where
/// two patterns could match the same path (actix tries resources in
/// registration order); the WeChat callbacks come first as the busiest
/// unauthenticated routes.
pub fn table(settings: &Settings) -> Vec<ApiRoute> {
    [
        health::table(),
        wechat::routes::table(),
        payment::routes::table(),
        auth::routes::table(settings),
        user::routes::table(),
        community::routes::table(),
        structure::routes::table(),
        resident::routes::table(),
        merchant::routes::table(),
        settlement::routes::table(),
        courier::routes::table(),
        privacy::routes::table(),
        files::routes::table(),
        catalog::routes::table(),
        group_buys::routes::table(),
        orders::routes::table(),
        fees::routes::table(),
        disputes::routes::table(),
        pickup::routes::table(),
        outbox::routes::table(settings),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Registers every route, one actix resource per path.
pub fn register(cfg: &mut web::ServiceConfig, routes: Vec<ApiRoute>) {
    let mut resources: Vec<(String, actix_web::Resource)> = Vec::new();
    for r in routes {
        match resources.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, resource)) => {
                let taken = std::mem::replace(resource, web::resource(""));
                *resource = taken.route(r.service);
            }
            None => {
                let resource = web::resource(r.path.clone()).route(r.service);
                resources.push((r.path, resource));
            }
        }
    }
    // The guard runs on each resource, after routing: it sees the route the
    // router matched on the decoded path (a guard before routing could be
    // skipped with a percent-encoded path that matches nothing raw).
    for (path, resource) in resources {
        let pattern: std::sync::Arc<str> = path.into();
        cfg.service(
            resource
                .wrap(from_fn(move |req, next: Next<actix_web::body::BoxBody>| {
                    crate::auth::access::guard(std::sync::Arc::clone(&pattern), req, next)
                }))
                .wrap(from_fn(crate::telemetry::catch_panic)),
        );
    }
}
