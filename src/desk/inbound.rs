//! Inbound messages (email and chat) to desk effects.
//!
//! [`Desk::handle_inbound`] records the message once under every key it is
//! known by (Message-ID, IMAP UIDVALIDITY/UID, chat message id) in the same
//! transaction as its effect, so a restart or a redelivery never makes a
//! second order. Automatic mail is recorded and never answered; mail from
//! unknown addresses is kept for staff and answered politely; a refused
//! action is answered with the reason. Only a database failure makes the
//! call fail, and then nothing was recorded, so the source tries again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use tracing::Instrument;

use super::notify::merge;
use super::{Actor, Channel, Desk, DeskError, DeskResult, ReplyTo, StoredSlip, Text};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::{EventKind, OrderStatus, transition};
use crate::intake::{Extraction, Intent};
use crate::render::templates::EmailKind;
use crate::store::Tx;
use crate::store::accounts::{self, UserRow};
use crate::store::inbound::{self as inbound_store, NewInbound, Proposed, Recorded};
use crate::store::orders::{self, OrderRow};

/// A message from a customer channel, understood but not yet acted on.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Email or Discord.
    pub channel: Channel,
    /// Every key the message is known by (`msgid:<...>`, `imap:<box>:<uidvalidity>:<uid>`, `discord:<id>`).
    pub keys: Vec<String>,
    /// Hash of what the message says (sender, subject, date, body), which tells
    /// a redelivery from a different message reusing a Message-ID.
    pub content_hash: Option<String>,
    /// Sender: lowercase email address, or Discord user id.
    pub sender: String,
    /// The sender's display name (email `From` name, Discord user name), when
    /// given: a user without a name gets it.
    pub sender_name: Option<String>,
    /// Subject (email) or the start of the message (chat).
    pub subject: String,
    /// The email's Message-ID.
    pub message_id: Option<String>,
    /// In-Reply-To and References, oldest first.
    pub thread_ids: Vec<String>,
    /// What the parser understood.
    pub extraction: Extraction,
    /// The raw message, kept for staff (only the headers of an oversized message).
    pub raw: Option<Vec<u8>>,
    /// Sender authentication (DMARC/SPF/DKIM by our receiving server) did not pass.
    pub auth_failed: bool,
    /// A limit the source already found broken (e.g. a message or chat attachment
    /// too large to download); the message is recorded and answered, not acted on.
    pub over_limit: Option<Limit>,
    /// Where to answer in chat (channel id, message id): the answer goes through the outbox.
    pub chat_reply_to: Option<(u64, u64)>,
}

/// What the desk did with a message.
#[derive(Debug, Clone)]
pub struct InboundOutcome {
    /// The inbound record; `None` when the message had been handled before.
    pub inbound_id: Option<i64>,
    /// One line for logs, staff and chat replies (`created TU-...`, `unknown_sender`, `refused: ...`).
    pub outcome: String,
    /// The order it affected.
    pub order: Option<OrderRow>,
}

impl InboundOutcome {
    /// True when the message had been recorded before and nothing was done.
    pub fn duplicate(&self) -> bool {
        self.inbound_id.is_none()
    }

    /// True when handling kept failing and the message was recorded as failed.
    pub fn failed(&self) -> bool {
        self.outcome.starts_with("failed")
    }
}

/// How often handling one message is tried before it is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 3;

/// Messages recorded as failed since the process started (for metrics).
pub static INBOUND_FAILED: AtomicU64 = AtomicU64::new(0);

