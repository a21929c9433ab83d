//! Accounts (customer companies), their users (one main user, any number of
//! PIC users, each known by email addresses and optionally a Discord id),
//! and receivables staff.
//!
//! A removed PIC keeps its row, because orders and events point at it: its
//! addresses and Discord id are released (so mail from them is "unknown
//! sender" and they may be registered again), the address is kept in
//! `former_email` for display, and its web sessions end.

use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use crate::domain::contact::{EmailAddress, parse_discord_id, parse_name};

use super::{StoreError, is_unique_violation};

/// A customer company.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AccountRow {
    /// Row id.
    pub id: i64,
    /// Company name (unique).
    pub name: String,
    /// `id` or `en`.
    pub lang: String,
    /// Creation time.
    pub created_at: i64,
}

impl AccountRow {
    /// The account's language.
    pub fn lang(&self) -> crate::domain::Lang {
        crate::domain::Lang::parse(&self.lang).unwrap_or_default()
    }
}

/// A user of an account, with one of their email addresses.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Account the user acts for.
    pub account_id: i64,
    /// `main` or `pic`.
    pub role: String,
    /// Display name (may be empty).
    pub name: String,
    /// Discord user id, once linked.
    pub discord_id: Option<String>,
    /// Comma-separated email addresses (the former address once removed).
    pub emails: String,
    /// The user's own language (`id` / `en`); `None` follows the account.
    pub lang: Option<String>,
    /// When the main user removed this PIC; a removed user cannot act.
    pub removed_at: Option<i64>,
}

impl UserRow {
    /// The first email address (where replies go when there is no message to answer).
    pub fn primary_email(&self) -> &str {
        self.emails.split(',').next().unwrap_or_default()
    }

    /// The name people read: the display name, else the first address.
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            self.primary_email().to_string()
        } else {
            self.name.clone()
        }
    }

    /// True for the account's main user (who manages PICs and may change any order).
    pub fn is_main(&self) -> bool {
        self.role == "main"
    }

    /// The language this user reads pages and mail in: their own, else `account`'s.
    pub fn lang_or(&self, account: crate::domain::Lang) -> crate::domain::Lang {
        self.lang
            .as_deref()
            .and_then(|l| crate::domain::Lang::parse(l).ok())
            .unwrap_or(account)
    }

    /// What staff see: the name, else the first address.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.primary_email().to_string()
        } else {
            format!("{} <{}>", self.name, self.primary_email())
        }
    }
}

/// A receivables staff member.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct StaffRow {
    /// Row id.
    pub id: i64,
    /// Unique name (shown on decisions).
    pub name: String,
    /// Email for board sign-in links.
    pub email: Option<String>,
    /// Discord user id.
    pub discord_id: Option<String>,
    /// argon2 hash for the web board.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// The board language (`id` / `en`); `None` follows `desk.staff_lang`.
    pub lang: Option<String>,
}

impl StaffRow {
    /// The language of this staff member's board: their own, else `default`.
    pub fn lang_or(&self, default: crate::domain::Lang) -> crate::domain::Lang {
        self.lang
            .as_deref()
            .and_then(|l| crate::domain::Lang::parse(l).ok())
            .unwrap_or(default)
    }
}

/// The columns of [`StaffRow`], for every query that reads staff.
pub const STAFF_COLUMNS: &str = "id, name, email, discord_id, password_hash, lang";

/// Normalises an email address for lookups.
pub fn normalise_email(email: &str) -> String {
    email.trim().trim_matches(['<', '>']).to_lowercase()
}

/// Creates an account with its main user.
///
/// # Errors
/// [`StoreError::Conflict`] when the name or address is already taken.
pub async fn add_account(
    conn: &mut AnyConnection,
    name: &str,
    main_email: &str,
    lang: crate::domain::Lang,
    now: i64,
) -> Result<AccountRow, StoreError> {
    let name = parse_name(name, "account name", true).map_err(|e| StoreError::Invalid(e.0))?;
    EmailAddress::parse(main_email).map_err(|e| StoreError::Invalid(e.0))?;
    let account: AccountRow = sqlx::query_as(
        "INSERT INTO accounts (name, lang, created_at) VALUES ($1, $2, $3) \
         RETURNING id, name, lang, created_at",
    )
    .bind(&name)
    .bind(lang.code())
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| StoreError::on_constraint(e, format!("an account named {name:?}")))?;
    add_user(conn, account.id, main_email, "main", "", None, now).await?;
    Ok(account)
}

