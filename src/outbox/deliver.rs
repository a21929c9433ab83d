//! The delivery loop: claims due outbox rows with a lease, renders and sends
//! them, then marks them sent, reschedules them with exponential backoff and
//! jitter, or gives up after the last attempt and marks them `dead` for the
//! operator (`topup outbox list --status dead`, `topup outbox retry ID`).
//!
//! Rendering and network work happen here, after the desk's transaction
//! committed, never inside it. Rows are claimed, not deleted, so a crash
//! between send and mark leaves the row to be sent again when its lease ends
//! (at-least-once; the stable Message-ID lets mail clients fold a rare
//! duplicate).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::email::{Attachment, AutoSubmitted, Mailer, OutgoingEmail, SendError, build_message};
use super::{EmailJob, Job};
use crate::desk::{Desk, DeskError};
use crate::domain::Lang;
use crate::domain::order_number::OrderNumber;
use crate::render::receipt::render_receipt;
use crate::render::templates::Templates;
use crate::store::orders;
use crate::store::outbox::{self, OutboxRow};

/// Delivers chat jobs (review cards and their edits). Implemented by the Discord adapter.
pub trait ChatDelivery: Send + Sync + std::fmt::Debug {
    /// Delivers one job.
    fn deliver<'a>(
        &'a self,
        job: &'a Job,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;
}

/// How long a claimed row stays ours before another worker may take it. Short,
/// because a heartbeat extends it while the worker lives: a killed worker's
/// rows come back within one lease.
const LEASE_MS: i64 = 30 * 1000;
/// Deliveries of different orders that run at once.
const CONCURRENT_SENDS: usize = 4;
/// How often the heartbeat extends the leases of the rows being worked on.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long one send may take before it counts as a transient failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(90);

/// The outbox worker.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    desk: Desk,
    mailer: Arc<Mailer>,
    templates: Arc<Templates>,
    chat: Option<Arc<dyn ChatDelivery>>,
    /// Who holds the leases this worker takes (unique per process and worker).
    claimant: Arc<str>,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Sent.
    Sent,
    /// Failed; tried again at the given time.
    Retry(String, i64),
    /// Failed for good; now `dead`.
    Dead(String),
}

