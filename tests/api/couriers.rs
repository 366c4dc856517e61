use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

fn courier(phone: &str) -> Value {
    json!({
        "name": "刘快递",
        "phone": phone,
        "id_number": "11010519491231002X",
        "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(180)).to_rfc3339(),
    })
}

async fn merchant_in(app: &TestApp, community: Uuid) -> (Session, String) {
    let owner = app.resident().await;
    let body = json!({
        "shop_name": "鲜果铺", "business_scope": "水果", "categories": ["食"], "location_kind": "shop",
        "address": "底商", "contact_phone": "13812340001", "owner_name": "王五",
        "owner_id_number": "11010519491231002X", "community_ids": [community],
    });
    let (status, shop) = status_and_json(
        app.post("/api/v1/merchants", Some(&owner.access), body)
            .await,
    )
    .await;
    assert_eq!(status, 201, "{shop}");
    (owner, shop["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn merchants_and_the_property_register_couriers_with_passes() {
    let app = spawn_app().await;
    let c = app.community("配送小区").await;
    let (owner, shop) = merchant_in(&app, c).await;
    let (status, mine) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/couriers"),
            Some(&owner.access),
            courier("13512340001"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(mine["employer_kind"], "merchant");
    assert_eq!(mine["phone"], "135****0001");
    assert_eq!(mine["id_number"], "110***********002X");
    assert!(mine["pass_number"].as_str().unwrap().starts_with("AJ"));
    assert_eq!(mine["may_pass"], true);

    let admin = app.operator_admin().await;
    let (status, company) = status_and_json(
        app.post(
            "/api/v1/delivery-companies",
            Some(&admin.access),
            json!({ "name": "顺路快递", "contact_phone": "4008000001" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "a landline is not a mobile number: {company}");
    let (status, company) = status_and_json(
        app.post(
            "/api/v1/delivery-companies",
            Some(&admin.access),
            json!({ "name": "顺路快递", "contact_phone": "13912340000" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{company}");

    let manager = app.staff(c, "manager").await;
    // Verified here: the merchant's couriers work here.
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/merchants/{shop}/verify"),
            Some(&manager.access),
            json!({ "valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, body) = status_and_json(
        app.post(
            &format!(
                "/api/v1/delivery-companies/{}/couriers",
                company["id"].as_str().unwrap()
            ),
            Some(&admin.access),
            courier("13512340002"),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["employer_kind"].as_str()),
        (201, Some("company")),
        "{body}"
    );
    let (status, own) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/couriers"),
            Some(&manager.access),
            courier("13512340003"),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, own["employer_kind"].as_str()),
        (201, Some("property")),
        "{own}"
    );

    let guard = app.staff(c, "gate_guard").await;
    let all: Value = app
        .get(
            &format!("/api/v1/communities/{c}/couriers"),
            Some(&guard.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let by_company: Value = app
        .get(
            &format!(
                "/api/v1/communities/{c}/couriers?company_id={}",
                company["id"].as_str().unwrap()
            ),
            Some(&guard.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_company["items"].as_array().unwrap().len(), 1);

    // Another community sees its own world: the company's courier, not this
    // merchant's or this property's.
    let other = app.community("别的小区").await;
    let other_guard = app.staff(other, "gate_guard").await;
    let there: Value = app
        .get(
            &format!("/api/v1/communities/{other}/couriers"),
            Some(&other_guard.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = there["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["employer_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["company"]);
    let own_id = own["id"].as_str().unwrap();
    let other_manager = app.staff(other, "manager").await;
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/communities/{other}/couriers/{own_id}/status"),
            Some(&other_manager.access),
            Some(json!({ "status": "suspended", "reason": "x" })),
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_suspended_courier_or_an_expired_pass_may_not_pass() {
    let app = spawn_app().await;
    let c = app.community("门禁小区").await;
    let manager = app.staff(c, "manager").await;
    let (_, ours) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/couriers"),
            Some(&manager.access),
            courier("13512340009"),
        )
        .await,
    )
    .await;
    let id = ours["id"].as_str().unwrap();
    let status_path = format!("/api/v1/communities/{c}/couriers/{id}/status");
    let res = app
        .request(
            Method::PUT,
            &status_path,
            Some(&manager.access),
            Some(json!({ "status": "suspended" })),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "reason");
    let (status, body) = status_and_json(
        app.request(
            Method::PUT,
            &status_path,
            Some(&manager.access),
            Some(json!({ "status": "suspended", "reason": "违规进入" })),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["may_pass"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    let res = app
        .request(
            Method::PUT,
            &status_path,
            Some(&manager.access),
            Some(json!({ "status": "active" })),
        )
        .await;
    assert_eq!(res.status(), 200);

    // A merchant's courier whose pass ran out: the merchant renews it.
    let (owner, shop) = merchant_in(&app, c).await;
    let (_, mine) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/couriers"),
            Some(&owner.access),
            courier("13512340010"),
        )
        .await,
    )
    .await;
    let theirs = mine["id"].as_str().unwrap();
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE couriers SET pass_valid_until = created_at")
        .await
        .unwrap();
    let list: Value = app
        .get(
            &format!("/api/v1/merchants/{shop}/couriers"),
            Some(&owner.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["may_pass"], false);
    let renew = json!({ "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() });
    let (status, body) = status_and_json(
        app.request(
            Method::PUT,
            &format!("/api/v1/merchants/{shop}/couriers/{theirs}/pass"),
            Some(&owner.access),
            Some(renew),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["may_pass"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let too_far = json!({ "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339() });
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/communities/{c}/couriers/{id}/pass"),
            Some(&manager.access),
            Some(too_far),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;

    // Nothing personal in plaintext.
    use sea_orm::Statement;
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT * FROM couriers",
        ))
        .await
        .unwrap();
    let dump = format!("{rows:?}");
    assert!(!dump.contains("13512340009") && !dump.contains("11010519491231002X"));
}

#[tokio::test]
async fn a_delivery_company_registers_its_own_couriers_who_work_in_every_community() {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let (_, company) = status_and_json(
        app.post(
            "/api/v1/delivery-companies",
            Some(&admin.access),
            json!({ "name": "闪送", "contact_phone": "13912340001" }),
        )
        .await,
    )
    .await;
    let company = company["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/api/v1/delivery-companies/{company}/staff"),
            Some(&admin.access),
            json!({ "phone": "13912340002", "display_name": "调度员" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let dispatcher = app.dev_login(json!({ "phone": "13912340002" })).await;
    let (status, rider) = status_and_json(
        app.post(
            &format!("/api/v1/delivery-companies/{company}/couriers"),
            Some(&dispatcher.access),
            courier("13512345555"),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, rider["employer_kind"].as_str()),
        (201, Some("company")),
        "{rider}"
    );
    let mine: Value = app
        .get(
            &format!("/api/v1/delivery-companies/{company}/couriers"),
            Some(&dispatcher.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let staff: Value = app
        .get(
            &format!("/api/v1/delivery-companies/{company}/staff"),
            Some(&dispatcher.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff[0]["phone"], "139****0002");

    // Any community's guard sees the company's courier.
    let c = app.community("任一小区").await;
    let guard = app.staff(c, "gate_guard").await;
    let there: Value = app
        .get(
            &format!("/api/v1/communities/{c}/couriers"),
            Some(&guard.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(there["items"][0]["id"], rider["id"]);
    // Outsiders do not see the company's side.
    let outsider = app.resident().await;
    let res = app
        .get(
            &format!("/api/v1/delivery-companies/{company}/couriers"),
            Some(&outsider.access),
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn the_property_manages_only_its_own_couriers_status_and_pass() {
    let app = spawn_app().await;
    let c = app.community("自管小区").await;
    let (owner, shop) = merchant_in(&app, c).await;
    let manager = app.staff(c, "manager").await;
    // Verified here, so its courier works here.
    app.post(
        &format!("/api/v1/communities/{c}/merchants/{shop}/verify"),
        Some(&manager.access),
        json!({ "valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
    )
    .await;
    let (_, theirs) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/couriers"),
            Some(&owner.access),
            courier("13512340021"),
        )
        .await,
    )
    .await;
    let (_, ours) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/couriers"),
            Some(&manager.access),
            courier("13512340022"),
        )
        .await,
    )
    .await;
    let status_of = |id: &Value| {
        format!(
            "/api/v1/communities/{c}/couriers/{}/status",
            id.as_str().unwrap()
        )
    };
    let suspend = json!({ "status": "suspended", "reason": "违规" });
    let res = app
        .request(
            Method::PUT,
            &status_of(&theirs["id"]),
            Some(&manager.access),
            Some(suspend.clone()),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .request(
            Method::PUT,
            &status_of(&ours["id"]),
            Some(&manager.access),
            Some(suspend),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A merchant no longer verified here: its couriers are no longer listed here.
    let guard = app.staff(c, "gate_guard").await;
    let listed: Value = app
        .get(
            &format!("/api/v1/communities/{c}/couriers?employer_kind=merchant"),
            Some(&guard.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    app.post(
        &format!("/api/v1/communities/{c}/merchants/{shop}/suspend"),
        Some(&manager.access),
        json!({ "reason": "停业" }),
    )
    .await;
    let listed: Value = app
        .get(
            &format!("/api/v1/communities/{c}/couriers?employer_kind=merchant"),
            Some(&guard.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
}
