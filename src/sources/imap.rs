//! The IMAP source (async-imap over TLS or plain TCP).
//!
//! A session logs in, SELECTs the mailbox, catches up (UID SEARCH for what is
//! not handled yet, UID FETCH `BODY.PEEK[]` in batches, one desk call per
//! message), then IDLEs until new mail arrives or `idle_secs` pass, and
//! catches up again. A message is flagged `\Seen` (or moved to the processed
//! mailbox) only after the desk returned `Ok`, i.e. after the commit. Every
//! command has a timeout; when the server drops or a command times out the
//! source reconnects with exponential backoff (1 s to 60 s) and catches up, so
//! nothing is missed.
//!
//! What is "not handled yet": messages without `\Seen` plus every message with
//! a UID above the cursor (`imap_cursors`: the highest UID handled or passed over,
//! per mailbox and UIDVALIDITY). A message whose `imap:` key the desk already
//! recorded (handled, but the flag was lost with the connection) is only
//! flagged, not handed over again. A new UIDVALIDITY re-scans the whole
//! mailbox; the desk's Message-ID keys keep that from making duplicates. On a
//! first run only unseen mail is taken, so old read mail is left alone.
//!
//! With several daemons on one PostgreSQL only the holder of the mailbox's
//! [`Lease`] watches it.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;

use super::lease::Lease;
use crate::config::{ImapSettings, ImapTls};
use crate::desk::Desk;
use crate::store::inbound;

/// Reconnects after a failed or dropped session since the process started (for metrics).
pub static IMAP_RECONNECTS: AtomicU64 = AtomicU64::new(0);

/// Messages looked at per pass of the catch-up loop.
const BATCH: usize = 50;
/// Most message bytes fetched by one `UID FETCH` (bounds memory: a fetch is
/// held whole while its messages are handled).
const FETCH_BYTES: usize = 32 * 1024 * 1024;
/// Longest wait for the server to end IDLE after `DONE`.
const DONE_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for `LOGOUT` at shutdown.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// First and longest pause before reconnecting.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// IDLE is re-issued at most this long after it began (servers drop it at 30 min).
const MAX_IDLE: Duration = Duration::from_secs(25 * 60);
/// Polling interval for servers without IDLE.
const POLL_WITHOUT_IDLE: Duration = Duration::from_secs(15);
/// How often the lease connection is checked.
const LEASE_CHECK: Duration = Duration::from_secs(5);

/// Any byte stream the session can run on (TLS or plain TCP).
trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapIo for T {}

type Session = async_imap::Session<Box<dyn ImapIo>>;

/// Watches the configured mailbox until `shutdown` is cancelled.
///
/// # Errors
/// None in practice: connection and desk failures are logged and retried.
pub async fn run(desk: Desk, cfg: ImapSettings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let key = mailbox_key(&cfg);
    let url = desk.settings().database_url();
    loop {
        let Some(lease) = Lease::acquire(desk.store().backend(), &url, &key, &shutdown).await
        else {
            return Ok(());
        };
        // The session stops when the daemon shuts down or the lease is lost.
        let session_token = shutdown.child_token();
        let watcher = tokio::spawn(watch_lease(lease, session_token.clone()));
        let result = watch_mailbox(&desk, &cfg, &key, &session_token).await;
        session_token.cancel();
        match watcher.await {
            Ok(lease) => lease.release().await,
            Err(e) => tracing::warn!(mailbox = key, "Lease watcher failed: {e}"),
        }
        if shutdown.is_cancelled() {
            return result;
        }
        if let Err(e) = result {
            tracing::warn!(mailbox = key, "IMAP source stopped: {e:#}");
        }
        tracing::warn!(mailbox = key, "Lease lost; waiting to take it again");
    }
}

