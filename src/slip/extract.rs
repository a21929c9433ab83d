//! Fields of a transfer slip from its text (a PDF's text layer or Tesseract's
//! output): a pure function, so every layout rule is tested without OCR.
//!
//! Slips are label/value lists: BCA m-Transfer puts each value on the line
//! under its label, BRImo, Livin' and BNI put it on the same line, ATM
//! receipts write `LABEL : VALUE`. Each line is matched against the labels
//! below; the value is the rest of the line, or the next line when the rest
//! is empty and the next line is not itself a label.
//!
//! The amount is the sum transferred: a `Nominal` / `Jumlah` / `Amount` line
//! first, then a total (less a stated fee), then two figures whose difference
//! is a third one printed on the slip (total = amount + fee, when OCR lost the
//! labels), then a bare total, then a lone `Rp ...` headline. Fees, charges
//! and balances are never taken.
//!
//! Each amount comes with a [`Confidence`]: [`Confidence::Sure`] only when
//! the text itself backs it (a labelled field or the sum rule, the figure
//! well formed with its grouping intact, not equal to a fee or a balance, no
//! headline contradicting it, a plausible size). The reader then also asks
//! two OCR reads to agree before it keeps `Sure` (see [`super::read`]).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use regex::Regex;
use std::sync::LazyLock;

use super::{Confidence, SlipFields};
use crate::domain::money::Money;

/// What a label line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// The sum transferred (`Nominal`, `Jumlah`, `Amount`).
    Amount,
    /// The total debited (sum plus fee).
    Total,
    /// A fee or charge: never the amount.
    Fee,
    /// A balance: never the amount.
    Balance,
    Date,
    Reference,
    Remark,
    DestAccount,
    DestName,
    /// BRImo's `Tujuan`: the name, with the bank and account on the next line.
    Destination,
    SenderAccount,
    SenderName,
    /// Labels whose values are of no use here (`Jenis Transaksi`, `Status`).
    Other,
}

/// Labels, longest first within a family so `Nomor Referensi` is not read as `Nomor`.
/// Matched case-insensitively at the start of a line, after OCR clean-up.
const LABELS: &[(&str, Label)] = &[
    ("total transaksi", Label::Total),
    ("total transfer", Label::Total),
    ("total bayar", Label::Total),
    ("total pembayaran", Label::Total),
    ("total debit", Label::Total),
    ("total amount", Label::Total),
    ("total", Label::Total),
    ("jumlah transfer", Label::Amount),
    ("jumlah", Label::Amount),
    ("nominal transfer", Label::Amount),
    ("nominal", Label::Amount),
    ("transfer amount", Label::Amount),
    ("amount", Label::Amount),
    ("biaya admin", Label::Fee),
    ("biaya transfer", Label::Fee),
    ("biaya", Label::Fee),
    ("admin fee", Label::Fee),
    ("admin", Label::Fee),
    ("fee", Label::Fee),
    ("charges", Label::Fee),
    ("charge", Label::Fee),
    ("saldo", Label::Balance),
    ("balance", Label::Balance),
    ("sisa saldo", Label::Balance),
    ("tanggal transaksi", Label::Date),
    ("transaction date", Label::Date),
    ("tanggal", Label::Date),
    ("tgl", Label::Date),
    ("date", Label::Date),
    ("waktu", Label::Date),
    ("nomor referensi", Label::Reference),
    ("no. referensi", Label::Reference),
    ("no referensi", Label::Reference),
    ("no. ref", Label::Reference),
    ("no ref", Label::Reference),
    ("reference no.", Label::Reference),
    ("reference no", Label::Reference),
    ("reference number", Label::Reference),
    ("reference", Label::Reference),
    ("referensi", Label::Reference),
    ("ref no", Label::Reference),
    ("no. transaksi", Label::Reference),
    ("id transaksi", Label::Reference),
    ("berita", Label::Remark),
    ("catatan", Label::Remark),
    ("keterangan", Label::Remark),
    ("remark", Label::Remark),
    ("description", Label::Remark),
    ("ke rekening", Label::DestAccount),
    ("rekening tujuan", Label::DestAccount),
    ("no. rekening tujuan", Label::DestAccount),
    ("beneficiary account", Label::DestAccount),
    ("bank / rekening", Label::DestAccount),
    ("bank/rekening", Label::DestAccount),
    ("no rek", Label::DestAccount),
    ("no. rek", Label::DestAccount),
    ("to account", Label::DestAccount),
    ("beneficiary name", Label::DestName),
    ("nama penerima", Label::DestName),
    ("penerima", Label::DestName),
    ("nama", Label::DestName),
    ("tujuan", Label::Destination),
    ("dari rekening", Label::SenderAccount),
    ("rekening sumber", Label::SenderAccount),
    ("debit account", Label::SenderAccount),
    ("from account", Label::SenderAccount),
    ("dari rek", Label::SenderAccount),
    ("sumber dana", Label::SenderName),
    ("remitter", Label::SenderName),
    ("pengirim", Label::SenderName),
    ("nama pengirim", Label::SenderName),
    ("jenis transaksi", Label::Other),
    ("bank tujuan", Label::Other),
    ("beneficiary bank", Label::Other),
    ("transaction status", Label::Other),
    ("status", Label::Other),
];

