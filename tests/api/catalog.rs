//! The catalog: categories, merchants' products, what residents can buy.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::fixtures::{food, merchant_named, verify};
use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

/// A merchant who applied to `communities`; returns (owner, merchant id).
async fn merchant(app: &TestApp, communities: &[Uuid]) -> (Session, String) {
    merchant_named(
        app,
        &format!("鲜果铺{}", Uuid::now_v7().simple()),
        communities,
    )
    .await
}

#[tokio::test]
async fn the_category_tree_starts_with_the_five_roots_and_the_operator_edits_it() {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let food = food(&app, &admin).await;
    let (status, fruit) = status_and_json(
        app.post(
            "/api/v1/categories",
            Some(&admin.access),
            json!({ "name": "水果", "parent_id": food }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{fruit}");
    let (_, tree) = status_and_json(app.get("/api/v1/categories", Some(&admin.access)).await).await;
    assert_eq!(tree[1]["children"][0]["name"], "水果");
    let id = fruit["id"].as_str().unwrap();
    let (status, renamed) = status_and_json(
        app.request(
            reqwest::Method::PATCH,
            &format!("/api/v1/categories/{id}"),
            Some(&admin.access),
            Some(json!({ "name": "时令水果" })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "时令水果");
    let res = app
        .post(
            "/api/v1/categories",
            Some(&admin.access),
            json!({ "name": "x", "parent_id": Uuid::now_v7() }),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn residents_see_products_only_from_merchants_verified_in_their_community() {
    let app = spawn_app().await;
    let here = app
        .community(&format!("目录小区{}", Uuid::now_v7().simple()))
        .await;
    let there = app
        .community(&format!("别处小区{}", Uuid::now_v7().simple()))
        .await;
    let (owner, shop) = merchant(&app, &[here, there]).await;
    let food = food(&app, &owner).await;

    let products = format!("/api/v1/merchants/{shop}/products");
    let new = |body: Value| app.post(&products, Some(&owner.access), body);
    let (status, apples) = status_and_json(
        new(json!({
            "kind": "goods", "category_id": food, "title": "烟台苹果", "unit": "斤",
            "price": 680, "original_price": 880, "stock": 100
        }))
        .await,
    )
    .await;
    assert_eq!(status, 201, "{apples}");
    assert_eq!(apples["price"], 680);
    assert_eq!(apples["on_shelf"], true);
    // Refusals: a negative price, a struck price below the price, goods
    // without stock, a service with stock, an unknown category.
    for (body, field) in [
        (
            json!({"kind": "goods", "category_id": food, "title": "t", "unit": "斤", "price": -1, "stock": 1}),
            None,
        ),
        (
            json!({"kind": "goods", "category_id": food, "title": "t", "unit": "斤", "price": 500, "original_price": 400, "stock": 1}),
            Some("original_price"),
        ),
        (
            json!({"kind": "goods", "category_id": food, "title": "t", "unit": "斤", "price": 500}),
            Some("stock"),
        ),
        (
            json!({"kind": "service", "category_id": food, "title": "t", "unit": "次", "price": 500, "stock": 3}),
            Some("stock"),
        ),
        (
            json!({"kind": "goods", "category_id": Uuid::now_v7(), "title": "t", "unit": "斤", "price": 500, "stock": 1}),
            Some("category_id"),
        ),
    ] {
        let (status, err) = status_and_json(new(body).await).await;
        assert_eq!(status, 422, "{err}");
        if let Some(field) = field {
            assert_eq!(err["details"]["field"], field, "{err}");
        }
    }

    // Not verified anywhere yet: residents see nothing.
    let resident_here = app.staff(here, "finance").await;
    let list = format!("/api/v1/communities/{here}/products");
    let (_, page) = status_and_json(app.get(&list, Some(&resident_here.access)).await).await;
    assert!(page["items"].as_array().unwrap().is_empty());

    verify(&app, here, &shop).await;
    let (_, page) = status_and_json(app.get(&list, Some(&resident_here.access)).await).await;
    assert_eq!(page["items"][0]["title"], "烟台苹果");
    // Verified here only: the other community still sees nothing.
    let staff_there = app.staff(there, "finance").await;
    let (_, page) = status_and_json(
        app.get(
            &format!("/api/v1/communities/{there}/products"),
            Some(&staff_there.access),
        )
        .await,
    )
    .await;
    assert!(page["items"].as_array().unwrap().is_empty());

    // Off the shelf: gone from the residents' list, still in the merchant's own.
    let id = apples["id"].as_str().unwrap();
    let (status, changed) = status_and_json(
        app.request(
            reqwest::Method::PATCH,
            &format!("/api/v1/merchants/{shop}/products/{id}"),
            Some(&owner.access),
            Some(json!({ "on_shelf": false, "price": 600 })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["price"], 600);
    let (_, page) = status_and_json(app.get(&list, Some(&resident_here.access)).await).await;
    assert!(page["items"].as_array().unwrap().is_empty());
    let (_, own) = status_and_json(
        app.get(
            &format!("/api/v1/merchants/{shop}/products"),
            Some(&owner.access),
        )
        .await,
    )
    .await;
    assert_eq!(own["items"][0]["on_shelf"], false);
    // Another merchant's owner cannot touch it.
    let (other, _) = merchant(&app, &[here]).await;
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/merchants/{shop}/products/{id}"),
            Some(&other.access),
            Some(json!({ "on_shelf": true })),
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn products_carry_images_their_merchant_uploaded_which_residents_can_download() {
    let app = spawn_app().await;
    let here = app
        .community(&format!("图片小区{}", Uuid::now_v7().simple()))
        .await;
    let (owner, shop) = merchant(&app, &[here]).await;
    verify(&app, here, &shop).await;
    let food = food(&app, &owner).await;
    let mut images = Vec::new();
    for size in [(400, 300), (300, 300)] {
        let (status, up) = status_and_json(
            crate::support::fixtures::upload(
                &app,
                &owner,
                "image/png",
                crate::support::fixtures::png(size.0, size.1),
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "{up}");
        images.push(up["id"].as_str().unwrap().to_owned());
    }
    let products = format!("/api/v1/merchants/{shop}/products");
    let (status, made) = status_and_json(
        app.post(
            &products,
            Some(&owner.access),
            json!({ "kind": "goods", "category_id": food, "title": "脐橙", "unit": "箱", "price": 6800,
                    "stock": 5, "image_file_ids": [images[1], images[0]] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made["images"][0]["file_id"],
        json!(images[1]),
        "in the given order"
    );
    assert_eq!(made["images"].as_array().unwrap().len(), 2);

    // A resident of the community sees the images and can download them.
    let manager = app.staff(here, "manager").await;
    let (_, building) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{here}/buildings"),
            Some(&manager.access),
            json!({ "name": "1号楼" }),
        )
        .await,
    )
    .await;
    let (_, household) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{here}/households"),
            Some(&manager.access),
            json!({ "building_id": building["id"], "room": "101" }),
        )
        .await,
    )
    .await;
    let resident = app
        .dev_login(json!({ "households": [{ "household_id": household["id"], "role": "owner" }] }))
        .await;
    let (_, listed) = status_and_json(
        app.get(
            &format!("/api/v1/communities/{here}/products"),
            Some(&resident.access),
        )
        .await,
    )
    .await;
    let url = listed["items"][0]["images"][0]["link"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // Search answers with the same images, in the same order.
    let (_, found) = status_and_json(
        app.get(
            &format!("/api/v1/communities/{here}/products/search?q=脐橙"),
            Some(&resident.access),
        )
        .await,
    )
    .await;
    let found_ids: Vec<&Value> = found["items"][0]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["file_id"])
        .collect();
    assert_eq!(found_ids, [&json!(images[1]), &json!(images[0])]);
    let download = app.get(&url, None).await;
    assert_eq!(download.status(), 200);
    let (status, _) = status_and_json(
        app.get(
            &format!("/api/v1/files/{}/link", images[0]),
            Some(&resident.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "a product image is for anyone signed in");

    // Only images, only the uploader's own, at most 9; a change replaces them.
    let (status, pdf) = status_and_json(
        crate::support::fixtures::upload(
            &app,
            &owner,
            "application/pdf",
            b"%PDF-1.4\n%%EOF\n".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let id = made["id"].as_str().unwrap();
    let path = format!("{products}/{id}");
    let change = |files: Value| {
        app.request(
            reqwest::Method::PATCH,
            &path,
            Some(&owner.access),
            Some(json!({ "image_file_ids": files })),
        )
    };
    assert_error(change(json!([pdf["id"]])).await, 422, "validation_failed").await;
    let (_, theirs) = status_and_json(
        crate::support::fixtures::upload(
            &app,
            &resident,
            "image/png",
            crate::support::fixtures::png(10, 10),
        )
        .await,
    )
    .await;
    assert_error(
        change(json!([theirs["id"]])).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        change(json!([images[0], images[0]])).await,
        422,
        "validation_failed",
    )
    .await;
    let (status, changed) = status_and_json(change(json!([images[0]])).await).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["images"].as_array().unwrap().len(), 1);
}