impl Desk {
    /// Acts on one inbound message, once, and never lets one message stop a
    /// source: handling runs in a task of its own (a panic is caught there),
    /// is tried [`MAX_ATTEMPTS`] times, and a message that still fails is
    /// recorded as `failed` with the error (kept raw for staff, `topup
    /// inbound list --failed`) so the source moves past it.
    ///
    /// # Errors
    /// Only when the store (or the slip store) cannot be reached right now:
    /// nothing was recorded, and the source tries the message again later.
    pub async fn handle_inbound(&self, msg: Inbound) -> DeskResult<InboundOutcome> {
        let msg = Arc::new(msg);
        let mut last_error = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let desk = self.clone();
            let m = msg.clone();
            let run =
                tokio::spawn(async move { desk.handle_inbound_once(&m).await }.in_current_span());
            match run.await {
                Ok(Ok(outcome)) => return Ok(outcome),
                Ok(Err(e)) if e.is_unavailable() => return Err(e),
                Ok(Err(e)) => last_error = format!("{e:#}"),
                Err(join) => last_error = panic_text(join),
            }
            tracing::warn!(
                source_key = msg.keys.first().map(String::as_str).unwrap_or(""),
                attempt,
                "Handling a message failed: {last_error}"
            );
            if attempt < MAX_ATTEMPTS {
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
            }
        }
        self.record_failed(&msg, &last_error).await
    }

    /// One attempt at handling a message, with no failure record: an error
    /// (or a panic, as an error) is returned to the caller. For operators
    /// handling a failed message again (`topup inbound retry`).
    ///
    /// # Errors
    /// Whatever handling it failed with.
    pub async fn try_inbound(&self, msg: Inbound) -> DeskResult<InboundOutcome> {
        let desk = self.clone();
        match tokio::spawn(async move { desk.handle_inbound_once(&msg).await }.in_current_span())
            .await
        {
            Ok(result) => result,
            Err(join) => Err(DeskError::Internal(anyhow::anyhow!(panic_text(join)))),
        }
    }

    /// Records a message whose handling kept failing (or that could not be
    /// read at all), without any effect, kept raw for staff, so that the
    /// source can move past it. When even recording it with its sender and
    /// subject fails, it is recorded with placeholders instead.
    ///
    /// # Errors
    /// Only when the store cannot be reached now.
    pub async fn record_failed(&self, msg: &Inbound, error: &str) -> DeskResult<InboundOutcome> {
        let raw_hash = self.keep_raw(msg).await?;
        let id = match self
            .record_failed_row(msg, raw_hash.as_deref(), error, false)
            .await
        {
            Ok(id) => id,
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => {
                tracing::warn!(
                    "Recording a failed message as it came failed too ({e}); recording it without its headers"
                );
                self.record_failed_row(msg, raw_hash.as_deref(), error, true)
                    .await?
            }
        };
        let Some(id) = id else {
            return Ok(InboundOutcome {
                inbound_id: None,
                outcome: "duplicate".into(),
                order: None,
            });
        };
        INBOUND_FAILED.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            source_key = msg.keys.first().map(String::as_str).unwrap_or(""),
            inbound_id = id,
            "Message recorded as failed after {MAX_ATTEMPTS} attempts; kept for staff: {error}"
        );
        Ok(InboundOutcome {
            inbound_id: Some(id),
            outcome: format!("failed: {error}"),
            order: None,
        })
    }

    /// Writes the failed record; `bare` leaves out everything the sender wrote.
    async fn record_failed_row(
        &self,
        msg: &Inbound,
        raw_hash: Option<&str>,
        error: &str,
        bare: bool,
    ) -> DeskResult<Option<i64>> {
        let safe_sender: String = msg
            .sender
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(*c))
            .collect();
        let mut tx = self.store.begin_write().await?;
        let recorded = inbound_store::record(
            &mut tx,
            &NewInbound {
                source: msg.channel.as_str(),
                sender: if bare { &safe_sender } else { &msg.sender },
                subject: if bare {
                    "(not stored: recording it failed)"
                } else {
                    &msg.subject
                },
                intent: msg.extraction.intent.as_str(),
                raw_hash,
                content_hash: if bare {
                    None
                } else {
                    msg.content_hash.as_deref()
                },
            },
            &msg.keys,
            self.now(),
        )
        .await?;
        let Some(id) = recorded.id() else {
            return Ok(None);
        };
        inbound_store::set_failed(&mut tx, id, error).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Stores the raw message (once, by hash) for staff.
    async fn keep_raw(&self, msg: &Inbound) -> DeskResult<Option<String>> {
        match &msg.raw {
            Some(raw) => Ok(Some(self.slips.put(raw).await.map_err(|e| {
                DeskError::Internal(anyhow::Error::new(SlipStoreDown(e.to_string())))
            })?)),
            None => Ok(None),
        }
    }

    /// One attempt at [`Desk::handle_inbound`].
    async fn handle_inbound_once(&self, msg: &Inbound) -> DeskResult<InboundOutcome> {
        let prepared = self.prepare(msg).await?;
        let mut tx = self.store.begin_write().await?;
        let outcome = match self.apply_in(&mut tx, msg, &prepared).await {
            Ok(outcome) => outcome,
            // Dropping the transaction rolls back what was written.
            Err(e) if key_taken(&e) => return Ok(duplicate()),
            Err(e) => return Err(e),
        };
        self.commit(tx, outcome.inbound_id.is_some()).await?;
        Ok(outcome)
    }

    /// Acts on a batch of messages in one database transaction (group commit):
    /// each message still gets its own records and effects, inside a savepoint,
    /// so one that fails rolls back alone. Messages that failed in the batch, or
    /// the whole batch when it panicked, are then handled one by one through
    /// [`Desk::handle_inbound`] (with its retries and failure records). The
    /// outcomes come back in the order of `msgs`.
    ///
    /// # Errors
    /// Only when the store cannot be reached now; then nothing of the batch
    /// was recorded (the source tries again later).
    pub async fn handle_inbound_batch(
        &self,
        msgs: Vec<Inbound>,
    ) -> DeskResult<Vec<InboundOutcome>> {
        if msgs.len() <= 1 {
            let mut out = Vec::with_capacity(1);
            for m in msgs {
                out.push(self.handle_inbound(m).await?);
            }
            return Ok(out);
        }
        let msgs = Arc::new(msgs);
        let desk = self.clone();
        let batch = msgs.clone();
        let grouped =
            tokio::spawn(async move { desk.apply_batch(&batch).await }.in_current_span()).await;
        let results: Vec<Option<InboundOutcome>> = match grouped {
            Ok(Ok(results)) => results,
            Ok(Err(e)) if e.is_unavailable() => return Err(e),
            Ok(Err(e)) => {
                tracing::warn!("A batch failed as a whole ({e}); handling its messages one by one");
                vec![None; msgs.len()]
            }
            Err(join) => {
                tracing::warn!(
                    "A batch panicked ({}); handling its messages one by one",
                    panic_text(join)
                );
                vec![None; msgs.len()]
            }
        };
        let mut out = Vec::with_capacity(msgs.len());
        for (msg, result) in msgs.iter().zip(results) {
            match result {
                Some(outcome) => out.push(outcome),
                None => out.push(self.handle_inbound(msg.clone()).await?),
            }
        }
        Ok(out)
    }

    /// The grouped half of [`Desk::handle_inbound_batch`]: `None` for a
    /// message that failed inside its savepoint.
    async fn apply_batch(&self, msgs: &[Inbound]) -> DeskResult<Vec<Option<InboundOutcome>>> {
        let mut prepared = Vec::with_capacity(msgs.len());
        for m in msgs {
            prepared.push(match self.prepare(m).await {
                Ok(p) => Some(p),
                Err(e) if e.is_unavailable() => return Err(e),
                Err(_) => None,
            });
        }
        let mut tx = self.store.begin_write().await?;
        let mut results = Vec::with_capacity(msgs.len());
        let mut rang = false;
        for (m, p) in msgs.iter().zip(&prepared) {
            let Some(p) = p else {
                results.push(None);
                continue;
            };
            sqlx::query("SAVEPOINT inbound").execute(&mut *tx).await?;
            match self.apply_in(&mut tx, m, p).await {
                Ok(outcome) => {
                    sqlx::query("RELEASE SAVEPOINT inbound")
                        .execute(&mut *tx)
                        .await?;
                    rang |= outcome.inbound_id.is_some();
                    results.push(Some(outcome));
                }
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) if key_taken(&e) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT inbound")
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("RELEASE SAVEPOINT inbound")
                        .execute(&mut *tx)
                        .await?;
                    results.push(Some(duplicate()));
                }
                Err(e) => {
                    tracing::debug!("A message failed inside its batch ({e}); it is retried alone");
                    sqlx::query("ROLLBACK TO SAVEPOINT inbound")
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("RELEASE SAVEPOINT inbound")
                        .execute(&mut *tx)
                        .await?;
                    results.push(None);
                }
            }
        }
        self.commit(tx, rang).await?;
        Ok(results)
    }

    /// What is done outside the transaction: the raw message and the slips
    /// are stored (content-addressed, so a rolled-back transaction leaves
    /// nothing harmful behind), and the limits are checked.
    async fn prepare(&self, msg: &Inbound) -> DeskResult<Prepared> {
        let raw_hash = self.keep_raw(msg).await?;
        let over_limit = self.over_limit(msg);
        let slips = if over_limit.is_none() {
            self.store_slips(&msg.extraction.slips)
                .await
                .map_err(|e| match e {
                    DeskError::Internal(e) => {
                        DeskError::Internal(anyhow::Error::new(SlipStoreDown(format!("{e:#}"))))
                    }
                    e => e,
                })?
        } else {
            Vec::new()
        };
        Ok(Prepared {
            raw_hash,
            over_limit,
            slips,
        })
    }

    /// Records a prepared message under its keys and acts on it, inside `tx`.
    async fn apply_in(
        &self,
        tx: &mut Tx,
        msg: &Inbound,
        prepared: &Prepared,
    ) -> DeskResult<InboundOutcome> {
        let limits = &self.settings.limits;
        let Prepared {
            raw_hash,
            over_limit,
            slips,
        } = prepared;
        let over_limit = *over_limit;
        let intent = msg.extraction.intent;
        let recorded = inbound_store::record(
            tx,
            &NewInbound {
                source: msg.channel.as_str(),
                sender: &msg.sender,
                subject: &msg.subject,
                intent: intent.as_str(),
                raw_hash: raw_hash.as_deref(),
                content_hash: msg.content_hash.as_deref(),
            },
            &msg.keys,
            self.now(),
        )
        .await;
        let inbound_id = match recorded {
            Ok(Recorded::New(id)) => id,
            Ok(Recorded::ReusedMessageId(id)) => {
                tracing::warn!(
                    source_key = msg.keys.first().map(String::as_str).unwrap_or(""),
                    inbound_id = id,
                    "A different message reuses an earlier Message-ID; handled as a new message"
                );
                id
            }
            Ok(Recorded::Duplicate) => return Ok(duplicate()),
            // Another transaction took a key between our look and our insert
            // (PostgreSQL): what this one wrote must be rolled back.
            Err(crate::store::StoreError::Conflict(key)) => {
                return Err(DeskError::Internal(anyhow::Error::new(KeyTaken(key))));
            }
            Err(e) => return Err(e.into()),
        };
        let reply = (msg.channel == Channel::Email).then(|| ReplyTo {
            address: msg.sender.clone(),
            message_id: msg.message_id.clone(),
            references: msg.thread_ids.clone(),
            subject: msg.subject.clone(),
        });
        let (mut outcome, account_id, order) = self
            .act(
                tx,
                msg,
                inbound_id,
                slips,
                reply.as_ref(),
                over_limit,
                limits.max_attachments,
            )
            .await?;
        if matches!(recorded, Ok(Recorded::ReusedMessageId(_))) {
            outcome.push_str(" (reused Message-ID: a different earlier message had it)");
        }
        inbound_store::set_outcome(
            tx,
            inbound_id,
            &outcome,
            account_id,
            order.as_ref().map(|o| o.id),
        )
        .await?;
        if let Some((channel_id, message_id)) = msg.chat_reply_to
            && !outcome.starts_with("ignored")
        {
            let job = crate::outbox::Job::ChatReply {
                channel_id,
                message_id,
                order_id: order.as_ref().map(|o| o.id),
                outcome: outcome.clone(),
            };
            let payload = serde_json::to_string(&job).map_err(|e| DeskError::Internal(e.into()))?;
            crate::store::outbox::insert(
                tx,
                job.kind(),
                order.as_ref().map(|o| o.id),
                &channel_id.to_string(),
                &payload,
                self.now(),
            )
            .await?;
            // The status link and the balance go to the customer alone, never
            // into the shared channel.
            if (outcome.starts_with("created ") || outcome.starts_with("status"))
                && let Ok(user_id) = msg.sender.parse::<u64>()
            {
                let job = crate::outbox::Job::ChatDirect {
                    user_id,
                    order_id: order.as_ref().map(|o| o.id),
                    outcome: outcome.clone(),
                };
                let payload =
                    serde_json::to_string(&job).map_err(|e| DeskError::Internal(e.into()))?;
                crate::store::outbox::insert(
                    tx,
                    job.kind(),
                    order.as_ref().map(|o| o.id),
                    &user_id.to_string(),
                    &payload,
                    self.now(),
                )
                .await?;
            }
        }
        tracing::info!(
            source_key = msg.keys.first().map(String::as_str).unwrap_or(""),
            intent = %intent,
            order = order.as_ref().map(|o| o.number.as_str()).unwrap_or(""),
            "{outcome}"
        );
        Ok(InboundOutcome {
            inbound_id: Some(inbound_id),
            outcome,
            order,
        })
    }

    /// Which inbound limit the message breaks, if any: (name, value) in the account's words later.
    fn over_limit(&self, msg: &Inbound) -> Option<Limit> {
        if msg.over_limit.is_some() {
            return msg.over_limit;
        }
        let l = &self.settings.limits;
        if msg
            .raw
            .as_ref()
            .is_some_and(|r| r.len() > l.max_message_bytes)
        {
            return Some(Limit::MessageSize(l.max_message_bytes));
        }
        if msg.extraction.slips.len() > l.max_attachments {
            return Some(Limit::Attachments(l.max_attachments));
        }
        if msg
            .extraction
            .slips
            .iter()
            .any(|s| s.bytes.len() > l.max_attachment_bytes)
        {
            return Some(Limit::AttachmentSize(l.max_attachment_bytes));
        }
        None
    }

    /// The effect of a recorded message. Refusals are answered, not returned.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &self,
        tx: &mut Tx,
        msg: &Inbound,
        inbound_id: i64,
        slips: &[StoredSlip],
        reply: Option<&ReplyTo>,
        over_limit: Option<Limit>,
        _max_attachments: usize,
    ) -> DeskResult<(String, Option<i64>, Option<OrderRow>)> {
        let ex = &msg.extraction;
        if ex.intent == Intent::Ignore {
            return Ok(("ignored (automatic mail)".into(), None, None));
        }
        let user = match msg.channel {
            Channel::Discord => accounts::user_by_discord(tx, &msg.sender).await?,
            _ => accounts::user_by_email(tx, &msg.sender).await?,
        };
        let Some(user) = user else {
            if let Some(r) = reply {
                // A stranger has no stored language: answer in the one they
                // wrote in, else the desk's default.
                let lang = msg
                    .raw
                    .as_deref()
                    .filter(|_| msg.channel == Channel::Email)
                    .and_then(crate::intake::email_lang)
                    .unwrap_or(self.settings.desk.default_lang);
                let vars = self.base_vars("", None, lang);
                self.reply_email(tx, EmailKind::UnknownSender, lang, r, None, vars)
                    .await?;
            }
            return Ok(("unknown_sender: kept for staff".into(), None, None));
        };
        // Only a mail's From name is a person's name (a chat handle is not), and
        // only from a sender whose mail passed authentication.
        let from_name = msg
            .sender_name
            .as_deref()
            .filter(|_| msg.channel == Channel::Email && !msg.auth_failed);
        let user = self.learn_name(tx, user, from_name).await?;
        let account = accounts::account_by_id(tx, user.account_id).await?;
        let lang = user.lang_or(account.lang());
        if msg.auth_failed && self.settings.mail.refuse_unauthenticated {
            // Replying to a forged From would mail an innocent party: keep it for staff only.
            return Ok((
                "refused: sender authentication failed; kept for staff".into(),
                Some(account.id),
                None,
            ));
        }
        if msg.auth_failed && matches!(ex.intent, Intent::Request | Intent::Amend | Intent::Cancel)
        {
            // Anyone can write a From header. Mail our server could not verify may
            // still bring a slip (flagged for staff), but it may not create, change
            // or cancel orders. The answer goes to the real owner of the address,
            // with the ways to do it that prove who they are.
            if let Some(r) = reply {
                let named = match &ex.order_number {
                    Some(n) => orders::by_number(tx, n)
                        .await?
                        .filter(|o| o.account_id == account.id),
                    None => None,
                };
                let reason = self.unverified_reason(ex.intent, named.as_ref());
                let mut vars = self.base_vars(&account.name, Some(&user), lang);
                merge(
                    &mut vars,
                    json!({ "reason": reason.get(lang), "order_number": named.as_ref().map(|o| o.number.clone()).unwrap_or_default() }),
                );
                self.reply_email(tx, EmailKind::ActionRefused, lang, r, named.as_ref(), vars)
                    .await?;
            }
            return Ok((
                format!(
                    "kept: sender not verified, {} not carried out; asked to use the status page or write from a verified address",
                    ex.intent
                ),
                Some(account.id),
                None,
            ));
        }
        if let Some(limit) = over_limit {
            if let Some(r) = reply {
                let mut vars = self.base_vars(&account.name, Some(&user), lang);
                let (name, value) = limit.describe(lang);
                merge(
                    &mut vars,
                    json!({ "limit_name": name, "limit_value": value }),
                );
                self.reply_email(tx, EmailKind::LimitsExceeded, lang, r, None, vars)
                    .await?;
            }
            let outcome = match limit {
                Limit::DownloadFailed => {
                    "refused: the attachment could not be downloaded; kept for staff, asked to send it again"
                        .to_string()
                }
                _ => format!(
                    "refused: {} over the limit; kept for staff",
                    limit.describe(Lang::En).0
                ),
            };
            return Ok((outcome, Some(account.id), None));
        }
        let result = self
            .act_for_user(tx, msg, &user, inbound_id, slips, reply)
            .await;
        match result {
            Ok((outcome, mut order)) => {
                if let Some(o) = &order
                    && msg.auth_failed
                    && !o.flag_list().contains(&"unauthenticated")
                {
                    // Flag it for staff; the card is rendered from the stored order at delivery.
                    let flags = [o.flags.as_str(), "unauthenticated"]
                        .iter()
                        .filter(|f| !f.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(",");
                    orders::set_flags(tx, o.id, &flags).await?;
                    order = Some(orders::by_id(tx, o.id).await?);
                }
                Ok((outcome, Some(account.id), order))
            }
            Err(
                e @ (DeskError::Refused(_)
                | DeskError::NotAllowed(_)
                | DeskError::NotYours(_)
                | DeskError::UnknownOrder(_)
                | DeskError::Invalid(_)
                | DeskError::LostRace(_)),
            ) => {
                let text = e.to_string();
                if let Some(r) = reply {
                    let mut vars = self.base_vars(&account.name, Some(&user), lang);
                    merge(
                        &mut vars,
                        json!({ "reason": e.localized(lang), "order_number": ex.order_number.as_ref().map(|n| n.to_string()).or_else(|| e.order_number(&self.settings.desk.order_prefix)).unwrap_or_default() }),
                    );
                    self.reply_email(tx, EmailKind::ActionRefused, lang, r, None, vars)
                        .await?;
                }
                Ok((format!("refused: {text}"), Some(account.id), None))
            }
            Err(e) => Err(e),
        }
    }

    async fn act_for_user(
        &self,
        tx: &mut Tx,
        msg: &Inbound,
        user: &UserRow,
        inbound_id: i64,
        slips: &[StoredSlip],
        reply: Option<&ReplyTo>,
    ) -> DeskResult<(String, Option<OrderRow>)> {
        let ex = &msg.extraction;
        // The order the message names: its number, else the email thread it answers.
        let named = match &ex.order_number {
            Some(n) => {
                let order = orders::by_number(tx, n)
                    .await?
                    .ok_or_else(|| DeskError::UnknownOrder(n.to_string()))?;
                if order.account_id != user.account_id {
                    return Err(DeskError::NotYours(n.to_string()));
                }
                Some(order)
            }
            None => orders::by_thread(tx, &msg.thread_ids)
                .await?
                .filter(|o| o.account_id == user.account_id),
        };
        // Read the message against what the desk knows of the order it is
        // about. Unverified mail keeps the parser's reading: a rule must
        // never turn it into a change the sender could not make directly.
        // A bare "yes" in the thread of a question the desk asked answers it.
        if ex.intent == Intent::Unknown
            && !msg.auth_failed
            && msg.channel == Channel::Email
            && !msg.thread_ids.is_empty()
            && msg.raw.as_deref().is_some_and(crate::intake::email_is_yes)
            && let Some(proposal) =
                inbound_store::proposal_in_thread(tx, user.account_id, &msg.thread_ids).await?
        {
            inbound_store::set_decided_by(tx, inbound_id, RULE_CONFIRMED).await?;
            return self
                .carry_out_proposal(tx, user, proposal, msg.channel, reply, inbound_id)
                .await;
        }
        let has_slips = !slips.is_empty();
        let (intent, named, rule) = match named {
            _ if msg.auth_failed => (ex.intent, named, RULE_PARSER),
            Some(order) => {
                let (intent, rule) = resolve(ex, has_slips, Some(&order));
                (intent, Some(order), rule)
            }
            // A vague message that names no order but states an amount: the
            // sender's one active order, when there is exactly one.
            None if ex.intent == Intent::Unknown && ex.amount.is_some() => {
                let mut active = orders::active_for_account(tx, user.account_id).await?;
                let only = if active.len() == 1 {
                    active.pop()
                } else {
                    None
                };
                match resolve(ex, has_slips, only.as_ref()) {
                    (intent, RULE_PARSER) => (intent, None, RULE_PARSER),
                    (intent, rule) => (intent, only, rule),
                }
            }
            None => (ex.intent, None, RULE_PARSER),
        };
        let rule = if intent == Intent::Cancel
            && rule == RULE_PARSER
            && ex.intent_by_model
            && !msg.auth_failed
        {
            RULE_CANCEL_BY_MODEL
        } else {
            rule
        };
        inbound_store::set_decided_by(tx, inbound_id, rule).await?;
        // The order's state alone says "amend": weak evidence, so ask first.
        if rule == RULE_AMEND_BY_STATE
            && let (Some(order), Some(amount), Some(r)) = (&named, ex.amount, reply)
        {
            self.check_amount(amount)?;
            return self
                .ask(
                    tx,
                    user,
                    order,
                    Proposed::Amend(amount.minor()),
                    r,
                    inbound_id,
                )
                .await
                .map(|outcome| (outcome, named));
        }
        let intent = if rule == RULE_AMEND_BY_STATE {
            // No thread to ask in (chat): the parser's reading stands.
            ex.intent
        } else {
            intent
        };
        // A cancellation only the model read (the rules found another
        // intent, or none) is weak evidence for something that cannot be
        // undone: ask first, by email in the thread, in chat with the words
        // that would do it.
        if rule == RULE_CANCEL_BY_MODEL {
            let target = self.cancel_target(tx, user, named).await?;
            // Asking about what would be refused anyway helps nobody.
            self.allowed(tx, &target, EventKind::Cancel).await?;
            self.ensure_may_change(tx, user, &target, EventKind::Cancel)
                .await?;
            let outcome = match reply {
                Some(r) => {
                    self.ask(tx, user, &target, Proposed::Cancel, r, inbound_id)
                        .await?
                }
                None => format!("{ASKED_CANCEL}{}", target.number),
            };
            return Ok((outcome, Some(target)));
        }
        let actor = Actor::Customer(user.clone());
        match intent {
            Intent::Request => {
                let Some(amount) = ex.amount else {
                    return Err(DeskError::Invalid(Text::new(
                        "the message asks for a top-up but names no amount",
                        "pesan Anda meminta top up tetapi tidak menyebutkan jumlahnya",
                    )));
                };
                let order = self
                    .request_in(tx, user, amount, msg.channel, reply)
                    .await?;
                Ok((format!("created {}", order.number), Some(order)))
            }
            Intent::Slip => {
                let order = self
                    .submit_slip_in(
                        tx,
                        user,
                        named,
                        slips,
                        ex.amount,
                        msg.channel,
                        reply,
                        Some(inbound_id),
                    )
                    .await?;
                Ok((format!("submitted {}", order.number), Some(order)))
            }
            Intent::Amend => {
                let target = match named {
                    Some(o) => o,
                    None => only(
                        orders::awaiting_for_account(tx, user.account_id)
                            .await?
                            .into_iter()
                            .filter(|o| o.status() == OrderStatus::PaymentFailure)
                            .collect(),
                        EventKind::Amend,
                    )?,
                };
                let Some(amount) = ex.amount else {
                    return Err(DeskError::Invalid(Text::new(
                        format!(
                            "the message asks to change the amount of order {} but names no new amount",
                            target.number
                        ),
                        format!(
                            "pesan Anda meminta perubahan jumlah pesanan {} tetapi tidak menyebutkan jumlah yang baru",
                            target.number
                        ),
                    )));
                };
                let order = self
                    .amend_in(
                        tx,
                        user,
                        target,
                        amount,
                        slips,
                        msg.channel,
                        reply,
                        Some(inbound_id),
                    )
                    .await?;
                Ok((format!("amended {}", order.number), Some(order)))
            }
            Intent::Cancel => {
                let target = self.cancel_target(tx, user, named).await?;
                let order = self.cancel_in(tx, &actor, target, reply).await?;
                Ok((format!("cancelled {}", order.number), Some(order)))
            }
            Intent::Status => {
                let target = match named {
                    Some(o) => Some(o),
                    None => orders::active_for_account(tx, user.account_id)
                        .await?
                        .into_iter()
                        .next(),
                };
                if let Some(r) = reply {
                    let account = accounts::account_by_id(tx, user.account_id).await?;
                    let lang = user.lang_or(account.lang());
                    let mut vars = self.base_vars(&account.name, Some(user), lang);
                    let balance = accounts::balance(tx, account.id).await?;
                    match &target {
                        Some(o) => merge(&mut vars, self.order_vars(o, lang, Some(balance))),
                        None => merge(
                            &mut vars,
                            json!({ "order_number": "", "new_balance": crate::domain::money::Money::from_minor(balance).display(lang) }),
                        ),
                    }
                    self.reply_email(tx, EmailKind::OrderStatus, lang, r, target.as_ref(), vars)
                        .await?;
                }
                Ok((
                    match &target {
                        Some(o) => format!("status of {}: {}", o.number, o.status()),
                        None => "status: no active order".into(),
                    },
                    target,
                ))
            }
            Intent::Unknown | Intent::Ignore => {
                if let Some(r) = reply {
                    let account = accounts::account_by_id(tx, user.account_id).await?;
                    let lang = user.lang_or(account.lang());
                    let mut vars = self.base_vars(&account.name, Some(user), lang);
                    // About a named order: what was understood, and only the
                    // choices its status allows.
                    merge(
                        &mut vars,
                        json!({
                            "order_number": "", "amount": "", "status_name": "",
                            "can_slip": false, "can_amend": false, "can_cancel": false,
                        }),
                    );
                    if let Some(o) = &named {
                        merge(&mut vars, self.order_vars(o, lang, None));
                        let can = |event| transition(Some(o.status()), event).is_ok();
                        merge(
                            &mut vars,
                            json!({
                                "can_slip": can(EventKind::Slip),
                                "can_amend": can(EventKind::Amend),
                                "can_cancel": can(EventKind::Cancel),
                            }),
                        );
                    }
                    self.reply_email(tx, EmailKind::NotUnderstood, lang, r, named.as_ref(), vars)
                        .await?;
                }
                Ok(("not understood: answered with help".into(), named))
            }
        }
    }
}

