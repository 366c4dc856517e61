//! Merchants (商家): their profile, their verification in each community they
//! serve, the property's verification visits (扫街), and their staff.

use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Communities {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    ShopName,
    BusinessScope,
    Categories,
    LocationKind,
    Address,
    ContactPhoneHash,
    ContactPhoneEnc,
    ContactPhoneMasked,
    OwnerName,
    OwnerIdHash,
    OwnerIdEnc,
    OwnerIdMasked,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MerchantCommunities {
    Table,
    Id,
    MerchantId,
    CommunityId,
    Status,
    VerifiedUntil,
    Reason,
    DecidedBy,
    DecidedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MerchantStaff {
    Table,
    Id,
    MerchantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MerchantVisits {
    Table,
    Id,
    MerchantId,
    CommunityId,
    VisitedBy,
    VisitedAt,
    Notes,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Merchants::Table)
                    .col(id(Merchants::Id))
                    .col(text(Merchants::ShopName, 100))
                    .col(text(Merchants::BusinessScope, 500))
                    .col(
                        ColumnDef::new(Merchants::Categories)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text(Merchants::LocationKind, 16))
                    .col(text(Merchants::Address, 200))
                    .col(text(Merchants::ContactPhoneHash, 64))
                    .col(ColumnDef::new(Merchants::ContactPhoneEnc).text().not_null())
                    .col(text(Merchants::ContactPhoneMasked, 16))
                    .col(text(Merchants::OwnerName, 64))
                    .col(text(Merchants::OwnerIdHash, 64))
                    .col(ColumnDef::new(Merchants::OwnerIdEnc).text().not_null())
                    .col(text(Merchants::OwnerIdMasked, 24))
                    .col(uuid_ref(Merchants::CreatedBy))
                    .col(time(Merchants::CreatedAt))
                    .col(time(Merchants::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MerchantCommunities::Table)
                    .col(id(MerchantCommunities::Id))
                    .col(uuid_ref(MerchantCommunities::MerchantId))
                    .col(uuid_ref(MerchantCommunities::CommunityId))
                    .col(text(MerchantCommunities::Status, 16))
                    .col(time_null(MerchantCommunities::VerifiedUntil))
                    .col(
                        ColumnDef::new(MerchantCommunities::Reason)
                            .string_len(200)
                            .null(),
                    )
                    .col(ColumnDef::new(MerchantCommunities::DecidedBy).uuid().null())
                    .col(time_null(MerchantCommunities::DecidedAt))
                    .col(time(MerchantCommunities::CreatedAt))
                    .col(time(MerchantCommunities::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_merchant_communities_merchant",
                        (MerchantCommunities::Table, MerchantCommunities::MerchantId),
                        (Merchants::Table, Merchants::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_merchant_communities_community",
                        (MerchantCommunities::Table, MerchantCommunities::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_merchant_communities")
                    .table(MerchantCommunities::Table)
                    .col(MerchantCommunities::MerchantId)
                    .col(MerchantCommunities::CommunityId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_merchant_communities_status")
                    .table(MerchantCommunities::Table)
                    .col(MerchantCommunities::CommunityId)
                    .col(MerchantCommunities::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MerchantStaff::Table)
                    .col(id(MerchantStaff::Id))
                    .col(uuid_ref(MerchantStaff::MerchantId))
                    .col(uuid_ref(MerchantStaff::UserId))
                    .col(text(MerchantStaff::Role, 16))
                    .col(time(MerchantStaff::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_merchant_staff_merchant",
                        (MerchantStaff::Table, MerchantStaff::MerchantId),
                        (Merchants::Table, Merchants::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_merchant_staff_user",
                        (MerchantStaff::Table, MerchantStaff::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_merchant_staff_user")
                    .table(MerchantStaff::Table)
                    .col(MerchantStaff::MerchantId)
                    .col(MerchantStaff::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_merchant_staff_user")
                    .table(MerchantStaff::Table)
                    .col(MerchantStaff::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MerchantVisits::Table)
                    .col(id(MerchantVisits::Id))
                    .col(uuid_ref(MerchantVisits::MerchantId))
                    .col(uuid_ref(MerchantVisits::CommunityId))
                    .col(uuid_ref(MerchantVisits::VisitedBy))
                    .col(time(MerchantVisits::VisitedAt))
                    .col(text(MerchantVisits::Notes, 1000))
                    .col(time(MerchantVisits::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_merchant_visits_merchant",
                        (MerchantVisits::Table, MerchantVisits::MerchantId),
                        (Merchants::Table, Merchants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MerchantVisits::Table.into_iden(),
            MerchantStaff::Table.into_iden(),
            MerchantCommunities::Table.into_iden(),
            Merchants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
