//! Leases: at most one daemon watches a given mailbox at a time.
//!
//! On PostgreSQL (several daemons may share one database) a lease is a
//! session-level advisory lock, `pg_try_advisory_lock(hashtext(name))`, held
//! on a dedicated connection outside the pool for as long as the source runs.
//! When the holding daemon dies its connection closes and the lock is free at
//! once; a waiting daemon retries every few seconds and takes over. The lock
//! must not live on a pooled connection: returned to the pool, the
//! connection would keep the lock for whoever borrows it next.
//!
//! On SQLite there is one daemon per file, so the lease is always granted.

use std::time::Duration;

use anyhow::Context;
use sqlx::{AnyConnection, Connection};
use tokio_util::sync::CancellationToken;

use crate::store::Backend;

/// How long a waiting daemon sleeps between attempts.
const RETRY: Duration = Duration::from_secs(3);
/// How long a liveness check of the lock connection may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A held lease; dropping it closes the lock connection (which frees the lock).
#[derive(Debug)]
pub struct Lease {
    name: String,
    conn: Option<AnyConnection>,
}

impl Lease {
    /// The lease's name (e.g. `imap:user@host/INBOX`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until the lease named `name` is ours, or `shutdown` is cancelled (`None`).
    ///
    /// # Errors
    /// None on SQLite; on PostgreSQL a connection failure is logged and retried,
    /// so this only returns when it holds the lease or is cancelled.
    pub async fn acquire(
        backend: Backend,
        database_url: &str,
        name: &str,
        shutdown: &CancellationToken,
    ) -> Option<Lease> {
        if backend == Backend::Sqlite {
            return Some(Lease {
                name: name.to_string(),
                conn: None,
            });
        }
        let mut waiting_logged = false;
        loop {
            match try_lock(database_url, name).await {
                Ok(Some(conn)) => {
                    tracing::info!(lease = name, "Lease acquired");
                    return Some(Lease {
                        name: name.to_string(),
                        conn: Some(conn),
                    });
                }
                Ok(None) => {
                    if !waiting_logged {
                        tracing::info!(lease = name, "Another daemon holds the lease; waiting");
                        waiting_logged = true;
                    }
                }
                Err(e) => tracing::warn!(lease = name, "Cannot take the lease: {e:#}"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(RETRY) => {}
            }
        }
    }

    /// True while the lease is still held (the lock connection answers).
    pub async fn alive(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(&mut *conn)).await,
            Ok(Ok(_))
        )
    }

    /// Gives the lease up now (unlocks and closes the connection).
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlock = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
                .bind(self.name.as_str())
                .execute(&mut conn);
            let _ = tokio::time::timeout(CHECK_TIMEOUT, unlock).await;
            let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.close()).await;
            tracing::info!(lease = self.name, "Lease released");
        }
    }
}

/// One attempt: the connection holding the lock, or `None` when someone else has it.
async fn try_lock(database_url: &str, name: &str) -> anyhow::Result<Option<AnyConnection>> {
    let mut conn = tokio::time::timeout(CHECK_TIMEOUT * 2, AnyConnection::connect(database_url))
        .await
        .context("Connecting for the lease timed out")?
        .context("Connecting for the lease failed")?;
    let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .context("Asking for the advisory lock failed")?;
    if got {
        Ok(Some(conn))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}
