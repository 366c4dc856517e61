//! `anjia seed-demo`: a demo community to explore: staff who can sign in, two
//! buildings of households with owners on the register, a gate and a pickup
//! point. Running it again changes nothing.

use entity::pickup_point::OpeningPeriod;
use entity::{
    EmployerKind, LocationKind, StaffRole, community, gate, merchant_staff, pickup_point,
    staff_role,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::auth::password::{self, Password};
use crate::community::service::{self as communities, CommunityFields};
use crate::kernel::db;
use crate::merchant::service as merchants;
use crate::pii::{PhoneNumber, PiiCipher};
use crate::structure::service as structure;
use crate::user;

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
    let fail = |e: crate::kernel::error::ApiError| anyhow::anyhow!("{e}");
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
    // The structure and the owner register go through the real import.
    let report = crate::structure::service::import::import_owners(
        &txn,
        pii,
        community.id,
        demo_register().as_bytes(),
        false,
        &mut |_, _| {},
    )
    .await
    .map_err(fail)?;
    println!(
        "  households: {} created, {} already there; owners on the register: {}",
        report.households_created,
        report.households_matched,
        report.owners_created + report.owners_updated
    );
    if gate::Entity::find()
        .filter(gate::Column::CommunityId.eq(community.id))
        .count(&txn)
        .await?
        == 0
    {
        structure::create_gate(&txn, community.id, "东门".to_owned())
            .await
            .map_err(fail)?;
        structure::create_gate(&txn, community.id, "南门".to_owned())
            .await
            .map_err(fail)?;
    }
    if pickup_point::Entity::find()
        .filter(pickup_point::Column::CommunityId.eq(community.id))
        .count(&txn)
        .await?
        == 0
    {
        let hours = structure::parse_opening_hours(vec![OpeningPeriod {
            weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            opens: "08:00".to_owned(),
            closes: "21:00".to_owned(),
        }])
        .map_err(fail)?;
        structure::create_pickup_point(
            &txn,
            community.id,
            "1号楼大堂自提点".to_owned(),
            "1号楼一层大堂".to_owned(),
            hours,
        )
        .await
        .map_err(fail)?;
    }
    println!("  gates 东门, 南门; pickup point 1号楼大堂自提点 (08:00-21:00 daily)");
    seed_merchant(&txn, pii, &community).await?;
    txn.commit().await?;
    println!("staff sign in at POST /api/v1/auth/login with password {DEMO_PASSWORD}");
    Ok(())
}

