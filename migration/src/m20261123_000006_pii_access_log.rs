//! Every time a staff member sees a full personal value (a phone or ID
//! number): who, whose, what, why, when.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PiiAccessLog {
    Table,
    Id,
    CommunityId,
    AccessedBy,
    SubjectKind,
    SubjectId,
    Field,
    Purpose,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PiiAccessLog::Table)
                    .col(
                        ColumnDef::new(PiiAccessLog::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PiiAccessLog::CommunityId).uuid().not_null())
                    .col(ColumnDef::new(PiiAccessLog::AccessedBy).uuid().not_null())
                    .col(
                        ColumnDef::new(PiiAccessLog::SubjectKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PiiAccessLog::SubjectId).uuid().not_null())
                    .col(
                        ColumnDef::new(PiiAccessLog::Field)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PiiAccessLog::Purpose)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PiiAccessLog::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_pii_access_log_community")
                    .table(PiiAccessLog::Table)
                    .col(PiiAccessLog::CommunityId)
                    .col(PiiAccessLog::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PiiAccessLog::Table).to_owned())
            .await
    }
}
