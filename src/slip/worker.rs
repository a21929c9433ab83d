//! The slip-reading worker: takes `pending` rows of `slip_reads` (queued in
//! the transaction that attached the slip to its order), reads the file off
//! the intake path, records what it found, and queues an edit of the review
//! cards of every order holding that file (the staff board reads the table
//! on each request, so it shows the result on its next refresh).
//!
//! Reading never blocks intake: it runs in its own supervised task, one file
//! at a time (OCR is CPU-bound and the machine is shared with intake and the
//! web), inside `spawn_blocking`. A try that fails for a passing reason
//! (a tool timed out or is missing) is retried with backoff up to
//! `slips.read_attempts`; a damaged or unsupported file fails at once. A
//! failed read is shown to staff as "unreadable" with its reason.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::read::{ReadError, ReadLimits, read_slip};
use crate::desk::Desk;
use crate::outbox::deliver::backoff_ms;
use crate::store::orders;
use crate::store::slip_reads::{self, SlipReadRow};

/// A claimed read not finished within this lease is taken again (the worker died).
const LEASE_MS: i64 = 5 * 60 * 1000;

/// Runs until `shutdown`: reads due slips, then waits for the desk's bell or a second.
///
/// # Errors
/// Only when the store keeps failing (the supervisor restarts the loop).
pub async fn run(desk: Desk, shutdown: CancellationToken) -> anyhow::Result<()> {
    let bell = desk.outbox_bell();
    loop {
        let notified = bell.notified();
        let worked = pass(&desk).await?;
        if shutdown.is_cancelled() {
            return Ok(());
        }
        if !worked {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = notified => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// Reads every due slip; true when at least one was handled.
///
/// # Errors
/// Store failures.
pub async fn drain(desk: &Desk) -> anyhow::Result<usize> {
    let mut n = 0;
    while pass(desk).await? {
        n += 1;
    }
    Ok(n)
}

/// Claims and reads one due slip; false when none was due.
async fn pass(desk: &Desk) -> anyhow::Result<bool> {
    let job = {
        let mut conn = desk.store().pool().acquire().await?;
        slip_reads::claim(&mut conn, desk.now(), LEASE_MS).await?
    };
    let Some(job) = job else {
        return Ok(false);
    };
    let started = Instant::now();
    let outcome = match desk.slips().get(&job.hash).await {
        Ok(bytes) => {
            let limits = ReadLimits::from_settings(&desk.settings().slips);
            tokio::task::spawn_blocking(move || read_slip(&bytes, &limits))
                .await
                .unwrap_or_else(|e| Err(ReadError::Corrupt(format!("the reader failed: {e}"))))
        }
        Err(e) => Err(ReadError::Tool(format!(
            "reading the stored file failed: {e}"
        ))),
    };
    let read_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    record(desk, &job, outcome, read_ms).await?;
    Ok(true)
}

async fn record(
    desk: &Desk,
    job: &SlipReadRow,
    outcome: Result<super::read::Reading, ReadError>,
    read_ms: i64,
) -> anyhow::Result<()> {
    let now = desk.now();
    let max_attempts = desk.settings().slips.read_attempts.max(1);
    let mut tx = desk.store().begin_write().await?;
    match &outcome {
        Ok(reading) => {
            slip_reads::record_done(
                &mut tx,
                &job.hash,
                &reading.fields,
                reading.method.as_str(),
                read_ms,
                now,
            )
            .await?;
            tracing::info!(
                slip = %job.hash,
                amount = ?reading.fields.amount.map(|m| m.to_plain()),
                confidence = ?reading.fields.amount_confidence,
                method = reading.method.as_str(),
                tries = reading.tries,
                read_ms,
                "Slip read"
            );
        }
        Err(e) if e.is_transient() && job.attempts < max_attempts => {
            let retry_at = now + backoff_ms(job.attempts, 5, 600);
            slip_reads::record_failure(&mut tx, &job.hash, &e.to_string(), Some(retry_at), now)
                .await?;
            tracing::warn!(slip = %job.hash, attempts = job.attempts, "Slip read failed, will retry: {e}");
        }
        Err(e) => {
            slip_reads::record_failure(&mut tx, &job.hash, &e.to_string(), None, now).await?;
            tracing::warn!(slip = %job.hash, attempts = job.attempts, "Slip cannot be read: {e}");
        }
    }
    // The cards of the orders holding the file show the result (or the failure).
    let finished = !matches!(&outcome, Err(e) if e.is_transient() && job.attempts < max_attempts);
    let mut rang = false;
    if finished {
        for order_id in slip_reads::orders_of(&mut tx, &job.hash).await? {
            let order = orders::by_id(&mut tx, order_id).await?;
            desk.card_update(&mut tx, &order).await?;
            rang = true;
        }
    }
    tx.commit().await?;
    if rang {
        let bell = desk.outbox_bell();
        bell.notify_waiters();
        bell.notify_one();
    }
    Ok(())
}
