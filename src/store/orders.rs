//! Orders, their audit events, the per-day number sequence, the thread
//! Message-IDs that point at an order, and the balance ledger.
//!
//! Status changes are compare-and-set (`UPDATE ... WHERE id = $1 AND status
//! = $2`): zero rows means another decision won the race, and the caller
//! re-reads the order to say who. The ledger's unique `order_id` makes a
//! second credit for one order impossible on any path.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use super::{StoreError, is_unique_violation};
use crate::domain::order::OrderStatus;
use crate::domain::order_number::OrderNumber;

/// An order as stored.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct OrderRow {
    /// Row id.
    pub id: i64,
    /// Canonical order number (`TU-20261125-0001`).
    pub number: String,
    /// The customer company.
    pub account_id: i64,
    /// The user who requested or submitted it.
    pub user_id: Option<i64>,
    /// Stored status name.
    pub status: String,
    /// Amount claimed by the customer, minor units.
    pub amount_minor: Option<i64>,
    /// Amount credited when paid (may differ when staff corrected it).
    pub paid_minor: Option<i64>,
    /// Currency code.
    pub currency: String,
    /// Secret for the status page link.
    #[serde(skip)]
    pub token: String,
    /// Channel it came in through (`email`, `discord`, `web`, `cli`).
    pub source: String,
    /// Comma-separated review flags (`duplicate_slip`, `resubmission`, `pic`, `unauthenticated`).
    pub flags: String,
    /// Creation time.
    pub created_at: i64,
    /// Last slip submission time.
    pub submitted_at: Option<i64>,
    /// Last staff decision time.
    pub decided_at: Option<i64>,
    /// Staff member (or `system`) who decided last.
    pub decided_by: Option<String>,
    /// Last rejection reason or cancellation note.
    pub reason: Option<String>,
    /// The customer's latest email about this order (our mail threads under it).
    pub thread_message_id: Option<String>,
    /// That email's subject.
    pub thread_subject: Option<String>,
    /// Last change.
    pub updated_at: i64,
    /// The user who sent the latest slip or amendment.
    pub submitted_by: Option<i64>,
    /// When staff were reminded of the current review round (20 h in `dealing`).
    pub reminded_at: Option<i64>,
}

impl OrderRow {
    /// The typed status (an unknown stored value reads as `closed`, which accepts nothing).
    pub fn status(&self) -> OrderStatus {
        OrderStatus::parse(&self.status).unwrap_or(OrderStatus::Closed)
    }

    /// The review flags as a list.
    pub fn flag_list(&self) -> Vec<&str> {
        self.flags.split(',').filter(|f| !f.is_empty()).collect()
    }
}

/// One line of an order's audit trail.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// When.
    pub at: i64,
    /// What (`request`, `slip`, `approve`, ...; `refused`/`unauthorized` for attempts that changed nothing).
    pub event: String,
    /// `customer`, `staff` or `system`.
    pub actor_kind: String,
    /// Who (address, staff name, Discord id).
    pub actor: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: Option<String>,
    /// Amount involved, minor units.
    pub amount_minor: Option<i64>,
    /// Why (reject reason, note), as staff read it.
    pub reason: Option<String>,
    /// The customer user who acted (none for staff, system and operator).
    pub user_id: Option<i64>,
    /// How it came in: `email`, `discord`, `web`, `status_link`, `cli`; empty when unknown.
    pub via: String,
    /// What kind of note `reason` is, so pages can say it in the reader's
    /// language: `amount_differs`, `not_received`, `confirm_timeout`,
    /// `close_timeout`, `corrected_amount`; empty for free text.
    pub reason_code: String,
}

