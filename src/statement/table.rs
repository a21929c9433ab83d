//! Statements as tables: CSV (any delimiter, quoted multi-line cells) and
//! Excel (`.xlsx`, `.xls` through `calamine`) turned into rows of text, and
//! the layouts that read those rows into [`Line`]s.
//!
//! Each bank layout is a [`ColumnMapping`] like the one operators write in
//! `[statements.csv]`: the header names its columns may have, found in the
//! first rows (banks put account details above the table). Below the
//! header, a row with no date and no amount but a description continues the
//! previous line's description (BCA and BRI wrap long remarks that way);
//! summary rows (`Saldo Awal`, `Saldo Akhir`, `Mutasi Kredit`, ...) and
//! pending rows (`PEND`) are skipped; any other row that cannot be read is
//! an error naming it.

use std::io::Cursor;

use calamine::{Data, DataType, Reader};
use serde::Deserialize;

use super::amount::{Direction, parse_amount, parse_date};
use super::{
    Format, Limits, Line, MAX_DESCRIPTION_CHARS, MAX_REFERENCE_CHARS, Statement, StatementError,
    clean,
};

/// Where a statement table keeps what (header names, compared without case,
/// spaces and punctuation). Bank layouts are built in; the generic `csv`
/// format uses the one in `[statements.csv]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnMapping {
    /// Bank name recorded with the lines.
    pub bank: String,
    /// Account number recorded with the lines (when the file does not say).
    pub account: String,
    /// Date column names.
    pub date: Vec<String>,
    /// Description columns (every one found is joined).
    pub description: Vec<String>,
    /// Reference column names.
    pub reference: Vec<String>,
    /// Payer name column names.
    pub payer: Vec<String>,
    /// One amount column: signed, or with `CR`/`DB` after it, or with a marker column.
    pub amount: Vec<String>,
    /// `CR`/`DB` (`C`/`D`, `K`/`D`) column names.
    pub marker: Vec<String>,
    /// Credit column names (when credits and debits have their own columns).
    pub credit: Vec<String>,
    /// Debit column names.
    pub debit: Vec<String>,
    /// Running balance column names.
    pub balance: Vec<String>,
    /// chrono formats tried first for the date (`%d/%m/%Y`); common ones follow.
    pub date_format: Vec<String>,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// The built-in layout of a bank format.
pub fn layout(format: Format) -> Option<ColumnMapping> {
    let m = match format {
        // KlikBCA Bisnis: `Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo`,
        // the CR/DB marker in the unnamed column after Jumlah (or after the amount).
        Format::Bca => ColumnMapping {
            bank: "BCA".into(),
            date: names(&["Tanggal Transaksi", "Tanggal", "Tgl"]),
            description: names(&["Keterangan"]),
            amount: names(&["Jumlah", "Mutasi"]),
            marker: names(&["CR/DB", "DB/CR"]),
            balance: names(&["Saldo"]),
            reference: Vec::new(),
            ..ColumnMapping::default()
        },
        // Mandiri Cash Management: `Tgl.`, `Tgl. Val.`, `Rincian Transaksi`,
        // `No. Referensi`, `Debit`, `Kredit`, `Saldo` (or the English names).
        Format::Mandiri => ColumnMapping {
            bank: "Mandiri".into(),
            date: names(&["Tgl.", "Tanggal", "Posting Date", "Date"]),
            description: names(&["Rincian Transaksi", "Transaction Details", "Remarks"]),
            reference: names(&["No. Referensi", "Reference No.", "Reference No"]),
            debit: names(&["Debit", "Debet"]),
            credit: names(&["Kredit", "Credit"]),
            balance: names(&["Saldo", "Balance"]),
            ..ColumnMapping::default()
        },
        // BNIDirect: `Post Date`, `Value Date`, `Branch`, `Journal No.`,
        // `Description`, `Amount`, `Db/Cr`, `Balance`.
        Format::Bni => ColumnMapping {
            bank: "BNI".into(),
            date: names(&["Post Date", "Tanggal Posting"]),
            description: names(&["Description", "Uraian"]),
            reference: names(&["Journal No.", "No. Jurnal"]),
            amount: names(&["Amount", "Nominal"]),
            marker: names(&["Db/Cr", "D/K"]),
            balance: names(&["Balance", "Saldo"]),
            ..ColumnMapping::default()
        },
        // BRI CMS: `TGL_TRAN`, `DESK_TRAN`, `NO_REF`, `MUTASI_DEBET`,
        // `MUTASI_KREDIT`, `SALDO_AKHIR_MUTASI` (also `Uraian Transaksi` et al.).
        Format::Bri => ColumnMapping {
            bank: "BRI".into(),
            date: names(&["TGL_TRAN", "Tanggal Transaksi"]),
            description: names(&["DESK_TRAN", "Uraian Transaksi"]),
            reference: names(&["NO_REF", "Nomor Referensi"]),
            debit: names(&["MUTASI_DEBET", "Debet"]),
            credit: names(&["MUTASI_KREDIT", "Kredit"]),
            balance: names(&["SALDO_AKHIR_MUTASI", "Saldo"]),
            ..ColumnMapping::default()
        },
        Format::Mt940 | Format::Csv => return None,
    };
    Some(m)
}