/// An amount as slips print it: `Rp 1.500.000,00`, `Rp4.850.000`, `IDR 10,000,000.00`,
/// `RP 1.950.000` (ATM). OCR sometimes reads `Rp` as `Ro`/`Kp`/`np` and `IDR`
/// as `IOR`/`JOR`/`1DR`/`IDN` (small grey type forwarded at half size).
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\b(?:rp|[il1j][do0][rn]|ro|kp|np)\.?\s*)?(\d{1,3}(?:[.,]\s?\d{3})+(?:[.,]\d{2})?|\d{4,12}(?:[.,]\d{2})?)(?:\s*,-)?")
        .expect("static regex")
});
static CURRENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:rp|[il1j][do0][rn]|ro|kp|np)\.?\s*\d").expect("static regex")
});
static ACCOUNT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9xX*][0-9xX*\- ]{4,24}[0-9]").expect("static regex"));
static DATE_NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\b").expect("static regex")
});
static DATE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})[\s\-]+([a-z]{3,9})[\s\-,]+(\d{4})\b").expect("static regex")
});
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\b").expect("static regex")
});

/// Reads every field it can find in a slip's text.
pub fn fields_from_text(text: &str) -> SlipFields {
    let lines: Vec<String> = text
        .lines()
        .map(clean_line)
        .filter(|l| !l.is_empty())
        .collect();
    let labelled: Vec<Option<(Label, String)>> = lines.iter().map(|l| split_label(l)).collect();

    // The value of label `i`: on its line, or the next line when that is not a label.
    let value_at = |i: usize| -> Option<(String, usize)> {
        let (_, rest) = labelled[i].as_ref()?;
        if !rest.is_empty() {
            return Some((rest.clone(), i));
        }
        match labelled.get(i + 1) {
            Some(None) => Some((lines[i + 1].clone(), i + 1)),
            _ => None,
        }
    };

    let mut f = SlipFields {
        bank: bank_of(&lines),
        ..SlipFields::default()
    };
    let mut amount: Option<Figure> = None;
    let mut total: Option<Figure> = None;
    let mut fee: Option<Figure> = None;
    let mut balances: Vec<Money> = Vec::new();
    let mut used = vec![false; lines.len()];

    for i in 0..lines.len() {
        let Some((label, _)) = labelled[i].as_ref() else {
            continue;
        };
        let Some((value, at)) = value_at(i) else {
            continue;
        };
        used[i] = true;
        used[at] = true;
        match label {
            Label::Amount => amount = amount.or_else(|| figure_in(&value)),
            Label::Total => total = total.or_else(|| figure_in(&value)),
            Label::Fee => fee = fee.or_else(|| figure_in(&value)),
            Label::Balance => balances.extend(money_in(&value)),
            Label::Other => {}
            Label::Date => f.date = f.date.or_else(|| date_in(&value)),
            Label::Reference => f.reference = f.reference.clone().or_else(|| reference_in(&value)),
            Label::Remark => f.remark = f.remark.clone().or_else(|| nonempty(&value)),
            Label::DestAccount => {
                if f.dest_account.is_none() {
                    f.dest_account = account_in(&value);
                }
            }
            Label::DestName => f.dest_name = f.dest_name.clone().or_else(|| name_in(&value)),
            Label::Destination => {
                // BRImo: `Tujuan NAME` then `BCA 527-031-8846` on the next line.
                if account_in(&value).is_some() {
                    f.dest_account = f.dest_account.clone().or_else(|| account_in(&value));
                } else {
                    f.dest_name = f.dest_name.clone().or_else(|| name_in(&value));
                    if let Some(next) = lines.get(at + 1).filter(|_| labelled[at + 1].is_none()) {
                        f.dest_account = f.dest_account.clone().or_else(|| account_in(next));
                        used[at + 1] = true;
                    }
                }
            }
            Label::SenderAccount => {
                f.sender_account = f.sender_account.clone().or_else(|| account_in(&value));
            }
            Label::SenderName => {
                // Livin': `Sumber Dana NAME - xxxxxx8434`; BRImo: name, then `BANK BRI xxxxxx0099`.
                let (name, acct) = match value.rsplit_once(" - ") {
                    Some((n, a)) if account_in(a).is_some() => (n.to_string(), account_in(a)),
                    _ => (value.clone(), None),
                };
                f.sender_name = f.sender_name.clone().or_else(|| name_in(&name));
                if let Some(a) = acct {
                    f.sender_account = f.sender_account.clone().or(Some(a));
                } else if let Some(next) = lines.get(at + 1).filter(|_| labelled[at + 1].is_none())
                    && next.to_lowercase().contains('x')
                    && let Some(a) = account_in(next)
                {
                    f.sender_account = f.sender_account.clone().or(Some(a));
                    used[at + 1] = true;
                }
            }
        }
    }

    let headline = headline_amount(&lines, &labelled, &used);
    let all_figures = currency_figures(&lines, &labelled);
    let mut figures = all_figures.clone();
    figures.sort();
    figures.dedup();
    let zero_fee = zero_fee_printed(&lines, &labelled);
    let fee_value = fee.map(|x| x.value);
    // (amount, the text backs it)
    let chosen: Option<(Money, bool)> = if let Some(a) = amount {
        // A headline that is neither the amount nor the amount plus a fee
        // printed on the slip contradicts the labelled field.
        let contradicted = headline.is_some_and(|h| {
            h.value != a.value
                && !figures
                    .iter()
                    .any(|f| f.minor() + a.value.minor() == h.value.minor())
        });
        Some((a.value, a.well_formed && !contradicted))
    } else if let (Some(t), Some(fe)) = (total, fee)
        && fe.value < t.value
    {
        Some((
            Money::from_minor(t.value.minor() - fe.value.minor()),
            t.well_formed && fe.well_formed,
        ))
    } else if let Some(a) = sum_rule(&figures, total.or(headline).map(|t| t.value)) {
        Some((a, true))
    } else if let Some(a) = repeated_rule(&all_figures, zero_fee) {
        Some((a, true))
    } else if let Some(t) = total {
        Some((t.value, false))
    } else if let Some(h) = headline {
        // A lone headline is the amount on Livin' (which has no total), and
        // on any slip whose fee reads Rp 0; elsewhere it may be a total.
        let no_fee = zero_fee && figures.len() == 1;
        let livin = f.bank.as_deref() == Some("Livin' by Mandiri")
            && !figures
                .iter()
                .any(|g| *g < h.value && h.value.minor() - g.minor() <= MAX_FEE);
        Some((h.value, h.well_formed && (no_fee || livin)))
    } else {
        None
    };
    if let Some((a, backed)) = chosen {
        let plausible = (MIN_TOP_UP..=MAX_SURE_AMOUNT).contains(&a.minor());
        let is_other = fee_value == Some(a) || balances.contains(&a);
        f.amount = Some(a);
        f.amount_confidence = Some(if backed && plausible && !is_other {
            Confidence::Sure
        } else {
            Confidence::Unsure
        });
    }
    if f.date.is_none() {
        f.date = lines.iter().find_map(|l| date_in(l));
    }
    f
}

