//! Amounts and dates as bank exports write them.
//!
//! Indonesian exports write `2.500.000,00`, English ones `2,500,000.00`, and
//! some banks mix both in one portal. Rupiah never have more than two
//! decimals, so the notation of one cell is never a guess: a lone separator
//! followed by three digits groups thousands, one followed by one or two
//! digits is the decimal point, and with both separators the last one is
//! the decimal point. Every group after the first must have exactly three
//! digits; anything else is refused rather than read as some other sum.

use chrono::{Datelike, NaiveDate};

/// Whether money came in or went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Money in (`CR`, `K`, `C`, a positive mutation).
    Credit,
    /// Money out (`DB`, `D`, a negative mutation).
    Debit,
}

impl Direction {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        }
    }

    /// Reads a marker column or suffix: `CR`, `C`, `K`, `Kredit`, `Credit` /
    /// `DB`, `D`, `Debet`, `Debit`. `None` for anything else.
    pub fn from_marker(s: &str) -> Option<Direction> {
        match s.trim().trim_matches('\'').to_ascii_uppercase().as_str() {
            "CR" | "C" | "K" | "KR" | "KREDIT" | "CREDIT" | "CRE" => Some(Direction::Credit),
            "DB" | "D" | "DR" | "DEBET" | "DEBIT" | "DEB" => Some(Direction::Debit),
            _ => None,
        }
    }
}

/// Largest amount on a statement line: 10^15 rupiah (in sen), as for orders.
const MAX_MINOR: i64 = 100_000_000_000_000_000;

/// An amount cell read: minor units (sen), never negative, and the
/// direction its sign or marker gave (`None`: the cell had neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    /// Sen.
    pub minor: i64,
    /// From a sign (`-`, parentheses) or a `CR`/`DB` suffix.
    pub direction: Option<Direction>,
}

/// Reads an amount cell: `2.500.000,00`, `2,500,000.00`, `2500000`,
/// `Rp 2.500.000`, `-150.000`, `(150,000.00)`, `2,500,000.00 CR`,
/// `1.000.000,00 DB`, `'2500000.00`. Empty cells are `Ok(None)`.
///
/// # Errors
/// A sentence saying what is wrong with the cell.
pub fn parse_amount(cell: &str) -> Result<Option<Amount>, String> {
    let mut s = cell
        .trim()
        .trim_start_matches('\'')
        .replace(['\u{a0}', ' '], "");
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    let mut direction = None;
    let upper = s.to_ascii_uppercase();
    for (suffix, d) in [
        ("CR", Direction::Credit),
        ("DB", Direction::Debit),
        ("DR", Direction::Debit),
        ("K", Direction::Credit),
        ("D", Direction::Debit),
    ] {
        if upper.ends_with(suffix) && upper.len() > suffix.len() {
            direction = Some(d);
            s.truncate(s.len() - suffix.len());
            break;
        }
    }
    let mut body = s.as_str();
    for cur in ["Rp.", "Rp", "RP", "IDR"] {
        if let Some(rest) = body.strip_prefix(cur) {
            body = rest;
            break;
        }
    }
    let mut negative = false;
    if let Some(inner) = body.strip_prefix('(').and_then(|b| b.strip_suffix(')')) {
        negative = true;
        body = inner;
    }
    if let Some(rest) = body.strip_prefix('-') {
        negative = true;
        body = rest;
    } else if let Some(rest) = body.strip_suffix('-') {
        negative = true;
        body = rest;
    } else if let Some(rest) = body.strip_prefix('+') {
        body = rest;
    }
    let minor =
        parse_unsigned(body).ok_or_else(|| format!("{:?} is not an amount", cell.trim()))?;
    if negative {
        if direction == Some(Direction::Credit) {
            return Err(format!("{:?} is negative and marked credit", cell.trim()));
        }
        direction = Some(Direction::Debit);
    }
    Ok(Some(Amount { minor, direction }))
}

/// Digits with grouping and at most two decimals, to sen.
fn parse_unsigned(body: &str) -> Option<i64> {
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let last_dot = body.rfind('.');
    let last_comma = body.rfind(',');
    // Which separator is the decimal point, if any.
    let decimal = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(d.max(c)),
        (Some(p), None) | (None, Some(p)) => {
            let sep = body.as_bytes()[p];
            let count = body.bytes().filter(|&b| b == sep).count();
            let after = body.len() - p - 1;
            if count == 1 && after != 3 {
                Some(p)
            } else {
                None
            }
        }
        (None, None) => None,
    };
    let (int_part, frac) = match decimal {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, ""),
    };
    if frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // The grouping separator is the other one; every group after the first has three digits.
    let groups: Vec<&str> = int_part.split(['.', ',']).collect();
    let seps: Vec<char> = int_part.chars().filter(|c| !c.is_ascii_digit()).collect();
    if seps.windows(2).any(|w| w[0] != w[1]) {
        return None;
    }
    if let Some(p) = decimal
        && seps.first() == Some(&(body.as_bytes()[p] as char))
    {
        return None;
    }
    if groups
        .first()
        .is_none_or(|g| g.is_empty() || g.len() > 3 && groups.len() > 1)
        || groups.iter().skip(1).any(|g| g.len() != 3)
    {
        return None;
    }
    let digits: String = groups.concat();
    if digits.len() > 16 {
        return None;
    }
    let major: i64 = digits.parse().ok()?;
    let sen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let minor = major.checked_mul(100)?.checked_add(sen)?;
    (minor < MAX_MINOR).then_some(minor)
}

