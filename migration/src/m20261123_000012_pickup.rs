//! Pickup (取货点): bookable slots, pickup codes (the resident's and a
//! named collector's) and each point's message board.

use sea_orm_migration::prelude::*;

use crate::columns::{cascade, id, text, time, time_null, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PickupSlots {
    Table,
    Id,
    PickupPointId,
    StartsAt,
    EndsAt,
    Capacity,
    Booked,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PickupCodes {
    Table,
    Id,
    OrderId,
    PickupPointId,
    HolderId,
    Delegated,
    CodeHash,
    CodeEnc,
    Status,
    UsedAt,
    UsedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PickupNotes {
    Table,
    Id,
    PickupPointId,
    AuthorId,
    Body,
    CreatedAt,
    RemovedAt,
    RemovedBy,
}

#[derive(DeriveIden)]
enum PickupPoints {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PickupSlots::Table)
                    .col(id(PickupSlots::Id))
                    .col(uuid_ref(PickupSlots::PickupPointId))
                    .col(time(PickupSlots::StartsAt))
                    .col(time(PickupSlots::EndsAt))
                    .col(ColumnDef::new(PickupSlots::Capacity).integer().not_null())
                    .col(ColumnDef::new(PickupSlots::Booked).integer().not_null())
                    .col(time(PickupSlots::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_pickup_slots_point",
                        (PickupSlots::Table, PickupSlots::PickupPointId),
                        (PickupPoints::Table, PickupPoints::Id),
                    ))
                    // Booking is a guarded update; this is the last resort.
                    .check(
                        Expr::col(PickupSlots::Booked).gte(0).and(
                            Expr::col(PickupSlots::Booked).lte(Expr::col(PickupSlots::Capacity)),
                        ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_pickup_slots_point_start")
                    .table(PickupSlots::Table)
                    .col(PickupSlots::PickupPointId)
                    .col(PickupSlots::StartsAt)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PickupCodes::Table)
                    .col(id(PickupCodes::Id))
                    .col(uuid_ref(PickupCodes::OrderId))
                    .col(uuid_ref(PickupCodes::PickupPointId))
                    .col(uuid_ref(PickupCodes::HolderId))
                    .col(ColumnDef::new(PickupCodes::Delegated).boolean().not_null())
                    .col(text(PickupCodes::CodeHash, 64))
                    .col(text(PickupCodes::CodeEnc, 128))
                    .col(text(PickupCodes::Status, 16))
                    .col(time_null(PickupCodes::UsedAt))
                    .col(uuid_null(PickupCodes::UsedBy))
                    .col(time(PickupCodes::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_pickup_codes_order",
                        (PickupCodes::Table, PickupCodes::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Staff type a code at their point: looked up by its keyed hash.
        manager
            .create_index(
                Index::create()
                    .name("ix_pickup_codes_lookup")
                    .table(PickupCodes::Table)
                    .col(PickupCodes::PickupPointId)
                    .col(PickupCodes::CodeHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_pickup_codes_order")
                    .table(PickupCodes::Table)
                    .col(PickupCodes::OrderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PickupNotes::Table)
                    .col(id(PickupNotes::Id))
                    .col(uuid_ref(PickupNotes::PickupPointId))
                    .col(uuid_ref(PickupNotes::AuthorId))
                    .col(text(PickupNotes::Body, 200))
                    .col(time(PickupNotes::CreatedAt))
                    .col(time_null(PickupNotes::RemovedAt))
                    .col(uuid_null(PickupNotes::RemovedBy))
                    .foreign_key(&mut cascade(
                        "fk_pickup_notes_point",
                        (PickupNotes::Table, PickupNotes::PickupPointId),
                        (PickupPoints::Table, PickupPoints::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_pickup_notes_point")
                    .table(PickupNotes::Table)
                    .col(PickupNotes::PickupPointId)
                    .col(PickupNotes::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PickupNotes::Table.into_iden(),
            PickupCodes::Table.into_iden(),
            PickupSlots::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
