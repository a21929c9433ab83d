//! `Money`: an amount of rupiah held as integer minor units (sen, 1/100).
//!
//! Owns the parsing of one amount as a person types it (Indonesian and
//! English notations, `juta`/`rb`/`k` multipliers) and its display in either
//! language. Invariant: never a float anywhere; every arithmetic step is
//! checked so an absurd amount is an error instead of a wrap-around.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::Lang;

/// Sen per rupiah.
const MINOR_PER_MAJOR: i64 = 100;
/// Amounts must stay below 10^15 rupiah (far above any real top-up, far
/// below `i64::MAX` sen).
const MAX_MAJOR_EXCLUSIVE: i64 = 1_000_000_000_000_000;

/// An amount of rupiah in minor units (sen). Serialised as the plain string
/// of [`Money::to_plain`], e.g. `"1500000"` or `"1500000.50"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a typed amount could not be read. The text is shown to a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing but spaces or a currency sign.
    #[error("no amount was given")]
    Empty,
    /// Characters that are not part of an amount.
    #[error("{0:?} is not an amount (write it like Rp 1.500.000 or 1,5 juta)")]
    Invalid(String),
    /// More than two decimals of a rupiah.
    #[error("{0:?} has more precision than a sen (at most 2 decimals)")]
    TooPrecise(String),
    /// Zero or negative.
    #[error("the amount must be more than zero")]
    NotPositive,
    /// 10^15 rupiah or more.
    #[error("the amount is too large")]
    TooLarge,
}

impl Money {
    /// An amount from sen.
    pub const fn from_minor(minor: i64) -> Money {
        Money(minor)
    }

    /// An amount from whole rupiah: `1_500_000` is Rp 1.500.000. Saturates
    /// instead of overflowing (no real amount comes near).
    pub fn from_major(major: i64) -> Money {
        Money(major.saturating_mul(MINOR_PER_MAJOR))
    }

    /// The amount in sen.
    pub fn minor(self) -> i64 {
        self.0
    }

    /// Sum of two amounts, `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Reads ONE amount as a person types it: `1500000`, `1.500.000`,
    /// `Rp 1.500.000,50`, `IDR 1,500,000.00`, `1,5 juta`, `1.5jt`, `750rb`,
    /// `500k`, `Rp. 1.500.000,-`, `1.500.000 IDR`.
    ///
    /// A lone separator followed by exactly three digits is read as a
    /// thousands separator (`1.500` is fifteen hundred rupiah), except before
    /// a multiplier word, where it is a decimal point (`1.5 juta`).
    ///
    /// # Errors
    /// [`AmountError`] says what is wrong: empty, not a number, more than two
    /// decimals, not positive, or 10^15 rupiah or more.
    pub fn parse(s: &str) -> Result<Money, AmountError> {
        let original = s.trim();
        let mut rest = original.replace('\u{a0}', " ");
        rest = rest.trim().to_string();
        let lower = rest.to_lowercase();
        let mut body: &str = &lower;

        // Currency before the number.
        for cur in ["rp.", "rp", "idr"] {
            if let Some(stripped) = body.strip_prefix(cur) {
                body = stripped.trim_start();
                break;
            }
        }
        // Currency after the number.
        for cur in ["idr", "rupiah", "rp"] {
            if let Some(stripped) = body.strip_suffix(cur) {
                body = stripped.trim_end();
                break;
            }
        }
        // "Rp 1.500.000,-" and "Rp 1.500.000,--": the dash means "no sen".
        let body = body.trim_end_matches('-').trim_end();
        let body = body.strip_suffix(',').unwrap_or(body).trim_end();
        let body = body.strip_suffix('.').unwrap_or(body).trim_end();
        if body.is_empty() {
            return Err(AmountError::Empty);
        }
        if body.starts_with('-') {
            return Err(AmountError::NotPositive);
        }

        // Multiplier after the number.
        let mut multiplier: i64 = 1;
        let mut number = body;
        for (word, factor) in MULTIPLIERS {
            if let Some(stripped) = body.strip_suffix(word) {
                let stripped = stripped.trim_end();
                if stripped.ends_with(|c: char| c.is_ascii_digit()) {
                    multiplier = *factor;
                    number = stripped;
                    break;
                }
            }
        }

        let invalid = || AmountError::Invalid(original.to_string());
        let (int_digits, frac_digits) =
            split_number(number, multiplier != 1).ok_or_else(invalid)?;
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        let minor = to_minor(&int_digits, &frac_digits, multiplier)
            .ok_or_else(|| too_precise_or_large(original, &frac_digits, multiplier))?;
        Money::checked_positive(minor)
    }

