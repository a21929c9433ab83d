//! What the slips of an order's current review round say about it, for the
//! review card, the staff board, the API and `order show`.
//!
//! A check is raised only on what was actually read: a slip still being read
//! or one without an amount never yields "amount differs" (staff would learn
//! to ignore a flag that cries wolf); it yields "reading" or "unreadable".
//! Nor does an amount read without confidence (a lone headline, a total, one
//! OCR read, reads that disagree; see [`super::Confidence`]): when it is not
//! the claim, staff see "amount unsure: read Rp X", never "amount differs".

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::AnyConnection;

use crate::config::BankAccount;
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::store::StoreError;
use crate::store::slip_reads::{self, SlipReadRow};

/// A slip dated more than this many days before its order was created is old.
pub const OLD_SLIP_DAYS: i64 = 3;

/// One finding about an order's slips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum SlipCheck {
    /// Slips are still being read.
    Reading { pending: usize },
    /// A slip could not be read, or no amount was found on it.
    Unreadable { file: String, reason: String },
    /// The slips' total is not the claimed amount, every amount read sure.
    AmountDiffers { slip: Money, claimed: Money },
    /// The slips' total read is not the claimed amount, but at least one
    /// amount was read without confidence: staff compare for themselves.
    AmountUnsure { slip: Money, claimed: Money },
    /// A slip paid into an account that is not one of `desk.bank_accounts`.
    UnknownDestination { account: String },
    /// A slip dated long before the order.
    OldSlip { slip_date: String, days_before: i64 },
    /// The slip's reference number is on another order's slip too.
    ReferenceReused {
        reference: String,
        orders: Vec<String>,
    },
}

impl SlipCheck {
    /// True for findings staff must look at (not "still reading").
    pub fn is_warning(&self) -> bool {
        !matches!(self, SlipCheck::Reading { .. })
    }

    /// One line for staff in `lang`, amounts in `notation`.
    pub fn describe(&self, lang: Lang, notation: Lang) -> String {
        let en = lang == Lang::En;
        match self {
            SlipCheck::Reading { pending } => {
                if en {
                    format!("reading {pending} slip(s)…")
                } else {
                    format!("sedang membaca {pending} slip…")
                }
            }
            SlipCheck::Unreadable { file, reason } => {
                if en {
                    format!("slip {file} unreadable: {reason}")
                } else {
                    format!("slip {file} tidak terbaca: {reason}")
                }
            }
            SlipCheck::AmountDiffers { slip, claimed } => {
                let (s, c) = (slip.display(notation), claimed.display(notation));
                if en {
                    format!("amount differs: slip {s}, claimed {c}")
                } else {
                    format!("jumlah berbeda: slip {s}, diklaim {c}")
                }
            }
            SlipCheck::AmountUnsure { slip, claimed } => {
                let (s, c) = (slip.display(notation), claimed.display(notation));
                if en {
                    format!("amount unsure: read {s} on the slip, claimed {c}")
                } else {
                    format!("jumlah tidak pasti: terbaca {s} di slip, diklaim {c}")
                }
            }
            SlipCheck::UnknownDestination { account } => {
                if en {
                    format!("paid into {account}, not one of our accounts")
                } else {
                    format!("ditransfer ke {account}, bukan rekening kami")
                }
            }
            SlipCheck::OldSlip {
                slip_date,
                days_before,
            } => {
                if en {
                    format!("old slip: dated {slip_date}, {days_before} days before the order")
                } else {
                    format!("slip lama: tanggal {slip_date}, {days_before} hari sebelum pesanan")
                }
            }
            SlipCheck::ReferenceReused { reference, orders } => {
                if en {
                    format!(
                        "reference {reference} already used on {}",
                        orders.join(", ")
                    )
                } else {
                    format!(
                        "referensi {reference} sudah dipakai di {}",
                        orders.join(", ")
                    )
                }
            }
        }
    }
}