/// A new event row.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    /// What happened.
    pub event: &'a str,
    /// `customer`, `staff` or `system`.
    pub actor_kind: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Status before.
    pub from_status: Option<&'a str>,
    /// Status after.
    pub to_status: Option<&'a str>,
    /// Amount involved.
    pub amount_minor: Option<i64>,
    /// Why.
    pub reason: Option<&'a str>,
    /// The customer user who acted.
    pub user_id: Option<i64>,
    /// How it came in.
    pub via: &'a str,
    /// The kind of note (see [`EventRow::reason_code`]).
    pub reason_code: &'a str,
}

const ORDER_COLUMNS: &str = "id, number, account_id, user_id, status, amount_minor, paid_minor, \
     currency, token, source, flags, created_at, submitted_at, decided_at, decided_by, reason, \
     thread_message_id, thread_subject, updated_at, submitted_by, reminded_at";

const EVENT_COLUMNS: &str = "id, order_id, at, event, actor_kind, actor, from_status, to_status, \
     amount_minor, reason, user_id, via, reason_code";

/// Takes the next sequence number of `day` (`YYYYMMDD`).
///
/// # Errors
/// Database errors only.
pub async fn next_sequence(conn: &mut AnyConnection, day: &str) -> Result<u32, StoreError> {
    let (last,): (i64,) = sqlx::query_as(
        "INSERT INTO order_sequences (day, last) VALUES ($1, 1) \
         ON CONFLICT (day) DO UPDATE SET last = order_sequences.last + 1 RETURNING last",
    )
    .bind(day)
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(last).unwrap_or(u32::MAX))
}

/// Fields of a new order.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    /// Its number.
    pub number: &'a OrderNumber,
    /// The account.
    pub account_id: i64,
    /// The user behind it.
    pub user_id: Option<i64>,
    /// Initial status.
    pub status: OrderStatus,
    /// Claimed amount.
    pub amount_minor: Option<i64>,
    /// Currency code.
    pub currency: &'a str,
    /// Status-page secret.
    pub token: &'a str,
    /// Channel.
    pub source: &'a str,
    /// Review flags.
    pub flags: &'a str,
    /// Submission time when it starts as `dealing`.
    pub submitted_at: Option<i64>,
    /// The submitting user when it starts as `dealing`.
    pub submitted_by: Option<i64>,
}

/// Inserts an order.
///
/// # Errors
/// [`StoreError::Conflict`] when the number is taken.
pub async fn insert_order(
    conn: &mut AnyConnection,
    new: &NewOrder<'_>,
    now: i64,
) -> Result<OrderRow, StoreError> {
    let sql = format!(
        "INSERT INTO orders (number, account_id, user_id, status, amount_minor, currency, token, \
         source, flags, created_at, submitted_at, updated_at, submitted_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10, $12) RETURNING {ORDER_COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.number.as_str())
        .bind(new.account_id)
        .bind(new.user_id)
        .bind(new.status.as_str())
        .bind(new.amount_minor)
        .bind(new.currency)
        .bind(new.token)
        .bind(new.source)
        .bind(new.flags)
        .bind(now)
        .bind(new.submitted_at)
        .bind(new.submitted_by)
        .fetch_one(conn)
        .await
        .map_err(|e| StoreError::on_constraint(e, format!("order {}", new.number)))
}

/// An order by number.
///
/// # Errors
/// Database errors only.
pub async fn by_number(
    conn: &mut AnyConnection,
    number: &OrderNumber,
) -> Result<Option<OrderRow>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE number = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(number.as_str())
        .fetch_optional(conn)
        .await?)
}

/// An order by id.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<OrderRow, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("order id {id}")))
}

/// An order by its status-page secret.
///
/// # Errors
/// Database errors only.
pub async fn by_token(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<Option<OrderRow>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE token = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(token)
        .fetch_optional(conn)
        .await?)
}

