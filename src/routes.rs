//! The route table: every endpoint, its access rule and its handler, in one
//! place. The API document and the access guard are both built from this
//! table, so a route cannot exist without a rule or without documentation.
//!
//! Method and path come from each handler's `#[utoipa::path]` annotation
//! (`P` below), so they are written once.

use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, Responder, web};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{RefOr, schema::Schema};

use crate::auth::access::{ANY_STAFF, BUILDING_STAFF, COURIER_STAFF, MANAGER};
use crate::auth::access::{DISPUTE_STAFF, FINANCE, ORDER_STAFF, PICKUP_STAFF, RESIDENTS_ONLY};
use crate::auth::access::{MERCHANT_ANY, MERCHANT_OWNER, MERCHANT_REVIEWERS, PII_READERS};
use crate::auth::{self, Access};
use crate::config::Settings;
use crate::{
    catalog, community, courier, files, group_buys, health, merchant, orders, outbox, pickup,
    privacy, resident, structure, user, wechat,
};

/// The whole API. Add new routes here (and to `tests/api/access_matrix.rs`).
#[rustfmt::skip]
pub fn table(settings: &Settings) -> Vec<ApiRoute> {
    use Access::*;
    use structure::routes as st;
    use resident::routes as rs;
    use merchant::routes as mr;
    use courier::routes as cr;
    use privacy::routes as pv;
    use files::routes as fl;
    use wechat::{callback as wc, oauth, miniprogram as mp, qr, menu};
    use group_buys::routes as gb;
    use orders::routes as od;
    use pickup::routes as pk;
    use crate::disputes::routes as dp;
    let mut routes = vec![
        // Operations
        route::<health::__path_health, _, _>(Public, health::health),
        route::<health::__path_ready, _, _>(Public, health::ready),
        route::<health::__path_metrics, _, _>(Public, health::metrics),
        // WeChat callbacks (the signature is the authorization). Early in the
        // table on purpose: actix tries resources in registration order, and
        // these are the busiest unauthenticated routes.
        route::<wc::__path_verify_url, _, _>(Public, wc::verify_url),
        route::<wc::__path_receive, _, _>(Public, wc::receive),
        // WeChat Pay's notifications (the signature is the authorization)
        route::<crate::payment::wechat_pay::notify::__path_payment, _, _>(Public, crate::payment::wechat_pay::notify::payment),
        route::<crate::payment::wechat_pay::notify::__path_refund, _, _>(Public, crate::payment::wechat_pay::notify::refund),
        route::<crate::payment::wechat_pay::notify::__path_transfer, _, _>(Public, crate::payment::wechat_pay::notify::transfer),
        // Authentication
        route::<auth::routes::__path_login, _, _>(Public, auth::routes::login),
        route::<auth::routes::__path_refresh, _, _>(Public, auth::routes::refresh),
        route::<auth::routes::__path_logout, _, _>(Public, auth::routes::logout),
        route::<mp::__path_login, _, _>(Public, mp::login),
        route::<mp::__path_bind_phone, _, _>(SignedIn, mp::bind_phone),
        // The signed-in user
        route::<user::routes::__path_get_me, _, _>(SignedIn, user::routes::get_me),
        route::<user::routes::__path_change_password, _, _>(SignedIn, user::routes::change_password),
        // Communities and their staff
        route::<community::routes::__path_create, _, _>(OperatorAdmin, community::routes::create),
        route::<community::routes::__path_list, _, _>(SignedIn, community::routes::list),
        route::<community::routes::__path_get, _, _>(Staff(ANY_STAFF), community::routes::get),
        route::<community::routes::__path_update, _, _>(Staff(MANAGER), community::routes::update),
        route::<community::routes::__path_list_staff, _, _>(Staff(MANAGER), community::routes::list_staff),
        route::<community::routes::__path_add_staff, _, _>(Staff(MANAGER), community::routes::add_staff),
        route::<community::routes::__path_remove_staff, _, _>(Staff(MANAGER), community::routes::remove_staff),
        // Community structure and the owner register
        route::<st::__path_create_building, _, _>(Staff(MANAGER), st::create_building),
        route::<st::__path_list_buildings, _, _>(Staff(ANY_STAFF), st::list_buildings),
        route::<st::__path_create_unit, _, _>(Staff(MANAGER), st::create_unit),
        route::<st::__path_list_units, _, _>(Staff(ANY_STAFF), st::list_units),
        route::<st::__path_create_household, _, _>(Staff(MANAGER), st::create_household),
        route::<st::__path_list_households, _, _>(Staff(ANY_STAFF), st::list_households),
        route::<st::__path_get_household, _, _>(Staff(ANY_STAFF), st::get_household),
        route::<st::__path_create_gate, _, _>(Staff(MANAGER), st::create_gate),
        route::<st::__path_list_gates, _, _>(Staff(ANY_STAFF), st::list_gates),
        route::<st::__path_create_pickup_point, _, _>(Staff(MANAGER), st::create_pickup_point),
        route::<st::__path_list_pickup_points, _, _>(Staff(ANY_STAFF), st::list_pickup_points),
        route::<st::__path_update_pickup_point, _, _>(Staff(MANAGER), st::update_pickup_point),
        route::<st::__path_list_owner_records, _, _>(Staff(BUILDING_STAFF), st::list_owner_records),
        route::<st::__path_import_owner_records, _, _>(Staff(MANAGER), st::import_owner_records),
        // Residents: claims, verification, members, invitations
        route::<rs::__path_directory, _, _>(SignedIn, rs::directory),
        route::<rs::__path_file_claim, _, _>(Visitors, rs::file_claim),
        route::<rs::__path_list_claims, _, _>(Staff(BUILDING_STAFF), rs::list_claims),
        route::<rs::__path_export_claims, _, _>(Staff(BUILDING_STAFF), rs::export_claims),
        route::<rs::__path_list_residents, _, _>(Staff(BUILDING_STAFF), rs::list_residents),
        route::<rs::__path_export_residents, _, _>(Staff(BUILDING_STAFF), rs::export_residents),
        route::<rs::__path_approve_claim, _, _>(Staff(BUILDING_STAFF), rs::approve_claim),
        route::<rs::__path_reject_claim, _, _>(Staff(BUILDING_STAFF), rs::reject_claim),
        route::<rs::__path_my_households, _, _>(SignedIn, rs::my_households),
        route::<rs::__path_list_members, _, _>(Residents(BUILDING_STAFF), rs::list_members),
        route::<rs::__path_create_invite, _, _>(Residents(BUILDING_STAFF), rs::create_invite),
        route::<rs::__path_accept_invite, _, _>(SignedIn, rs::accept_invite),
        route::<rs::__path_remove_member, _, _>(Residents(BUILDING_STAFF), rs::remove_member),
        // Merchants: their side
        route::<mr::__path_create_merchant, _, _>(SignedIn, mr::create_merchant),
        route::<mr::__path_my_merchants, _, _>(SignedIn, mr::my_merchants),
        route::<mr::__path_get_merchant, _, _>(Merchant(MERCHANT_ANY), mr::get_merchant),
        route::<mr::__path_update_merchant, _, _>(Merchant(MERCHANT_OWNER), mr::update_merchant),
        route::<mr::__path_apply, _, _>(Merchant(MERCHANT_OWNER), mr::apply),
        route::<mr::__path_list_merchant_staff, _, _>(Merchant(MERCHANT_ANY), mr::list_merchant_staff),
        route::<mr::__path_add_merchant_staff, _, _>(Merchant(MERCHANT_OWNER), mr::add_merchant_staff),
        route::<mr::__path_remove_merchant_staff, _, _>(Merchant(MERCHANT_OWNER), mr::remove_merchant_staff),
        // Merchants' money: balance, daily statements, commission
        route::<crate::settlement::routes::__path_balance, _, _>(Merchant(MERCHANT_OWNER), crate::settlement::routes::balance),
        route::<crate::settlement::routes::__path_statement, _, _>(Merchant(MERCHANT_OWNER), crate::settlement::routes::statement),
        route::<crate::settlement::routes::__path_set_commission, _, _>(OperatorAdmin, crate::settlement::routes::set_commission),
        route::<crate::settlement::withdrawals::__path_request, _, _>(Merchant(MERCHANT_OWNER), crate::settlement::withdrawals::request),
        route::<crate::settlement::withdrawals::__path_list_for_merchant, _, _>(Merchant(MERCHANT_OWNER), crate::settlement::withdrawals::list_for_merchant),
        route::<crate::settlement::withdrawals::__path_list_for_community, _, _>(Staff(FINANCE), crate::settlement::withdrawals::list_for_community),
        route::<crate::settlement::withdrawals::__path_decide, _, _>(Staff(FINANCE), crate::settlement::withdrawals::decide),
        route::<crate::payment::wallet::__path_get, _, _>(Residents(FINANCE), crate::payment::wallet::get),
        route::<crate::payment::refunds::__path_list, _, _>(Staff(FINANCE), crate::payment::refunds::list),
        route::<crate::payment::refunds::__path_retry, _, _>(Staff(FINANCE), crate::payment::refunds::retry),
        route::<crate::payment::wechat_pay::bills::routes::__path_community, _, _>(Staff(FINANCE), crate::payment::wechat_pay::bills::routes::community),
        route::<crate::payment::wechat_pay::bills::routes::__path_company, _, _>(OperatorAdmin, crate::payment::wechat_pay::bills::routes::company),
        // Merchants: the property's side
        route::<mr::__path_list_community_merchants, _, _>(Staff(MERCHANT_REVIEWERS), mr::list_community_merchants),
        // Before /merchants/{merchant_id}, which would also match "export".
        route::<mr::__path_export_community_merchants, _, _>(Staff(MERCHANT_REVIEWERS), mr::export_community_merchants),
        route::<mr::__path_get_community_merchant, _, _>(Staff(MERCHANT_REVIEWERS), mr::get_community_merchant),
        route::<mr::__path_record_visit, _, _>(Staff(MERCHANT_REVIEWERS), mr::record_visit),
        route::<mr::__path_verify_merchant, _, _>(Staff(MANAGER), mr::verify_merchant),
        route::<mr::__path_reject_merchant, _, _>(Staff(MANAGER), mr::reject_merchant),
        route::<mr::__path_suspend_merchant, _, _>(Staff(MANAGER), mr::suspend_merchant),
        // Couriers and delivery companies
        route::<cr::__path_create_company, _, _>(OperatorAdmin, cr::create_company),
        route::<cr::__path_list_companies, _, _>(SignedIn, cr::list_companies),
        route::<cr::__path_register_for_merchant, _, _>(Merchant(MERCHANT_OWNER), cr::register_for_merchant),
        route::<cr::__path_list_for_merchant, _, _>(Merchant(MERCHANT_ANY), cr::list_for_merchant),
        route::<cr::__path_renew_merchant_pass, _, _>(Merchant(MERCHANT_OWNER), cr::renew_merchant_pass),
        route::<cr::__path_register_for_property, _, _>(Staff(MANAGER), cr::register_for_property),
        route::<cr::__path_list_for_community, _, _>(Staff(COURIER_STAFF), cr::list_for_community),
        route::<cr::__path_export_for_community, _, _>(Staff(COURIER_STAFF), cr::export_for_community),
        route::<cr::__path_set_status, _, _>(Staff(MANAGER), cr::set_status),
        route::<cr::__path_renew_pass, _, _>(Staff(MANAGER), cr::renew_pass),
        route::<cr::__path_add_company_staff, _, _>(Company, cr::add_company_staff),
        route::<cr::__path_list_company_staff, _, _>(Company, cr::list_company_staff),
        route::<cr::__path_register_for_company, _, _>(Company, cr::register_for_company),
        route::<cr::__path_list_for_company, _, _>(Company, cr::list_for_company),
        // Personal data
        route::<pv::__path_reveal, _, _>(Staff(PII_READERS), pv::reveal),
        route::<pv::__path_access_log, _, _>(Staff(MANAGER), pv::access_log),
        // Files: upload, signed download links, merchant documents
        route::<fl::__path_upload, _, _>(SignedIn, fl::upload),
        route::<fl::__path_link, _, _>(SignedIn, fl::link),
        // The signature in the query is the authorization.
        route::<fl::__path_download, _, _>(Public, fl::download),
        route::<fl::__path_attach_merchant_document, _, _>(Merchant(MERCHANT_OWNER), fl::attach_merchant_document),
        route::<fl::__path_merchant_documents, _, _>(Merchant(MERCHANT_ANY), fl::merchant_documents),
        route::<fl::__path_community_merchant_documents, _, _>(Staff(MERCHANT_REVIEWERS), fl::community_merchant_documents),
        // WeChat: callbacks (the signature is the authorization), OAuth, JS-SDK, menu, QR codes
        route::<oauth::__path_authorize, _, _>(Public, oauth::authorize),
        route::<oauth::__path_callback, _, _>(Public, oauth::callback),
        route::<oauth::__path_jssdk_config, _, _>(Public, oauth::jssdk_config),
        route::<menu::__path_sync_route, _, _>(OperatorAdmin, menu::sync_route),
        route::<qr::__path_invite_qr, _, _>(SignedIn, qr::invite_qr),
        route::<qr::__path_pickup_point_qr, _, _>(Staff(MANAGER), qr::pickup_point_qr),
        route::<qr::__path_qr_image, _, _>(Public, qr::qr_image),
        // Catalog: categories and products
        route::<catalog::routes::__path_list_categories, _, _>(SignedIn, catalog::routes::list_categories),
        route::<catalog::routes::__path_create_category, _, _>(OperatorAdmin, catalog::routes::create_category),
        route::<catalog::routes::__path_update_category, _, _>(OperatorAdmin, catalog::routes::update_category),
        route::<catalog::routes::__path_create_product, _, _>(Merchant(MERCHANT_ANY), catalog::routes::create_product),
        route::<catalog::routes::__path_list_own_products, _, _>(Merchant(MERCHANT_ANY), catalog::routes::list_own_products),
        route::<catalog::routes::__path_update_product, _, _>(Merchant(MERCHANT_ANY), catalog::routes::update_product),
        route::<catalog::routes::__path_community_products, _, _>(Residents(ANY_STAFF), catalog::routes::community_products),
        route::<catalog::routes::__path_search_products, _, _>(Residents(ANY_STAFF), catalog::routes::search_products),
        // Group buys
        route::<gb::__path_merchant_create, _, _>(Merchant(MERCHANT_ANY), gb::merchant_create),
        route::<gb::__path_merchant_list, _, _>(Merchant(MERCHANT_ANY), gb::merchant_list),
        route::<gb::__path_merchant_move, _, _>(Merchant(MERCHANT_ANY), gb::merchant_move),
        route::<gb::__path_merchant_edit, _, _>(Merchant(MERCHANT_ANY), gb::merchant_edit),
        route::<gb::__path_property_create, _, _>(Staff(MANAGER), gb::property_create),
        route::<gb::__path_list, _, _>(Residents(ANY_STAFF), gb::list),
        route::<gb::__path_get, _, _>(Residents(ANY_STAFF), gb::get),
        route::<gb::__path_property_move, _, _>(Staff(MANAGER), gb::property_move),
        route::<gb::__path_property_edit, _, _>(Staff(MANAGER), gb::property_edit),
        route::<gb::__path_join, _, _>(Residents(RESIDENTS_ONLY), gb::join),
        // Orders
        route::<od::__path_create, _, _>(Residents(RESIDENTS_ONLY), od::create),
        route::<od::__path_community_orders, _, _>(Staff(ORDER_STAFF), od::community_orders),
        route::<od::__path_get, _, _>(Residents(ORDER_STAFF), od::get),
        route::<od::__path_pay, _, _>(Residents(RESIDENTS_ONLY), od::pay),
        route::<od::__path_cancel, _, _>(Residents(RESIDENTS_ONLY), od::cancel),
        route::<od::__path_confirm, _, _>(Residents(RESIDENTS_ONLY), od::confirm),
        route::<od::__path_property_move, _, _>(Staff(MANAGER), od::property_move),
        route::<od::__path_mine, _, _>(SignedIn, od::mine),
        route::<od::__path_merchant_orders, _, _>(Merchant(MERCHANT_ANY), od::merchant_orders),
        route::<od::__path_merchant_order_detail, _, _>(Merchant(MERCHANT_ANY), od::merchant_order_detail),
        route::<od::__path_merchant_move, _, _>(Merchant(MERCHANT_ANY), od::merchant_move),
        // Property-fee bills (the fixed paths before /fee-bills/{bill_id})
        route::<crate::fees::routes::__path_generate, _, _>(Staff(FINANCE), crate::fees::routes::generate),
        route::<crate::fees::routes::__path_import, _, _>(Staff(FINANCE), crate::fees::routes::import),
        route::<crate::fees::routes::__path_list, _, _>(Staff(FINANCE), crate::fees::routes::list),
        route::<crate::fees::routes::__path_arrears, _, _>(Staff(FINANCE), crate::fees::routes::arrears),
        route::<crate::fees::routes::__path_remind, _, _>(Staff(FINANCE), crate::fees::routes::remind),
        route::<crate::fees::routes::__path_get, _, _>(Residents(FINANCE), crate::fees::routes::get),
        route::<crate::fees::routes::__path_pay, _, _>(Residents(RESIDENTS_ONLY), crate::fees::routes::pay),
        route::<crate::fees::routes::__path_void, _, _>(Staff(FINANCE), crate::fees::routes::void),
        route::<crate::fees::routes::__path_household_bills, _, _>(Residents(FINANCE), crate::fees::routes::household_bills),
        // Disputes: residents open and reply, merchants answer, customer service decide
        route::<dp::__path_open, _, _>(Residents(RESIDENTS_ONLY), dp::open),
        route::<dp::__path_list, _, _>(Residents(DISPUTE_STAFF), dp::list),
        route::<dp::__path_get, _, _>(Residents(DISPUTE_STAFF), dp::get),
        route::<dp::__path_reply, _, _>(Residents(RESIDENTS_ONLY), dp::reply),
        route::<dp::__path_decide, _, _>(Staff(DISPUTE_STAFF), dp::decide),
        route::<dp::__path_merchant_list, _, _>(Merchant(MERCHANT_ANY), dp::merchant_list),
        route::<dp::__path_merchant_get, _, _>(Merchant(MERCHANT_ANY), dp::merchant_get),
        route::<dp::__path_answer, _, _>(Merchant(MERCHANT_ANY), dp::answer),
        // Pickup: slots, codes, collectors, the board
        route::<pk::__path_generate_slots, _, _>(Staff(MANAGER), pk::generate_slots),
        route::<pk::__path_list_slots, _, _>(Residents(ANY_STAFF), pk::list_slots),
        route::<pk::__path_book_slot, _, _>(Residents(RESIDENTS_ONLY), pk::book_slot),
        route::<pk::__path_name_collector, _, _>(Residents(RESIDENTS_ONLY), pk::name_collector),
        route::<pk::__path_my_codes, _, _>(SignedIn, pk::my_codes),
        route::<pk::__path_verify, _, _>(Staff(PICKUP_STAFF), pk::verify),
        route::<pk::__path_uncollected, _, _>(Staff(PICKUP_STAFF), pk::uncollected),
        route::<pk::__path_list_notes, _, _>(Residents(ANY_STAFF), pk::list_notes),
        route::<pk::__path_post_note, _, _>(Residents(ANY_STAFF), pk::post_note),
        route::<pk::__path_remove_note, _, _>(Staff(PICKUP_STAFF), pk::remove_note),
        // Outbound messages
        route::<outbox::routes::__path_list, _, _>(OperatorAdmin, outbox::routes::list),
        route::<outbox::routes::__path_retry, _, _>(OperatorAdmin, outbox::routes::retry),
    ];
    if settings.wechat.sandbox() && settings.miniprogram.sandbox() {
        routes.push(route::<outbox::routes::__path_sandbox_inbox, _, _>(SignedIn, outbox::routes::sandbox_inbox));
    }
    if settings.auth.dev_login {
        routes.push(route::<auth::routes::__path_dev_login, _, _>(Public, auth::routes::dev_login));
    }
    routes
}

/// One endpoint: where it is, who may call it, what serves it, how it is
/// documented.
pub struct ApiRoute {
    pub method: Method,
    pub http_method: HttpMethod,
    pub path: String,
    pub access: Access,
    pub operation: Operation,
    pub schemas: Vec<(String, RefOr<Schema>)>,
    pub(crate) service: actix_web::Route,
}

fn route<P, F, Args>(access: Access, handler: F) -> ApiRoute
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let http_method = P::methods().into_iter().next().unwrap_or(HttpMethod::Get);
    let method = match http_method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    };
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    ApiRoute {
        service: web::method(method.clone()).to(handler),
        method,
        http_method,
        path: P::path(),
        access,
        operation: P::operation(),
        schemas,
    }
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
