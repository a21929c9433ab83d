//! The outbox table: every email and chat update a transition causes is a
//! row written in the same transaction. Delivery workers claim due rows
//! with a lease, so several daemons can deliver side by side without
//! sending a row twice, and a crashed worker's rows come back when the
//! lease runs out. Failed rows keep their attempts and last error; after the
//! last attempt they are `dead`, visible to the operator, never deleted.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use super::{Backend, StoreError};

/// An outbox row.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// `email`, `review_card`, `card_update`, ...
    pub kind: String,
    /// The order it is about.
    pub order_id: Option<i64>,
    /// Email address or channel it goes to (for the operator and the loop guard).
    pub recipient: String,
    /// JSON payload (`crate::outbox::Job`).
    pub payload: String,
    /// `pending`, `sent`, `dead`, or `suppressed` (held back by the loop guard; never sent).
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it is due next.
    pub next_attempt_at: i64,
    /// Claimed by a worker until then.
    pub lease_until: Option<i64>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: i64,
    /// When it was delivered.
    pub sent_at: Option<i64>,
    /// For emails, the template kind (`order_created`, `not_understood`, ...).
    pub email_kind: Option<String>,
}

const COLUMNS: &str = "id, kind, order_id, recipient, payload, status, attempts, next_attempt_at, \
     lease_until, last_error, created_at, sent_at, email_kind";

/// Writes a row, due now.
///
/// # Errors
/// Database errors only.
pub async fn insert(
    conn: &mut AnyConnection,
    kind: &str,
    order_id: Option<i64>,
    recipient: &str,
    payload: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbox (kind, order_id, recipient, payload, status, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) RETURNING id",
    )
    .bind(kind)
    .bind(order_id)
    .bind(recipient)
    .bind(payload)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Writes an email row: due now, or `suppressed` with the reason when the
/// loop guard held it back (kept for the operator to see, never sent).
///
/// # Errors
/// Database errors only.
pub async fn insert_email(
    conn: &mut AnyConnection,
    order_id: Option<i64>,
    recipient: &str,
    payload: &str,
    email_kind: &str,
    suppressed: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbox (kind, order_id, recipient, payload, status, attempts, \
         next_attempt_at, created_at, email_kind, last_error) \
         VALUES ('email', $1, $2, $3, $4, 0, $5, $5, $6, $7) RETURNING id",
    )
    .bind(order_id)
    .bind(recipient)
    .bind(payload)
    .bind(if suppressed.is_some() {
        "suppressed"
    } else {
        "pending"
    })
    .bind(now)
    .bind(email_kind)
    .bind(suppressed)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due rows for `lease_ms`, counting an attempt on each.
///
/// The outer `WHERE` repeats the due/lease test so that on PostgreSQL a
/// second worker that waited on the row lock re-checks the row as updated by
/// the first and skips it; `SKIP LOCKED` makes it not wait at all.
///
/// # Errors
/// Database errors only.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    lease_ms: i64,
    limit: i64,
    claimant: &str,
) -> Result<Vec<OutboxRow>, StoreError> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET lease_until = $1, attempts = attempts + 1, claimed_by = $4 \
         WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
         AND (lease_until IS NULL OR lease_until <= $2) ORDER BY id LIMIT $3{lock}) \
         AND status = 'pending' AND (lease_until IS NULL OR lease_until <= $2) \
         RETURNING {COLUMNS}"
    );
    let mut rows: Vec<OutboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .bind(claimant)
        .fetch_all(conn)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Extends the lease of the rows `claimant` still holds among `ids` (the
/// delivery worker's heartbeat): a worker that dies stops extending, and its
/// rows come back after one short lease instead of a long one.
///
/// # Errors
/// Database errors only.
pub async fn extend_leases(
    conn: &mut AnyConnection,
    ids: &[i64],
    claimant: &str,
    until: i64,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "UPDATE outbox SET lease_until = $1 WHERE id IN ({list}) AND claimed_by = $2 \
         AND status = 'pending' AND lease_until IS NOT NULL"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(until)
        .bind(claimant)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Marks a row delivered.
///
/// # Errors
/// Database errors only.
pub async fn mark_sent(conn: &mut AnyConnection, id: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL \
         WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Schedules another attempt at `next_at` after a failure.
///
/// # Errors
/// Database errors only.
pub async fn reschedule(
    conn: &mut AnyConnection,
    id: i64,
    next_at: i64,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3",
    )
    .bind(next_at)
    .bind(error)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives up on a row: it stays, `dead`, for the operator.
///
/// # Errors
/// Database errors only.
pub async fn mark_dead(conn: &mut AnyConnection, id: i64, error: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET status = 'dead', lease_until = NULL, last_error = $1 WHERE id = $2",
    )
    .bind(error)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a dead row back in the queue, due now, with its attempts reset.
/// Returns false when the row is not dead.
///
/// # Errors
/// Database errors only.
pub async fn retry(conn: &mut AnyConnection, id: i64, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, \
         lease_until = NULL WHERE id = $2 AND status = 'dead'",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Rows in a status (or all), newest first.
///
/// # Errors
/// Database errors only.
pub async fn list(
    conn: &mut AnyConnection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let rows = match status {
        Some(s) => {
            let sql =
                format!("SELECT {COLUMNS} FROM outbox WHERE status = $1 ORDER BY id DESC LIMIT $2");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(s)
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    Ok(rows)
}

/// Rows of one order, oldest first.
///
/// # Errors
/// Database errors only.
pub async fn for_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE order_id = $1 ORDER BY id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_all(conn)
        .await?)
}

/// Counts rows by status (`pending`, `sent`, `dead`, `suppressed`).
///
/// # Errors
/// Database errors only.
pub async fn count_by_status(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")
            .fetch_all(conn)
            .await?,
    )
}

/// How many emails of the given kinds went (or are going) to `recipient`
/// since `since`; suppressed rows do not count (the loop guard).
///
/// # Errors
/// Database errors only.
pub async fn emails_to_since(
    conn: &mut AnyConnection,
    recipient: &str,
    kinds: &[&str],
    since: i64,
) -> Result<i64, StoreError> {
    if kinds.is_empty() {
        return Ok(0);
    }
    // The kinds are ours (template names), never user input.
    let list = kinds
        .iter()
        .map(|k| format!("'{}'", k.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at > $2 \
         AND kind = 'email' AND status <> 'suppressed' AND email_kind IN ({list})"
    );
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(recipient)
        .bind(since)
        .fetch_one(conn)
        .await?;
    Ok(n)
}