/// What changes whenever anything the customer's status page shows of an
/// order changes: the order row (status, amounts, decision; every update
/// sets `updated_at`), its timeline, its slips and its account's people
/// (names on the timeline). Read in one round trip, it tells a cached page
/// whether it is still current, whichever daemon made the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct PageVersion {
    /// The order's row id.
    pub order_id: i64,
    /// Its `updated_at`.
    pub updated_at: i64,
    /// Its latest event's id (0 without events).
    pub last_event: i64,
    /// How many slips it has.
    pub slips: i64,
    /// Its account's people revision.
    pub people_rev: i64,
}

/// The [`PageVersion`] of the order behind a status-page secret.
///
/// # Errors
/// Database errors only.
pub async fn page_version(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<Option<PageVersion>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT o.id AS order_id, o.updated_at, \
         COALESCE((SELECT MAX(e.id) FROM order_events e WHERE e.order_id = o.id), 0) AS last_event, \
         (SELECT COUNT(*) FROM order_slips s WHERE s.order_id = o.id) AS slips, \
         a.people_rev \
         FROM orders o JOIN accounts a ON a.id = o.account_id WHERE o.token = $1",
    )
    .bind(token)
    .fetch_optional(conn)
    .await?)
}

/// Orders filtered by status and/or account, newest first.
///
/// # Errors
/// Database errors only.
pub async fn list(
    conn: &mut AnyConnection,
    status: Option<OrderStatus>,
    account_id: Option<i64>,
    limit: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let mut sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE 1 = 1");
    let mut n = 0;
    if status.is_some() {
        n += 1;
        sql.push_str(&format!(" AND status = ${n}"));
    }
    if account_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND account_id = ${n}"));
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        n + 1
    ));
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    if let Some(a) = account_id {
        q = q.bind(a);
    }
    Ok(q.bind(limit).fetch_all(conn).await?)
}

/// The dealing queue, oldest submission first.
///
/// # Errors
/// Database errors only.
pub async fn dealing_queue(conn: &mut AnyConnection) -> Result<Vec<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE status = 'dealing' ORDER BY submitted_at, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?)
}

/// The account's orders a slip or amendment without a number may be for
/// (`open` or `payment_failure`), newest first.
///
/// # Errors
/// Database errors only.
pub async fn awaiting_for_account(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE account_id = $1 \
         AND status IN ('open', 'payment_failure') ORDER BY created_at DESC, id DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .fetch_all(conn)
        .await?)
}

/// The account's orders that are not final, newest first (for cancel/status without a number).
///
/// # Errors
/// Database errors only.
pub async fn active_for_account(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE account_id = $1 \
         AND status IN ('open', 'dealing', 'payment_failure') ORDER BY created_at DESC, id DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .fetch_all(conn)
        .await?)
}

/// Orders past a time limit: `status` with `column` older than `before`.
///
/// # Errors
/// Database errors only.
pub async fn due_for_expiry(
    conn: &mut AnyConnection,
    status: OrderStatus,
    before: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let column = match status {
        OrderStatus::Dealing => "submitted_at",
        _ => "created_at",
    };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1 AND {column} <= $2 ORDER BY id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(status.as_str())
        .bind(before)
        .fetch_all(conn)
        .await?)
}

/// What a status change writes besides the status.
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    /// New claimed amount.
    pub amount_minor: Option<i64>,
    /// Credited amount.
    pub paid_minor: Option<i64>,
    /// Set the submission time.
    pub submitted_at: Option<i64>,
    /// Set decision time and decider.
    pub decided: Option<(i64, &'a str)>,
    /// Set the reason.
    pub reason: Option<&'a str>,
    /// Replace the flags.
    pub flags: Option<&'a str>,
    /// Set the user who submitted.
    pub submitted_by: Option<i64>,
}

