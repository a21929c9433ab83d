//! Bank statements in: MT940 and the CSV / Excel exports of Indonesian
//! business-banking portals, read into one [`Statement`] of [`Line`]s.
//!
//! This module is pure (bytes in, lines out); the desk records and matches
//! the lines ([`crate::desk::statements`]). A file is read whole or refused
//! whole: a row that cannot be read is an error naming the row, never a
//! line silently dropped or an amount guessed, because a misread amount
//! could pay the wrong order. Sizes are bounded before anything is parsed.
//!
//! - [`amount`]: amounts in either notation, `CR`/`DB` markers, dates.
//! - [`table`]: CSV and XLSX/XLS rows, the bank layouts (BCA, Mandiri, BNI,
//!   BRI) and the generic layout from `[statements.csv]`.
//! - [`mt940`]: SWIFT MT940 through the `mt940` crate, after its sanitisers.

pub mod amount;
pub mod mt940;
pub mod table;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

pub use amount::Direction;

/// A statement format: how the lines are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// SWIFT MT940 (any bank's cash-management portal).
    Mt940,
    /// KlikBCA Bisnis "mutasi rekening" export.
    Bca,
    /// Mandiri Cash Management / Livin' export.
    Mandiri,
    /// BNIDirect export.
    Bni,
    /// BRI CMS / Qlola export.
    Bri,
    /// Any CSV or spreadsheet with the column mapping of `[statements.csv]`.
    Csv,
}

impl Format {
    /// Every format, in the order auto-detection tries the table layouts.
    pub const ALL: [Format; 6] = [
        Format::Mt940,
        Format::Bri,
        Format::Mandiri,
        Format::Bni,
        Format::Bca,
        Format::Csv,
    ];

    /// Its name on the command line and in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Mt940 => "mt940",
            Format::Bca => "bca",
            Format::Mandiri => "mandiri",
            Format::Bni => "bni",
            Format::Bri => "bri",
            Format::Csv => "csv",
        }
    }

    /// Reads a format name (`mt940`, `bca`, `mandiri`, `bni`, `bri`, `csv`).
    ///
    /// # Errors
    /// The list of names.
    pub fn parse(s: &str) -> Result<Format, String> {
        let norm = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown statement format {s:?} (one of: mt940, bca, mandiri, bni, bri, csv)"
                )
            })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One booked line of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Its position among the statement's lines, from 1.
    pub line: usize,
    /// Booking (or value) date.
    pub date: NaiveDate,
    /// Money in or out.
    pub direction: Direction,
    /// Sen, never negative.
    pub amount_minor: i64,
    /// The remark ("berita") and whatever else the bank wrote, on one line.
    pub description: String,
    /// The bank's or sender's reference, when the export has one.
    pub reference: Option<String>,
    /// The payer's name, when the export has a column for it.
    pub payer: Option<String>,
    /// Running balance after this line, sen (may be negative).
    pub balance_minor: Option<i64>,
}

/// A statement read from one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// How it was laid out.
    pub format: Format,
    /// Bank name (`BCA`, `Mandiri`, ... or the MT940 sender).
    pub bank: String,
    /// Account number as the file gives it (empty when it does not).
    pub account: String,
    /// Its lines, in file order.
    pub lines: Vec<Line>,
}

/// Bounds on one statement file.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file accepted, bytes.
    pub max_bytes: usize,
    /// Most lines in one file.
    pub max_lines: usize,
    /// Most bytes an Excel file may unpack to (its XML is about ten times
    /// the file; a zip bomb of a few kilobytes unpacks to gigabytes).
    pub max_unpacked: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 20 * 1024 * 1024,
            max_lines: 100_000,
            max_unpacked: 200 * 1024 * 1024,
        }
    }
}

/// Longest description kept, in characters (exports pad remarks; mail bombs pad more).
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest reference kept.
pub const MAX_REFERENCE_CHARS: usize = 64;

