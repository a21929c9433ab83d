//! Shared harness of `examples/bench.rs` and `examples/faults.rs`: the test
//! mail servers' settings (`scripts/test-env start`), the real `topup`
//! binary run as a child process on a generated config, a fake Discord HTTP
//! server that records when each review card arrives (and can answer 429 or
//! 500 on demand), generated slip mails, IMAP APPEND and read-back, and
//! read-only queries on the daemon's database.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde_json::json;
use tokio::net::TcpStream;

/// The password of every test mailbox.
pub const PASSWORD: &str = "secret";

/// Where the test mail servers are (`<statedir>/env`, written by `scripts/test-env start`).
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// Plain IMAP port of the test Dovecot.
    pub imap_port: u16,
    /// Plain SMTP port of the test OpenSMTPD.
    pub smtp_port: u16,
    /// `scripts/test-env` itself (for restart-imap, stop-smtp, start-smtp).
    pub script: String,
}

impl TestEnv {
    /// Reads the env file of `scripts/test-env start`.
    ///
    /// # Errors
    /// The file is missing or lacks a variable.
    pub fn load() -> anyhow::Result<TestEnv> {
        let dir =
            std::env::var("TOPUP_TEST_ENV_DIR").unwrap_or_else(|_| "/tmp/topup-test-env".into());
        let path = format!("{dir}/env");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("Cannot read {path}: run scripts/test-env start"))?;
        let vars: HashMap<String, String> = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.strip_prefix("export ")?.split_once('=')?;
                Some((k.to_string(), v.trim_matches('"').to_string()))
            })
            .collect();
        let get = |k: &str| {
            vars.get(k)
                .cloned()
                .with_context(|| format!("{k} missing from {path}"))
        };
        Ok(TestEnv {
            imap_port: get("TOPUP_TEST_IMAP_PORT")?.parse()?,
            smtp_port: get("TOPUP_TEST_SMTP_PORT")?.parse()?,
            script: get("TOPUP_TEST_ENV_SCRIPT")?,
        })
    }

    /// Runs `scripts/test-env <cmd>` and waits for it.
    ///
    /// # Errors
    /// The script failed.
    pub async fn run(&self, cmd: &str) -> anyhow::Result<()> {
        let status = tokio::process::Command::new(&self.script)
            .arg(cmd)
            .status()
            .await
            .with_context(|| format!("Cannot run {}", self.script))?;
        if !status.success() {
            bail!("{} {cmd} failed: {status}", self.script);
        }
        Ok(())
    }
}

/// The scale knob: `BENCH_SCALE` (default 1.0); `n` scaled, at least `min`.
pub fn scaled(n: usize, min: usize) -> usize {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * scale).round() as usize).max(min)
}

/// The `topup` binary to run: `TOPUP_BIN`, else the release build in `CARGO_TARGET_DIR`.
pub fn topup_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TOPUP_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    PathBuf::from(target).join("release").join("topup")
}

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A fresh, empty database: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database(dir: &Path, postgres: bool) -> anyhow::Result<String> {
    if !postgres {
        return Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join("topup.db").display()
        ));
    }
    let admin = "postgres://postgres@127.0.0.1:5432/postgres";
    let name = format!("topup_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(admin)
        .await
        .context("PostgreSQL must answer on 127.0.0.1:5432")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
}

/// Drops the PostgreSQL databases this harness made (`topup_bench_*`) except `keep`.
pub async fn drop_bench_databases() {
    sqlx::any::install_default_drivers();
    let Ok(pool) = sqlx::AnyPool::connect("postgres://postgres@127.0.0.1:5432/postgres").await
    else {
        return;
    };
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'topup_bench_%'")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    for (n,) in names {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {n} WITH (FORCE)"
        )))
        .execute(&pool)
        .await;
    }
    pool.close().await;
}

/// What the daemon's config file says.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Data folder.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: String,
    /// Web port.
    pub web_port: u16,
    /// IMAP user whose INBOX is watched; `None`: the Maildir.
    pub imap_user: Option<String>,
    /// Send through the test SMTP server (else `.eml` files).
    pub smtp: bool,
    /// Base URL of the fake Discord (review cards), if any.
    pub discord: Option<String>,
}

