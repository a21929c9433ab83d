//! `OrderNumber`: `PREFIX-YYYYMMDD-NNNN`, the name customers use for an order.
//!
//! Owns reading every way a customer types one (`tu-20261125-0042`,
//! `TU202611250042`, `TU 20261125 0042`, `#TU-…`, `(TU-…)`, `` `TU-…` ``,
//! `**TU-…**`) and finding them in free text. Invariant: the canonical form is
//! upper-case prefix, hyphens, the date as a real calendar date and the
//! sequence digits exactly as written (leading zeros kept, 4 to 9 digits).

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An order number such as `TU-20261125-0042`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderNumber {
    prefix: String,
    date: NaiveDate,
    seq: String,
    canonical: String,
}

/// Why a text is not an order number. The text is shown to a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderNumberError {
    /// Nothing was given.
    #[error("no order number was given")]
    Empty,
    /// Not of the form `PREFIX-YYYYMMDD-NNNN`.
    #[error("{0:?} is not an order number (they look like {1}-20261125-0042)")]
    Malformed(String, String),
    /// The date part is no calendar date.
    #[error("{0:?} is not an order number: its date part is not a real date")]
    BadDate(String),
}

/// Characters that may separate the parts: hyphens of every kind (also the
/// Markdown-escaped `\-` Discord produces and the minus sign), underscores,
/// spaces, slashes, dots, a colon and a hash (`TU.20261125.0042`, `TU :
/// 20261125-0042`, `TU#20261125-0042`).
const SEP: &str = r"[\s\-_/.:#\u{2010}-\u{2015}\u{2212}\\]{0,3}";

/// The date part: eight digits, or the date written with its own separators
/// (`2026-11-25`, `2026.11.25`, `2026 1125`).
const DATE: &str = r"(\d{4})[\s\-./\u{2010}-\u{2015}]?(\d{2})[\s\-./\u{2010}-\u{2015}]?(\d{2})";

/// Wrapping people put around a single number: `#`, brackets, code spans,
/// Markdown bold/italics, quotes and trailing punctuation.
const WRAPPING: &[char] = &[
    '#', '(', ')', '[', ']', '{', '}', '<', '>', '`', '*', '_', '"', '\'', '.', ',', ':', ';', '!',
    '?', '“', '”', '‘', '’', '|', '~',
];

impl OrderNumber {
    /// The prefix of this desk's order numbers.
    pub const DEFAULT_PREFIX: &'static str = "TU";

    /// A new order number; `seq` is zero-padded to at least 4 digits.
    pub fn new(prefix: &str, date: NaiveDate, seq: u32) -> OrderNumber {
        OrderNumber::from_parts(prefix, date, format!("{seq:04}"))
    }

    fn from_parts(prefix: &str, date: NaiveDate, seq: String) -> OrderNumber {
        let prefix = prefix.to_uppercase();
        let canonical = format!("{prefix}-{}-{seq}", date.format("%Y%m%d"));
        OrderNumber {
            prefix,
            date,
            seq,
            canonical,
        }
    }

    /// Reads one order number with the default prefix `TU`, in any of the
    /// notations customers use.
    ///
    /// # Errors
    /// [`OrderNumberError`] when the text is empty, is not an order number,
    /// or its date part is not a calendar date.
    pub fn parse(s: &str) -> Result<OrderNumber, OrderNumberError> {
        OrderNumber::parse_with_prefix(s, OrderNumber::DEFAULT_PREFIX)
    }

    /// Like [`OrderNumber::parse`] for another prefix (case-insensitive).
    ///
    /// # Errors
    /// As [`OrderNumber::parse`].
    pub fn parse_with_prefix(s: &str, prefix: &str) -> Result<OrderNumber, OrderNumberError> {
        let trimmed = s
            .trim()
            .trim_matches(|c: char| c.is_whitespace() || WRAPPING.contains(&c));
        if trimmed.is_empty() {
            return Err(OrderNumberError::Empty);
        }
        let malformed = || OrderNumberError::Malformed(s.trim().to_string(), prefix.to_uppercase());
        let re = cached_regex(&format!(
            r"(?i)^({}){SEP}{DATE}{SEP}(\d{{4,9}})$",
            spoken_prefix(prefix)
        ))
        .ok_or_else(malformed)?;
        let caps = re.captures(trimmed).ok_or_else(malformed)?;
        let seq = &caps[5];
        let date = date_of(&caps).ok_or_else(|| OrderNumberError::BadDate(s.trim().to_string()))?;
        Ok(OrderNumber::from_parts(prefix, date, seq.to_string()))
    }

