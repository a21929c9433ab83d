//! Inbound mail end to end: the real application watches a real Dovecot
//! mailbox (`scripts/test-env start`) or its Maildir, and mail put there
//! becomes orders exactly once — while it IDLEs, across a restart of the
//! daemon, across a restart of the mail server — and is flagged only after
//! it was handled. Runs on SQLite, or on PostgreSQL with `TOPUP_TEST_DB=postgres`.

#[path = "support/db.rs"]
mod db;
#[path = "support/intake.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use support::*;

const IDLE_DEADLINE: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slip_mail_arriving_during_idle_becomes_one_dealing_order_with_the_slip() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let daemon = Daemon::start(settings).await;
    let customer = fresh_address("budi");
    daemon.customer("PT Maju Jaya", &customer).await;
    eventually(
        "the IMAP source caught up and IDLEs",
        IDLE_DEADLINE,
        async || daemon.imap_caught_up().await,
    )
    .await;

    let raw = slip_mail(
        &customer,
        &message_id("slip"),
        "Bukti transfer Rp 1.500.000",
        "Selamat pagi,\r\n\r\nBerikut bukti transfer Rp 1.500.000 untuk top up saldo.\r\n\r\nTerima kasih,\r\nBudi",
        &png("slip-a"),
    );
    append(&mailbox, &raw).await;

    eventually(
        "the slip mail becomes an order",
        IDLE_DEADLINE,
        async || !daemon.orders().await.is_empty(),
    )
    .await;
    eventually("the mail is flagged \\Seen", IDLE_DEADLINE, async || {
        seen_flags(&mailbox).await == vec![(1, true)]
    })
    .await;
    let orders = daemon.orders().await;
    assert_eq!(orders.len(), 1, "exactly one order: {orders:?}");
    let order = &orders[0];
    assert_eq!(order.status, "dealing");
    assert_eq!(
        order.amount_minor,
        Some(150_000_000),
        "Rp 1.500.000 in minor units"
    );
    assert_eq!(order.source, "email");
    let slips = daemon.slips_of(order.id).await;
    assert_eq!(slips.len(), 1, "the PNG is attached to the order");
    assert_eq!(slips[0].content_type, "image/png");
    assert_eq!(slips[0].size, png("slip-a").len() as i64);
    let inbound = daemon.inbound().await;
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].sender, customer);
    assert_eq!(inbound[0].order_id, Some(order.id));

    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_backlog_survives_a_daemon_restart_exactly_once() {
    // More than one fetch slice (50 messages, one transaction each), so the
    // first daemon stops between two of them.
    const N: i64 = 150;
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let customer = fresh_address("tiga-puluh");
    for i in 0..N {
        let raw = slip_mail(
            &customer,
            &message_id(&format!("batch{i}")),
            &format!("Bukti transfer Rp 1.{i:03}.000"),
            &format!("Sudah transfer Rp 1.{i:03}.000, bukti terlampir."),
            &png(&format!("batch-{i}")),
        );
        append(&mailbox, &raw).await;
    }

    add_customer(&settings, "PT Tiga Puluh", &customer).await;
    let first = Daemon::start(settings.clone()).await;
    eventually(
        "a few of the waiting mails are handled",
        IDLE_DEADLINE,
        async || first.inbound().await.len() >= 3,
    )
    .await;
    first.stop().await;
    let handled_first = first_count(&settings).await;
    eprintln!("the first daemon handled {handled_first} of {N} before it stopped");
    assert!(
        handled_first < N as usize,
        "the first daemon must stop part-way for this test to mean anything"
    );

    let second = Daemon::start(settings.clone()).await;
    eventually("all mails are handled", 60, async || {
        second.inbound().await.len() >= N as usize
    })
    .await;
    eventually("all mails are flagged \\Seen", IDLE_DEADLINE, async || {
        let flags = seen_flags(&mailbox).await;
        flags.len() == N as usize && flags.iter().all(|(_, seen)| *seen)
    })
    .await;
    // Give a duplicate the chance to show up before counting.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let inbound = second.inbound().await;
    let orders = second.orders().await;
    assert_eq!(inbound.len(), N as usize, "one inbound record per mail");
    assert_eq!(
        orders.len(),
        N as usize,
        "one order per mail: {:?}",
        orders.iter().map(|o| &o.number).collect::<Vec<_>>()
    );
    let mut amounts: Vec<i64> = orders.iter().filter_map(|o| o.amount_minor).collect();
    amounts.sort_unstable();
    let expected: Vec<i64> = (0..N).map(|i| (1_000_000 + i * 1000) * 100).collect();
    assert_eq!(amounts, expected, "each mail's own amount, once");
    assert!(orders.iter().all(|o| o.status == "dealing"));

    // A mail handled but left unflagged (the connection died after the commit)
    // is only flagged again, never handed over twice.
    unflag(&mailbox, 1).await;
    eventually(
        "the unflagged mail is flagged again",
        IDLE_DEADLINE,
        async || seen_flags(&mailbox).await.iter().all(|(_, seen)| *seen),
    )
    .await;
    assert_eq!(second.inbound().await.len(), N as usize);
    assert_eq!(second.orders().await.len(), N as usize);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_after_an_imap_server_restart_is_picked_up_after_reconnecting() {
    let _dovecot = DOVECOT.write().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let daemon = Daemon::start(settings).await;
    let customer = fresh_address("ulang");
    daemon.customer("PT Ulang", &customer).await;
    eventually(
        "the IMAP source caught up and IDLEs",
        IDLE_DEADLINE,
        async || daemon.imap_caught_up().await,
    )
    .await;
    let reconnects_before = topup::sources::imap::IMAP_RECONNECTS.load(Ordering::Relaxed);

    let script = test_env("TOPUP_TEST_ENV_SCRIPT");
    let status = tokio::process::Command::new(&script)
        .arg("restart-imap")
        .status()
        .await
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(status.success(), "{script} restart-imap failed");

    append(
        &mailbox,
        &slip_mail(
            &customer,
            &message_id("after-restart"),
            "Bukti transfer Rp 2.000.000",
            "Transfer Rp 2.000.000 sudah saya kirim.",
            &png("after-restart"),
        ),
    )
    .await;
    eventually(
        "the mail sent after the restart becomes an order",
        30,
        async || !daemon.orders().await.is_empty(),
    )
    .await;
    eventually("it is flagged \\Seen", IDLE_DEADLINE, async || {
        seen_flags(&mailbox).await == vec![(1, true)]
    })
    .await;
    let orders = daemon.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].amount_minor, Some(200_000_000));
    assert!(
        topup::sources::imap::IMAP_RECONNECTS.load(Ordering::Relaxed) > reconnects_before,
        "the reconnect is counted for the metrics"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_senders_are_kept_and_answered_but_auto_replies_are_not() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let daemon = Daemon::start(settings).await;
    let stranger = fresh_address("stranger");
    let robot = fresh_address("robot");

    append(
        &mailbox,
        &text_mail(
            &stranger,
            &message_id("stranger"),
            "Top up Rp 5.000.000",
            "",
            "Halo, saya mau top up Rp 5.000.000.",
        ),
    )
    .await;
    append(
        &mailbox,
        &text_mail(
            &robot,
            &message_id("ooo"),
            "Automatic reply: Top up",
            "Auto-Submitted: auto-replied\r\n",
            "I am out of the office until Monday.",
        ),
    )
    .await;

    eventually("both mails are recorded", IDLE_DEADLINE, async || {
        daemon.inbound().await.len() == 2
    })
    .await;
    eventually("both are flagged \\Seen", IDLE_DEADLINE, async || {
        seen_flags(&mailbox).await == vec![(1, true), (2, true)]
    })
    .await;
    let inbound = daemon.inbound().await;
    let from_stranger = inbound
        .iter()
        .find(|r| r.sender == stranger)
        .expect("the stranger's mail is kept");
    assert!(
        from_stranger.outcome.starts_with("unknown_sender"),
        "outcome: {}",
        from_stranger.outcome
    );
    assert_eq!(from_stranger.account_id, None);
    let from_robot = inbound
        .iter()
        .find(|r| r.sender == robot)
        .expect("the auto-reply is kept");
    assert_eq!(from_robot.intent, "ignore");

    let outbox = daemon.outbox().await;
    let to_stranger: Vec<_> = outbox.iter().filter(|r| r.recipient == stranger).collect();
    assert_eq!(
        to_stranger.len(),
        1,
        "one reply to the stranger: {outbox:?}"
    );
    let job: serde_json::Value =
        serde_json::from_str(&to_stranger[0].payload).expect("payload is JSON");
    assert_eq!(to_stranger[0].kind, "email");
    assert_eq!(job["kind"], "unknown_sender");
    assert!(
        outbox.iter().all(|r| r.recipient != robot),
        "no mail to an auto-responder: {outbox:?}"
    );
    assert!(daemon.orders().await.is_empty(), "no orders for strangers");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_file_becomes_an_order_and_moves_to_cur() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Arc::new(settings(dir.path(), None).await);
    let inbox = settings.maildir_path();
    let daemon = Daemon::start(settings).await;
    let customer = fresh_address("maildir");
    daemon.customer("PT Folder", &customer).await;
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(inbox.join(sub)).expect("maildir folders");
    }

    // Deliver like an MDA: write into tmp/, then rename into new/.
    let name = format!("1795575600.M1P1.{}", uuid::Uuid::new_v4().simple());
    let raw = slip_mail(
        &customer,
        &message_id("maildir"),
        "Bukti transfer Rp 750rb",
        "Sudah transfer Rp 750.000 ya, bukti terlampir.",
        &png("maildir"),
    );
    std::fs::write(inbox.join("tmp").join(&name), &raw).expect("write tmp");
    std::fs::rename(inbox.join("tmp").join(&name), inbox.join("new").join(&name)).expect("deliver");

    let cur = inbox.join("cur").join(format!("{name}:2,S"));
    eventually(
        "the file moves to cur/ flagged seen",
        IDLE_DEADLINE,
        async || cur.exists(),
    )
    .await;
    assert!(
        !inbox.join("new").join(&name).exists(),
        "nothing left in new/"
    );
    assert_eq!(
        std::fs::read(&cur).expect("read cur"),
        raw,
        "the file is kept unchanged"
    );
    let orders = daemon.orders().await;
    assert_eq!(orders.len(), 1, "one order: {orders:?}");
    assert_eq!(orders[0].status, "dealing");
    assert_eq!(orders[0].amount_minor, Some(75_000_000));
    assert_eq!(daemon.slips_of(orders[0].id).await.len(), 1);
    daemon.stop().await;
}

