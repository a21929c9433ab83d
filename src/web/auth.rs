//! Staff passwords (argon2) for the staff web board and the API, and the
//! brake on guessing them ([`check_login`]).

use std::sync::OnceLock;

use argon2::Argon2;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::WebError;
use super::session::random_secret;
use crate::store::accounts::{self, StaffRow};
use crate::store::rate;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a password for storage.
///
/// # Errors
/// The password is too short (under 8 characters) or hashing failed.
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.chars().count() < 8 {
        return Err("the staff password must have at least 8 characters".into());
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password failed: {e}"))
}

/// True when `password` matches the stored `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Failed sign-ins one staff member may have within [`GUARD_WINDOW_MS`] from
/// browsers they have not signed in from before.
pub const GUARD_MAX_FAILURES: i64 = 5;
/// Failed sign-ins one client address may have within [`GUARD_WINDOW_MS`].
pub const CLIENT_MAX_FAILURES: i64 = 20;
/// The window over which failed sign-ins are counted (15 minutes).
pub const GUARD_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long a browser stays known after a successful sign-in (90 days).
pub const DEVICE_MS: i64 = 90 * 24 * 3_600_000;
/// Cookie naming a browser a staff member signed in from.
pub const DEVICE_COOKIE: &str = "topup_device";
/// Password checks (argon2, about 20 MB and tens of milliseconds each) that
/// may run at once; more wait, so a flood of sign-ins cannot exhaust memory.
const CONCURRENT_CHECKS: usize = 2;
/// Longest wait for a turn to check a password.
const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The brake on guessing staff passwords, kept in the database (it survives
/// a restart and several daemons share it):
/// - per staff member, after resolving the typed name or email, so `carol`
///   and `carol@desk.example` count together; unknown names are counted per
///   typed name, so the answer does not tell names apart;
/// - per client address, so one client cannot try many names;
/// - a browser the staff member already signed in from (device cookie) is not
///   held back by the per-member brake, so a stranger guessing passwords
///   cannot lock staff out of their own browsers.
#[derive(Debug)]
pub struct SignInBrake {
    checks: tokio::sync::Semaphore,
}

impl Default for SignInBrake {
    fn default() -> Self {
        SignInBrake {
            checks: tokio::sync::Semaphore::new(CONCURRENT_CHECKS),
        }
    }
}

/// Where a sign-in comes from.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// The client's address, when known.
    pub client: Option<std::net::IpAddr>,
    /// The device cookie the browser sent, if any.
    pub device: Option<String>,
}

/// A successful sign-in: the staff member and the device secret to set as a cookie.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who signed in.
    pub staff: StaffRow,
    /// A fresh device secret for [`DEVICE_COOKIE`].
    pub device: String,
}

/// Checks a staff login (name or email) and password under the brake.
/// Unknown names cost the same argon2 work as wrong passwords.
///
/// # Errors
/// [`WebError::TooManyAttempts`] while braked or when every password check is
/// busy; database errors. A wrong password is `Ok(None)`.
pub async fn check_login(
    st: &AppState,
    login: &str,
    password: &str,
    attempt: &Attempt,
) -> Result<Option<SignedIn>, WebError> {
    let login = login.trim();
    let now = st.desk.now();
    let since = now - GUARD_WINDOW_MS;
    let store = st.desk.store();
    let mut conn = store.pool().acquire().await?;
    let found = if login.is_empty() {
        None
    } else {
        accounts::find_staff(&mut conn, login).await?
    };
    let staff_key = match &found {
        Some(s) => format!("staff:{}", s.id),
        None => format!("name:{}", login.to_lowercase()),
    };
    let known_device = match (&attempt.device, &found) {
        (Some(secret), Some(s)) => device_owner(&mut conn, secret, now).await? == Some(s.id),
        _ => false,
    };
    if !known_device {
        if let Some(ip) = attempt.client {
            let key = ip.to_string();
            if rate::count(&mut conn, "login_client", &key, since).await? >= CLIENT_MAX_FAILURES {
                tracing::warn!(client = %key, "Staff sign-in refused: too many failures from this address");
                let wait = wait_minutes(&mut conn, "login_client", &key, now).await?;
                return Err(WebError::TooManyAttempts(format!(
                    "Too many failed sign-ins from your network; try again in {wait} minutes."
                )));
            }
        }
        if rate::count(&mut conn, "staff_login", &staff_key, since).await? >= GUARD_MAX_FAILURES {
            tracing::warn!(login = %login, "Staff sign-in refused: too many failed attempts");
            let wait = wait_minutes(&mut conn, "staff_login", &staff_key, now).await?;
            return Err(WebError::TooManyAttempts(format!(
                "Too many failed sign-ins for this name; try again in {wait} minutes, or from a browser you signed in with before."
            )));
        }
    }
    drop(conn);
    let hash = found
        .as_ref()
        .and_then(|s| s.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let permit = tokio::time::timeout(CHECK_WAIT, st.brake.checks.acquire())
        .await
        .map_err(|_| {
            WebError::TooManyAttempts("Sign-in is busy right now; try again in a moment.".into())
        })?
        .map_err(WebError::internal)?;
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(WebError::internal)?;
    drop(permit);
    let mut conn = store.pool().acquire().await?;
    let staff = found.filter(|s| ok && s.password_hash.is_some());
    match staff {
        Some(staff) => {
            rate::clear(&mut conn, "staff_login", &staff_key).await?;
            let device = random_secret();
            sqlx::query(
                "INSERT INTO staff_devices (token_hash, staff_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(digest(&device))
            .bind(staff.id)
            .bind(now)
            .bind(now + DEVICE_MS)
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM staff_devices WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *conn)
                .await?;
            rate::sweep(&mut conn, now - 24 * 3_600_000).await?;
            Ok(Some(SignedIn { staff, device }))
        }
        None => {
            rate::record(&mut conn, "staff_login", &staff_key, now).await?;
            if let Some(ip) = attempt.client {
                rate::record(&mut conn, "login_client", &ip.to_string(), now).await?;
            }
            Ok(None)
        }
    }
}

/// The client's address: the peer of the connection, or, when
/// `web.trust_forwarded_for` says a reverse proxy stands in front, the last
/// address that proxy appended to `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if st.desk.settings().web.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        Ok(ClientAddr(peer))
    }
}

/// The staff member a device secret belongs to, when it is valid.
async fn device_owner(
    conn: &mut sqlx::AnyConnection,
    secret: &str,
    now: i64,
) -> Result<Option<i64>, WebError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT staff_id FROM staff_devices WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(digest(secret))
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

async fn wait_minutes(
    conn: &mut sqlx::AnyConnection,
    scope: &str,
    key: &str,
    now: i64,
) -> Result<i64, WebError> {
    let oldest = rate::oldest_since(conn, scope, key, now - GUARD_WINDOW_MS)
        .await?
        .unwrap_or(now);
    Ok((oldest + GUARD_WINDOW_MS - now + 59_999).max(60_000) / 60_000)
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such staff member here").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(hash_password("short").is_err());
    }
}
