//! Inbound messages (recorded once, by every key they are known by) and
//! the slip rows that tie slip files (by SHA-256) to orders.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use super::{StoreError, clean_text, is_unique_violation};

/// A recorded inbound message.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct InboundRow {
    /// Row id.
    pub id: i64,
    /// `email`, `discord`, `web`.
    pub source: String,
    /// Sender address or chat user id.
    pub sender: String,
    /// Subject (email) or first words (chat).
    pub subject: String,
    /// What the parser understood.
    pub intent: String,
    /// What the desk did (`created TU-...`, `unknown_sender`, `refused: ...`).
    pub outcome: String,
    /// The sender's account, when known.
    pub account_id: Option<i64>,
    /// The order it affected.
    pub order_id: Option<i64>,
    /// SHA-256 of the raw message in the slip store (kept for staff).
    pub raw_hash: Option<String>,
    /// When it was recorded.
    pub received_at: i64,
    /// Why handling it kept failing, when it did (the source moved on; the raw
    /// message is kept for staff).
    pub failed_error: Option<String>,
    /// Which rule decided what the message meant (`parser`, or a rule that
    /// read it against the order's state); empty when nothing was decided.
    pub decided_by: String,
}

/// Fields of a new inbound record.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    /// Channel.
    pub source: &'a str,
    /// Sender.
    pub sender: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Intent understood.
    pub intent: &'a str,
    /// Raw message hash.
    pub raw_hash: Option<&'a str>,
    /// Hash of what the message says (see [`record`]), when known.
    pub content_hash: Option<&'a str>,
}

const INBOUND_SELECT: &str = "SELECT id, source, sender, subject, intent, outcome, account_id, \
     order_id, raw_hash, received_at, failed_error, decided_by FROM inbound_messages";

/// Longest sender and subject kept (a subject of a megabyte is not read by anyone).
const MAX_SENDER_CHARS: usize = 320;
const MAX_SUBJECT_CHARS: usize = 1000;

/// What [`record`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new message, recorded under this id.
    New(i64),
    /// New content under a Message-ID an earlier, different message already
    /// used (broken clients, scanners): recorded under this id with a key that
    /// adds the content hash, so it is seen, and flagged for staff.
    ReusedMessageId(i64),
    /// Seen before: no new effect.
    Duplicate,
}

impl Recorded {
    /// The new row's id, unless it is a duplicate.
    pub fn id(&self) -> Option<i64> {
        match self {
            Recorded::New(id) | Recorded::ReusedMessageId(id) => Some(*id),
            Recorded::Duplicate => None,
        }
    }
}