/// `Rp1 1.850.000` / `Rpl 1.850.000`: OCR split the first group of a
/// grouped amount after its first digit (and may read that `1` as `l`).
static SPLIT_LEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(rp|idr)(\.?\s?)([0-9l])\s(\d{1,2})([.,]\d{3})").expect("static regex")
});

/// Joins a first group that OCR split ([`SPLIT_LEAD`]) when the joined
/// group is still one of at most three digits.
fn join_split_lead(line: &str) -> String {
    SPLIT_LEAD
        .replace_all(line, |c: &regex::Captures<'_>| {
            let lead = if c[3].eq_ignore_ascii_case("l") {
                "1"
            } else {
                &c[3]
            };
            format!("{}{}{lead}{}{}", &c[1], &c[2], &c[4], &c[5])
        })
        .into_owned()
}

/// `1.150,.000,00`: OCR read one grouping mark as two; the first is kept.
static DOUBLED_MARK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d[.,])[.,](\d{3})").expect("static regex"));

/// `21.900 000,00`: a grouping mark OCR lost, the group still apart; it
/// takes the mark of the group before it.
static SPACED_GROUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d([.,])\d{3}) (\d{3})\b").expect("static regex"));

/// OCR clean-up of one line: spaces collapsed, stray marks at the ends dropped.
fn clean_line(line: &str) -> String {
    let line: String = line
        .chars()
        .map(|c| match c {
            '\u{a0}' | '\t' => ' ',
            '|' | '—' | '–' => ' ',
            c => c,
        })
        .collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = DOUBLED_MARK.replace_all(&line, "$1$2");
    let line = SPACED_GROUP.replace_all(&line, |c: &regex::Captures<'_>| {
        format!("{}{}{}", &c[1], &c[2], &c[3])
    });
    join_split_lead(&line)
        .trim_matches(['.', '_', '~', '\'', '"'])
        .trim()
        .to_string()
}

/// The label a line starts with, and the rest of the line (without `:`).
fn split_label(line: &str) -> Option<(Label, String)> {
    let lower = line.to_lowercase();
    let mut best: Option<(usize, Label)> = None;
    for (name, label) in LABELS {
        if lower.starts_with(name) {
            let end = name.len();
            // A whole word: `Nominal` must not match `Nominalnya`, nor `Nama` `Namaku`.
            let boundary = lower[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric());
            if boundary && best.is_none_or(|(len, _)| end > len) {
                best = Some((end, *label));
            }
        }
    }
    if best.is_none() {
        best = fuzzy_label(&lower);
    }
    let (end, label) = best?;
    let rest = line
        .get(end..)
        .unwrap_or("")
        .trim_start_matches([':', ' ', '=', '.', ';'])
        .trim();
    // `NO REK 1 1370018425506`: OCR reads the colon as `1` or `i`.
    let rest = match rest.split_once(' ') {
        Some(("1" | "i" | "l" | "I" | "!", tail)) => tail,
        _ => rest,
    };
    Some((label, rest.to_string()))
}

/// A one-word label of six letters or more with one letter misread
/// (`JUMLAN`, `NOMINAI`): same length, same first letter, one difference.
fn fuzzy_label(lower: &str) -> Option<(usize, Label)> {
    let word: &str = lower
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .filter(|w| w.is_ascii())?;
    LABELS.iter().find_map(|(name, label)| {
        let close = name.len() >= 6
            && !name.contains([' ', '.', '/'])
            && name.len() == word.len()
            && name.as_bytes()[0] == word.as_bytes()[0]
            && name
                .bytes()
                .zip(word.bytes())
                .filter(|(a, b)| a != b)
                .count()
                == 1;
        close.then_some((word.len(), *label))
    })
}

fn nonempty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "-").then(|| s.to_string())
}

/// The first amount in `s`, in either notation.
pub(crate) fn money_in(s: &str) -> Option<Money> {
    AMOUNT.captures_iter(s).find_map(|c| {
        let m = c.get(1)?;
        // A run of digits cut out of a longer one is an account or reference number.
        let before = s[..m.start()].chars().next_back();
        let after = s[m.end()..].chars().next();
        if before.is_some_and(|ch| ch.is_ascii_digit())
            || after.is_some_and(|ch| ch.is_ascii_digit())
        {
            return None;
        }
        let raw = m.as_str().replace(' ', "");
        // Both separators with groups of three (`3.500,000`): one grouping
        // mark misread, never three decimals, which no slip prints.
        let mixed = raw.contains('.') && raw.contains(',');
        mixed
            .then(|| mixed_grouping(&raw))
            .flatten()
            .or_else(|| Money::parse(&fix_decimals(&raw)).ok())
            .or_else(|| mixed_grouping(&raw))
            .filter(|m| m.minor() < MAX_SLIP_AMOUNT.minor())
    })
}