/// A verified fruit shop (owner 13800000011, who signs in with the demo
/// password) with one courier.
async fn seed_merchant(
    txn: &sea_orm::DatabaseTransaction,
    pii: &PiiCipher,
    community: &community::Model,
) -> anyhow::Result<()> {
    let fail = |e: crate::kernel::error::ApiError| anyhow::anyhow!("{e}");
    let phone = PhoneNumber::parse("13800000011").map_err(|e| anyhow::anyhow!(e))?;
    let owner = match user::service::find_by_phone(txn, pii, &phone)
        .await
        .map_err(fail)?
    {
        Some(u) => u,
        None => {
            let secret = Password::parse("password", DEMO_PASSWORD.to_owned()).map_err(fail)?;
            let hash = password::hash(secret).await.map_err(fail)?;
            user::service::create(txn, pii, "郑老板".to_owned(), Some(&phone), Some(hash))
                .await
                .map_err(fail)?
        }
    };
    let existing = merchant_staff::Entity::find()
        .filter(merchant_staff::Column::UserId.eq(owner.id))
        .one(txn)
        .await?;
    if existing.is_some() {
        println!("  merchant 郑记鲜果 (owner 13800000011) already there");
        return Ok(());
    }
    let (shop, approvals) = merchants::create(
        txn,
        pii,
        crate::merchant::views::NewMerchant {
            shop_name: "郑记鲜果".to_owned(),
            business_scope: "水果、蔬菜零售，本地农产品团购".to_owned(),
            categories: vec!["食".to_owned()],
            location_kind: LocationKind::Shop,
            address: "1号楼底商3号".to_owned(),
            contact_phone: "13800000011".to_owned(),
            owner_name: "郑明".to_owned(),
            owner_id_number: "11010519491231002X".to_owned(),
            community_ids: vec![community.id],
        },
        owner.id,
    )
    .await
    .map_err(fail)?;
    for approval in &approvals {
        merchants::transition(
            txn,
            approval,
            merchants::Action::Verify,
            None,
            None,
            Some(crate::kernel::clock::now() + chrono::Duration::days(365)),
        )
        .await
        .map_err(fail)?;
    }
    let courier = crate::courier::service::register(
        txn,
        pii,
        crate::courier::service::Employer {
            kind: EmployerKind::Merchant,
            merchant: Some(shop.id),
            company: None,
            community: None,
        },
        crate::courier::views::NewCourier {
            name: "小郑".to_owned(),
            phone: "13800000012".to_owned(),
            id_number: "11010519491231002X".to_owned(),
            pass_valid_until: crate::kernel::clock::now() + chrono::Duration::days(180),
            photo_file_id: None,
        }
        .parse()
        .map_err(fail)?,
        owner.id,
    )
    .await
    .map_err(fail)?;
    println!(
        "  merchant 郑记鲜果 verified for a year (owner 13800000011); courier 小郑, pass {}",
        courier.pass_number
    );
    seed_products(txn, shop.id).await?;
    seed_group_buy(txn, community, shop.id, owner.id).await?;
    Ok(())
}