/// Reads a date cell in the formats the exports use (`30/11/2026`,
/// `30/11/26`, `30-11-2026`, `2026-11-30`, `30 Nov 2026`, `30/11` with the
/// year of the statement period, with or without a time after it).
///
/// # Errors
/// A sentence saying what is wrong with the cell.
pub fn parse_date(cell: &str, year: Option<i32>, formats: &[String]) -> Result<NaiveDate, String> {
    let s = cell.trim().trim_start_matches('\'').trim();
    // A time after the date ("30/11/2026 10:15:00") is not needed.
    let day = s.split_whitespace().collect::<Vec<_>>();
    let candidates: Vec<String> = if day.len() >= 3 && day[1].chars().all(char::is_alphabetic) {
        vec![day[..3].join(" ")]
    } else {
        vec![day.first().copied().unwrap_or("").to_string()]
    };
    for c in &candidates {
        for f in formats {
            if let Ok(d) = NaiveDate::parse_from_str(c, f) {
                return Ok(d);
            }
        }
        // `%Y` also reads "26" as the year 26: a two-digit year goes to `%y` below.
        for f in [
            "%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y", "%d %b %Y", "%d %B %Y",
        ] {
            if let Ok(d) = NaiveDate::parse_from_str(c, f)
                && d.year() >= 1000
            {
                return Ok(d);
            }
        }
        for f in ["%d/%m/%y", "%d-%m-%y"] {
            if let Ok(d) = NaiveDate::parse_from_str(c, f) {
                return Ok(d);
            }
        }
        if let Some(y) = year {
            for sep in ['/', '-'] {
                if let Some((d, m)) = c.split_once(sep)
                    && let (Ok(d), Ok(m)) = (d.parse::<u32>(), m.parse::<u32>())
                    && let Some(date) = NaiveDate::from_ymd_opt(y, m, d)
                {
                    return Ok(date);
                }
            }
        }
    }
    Err(format!("{s:?} is not a date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(s: &str) -> i64 {
        parse_amount(s).unwrap().unwrap().minor
    }

    #[test]
    fn both_notations_read_the_same_sum() {
        for s in [
            "2.500.000,00",
            "2,500,000.00",
            "2500000",
            "2500000.00",
            "2500000,00",
            "2.500.000",
            "2,500,000",
            "Rp 2.500.000",
            "'2500000.00",
            "IDR 2,500,000.00",
        ] {
            assert_eq!(minor(s), 250_000_000, "{s}");
        }
        assert_eq!(minor("1.500"), 150_000);
        assert_eq!(minor("1,50"), 150);
        assert_eq!(minor("2.500.123,5"), 250_012_350);
    }

    #[test]
    fn signs_and_markers_give_the_direction() {
        let a = parse_amount("2,500,000.00 CR").unwrap().unwrap();
        assert_eq!(
            (a.minor, a.direction),
            (250_000_000, Some(Direction::Credit))
        );
        let a = parse_amount("1.000.000,00 DB").unwrap().unwrap();
        assert_eq!(a.direction, Some(Direction::Debit));
        let a = parse_amount("-150.000").unwrap().unwrap();
        assert_eq!((a.minor, a.direction), (15_000_000, Some(Direction::Debit)));
        let a = parse_amount("(150,000.00)").unwrap().unwrap();
        assert_eq!(a.direction, Some(Direction::Debit));
        assert_eq!(parse_amount("").unwrap(), None);
        assert_eq!(parse_amount(" - ").unwrap(), None);
        assert!(parse_amount("-5 CR").is_err());
    }

    #[test]
    fn malformed_amounts_are_refused_not_misread() {
        for s in [
            "2.500,000.00",
            "2.50.000",
            "1.500,000",
            "12,3456",
            "abc",
            "1e6",
            "2,500.000,00",
            "99999999999999999999",
            "..",
            ",5",
            "1234.567.000",
        ] {
            assert!(parse_amount(s).is_err(), "{s} should be refused");
        }
    }

    #[test]
    fn dates_in_every_export_form() {
        let want = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        for s in [
            "30/11/2026",
            "30/11/26",
            "2026-11-30",
            "30-11-2026",
            "'30/11",
            "30/11/2026 10:15:00",
            "30 Nov 2026",
        ] {
            assert_eq!(parse_date(s, Some(2026), &[]).unwrap(), want, "{s}");
        }
        assert!(parse_date("31/02/2026", None, &[]).is_err());
        assert!(parse_date("PEND", Some(2026), &[]).is_err());
        assert!(parse_date("30/11", None, &[]).is_err());
    }
}
