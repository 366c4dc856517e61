//! anjia's integration tests: one binary. Each test starts the real server on
//! a random port with a fresh database (a temporary SQLite file, or a fresh
//! PostgreSQL database when ANJIA_TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access_matrix;
mod auth;
mod backoffice;
mod catalog;
mod cli;
mod communities;
mod couriers;
mod disputes;
mod errors;
mod fees;
mod files;
mod group_buys;
mod house;
mod ledger;
mod merchant_money;
mod merchant_standing;
mod merchants;
mod migrations;
mod operations;
mod orders;
mod outbox;
mod privacy;
mod residents;
mod search;
mod settlement;
mod structure;
mod support;
mod wechat;
mod wechat_pay;
