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
    let banner = read_banner(&mut child, "Press Ctrl-C");
    assert!(banner.contains("database  sqlite://"), "{banner}");
    assert!(
        banner.contains("warning: sender addresses are NOT verified"),
        "without mail.authserv_id the operator is told plainly: {banner}"
    );
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
            if last["status"] == "degraded" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The public sees that something is wrong, not the mailbox user, host or error.
    assert_eq!(last, serde_json::json!({"status": "degraded"}));
    let metrics = client
        .get(url.replace("/healthz", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("topup_source_up{source=\"imap\"} 0"),
        "{metrics}"
    );
    token.cancel();
    task.await.unwrap().unwrap();
}

/// Peak resident memory of a process so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap()
}

fn request_mail(i: usize) -> String {
    format!(
        "From: Boss <boss@backlog.id>\r\nTo: topup@localhost\r\nSubject: Top up {i}\r\n\
         Message-ID: <backlog-{i}@backlog.id>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Mohon top up Rp {}.000.000\r\n",
        i + 1
    )
}

/// A mail with one PNG "slip" of `size` bytes, base64 in 76-character lines.
fn big_slip_mail(size: usize) -> Vec<u8> {
    use base64::Engine;
    let mut png = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    png.extend((0..size).map(|i| (i * 7 % 251) as u8));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let mut body = String::with_capacity(b64.len() + b64.len() / 38);
    for chunk in b64.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).unwrap());
        body.push_str("\r\n");
    }
    format!(
        "From: Boss <boss@backlog.id>\r\nTo: topup@localhost\r\nSubject: Bukti transfer besar\r\n\
         Message-ID: <big@backlog.id>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         Bukti transfer Rp 5.000.000 terlampir\r\n--b\r\nContent-Type: image/png\r\n\
         Content-Disposition: attachment; filename=bukti.png\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {body}--b--\r\n"
    )
    .into_bytes()
}

