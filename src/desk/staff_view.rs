//! What staff need to decide on a submission without switching windows, in
//! one place for the staff board and the Discord review cards: who sent it
//! (name and address), the customer's own words (subject and first lines of
//! their message), the account's balance and recent orders, how long it has
//! waited and when the confirm limit fails it, and the labels staff read in
//! their language ([`label`]). Amounts on staff surfaces use one notation,
//! `desk.staff_notation`, whatever the customer's language.

use mail_parser::MessageParser;

use super::{Desk, DeskError, DeskResult, OrderView};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order_number::OrderNumber;
use crate::store::inbound as inbound_store;
use crate::store::orders::{self, OrderRow};

/// At most this many lines of the customer's message are shown.
const WORD_LINES: usize = 4;
/// And at most this many characters per line.
const WORD_LINE_CHARS: usize = 200;
/// Recent orders of the account shown beside a submission.
const RECENT_ORDERS: i64 = 5;
/// Only the start of a kept message is read for the customer's words: the
/// text part comes first, and a 25 MB mail must not be parsed whole for
/// every look at the board.
const WORDS_READ_BYTES: usize = 256 * 1024;

/// The customer's own words about a submission.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CustomerWords {
    /// `email`, `discord`, ...
    pub source: String,
    /// The subject (email) or start of the message (chat).
    pub subject: String,
    /// The first lines of what they wrote (quotes and signatures left out).
    pub lines: Vec<String>,
}

/// Everything staff see about one order under review.
#[derive(Debug, Clone)]
pub struct Review {
    /// The order with its account, users, events and slips.
    pub view: OrderView,
    /// What the customer wrote with the latest submission.
    pub words: Option<CustomerWords>,
    /// The account's other recent orders, newest first.
    pub recent: Vec<OrderRow>,
    /// When the confirm limit fails the order, if it is in `dealing`.
    pub due_at: Option<i64>,
    /// It has waited `desk.remind_hours` or more: highlight it.
    pub waiting_long: bool,
    /// The statement line matched or suggested to it (shown as "Money
    /// arrived: BCA 30/11 Rp 2.500.000, berita '...'", [`Review::money`]).
    pub money_line: Option<crate::store::statements::LineRow>,
    /// The last date statements cover when they cover two business days
    /// after its slip and its money is not on them ([`Review::not_on_statement`]).
    pub not_on_statement_through: Option<chrono::NaiveDate>,
}

impl Review {
    /// The user who sent the latest slip (else the requester).
    pub fn sender(&self) -> Option<&crate::store::accounts::UserRow> {
        self.view.submitter.as_ref().or(self.view.user.as_ref())
    }

    /// "Money arrived: BCA 30/11 Rp 2.500.000, berita '...'" in `lang`, amounts in `notation`.
    pub fn money(
        &self,
        lang: crate::domain::Lang,
        notation: crate::domain::Lang,
    ) -> Option<String> {
        self.money_line
            .as_ref()
            .map(|l| super::statements::money_arrived(l, lang, notation))
    }

    /// "not on the statement through <date>" in `lang`.
    pub fn not_on_statement(&self, lang: crate::domain::Lang) -> Option<String> {
        self.not_on_statement_through
            .map(|d| super::statements::not_on_statement(d, lang))
    }
}

impl Desk {
    /// An amount as staff read it (`desk.staff_notation`).
    pub fn staff_money(&self, minor: i64) -> String {
        Money::from_minor(minor).display(self.settings.desk.staff_notation)
    }

    /// What staff see about an order.
    ///
    /// # Errors
    /// [`DeskError::UnknownOrder`]; database errors.
    pub async fn review(&self, number: &OrderNumber) -> DeskResult<Review> {
        let view = self.view(number).await?;
        let mut conn = self.store.pool().acquire().await?;
        let latest = inbound_store::latest_for_order(&mut conn, view.order.id).await?;
        let words = match latest {
            Some(m) => {
                let raw = match &m.raw_hash {
                    Some(h) => self.slips.get(h).await.ok(),
                    None => None,
                };
                Some(CustomerWords {
                    lines: raw.map(|r| first_lines(&m.source, &r)).unwrap_or_default(),
                    source: m.source,
                    subject: m.subject,
                })
            }
            None => None,
        };
        let recent = orders::list(
            &mut conn,
            None,
            Some(view.order.account_id),
            RECENT_ORDERS + 1,
        )
        .await?
        .into_iter()
        .filter(|o| o.id != view.order.id)
        .take(RECENT_ORDERS as usize)
        .collect();
        let d = &self.settings.desk;
        let dealing = view.order.status() == crate::domain::order::OrderStatus::Dealing;
        let submitted = view.order.submitted_at.filter(|_| dealing);
        let waiting_long = d.remind_hours > 0
            && submitted.is_some_and(|t| self.now() - t >= d.remind_hours * 3_600_000);
        let money_line = view.statement_lines.first().cloned();
        let covered = crate::store::statements::covered_through(&mut conn)
            .await?
            .and_then(|c| chrono::NaiveDate::parse_from_str(&c, "%Y-%m-%d").ok());
        let not_on_statement_through =
            self.missing_flag(&view.order, !view.statement_lines.is_empty(), covered);
        Ok(Review {
            due_at: submitted.map(|t| t + d.confirm_hours * 3_600_000),
            waiting_long,
            money_line,
            not_on_statement_through,
            view,
            words,
            recent,
        })
    }

