//! `slip_reads`: what was read off each slip file, and the reading queue
//! (a `pending` row is a job; see [`crate::slip::worker`]).

use sqlx::{AnyConnection, FromRow};

use super::{StoreError, clean_text};
use crate::slip::SlipFields;

/// One slip file's reading.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct SlipReadRow {
    /// SHA-256 of the file.
    pub hash: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// Reads tried so far.
    pub attempts: i64,
    /// When the next try may start (or the claim of a running one lapses).
    pub next_at: i64,
    /// The last failure, shown to staff.
    pub error: Option<String>,
    /// `pdf_text`, `pdf_ocr` or `ocr`.
    pub method: Option<String>,
    /// The amount read, in sen.
    pub amount_minor: Option<i64>,
    /// 1 when the amount is sure (see [`crate::slip::Confidence`]), 0 when
    /// not; NULL without an amount or on rows read before it was recorded.
    pub amount_sure: Option<i64>,
    /// Other amounts the reads found, in sen separated by spaces, the
    /// likeliest first (see [`SlipReadRow::alternatives`]).
    pub amount_alternatives: Option<String>,
    /// Date and time as printed, `YYYY-MM-DDTHH:MM:SS`.
    pub slip_time: Option<String>,
    pub bank: Option<String>,
    pub sender_name: Option<String>,
    pub sender_account: Option<String>,
    pub dest_account: Option<String>,
    pub dest_name: Option<String>,
    /// Letters and digits only, upper case.
    pub reference: Option<String>,
    pub remark: Option<String>,
    /// How long the read took, in milliseconds.
    pub read_ms: Option<i64>,
    pub updated_at: i64,
}

impl SlipReadRow {
    /// The other amounts the reads found (unreadable entries are skipped).
    pub fn alternatives(&self) -> Vec<crate::domain::money::Money> {
        self.amount_alternatives
            .as_deref()
            .unwrap_or("")
            .split_ascii_whitespace()
            .filter_map(|v| v.parse().ok())
            .map(crate::domain::money::Money::from_minor)
            .collect()
    }
}

/// The columns of [`SlipReadRow`] (a macro, so queries stay literal strings).
macro_rules! columns {
    () => {
        "hash, status, attempts, next_at, error, method, amount_minor, amount_sure, \
         amount_alternatives, slip_time, bank, sender_name, sender_account, dest_account, \
         dest_name, reference, remark, read_ms, updated_at"
    };
}

/// Queues a file for reading (nothing when it is queued or read already).
///
/// # Errors
/// Database errors only.
pub async fn enqueue(conn: &mut AnyConnection, hash: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO slip_reads (hash, status, attempts, next_at, created_at, updated_at) \
         VALUES ($1, 'pending', 0, $2, $2, $2) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the next due job: its `attempts` goes up and it is not due again
/// until `now + lease_ms` (a worker that dies mid-read leaves it for another
/// try). `None` when nothing is due or another worker took it first.
///
/// # Errors
/// Database errors only.
pub async fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease_ms: i64,
) -> Result<Option<SlipReadRow>, StoreError> {
    let due: Option<(String, i64)> = sqlx::query_as(
        "SELECT hash, next_at FROM slip_reads WHERE status = 'pending' AND next_at <= $1 \
         ORDER BY next_at LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((hash, next_at)) = due else {
        return Ok(None);
    };
    let taken = sqlx::query(
        "UPDATE slip_reads SET attempts = attempts + 1, next_at = $1, updated_at = $2 \
         WHERE hash = $3 AND status = 'pending' AND next_at = $4",
    )
    .bind(now + lease_ms)
    .bind(now)
    .bind(&hash)
    .bind(next_at)
    .execute(&mut *conn)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    by_hash(conn, &hash).await
}

/// The reading of one file.
///
/// # Errors
/// Database errors only.
pub async fn by_hash(
    conn: &mut AnyConnection,
    hash: &str,
) -> Result<Option<SlipReadRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM slip_reads WHERE hash = $1"
    ))
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

