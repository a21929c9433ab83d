//! The order store: one pool on SQLite (default) or PostgreSQL, picked by
//! the URL scheme, and one portable SQL dialect (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`) run through `sqlx::Any`, so the same queries
//! and the same test suite cover both backends.
//!
//! Invariants kept here:
//! - Write transactions on SQLite begin `IMMEDIATE` (a deferred transaction
//!   that reads then writes fails at once on a busy database instead of
//!   waiting for the busy timeout).
//! - Money is `i64` minor units, times are `i64` Unix milliseconds.
//!
//! One file per group of tables: [`accounts`] (accounts, users, staff),
//! [`orders`] (orders, events, ledger, thread ids), [`inbound`] (inbound
//! messages and slips), [`outbox`], [`rate`] (rate-limit events), [`slip_reads`] (what
//! was read off each slip, and the reading queue).
//!
//! Text that came from outside (senders, subjects, file names, names,
//! reasons) goes through [`clean_text`] before it is stored: PostgreSQL
//! refuses a NUL byte in `text`, and control characters have no business in
//! a list a person reads.

pub mod accounts;
pub mod inbound;
pub mod orders;
pub mod outbox;
pub mod rate;
pub mod slip_reads;
pub mod slips;
pub mod statements;

use std::borrow::Cow;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

/// A write transaction.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Errors from the store that mean something to a caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was already taken (duplicate message, second credit, taken name).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The row asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A value was refused before it reached the database (not an email address, ...).
    #[error("{0}")]
    Invalid(String),
    /// Anything else from the database.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`] with `what`.
    pub fn on_constraint(err: sqlx::Error, what: impl Into<String>) -> StoreError {
        if is_unique_violation(&err) {
            StoreError::Conflict(what.into())
        } else {
            StoreError::Db(err)
        }
    }
}

/// `text` without NUL and other control characters (tab and newline are
/// kept), cut to at most `max_chars` characters.
pub fn clean_text(text: &str, max_chars: usize) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\t' && c != '\n';
    let too_long = text.len() > max_chars && text.chars().nth(max_chars).is_some();
    if !too_long && !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|&c| !bad(c)).take(max_chars).collect())
}

/// True when `err` means the database cannot be reached or is overloaded
/// right now (connection lost, pool exhausted, server shutting down, SQLite
/// busy), as opposed to a statement that fails whatever the moment.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite: BUSY (5) and LOCKED (6), with their extended codes.
                matches!(code.parse::<i64>(), Ok(n) if n & 0xff == 5 || n & 0xff == 6)
            } else {
                // PostgreSQL: connection exceptions (08), insufficient resources
                // (53), operator intervention (57: shutdown, cannot connect now).
                code.starts_with("08") || code.starts_with("53") || code.starts_with("57")
            }
        }
        _ => false,
    }
}

/// True when `err` is a unique-key violation on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// How long opening the store may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The database could not be opened or reached (wrong URL, server down).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// The store: a pool and which backend it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://file.db?mode=rwc` or `postgres://...`).
    ///
    /// # Errors
    /// The database cannot be reached or opened.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("Unsupported database URL {url:?}: use sqlite:// or postgres://");
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent(url)?;
        }
        let opts = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        let opts = if backend == Backend::Sqlite {
            opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
        } else {
            opts
        };
        // A database that is down or unreachable is reported within seconds,
        // not after the pool's acquire timeout.
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect(url)).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => {
                return Err(anyhow::Error::new(Unreachable(format!(
                    "Cannot open database {}: {e}",
                    redact_url(url)
                ))));
            }
            Err(_) => {
                return Err(anyhow::Error::new(Unreachable(format!(
                    "Cannot reach database {} within {} s",
                    redact_url(url),
                    CONNECT_TIMEOUT.as_secs()
                ))));
            }
        };
        Ok(Store { pool, backend })
    }

    /// Applies the migrations of this backend (idempotent).
    ///
    /// # Errors
    /// A migration fails or the database was migrated by a newer version.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite).
    ///
    /// # Errors
    /// No connection could be had, or the database stayed locked past the busy timeout.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Checks the database answers (for `/healthz`).
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Closes the pool (last step of shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_sqlite_parent(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("Cannot create folder {}: {e}", parent.display()))?;
    }
    Ok(())
}

/// Hides a password in a database URL before it is printed.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_printed_without_passwords() {
        assert_eq!(
            super::redact_url("postgres://app:hunter2@db/topup"),
            "postgres://app:***@db/topup"
        );
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
