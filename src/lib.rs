//! anjia (安家): the backend for community life services in residential
//! compounds. See README.md for the map; `routes.rs` lists every endpoint.

pub mod auth;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod community;
pub mod config;
pub mod courier;
pub mod db;
pub mod demo;
pub mod error;
pub mod files;
pub mod group_buys;
pub mod health;
pub mod http;
pub mod jobs;
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
pub mod startup;
pub mod state;
pub mod structure;
pub mod telemetry;
pub mod text;
pub mod user;
pub mod wechat;