/// Staff channel of the fake Discord.
pub const STAFF_CHANNEL: u64 = 900_000_000_000_000_001;

impl DaemonConfig {
    /// The TOML text.
    pub fn toml(&self, env: &TestEnv) -> String {
        let mut t = format!(
            "data_dir = {:?}\n\n[database]\nurl = {:?}\nmax_connections = 8\n\n\
             [web]\nlisten = \"127.0.0.1:{}\"\n\n\
             [desk]\npublic_url = \"http://127.0.0.1:{}\"\n\n\
             [mail]\nfrom_address = \"topup@desk.example.test\"\n\n\
             [outbox]\nbase_backoff_secs = 1\nmax_backoff_secs = 4\npoll_secs = 1\nmax_attempts = 1000\n\n",
            self.data_dir.display().to_string(),
            self.database_url,
            self.web_port,
            self.web_port
        );
        if let Some(user) = &self.imap_user {
            t.push_str(&format!(
                "[mail.imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = {user:?}\n\
                 password = \"{PASSWORD}\"\nmailbox = \"INBOX\"\nidle_secs = 300\ncommand_timeout_secs = 20\n\n",
                env.imap_port
            ));
        }
        if self.smtp {
            t.push_str(&format!(
                "[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 10\n\n",
                env.smtp_port
            ));
        }
        if let Some(base) = &self.discord {
            t.push_str(&format!(
                "[discord]\ntoken = \"bench-token\"\napplication_id = 1\nstaff_channel_id = {STAFF_CHANNEL}\n\
                 staff_user_ids = [800000000000000001]\napi_base = {base:?}\n\n"
            ));
        }
        t
    }