    /// Checks the range rule shared by every constructor from text.
    fn checked_positive(minor: i64) -> Result<Money, AmountError> {
        if minor <= 0 {
            return Err(AmountError::NotPositive);
        }
        if minor / MINOR_PER_MAJOR >= MAX_MAJOR_EXCLUSIVE {
            return Err(AmountError::TooLarge);
        }
        Ok(Money(minor))
    }

    /// `"1500000"`, or `"1500000.50"` when the sen are not zero.
    pub fn to_plain(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let major = abs / MINOR_PER_MAJOR as u64;
        let sen = abs % MINOR_PER_MAJOR as u64;
        if sen == 0 {
            format!("{sign}{major}")
        } else {
            format!("{sign}{major}.{sen:02}")
        }
    }

    /// The amount as a person of that language reads it:
    /// Id `Rp 1.500.000` / `Rp 1.500.000,50`; En `IDR 1,500,000` /
    /// `IDR 1,500,000.50`.
    pub fn display(self, lang: Lang) -> String {
        let (currency, group, decimal) = match lang {
            Lang::Id => ("Rp", '.', ','),
            Lang::En => ("IDR", ',', '.'),
        };
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let major = (abs / MINOR_PER_MAJOR as u64).to_string();
        let sen = abs % MINOR_PER_MAJOR as u64;
        let mut grouped = String::with_capacity(major.len() + major.len() / 3);
        for (i, c) in major.chars().enumerate() {
            if i > 0 && (major.len() - i).is_multiple_of(3) {
                grouped.push(group);
            }
            grouped.push(c);
        }
        if sen == 0 {
            format!("{currency} {sign}{grouped}")
        } else {
            format!("{currency} {sign}{grouped}{decimal}{sen:02}")
        }
    }

    /// Reads the plain form written by [`Money::to_plain`] (also used for
    /// deserialising): optional `-`, digits, optional `.` and 1-2 digits.
    fn from_plain(s: &str) -> Option<Money> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let minor = to_minor(int, frac, 1)?;
        Some(Money(if neg { -minor } else { minor }))
    }
}

/// Multiplier words, longest first so `juta` wins over `jt` style prefixes.
const MULTIPLIERS: &[(&str, i64)] = &[
    ("miliar", 1_000_000_000),
    ("milyar", 1_000_000_000),
    ("billion", 1_000_000_000),
    ("million", 1_000_000),
    ("thousand", 1_000),
    ("juta", 1_000_000),
    ("jt", 1_000_000),
    ("ribu", 1_000),
    ("rb", 1_000),
    ("k", 1_000),
];