/// What one slip said, in short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlipLine {
    pub hash: String,
    pub status: String,
    pub amount: Option<Money>,
    /// True when the amount was read sure, false when unsure, `None` without one.
    pub amount_sure: Option<bool>,
    /// Other amounts the reads found (an unsure amount only).
    pub alternatives: Vec<Money>,
    pub date: Option<String>,
    pub bank: Option<String>,
    pub dest_account: Option<String>,
    pub dest_name: Option<String>,
    pub sender_name: Option<String>,
    pub sender_account: Option<String>,
    pub reference: Option<String>,
    pub remark: Option<String>,
    pub error: Option<String>,
}

impl SlipLine {
    /// The quiet summary: `slip: Rp 2.500.000, BCA m-Transfer, 30/11 10:15, ref 2026...`.
    pub fn summary(&self, notation: Lang) -> String {
        let mut parts = vec![match (self.amount, self.amount_sure) {
            (Some(a), Some(true)) => a.display(notation),
            (Some(a), _) if self.alternatives.is_empty() => {
                format!("{} (unsure)", a.display(notation))
            }
            (Some(a), _) => {
                let also: Vec<String> = self
                    .alternatives
                    .iter()
                    .map(|m| m.display(notation))
                    .collect();
                format!(
                    "{} (unsure; also read {})",
                    a.display(notation),
                    also.join(", ")
                )
            }
            (None, _) => "?".into(),
        }];
        if let Some(b) = &self.bank {
            parts.push(b.clone());
        }
        if let Some(d) = self
            .date
            .as_deref()
            .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S").ok())
        {
            parts.push(d.format("%d/%m %H:%M").to_string());
        }
        if let Some(r) = &self.reference {
            parts.push(format!("ref {r}"));
        }
        format!("slip: {}", parts.join(", "))
    }
}

/// Everything the slips of the current round say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlipReport {
    /// One line per slip of the round that was queued for reading.
    pub slips: Vec<SlipLine>,
    /// The total read (only when every slip was read with an amount).
    pub total: Option<Money>,
    /// Findings; empty when the slips match the order.
    pub checks: Vec<SlipCheck>,
}

impl SlipReport {
    /// True when something needs a look (a warning check).
    pub fn has_warning(&self) -> bool {
        self.checks.iter().any(SlipCheck::is_warning)
    }

    /// Lines for staff: each check, or the quiet summaries when all is well.
    pub fn lines(&self, lang: Lang, notation: Lang) -> Vec<String> {
        if self.checks.is_empty() {
            self.slips.iter().map(|s| s.summary(notation)).collect()
        } else {
            self.checks
                .iter()
                .map(|c| c.describe(lang, notation))
                .collect()
        }
    }
}

/// The inputs of [`assess`] that come from the order and the settings.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts<'a> {
    pub claimed_minor: Option<i64>,
    pub created_at_ms: i64,
    pub accounts: &'a [BankAccount],
    pub utc_offset_minutes: i32,
}

