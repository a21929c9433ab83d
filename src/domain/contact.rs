//! Who people are, validated at the boundary: email addresses, display
//! names and Discord ids, as operators type them (CLI), customers enter them
//! (account page) and mail brings them. What passes here is safe to store,
//! print in a table and put in a mail header.

use std::fmt;

/// Why a value was refused; the text is what the person is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContactError(pub String);

/// Longest email address (RFC 5321: 254 characters in a path).
const MAX_EMAIL: usize = 254;
/// Longest display name or company name.
pub const MAX_NAME: usize = 120;

/// A valid email address, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses what a person typed: trims spaces and angle brackets, lower-cases;
    /// refuses anything lettre's RFC 5322 parser refuses (spaces, line breaks,
    /// two `@`), control characters, and overlong addresses.
    ///
    /// # Errors
    /// [`ContactError`] saying what is wrong.
    pub fn parse(raw: &str) -> Result<EmailAddress, ContactError> {
        let email = raw.trim().trim_matches(['<', '>']).to_lowercase();
        let shown: String = email.chars().take(60).collect();
        if email.is_empty() {
            return Err(ContactError("the email address is empty".into()));
        }
        if email.chars().count() > MAX_EMAIL {
            return Err(ContactError(format!(
                "the email address is longer than {MAX_EMAIL} characters"
            )));
        }
        if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ContactError(format!(
                "{:?} is not an email address: it contains spaces or line breaks",
                shown.escape_debug().to_string()
            )));
        }
        let parsed: Result<lettre::Address, _> = email.parse();
        match parsed {
            Ok(a) if a.domain().contains('.') || a.domain() == "localhost" => {
                Ok(EmailAddress(email))
            }
            _ => Err(ContactError(format!("{shown:?} is not an email address"))),
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name (a user's name, a company name, a staff name): trimmed,
/// inner runs of spaces made one, no control characters, at most
/// [`MAX_NAME`] characters. `what` names the field in the error.
///
/// # Errors
/// [`ContactError`] when it is empty (and `required`), too long or has control characters.
pub fn parse_name(raw: &str, what: &str, required: bool) -> Result<String, ContactError> {
    if raw.chars().any(|c| c.is_control()) {
        return Err(ContactError(format!(
            "the {what} contains control characters (line breaks, tabs or escape codes)"
        )));
    }
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if required && name.is_empty() {
        return Err(ContactError(format!("the {what} is empty")));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ContactError(format!(
            "the {what} is longer than {MAX_NAME} characters"
        )));
    }
    Ok(name)
}

/// A Discord user id (a snowflake: digits only).
///
/// # Errors
/// [`ContactError`] when it is not a number Discord could have issued.
pub fn parse_discord_id(raw: &str) -> Result<String, ContactError> {
    let id = raw.trim();
    match id.parse::<u64>() {
        Ok(n) if n > 0 && id.len() <= 20 => Ok(n.to_string()),
        _ => Err(ContactError(format!(
            "{:?} is not a Discord user id (digits only, as Discord's \"Copy User ID\" gives it)",
            id.chars().take(30).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_lower_cased_and_checked() {
        assert_eq!(
            EmailAddress::parse(" <Budi@Maju.CO.ID> ").unwrap().as_str(),
            "budi@maju.co.id"
        );
        for bad in [
            "",
            "budi",
            "budi@",
            "@maju.co.id",
            "bu di@maju.co.id",
            "budi@maju.co.id\r\nBcc: x@evil.test",
            "a@b@c.id",
            "budi@nodot",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@maju.co.id", "a".repeat(300));
        assert!(EmailAddress::parse(&long).unwrap_err().0.contains("longer"));
    }

    #[test]
    fn names_are_tidied_and_bounded() {
        assert_eq!(
            parse_name("  PT   Maju  Jaya ", "name", true).unwrap(),
            "PT Maju Jaya"
        );
        assert!(
            parse_name("   ", "name", true)
                .unwrap_err()
                .0
                .contains("empty")
        );
        assert_eq!(parse_name("", "name", false).unwrap(), "");
        assert!(parse_name("PT\u{1b}[31m Merah", "name", true).is_err());
        assert!(parse_name("PT\nBaris", "name", true).is_err());
        assert!(
            parse_name(&"x".repeat(10_000), "name", true)
                .unwrap_err()
                .0
                .contains("longer")
        );
    }

    #[test]
    fn discord_ids_are_snowflakes() {
        assert_eq!(
            parse_discord_id(" 123456789012345678 ").unwrap(),
            "123456789012345678"
        );
        for bad in ["", "abc", "-1", "0", "123 456", "99999999999999999999999"] {
            assert!(parse_discord_id(bad).is_err(), "{bad:?}");
        }
    }
}
