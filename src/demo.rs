//! `anjia seed-demo`: a demo community to explore, with staff who can sign in.
//! Running it again changes nothing.

use entity::{StaffRole, community, staff_role};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use crate::auth::password::{self, Password};
use crate::community::service::{self as communities, CommunityFields};
use crate::pii::{PhoneNumber, PiiCipher};
use crate::{db, user};

pub const DEMO_COMMUNITY: &str = "安家示范小区";
/// Every demo account's password. Demo data only: never seed production.
pub const DEMO_PASSWORD: &str = "anjia-demo-2026";

const DEMO_STAFF: &[(&str, &str, StaffRole)] = &[
    ("13800000001", "王经理", StaffRole::Manager),
    ("13800000002", "李楼管", StaffRole::BuildingManager),
    ("13800000003", "张门岗", StaffRole::GateGuard),
    ("13800000004", "陈财务", StaffRole::Finance),
    ("13800000005", "刘客服", StaffRole::CustomerService),
];

pub async fn seed(conn: &DatabaseConnection, pii: &PiiCipher) -> anyhow::Result<()> {
    let fail = |e: crate::error::ApiError| anyhow::anyhow!("{e}");
    let txn = db::begin_write(conn).await?;
    let community = match community::Entity::find()
        .filter(community::Column::Name.eq(DEMO_COMMUNITY))
        .one(&txn)
        .await?
    {
        Some(c) => c,
        None => communities::create(
            &txn,
            CommunityFields {
                name: DEMO_COMMUNITY.to_owned(),
                address: "福建省福州市仓山区示范路1号".to_owned(),
                timezone: "Asia/Shanghai".to_owned(),
            },
        )
        .await
        .map_err(fail)?,
    };
    println!("community {} ({})", community.name, community.id);
    for (phone, name, role) in DEMO_STAFF {
        let phone = PhoneNumber::parse(phone).map_err(|e| anyhow::anyhow!(e))?;
        let person = match user::service::find_by_phone(&txn, pii, &phone)
            .await
            .map_err(fail)?
        {
            Some(u) => u,
            None => {
                let secret = Password::parse("password", DEMO_PASSWORD.to_owned()).map_err(fail)?;
                let hash = password::hash(secret).await.map_err(fail)?;
                user::service::create(&txn, pii, (*name).to_owned(), Some(&phone), Some(hash))
                    .await
                    .map_err(fail)?
            }
        };
        let held = staff_role::Entity::find()
            .filter(staff_role::Column::CommunityId.eq(community.id))
            .filter(staff_role::Column::UserId.eq(person.id))
            .filter(staff_role::Column::Role.eq(*role))
            .count(&txn)
            .await?;
        if held == 0 {
            communities::grant_role(&txn, community.id, person.id, *role, None)
                .await
                .map_err(fail)?;
        }
        println!("  {:<17} {} {}", role.as_str(), name, phone.as_str());
    }
    txn.commit().await?;
    println!("staff sign in at POST /api/v1/auth/login with password {DEMO_PASSWORD}");
    Ok(())
}