/// A header name compared without case, spaces and punctuation.
fn key(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// The rows of a CSV or Excel file, as text.
///
/// # Errors
/// [`StatementError::Spreadsheet`] for an Excel file that cannot be opened.
pub fn rows(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, StatementError> {
    // ZIP (xlsx) or OLE2 (xls) magic.
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return spreadsheet_rows(bytes, limits);
    }
    let text = super::text_of(bytes);
    let delimiter = sniff_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records() {
        if out.len() > limits.max_lines + 100 {
            return Err(StatementError::TooManyLines(limits.max_lines));
        }
        match record {
            Ok(r) => out.push(r.iter().map(str::to_string).collect()),
            // The csv crate reads any bytes as flexible records; an error here
            // is an I/O error on a slice, which cannot happen, or bad UTF-8,
            // which text_of already excluded.
            Err(e) => {
                return Err(StatementError::BadRows(vec![(
                    out.len() + 1,
                    e.to_string(),
                )]));
            }
        }
    }
    Ok(out)
}

/// The delimiter that splits the first lines into the most columns.
fn sniff_delimiter(text: &str) -> u8 {
    let head: String = text.lines().take(30).collect::<Vec<_>>().join("\n");
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| head.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

fn spreadsheet_rows(bytes: &[u8], limits: Limits) -> Result<Vec<Vec<String>>, StatementError> {
    if bytes.starts_with(b"PK\x03\x04") {
        check_unpacked_size(bytes, limits.max_unpacked)?;
    }
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| StatementError::Spreadsheet(e.to_string()))?;
    let Some(name) = book.sheet_names().first().cloned() else {
        return Err(StatementError::Spreadsheet("it has no sheet".into()));
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| StatementError::Spreadsheet(e.to_string()))?;
    if range.height() > limits.max_lines + 100 {
        return Err(StatementError::TooManyLines(limits.max_lines));
    }
    Ok(range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect())
}

/// Refuses a ZIP (xlsx) that unpacks to more than `max` bytes, counting
/// what its entries really inflate to, not the sizes their headers claim.
fn check_unpacked_size(bytes: &[u8], max: u64) -> Result<(), StatementError> {
    use std::io::Read;
    let bad = |e: &dyn std::fmt::Display| StatementError::Spreadsheet(e.to_string());
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| bad(&e))?;
        let left = max - total;
        total +=
            std::io::copy(&mut entry.take(left + 1), &mut std::io::sink()).map_err(|e| bad(&e))?;
        if total > max {
            return Err(StatementError::TooLargeUnpacked(max));
        }
    }
    Ok(())
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => {
            // Amounts arrive as floats; two decimals is all rupiah have.
            let s = format!("{f:.2}");
            s.strip_suffix(".00").map(str::to_string).unwrap_or(s)
        }
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(_) | Data::DateTimeIso(_) => cell
            .as_date()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Column indexes of one layout in a header row.
#[derive(Debug, Default)]
struct Columns {
    date: usize,
    description: Vec<usize>,
    reference: Option<usize>,
    payer: Option<usize>,
    amount: Option<usize>,
    marker: Option<usize>,
    credit: Option<usize>,
    debit: Option<usize>,
    balance: Option<usize>,
}

fn find(header: &[String], wanted: &[String]) -> Option<usize> {
    let keys: Vec<String> = header.iter().map(|h| key(h)).collect();
    wanted
        .iter()
        .map(|w| key(w))
        .filter(|w| !w.is_empty())
        .find_map(|w| keys.iter().position(|k| *k == w))
}