/// Connects, logs in and SELECTs the mailbox, then logs out: for `topup check-config`.
///
/// # Errors
/// What failed, with the server's words (connect, TLS, login, select).
pub async fn check(cfg: &ImapSettings) -> anyhow::Result<()> {
    let mut session = connect(cfg).await?;
    let mailbox = timed(cfg, "SELECT", session.select(&cfg.mailbox)).await?;
    if !cfg.processed_mailbox.is_empty() {
        timed(
            cfg,
            "STATUS of the processed mailbox",
            session.status(&cfg.processed_mailbox, "(MESSAGES)"),
        )
        .await
        .with_context(|| {
            format!(
                "Processed mailbox {:?} is not usable",
                cfg.processed_mailbox
            )
        })?;
    }
    tracing::debug!(messages = mailbox.exists, "IMAP mailbox selected");
    let _ = tokio::time::timeout(LOGOUT_TIMEOUT, session.logout()).await;
    Ok(())
}

/// The name this mailbox is known by in keys and leases: `imap:<user>@<host>/<mailbox>`.
pub fn mailbox_key(cfg: &ImapSettings) -> String {
    format!("imap:{}@{}/{}", cfg.username, cfg.host, cfg.mailbox)
}

/// Checks the lease every few seconds; cancels `token` when it is lost.
async fn watch_lease(mut lease: Lease, token: CancellationToken) -> Lease {
    loop {
        tokio::select! {
            () = token.cancelled() => return lease,
            () = tokio::time::sleep(LEASE_CHECK) => {
                if !lease.alive().await {
                    tracing::warn!(lease = lease.name(), "Lease connection lost; stopping the IMAP session");
                    token.cancel();
                    return lease;
                }
            }
        }
    }
}

/// Runs sessions one after the other, with backoff in between, until `token` is cancelled.
async fn watch_mailbox(
    desk: &Desk,
    cfg: &ImapSettings,
    key: &str,
    token: &CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u64;
    loop {
        let mut connected = false;
        let result = session(desk, cfg, key, token, &mut connected, failures > 0).await;
        if token.is_cancelled() {
            if let Err(e) = result {
                tracing::debug!(mailbox = key, "IMAP session ended at shutdown: {e:#}");
            }
            return Ok(());
        }
        let e = match result {
            Ok(()) => anyhow::anyhow!("session ended"),
            Err(e) => e,
        };
        if connected {
            backoff = MIN_BACKOFF;
        }
        failures += 1;
        IMAP_RECONNECTS.fetch_add(1, Ordering::Relaxed);
        desk.health().down("imap", format!("{key}: {e:#}"));
        tracing::warn!(
            mailbox = key,
            "IMAP session failed: {e:#}; reconnecting in {} s",
            backoff.as_secs()
        );
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One session: connect, catch up, IDLE, repeat. Returns `Ok` only when cancelled.
async fn session(
    desk: &Desk,
    cfg: &ImapSettings,
    key: &str,
    token: &CancellationToken,
    connected: &mut bool,
    reconnect: bool,
) -> anyhow::Result<()> {
    let opening = async {
        let mut s = connect(cfg).await?;
        let mailbox = timed(cfg, "SELECT", s.select(&cfg.mailbox))
            .await
            .with_context(|| format!("Mailbox {:?}", cfg.mailbox))?;
        let caps = timed(cfg, "CAPABILITY", s.capabilities()).await?;
        anyhow::Ok((s, mailbox, caps.has_str("IDLE")))
    };
    // Connecting can take a while against a dead server: stop waiting at shutdown.
    let (mut s, mailbox, can_idle) = tokio::select! {
        r = opening => r?,
        () = token.cancelled() => return Ok(()),
    };
    *connected = true;
    desk.health().up("imap", format!("{key}: connected"));
    let Some(uid_validity) = mailbox.uid_validity else {
        bail!("The server sent no UIDVALIDITY for {:?}", cfg.mailbox);
    };
    let uid_next = match mailbox.uid_next {
        Some(n) => n,
        // Rare servers omit UIDNEXT: the highest UID present stands in for it.
        None => timed(cfg, "UID SEARCH", s.uid_search("ALL"))
            .await?
            .into_iter()
            .max()
            .map_or(1, |u| u.saturating_add(1)),
    };
    if reconnect {
        tracing::info!(mailbox = key, uid_validity, "IMAP reconnected");
    } else {
        tracing::info!(
            mailbox = key,
            uid_validity,
            messages = mailbox.exists,
            "IMAP mailbox selected"
        );
    }
    if !cfg.processed_mailbox.is_empty() {
        // Usually exists already; a real problem shows when MOVE fails.
        let _ = timed(cfg, "CREATE", s.create(&cfg.processed_mailbox)).await;
    }
    let mailbox = Mailbox {
        key,
        uid_validity,
        uid_next,
    };
    let idle_for = Duration::from_secs(cfg.idle_secs.max(1)).min(MAX_IDLE);
    loop {
        catch_up(&mut s, desk, cfg, &mailbox, token).await?;
        if token.is_cancelled() {
            logout(s).await;
            return Ok(());
        }
        if !can_idle {
            tokio::select! {
                () = token.cancelled() => {
                    logout(s).await;
                    return Ok(());
                }
                () = tokio::time::sleep(POLL_WITHOUT_IDLE.min(idle_for)) => {}
            }
            timed(cfg, "NOOP", s.noop()).await?;
            continue;
        }
        let mut handle = s.idle();
        timed(cfg, "IDLE", handle.init()).await?;
        let woke = {
            let (wait, _stop) = handle.wait_with_timeout(idle_for);
            tokio::select! {
                r = wait => Some(r.context("IDLE failed")?),
                () = token.cancelled() => None,
            }
        };
        s = match tokio::time::timeout(DONE_TIMEOUT, handle.done()).await {
            Ok(r) => r.context("Ending IDLE failed")?,
            Err(_) => bail!(
                "The server did not end IDLE within {} s",
                DONE_TIMEOUT.as_secs()
            ),
        };
        match woke {
            None => {
                logout(s).await;
                return Ok(());
            }
            Some(IdleResponse::NewData(_)) => {
                tracing::debug!(mailbox = key, "IDLE: mailbox changed")
            }
            Some(IdleResponse::Timeout | IdleResponse::ManualInterrupt) => {}
        }
    }
}

/// The selected mailbox's identity.
struct Mailbox<'a> {
    key: &'a str,
    uid_validity: u32,
    /// UIDNEXT at SELECT: every message below it existed then.
    uid_next: u32,
}

impl Mailbox<'_> {
    /// The desk key of one message: `imap:<user>@<host>/<mailbox>:<uidvalidity>:<uid>`.
    fn message_key(&self, uid: u32) -> String {
        format!("{}:{}:{uid}", self.key, self.uid_validity)
    }
}