impl Desk {
    /// Why an unverified mail's request, change or cancellation was not carried out, and what to do instead.
    fn unverified_reason(&self, intent: Intent, order: Option<&OrderRow>) -> Text {
        let (what_en, what_id) = match intent {
            Intent::Request => ("create a new order", "membuat pesanan baru"),
            Intent::Amend => ("change the amount", "mengubah jumlah"),
            _ => ("cancel the order", "membatalkan pesanan"),
        };
        let (where_en, where_id) = match order {
            Some(o) => {
                let link = self.status_link(&o.token);
                (
                    format!("use the buttons on the order's status page ({link})"),
                    format!("gunakan tombol pada halaman status pesanan ({link})"),
                )
            }
            None => {
                let link = format!(
                    "{}/account",
                    self.settings.desk.public_url.trim_end_matches('/')
                );
                (
                    format!("sign in on your account page ({link})"),
                    format!("masuk ke halaman akun Anda ({link})"),
                )
            }
        };
        Text::new(
            format!(
                "we could not verify that this email really came from your address (it did not pass \
                 your domain's sender checks), so we did not {what_en}. To {what_en}, {where_en}, or \
                 write to us again from your registered address through your usual mail server"
            ),
            format!(
                "kami tidak dapat memastikan bahwa email ini benar-benar dikirim dari alamat Anda \
                 (email tidak lolos pemeriksaan pengirim domain Anda), sehingga kami tidak \
                 {what_id}. Untuk {what_id}, {where_id}, atau kirim ulang email dari alamat \
                 terdaftar Anda melalui server email yang biasa Anda gunakan"
            ),
        )
    }
}

