//! A community's structure: buildings (楼栋), units (单元), households (户),
//! gates (门岗) and pickup points (自提点), and the property's own register of
//! owners (业主登记), imported from its systems.

use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Communities {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Buildings {
    Table,
    Id,
    CommunityId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
    CommunityId,
    BuildingId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Households {
    Table,
    Id,
    CommunityId,
    BuildingId,
    UnitId,
    Room,
    AddressKey,
    AreaCentiM2,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Gates {
    Table,
    Id,
    CommunityId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PickupPoints {
    Table,
    Id,
    CommunityId,
    Name,
    Location,
    OpeningHours,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OwnerRecords {
    Table,
    Id,
    CommunityId,
    HouseholdId,
    OwnerName,
    PhoneHash,
    PhoneEnc,
    PhoneMasked,
    IdNumberHash,
    IdNumberEnc,
    IdNumberMasked,
    CreatedAt,
    UpdatedAt,
}

async fn unique(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for c in cols {
        index.col(c);
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Buildings::Table)
                    .col(id(Buildings::Id))
                    .col(uuid_ref(Buildings::CommunityId))
                    .col(text(Buildings::Name, 50))
                    .col(time(Buildings::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_buildings_community",
                        (Buildings::Table, Buildings::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "uq_buildings_name",
            Buildings::Table,
            vec![
                Buildings::CommunityId.into_iden(),
                Buildings::Name.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Units::Table)
                    .col(id(Units::Id))
                    .col(uuid_ref(Units::CommunityId))
                    .col(uuid_ref(Units::BuildingId))
                    .col(text(Units::Name, 50))
                    .col(time(Units::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_units_building",
                        (Units::Table, Units::BuildingId),
                        (Buildings::Table, Buildings::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "uq_units_name",
            Units::Table,
            vec![Units::BuildingId.into_iden(), Units::Name.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Households::Table)
                    .col(id(Households::Id))
                    .col(uuid_ref(Households::CommunityId))
                    .col(uuid_ref(Households::BuildingId))
                    .col(ColumnDef::new(Households::UnitId).uuid().null())
                    .col(text(Households::Room, 20))
                    // building/unit/room, for the uniqueness of an address
                    // (a NULL unit would not count in a composite unique index).
                    .col(text(Households::AddressKey, 120))
                    .col(ColumnDef::new(Households::AreaCentiM2).big_integer().null())
                    .col(time(Households::CreatedAt))
                    .col(time(Households::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_households_community",
                        (Households::Table, Households::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_households_building",
                        (Households::Table, Households::BuildingId),
                        (Buildings::Table, Buildings::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_households_unit",
                        (Households::Table, Households::UnitId),
                        (Units::Table, Units::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "uq_households_address",
            Households::Table,
            vec![
                Households::CommunityId.into_iden(),
                Households::AddressKey.into_iden(),
            ],
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_households_building")
                    .table(Households::Table)
                    .col(Households::BuildingId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Gates::Table)
                    .col(id(Gates::Id))
                    .col(uuid_ref(Gates::CommunityId))
                    .col(text(Gates::Name, 50))
                    .col(time(Gates::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_gates_community",
                        (Gates::Table, Gates::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "uq_gates_name",
            Gates::Table,
            vec![Gates::CommunityId.into_iden(), Gates::Name.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PickupPoints::Table)
                    .col(id(PickupPoints::Id))
                    .col(uuid_ref(PickupPoints::CommunityId))
                    .col(text(PickupPoints::Name, 50))
                    .col(text(PickupPoints::Location, 200))
                    .col(
                        ColumnDef::new(PickupPoints::OpeningHours)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PickupPoints::Active).boolean().not_null())
                    .col(time(PickupPoints::CreatedAt))
                    .col(time(PickupPoints::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_pickup_points_community",
                        (PickupPoints::Table, PickupPoints::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "uq_pickup_points_name",
            PickupPoints::Table,
            vec![
                PickupPoints::CommunityId.into_iden(),
                PickupPoints::Name.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OwnerRecords::Table)
                    .col(id(OwnerRecords::Id))
                    .col(uuid_ref(OwnerRecords::CommunityId))
                    .col(uuid_ref(OwnerRecords::HouseholdId))
                    .col(text(OwnerRecords::OwnerName, 64))
                    .col(text(OwnerRecords::PhoneHash, 64))
                    .col(ColumnDef::new(OwnerRecords::PhoneEnc).text().not_null())
                    .col(text(OwnerRecords::PhoneMasked, 16))
                    .col(
                        ColumnDef::new(OwnerRecords::IdNumberHash)
                            .string_len(64)
                            .null(),
                    )
                    .col(ColumnDef::new(OwnerRecords::IdNumberEnc).text().null())
                    .col(
                        ColumnDef::new(OwnerRecords::IdNumberMasked)
                            .string_len(24)
                            .null(),
                    )
                    .col(time(OwnerRecords::CreatedAt))
                    .col(time(OwnerRecords::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_owner_records_household",
                        (OwnerRecords::Table, OwnerRecords::HouseholdId),
                        (Households::Table, Households::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "uq_owner_records_owner",
            OwnerRecords::Table,
            vec![
                OwnerRecords::HouseholdId.into_iden(),
                OwnerRecords::PhoneHash.into_iden(),
            ],
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_owner_records_community")
                    .table(OwnerRecords::Table)
                    .col(OwnerRecords::CommunityId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OwnerRecords::Table.into_iden(),
            PickupPoints::Table.into_iden(),
            Gates::Table.into_iden(),
            Households::Table.into_iden(),
            Units::Table.into_iden(),
            Buildings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