#[test]
fn a_backlog_with_delivery_running_never_panics_and_a_big_mail_stays_within_a_few_times_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = topup(&data)
        .args(["account", "add", "PT Backlog", "--email", "boss@backlog.id"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = data.join("inbox").join("new");
    std::fs::create_dir_all(&new).unwrap();
    for sub in ["cur", "tmp"] {
        std::fs::create_dir_all(data.join("inbox").join(sub)).unwrap();
    }
    const BACKLOG: usize = 300;
    for i in 0..BACKLOG {
        std::fs::write(new.join(format!("{i:04}.backlog.host")), request_mail(i)).unwrap();
    }
    let log = dir.path().join("daemon.log");
    let mut child = topup(&data)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let cur = data.join("inbox").join("cur");
    let outbox = data.join("outbox");
    let count = |d: &std::path::Path| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    wait_for("the backlog is handled and answered", || {
        count(&cur) == BACKLOG && count(&outbox) >= BACKLOG
    });
    let before = peak_rss(child.id());
    // One message near the 25 MB limit: 18 MB of slip, about 24.5 MB encoded.
    let big = big_slip_mail(18 * 1024 * 1024);
    let size = big.len() as u64;
    assert!(size < 25 * 1024 * 1024);
    let tmp = data.join("inbox").join("tmp").join("big.host");
    std::fs::write(&tmp, &big).unwrap();
    drop(big);
    std::fs::rename(&tmp, new.join("big.host")).unwrap();
    wait_for("the big mail is handled", || count(&cur) == BACKLOG + 1);
    let after = peak_rss(child.id());
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "stops cleanly: {status:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("panicked"), "no task panicked:\n{text}");
    let growth = after.saturating_sub(before);
    eprintln!(
        "peak RSS {} MB before, {} MB after a {} MB message (growth {:.1}x its size)",
        before / 1_048_576,
        after / 1_048_576,
        size / 1_048_576,
        growth as f64 / size as f64
    );
    assert!(
        growth < 4 * size,
        "handling a {size}-byte message grew the peak by {growth} bytes"
    );
}

/// Reads a child's stdout until `last` starts a line; returns all lines read.
fn read_banner(child: &mut std::process::Child, last: &str) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with(last) {
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    banner
}

fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(35), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// All `.eml` replies written so far.
fn replies(outbox: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(outbox)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

/// `topup demo --dir DEMO`, with stdout piped for [`read_banner`].
fn spawn_demo(dir: &std::path::Path, demo: &std::path::Path) -> std::process::Child {
    topup(&dir.join("unused"))
        .args(["demo", "--dir"])
        .arg(demo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The first five minutes: one command shows a newcomer the whole loop.
#[test]
fn demo_sets_up_a_desk_whose_slip_can_be_approved_into_a_paid_mail_with_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let mut child = spawn_demo(dir.path(), &demo);
    let banner = read_banner(&mut child, "Press Ctrl-C");
    assert!(banner.contains("Demo desk ready:"), "{banner}");
    let password = banner
        .lines()
        .find_map(|l| l.split("password ").nth(1))
        .map(|p| p.trim_end_matches(')').to_owned())
        .expect("the staff password is printed");
    assert!(password.len() >= 12, "{banner}");
    assert!(
        banner.contains("staff board  http://127.0.0.1:"),
        "{banner}"
    );
    assert!(
        !banner.contains("next step: no staff yet"),
        "the demo has staff: {banner}"
    );
    let order = banner
        .lines()
        .find_map(|l| l.strip_prefix("Approve "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the order to approve is named")
        .to_owned();

    let outbox = demo.join("outbox");
    wait_for("the request answered and the slip received", || {
        let r = replies(&outbox);
        r.iter()
            .filter(|m| m.contains("Subject: Pesanan dibuat"))
            .count()
            >= 2
            && r.iter()
                .any(|m| m.contains(&format!("Subject: Bukti transfer diterima: {order}")))
    });

    let approve = topup(&demo)
        .args(["order", "approve", &order, "--staff", "demo"])
        .output()
        .unwrap();
    assert!(
        approve.status.success(),
        "{}",
        String::from_utf8_lossy(&approve.stderr)
    );
    wait_for("the paid mail with its receipt", || {
        replies(&outbox)
            .iter()
            .any(|m| m.contains("Subject: Lunas") && m.contains(".pdf"))
    });
    stop(&mut child);

    // A second run on the same folder reuses the desk and prints a new password.
    let mut again = spawn_demo(dir.path(), &demo);
    let banner2 = read_banner(&mut again, "Press Ctrl-C");
    stop(&mut again);
    assert!(banner2.contains("Demo desk ready:"), "{banner2}");
    assert!(!banner2.contains(&password), "a fresh password each run");
    let accounts = topup(&demo)
        .args(["--json", "account", "list"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&accounts.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

/// `topup run` on an empty desk tells the newcomer what is missing.
#[test]
fn run_on_an_empty_desk_says_what_to_set_up_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = topup(&dir.path().join("data"))
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let banner = read_banner(&mut child, "Press Ctrl-C");
    stop(&mut child);
    assert!(
        banner.contains("next step: no staff yet, so nobody can sign in to the board: topup staff add NAME --password PASSWORD"),
        "{banner}"
    );
    assert!(banner.contains("next step: no accounts yet"), "{banner}");
}

/// Log pipelines get one JSON object per line; a file gets no colour codes.
#[test]
fn logs_are_json_lines_when_asked_and_plain_text_otherwise() {
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let mut child = topup(&dir.path().join("data"))
            .arg("run")
            .env("TOPUP__LOG__FORMAT", format)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        read_banner(&mut child, "Press Ctrl-C");
        wait_for("a log line", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening"))
        });
        stop(&mut child);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains('\u{1b}'),
            "no escape codes in a file: {text}"
        );
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() >= 2, "{text}");
        for line in lines {
            let parsed = serde_json::from_str::<serde_json::Value>(line);
            if format == "json" {
                let v = parsed.unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert!(
                    v["level"].is_string() && v["timestamp"].is_string(),
                    "{line}"
                );
                assert!(v["message"].is_string(), "{line}");
            } else {
                assert!(parsed.is_err(), "plain text: {line}");
            }
        }
    }
}