/// Records a message under all its `keys`. A `msgid:` key that was seen
/// before counts as the same message only when the earlier message had the
/// same `content_hash` (or none was kept): a different message reusing a
/// Message-ID is recorded under `msgid:<id>#<content hash>` instead. Any
/// other key seen before (IMAP UID, chat id) means a duplicate.
///
/// Keys are claimed before the message row is written so that on PostgreSQL
/// a duplicate never poisons the transaction (`ON CONFLICT DO NOTHING`).
///
/// # Errors
/// Database errors only.
pub async fn record(
    conn: &mut AnyConnection,
    new: &NewInbound<'_>,
    keys: &[String],
    now: i64,
) -> Result<Recorded, StoreError> {
    let mut keys: Vec<String> = keys
        .iter()
        .map(|k| clean_text(k, 1000).into_owned())
        .collect();
    let mut reused = false;
    for key in keys.iter_mut() {
        let seen: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT k.inbound_id, m.content_hash FROM inbound_keys k \
             JOIN inbound_messages m ON m.id = k.inbound_id WHERE k.key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let Some((_, earlier_hash)) = seen else {
            continue;
        };
        let differs = matches!((&earlier_hash, new.content_hash), (Some(a), Some(b)) if a != b);
        if key.starts_with("msgid:") && differs {
            let hash = new.content_hash.unwrap_or_default();
            *key = format!("{key}#{hash}");
            let again: Option<(i64,)> =
                sqlx::query_as("SELECT inbound_id FROM inbound_keys WHERE key = $1")
                    .bind(key.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            if again.is_some() {
                return Ok(Recorded::Duplicate);
            }
            reused = true;
            continue;
        }
        return Ok(Recorded::Duplicate);
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO inbound_messages (source, sender, subject, intent, outcome, raw_hash, \
         received_at, content_hash) VALUES ($1, $2, $3, $4, 'received', $5, $6, $7) RETURNING id",
    )
    .bind(new.source)
    .bind(clean_text(new.sender, MAX_SENDER_CHARS).as_ref())
    .bind(clean_text(new.subject, MAX_SUBJECT_CHARS).as_ref())
    .bind(new.intent)
    .bind(new.raw_hash)
    .bind(now)
    .bind(new.content_hash)
    .fetch_one(&mut *conn)
    .await?;
    for key in &keys {
        let done = sqlx::query(
            "INSERT INTO inbound_keys (key, inbound_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await;
        match done {
            // Another transaction took this key between our check and insert
            // (only possible on PostgreSQL): the caller rolls back.
            Ok(r) if r.rows_affected() == 0 => return Err(StoreError::Conflict(key.clone())),
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(key.clone())),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if reused {
        Recorded::ReusedMessageId(id)
    } else {
        Recorded::New(id)
    })
}

/// Marks a recorded message as failed: its handling kept failing, so it was
/// recorded without an effect for staff to look at.
///
/// # Errors
/// Database errors only.
pub async fn set_failed(conn: &mut AnyConnection, id: i64, error: &str) -> Result<(), StoreError> {
    let error = clean_text(error, 2000);
    sqlx::query("UPDATE inbound_messages SET failed_error = $1, outcome = $2 WHERE id = $3")
        .bind(error.as_ref())
        .bind(format!("failed: {}", clean_text(&error, 200)))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a failed message as handled again as message `new_id`.
///
/// # Errors
/// Database errors only.
pub async fn set_retried(conn: &mut AnyConnection, id: i64, new_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE inbound_messages SET failed_error = NULL, outcome = $1 WHERE id = $2")
        .bind(format!("retried: handled again as message {new_id}"))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Messages whose handling failed, newest first.
///
/// # Errors
/// Database errors only.
pub async fn failed(conn: &mut AnyConnection, limit: i64) -> Result<Vec<InboundRow>, StoreError> {
    let sql = format!("{INBOUND_SELECT} WHERE failed_error IS NOT NULL ORDER BY id DESC LIMIT $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// How many messages failed (metrics).
///
/// # Errors
/// Database errors only.
pub async fn count_failed(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM inbound_messages WHERE failed_error IS NOT NULL")
            .fetch_one(conn)
            .await?;
    Ok(n)
}

/// Writes what the desk did with a recorded message.
///
/// # Errors
/// Database errors only.
pub async fn set_outcome(
    conn: &mut AnyConnection,
    id: i64,
    outcome: &str,
    account_id: Option<i64>,
    order_id: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE inbound_messages SET outcome = $1, account_id = $2, order_id = $3 WHERE id = $4",
    )
    .bind(clean_text(outcome, 2000).as_ref())
    .bind(account_id)
    .bind(order_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records which rule decided what message `id` meant.
///
/// # Errors
/// Database errors only.
pub async fn set_decided_by(
    conn: &mut AnyConnection,
    id: i64,
    rule: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE inbound_messages SET decided_by = $1 WHERE id = $2")
        .bind(rule)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A question the desk asked instead of guessing (see migrations 0011 and 0014).
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ProposalRow {
    /// Row id.
    pub id: i64,
    /// The order it would change.
    pub order_id: i64,
    /// The account asked.
    pub account_id: i64,
    /// `amend` or `cancel`.
    pub action: String,
    /// The amount an `amend` would set, minor units.
    pub amount_minor: Option<i64>,
    /// The order's status when asked.
    pub order_status: String,
    /// The order's amount when asked.
    pub order_amount_minor: Option<i64>,
    /// The Message-ID of the question; a reply in its thread answers it.
    pub message_id: String,
    /// When it was carried out, if it was.
    pub used_at: Option<i64>,
}

impl ProposalRow {
    /// What the desk asked to do.
    pub fn proposed(&self) -> Proposed {
        match (self.action.as_str(), self.amount_minor) {
            ("amend", Some(minor)) => Proposed::Amend(minor),
            _ => Proposed::Cancel,
        }
    }
}

/// What a proposal would do once confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposed {
    /// Change the order's amount to this many minor units.
    Amend(i64),
    /// Cancel the order.
    Cancel,
}

/// Fields of a new proposal.
#[derive(Debug, Clone)]
pub struct NewProposal<'a> {
    pub order_id: i64,
    pub account_id: i64,
    pub proposed: Proposed,
    pub order_status: &'a str,
    pub order_amount_minor: Option<i64>,
    pub message_id: &'a str,
    pub inbound_id: i64,
}

/// Stores a change the desk asked the customer to confirm.
///
/// # Errors
/// Database errors only.
pub async fn insert_proposal(
    conn: &mut AnyConnection,
    p: &NewProposal<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO proposals (order_id, account_id, action, amount_minor, order_status, \
         order_amount_minor, message_id, inbound_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(p.order_id)
    .bind(p.account_id)
    .bind(match p.proposed {
        Proposed::Amend(_) => "amend",
        Proposed::Cancel => "cancel",
    })
    .bind(match p.proposed {
        Proposed::Amend(minor) => Some(minor),
        Proposed::Cancel => None,
    })
    .bind(p.order_status)
    .bind(p.order_amount_minor)
    .bind(p.message_id)
    .bind(p.inbound_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest proposal to `account_id` asked in one of `thread_ids`
/// (a reply's In-Reply-To and References), used or not.
///
/// # Errors
/// Database errors only.
pub async fn proposal_in_thread(
    conn: &mut AnyConnection,
    account_id: i64,
    thread_ids: &[String],
) -> Result<Option<ProposalRow>, StoreError> {
    // Newest first: the last question asked is the one answered.
    for id in thread_ids.iter().rev() {
        let row: Option<ProposalRow> = sqlx::query_as(
            "SELECT id, order_id, account_id, action, amount_minor, order_status, \
             order_amount_minor, message_id, used_at FROM proposals \
             WHERE message_id = $1 AND account_id = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// Marks a proposal carried out; false when it already was (a second
/// "yes" changes nothing).
///
/// # Errors
/// Database errors only.
pub async fn use_proposal(conn: &mut AnyConnection, id: i64, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE proposals SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// True when any of `keys` was recorded before.
///
/// # Errors
/// Database errors only.
pub async fn seen(conn: &mut AnyConnection, keys: &[String]) -> Result<bool, StoreError> {
    for key in keys {
        let seen: Option<(i64,)> =
            sqlx::query_as("SELECT inbound_id FROM inbound_keys WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        if seen.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Recent inbound messages, newest first (optionally only those without an account: unknown senders).
///
/// # Errors
/// Database errors only.
pub async fn list(
    conn: &mut AnyConnection,
    unknown_senders_only: bool,
    limit: i64,
) -> Result<Vec<InboundRow>, StoreError> {
    let filter = if unknown_senders_only {
        "WHERE account_id IS NULL"
    } else {
        ""
    };
    let sql = format!("{INBOUND_SELECT} {filter} ORDER BY id DESC LIMIT $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Messages that need a person's eye: unknown senders, refused actions,
/// messages not understood (also when they name an order), messages kept
/// without an effect (over a limit, not verified) and messages whose
/// handling failed, newest first.
///
/// # Errors
/// Database errors only.
pub async fn not_acted_on(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<InboundRow>, StoreError> {
    let sql = format!(
        "{INBOUND_SELECT} WHERE failed_error IS NOT NULL OR outcome LIKE 'unknown_sender%' \
         OR outcome LIKE 'refused%' OR outcome LIKE 'not understood%' \
         OR outcome LIKE 'kept%' ORDER BY id DESC LIMIT $1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// One inbound message by id.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<InboundRow, StoreError> {
    let sql = format!("{INBOUND_SELECT} WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("message {id}")))
}

/// Counts inbound messages by source and intent (metrics).
///
/// # Errors
/// Database errors only.
pub async fn count_by_source_intent(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT source, intent, COUNT(*) FROM inbound_messages GROUP BY source, intent \
         ORDER BY source, intent",
    )
    .fetch_all(conn)
    .await?)
}

/// A slip attached to an order.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct OrderSlipRow {
    /// The order.
    pub order_id: i64,
    /// SHA-256 (hex) of the file.
    pub hash: String,
    /// The name the sender gave (display only, never used as a path).
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// When it was attached.
    pub added_at: i64,
}

/// Records a slip file row (once per hash) and attaches it to an order.
/// Returns the other orders the same file was already attached to.
///
/// # Errors
/// Database errors only.
#[allow(clippy::too_many_arguments)]
pub async fn attach_slip(
    conn: &mut AnyConnection,
    order_id: i64,
    hash: &str,
    content_type: &str,
    size: i64,
    file_name: &str,
    inbound_id: Option<i64>,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    sqlx::query(
        "INSERT INTO slips (hash, content_type, size, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(clean_text(content_type, 100).as_ref())
    .bind(size)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let others: Vec<(String,)> = sqlx::query_as(
        "SELECT o.number FROM order_slips s JOIN orders o ON o.id = s.order_id \
         WHERE s.hash = $1 AND s.order_id <> $2 ORDER BY o.id",
    )
    .bind(hash)
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO order_slips (order_id, hash, file_name, inbound_id, added_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, hash) DO NOTHING",
    )
    .bind(order_id)
    .bind(hash)
    .bind(clean_text(file_name, 255).as_ref())
    .bind(inbound_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(others.into_iter().map(|(n,)| n).collect())
}

/// The slips of an order, oldest first.
///
/// # Errors
/// Database errors only.
pub async fn slips_of(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<OrderSlipRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT s.order_id, s.hash, s.file_name, f.content_type, f.size, s.added_at \
         FROM order_slips s JOIN slips f ON f.hash = s.hash WHERE s.order_id = $1 \
         ORDER BY s.added_at, s.hash",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// The latest message that acted on an order (its customer's own words), if any.
///
/// # Errors
/// Database errors only.
pub async fn latest_for_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<InboundRow>, StoreError> {
    let sql = format!("{INBOUND_SELECT} WHERE order_id = $1 ORDER BY id DESC LIMIT 1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_optional(conn)
        .await?)
}
