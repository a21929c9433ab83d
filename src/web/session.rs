//! Sessions, one-time sign-in links, cookies, CSRF tokens and flash messages.
//!
//! Secrets (session ids, sign-in tokens) are 256 random bits given to the
//! browser once; the database keeps only their SHA-256, so reading the
//! tables signs nobody in. Cookies are `HttpOnly; SameSite=Lax; Path=/`
//! (plus `Secure` when the public URL is https).
//!
//! CSRF: a double-submit cookie. Every page response carries a `topup_csrf`
//! cookie (made on first visit); every form repeats it in a hidden `csrf`
//! field, and API calls signed in by cookie repeat it in `X-CSRF-Token`. A
//! POST whose value does not match the cookie changes nothing (403). A
//! cross-site page can neither read our cookie nor set it, so it cannot
//! forge the field.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::Store;

use super::error::WebError;

/// Cookie holding a customer's session id.
pub const CUSTOMER_COOKIE: &str = "topup_session";
/// Cookie holding a staff member's session id.
pub const STAFF_COOKIE: &str = "topup_staff";
/// Double-submit CSRF cookie.
pub const CSRF_COOKIE: &str = "topup_csrf";
/// One-shot message shown on the next page.
pub const FLASH_COOKIE: &str = "topup_flash";

/// How long a customer stays signed in.
pub const CUSTOMER_SESSION_MS: i64 = 7 * 24 * 3_600_000;
/// How long a staff member stays signed in.
pub const STAFF_SESSION_MS: i64 = 12 * 3_600_000;
/// How long a sign-in link works.
pub const SIGN_IN_LINK_MS: i64 = 30 * 60_000;

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A customer user (`users.id`).
    Customer,
    /// A staff member (`staff.id`).
    Staff,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Customer => "customer",
            SessionKind::Staff => "staff",
        }
    }
}

/// A fresh 256-bit secret, hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Starts a session and returns its secret (for the cookie).
///
/// # Errors
/// Database errors.
pub async fn create_session(
    store: &Store,
    kind: SessionKind,
    subject_id: i64,
    now: i64,
) -> Result<String, WebError> {
    let secret = random_secret();
    let ttl = match kind {
        SessionKind::Customer => CUSTOMER_SESSION_MS,
        SessionKind::Staff => STAFF_SESSION_MS,
    };
    let mut tx = store.begin_write().await?;
    // Expired sessions are swept here rather than by a timer: sign-ins are rare.
    sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, kind, subject_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&secret))
    .bind(kind.as_str())
    .bind(subject_id)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// The subject (`users.id` / `staff.id`) of a live session, if the secret names one.
///
/// # Errors
/// Database errors.
pub async fn session_subject(
    store: &Store,
    kind: SessionKind,
    secret: &str,
    now: i64,
) -> Result<Option<i64>, WebError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT subject_id FROM web_sessions WHERE id_hash = $1 AND kind = $2 AND expires_at > $3",
    )
    .bind(digest(secret))
    .bind(kind.as_str())
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Ends a session.
///
/// # Errors
/// Database errors.
pub async fn end_session(store: &Store, secret: &str) -> Result<(), WebError> {
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
        .bind(digest(secret))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes a one-time sign-in token for `user_id` inside `tx`; returns the secret.
///
/// # Errors
/// Database errors.
pub async fn create_sign_in(
    tx: &mut crate::store::Tx,
    user_id: i64,
    now: i64,
) -> Result<String, WebError> {
    let secret = random_secret();
    sqlx::query("DELETE FROM web_sign_in_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO web_sign_in_tokens (token_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(digest(&secret))
    .bind(user_id)
    .bind(now)
    .bind(now + SIGN_IN_LINK_MS)
    .execute(&mut **tx)
    .await?;
    Ok(secret)
}

/// Uses a sign-in token once: the user it was for, or `None` when it is unknown,
/// expired or already used. The update is the check, so two clicks racing on
/// one link sign in at most once.
///
/// # Errors
/// Database errors.
pub async fn consume_sign_in(
    store: &Store,
    secret: &str,
    now: i64,
) -> Result<Option<i64>, WebError> {
    let mut tx = store.begin_write().await?;
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE web_sign_in_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(digest(secret))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|(id,)| id))
}

/// Checks a sign-in token without using it (the confirmation page).
///
/// # Errors
/// Database errors.
pub async fn sign_in_is_valid(store: &Store, secret: &str, now: i64) -> Result<bool, WebError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT user_id FROM web_sign_in_tokens \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(digest(secret))
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.is_some())
}