    /// Writes the config to `<data_dir>/topup.toml` and returns its path.
    ///
    /// # Errors
    /// The folder cannot be written.
    pub fn write(&self, env: &TestEnv) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.data_dir)?;
        let path = self.data_dir.join("topup.toml");
        std::fs::write(&path, self.toml(env))?;
        Ok(path)
    }

    /// Opens the store the daemon will use (migrated), for setup and checks.
    ///
    /// # Errors
    /// The database cannot be opened.
    pub async fn store(&self) -> anyhow::Result<topup::store::Store> {
        if self.database_url.starts_with("sqlite:") {
            std::fs::create_dir_all(&self.data_dir)?;
        }
        let store = topup::store::Store::connect(&self.database_url, 4).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// The real daemon, `topup --config FILE run`, as a child process.
#[derive(Debug)]
pub struct Daemon {
    child: tokio::process::Child,
    /// Its process id.
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub web: String,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl Daemon {
    /// What the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts the daemon on `cfg` (written to its data folder), logging to `<data_dir>/daemon.log`.
    ///
    /// # Errors
    /// The binary cannot be started.
    pub async fn start(cfg: &DaemonConfig, env: &TestEnv) -> anyhow::Result<Daemon> {
        let config = cfg.write(env)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(cfg.data_dir.join("daemon.log"))?;
        let bin = topup_bin();
        let child = tokio::process::Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("Cannot start {} (scripts/bench builds it)", bin.display()))?;
        let pid = child.id().context("the daemon has no pid")?;
        Ok(Daemon {
            child,
            pid,
            web: format!("http://127.0.0.1:{}", cfg.web_port),
            log: cfg.data_dir.join("daemon.log"),
        })
    }

    /// Waits until `/healthz` answers (the web server is up), at most `secs`.
    ///
    /// # Errors
    /// It did not come up, or exited.
    pub async fn wait_web(&mut self, secs: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let addr = self.web.trim_start_matches("http://").to_string();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the daemon exited at start: {status}");
            }
            if TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the daemon's web server did not come up within {secs} s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `(VmRSS, VmHWM)` in MB from `/proc/PID/status`.
    pub fn rss_mb(&self) -> (f64, f64) {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// SIGTERM (what an operator's stop does), then wait at most 45 s, then SIGKILL.
    pub async fn stop(mut self) {
        let _ = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(45), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("the daemon ignored SIGTERM for 45 s; killing it");
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }

    /// True while it runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

// ---------------------------------------------------------------------------------------
// Fake Discord

/// One review-card POST the fake Discord saw.
#[derive(Debug, Clone)]
pub struct CardPost {
    /// When it arrived.
    pub at: Instant,
    /// The order number in the card, if any.
    pub number: Option<String>,
    /// What the fake answered.
    pub status: u16,
}

/// How the fake Discord answers card posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscordMode {
    /// 200 with a message.
    Ok = 0,
    /// 429 rate limited.
    RateLimited = 1,
    /// 500.
    Broken = 2,
}

#[derive(Debug, Default)]
struct DiscordState {
    posts: Mutex<Vec<CardPost>>,
    mode: AtomicU8,
    next_id: AtomicU64,
    bell: tokio::sync::Notify,
}

/// A fake Discord REST API on loopback (`POST /api/v10/channels/{id}/messages`).
#[derive(Debug, Clone)]
pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT`: the daemon's `discord.api_base`.
    pub base: String,
    state: Arc<DiscordState>,
}

impl FakeDiscord {
    /// Starts the server in a task.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start() -> anyhow::Result<FakeDiscord> {
        let state = Arc::new(DiscordState {
            next_id: AtomicU64::new(1_000_000_000_000_000_000),
            ..DiscordState::default()
        });
        let app = Router::new()
            .route(
                "/api/v10/channels/{channel}/messages",
                axum::routing::post(post_message),
            )
            .fallback(other)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake Discord stopped: {e}");
            }
        });
        Ok(FakeDiscord { base, state })
    }

    /// Sets how card posts are answered from now on.
    pub fn set_mode(&self, mode: DiscordMode) {
        self.state.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Every post so far.
    pub fn posts(&self) -> Vec<CardPost> {
        self.state
            .posts
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Number of posts so far.
    pub fn count(&self) -> usize {
        self.state.posts.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Waits until more than `seen` posts arrived, at most `limit`; returns the new ones.
    pub async fn wait_beyond(&self, seen: usize, limit: Duration) -> Vec<CardPost> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.state.bell.notified();
            let posts = self.posts();
            if posts.len() > seen {
                return posts[seen..].to_vec();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Successful (2xx-answered) card posts per order number.
    pub fn accepted_per_order(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for p in self.posts() {
            if p.status < 300
                && let Some(n) = p.number
            {
                *m.entry(n).or_insert(0) += 1;
            }
        }
        m
    }
}

static ORDER_NUMBER: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"TU-\d{8}-\d{4,}").expect("valid regex"));

async fn post_message(State(state): State<Arc<DiscordState>>, body: Bytes) -> Response {
    let at = Instant::now();
    let number = ORDER_NUMBER
        .find(&String::from_utf8_lossy(&body))
        .map(|m| m.as_str().to_string());
    let mode = state.mode.load(Ordering::SeqCst);
    let (status, answer) = match mode {
        1 => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false, "code": 0}),
        ),
        2 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "500: Internal Server Error", "code": 0}),
        ),
        _ => {
            let id = state.next_id.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, message_json(id))
        }
    };
    if let Ok(mut posts) = state.posts.lock() {
        posts.push(CardPost {
            at,
            number,
            status: status.as_u16(),
        });
    }
    state.bell.notify_waiters();
    (status, axum::Json(answer)).into_response()
}

/// Edits and anything else: answered with a message, never recorded as a card.
async fn other(State(state): State<Arc<DiscordState>>) -> Response {
    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, axum::Json(message_json(id))).into_response()
}

fn message_json(id: u64) -> serde_json::Value {
    json!({
        "id": id.to_string(),
        "channel_id": STAFF_CHANNEL.to_string(),
        "author": {"id": "700000000000000001", "username": "topup", "discriminator": "0",
                   "global_name": "topup", "avatar": null, "bot": true},
        "content": "",
        "timestamp": "2026-11-25T03:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "components": []
    })
}

// ---------------------------------------------------------------------------------------
// Mail

/// `n` bytes that look like a PNG file and differ for each `seed` (so each slip has its own hash).
pub fn fake_png(seed: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// A phone-style slip mail: Indonesian text naming the amount, and the image attached.
pub fn slip_mail(from: &str, message_id: &str, rupiah: u64, image: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(image);
    let wrapped = b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n");
    let amount = rupiah_text(rupiah);
    format!(
        "From: Budi Santoso <{from}>\r\n\
         To: Top-up Desk <topup@desk.example.test>\r\n\
         Subject: Bukti transfer Rp {amount}\r\n\
         Date: Wed, 25 Nov 2026 10:00:00 +0700\r\n\
         Message-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Selamat pagi,\r\n\r\nBerikut bukti transfer Rp {amount} untuk top up saldo.\r\n\r\nTerima kasih,\r\nBudi\r\n\
         --b1\r\n\
         Content-Type: image/png; name=\"bukti.png\"\r\n\
         Content-Disposition: attachment; filename=\"bukti.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {wrapped}\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

/// `1.500.000` for 1500000.
pub fn rupiah_text(rupiah: u64) -> String {
    let digits = rupiah.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// A logged-in IMAP session on the test Dovecot.
pub type Session = async_imap::Session<TcpStream>;

/// Logs in as `user` (any name; the password is the test one).
///
/// # Errors
/// Dovecot cannot be reached or refuses.
pub async fn imap_login(env: &TestEnv, user: &str) -> anyhow::Result<Session> {
    let tcp = TcpStream::connect(("127.0.0.1", env.imap_port))
        .await
        .context("IMAP is not reachable: run scripts/test-env start")?;
    tcp.set_nodelay(true)?;
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .context("IMAP greeting")?
        .context("no IMAP greeting")?;
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| anyhow::Error::new(e))
        .context("IMAP login")
}

/// APPENDs each message to `user`'s INBOX over one connection, one command after another.
///
/// # Errors
/// IMAP failed.
pub async fn append_all(env: &TestEnv, user: &str, mails: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut s = imap_login(env, user).await?;
    for m in mails {
        s.append("INBOX", None, None, m).await.context("APPEND")?;
    }
    let _ = s.logout().await;
    Ok(())
}

/// APPENDs one message, retrying on a new connection for up to 30 s (Dovecot may be restarting).
///
/// # Errors
/// It never worked.
pub async fn append_retrying(env: &TestEnv, user: &str, mail: &[u8]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = async {
            let mut s = imap_login(env, user).await?;
            s.append("INBOX", None, None, mail).await?;
            let _ = s.logout().await;
            anyhow::Ok(())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                eprintln!("APPEND failed, retrying: {e:#}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Message-IDs of every message in `user`'s INBOX (one entry per copy), without marking them read.
///
/// # Errors
/// IMAP failed.
pub async fn inbox_message_ids(env: &TestEnv, user: &str) -> anyhow::Result<Vec<String>> {
    let mut s = imap_login(env, user).await?;
    let mailbox = s.examine("INBOX").await?;
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> = s
            .fetch("1:*", "(BODY.PEEK[HEADER])")
            .await?
            .try_collect()
            .await?;
        // Unsolicited FETCH responses (flag changes by another session) carry no header.
        for f in fetches.iter().filter(|f| f.header().is_some()) {
            let text =
                String::from_utf8_lossy(f.header().unwrap_or_default()).replace("\r\n ", " ");
            let id = text
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("message-id")
                        .then(|| v.trim().trim_matches(['<', '>']).to_string())
                })
                .unwrap_or_default();
            out.push(id);
        }
    }
    let _ = s.logout().await;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Setup and checks on the daemon's database

/// Adds `n` customer accounts (one main user each, `cust<i>-<tag>@customer.example.test`);
/// returns their addresses.
///
/// # Errors
/// The store failed.
pub async fn add_customers(
    store: &topup::store::Store,
    tag: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = store.begin_write().await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("cust{i}-{tag}@customer.example.test");
        topup::store::accounts::add_account(
            &mut tx,
            &format!("PT Pelanggan {i} {tag}"),
            &email,
            topup::domain::Lang::Id,
            now,
        )
        .await?;
        out.push(email);
    }
    tx.commit().await?;
    Ok(out)
}

/// One `SELECT COUNT(*) ...` (or any single integer).
///
/// # Errors
/// The query failed.
pub async fn count(store: &topup::store::Store, sql: &str) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await?;
    Ok(n)
}

/// Per-message facts for the exactly-once checks.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Messages sent.
    pub sent: usize,
    /// Sent messages with an inbound record and an order.
    pub recorded: usize,
    /// Sent messages with no order.
    pub lost: usize,
    /// Orders beyond one per message.
    pub duplicate_orders: usize,
}

/// Checks that each Message-ID in `sent` has exactly one inbound record with an order.
///
/// # Errors
/// The store failed.
pub async fn tally_orders(store: &topup::store::Store, sent: &[String]) -> anyhow::Result<Tally> {
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT k.key, m.order_id FROM inbound_keys k JOIN inbound_messages m ON m.id = k.inbound_id \
         WHERE k.key LIKE 'msgid:%'",
    )
    .fetch_all(store.pool())
    .await?;
    let mut orders_by_msg: HashMap<String, Vec<i64>> = HashMap::new();
    for (key, order) in rows {
        let id = key
            .trim_start_matches("msgid:")
            .trim_matches(['<', '>'])
            .to_string();
        let entry = orders_by_msg.entry(id).or_default();
        if let Some(o) = order {
            entry.push(o);
        }
    }
    let mut t = Tally {
        sent: sent.len(),
        ..Tally::default()
    };
    for id in sent {
        match orders_by_msg.get(id.as_str()) {
            Some(orders) if !orders.is_empty() => {
                t.recorded += 1;
                t.duplicate_orders += orders.len() - 1;
            }
            _ => t.lost += 1,
        }
    }
    // Orders made from the same customer mail by any other path (a second inbound row
    // under another key would be a duplicate too).
    let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders")
        .fetch_one(store.pool())
        .await?;
    let extra = usize::try_from(orders)
        .unwrap_or(0)
        .saturating_sub(t.recorded);
    t.duplicate_orders = t.duplicate_orders.max(extra);
    Ok(t)
}

/// Credits beyond one per order, and paid orders whose ledger does not match.
///
/// # Errors
/// The store failed.
pub async fn double_credits(store: &topup::store::Store) -> anyhow::Result<usize> {
    let (extra_rows,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(n - 1), 0) AS BIGINT) FROM \
         (SELECT COUNT(*) AS n FROM ledger GROUP BY order_id) t",
    )
    .fetch_one(store.pool())
    .await?;
    let (mismatch,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM accounts a WHERE \
         (SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM ledger l WHERE l.account_id = a.id) <> \
         (SELECT CAST(COALESCE(SUM(COALESCE(paid_minor, amount_minor)), 0) AS BIGINT) FROM orders o \
          WHERE o.account_id = a.id AND o.status = 'paid')",
    )
    .fetch_one(store.pool())
    .await?;
    Ok(usize::try_from(extra_rows + mismatch).unwrap_or(usize::MAX))
}

/// The Message-IDs of queued customer emails per order (`outbox` rows of kind `email`).
///
/// # Errors
/// The store failed.
pub async fn queued_emails(
    store: &topup::store::Store,
) -> anyhow::Result<Vec<(Option<i64>, String, String)>> {
    let rows: Vec<(Option<i64>, String, String)> =
        sqlx::query_as("SELECT order_id, recipient, payload FROM outbox WHERE kind = 'email'")
            .fetch_all(store.pool())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(order, to, payload)| {
            let id = serde_json::from_str::<serde_json::Value>(&payload)
                .ok()
                .and_then(|v| find_message_id(&v))
                .unwrap_or_default();
            (order, to, id)
        })
        .collect())
}

fn find_message_id(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::String(s)) = m.get("message_id") {
                return Some(s.trim_matches(['<', '>']).to_string());
            }
            m.values().find_map(find_message_id)
        }
        _ => None,
    }
}

/// Polls `check` every `every` until it returns true or `secs` pass; returns whether it held.
pub async fn wait_until<F, Fut>(secs: u64, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// Percentile (0..=100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints one `{"name","value","unit"}` line.
pub fn figure(name: &str, value: f64, unit: &str) {
    let v = (value * 100.0).round() / 100.0;
    println!("{}", json!({"name": name, "value": v, "unit": unit}));
}