/// Splits a number with `.`/`,` separators into integer and fraction
/// digits. `None` when it is not a well-formed number.
fn split_number(s: &str, has_multiplier: bool) -> Option<(String, String)> {
    let s = s.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',' || c == ' ')
    {
        return None;
    }
    // Spaces are accepted only as thousands groups ("1 500 000").
    let s: String = if s.contains(' ') {
        let parts: Vec<&str> = s.split(' ').collect();
        if parts[1..]
            .iter()
            .all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
            && parts[0].bytes().all(|b| b.is_ascii_digit())
            && !parts[0].is_empty()
            && parts[0].len() <= 3
        {
            parts.concat()
        } else {
            return None;
        }
    } else {
        s.to_string()
    };
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let dots = s.matches('.').count();
    let commas = s.matches(',').count();
    let (group_sep, decimal_sep): (Option<char>, Option<char>) = match (dots, commas) {
        (0, 0) => (None, None),
        (_, 0) | (0, _) => {
            let sep = if dots > 0 { '.' } else { ',' };
            let count = dots.max(commas);
            let after = s.rsplit(sep).next().unwrap_or("");
            if count > 1 {
                (Some(sep), None)
            } else if has_multiplier || after.len() != 3 {
                (None, Some(sep))
            } else {
                (Some(sep), None)
            }
        }
        _ => {
            // Both: the one that comes last is the decimal separator.
            let last_dot = s.rfind('.').unwrap_or(0);
            let last_comma = s.rfind(',').unwrap_or(0);
            if last_dot > last_comma {
                if dots > 1 {
                    return None;
                }
                (Some(','), Some('.'))
            } else {
                if commas > 1 {
                    return None;
                }
                (Some('.'), Some(','))
            }
        }
    };
    let (int_part, frac_part) = match decimal_sep {
        Some(d) => {
            let (i, f) = s.split_once(d)?;
            (i.to_string(), f.to_string())
        }
        None => (s.clone(), String::new()),
    };
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if decimal_sep.is_some() && frac_part.is_empty() {
        return None;
    }
    let int_digits = match group_sep {
        Some(g) => {
            let groups: Vec<&str> = int_part.split(g).collect();
            let first_ok = !groups[0].is_empty() && groups[0].len() <= 3;
            let rest_ok = groups[1..].iter().all(|p| p.len() == 3);
            if !(first_ok && rest_ok) {
                return None;
            }
            groups.concat()
        }
        None => int_part,
    };
    if !int_digits.bytes().all(|b| b.is_ascii_digit()) || int_digits.is_empty() {
        return None;
    }
    Some((int_digits, frac_part))
}

/// `int.frac × multiplier` in sen, `None` when it overflows or is finer
/// than a sen.
fn to_minor(int: &str, frac: &str, multiplier: i64) -> Option<i64> {
    let mut value: i64 = 0;
    for b in int.bytes() {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let mut minor = value
        .checked_mul(multiplier)?
        .checked_mul(MINOR_PER_MAJOR)?;
    // The fraction times multiplier times 100 must be a whole number of sen.
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        let mut numerator: i64 = 0;
        for b in frac.bytes() {
            numerator = numerator
                .checked_mul(10)?
                .checked_add(i64::from(b - b'0'))?;
        }
        let denominator = 10_i64.checked_pow(u32::try_from(frac.len()).ok()?)?;
        let scaled = numerator
            .checked_mul(multiplier)?
            .checked_mul(MINOR_PER_MAJOR)?;
        if scaled % denominator != 0 {
            return None;
        }
        minor = minor.checked_add(scaled / denominator)?;
    }
    Some(minor)
}

