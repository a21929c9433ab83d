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
    /// Other amounts the OCR reads of an unsure amount found, the likeliest
    /// first (`8.930.000` read three times, `8.950.000` once: the second is
    /// here). Never shown as the slip's amount on its own; see [`with_claim`].
    pub amount_alternatives: Vec<Money>,
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
            "amount_alternatives": self.amount_alternatives.iter().map(|m| m.to_plain()).collect::<Vec<_>>(),
        })
    }
}

/// One slip's amount as read, for [`with_claim`].
#[derive(Debug, Clone, Copy)]
pub struct ReadAmount<'a> {
    pub amount: Option<Money>,
    pub sure: bool,
    pub alternatives: &'a [Money],
}

/// The slip whose amount gives way to the claim, and the figure it takes:
/// when the slips' total is not what the customer claimed, an unsure slip
/// one of whose reads found exactly the figure that makes the total the
/// claim (`8.950.000` claimed; a forwarded half-size screenshot read
/// `8.930.000` three times and `8.950.000` once) is taken at that read, still
/// unsure; so is one whose amount is that figure plus a common transfer fee
/// or a fee another read found (a total whose labels were lost: `22.867.500`
/// read, `22.865.000` claimed). A misread landing exactly on the claim is
/// rare, a blurred digit misread or a total taken for the amount is not.
/// `None` when the total is the claim already, a slip has no amount, a sure
/// amount would have to give way, or more than one slip could.
pub fn with_claim(slips: &[ReadAmount<'_>], claim: Money) -> Option<(usize, Money)> {
    let total = slips
        .iter()
        .try_fold(Money::from_minor(0), |t, s| t.checked_add(s.amount?))?;
    if total == claim {
        return None;
    }
    let mut found = slips.iter().enumerate().filter_map(|(i, s)| {
        let amount = s.amount?;
        let rest = total.minor().checked_sub(amount.minor())?;
        let wanted = Money::from_minor(claim.minor().checked_sub(rest)?);
        // The read amount a total (amount + fee, its labels lost): the fee
        // one of the common ones, or one another read found as the amount.
        let total_of_fee = amount
            .minor()
            .checked_sub(wanted.minor())
            .is_some_and(|fee| {
                extract::COMMON_FEES.contains(&fee)
                    || (1..=extract::MAX_FEE).contains(&fee)
                        && s.alternatives.iter().any(|a| a.minor() == fee)
            });
        let reachable = s.alternatives.contains(&wanted) || total_of_fee;
        (!s.sure && reachable).then_some((i, wanted))
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Applies [`with_claim`] to the fields of one message's slips (`None`: a
/// slip that could not be read, which leaves every amount as read): the
/// slip that gives way shows the figure taken, its own read (the one most
/// reads found) first among the alternatives.
pub fn reconcile(fields: &mut [Option<&mut SlipFields>], claim: Money) {
    let read: Option<Vec<ReadAmount<'_>>> = fields
        .iter()
        .map(|f| {
            f.as_ref().map(|f| ReadAmount {
                amount: f.amount,
                sure: f.amount_confidence == Some(Confidence::Sure),
                alternatives: &f.amount_alternatives,
            })
        })
        .collect();
    if let Some((i, taken)) = read.and_then(|r| with_claim(&r, claim))
        && let Some(f) = fields[i].as_deref_mut()
    {
        give_way(&mut f.amount, &mut f.amount_alternatives, taken);
    }
}

/// A slip's amount given way to `taken`, one of its `alternatives` (see
/// [`with_claim`]): the amount read before becomes the first alternative.
pub fn give_way(amount: &mut Option<Money>, alternatives: &mut Vec<Money>, taken: Money) {
    alternatives.retain(|a| *a != taken);
    if let Some(read) = amount.replace(taken) {
        alternatives.insert(0, read);
    }
}

/// Reads every slip of a message (for `topup parse`): the total amount, `None`
/// when there is no slip or any slip gave no amount, and per slip its fields
/// (an `error` when it could not be read). With the amount the message
/// claims, an unsure slip may give way to it (see [`reconcile`]).
pub fn read_all(
    slips: &[crate::intake::SlipFile],
    claim: Option<Money>,
) -> (Option<Money>, Vec<serde_json::Value>) {
    let limits = read::ReadLimits::default();
    let mut fields: Vec<Option<SlipFields>> = Vec::with_capacity(slips.len());
    let mut errors = Vec::with_capacity(slips.len());
    for s in slips {
        match read::read_slip(&s.bytes, &limits) {
            Ok(r) => {
                fields.push(Some(r.fields));
                errors.push(None);
            }
            Err(e) => {
                fields.push(None);
                errors.push(Some(e.to_string()));
            }
        }
    }
    if let Some(claim) = claim {
        let mut read: Vec<_> = fields.iter_mut().map(Option::as_mut).collect();
        reconcile(&mut read, claim);
    }
    let total = (!slips.is_empty())
        .then(|| {
            fields.iter().try_fold(Money::from_minor(0), |t, f| {
                t.checked_add(f.as_ref()?.amount?)
            })
        })
        .flatten();
    let out = fields
        .into_iter()
        .zip(errors)
        .map(|(f, error)| {
            let mut v = f.unwrap_or_default().to_json();
            v["error"] = serde_json::json!(error);
            v
        })
        .collect();
    (total, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(major: i64) -> Money {
        Money::from_major(major)
    }

    fn slip(amount: Option<i64>, sure: bool, alternatives: &[Money]) -> ReadAmount<'_> {
        ReadAmount {
            amount: amount.map(rp),
            sure,
            alternatives,
        }
    }

    #[test]
    fn an_unsure_slip_takes_the_claim_only_when_a_read_found_it() {
        let also = [rp(8_950_000), rp(5_950_000)];
        // Three reads of 8.930.000, one of the claimed 8.950.000.
        assert_eq!(
            with_claim(&[slip(Some(8_930_000), false, &also)], rp(8_950_000)),
            Some((0, rp(8_950_000)))
        );
        // A claim no read found: the slip keeps what was read.
        assert_eq!(
            with_claim(&[slip(Some(8_930_000), false, &also)], rp(9_000_000)),
            None
        );
        // Read sure: never overridden, whatever a stray read said.
        assert_eq!(
            with_claim(&[slip(Some(8_930_000), true, &also)], rp(8_950_000)),
            None
        );
        // Already the claim, or nothing read: nothing to take.
        assert_eq!(
            with_claim(&[slip(Some(8_950_000), false, &also)], rp(8_950_000)),
            None
        );
        assert_eq!(with_claim(&[slip(None, false, &[])], rp(8_950_000)), None);
        assert_eq!(with_claim(&[], rp(8_950_000)), None);
    }

    #[test]
    fn a_total_read_for_the_amount_gives_way_to_the_claim_less_its_fee() {
        // 22.867.500 read (the total, its labels lost) for 22.865.000
        // claimed: the BI-FAST fee of Rp 2.500 makes the difference.
        assert_eq!(
            with_claim(&[slip(Some(22_867_500), false, &[])], rp(22_865_000)),
            Some((0, rp(22_865_000)))
        );
        // The online transfer fee of Rp 6.500.
        assert_eq!(
            with_claim(&[slip(Some(9_306_500), false, &[])], rp(9_300_000)),
            Some((0, rp(9_300_000)))
        );
        // A fee of another size counts only when a read found it.
        assert_eq!(
            with_claim(&[slip(Some(5_004_000), false, &[])], rp(5_000_000)),
            None
        );
        let fee = [rp(4_000)];
        assert_eq!(
            with_claim(&[slip(Some(5_004_000), false, &fee)], rp(5_000_000)),
            Some((0, rp(5_000_000)))
        );
        // Less than the claim, a sure total, or a difference too large for a
        // fee: the slip keeps what was read.
        assert_eq!(
            with_claim(&[slip(Some(9_293_500), false, &[])], rp(9_300_000)),
            None
        );
        assert_eq!(
            with_claim(&[slip(Some(9_306_500), true, &[])], rp(9_300_000)),
            None
        );
        let big = [rp(100_000)];
        assert_eq!(
            with_claim(&[slip(Some(9_400_000), false, &big)], rp(9_300_000)),
            None
        );
    }

    #[test]
    fn among_several_slips_only_one_that_makes_the_total_the_claim_gives_way() {
        let first = [rp(1_500_000)];
        let second = [rp(2_050_000)];
        // 1.000.000 (sure) + 2.030.000 (unsure, also read 2.050.000) for a
        // claimed 3.050.000: the second slip's other read.
        assert_eq!(
            with_claim(
                &[
                    slip(Some(1_000_000), true, &first),
                    slip(Some(2_030_000), false, &second)
                ],
                rp(3_050_000)
            ),
            Some((1, rp(2_050_000)))
        );
        // Two unsure slips that could each make the total: a guess, so neither.
        let a = [rp(1_020_000)];
        let b = [rp(2_050_000)];
        assert_eq!(
            with_claim(
                &[
                    slip(Some(1_000_000), false, &a),
                    slip(Some(2_030_000), false, &b)
                ],
                rp(3_050_000)
            ),
            None
        );
        // One slip unread: the total is unknown, nothing gives way.
        assert_eq!(
            with_claim(
                &[
                    slip(None, false, &[]),
                    slip(Some(2_030_000), false, &second)
                ],
                rp(2_050_000)
            ),
            None
        );
    }

    #[test]
    fn the_slip_that_gives_way_keeps_its_own_read_among_the_alternatives() {
        let mut f = SlipFields {
            amount: Some(rp(8_930_000)),
            amount_confidence: Some(Confidence::Unsure),
            amount_alternatives: vec![rp(8_950_000), rp(5_950_000)],
            ..SlipFields::default()
        };
        reconcile(&mut [Some(&mut f)], rp(8_950_000));
        assert_eq!(f.amount, Some(rp(8_950_000)));
        assert_eq!(f.amount_confidence, Some(Confidence::Unsure));
        assert_eq!(f.amount_alternatives, vec![rp(8_930_000), rp(5_950_000)]);
        let json = f.to_json();
        assert_eq!(json["amount"], "8950000");
        assert_eq!(json["amount_confidence"], "low");
        assert_eq!(
            json["amount_alternatives"],
            serde_json::json!(["8930000", "5950000"])
        );
    }
}
