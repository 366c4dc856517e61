use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Session, TestApp, assert_error, spawn_app, status_and_json};

/// A community with the property's register: 1号楼 1单元 101 owned by 张伟
/// (13900000001), 102 owned by 李芳 (13900000002). Returns (community, the
/// two household ids, a building manager).
async fn registered_community(app: &TestApp) -> (Uuid, Uuid, Uuid, Session) {
    let c = app
        .community(&format!("住户小区{}", Uuid::now_v7().simple()))
        .await;
    let manager = app.staff(c, "manager").await;
    let csv = "building,unit,room,owner_name,owner_phone\n1号楼,1单元,101,张伟,13900000001\n1号楼,1单元,102,李芳,13900000002\n";
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
    let list: Value = app
        .get(
            &format!("/api/v1/communities/{c}/households?room=101"),
            Some(&manager.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let h101 = list["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let list: Value = app
        .get(
            &format!("/api/v1/communities/{c}/households?room=102"),
            Some(&manager.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let h102 = list["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let building_manager = app.staff(c, "building_manager").await;
    (c, h101, h102, building_manager)
}

async fn claim(app: &TestApp, c: Uuid, who: &Session, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/communities/{c}/claims"),
        Some(&who.access),
        body,
    )
    .await
}

fn owner_claim(room: &str, name: &str) -> Value {
    json!({ "building": "1号楼", "unit": "1单元", "room": room, "name": name, "role": "owner" })
}

#[tokio::test]
async fn an_owner_matching_the_register_by_name_and_phone_is_verified_at_once() {
    let app = spawn_app().await;
    let (c, h101, _, _) = registered_community(&app).await;
    let zhang = app
        .dev_login(json!({ "phone": "13900000001", "display_name": "老张" }))
        .await;
    let (status, body) =
        status_and_json(claim(&app, c, &zhang, owner_claim("101", "张伟")).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "auto_verified");
    assert_eq!(body["address"], "1号楼 1单元 101");

    let mine: Value = app
        .get("/api/v1/me/households", Some(&zhang.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["households"][0]["household_id"], h101.to_string());
    assert_eq!(mine["households"][0]["role"], "owner");
    assert_eq!(mine["households"][0]["verified_via"], "owner_record");
    assert_eq!(mine["households"][0]["address"], "1号楼 1单元 101");

    let members: Value = app
        .get(
            &format!("/api/v1/communities/{c}/households/{h101}/members"),
            Some(&zhang.access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members[0]["phone"], "139****0001");

    let res = claim(&app, c, &zhang, owner_claim("101", "张伟")).await;
    assert_error(res, 409, "already_member").await;
}

#[tokio::test]
async fn a_room_number_alone_grants_nothing() {
    let app = spawn_app().await;
    let (c, h101, h102, _) = registered_community(&app).await;
    // The owner's name, but another phone (or none): the claim waits.
    let stranger = app.dev_login(json!({ "phone": "13700000000" })).await;
    let (status, body) =
        status_and_json(claim(&app, c, &stranger, owner_claim("101", "张伟")).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    let nophone = app.resident().await;
    let (_, body) =
        status_and_json(claim(&app, c, &nophone, owner_claim("101", "张伟")).await).await;
    assert_eq!(body["status"], "pending");
    // The right phone with the wrong name waits too.
    let li = app.dev_login(json!({ "phone": "13900000002" })).await;
    let (_, body) = status_and_json(claim(&app, c, &li, owner_claim("102", "李四")).await).await;
    assert_eq!(body["status"], "pending");

    for (who, h) in [(&stranger, h101), (&li, h102)] {
        let res = app
            .get(
                &format!("/api/v1/communities/{c}/households/{h}/members"),
                Some(&who.access),
            )
            .await;
        assert_error(res, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_building_manager_approves_or_rejects_pending_claims_once() {
    let app = spawn_app().await;
    let (c, h101, _, bm) = registered_community(&app).await;
    let family = app
        .dev_login(json!({ "phone": "13700000001", "display_name": "张小" }))
        .await;
    let (_, filed) = status_and_json(
        claim(&app, c, &family, json!({ "building": "1号楼", "unit": "1单元", "room": "101", "name": "张小", "role": "family", "note": "张伟的儿子" })).await,
    )
    .await;
    let res = claim(&app, c, &family, json!({ "building": "1号楼", "unit": "1单元", "room": "101", "name": "张小", "role": "family" })).await;
    assert_error(res, 409, "claim_pending").await;

    let pending: Value = app
        .get(&format!("/api/v1/communities/{c}/claims"), Some(&bm.access))
        .await
        .json()
        .await
        .unwrap();
    let item = &pending["items"][0];
    assert_eq!(item["claimant_name"], "张小");
    assert_eq!(item["claimant_phone"], "137****0001");
    assert_eq!(item["note"], "张伟的儿子");
    let id = filed["id"].as_str().unwrap();

    let approve = format!("/api/v1/communities/{c}/claims/{id}/approve");
    let (status, member) =
        status_and_json(app.post(&approve, Some(&bm.access), json!({})).await).await;
    assert_eq!(status, 200, "{member}");
    assert_eq!(member["role"], "family");
    assert_eq!(member["verified_via"], "staff");
    assert_error(
        app.post(&approve, Some(&bm.access), json!({})).await,
        409,
        "claim_decided",
    )
    .await;
    let reject = format!("/api/v1/communities/{c}/claims/{id}/reject");
    assert_error(
        app.post(&reject, Some(&bm.access), json!({ "reason": "晚了" }))
            .await,
        409,
        "claim_decided",
    )
    .await;

    let res = app
        .get(
            &format!("/api/v1/communities/{c}/households/{h101}/members"),
            Some(&family.access),
        )
        .await;
    assert_eq!(res.status(), 200);

    // A rejection carries its reason to the claimant.
    let other = app.resident().await;
    let (_, filed) =
        status_and_json(claim(&app, c, &other, owner_claim("102", "王五")).await).await;
    let id = filed["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/claims/{id}/reject"),
            Some(&bm.access),
            json!({ "reason": "与登记不符" }),
        )
        .await;
    assert_eq!(res.status(), 204);
    let mine: Value = app
        .get("/api/v1/me/households", Some(&other.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["claims"][0]["status"], "rejected");
    assert_eq!(mine["claims"][0]["reason"], "与登记不符");
    assert_eq!(mine["households"], json!([]));
}

#[tokio::test]
async fn claims_name_a_real_household_and_tenancies_need_an_end() {
    let app = spawn_app().await;
    let (c, _, _, _) = registered_community(&app).await;
    let u = app.resident().await;
    let res = claim(&app, c, &u, owner_claim("999", "谁")).await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "room");
    let res = claim(&app, c, &u, json!({ "building": "1号楼", "unit": "1单元", "room": "101", "name": "租客", "role": "tenant" })).await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "tenant_until");
    let res = claim(&app, c, &u, json!({ "building": "1号楼", "unit": "1单元", "room": "101", "name": "租客", "role": "tenant", "tenant_until": "2020-01-01T00:00:00Z" })).await;
    assert_error(res, 422, "validation_failed").await;
    // A community that does not exist.
    let res = claim(&app, Uuid::now_v7(), &u, owner_claim("101", "张伟")).await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn claims_are_rate_limited_per_user() {
    let app = spawn_app().await;
    let (c, _, _, _) = registered_community(&app).await;
    let u = app.resident().await;
    for room in ["901", "902", "903", "904", "905"] {
        assert_eq!(
            claim(&app, c, &u, owner_claim(room, "试探")).await.status(),
            422
        );
    }
    let res = claim(&app, c, &u, owner_claim("101", "张伟")).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn an_owner_invites_family_with_a_code_that_works_once_until_it_expires() {
    let app = spawn_app().await;
    let (c, h101, _, _) = registered_community(&app).await;
    let owner = app.dev_login(json!({ "phone": "13900000001" })).await;
    claim(&app, c, &owner, owner_claim("101", "张伟")).await;
    let invites = format!("/api/v1/communities/{c}/households/{h101}/invites");
    let (status, invite) =
        status_and_json(app.post(&invites, Some(&owner.access), json!({})).await).await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["code"].as_str().unwrap();

    let child = app.resident().await;
    let (status, member) = status_and_json(
        app.post(
            "/api/v1/invites/accept",
            Some(&child.access),
            json!({ "code": code }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{member}");
    assert_eq!(member["role"], "family");
    assert_eq!(member["verified_via"], "invite");
    let again = app.resident().await;
    assert_error(
        app.post(
            "/api/v1/invites/accept",
            Some(&again.access),
            json!({ "code": code }),
        )
        .await,
        410,
        "invite_expired",
    )
    .await;
    assert_error(
        app.post(
            "/api/v1/invites/accept",
            Some(&again.access),
            json!({ "code": "made-up" }),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // A family member cannot invite.
    assert_error(
        app.post(&invites, Some(&child.access), json!({})).await,
        403,
        "forbidden",
    )
    .await;

    // An expired invitation.
    let (_, invite) =
        status_and_json(app.post(&invites, Some(&owner.access), json!({})).await).await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE household_invites SET expires_at = created_at")
        .await
        .unwrap();
    let res = app
        .post(
            "/api/v1/invites/accept",
            Some(&again.access),
            json!({ "code": invite["code"] }),
        )
        .await;
    assert_error(res, 410, "invite_expired").await;
}

#[tokio::test]
async fn members_are_removed_by_owners_or_staff_and_may_leave() {
    let app = spawn_app().await;
    let (c, h101, _, bm) = registered_community(&app).await;
    let owner = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "owner" }] }))
        .await;
    let co_owner = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "owner" }] }))
        .await;
    let family = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "family" }] }))
        .await;
    let tenant = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "tenant", "tenant_until": "2099-01-01T00:00:00Z" }] }))
        .await;
    let members_path = format!("/api/v1/communities/{c}/households/{h101}/members");
    let members: Value = app
        .get(&members_path, Some(&owner.access))
        .await
        .json()
        .await
        .unwrap();
    let id_of = |user: &Session| -> String {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == user.user_id.to_string())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let remove = |id: String| format!("{members_path}/{id}");

    // The family member cannot remove the tenant; an owner cannot remove another owner.
    assert_error(
        app.request(
            Method::DELETE,
            &remove(id_of(&tenant)),
            Some(&family.access),
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.request(
            Method::DELETE,
            &remove(id_of(&co_owner)),
            Some(&owner.access),
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    // An owner removes the family member, who loses access at once.
    assert_eq!(
        app.request(
            Method::DELETE,
            &remove(id_of(&family)),
            Some(&owner.access),
            None
        )
        .await
        .status(),
        204
    );
    assert_error(
        app.get(&members_path, Some(&family.access)).await,
        404,
        "not_found",
    )
    .await;
    // The tenant leaves; a building manager removes the co-owner.
    assert_eq!(
        app.request(
            Method::DELETE,
            &remove(id_of(&tenant)),
            Some(&tenant.access),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.request(
            Method::DELETE,
            &remove(id_of(&co_owner)),
            Some(&bm.access),
            None
        )
        .await
        .status(),
        204
    );
    let left: Value = app
        .get(&members_path, Some(&owner.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(left.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tenant_loses_access_when_the_tenancy_ends() {
    let app = spawn_app().await;
    let (c, h101, _, _) = registered_community(&app).await;
    let ended = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "tenant", "tenant_until": "2020-01-01T00:00:00Z" }] }))
        .await;
    let res = app
        .get(
            &format!("/api/v1/communities/{c}/households/{h101}/members"),
            Some(&ended.access),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let mine: Value = app
        .get("/api/v1/me/households", Some(&ended.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["households"][0]["active"], false);
}

#[tokio::test]
async fn residents_see_only_their_own_household_and_nothing_of_other_communities() {
    let app = spawn_app().await;
    let (a, h101, h102, _) = registered_community(&app).await;
    let (b, b101, _, _) = registered_community(&app).await;
    let owner = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "owner" }] }))
        .await;
    let neighbour = format!("/api/v1/communities/{a}/households/{h102}/members");
    assert_error(
        app.get(&neighbour, Some(&owner.access)).await,
        404,
        "not_found",
    )
    .await;
    let other = format!("/api/v1/communities/{b}/households/{b101}/members");
    assert_error(app.get(&other, Some(&owner.access)).await, 404, "not_found").await;
    // B's household through A's path.
    let mixed = format!("/api/v1/communities/{a}/households/{b101}/members");
    assert_error(app.get(&mixed, Some(&owner.access)).await, 404, "not_found").await;
    // Staff routes of their own community are forbidden, not hidden.
    assert_error(
        app.get(
            &format!("/api/v1/communities/{a}/claims"),
            Some(&owner.access),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn the_directory_finds_communities_by_name() {
    let app = spawn_app().await;
    app.community("榕城花园").await;
    app.community("闽江小区").await;
    let u = app.resident().await;
    let found: Value = app
        .get("/api/v1/community-directory?q=榕城", Some(&u.access))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["榕城花园"]);
}

#[tokio::test]
async fn a_former_owners_invitation_opens_nothing() {
    let app = spawn_app().await;
    let (c, h101, _, bm) = registered_community(&app).await;
    let owner = app
        .dev_login(json!({ "households": [{ "household_id": h101, "role": "owner" }] }))
        .await;
    let (_, invite) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/households/{h101}/invites"),
            Some(&owner.access),
            json!({}),
        )
        .await,
    )
    .await;
    let members: Value = app
        .get(
            &format!("/api/v1/communities/{c}/households/{h101}/members"),
            Some(&bm.access),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = members[0]["id"].as_str().unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/communities/{c}/households/{h101}/members/{id}"),
            Some(&bm.access),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let stranger = app.resident().await;
    let res = app
        .post(
            "/api/v1/invites/accept",
            Some(&stranger.access),
            json!({ "code": invite["code"] }),
        )
        .await;
    assert_error(res, 410, "invite_expired").await;
}

#[tokio::test]
async fn the_directory_search_is_literal_and_ignores_case() {
    let app = spawn_app().await;
    app.community("ABC花园").await;
    app.community("50%小区").await;
    let u = app.resident().await;
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let found: Value = app
        .get("/api/v1/community-directory?q=abc", Some(&u.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(found), vec!["ABC花园"]);
    let found: Value = app
        .get("/api/v1/community-directory?q=%25", Some(&u.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(found), vec!["50%小区"]);
}
