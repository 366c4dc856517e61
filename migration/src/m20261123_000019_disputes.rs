//! Disputes (售后纠纷): a resident objects to an order; the merchant
//! answers; customer service decides when they cannot agree. One dispute
//! per order; every step is kept in `dispute_events`, with its photos.

use sea_orm_migration::prelude::*;

use crate::columns::{cascade, id, index, text, text_null, time, time_null, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Disputes {
    Table,
    Id,
    CommunityId,
    OrderId,
    MerchantId,
    HouseholdId,
    OpenedBy,
    Status,
    Reason,
    RequestedRefund,
    RefundTo,
    ProposedRefund,
    RefundAmount,
    EscalatedAt,
    ResolvedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DisputeEvents {
    Table,
    Id,
    DisputeId,
    ActorId,
    ActorRole,
    Action,
    Amount,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DisputePhotos {
    Table,
    Id,
    DisputeId,
    EventId,
    FileId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let money = |c: Disputes| ColumnDef::new(c).big_integer().not_null().take();
        let money_null = |c: Disputes| ColumnDef::new(c).big_integer().null().take();
        manager
            .create_table(
                Table::create()
                    .table(Disputes::Table)
                    .col(id(Disputes::Id))
                    .col(uuid_ref(Disputes::CommunityId))
                    .col(uuid_ref(Disputes::OrderId))
                    .col(uuid_null(Disputes::MerchantId))
                    .col(uuid_ref(Disputes::HouseholdId))
                    .col(uuid_ref(Disputes::OpenedBy))
                    .col(text(Disputes::Status, 24))
                    .col(text(Disputes::Reason, 500))
                    .col(money(Disputes::RequestedRefund))
                    .col(text(Disputes::RefundTo, 16))
                    .col(money_null(Disputes::ProposedRefund))
                    .col(money_null(Disputes::RefundAmount))
                    .col(time_null(Disputes::EscalatedAt))
                    .col(time_null(Disputes::ResolvedAt))
                    .col(time(Disputes::CreatedAt))
                    .col(time(Disputes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_disputes_order")
                            .from(Disputes::Table, Disputes::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .check(Expr::col(Disputes::RequestedRefund).gt(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_disputes_order",
                    Disputes::Table,
                    [Disputes::OrderId.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_disputes_community", Disputes::CommunityId),
            ("ix_disputes_merchant", Disputes::MerchantId),
            ("ix_disputes_household", Disputes::HouseholdId),
        ] {
            manager
                .create_index(index(
                    name,
                    Disputes::Table,
                    [col.into_iden(), Disputes::Id.into_iden()],
                ))
                .await?;
        }
        // The escalation sweep: live disputes by their last step.
        manager
            .create_index(index(
                "ix_disputes_status_updated",
                Disputes::Table,
                [
                    Disputes::Status.into_iden(),
                    Disputes::UpdatedAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisputeEvents::Table)
                    .col(id(DisputeEvents::Id))
                    .col(uuid_ref(DisputeEvents::DisputeId))
                    .col(uuid_null(DisputeEvents::ActorId))
                    .col(text(DisputeEvents::ActorRole, 16))
                    .col(text(DisputeEvents::Action, 24))
                    .col(ColumnDef::new(DisputeEvents::Amount).big_integer().null())
                    .col(text_null(DisputeEvents::Note, 500))
                    .col(time(DisputeEvents::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_dispute_events_dispute",
                        (DisputeEvents::Table, DisputeEvents::DisputeId),
                        (Disputes::Table, Disputes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_dispute_events_dispute",
                DisputeEvents::Table,
                [
                    DisputeEvents::DisputeId.into_iden(),
                    DisputeEvents::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisputePhotos::Table)
                    .col(id(DisputePhotos::Id))
                    .col(uuid_ref(DisputePhotos::DisputeId))
                    .col(uuid_ref(DisputePhotos::EventId))
                    .col(uuid_ref(DisputePhotos::FileId))
                    .col(time(DisputePhotos::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_dispute_photos_dispute",
                        (DisputePhotos::Table, DisputePhotos::DisputeId),
                        (Disputes::Table, Disputes::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_dispute_photos_file")
                            .from(DisputePhotos::Table, DisputePhotos::FileId)
                            .to(Files::Table, Files::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_dispute_photos_dispute",
                DisputePhotos::Table,
                [DisputePhotos::DisputeId.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DisputePhotos::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DisputeEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Disputes::Table).to_owned())
            .await
    }
}