/// Adds a user (or another address of an existing user with the same Discord id is not merged:
/// each call makes a user).
///
/// # Errors
/// [`StoreError::Conflict`] when the address or Discord id is taken, or the account already has a main user.
pub async fn add_user(
    conn: &mut AnyConnection,
    account_id: i64,
    email: &str,
    role: &str,
    name: &str,
    discord_id: Option<&str>,
    now: i64,
) -> Result<UserRow, StoreError> {
    let email = EmailAddress::parse(email)
        .map_err(|e| StoreError::Invalid(e.0))?
        .as_str()
        .to_string();
    let name = parse_name(name, "user's name", false).map_err(|e| StoreError::Invalid(e.0))?;
    let discord_id = match discord_id {
        Some(d) => Some(parse_discord_id(d).map_err(|e| StoreError::Invalid(e.0))?),
        None => None,
    };
    let discord_id = discord_id.as_deref();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (account_id, role, name, discord_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(account_id)
    .bind(role)
    .bind(&name)
    .bind(discord_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            if role == "main" {
                StoreError::Conflict("a main user for this account (there is one already)".into())
            } else {
                StoreError::Conflict(format!("a user with Discord id {discord_id:?}"))
            }
        } else {
            StoreError::Db(e)
        }
    })?;
    sqlx::query("INSERT INTO user_emails (email, user_id) VALUES ($1, $2)")
        .bind(&email)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::on_constraint(e, format!("a user with address {email}")))?;
    touch_people(conn, id).await?;
    user_by_id(conn, id).await
}

const USER_SELECT: &str = "SELECT u.id, u.account_id, u.role, u.name, u.discord_id, \
     COALESCE((SELECT MIN(e.email) FROM user_emails e WHERE e.user_id = u.id), u.former_email) \
     AS emails, u.lang, u.removed_at FROM users u";

/// A user by id.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn user_by_id(conn: &mut AnyConnection, id: i64) -> Result<UserRow, StoreError> {
    let sql = format!("{USER_SELECT} WHERE u.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
}

/// The main user of an account.
///
/// # Errors
/// [`StoreError::NotFound`] when the account has none; database errors.
pub async fn main_user(conn: &mut AnyConnection, account_id: i64) -> Result<UserRow, StoreError> {
    let sql = format!("{USER_SELECT} WHERE u.account_id = $1 AND u.role = 'main'");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("main user of account {account_id}")))
}

/// The user known by this email address, if any.
///
/// # Errors
/// Database errors only.
pub async fn user_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<UserRow>, StoreError> {
    let sql =
        format!("{USER_SELECT} WHERE u.id = (SELECT user_id FROM user_emails WHERE email = $1)");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(normalise_email(email))
        .fetch_optional(conn)
        .await?)
}

/// The user linked to this Discord id, if any.
///
/// # Errors
/// Database errors only.
pub async fn user_by_discord(
    conn: &mut AnyConnection,
    discord_id: &str,
) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("{USER_SELECT} WHERE u.discord_id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(discord_id)
        .fetch_optional(conn)
        .await?)
}

/// Links a Discord id to a user.
///
/// # Errors
/// [`StoreError::Conflict`] when another user has that id.
pub async fn link_discord(
    conn: &mut AnyConnection,
    user_id: i64,
    discord_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET discord_id = $1 WHERE id = $2")
        .bind(discord_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::on_constraint(e, "a user with that Discord id"))?;
    touch_people(conn, user_id).await
}

/// Users of one account, or of all accounts.
///
/// # Errors
/// Database errors only.
pub async fn list_users(
    conn: &mut AnyConnection,
    account_id: Option<i64>,
) -> Result<Vec<UserRow>, StoreError> {
    let rows = match account_id {
        Some(id) => {
            let sql = format!("{USER_SELECT} WHERE u.account_id = $1 ORDER BY u.id");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!("{USER_SELECT} ORDER BY u.account_id, u.id");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(conn)
                .await?
        }
    };
    Ok(rows)
}

