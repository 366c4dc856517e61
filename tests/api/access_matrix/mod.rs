//! Every route against every kind of caller. The expectations below are
//! written independently of the route table: a route added without an entry
//! here fails this test, and so does a rule that differs from what is
//! written here.

use std::collections::BTreeSet;

use entity::UserId;
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::support::{Session, spawn_app, status_and_json, test_settings};
use world::created;

mod foreign;
pub mod world;

#[derive(Clone, Copy, Debug)]
enum Who {
    Anyone,
    SignedIn,
    OperatorAdmin,
    /// Staff of the path's community with one of these roles (and operator admins).
    Staff(&'static [&'static str]),
    /// Residents of the path's community, its staff with these roles, operator admins.
    Residents(&'static [&'static str]),
    /// Anyone signed in.
    Visitors,
    /// The path's merchant's staff with these roles, operator admins.
    Merchant(&'static [&'static str]),
    /// The path's delivery company's staff, operator admins.
    Company,
}

const ALL_STAFF: &[&str] = &[
    "manager",
    "building_manager",
    "gate_guard",
    "finance",
    "customer_service",
];
const MANAGER: &[&str] = &["manager"];
const BUILDING_STAFF: &[&str] = &["manager", "building_manager"];
const MERCHANT_REVIEWERS: &[&str] = &["manager", "building_manager", "customer_service"];
const MERCHANT_ANY: &[&str] = &["owner", "staff"];
const COURIER_STAFF: &[&str] = &["manager", "gate_guard"];
const PII_READERS: &[&str] = &[
    "manager",
    "building_manager",
    "customer_service",
    "gate_guard",
];
const MERCHANT_OWNER: &[&str] = &["owner"];
const ORDER_STAFF: &[&str] = &["manager", "finance", "customer_service"];
const PICKUP_STAFF: &[&str] = &[
    "manager",
    "building_manager",
    "gate_guard",
    "customer_service",
];
const RESIDENTS_ONLY: &[&str] = &[];
const FINANCE: &[&str] = &["manager", "finance"];
const DISPUTE_STAFF: &[&str] = &["manager", "customer_service"];

