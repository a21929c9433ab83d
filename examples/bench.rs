//! The benchmarks behind `scripts/bench`: the release `topup` binary run as a
//! child process against the loopback Dovecot (`scripts/test-env start`), a
//! fake Discord that timestamps review cards, SQLite and PostgreSQL. Prints one
//! JSON object per line, `{"name","value","unit"}`; progress goes to stderr.
//!
//! Figures, in the order they are measured:
//! - `parse_msgs_per_s`: `topup parse` over a folder of generated messages
//!   (half slip mails with a 30 KB image, half plain requests), process start included;
//! - `receipt_pdf_ms`, `receipt_pdf_bytes`: `topup::render::receipt::render_receipt`, median;
//! - `slip_read_image_p50_ms`, `slip_read_image_p99_ms`, `slip_read_pdf_p50_ms`,
//!   `slip_read_pdf_p99_ms`: `topup slip read FILE` (one process per slip, start
//!   included) on the slips `examples/slipgen` draws: app screenshots, phone photos and
//!   half-size forwards of several banks, and PDFs with and without a text layer;
//! - `rss_idle_mb`: VmRSS of the daemon connected to IMAP and IDLE, nothing to do yet;
//! - `e2e_latency_p50_ms`, `e2e_latency_p99_ms`: from just before the APPEND of a slip
//!   mail to the idle daemon's mailbox until the review card's POST reaches the fake
//!   Discord, one message at a time, with slip reading on: each mail carries a real
//!   slipgen screenshot (made unique by trailing bytes), read by Tesseract after
//!   the card is posted while the next mails arrive;
//! - `status_page_req_per_s_sqlite`, `status_page_req_per_s_postgres`: `wrk` against one
//!   order's status page `/o/{token}`;
//! - `raw_fetch_msgs_per_s`: a bare async-imap client fetching the backlog mailbox
//!   (`UID FETCH` of `BODY.PEEK[]` in batches of 50, as the daemon does);
//! - `backlog_msgs_per_s`, `rss_peak_backlog_mb`: the daemon started on that mailbox,
//!   until every mail is an order with outbox rows; VmHWM at the end.
//!
//! `BENCH_SCALE` (default 1) scales every count, e.g. 0.1 for a quick run.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::TryStreamExt;
use rand::Rng;
use support::*;

/// Size of each slip image.
const IMAGE_BYTES: usize = 30 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    topup::app::install_crypto_provider();
    let env = TestEnv::load()?;
    let work =
        PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp/topup-bench".into()));
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("Cannot clear {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    eprintln!("bench: work folder {}", work.display());
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name));

    if wanted("parse") {
        parse_bench(&work.join("parse")).await?;
    }
    if wanted("receipt") {
        receipt_bench()?;
    }
    let mut sample_slip = None;
    if wanted("slips") {
        sample_slip = slip_bench(&work.join("slips")).await?;
    }
    if wanted("latency") {
        idle_baseline(&env).await?;
        latency_bench(&env, &work.join("latency"), sample_slip.as_deref()).await?;
    }
    if wanted("status") {
        status_bench(&env, &work.join("status-sqlite"), false).await?;
        status_bench(&env, &work.join("status-postgres"), true).await?;
    }
    if wanted("backlog") {
        backlog_bench(&env, &work.join("backlog-sqlite"), false).await?;
        backlog_bench(&env, &work.join("backlog-postgres"), true).await?;
    }
    drop_bench_databases().await;
    Ok(())
}

/// `topup parse` over generated messages.
async fn parse_bench(dir: &Path) -> anyhow::Result<()> {
    let n = scaled(2000, 20);
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let raw = if i % 2 == 0 {
            slip_mail(
                &format!("cust{i}@customer.example.test"),
                &format!("parse-{i}@customer.example.test"),
                1_000_000 + (i as u64) * 1000,
                &fake_png(i as u64, IMAGE_BYTES),
            )
        } else {
            format!(
                "From: <cust{i}@customer.example.test>\r\nTo: <topup@desk.example.test>\r\n\
                 Subject: Top up saldo\r\nMessage-ID: <parse-{i}@customer.example.test>\r\n\
                 Content-Type: text/plain; charset=UTF-8\r\n\r\n\
                 Selamat siang,\r\n\r\nMohon top up saldo Rp {} untuk akun kami.\r\n\r\n\
                 Terima kasih,\r\nSari\r\n\r\n> Pada 24 Nov 2026, Top-up Desk menulis:\r\n> No. rekening 123-456-7890\r\n",
                rupiah_text(2_500_000 + (i as u64) * 500)
            )
            .into_bytes()
        };
        let path = dir.join(format!("msg-{i:05}.eml"));
        std::fs::write(&path, raw)?;
        files.push(path);
    }
    let start = Instant::now();
    let out = tokio::process::Command::new(topup_bin())
        .arg("parse")
        .args(&files)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("cannot run topup parse")?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("topup parse failed: {}", out.status);
    }
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    let slips = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"intent\":\"slip\""))
        .count();
    eprintln!("bench: parse: {lines} results ({slips} slips) for {n} files in {secs:.2} s");
    if lines != n {
        bail!("topup parse printed {lines} lines for {n} files");
    }
    figure("parse_msgs_per_s", n as f64 / secs, "msg/s");
    Ok(())
}

