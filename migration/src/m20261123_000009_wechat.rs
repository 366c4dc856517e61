//! The WeChat layer: who a WeChat user is (openids, unionids, followers),
//! shared credentials (access_token, jsapi_ticket) with a refresh lease,
//! callback de-duplication, the outbound message outbox, the sandbox inbox,
//! and parametric QR codes.

use sea_orm_migration::prelude::*;

use crate::columns::{
    cascade, id, long_text, long_text_null, text, text_null, time, time_null, uuid_null, uuid_ref,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WechatIdentities {
    Table,
    Id,
    UserId,
    AppId,
    Openid,
    Unionid,
    SessionKeyEnc,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WechatFollowers {
    Table,
    Id,
    AppId,
    Openid,
    Subscribed,
    Scene,
    InvitedBy,
    FirstSubscribedAt,
    UnsubscribedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WechatCallbackSeen {
    Table,
    Key,
    Reply,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum WechatCredentials {
    Table,
    Name,
    Value,
    ExpiresAt,
    LeaseUntil,
    RefreshedAt,
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    Id,
    Kind,
    Channel,
    UserId,
    AppId,
    Openid,
    Payload,
    Summary,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum SandboxMessages {
    Table,
    Id,
    OutboxId,
    UserId,
    Openid,
    Kind,
    Channel,
    Summary,
    Payload,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WechatQrCodes {
    Table,
    Id,
    Scene,
    Permanent,
    CommunityId,
    CreatedBy,
    Ticket,
    Url,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WechatIdentities::Table)
                    .col(id(WechatIdentities::Id))
                    .col(uuid_ref(WechatIdentities::UserId))
                    .col(text(WechatIdentities::AppId, 32))
                    .col(text(WechatIdentities::Openid, 64))
                    .col(text_null(WechatIdentities::Unionid, 64))
                    .col(long_text_null(WechatIdentities::SessionKeyEnc))
                    .col(time(WechatIdentities::CreatedAt))
                    .col(time(WechatIdentities::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_wechat_identities_user",
                        (WechatIdentities::Table, WechatIdentities::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_wechat_identities_openid")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::AppId)
                    .col(WechatIdentities::Openid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_identities_unionid")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::Unionid)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_identities_user")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatFollowers::Table)
                    .col(id(WechatFollowers::Id))
                    .col(text(WechatFollowers::AppId, 32))
                    .col(text(WechatFollowers::Openid, 64))
                    .col(
                        ColumnDef::new(WechatFollowers::Subscribed)
                            .boolean()
                            .not_null(),
                    )
                    .col(text_null(WechatFollowers::Scene, 64))
                    .col(uuid_null(WechatFollowers::InvitedBy))
                    .col(time(WechatFollowers::FirstSubscribedAt))
                    .col(time_null(WechatFollowers::UnsubscribedAt))
                    .col(time(WechatFollowers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_wechat_followers_openid")
                    .table(WechatFollowers::Table)
                    .col(WechatFollowers::AppId)
                    .col(WechatFollowers::Openid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_followers_invited_by")
                    .table(WechatFollowers::Table)
                    .col(WechatFollowers::InvitedBy)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatCallbackSeen::Table)
                    .col(
                        ColumnDef::new(WechatCallbackSeen::Key)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(long_text_null(WechatCallbackSeen::Reply))
                    .col(time(WechatCallbackSeen::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // Callback keys live minutes and protect only against WeChat's
        // retries: on PostgreSQL they skip the write-ahead log (a crash
        // empties the table, which at worst answers a retry twice).
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE wechat_callback_seen SET UNLOGGED")
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_callback_seen_expires")
                    .table(WechatCallbackSeen::Table)
                    .col(WechatCallbackSeen::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatCredentials::Table)
                    .col(
                        ColumnDef::new(WechatCredentials::Name)
                            .string_len(96)
                            .not_null()
                            .primary_key(),
                    )
                    .col(long_text_null(WechatCredentials::Value))
                    .col(time_null(WechatCredentials::ExpiresAt))
                    .col(time_null(WechatCredentials::LeaseUntil))
                    .col(time_null(WechatCredentials::RefreshedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(id(OutboxMessages::Id))
                    .col(text(OutboxMessages::Kind, 48))
                    .col(text(OutboxMessages::Channel, 16))
                    .col(uuid_null(OutboxMessages::UserId))
                    .col(text(OutboxMessages::AppId, 32))
                    .col(text_null(OutboxMessages::Openid, 64))
                    .col(long_text(OutboxMessages::Payload))
                    .col(long_text(OutboxMessages::Summary))
                    .col(text(OutboxMessages::Status, 16))
                    .col(
                        ColumnDef::new(OutboxMessages::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(time(OutboxMessages::NextAttemptAt))
                    .col(time_null(OutboxMessages::LockedUntil))
                    .col(long_text_null(OutboxMessages::LastError))
                    .col(time(OutboxMessages::CreatedAt))
                    .col(time(OutboxMessages::UpdatedAt))
                    .col(time_null(OutboxMessages::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_messages_due")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::Status)
                    .col(OutboxMessages::NextAttemptAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SandboxMessages::Table)
                    .col(id(SandboxMessages::Id))
                    .col(uuid_ref(SandboxMessages::OutboxId))
                    .col(uuid_null(SandboxMessages::UserId))
                    .col(text_null(SandboxMessages::Openid, 64))
                    .col(text(SandboxMessages::Kind, 48))
                    .col(text(SandboxMessages::Channel, 16))
                    .col(long_text(SandboxMessages::Summary))
                    .col(long_text(SandboxMessages::Payload))
                    .col(time(SandboxMessages::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sandbox_messages_outbox")
                    .table(SandboxMessages::Table)
                    .col(SandboxMessages::OutboxId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatQrCodes::Table)
                    .col(id(WechatQrCodes::Id))
                    .col(text(WechatQrCodes::Scene, 64))
                    .col(
                        ColumnDef::new(WechatQrCodes::Permanent)
                            .boolean()
                            .not_null(),
                    )
                    .col(uuid_null(WechatQrCodes::CommunityId))
                    .col(uuid_ref(WechatQrCodes::CreatedBy))
                    .col(long_text(WechatQrCodes::Ticket))
                    .col(long_text(WechatQrCodes::Url))
                    .col(time_null(WechatQrCodes::ExpiresAt))
                    .col(time(WechatQrCodes::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_qr_codes_scene")
                    .table(WechatQrCodes::Table)
                    .col(WechatQrCodes::Scene)
                    .col(WechatQrCodes::Permanent)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WechatQrCodes::Table.into_iden(),
            SandboxMessages::Table.into_iden(),
            OutboxMessages::Table.into_iden(),
            WechatCredentials::Table.into_iden(),
            WechatCallbackSeen::Table.into_iden(),
            WechatFollowers::Table.into_iden(),
            WechatIdentities::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