/// Assesses the reads of one round's slips. `reused[i]` lists the other
/// orders whose slips carry the same reference as `reads[i]`.
pub fn assess(facts: &OrderFacts<'_>, reads: &[SlipReadRow], reused: &[Vec<String>]) -> SlipReport {
    let mut report = SlipReport::default();
    let mut pending = 0;
    let mut total: Option<Money> = Some(Money::from_minor(0));
    let mut all_sure = true;
    // An unsure slip one of whose reads found what the customer claimed
    // takes that read (see [`super::with_claim`]), still unsure.
    let mut alternatives: Vec<Vec<Money>> = reads.iter().map(SlipReadRow::alternatives).collect();
    let mut amounts: Vec<Option<Money>> = reads
        .iter()
        .map(|r| r.amount_minor.map(Money::from_minor))
        .collect();
    let taken = facts.claimed_minor.and_then(|claim| {
        let read: Vec<super::ReadAmount<'_>> = reads
            .iter()
            .zip(&alternatives)
            .zip(&amounts)
            .map(|((r, alternatives), amount)| super::ReadAmount {
                amount: amount.filter(|_| r.status == "done"),
                sure: r.amount_sure == Some(1),
                alternatives,
            })
            .collect();
        super::with_claim(&read, Money::from_minor(claim))
    });
    if let Some((i, figure)) = taken {
        super::give_way(&mut amounts[i], &mut alternatives[i], figure);
    }
    for (i, r) in reads.iter().enumerate() {
        let short = r.hash.chars().take(8).collect::<String>();
        report.slips.push(SlipLine {
            hash: r.hash.clone(),
            status: r.status.clone(),
            amount: amounts[i],
            amount_sure: amounts[i].map(|_| r.amount_sure == Some(1)),
            alternatives: std::mem::take(&mut alternatives[i]),
            date: r.slip_time.clone(),
            bank: r.bank.clone(),
            dest_account: r.dest_account.clone(),
            dest_name: r.dest_name.clone(),
            sender_name: r.sender_name.clone(),
            sender_account: r.sender_account.clone(),
            reference: r.reference.clone(),
            remark: r.remark.clone(),
            error: r.error.clone(),
        });
        match (r.status.as_str(), amounts[i]) {
            ("pending", _) => {
                pending += 1;
                total = None;
                continue;
            }
            ("failed", _) => {
                total = None;
                report.checks.push(SlipCheck::Unreadable {
                    file: short,
                    reason: r.error.clone().unwrap_or_else(|| "unknown error".into()),
                });
                continue;
            }
            (_, None) => {
                total = None;
                report.checks.push(SlipCheck::Unreadable {
                    file: short,
                    reason: "no amount found".into(),
                });
            }
            (_, Some(a)) => {
                total = total.and_then(|t| t.checked_add(a));
                all_sure &= r.amount_sure == Some(1);
            }
        }
        if let Some(account) = r.dest_account.as_deref()
            && !is_ours(account, facts.accounts)
        {
            report.checks.push(SlipCheck::UnknownDestination {
                account: account.to_string(),
            });
        }
        if let Some(date) = r
            .slip_time
            .as_deref()
            .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S").ok())
        {
            let slip_ms =
                (date.and_utc().timestamp() - i64::from(facts.utc_offset_minutes) * 60) * 1000;
            let days = (facts.created_at_ms - slip_ms) / 86_400_000;
            if days > OLD_SLIP_DAYS {
                report.checks.push(SlipCheck::OldSlip {
                    slip_date: date.format("%d/%m/%Y").to_string(),
                    days_before: days,
                });
            }
        }
        if let (Some(reference), Some(orders)) = (r.reference.as_ref(), reused.get(i))
            && !orders.is_empty()
        {
            report.checks.push(SlipCheck::ReferenceReused {
                reference: reference.clone(),
                orders: orders.clone(),
            });
        }
    }
    if pending > 0 {
        report.checks.insert(0, SlipCheck::Reading { pending });
    }
    if reads.is_empty() {
        total = None;
    }
    report.total = total;
    if let (Some(slip), Some(claimed)) = (total, facts.claimed_minor.map(Money::from_minor))
        && slip != claimed
    {
        let check = if all_sure && !ocr_confusable(slip, claimed) {
            SlipCheck::AmountDiffers { slip, claimed }
        } else {
            SlipCheck::AmountUnsure { slip, claimed }
        };
        report.checks.insert(0, check);
    }
    report
}

/// Digits Tesseract mistakes for each other on photographed slips (the
/// dotted zero of an ATM receipt's mono font read as 9, 8 or 6; 3/8, 1/7,
/// 5/6).
const CONFUSABLE: [(u8, u8); 8] = [
    (b'0', b'9'),
    (b'0', b'8'),
    (b'0', b'6'),
    (b'3', b'8'),
    (b'1', b'7'),
    (b'5', b'6'),
    (b'6', b'8'),
    (b'5', b'9'),
];