/// Hands every message that is not handled yet to the desk, until a search finds none.
async fn catch_up(
    s: &mut Session,
    desk: &Desk,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    token: &CancellationToken,
) -> anyhow::Result<()> {
    loop {
        // Whatever the server announced so far is covered by the search below.
        while s.unsolicited_responses.try_recv().is_ok() {}
        let cursor = cursor::load(desk, mailbox.key).await?;
        let uids = candidates(s, cfg, mailbox, cursor).await?;
        if cursor.is_none_or(|(v, _)| v != mailbox.uid_validity) {
            // First run or new UIDVALIDITY: everything that existed at SELECT is
            // in `uids` or not ours to take (old read mail). Whatever of `uids`
            // a crash leaves undone is still unseen, so the next search finds it.
            let last = mailbox.uid_next.saturating_sub(1);
            cursor::advance(desk, mailbox.key, mailbox.uid_validity, last).await?;
        }
        if uids.is_empty() {
            return Ok(());
        }
        tracing::debug!(mailbox = mailbox.key, count = uids.len(), "Catching up");
        for chunk in uids.chunks(BATCH) {
            if token.is_cancelled() {
                return Ok(());
            }
            handle_batch(s, desk, cfg, mailbox, chunk, token).await?;
        }
        if token.is_cancelled() {
            return Ok(());
        }
    }
}

