use serde_json::{Value, json};

use crate::support::fixtures::{png, upload};
use crate::support::{TestApp, assert_error, spawn_app, spawn_app_with, status_and_json};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn stored_files(app: &TestApp) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            count(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(app.files.path())
}

#[tokio::test]
async fn uploads_are_sniffed_checked_against_their_claim_and_limited() {
    let app = spawn_app_with(|s| {
        s.server.upload_limit_bytes = 4096;
        s.storage.max_image_pixels = 1_000_000;
    })
    .await;
    let u = app.resident().await;

    let (status, body) = status_and_json(upload(&app, &u, "image/png", png(800, 600)).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["content_type"].as_str(), body["width"].as_i64()),
        (Some("image/png"), Some(800))
    );
    assert_eq!(stored_files(&app), 1);

    // A PDF claiming to be a PNG, a PNG claiming to be a JPEG.
    assert_error(
        upload(&app, &u, "image/png", PDF.to_vec()).await,
        422,
        "content_mismatch",
    )
    .await;
    assert_error(
        upload(&app, &u, "image/jpeg", png(10, 10)).await,
        422,
        "content_mismatch",
    )
    .await;
    // Types anjia does not take, too many pixels, too many bytes.
    assert_error(
        upload(&app, &u, "text/html", b"<html></html>".to_vec()).await,
        415,
        "unsupported_file_type",
    )
    .await;
    assert_error(
        upload(&app, &u, "image/png", png(5000, 5000)).await,
        422,
        "image_too_large",
    )
    .await;
    let mut big = PDF.to_vec();
    big.extend(std::iter::repeat_n(b' ', 8192));
    assert_error(
        upload(&app, &u, "application/pdf", big).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(stored_files(&app), 1, "a refused upload left bytes behind");
}

