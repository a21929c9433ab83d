//! The fault scenarios behind `scripts/faults`: the release `topup` binary
//! run as a child process against the loopback Dovecot/OpenSMTPD
//! (`scripts/test-env start`), PostgreSQL and a fake Discord, while things
//! break. Each scenario prints one JSON line
//! `{"scenario","sent","recorded","lost","duplicate_orders","duplicate_mails","double_credits",...}`
//! and the program exits non-zero if any scenario lost a message or credited
//! an order twice.
//!
//! - `kill20`: SIGKILL at 20 random moments while a 1,000-mail backlog drains
//!   (restarted each time), staff approving orders through `topup order approve`
//!   in the meantime (each approval run twice at once). Confirmations go out by
//!   SMTP and are counted in the customers' mailboxes, per Message-ID.
//! - `imap_restart`: `scripts/test-env restart-imap` while the daemon IDLEs, then new mail.
//! - `smtp_down`: `scripts/test-env stop-smtp`, mail arrives, the confirmations wait,
//!   `start-smtp`; every confirmation must arrive exactly once.
//! - `postgres_restart`: the daemon on PostgreSQL draining a backlog while
//!   `pg_ctlcluster ... restart` runs twice, with approvals in between.
//! - `discord_429_500`: the fake Discord answers 429, then 500, then works again;
//!   every review card must end up posted once.
//!
//! `BENCH_SCALE` scales the message counts (not the 20 kills); `FAULTS_ONLY=a,b` picks scenarios.

#[path = "support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use serde_json::json;
use support::*;

const IMAGE_BYTES: usize = 30 * 1024;

/// One scenario's result line.
#[derive(Debug, Default)]
struct Outcome {
    tally: Tally,
    duplicate_mails: usize,
    double_credits: usize,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Outcome {
    fn print(&self, scenario: &str) -> bool {
        let mut v = json!({
            "scenario": scenario,
            "sent": self.tally.sent,
            "recorded": self.tally.recorded,
            "lost": self.tally.lost,
            "duplicate_orders": self.tally.duplicate_orders,
            "duplicate_mails": self.duplicate_mails,
            "double_credits": self.double_credits,
        });
        if let Some(m) = v.as_object_mut() {
            for (k, x) in &self.extra {
                m.insert(k.clone(), x.clone());
            }
        }
        println!("{v}");
        let cards_once = self
            .extra
            .get("duplicate_cards")
            .and_then(serde_json::Value::as_u64)
            .is_none_or(|n| n == 0);
        self.tally.lost == 0
            && self.double_credits == 0
            && self.tally.duplicate_orders == 0
            && cards_once
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    topup::app::install_crypto_provider();
    let env = TestEnv::load()?;
    let work =
        PathBuf::from(std::env::var("FAULTS_DIR").unwrap_or_else(|_| "/tmp/topup-faults".into()));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    eprintln!("faults: work folder {}", work.display());
    let only: Option<Vec<String>> = std::env::var("FAULTS_ONLY")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name));
    let mut all_ok = true;
    let mut run = |name: &'static str, r: anyhow::Result<Outcome>| match r {
        Ok(o) => {
            if !o.print(name) {
                eprintln!("faults: {name}: FAILED (see the line above)");
                all_ok = false;
            }
        }
        Err(e) => {
            eprintln!("faults: {name}: could not run: {e:#}");
            println!("{}", json!({"scenario": name, "error": format!("{e:#}")}));
            all_ok = false;
        }
    };
    if wanted("kill20") {
        run("kill20", kill20(&env, &work.join("kill20")).await);
    }
    if wanted("imap_restart") {
        run(
            "imap_restart",
            imap_restart(&env, &work.join("imap-restart")).await,
        );
    }
    if wanted("smtp_down") {
        let r = smtp_down(&env, &work.join("smtp-down")).await;
        // Whatever happened, leave SMTP running for everyone else.
        let _ = env.run("start-smtp").await;
        run("smtp_down", r);
    }
    if wanted("postgres_restart") {
        run(
            "postgres_restart",
            postgres_restart(&env, &work.join("postgres-restart")).await,
        );
    }
    if wanted("poison") {
        run("poison", poison(&env, &work.join("poison")).await);
    }
    if wanted("discord_429_500") {
        run(
            "discord_429_500",
            discord_errors(&env, &work.join("discord")).await,
        );
    }
    drop_bench_databases().await;
    if !all_ok {
        bail!("some fault scenario lost messages, duplicated orders or double-credited");
    }
    Ok(())
}