/// UIDs to look at, ascending.
async fn candidates(
    s: &mut Session,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    cursor: Option<(u32, u32)>,
) -> anyhow::Result<Vec<u32>> {
    // The same rule whether handled mail is flagged or moved away: moved
    // mail is simply no longer found.
    let mut uids: Vec<u32> = match cursor {
        Some((validity, last)) if validity == mailbox.uid_validity => {
            let mut set: Vec<u32> = timed(cfg, "UID SEARCH", s.uid_search("UNSEEN"))
                .await?
                .into_iter()
                .collect();
            // `N:*` always includes the highest UID, even below N: filter.
            let above = timed(
                cfg,
                "UID SEARCH",
                s.uid_search(format!("UID {}:*", last.saturating_add(1))),
            )
            .await?;
            set.extend(above.into_iter().filter(|u| *u > last));
            set
        }
        Some((validity, _)) => {
            tracing::warn!(
                mailbox = mailbox.key,
                old = validity,
                new = mailbox.uid_validity,
                "UIDVALIDITY changed; re-scanning the mailbox"
            );
            timed(cfg, "UID SEARCH", s.uid_search("ALL"))
                .await?
                .into_iter()
                .collect()
        }
        None => timed(cfg, "UID SEARCH", s.uid_search("UNSEEN"))
            .await?
            .into_iter()
            .collect(),
    };
    uids.sort_unstable();
    uids.dedup();
    Ok(uids)
}

/// Fetches `uids` and hands each to the desk. Messages are marked done (one
/// `UID STORE`/`UID MOVE` for the batch, one cursor write) only after the
/// desk committed them; a crash before that leaves them unflagged, and the
/// next pass finds their keys recorded and only flags them.
async fn handle_batch(
    s: &mut Session,
    desk: &Desk,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    uids: &[u32],
    token: &CancellationToken,
) -> anyhow::Result<()> {
    // Handled before (the flag was lost with a connection): only flag them.
    let mut fresh = Vec::with_capacity(uids.len());
    let mut done = Vec::new();
    {
        let mut conn = desk
            .store()
            .pool()
            .acquire()
            .await
            .context("No database connection")?;
        for &uid in uids {
            if inbound::seen(&mut conn, &[mailbox.message_key(uid)]).await? {
                done.push(uid);
            } else {
                fresh.push(uid);
            }
        }
    }
    if fresh.is_empty() {
        return mark_done(s, desk, cfg, mailbox, &done).await;
    }
    let result = handle_fresh(s, desk, cfg, mailbox, &fresh, token, &mut done).await;
    mark_done(s, desk, cfg, mailbox, &done).await?;
    result
}

/// Sizes first (`RFC822.SIZE`), then the messages in slices of at most
/// [`FETCH_BYTES`]: a message over `limits.max_message_bytes` is never
/// downloaded (only its header, recorded and answered with the limit), and
/// no fetch holds more than a few large messages in memory at once.
async fn handle_fresh(
    s: &mut Session,
    desk: &Desk,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    fresh: &[u32],
    token: &CancellationToken,
    done: &mut Vec<u32>,
) -> anyhow::Result<()> {
    let max = desk.settings().limits.max_message_bytes;
    let sizes: Vec<(u32, usize)> = timed(cfg, "UID FETCH RFC822.SIZE", async {
        s.uid_fetch(uid_set(fresh), "(UID RFC822.SIZE)")
            .await?
            // Unsolicited FETCH responses (flag changes) carry no size: skipped.
            .try_filter_map(|f| async move { Ok(f.uid.zip(f.size).map(|(u, n)| (u, n as usize))) })
            .try_collect()
            .await
    })
    .await?;
    let mut sizes: Vec<(u32, usize)> = sizes
        .into_iter()
        .filter(|(u, _)| fresh.contains(u))
        .collect();
    sizes.sort_unstable();
    sizes.dedup_by_key(|(u, _)| *u);
    let mut slice: Vec<u32> = Vec::new();
    let mut slice_bytes = 0usize;
    for (i, &(uid, size)) in sizes.iter().enumerate() {
        if token.is_cancelled() {
            return Ok(());
        }
        if size > max {
            // Keep UID order: what is collected so far goes first.
            handle_slice(s, desk, cfg, mailbox, &slice, token, done).await?;
            slice.clear();
            slice_bytes = 0;
            handle_oversized(s, desk, cfg, mailbox, uid, size).await?;
            done.push(uid);
            continue;
        }
        slice.push(uid);
        slice_bytes += size;
        let next_too_big = sizes
            .get(i + 1)
            .is_none_or(|&(_, n)| n > max || slice_bytes + n > FETCH_BYTES);
        if next_too_big {
            handle_slice(s, desk, cfg, mailbox, &slice, token, done).await?;
            slice.clear();
            slice_bytes = 0;
        }
    }
    Ok(())
}

