//! Helpers for the mail intake tests: the real application on a fresh store
//! (a SQLite file, or a new PostgreSQL database when `TOPUP_TEST_DB=postgres`)
//! watching a per-test Dovecot mailbox or Maildir, an IMAP client that
//! APPENDs mail and reads flags the way another mail client would, and
//! polling with a deadline instead of fixed sleeps.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use crate::db::{backend, fresh_database};
use futures::TryStreamExt;
use secrecy::SecretString;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use topup::app::Application;
use topup::clock::{Clock, SystemClock};
use topup::config::{ImapSettings, ImapTls, Settings};
use topup::desk::Desk;
use topup::domain::Lang;
use topup::store::accounts;
use topup::store::inbound::{self, InboundRow};
use topup::store::orders::{self, OrderRow};
use topup::store::outbox::{self, OutboxRow};

/// Restarting Dovecot disturbs every test talking to it: that test takes
/// this lock for writing, every other IMAP test for reading.
pub static DOVECOT: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The password every test mailbox accepts.
pub const PASSWORD: &str = "secret";

/// A variable from the environment, else from the env file `scripts/test-env start` writes.
pub fn test_env(name: &str) -> String {
    let dir = std::env::var("TOPUP_TEST_ENV_DIR").unwrap_or_else(|_| "/tmp/topup-test-env".into());
    let file = std::fs::read_to_string(format!("{dir}/env")).unwrap_or_default();
    std::env::var(name)
        .ok()
        .or_else(|| {
            file.lines().find_map(|line| {
                let (key, value) = line.strip_prefix("export ")?.split_once('=')?;
                (key == name).then(|| value.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| {
            panic!("{name} is not set: run `scripts/test-env start` (it writes {dir}/env)")
        })
}

/// Where the test Dovecot listens for plain IMAP.
pub fn imap_endpoint() -> (String, u16) {
    let host = std::env::var("TOPUP_TEST_IMAP_HOST")
        .ok()
        .or_else(|| Some(test_env("TOPUP_TEST_IMAP_HOST")))
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = test_env("TOPUP_TEST_IMAP_PORT")
        .parse()
        .expect("TOPUP_TEST_IMAP_PORT is not a port number");
    (host, port)
}

/// A mailbox user nobody else uses.
pub fn fresh_mailbox() -> String {
    format!("desk-{}@example.test", uuid::Uuid::new_v4().simple())
}

/// A customer address nobody else uses.
pub fn fresh_address(tag: &str) -> String {
    format!(
        "{tag}-{}@customer.example.test",
        uuid::Uuid::new_v4().simple()
    )
}

/// Settings of a fresh desk in `dir`; `mailbox` set: watch that IMAP user's INBOX.
pub async fn settings(dir: &Path, mailbox: Option<&str>) -> Settings {
    let mut s = Settings {
        data_dir: dir.to_path_buf(),
        ..Settings::default()
    };
    s.database.url = fresh_database(dir).await;
    s.web.listen = "127.0.0.1:0".into();
    if let Some(user) = mailbox {
        let (host, port) = imap_endpoint();
        s.mail.imap = Some(ImapSettings {
            host,
            port,
            tls: ImapTls::None,
            username: user.to_string(),
            password: SecretString::from(PASSWORD.to_string()),
            idle_secs: 60,
            command_timeout_secs: 10,
            ..ImapSettings::default()
        });
    }
    s
}

/// Adds an account whose main user writes from `email`, before any daemon runs.
pub async fn add_customer(settings: &Arc<Settings>, company: &str, email: &str) {
    let desk = Application::open_desk(settings.clone(), Arc::new(SystemClock))
        .await
        .expect("open desk");
    let mut tx = desk.store().begin_write().await.expect("begin");
    accounts::add_account(&mut tx, company, email, Lang::Id, SystemClock.now_ms())
        .await
        .expect("add account");
    tx.commit().await.expect("commit");
    desk.store().close().await;
}

/// The application running in a task.
pub struct Daemon {
    pub desk: Desk,
    token: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    /// Builds the real application from `settings` and runs it.
    pub async fn start(settings: Arc<Settings>) -> Daemon {
        let app = Application::build(settings, Arc::new(SystemClock))
            .await
            .expect("application builds");
        let desk = app.desk().clone();
        let token = CancellationToken::new();
        let task = tokio::spawn(app.run(token.clone()));
        Daemon { desk, token, task }
    }

    /// Asks it to stop (as SIGTERM does) and waits until it has.
    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(45), self.task)
            .await
            .expect("the daemon stops within 45 s")
            .expect("the daemon task does not panic")
            .expect("the daemon stops cleanly");
    }

    /// Adds an account whose main user writes from `email`.
    pub async fn customer(&self, company: &str, email: &str) {
        let mut tx = self.desk.store().begin_write().await.expect("begin");
        accounts::add_account(&mut tx, company, email, Lang::Id, SystemClock.now_ms())
            .await
            .expect("add account");
        tx.commit().await.expect("commit");
    }

    async fn conn(&self) -> sqlx::pool::PoolConnection<sqlx::Any> {
        self.desk
            .store()
            .pool()
            .acquire()
            .await
            .expect("connection")
    }

    pub async fn orders(&self) -> Vec<OrderRow> {
        let mut conn = self.conn().await;
        orders::list(&mut conn, None, None, 1000)
            .await
            .expect("orders")
    }

    pub async fn inbound(&self) -> Vec<InboundRow> {
        let mut conn = self.conn().await;
        inbound::list(&mut conn, false, 1000)
            .await
            .expect("inbound")
    }

    pub async fn outbox(&self) -> Vec<OutboxRow> {
        let mut conn = self.conn().await;
        outbox::list(&mut conn, None, 1000).await.expect("outbox")
    }

    pub async fn slips_of(&self, order_id: i64) -> Vec<inbound::OrderSlipRow> {
        let mut conn = self.conn().await;
        inbound::slips_of(&mut conn, order_id).await.expect("slips")
    }

    /// True once the IMAP source finished its first catch-up (it IDLEs next).
    pub async fn imap_caught_up(&self) -> bool {
        let row: Option<(i64,)> = sqlx::query_as("SELECT COUNT(*) FROM imap_cursors")
            .fetch_optional(self.desk.store().pool())
            .await
            .expect("imap_cursors");
        row.is_some_and(|(n,)| n > 0)
    }
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `secs`.
pub async fn eventually(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {secs} s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Session = async_imap::Session<TcpStream>;

/// Logs in to the test Dovecot as `user`, like a mail client.
pub async fn imap_login(user: &str) -> Session {
    let (host, port) = imap_endpoint();
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .unwrap_or_else(|e| {
            panic!("IMAP {host}:{port} is not reachable ({e}): run scripts/test-env start")
        });
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("server sent a greeting");
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

/// Puts `raw` into `user`'s INBOX (as delivery would), retrying while Dovecot restarts.
pub async fn append(user: &str, raw: &[u8]) {
    append_with_flags(user, raw, None).await;
}

/// [`append`] with IMAP flags such as `(\Seen)`.
pub async fn append_with_flags(user: &str, raw: &[u8], flags: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = async {
            let (host, port) = imap_endpoint();
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            let mut client = async_imap::Client::new(tcp);
            client.read_response().await?;
            let mut s = client.login(user, PASSWORD).await.map_err(|(e, _)| e)?;
            s.append("INBOX", flags, None, raw).await?;
            let _ = s.logout().await;
            anyhow::Ok(())
        };
        match attempt.await {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("APPEND failed, retrying: {e:#}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("APPEND to {user} failed: {e:#}"),
        }
    }
}

/// Whether each message in `user`'s INBOX has `\Seen`, by UID.
pub async fn seen_flags(user: &str) -> Vec<(u32, bool)> {
    seen_flags_in(user, "INBOX").await
}

/// [`seen_flags`] of another mailbox (empty when it does not exist).
pub async fn seen_flags_in(user: &str, mailbox: &str) -> Vec<(u32, bool)> {
    let mut s = imap_login(user).await;
    let Ok(mailbox) = s.examine(mailbox).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> = s
            .uid_fetch("1:*", "(UID FLAGS)")
            .await
            .expect("FETCH")
            .try_collect()
            .await
            .expect("FETCH results");
        // While the daemon sets \Seen, the server may slip unsolicited FETCH
        // responses (flag changes, without a UID) into our answer: skip them.
        let mut by_uid = std::collections::BTreeMap::new();
        for f in &fetches {
            let Some(uid) = f.uid else { continue };
            let seen = f.flags().any(|fl| fl == async_imap::types::Flag::Seen);
            by_uid.insert(uid, seen);
        }
        out.extend(by_uid);
    }
    let _ = s.logout().await;
    out
}

/// Clears `\Seen` on one message, as a lost flag after a crash would leave it.
pub async fn unflag(user: &str, uid: u32) {
    let mut s = imap_login(user).await;
    s.select("INBOX").await.expect("SELECT");
    let _: Vec<_> = s
        .uid_store(uid.to_string(), "-FLAGS.SILENT (\\Seen)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE results");
    let _ = s.logout().await;
}

/// A 1x1 PNG followed by `salt`, so each test slip has its own hash.
pub fn png(salt: &str) -> Vec<u8> {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let mut bytes = PNG.to_vec();
    bytes.extend_from_slice(salt.as_bytes());
    bytes
}

/// A phone-style slip mail: text plus a PNG attachment.
pub fn slip_mail(from: &str, message_id: &str, subject: &str, text: &str, png: &[u8]) -> Vec<u8> {
    let b64 = base64(png);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "From: Budi Santoso <{from}>\r\n\
         To: Top-up Desk <topup@desk.example.test>\r\n\
         Subject: {subject}\r\n\
         Date: Wed, 25 Nov 2026 10:00:00 +0700\r\n\
         Message-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         {text}\r\n\
         --b1\r\n\
         Content-Type: image/png; name=\"bukti.png\"\r\n\
         Content-Disposition: attachment; filename=\"bukti.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --b1--\r\n",
        wrapped.join("\r\n")
    )
    .into_bytes()
}

/// A plain text mail with extra header lines (each ending in `\r\n`).
pub fn text_mail(
    from: &str,
    message_id: &str,
    subject: &str,
    extra_headers: &str,
    text: &str,
) -> Vec<u8> {
    format!(
        "From: <{from}>\r\n\
         To: Top-up Desk <topup@desk.example.test>\r\n\
         Subject: {subject}\r\n\
         Date: Wed, 25 Nov 2026 10:00:00 +0700\r\n\
         Message-ID: <{message_id}>\r\n\
         {extra_headers}\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         {text}\r\n"
    )
    .into_bytes()
}

/// A Message-ID nobody else uses.
pub fn message_id(tag: &str) -> String {
    format!(
        "{tag}.{}@mail.customer.example.test",
        uuid::Uuid::new_v4().simple()
    )
}

/// Standard base64 with padding (the tests need nothing more).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
