//! Every route against every kind of caller. The expectations below are
//! written independently of the route table: a route added without an entry
//! here fails this test, and so does a rule that differs from what is
//! written here.

use std::collections::BTreeSet;

use entity::{UserId, staff_role};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Session, TestApp, spawn_app, status_and_json, test_settings};

#[derive(Clone, Copy, Debug)]
enum Who {
    Anyone,
    SignedIn,
    OperatorAdmin,
    /// Staff of the path's community with one of these roles (and operator admins).
    Staff(&'static [&'static str]),
}

const ALL_STAFF: &[&str] = &[
    "manager",
    "building_manager",
    "gate_guard",
    "finance",
    "customer_service",
];
const MANAGER: &[&str] = &["manager"];

const EXPECTED: &[(&str, &str, Who)] = &[
    ("GET", "/health", Who::Anyone),
    ("GET", "/ready", Who::Anyone),
    ("GET", "/metrics", Who::Anyone),
    ("POST", "/api/v1/auth/login", Who::Anyone),
    ("POST", "/api/v1/auth/refresh", Who::Anyone),
    ("POST", "/api/v1/auth/logout", Who::Anyone),
    ("POST", "/api/v1/dev/login", Who::Anyone),
    ("GET", "/api/v1/me", Who::SignedIn),
    ("PUT", "/api/v1/me/password", Who::SignedIn),
    ("POST", "/api/v1/communities", Who::OperatorAdmin),
    ("GET", "/api/v1/communities", Who::SignedIn),
    (
        "GET",
        "/api/v1/communities/{community_id}",
        Who::Staff(ALL_STAFF),
    ),
    (
        "PATCH",
        "/api/v1/communities/{community_id}",
        Who::Staff(MANAGER),
    ),
    (
        "GET",
        "/api/v1/communities/{community_id}/staff",
        Who::Staff(MANAGER),
    ),
    (
        "POST",
        "/api/v1/communities/{community_id}/staff",
        Who::Staff(MANAGER),
    ),
    (
        "DELETE",
        "/api/v1/communities/{community_id}/staff/{assignment_id}",
        Who::Staff(MANAGER),
    ),
];

#[derive(Debug)]
enum Caller {
    Anonymous,
    PlainUser,
    StaffHere(&'static str),
    ManagerElsewhere,
    OperatorAdmin,
}

/// What the caller should get: `Ok(())` for admitted, or the refusal.
fn expected(who: Who, caller: &Caller) -> Result<(), (u16, &'static str)> {
    let unauthenticated = Err((401, "unauthenticated"));
    match (who, caller) {
        (Who::Anyone, _) => Ok(()),
        (_, Caller::Anonymous) => unauthenticated,
        (Who::SignedIn, _) => Ok(()),
        (Who::OperatorAdmin, Caller::OperatorAdmin) => Ok(()),
        (Who::OperatorAdmin, _) => Err((403, "forbidden")),
        (Who::Staff(_), Caller::OperatorAdmin) => Ok(()),
        (Who::Staff(roles), Caller::StaffHere(role)) if roles.contains(role) => Ok(()),
        (Who::Staff(_), Caller::StaffHere(_)) => Err((403, "forbidden")),
        // Outsiders must not learn the community exists.
        (Who::Staff(_), Caller::PlainUser | Caller::ManagerElsewhere) => Err((404, "not_found")),
    }
}

async fn fresh_assignment(app: &TestApp, community: Uuid) -> Uuid {
    let holder = app.staff(community, "gate_guard").await;
    staff_role::Entity::find()
        .filter(staff_role::Column::UserId.eq(UserId::from_uuid(holder.user_id)))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
        .as_uuid()
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

    let mut failures = Vec::new();
    for (method, pattern, who) in EXPECTED {
        for (caller, session) in &callers {
            let mut path = pattern.replace("{community_id}", &here.to_string());
            if path.contains("{assignment_id}") {
                path = path.replace(
                    "{assignment_id}",
                    &fresh_assignment(&app, here).await.to_string(),
                );
            }
            let method: Method = method.parse().unwrap();
            let body =
                matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let token = session.as_ref().map(|s| s.access.as_str());
            let res = app.request(method.clone(), &path, token, body).await;
            let (status, body) = status_and_json(res).await;
            let outcome = match expected(*who, caller) {
                Ok(()) if matches!(status, 401 | 403 | 404) || status >= 500 => {
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
