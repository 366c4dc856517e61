//! sea-orm entities for anjia, plus the domain id newtypes and the enums the
//! database stores. Request and response bodies live in the server crate:
//! these models are the storage shape, not the API contract.

#[macro_use]
mod string_enum;

pub mod ids;
pub mod ledger_kinds;
pub mod money;
pub mod roles;
pub mod states;

pub mod building;
pub mod category;
pub mod community;
pub mod courier;
pub mod delivery_company;
pub mod delivery_company_staff;
pub mod dispute;
pub mod dispute_event;
pub mod dispute_photo;
pub mod fee_bill;
pub mod fee_payment;
pub mod file;
pub mod gate;
pub mod group_buy;
pub mod group_buy_item;
pub mod group_buy_pickup_point;
pub mod group_buy_quota;
pub mod household;
pub mod household_claim;
pub mod household_invite;
pub mod household_member;
pub mod journal_entry;
pub mod journal_line;
pub mod ledger_account;
pub mod merchant;
pub mod merchant_approval;
pub mod merchant_document;
pub mod merchant_staff;
pub mod merchant_visit;
pub mod merchant_visit_photo;
pub mod operator_admin;
pub mod order;
pub mod order_event;
pub mod order_line;
pub mod order_settlement;
pub mod outbox_message;
pub mod owner_record;
pub mod pay_bill;
pub mod pay_bill_line;
pub mod pickup_code;
pub mod pickup_note;
pub mod pickup_point;
pub mod pickup_slot;
pub mod pii_access;
pub mod product;
pub mod product_image;
pub mod product_search_term;
pub mod refresh_token;
pub mod refund;
pub mod sandbox_message;
pub mod settlement_queue;
pub mod staff_role;
pub mod unit;
pub mod user;
pub mod wechat_follower;
pub mod wechat_identity;
pub mod wechat_qr_code;
pub mod withdrawal;
pub mod withdrawal_allocation;

pub use ids::*;
pub use ledger_kinds::{JournalKind, LedgerAccountKind};
pub use money::{Balance, Fen, FenOutOfRange, MAX_FEN};
pub use roles::*;
pub use states::*;
