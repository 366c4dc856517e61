//! The kernel: what every layer above may use and which imports nothing of
//! the domain. Errors and their stable codes, the database helpers, text and
//! time, per-instance caches, the HTTP extractors, and the value types the
//! settings hold (keys, the menu, the redirect allowlist, local times), each
//! parsed when the settings are read.
//!
//! The layers above, each importing only those below it: settings
//! (`config/`); the services capabilities share (outbox, WeChat client,
//! files, the access guard); the capabilities; the flows that move several
//! capabilities at once; routes, jobs, startup and the command line.

pub mod cache;
pub mod clock;
pub mod db;
pub mod error;
pub mod http;
pub mod keys;
pub mod local_time;
pub mod menu;
pub mod money;
pub mod redirect;
pub mod text;
