//! No data crosses from one community to another, also when the id in the
//! path is foreign: every route that names a resource below its community
//! (or its merchant) is called with this community's (this merchant's) path
//! and another's resource, one id at a time, by callers the guard admits
//! here. Each answer is 404, and the database is left exactly as it was.

use std::collections::BTreeMap;

use reqwest::Method;
use sea_orm::{DbBackend, FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};

use super::world::{self, World};
use super::{EXPECTED, Who};
use crate::support::{Session, TestApp, spawn_app, status_and_json};

/// The ids a path names below its scope (the community or the merchant).
fn resource_ids(pattern: &str) -> Vec<&str> {
    let scope = if pattern.starts_with("/api/v1/communities/{community_id}/") {
        "{community_id}"
    } else if pattern.starts_with("/api/v1/merchants/{merchant_id}/") {
        "{merchant_id}"
    } else {
        return Vec::new();
    };
    pattern
        .split('/')
        .filter(|s| s.starts_with('{') && *s != scope && *s != "{date}")
        .collect()
}

/// A body the route accepts, so that nothing but the foreign id can make
/// it refuse.
fn body_for(method: &Method, pattern: &str, there: &World) -> Option<Value> {
    let tail = pattern.rsplit('/').next().unwrap_or_default();
    let future = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let body = match (method.as_str(), tail) {
        ("GET" | "DELETE", _) | (_, "confirm" | "qr" | "invites") => return None,
        ("POST", "orders") => json!({
            "items": [{ "item_id": "01960000-0000-7000-8000-00000000beef", "quantity": 1 }],
            "receiving": { "fulfilment": "pickup", "pickup_point_id": there.pickup_point },
        }),
        ("POST", "units") => json!({ "name": "9单元" }),
        ("PATCH", "{pickup_point_id}") => json!({ "name": "改名" }),
        ("POST", "approve" | "pay" | "cancel" | "retry") => json!({}),
        ("POST", "reject" | "suspend" | "void") => json!({ "reason": "越权" }),
        ("POST", "status") if pattern.contains("withdrawals") => json!({ "status": "approved" }),
        ("POST", "status") if pattern.contains("group-buys") => {
            json!({ "status": "cancelled", "reason": "越权" })
        }
        ("POST", "status") => json!({ "status": "rejected", "reason": "越权" }),
        ("PUT", "status") => json!({ "status": "suspended", "reason": "越权" }),
        ("PUT", "pass") => json!({ "pass_valid_until": future }),
        ("POST", "visits") => json!({ "notes": "越权" }),
        ("POST", "verify") => json!({ "valid_until": future }),
        ("PATCH", _) => json!({ "title": "越权" }),
        ("POST", "slots") => {
            json!({ "from": "2026-12-01", "days": 1, "slot_minutes": 60, "capacity": 5 })
        }
        ("POST", "pickup-slot") => json!({ "slot_id": "01960000-0000-7000-8000-00000000beef" }),
        ("POST", "collector") => json!({ "phone": "13700000009" }),
        ("POST", "verifications") => json!({ "code": "12345678" }),
        ("POST", "notes") => json!({ "body": "越权" }),
        ("POST", "dispute") => json!({ "reason": "越权" }),
        ("POST", "reply") => json!({ "action": "withdraw" }),
        ("POST", "decision") => json!({ "outcome": "no_refund", "note": "越权" }),
        ("POST", "answer") => json!({ "action": "accept" }),
        (m, t) => panic!("no body written for {m} …/{t} ({pattern})"),
    };
    Some(body)
}

/// Callers the guard admits on `who`'s routes in `here`.
fn admitted<'a>(who: Who, here: &'a World, admin: &'a Session) -> Vec<&'a Session> {
    match who {
        Who::Staff(_) => vec![admin],
        Who::Residents([]) => vec![&here.resident],
        Who::Residents(_) => vec![admin, &here.resident],
        Who::Merchant(_) => vec![&here.merchant_owner, admin],
        _ => Vec::new(),
    }
}

/// Every row of every table, sorted: what "nothing changed" is held to.
async fn snapshot(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let backend = app.db.get_database_backend();
    let tables = match backend {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let names = JsonValue::find_by_statement(Statement::from_string(backend, tables))
        .all(&app.db)
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for n in names {
        let name = n["name"].as_str().unwrap().to_owned();
        let rows = JsonValue::find_by_statement(Statement::from_string(
            backend,
            format!("SELECT * FROM \"{name}\""),
        ))
        .all(&app.db)
        .await
        .unwrap();
        let mut rows: Vec<String> = rows.iter().map(Value::to_string).collect();
        rows.sort();
        out.insert(name, rows);
    }
    out
}

fn differences(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(table, rows)| before.get(*table) != Some(rows))
        .map(|(table, _)| table.clone())
        .collect()
}

#[tokio::test]
async fn a_route_named_with_this_community_and_another_community_s_resource_answers_404_and_changes_nothing()
 {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let here_id = app.community("本小区").await;
    let there_id = app.community("别的小区").await;
    let here = world::build(&app, &admin, here_id, 0).await;
    let there = world::build(&app, &admin, there_id, 1).await;
    // Foreign children, made once: no call may remove them.
    let note = there.fresh_note(&app).await;
    let member = there.fresh_member(&app).await.to_string();
    let assignment = there.fresh_assignment(&app).await.to_string();
    let clerk = there.fresh_clerk(&app, 13_600_000_101).await;

    let before_all = snapshot(&app).await;
    let mut calls = 0;
    let mut failures = Vec::new();
    for (method, pattern, who) in EXPECTED {
        let ids = resource_ids(pattern);
        if ids.is_empty() {
            continue;
        }
        let method: Method = method.parse().unwrap();
        for foreign in &ids {
            // Every id this world's but `foreign`, which is the other's.
            let theirs = match *foreign {
                "{note_id}" => note.clone(),
                "{member_id}" => member.clone(),
                "{assignment_id}" => assignment.clone(),
                "{staff_id}" => clerk.clone(),
                _ => there
                    .id(pattern, foreign)
                    .unwrap_or_else(|| panic!("no {foreign} in the other world")),
            };
            let mut path = here.fill(pattern, &[foreign]).replace(foreign, &theirs);
            for (placeholder, id) in [
                ("{note_id}", note.as_str()),
                ("{member_id}", member.as_str()),
                ("{assignment_id}", assignment.as_str()),
                ("{staff_id}", clerk.as_str()),
            ] {
                // A child below a foreign parent: the other world's too.
                path = path.replace(placeholder, id);
            }
            assert!(!path.contains('{'), "unfilled {path}");
            for caller in admitted(*who, &here, &admin) {
                let mutating = method != Method::GET;
                let before = if mutating {
                    Some(snapshot(&app).await)
                } else {
                    None
                };
                let body = body_for(&method, pattern, &there);
                let res = app
                    .request(method.clone(), &path, Some(&caller.access), body)
                    .await;
                let (status, answer) = status_and_json(res).await;
                calls += 1;
                if (status, answer["code"].as_str()) != (404, Some("not_found")) {
                    failures.push(format!(
                        "{method} {pattern} with a foreign {foreign}: {status} {answer}"
                    ));
                }
                if let Some(before) = before {
                    let changed = differences(&before, &snapshot(&app).await);
                    if !changed.is_empty() {
                        failures.push(format!(
                            "{method} {pattern} with a foreign {foreign} changed {changed:?}"
                        ));
                    }
                }
            }
        }
    }
    let changed = differences(&before_all, &snapshot(&app).await);
    assert!(changed.is_empty(), "the sweep changed {changed:?}");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(calls >= 48, "only {calls} calls");
}
