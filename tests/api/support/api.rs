//! Calls to the API with the answer they must give, for the steps of a
//! scenario that are not what the test is about.

use serde_json::Value;

use super::{Session, TestApp, status_and_json};

/// POSTs `body` to `path` as `who` and expects 201 Created; the new resource.
pub async fn created(app: &TestApp, who: &Session, path: &str, body: Value) -> Value {
    let (status, body) = status_and_json(app.post(path, Some(&who.access), body).await).await;
    assert_eq!(status, 201, "{path}: {body}");
    body
}

/// GETs `path` as `who` and expects 200 OK; the answer.
pub async fn get(app: &TestApp, who: &Session, path: &str) -> Value {
    let (status, body) = status_and_json(app.get(path, Some(&who.access)).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}