// ----- cookies -------------------------------------------------------------

/// The value of cookie `name` in the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// A `Set-Cookie` value. `max_age_secs = Some(0)` deletes the cookie; `None` lasts the browser session.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    // Names and values are ours (hex, or percent-encoded text): always valid header bytes.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

// ----- CSRF and flash, as request extensions set by a middleware -----------

/// The CSRF token of this browser: put it in every form as `csrf`.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// Checks a submitted token against the cookie.
    ///
    /// # Errors
    /// [`WebError::Forbidden`] when it is missing or different.
    pub fn check(&self, submitted: Option<&str>) -> Result<(), WebError> {
        match submitted {
            Some(s) if !s.is_empty() && same_secret(s, &self.0) => Ok(()),
            _ => Err(WebError::FormExpired),
        }
    }
}

/// A one-shot message from the previous request (set before a redirect).
#[derive(Debug, Clone, Default)]
pub struct Flash(pub Option<FlashMessage>);

/// A message and whether it reports success.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FlashMessage {
    /// `ok` or `error`.
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

impl FlashMessage {
    /// A success message.
    pub fn ok(text: impl Into<String>) -> Self {
        FlashMessage {
            kind: "ok",
            text: text.into(),
        }
    }

    /// A refusal or error message.
    pub fn error(text: impl Into<String>) -> Self {
        FlashMessage {
            kind: "error",
            text: text.into(),
        }
    }

    /// The cookie that carries this message to the next page.
    pub fn cookie(&self, secure: bool) -> HeaderValue {
        let raw = format!("{}:{}", self.kind, self.text);
        let encoded: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        set_cookie(FLASH_COOKIE, &encoded, Some(60), secure)
    }

    fn from_cookie(value: &str) -> Option<FlashMessage> {
        let decoded: String = url::form_urlencoded::parse(format!("v={value}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        let (kind, text) = decoded.split_once(':')?;
        let text: String = text.chars().take(500).collect();
        match kind {
            "ok" => Some(FlashMessage::ok(text)),
            "error" => Some(FlashMessage::error(text)),
            _ => None,
        }
    }
}

/// Whether cookies get `Secure` (the public URL is https).
#[derive(Debug, Clone, Copy)]
pub struct SecureCookies(pub bool);

/// Middleware: gives every request its [`CsrfToken`] (from the cookie, or new and
/// then set on the response) and its [`Flash`] (cleared once shown).
pub async fn csrf_and_flash(mut req: Request, next: Next) -> Response {
    let secure = req
        .extensions()
        .get::<SecureCookies>()
        .map(|s| s.0)
        .unwrap_or(false);
    let existing = cookie(req.headers(), CSRF_COOKIE).filter(|v| v.len() == 64);
    let token = existing.clone().unwrap_or_else(random_secret);
    let flash_raw = cookie(req.headers(), FLASH_COOKIE);
    let flash = flash_raw.as_deref().and_then(FlashMessage::from_cookie);
    req.extensions_mut().insert(CsrfToken(token.clone()));
    req.extensions_mut().insert(Flash(flash));
    let mut res = next.run(req).await;
    if existing.is_none() {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &token, None, secure),
        );
    }
    let sets_flash = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
    if flash_raw.is_some() && !sets_flash {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(FLASH_COOKIE, "", Some(0), secure),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; topup_csrf=abc; b=2"),
        );
        assert_eq!(cookie(&h, "topup_csrf").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "topup"), None);
    }

    #[test]
    fn flash_survives_the_cookie_round_trip() {
        let f = FlashMessage::error("cannot cancel order TU-1: it is already paid; by staff Rina");
        let header = f.cookie(false);
        let value = header
            .to_str()
            .unwrap()
            .trim_start_matches("topup_flash=")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let back = FlashMessage::from_cookie(&value).unwrap();
        assert_eq!(back.kind, "error");
        assert_eq!(back.text, f.text);
    }

    #[test]
    fn csrf_check_needs_the_exact_token() {
        let t = CsrfToken("a".repeat(64));
        assert!(t.check(Some(&"a".repeat(64))).is_ok());
        assert!(t.check(Some(&"b".repeat(64))).is_err());
        assert!(t.check(Some("")).is_err());
        assert!(t.check(None).is_err());
    }
}
