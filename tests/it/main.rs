//! One integration binary for the core: lifecycle, inbound handling,
//! properties, the CLI and the config, on the store chosen by
//! `TOPUP_TEST_DB` (`sqlite`, the default, or `postgres`).

#[path = "../support/db.rs"]
mod db;

mod cli;
mod config;
mod helpers;
mod hostile;
mod inbound;
mod lifecycle;
mod outbox;
mod portal;
mod properties;
mod run;