    /// [`Desk::review`] by order id (the outbox's jobs carry ids).
    ///
    /// # Errors
    /// As [`Desk::review`].
    pub async fn review_by_id(&self, order_id: i64) -> DeskResult<Review> {
        let number = {
            let mut conn = self.store.pool().acquire().await?;
            orders::by_id(&mut conn, order_id).await?.number
        };
        let number = self
            .parse_order_number(&number)
            .map_err(|_| DeskError::UnknownOrder(number.clone()))?;
        self.review(&number).await
    }

    /// "10 h 5 min" of waiting, for staff.
    pub fn staff_duration(&self, ms: i64, lang: Lang) -> String {
        let minutes = (ms.max(0) + 59_999) / 60_000;
        let (h, m) = (minutes / 60, minutes % 60);
        match (h, lang) {
            (0, Lang::En) => format!("{m} min"),
            (0, Lang::Id) => format!("{m} menit"),
            (h, Lang::En) => format!("{h} h {m} min"),
            (h, Lang::Id) => format!("{h} jam {m} menit"),
        }
    }
}

/// The first lines a customer wrote: email bodies without quoted replies and
/// signatures, chat messages as they are. Never fails: an unreadable message
/// gives no lines.
pub fn first_lines(source: &str, raw: &[u8]) -> Vec<String> {
    let raw = &raw[..raw.len().min(WORDS_READ_BYTES)];
    let body = match source {
        "email" => MessageParser::default()
            .parse(raw)
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default(),
        _ => serde_json::from_slice::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| {
                v.get("content")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned()),
    };
    let mut lines = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        if ends_own_words(t) {
            break;
        }
        if t.is_empty() {
            continue;
        }
        let mut clipped: String = t
            .chars()
            .filter(|c| !c.is_control())
            .take(WORD_LINE_CHARS)
            .collect();
        if t.chars().count() > WORD_LINE_CHARS {
            clipped.push('…');
        }
        lines.push(clipped);
        if lines.len() == WORD_LINES {
            break;
        }
    }
    lines
}

/// A line where the customer's own words stop: a quote, a reply header, a
/// forwarded message or a signature.
fn ends_own_words(line: &str) -> bool {
    let lower = line.to_lowercase();
    line.starts_with('>')
        || line == "--"
        || line == "-- "
        || lower.starts_with("-----original message")
        || lower.starts_with("---------- forwarded")
        || lower.starts_with("sent from my")
        || lower.starts_with("dikirim dari")
        || ((lower.starts_with("on ") || lower.starts_with("pada "))
            && (lower.ends_with("wrote:") || lower.ends_with("menulis:")))
        || lower.starts_with("from:") && lower.contains('@')
        || lower.starts_with("dari:") && lower.contains('@')
}

