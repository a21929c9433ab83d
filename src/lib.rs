//! # topup
//!
//! A daemon that runs a prepaid-balance top-up desk by email and chat:
//! customers request a top-up and send their transfer slip, staff approve or
//! reject it, the balance is credited exactly once, and every status change
//! is announced by email (with a PDF receipt when paid).
//!
//! # Layout
//!
//! - [`domain`]: pure types with no I/O: money, order numbers, the order
//!   lifecycle table ([`domain::order::transition`]).
//! - [`intake`]: understanding a message (email or chat) as a pure function
//!   `extract(message) -> Extraction`.
//! - [`desk`]: the use cases (request, submit slip, decide, amend, cancel,
//!   expire); each is one database transaction that writes the order, its
//!   event row, ledger row and outbox rows.
//! - [`store`]: the SQLite / PostgreSQL store (one portable SQL dialect on
//!   `sqlx::AnyPool`), migrations, slip files.
//! - [`sources`]: inbound adapters (Maildir, IMAP) that feed the desk.
//! - [`outbox`]: delivery of outbox rows (email, chat) with retries.
//! - [`render`]: Markdown email templates and PDF receipts.
//! - [`slip`]: reading transfer slips (OCR, PDF text) and the checks shown to staff.
//! - [`web`]: the status page, staff board, JSON API, health and metrics.
//! - [`discord`]: review cards and interactions over serenity.
//! - [`config`], [`app`], [`cli`], [`supervisor`], [`clock`]: wiring;
//!   [`demo`]: `topup demo`, a ready-made desk for a first look.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod desk;
pub mod discord;
pub mod domain;
pub mod intake;
pub mod outbox;
pub mod render;
pub mod slip;
pub mod sources;
pub mod statement;
pub mod store;
pub mod supervisor;
pub mod web;

/// The git commit this binary was built from (`unknown` outside a git
/// checkout), for `topup --version` readers and the `topup_build_info` metric.
pub const BUILD_COMMIT: &str = match option_env!("TOPUP_BUILD_COMMIT") {
    Some(c) => c,
    None => "unknown",
};