/// The parser's reading was acted on as it was.
const RULE_PARSER: &str = "parser";
/// A bare amount about a rejected order: asked before changing it.
const RULE_AMEND_BY_STATE: &str = "payment_failure_amount_is_amend";
/// A cancellation only the intent model read: asked before cancelling.
const RULE_CANCEL_BY_MODEL: &str = "model_only_cancel";
/// A "yes" answering the desk's question in the thread.
const RULE_CONFIRMED: &str = "confirmed_proposal";
/// The outcome of a chat message only the model read as a cancellation,
/// followed by the order's number: nothing was done, and the answer says how.
pub const ASKED_CANCEL: &str = "asked: cancel ";

impl Desk {
    /// The order a cancellation is about: the one it names, else the
    /// sender's only active order (refused when there is none or several).
    async fn cancel_target(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        named: Option<OrderRow>,
    ) -> DeskResult<OrderRow> {
        match named {
            Some(o) => Ok(o),
            None => only(
                orders::active_for_account(tx, user.account_id).await?,
                EventKind::Cancel,
            ),
        }
    }

    /// Asks the customer by email, in their thread, whether they meant
    /// `proposed` for `order`, and stores the question: a bare "yes" in the
    /// thread carries it out ([`Self::carry_out_proposal`]). Returns the
    /// outcome to record.
    async fn ask(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        order: &OrderRow,
        proposed: Proposed,
        reply: &ReplyTo,
        inbound_id: i64,
    ) -> DeskResult<String> {
        let account = accounts::account_by_id(tx, user.account_id).await?;
        let lang = user.lang_or(account.lang());
        let mut vars = self.base_vars(&account.name, Some(user), lang);
        let (kind, asked) = match proposed {
            Proposed::Amend(minor) => {
                let new_amount = Money::from_minor(minor);
                merge(
                    &mut vars,
                    json!({
                        "order_number": order.number,
                        "amount": order.amount_minor.map(|m| Money::from_minor(m).display(lang)).unwrap_or_default(),
                        "new_amount": new_amount.display(lang),
                    }),
                );
                (
                    EmailKind::ConfirmAmend,
                    format!(
                        "change the amount of {} to {}?",
                        order.number,
                        new_amount.display(Lang::En)
                    ),
                )
            }
            Proposed::Cancel => {
                merge(&mut vars, self.order_vars(order, lang, None));
                (
                    EmailKind::ConfirmCancel,
                    format!("cancel {}?", order.number),
                )
            }
        };
        let message_id = self
            .reply_email(tx, kind, lang, reply, Some(order), vars)
            .await?;
        inbound_store::insert_proposal(
            tx,
            &inbound_store::NewProposal {
                order_id: order.id,
                account_id: user.account_id,
                proposed,
                order_status: &order.status,
                order_amount_minor: order.amount_minor,
                message_id: &message_id,
                inbound_id,
            },
            self.now(),
        )
        .await?;
        Ok(format!("asked: {asked} (waiting for a yes in the thread)"))
    }

