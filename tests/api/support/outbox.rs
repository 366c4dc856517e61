//! The outbox as the tests read it: which messages were queued, and waiting
//! for the worker to deliver them.

use std::time::Duration;

use entity::outbox_message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::TestApp;

/// The messages of `kind` queued so far.
pub async fn messages(app: &TestApp, kind: &str) -> Vec<outbox_message::Model> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .unwrap()
}

/// How many messages of `kind` were queued.
pub async fn messages_of(app: &TestApp, kind: &str) -> usize {
    messages(app, kind).await.len()
}

/// Waits (up to 10 s) until `n` outbox messages have `status`.
pub async fn wait_for_outbox(app: &TestApp, status: &str, n: usize) -> Vec<outbox_message::Model> {
    for _ in 0..400 {
        let rows = outbox_message::Entity::find().all(&app.db).await.unwrap();
        let matching: Vec<_> = rows
            .into_iter()
            .filter(|m| serde_json::to_value(m.status).unwrap() == status)
            .collect();
        if matching.len() >= n {
            return matching;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the outbox never had {n} {status} messages");
}