    /// The canonical form, e.g. `TU-20261125-0042`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The order's creation date written in the number.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// The per-day sequence as written (`0042`).
    pub fn sequence(&self) -> &str {
        &self.seq
    }

    /// The prefix (upper case).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every order number in free text, in order of first appearance,
    /// without duplicates. Other systems' numbers (`INV-20261125-0042`) and
    /// bare digit runs are not order numbers; neither is a match whose date
    /// part is no calendar date.
    pub fn find_all(text: &str, prefix: &str) -> Vec<OrderNumber> {
        OrderNumber::find_all_at(text, prefix, usize::MAX)
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    /// Like [`OrderNumber::find_all`], with the byte offset in `text` where
    /// each number is first written, stopping after `limit` distinct
    /// numbers. Linear in the text: a message naming fifty thousand numbers
    /// costs one scan, not fifty thousand.
    pub fn find_all_at(text: &str, prefix: &str, limit: usize) -> Vec<(usize, OrderNumber)> {
        OrderNumber::find_all_spans(text, prefix, limit)
            .into_iter()
            .map(|(span, n)| (span.start, n))
            .collect()
    }

    /// Like [`OrderNumber::find_all_at`], with the byte range of each number
    /// as first written (`TU202611250042` is shorter than its canonical form).
    pub fn find_all_spans(
        text: &str,
        prefix: &str,
        limit: usize,
    ) -> Vec<(std::ops::Range<usize>, OrderNumber)> {
        let mut found: Vec<(std::ops::Range<usize>, OrderNumber)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        OrderNumber::each_span(text, prefix, |span, number| {
            if found.len() >= limit {
                return ControlFlow::Break(());
            }
            if seen.insert(number.canonical.clone()) {
                found.push((span, number));
            }
            ControlFlow::Continue(())
        });
        found
    }

    /// Every order number in `text` where it is written, repeats included,
    /// stopping after `limit` writings.
    pub fn written_spans(
        text: &str,
        prefix: &str,
        limit: usize,
    ) -> Vec<(std::ops::Range<usize>, OrderNumber)> {
        let mut found = Vec::new();
        OrderNumber::each_span(text, prefix, |span, number| {
            if found.len() >= limit {
                return ControlFlow::Break(());
            }
            found.push((span, number));
            ControlFlow::Continue(())
        });
        found
    }

    /// The order of the same day with sequence `seq` (digits as written):
    /// "TU-20261115-0042 dan 0043" names `TU-20261115-0043` too. `None` for
    /// anything but 4 to 9 digits.
    pub fn with_sequence(&self, seq: &str) -> Option<OrderNumber> {
        ((4..=9).contains(&seq.len()) && seq.bytes().all(|b| b.is_ascii_digit()))
            .then(|| OrderNumber::from_parts(&self.prefix, self.date, seq.to_string()))
    }

    /// `text` with every order number it names, each time it is written,
    /// replaced by `with` between two spaces: what is said around the
    /// numbers.
    pub fn masked(text: &str, prefix: &str, with: &str) -> String {
        let mut spans = Vec::new();
        OrderNumber::each_span(text, prefix, |span, _| {
            spans.push(span);
            ControlFlow::Continue(())
        });
        let with = format!(" {with} ");
        let mut rest = text.to_string();
        for span in spans.into_iter().rev() {
            rest.replace_range(span, &with);
        }
        rest
    }

    /// Calls `visit` with every order number in `text` where it is written,
    /// repeats included, until it breaks.
    fn each_span(
        text: &str,
        prefix: &str,
        mut visit: impl FnMut(std::ops::Range<usize>, OrderNumber) -> ControlFlow<()>,
    ) {
        let pattern = format!(
            r"(?i)({}){SEP}{DATE}{SEP}(\d{{4,9}})",
            spoken_prefix(prefix)
        );
        let Some(re) = cached_regex(&pattern) else {
            return;
        };
        for caps in re.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            if !starts_a_word(text, whole.start(), &caps[1]) {
                continue;
            }
            // Greedy `\d{4,9}` ate every digit it could: a digit right after
            // means a longer run, which is some other number.
            if text[whole.end()..].starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let Some(date) = date_of(&caps) else {
                continue;
            };
            let number = OrderNumber::from_parts(prefix, date, caps[5].to_string());
            if visit(whole.range(), number).is_break() {
                return;
            }
        }
    }
}

