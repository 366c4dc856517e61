//! Database migrations for anjia.
//!
//! Migrations are written against identifiers declared inside each migration
//! (never against `entity` types), so an entity can change without breaking
//! history. A migration that has landed is never edited: add a new one.

pub use sea_orm_migration::migrator::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_core;
mod m20261123_000002_community_structure;
mod m20261123_000003_residents;
mod m20261123_000004_merchants;
mod m20261123_000005_couriers;
mod m20261123_000006_pii_access_log;
mod m20261123_000007_files;
mod m20261123_000008_company_staff;
mod m20261123_000009_wechat;
mod m20261123_000010_catalog;
mod m20261123_000011_group_buys_orders;
mod m20261123_000012_pickup;
mod m20261123_000013_product_images;
mod m20261123_000014_product_search;
mod m20261123_000015_ledger;
mod m20261123_000016_settlement;
mod m20261123_000017_withdrawals;
mod m20261123_000018_payment_reconciliation;
mod m20261123_000019_disputes;
mod m20261123_000020_fee_bills;
mod m20261123_000021_withdrawal_transfers;
mod m20261123_000022_settlement_queue;
mod m20261123_000023_fee_bill_void;
mod m20261123_000024_merchant_money_per_community;
mod m20261123_000025_pay_bills;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_core::Migration),
            Box::new(m20261123_000002_community_structure::Migration),
            Box::new(m20261123_000003_residents::Migration),
            Box::new(m20261123_000004_merchants::Migration),
            Box::new(m20261123_000005_couriers::Migration),
            Box::new(m20261123_000006_pii_access_log::Migration),
            Box::new(m20261123_000007_files::Migration),
            Box::new(m20261123_000008_company_staff::Migration),
            Box::new(m20261123_000009_wechat::Migration),
            Box::new(m20261123_000010_catalog::Migration),
            Box::new(m20261123_000011_group_buys_orders::Migration),
            Box::new(m20261123_000012_pickup::Migration),
            Box::new(m20261123_000013_product_images::Migration),
            Box::new(m20261123_000014_product_search::Migration),
            Box::new(m20261123_000015_ledger::Migration),
            Box::new(m20261123_000016_settlement::Migration),
            Box::new(m20261123_000017_withdrawals::Migration),
            Box::new(m20261123_000018_payment_reconciliation::Migration),
            Box::new(m20261123_000019_disputes::Migration),
            Box::new(m20261123_000020_fee_bills::Migration),
            Box::new(m20261123_000021_withdrawal_transfers::Migration),
            Box::new(m20261123_000022_settlement_queue::Migration),
            Box::new(m20261123_000023_fee_bill_void::Migration),
            Box::new(m20261123_000024_merchant_money_per_community::Migration),
            Box::new(m20261123_000025_pay_bills::Migration),
        ]
    }
}