/// Finds an account by id (all digits) or exact name.
///
/// # Errors
/// [`StoreError::NotFound`] naming what was looked for.
pub async fn find_account(conn: &mut AnyConnection, key: &str) -> Result<AccountRow, StoreError> {
    let key = key.trim();
    let by_name: Option<AccountRow> =
        sqlx::query_as("SELECT id, name, lang, created_at FROM accounts WHERE name = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(a) = by_name {
        return Ok(a);
    }
    if let Ok(id) = key.parse::<i64>() {
        return account_by_id(conn, id).await;
    }
    Err(StoreError::NotFound(format!("account {key:?}")))
}

/// An account by id.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn account_by_id(conn: &mut AnyConnection, id: i64) -> Result<AccountRow, StoreError> {
    sqlx::query_as("SELECT id, name, lang, created_at FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {id}")))
}

/// An account with its balance now, in one round trip (the status page
/// reads both on every request).
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such account.
pub async fn account_with_balance(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<(AccountRow, i64), StoreError> {
    let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
        "SELECT a.id, a.name, a.lang, a.created_at, \
         CAST(COALESCE((SELECT SUM(l.amount_minor) FROM ledger l WHERE l.account_id = a.id), 0) AS BIGINT) \
         FROM accounts a WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let (id, name, lang, created_at, balance) =
        row.ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
    Ok((
        AccountRow {
            id,
            name,
            lang,
            created_at,
        },
        balance,
    ))
}

/// All accounts, by name.
///
/// # Errors
/// Database errors only.
pub async fn list_accounts(conn: &mut AnyConnection) -> Result<Vec<AccountRow>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, name, lang, created_at FROM accounts ORDER BY name")
            .fetch_all(conn)
            .await?,
    )
}

/// The account's balance: the sum of its ledger credits, in minor units.
///
/// # Errors
/// Database errors only.
pub async fn balance(conn: &mut AnyConnection, account_id: i64) -> Result<i64, StoreError> {
    let (sum,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM ledger WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_one(conn)
    .await?;
    Ok(sum)
}

/// The account's balance right after the credit of `order_id` (for its receipt).
///
/// # Errors
/// Database errors only.
pub async fn balance_after(
    conn: &mut AnyConnection,
    account_id: i64,
    order_id: i64,
) -> Result<i64, StoreError> {
    let (sum,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM ledger WHERE account_id = $1 \
         AND id <= (SELECT id FROM ledger WHERE order_id = $2)",
    )
    .bind(account_id)
    .bind(order_id)
    .fetch_one(conn)
    .await?;
    Ok(sum)
}

/// Adds a staff member.
///
/// # Errors
/// [`StoreError::Conflict`] when the name, email or Discord id is taken.
pub async fn add_staff(
    conn: &mut AnyConnection,
    name: &str,
    email: Option<&str>,
    discord_id: Option<&str>,
    password_hash: Option<&str>,
    now: i64,
) -> Result<StaffRow, StoreError> {
    let name = parse_name(name, "staff name", true).map_err(|e| StoreError::Invalid(e.0))?;
    let email = match email {
        Some(e) => Some(
            EmailAddress::parse(e)
                .map_err(|e| StoreError::Invalid(e.0))?
                .to_string(),
        ),
        None => None,
    };
    let discord_id = match discord_id {
        Some(d) => Some(parse_discord_id(d).map_err(|e| StoreError::Invalid(e.0))?),
        None => None,
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO staff (name, email, discord_id, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {STAFF_COLUMNS}"
    )))
    .bind(&name)
    .bind(email)
    .bind(discord_id)
    .bind(password_hash)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        StoreError::on_constraint(
            e,
            format!("a staff member named {name:?} or with that email/Discord id"),
        )
    })
}

/// Sets a staff member's password hash.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such staff member.
pub async fn set_staff_password(
    conn: &mut AnyConnection,
    name: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE staff SET password_hash = $1 WHERE name = $2")
        .bind(password_hash)
        .bind(name)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("staff member {name:?}")));
    }
    Ok(())
}