fn too_precise_or_large(original: &str, frac: &str, multiplier: i64) -> AmountError {
    let frac = frac.trim_end_matches('0');
    let fine = frac.len() <= 2 && multiplier == 1;
    if !frac.is_empty() && !fine && frac.len() <= 18 {
        // A fraction that fits but does not land on a sen.
        AmountError::TooPrecise(original.to_string())
    } else {
        AmountError::TooLarge
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_plain())
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_plain())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Money::from_plain(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a plain amount")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        match Money::parse(s) {
            Ok(m) => m.to_plain(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn parses_every_notation_people_type() {
        let cases = [
            ("1500000", "1500000"),
            ("1.500.000", "1500000"),
            ("1,500,000", "1500000"),
            ("Rp 1.500.000", "1500000"),
            ("Rp1.500.000", "1500000"),
            ("Rp1.500.000,00", "1500000"),
            ("Rp. 1.500.000,-", "1500000"),
            ("Rp 1.500.000,50", "1500000.50"),
            ("IDR 1,500,000.00", "1500000"),
            ("IDR 1.500.000", "1500000"),
            ("1.500.000 IDR", "1500000"),
            ("idr 1,500,000.5", "1500000.50"),
            ("1,5 juta", "1500000"),
            ("1,5jt", "1500000"),
            ("1.5jt", "1500000"),
            ("2 jt", "2000000"),
            ("Rp 10 juta", "10000000"),
            ("750rb", "750000"),
            ("750 ribu", "750000"),
            ("500k", "500000"),
            ("500K", "500000"),
            ("1.250 juta", "1250000"),
            ("Rp\u{a0}1.500.000", "1500000"),
            ("1 500 000", "1500000"),
            ("2 miliar", "2000000000"),
            ("IDR 2.5 million", "2500000"),
            ("750 thousand", "750000"),
        ];
        for (input, want) in cases {
            assert_eq!(p(input), want, "input {input:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_one_positive_amount() {
        assert_eq!(Money::parse("  "), Err(AmountError::Empty));
        assert_eq!(Money::parse("Rp"), Err(AmountError::Empty));
        assert_eq!(Money::parse("0"), Err(AmountError::NotPositive));
        assert_eq!(Money::parse("-5"), Err(AmountError::NotPositive));
        assert!(matches!(Money::parse("abc"), Err(AmountError::Invalid(_))));
        assert!(matches!(
            Money::parse("1.50.000"),
            Err(AmountError::Invalid(_))
        ));
        assert!(matches!(
            Money::parse("12 34"),
            Err(AmountError::Invalid(_))
        ));
        assert!(matches!(Money::parse("1,234"), Ok(m) if m == Money::from_major(1234)));
        assert_eq!(Money::parse("1,555"), Ok(Money::from_major(1555)));
        assert!(matches!(Money::parse("1.001"), Ok(m) if m == Money::from_major(1001)));
        assert_eq!(Money::parse("10,123"), Ok(Money::from_major(10_123)));
        assert!(matches!(Money::parse("1,2345 jt"), Ok(m) if m == Money::from_major(1_234_500)));
        assert!(matches!(
            Money::parse("1.5,5"),
            Err(AmountError::Invalid(_))
        ));
        assert_eq!(Money::parse("1000000000000000"), Err(AmountError::TooLarge));
        assert_eq!(
            Money::parse("999999999999999").map(Money::to_plain),
            Ok("999999999999999".to_string())
        );
        assert_eq!(
            Money::parse("99999999999999999999999"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn too_precise_amount_is_named() {
        assert!(matches!(
            Money::parse("1,234567891 jt"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            Money::parse("1.5555"),
            Err(AmountError::TooPrecise(_))
        ));
        let msg = Money::parse("x1").map(|_| ()).unwrap_err().to_string();
        assert!(msg.contains("not an amount"), "{msg}");
    }

    #[test]
    fn displays_in_each_language_and_round_trips() {
        let m = Money::from_major(1_500_000);
        assert_eq!(m.display(Lang::Id), "Rp 1.500.000");
        assert_eq!(m.display(Lang::En), "IDR 1,500,000");
        let s = Money::from_minor(150_000_050);
        assert_eq!(s.display(Lang::Id), "Rp 1.500.000,50");
        assert_eq!(s.display(Lang::En), "IDR 1,500,000.50");
        assert_eq!(Money::from_major(999).display(Lang::Id), "Rp 999");
        assert_eq!(Money::from_major(1000).display(Lang::En), "IDR 1,000");
        for m in [m, s, Money::from_minor(1), Money::from_major(123_456_789)] {
            assert_eq!(Money::parse(&m.display(Lang::Id)), Ok(m));
            assert_eq!(Money::parse(&m.display(Lang::En)), Ok(m));
            assert_eq!(Money::parse(&m.to_plain()), Ok(m));
            assert_eq!(m.to_string(), m.to_plain());
        }
    }

    #[test]
    fn arithmetic_and_units() {
        assert_eq!(Money::from_major(1_500_000).minor(), 150_000_000);
        assert_eq!(
            Money::from_major(1).checked_add(Money::from_minor(50)),
            Some(Money::from_minor(150))
        );
        assert_eq!(
            Money::from_minor(i64::MAX).checked_add(Money::from_minor(1)),
            None
        );
    }

    #[test]
    fn serde_uses_the_plain_string() -> Result<(), serde_json::Error> {
        let m = Money::from_minor(150_000_050);
        assert_eq!(serde_json::to_string(&m)?, "\"1500000.50\"");
        assert_eq!(serde_json::from_str::<Money>("\"1500000.50\"")?, m);
        assert_eq!(
            serde_json::from_str::<Money>("\"0\"")?,
            Money::from_minor(0)
        );
        assert!(serde_json::from_str::<Money>("\"1.500.000\"").is_err());
        Ok(())
    }
}
