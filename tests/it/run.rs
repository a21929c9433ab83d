//! `topup run` on embedded defaults, through the real binary: it prints
//! where everything is, turns a mail dropped into the Maildir inbox into an
//! order with a reply in the `.eml` outbox, and stops cleanly on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn topup(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_topup"));
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("TOPUP_CONFIG")
        .env("TOPUP__WEB__LISTEN", "127.0.0.1:0")
        .env("TOPUP__DESK__SCHEDULER_INTERVAL_SECS", "1")
        .env("TOPUP__OUTBOX__POLL_SECS", "1");
    c
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn run_on_embedded_defaults_answers_a_maildir_request_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // SQLite: the embedded default (this test is about the defaults, whatever TOPUP_TEST_DB says).
    let out = topup(&data)
        .args([
            "account",
            "add",
            "PT Embedded",
            "--email",
            "boss@embedded.id",
            "--lang",
            "en",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = topup(&data)
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    assert!(banner.contains("database  sqlite://"), "{banner}");
    assert!(
        banner.contains(&format!(
            "inbox     Maildir {}",
            data.join("inbox").display()
        )),
        "{banner}"
    );
    assert!(
        banner.contains(&format!(
            "outbox    .eml files in {}",
            data.join("outbox").display()
        )),
        "{banner}"
    );
    assert!(banner.contains("review    staff web board"), "{banner}");
    assert!(banner.contains("web       http://127.0.0.1:"), "{banner}");

    let mail = "From: Boss <boss@embedded.id>\r\nTo: topup@localhost\r\nSubject: Top up request\r\n\
Message-ID: <req-embedded-1@embedded.id>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0700\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHello, please top up our balance with Rp 2.000.000. Thanks\r\n";
    let new = data.join("inbox").join("new");
    wait_for("the Maildir folders", || new.is_dir());
    std::fs::write(data.join("inbox").join("tmp").join("m1"), mail).unwrap();
    std::fs::rename(data.join("inbox").join("tmp").join("m1"), new.join("m1")).unwrap();

    let outbox = data.join("outbox");
    let mut reply = String::new();
    wait_for("the order-created reply", || {
        let Ok(entries) = std::fs::read_dir(&outbox) else {
            return false;
        };
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "eml") {
                reply = std::fs::read_to_string(e.path()).unwrap_or_default();
                return reply.contains("In-Reply-To");
            }
        }
        false
    });
    assert!(reply.contains("Subject: Order created: TU-"), "{reply}");
    assert!(reply.contains("<req-embedded-1@embedded.id>"), "{reply}");
    assert!(
        std::fs::read_dir(&new).unwrap().next().is_none(),
        "the mail left new/"
    );

    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(35),
            "did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit, got {status:?}");

    let list = topup(&data)
        .args(["--json", "order", "list"])
        .output()
        .unwrap();
    let orders: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(orders[0]["status"], "open");
    assert_eq!(orders[0]["amount_minor"], 200_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_a_source_that_cannot_connect() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut settings = topup::config::Settings {
        data_dir: dir.path().to_path_buf(),
        ..topup::config::Settings::default()
    };
    settings.database.url = crate::helpers::fresh_database(dir.path()).await;
    settings.web.listen = "127.0.0.1:0".into();
    settings.mail.imap = Some(topup::config::ImapSettings {
        host: "127.0.0.1".into(),
        port,
        tls: topup::config::ImapTls::None,
        username: "desk@example.test".into(),
        command_timeout_secs: 2,
        ..topup::config::ImapSettings::default()
    });
    let app =
        topup::app::Application::build(Arc::new(settings), Arc::new(topup::clock::SystemClock))
            .await
            .unwrap();
    let url = format!("http://{}/healthz", app.web_addr().unwrap());
    let token = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(app.run(token.clone()));
    let client = reqwest::Client::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let r = client.get(&url).send().await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 200, "the database is fine: still 200");
            last = r.json().await.unwrap();
            if last["sources"][0]["state"] == "down" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "degraded", "{last}");
    assert_eq!(last["sources"][0]["name"], "imap", "{last}");
    assert!(
        last["sources"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("desk@example.test"),
        "{last}"
    );
    token.cancel();
    task.await.unwrap().unwrap();
}