/// The PDF receipt, rendered in process.
fn receipt_bench() -> anyhow::Result<()> {
    use topup::domain::Lang;
    use topup::domain::money::Money;
    use topup::render::receipt::{ReceiptData, render_receipt};
    let data = ReceiptData {
        lang: Lang::Id,
        receipt_number: "KW-TU-20261125-0001".into(),
        seller_name: "Top-up Desk".into(),
        seller_address: "Jl. Jenderal Sudirman Kav. 52-53\nJakarta Selatan 12190".into(),
        account_name: "PT Maju Jaya Sejahtera".into(),
        order_number: "TU-20261125-0001".into(),
        order_date: "25 November 2026 10:00 WIB".into(),
        paid_date: "25 November 2026 14:30 WIB".into(),
        amount: Money::from_minor(145_000_000),
        payment_method: "Transfer bank (BCA)".into(),
        staff_reference: "rina".into(),
        new_balance: Money::from_minor(1_245_000_000),
        issued_at: 1_764_400_000_000,
    };
    let n = scaled(50, 5);
    let mut bytes = render_receipt(&data)?.len();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        bytes = render_receipt(&data)?.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    figure("receipt_pdf_ms", percentile(&times, 50.0), "ms");
    figure("receipt_pdf_bytes", bytes as f64, "bytes");
    Ok(())
}

async fn wait_imap_idle(store: &topup::store::Store) -> anyhow::Result<()> {
    let ok = wait_until(60, Duration::from_millis(100), || async {
        count(store, "SELECT COUNT(*) FROM imap_cursors")
            .await
            .unwrap_or(0)
            > 0
    })
    .await;
    if !ok {
        bail!("the daemon did not finish its first IMAP catch-up within 60 s");
    }
    Ok(())
}

/// The floor under the end-to-end latency: how long Dovecot takes to tell a bare IDLE
/// client about an APPENDed message (`imap_idle_push_p50_ms`).
async fn idle_baseline(env: &TestEnv) -> anyhow::Result<()> {
    let n = scaled(20, 5);
    let mailbox = format!("bench-idle-{}@example.test", uuid::Uuid::new_v4().simple());
    let mut appender = imap_login(env, &mailbox).await?;
    let mut watcher = imap_login(env, &mailbox).await?;
    watcher.select("INBOX").await?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let mut idle = watcher.idle();
        idle.init().await?;
        let raw = slip_mail(
            "idle@customer.example.test",
            &format!("idle-{i}@customer.example.test"),
            1_000_000,
            &fake_png(i as u64, IMAGE_BYTES),
        );
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(30));
        let t0 = Instant::now();
        let (woke, appended) = tokio::join!(wait, appender.append("INBOX", None, None, &raw));
        appended?;
        let took = t0.elapsed().as_secs_f64() * 1000.0;
        match woke? {
            async_imap::extensions::idle::IdleResponse::NewData(_) => times.push(took),
            other => bail!("IDLE ended without news: {other:?}"),
        }
        watcher = idle.done().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = appender.logout().await;
    let _ = watcher.logout().await;
    times.sort_by(f64::total_cmp);
    figure("imap_idle_push_p50_ms", percentile(&times, 50.0), "ms");
    Ok(())
}

