//! Reading transfer slips: what a slip says (amount, date, bank, accounts,
//! reference, remark), and the checks staff see on the review card, the
//! board, the API and `order show`.
//!
//! - [`read`]: bytes of one file to text (a PDF's text layer, or Tesseract on
//!   a preprocessed image), with caps on pixels, sizes and run time.
//! - [`extract`]: text to [`SlipFields`] (pure).
//! - [`checks`]: what the fields mean for an order (amount differs, unknown
//!   destination, old slip, reused reference, unreadable).
//! - [`worker`]: the queue in `slip_reads` that reads each stored slip after
//!   the order is recorded and its card posted, then edits the card.

pub mod checks;
pub mod extract;
pub mod read;
pub mod worker;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::domain::money::Money;

/// What could be read off one slip; each field `None` when not found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlipFields {
    /// The sum transferred (never the fee or a balance).
    pub amount: Option<Money>,
    /// Date and time as printed on the slip (the bank's local time).
    pub date: Option<NaiveDateTime>,
    /// The bank or app that made the slip (`BCA m-Transfer`, `BRImo`, `ATM Mandiri`, ...).
    pub bank: Option<String>,
    /// Who paid.
    pub sender_name: Option<String>,
    /// The payer's account, usually masked (`xxxxxx0099`).
    pub sender_account: Option<String>,
    /// The account paid into, as printed.
    pub dest_account: Option<String>,
    /// The name of the account paid into.
    pub dest_name: Option<String>,
    /// The bank's reference number, letters and digits only.
    pub reference: Option<String>,
    /// The payer's remark (berita / catatan / keterangan).
    pub remark: Option<String>,
    /// How far [`SlipFields::amount`] can be trusted (`None` when no amount).
    /// Only a [`Confidence::Sure`] amount may raise "amount differs".
    pub amount_confidence: Option<Confidence>,
}

/// How an amount was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// From a PDF's text layer, or the same figure found by two OCR reads,
    /// each time in a labelled `Nominal` / `Jumlah` / `Amount` field (or as
    /// total = amount + fee), well formed, not a fee or a balance, of a
    /// plausible size.
    Sure,
    /// Anything else: a lone headline, a total, one read, reads that disagree,
    /// a figure with broken grouping. Shown to staff as "amount unsure".
    Unsure,
}

impl Confidence {
    /// `high` or `low`, as in the JSON of `topup slip read` / `topup parse`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Sure => "high",
            Confidence::Unsure => "low",
        }
    }
}

impl SlipFields {
    /// The JSON of `topup parse`'s `slips_read` and `topup slip read`:
    /// every field present, `null` when not found, amounts as plain strings.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "amount": self.amount.map(Money::to_plain),
            "date": self.date.map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string()),
            "bank": self.bank,
            "sender_name": self.sender_name,
            "sender_account": self.sender_account,
            "dest_account": self.dest_account,
            "dest_name": self.dest_name,
            "reference": self.reference,
            "remark": self.remark,
            "amount_confidence": self.amount.and(self.amount_confidence).map(Confidence::as_str),
        })
    }
}

/// Reads every slip of a message (for `topup parse`): the total amount, `None`
/// when there is no slip or any slip gave no amount, and per slip its fields
/// (an `error` when it could not be read).
pub fn read_all(slips: &[crate::intake::SlipFile]) -> (Option<Money>, Vec<serde_json::Value>) {
    let limits = read::ReadLimits::default();
    let mut total = Some(Money::from_minor(0));
    let mut out = Vec::with_capacity(slips.len());
    for s in slips {
        match read::read_slip(&s.bytes, &limits) {
            Ok(r) => {
                total = match (total, r.fields.amount) {
                    (Some(t), Some(a)) => t.checked_add(a),
                    _ => None,
                };
                let mut v = r.fields.to_json();
                v["error"] = serde_json::Value::Null;
                out.push(v);
            }
            Err(e) => {
                total = None;
                let mut v = SlipFields::default().to_json();
                v["error"] = serde_json::json!(e.to_string());
                out.push(v);
            }
        }
    }
    if slips.is_empty() {
        total = None;
    }
    (total, out)
}