/// An open group buy of the shop's, collected at the pickup point, whose
/// hours are cut into bookable slots for the next three days.
async fn seed_group_buy(
    txn: &sea_orm::DatabaseTransaction,
    community: &community::Model,
    shop: entity::MerchantId,
    owner: entity::UserId,
) -> anyhow::Result<()> {
    use entity::{Fen, GroupBuyId, GroupBuyItemId, GroupBuyStatus, OrganiserKind};
    use entity::{group_buy, group_buy_item, group_buy_pickup_point, pickup_slot};
    let Some(point) = pickup_point::Entity::find()
        .filter(pickup_point::Column::CommunityId.eq(community.id))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let now = crate::kernel::clock::now();
    let id = GroupBuyId::new();
    group_buy::Entity::insert(group_buy::ActiveModel {
        id: Set(id),
        community_id: Set(community.id),
        merchant_id: Set(Some(shop)),
        organiser_kind: Set(OrganiserKind::Merchant),
        created_by: Set(owner),
        title: Set("连江海带 · 产地直发".to_owned()),
        description: Set("满 5 户成团，截单后次日到 1号楼大堂自提点".to_owned()),
        min_households: Set(5),
        starts_at: Set(now),
        deadline: Set(now + chrono::Duration::days(3)),
        pickup_starts_at: Set(Some(now + chrono::Duration::days(4))),
        pickup_ends_at: Set(Some(now + chrono::Duration::days(6))),
        door_delivery: Set(true),
        status: Set(GroupBuyStatus::Open),
        status_reason: Set(None),
        succeeded_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    let items = [
        ("干海带", "斤", 1590, 2590, 200, Some(5)),
        ("海带结", "袋", 990, 1500, 100, None),
    ];
    for (i, (title, unit, price, original, stock, limit)) in items.into_iter().enumerate() {
        group_buy_item::Entity::insert(group_buy_item::ActiveModel {
            id: Set(GroupBuyItemId::new()),
            group_buy_id: Set(id),
            product_id: Set(None),
            title: Set(title.to_owned()),
            unit: Set(unit.to_owned()),
            price: Set(Fen::new(price)?),
            original_price: Set(Some(Fen::new(original)?)),
            stock: Set(stock),
            initial_stock: Set(stock),
            per_household_limit: Set(limit),
            sort_order: Set(i32::try_from(i).unwrap_or(0)),
        })
        .exec_without_returning(txn)
        .await?;
    }
    group_buy_pickup_point::Entity::insert(group_buy_pickup_point::ActiveModel {
        group_buy_id: Set(id),
        pickup_point_id: Set(point.id),
    })
    .exec_without_returning(txn)
    .await?;
    let tz: chrono_tz::Tz = community
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let today = now.with_timezone(&tz).date_naive();
    let slots = crate::pickup::service::plan_slots(&point, &tz, today, 3, 60, 20, now);
    let n = slots.len();
    if n > 0 {
        pickup_slot::Entity::insert_many(slots)
            .exec_without_returning(txn)
            .await?;
    }
    println!(
        "  an open group buy 连江海带 (min 5 households, 3 days); {n} hourly pickup slots of 20"
    );
    Ok(())
}

/// The fruit shop's catalog, under the seeded 食 category.
async fn seed_products(
    txn: &sea_orm::DatabaseTransaction,
    shop: entity::MerchantId,
) -> anyhow::Result<()> {
    use entity::{CategoryId, Fen, ProductId, ProductKind, product};
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let food = CategoryId::from_uuid(uuid::Uuid::from_u128(
        0x0196_0000_0000_7000_8000_0000_0000_0002,
    ));
    let now = crate::kernel::clock::now();
    let items: [(&str, &str, i64, Option<i64>, i64); 4] = [
        ("烟台红富士苹果", "斤", 680, Some(880), 200),
        ("赣南脐橙", "斤", 550, None, 150),
        ("海南金煌芒", "斤", 990, Some(1290), 80),
        ("精品果切拼盘", "份", 1800, None, 30),
    ];
    let shop_name = entity::merchant::Entity::find_by_id(shop)
        .one(txn)
        .await?
        .map(|m| m.shop_name)
        .unwrap_or_default();
    for (i, (title, unit, price, original, stock)) in items.into_iter().enumerate() {
        let saved = product::ActiveModel {
            id: Set(ProductId::new()),
            merchant_id: Set(shop),
            category_id: Set(food),
            kind: Set(ProductKind::Goods),
            title: Set(title.to_owned()),
            description: Set(format!("{title}，当天到货，小区自提或送货上门")),
            unit: Set(unit.to_owned()),
            price: Set(Fen::new(price)?),
            original_price: Set(original.map(Fen::new).transpose()?),
            stock: Set(Some(stock)),
            sort_order: Set(i32::try_from(i).unwrap_or(0)),
            on_shelf: Set(true),
            search_version: Set(crate::catalog::search::VERSION),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
        crate::catalog::search::index(txn, &saved, &shop_name).await?;
    }
    println!("  four products on the shop's shelf (食)");
    Ok(())
}

/// Two buildings, two units each, four floors, two rooms a floor; every
/// household with an owner (demo phone numbers 1390000xxxx).
fn demo_register() -> String {
    const SURNAMES: [&str; 8] = ["张", "王", "李", "赵", "陈", "杨", "黄", "周"];
    const GIVEN: [&str; 4] = ["伟", "芳", "娜", "强"];
    let mut csv = String::from("楼栋,单元,房号,面积,业主姓名,业主电话\n");
    let mut n = 0;
    for building in 1..=2 {
        for unit in 1..=2 {
            for floor in 1..=4 {
                for room in 1..=2 {
                    n += 1;
                    let name = format!("{}{}", SURNAMES[n % 8], GIVEN[n % 4]);
                    let area = if room == 1 { "89.50" } else { "120.00" };
                    csv.push_str(&format!(
                        "{building}号楼,{unit}单元,{floor}0{room},{area},{name},1390000{n:04}\n"
                    ));
                }
            }
        }
    }
    csv
}