/// Slip mail to an idle daemon → review card at the fake Discord, one at a time.
/// `topup slip read` on generated slips, images and PDFs apart; returns a
/// clean screenshot for the latency run.
async fn slip_bench(dir: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let Ok(slipgen) = std::env::var("SLIPGEN_BIN") else {
        eprintln!("bench: SLIPGEN_BIN is not set (scripts/bench sets it): no slip figures");
        return Ok(None);
    };
    let per_layout = scaled(2, 1).to_string();
    let out = tokio::process::Command::new(&slipgen)
        .arg(dir)
        .args([per_layout.as_str(), "20261130"])
        .output()
        .await
        .context("cannot run slipgen")?;
    if !out.status.success() {
        bail!("slipgen failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut files = Vec::new();
    for set in ["dev", "heldout"] {
        let manifest = std::fs::read_to_string(dir.join(set).join("manifest.jsonl"))?;
        for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)?;
            files.push(dir.join(set).join(v["file"].as_str().unwrap_or_default()));
        }
    }
    let (mut images, mut pdfs) = (Vec::new(), Vec::new());
    let mut sample = None;
    for f in &files {
        let t0 = Instant::now();
        let read = tokio::process::Command::new(topup_bin())
            .args(["slip", "read"])
            .arg(f)
            .output()
            .await
            .context("cannot run topup slip read")?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if !read.status.success() {
            bail!("topup slip read {} failed", f.display());
        }
        let name = f.to_string_lossy();
        if name.ends_with(".pdf") {
            pdfs.push(ms);
        } else {
            images.push(ms);
            if sample.is_none() && name.ends_with("-clean.png") {
                sample = Some(std::fs::read(f)?);
            }
        }
    }
    images.sort_by(f64::total_cmp);
    pdfs.sort_by(f64::total_cmp);
    eprintln!(
        "bench: slip read: {} images, {} PDFs",
        images.len(),
        pdfs.len()
    );
    for (kind, times) in [("image", &images), ("pdf", &pdfs)] {
        if !times.is_empty() {
            figure(
                &format!("slip_read_{kind}_p50_ms"),
                percentile(times, 50.0),
                "ms",
            );
            figure(
                &format!("slip_read_{kind}_p99_ms"),
                percentile(times, 99.0),
                "ms",
            );
        }
    }
    Ok(sample)
}

async fn latency_bench(env: &TestEnv, dir: &Path, slip: Option<&[u8]>) -> anyhow::Result<()> {
    let n = scaled(200, 20);
    let discord = FakeDiscord::start().await?;
    let mailbox = format!("bench-lat-{}@example.test", uuid::Uuid::new_v4().simple());
    let cfg = DaemonConfig {
        data_dir: dir.to_path_buf(),
        database_url: fresh_database(dir, false).await?,
        web_port: free_port()?,
        imap_user: Some(mailbox.clone()),
        smtp: false,
        discord: Some(discord.base.clone()),
    };
    let store = cfg.store().await?;
    let customers = add_customers(&store, "lat", n).await?;
    let mut daemon = Daemon::start(&cfg, env).await?;
    daemon.wait_web(30).await?;
    wait_imap_idle(&store).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle, _) = daemon.rss_mb();
    figure("rss_idle_mb", idle, "MB");

    let mut session = imap_login(env, &mailbox).await?;
    let mut latencies = Vec::with_capacity(n);
    let mut rng = rand::thread_rng();
    for (i, customer) in customers.iter().enumerate() {
        let raw = slip_mail(
            customer,
            &format!(
                "lat-{i}-{}@customer.example.test",
                uuid::Uuid::new_v4().simple()
            ),
            1_000_000 + (i as u64) * 1000,
            &match slip {
                // The same picture, a new file: bytes after IEND are ignored by decoders.
                Some(png) => [png, format!("bench-{i}").as_bytes()].concat(),
                None => fake_png(10_000 + i as u64, IMAGE_BYTES),
            },
        );
        let seen = discord.count();
        let t0 = Instant::now();
        session
            .append("INBOX", None, None, &raw)
            .await
            .context("APPEND")?;
        let posts = discord.wait_beyond(seen, Duration::from_secs(30)).await;
        let Some(first) = posts.first() else {
            bail!(
                "message {i}: no review card within 30 s (see {}/daemon.log)",
                dir.display()
            );
        };
        latencies.push(first.at.duration_since(t0).as_secs_f64() * 1000.0);
        // Let the daemon go back to IDLE before the next one.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..400))).await;
    }
    let _ = session.logout().await;
    latencies.sort_by(f64::total_cmp);
    eprintln!(
        "bench: latency over {n} messages: min {:.0} ms, max {:.0} ms, mean {:.0} ms",
        latencies[0],
        latencies[latencies.len() - 1],
        latencies.iter().sum::<f64>() / latencies.len() as f64
    );
    figure("e2e_latency_p50_ms", percentile(&latencies, 50.0), "ms");
    figure("e2e_latency_p99_ms", percentile(&latencies, 99.0), "ms");
    let (rss, hwm) = daemon.rss_mb();
    eprintln!("bench: after the latency run: VmRSS {rss:.1} MB, VmHWM {hwm:.1} MB");
    let orders = count(&store, "SELECT COUNT(*) FROM orders").await?;
    if orders != n as i64 {
        bail!("{n} slip mails made {orders} orders");
    }
    daemon.stop().await;
    store.close().await;
    Ok(())
}

