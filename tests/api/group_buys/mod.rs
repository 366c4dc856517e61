//! Group buys, orders and pickup, through HTTP, with the sweepers driven by
//! the test at the time it chooses.

mod drafts;
mod joining;
mod lifecycle;

use chrono::Utc;
use serde_json::{Value, json};

use crate::support::fixtures::{World, join};
use crate::support::{Session, TestApp, status_and_json};

async fn joined(app: &TestApp, w: &World, who: &Session, group: &Value, quantity: u32) -> Value {
    let (status, body) = status_and_json(join(app, w, who, group, quantity).await).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn pay(app: &TestApp, w: &World, who: &Session, order: &Value) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/orders/{}/pay",
                w.community,
                order["id"].as_str().unwrap()
            ),
            Some(&who.access),
            json!({}),
        )
        .await,
    )
    .await
}

async fn group_now(app: &TestApp, w: &World, who: &Session, group: &Value) -> Value {
    let (status, body) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/group-buys/{}",
                w.community,
                group["id"].as_str().unwrap()
            ),
            Some(&who.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn order_now(app: &TestApp, w: &World, who: &Session, order: &Value) -> Value {
    let (status, body) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/orders/{}",
                w.community,
                order["id"].as_str().unwrap()
            ),
            Some(&who.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn move_group(app: &TestApp, w: &World, group: &Value, body: Value) -> (u16, Value) {
    status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/status",
                w.community,
                group["id"].as_str().unwrap()
            ),
            Some(&w.manager.access),
            body,
        )
        .await,
    )
    .await
}

async fn sweep_at(app: &TestApp, at: chrono::DateTime<Utc>) -> anjia::jobs::SweepReport {
    anjia::jobs::sweep(&app.state, at)
        .await
        .unwrap_or_else(|e| panic!("sweep: {}", e.message))
}