impl Dispatcher {
    /// A worker over the desk's outbox.
    pub fn new(
        desk: Desk,
        mailer: Arc<Mailer>,
        templates: Arc<Templates>,
        chat: Option<Arc<dyn ChatDelivery>>,
    ) -> Dispatcher {
        Dispatcher {
            desk,
            mailer,
            templates,
            chat,
            claimant: Arc::from(format!(
                "{}:{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            )),
        }
    }

    /// Runs until `shutdown`: delivers due rows, then waits for the desk's bell or the poll interval.
    ///
    /// # Errors
    /// Only when the store keeps failing (the supervisor restarts the loop).
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let bell = self.desk.outbox_bell();
        let poll = Duration::from_secs(self.desk.settings().outbox.poll_secs.max(1));
        loop {
            // Register interest before looking, so a ring during the pass is not lost.
            let notified = bell.notified();
            let n = self.pass(&shutdown).await?;
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if n == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = notified => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    /// Claims and delivers one batch of due rows; returns how many were handled.
    ///
    /// While the batch is worked on, a heartbeat extends the leases of the
    /// rows not finished yet, so a slow send never lets another worker take a
    /// row that is still being sent, and a worker that dies releases its rows
    /// within one short lease.
    ///
    /// # Errors
    /// Store failures.
    pub async fn pass(&self, shutdown: &CancellationToken) -> anyhow::Result<usize> {
        let store = self.desk.store();
        let rows = {
            let mut conn = store.pool().acquire().await?;
            outbox::claim_due(
                &mut conn,
                store.backend(),
                self.desk.now(),
                LEASE_MS,
                16,
                &self.claimant,
            )
            .await?
        };
        let n = rows.len();
        if n == 0 {
            return Ok(0);
        }
        let pending: Arc<std::sync::Mutex<Vec<i64>>> =
            Arc::new(std::sync::Mutex::new(rows.iter().map(|r| r.id).collect()));
        let beat = CancellationToken::new();
        let heartbeat = tokio::spawn(
            heartbeat(
                self.desk.clone(),
                self.claimant.clone(),
                pending.clone(),
                beat.clone(),
            )
            .in_current_span(),
        );
        // Rows of one order go in order (a card before its edits); different
        // orders go side by side, a few at a time, so slow sends overlap
        // without flooding two cores.
        let mut groups: Vec<Vec<OutboxRow>> = Vec::new();
        for row in rows {
            match groups
                .iter_mut()
                .find(|g| row.order_id.is_some() && g[0].order_id == row.order_id)
            {
                Some(g) => g.push(row),
                None => groups.push(vec![row]),
            }
        }
        let results: Vec<(OutboxRow, Result<(), SendError>)> =
            futures::stream::iter(groups.into_iter().map(|group| async move {
                let mut out = Vec::with_capacity(group.len());
                for row in group {
                    if shutdown.is_cancelled() {
                        // Unsent claimed rows come back when their lease ends.
                        break;
                    }
                    let span = tracing::info_span!("outbox", outbox_id = row.id, kind = %row.kind);
                    let result = self.attempt(&row).instrument(span).await;
                    out.push((row, result));
                }
                out
            }))
            .buffer_unordered(CONCURRENT_SENDS)
            .flat_map(futures::stream::iter)
            .collect()
            .await;
        // One write transaction for the pass's outcomes (intake shares the writer).
        let result = self.record_all(results).await.map(|_| n);
        beat.cancel();
        let _ = heartbeat.await;
        result
    }

    /// Delivers everything due now (tests and `drain` at shutdown); returns how many rows were handled.
    ///
    /// # Errors
    /// Store failures.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let token = CancellationToken::new();
        let mut total = 0;
        loop {
            let n = self.pass(&token).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Sends one row's job (no database write).
    async fn attempt(&self, row: &OutboxRow) -> Result<(), SendError> {
        match serde_json::from_str::<Job>(&row.payload) {
            Ok(job) => match tokio::time::timeout(SEND_TIMEOUT, self.deliver(&job)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Transient("delivery timed out".into())),
            },
            Err(e) => Err(SendError::Permanent(format!(
                "unreadable outbox payload: {e}"
            ))),
        }
    }

    /// Writes what happened to the rows of a pass: sent, rescheduled with
    /// backoff, or dead.
    async fn record_all(
        &self,
        results: Vec<(OutboxRow, Result<(), SendError>)>,
    ) -> anyhow::Result<Vec<Delivered>> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.desk.store().begin_write().await?;
        let now = self.desk.now();
        let settings = &self.desk.settings().outbox;
        let mut out = Vec::with_capacity(results.len());
        for (row, result) in results {
            let span = tracing::info_span!("outbox", outbox_id = row.id, kind = %row.kind);
            let delivered = span.in_scope(|| match result {
                Ok(()) => {
                    tracing::info!(to = %row.recipient, "Delivered");
                    Delivered::Sent
                }
                Err(e) if e.is_transient() && row.attempts < settings.max_attempts => {
                    let delay = backoff_ms(
                        row.attempts,
                        settings.base_backoff_secs,
                        settings.max_backoff_secs,
                    );
                    tracing::warn!(
                        attempt = row.attempts,
                        retry_in_s = delay / 1000,
                        "Delivery failed: {e}"
                    );
                    Delivered::Retry(e.to_string(), now + delay)
                }
                Err(e) => {
                    tracing::error!(attempts = row.attempts, "Delivery gave up: {e}");
                    Delivered::Dead(e.to_string())
                }
            });
            match &delivered {
                Delivered::Sent => outbox::mark_sent(&mut tx, row.id, now).await?,
                Delivered::Retry(e, at) => outbox::reschedule(&mut tx, row.id, *at, e).await?,
                Delivered::Dead(e) => outbox::mark_dead(&mut tx, row.id, e).await?,
            }
            out.push(delivered);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn deliver(&self, job: &Job) -> Result<(), SendError> {
        match job {
            Job::Email(mail) => {
                let msg = self.compose(mail).await?;
                self.mailer.send(&msg).await
            }
            Job::ReviewCard { .. }
            | Job::CardUpdate { .. }
            | Job::ChatReply { .. }
            | Job::Reminder { .. }
            | Job::ChatDirect { .. } => match &self.chat {
                Some(chat) => chat.deliver(job).await,
                None => Err(SendError::Permanent(
                    "Discord is not configured; the staff web board shows this order".into(),
                )),
            },
        }
    }

    /// Renders an email job into a message (template, subject, receipt).
    ///
    /// # Errors
    /// [`SendError::Permanent`] when the template or receipt cannot be rendered.
    pub async fn compose(&self, mail: &EmailJob) -> Result<lettre::Message, SendError> {
        let rendered = self
            .templates
            .render(mail.kind, mail.lang, &mail.vars)
            .map_err(|e| SendError::Permanent(format!("template {:?}: {e}", mail.kind)))?;
        let mut attachments = Vec::new();
        if let Some(r) = &mail.receipt {
            let pdf =
                render_receipt(r).map_err(|e| SendError::Permanent(format!("receipt: {e}")))?;
            let stem = match mail.lang {
                Lang::Id => "kuitansi",
                Lang::En => "receipt",
            };
            attachments.push(Attachment {
                file_name: format!("{stem}-{}.pdf", r.order_number),
                content_type: "application/pdf".into(),
                bytes: pdf,
            });
        }
        let settings = &self.desk.settings().mail;
        let out = OutgoingEmail {
            message_id: mail.message_id.clone(),
            from: format!(
                "{} <{}>",
                settings.from_name.replace(['<', '>', '"'], ""),
                settings.from_address
            ),
            to: mail.to.clone(),
            subject: mail.subject(&rendered.subject),
            text: rendered.text,
            html: rendered.html,
            in_reply_to: mail.in_reply_to.clone(),
            references: mail.references.clone(),
            auto_submitted: if mail.direct_reply {
                AutoSubmitted::AutoReplied
            } else {
                AutoSubmitted::AutoGenerated
            },
            attachments,
        };
        build_message(&out).map_err(|e| SendError::Permanent(e.to_string()))
    }
}

/// Extends the leases of `pending` rows every [`HEARTBEAT`] until `stop`.
async fn heartbeat(
    desk: Desk,
    claimant: Arc<str>,
    pending: Arc<std::sync::Mutex<Vec<i64>>>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(HEARTBEAT) => {}
        }
        let ids = pending.lock().map(|p| p.clone()).unwrap_or_default();
        let until = desk.now() + LEASE_MS;
        let extended = async {
            let mut conn = desk.store().pool().acquire().await?;
            outbox::extend_leases(&mut conn, &ids, &claimant, until).await
        };
        if let Err(e) = extended.await {
            tracing::warn!("Extending outbox leases failed: {e:#}");
        }
    }
}

/// The PDF receipt of a paid order (for `topup order receipt` and the status page).
///
/// # Errors
/// [`DeskError::UnknownOrder`], [`DeskError::Refused`] when it is not paid.
pub async fn receipt_for(desk: &Desk, number: &OrderNumber) -> Result<Vec<u8>, DeskError> {
    let mut conn = desk.store().pool().acquire().await?;
    let order = orders::by_number(&mut conn, number)
        .await?
        .ok_or_else(|| DeskError::UnknownOrder(number.to_string()))?;
    let job = desk.receipt_job_for(&mut conn, &order).await?;
    render_receipt(&job)
        .map_err(|e| DeskError::Internal(anyhow::anyhow!("Rendering the receipt failed: {e}")))
}

/// Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, with ±20 % jitter.
pub fn backoff_ms(attempts: i64, base_secs: i64, max_secs: i64) -> i64 {
    let exp = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let secs = base_secs
        .max(1)
        .saturating_mul(1i64 << exp)
        .min(max_secs.max(1));
    let ms = secs * 1000;
    let jitter = rand::thread_rng().gen_range(-(ms / 5)..=(ms / 5));
    (ms + jitter).max(500)
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_and_is_capped() {
        for _ in 0..50 {
            let first = backoff_ms(1, 10, 3600);
            assert!((8_000..=12_000).contains(&first), "{first}");
            let third = backoff_ms(3, 10, 3600);
            assert!((32_000..=48_000).contains(&third), "{third}");
            let late = backoff_ms(30, 10, 3600);
            assert!((2_880_000..=4_320_000).contains(&late), "{late}");
        }
    }
}