/// `wrk` against one order's status page, on SQLite or PostgreSQL.
async fn status_bench(env: &TestEnv, dir: &Path, postgres: bool) -> anyhow::Result<()> {
    let which = if postgres { "postgres" } else { "sqlite" };
    let discord = FakeDiscord::start().await?;
    let mailbox = format!(
        "bench-status-{}@example.test",
        uuid::Uuid::new_v4().simple()
    );
    let cfg = DaemonConfig {
        data_dir: dir.to_path_buf(),
        database_url: fresh_database(dir, postgres).await?,
        web_port: free_port()?,
        imap_user: Some(mailbox.clone()),
        smtp: false,
        discord: Some(discord.base.clone()),
    };
    let store = cfg.store().await?;
    let customers = add_customers(&store, "status", 5).await?;
    let mails: Vec<Vec<u8>> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            slip_mail(
                c,
                &format!(
                    "status-{i}-{}@customer.example.test",
                    uuid::Uuid::new_v4().simple()
                ),
                1_500_000,
                &fake_png(20_000 + i as u64, IMAGE_BYTES),
            )
        })
        .collect();
    append_all(env, &mailbox, &mails).await?;
    let mut daemon = Daemon::start(&cfg, env).await?;
    daemon.wait_web(30).await?;
    if !wait_until(60, Duration::from_millis(100), || async {
        count(&store, "SELECT COUNT(*) FROM orders")
            .await
            .unwrap_or(0)
            >= 5
    })
    .await
    {
        bail!("the status-page daemon ({which}) made no orders");
    }
    let (token,): (String,) = sqlx::query_as("SELECT token FROM orders ORDER BY id LIMIT 1")
        .fetch_one(store.pool())
        .await?;
    let url = format!("{}/o/{token}", daemon.web);
    let page = reqwest::get(&url).await?;
    let status = page.status();
    let body = page.text().await?;
    if !status.is_success() || !body.contains("TU-") {
        bail!("{url} answered {status}; not an order page");
    }
    // The baseline of the same run, same server: /healthz (one database ping).
    let health = wrk(&format!("{}/healthz", daemon.web), which).await?;
    let rps = wrk(&url, which).await?;
    figure(&format!("healthz_req_per_s_{which}"), health, "req/s");
    figure(&format!("status_page_req_per_s_{which}"), rps, "req/s");
    figure(
        &format!("status_page_to_healthz_ratio_{which}"),
        rps / health,
        "ratio",
    );
    daemon.stop().await;
    store.close().await;
    Ok(())
}

