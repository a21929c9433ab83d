//! The Discord adapter's own rows: posted review cards (one per review round
//! of an order, kept for every resubmission) and pending `/link` codes.
//! Same portable SQL as the rest of the store (`$1` placeholders, i64 times).

use sqlx::AnyConnection;

use crate::store::StoreError;

/// A review card posted in the staff channel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardRow {
    /// Row id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// The event that opened the review round this card is about.
    pub round_event_id: i64,
    /// Channel the card is in.
    pub channel_id: String,
    /// The card's message id.
    pub message_id: String,
    /// 1 once the card shows its round's final outcome.
    pub settled: i64,
}

/// The cards of an order, oldest first.
///
/// # Errors
/// Database errors only.
pub async fn cards_of(conn: &mut AnyConnection, order_id: i64) -> Result<Vec<CardRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, order_id, round_event_id, channel_id, message_id, settled \
         FROM discord_cards WHERE order_id = $1 ORDER BY round_event_id, id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// Remembers a posted card. A card already recorded for the round wins (a
/// retried post after a crash); returns false then.
///
/// # Errors
/// Database errors only.
pub async fn insert_card(
    conn: &mut AnyConnection,
    order_id: i64,
    round_event_id: i64,
    channel_id: &str,
    message_id: &str,
    settled: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO discord_cards \
         (order_id, round_event_id, channel_id, message_id, settled, posted_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (order_id, round_event_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(round_event_id)
    .bind(channel_id)
    .bind(message_id)
    .bind(i64::from(settled))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that a card was edited (and whether it now shows a final outcome).
///
/// # Errors
/// Database errors only.
pub async fn mark_edited(
    conn: &mut AnyConnection,
    id: i64,
    settled: bool,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE discord_cards SET settled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(settled))
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A pending link code.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkCodeRow {
    /// The Discord user who asked.
    pub discord_id: String,
    /// The user the code links to.
    pub user_id: i64,
    /// SHA-256 (hex) of the Discord id and the code.
    pub code_hash: String,
    /// Wrong codes typed so far.
    pub attempts: i64,
    /// When the code stops working.
    pub expires_at: i64,
    /// The Discord id of the link this code replaces (mailed to the main user), if any.
    pub replaces: Option<String>,
}

/// Replaces the Discord user's pending code.
///
/// # Errors
/// Database errors only.
pub async fn put_link_code(
    conn: &mut AnyConnection,
    discord_id: &str,
    user_id: i64,
    code_hash: &str,
    replaces: Option<&str>,
    expires_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM discord_link_codes WHERE discord_id = $1")
        .bind(discord_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO discord_link_codes \
         (discord_id, user_id, code_hash, attempts, expires_at, created_at, replaces) \
         VALUES ($1, $2, $3, 0, $4, $5, $6)",
    )
    .bind(discord_id)
    .bind(user_id)
    .bind(code_hash)
    .bind(expires_at)
    .bind(now)
    .bind(replaces)
    .execute(conn)
    .await?;
    Ok(())
}

/// The Discord user's pending code, if any.
///
/// # Errors
/// Database errors only.
pub async fn link_code(
    conn: &mut AnyConnection,
    discord_id: &str,
) -> Result<Option<LinkCodeRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT discord_id, user_id, code_hash, attempts, expires_at, replaces \
         FROM discord_link_codes WHERE discord_id = $1",
    )
    .bind(discord_id)
    .fetch_optional(conn)
    .await?)
}

/// Counts a wrong code.
///
/// # Errors
/// Database errors only.
pub async fn count_wrong_code(
    conn: &mut AnyConnection,
    discord_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE discord_link_codes SET attempts = attempts + 1 WHERE discord_id = $1")
        .bind(discord_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets the Discord user's code (used, expired, or too many wrong tries).
///
/// # Errors
/// Database errors only.
pub async fn drop_link_code(conn: &mut AnyConnection, discord_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM discord_link_codes WHERE discord_id = $1")
        .bind(discord_id)
        .execute(conn)
        .await?;
    Ok(())
}