/// True when OCR mistakes digit `d` for a zero (the dotted zero of a mono
/// font read as `9`, `8` or `6`): the zero pairs of [`CONFUSABLE`].
pub fn zero_lookalike(d: u8) -> bool {
    CONFUSABLE
        .iter()
        .any(|&(p, q)| (p, q) == (b'0', d) || (p, q) == (d, b'0'))
}

/// True when the amount read could be the claimed one misread: the same
/// number of digits, and every digit that differs is a pair OCR confuses
/// (`24.259.909` read for a claimed `24.250.000`). Staff then see "amount
/// unsure" with both amounts, never a sure "amount differs".
pub fn ocr_confusable(read: Money, claimed: Money) -> bool {
    let (a, b) = (read.to_plain(), claimed.to_plain());
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            x == y
                || CONFUSABLE
                    .iter()
                    .any(|&(p, q)| (x, y) == (p, q) || (x, y) == (q, p))
        })
}

/// True when `account` (as read) is one of ours: the digits of one contain
/// the other's (OCR may add a stray digit before a number, or a bank prefix).
pub fn is_ours(account: &str, accounts: &[BankAccount]) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let read = digits(account);
    if read.len() < 6 {
        // Too little to judge (masked or cut off): not flagged.
        return true;
    }
    accounts.iter().any(|a| {
        let ours = digits(&a.account_number);
        !ours.is_empty() && (read.contains(&ours) || ours.contains(&read))
    })
}