/// Why a file was not read. Nothing of it was imported.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// No bytes.
    #[error("the statement file is empty")]
    Empty,
    /// Over [`Limits::max_bytes`].
    #[error("the statement file is {size} bytes, more than the {max} bytes a statement may be")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An Excel file that unpacks to more than [`Limits::max_unpacked`].
    #[error(
        "the Excel file unpacks to more than {0} bytes, far more than a statement; it was not read"
    )]
    TooLargeUnpacked(u64),
    /// Over [`Limits::max_lines`].
    #[error("the statement has more than {0} lines; split it by period")]
    TooManyLines(usize),
    /// Not MT940 and no known table header.
    #[error(
        "this file is not a statement this desk reads: no MT940 tags and no column header of \
         BCA, Mandiri, BNI or BRI (name the format with --format, or map the columns in \
         [statements.csv])"
    )]
    UnknownFormat,
    /// The MT940 parser refused it.
    #[error("not a valid MT940 statement: {0}")]
    Mt940(String),
    /// The layout's header row was not found.
    #[error("no header row of the {format} layout was found (it needs columns for {needs})")]
    NoHeader {
        /// The layout.
        format: Format,
        /// The columns it looks for.
        needs: String,
    },
    /// Rows that cannot be read (at most ten are named).
    #[error("{} row(s) cannot be read: {}", .0.len(), rows_text(.0))]
    BadRows(Vec<(usize, String)>),
    /// Excel file that calamine cannot open.
    #[error("the spreadsheet cannot be read: {0}")]
    Spreadsheet(String),
    /// `--format csv` without a mapping.
    #[error("the csv format needs the column mapping of [statements.csv] in the config")]
    NoMapping,
}

fn rows_text(rows: &[(usize, String)]) -> String {
    let mut out: Vec<String> = rows
        .iter()
        .take(10)
        .map(|(row, why)| format!("row {row}: {why}"))
        .collect();
    if rows.len() > 10 {
        out.push(format!("and {} more", rows.len() - 10));
    }
    out.join("; ")
}

/// Reads a statement file. `format` `None` detects it (MT940 tags, else the
/// table header of one of the bank layouts, else the configured mapping).
///
/// # Errors
/// [`StatementError`] saying why; nothing is partly read.
pub fn parse(
    bytes: &[u8],
    format: Option<Format>,
    mapping: Option<&table::ColumnMapping>,
    limits: Limits,
) -> Result<Statement, StatementError> {
    if bytes.is_empty() {
        return Err(StatementError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(StatementError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let statement = match format {
        Some(Format::Mt940) => mt940::parse(&text_of(bytes), limits)?,
        None if mt940::looks_like(bytes) => mt940::parse(&text_of(bytes), limits)?,
        other => {
            let rows = table::rows(bytes, limits)?;
            table::read(&rows, other, mapping, limits)?
        }
    };
    if statement.lines.len() > limits.max_lines {
        return Err(StatementError::TooManyLines(limits.max_lines));
    }
    Ok(statement)
}

/// Text of a file: UTF-8 (without a byte-order mark), else Windows-1252 /
/// Latin-1 byte for byte, which is what older portals write.
pub fn text_of(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Squeezes whitespace and control characters and cuts to `max` characters.
pub fn clean(s: &str, max: usize) -> String {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ").chars().take(max).collect()
}

/// The date `n` business days (Monday to Friday) after `from`.
pub fn add_business_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut d = from;
    let mut left = n;
    while left > 0 {
        d = d.succ_opt().unwrap_or(d);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_skip_the_weekend() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(
            add_business_days(fri, 2),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        let mon = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(
            add_business_days(mon, 2),
            NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
        );
    }

    #[test]
    fn empty_and_oversized_files_are_refused_before_parsing() {
        assert!(matches!(
            parse(b"", None, None, Limits::default()),
            Err(StatementError::Empty)
        ));
        let limits = Limits {
            max_bytes: 10,
            max_lines: 10,
            max_unpacked: 100,
        };
        assert!(matches!(
            parse(&[b'a'; 11], None, None, limits),
            Err(StatementError::TooLarge { size: 11, max: 10 })
        ));
        assert!(matches!(
            parse(
                b"hello, world\nnothing here\n",
                None,
                None,
                Limits::default()
            ),
            Err(StatementError::UnknownFormat)
        ));
    }

    #[test]
    fn latin1_text_is_read_byte_for_byte() {
        assert_eq!(text_of(b"caf\xe9"), "café");
        assert_eq!(text_of("\u{feff}ok".as_bytes()), "ok");
        assert_eq!(clean(" a\n\tb \u{0}c ", 10), "a b c");
    }
}