async fn first_count(settings: &Arc<topup::config::Settings>) -> usize {
    let desk =
        topup::app::Application::open_desk(settings.clone(), Arc::new(topup::clock::SystemClock))
            .await
            .expect("open desk");
    let mut conn = desk.store().pool().acquire().await.expect("conn");
    let n = topup::store::inbound::list(&mut conn, false, 1000)
        .await
        .expect("list")
        .len();
    drop(conn);
    desk.store().close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_takes_over_the_mailbox_when_the_first_stops() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let customer = fresh_address("takeover");
    add_customer(&settings, "PT Takeover", &customer).await;
    let first = Daemon::start(settings.clone()).await;
    eventually(
        "the first daemon watches the mailbox",
        IDLE_DEADLINE,
        async || first.imap_caught_up().await,
    )
    .await;
    let second = Daemon::start(settings.clone()).await;
    first.stop().await;

    append(
        &mailbox,
        &slip_mail(
            &customer,
            &message_id("takeover"),
            "Bukti transfer Rp 3.000.000",
            "Transfer Rp 3.000.000 sudah.",
            &png("takeover"),
        ),
    )
    .await;
    eventually(
        "the second daemon handles new mail within 30 s",
        30,
        async || !second.orders().await.is_empty(),
    )
    .await;
    eventually("and flags it", IDLE_DEADLINE, async || {
        seen_flags(&mailbox).await == vec![(1, true)]
    })
    .await;
    assert_eq!(second.orders().await.len(), 1);
    assert_eq!(second.inbound().await.len(), 1);
    second.stop().await;
}