fn columns(header: &[String], m: &ColumnMapping) -> Option<Columns> {
    let date = find(header, &m.date)?;
    let description: Vec<usize> = m
        .description
        .iter()
        .filter_map(|d| find(header, std::slice::from_ref(d)))
        .collect();
    if description.is_empty() {
        return None;
    }
    let amount = find(header, &m.amount);
    let credit = find(header, &m.credit);
    if amount.is_none() && credit.is_none() {
        return None;
    }
    Some(Columns {
        date,
        description,
        reference: find(header, &m.reference),
        payer: find(header, &m.payer),
        amount,
        marker: find(header, &m.marker),
        credit,
        debit: find(header, &m.debit),
        balance: find(header, &m.balance),
    })
}

/// Rows that end the table or sum it up.
fn is_summary(row: &[String]) -> bool {
    let first = row
        .iter()
        .map(|c| c.trim().trim_start_matches('\'').to_ascii_lowercase())
        .find(|c| !c.is_empty())
        .unwrap_or_default();
    [
        "saldo awal",
        "saldo akhir",
        "mutasi kredit",
        "mutasi debet",
        "mutasi debit",
        "opening balance",
        "closing balance",
        "total",
        "jumlah",
        "ending balance",
        "beginning balance",
    ]
    .iter()
    .any(|w| first.starts_with(w))
}

/// Account number and year from the lines above the header
/// (`No. rekening : ,0123456789`, `Periode : ,01/11/2026 - 30/11/2026`).
fn preamble(rows: &[Vec<String>]) -> (String, Option<i32>) {
    let (Ok(number), Ok(year_re)) = (
        regex::Regex::new(r"\d[\d\-. ]{5,}\d"),
        regex::Regex::new(r"(20\d\d)"),
    ) else {
        return (String::new(), None);
    };
    let mut account = String::new();
    let mut year = None;
    for row in rows {
        let joined = row.join(" ");
        let lower = joined.to_ascii_lowercase();
        if account.is_empty()
            && (lower.contains("rekening") || lower.contains("account"))
            && !lower.contains("nama")
            && let Some(m) = number.find(&joined)
        {
            account = m.as_str().chars().filter(char::is_ascii_digit).collect();
        }
        if year.is_none()
            && (lower.contains("periode") || lower.contains("period"))
            && let Some(y) = year_re
                .captures_iter(&joined)
                .last()
                .and_then(|c| c[1].parse().ok())
        {
            year = Some(y);
        }
    }
    (account, year)
}

/// Reads rows with the layout of `format` (`None`: the first bank layout
/// whose header is found, else the configured mapping).
///
/// # Errors
/// [`StatementError`] naming the missing header or the unreadable rows.
pub fn read(
    rows: &[Vec<String>],
    format: Option<Format>,
    mapping: Option<&ColumnMapping>,
    limits: Limits,
) -> Result<Statement, StatementError> {
    let candidates: Vec<(Format, ColumnMapping)> = match format {
        Some(Format::Csv) => vec![(
            Format::Csv,
            mapping.cloned().ok_or(StatementError::NoMapping)?,
        )],
        Some(f) => layout(f).map(|m| vec![(f, m)]).unwrap_or_default(),
        None => Format::ALL
            .into_iter()
            .filter_map(|f| layout(f).map(|m| (f, m)))
            .chain(mapping.cloned().map(|m| (Format::Csv, m)))
            .collect(),
    };
    // The header is among the first rows; the bank's account details sit above it.
    for (f, m) in &candidates {
        for (i, row) in rows.iter().enumerate().take(40) {
            if let Some(cols) = columns(row, m) {
                return read_table(rows, i, &cols, *f, m, limits);
            }
        }
    }
    match format {
        Some(f) => {
            let m = candidates
                .first()
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            Err(StatementError::NoHeader {
                format: f,
                needs: format!(
                    "date ({}), description ({}) and amount ({})",
                    m.date.join(" / "),
                    m.description.join(" / "),
                    m.amount
                        .iter()
                        .chain(&m.credit)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" / ")
                ),
            })
        }
        None => Err(StatementError::UnknownFormat),
    }
}