static MIXED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,3}(?:[.,]\d{3})+)(?:[.,](\d{2}))?$").expect("static regex")
});

/// `13.500,000,00`: OCR read one grouping dot as a comma. Groups of three
/// and two final decimals still say what the number is (never well formed,
/// so never sure).
fn mixed_grouping(raw: &str) -> Option<Money> {
    let c = MIXED.captures(raw)?;
    let int: String = c[1].chars().filter(char::is_ascii_digit).collect();
    let dec = c.get(2).map_or("00", |d| d.as_str());
    Money::parse(&format!("{int}.{dec}")).ok()
}

/// A figure read in a labelled field, and whether it is well formed: one
/// grouped number (`1.500.000`, `10,000,000.00`) after at most a currency
/// mark and a colon, nothing else on the value (OCR's `RP & 590.099` or
/// `RP 4 809. 800` lost a digit or split the number).
#[derive(Debug, Clone, Copy)]
struct Figure {
    value: Money,
    well_formed: bool,
}

static WELL_FORMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(?:rp|idr)\.?\s?)?(?:\d{1,3}(?:\.\d{3})+(?:,\d{2})?|\d{1,3}(?:,\d{3})+(?:\.\d{2})?|0(?:[.,]00)?)(?:\s?,-)?$")
        .expect("static regex")
});

fn figure_in(s: &str) -> Option<Figure> {
    let value = money_in(s)?;
    let trimmed = s.trim().trim_end_matches(['.', ' ']);
    Some(Figure {
        value,
        well_formed: WELL_FORMED.is_match(trimmed),
    })
}

/// Every well-formed `Rp ...` figure of the slip (not balances), for the sum rule.
fn currency_figures(lines: &[String], labelled: &[Option<(Label, String)>]) -> Vec<Money> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if matches!(labelled[i], Some((Label::Balance, _))) {
            continue;
        }
        let value = match &labelled[i] {
            Some((_, rest)) => rest.as_str(),
            None => l.as_str(),
        };
        // From the currency mark on: a label OCR garbled may precede it.
        if let Some(m) = CURRENCY.find(value)
            && let Some(f) = figure_in(&value[m.start()..]).filter(|f| f.well_formed)
        {
            out.push(f.value);
        }
    }
    out
}

/// `Rp0`, `Rp 0,00`, `IDR 0.00` ending a line (not a balance): a fee of nothing.
static ZERO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:rp|idr)\.?\s*0(?:[.,]00?)?(?:\s*,-)?$").expect("static regex")
});

fn zero_fee_printed(lines: &[String], labelled: &[Option<(Label, String)>]) -> bool {
    lines
        .iter()
        .enumerate()
        .any(|(i, l)| !matches!(labelled[i], Some((Label::Balance, _))) && ZERO.is_match(l))
}

/// The same figure on two lines, a fee of Rp 0 printed, and no other figure:
/// total and amount are one (BRImo without a fee, its labels lost).
fn repeated_rule(all_figures: &[Money], zero_fee: bool) -> Option<Money> {
    let first = *all_figures.first()?;
    (zero_fee && all_figures.len() >= 2 && all_figures.iter().all(|f| *f == first)).then_some(first)
}

/// Total = amount + fee with all three printed: when OCR lost the labels
/// (BRImo's `Total Transaksi` headline over `Nominal` and `Biaya Admin`
/// forwarded at half size), the amount is the figure that, with another
/// figure as the fee, makes the total. The fee is the smaller part and at
/// most [`MAX_FEE`].
fn sum_rule(figures: &[Money], total: Option<Money>) -> Option<Money> {
    let total = total?;
    let parts: Vec<Money> = figures
        .iter()
        .copied()
        .filter(|a| {
            *a < total
                && figures
                    .iter()
                    .any(|f| f.minor() + a.minor() == total.minor())
        })
        .filter(|a| total.minor() - a.minor() <= MAX_FEE && total.minor() - a.minor() < a.minor())
        .collect();
    match parts[..] {
        [a] => Some(a),
        _ => None,
    }
}

/// The largest transfer fee a slip prints (BI-FAST Rp 2.500, online Rp 6.500,
/// RTGS up to Rp 30.000 or so), in sen.
pub(crate) const MAX_FEE: i64 = 50_000 * 100;

/// The fees Indonesian banks charge for most transfers between banks, in sen:
/// BI-FAST Rp 2.500 and the online (real-time) transfer Rp 6.500.
pub(crate) const COMMON_FEES: [i64; 2] = [2_500 * 100, 6_500 * 100];

/// An amount below Rp 10.000 or above Rp 10 billion is no top-up: more likely
/// a misread (a dropped group, a reference number), never `Sure`.
pub(crate) const MIN_TOP_UP: i64 = 10_000 * 100;
const MAX_SURE_AMOUNT: i64 = 10_000_000_000 * 100;

/// No transfer slip shows Rp 100 billion or more; such a figure is a misread number.
const MAX_SLIP_AMOUNT: Money = Money::from_minor(100_000_000_000 * 100);

/// `1.500.000,00` and `10,000,000.00` both read as amounts; a separator before
/// exactly two final digits is the decimal mark when the other one groups.
fn fix_decimals(num: &str) -> String {
    let bytes = num.as_bytes();
    if bytes.len() > 3 && (bytes[bytes.len() - 3] == b',' || bytes[bytes.len() - 3] == b'.') {
        let dec = bytes[bytes.len() - 3] as char;
        let head = &num[..num.len() - 3];
        let grouping = if dec == ',' { '.' } else { ',' };
        if !head.contains(dec) {
            let int: String = head.chars().filter(|c| *c != grouping).collect();
            return format!("{int}.{}", &num[num.len() - 2..]);
        }
    }
    num.to_string()
}

