//! Rate-limit events (`rate_events`): one row per counted event, counted
//! over a sliding window. Kept in the database rather than in memory so that
//! a restart does not reset a brake and several daemons share one count.
//!
//! Scopes in use: `staff_login` (failed sign-ins per staff member),
//! `login_client` (failed sign-ins per client address), `sign_in_link`
//! (sign-in links mailed per address), `link_code` (Discord link codes asked
//! per Discord id), `link_code_user` (per target user), `link_wrong` (wrong
//! codes per Discord id), `link_wrong_user` (per target user).

use sqlx::AnyConnection;

use super::StoreError;

/// How many events of `scope`/`key` happened after `since`.
///
/// # Errors
/// Database errors only.
pub async fn count(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    since: i64,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM rate_events WHERE scope = $1 AND key = $2 AND at > $3",
    )
    .bind(scope)
    .bind(key)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// The time of the oldest event of `scope`/`key` after `since` (when the
/// window will next shrink).
///
/// # Errors
/// Database errors only.
pub async fn oldest_since(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    since: i64,
) -> Result<Option<i64>, StoreError> {
    let (t,): (Option<i64>,) =
        sqlx::query_as("SELECT MIN(at) FROM rate_events WHERE scope = $1 AND key = $2 AND at > $3")
            .bind(scope)
            .bind(key)
            .bind(since)
            .fetch_one(conn)
            .await?;
    Ok(t)
}

/// Counts one event.
///
/// # Errors
/// Database errors only.
pub async fn record(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO rate_events (scope, key, at) VALUES ($1, $2, $3)")
        .bind(scope)
        .bind(key)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets the events of `scope`/`key` (e.g. failures after a success).
///
/// # Errors
/// Database errors only.
pub async fn clear(conn: &mut AnyConnection, scope: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM rate_events WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes events older than `before` (every window is shorter than a day).
///
/// # Errors
/// Database errors only.
pub async fn sweep(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM rate_events WHERE at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