#[rustfmt::skip]
const EXPECTED: &[(&str, &str, Who)] = &[
    ("GET", "/health", Who::Anyone),
    ("GET", "/ready", Who::Anyone),
    ("GET", "/metrics", Who::Anyone),
    ("POST", "/api/v1/auth/login", Who::Anyone),
    ("POST", "/api/v1/auth/refresh", Who::Anyone),
    ("POST", "/api/v1/auth/logout", Who::Anyone),
    ("POST", "/api/v1/auth/miniprogram/login", Who::Anyone),
    ("POST", "/api/v1/auth/miniprogram/phone", Who::SignedIn),
    ("GET", "/wechat/callback", Who::Anyone),
    ("POST", "/wechat/callback", Who::Anyone),
    ("POST", "/wechat/pay/notify", Who::Anyone),
    ("POST", "/wechat/pay/refund-notify", Who::Anyone),
    ("POST", "/wechat/pay/transfer-notify", Who::Anyone),
    ("GET", "/wechat/oauth/authorize", Who::Anyone),
    ("GET", "/wechat/oauth/callback", Who::Anyone),
    ("GET", "/api/v1/wechat/jssdk-config", Who::Anyone),
    ("POST", "/api/v1/wechat/menu/sync", Who::OperatorAdmin),
    ("POST", "/api/v1/me/invite-qr", Who::SignedIn),
    ("POST", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/qr", Who::Staff(MANAGER)),
    ("GET", "/api/v1/wechat/qr-codes/{qr_id}/image", Who::Anyone),
    ("GET", "/api/v1/categories", Who::SignedIn),
    ("POST", "/api/v1/categories", Who::OperatorAdmin),
    ("PATCH", "/api/v1/categories/{category_id}", Who::OperatorAdmin),
    ("POST", "/api/v1/merchants/{merchant_id}/products", Who::Merchant(MERCHANT_ANY)),
    ("GET", "/api/v1/merchants/{merchant_id}/products", Who::Merchant(MERCHANT_ANY)),
    ("PATCH", "/api/v1/merchants/{merchant_id}/products/{product_id}", Who::Merchant(MERCHANT_ANY)),
    ("GET", "/api/v1/communities/{community_id}/products", Who::Residents(ALL_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/products/search", Who::Residents(ALL_STAFF)),
    ("GET", "/api/v1/outbox", Who::OperatorAdmin),
    ("POST", "/api/v1/outbox/{message_id}/retry", Who::OperatorAdmin),
    ("GET", "/api/v1/dev/sandbox/inbox", Who::SignedIn),
    ("POST", "/api/v1/dev/login", Who::Anyone),
    ("GET", "/api/v1/me", Who::SignedIn),
    ("PUT", "/api/v1/me/password", Who::SignedIn),
    ("POST", "/api/v1/communities", Who::OperatorAdmin),
    ("GET", "/api/v1/communities", Who::SignedIn),
    ("GET", "/api/v1/communities/{community_id}", Who::Staff(ALL_STAFF)),
    ("PATCH", "/api/v1/communities/{community_id}", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/staff", Who::Staff(MANAGER)),
    ("POST", "/api/v1/communities/{community_id}/staff", Who::Staff(MANAGER)),
    ("DELETE", "/api/v1/communities/{community_id}/staff/{assignment_id}", Who::Staff(MANAGER)),
    ("POST", "/api/v1/communities/{community_id}/buildings", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/buildings", Who::Staff(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/buildings/{building_id}/units", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/buildings/{building_id}/units", Who::Staff(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/households", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/households", Who::Staff(ALL_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/households/{household_id}", Who::Staff(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/gates", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/gates", Who::Staff(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/pickup-points", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/pickup-points", Who::Staff(ALL_STAFF)),
    ("PATCH", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/owner-records", Who::Staff(BUILDING_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/owner-records/import", Who::Staff(MANAGER)),
    ("GET", "/api/v1/community-directory", Who::SignedIn),
    ("POST", "/api/v1/communities/{community_id}/claims", Who::Visitors),
    ("GET", "/api/v1/communities/{community_id}/claims", Who::Staff(BUILDING_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/claims/{claim_id}/approve", Who::Staff(BUILDING_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/claims/{claim_id}/reject", Who::Staff(BUILDING_STAFF)),
    ("GET", "/api/v1/me/households", Who::SignedIn),
    ("GET", "/api/v1/communities/{community_id}/households/{household_id}/members", Who::Residents(BUILDING_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/households/{household_id}/invites", Who::Residents(BUILDING_STAFF)),
    ("POST", "/api/v1/invites/accept", Who::SignedIn),
    ("DELETE", "/api/v1/communities/{community_id}/households/{household_id}/members/{member_id}", Who::Residents(BUILDING_STAFF)),
    ("POST", "/api/v1/merchants", Who::SignedIn),
    ("GET", "/api/v1/me/merchants", Who::SignedIn),
    ("GET", "/api/v1/merchants/{merchant_id}", Who::Merchant(MERCHANT_ANY)),
    ("PATCH", "/api/v1/merchants/{merchant_id}", Who::Merchant(MERCHANT_OWNER)),
    ("POST", "/api/v1/merchants/{merchant_id}/applications", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/merchants/{merchant_id}/staff", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/merchants/{merchant_id}/staff", Who::Merchant(MERCHANT_OWNER)),
    ("DELETE", "/api/v1/merchants/{merchant_id}/staff/{staff_id}", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/merchants/{merchant_id}/balance", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/merchants/{merchant_id}/statements/{date}", Who::Merchant(MERCHANT_OWNER)),
    ("PUT", "/api/v1/merchants/{merchant_id}/commission", Who::OperatorAdmin),
    ("POST", "/api/v1/merchants/{merchant_id}/withdrawals", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/merchants/{merchant_id}/withdrawals", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/communities/{community_id}/withdrawals", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/refunds", Who::Staff(FINANCE)),
    ("POST", "/api/v1/communities/{community_id}/refunds/{refund_id}/retry", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/pay-reconciliations/{date}", Who::Staff(FINANCE)),
    ("GET", "/api/v1/pay-reconciliations/{date}", Who::OperatorAdmin),
    ("POST", "/api/v1/communities/{community_id}/withdrawals/{withdrawal_id}/status", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/households/{household_id}/wallet", Who::Residents(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/merchants", Who::Staff(MERCHANT_REVIEWERS)),
    ("GET", "/api/v1/communities/{community_id}/merchants/{merchant_id}", Who::Staff(MERCHANT_REVIEWERS)),
    ("POST", "/api/v1/communities/{community_id}/merchants/{merchant_id}/visits", Who::Staff(MERCHANT_REVIEWERS)),
    ("POST", "/api/v1/communities/{community_id}/merchants/{merchant_id}/verify", Who::Staff(MANAGER)),
    ("POST", "/api/v1/communities/{community_id}/merchants/{merchant_id}/reject", Who::Staff(MANAGER)),
    ("POST", "/api/v1/communities/{community_id}/merchants/{merchant_id}/suspend", Who::Staff(MANAGER)),
    ("POST", "/api/v1/delivery-companies", Who::OperatorAdmin),
    ("GET", "/api/v1/delivery-companies", Who::SignedIn),
    ("POST", "/api/v1/merchants/{merchant_id}/couriers", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/merchants/{merchant_id}/couriers", Who::Merchant(MERCHANT_ANY)),
    ("PUT", "/api/v1/merchants/{merchant_id}/couriers/{courier_id}/pass", Who::Merchant(MERCHANT_OWNER)),
    ("POST", "/api/v1/communities/{community_id}/couriers", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/couriers", Who::Staff(COURIER_STAFF)),
    ("PUT", "/api/v1/communities/{community_id}/couriers/{courier_id}/status", Who::Staff(MANAGER)),
    ("PUT", "/api/v1/communities/{community_id}/couriers/{courier_id}/pass", Who::Staff(MANAGER)),
    ("POST", "/api/v1/communities/{community_id}/pii/reveal", Who::Staff(PII_READERS)),
    ("GET", "/api/v1/communities/{community_id}/pii/access-log", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/claims/export", Who::Staff(BUILDING_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/residents", Who::Staff(BUILDING_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/residents/export", Who::Staff(BUILDING_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/merchants/export", Who::Staff(MERCHANT_REVIEWERS)),
    ("GET", "/api/v1/communities/{community_id}/couriers/export", Who::Staff(COURIER_STAFF)),
    ("POST", "/api/v1/files", Who::SignedIn),
    ("GET", "/api/v1/files/{file_id}/link", Who::SignedIn),
    ("GET", "/files/{file_id}", Who::Anyone),
    ("POST", "/api/v1/merchants/{merchant_id}/documents", Who::Merchant(MERCHANT_OWNER)),
    ("GET", "/api/v1/merchants/{merchant_id}/documents", Who::Merchant(MERCHANT_ANY)),
    ("GET", "/api/v1/communities/{community_id}/merchants/{merchant_id}/documents", Who::Staff(MERCHANT_REVIEWERS)),
    ("POST", "/api/v1/delivery-companies/{company_id}/staff", Who::Company),
    ("GET", "/api/v1/delivery-companies/{company_id}/staff", Who::Company),
    ("POST", "/api/v1/delivery-companies/{company_id}/couriers", Who::Company),
    ("GET", "/api/v1/delivery-companies/{company_id}/couriers", Who::Company),
    ("POST", "/api/v1/merchants/{merchant_id}/group-buys", Who::Merchant(MERCHANT_ANY)),
    ("GET", "/api/v1/merchants/{merchant_id}/group-buys", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/merchants/{merchant_id}/group-buys/{group_buy_id}/status", Who::Merchant(MERCHANT_ANY)),
    ("PATCH", "/api/v1/merchants/{merchant_id}/group-buys/{group_buy_id}", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/communities/{community_id}/group-buys", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/group-buys", Who::Residents(ALL_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/group-buys/{group_buy_id}", Who::Residents(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/group-buys/{group_buy_id}/status", Who::Staff(MANAGER)),
    ("PATCH", "/api/v1/communities/{community_id}/group-buys/{group_buy_id}", Who::Staff(MANAGER)),
    ("POST", "/api/v1/communities/{community_id}/group-buys/{group_buy_id}/orders", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/orders", Who::Residents(RESIDENTS_ONLY)),
    ("GET", "/api/v1/communities/{community_id}/orders", Who::Staff(ORDER_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/orders/{order_id}", Who::Residents(ORDER_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/pay", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/cancel", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/confirm", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/status", Who::Staff(MANAGER)),
    ("GET", "/api/v1/me/orders", Who::SignedIn),
    ("GET", "/api/v1/merchants/{merchant_id}/orders", Who::Merchant(MERCHANT_ANY)),
    ("GET", "/api/v1/merchants/{merchant_id}/orders/{order_id}", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/merchants/{merchant_id}/orders/{order_id}/status", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/communities/{community_id}/fee-bills/generate", Who::Staff(FINANCE)),
    ("POST", "/api/v1/communities/{community_id}/fee-bills/import", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/fee-bills", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/fee-bills/arrears", Who::Staff(FINANCE)),
    ("POST", "/api/v1/communities/{community_id}/fee-bills/reminders", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/fee-bills/{bill_id}", Who::Residents(FINANCE)),
    ("POST", "/api/v1/communities/{community_id}/fee-bills/{bill_id}/pay", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/fee-bills/{bill_id}/void", Who::Staff(FINANCE)),
    ("GET", "/api/v1/communities/{community_id}/households/{household_id}/fee-bills", Who::Residents(FINANCE)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/dispute", Who::Residents(RESIDENTS_ONLY)),
    ("GET", "/api/v1/communities/{community_id}/disputes", Who::Residents(DISPUTE_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/disputes/{dispute_id}", Who::Residents(DISPUTE_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/disputes/{dispute_id}/reply", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/disputes/{dispute_id}/decision", Who::Staff(DISPUTE_STAFF)),
    ("GET", "/api/v1/merchants/{merchant_id}/disputes", Who::Merchant(MERCHANT_ANY)),
    ("GET", "/api/v1/merchants/{merchant_id}/disputes/{dispute_id}", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/merchants/{merchant_id}/disputes/{dispute_id}/answer", Who::Merchant(MERCHANT_ANY)),
    ("POST", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/slots", Who::Staff(MANAGER)),
    ("GET", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/slots", Who::Residents(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/pickup-slot", Who::Residents(RESIDENTS_ONLY)),
    ("POST", "/api/v1/communities/{community_id}/orders/{order_id}/collector", Who::Residents(RESIDENTS_ONLY)),
    ("GET", "/api/v1/me/pickup-codes", Who::SignedIn),
    ("POST", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/verifications", Who::Staff(PICKUP_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/uncollected", Who::Staff(PICKUP_STAFF)),
    ("GET", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/notes", Who::Residents(ALL_STAFF)),
    ("POST", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/notes", Who::Residents(ALL_STAFF)),
    ("DELETE", "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/notes/{note_id}", Who::Staff(PICKUP_STAFF)),
];

#[derive(Debug)]
enum Caller {
    Anonymous,
    PlainUser,
    StaffHere(&'static str),
    /// An owner of a household of the path's community.
    ResidentHere,
    /// The owner of the path's merchant.
    MerchantOwner,
    /// A staff member of the path's merchant.
    MerchantClerk,
    /// A staff member of the path's delivery company.
    CompanyStaff,
    ManagerElsewhere,
    OperatorAdmin,
}

/// What the caller should get: `Ok(())` for admitted, or the refusal.
fn expected(who: Who, caller: &Caller) -> Result<(), (u16, &'static str)> {
    let unauthenticated = Err((401, "unauthenticated"));
    match (who, caller) {
        (Who::Anyone, _) => Ok(()),
        (_, Caller::Anonymous) => unauthenticated,
        (Who::SignedIn | Who::Visitors, _) => Ok(()),
        (Who::Merchant(_), Caller::OperatorAdmin) => Ok(()),
        (Who::Merchant(roles), Caller::MerchantOwner) if roles.contains(&"owner") => Ok(()),
        (Who::Merchant(roles), Caller::MerchantClerk) if roles.contains(&"staff") => Ok(()),
        (Who::Merchant(_), Caller::MerchantOwner | Caller::MerchantClerk) => {
            Err((403, "forbidden"))
        }
        (Who::Merchant(_), _) => Err((404, "not_found")),
        (Who::Company, Caller::OperatorAdmin | Caller::CompanyStaff) => Ok(()),
        (Who::Company, _) => Err((404, "not_found")),
        (Who::OperatorAdmin, Caller::OperatorAdmin) => Ok(()),
        (Who::OperatorAdmin, _) => Err((403, "forbidden")),
        (Who::Staff(_) | Who::Residents(_), Caller::OperatorAdmin) => Ok(()),
        (Who::Staff(roles) | Who::Residents(roles), Caller::StaffHere(role))
            if roles.contains(role) =>
        {
            Ok(())
        }
        (Who::Residents(_), Caller::ResidentHere) => Ok(()),
        // Known to the community, without the standing this route needs.
        (Who::Staff(_) | Who::Residents(_), Caller::StaffHere(_) | Caller::ResidentHere) => {
            Err((403, "forbidden"))
        }
        // Outsiders must not learn the community exists.
        (
            Who::Staff(_) | Who::Residents(_),
            Caller::PlainUser
            | Caller::ManagerElsewhere
            | Caller::MerchantOwner
            | Caller::MerchantClerk
            | Caller::CompanyStaff,
        ) => Err((404, "not_found")),
    }
}

#[tokio::test]
async fn every_route_admits_exactly_the_callers_its_rule_names() {
    let app = spawn_app().await;
    let here = app.community("本小区").await;
    let elsewhere = app.community("别的小区").await;

    let table: BTreeSet<(String, String)> = anjia::routes::table(&test_settings())
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let expected_routes: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = table.difference(&expected_routes).collect();
    assert!(
        missing.is_empty(),
        "routes without an expectation in the access matrix: {missing:?}"
    );
    let stale: Vec<_> = expected_routes.difference(&table).collect();
    assert!(
        stale.is_empty(),
        "expectations for routes that do not exist: {stale:?}"
    );

    let mut callers: Vec<(Caller, Option<Session>)> = vec![
        (Caller::Anonymous, None),
        (Caller::PlainUser, Some(app.resident().await)),
        (
            Caller::ManagerElsewhere,
            Some(app.staff(elsewhere, "manager").await),
        ),
        (Caller::OperatorAdmin, Some(app.operator_admin().await)),
    ];
    for role in ALL_STAFF {
        callers.push((Caller::StaffHere(role), Some(app.staff(here, role).await)));
    }

    // Real resources of `here` for the paths that name one.
    let admin = app.operator_admin().await;
    let world = world::build(&app, &admin, here, 0).await;
    callers.push((Caller::ResidentHere, Some(world.resident.clone())));
    callers.push((Caller::MerchantClerk, Some(world.clerk.clone())));
    callers.push((Caller::MerchantOwner, Some(world.merchant_owner.clone())));
    let mut next_phone = 13_600_000_000u64;
    let company = created(
        &app,
        &admin,
        "/api/v1/delivery-companies".to_owned(),
        json!({ "name": "矩阵快递", "contact_phone": "13912349999" }),
    )
    .await;
    created(
        &app,
        &admin,
        format!("/api/v1/delivery-companies/{company}/staff"),
        json!({ "phone": "13912349998", "display_name": "调度" }),
    )
    .await;
    callers.push((
        Caller::CompanyStaff,
        Some(app.dev_login(json!({ "phone": "13912349998" })).await),
    ));
    let upload = app
        .client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&admin.access)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n%%EOF\n".to_vec())
        .send()
        .await
        .unwrap();
    let (status, uploaded) = status_and_json(upload).await;
    assert_eq!(status, 201, "{uploaded}");
    let file = uploaded["id"].as_str().unwrap().to_owned();

    let mut failures = Vec::new();
    // An outbox message to retry (the sandbox delivers it; retrying a sent one is a 409).
    let someone = app.resident().await;
    anjia::outbox::service::notify(
        &app.db,
        &app.state.settings,
        UserId::from_uuid(someone.user_id),
        "verification_result",
        &[],
    )
    .await
    .unwrap();
    let message = entity::outbox_message::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    for (method, pattern, who) in EXPECTED {
        for (caller, session) in &callers {
            let mut path = world
                .fill(pattern, &[])
                .replace("{file_id}", &file)
                .replace("{company_id}", &company)
                .replace("{message_id}", &message);
            if path.contains("{note_id}") {
                path = path.replace("{note_id}", &world.fresh_note(&app).await);
            }
            if path.contains("{staff_id}") {
                next_phone += 1;
                path = path.replace("{staff_id}", &world.fresh_clerk(&app, next_phone).await);
            }
            if path.contains("{member_id}") {
                path = path.replace("{member_id}", &world.fresh_member(&app).await.to_string());
            }
            if path.contains("{assignment_id}") {
                path = path.replace(
                    "{assignment_id}",
                    &world.fresh_assignment(&app).await.to_string(),
                );
            }
            let method: Method = method.parse().unwrap();
            let body =
                matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let token = session.as_ref().map(|s| s.access.as_str());
            let res = app.request(method.clone(), &path, token, body).await;
            let (status, body) = status_and_json(res).await;
            let outcome = match expected(*who, caller) {
                // The guard answers 404 only for community and merchant
                // routes; on the others a 404 is the handler's own
                // resource check (a file the caller may not see).
                Ok(())
                    if status == 404
                        && matches!(who, Who::SignedIn | Who::Anyone | Who::Visitors) =>
                {
                    None
                }
                // A handler's own refusal with its own code (`not_a_resident`)
                // is not the guard's.
                Ok(())
                    if matches!(status, 401 | 404)
                        || (status == 403 && body["code"] == "forbidden")
                        || status >= 500 =>
                {
                    Some(format!("expected admission, got {status} {body}"))
                }
                Ok(()) => None,
                Err((want, code)) if status != want || body["code"] != code => {
                    Some(format!("expected {want} {code}, got {status} {body}"))
                }
                Err(_) => None,
            };
            if let Some(problem) = outcome {
                failures.push(format!("{method} {pattern} as {caller:?}: {problem}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "access matrix failures:\n{}",
        failures.join("\n")
    );
}
