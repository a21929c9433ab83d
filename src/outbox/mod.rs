//! Outbox jobs: what a transition asks to be delivered after it commits.
//!
//! The desk writes one outbox row per email or chat update in the same
//! transaction as the status change; the row's payload is a [`Job`] in JSON.
//! Everything needed to send the same mail again (Message-ID, template
//! variables, threading headers, receipt data) is in the payload, so a retry
//! after a crash sends the identical message.

pub mod deliver;
pub mod email;

use serde::{Deserialize, Serialize};

use crate::domain::Lang;
use crate::render::receipt::ReceiptData;
use crate::render::templates::EmailKind;

/// A unit of delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// An email to a customer (boxed: it is much larger than the chat jobs).
    Email(Box<EmailJob>),
    /// Post a review card for the order in the staff channel.
    ReviewCard {
        /// The order.
        order_id: i64,
    },
    /// Edit the order's review card to show its current state (decided, cancelled, expired).
    CardUpdate {
        /// The order.
        order_id: i64,
    },
    /// Announce once more in the staff channel an order that has waited in
    /// `dealing` for `desk.remind_hours` (a reply to its review card).
    Reminder {
        /// The order.
        order_id: i64,
    },
    /// Answer a customer's chat message with what the desk did.
    ChatReply {
        /// The chat channel.
        channel_id: u64,
        /// The customer's message to answer.
        message_id: u64,
        /// The order it affected, if any.
        order_id: Option<i64>,
        /// The desk's outcome line (`created TU-...`, `refused: ...`).
        outcome: String,
    },
    /// Tell a customer privately (Discord direct message) what must not be
    /// shown in a shared channel: the status-page link (it alone allows
    /// upload, amend and cancel) and the balance.
    ChatDirect {
        /// The customer's Discord user id.
        user_id: u64,
        /// The order it is about, if any.
        order_id: Option<i64>,
        /// The desk's outcome line.
        outcome: String,
    },
}

impl Job {
    /// The outbox `kind` column for this job.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Email(_) => "email",
            Job::ReviewCard { .. } => "review_card",
            Job::CardUpdate { .. } => "card_update",
            Job::ChatReply { .. } => "chat_reply",
            Job::Reminder { .. } => "reminder",
            Job::ChatDirect { .. } => "chat_dm",
        }
    }
}

/// An email, ready to render and send.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmailJob {
    /// Which template.
    pub kind: EmailKind,
    /// In which language.
    pub lang: Lang,
    /// Recipient address.
    pub to: String,
    /// Our stable Message-ID (`<...@...>`), fixed when the row is written.
    pub message_id: String,
    /// The customer's message this answers, if any.
    pub in_reply_to: Option<String>,
    /// The thread's Message-IDs, oldest first.
    pub references: Vec<String>,
    /// The subject of the customer's message, for a `Re:` subject.
    pub reply_subject: Option<String>,
    /// The order number the subject must carry, if any.
    pub order_number: Option<String>,
    /// Template variables.
    pub vars: serde_json::Value,
    /// Receipt to attach (paid mail).
    pub receipt: Option<ReceiptData>,
    /// A direct answer to the customer's message (`Auto-Submitted: auto-replied`);
    /// otherwise a notification threaded under it (`auto-generated`).
    #[serde(default)]
    pub direct_reply: bool,
}

impl EmailJob {
    /// The subject line: the template's, which says what happened
    /// (`Lunas: TU-20261125-0001 Rp 2.500.000`), with the order number added
    /// when the template left it out. A reply keeps its thread through
    /// In-Reply-To and References, not through a `Re:` subject, so the status
    /// shows in the mailbox list. `reply_subject` is kept on the job for the
    /// record only.
    pub fn subject(&self, template_subject: &str) -> String {
        let base = template_subject.trim();
        match &self.order_number {
            Some(n) if !base.to_ascii_uppercase().contains(n.as_str()) => {
                if base.is_empty() {
                    n.clone()
                } else {
                    format!("{base} [{n}]")
                }
            }
            _ => base.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(reply_subject: Option<&str>) -> EmailJob {
        EmailJob {
            kind: EmailKind::SubmissionReceived,
            lang: Lang::En,
            to: "a@b.c".into(),
            message_id: "<1@x>".into(),
            in_reply_to: None,
            references: vec![],
            reply_subject: reply_subject.map(str::to_string),
            order_number: Some("TU-20261125-0001".into()),
            vars: serde_json::json!({}),
            receipt: None,
            direct_reply: true,
        }
    }

    #[test]
    fn subjects_say_what_happened_and_carry_the_order_number_once() {
        // A reply to the customer's mail still takes the template's subject.
        assert_eq!(
            job(Some("Bukti transfer")).subject("Lunas: TU-20261125-0001 Rp 2.500.000"),
            "Lunas: TU-20261125-0001 Rp 2.500.000"
        );
        assert_eq!(
            job(None).subject("Submission received"),
            "Submission received [TU-20261125-0001]"
        );
        let mut no_order = job(Some("halo"));
        no_order.order_number = None;
        assert_eq!(
            no_order.subject("Cara mengisi saldo melalui email"),
            "Cara mengisi saldo melalui email"
        );
    }

    #[test]
    fn jobs_round_trip_through_json() {
        let j = Job::Email(Box::new(job(Some("x"))));
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains("\"type\":\"email\""), "{text}");
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), j);
        assert_eq!(j.kind(), "email");
    }
}