#[tokio::test]
async fn only_one_daemon_holds_a_mailbox_lease_on_postgres() {
    use topup::sources::lease::Lease;
    use topup::store::Backend;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(dir.path()).await;
    let name = format!("imap:{}@127.0.0.1/INBOX", fresh_mailbox());
    let token = tokio_util::sync::CancellationToken::new();
    if backend() != "postgres" {
        // One daemon per SQLite file: the lease is always granted.
        let a = Lease::acquire(Backend::Sqlite, &url, &name, &token).await;
        let b = Lease::acquire(Backend::Sqlite, &url, &name, &token).await;
        assert!(a.is_some() && b.is_some());
        return;
    }
    sqlx::any::install_default_drivers();
    let mut held = Lease::acquire(Backend::Postgres, &url, &name, &token)
        .await
        .expect("the first daemon gets the lease");
    assert!(held.alive().await);
    let waiting = tokio::time::timeout(
        std::time::Duration::from_secs(4),
        Lease::acquire(Backend::Postgres, &url, &name, &token),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a second daemon must wait while the lease is held"
    );
    let other = Lease::acquire(Backend::Postgres, &url, &format!("{name}-other"), &token).await;
    assert!(other.is_some(), "another mailbox's lease is independent");

    // A dead daemon's connection closes: the waiting one takes over.
    drop(held);
    let taken = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Lease::acquire(Backend::Postgres, &url, &name, &token),
    )
    .await
    .expect("the waiting daemon takes over within 10 s");
    assert!(taken.is_some());

    // Shutdown ends the wait.
    token.cancel();
    let cancelled = Lease::acquire(Backend::Postgres, &url, &name, &token).await;
    assert!(cancelled.is_none(), "a cancelled wait gives no lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_leaves_old_read_mail_alone() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let customer = fresh_address("lama");
    add_customer(&settings, "PT Lama", &customer).await;
    let old = |tag: &str, rupiah: &str| {
        slip_mail(
            &customer,
            &message_id(tag),
            &format!("Bukti transfer Rp {rupiah}"),
            &format!("Transfer Rp {rupiah} sudah."),
            &png(tag),
        )
    };
    // Read before topup was installed: not ours. Unread: waiting for us.
    append_with_flags(&mailbox, &old("read", "1.000.000"), Some("(\\Seen)")).await;
    append(&mailbox, &old("unread", "2.000.000")).await;
    append_with_flags(&mailbox, &old("read-later", "3.000.000"), Some("(\\Seen)")).await;

    let daemon = Daemon::start(settings.clone()).await;
    eventually("the unread mail is handled", IDLE_DEADLINE, async || {
        !daemon.orders().await.is_empty()
    })
    .await;
    append(&mailbox, &old("new", "4.000.000")).await;
    eventually("new mail is handled", IDLE_DEADLINE, async || {
        daemon.orders().await.len() >= 2
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut amounts: Vec<i64> = daemon
        .orders()
        .await
        .iter()
        .filter_map(|o| o.amount_minor)
        .collect();
    amounts.sort_unstable();
    assert_eq!(
        amounts,
        vec![200_000_000, 400_000_000],
        "only the unread and the new mail"
    );
    assert_eq!(daemon.inbound().await.len(), 2);
    daemon.stop().await;
}

#[tokio::test]
async fn check_config_reaches_imap_over_tls_with_the_private_ca() {
    let _dovecot = DOVECOT.read().await;
    topup::app::install_crypto_provider();
    let tls = topup::config::ImapSettings {
        host: "localhost".into(),
        port: test_env("TOPUP_TEST_IMAPS_PORT")
            .parse()
            .expect("IMAPS port"),
        tls: topup::config::ImapTls::Tls,
        ca_file: Some(test_env("TOPUP_TEST_CA").into()),
        username: fresh_mailbox(),
        password: secrecy::SecretString::from(PASSWORD.to_string()),
        command_timeout_secs: 10,
        ..topup::config::ImapSettings::default()
    };
    topup::sources::imap::check(&tls)
        .await
        .expect("login and SELECT over TLS with the test CA");

    let untrusted = topup::config::ImapSettings {
        ca_file: None,
        ..tls.clone()
    };
    let err = topup::sources::imap::check(&untrusted)
        .await
        .expect_err("a certificate from an unknown CA is refused");
    assert!(format!("{err:#}").contains("TLS handshake"), "{err:#}");

    let wrong_password = topup::config::ImapSettings {
        password: secrecy::SecretString::from("not-the-password".to_string()),
        ..tls.clone()
    };
    let err = topup::sources::imap::check(&wrong_password)
        .await
        .expect_err("a wrong password is refused");
    assert!(format!("{err:#}").contains("login"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_mail_moves_to_the_processed_mailbox_when_configured() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let mut settings = settings(dir.path(), Some(&mailbox)).await;
    if let Some(imap) = settings.mail.imap.as_mut() {
        imap.processed_mailbox = "Processed".into();
    }
    let settings = Arc::new(settings);
    let customer = fresh_address("pindah");
    add_customer(&settings, "PT Pindah", &customer).await;
    append(
        &mailbox,
        &slip_mail(
            &customer,
            &message_id("move"),
            "Bukti transfer Rp 1.250.000",
            "Sudah transfer Rp 1.250.000.",
            &png("move"),
        ),
    )
    .await;
    let daemon = Daemon::start(settings).await;
    eventually(
        "the mail leaves INBOX for Processed",
        IDLE_DEADLINE,
        async || {
            seen_flags(&mailbox).await.is_empty()
                && seen_flags_in(&mailbox, "Processed").await.len() == 1
        },
    )
    .await;
    let orders = daemon.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].amount_minor, Some(125_000_000));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_uidvalidity_rescans_the_mailbox_without_duplicating_orders() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let settings = Arc::new(settings(dir.path(), Some(&mailbox)).await);
    let customer = fresh_address("uidv");
    for i in 0..3 {
        let raw = slip_mail(
            &customer,
            &message_id(&format!("uidv{i}")),
            &format!("Bukti transfer Rp {i}.500.000"),
            "Bukti transfer terlampir.",
            &png(&format!("uidv-{i}")),
        );
        append(&mailbox, &raw).await;
    }
    add_customer(&settings, "PT UIDVALIDITY", &customer).await;
    let first = Daemon::start(settings.clone()).await;
    eventually("three orders", IDLE_DEADLINE, async || {
        first.orders().await.len() == 3
    })
    .await;
    first.stop().await;

    // The server renumbered the mailbox (as after a restore): the cursor we kept is
    // for another UIDVALIDITY, and the messages came back unseen under new UIDs.
    let desk =
        topup::app::Application::open_desk(settings.clone(), Arc::new(topup::clock::SystemClock))
            .await
            .unwrap();
    sqlx::query("UPDATE imap_cursors SET uid_validity = uid_validity + 1000")
        .execute(desk.store().pool())
        .await
        .unwrap();
    desk.store().close().await;
    for (uid, _) in seen_flags(&mailbox).await {
        unflag(&mailbox, uid).await;
    }

    let second = Daemon::start(settings.clone()).await;
    eventually(
        "the re-scan flags every message again",
        IDLE_DEADLINE,
        async || {
            let flags = seen_flags(&mailbox).await;
            flags.len() == 3 && flags.iter().all(|(_, seen)| *seen)
        },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        second.orders().await.len(),
        3,
        "already recorded messages are only flagged, never a second order"
    );
    assert_eq!(second.inbound().await.len(), 3);
    second.stop().await;
}

// ----- hostile mail (issue 10) ----------------------------------------------

/// A mail whose subject changes byte length when its case changes (the
/// Kelvin sign): it once panicked the parser and stopped all intake.
fn kelvin_mail(from: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: topup@desk.example.test\r\nSubject: =?UTF-8?B?{}?=\r\n\
         Message-ID: <{}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         \u{131}\u{20ac}TU-20261125-0001 TU-20261125-0002 top up Rp 1.000.000\r\n",
        base64_str("Re \u{212A}: top up"),
        message_id("kelvin")
    )
    .into_bytes()
}

fn base64_str(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mails_among_normal_ones_are_each_recorded_and_intake_goes_on() {
    let _dovecot = DOVECOT.read().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mailbox = fresh_mailbox();
    let mut s = settings(dir.path(), Some(&mailbox)).await;
    s.limits.max_message_bytes = 300 * 1024;
    let settings = Arc::new(s);
    let customer = fresh_address("ramai");
    add_customer(&settings, "PT Ramai", &customer).await;
    let normal = |i: usize| {
        text_mail(
            &customer,
            &message_id(&format!("n{i}")),
            &format!("Top up {i}"),
            "",
            &format!("Mohon top up Rp {i}.500.000 ya."),
        )
    };
    append(&mailbox, &normal(1)).await;
    append(&mailbox, &kelvin_mail(&customer)).await;
    append(&mailbox, &normal(2)).await;
    // A NUL byte in the subject (PostgreSQL refuses it in text).
    let nul = format!(
        "From: {customer}\r\nSubject: top\0up\r\nMessage-ID: <{}>\r\n\r\nMohon top up Rp 3.000.000\r\n",
        message_id("nul")
    );
    append(&mailbox, nul.as_bytes()).await;
    // A broken MIME tree.
    let broken = format!(
        "From: {customer}\r\nSubject: bukti\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: multipart/alternative; \
         boundary=\"a\"\r\n\r\n--a\r\n--a--\r\n=?UTF-8?B?////\r\n",
        message_id("broken")
    );
    append(&mailbox, broken.as_bytes()).await;
    // Over the size limit: 400 KB of attachment.
    let big = slip_mail(
        &customer,
        &message_id("big"),
        "Bukti transfer besar",
        "Bukti terlampir",
        &vec![7u8; 400 * 1024],
    );
    append(&mailbox, &big).await;
    append(&mailbox, &normal(3)).await;

    let daemon = Daemon::start(settings.clone()).await;
    eventually("all seven mails are recorded", 30, async || {
        daemon.inbound().await.len() >= 7
    })
    .await;
    eventually("all seven are flagged \\Seen", IDLE_DEADLINE, async || {
        let flags = seen_flags(&mailbox).await;
        flags.len() == 7 && flags.iter().all(|(_, seen)| *seen)
    })
    .await;
    let inbound = daemon.inbound().await;
    assert_eq!(inbound.len(), 7, "each once: {inbound:?}");
    let orders = daemon.orders().await;
    let mut amounts: Vec<i64> = orders.iter().filter_map(|o| o.amount_minor).collect();
    amounts.sort_unstable();
    for rupiah in [1_500_000i64, 2_500_000, 3_500_000] {
        assert!(amounts.contains(&(rupiah * 100)), "{amounts:?}");
    }
    let big_row = inbound
        .iter()
        .find(|r| r.subject == "Bukti transfer besar")
        .expect("the big mail is recorded");
    assert!(
        big_row.outcome.contains("message size over the limit"),
        "{big_row:?}"
    );
    // Only its header block was downloaded and kept.
    let kept = daemon
        .desk
        .slips()
        .get(big_row.raw_hash.as_deref().unwrap())
        .await
        .unwrap();
    assert!(kept.len() < 4096, "{} bytes kept", kept.len());
    let answered = daemon
        .outbox()
        .await
        .into_iter()
        .filter(|r| r.email_kind.as_deref() == Some("limits_exceeded"))
        .count();
    assert_eq!(answered, 1, "the sender is told the limit");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_maildir_file_is_never_read_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = settings(dir.path(), None).await;
    s.limits.max_message_bytes = 64 * 1024;
    let settings = Arc::new(s);
    let customer = fresh_address("besar");
    add_customer(&settings, "PT Besar", &customer).await;
    let new = settings.maildir_path().join("new");
    std::fs::create_dir_all(&new).unwrap();
    let big = slip_mail(
        &customer,
        &message_id("bigfile"),
        "Bukti besar",
        "Bukti terlampir",
        &vec![9u8; 1024 * 1024],
    );
    std::fs::write(new.join("1.big.host"), &big).unwrap();
    std::fs::write(
        new.join("2.small.host"),
        text_mail(
            &customer,
            &message_id("small"),
            "Top up",
            "",
            "Mohon top up Rp 2.000.000",
        ),
    )
    .unwrap();
    let daemon = Daemon::start(settings.clone()).await;
    eventually("both files are handled", 20, async || {
        daemon.inbound().await.len() == 2
    })
    .await;
    let inbound = daemon.inbound().await;
    let big_row = inbound.iter().find(|r| r.subject == "Bukti besar").unwrap();
    assert!(big_row.outcome.contains("over the limit"), "{big_row:?}");
    let kept = daemon
        .desk
        .slips()
        .get(big_row.raw_hash.as_deref().unwrap())
        .await
        .unwrap();
    assert!(kept.len() < 4096, "headers only: {} bytes", kept.len());
    assert_eq!(
        daemon.orders().await.len(),
        1,
        "the small one became an order"
    );
    eventually("both moved to cur/", 10, async || {
        std::fs::read_dir(&new).unwrap().count() == 0
    })
    .await;
    daemon.stop().await;
}
