//! Outbox rows the desk writes inside its transactions: customer emails
//! (with every template variable and threading header fixed now, so a retry
//! sends the same mail) and review-card posts and edits.
//!
//! Who gets an order's mail: the person whose message it answers (threaded
//! under that message), and every active user involved in the order: the
//! user who requested it, the user who sent the latest slip (a PIC
//! submitting for the main user's order: both are told), and the customer
//! who cancelled it. Each reads it in their own language, greeted by name.

use serde_json::{Value, json};

use super::{Actor, Desk, DeskResult, ReplyTo};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::outbox::{EmailJob, Job};
use crate::render::receipt::ReceiptData;
use crate::render::templates::EmailKind;
use crate::store::Tx;
use crate::store::accounts::{self, UserRow};
use crate::store::orders::{self, OrderRow};
use crate::store::outbox;

impl Desk {
    /// The common template variables for a user of an account.
    pub(crate) fn base_vars(&self, company: &str, user: Option<&UserRow>, lang: Lang) -> Value {
        let d = &self.settings.desk;
        let user_name = user.map(UserRow::display_name).unwrap_or_default();
        json!({
            "company": company,
            "user_name": user_name,
            "seller_name": d.seller_name,
            "support_email": d.support_email,
            "lang": lang.code(),
        })
    }

    /// Template variables describing an order. Staff names are never among
    /// them: customers read "the Receivables team".
    pub(crate) fn order_vars(&self, order: &OrderRow, lang: Lang, balance: Option<i64>) -> Value {
        let amount = order
            .paid_minor
            .or(order.amount_minor)
            .map(|m| Money::from_minor(m).display(lang))
            .unwrap_or_else(|| match lang {
                Lang::Id => "(belum disebutkan)".into(),
                Lang::En => "(not stated)".into(),
            });
        // Paid with another amount than asked: the mail says both.
        let requested_amount = match (order.paid_minor, order.amount_minor) {
            (Some(paid), Some(asked)) if paid != asked => Money::from_minor(asked).display(lang),
            _ => String::new(),
        };
        json!({
            "order_number": order.number,
            "amount": amount,
            "order_time": self.format_time(order.created_at),
            "submitted_time": order.submitted_at.map(|t| self.format_time(t)),
            "status": order.status().as_str(),
            "status_name": order.status().display_name(lang),
            "status_link": self.status_link(&order.token),
            "bank_accounts": self.settings.desk.bank_accounts,
            "reason": order.reason.clone().unwrap_or_default(),
            "requested_amount": requested_amount,
            "new_balance": balance.map(|b| Money::from_minor(b).display(lang)).unwrap_or_default(),
        })
    }

    /// Queues an email about `order` to everyone it concerns (see the module docs).
    pub(crate) async fn email(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        kind: EmailKind,
        reply: Option<&ReplyTo>,
        receipt: Option<ReceiptData>,
    ) -> DeskResult<()> {
        self.email_as(tx, order, kind, reply, receipt, &Actor::System)
            .await
    }

