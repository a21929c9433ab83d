//! Staff passwords (argon2) for the staff web board.

use argon2::Argon2;
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

/// How many failed sign-ins one login name may have within [`GUARD_WINDOW_MS`].
pub const GUARD_MAX_FAILURES: usize = 5;
/// The window over which failed sign-ins are counted (15 minutes).
pub const GUARD_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A brake on guessing staff passwords: after [`GUARD_MAX_FAILURES`] failed
/// sign-ins for one login name within [`GUARD_WINDOW_MS`], that name is refused
/// without checking the password until the oldest failure leaves the window.
/// Known and unknown names are treated alike, so it reveals no names.
#[derive(Debug, Default)]
pub struct LoginGuard(std::sync::Mutex<std::collections::HashMap<String, Vec<i64>>>);

impl LoginGuard {
    fn key(login: &str) -> String {
        login.trim().to_lowercase()
    }

    /// Milliseconds until `login` may try again, when it is blocked now.
    pub fn blocked_for(&self, login: &str, now: i64) -> Option<i64> {
        let mut map = self.0.lock().ok()?;
        let failures = map.get_mut(&Self::key(login))?;
        failures.retain(|t| *t > now - GUARD_WINDOW_MS);
        (failures.len() >= GUARD_MAX_FAILURES).then(|| {
            failures
                .first()
                .map_or(0, |first| first + GUARD_WINDOW_MS - now)
        })
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, login: &str, now: i64) {
        if let Ok(mut map) = self.0.lock() {
            map.entry(Self::key(login)).or_default().push(now);
        }
    }

    /// Forgets the failures of a name that signed in.
    pub fn succeeded(&self, login: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&Self::key(login));
        }
    }
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

    #[test]
    fn five_failures_block_a_name_for_the_rest_of_the_window() {
        let g = LoginGuard::default();
        for i in 0..5 {
            assert_eq!(g.blocked_for("Rina", i * 1000), None);
            g.failed("rina ", i * 1000);
        }
        let wait = g.blocked_for("RINA", 10_000).unwrap();
        assert_eq!(wait, GUARD_WINDOW_MS - 10_000);
        assert_eq!(
            g.blocked_for("budi", 10_000),
            None,
            "other names are not affected"
        );
        assert_eq!(
            g.blocked_for("rina", GUARD_WINDOW_MS + 1),
            None,
            "the first failure left the window"
        );
        g.succeeded("rina");
        assert_eq!(g.blocked_for("rina", 10_000), None);
    }
}
