//! The foundation: communities, users, operator admins, staff roles,
//! refresh tokens and the shared rate-limit counters.

use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Communities {
    Table,
    Id,
    Name,
    Address,
    Timezone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    DisplayName,
    PhoneHash,
    PhoneEnc,
    PhoneMasked,
    PasswordHash,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OperatorAdmins {
    Table,
    UserId,
    GrantedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StaffRoles {
    Table,
    Id,
    CommunityId,
    UserId,
    Role,
    GrantedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    WindowStart,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Communities::Table)
                    .col(id(Communities::Id))
                    .col(text(Communities::Name, 100))
                    .col(text(Communities::Address, 255))
                    .col(text(Communities::Timezone, 64))
                    .col(time(Communities::CreatedAt))
                    .col(time(Communities::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_communities_name")
                    .table(Communities::Table)
                    .col(Communities::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(text(Users::DisplayName, 64))
                    // Phone numbers are personal data: a keyed hash for lookup,
                    // AES-GCM ciphertext for the value, and the masked form
                    // (138****1234) that responses show.
                    .col(ColumnDef::new(Users::PhoneHash).string_len(64).null())
                    .col(ColumnDef::new(Users::PhoneEnc).text().null())
                    .col(ColumnDef::new(Users::PhoneMasked).string_len(16).null())
                    .col(ColumnDef::new(Users::PasswordHash).text().null())
                    .col(text(Users::Status, 16))
                    .col(time(Users::CreatedAt))
                    .col(time(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_users_phone_hash")
                    .table(Users::Table)
                    .col(Users::PhoneHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OperatorAdmins::Table)
                    .col(id(OperatorAdmins::UserId))
                    .col(ColumnDef::new(OperatorAdmins::GrantedBy).uuid().null())
                    .col(time(OperatorAdmins::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_operator_admins_user")
                            .from(OperatorAdmins::Table, OperatorAdmins::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StaffRoles::Table)
                    .col(id(StaffRoles::Id))
                    .col(uuid_ref(StaffRoles::CommunityId))
                    .col(uuid_ref(StaffRoles::UserId))
                    .col(text(StaffRoles::Role, 32))
                    .col(ColumnDef::new(StaffRoles::GrantedBy).uuid().null())
                    .col(time(StaffRoles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_staff_roles_community")
                            .from(StaffRoles::Table, StaffRoles::CommunityId)
                            .to(Communities::Table, Communities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_staff_roles_user")
                            .from(StaffRoles::Table, StaffRoles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_staff_roles_assignment")
                    .table(StaffRoles::Table)
                    .col(StaffRoles::CommunityId)
                    .col(StaffRoles::UserId)
                    .col(StaffRoles::Role)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_staff_roles_user")
                    .table(StaffRoles::Table)
                    .col(StaffRoles::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(id(RefreshTokens::Id))
                    .col(uuid_ref(RefreshTokens::FamilyId))
                    .col(uuid_ref(RefreshTokens::UserId))
                    .col(text(RefreshTokens::TokenHash, 64))
                    .col(time(RefreshTokens::CreatedAt))
                    .col(time(RefreshTokens::ExpiresAt))
                    .col(time_null(RefreshTokens::RotatedAt))
                    .col(time_null(RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_user")
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_refresh_tokens_hash")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refresh_tokens_user")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(
                        ColumnDef::new(RateLimits::Key)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(time(RateLimits::WindowStart))
                    .col(ColumnDef::new(RateLimits::Count).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RateLimits::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            StaffRoles::Table.into_iden(),
            OperatorAdmins::Table.into_iden(),
            Users::Table.into_iden(),
            Communities::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