    /// [`Desk::email`], also to `actor` when a customer did it (e.g. the main
    /// user cancelling a PIC's order on the web is told too).
    pub(crate) async fn email_as(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        kind: EmailKind,
        reply: Option<&ReplyTo>,
        receipt: Option<ReceiptData>,
        actor: &Actor,
    ) -> DeskResult<()> {
        let account = accounts::account_by_id(tx, order.account_id).await?;
        let creator = match order.user_id {
            Some(id) => Some(accounts::user_by_id(tx, id).await?),
            None => None,
        };
        let submitter = match order.submitted_by {
            Some(id) if Some(id) != order.user_id => Some(accounts::user_by_id(tx, id).await?),
            _ => creator.clone(),
        };
        let balance = accounts::balance(tx, account.id).await?;
        let code = crate::store::statements::code_of(tx, order.id).await?;
        let mut recipients: Vec<(String, Option<UserRow>, Option<&ReplyTo>)> = Vec::new();
        if let Some(r) = reply.filter(|r| !r.address.is_empty()) {
            let user = accounts::user_by_email(tx, &r.address).await?;
            recipients.push((accounts::normalise_email(&r.address), user, Some(r)));
        }
        let acting = match actor {
            Actor::Customer(u) => Some(u.clone()),
            _ => None,
        };
        for u in [acting, creator.clone(), submitter.clone()]
            .into_iter()
            .flatten()
            .filter(|u| u.removed_at.is_none())
        {
            let address = accounts::normalise_email(u.primary_email());
            let known = recipients
                .iter()
                .any(|(a, r, _)| *a == address || r.as_ref().is_some_and(|r| r.id == u.id));
            if !address.is_empty() && !known {
                recipients.push((address, Some(u), None));
            }
        }
        if recipients.is_empty() {
            // Everyone involved was removed: the account's main user is told.
            let main = accounts::main_user(tx, account.id).await?;
            recipients.push((
                accounts::normalise_email(main.primary_email()),
                Some(main),
                None,
            ));
        }
        let submitted_by = submitter
            .as_ref()
            .map(UserRow::display_name)
            .unwrap_or_default();
        for (to, user, answered) in recipients {
            let lang = user
                .as_ref()
                .map_or(account.lang(), |u| u.lang_or(account.lang()));
            let mut vars = self.base_vars(&account.name, user.as_ref(), lang);
            if user.is_none() {
                merge(&mut vars, json!({ "user_name": to }));
            }
            merge(&mut vars, self.order_vars(order, lang, Some(balance)));
            merge(&mut vars, transfer_vars(code, lang));
            merge(&mut vars, json!({ "submitted_by": submitted_by }));
            let (in_reply_to, references, subject) = match answered {
                Some(r) if r.message_id.is_some() => {
                    let mut refs = r.references.clone();
                    refs.extend(r.message_id.clone());
                    (r.message_id.clone(), refs, Some(r.subject.clone()))
                }
                _ => match &order.thread_message_id {
                    Some(id) => (
                        Some(id.clone()),
                        vec![id.clone()],
                        order.thread_subject.clone(),
                    ),
                    None => (None, Vec::new(), None),
                },
            };
            let job = EmailJob {
                kind,
                lang,
                to,
                message_id: self.new_message_id(),
                in_reply_to,
                references,
                reply_subject: subject,
                order_number: Some(order.number.clone()),
                vars,
                receipt: receipt.clone(),
                direct_reply: answered.is_some(),
            };
            self.queue_email(tx, Some(order.id), job, answered.is_some())
                .await?;
        }
        Ok(())
    }

    /// Queues an email that is not about one order's lifecycle (unknown sender, help,
    /// limits, refusals, status answers, questions back), answering `reply`.
    /// Returns the Message-ID it will be sent with (a reply to it threads back).
    pub(crate) async fn reply_email(
        &self,
        tx: &mut Tx,
        kind: EmailKind,
        lang: Lang,
        reply: &ReplyTo,
        order: Option<&OrderRow>,
        vars: Value,
    ) -> DeskResult<String> {
        let mut refs = reply.references.clone();
        refs.extend(reply.message_id.clone());
        let job = EmailJob {
            kind,
            lang,
            to: reply.address.clone(),
            message_id: self.new_message_id(),
            in_reply_to: reply.message_id.clone(),
            references: refs,
            reply_subject: Some(reply.subject.clone()),
            order_number: order.map(|o| o.number.clone()),
            vars,
            receipt: None,
            direct_reply: true,
        };
        let message_id = job.message_id.clone();
        self.queue_email(tx, order.map(|o| o.id), job, true).await?;
        Ok(message_id)
    }

    async fn queue_email(
        &self,
        tx: &mut Tx,
        order_id: Option<i64>,
        job: EmailJob,
        _is_reply: bool,
    ) -> DeskResult<()> {
        let now = self.now();
        let to = accounts::normalise_email(&job.to);
        // Never write to ourselves: that is how mail loops start.
        if to == accounts::normalise_email(&self.settings.mail.from_address) || !to.contains('@') {
            tracing::warn!(to = %to, "Not emailing our own or an invalid address");
            return Ok(());
        }
        let suppressed = self.reply_guard(tx, &to, job.kind, now).await?;
        if let Some(why) = &suppressed {
            tracing::warn!(to = %to, kind = job.kind.file_stem(), "Email held back: {why}");
        }
        if let Some(id) = order_id
            && suppressed.is_none()
        {
            orders::add_thread_id(tx, id, &job.message_id).await?;
        }
        let kind = job.kind.file_stem();
        let payload = serde_json::to_string(&Job::Email(Box::new(job)))
            .map_err(|e| super::DeskError::Internal(e.into()))?;
        outbox::insert_email(
            tx,
            order_id,
            &to,
            &payload,
            kind,
            suppressed.as_deref(),
            now,
        )
        .await?;
        Ok(())
    }