fn cell(row: &[String], i: Option<usize>) -> &str {
    i.and_then(|i| row.get(i)).map(|s| s.trim()).unwrap_or("")
}

fn read_table(
    rows: &[Vec<String>],
    header: usize,
    cols: &Columns,
    format: Format,
    m: &ColumnMapping,
    limits: Limits,
) -> Result<Statement, StatementError> {
    let (mut account, year) = preamble(&rows[..header]);
    if account.is_empty() {
        account = m.account.clone();
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut bad: Vec<(usize, String)> = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(header + 1) {
        let row_no = i + 1;
        if row.iter().all(|c| c.trim().is_empty()) || is_summary(row) {
            continue;
        }
        let date_cell = cell(row, Some(cols.date));
        let description = cols
            .description
            .iter()
            .map(|&d| cell(row, Some(d)))
            .filter(|d| !d.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let amounts = [cols.amount, cols.credit, cols.debit];
        let no_amount = amounts.iter().all(|&a| cell(row, a).is_empty());
        if date_cell.is_empty() && no_amount {
            // A wrapped remark: it belongs to the line above.
            if let Some(prev) = lines.last_mut() {
                prev.description = clean(
                    &format!("{} {}", prev.description, description),
                    MAX_DESCRIPTION_CHARS,
                );
            }
            continue;
        }
        if date_cell
            .trim_start_matches('\'')
            .eq_ignore_ascii_case("PEND")
        {
            // Pending at export time; it comes back with its booking date.
            continue;
        }
        match read_row(row, cols, year, m, format == Format::Csv) {
            Ok((date, direction, minor, balance)) => {
                if lines.len() >= limits.max_lines {
                    return Err(StatementError::TooManyLines(limits.max_lines));
                }
                let reference = Some(clean(cell(row, cols.reference), MAX_REFERENCE_CHARS))
                    .filter(|r| !r.is_empty() && r != "-");
                let payer = Some(clean(cell(row, cols.payer), MAX_DESCRIPTION_CHARS))
                    .filter(|p| !p.is_empty());
                lines.push(Line {
                    line: lines.len() + 1,
                    date,
                    direction,
                    amount_minor: minor,
                    description: clean(&description, MAX_DESCRIPTION_CHARS),
                    reference,
                    payer,
                    balance_minor: balance,
                });
            }
            Err(why) => bad.push((row_no, why)),
        }
    }
    if !bad.is_empty() {
        return Err(StatementError::BadRows(bad));
    }
    Ok(Statement {
        format,
        bank: m.bank.clone(),
        account,
        lines,
    })
}

type RowValues = (chrono::NaiveDate, Direction, i64, Option<i64>);

fn read_row(
    row: &[String],
    cols: &Columns,
    year: Option<i32>,
    m: &ColumnMapping,
    bare_is_credit: bool,
) -> Result<RowValues, String> {
    let date = parse_date(cell(row, Some(cols.date)), year, &m.date_format)?;
    let (minor, direction) = if let Some(a) = cols.amount {
        let amount = parse_amount(cell(row, Some(a)))?.ok_or("the amount is empty")?;
        // The marker: its own column, else the unnamed column right after the amount (BCA).
        let marker = cols
            .marker
            .map(|c| cell(row, Some(c)))
            .or_else(|| Some(cell(row, Some(a + 1))))
            .and_then(Direction::from_marker);
        let direction = match (amount.direction, marker) {
            (Some(x), Some(y)) if x != y => {
                return Err("the amount's sign and its CR/DB marker disagree".into());
            }
            (Some(x), _) | (None, Some(x)) => x,
            // A bare positive mutation is money in only where the operator's
            // mapping says there is no marker; a bank layout always marks.
            (None, None) if bare_is_credit && cols.marker.is_none() => Direction::Credit,
            (None, None) => return Err("the CR/DB marker is missing".into()),
        };
        (amount.minor, direction)
    } else {
        let credit = parse_amount(cell(row, cols.credit))?.filter(|a| a.minor > 0);
        let debit = parse_amount(cell(row, cols.debit))?.filter(|a| a.minor > 0);
        match (credit, debit) {
            (Some(c), None) => (c.minor, Direction::Credit),
            (None, Some(d)) => (d.minor, Direction::Debit),
            (Some(_), Some(_)) => return Err("both the credit and the debit have an amount".into()),
            (None, None) => return Err("neither the credit nor the debit has an amount".into()),
        }
    };
    if minor == 0 {
        return Err("the amount is zero".into());
    }
    let balance = match parse_amount(cell(row, cols.balance))? {
        Some(b) if b.direction == Some(Direction::Debit) => Some(-b.minor),
        Some(b) => Some(b.minor),
        None => None,
    };
    Ok((date, direction, minor, balance))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_rows(text: &str) -> Vec<Vec<String>> {
        rows(text.as_bytes(), Limits::default()).unwrap()
    }

    #[test]
    fn bca_export_with_preamble_marker_column_and_wrapped_remark() {
        let text = "Informasi Rekening - Mutasi Rekening\n\
No. rekening : ,'0123456789\n\
Nama : ,PT TOPUP DESK\n\
Periode : ,01/11/2026 - 30/11/2026\n\
Kode Mata Uang : ,Rp\n\
\n\
Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n\
'30/11,'TRSF E-BANKING CR 3011/FTSCY/WS95031,'0000,\"2,500,000.00\",CR,\"12,500,000.00\"\n\
,TU-20261125-0001 SINAR ABADI PT,,,,\n\
'30/11,BIAYA ADM,'0000,\"10,000.00\",DB,\"12,490,000.00\"\n\
'PEND,TRSF E-BANKING CR,'0000,\"1,000.00\",CR,\n\
Saldo Awal,:,\"10,000,000.00\"\n\
Mutasi Kredit,:,\"2,500,000.00\"\n";
        let s = read(&csv_rows(text), None, None, Limits::default()).unwrap();
        assert_eq!(s.format, Format::Bca);
        assert_eq!(s.account, "0123456789");
        assert_eq!(s.lines.len(), 2);
        let l = &s.lines[0];
        assert_eq!(l.date.to_string(), "2026-11-30");
        assert_eq!(l.direction, Direction::Credit);
        assert_eq!(l.amount_minor, 250_000_000);
        assert_eq!(l.balance_minor, Some(1_250_000_000));
        assert!(
            l.description.ends_with("TU-20261125-0001 SINAR ABADI PT"),
            "{}",
            l.description
        );
        assert_eq!(s.lines[1].direction, Direction::Debit);
    }

    #[test]
    fn mandiri_semicolons_and_indonesian_numbers() {
        let text = "Tgl.;Tgl. Val.;Rincian Transaksi;No. Referensi;Debit;Kredit;Saldo\n\
30/11/2026;30/11/2026;\"Transfer dari PT SINAR ABADI\nTU-20261125-0002\";FT2611300001;0,00;1.500.000,00;11.500.000,00\n\
30/11/2026;30/11/2026;Biaya;;5.000,00;0,00;11.495.000,00\n";
        let s = read(&csv_rows(text), None, None, Limits::default()).unwrap();
        assert_eq!(s.format, Format::Mandiri);
        assert_eq!(s.lines[0].amount_minor, 150_000_000);
        assert_eq!(s.lines[0].reference.as_deref(), Some("FT2611300001"));
        assert_eq!(
            s.lines[0].description,
            "Transfer dari PT SINAR ABADI TU-20261125-0002"
        );
        assert_eq!(s.lines[1].direction, Direction::Debit);
    }

    #[test]
    fn a_bad_row_refuses_the_file_and_names_the_row() {
        let text = "Tgl.;Rincian Transaksi;Debit;Kredit;Saldo\n\
30/11/2026;ok;0,00;1.500.000,00;1,00\n\
31/11/2026;bad date;0,00;1.000,00;1,00\n\
30/11/2026;bad amount;0,00;1.500,000;1,00\n\
30/11/2026;both;1,00;1,00;1,00\n";
        let err = read(
            &csv_rows(text),
            Some(Format::Mandiri),
            None,
            Limits::default(),
        )
        .unwrap_err();
        match err {
            StatementError::BadRows(rows) => {
                assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4, 5]);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn the_wrong_format_names_what_it_looked_for() {
        let text = "a,b,c\n1,2,3\n";
        let err = read(&csv_rows(text), Some(Format::Bni), None, Limits::default()).unwrap_err();
        assert!(err.to_string().contains("Post Date"), "{err}");
        let err = read(&csv_rows(text), Some(Format::Csv), None, Limits::default()).unwrap_err();
        assert!(matches!(err, StatementError::NoMapping));
    }
}