/// The prefix as a pattern that also takes it spelled out letter by letter,
/// as dictated or typed that way (`T.U. 20261117 0088`, `T U 20261114
/// 0118`).
fn spoken_prefix(prefix: &str) -> String {
    let letters: Vec<String> = prefix
        .chars()
        .map(|c| regex::escape(c.encode_utf8(&mut [0; 4])))
        .collect();
    format!(r"{}\.?", letters.join(r"(?:\.\s?|\s)?"))
}

/// Whether a prefix found at `start` begins a word, or is typed in capitals
/// right after a word in small letters (`buatTU-20261208-0019`): not the
/// tail of another word (`situ 20261201 0042`, `ABSTU-…`).
fn starts_a_word(text: &str, start: usize, matched: &str) -> bool {
    match text[..start].chars().next_back() {
        None => true,
        Some(b) if !b.is_alphanumeric() => true,
        Some(b) => {
            b.is_lowercase()
                && matched
                    .chars()
                    .filter(|c| c.is_alphabetic())
                    .all(char::is_uppercase)
        }
    }
}

/// The calendar date of a match of [`DATE`] (groups 2 to 4).
fn date_of(caps: &regex::Captures<'_>) -> Option<NaiveDate> {
    let part = |i: usize| caps[i].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(part(2)?).ok()?, part(3)?, part(4)?)
}

/// Compiled patterns by source text: a desk uses one prefix, and compiling
/// the Unicode-aware pattern on every message would dominate parsing time.
fn cached_regex(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked mid-insert; the
    // map is still usable.
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(re) = map.get(pattern) {
        return Some(re.clone());
    }
    let re = Regex::new(pattern).ok()?;
    // Bound the cache: prefixes come from configuration, not from mail.
    if map.len() < 64 {
        map.insert(pattern.to_string(), re.clone());
    }
    Some(re)
}

impl std::fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl FromStr for OrderNumber {
    type Err = OrderNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderNumber::parse(s)
    }
}

impl Serialize for OrderNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical)
    }
}