/// Records a message over the size limit from its header alone.
async fn handle_oversized(
    s: &mut Session,
    desk: &Desk,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    uid: u32,
    size: usize,
) -> anyhow::Result<()> {
    let key = mailbox.message_key(uid);
    let head: Vec<Vec<u8>> = timed(cfg, "UID FETCH BODY.PEEK[HEADER]", async {
        s.uid_fetch(uid.to_string(), "(UID BODY.PEEK[HEADER])")
            .await?
            .try_filter_map(|f| async move {
                Ok((f.uid == Some(uid))
                    .then(|| f.header().map(<[u8]>::to_vec))
                    .flatten())
            })
            .try_collect()
            .await
    })
    .await?;
    let head = head.into_iter().next().unwrap_or_default();
    tracing::warn!(
        source_key = key,
        size,
        "Mail over the size limit: recording its headers only"
    );
    let msg = super::inbound_from_oversized(head, size, vec![key.clone()], desk.settings());
    desk.handle_inbound(msg)
        .await
        .with_context(|| format!("Handling {key} failed; it stays unflagged"))?;
    Ok(())
}

/// Fetches one slice of messages and hands each to the desk; stops at the
/// first failure (the store is down: the rest waits for the next pass).
async fn handle_slice(
    s: &mut Session,
    desk: &Desk,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    uids: &[u32],
    token: &CancellationToken,
    done: &mut Vec<u32>,
) -> anyhow::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    let mut fetched: Vec<(u32, Vec<u8>)> = timed(cfg, "UID FETCH", async {
        s.uid_fetch(&set, "(UID BODY.PEEK[])")
            .await?
            .try_filter_map(|f| async move { Ok(f.uid.zip(f.body().map(<[u8]>::to_vec))) })
            .try_collect()
            .await
    })
    .await?;
    fetched.retain(|(uid, _)| uids.contains(uid));
    fetched.sort_by_key(|(uid, _)| *uid);
    if token.is_cancelled() {
        return Ok(());
    }
    // One transaction for the slice (group commit); flagged after it committed.
    let slice_uids: Vec<u32> = fetched.iter().map(|(uid, _)| *uid).collect();
    let mails: Vec<(Vec<u8>, Vec<String>)> = fetched
        .into_iter()
        .map(|(uid, raw)| (raw, vec![mailbox.message_key(uid)]))
        .collect();
    let outcomes = super::handle_emails(desk, mails).await.with_context(|| {
        format!(
            "Handling {} message(s) of {} failed; they stay unflagged",
            slice_uids.len(),
            mailbox.key
        )
    })?;
    for (uid, outcome) in slice_uids.iter().zip(&outcomes) {
        tracing::debug!(source_key = mailbox.message_key(*uid), outcome = %outcome.outcome, "IMAP message handled");
    }
    done.extend(slice_uids);
    Ok(())
}

