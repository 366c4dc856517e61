use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

fn application(communities: &[Uuid]) -> Value {
    json!({
        "shop_name": "老王水果店",
        "business_scope": "水果零售",
        "categories": ["食"],
        "location_kind": "shop",
        "address": "1号楼底商101",
        "contact_phone": "13812340001",
        "owner_name": "王五",
        "owner_id_number": "11010519491231002X",
        "community_ids": communities,
    })
}

async fn apply(app: &TestApp, owner: &Session, communities: &[Uuid]) -> Value {
    let (status, body) = status_and_json(
        app.post(
            "/api/v1/merchants",
            Some(&owner.access),
            application(communities),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn in_the_future(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

#[tokio::test]
async fn a_merchant_applies_and_each_community_decides_for_itself() {
    let app = spawn_app().await;
    let a = app.community("甲小区").await;
    let b = app.community("乙小区").await;
    let owner = app.resident().await;
    let shop = apply(&app, &owner, &[a, b]).await;
    assert_eq!(shop["communities"][0]["status"], "applied");
    assert_eq!(shop["contact_phone"], "138****0001");
    assert_eq!(shop["owner_id_number"], "110***********002X");
    let id = shop["id"].as_str().unwrap();

    let manager_a = app.staff(a, "manager").await;
    let listed: Value = app
        .get(
            &format!("/api/v1/communities/{a}/merchants?status=applied"),
            Some(&manager_a.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["merchant"]["shop_name"], "老王水果店");

    let cs = app.staff(a, "customer_service").await;
    let res = app
        .post(
            &format!("/api/v1/communities/{a}/merchants/{id}/visits"),
            Some(&cs.access),
            json!({ "notes": "店面整洁，租赁合同齐全" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Customer service records visits but does not decide.
    let verify = format!("/api/v1/communities/{a}/merchants/{id}/verify");
    assert_error(
        app.post(
            &verify,
            Some(&cs.access),
            json!({ "valid_until": in_the_future(365) }),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let (status, approval) = status_and_json(
        app.post(
            &verify,
            Some(&manager_a.access),
            json!({ "valid_until": in_the_future(365) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{approval}");
    assert_eq!(approval["status"], "verified");

    let manager_b = app.staff(b, "manager").await;
    let res = app
        .post(
            &format!("/api/v1/communities/{b}/merchants/{id}/reject"),
            Some(&manager_b.access),
            json!({ "reason": "不在服务范围" }),
        )
        .await;
    assert_eq!(res.status(), 200);

    let mine: Value = app
        .get("/api/v1/me/merchants", Some(&owner.access))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<(&str, &str)> = mine[0]["communities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["community_id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(a.to_string().as_str(), "verified")),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(b.to_string().as_str(), "rejected")),
        "{statuses:?}"
    );
    assert_eq!(mine[0]["communities"][1]["reason"], "不在服务范围");

    // Applying again after a rejection goes back to review; twice is a conflict.
    let res = app
        .post(
            &format!("/api/v1/merchants/{id}/applications"),
            Some(&owner.access),
            json!({ "community_id": b }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("applied")),
        "{body}"
    );
    let res = app
        .post(
            &format!("/api/v1/merchants/{id}/applications"),
            Some(&owner.access),
            json!({ "community_id": a }),
        )
        .await;
    assert_error(res, 409, "already_applied").await;

    // The detail shows this community's visits.
    let detail: Value = app
        .get(
            &format!("/api/v1/communities/{a}/merchants/{id}"),
            Some(&manager_a.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["visits"][0]["notes"], "店面整洁，租赁合同齐全");
}

#[tokio::test]
async fn verification_expires_shows_in_the_expiring_list_and_can_be_renewed() {
    let app = spawn_app().await;
    let c = app.community("到期小区").await;
    let owner = app.resident().await;
    let id = apply(&app, &owner, &[c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = app.staff(c, "manager").await;
    let verify = format!("/api/v1/communities/{c}/merchants/{id}/verify");
    app.post(
        &verify,
        Some(&m.access),
        json!({ "valid_until": in_the_future(3) }),
    )
    .await;

    let soon: Value = app
        .get(
            &format!("/api/v1/communities/{c}/merchants?expiring_within_days=7"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(soon["items"].as_array().unwrap().len(), 1);
    let later: Value = app
        .get(
            &format!("/api/v1/communities/{c}/merchants?expiring_within_days=1"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["items"].as_array().unwrap().len(), 0);

    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE merchant_communities SET verified_until = created_at")
        .await
        .unwrap();
    let expired: Value = app
        .get(
            &format!("/api/v1/communities/{c}/merchants?status=expired"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(expired["items"][0]["approval"]["status"], "expired");
    let verified: Value = app
        .get(
            &format!("/api/v1/communities/{c}/merchants?status=verified"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["items"].as_array().unwrap().len(), 0);
    // An expired merchant cannot be suspended, but is re-verified.
    let suspend = format!("/api/v1/communities/{c}/merchants/{id}/suspend");
    assert_error(
        app.post(&suspend, Some(&m.access), json!({ "reason": "x" }))
            .await,
        409,
        "invalid_transition",
    )
    .await;
    let (status, renewed) = status_and_json(
        app.post(
            &verify,
            Some(&m.access),
            json!({ "valid_until": in_the_future(365) }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, renewed["status"].as_str()),
        (200, Some("verified"))
    );
    let res = app
        .post(
            &verify,
            Some(&m.access),
            json!({ "valid_until": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_error(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn a_suspended_merchant_stays_suspended_until_verified_again() {
    let app = spawn_app().await;
    let c = app.community("停业小区").await;
    let owner = app.resident().await;
    let id = apply(&app, &owner, &[c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = app.staff(c, "manager").await;
    let base = format!("/api/v1/communities/{c}/merchants/{id}");
    assert_error(
        app.post(
            &format!("{base}/suspend"),
            Some(&m.access),
            json!({ "reason": "投诉" }),
        )
        .await,
        409,
        "invalid_transition",
    )
    .await;
    app.post(
        &format!("{base}/verify"),
        Some(&m.access),
        json!({ "valid_until": in_the_future(90) }),
    )
    .await;
    let (status, body) = status_and_json(
        app.post(
            &format!("{base}/suspend"),
            Some(&m.access),
            json!({ "reason": "多次投诉" }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str(), body["reason"].as_str()),
        (200, Some("suspended"), Some("多次投诉"))
    );
    // The merchant changing its details does not lift a suspension.
    let res = app
        .request(
            Method::PATCH,
            &format!("/api/v1/merchants/{id}"),
            Some(&owner.access),
            Some(json!({ "shop_name": "新店名" })),
        )
        .await;
    let (_, changed) = status_and_json(res).await;
    assert_eq!(changed["communities"][0]["status"], "suspended");
    assert_error(
        app.post(
            &format!("{base}/reject"),
            Some(&m.access),
            json!({ "reason": "x" }),
        )
        .await,
        409,
        "invalid_transition",
    )
    .await;
    let (_, body) = status_and_json(
        app.post(
            &format!("{base}/verify"),
            Some(&m.access),
            json!({ "valid_until": in_the_future(90) }),
        )
        .await,
    )
    .await;
    assert_eq!(body["status"], "verified");
}

#[tokio::test]
async fn changing_verified_details_sends_the_merchant_back_to_review_but_contact_details_do_not() {
    let app = spawn_app().await;
    let c = app.community("复审小区").await;
    let owner = app.resident().await;
    let id = apply(&app, &owner, &[c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = app.staff(c, "manager").await;
    app.post(
        &format!("/api/v1/communities/{c}/merchants/{id}/verify"),
        Some(&m.access),
        json!({ "valid_until": in_the_future(90) }),
    )
    .await;
    let path = format!("/api/v1/merchants/{id}");
    let (_, body) = status_and_json(
        app.request(
            Method::PATCH,
            &path,
            Some(&owner.access),
            Some(json!({ "contact_phone": "13812340002" })),
        )
        .await,
    )
    .await;
    assert_eq!(body["communities"][0]["status"], "verified");
    assert_eq!(body["contact_phone"], "138****0002");
    let (_, body) = status_and_json(
        app.request(
            Method::PATCH,
            &path,
            Some(&owner.access),
            Some(json!({ "business_scope": "水果、蔬菜零售" })),
        )
        .await,
    )
    .await;
    assert_eq!(body["communities"][0]["status"], "applied");
    let res = app
        .request(
            Method::PATCH,
            &path,
            Some(&owner.access),
            Some(json!({ "owner_id_number": "110105194912310021" })),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "owner_id_number");
}

#[tokio::test]
async fn owners_manage_staff_who_see_but_do_not_change_the_merchant() {
    let app = spawn_app().await;
    let c = app.community("店员小区").await;
    let owner = app.resident().await;
    let id = apply(&app, &owner, &[c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, added) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{id}/staff"),
            Some(&owner.access),
            json!({ "phone": "13612340001", "display_name": "小李" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let clerk = app.dev_login(json!({ "phone": "13612340001" })).await;
    assert_eq!(
        app.get(&format!("/api/v1/merchants/{id}"), Some(&clerk.access))
            .await
            .status(),
        200
    );
    let res = app
        .request(
            Method::PATCH,
            &format!("/api/v1/merchants/{id}"),
            Some(&clerk.access),
            Some(json!({ "shop_name": "x" })),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .post(
            &format!("/api/v1/merchants/{id}/staff"),
            Some(&owner.access),
            json!({ "phone": "13612340001", "display_name": "小李" }),
        )
        .await;
    assert_error(res, 409, "already_staff").await;

    let staff: Value = app
        .get(
            &format!("/api/v1/merchants/{id}/staff"),
            Some(&owner.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let owner_row = staff
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == "owner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/merchants/{id}/staff/{owner_row}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_error(res, 409, "conflict").await;
    let clerk_row = added["id"].as_str().unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/merchants/{id}/staff/{clerk_row}"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_error(
        app.get(&format!("/api/v1/merchants/{id}"), Some(&clerk.access))
            .await,
        404,
        "not_found",
    )
    .await;

    // Another merchant's owner, and a community's staff, see nothing here.
    let rival = app.resident().await;
    apply(&app, &rival, &[c]).await;
    assert_error(
        app.get(&format!("/api/v1/merchants/{id}"), Some(&rival.access))
            .await,
        404,
        "not_found",
    )
    .await;
    let other = app.community("别的小区").await;
    let other_manager = app.staff(other, "manager").await;
    let res = app
        .get(
            &format!("/api/v1/communities/{other}/merchants/{id}"),
            Some(&other_manager.access),
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn merchant_identity_is_stored_encrypted_and_applications_are_checked() {
    let app = spawn_app().await;
    let c = app.community("加密小区").await;
    let owner = app.resident().await;
    apply(&app, &owner, &[c]).await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT * FROM merchants",
        ))
        .await
        .unwrap();
    let dump = format!("{rows:?}");
    for secret in ["13812340001", "11010519491231002X"] {
        assert!(!dump.contains(secret), "{secret} in plaintext");
    }
    let mut bad = application(&[c]);
    bad["community_ids"] = json!([]);
    assert_error(
        app.post("/api/v1/merchants", Some(&owner.access), bad)
            .await,
        422,
        "validation_failed",
    )
    .await;
    let mut bad = application(&[Uuid::now_v7()]);
    bad["categories"] = json!(["食"]);
    let err = assert_error(
        app.post("/api/v1/merchants", Some(&owner.access), bad)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(err["details"]["field"], "community_ids[0]");
}

#[tokio::test]
async fn a_verification_of_details_the_merchant_has_since_changed_is_refused() {
    let app = spawn_app().await;
    let c = app.community("版本小区").await;
    let owner = app.resident().await;
    let shop = apply(&app, &owner, &[c]).await;
    let id = shop["id"].as_str().unwrap();
    let seen = shop["updated_at"].clone();
    let res = app
        .request(
            Method::PATCH,
            &format!("/api/v1/merchants/{id}"),
            Some(&owner.access),
            Some(json!({ "owner_name": "别人" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let m = app.staff(c, "manager").await;
    let verify = format!("/api/v1/communities/{c}/merchants/{id}/verify");
    let stale = json!({ "valid_until": in_the_future(90), "reviewed_updated_at": seen });
    let err = assert_error(
        app.post(&verify, Some(&m.access), stale).await,
        409,
        "merchant_changed",
    )
    .await;
    let fresh = json!({ "valid_until": in_the_future(90), "reviewed_updated_at": err["details"]["updated_at"] });
    let (status, body) = status_and_json(app.post(&verify, Some(&m.access), fresh).await).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("verified")),
        "{body}"
    );
}