/// Requests per second `wrk` reaches on `url` (2 threads, 32 connections).
async fn wrk(url: &str, which: &str) -> anyhow::Result<f64> {
    let secs = scaled(10, 3);
    let out = tokio::process::Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{secs}s"), url])
        .output()
        .await
        .context("cannot run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("bench: wrk on {url} ({which}):\n{text}");
    if text.contains("Non-2xx") {
        bail!("wrk saw error answers from {url}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("wrk printed no Requests/sec")
}

/// 10,000 slip mails waiting before the daemon starts; and a bare client fetching them.
async fn backlog_bench(env: &TestEnv, dir: &Path, postgres: bool) -> anyhow::Result<()> {
    let which = if postgres { "postgres" } else { "sqlite" };
    let n = scaled(10_000, 100);
    let discord = FakeDiscord::start().await?;
    let mailbox = format!(
        "bench-backlog-{}@example.test",
        uuid::Uuid::new_v4().simple()
    );
    let cfg = DaemonConfig {
        data_dir: dir.to_path_buf(),
        database_url: fresh_database(dir, postgres).await?,
        web_port: free_port()?,
        imap_user: Some(mailbox.clone()),
        smtp: false,
        discord: Some(discord.base.clone()),
    };
    let store = cfg.store().await?;
    // Five mails per customer: the loop guard (10 answers per sender per hour) stays out of it.
    let customers = add_customers(&store, "backlog", n.div_ceil(5)).await?;
    // What-if for BENCHMARKS.md: the index the loop guard's per-reply count needs
    // (without it every queued reply scans the whole outbox).
    let what_if = std::env::var("BENCH_RECIPIENT_INDEX").is_ok_and(|v| v == "1");
    if what_if {
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS bench_outbox_recipient ON outbox (recipient, created_at)",
        )
        .execute(store.pool())
        .await?;
        eprintln!("bench: backlog with an extra index outbox (recipient, created_at)");
    }
    let suffix = if what_if { "_with_recipient_index" } else { "" };

    let start = Instant::now();
    let mut session = imap_login(env, &mailbox).await?;
    for i in 0..n {
        let raw = slip_mail(
            &customers[i / 5],
            &format!(
                "backlog-{i}-{}@customer.example.test",
                uuid::Uuid::new_v4().simple()
            ),
            1_000_000 + (i as u64) * 100,
            &fake_png(100_000 + i as u64, IMAGE_BYTES),
        );
        session
            .append("INBOX", None, None, &raw)
            .await
            .context("APPEND")?;
        if (i + 1) % 1000 == 0 {
            eprintln!("bench: appended {} of {n}", i + 1);
        }
    }
    let _ = session.logout().await;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "bench: APPENDed {n} mails over one connection in {secs:.1} s ({:.0}/s)",
        n as f64 / secs
    );

    // The bare client: the same mailbox, the same batches, nothing done with the bytes.
    let start = Instant::now();
    let mut s = imap_login(env, &mailbox).await?;
    let selected = s.select("INBOX").await?;
    let mut uids: Vec<u32> = s.uid_search("ALL").await?.into_iter().collect();
    uids.sort_unstable();
    let mut fetched = 0usize;
    let mut bytes = 0usize;
    for chunk in uids.chunks(50) {
        let set = chunk
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let batch: Vec<_> = s
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        for f in &batch {
            if let Some(b) = f.body() {
                fetched += 1;
                bytes += b.len();
            }
        }
    }
    let _ = s.logout().await;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "bench: raw fetch: {fetched} of {} messages, {:.0} MB in {secs:.1} s",
        selected.exists,
        bytes as f64 / 1e6
    );
    if fetched != n {
        bail!("the raw client fetched {fetched} of {n} messages");
    }
    let raw_rate = n as f64 / secs;
    figure(&format!("raw_fetch_msgs_per_s_{which}"), raw_rate, "msg/s");

    let start = Instant::now();
    let mut daemon = Daemon::start(&cfg, env).await?;
    let mut last_report = Instant::now();
    let mut max_rss = 0f64;
    let done = loop {
        let orders = count(&store, "SELECT COUNT(*) FROM orders").await?;
        max_rss = max_rss.max(daemon.rss_mb().0);
        if orders >= n as i64 {
            break start.elapsed().as_secs_f64();
        }
        if !daemon.running() {
            bail!(
                "the daemon exited during the backlog (see {}/daemon.log)",
                dir.display()
            );
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "bench: backlog: {orders} of {n} orders after {:.0} s",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("the backlog was not done within an hour ({orders} of {n})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, hwm) = daemon.rss_mb();
    let with_outbox = count(
        &store,
        "SELECT COUNT(*) FROM orders o WHERE EXISTS (SELECT 1 FROM outbox x WHERE x.order_id = o.id)",
    )
    .await?;
    let ids: Vec<String> = {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT key FROM inbound_keys WHERE key LIKE 'msgid:%'")
                .fetch_all(store.pool())
                .await?;
        rows.into_iter()
            .map(|(k,)| {
                k.trim_start_matches("msgid:")
                    .trim_matches(['<', '>'])
                    .to_string()
            })
            .collect()
    };
    let tally = tally_orders(&store, &ids).await?;
    eprintln!(
        "bench: backlog: {n} orders in {done:.1} s; {with_outbox} with outbox rows; \
         duplicates {}; sampled max VmRSS {max_rss:.1} MB; cards posted so far {}",
        tally.duplicate_orders,
        discord.count()
    );
    if with_outbox != n as i64 || tally.duplicate_orders != 0 {
        bail!(
            "backlog: {with_outbox} of {n} orders have outbox rows, {} duplicates",
            tally.duplicate_orders
        );
    }
    figure(
        &format!("backlog_msgs_per_s_{which}{suffix}"),
        n as f64 / done,
        "msg/s",
    );
    figure(
        &format!("backlog_to_raw_fetch_ratio_{which}{suffix}"),
        n as f64 / done / raw_rate,
        "ratio",
    );
    figure(&format!("rss_peak_backlog_mb_{which}{suffix}"), hwm, "MB");
    daemon.stop().await;
    store.close().await;
    Ok(())
}
