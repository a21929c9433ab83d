//! Bank statement lines and their imports (migration 0009), and the unique
//! codes of orders.
//!
//! A line is inserted once under its `line_key` (`ON CONFLICT DO NOTHING`,
//! so a PostgreSQL transaction stays usable after a duplicate); its
//! `order_id` is unique, so neither two lines on one order nor one line on
//! two orders can be stored, whatever raced.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use super::{StoreError, clean_text};

/// A statement line as stored, with the number of its order.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq)]
pub struct LineRow {
    /// Row id (staff name lines by it: `topup statement attach 42`).
    pub id: i64,
    /// The import that first brought it.
    pub import_id: i64,
    /// Bank name.
    pub bank: String,
    /// Account number.
    pub account: String,
    /// Booking date, `YYYY-MM-DD`.
    pub booked_on: String,
    /// `credit` or `debit`.
    pub direction: String,
    /// Sen.
    pub amount_minor: i64,
    /// Remark and description.
    pub description: String,
    /// Bank or sender reference.
    pub reference: Option<String>,
    /// Payer name, when the export gives one.
    pub payer: Option<String>,
    /// Running balance after the line.
    pub balance_minor: Option<i64>,
    /// `matched`, `suggested`, `ambiguous`, `unmatched` or `debit`.
    pub state: String,
    /// `order_number`, `reference`, `amount` or `staff`.
    pub rule: Option<String>,
    /// The order it belongs to.
    pub order_id: Option<i64>,
    /// That order's number.
    pub order_number: Option<String>,
    /// Candidate order numbers of an ambiguous line, comma-separated.
    pub candidates: String,
    /// First imported.
    pub created_at: i64,
}

const LINE_SELECT: &str = "SELECT l.id, l.import_id, l.bank, l.account, l.booked_on, l.direction, \
     l.amount_minor, l.description, l.reference, l.payer, l.balance_minor, l.state, l.rule, \
     l.order_id, o.number AS order_number, l.candidates, l.created_at \
     FROM statement_lines l LEFT JOIN orders o ON o.id = l.order_id";

/// A new import record.
///
/// # Errors
/// Database errors only.
#[allow(clippy::too_many_arguments)]
pub async fn insert_import(
    conn: &mut AnyConnection,
    source: &str,
    format: &str,
    bank: &str,
    account: &str,
    lines: i64,
    actor: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO statement_imports (source, format, bank, account, lines, added, actor, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7) RETURNING id",
    )
    .bind(clean_text(source, 300).as_ref())
    .bind(format)
    .bind(clean_text(bank, 64).as_ref())
    .bind(clean_text(account, 64).as_ref())
    .bind(lines)
    .bind(clean_text(actor, 200).as_ref())
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Records how many lines an import added.
///
/// # Errors
/// Database errors only.
pub async fn set_import_added(
    conn: &mut AnyConnection,
    id: i64,
    added: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE statement_imports SET added = $1 WHERE id = $2")
        .bind(added)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Fields of a new line.
#[derive(Debug, Clone)]
pub struct NewLine<'a> {
    /// Idempotency key.
    pub key: &'a str,
    /// Import id.
    pub import_id: i64,
    /// Bank.
    pub bank: &'a str,
    /// Account number.
    pub account: &'a str,
    /// `YYYY-MM-DD`.
    pub booked_on: &'a str,
    /// `credit` / `debit`.
    pub direction: &'a str,
    /// Sen.
    pub amount_minor: i64,
    /// Description.
    pub description: &'a str,
    /// Reference.
    pub reference: Option<&'a str>,
    /// Payer.
    pub payer: Option<&'a str>,
    /// Running balance.
    pub balance_minor: Option<i64>,
    /// Initial state (`debit` or `unmatched`).
    pub state: &'a str,
}