impl<'de> Deserialize<'de> for OrderNumber {
    /// Accepts the canonical form with any prefix.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        let bad = || serde::de::Error::custom(format!("{s:?} is not a canonical order number"));
        let mut parts = s.split('-');
        let (Some(prefix), Some(date), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if prefix.is_empty()
            || !prefix.bytes().all(|b| b.is_ascii_alphabetic())
            || date.len() != 8
            || !digits(date)
            || !(4..=9).contains(&seq.len())
            || !digits(seq)
        {
            return Err(bad());
        }
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| bad())?;
        Ok(OrderNumber::from_parts(prefix, date, seq.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        match OrderNumber::parse(s) {
            Ok(n) => n.to_string(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn reads_every_notation_customers_type() {
        for input in [
            "TU-20261125-0042",
            "tu-20261125-0042",
            "TU202611250042",
            "TU 20261125 0042",
            "#TU-20261125-0042",
            "(TU-20261125-0042)",
            "[TU-20261125-0042]",
            "`TU-20261125-0042`",
            "**TU-20261125-0042**",
            " TU-20261125-0042. ",
            "TU\\-20261125\\-0042",
            "TU–20261125–0042",
            "Tu_20261125_0042",
            "TU.20261125.0042",
            "TU : 20261125-0042",
            "tu-2026-11-25-0042",
            "TU-2026.11.25-0042",
            "TU/2026/11/25/0042",
            "(TU 2026 1125 0042)",
            "TU\u{2212}20261125\u{2212}0042",
            "TU#20261125-0042",
            "T.U. 20261125 0042",
            "T U 20261125 0042",
        ] {
            assert_eq!(canon(input), "TU-20261125-0042", "input {input:?}");
        }
        assert_eq!(canon("tu 20261201 00042"), "TU-20261201-00042");
        assert_eq!(canon("TU2026120100042"), "TU-20261201-00042");
        assert_eq!(canon("TU-20261201-123456"), "TU-20261201-123456");
    }

    #[test]
    fn masking_replaces_every_writing_of_every_number() {
        assert_eq!(
            OrderNumber::masked(
                "TU-20261201-0042 gajadi, tu 20261201 0042 juga. INV-20261201-0042",
                "TU",
                "#order"
            ),
            " #order  gajadi,  #order  juga. INV-20261201-0042"
        );
    }

    #[test]
    fn rejects_other_numbers() {
        assert_eq!(OrderNumber::parse(" ` "), Err(OrderNumberError::Empty));
        for input in [
            "INV-20261125-0042",
            "20261125-0042",
            "TU-2026112-0042",
            "TU-20261125-042",
            "TUX-20261125-0042",
        ] {
            assert!(
                matches!(
                    OrderNumber::parse(input),
                    Err(OrderNumberError::Malformed(..))
                ),
                "input {input:?}"
            );
        }
        assert!(matches!(
            OrderNumber::parse("TU-20261345-0042"),
            Err(OrderNumberError::BadDate(_))
        ));
        let msg = canon("INV-1");
        assert!(msg.contains("TU-20261125-0042"), "{msg}");
    }

    #[test]
    fn other_prefixes() {
        let n = OrderNumber::parse_with_prefix("ab-20261125-0042", "AB");
        assert_eq!(n.map(|n| n.to_string()), Ok("AB-20261125-0042".to_string()));
        assert!(OrderNumber::parse_with_prefix("TU-20261125-0042", "AB").is_err());
        assert_eq!(OrderNumber::find_all("see ab 20261125 0042", "ab").len(), 1);
    }

    #[test]
    fn a_prefix_glued_to_a_word_counts_only_in_capitals_after_small_letters() {
        let found = |s: &str| OrderNumber::find_all(s, "TU").len();
        assert_eq!(found("bkt tf nya 500k buatTU-20261125-0042 ya"), 1);
        assert_eq!(found("situ 20261125 0042"), 0);
        assert_eq!(found("ABSTU-20261125-0042"), 0);
        assert_eq!(found("statu20261125 0042"), 0);
    }

    #[test]
    fn new_pads_and_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).ok_or("date")?;
        let n = OrderNumber::new("TU", date, 42);
        assert_eq!(n.as_str(), "TU-20261125-0042");
        assert_eq!(n.date(), date);
        assert_eq!(
            OrderNumber::new("tu", date, 123_456).as_str(),
            "TU-20261125-123456"
        );
        assert_eq!(n.to_string().parse::<OrderNumber>()?, n);
        let json = serde_json::to_string(&n)?;
        assert_eq!(json, "\"TU-20261125-0042\"");
        assert_eq!(serde_json::from_str::<OrderNumber>(&json)?, n);
        assert!(serde_json::from_str::<OrderNumber>("\"TU202611250042\"").is_err());
        Ok(())
    }

    #[test]
    fn finds_all_in_free_text_in_order_without_duplicates() {
        let text = "Mohon batalkan tu 20261201 00042 (duplikat dari **TU-20261125-0042**), \
                    ref INV-20261125-0043, INV/2026/11/0044, rek 1234567890123, \
                    telp 081234567890, lagi TU-20261201-00042 dan #TU202611250045,TU-20261125-0046.";
        let found: Vec<String> = OrderNumber::find_all(text, "TU")
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "TU-20261201-00042",
                "TU-20261125-0042",
                "TU-20261125-0045",
                "TU-20261125-0046"
            ]
        );
        assert!(
            OrderNumber::find_all("STU-20261125-0042 TU-20261125-00421234567", "TU").is_empty()
        );
        assert!(OrderNumber::find_all("TU-20261399-0042", "TU").is_empty());
    }
}
