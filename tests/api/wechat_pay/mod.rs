//! WeChat Pay API v3 against a fake on loopback that signs with a test RSA
//! key and encrypts with AES-256-GCM exactly like the real one
//! (`support::fakes::wechat_pay`): orders paid and reconciled, refunds, fee
//! bills, payouts by transfer, and the daily bills; every forgery refused
//! with nothing changed.

mod bills;
mod fee_bills;
mod orders;
mod payouts;
mod refunds;

use entity::{OrderStatus, journal_entry, order};
use sea_orm::EntityTrait;

use crate::support::TestApp;

/// How many journal entries the ledger holds.
async fn entries(app: &TestApp) -> usize {
    journal_entry::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

/// The order's status now.
async fn status_of(app: &TestApp, o: &order::Model) -> OrderStatus {
    order::Entity::find_by_id(o.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status
}
