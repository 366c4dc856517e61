use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{assert_error, spawn_app, status_and_json};

#[tokio::test]
async fn an_operator_admin_creates_a_community_with_a_checked_time_zone() {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let res = app
        .post(
            "/api/v1/communities",
            Some(&admin.access),
            json!({ "name": " 榕城花园 ", "address": "福州市鼓楼区", "timezone": "Asia/Shanghai" }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "榕城花园");
    assert_eq!(body["timezone"], "Asia/Shanghai");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));

    let res = app
        .post(
            "/api/v1/communities",
            Some(&admin.access),
            json!({ "name": "另一个", "address": "x", "timezone": "Mars/Olympus" }),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "timezone");

    let res = app
        .post(
            "/api/v1/communities",
            Some(&admin.access),
            json!({ "name": "榕城花园", "address": "y" }),
        )
        .await;
    assert_error(res, 409, "community_name_taken").await;
}

#[tokio::test]
async fn staff_see_only_their_own_communities() {
    let app = spawn_app().await;
    let a = app.community("A小区").await;
    let b = app.community("B小区").await;
    let guard_a = app.staff(a, "gate_guard").await;

    let list: Value = app
        .get("/api/v1/communities", Some(&guard_a.access))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.to_string()]);

    assert_eq!(
        app.get(&format!("/api/v1/communities/{a}"), Some(&guard_a.access))
            .await
            .status(),
        200
    );
    // Another community does not exist, as far as this guard can tell.
    let res = app
        .get(&format!("/api/v1/communities/{b}"), Some(&guard_a.access))
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .get(
            &format!("/api/v1/communities/{}", uuid::Uuid::now_v7()),
            Some(&guard_a.access),
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn the_community_list_pages_with_a_cursor() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.community(&format!("小区{i}")).await;
    }
    let admin = app.operator_admin().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/communities?limit=2&cursor={c}"),
            None => "/api/v1/communities?limit=2".to_owned(),
        };
        let page: Value = app
            .get(&path, Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec!["小区0", "小区1", "小区2", "小区3", "小区4"]);
}

#[tokio::test]
async fn a_manager_renames_the_community_but_a_guard_cannot() {
    let app = spawn_app().await;
    let c = app.community("旧名").await;
    let manager = app.staff(c, "manager").await;
    let guard = app.staff(c, "gate_guard").await;
    let path = format!("/api/v1/communities/{c}");
    let res = app
        .request(
            Method::PATCH,
            &path,
            Some(&guard.access),
            Some(json!({ "name": "新名" })),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .request(
            Method::PATCH,
            &path,
            Some(&manager.access),
            Some(json!({ "name": "新名" })),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "新名");
    assert_ne!(body["updated_at"], body["created_at"]);
}

#[tokio::test]
async fn a_manager_adds_lists_and_removes_staff_in_their_community() {
    let app = spawn_app().await;
    let c = app.community("员工小区").await;
    let manager = app.staff(c, "manager").await;
    let staff_path = format!("/api/v1/communities/{c}/staff");

    let res = app
        .post(
            &staff_path,
            Some(&manager.access),
            json!({ "phone": "13700000001", "display_name": "赵财务", "role": "finance", "initial_password": "finance-pass-1" }),
        )
        .await;
    let (status, added) = status_and_json(res).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["phone"], "137****0001");
    assert_eq!(added["role"], "finance");

    // The same person, a second role: no password needed; the same role twice is a conflict.
    let second =
        json!({ "phone": "13700000001", "display_name": "赵财务", "role": "customer_service" });
    assert_eq!(
        app.post(&staff_path, Some(&manager.access), second)
            .await
            .status(),
        201
    );
    let again = json!({ "phone": "13700000001", "display_name": "赵", "role": "finance" });
    assert_error(
        app.post(&staff_path, Some(&manager.access), again).await,
        409,
        "role_already_granted",
    )
    .await;

    // A new person without a password cannot be added.
    let nopass = json!({ "phone": "13700000002", "display_name": "钱", "role": "gate_guard" });
    let err = assert_error(
        app.post(&staff_path, Some(&manager.access), nopass).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(err["details"]["field"], "initial_password");

    // The new finance staff can sign in.
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": "13700000001", "password": "finance-pass-1" }),
        )
        .await;
    assert_eq!(res.status(), 200);

    let list: Value = app
        .get(&staff_path, Some(&manager.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 3); // manager + 2 roles

    let id = added["id"].as_str().unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("{staff_path}/{id}"),
            Some(&manager.access),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .request(
            Method::DELETE,
            &format!("{staff_path}/{id}"),
            Some(&manager.access),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_manager_cannot_withdraw_their_own_manager_role_nor_touch_another_communitys_staff() {
    let app = spawn_app().await;
    let a = app.community("甲").await;
    let b = app.community("乙").await;
    let manager_a = app.staff(a, "manager").await;
    let manager_b = app.staff(b, "manager").await;

    let list: Value = app
        .get(
            &format!("/api/v1/communities/{a}/staff"),
            Some(&manager_a.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let own = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/communities/{a}/staff/{own}"),
            Some(&manager_a.access),
            None,
        )
        .await;
    assert_error(res, 409, "conflict").await;

    // Manager of B addressing A's assignment through B's path: not found there.
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/communities/{b}/staff/{own}"),
            Some(&manager_b.access),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
    // And through A's path: A does not exist for them.
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/communities/{a}/staff/{own}"),
            Some(&manager_b.access),
            None,
        )
        .await;
    assert_error(res, 404, "not_found").await;
}
