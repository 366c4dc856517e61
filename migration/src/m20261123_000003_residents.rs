//! Residents: who belongs to which household (owner 业主, family member
//! 家庭成员, tenant 租户), the claims by which they ask to, and the owners'
//! invitations to family members.

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
enum Households {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum HouseholdMembers {
    Table,
    Id,
    CommunityId,
    HouseholdId,
    UserId,
    Role,
    TenantUntil,
    VerifiedVia,
    VerifiedBy,
    CreatedAt,
    RemovedAt,
    RemovedBy,
}

#[derive(DeriveIden)]
enum HouseholdClaims {
    Table,
    Id,
    CommunityId,
    HouseholdId,
    UserId,
    ClaimantName,
    Role,
    TenantUntil,
    Note,
    Status,
    Reason,
    DecidedBy,
    DecidedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HouseholdInvites {
    Table,
    Id,
    CommunityId,
    HouseholdId,
    CodeHash,
    CreatedBy,
    ExpiresAt,
    UsedAt,
    UsedBy,
    RevokedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HouseholdMembers::Table)
                    .col(id(HouseholdMembers::Id))
                    .col(uuid_ref(HouseholdMembers::CommunityId))
                    .col(uuid_ref(HouseholdMembers::HouseholdId))
                    .col(uuid_ref(HouseholdMembers::UserId))
                    .col(text(HouseholdMembers::Role, 16))
                    .col(time_null(HouseholdMembers::TenantUntil))
                    .col(text(HouseholdMembers::VerifiedVia, 16))
                    .col(uuid_null(HouseholdMembers::VerifiedBy))
                    .col(time(HouseholdMembers::CreatedAt))
                    .col(time_null(HouseholdMembers::RemovedAt))
                    .col(uuid_null(HouseholdMembers::RemovedBy))
                    .foreign_key(&mut cascade(
                        "fk_household_members_household",
                        (HouseholdMembers::Table, HouseholdMembers::HouseholdId),
                        (Households::Table, Households::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_household_members_user",
                        (HouseholdMembers::Table, HouseholdMembers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_household_members_user")
                    .table(HouseholdMembers::Table)
                    .col(HouseholdMembers::HouseholdId)
                    .col(HouseholdMembers::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_household_members_user")
                    .table(HouseholdMembers::Table)
                    .col(HouseholdMembers::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HouseholdClaims::Table)
                    .col(id(HouseholdClaims::Id))
                    .col(uuid_ref(HouseholdClaims::CommunityId))
                    .col(uuid_ref(HouseholdClaims::HouseholdId))
                    .col(uuid_ref(HouseholdClaims::UserId))
                    .col(text(HouseholdClaims::ClaimantName, 64))
                    .col(text(HouseholdClaims::Role, 16))
                    .col(time_null(HouseholdClaims::TenantUntil))
                    .col(ColumnDef::new(HouseholdClaims::Note).string_len(200).null())
                    .col(text(HouseholdClaims::Status, 16))
                    .col(
                        ColumnDef::new(HouseholdClaims::Reason)
                            .string_len(200)
                            .null(),
                    )
                    .col(uuid_null(HouseholdClaims::DecidedBy))
                    .col(time_null(HouseholdClaims::DecidedAt))
                    .col(time(HouseholdClaims::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_household_claims_household",
                        (HouseholdClaims::Table, HouseholdClaims::HouseholdId),
                        (Households::Table, Households::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_household_claims_user",
                        (HouseholdClaims::Table, HouseholdClaims::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One pending claim per user and household, even under concurrency.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_household_claims_pending \
                 ON household_claims (household_id, user_id) WHERE status = 'pending'",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_household_claims_status")
                    .table(HouseholdClaims::Table)
                    .col(HouseholdClaims::CommunityId)
                    .col(HouseholdClaims::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HouseholdInvites::Table)
                    .col(id(HouseholdInvites::Id))
                    .col(uuid_ref(HouseholdInvites::CommunityId))
                    .col(uuid_ref(HouseholdInvites::HouseholdId))
                    .col(text(HouseholdInvites::CodeHash, 64))
                    .col(uuid_ref(HouseholdInvites::CreatedBy))
                    .col(time(HouseholdInvites::ExpiresAt))
                    .col(time_null(HouseholdInvites::UsedAt))
                    .col(uuid_null(HouseholdInvites::UsedBy))
                    .col(time_null(HouseholdInvites::RevokedAt))
                    .col(time(HouseholdInvites::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_household_invites_household",
                        (HouseholdInvites::Table, HouseholdInvites::HouseholdId),
                        (Households::Table, Households::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_household_invites_code")
                    .table(HouseholdInvites::Table)
                    .col(HouseholdInvites::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            HouseholdInvites::Table.into_iden(),
            HouseholdClaims::Table.into_iden(),
            HouseholdMembers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