    /// The loop guard: why an email of `kind` to `to` must be held back now, if it must.
    ///
    /// Only answers to messages the desk could not act on are capped (not
    /// understood, refusals, unknown senders, limits): those are what an
    /// auto-responder on the other side would keep triggering. Lifecycle mail
    /// (order created, submission received, paid, payment failure,
    /// cancelled, closed) and status answers are never held back. Sign-in
    /// links have a cap of their own, so asking for links cannot use up the
    /// answers a customer needs.
    async fn reply_guard(
        &self,
        tx: &mut Tx,
        to: &str,
        kind: EmailKind,
        now: i64,
    ) -> DeskResult<Option<String>> {
        let limits = &self.settings.limits;
        let (kinds, cap, what): (&[&str], i64, &str) = if CAPPED_ANSWERS.contains(&kind) {
            (
                &CAPPED_ANSWER_STEMS,
                limits.replies_per_sender_per_hour,
                "answers to messages we could not act on",
            )
        } else if kind == EmailKind::SignInLink {
            (
                &["sign_in_link"],
                limits.sign_in_links_per_address_per_hour,
                "sign-in links",
            )
        } else {
            return Ok(None);
        };
        let sent = outbox::emails_to_since(tx, to, kinds, now - 3_600_000).await?;
        Ok((sent >= cap).then(|| {
            format!("loop guard: {sent} {what} to this address in the last hour (limit {cap})")
        }))
    }

    /// Queues a review card for the staff channel (when Discord is configured;
    /// without it the staff web board lists the dealing queue directly).
    pub(crate) async fn review_card(&self, tx: &mut Tx, order: &OrderRow) -> DeskResult<()> {
        self.discord_job(tx, order, Job::ReviewCard { order_id: order.id })
            .await
    }

    /// Queues an edit of the order's review card to show where it stands now.
    pub(crate) async fn card_update(&self, tx: &mut Tx, order: &OrderRow) -> DeskResult<()> {
        self.discord_job(tx, order, Job::CardUpdate { order_id: order.id })
            .await
    }

    pub(crate) async fn discord_job(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        job: Job,
    ) -> DeskResult<()> {
        if !self.settings.discord.enabled() {
            return Ok(());
        }
        let payload =
            serde_json::to_string(&job).map_err(|e| super::DeskError::Internal(e.into()))?;
        let channel = self.settings.discord.staff_channel_id.to_string();
        outbox::insert(
            tx,
            job.kind(),
            Some(order.id),
            &channel,
            &payload,
            self.now(),
        )
        .await?;
        Ok(())
    }

    fn new_message_id(&self) -> String {
        let domain = self
            .settings
            .mail
            .from_address
            .rsplit('@')
            .next()
            .filter(|d| !d.is_empty())
            .unwrap_or("topup.invalid");
        format!("<topup.{}@{domain}>", uuid::Uuid::new_v4().simple())
    }
}

/// Answers to messages the desk could not act on: the only mail the per-sender cap applies to.
const CAPPED_ANSWERS: [EmailKind; 6] = [
    EmailKind::ConfirmAmend,
    EmailKind::ConfirmCancel,
    EmailKind::NotUnderstood,
    EmailKind::ActionRefused,
    EmailKind::UnknownSender,
    EmailKind::LimitsExceeded,
];
const CAPPED_ANSWER_STEMS: [&str; 6] = [
    "confirm_amend",
    "confirm_cancel",
    "not_understood",
    "action_refused",
    "unknown_sender",
    "limits_exceeded",
];

/// Adds the keys of `extra` to `base` (both JSON objects).
pub(crate) fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// `transfer_amount` (amount plus unique code, "" without one) and `unique_code`
/// for the order mails: "transfer exactly Rp 2.500.123".
fn transfer_vars(code: Option<(i64, i64)>, lang: Lang) -> Value {
    match code {
        Some((code, transfer)) => json!({
            "transfer_amount": Money::from_minor(transfer).display(lang),
            "unique_code": Money::from_minor(code * 100).display(lang),
        }),
        None => json!({ "transfer_amount": "", "unique_code": "" }),
    }
}