    /// Carries out a change the customer confirmed: once, and only while the
    /// order is as it was when the desk asked.
    async fn carry_out_proposal(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        proposal: inbound_store::ProposalRow,
        channel: Channel,
        reply: Option<&ReplyTo>,
        inbound_id: i64,
    ) -> DeskResult<(String, Option<OrderRow>)> {
        let order = orders::by_id(tx, proposal.order_id).await?;
        let proposed = proposal.proposed();
        let (what_en, what_id) = match proposed {
            Proposed::Amend(minor) => (
                format!("changed to {}", Money::from_minor(minor).display(Lang::En)),
                format!(
                    "diubah menjadi {}",
                    Money::from_minor(minor).display(Lang::Id)
                ),
            ),
            Proposed::Cancel => ("cancelled".to_string(), "dibatalkan".to_string()),
        };
        if proposal.used_at.is_some() {
            return Err(DeskError::Refused(Text::new(
                format!(
                    "order {} was already {what_en} when you first confirmed; nothing more was done",
                    order.number,
                ),
                format!(
                    "pesanan {} sudah {what_id} saat Anda pertama kali mengonfirmasi; tidak ada perubahan lagi",
                    order.number,
                ),
            )));
        }
        if order.status != proposal.order_status
            || order.amount_minor != proposal.order_amount_minor
        {
            return Err(DeskError::Refused(Text::new(
                format!(
                    "order {} has changed since we asked (it is now {}), so it was not {what_en}; please write again with what you would like",
                    order.number,
                    order.status().display_name(Lang::En),
                ),
                format!(
                    "pesanan {} telah berubah sejak kami bertanya (sekarang {}), sehingga tidak {what_id}; silakan kirim pesan baru dengan yang Anda inginkan",
                    order.number,
                    order.status().display_name(Lang::Id),
                ),
            )));
        }
        inbound_store::use_proposal(tx, proposal.id, self.now()).await?;
        match proposed {
            Proposed::Amend(minor) => {
                let order = self
                    .amend_in(
                        tx,
                        user,
                        order,
                        Money::from_minor(minor),
                        &[],
                        channel,
                        reply,
                        Some(inbound_id),
                    )
                    .await?;
                Ok((format!("amended {} (confirmed)", order.number), Some(order)))
            }
            Proposed::Cancel => {
                let actor = Actor::Customer(user.clone());
                let order = self.cancel_in(tx, &actor, order, reply).await?;
                Ok((
                    format!("cancelled {} (confirmed)", order.number),
                    Some(order),
                ))
            }
        }
    }
}