/// `1,2,5` for a list of UIDs.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Flags handled messages `\Seen` (or moves them to the processed mailbox)
/// in one command, then moves the cursor past them.
async fn mark_done(
    s: &mut Session,
    desk: &Desk,
    cfg: &ImapSettings,
    mailbox: &Mailbox<'_>,
    uids: &[u32],
) -> anyhow::Result<()> {
    let Some(&last) = uids.iter().max() else {
        return Ok(());
    };
    let set = uid_set(uids);
    if cfg.processed_mailbox.is_empty() {
        timed(cfg, "UID STORE", async {
            s.uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
    } else {
        timed(cfg, "UID MOVE", s.uid_mv(&set, &cfg.processed_mailbox)).await?;
    }
    cursor::advance(desk, mailbox.key, mailbox.uid_validity, last).await?;
    Ok(())
}

/// LOGOUT, waiting briefly: the server forgets the session anyway.
async fn logout(mut s: Session) {
    let _ = tokio::time::timeout(LOGOUT_TIMEOUT, s.logout()).await;
}

/// Connects (TLS or plain), reads the greeting and logs in.
async fn connect(cfg: &ImapSettings) -> anyhow::Result<Session> {
    let limit = command_timeout(cfg);
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = tokio::time::timeout(limit, TcpStream::connect((cfg.host.as_str(), cfg.port)))
        .await
        .with_context(|| format!("Connecting to IMAP {addr} timed out"))?
        .with_context(|| format!("Cannot connect to IMAP {addr}"))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn ImapIo> = match cfg.tls {
        ImapTls::None => Box::new(tcp),
        ImapTls::Tls => {
            let connector = tls_connector(cfg)?;
            let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
                .with_context(|| format!("{:?} is not a valid TLS server name", cfg.host))?;
            let tls = tokio::time::timeout(limit, connector.connect(name, tcp))
                .await
                .with_context(|| format!("TLS handshake with IMAP {addr} timed out"))?
                .with_context(|| format!("TLS handshake with IMAP {addr} failed"))?;
            Box::new(tls)
        }
    };
    let mut client = async_imap::Client::new(stream);
    let greeting = tokio::time::timeout(limit, client.read_response())
        .await
        .with_context(|| format!("IMAP {addr} sent no greeting"))?
        .with_context(|| format!("Reading the greeting of IMAP {addr} failed"))?;
    if greeting.is_none() {
        bail!("IMAP {addr} closed the connection before its greeting");
    }
    let login = client.login(&cfg.username, cfg.password.expose_secret());
    match tokio::time::timeout(limit, login).await {
        Err(_) => bail!("IMAP login at {addr} timed out"),
        Ok(Err((e, _))) => Err(anyhow::Error::new(e)
            .context(format!("IMAP login as {} at {addr} failed", cfg.username))),
        Ok(Ok(session)) => Ok(session),
    }
}

/// A TLS client trusting the web PKI roots plus `ca_file`.
fn tls_connector(cfg: &ImapSettings) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("Cannot read CA file {}", path.display()))?;
        let mut found = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert =
                cert.with_context(|| format!("CA file {} is not valid PEM", path.display()))?;
            roots.add(cert).with_context(|| {
                format!("CA file {} holds an unusable certificate", path.display())
            })?;
            found += 1;
        }
        if found == 0 {
            bail!("CA file {} holds no certificate", path.display());
        }
    }
    // Name the provider: with two providers compiled in, the default one panics.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup failed")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn command_timeout(cfg: &ImapSettings) -> Duration {
    Duration::from_secs(cfg.command_timeout_secs.max(1))
}

/// Runs one IMAP command with the configured timeout.
async fn timed<T>(
    cfg: &ImapSettings,
    what: &str,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(command_timeout(cfg), fut).await {
        Err(_) => bail!(
            "IMAP {what} timed out after {} s",
            command_timeout(cfg).as_secs()
        ),
        Ok(r) => r.with_context(|| format!("IMAP {what} failed")),
    }
}

/// The catch-up cursor per mailbox (`imap_cursors`).
mod cursor {
    use crate::desk::Desk;

    /// `(uid_validity, last_uid)` stored for `key`.
    pub(super) async fn load(desk: &Desk, key: &str) -> anyhow::Result<Option<(u32, u32)>> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT uid_validity, last_uid FROM imap_cursors WHERE mailbox_key = $1",
        )
        .bind(key)
        .fetch_optional(desk.store().pool())
        .await?;
        Ok(row.map(|(v, u)| (to_u32(v), to_u32(u))))
    }

    /// Records that `uid` was handled; the cursor never moves back within one UIDVALIDITY.
    pub(super) async fn advance(
        desk: &Desk,
        key: &str,
        uid_validity: u32,
        uid: u32,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO imap_cursors (mailbox_key, uid_validity, last_uid, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (mailbox_key) DO UPDATE SET \
               last_uid = CASE WHEN imap_cursors.uid_validity = excluded.uid_validity \
                                AND imap_cursors.last_uid > excluded.last_uid \
                          THEN imap_cursors.last_uid ELSE excluded.last_uid END, \
               uid_validity = excluded.uid_validity, \
               updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(i64::from(uid_validity))
        .bind(i64::from(uid))
        .bind(desk.now())
        .execute(desk.store().pool())
        .await?;
        Ok(())
    }

    fn to_u32(v: i64) -> u32 {
        u32::try_from(v).unwrap_or(0)
    }
}
