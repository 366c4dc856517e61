//! What the tests share: the server on a random port with a database of its
//! own ([`server`]), the fakes of the services it calls, the worlds tests
//! start from ([`fixtures`]), calls to the API ([`api`]), the jobs and the
//! outbox as tests drive and read them, and the `anjia` command.

pub mod api;
pub mod cli;
pub mod fakes;
pub mod fixtures;
pub mod jobs;
pub mod outbox;
pub mod server;

pub use server::{
    Session, TestApp, TestDb, assert_error, config_dir, migrations_after, spawn_app, spawn_app_on,
    spawn_app_with, status_and_json, test_settings,
};
