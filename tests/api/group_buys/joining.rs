//! Joining a group buy: refused when sold out, over the household limit,
//! past the deadline or from outside the community; a replayed idempotency
//! key answers the first order.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{group_now, joined};
use crate::support::fixtures::{group_buy, join, join_body, world};
use crate::support::{assert_error, spawn_app, status_and_json};

#[tokio::test]
async fn joins_are_refused_when_sold_out_over_the_household_limit_past_the_deadline_or_from_outside()
 {
    let app = spawn_app().await;
    let w = world(&app, 2).await;
    let group = group_buy(&app, &w, 1, 3, json!({})).await;
    let group_id = &group.id;
    // Per-household limit 2 on a second group buy.
    let limited = app
        .create_group_buy(
            &w.manager,
            w.community,
            json!({
            "title": "限购鸡蛋", "min_households": 1,
            "deadline": (Utc::now() + Duration::days(1)).to_rfc3339(),
            "pickup_point_ids": [w.point], "publish": true,
            "items": [{ "title": "鸡蛋", "unit": "盒", "price": 1200, "stock": 100, "per_household_limit": 2 }],
        }),
    )
    .await;
    joined(&app, &w, &w.residents[0], &limited, 2).await;
    let over = join(&app, &w, &w.residents[0], &limited, 1).await;
    let body = assert_error(over, 409, "household_limit_exceeded").await;
    assert_eq!(body["details"]["limit"], 2);
    // Another household has its own allowance.
    joined(&app, &w, &w.residents[1], &limited, 2).await;

    // Stock 3: 2 + 2 does not fit.
    joined(&app, &w, &w.residents[0], &group, 2).await;
    let sold_out = join(&app, &w, &w.residents[1], &group, 2).await;
    assert_error(sold_out, 409, "sold_out").await;
    joined(&app, &w, &w.residents[1], &group, 1).await;
    let none_left = join(&app, &w, &w.residents[1], &group, 1).await;
    assert_error(none_left, 409, "sold_out").await;

    // Outsiders: another community's resident, an unverified user, staff.
    let other = world(&app, 1).await;
    let path = format!(
        "/api/v1/communities/{}/group-buys/{group_id}/orders",
        w.community
    );
    let body = join_body(&group, &w.point, 1);
    let res = app
        .post(&path, Some(&other.residents[0].access), body.clone())
        .await;
    assert_error(res, 404, "not_found").await;
    let stranger = app.resident().await;
    let res = app.post(&path, Some(&stranger.access), body.clone()).await;
    assert_error(res, 404, "not_found").await;
    let admin = app.operator_admin().await;
    let res = app.post(&path, Some(&admin.access), body.clone()).await;
    assert_error(res, 403, "not_a_resident").await;
    // Another community's group buy is not found from here.
    let theirs = group_buy(&app, &other, 1, 5, json!({})).await;
    let res = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community, theirs.id
            ),
            Some(&w.residents[0].access),
            join_body(&theirs, &w.point, 1),
        )
        .await;
    assert_error(res, 404, "not_found").await;

    // A draft is invisible to residents; one not started yet refuses.
    let draft = group_buy(&app, &w, 1, 5, json!({ "publish": false })).await;
    let res = join(&app, &w, &w.residents[0], &draft, 1).await;
    assert_error(res, 404, "not_found").await;
    let later = group_buy(
        &app,
        &w,
        1,
        5,
        json!({ "starts_at": (Utc::now() + Duration::hours(2)).to_rfc3339() }),
    )
    .await;
    let res = join(&app, &w, &w.residents[0], &later, 1).await;
    assert_error(res, 409, "group_buy_not_open").await;

    // Past the deadline (before any sweep has run).
    let late = group_buy(&app, &w, 1, 5, json!({})).await;
    entity::group_buy::Entity::update_many()
        .set(entity::group_buy::ActiveModel {
            deadline: sea_orm::Set(Utc::now() - Duration::minutes(1)),
            ..Default::default()
        })
        .filter(entity::group_buy::Column::Id.eq(late.id.parse::<Uuid>().unwrap()))
        .exec(&app.db)
        .await
        .unwrap();
    let res = join(&app, &w, &w.residents[0], &late, 1).await;
    assert_error(res, 409, "deadline_passed").await;

    // Bad input: an item of another group buy, zero, door delivery not offered.
    let mut foreign = join_body(&group, &w.point, 1);
    foreign["items"][0]["item_id"] = limited["items"][0]["id"].clone();
    let res = app.post(&path, Some(&w.residents[0].access), foreign).await;
    assert_error(res, 422, "validation_failed").await;
    let res = join(&app, &w, &w.residents[0], &limited, 0).await;
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            &format!(
                "/api/v1/communities/{}/group-buys/{}/orders",
                w.community, limited.id
            ),
            Some(&w.residents[1].access),
            json!({ "items": [{ "item_id": limited["items"][0]["id"], "quantity": 1 }],
                    "receiving": { "fulfilment": "delivery" } }),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_first_order_and_takes_stock_once() {
    let app = spawn_app().await;
    let w = world(&app, 1).await;
    let group = group_buy(&app, &w, 1, 10, json!({})).await;
    let path = format!(
        "/api/v1/communities/{}/group-buys/{}/orders",
        w.community, group.id
    );
    let send = |body: Value, key: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&w.residents[0].access)
            .header("Idempotency-Key", key)
            .header("X-Client-Kind", "mini_program")
            .json(&body)
            .send()
    };
    let body = join_body(&group, &w.point, 3);
    let (s1, first) = status_and_json(send(body.clone(), "key-1").await.unwrap()).await;
    let (s2, second) = status_and_json(send(body.clone(), "key-1").await.unwrap()).await;
    assert_eq!((s1, s2), (201, 200), "{first} {second}");
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["client_kind"], "mini_program");
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["items"][0]["stock"], 7, "stock taken once");
    let other = join_body(&group, &w.point, 1);
    let res = send(other, "key-1").await.unwrap();
    assert_error(res, 422, "idempotency_key_reused").await;

    // Five copies at once make one order.
    let copies = (0..5).map(|_| send(body.clone(), "key-2"));
    let results = futures_util::future::join_all(copies).await;
    let mut ids = std::collections::BTreeSet::new();
    for r in results {
        let (status, b) = status_and_json(r.unwrap()).await;
        assert!(status == 201 || status == 200, "{status} {b}");
        ids.insert(b["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    let g = group_now(&app, &w, &w.residents[0], &group).await;
    assert_eq!(g["group_buy"]["items"][0]["stock"], 4);
}
