//! Several machines: two `topup run` processes share one PostgreSQL database,
//! one IMAP mailbox (Dovecot) and one S3 bucket (moto's S3 API server, started
//! by `scripts/test-env`), each with its own local data folder. A slip one
//! daemon received is served by the other's status page and listed on its
//! staff queue; one daemon killed (SIGKILL) in the middle of a backlog leaves
//! nothing lost and nothing twice.
//!
//! PostgreSQL only (several daemons on one SQLite file is not a supported
//! setup): under `TOPUP_TEST_DB=sqlite` the test says so and returns.

#[path = "support/db.rs"]
mod db;
#[path = "support/intake.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use support::*;

const STAFF_PASSWORD: &str = "multi-machine-pass";

/// One `topup run` process with the shared settings and its own data folder.
struct Machine {
    child: Child,
    web: String,
}

impl Machine {
    fn start(name: &str, dir: &std::path::Path, env: &[(String, String)]) -> Machine {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_topup"))
            .arg("--data-dir")
            .arg(&data)
            .arg("run")
            .env_remove("TOPUP_CONFIG")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("TOPUP__WEB__LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .expect("start topup");
        Machine {
            child,
            web: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A crash: no shutdown, no cleanup.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap();
    }
}

/// Creates `bucket` on the S3 server (moto accepts unsigned requests).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("the S3 server answers (scripts/test-env start)");
    assert!(r.status().is_success(), "create bucket: {}", r.status());
}

/// Object keys under `prefix` in `bucket` (S3 ListObjectsV2, read from the XML).
async fn objects(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let xml = reqwest::Client::new()
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_postgres_and_a_bucket_and_survive_one_being_killed() {
    // Enough that daemon a is still working when it is killed (each slip is
    // an upload to the bucket).
    const N: usize = 200;
    if db::backend() != "postgres" {
        eprintln!("multi-machine test: runs under TOPUP_TEST_DB=postgres only");
        return;
    }
    let _dovecot = DOVECOT.read().await;
    let endpoint = test_env("TOPUP_TEST_S3_ENDPOINT");
    let bucket = format!("topup-{}", uuid::Uuid::new_v4().simple());
    create_bucket(&endpoint, &bucket).await;

    let dir = tempfile::tempdir().unwrap();
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let customer = fresh_address("dua-mesin");
    add_customer(&settings, "PT Dua Mesin", &customer).await;
    let (host, port) = imap_endpoint();
    let env: Vec<(String, String)> = [
        ("TOPUP__DATABASE__URL", settings.database.url.clone()),
        ("TOPUP__MAIL__IMAP__HOST", host),
        ("TOPUP__MAIL__IMAP__PORT", port.to_string()),
        ("TOPUP__MAIL__IMAP__TLS", "none".into()),
        ("TOPUP__MAIL__IMAP__USERNAME", mailbox.clone()),
        ("TOPUP__MAIL__IMAP__PASSWORD", PASSWORD.into()),
        ("TOPUP__MAIL__IMAP__IDLE_SECS", "60".into()),
        ("TOPUP__SLIPS__STORE", format!("s3://{bucket}/slips")),
        ("TOPUP__OUTBOX__POLL_SECS", "1".into()),
        ("AWS_ENDPOINT", endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    {
        let desk = topup::app::Application::open_desk(
            settings.clone(),
            Arc::new(topup::clock::SystemClock),
        )
        .await
        .unwrap();
        let hash = topup::web::auth::hash_password(STAFF_PASSWORD).unwrap();
        let mut tx = desk.store().begin_write().await.unwrap();
        topup::store::accounts::add_staff(&mut tx, "rina", None, None, Some(&hash), 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        desk.store().close().await;
    }

    for i in 0..N {
        let raw = slip_mail(
            &customer,
            &message_id(&format!("mm{i}")),
            &format!("Bukti transfer Rp 2.{i:03}.000"),
            &format!("Sudah transfer Rp 2.{i:03}.000, bukti terlampir."),
            &png(&format!("multi-machine-{i}")),
        );
        append(&mailbox, &raw).await;
    }

    // Daemon a starts alone, so it holds the mailbox lease and reads; b
    // starts once a is in the middle of the backlog and waits for the lease.
    let a = Machine::start("a", dir.path(), &env);
    let watcher =
        topup::app::Application::open_desk(settings.clone(), Arc::new(topup::clock::SystemClock))
            .await
            .unwrap();
    let handled = async || {
        let mut conn = watcher.store().pool().acquire().await.unwrap();
        topup::store::inbound::list(&mut conn, false, 1000)
            .await
            .unwrap()
            .len()
    };
    eventually("daemon a handles some of the backlog", 30, async || {
        handled().await >= 5
    })
    .await;
    let b = Machine::start("b", dir.path(), &env);
    let before_kill = handled().await;
    a.kill();
    eprintln!("killed daemon a after {before_kill} of {N} messages were handled");
    assert!(
        before_kill < N,
        "daemon a must be killed part-way for this test to mean anything"
    );
    eventually("the other daemon finishes the backlog", 90, async || {
        handled().await >= N
    })
    .await;
    eventually("every mail is flagged \\Seen", 30, async || {
        let flags = seen_flags(&mailbox).await;
        flags.len() == N && flags.iter().all(|(_, seen)| *seen)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut conn = watcher.store().pool().acquire().await.unwrap();
    let inbound = topup::store::inbound::list(&mut conn, false, 1000)
        .await
        .unwrap();
    let orders = topup::store::orders::list(&mut conn, None, None, 1000)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(inbound.len(), N, "one inbound record per mail");
    assert_eq!(orders.len(), N, "one order per mail");
    let mut amounts: Vec<i64> = orders.iter().filter_map(|o| o.amount_minor).collect();
    amounts.sort_unstable();
    let expected: Vec<i64> = (0..N as i64)
        .map(|i| (2_000_000 + i * 1000) * 100)
        .collect();
    assert_eq!(amounts, expected, "each mail's own amount, once");

    // Every slip is in the bucket, none only on a machine's disk.
    let keys = objects(&endpoint, &bucket, "slips/").await;
    assert!(
        keys.len() >= N,
        "{} slips in the bucket: {keys:?}",
        keys.len()
    );
    for m in ["a", "b"] {
        let local = dir.path().join(m).join("slips");
        let files = std::fs::read_dir(&local).map(|d| d.count()).unwrap_or(0);
        assert_eq!(files, 0, "machine {m} kept slips on its own disk");
    }

    // The first order (received before the kill, whoever read it) is served
    // by daemon b: its status page and the slip bytes from the bucket, and
    // its staff queue lists it with the slip.
    let first = orders
        .iter()
        .find(|o| o.amount_minor == Some(2_000_000 * 100))
        .unwrap();
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/o/{}", b.web, first.token))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let href = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&#x2f;", "/"))
        .find(|h| h.contains("/slips/"))
        .unwrap_or_else(|| panic!("no slip link on the status page: {html}"));
    let slip = client
        .get(format!("{}{}", b.web, href))
        .send()
        .await
        .unwrap();
    assert_eq!(slip.status(), 200, "{href}");
    assert_eq!(
        slip.bytes().await.unwrap().as_ref(),
        png("multi-machine-0").as_slice(),
        "the slip's own bytes, from the bucket"
    );
    let queue: serde_json::Value = client
        .get(format!("{}/api/staff/queue", b.web))
        .basic_auth("rina", Some(STAFF_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = queue["queue"]
        .as_array()
        .unwrap_or_else(|| panic!("{queue}"));
    assert_eq!(listed.len(), N, "b's staff queue shows every order");
    let entry = listed
        .iter()
        .find(|o| o["number"] == first.number.as_str())
        .unwrap();
    assert_eq!(entry["slips"].as_array().map(Vec::len), Some(1), "{entry}");
    b.stop();
    watcher.store().close().await;
}
