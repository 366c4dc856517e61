//! The back office's lists and their CSV exports.

use serde_json::{Value, json};

use crate::support::{spawn_app, status_and_json};

async fn csv(app: &crate::support::TestApp, path: &str, token: &str) -> (String, String) {
    let res = app.get(path, Some(token)).await;
    assert_eq!(res.status(), 200, "{path}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "no BOM for Excel");
    (disposition, String::from_utf8(bytes[3..].to_vec()).unwrap())
}

#[tokio::test]
async fn residents_claims_merchants_and_couriers_list_and_export_with_masked_data() {
    let app = spawn_app().await;
    let c = app.community("后台小区").await;
    let manager = app.staff(c, "manager").await;
    let import = "楼栋,单元,房号,业主姓名,业主电话\n1号楼,1单元,101,张伟,13900000001\n2号楼,1单元,201,李芳,13900000002\n";
    app.client
        .post(app.url(&format!("/api/v1/communities/{c}/owner-records/import")))
        .bearer_auth(&manager.access)
        .header("content-type", "text/csv")
        .body(import)
        .send()
        .await
        .unwrap();
    let claim = |phone: &'static str,
                 building: &'static str,
                 room: &'static str,
                 name: &'static str| {
        let app = &app;
        async move {
            let who = app.dev_login(json!({ "phone": phone })).await;
            let body = json!({ "building": building, "unit": "1单元", "room": room, "name": name, "role": "owner" });
            app.post(
                &format!("/api/v1/communities/{c}/claims"),
                Some(&who.access),
                body,
            )
            .await
        }
    };
    assert_eq!(
        claim("13900000001", "1号楼", "101", "张伟").await.status(),
        201
    ); // verified at once
    assert_eq!(
        claim("13900000002", "2号楼", "201", "李芳").await.status(),
        201
    ); // verified at once
    assert_eq!(
        claim("13700000003", "2号楼", "201", "王五").await.status(),
        201
    ); // pending

    let buildings: Value = app
        .get(
            &format!("/api/v1/communities/{c}/buildings"),
            Some(&manager.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let first = buildings["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "1号楼")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, residents) = status_and_json(
        app.get(
            &format!("/api/v1/communities/{c}/residents?building_id={first}"),
            Some(&manager.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{residents}");
    let items = residents["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["address"], "1号楼 1单元 101");
    assert_eq!(items[0]["phone"], "139****0001");

    let (disposition, text) = csv(
        &app,
        &format!("/api/v1/communities/{c}/residents/export"),
        &manager.access,
    )
    .await;
    assert!(disposition.contains("residents.csv"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "address,name,phone,role,tenant_until,since,active"
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        text.contains("139****0002") && !text.contains("13900000002"),
        "{text}"
    );

    let (_, text) = csv(
        &app,
        &format!("/api/v1/communities/{c}/claims/export"),
        &manager.access,
    )
    .await;
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("2号楼 1单元 201,王五,owner,pending"),
        "{text}"
    );

    // A merchant and a courier.
    let owner = app.resident().await;
    let shop: Value = app
        .post(
            "/api/v1/merchants",
            Some(&owner.access),
            json!({
                "shop_name": "导出小店", "business_scope": "杂货", "categories": ["食", "生活服务"], "location_kind": "home_based",
                "address": "1号楼101", "contact_phone": "13812340001", "owner_name": "王五",
                "owner_id_number": "11010519491231002X", "community_ids": [c],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let (_, text) = csv(
        &app,
        &format!("/api/v1/communities/{c}/merchants/export?status=applied"),
        &manager.access,
    )
    .await;
    assert!(text.contains("导出小店,home_based,食/生活服务"), "{text}");
    assert!(
        text.contains("138****0001") && !text.contains("13812340001"),
        "{text}"
    );
    let (_, text) = csv(
        &app,
        &format!("/api/v1/communities/{c}/merchants/export?status=verified"),
        &manager.access,
    )
    .await;
    assert_eq!(text.lines().count(), 1, "only the header: {text}");
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/merchants/{}/verify", shop["id"].as_str().unwrap()),
            Some(&manager.access),
            json!({ "valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
        )
        .await;
    assert_eq!(res.status(), 200);

    app.post(
        &format!("/api/v1/merchants/{}/couriers", shop["id"].as_str().unwrap()),
        Some(&owner.access),
        json!({ "name": "骑手甲", "phone": "13512340001", "id_number": "11010519491231002X",
                "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() }),
    )
    .await;
    let (_, text) = csv(
        &app,
        &format!("/api/v1/communities/{c}/couriers/export?employer_kind=merchant"),
        &manager.access,
    )
    .await;
    assert!(text.contains("骑手甲,135****0001,merchant"), "{text}");
}

#[tokio::test]
async fn exported_cells_cannot_run_as_spreadsheet_formulas() {
    let app = spawn_app().await;
    let c = app.community("公式小区").await;
    let manager = app.staff(c, "manager").await;
    app.client
        .post(app.url(&format!("/api/v1/communities/{c}/owner-records/import")))
        .bearer_auth(&manager.access)
        .header("content-type", "text/csv")
        .body("building,room\n1号楼,101\n")
        .send()
        .await
        .unwrap();
    let u = app.resident().await;
    let body = json!({ "building": "1号楼", "room": "101", "name": "=HYPERLINK(\"http://x/\")", "role": "family" });
    assert_eq!(
        app.post(
            &format!("/api/v1/communities/{c}/claims"),
            Some(&u.access),
            body
        )
        .await
        .status(),
        201
    );
    let (_, text) = csv(
        &app,
        &format!("/api/v1/communities/{c}/claims/export"),
        &manager.access,
    )
    .await;
    assert!(text.contains("'=HYPERLINK"), "{text}");
}