/// A lone `Rp ...` line that is no label's value (Livin's and BRImo's
/// headline). A figure too small for a top-up (a fee whose label OCR lost)
/// is the headline only when there is no other.
fn headline_amount(
    lines: &[String],
    labelled: &[Option<(Label, String)>],
    used: &[bool],
) -> Option<Figure> {
    let mut lone = lines.iter().enumerate().filter_map(|(i, l)| {
        if used[i] || labelled[i].is_some() || !CURRENCY.is_match(l) {
            return None;
        }
        let lower = l.to_lowercase();
        if ["saldo", "balance", "biaya", "fee", "admin", "limit"]
            .iter()
            .any(|w| lower.contains(w))
        {
            return None;
        }
        figure_in(l)
    });
    let first = lone.next()?;
    if first.value.minor() >= MIN_TOP_UP {
        return Some(first);
    }
    Some(
        lone.find(|f| f.value.minor() >= MIN_TOP_UP)
            .unwrap_or(first),
    )
}

/// An account number as printed (digits, dashes, masked `x`), or `None`.
fn account_in(s: &str) -> Option<String> {
    ACCOUNT
        .find_iter(s)
        .map(|m| m.as_str().trim().to_string())
        .find(|a| a.chars().filter(char::is_ascii_digit).count() >= 4)
}

/// A name: letters present, no amount in it.
fn name_in(s: &str) -> Option<String> {
    let s = s.trim();
    (s.chars().filter(|c| c.is_alphabetic()).count() >= 2).then(|| s.to_string())
}

/// A reference number, normalised to its letters and digits (upper case).
fn reference_in(s: &str) -> Option<String> {
    let norm = normalise_reference(s);
    (norm.chars().filter(char::is_ascii_digit).count() >= 4).then_some(norm)
}

/// Letters and digits only, upper case: how `slip_reads.reference` is kept and compared.
pub fn normalise_reference(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("peb", 2),
    ("mar", 3),
    ("apr", 4),
    ("mei", 5),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("agu", 8),
    ("agt", 8),
    ("aug", 8),
    ("sep", 9),
    ("okt", 10),
    ("oct", 10),
    ("nov", 11),
    ("nop", 11),
    ("des", 12),
    ("dec", 12),
];

/// A date and time (`06/10/2026 14:16:33`, `11 Oktober 2026, 12:56:22 WIB`,
/// `19-Nov-2026 11:03:48`, `TGL 29/10/26 JAM 07:28`) as printed: the slip's local time.
fn date_in(s: &str) -> Option<NaiveDateTime> {
    let (date, after) = if let Some(c) = DATE_NUMERIC.captures(s) {
        let d: u32 = c[1].parse().ok()?;
        let m: u32 = c[2].parse().ok()?;
        let mut y: i32 = c[3].parse().ok()?;
        if y < 100 {
            y += 2000;
        }
        (NaiveDate::from_ymd_opt(y, m, d)?, c.get(0)?.end())
    } else if let Some(c) = DATE_WORDS.captures(s) {
        let d: u32 = c[1].parse().ok()?;
        let word = c[2].to_lowercase();
        let m = MONTHS
            .iter()
            .find(|(p, _)| word.starts_with(p))
            .map(|(_, m)| *m)?;
        let y: i32 = c[3].parse().ok()?;
        (NaiveDate::from_ymd_opt(y, m, d)?, c.get(0)?.end())
    } else {
        return None;
    };
    let time = TIME
        .captures(&s[after..])
        .and_then(|c| {
            let h = c[1].parse().ok()?;
            let m = c[2].parse().ok()?;
            let sec = c.get(3).and_then(|x| x.as_str().parse().ok()).unwrap_or(0);
            NaiveTime::from_hms_opt(h, m, sec)
        })
        .unwrap_or(NaiveTime::MIN);
    Some(date.and_time(time))
}

/// The bank or app that made the slip, from its header words (never from
/// the line naming the destination bank: `BANK TUJUAN : BCA` on a Mandiri
/// ATM receipt).
fn bank_of(lines: &[String]) -> Option<String> {
    let head: Vec<String> = lines
        .iter()
        .take(6)
        .map(|l| l.to_lowercase())
        .filter(|l| !l.contains("tujuan") && !l.contains("destination"))
        .collect();
    let all = head.join("\n");
    let found = if all.contains("brimo") {
        "BRImo"
    } else if all.contains("livin") {
        "Livin' by Mandiri"
    } else if all.contains("bni mobile") || all.contains("bnidirect") || all.contains("bni direct")
    {
        "BNI Mobile"
    } else if all.contains("m-bca") || all.contains("mbca") || all.contains("m-transfer") {
        "BCA m-Transfer"
    } else if all.contains("klikbca") || all.contains("klik bca") {
        "KlikBCA"
    } else if all.contains("atm") || all.contains("struk") {
        let bank = ["mandiri", "bca", "bri", "bni", "cimb", "permata", "btn"]
            .into_iter()
            .find(|b| all.contains(b))
            .unwrap_or("bank");
        return Some(format!("ATM {}", bank_name(bank)));
    } else {
        let bank = [
            "mandiri", "bca", "bri", "bni", "cimb", "permata", "btn", "jago",
        ]
        .into_iter()
        .find(|b| all.split(|c: char| !c.is_alphanumeric()).any(|w| w == *b))?;
        return Some(bank_name(bank).to_string());
    };
    Some(found.to_string())
}