/// Moves an order from `from` to `to` if it is still in `from`.
/// Returns false when another change got there first (nothing written).
///
/// # Errors
/// Database errors only.
pub async fn compare_and_set(
    conn: &mut AnyConnection,
    id: i64,
    from: OrderStatus,
    to: OrderStatus,
    change: &Change<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE orders SET status = $1, updated_at = $2, \
         amount_minor = COALESCE($3, amount_minor), \
         paid_minor = COALESCE($4, paid_minor), \
         submitted_at = COALESCE($5, submitted_at), \
         decided_at = COALESCE($6, decided_at), \
         decided_by = COALESCE($7, decided_by), \
         reason = COALESCE($8, reason), \
         flags = COALESCE($9, flags), \
         submitted_by = COALESCE($12, submitted_by) \
         WHERE id = $10 AND status = $11",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(change.amount_minor)
    .bind(change.paid_minor)
    .bind(change.submitted_at)
    .bind(change.decided.map(|d| d.0))
    .bind(change.decided.map(|d| d.1))
    .bind(
        change
            .reason
            .map(|r| super::clean_text(r, 2000).into_owned()),
    )
    .bind(change.flags)
    .bind(id)
    .bind(from.as_str())
    .bind(change.submitted_by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Remembers the customer's latest email about the order, so later mail threads under it.
///
/// # Errors
/// Database errors only.
pub async fn set_thread(
    conn: &mut AnyConnection,
    id: i64,
    message_id: &str,
    subject: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE orders SET thread_message_id = $1, thread_subject = $2 WHERE id = $3")
        .bind(super::clean_text(message_id, 300).as_ref())
        .bind(super::clean_text(subject, 300).as_ref())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    add_thread_id(conn, id, message_id).await
}

/// Sets an order's flags.
///
/// # Errors
/// Database errors only.
pub async fn set_flags(conn: &mut AnyConnection, id: i64, flags: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE orders SET flags = $1 WHERE id = $2")
        .bind(flags)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends an event row.
///
/// # Errors
/// Database errors only.
pub async fn add_event(
    conn: &mut AnyConnection,
    order_id: i64,
    e: &NewEvent<'_>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, at, event, actor_kind, actor, from_status, \
         to_status, amount_minor, reason, user_id, via, reason_code) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(order_id)
    .bind(now)
    .bind(e.event)
    .bind(e.actor_kind)
    .bind(e.actor)
    .bind(e.from_status)
    .bind(e.to_status)
    .bind(e.amount_minor)
    .bind(e.reason.map(|r| super::clean_text(r, 2000).into_owned()))
    .bind(e.user_id)
    .bind(e.via)
    .bind(e.reason_code)
    .execute(conn)
    .await?;
    Ok(())
}

/// An order's events, oldest first.
///
/// # Errors
/// Database errors only.
pub async fn events(conn: &mut AnyConnection, order_id: i64) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM order_events WHERE order_id = $1 ORDER BY id"
    )))
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// The event that opened the order's latest review round (the latest move
/// into `dealing`), if there was one.
///
/// # Errors
/// Database errors only.
pub async fn current_round(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<i64>, StoreError> {
    let (id,): (Option<i64>,) = sqlx::query_as(
        "SELECT MAX(id) FROM order_events WHERE order_id = $1 AND to_status = 'dealing'",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The last event that moved the order into its current status.
///
/// # Errors
/// Database errors only.
pub async fn last_transition(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<EventRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM order_events WHERE order_id = $1 \
         AND to_status IS NOT NULL ORDER BY id DESC LIMIT 1"
    )))
    .bind(order_id)
    .fetch_optional(conn)
    .await?)
}

/// Whether `user_id` (or, for events written before users were recorded on
/// them, the address `email`) requested, submitted or amended this order.
///
/// # Errors
/// Database errors only.
pub async fn user_acted_on(
    conn: &mut AnyConnection,
    order_id: i64,
    user_id: i64,
    email: &str,
) -> Result<bool, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM order_events WHERE order_id = $1 \
         AND event IN ('request', 'slip', 'amend') \
         AND (user_id = $2 OR (user_id IS NULL AND actor_kind = 'customer' AND actor = $3))",
    )
    .bind(order_id)
    .bind(user_id)
    .bind(email)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Orders in `dealing` submitted at or before `before` whose current review
