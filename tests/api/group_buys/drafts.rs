//! Drafts: the organiser edits a group buy until it is published; a
//! merchant edits its own and the property cannot.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::api::created;
use crate::support::fixtures::{group_buy, world};
use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

async fn patch(app: &TestApp, who: &Session, path: &str, body: Value) -> (u16, Value) {
    status_and_json(
        app.request(reqwest::Method::PATCH, path, Some(&who.access), Some(body))
            .await,
    )
    .await
}

#[tokio::test]
async fn the_organiser_edits_a_draft_until_it_is_published() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let draft = group_buy(&app, &w, 2, 10, json!({ "publish": false })).await;
    assert_eq!(draft["status"], "draft");
    let path = format!(
        "/api/v1/communities/{}/group-buys/{}",
        w.community, draft.id
    );
    let window = (
        (Utc::now() + Duration::days(2)).to_rfc3339(),
        (Utc::now() + Duration::days(3)).to_rfc3339(),
    );
    let (status, edited) = patch(
        &app,
        &w.manager,
        &path,
        json!({
            "title": "本地蓝莓", "min_households": 3,
            "pickup_starts_at": window.0, "pickup_ends_at": window.1,
            "items": [{ "title": "蓝莓", "unit": "盒", "price": 1200, "stock": 30, "per_household_limit": 2 }],
        }),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["title"], "本地蓝莓");
    assert_eq!(edited["min_households"], 3);
    assert_eq!(edited["status"], "draft");
    assert_eq!(edited["items"].as_array().unwrap().len(), 1);
    assert_eq!(edited["items"][0]["price"], 1200);
    assert_eq!(edited["items"][0]["stock"], 30);
    assert_ne!(edited["items"][0]["id"], draft["items"][0]["id"]);
    assert!(edited["pickup_starts_at"].is_string());

    // What is left out stays; null clears the pickup window.
    let (status, again) = patch(
        &app,
        &w.manager,
        &path,
        json!({ "description": "周末到货", "pickup_starts_at": null, "pickup_ends_at": null }),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["description"], "周末到货");
    assert_eq!(again["title"], "本地蓝莓");
    assert_eq!(again["items"][0]["title"], "蓝莓");
    assert_eq!(again["items"][0]["per_household_limit"], 2);
    assert_eq!(again["pickup_point_ids"], edited["pickup_point_ids"]);
    assert!(again["pickup_starts_at"].is_null());

    // Checked like a new group buy; a refused edit changes nothing.
    for (body, field) in [
        (
            json!({ "deadline": (Utc::now() - Duration::hours(1)).to_rfc3339() }),
            "deadline",
        ),
        (
            json!({ "pickup_point_ids": [], "door_delivery": false }),
            "pickup_point_ids",
        ),
        (json!({ "items": [] }), "items"),
        (json!({ "pickup_starts_at": window.0 }), "pickup_starts_at"),
        (json!({ "min_households": 0 }), "min_households"),
    ] {
        let (status, err) = patch(&app, &w.manager, &path, body).await;
        assert_eq!(
            (status, err["details"]["field"].as_str()),
            (422, Some(field)),
            "{err}"
        );
    }
    let (_, now) = status_and_json(app.get(&path, Some(&w.manager.access)).await).await;
    assert_eq!(now["group_buy"]["items"], again["items"]);
    assert_eq!(now["group_buy"]["description"], "周末到货");

    // Published: no more edits.
    let res = app
        .post(
            &format!("{path}/status"),
            Some(&w.manager.access),
            json!({ "status": "open" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&w.manager.access),
            Some(json!({ "title": "改名" })),
        )
        .await;
    assert_error(res, 409, "invalid_transition").await;
}

#[tokio::test]
async fn a_merchant_edits_its_own_draft_and_the_property_cannot() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let (owner, shop, product) = crate::support::fixtures::shop(&app, &w).await;
    let draft = created(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys"),
        json!({
            "community_id": w.community, "title": "脐橙团", "min_households": 1,
            "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(),
            "pickup_point_ids": [w.point],
            "items": [{ "product_id": product, "price": 5000, "stock": 5 }],
        }),
    )
    .await;
    let id = draft["id"].as_str().unwrap();
    let (status, edited) = patch(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys/{id}"),
        json!({ "items": [{ "product_id": product, "price": 4500, "stock": 8 }] }),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    // Title, unit and the struck price come from the product.
    assert_eq!(edited["items"][0]["title"], "赣南脐橙");
    assert_eq!(edited["items"][0]["original_price"], 6800);
    assert_eq!(edited["items"][0]["price"], 4500);
    // Another merchant's product is refused.
    let (_, other_shop, other_product) = crate::support::fixtures::shop(&app, &w).await;
    assert_ne!(other_shop, shop);
    let (status, err) = patch(
        &app,
        &owner,
        &format!("/api/v1/merchants/{shop}/group-buys/{id}"),
        json!({ "items": [{ "product_id": other_product, "price": 100, "stock": 1 }] }),
    )
    .await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (422, Some("product_id")),
        "{err}"
    );
    // The property may cancel a merchant's group buy but not edit it.
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/communities/{}/group-buys/{id}", w.community),
            Some(&w.manager.access),
            Some(json!({ "title": "物业改的" })),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
}