/// The report of an order: the reads of the slips added since `round_at`
/// (all slips when there is no round), with references used elsewhere.
///
/// # Errors
/// Database errors only.
pub async fn report_for(
    conn: &mut AnyConnection,
    order_id: i64,
    round_at: Option<i64>,
    added: &[(String, i64)],
    facts: &OrderFacts<'_>,
) -> Result<SlipReport, StoreError> {
    let reads = slip_reads::of_order(&mut *conn, order_id).await?;
    let in_round: Vec<SlipReadRow> = reads
        .into_iter()
        .filter(|r| {
            let at = added.iter().find(|(h, _)| *h == r.hash).map(|(_, at)| *at);
            match (round_at, at) {
                (Some(round), Some(at)) => at >= round,
                _ => true,
            }
        })
        .collect();
    let mut reused = Vec::with_capacity(in_round.len());
    for r in &in_round {
        reused.push(match r.reference.as_deref() {
            Some(reference) if !reference.is_empty() => {
                slip_reads::orders_with_reference(&mut *conn, reference, order_id).await?
            }
            _ => Vec::new(),
        });
    }
    Ok(assess(facts, &in_round, &reused))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_read_that_differs_only_in_confusable_digits_is_unsure_not_different() {
        let rp = Money::from_major;
        // The ATM receipt's dotted zeros read as 9s.
        assert!(ocr_confusable(rp(24_259_909), rp(24_250_000)));
        assert!(ocr_confusable(rp(8_450_600), rp(8_450_000)));
        // Another amount altogether, or another length: a real difference.
        assert!(!ocr_confusable(rp(7_750_000), rp(7_250_000)));
        assert!(!ocr_confusable(rp(1_850_000), rp(11_850_000)));
        assert!(!ocr_confusable(rp(2_500_000), rp(2_000_000)));
    }

    use super::*;

    fn accounts() -> Vec<BankAccount> {
        vec![BankAccount {
            bank: "BCA".into(),
            account_number: "527-031-8846".into(),
            account_name: "PT BILLING CONTOH INDONESIA".into(),
        }]
    }

    fn read(amount: Option<i64>) -> SlipReadRow {
        SlipReadRow {
            hash: "ab".repeat(32),
            status: "done".into(),
            attempts: 1,
            next_at: 0,
            error: None,
            method: Some("ocr".into()),
            amount_minor: amount,
            amount_sure: amount.map(|_| 1),
            amount_alternatives: None,
            slip_time: Some("2026-11-30T10:15:00".into()),
            bank: Some("BCA m-Transfer".into()),
            sender_name: None,
            sender_account: None,
            dest_account: Some("BCA 527-031-8846".into()),
            dest_name: None,
            reference: Some("20261130123456".into()),
            remark: None,
            read_ms: Some(500),
            updated_at: 0,
        }
    }

    // 2026-11-30 10:20 WIB.
    const CREATED: i64 = 1_796_008_800_000;

    fn facts(accounts: &[BankAccount], claimed: i64) -> OrderFacts<'_> {
        OrderFacts {
            claimed_minor: Some(claimed),
            created_at_ms: CREATED,
            accounts,
            utc_offset_minutes: 420,
        }
    }

    #[test]
    fn a_matching_slip_is_one_quiet_line() {
        let acc = accounts();
        let r = assess(
            &facts(&acc, 250_000_000),
            &[read(Some(250_000_000))],
            &[vec![]],
        );
        assert!(r.checks.is_empty(), "{:?}", r.checks);
        assert_eq!(
            r.lines(Lang::En, Lang::Id),
            vec!["slip: Rp 2.500.000, BCA m-Transfer, 30/11 10:15, ref 20261130123456"]
        );
    }

    #[test]
    fn a_different_amount_names_both() {
        let acc = accounts();
        let r = assess(
            &facts(&acc, 250_000_000),
            &[read(Some(205_000_000))],
            &[vec![]],
        );
        assert_eq!(
            r.checks,
            vec![SlipCheck::AmountDiffers {
                slip: Money::from_major(2_050_000),
                claimed: Money::from_major(2_500_000)
            }]
        );
        assert_eq!(
            r.lines(Lang::En, Lang::Id),
            vec!["amount differs: slip Rp 2.050.000, claimed Rp 2.500.000"]
        );
    }

    #[test]
    fn unread_or_pending_slips_never_claim_a_difference() {
        let acc = accounts();
        let mut pending = read(None);
        pending.status = "pending".into();
        let r = assess(&facts(&acc, 250_000_000), &[pending], &[vec![]]);
        assert_eq!(r.checks, vec![SlipCheck::Reading { pending: 1 }]);
        assert!(!r.has_warning());
        let r = assess(&facts(&acc, 250_000_000), &[read(None)], &[vec![]]);
        assert!(matches!(r.checks[..], [SlipCheck::Unreadable { .. }]));
        let mut failed = read(None);
        failed.status = "failed".into();
        failed.error = Some("damaged file".into());
        let r = assess(&facts(&acc, 250_000_000), &[failed], &[vec![]]);
        assert!(
            matches!(&r.checks[..], [SlipCheck::Unreadable { reason, .. }] if reason == "damaged file")
        );
    }

    #[test]
    fn an_amount_read_without_confidence_never_claims_a_difference() {
        let acc = accounts();
        let mut unsure = read(Some(205_000_000));
        unsure.amount_sure = Some(0);
        let r = assess(&facts(&acc, 250_000_000), &[unsure.clone()], &[vec![]]);
        assert_eq!(
            r.checks,
            vec![SlipCheck::AmountUnsure {
                slip: Money::from_major(2_050_000),
                claimed: Money::from_major(2_500_000)
            }]
        );
        assert_eq!(
            r.lines(Lang::En, Lang::Id),
            vec!["amount unsure: read Rp 2.050.000 on the slip, claimed Rp 2.500.000"]
        );
        // A row read before confidence was recorded counts as unsure.
        unsure.amount_sure = None;
        let r = assess(&facts(&acc, 250_000_000), &[unsure.clone()], &[vec![]]);
        assert!(
            !r.checks
                .iter()
                .any(|c| matches!(c, SlipCheck::AmountDiffers { .. })),
            "{:?}",
            r.checks
        );
        // One unsure slip among sure ones makes the sum unsure.
        unsure.amount_sure = Some(0);
        let r = assess(
            &facts(&acc, 500_000_000),
            &[read(Some(200_000_000)), unsure],
            &[vec![], vec![]],
        );
        assert!(matches!(r.checks[..], [SlipCheck::AmountUnsure { .. }]));
        // An unsure amount that is the claim is quiet, marked on its line.
        let mut matching = read(Some(250_000_000));
        matching.amount_sure = Some(0);
        let r = assess(&facts(&acc, 250_000_000), &[matching], &[vec![]]);
        assert!(r.checks.is_empty(), "{:?}", r.checks);
        assert_eq!(
            r.lines(Lang::En, Lang::Id),
            vec!["slip: Rp 2.500.000 (unsure), BCA m-Transfer, 30/11 10:15, ref 20261130123456"]
        );
    }

    #[test]
    fn an_unsure_slip_whose_other_read_is_the_claim_shows_it_with_what_else_was_read() {
        let acc = accounts();
        // Three reads of 8.930.000, one of 8.950.000 and one of 5.950.000.
        let mut unsure = read(Some(893_000_000));
        unsure.amount_sure = Some(0);
        unsure.amount_alternatives = Some("895000000 595000000".into());
        let r = assess(&facts(&acc, 895_000_000), &[unsure.clone()], &[vec![]]);
        assert!(r.checks.is_empty(), "{:?}", r.checks);
        assert_eq!(r.total, Some(Money::from_major(8_950_000)));
        assert_eq!(
            r.lines(Lang::En, Lang::Id),
            vec![
                "slip: Rp 8.950.000 (unsure; also read Rp 8.930.000, Rp 5.950.000), BCA m-Transfer, \
                 30/11 10:15, ref 20261130123456"
            ]
        );
        // A claim no read found: the figure most reads gave, as before.
        let r = assess(&facts(&acc, 900_000_000), &[unsure.clone()], &[vec![]]);
        assert_eq!(
            r.checks,
            vec![SlipCheck::AmountUnsure {
                slip: Money::from_major(8_930_000),
                claimed: Money::from_major(9_000_000)
            }]
        );
        // A sure read is never overridden by a stray one.
        unsure.amount_sure = Some(1);
        let r = assess(&facts(&acc, 895_000_000), &[unsure], &[vec![]]);
        assert_eq!(r.total, Some(Money::from_major(8_930_000)));
        assert!(
            matches!(r.checks[..], [SlipCheck::AmountDiffers { .. }]),
            "{:?}",
            r.checks
        );
    }

    #[test]
    fn two_slips_are_summed() {
        let acc = accounts();
        let r = assess(
            &facts(&acc, 500_000_000),
            &[read(Some(200_000_000)), read(Some(300_000_000))],
            &[vec![], vec![]],
        );
        assert!(r.checks.is_empty(), "{:?}", r.checks);
        assert_eq!(r.total, Some(Money::from_major(5_000_000)));
    }

    #[test]
    fn foreign_destination_old_date_and_reused_reference() {
        let acc = accounts();
        let mut r0 = read(Some(250_000_000));
        r0.dest_account = Some("BCA 111-222-3333".into());
        r0.slip_time = Some("2026-11-01T09:00:00".into());
        let r = assess(
            &facts(&acc, 250_000_000),
            &[r0],
            &[vec!["TU-20261101-0001".into()]],
        );
        assert!(matches!(r.checks[0], SlipCheck::UnknownDestination { .. }));
        assert!(
            matches!(
                r.checks[1],
                SlipCheck::OldSlip {
                    days_before: 29,
                    ..
                }
            ),
            "{:?}",
            r.checks
        );
        assert!(
            matches!(&r.checks[2], SlipCheck::ReferenceReused { orders, .. } if orders == &["TU-20261101-0001"])
        );
    }

    #[test]
    fn our_account_read_with_noise_is_ours() {
        let acc = vec![BankAccount {
            bank: "Mandiri".into(),
            account_number: "137-00-1842550-6".into(),
            account_name: "X".into(),
        }];
        assert!(is_ours("1370018425506", &acc));
        assert!(is_ours("11370018425506", &acc), "a colon read as 1");
        assert!(!is_ours("1370018425599", &acc));
        assert!(is_ours("xxxx", &acc), "too little to judge");
    }
}
