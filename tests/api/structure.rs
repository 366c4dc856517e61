use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error, spawn_app, spawn_app_with, status_and_json};

async fn post_csv(
    app: &TestApp,
    community: uuid::Uuid,
    token: &str,
    csv: &str,
    dry_run: bool,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!(
            "/api/v1/communities/{community}/owner-records/import?dry_run={dry_run}"
        )))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_manager_builds_the_community_structure_with_unique_names() {
    let app = spawn_app().await;
    let c = app.community("结构小区").await;
    let m = app.staff(c, "manager").await;
    let base = format!("/api/v1/communities/{c}");

    let (status, building) = status_and_json(
        app.post(
            &format!("{base}/buildings"),
            Some(&m.access),
            json!({ "name": "3号楼" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{building}");
    let b = building["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("{base}/buildings"),
            Some(&m.access),
            json!({ "name": "3号楼" }),
        )
        .await;
    assert_error(res, 409, "building_name_taken").await;

    let (status, unit) = status_and_json(
        app.post(
            &format!("{base}/buildings/{b}/units"),
            Some(&m.access),
            json!({ "name": "1单元" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{unit}");
    let u = unit["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("{base}/buildings/{b}/units"),
            Some(&m.access),
            json!({ "name": "1单元" }),
        )
        .await;
    assert_error(res, 409, "unit_name_taken").await;

    let new_household =
        json!({ "building_id": b, "unit_id": u, "room": "1202", "area_m2": "89.5" });
    let (status, h) = status_and_json(
        app.post(
            &format!("{base}/households"),
            Some(&m.access),
            new_household.clone(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{h}");
    assert_eq!(h["area_m2"], "89.50");
    assert_error(
        app.post(
            &format!("{base}/households"),
            Some(&m.access),
            new_household,
        )
        .await,
        409,
        "household_exists",
    )
    .await;
    // The same room without a unit is another address.
    let res = app
        .post(
            &format!("{base}/households"),
            Some(&m.access),
            json!({ "building_id": b, "room": "1202" }),
        )
        .await;
    assert_eq!(res.status(), 201);

    let res = app
        .post(
            &format!("{base}/households"),
            Some(&m.access),
            json!({ "building_id": b, "room": "1", "area_m2": "12.345" }),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "area_m2");

    let list: Value = app
        .get(
            &format!("{base}/households?building_id={b}&room=1202"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let (status, gate) = status_and_json(
        app.post(
            &format!("{base}/gates"),
            Some(&m.access),
            json!({ "name": "东门" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{gate}");
    assert_error(
        app.post(
            &format!("{base}/gates"),
            Some(&m.access),
            json!({ "name": "东门" }),
        )
        .await,
        409,
        "gate_name_taken",
    )
    .await;
}

#[tokio::test]
async fn a_household_cannot_be_placed_in_another_communitys_building() {
    let app = spawn_app().await;
    let a = app.community("甲区").await;
    let b = app.community("乙区").await;
    let admin = app.operator_admin().await;
    let building: Value = app
        .post(
            &format!("/api/v1/communities/{b}/buildings"),
            Some(&admin.access),
            json!({ "name": "1号楼" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post(
            &format!("/api/v1/communities/{a}/households"),
            Some(&admin.access),
            json!({ "building_id": building["id"], "room": "101" }),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "building_id");
    // Nor are B's buildings reachable through A's path.
    let res = app
        .get(
            &format!(
                "/api/v1/communities/{a}/buildings/{}/units",
                building["id"].as_str().unwrap()
            ),
            Some(&admin.access),
        )
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn pickup_points_keep_checked_opening_hours() {
    let app = spawn_app().await;
    let c = app.community("自提小区").await;
    let m = app.staff(c, "manager").await;
    let path = format!("/api/v1/communities/{c}/pickup-points");
    let bad = json!({ "name": "大堂", "location": "1号楼", "opening_hours": [{ "weekdays": [8], "opens": "08:00", "closes": "20:00" }] });
    let err = assert_error(
        app.post(&path, Some(&m.access), bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(err["details"]["field"], "opening_hours[0].weekdays");
    let backwards = json!({ "name": "大堂", "location": "1号楼", "opening_hours": [{ "weekdays": [1], "opens": "20:00", "closes": "08:00" }] });
    assert_error(
        app.post(&path, Some(&m.access), backwards).await,
        422,
        "validation_failed",
    )
    .await;

    let good = json!({ "name": "大堂", "location": "1号楼", "opening_hours": [{ "weekdays": [3, 1, 1], "opens": "8:00", "closes": "20:30" }] });
    let (status, point) = status_and_json(app.post(&path, Some(&m.access), good).await).await;
    assert_eq!(status, 201, "{point}");
    assert_eq!(point["opening_hours"][0]["weekdays"], json!([1, 3]));
    assert_eq!(point["opening_hours"][0]["opens"], "08:00");

    let id = point["id"].as_str().unwrap();
    let res = app
        .request(
            Method::PATCH,
            &format!("{path}/{id}"),
            Some(&m.access),
            Some(json!({ "active": false, "location": "2号楼" })),
        )
        .await;
    let (status, changed) = status_and_json(res).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["active"], false);
    assert_eq!(changed["location"], "2号楼");
}

const GOOD_CSV: &str = "\u{feff}楼栋,单元,房号,面积,业主姓名,业主电话,身份证号
1号楼,1单元,101,89.50,张伟,13900000001,11010519491231002X
1号楼,1单元,101,89.50,李芳,13900000002,
1号楼,,102,,王强,13900000003,
2号楼,2单元,201,120,,,
";

#[tokio::test]
async fn a_dry_run_reports_every_bad_row_and_writes_nothing() {
    let app = spawn_app().await;
    let c = app.community("导入小区").await;
    let m = app.staff(c, "manager").await;
    let csv = "building,unit,room,area_m2,owner_name,owner_phone,owner_id_number
1号楼,1单元,101,89.5,张伟,13900000001,
1号楼,1单元,,89.5,李芳,13900000002,
1号楼,1单元,102,abc,王强,13900000003,
1号楼,1单元,103,,赵六,12345,
1号楼,1单元,104,,钱七,13900000005,110105194912310021
1号楼,1单元,101,89.5,张伟,13900000001,
1号楼,1单元,105,,,13900000006,
";
    let (status, report) = status_and_json(post_csv(&app, c, &m.access, csv, true).await).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["dry_run"], true);
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 8], "{report}");
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("room")
    );
    assert!(
        report["errors"][4]["reason"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{report}"
    );
    assert_eq!(report["households_created"], 1);

    let households: Value = app
        .get(
            &format!("/api/v1/communities/{c}/households"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        households["items"].as_array().unwrap().len(),
        0,
        "a dry run wrote something"
    );
}

#[tokio::test]
async fn a_real_import_with_one_bad_row_writes_nothing() {
    let app = spawn_app().await;
    let c = app.community("全有或全无").await;
    let m = app.staff(c, "manager").await;
    let csv = format!("{GOOD_CSV}3号楼,1单元,301,90,孙八,not-a-phone,\n");
    let res = post_csv(&app, c, &m.access, &csv, false).await;
    let err = assert_error(res, 422, "import_rejected").await;
    assert_eq!(err["details"]["errors"][0]["line"], 6);
    let buildings: Value = app
        .get(
            &format!("/api/v1/communities/{c}/buildings"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(buildings["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_import_creates_households_and_owners_and_a_second_import_updates_them() {
    let app = spawn_app().await;
    let c = app.community("导入两次").await;
    let m = app.staff(c, "manager").await;
    let (status, report) =
        status_and_json(post_csv(&app, c, &m.access, GOOD_CSV, false).await).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["rows"], 4);
    assert_eq!(report["households_created"], 3);
    assert_eq!(report["owners_created"], 3);

    let owners: Value = app
        .get(
            &format!("/api/v1/communities/{c}/owner-records"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let items = owners["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let zhang = items.iter().find(|o| o["owner_name"] == "张伟").unwrap();
    assert_eq!(zhang["phone"], "139****0001");
    assert_eq!(zhang["id_number"], "110***********002X");

    let again = "building,unit,room,owner_name,owner_phone\n1号楼,1单元,101,张伟伟,13900000001\n1号楼,1单元,103,新业主,13900000009\n";
    let (status, report) = status_and_json(post_csv(&app, c, &m.access, again, false).await).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["households_matched"], 1);
    assert_eq!(report["households_created"], 1);
    assert_eq!(report["owners_updated"], 1);
    assert_eq!(report["owners_created"], 1);
    let owners: Value = app
        .get(
            &format!("/api/v1/communities/{c}/owner-records?limit=100"),
            Some(&m.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(owners["items"].as_array().unwrap().len(), 4);
    let renamed = owners["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["owner_name"] == "张伟伟")
        .unwrap();
    // A phone-only file does not erase the ID number on record.
    assert_eq!(renamed["id_number"], "110***********002X");

    // Nothing personal is stored in plaintext.
    use sea_orm::{ConnectionTrait, Statement};
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT * FROM owner_records",
        ))
        .await
        .unwrap();
    let dump = format!("{rows:?}");
    for secret in ["13900000001", "11010519491231002X", "13900000009"] {
        assert!(!dump.contains(secret), "{secret} stored in plaintext");
    }
}

#[tokio::test]
async fn an_import_must_be_csv_and_within_the_upload_limit() {
    let app = spawn_app_with(|s| s.server.upload_limit_bytes = 200).await;
    let c = app.community("限制").await;
    let m = app.staff(c, "manager").await;
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/owner-records/import"),
            Some(&m.access),
            json!({ "rows": [] }),
        )
        .await;
    assert_error(res, 415, "unsupported_media_type").await;
    let big = format!("building,room\n{}", "1号楼,101\n".repeat(100));
    assert_error(
        post_csv(&app, c, &m.access, &big, false).await,
        413,
        "payload_too_large",
    )
    .await;
    let res = post_csv(&app, c, &m.access, "floor,door\n1,2\n", true).await;
    let (status, report) = status_and_json(res).await;
    assert_eq!(status, 200);
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown column"),
        "{report}"
    );
}

#[tokio::test]
async fn shifted_columns_and_repeated_headers_are_bad_rows_not_silent_data() {
    let app = spawn_app().await;
    let c = app.community("错位").await;
    let m = app.staff(c, "manager").await;
    // An unquoted comma in the name shifts the phone into an extra field.
    let csv = "building,room,owner_name,owner_phone\n1号楼,101,张,伟,13900000001\n1号楼,102,\"李,芳\",13900000002\n";
    let (_, report) = status_and_json(post_csv(&app, c, &m.access, csv, true).await).await;
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["line"], 2);
    assert!(
        errors[0]["reason"]
            .as_str()
            .unwrap()
            .contains("more fields")
    );
    assert_eq!(
        report["owners_created"], 1,
        "the quoted comma is fine: {report}"
    );

    let (_, report) =
        status_and_json(post_csv(&app, c, &m.access, "building,楼栋,room\n1,2,3\n", true).await)
            .await;
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("twice"),
        "{report}"
    );
}