/// What a message means once read against the order it is about, and the
/// rule that decided. The parser reads text alone; the order's state says
/// what a short or vague message must mean:
/// - an amount sent about a `payment_failure` order (without a slip) is a
///   new amount: the customer answers the rejection with what they will pay;
/// - a message about a `dealing` order that asks nothing the parser knows is
///   a question about its progress;
/// - the order's own amount sent about an `open` order says it was paid.
fn resolve(ex: &Extraction, slips: bool, order: Option<&OrderRow>) -> (Intent, &'static str) {
    let Some(order) = order else {
        return (ex.intent, RULE_PARSER);
    };
    let stated = ex.amount.map(|m| m.minor());
    let differs = stated.is_some() && stated != order.amount_minor;
    match (order.status(), ex.intent) {
        (OrderStatus::PaymentFailure, Intent::Unknown | Intent::Slip) if !slips && differs => {
            (Intent::Amend, "payment_failure_amount_is_amend")
        }
        (OrderStatus::Dealing, Intent::Unknown) => (Intent::Status, "dealing_question_is_status"),
        (OrderStatus::Open, Intent::Unknown) if stated.is_some() && !differs => {
            (Intent::Slip, "open_order_amount_is_slip")
        }
        _ => (ex.intent, RULE_PARSER),
    }
}