/// Inserts a line; `None` when a line with its key is already stored.
///
/// # Errors
/// Database errors only.
pub async fn insert_line(
    conn: &mut AnyConnection,
    l: &NewLine<'_>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO statement_lines (line_key, import_id, bank, account, booked_on, direction, \
         amount_minor, description, reference, payer, balance_minor, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
         ON CONFLICT (line_key) DO NOTHING RETURNING id",
    )
    .bind(l.key)
    .bind(l.import_id)
    .bind(clean_text(l.bank, 64).as_ref())
    .bind(clean_text(l.account, 64).as_ref())
    .bind(l.booked_on)
    .bind(l.direction)
    .bind(l.amount_minor)
    .bind(clean_text(l.description, 500).as_ref())
    .bind(l.reference.map(|r| clean_text(r, 64).into_owned()))
    .bind(l.payer.map(|p| clean_text(p, 200).into_owned()))
    .bind(l.balance_minor)
    .bind(l.state)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// The stored line with `key`.
///
/// # Errors
/// Database errors only.
pub async fn by_key(conn: &mut AnyConnection, key: &str) -> Result<Option<LineRow>, StoreError> {
    let sql = format!("{LINE_SELECT} WHERE l.line_key = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

/// A line by id.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<LineRow, StoreError> {
    let sql = format!("{LINE_SELECT} WHERE l.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("statement line {id}")))
}

/// Sets a line's outcome. With an order, only when the order has no line
/// yet and the line no order (returns false otherwise: someone else won).
///
/// # Errors
/// Database errors other than the unique order key.
pub async fn set_outcome(
    conn: &mut AnyConnection,
    id: i64,
    state: &str,
    rule: Option<&str>,
    order_id: Option<i64>,
    candidates: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE statement_lines SET state = $1, rule = $2, order_id = $3, candidates = $4, \
         updated_at = $5 WHERE id = $6 AND order_id IS NULL \
         AND ($3 IS NULL OR NOT EXISTS (SELECT 1 FROM statement_lines x WHERE x.order_id = $3))",
    )
    .bind(state)
    .bind(rule)
    .bind(order_id)
    .bind(candidates)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await;
    match done {
        Ok(r) => Ok(r.rows_affected() == 1),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The lines of an order (at most one; a list for display).
///
/// # Errors
/// Database errors only.
pub async fn for_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<LineRow>, StoreError> {
    let sql = format!("{LINE_SELECT} WHERE l.order_id = $1 ORDER BY l.id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_all(conn)
        .await?)
}

/// An order's statement lines and its amount to transfer (unique code), in
/// one round trip (the status page reads them on every request).
///
/// # Errors
/// Database errors only.
pub async fn of_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<(Vec<LineRow>, Option<i64>), StoreError> {
    #[derive(FromRow)]
    struct Row {
        transfer_minor: Option<i64>,
        id: Option<i64>,
        import_id: Option<i64>,
        bank: Option<String>,
        account: Option<String>,
        booked_on: Option<String>,
        direction: Option<String>,
        amount_minor: Option<i64>,
        description: Option<String>,
        reference: Option<String>,
        payer: Option<String>,
        balance_minor: Option<i64>,
        state: Option<String>,
        rule: Option<String>,
        order_number: Option<String>,
        candidates: Option<String>,
        created_at: Option<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.transfer_minor, l.id, l.import_id, l.bank, l.account, l.booked_on, l.direction, \
         l.amount_minor, l.description, l.reference, l.payer, l.balance_minor, l.state, l.rule, \
         o.number AS order_number, l.candidates, l.created_at \
         FROM orders o LEFT JOIN order_codes c ON c.order_id = o.id \
         LEFT JOIN statement_lines l ON l.order_id = o.id WHERE o.id = $1 ORDER BY l.id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    let transfer = rows.first().and_then(|r| r.transfer_minor);
    let lines = rows
        .into_iter()
        .filter_map(|r| {
            Some(LineRow {
                id: r.id?,
                import_id: r.import_id?,
                bank: r.bank?,
                account: r.account?,
                booked_on: r.booked_on?,
                direction: r.direction?,
                amount_minor: r.amount_minor?,
                description: r.description?,
                reference: r.reference,
                payer: r.payer,
                balance_minor: r.balance_minor,
                state: r.state?,
                rule: r.rule,
                order_id: Some(order_id),
                order_number: r.order_number,
                candidates: r.candidates?,
                created_at: r.created_at?,
            })
        })
        .collect();
    Ok((lines, transfer))
}

/// Credits without an order (`unmatched` and `ambiguous`), newest first.
///
/// # Errors
/// Database errors only.
pub async fn unmatched(conn: &mut AnyConnection, limit: i64) -> Result<Vec<LineRow>, StoreError> {
    let sql = format!(
        "{LINE_SELECT} WHERE l.direction = 'credit' AND l.order_id IS NULL \
         AND l.state IN ('unmatched', 'ambiguous') ORDER BY l.booked_on DESC, l.id DESC LIMIT $1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(conn)
        .await?)
}

/// The last booking date any statement covers (`YYYY-MM-DD`).
///
/// # Errors
/// Database errors only.
pub async fn covered_through(conn: &mut AnyConnection) -> Result<Option<String>, StoreError> {
    let (d,): (Option<String>,) = sqlx::query_as("SELECT MAX(booked_on) FROM statement_lines")
        .fetch_one(conn)
        .await?;
    Ok(d)
}

/// An order a credit could belong to: unsettled, without a line yet.
#[derive(Debug, Clone, FromRow)]
pub struct Candidate {
    /// Order id.
    pub id: i64,
    /// Number.
    pub number: String,
    /// Status.
    pub status: String,
    /// Claimed amount.
    pub amount_minor: Option<i64>,
    /// Amount to transfer with the unique code, when it has one.
    pub transfer_minor: Option<i64>,
    /// Created at.
    pub created_at: i64,
    /// The company.
    pub account_name: String,
}

/// Every `open`, `dealing` and `payment_failure` order that has no line.
///
/// # Errors
/// Database errors only.
pub async fn candidates(conn: &mut AnyConnection) -> Result<Vec<Candidate>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.number, o.status, o.amount_minor, c.transfer_minor, o.created_at, \
         a.name AS account_name FROM orders o JOIN accounts a ON a.id = o.account_id \
         LEFT JOIN order_codes c ON c.order_id = o.id \
         WHERE o.status IN ('open', 'dealing', 'payment_failure') \
         AND NOT EXISTS (SELECT 1 FROM statement_lines l WHERE l.order_id = o.id) ORDER BY o.id",
    )
    .fetch_all(conn)
    .await?)
}

/// Orders whose slip reference equals `reference` (both normalised to
/// letters and digits, upper case, as the slip reader keeps them in
/// `slip_reads.reference`).
///
/// # Errors
/// Database errors only.
pub async fn orders_with_slip_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Vec<i64>, StoreError> {
    let reference = crate::slip::extract::normalise_reference(reference);
    if reference.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT s.order_id FROM slip_reads r JOIN order_slips s ON s.hash = r.hash \
         WHERE r.reference = $1 ORDER BY s.order_id",
    )
    .bind(reference)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The unique code of an order and the amount to transfer.
///
/// # Errors
/// Database errors only.
pub async fn code_of(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT code, transfer_minor FROM order_codes WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Codes in use by unsettled orders.
///
/// # Errors
/// Database errors only.
pub async fn codes_in_use(conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT c.code FROM order_codes c JOIN orders o ON o.id = c.order_id \
         WHERE o.status IN ('open', 'dealing', 'payment_failure')",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// Gives an order its code.
///
/// # Errors
/// Database errors only.
pub async fn set_code(
    conn: &mut AnyConnection,
    order_id: i64,
    code: i64,
    transfer_minor: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO order_codes (order_id, code, transfer_minor) VALUES ($1, $2, $3)")
        .bind(order_id)
        .bind(code)
        .bind(transfer_minor)
        .execute(conn)
        .await?;
    Ok(())
}
