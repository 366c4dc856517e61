use serde_json::{Value, json};

use crate::support::{assert_error, spawn_app, status_and_json};

#[tokio::test]
async fn staff_see_full_values_only_for_their_duty_and_every_look_is_logged() {
    let app = spawn_app().await;
    let c = app.community("隐私小区").await;
    let manager = app.staff(c, "manager").await;
    let csv = "building,room,owner_name,owner_phone,owner_id_number\n1号楼,101,张伟,13900000001,11010519491231002X\n";
    let res = app
        .client
        .post(app.url(&format!("/api/v1/communities/{c}/owner-records/import")))
        .bearer_auth(&manager.access)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let owners: Value = app
        .get(
            &format!("/api/v1/communities/{c}/owner-records"),
            Some(&manager.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let record = owners["items"][0]["id"].as_str().unwrap();
    let reveal = format!("/api/v1/communities/{c}/pii/reveal");

    let bm = app.staff(c, "building_manager").await;
    let ask = |field: &str| json!({ "subject_kind": "owner_record", "subject_id": record, "field": field, "purpose": "核实业主身份" });
    let (status, body) =
        status_and_json(app.post(&reveal, Some(&bm.access), ask("phone")).await).await;
    assert_eq!(
        (status, body["value"].as_str()),
        (200, Some("13900000001")),
        "{body}"
    );
    let (_, body) =
        status_and_json(app.post(&reveal, Some(&bm.access), ask("id_number")).await).await;
    assert_eq!(body["value"], "11010519491231002X");

    // A gate guard's duty does not need owners' numbers.
    let guard = app.staff(c, "gate_guard").await;
    assert_error(
        app.post(&reveal, Some(&guard.access), ask("phone")).await,
        403,
        "forbidden",
    )
    .await;
    // A reason is required.
    let mut no_reason = ask("phone");
    no_reason["purpose"] = json!(" ");
    assert_error(
        app.post(&reveal, Some(&bm.access), no_reason).await,
        422,
        "validation_failed",
    )
    .await;

    // Another community's manager cannot reach this record through their own community.
    let other = app.community("别处").await;
    let other_manager = app.staff(other, "manager").await;
    let res = app
        .post(
            &format!("/api/v1/communities/{other}/pii/reveal"),
            Some(&other_manager.access),
            ask("phone"),
        )
        .await;
    assert_error(res, 404, "not_found").await;

    let log: Value = app
        .get(
            &format!("/api/v1/communities/{c}/pii/access-log"),
            Some(&manager.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["accessed_by"], bm.user_id.to_string());
    assert_eq!(entries[0]["field"], "phone");
    assert_eq!(entries[0]["purpose"], "核实业主身份");
    assert_error(
        app.get(
            &format!("/api/v1/communities/{c}/pii/access-log"),
            Some(&bm.access),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn couriers_merchants_and_residents_are_revealed_to_the_duties_that_need_them() {
    let app = spawn_app().await;
    let c = app.community("多方小区").await;
    let admin = app.operator_admin().await;
    let building: Value = app
        .post(
            &format!("/api/v1/communities/{c}/buildings"),
            Some(&admin.access),
            json!({ "name": "1号楼" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let household: Value = app
        .post(
            &format!("/api/v1/communities/{c}/households"),
            Some(&admin.access),
            json!({ "building_id": building["id"], "room": "101" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let resident = app
        .dev_login(json!({ "phone": "13712345678", "households": [{ "household_id": household["id"], "role": "owner" }] }))
        .await;
    let owner = app.resident().await;
    let shop: Value = app
        .post(
            "/api/v1/merchants",
            Some(&owner.access),
            json!({
                "shop_name": "店", "business_scope": "杂货", "categories": ["食"], "location_kind": "shop",
                "address": "底商", "contact_phone": "13812340001", "owner_name": "王五",
                "owner_id_number": "11010519491231002X", "community_ids": [c],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let manager = app.staff(c, "manager").await;
    let rider: Value = app
        .post(
            &format!("/api/v1/communities/{c}/couriers"),
            Some(&manager.access),
            json!({ "name": "骑手", "phone": "13512340007", "id_number": "11010519491231002X",
                    "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
        )
        .await
        .json()
        .await
        .unwrap();
    let reveal = format!("/api/v1/communities/{c}/pii/reveal");
    let ask = |kind: &str, id: &Value, field: &str| json!({ "subject_kind": kind, "subject_id": id, "field": field, "purpose": "工作需要" });

    let guard = app.staff(c, "gate_guard").await;
    let (_, body) = status_and_json(
        app.post(
            &reveal,
            Some(&guard.access),
            ask("courier", &rider["id"], "phone"),
        )
        .await,
    )
    .await;
    assert_eq!(body["value"], "13512340007");
    let cs = app.staff(c, "customer_service").await;
    let (_, body) = status_and_json(
        app.post(
            &reveal,
            Some(&cs.access),
            ask("merchant", &shop["id"], "id_number"),
        )
        .await,
    )
    .await;
    assert_eq!(body["value"], "11010519491231002X");
    assert_error(
        app.post(
            &reveal,
            Some(&cs.access),
            ask("courier", &rider["id"], "phone"),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let bm = app.staff(c, "building_manager").await;
    let resident_id = json!(resident.user_id);
    let (_, body) = status_and_json(
        app.post(
            &reveal,
            Some(&bm.access),
            ask("resident", &resident_id, "phone"),
        )
        .await,
    )
    .await;
    assert_eq!(body["value"], "13712345678");
    // Residents' ID numbers are not held; a non-resident is not found.
    assert_error(
        app.post(
            &reveal,
            Some(&bm.access),
            ask("resident", &resident_id, "id_number"),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let stranger = json!(owner.user_id);
    assert_error(
        app.post(
            &reveal,
            Some(&bm.access),
            ask("resident", &stranger, "phone"),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}