/// Finds a staff member by exact name, email or Discord id.
///
/// # Errors
/// Database errors only.
pub async fn find_staff(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<StaffRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STAFF_COLUMNS} FROM staff \
         WHERE LOWER(name) = LOWER($1) OR email = $2 OR discord_id = $1 \
         ORDER BY CASE WHEN name = $1 THEN 0 ELSE 1 END, id LIMIT 1"
    )))
    .bind(key.trim())
    .bind(normalise_email(key))
    .fetch_optional(conn)
    .await?)
}

/// All staff, by name.
///
/// # Errors
/// Database errors only.
pub async fn list_staff(conn: &mut AnyConnection) -> Result<Vec<StaffRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STAFF_COLUMNS} FROM staff ORDER BY name"
    )))
    .fetch_all(conn)
    .await?)
}

/// A display name as people may type it: trimmed, inner whitespace folded to
/// one space, control characters dropped, at most 80 characters.
pub fn clean_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect()
}

/// The users of an account who may act (removed PICs left out), main user first.
///
/// # Errors
/// Database errors only.
pub async fn active_users(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!(
        "{USER_SELECT} WHERE u.account_id = $1 AND u.removed_at IS NULL \
         ORDER BY CASE WHEN u.role = 'main' THEN 0 ELSE 1 END, u.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .fetch_all(conn)
        .await?)
}

/// Removes a PIC of `account_id`: the row stays for the orders and events that
/// name it, but its addresses and Discord id are released, its sessions end and
/// its unused sign-in links stop working. Returns the user as it was.
///
/// # Errors
/// [`StoreError::NotFound`] when `user_id` is not an active PIC of the account
/// (the main user cannot be removed).
pub async fn remove_pic(
    conn: &mut AnyConnection,
    account_id: i64,
    user_id: i64,
    now: i64,
) -> Result<UserRow, StoreError> {
    let user = user_by_id(conn, user_id).await?;
    if user.account_id != account_id || user.role != "pic" || user.removed_at.is_some() {
        return Err(StoreError::NotFound(format!("PIC user {user_id}")));
    }
    sqlx::query(
        "UPDATE users SET removed_at = $1, discord_id = NULL, \
         former_email = COALESCE((SELECT MIN(email) FROM user_emails WHERE user_id = $2), '') \
         WHERE id = $2 AND removed_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM user_emails WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM web_sessions WHERE kind = 'customer' AND subject_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE web_sign_in_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM discord_link_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    touch_people(conn, user_id).await?;
    Ok(user)
}

/// Sets a user's display name (already [`clean_name`]d).
///
/// # Errors
/// Database errors only.
pub async fn set_user_name(
    conn: &mut AnyConnection,
    user_id: i64,
    name: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    touch_people(conn, user_id).await
}

/// Sets the name of a user who has none yet (the first mail's display name);
/// returns whether it was set.
///
/// # Errors
/// Database errors only.
pub async fn set_user_name_if_empty(
    conn: &mut AnyConnection,
    user_id: i64,
    name: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE users SET name = $1 WHERE id = $2 AND name = ''")
        .bind(name)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let set = done.rows_affected() == 1;
    if set {
        touch_people(conn, user_id).await?;
    }
    Ok(set)
}

/// Remembers a user's page and mail language.
///
/// # Errors
/// Database errors only.
pub async fn set_user_lang(
    conn: &mut AnyConnection,
    user_id: i64,
    lang: crate::domain::Lang,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
        .bind(lang.code())
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    touch_people(conn, user_id).await
}

/// Bumps the people revision of `user_id`'s account: every change to a user
/// or their addresses calls it, so a cached page showing their names knows
/// it is stale (see [`super::orders::page_version`]).
async fn touch_people(conn: &mut AnyConnection, user_id: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET people_rev = people_rev + 1 \
         WHERE id = (SELECT account_id FROM users WHERE id = $1)",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A staff member by id.
///
/// # Errors
/// Database errors only.
pub async fn staff_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<StaffRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Remembers a staff member's board language.
///
/// # Errors
/// Database errors only.
pub async fn set_staff_lang(
    conn: &mut AnyConnection,
    staff_id: i64,
    lang: crate::domain::Lang,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE staff SET lang = $1 WHERE id = $2")
        .bind(lang.code())
        .bind(staff_id)
        .execute(conn)
        .await?;
    Ok(())
}
