//! Group buys (社区团购) and orders: items with their own stock, per-household
//! quotas, orders with snapshot lines and an event log, and refunds recorded
//! through the payment port.

use sea_orm_migration::prelude::*;

use crate::columns::{
    cascade, id, long_text, text, text_null, time, time_null, uuid_null, uuid_ref,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GroupBuys {
    Table,
    Id,
    CommunityId,
    MerchantId,
    OrganiserKind,
    CreatedBy,
    Title,
    Description,
    MinHouseholds,
    StartsAt,
    Deadline,
    PickupStartsAt,
    PickupEndsAt,
    DoorDelivery,
    Status,
    StatusReason,
    SucceededAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupBuyItems {
    Table,
    Id,
    GroupBuyId,
    ProductId,
    Title,
    Unit,
    Price,
    OriginalPrice,
    Stock,
    InitialStock,
    PerHouseholdLimit,
    SortOrder,
}

#[derive(DeriveIden)]
enum GroupBuyPickupPoints {
    Table,
    GroupBuyId,
    PickupPointId,
}

#[derive(DeriveIden)]
enum GroupBuyQuotas {
    Table,
    ItemId,
    HouseholdId,
    Quantity,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    OrderNo,
    CommunityId,
    MerchantId,
    GroupBuyId,
    UserId,
    HouseholdId,
    Status,
    Amount,
    PaymentMethod,
    PaidAt,
    PaymentDeadline,
    Fulfilment,
    PickupPointId,
    PickupSlotId,
    PickupRemindedAt,
    SlotRemindedAt,
    Address,
    AddressRemark,
    DeliveryTime,
    CourierId,
    ProcessedAt,
    ProcessedBy,
    StatusReason,
    Intro,
    ClientIp,
    UserAgent,
    ClientKind,
    IdempotencyKey,
    RequestHash,
    FulfilledAt,
    ConfirmedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    OrderId,
    ProductId,
    GroupBuyItemId,
    Title,
    Unit,
    UnitPrice,
    Quantity,
    Amount,
}

#[derive(DeriveIden)]
enum OrderEvents {
    Table,
    Id,
    OrderId,
    ActorId,
    ActorRole,
    FromStatus,
    ToStatus,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrderId,
    Amount,
    Reason,
    IdempotencyKey,
    Provider,
    Status,
    CreatedAt,
    CompletedAt,
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
}

#[derive(DeriveIden)]
enum PickupPoints {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Households {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn money(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}

fn index(
    name: &str,
    table: impl IntoIden,
    cols: impl IntoIterator<Item = DynIden>,
) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for col in cols {
        index.col(col);
    }
    index
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GroupBuys::Table)
                    .col(id(GroupBuys::Id))
                    .col(uuid_ref(GroupBuys::CommunityId))
                    .col(uuid_null(GroupBuys::MerchantId))
                    .col(text(GroupBuys::OrganiserKind, 16))
                    .col(uuid_ref(GroupBuys::CreatedBy))
                    .col(text(GroupBuys::Title, 60))
                    .col(long_text(GroupBuys::Description))
                    .col(
                        ColumnDef::new(GroupBuys::MinHouseholds)
                            .integer()
                            .not_null(),
                    )
                    .col(time(GroupBuys::StartsAt))
                    .col(time(GroupBuys::Deadline))
                    .col(time_null(GroupBuys::PickupStartsAt))
                    .col(time_null(GroupBuys::PickupEndsAt))
                    .col(ColumnDef::new(GroupBuys::DoorDelivery).boolean().not_null())
                    .col(text(GroupBuys::Status, 16))
                    .col(text_null(GroupBuys::StatusReason, 200))
                    .col(time_null(GroupBuys::SucceededAt))
                    .col(time(GroupBuys::CreatedAt))
                    .col(time(GroupBuys::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_group_buys_community",
                        (GroupBuys::Table, GroupBuys::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_group_buys_merchant",
                        (GroupBuys::Table, GroupBuys::MerchantId),
                        (Merchants::Table, Merchants::Id),
                    ))
                    .check(Expr::col(GroupBuys::MinHouseholds).gte(1))
                    .to_owned(),
            )
            .await?;
        // Residents' list, and the deadline sweep.
        manager
            .create_index(index(
                "ix_group_buys_community",
                GroupBuys::Table,
                [
                    GroupBuys::CommunityId.into_iden(),
                    GroupBuys::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_group_buys_status_deadline",
                GroupBuys::Table,
                [
                    GroupBuys::Status.into_iden(),
                    GroupBuys::Deadline.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_group_buys_merchant",
                GroupBuys::Table,
                [GroupBuys::MerchantId.into_iden(), GroupBuys::Id.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupBuyItems::Table)
                    .col(id(GroupBuyItems::Id))
                    .col(uuid_ref(GroupBuyItems::GroupBuyId))
                    .col(uuid_null(GroupBuyItems::ProductId))
                    .col(text(GroupBuyItems::Title, 60))
                    .col(text(GroupBuyItems::Unit, 16))
                    .col(money(GroupBuyItems::Price))
                    .col(
                        ColumnDef::new(GroupBuyItems::OriginalPrice)
                            .big_integer()
                            .null(),
                    )
                    .col(money(GroupBuyItems::Stock))
                    .col(money(GroupBuyItems::InitialStock))
                    .col(
                        ColumnDef::new(GroupBuyItems::PerHouseholdLimit)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(GroupBuyItems::SortOrder)
                            .integer()
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        "fk_group_buy_items_group_buy",
                        (GroupBuyItems::Table, GroupBuyItems::GroupBuyId),
                        (GroupBuys::Table, GroupBuys::Id),
                    ))
                    // The guard of last resort against overselling.
                    .check(Expr::col(GroupBuyItems::Stock).gte(0))
                    .check(Expr::col(GroupBuyItems::Price).gte(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_group_buy_items_group_buy",
                GroupBuyItems::Table,
                [GroupBuyItems::GroupBuyId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupBuyPickupPoints::Table)
                    .col(uuid_ref(GroupBuyPickupPoints::GroupBuyId))
                    .col(uuid_ref(GroupBuyPickupPoints::PickupPointId))
                    .primary_key(
                        Index::create()
                            .col(GroupBuyPickupPoints::GroupBuyId)
                            .col(GroupBuyPickupPoints::PickupPointId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_group_buy_pickup_points_group_buy",
                        (
                            GroupBuyPickupPoints::Table,
                            GroupBuyPickupPoints::GroupBuyId,
                        ),
                        (GroupBuys::Table, GroupBuys::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_group_buy_pickup_points_point",
                        (
                            GroupBuyPickupPoints::Table,
                            GroupBuyPickupPoints::PickupPointId,
                        ),
                        (PickupPoints::Table, PickupPoints::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        // How much of an item each household holds (for the per-household
        // limit): raised with a guarded upsert, lowered when an order lets go.
        manager
            .create_table(
                Table::create()
                    .table(GroupBuyQuotas::Table)
                    .col(uuid_ref(GroupBuyQuotas::ItemId))
                    .col(uuid_ref(GroupBuyQuotas::HouseholdId))
                    .col(money(GroupBuyQuotas::Quantity))
                    .primary_key(
                        Index::create()
                            .col(GroupBuyQuotas::ItemId)
                            .col(GroupBuyQuotas::HouseholdId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_group_buy_quotas_item",
                        (GroupBuyQuotas::Table, GroupBuyQuotas::ItemId),
                        (GroupBuyItems::Table, GroupBuyItems::Id),
                    ))
                    .check(Expr::col(GroupBuyQuotas::Quantity).gte(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(id(Orders::Id))
                    .col(text(Orders::OrderNo, 32))
                    .col(uuid_ref(Orders::CommunityId))
                    .col(uuid_null(Orders::MerchantId))
                    .col(uuid_null(Orders::GroupBuyId))
                    .col(uuid_ref(Orders::UserId))
                    .col(uuid_ref(Orders::HouseholdId))
                    .col(text(Orders::Status, 24))
                    .col(money(Orders::Amount))
                    .col(text_null(Orders::PaymentMethod, 16))
                    .col(time_null(Orders::PaidAt))
                    .col(time(Orders::PaymentDeadline))
                    .col(text(Orders::Fulfilment, 16))
                    .col(uuid_null(Orders::PickupPointId))
                    .col(uuid_null(Orders::PickupSlotId))
                    .col(time_null(Orders::PickupRemindedAt))
                    .col(time_null(Orders::SlotRemindedAt))
                    .col(text(Orders::Address, 200))
                    .col(text_null(Orders::AddressRemark, 200))
                    .col(time_null(Orders::DeliveryTime))
                    .col(uuid_null(Orders::CourierId))
                    .col(time_null(Orders::ProcessedAt))
                    .col(uuid_null(Orders::ProcessedBy))
                    .col(text_null(Orders::StatusReason, 200))
                    .col(text_null(Orders::Intro, 100))
                    .col(text(Orders::ClientIp, 64))
                    .col(text(Orders::UserAgent, 256))
                    .col(text(Orders::ClientKind, 16))
                    .col(text_null(Orders::IdempotencyKey, 64))
                    .col(text_null(Orders::RequestHash, 64))
                    .col(time_null(Orders::FulfilledAt))
                    .col(time_null(Orders::ConfirmedAt))
                    .col(time(Orders::CreatedAt))
                    .col(time(Orders::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_orders_community",
                        (Orders::Table, Orders::CommunityId),
                        (Communities::Table, Communities::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orders_group_buy")
                            .from(Orders::Table, Orders::GroupBuyId)
                            .to(GroupBuys::Table, GroupBuys::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orders_household")
                            .from(Orders::Table, Orders::HouseholdId)
                            .to(Households::Table, Households::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orders_user")
                            .from(Orders::Table, Orders::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .check(Expr::col(Orders::Amount).gte(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_orders_order_no",
                    Orders::Table,
                    [Orders::OrderNo.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        // A retried submit finds the order its key made.
        manager
            .create_index(
                index(
                    "uq_orders_idempotency_key",
                    Orders::Table,
                    [
                        Orders::UserId.into_iden(),
                        Orders::IdempotencyKey.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_orders_user",
                [Orders::UserId.into_iden(), Orders::Id.into_iden()],
            ),
            (
                "ix_orders_community",
                [Orders::CommunityId.into_iden(), Orders::Id.into_iden()],
            ),
            (
                "ix_orders_merchant",
                [Orders::MerchantId.into_iden(), Orders::Id.into_iden()],
            ),
            (
                "ix_orders_group_buy",
                [Orders::GroupBuyId.into_iden(), Orders::Status.into_iden()],
            ),
            (
                "ix_orders_status_deadline",
                [
                    Orders::Status.into_iden(),
                    Orders::PaymentDeadline.into_iden(),
                ],
            ),
        ] {
            manager
                .create_index(index(name, Orders::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OrderLines::Table)
                    .col(id(OrderLines::Id))
                    .col(uuid_ref(OrderLines::OrderId))
                    .col(uuid_null(OrderLines::ProductId))
                    .col(uuid_null(OrderLines::GroupBuyItemId))
                    .col(text(OrderLines::Title, 60))
                    .col(text(OrderLines::Unit, 16))
                    .col(money(OrderLines::UnitPrice))
                    .col(ColumnDef::new(OrderLines::Quantity).integer().not_null())
                    .col(money(OrderLines::Amount))
                    .foreign_key(&mut cascade(
                        "fk_order_lines_order",
                        (OrderLines::Table, OrderLines::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .check(Expr::col(OrderLines::Quantity).gte(1))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_order_lines_order",
                OrderLines::Table,
                [OrderLines::OrderId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderEvents::Table)
                    .col(id(OrderEvents::Id))
                    .col(uuid_ref(OrderEvents::OrderId))
                    .col(uuid_null(OrderEvents::ActorId))
                    .col(text(OrderEvents::ActorRole, 16))
                    .col(text_null(OrderEvents::FromStatus, 24))
                    .col(text(OrderEvents::ToStatus, 24))
                    .col(text_null(OrderEvents::Reason, 200))
                    .col(time(OrderEvents::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_order_events_order",
                        (OrderEvents::Table, OrderEvents::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_order_events_order",
                OrderEvents::Table,
                [
                    OrderEvents::OrderId.into_iden(),
                    OrderEvents::Id.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(id(Refunds::Id))
                    .col(uuid_ref(Refunds::OrderId))
                    .col(money(Refunds::Amount))
                    .col(text(Refunds::Reason, 200))
                    .col(text(Refunds::IdempotencyKey, 64))
                    .col(text(Refunds::Provider, 16))
                    .col(text(Refunds::Status, 16))
                    .col(time(Refunds::CreatedAt))
                    .col(time_null(Refunds::CompletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refunds_order")
                            .from(Refunds::Table, Refunds::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .check(Expr::col(Refunds::Amount).gt(0))
                    .to_owned(),
            )
            .await?;
        // One refund per decision, however often the decision is replayed.
        manager
            .create_index(
                index(
                    "uq_refunds_idempotency_key",
                    Refunds::Table,
                    [Refunds::IdempotencyKey.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_refunds_order",
                Refunds::Table,
                [Refunds::OrderId.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Refunds::Table.into_iden(),
            OrderEvents::Table.into_iden(),
            OrderLines::Table.into_iden(),
            Orders::Table.into_iden(),
            GroupBuyQuotas::Table.into_iden(),
            GroupBuyPickupPoints::Table.into_iden(),
            GroupBuyItems::Table.into_iden(),
            GroupBuys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
