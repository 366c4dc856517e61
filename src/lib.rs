//! anjia (安家): the backend for community life services in residential
//! compounds. See README.md for the map; `routes.rs` lists every endpoint.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod community;
pub mod config;
pub mod courier;
pub mod demo;
pub mod disputes;
pub mod fees;
pub mod files;
pub mod flows;
pub mod group_buys;
pub mod health;
pub mod jobs;
pub mod kernel;
pub mod ledger;
pub mod merchant;
pub mod openapi;
pub mod orders;
pub mod outbox;
pub mod payment;
pub mod pickup;
pub mod pii;
pub mod privacy;
pub mod rate_limit;
pub mod resident;
pub mod routes;
pub mod settlement;
pub mod startup;
pub mod state;
pub mod structure;
pub mod telemetry;
pub mod user;
pub mod wechat;