fn bank_name(lower: &str) -> &'static str {
    match lower {
        "mandiri" => "Mandiri",
        "bca" => "BCA",
        "bri" => "BRI",
        "bni" => "BNI",
        "cimb" => "CIMB Niaga",
        "permata" => "Permata",
        "btn" => "BTN",
        "jago" => "Jago",
        _ => "Bank",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(major: i64) -> Option<Money> {
        Some(Money::from_major(major))
    }

    #[test]
    fn bca_value_under_label_and_empty_berita() {
        let f = fields_from_text(
            "m-BCA m-Transfer\nBERHASIL\n\nTanggal\n\n22/11/2026 14:47:04\n\nKe Rekening\n\nBCA 527-031-8846\n\nNama\n\nPT BILLING CONTOH INDONESIA\n\nJumlah\n\nRp 7.050.000,00\n\nBerita\n\nDari Rekening\n\nXXXXXX7027\n\nNo. Referensi\n\n20261122187243\nmpan bukti transaksi in",
        );
        assert_eq!(f.amount, rp(7_050_000));
        assert_eq!(f.bank.as_deref(), Some("BCA m-Transfer"));
        assert_eq!(f.dest_account.as_deref(), Some("527-031-8846"));
        assert_eq!(f.dest_name.as_deref(), Some("PT BILLING CONTOH INDONESIA"));
        assert_eq!(f.sender_account.as_deref(), Some("XXXXXX7027"));
        assert_eq!(f.reference.as_deref(), Some("20261122187243"));
        assert_eq!(
            f.remark, None,
            "an empty Berita must not take the next label"
        );
        assert_eq!(
            f.date.map(|d| d.to_string()).as_deref(),
            Some("2026-11-22 14:47:04")
        );
    }

    #[test]
    fn a_first_group_split_by_ocr_is_joined_again() {
        let f = fields_from_text(
            "BRImo\nTransaksi Berhasil\nRpl 1.850.000,00\nJenis Transaksi Transfer BCA\nNominal Rp1 1.850.000,00\nBiaya Admin Rp0,00",
        );
        assert_eq!(f.amount, rp(11_850_000));
        // A whole first group is left alone.
        assert_eq!(
            fields_from_text("Nominal Rp 24.250.000").amount,
            rp(24_250_000)
        );
    }

    #[test]
    fn brimo_takes_nominal_not_total_or_fee() {
        let f = fields_from_text(
            "BRImo\nTransaksi Berhasil\n11 Oktober 2026, 12:56:22 WIB\nTotal Transaksi\n\nRp4.856.500,00\nNomor Referensi 20261011875424\nSumber Dana PT DELTA RASA PANGAN\nBANK BRI xxxxxx0099\nJenis Transaksi Transfer BCA\nTujuan PT BILLING CONTOH INDONESIA\nBCA 527-031-8846\nNominal Rp4.850.000,00\nBiaya Admin Rp6.500,00\nCatatan deposit",
        );
        assert_eq!(f.amount, rp(4_850_000));
        assert_eq!(f.bank.as_deref(), Some("BRImo"));
        assert_eq!(f.sender_name.as_deref(), Some("PT DELTA RASA PANGAN"));
        assert_eq!(f.sender_account.as_deref(), Some("xxxxxx0099"));
        assert_eq!(f.dest_name.as_deref(), Some("PT BILLING CONTOH INDONESIA"));
        assert_eq!(f.dest_account.as_deref(), Some("527-031-8846"));
        assert_eq!(f.remark.as_deref(), Some("deposit"));
        assert_eq!(
            f.date.map(|d| d.to_string()).as_deref(),
            Some("2026-10-11 12:56:22")
        );
    }

    #[test]
    fn total_less_fee_when_no_nominal() {
        let f = fields_from_text("Total Rp 2.506.500\nBiaya Admin Rp 6.500\nSaldo Rp 9.000.000");
        assert_eq!(f.amount, rp(2_500_000));
    }

    #[test]
    fn balance_and_fee_alone_are_no_amount() {
        let f = fields_from_text("Saldo Rp 9.000.000\nBiaya Admin Rp 6.500");
        assert_eq!(f.amount, None);
    }

    #[test]
    fn bni_english_notation_and_livin_headline() {
        let f = fields_from_text(
            "BNIDirect\nTransaction Date 19-Nov-2026 11:03:48\nDebit Account xxxxxx2366\nRemitter SARAH MULLER\nBeneficiary Bank Mandiri\nBeneficiary Account 137-00-1842550-6\nBeneficiary Name PT BILLING CONTOH INDONESIA\nAmount IDR 10,000,000.00\nCharges IDR 0.00\nRemark TU-20261116-372980\nReference No. 20261119742185",
        );
        assert_eq!(f.amount, rp(10_000_000));
        assert_eq!(f.bank.as_deref(), Some("BNI Mobile"));
        assert_eq!(f.dest_account.as_deref(), Some("137-00-1842550-6"));
        assert_eq!(f.sender_name.as_deref(), Some("SARAH MULLER"));
        assert_eq!(f.remark.as_deref(), Some("TU-20261116-372980"));
        let f = fields_from_text(
            "Livin' by Mandiri\nTransfer Berhasil\nRp20.000.000\nTanggal 25 November 2026 08:04:10 WIB\nPenerima PT BILLING CONTOH INDONESIA\nBank / Rekening Mandiri - 137-00-1842550-6\nSumber Dana SAKURA COMPONENTS K.K. - xxxxxx8434\nBiaya Rp0\nNo. Referensi 20261125335537\nKeterangan TOP UP",
        );
        assert_eq!(
            f.amount,
            rp(20_000_000),
            "the headline when no Nominal line"
        );
        assert_eq!(f.sender_name.as_deref(), Some("SAKURA COMPONENTS K.K."));
        assert_eq!(f.sender_account.as_deref(), Some("xxxxxx8434"));
        assert_eq!(f.dest_account.as_deref(), Some("137-00-1842550-6"));
    }

    #[test]
    fn atm_receipt_with_ocr_colons() {
        let f = fields_from_text(
            "BANK MANDIRI\nATM 7338\nKCP SUDIRMAN JKT\nTGL 29/10/26 JAM 07:28\nTRANSFER\nBANK TUJUAN : MANDIRI\nNO REK 1 1370018425506\nNAMA : PT BILLING CONTOH\nJUMLAH : RP 1.950.000\nNO REF 1 006866\nDARI REK 1 XXXXxx9359\nSALDO : RP 12.345.000",
        );
        assert_eq!(f.amount, rp(1_950_000));
        assert_eq!(f.bank.as_deref(), Some("ATM Mandiri"));
        // OCR lost the issuer's name: the destination bank is not taken for it.
        let lost = fields_from_text(
            "BANK MANDIR1\nATM 4634\nKCP SUDIRMAN JKT\nTGL 03/11/26 JAM 08:26\nTRANSFER\nBANK TUJUAN : BCA\nJUMLAH : Rp 13.900.000",
        );
        assert_eq!(lost.bank.as_deref(), Some("ATM Bank"));
        assert_eq!(f.dest_account.as_deref(), Some("1370018425506"));
        assert_eq!(f.reference.as_deref(), Some("006866"));
        assert_eq!(
            f.date.map(|d| d.to_string()).as_deref(),
            Some("2026-10-29 07:28:00")
        );
    }

    fn sure(f: &SlipFields) -> bool {
        f.amount_confidence == Some(Confidence::Sure)
    }

    #[test]
    fn labelled_well_formed_amounts_are_sure() {
        let f = fields_from_text("m-BCA m-Transfer\nJumlah\nRp 7.050.000,00\nBerita");
        assert_eq!(f.amount, rp(7_050_000));
        assert!(sure(&f));
        let f = fields_from_text("BNIDirect\nAmount IDR 10,000,000.00\nCharges IDR 0.00");
        assert!(sure(&f));
        assert_eq!(fields_from_text("Saldo Rp 1").amount_confidence, None);
    }

    #[test]
    fn brimo_with_a_fee_and_its_labels_lost_is_total_less_fee() {
        // Forwarded at half size: the small grey labels are gone, the figures remain.
        let f = fields_from_text(
            "BRImo\nTransaksi Berhasil\n11 Oktober 2026, 12:56:22 WIB\nRp4.856.500,00\n20261011875424\nPT DELTA RASA PANGAN\nBANK BRI xxxxxx0099\nTransfer BCA\nPT BILLING CONTOH INDONESIA\nBCA 527-031-8846\nRp4.850.000,00\nRp6.500,00\ndeposit",
        );
        assert_eq!(f.amount, rp(4_850_000));
        assert!(sure(&f), "total = amount + fee, all three printed");
        // The total's label read, the nominal's lost.
        let f = fields_from_text(
            "BRImo\nTotal Transaksi\nRp4.856.500,00\nTujuan PT BILLING\nRp4.850.000,00\nBiaya Admin Rp6.500,00",
        );
        assert_eq!(f.amount, rp(4_850_000));
        assert!(sure(&f));
        // Only the total: it may hold a fee, so it is never sure.
        let f = fields_from_text("BRImo\nTotal Transaksi\nRp4.856.500,00\nCatatan deposit");
        assert_eq!(f.amount, rp(4_856_500));
        assert!(!sure(&f));
    }

    #[test]
    fn brimo_without_a_fee_and_its_labels_lost_is_the_figure_printed_twice() {
        let f = fields_from_text(
            "BRImo\nTransaksi Berhasil\nTutat Troreakai\nRp10.875.000,00\nSeenber Dens SITI RAMAYU\nMandiri 137-00-1842550-6\nNom Rp10.875.000,00\nBiaya Airman Rp0,00\nCatatan topup sakdo",
        );
        assert_eq!(f.amount, rp(10_875_000));
        assert!(sure(&f));
        // Two different figures and no fee to explain them: unsure.
        let f =
            fields_from_text("BRImo\nRp10.875.000,00\nNom Rp10.475.000,00\nBiaya Airman Rp0,00");
        assert!(!sure(&f), "{f:?}");
        // Printed twice but no fee line read: may be a total twice.
        let f = fields_from_text("BRImo\nRp10.875.000,00\nNom Rp10.875.000,00");
        assert!(!sure(&f));
    }

    #[test]
    fn a_fee_read_as_a_figure_is_not_taken_for_the_amount() {
        // English notation, the Amount label lost; the fee is a small third figure.
        let f = fields_from_text(
            "BNI Mobile Banking\nTotal IDR 10,006,500.00\nIDR 10,000,000.00\nFee IDR 6,500.00",
        );
        assert_eq!(f.amount, rp(10_000_000));
        assert!(sure(&f));
        // An amount that equals the fee or a balance is a misread.
        let f = fields_from_text("Jumlah Rp 6.500\nBiaya Admin Rp 6.500");
        assert!(!sure(&f));
        let f = fields_from_text("JUMLAH : RP 1.950.000\nSALDO : RP 1.950.000");
        assert!(!sure(&f));
    }

    #[test]
    fn atm_digits_with_broken_grouping_are_unsure() {
        // `RP 4.000.000` photographed: a split group and a lost digit.
        let f =
            fields_from_text("BANK MANDIRI\nATM 4634\nJUMLAH RP 4 809. 800\nSALDO RP 13.234. 900");
        assert!(!sure(&f), "{f:?}");
        let f = fields_from_text("BANK MANDIRI\nJUMLAH : RP & 590.099\nNO REF : 728077");
        assert_eq!(f.amount, rp(590_099));
        assert!(!sure(&f));
        let f = fields_from_text("BANK MANDIRI\nJUMLAH : RP 4506\n");
        assert!(!sure(&f), "ungrouped and too small");
        // A label with one letter misread still counts (`JUMLAN`, `MAMA`).
        let f = fields_from_text(
            "BANK MANDIRI\nATH 4634\nJUMLAN : RP 20.750.000\nNO REF : 8262790\nSALDO : AP 63.484.000",
        );
        assert_eq!(f.amount, rp(20_750_000));
        assert!(sure(&f));
    }

    #[test]
    fn a_grouping_dot_read_as_a_comma_is_read_but_unsure() {
        let f = fields_from_text("Jumlah\nRp 13.500,000,00\nBerita");
        assert_eq!(f.amount, rp(13_500_000));
        assert!(!sure(&f));
        let f = fields_from_text("Amount IDR 10,000.000.00");
        assert_eq!(f.amount, rp(10_000_000));
        assert!(!sure(&f));
    }

    #[test]
    fn grouping_marks_misread_at_half_size_still_give_the_amount() {
        // One grouping dot read as a comma, no decimals: never three decimals.
        let f = fields_from_text("Nominal\nRp 3.500,000\nBiaya Admin\nRp 2.500");
        assert_eq!(f.amount, rp(3_500_000));
        assert!(!sure(&f));
        // One grouping dot read as two marks.
        let f = fields_from_text("Jumlah IDR 1.150,.000,00\nBiaya Transfer IDR 6.500,00");
        assert_eq!(f.amount, rp(1_150_000));
        // One grouping dot lost, the groups still apart.
        let f = fields_from_text("Jumlah IDR 21.900 000,00\nBiaya Transfer IDR 6.500,00");
        assert_eq!(f.amount, rp(21_900_000));
        // A reference number is no amount for all that.
        let f = fields_from_text("Jumlah IDR 1.500.000\nNo. Referensi 202656 144592716");
        assert_eq!(f.amount, rp(1_500_000));
        assert_eq!(f.reference.as_deref(), Some("202656144592716"));
        // Well-formed amounts with decimals are unchanged.
        assert_eq!(
            fields_from_text("Jumlah Rp 1.500,50").amount,
            Some(Money::parse("1500.50").unwrap())
        );
        assert_eq!(
            fields_from_text("Amount IDR 1,500.50").amount,
            Some(Money::parse("1500.50").unwrap())
        );
    }

    #[test]
    fn a_fee_whose_label_was_lost_is_no_headline() {
        // Every label lost; `IDR` read as `IOR`; the fee's figure comes next.
        let f = fields_from_text("Transfer Sukses\nIOR 21.900.000,00\nIDR 6.500,00\ndeposit");
        assert_eq!(f.amount, rp(21_900_000));
        let f = fields_from_text("Send It\nJOR 10,950,000\nIDR 2,500");
        assert_eq!(f.amount, rp(10_950_000));
        let f = fields_from_text("Transfer Sukses\nIDR 6.500,00\nIDN 22,700,000\nIDR 0");
        assert_eq!(f.amount, rp(22_700_000));
        assert!(!sure(&f));
        // A small figure alone is still read (unsure: too small for a top-up).
        let f = fields_from_text("Transfer Sukses\nRp 6.500");
        assert_eq!(f.amount, rp(6_500));
        assert!(!sure(&f));
    }

    #[test]
    fn a_lone_headline_is_unsure_except_where_it_is_the_amount() {
        // BCA forwarded at half size: every label lost, only the figure.
        let f = fields_from_text(
            "BERHASIL\n16/11/2026 16:52:20\naca $27-031-8846\nPT BILLING CONTOH INDONESIA\nRp 13.900.000,00\nXXXXXX6648",
        );
        assert_eq!(f.amount, rp(13_900_000));
        assert!(!sure(&f));
        // Livin' prints the amount as its headline and has no total.
        let f = fields_from_text(
            "Livin' by Mandiri\nTransfer Berhasil\nRp20.000.000\nPenerima PT BILLING\nBiaya Rp 2.500\nKeterangan TOP UP",
        );
        assert_eq!(f.amount, rp(20_000_000));
        assert!(sure(&f));
        // A headline that is neither the labelled amount nor amount + fee contradicts it.
        let f = fields_from_text("Rp 5.150.000\nNominal Rp 5.750.000\nBiaya Admin Rp 0");
        assert_eq!(f.amount, rp(5_750_000));
        assert!(!sure(&f));
        let f = fields_from_text("Rp 5.756.500\nNominal Rp 5.750.000\nBiaya Admin Rp 6.500");
        assert!(sure(&f), "headline = amount + fee agrees");
    }

    #[test]
    fn garbage_gives_nothing_and_never_panics() {
        for text in [
            "",
            "\n\n",
            "Rp",
            "Jumlah\n",
            "Total Rp 99999999999999999999",
            "ééé 12/13/2026 99:99",
        ] {
            let f = fields_from_text(text);
            assert_eq!(f.amount, None, "{text:?}");
        }
    }

    #[test]
    fn references_are_normalised() {
        assert_eq!(normalise_reference(" 2026 1011-8754/24 "), "20261011875424");
        assert_eq!(normalise_reference("ab12 cd"), "AB12CD");
    }
}