/// The readings of an order's slips (files never queued are left out).
///
/// # Errors
/// Database errors only.
pub async fn of_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<SlipReadRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM slip_reads WHERE hash IN (SELECT hash FROM order_slips WHERE order_id = $1) \
         ORDER BY created_at, hash"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// Records a finished read.
///
/// # Errors
/// Database errors only.
pub async fn record_done(
    conn: &mut AnyConnection,
    hash: &str,
    fields: &SlipFields,
    method: &str,
    read_ms: i64,
    now: i64,
) -> Result<(), StoreError> {
    let text = |s: &Option<String>| s.as_deref().map(|v| clean_text(v, 200).into_owned());
    sqlx::query(
        "UPDATE slip_reads SET status = 'done', error = NULL, method = $1, amount_minor = $2, \
         slip_time = $3, bank = $4, sender_name = $5, sender_account = $6, dest_account = $7, \
         dest_name = $8, reference = $9, remark = $10, read_ms = $11, updated_at = $12, \
         amount_sure = $13, amount_alternatives = $14 WHERE hash = $15",
    )
    .bind(method)
    .bind(fields.amount.map(|m| m.minor()))
    .bind(
        fields
            .date
            .map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string()),
    )
    .bind(text(&fields.bank))
    .bind(text(&fields.sender_name))
    .bind(text(&fields.sender_account))
    .bind(text(&fields.dest_account))
    .bind(text(&fields.dest_name))
    .bind(text(&fields.reference))
    .bind(text(&fields.remark))
    .bind(read_ms)
    .bind(now)
    .bind(
        fields
            .amount
            .map(|_| i64::from(fields.amount_confidence == Some(crate::slip::Confidence::Sure))),
    )
    .bind((!fields.amount_alternatives.is_empty()).then(|| {
        fields
            .amount_alternatives
            .iter()
            .map(|m| m.minor().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }))
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed try: `retry_at` queues another, `None` gives up (`failed`).
///
/// # Errors
/// Database errors only.
pub async fn record_failure(
    conn: &mut AnyConnection,
    hash: &str,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE slip_reads SET status = $1, error = $2, next_at = $3, updated_at = $4 \
         WHERE hash = $5",
    )
    .bind(if retry_at.is_some() {
        "pending"
    } else {
        "failed"
    })
    .bind(clean_text(error, 500).as_ref())
    .bind(retry_at.unwrap_or(now))
    .bind(now)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a failed read back in the queue (operator's `slip retry`).
///
/// # Errors
/// Database errors only.
pub async fn requeue(conn: &mut AnyConnection, hash: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE slip_reads SET status = 'pending', attempts = 0, next_at = $1, updated_at = $1 \
         WHERE hash = $2 AND status = 'failed'",
    )
    .bind(now)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Orders other than `order_id` holding a slip with this reference, by number.
///
/// # Errors
/// Database errors only.
pub async fn orders_with_reference(
    conn: &mut AnyConnection,
    reference: &str,
    order_id: i64,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT o.number FROM slip_reads r JOIN order_slips s ON s.hash = r.hash \
         JOIN orders o ON o.id = s.order_id \
         WHERE r.reference = $1 AND s.order_id <> $2 ORDER BY o.number",
    )
    .bind(reference)
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// The ids of the orders a file is attached to.
///
/// # Errors
/// Database errors only.
pub async fn orders_of(conn: &mut AnyConnection, hash: &str) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT order_id FROM order_slips WHERE hash = $1 ORDER BY order_id")
            .bind(hash)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Queue counts by status (for metrics and `/healthz` details).
///
/// # Errors
/// Database errors only.
pub async fn count_by_status(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT status, COUNT(*) FROM slip_reads GROUP BY status ORDER BY status")
            .fetch_all(conn)
            .await?,
    )
}