#[tokio::test]
async fn a_lease_contract_is_seen_by_the_owner_and_the_reviewers_only_through_expiring_links() {
    let app = spawn_app().await;
    let c = app.community("文件小区").await;
    let owner = app.resident().await;
    let shop: Value = app
        .post(
            "/api/v1/merchants",
            Some(&owner.access),
            json!({
                "shop_name": "合同店", "business_scope": "杂货", "categories": ["食"], "location_kind": "shop",
                "address": "底商", "contact_phone": "13812340001", "owner_name": "王五",
                "owner_id_number": "11010519491231002X", "community_ids": [c],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let shop = shop["id"].as_str().unwrap();
    let (_, lease) =
        status_and_json(upload(&app, &owner, "application/pdf", PDF.to_vec()).await).await;
    let (_, photo) = status_and_json(upload(&app, &owner, "image/png", png(100, 100)).await).await;
    let attach = |file: &Value, role: &str| json!({ "file_id": file["id"], "role": role });
    let res = app
        .post(
            &format!("/api/v1/merchants/{shop}/documents"),
            Some(&owner.access),
            attach(&lease, "lease_contract"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            &format!("/api/v1/merchants/{shop}/documents"),
            Some(&owner.access),
            attach(&photo, "photo"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            &format!("/api/v1/merchants/{shop}/documents"),
            Some(&owner.access),
            attach(&photo, "photo"),
        )
        .await;
    assert_error(res, 409, "already_attached").await;

    // A clerk sees the photo but not the contract.
    app.post(
        &format!("/api/v1/merchants/{shop}/staff"),
        Some(&owner.access),
        json!({ "phone": "13612340001", "display_name": "店员" }),
    )
    .await;
    let clerk = app.dev_login(json!({ "phone": "13612340001" })).await;
    let link_of = |file: &Value| format!("/api/v1/files/{}/link", file["id"].as_str().unwrap());
    assert_eq!(
        app.get(&link_of(&photo), Some(&clerk.access))
            .await
            .status(),
        200
    );
    assert_error(
        app.get(&link_of(&lease), Some(&clerk.access)).await,
        404,
        "not_found",
    )
    .await;
    // The community's reviewer sees it; a stranger and another community's manager do not.
    let reviewer = app.staff(c, "customer_service").await;
    let (status, link) =
        status_and_json(app.get(&link_of(&lease), Some(&reviewer.access)).await).await;
    assert_eq!(status, 200, "{link}");
    let stranger = app.resident().await;
    assert_error(
        app.get(&link_of(&lease), Some(&stranger.access)).await,
        404,
        "not_found",
    )
    .await;
    let other = app.community("别处").await;
    let other_manager = app.staff(other, "manager").await;
    assert_error(
        app.get(&link_of(&lease), Some(&other_manager.access)).await,
        404,
        "not_found",
    )
    .await;
    let docs: Value = app
        .get(
            &format!("/api/v1/communities/{c}/merchants/{shop}/documents"),
            Some(&reviewer.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 2);

    // The link downloads without a token; tampered or expired links do not.
    let url = link["url"].as_str().unwrap();
    let res = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    let tampered = url.replace("signature=", "signature=0");
    assert_error(
        app.client.get(app.url(&tampered)).send().await.unwrap(),
        403,
        "link_invalid",
    )
    .await;
    let id = lease["id"].as_str().unwrap();
    let stale = format!(
        "/files/{id}?expires=1&signature={}",
        url.rsplit('=').next().unwrap()
    );
    assert_error(
        app.client.get(app.url(&stale)).send().await.unwrap(),
        403,
        "link_invalid",
    )
    .await;
}

#[tokio::test]
async fn an_expired_link_is_gone() {
    let app = spawn_app_with(|s| s.storage.download_url_ttl_secs = 0).await;
    let u = app.resident().await;
    let (_, file) = status_and_json(upload(&app, &u, "application/pdf", PDF.to_vec()).await).await;
    let link: Value = app
        .get(
            &format!("/api/v1/files/{}/link", file["id"].as_str().unwrap()),
            Some(&u.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .client
        .get(app.url(link["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_error(res, 410, "link_expired").await;
}

#[tokio::test]
async fn visit_and_courier_photos_are_seen_by_the_duties_concerned() {
    let app = spawn_app().await;
    let c = app.community("照片小区").await;
    let owner = app.resident().await;
    let shop: Value = app
        .post(
            "/api/v1/merchants",
            Some(&owner.access),
            json!({
                "shop_name": "照片店", "business_scope": "杂货", "categories": ["食"], "location_kind": "shop",
                "address": "底商", "contact_phone": "13812340001", "owner_name": "王五",
                "owner_id_number": "11010519491231002X", "community_ids": [c],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let shop = shop["id"].as_str().unwrap();

    // A reviewer records a visit with a photo.
    let reviewer = app.staff(c, "building_manager").await;
    let (_, photo) = status_and_json(upload(&app, &reviewer, "image/png", png(64, 64)).await).await;
    let visit = json!({ "notes": "门店照片", "photo_file_ids": [photo["id"]] });
    let (status, recorded) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/merchants/{shop}/visits"),
            Some(&reviewer.access),
            visit,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{recorded}");
    assert_eq!(recorded["photo_file_ids"][0], photo["id"]);
    let manager = app.staff(c, "manager").await;
    let link = format!("/api/v1/files/{}/link", photo["id"].as_str().unwrap());
    assert_eq!(app.get(&link, Some(&manager.access)).await.status(), 200);
    assert_error(app.get(&link, Some(&owner.access)).await, 404, "not_found").await;
    // Someone else's upload cannot be attached.
    let visit = json!({ "notes": "x", "photo_file_ids": [photo["id"]] });
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/merchants/{shop}/visits"),
            Some(&manager.access),
            visit,
        )
        .await;
    assert_error(res, 422, "validation_failed").await;

    // A courier's photo: the merchant and the community's guards see it.
    let (_, face) = status_and_json(upload(&app, &owner, "image/png", png(64, 64)).await).await;
    let rider = json!({
        "name": "骑手", "phone": "13512340001", "id_number": "11010519491231002X", "photo_file_id": face["id"],
        "pass_valid_until": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
    });
    let (status, courier) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{shop}/couriers"),
            Some(&owner.access),
            rider,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &courier["photo_file_id"]),
        (201, &face["id"]),
        "{courier}"
    );
    let guard = app.staff(c, "gate_guard").await;
    let link = format!("/api/v1/files/{}/link", face["id"].as_str().unwrap());
    assert_eq!(app.get(&link, Some(&guard.access)).await.status(), 200);
    let other = app.community("别处").await;
    let other_guard = app.staff(other, "gate_guard").await;
    assert_error(
        app.get(&link, Some(&other_guard.access)).await,
        404,
        "not_found",
    )
    .await;
}