/// A label staff read, in `lang` (the board and the review cards).
pub fn label(lang: Lang, key: &str) -> &'static str {
    let (en, id) = match key {
        "order" => ("Order", "Pesanan"),
        "company" => ("Company", "Perusahaan"),
        "claimed" => ("Claimed amount", "Jumlah yang diklaim"),
        "submitted_by" => ("Submitted by", "Dikirim oleh"),
        "requested_by" => ("Requested by", "Diminta oleh"),
        "channel" => ("Channel", "Saluran"),
        "submitted" => ("Submitted", "Dikirim"),
        "stated" => (
            "Amount stated with the slip",
            "Jumlah yang ditulis bersama bukti",
        ),
        "flags" => ("Flags", "Tanda"),
        "slip_check" => ("Slip check", "Cek bukti transfer"),
        "none" => ("none", "tidak ada"),
        "slips" => ("Slips", "Bukti transfer"),
        "no_slips" => ("none attached", "tidak ada lampiran"),
        "words" => ("Customer's words", "Kata-kata pelanggan"),
        "balance" => ("Balance", "Saldo"),
        "recent" => ("Recent orders", "Pesanan terakhir"),
        "no_recent" => ("no other orders", "tidak ada pesanan lain"),
        "board_link" => ("On the staff board", "Di papan staf"),
        "waiting" => ("Waiting", "Menunggu"),
        "fails_at" => ("fails automatically at", "gagal otomatis pada"),
        "waiting_review" => (
            "Waiting for review: check the bank statement, then Approve or Reject.",
            "Menunggu pemeriksaan: cek mutasi rekening, lalu Setujui atau Tolak.",
        ),
        "superseded" => (
            "Superseded: the order is now",
            "Digantikan: pesanan sekarang",
        ),
        "by" => ("by", "oleh"),
        "at" => ("at", "pada"),
        "credited" => ("Credited", "Dikreditkan"),
        "balance_now" => ("Balance now", "Saldo sekarang"),
        "reason" => ("Reason", "Alasan"),
        "order_status" => ("Order status", "Status pesanan"),
        "approve" => ("Approve", "Setujui"),
        "reject" => ("Reject", "Tolak"),
        "earlier" => ("earlier submission", "pengiriman sebelumnya"),
        "not_attached" => (
            "not attached here (see the staff web board)",
            "tidak dilampirkan di sini (lihat papan staf)",
        ),
        "not_stated" => ("(not stated)", "(tidak disebutkan)"),
        "unknown" => ("unknown", "tidak diketahui"),
        "flag_duplicate_slip" => (
            "Duplicate slip: the same file is attached to another order",
            "Bukti ganda: berkas yang sama terlampir pada pesanan lain",
        ),
        "flag_resubmission" => (
            "Resubmission after a rejection",
            "Dikirim ulang setelah ditolak",
        ),
        "flag_pic" => (
            "Sent by a PIC (sub-account) user",
            "Dikirim oleh pengguna PIC (sub-akun)",
        ),
        "flag_unauthenticated" => (
            "Sender authentication (DMARC/SPF/DKIM) failed",
            "Autentikasi pengirim (DMARC/SPF/DKIM) gagal",
        ),
        "reminder" => (
            "has waited {waited} for review; it fails automatically at {due}.",
            "sudah menunggu {waited} untuk diperiksa; pesanan gagal otomatis pada {due}.",
        ),
        _ => ("", ""),
    };
    match lang {
        Lang::En => en,
        Lang::Id => id,
    }
}

/// A review flag as staff read it (unknown flags as they are stored).
pub fn flag_text(lang: Lang, flag: &str) -> String {
    let key = format!("flag_{flag}");
    match label(lang, &key) {
        "" => flag.replace('_', " "),
        text => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_words_stop_at_quotes_and_signatures() {
        let raw = b"From: Budi <b@x.id>\r\nSubject: Bukti\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSelamat pagi,\r\n\r\nTerlampir bukti transfer Rp 2.500.000.\r\nMohon dicek.\r\n\r\nPada Sen, 25 Nov 2026 pukul 10.00, Topup menulis:\r\n> Pesanan TU-20261125-0001\r\n";
        assert_eq!(
            first_lines("email", raw),
            vec![
                "Selamat pagi,",
                "Terlampir bukti transfer Rp 2.500.000.",
                "Mohon dicek."
            ]
        );
        let chat = serde_json::json!({"content": "bukti TU-20261125-0001\n-- \nBudi"}).to_string();
        assert_eq!(
            first_lines("discord", chat.as_bytes()),
            vec!["bukti TU-20261125-0001"]
        );
        assert!(first_lines("email", b"\xff\xfe not mail").len() <= WORD_LINES);
    }

    #[test]
    fn long_lines_are_clipped_and_only_four_are_kept() {
        let body = format!("{}\n2\n3\n4\n5\n", "x".repeat(500));
        let lines = first_lines("discord", body.as_bytes());
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].chars().count(), WORD_LINE_CHARS + 1);
    }

    #[test]
    fn every_label_exists_in_both_languages() {
        for key in [
            "order",
            "company",
            "claimed",
            "submitted_by",
            "words",
            "balance",
            "recent",
            "board_link",
            "reminder",
            "flag_pic",
        ] {
            assert!(!label(Lang::En, key).is_empty(), "{key}");
            assert!(!label(Lang::Id, key).is_empty(), "{key}");
        }
        assert_eq!(flag_text(Lang::Id, "something_new"), "something new");
    }
}