/// round has not been reminded of yet (a reminder at or before the submission
/// belongs to an earlier round), oldest first.
///
/// # Errors
/// Database errors only.
pub async fn due_for_reminder(
    conn: &mut AnyConnection,
    before: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE status = 'dealing' AND submitted_at <= $1 \
         AND (reminded_at IS NULL OR reminded_at <= submitted_at) ORDER BY submitted_at, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .fetch_all(conn)
        .await?)
}

/// Records that staff were reminded of the order's current round; false when
/// another worker did it first (the round is reminded once).
///
/// # Errors
/// Database errors only.
pub async fn mark_reminded(
    conn: &mut AnyConnection,
    id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE orders SET reminded_at = $1 WHERE id = $2 AND status = 'dealing' \
         AND (reminded_at IS NULL OR reminded_at <= submitted_at)",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Credits the account for a paid order. Returns false when the order was
/// already credited (the unique key refused a second row).
///
/// # Errors
/// Database errors other than the unique key.
pub async fn credit(
    conn: &mut AnyConnection,
    account_id: i64,
    order_id: i64,
    amount_minor: i64,
    staff: &str,
    now: i64,
) -> Result<bool, StoreError> {
    // ON CONFLICT DO NOTHING keeps a PostgreSQL transaction usable after a duplicate.
    let done = sqlx::query(
        "INSERT INTO ledger (account_id, order_id, amount_minor, staff, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(order_id)
    .bind(amount_minor)
    .bind(staff)
    .bind(now)
    .execute(conn)
    .await;
    match done {
        Ok(r) => Ok(r.rows_affected() == 1),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Number of ledger rows of an order (0 or 1).
///
/// # Errors
/// Database errors only.
pub async fn credits_of(conn: &mut AnyConnection, order_id: i64) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM ledger WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(conn)
        .await?;
    Ok(n)
}

/// Records that `message_id` belongs to the order's thread (ignored when known).
///
/// # Errors
/// Database errors only.
pub async fn add_thread_id(
    conn: &mut AnyConnection,
    order_id: i64,
    message_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_messages (message_id, order_id) VALUES ($1, $2) \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(super::clean_text(bare_message_id(message_id), 300).as_ref())
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The order one of these Message-IDs belongs to, trying the last (most recent) first.
///
/// # Errors
/// Database errors only.
pub async fn by_thread(
    conn: &mut AnyConnection,
    message_ids: &[String],
) -> Result<Option<OrderRow>, StoreError> {
    for id in message_ids.iter().rev() {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT order_id FROM order_messages WHERE message_id = $1")
                .bind(bare_message_id(id))
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((order_id,)) = found {
            return Ok(Some(by_id(conn, order_id).await?));
        }
    }
    Ok(None)
}

/// A Message-ID without its angle brackets and surrounding space: mail
/// parsers hand them over without brackets, our own ids carry them.
pub fn bare_message_id(id: &str) -> &str {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

/// Counts orders by status (for metrics).
///
/// # Errors
/// Database errors only.
pub async fn count_by_status(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status")
            .fetch_all(conn)
            .await?,
    )
}

/// True when `err` says the number was already used (for callers that retry).
pub fn is_conflict(err: &StoreError) -> bool {
    matches!(err, StoreError::Conflict(_))
}

/// Records how long a submitted order waited for its decision (append-only;
/// the decision-time histogram is bucketed from these rows).
///
/// # Errors
/// Database errors only.
pub async fn record_decision_time(
    conn: &mut AnyConnection,
    order_id: i64,
    outcome: OrderStatus,
    decided_at: i64,
    millis: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO decision_times (order_id, outcome, decided_at, millis) VALUES ($1, $2, $3, $4)",
    )
    .bind(order_id)
    .bind(outcome.as_str())
    .bind(decided_at)
    .bind(millis.max(0))
    .execute(conn)
    .await?;
    Ok(())
}