/// `n` slip mails from `customers` (five each); returns (Message-IDs, raw mails).
fn slip_mails(tag: &str, customers: &[String], n: usize) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut ids = Vec::with_capacity(n);
    let mut mails = Vec::with_capacity(n);
    let run = uuid::Uuid::new_v4().simple().to_string();
    for i in 0..n {
        let id = format!("{tag}-{i}-{run}@customer.example.test");
        mails.push(slip_mail(
            &customers[i / 5 % customers.len()],
            &id,
            1_000_000 + (i as u64) * 1000,
            &fake_png(hash_seed(&id), IMAGE_BYTES),
        ));
        ids.push(id);
    }
    (ids, mails)
}

fn hash_seed(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A fresh setup: database, customers, staff member `rina`, a mailbox.
struct Setup {
    cfg: DaemonConfig,
    store: topup::store::Store,
    customers: Vec<String>,
    mailbox: String,
}

async fn setup(
    dir: &Path,
    tag: &str,
    customers: usize,
    postgres: bool,
    smtp: bool,
    discord: &FakeDiscord,
) -> anyhow::Result<Setup> {
    let mailbox = format!(
        "faults-{tag}-{}@example.test",
        uuid::Uuid::new_v4().simple()
    );
    let cfg = DaemonConfig {
        data_dir: dir.to_path_buf(),
        database_url: fresh_database(dir, postgres).await?,
        web_port: free_port()?,
        imap_user: Some(mailbox.clone()),
        smtp,
        discord: Some(discord.base.clone()),
    };
    let store = cfg.store().await?;
    let run_tag = format!("{tag}{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let customers = add_customers(&store, &run_tag, customers).await?;
    let mut tx = store.begin_write().await?;
    topup::store::accounts::add_staff(
        &mut tx,
        "rina",
        Some("rina@desk.example.test"),
        None,
        None,
        chrono::Utc::now().timestamp_millis(),
    )
    .await?;
    tx.commit().await?;
    Ok(Setup {
        cfg,
        store,
        customers,
        mailbox,
    })
}

/// Waits until every Message-ID in `ids` has its order; returns the tally.
async fn wait_recorded(
    store: &topup::store::Store,
    ids: &[String],
    secs: u64,
) -> anyhow::Result<Tally> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = tally_orders(store, ids).await;
        match t {
            Ok(t) if t.lost == 0 || Instant::now() > deadline => return Ok(t),
            Err(e) if Instant::now() > deadline => return Err(e),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Waits until no outbox row is pending (delivered or dead), at most `secs`.
async fn wait_outbox_drained(store: &topup::store::Store, secs: u64) -> bool {
    wait_until(secs, Duration::from_secs(1), || async {
        count(
            store,
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
        )
        .await
        .is_ok_and(|n| n == 0)
    })
    .await
}

/// Orders with more than one queued "submission received" email (a confirmation queued twice).
async fn queued_duplicates(store: &topup::store::Store) -> anyhow::Result<usize> {
    let rows: Vec<(Option<i64>, String)> =
        sqlx::query_as("SELECT order_id, payload FROM outbox WHERE kind = 'email'")
            .fetch_all(store.pool())
            .await?;
    let mut per_order: HashMap<i64, usize> = HashMap::new();
    for (order, payload) in rows {
        if let Some(o) = order
            && payload.contains("submission_received")
        {
            *per_order.entry(o).or_insert(0) += 1;
        }
    }
    Ok(per_order.values().map(|n| n - 1).sum())
}

/// Reads every customer's mailbox and checks each queued email arrived:
/// `(orders of sent mail with no delivered email, extra copies of delivered emails, delivered)`.
async fn delivered_mails(
    env: &TestEnv,
    store: &topup::store::Store,
    customers: &[String],
    sent_ids: &[String],
) -> anyhow::Result<(usize, usize, usize)> {
    let mut copies: HashMap<String, usize> = HashMap::new();
    for c in customers {
        for id in inbox_message_ids(env, c).await? {
            *copies.entry(id).or_insert(0) += 1;
        }
    }
    let queued = queued_emails(store).await?;
    let ours: HashSet<&str> = queued.iter().map(|(_, _, id)| id.as_str()).collect();
    let duplicates = copies
        .iter()
        .filter(|(id, _)| ours.contains(id.as_str()))
        .map(|(_, n)| n - 1)
        .sum();
    let delivered = copies
        .keys()
        .filter(|id| ours.contains(id.as_str()))
        .count();
    // The order of each sent message, and whether any email about it arrived.
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT k.key, m.order_id FROM inbound_keys k JOIN inbound_messages m ON m.id = k.inbound_id \
         WHERE k.key LIKE 'msgid:%'",
    )
    .fetch_all(store.pool())
    .await?;
    let order_of: HashMap<String, i64> = rows
        .into_iter()
        .filter_map(|(k, o)| {
            Some((
                k.trim_start_matches("msgid:")
                    .trim_matches(['<', '>'])
                    .to_string(),
                o?,
            ))
        })
        .collect();
    let mut confirmed: HashSet<i64> = HashSet::new();
    for (order, _, id) in &queued {
        if let Some(o) = order
            && copies.contains_key(id)
        {
            confirmed.insert(*o);
        }
    }
    let unconfirmed = sent_ids
        .iter()
        .filter(|id| {
            order_of
                .get(id.as_str())
                .is_none_or(|o| !confirmed.contains(o))
        })
        .count();
    Ok((unconfirmed, duplicates, delivered))
}

/// Approves up to `k` dealing orders, each with two `topup order approve` runs at once.
/// Returns (orders approved, orders where both runs reported success).
async fn approve_some(cfg: &DaemonConfig, store: &topup::store::Store, k: usize) -> (usize, usize) {
    let numbers: Vec<(String,)> =
        sqlx::query_as("SELECT number FROM orders WHERE status = 'dealing' ORDER BY id LIMIT $1")
            .bind(i64::try_from(k).unwrap_or(10))
            .fetch_all(store.pool())
            .await
            .unwrap_or_default();
    let config = cfg.data_dir.join("topup.toml");
    let mut approved = 0;
    let mut twice = 0;
    for (number,) in numbers {
        let run = || {
            tokio::process::Command::new(topup_bin())
                .arg("--config")
                .arg(&config)
                .args(["order", "approve", &number, "--staff", "rina"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
        };
        let (a, b) = tokio::join!(run(), run());
        let ok = [a, b]
            .into_iter()
            .filter(|s| s.as_ref().is_ok_and(std::process::ExitStatus::success))
            .count();
        if ok >= 1 {
            approved += 1;
        }
        if ok == 2 {
            eprintln!("faults: both approvals of {number} reported success");
            twice += 1;
        }
    }
    (approved, twice)
}

async fn kill20(env: &TestEnv, dir: &Path) -> anyhow::Result<Outcome> {
    let n = scaled(1000, 50);
    let discord = FakeDiscord::start().await?;
    let s = setup(dir, "kill", n.div_ceil(5), false, true, &discord).await?;
    let (ids, mails) = slip_mails("kill", &s.customers, n);
    append_all(env, &s.mailbox, &mails).await?;
    drop(mails);
    eprintln!("faults: kill20: {n} mails waiting");
    let mut rng = rand::thread_rng();
    let mut approved = 0;
    let mut twice = 0;
    let mut progress = Vec::new();
    for round in 0..20 {
        let mut daemon = Daemon::start(&s.cfg, env).await?;
        // Short lives, so the kills land while the 1,000 mails drain (about 250 per second
        // here), not after.
        let life = Duration::from_millis(rng.gen_range(200..800));
        if round % 4 == 3 {
            let ((a, t), ()) =
                tokio::join!(approve_some(&s.cfg, &s.store, 3), tokio::time::sleep(life));
            approved += a;
            twice += t;
        } else {
            tokio::time::sleep(life).await;
        }
        if !daemon.running() {
            bail!(
                "the daemon exited by itself in round {round} (see {}/daemon.log)",
                dir.display()
            );
        }
        daemon.kill().await;
        let t = tally_orders(&s.store, &ids).await?;
        progress.push(t.recorded);
        eprintln!(
            "faults: kill20: killed after {} ms, {} of {n} recorded",
            life.as_millis(),
            t.recorded
        );
    }
    let daemon = Daemon::start(&s.cfg, env).await?;
    let tally = wait_recorded(&s.store, &ids, 900).await?;
    let (a, t) = approve_some(&s.cfg, &s.store, 10).await;
    approved += a;
    twice += t;
    // Rows claimed by a killed daemon come back when their 5-minute lease ends.
    eprintln!(
        "faults: kill20: all recorded; waiting for the outbox (claims of killed daemons expire after 5 min)"
    );
    let drained = wait_outbox_drained(&s.store, 420).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // LMTP hand-over into Dovecot
    daemon.stop().await;
    let (unconfirmed, duplicate_mails, delivered) =
        delivered_mails(env, &s.store, &s.customers, &ids).await?;
    let double = double_credits(&s.store).await? + twice;
    let mut tally = tally;
    tally.lost += unconfirmed.saturating_sub(tally.lost);
    let mut extra = serde_json::Map::new();
    extra.insert("kills".into(), json!(20));
    extra.insert("recorded_after_each_kill".into(), json!(progress));
    extra.insert("approved".into(), json!(approved));
    extra.insert("unconfirmed".into(), json!(unconfirmed));
    extra.insert("mails_delivered".into(), json!(delivered));
    extra.insert("outbox_drained".into(), json!(drained));
    s.store.close().await;
    Ok(Outcome {
        tally,
        duplicate_mails,
        double_credits: double,
        extra,
    })
}

async fn imap_restart(env: &TestEnv, dir: &Path) -> anyhow::Result<Outcome> {
    let n = scaled(20, 5);
    let discord = FakeDiscord::start().await?;
    let s = setup(dir, "imaprestart", n.div_ceil(5), false, false, &discord).await?;
    let mut daemon = Daemon::start(&s.cfg, env).await?;
    daemon.wait_web(30).await?;
    if !wait_until(60, Duration::from_millis(100), || async {
        count(&s.store, "SELECT COUNT(*) FROM imap_cursors")
            .await
            .unwrap_or(0)
            > 0
    })
    .await
    {
        bail!("the daemon did not start watching the mailbox");
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // in IDLE now
    let restarted = Instant::now();
    env.run("restart-imap").await?;
    eprintln!(
        "faults: imap_restart: Dovecot restarted in {:.1} s",
        restarted.elapsed().as_secs_f64()
    );
    let (ids, mails) = slip_mails("imaprestart", &s.customers, n);
    let sent_at = Instant::now();
    for m in &mails {
        append_retrying(env, &s.mailbox, m).await?;
    }
    let tally = wait_recorded(&s.store, &ids, 120).await?;
    let took = sent_at.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let tally = tally_orders(&s.store, &ids).await.unwrap_or(tally);
    let duplicate_mails = queued_duplicates(&s.store).await?;
    let double_credits = double_credits(&s.store).await?;
    daemon.stop().await;
    let mut extra = serde_json::Map::new();
    extra.insert(
        "all_recorded_after_s".into(),
        json!((took * 10.0).round() / 10.0),
    );
    s.store.close().await;
    Ok(Outcome {
        tally,
        duplicate_mails,
        double_credits,
        extra,
    })
}

async fn smtp_down(env: &TestEnv, dir: &Path) -> anyhow::Result<Outcome> {
    let n = scaled(50, 10);
    let discord = FakeDiscord::start().await?;
    let s = setup(dir, "smtpdown", n.div_ceil(5), false, true, &discord).await?;
    env.run("stop-smtp").await?;
    let mut daemon = Daemon::start(&s.cfg, env).await?;
    daemon.wait_web(30).await?;
    let (ids, mails) = slip_mails("smtpdown", &s.customers, n);
    append_all(env, &s.mailbox, &mails).await?;
    let tally = wait_recorded(&s.store, &ids, 180).await?;
    // Let the delivery attempts fail for a while (backoff 1 s doubling up to 4 s here).
    tokio::time::sleep(Duration::from_secs(20)).await;
    let sent_while_down = count(
        &s.store,
        "SELECT COUNT(*) FROM outbox WHERE kind = 'email' AND status = 'sent'",
    )
    .await?;
    let failed_attempts = count(
        &s.store,
        "SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM outbox WHERE kind = 'email'",
    )
    .await?;
    env.run("start-smtp").await?;
    let drained = wait_outbox_drained(&s.store, 180).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    daemon.stop().await;
    let (unconfirmed, duplicate_mails, delivered) =
        delivered_mails(env, &s.store, &s.customers, &ids).await?;
    let dead = count(
        &s.store,
        "SELECT COUNT(*) FROM outbox WHERE status = 'dead'",
    )
    .await?;
    let mut tally = tally;
    tally.lost += unconfirmed.saturating_sub(tally.lost);
    let double_credits = double_credits(&s.store).await?;
    let mut extra = serde_json::Map::new();
    extra.insert("sent_while_down".into(), json!(sent_while_down));
    extra.insert("attempts_while_down".into(), json!(failed_attempts));
    extra.insert("mails_delivered".into(), json!(delivered));
    extra.insert("dead_rows".into(), json!(dead));
    extra.insert("outbox_drained".into(), json!(drained));
    s.store.close().await;
    Ok(Outcome {
        tally,
        duplicate_mails,
        double_credits,
        extra,
    })
}

async fn postgres_restart(env: &TestEnv, dir: &Path) -> anyhow::Result<Outcome> {
    let n = scaled(300, 30);
    let discord = FakeDiscord::start().await?;
    let s = setup(dir, "pgrestart", n.div_ceil(5), true, false, &discord).await?;
    let (ids, mails) = slip_mails("pgrestart", &s.customers, n);
    append_all(env, &s.mailbox, &mails).await?;
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .max()
        })
        .unwrap_or_else(|| "15".into());
    let mut daemon = Daemon::start(&s.cfg, env).await?;
    let mut restarts = 0;
    let mut approved = 0;
    let mut twice = 0;
    for fraction in [4, 2] {
        let target = n / fraction;
        wait_until(600, Duration::from_millis(200), || async {
            tally_orders(&s.store, &ids)
                .await
                .is_ok_and(|t| t.recorded >= target)
        })
        .await;
        let (a, t) = approve_some(&s.cfg, &s.store, 3).await;
        approved += a;
        twice += t;
        eprintln!(
            "faults: postgres_restart: restarting PostgreSQL {version} at >= {target} of {n}"
        );
        let status = tokio::process::Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "restart"])
            .status()
            .await
            .context("cannot run pg_ctlcluster")?;
        if !status.success() {
            bail!("pg_ctlcluster restart failed: {status}");
        }
        restarts += 1;
        // Approvals while the daemon reconnects.
        let (a, t) = approve_some(&s.cfg, &s.store, 3).await;
        approved += a;
        twice += t;
    }
    let tally = wait_recorded(&s.store, &ids, 900).await?;
    let (a, t) = approve_some(&s.cfg, &s.store, 10).await;
    approved += a;
    twice += t;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still_running = daemon.running();
    daemon.stop().await;
    let duplicate_mails = queued_duplicates(&s.store).await?;
    let double_credits = double_credits(&s.store).await? + twice;
    let mut extra = serde_json::Map::new();
    extra.insert("restarts".into(), json!(restarts));
    extra.insert("approved".into(), json!(approved));
    extra.insert("daemon_survived".into(), json!(still_running));
    s.store.close().await;
    Ok(Outcome {
        tally,
        duplicate_mails,
        double_credits,
        extra,
    })
}

async fn discord_errors(env: &TestEnv, dir: &Path) -> anyhow::Result<Outcome> {
    let n = scaled(30, 10);
    let discord = FakeDiscord::start().await?;
    discord.set_mode(DiscordMode::RateLimited);
    let s = setup(dir, "discord", n.div_ceil(5), false, false, &discord).await?;
    let (ids, mails) = slip_mails("discord", &s.customers, n);
    append_all(env, &s.mailbox, &mails).await?;
    let mut daemon = Daemon::start(&s.cfg, env).await?;
    daemon.wait_web(30).await?;
    let tally = wait_recorded(&s.store, &ids, 180).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    discord.set_mode(DiscordMode::Broken);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let refused: usize = discord.posts().iter().filter(|p| p.status >= 400).count();
    discord.set_mode(DiscordMode::Ok);
    let orders: Vec<(String,)> = sqlx::query_as("SELECT number FROM orders")
        .fetch_all(s.store.pool())
        .await?;
    let all_posted = wait_until(180, Duration::from_millis(500), || async {
        let accepted = discord.accepted_per_order();
        orders.iter().all(|(n,)| accepted.contains_key(n))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    daemon.stop().await;
    let accepted = discord.accepted_per_order();
    let missing = orders
        .iter()
        .filter(|(n,)| !accepted.contains_key(n))
        .count();
    let duplicate_cards: usize = accepted.values().map(|c| c - 1).sum();
    let mut tally = tally;
    tally.lost += missing;
    let duplicate_mails = queued_duplicates(&s.store).await?;
    let double_credits = double_credits(&s.store).await?;
    let mut extra = serde_json::Map::new();
    extra.insert("cards_refused_429_500".into(), json!(refused));
    extra.insert("cards_missing".into(), json!(missing));
    extra.insert("duplicate_cards".into(), json!(duplicate_cards));
    extra.insert("all_posted".into(), json!(all_posted));
    s.store.close().await;
    if duplicate_cards > 0 {
        eprintln!("faults: discord_429_500: {duplicate_cards} cards posted more than once");
    }
    Ok(Outcome {
        tally,
        duplicate_mails,
        double_credits,
        extra,
    })
}

/// The five poison mails of [`poison`]: (Message-ID, raw). The reused
/// Message-ID one takes `reused` (a normal mail's id) with other content.
fn poison_mails(customer: &str, run: &str, reused: &str) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let head = |id: &str, subject: &str| {
        format!(
            "From: Budi Santoso <{customer}>\r\nTo: Top-up Desk <topup@desk.example.test>\r\n\
             Subject: {subject}\r\nDate: Wed, 25 Nov 2026 10:00:00 +0700\r\nMessage-ID: <{id}>\r\n"
        )
    };
    let kelvin = format!("poison-kelvin-{run}@customer.example.test");
    let nul = format!("poison-nul-{run}@customer.example.test");
    let big = format!("poison-big-{run}@customer.example.test");
    let broken = format!("poison-broken-{run}@customer.example.test");
    let mut big_mail = head(&big, "Bukti transfer (40 MB)").into_bytes();
    big_mail.extend_from_slice(
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
          Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = "A".repeat(76) + "\r\n";
    while big_mail.len() < 40 * 1024 * 1024 {
        big_mail.extend_from_slice(line.as_bytes());
    }
    big_mail.extend_from_slice(b"--b--\r\n");
    vec![
        (
            kelvin.clone(),
            format!(
                "{}Content-Type: text/plain; charset=utf-8\r\n\r\n\u{131}\u{20ac}TU-20261125-0001 TU-20261125-0002\r\n",
                head(&kelvin, &format!("=?UTF-8?B?{}?=", b64("Re \u{212A}: top up")))
            )
            .into_bytes(),
        ),
        (
            nul.clone(),
            format!("{}\r\nada kabar?\0\r\n", head(&nul, "status\0?")).into_bytes(),
        ),
        (big, big_mail),
        (
            reused.to_string(),
            format!(
                "{}X-Scanner: rewritten\r\n\r\nTerima kasih banyak atas bantuannya.\r\n",
                head(reused, "Terima kasih")
            )
            .into_bytes(),
        ),
        (
            broken.clone(),
            format!(
                "{}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\n\
                 Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n--a--\r\n=?UTF-8?B?////\r\n",
                head(&broken, "bukti")
            )
            .into_bytes(),
        ),
    ]
}

/// 200 normal mails with five poison mails among them (a subject that once
/// panicked the parser, a NUL byte, a 40 MB message, a reused Message-ID with
/// other content, a broken MIME tree): every normal mail handled once, every
/// poison mail recorded, and intake never stalls longer than 5 s.
async fn poison(env: &TestEnv, dir: &Path) -> anyhow::Result<Outcome> {
    let n = scaled(200, 20);
    let discord = FakeDiscord::start().await?;
    let s = setup(dir, "poison", n.div_ceil(5), false, false, &discord).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (ids, mails) = slip_mails("poison", &s.customers, n);
    let poisons = poison_mails(&s.customers[0], &run, &ids[n / 2]);
    let every = n / (poisons.len() + 1);
    let mut order: Vec<&[u8]> = Vec::new();
    let mut p = poisons.iter();
    for (i, m) in mails.iter().enumerate() {
        if i > 0
            && i % every == 0
            && let Some((_, raw)) = p.next()
        {
            order.push(raw);
        }
        order.push(m);
    }
    for (_, raw) in p {
        order.push(raw);
    }
    for m in &order {
        append_retrying(env, &s.mailbox, m).await?;
    }
    let mut daemon = Daemon::start(&s.cfg, env).await?;
    daemon.wait_web(30).await?;
    let total = order.len();
    let started = Instant::now();
    if !wait_until(180, Duration::from_millis(200), || async {
        count(&s.store, "SELECT COUNT(*) FROM inbound_messages")
            .await
            .is_ok_and(|c| c as usize >= total)
    })
    .await
    {
        eprintln!("faults: poison: not every mail was recorded within 180 s");
    }
    let took = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let tally = tally_orders(&s.store, &ids).await?;
    let mut poison_recorded = 0;
    let mut poison_failed = 0;
    for (id, _) in &poisons {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT m.outcome, m.failed_error FROM inbound_keys k \
             JOIN inbound_messages m ON m.id = k.inbound_id WHERE k.key LIKE $1",
        )
        .bind(format!("msgid:{id}%"))
        .fetch_all(s.store.pool())
        .await?;
        // The reused id also finds its normal mail: count the other row.
        let rows: Vec<_> = if id == &ids[n / 2] {
            rows.into_iter()
                .filter(|(o, _)| !o.starts_with("submitted"))
                .collect()
        } else {
            rows
        };
        if !rows.is_empty() {
            poison_recorded += 1;
        }
        if rows.iter().any(|(_, f)| f.is_some()) {
            poison_failed += 1;
        }
    }
    let times: Vec<(i64,)> = sqlx::query_as("SELECT received_at FROM inbound_messages ORDER BY id")
        .fetch_all(s.store.pool())
        .await?;
    let longest_gap_ms = times.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap_or(0);
    let duplicate_mails = queued_duplicates(&s.store).await?;
    let double_credits = double_credits(&s.store).await?;
    // A panic the intake caught (the parser on a poison mail) is logged and
    // recorded; a task that panicked and had to be restarted is not acceptable.
    let panics = daemon.log_text().matches("Task panicked").count();
    daemon.stop().await;
    s.store.close().await;
    let mut extra = serde_json::Map::new();
    extra.insert("poison_sent".into(), json!(poisons.len()));
    extra.insert("poison_recorded".into(), json!(poison_recorded));
    extra.insert("poison_recorded_as_failed".into(), json!(poison_failed));
    extra.insert("longest_intake_gap_ms".into(), json!(longest_gap_ms));
    extra.insert(
        "all_recorded_after_s".into(),
        json!((took * 10.0).round() / 10.0),
    );
    extra.insert("task_panics_logged".into(), json!(panics));
    let mut tally = tally;
    if poison_recorded < poisons.len() {
        tally.lost += poisons.len() - poison_recorded;
    }
    if panics > 0 {
        eprintln!("faults: poison: {panics} task panic(s) in the daemon log");
        tally.lost += panics;
    }
    if longest_gap_ms > 5_000 {
        eprintln!("faults: poison: intake stalled for {longest_gap_ms} ms");
        tally.lost += 1;
    }
    Ok(Outcome {
        tally,
        duplicate_mails,
        double_credits,
        extra,
    })
}