/// The one order of a list, or a refusal that says why none could be picked.
fn only(mut list: Vec<OrderRow>, event: EventKind) -> DeskResult<OrderRow> {
    let verb = event.verb();
    let verb_id = super::verb_id(event);
    match list.len() {
        1 => Ok(list.remove(0)),
        0 => Err(DeskError::Invalid(Text::new(
            format!("there is no order to {verb}"),
            format!("tidak ada pesanan yang dapat {verb_id}"),
        ))),
        n => {
            let numbers = list
                .iter()
                .map(|o| o.number.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            Err(DeskError::Invalid(Text::new(
                format!(
                    "you have {n} orders that could be meant ({numbers}); please name the order number to {verb}"
                ),
                format!(
                    "Anda memiliki {n} pesanan yang mungkin dimaksud ({numbers}); mohon sebutkan nomor pesanan yang akan {verb_id}"
                ),
            )))
        }
    }
}

/// An inbound limit that a message broke.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// The whole message is too large (bytes).
    MessageSize(usize),
    /// Too many attachments.
    Attachments(usize),
    /// One attachment is too large (bytes).
    AttachmentSize(usize),
    /// An attachment could not be downloaded (chat): kept, and the sender asked to send it again.
    DownloadFailed,
}

impl Limit {
    /// (name, value) in `lang`.
    pub fn describe(self, lang: Lang) -> (String, String) {
        let mb = |b: usize| format!("{} MB", b / (1024 * 1024));
        match (self, lang) {
            (Limit::MessageSize(b), Lang::En) => ("message size".into(), mb(b)),
            (Limit::MessageSize(b), Lang::Id) => ("ukuran pesan".into(), mb(b)),
            (Limit::Attachments(n), Lang::En) => ("number of attachments".into(), n.to_string()),
            (Limit::Attachments(n), Lang::Id) => ("jumlah lampiran".into(), n.to_string()),
            (Limit::AttachmentSize(b), Lang::En) => ("attachment size".into(), mb(b)),
            (Limit::AttachmentSize(b), Lang::Id) => ("ukuran lampiran".into(), mb(b)),
            (Limit::DownloadFailed, Lang::En) => (
                "attachment download".into(),
                "it could not be fetched; please send it again".into(),
            ),
            (Limit::DownloadFailed, Lang::Id) => (
                "pengambilan lampiran".into(),
                "lampiran tidak dapat diambil; mohon kirim ulang".into(),
            ),
        }
    }
}

/// Another transaction recorded one of the message's keys first.
#[derive(Debug, thiserror::Error)]
#[error("the message was recorded meanwhile under {0}")]
struct KeyTaken(String);

fn key_taken(e: &DeskError) -> bool {
    matches!(e, DeskError::Internal(e) if e.is::<KeyTaken>())
}

/// The outcome of a message recorded before.
fn duplicate() -> InboundOutcome {
    InboundOutcome {
        inbound_id: None,
        outcome: "duplicate".into(),
        order: None,
    }
}

/// What [`Desk::prepare`] stored and found before the transaction.
struct Prepared {
    raw_hash: Option<String>,
    over_limit: Option<Limit>,
    slips: Vec<StoredSlip>,
}

/// The slip store (local folder or S3 bucket) could not keep a file: the
/// infrastructure is down, not the message at fault.
#[derive(Debug, thiserror::Error)]
#[error("keeping the message's files failed: {0}")]
pub struct SlipStoreDown(pub String);

/// The text of a panic caught at the task boundary.
fn panic_text(join: tokio::task::JoinError) -> String {
    if !join.is_panic() {
        return format!("handling was cancelled: {join}");
    }
    let payload = join.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("panicked: {text}")
}
