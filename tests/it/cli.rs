//! The operator CLI through the real `topup` binary, on the same store the
//! daemon uses (`--data-dir`, or a PostgreSQL URL through the environment).

use std::path::Path;
use std::process::{Command, Output};

use topup::domain::Lang;

use crate::helpers::TestDesk;

fn topup(dir: &Path, db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_topup"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("TOPUP__DATABASE__URL", db_url)
        .env_remove("TOPUP_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run topup")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[tokio::test]
async fn operators_manage_accounts_users_staff_and_decide_orders() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let db = t.settings.database.url.clone();

    ok(&topup(dir, &db, &["migrate"]));
    let out = ok(&topup(
        dir,
        &db,
        &[
            "account",
            "add",
            "PT Sinar Abadi",
            "--email",
            "Finance@Sinar.co.id",
            "--lang",
            "en",
        ],
    ));
    assert!(out.contains("Added account PT Sinar Abadi"), "{out}");
    assert!(out.contains("main user finance@sinar.co.id"), "{out}");
    ok(&topup(
        dir,
        &db,
        &[
            "user",
            "add",
            "PT Sinar Abadi",
            "pic@sinar.co.id",
            "--discord",
            "123456789",
        ],
    ));
    let users = ok(&topup(dir, &db, &["user", "list", "PT Sinar Abadi"]));
    assert!(
        users.contains("pic@sinar.co.id") && users.contains("123456789"),
        "{users}"
    );
    ok(&topup(
        dir,
        &db,
        &["staff", "add", "rina", "--email", "rina@desk.id"],
    ));
    assert!(ok(&topup(dir, &db, &["staff", "list"])).contains("rina@desk.id"));

    // Duplicates and bad input: one line, exit 2.
    let err = refused(&topup(
        dir,
        &db,
        &["account", "add", "PT Sinar Abadi", "--email", "x@y.id"],
    ));
    assert!(
        err.contains("already exists: an account named \"PT Sinar Abadi\""),
        "{err}"
    );
    let err = refused(&topup(dir, &db, &["user", "add", "PT Nowhere", "a@b.id"]));
    assert!(err.contains("not found: account \"PT Nowhere\""), "{err}");
    let err = refused(&topup(
        dir,
        &db,
        &[
            "account", "add", "PT X", "--email", "x@x.id", "--lang", "fr",
        ],
    ));
    assert!(err.contains("unknown language"), "{err}");

    // An order submitted by the customer (through the library, as the daemon would).
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let account = topup::store::accounts::find_account(&mut conn, "PT Sinar Abadi")
        .await
        .unwrap();
    let users = topup::store::accounts::list_users(&mut conn, Some(account.id))
        .await
        .unwrap();
    drop(conn);
    let order = t.dealing(&users[0], 1_500_000).await;
    let typed = order.number.to_lowercase().replace('-', "");

    let list = ok(&topup(dir, &db, &["order", "list", "--status", "dealing"]));
    assert!(list.contains(&order.number), "{list}");
    let show = ok(&topup(dir, &db, &["order", "show", &typed]));
    assert!(show.contains("Status    dealing (Dealing)"), "{show}");
    assert!(show.contains("IDR 1,500,000"), "{show}");

    let err = refused(&topup(
        dir,
        &db,
        &["order", "approve", &order.number, "--staff", "nobody"],
    ));
    assert!(err.contains("no staff member \"nobody\""), "{err}");
    let err = refused(&topup(
        dir,
        &db,
        &[
            "order",
            "approve",
            &order.number,
            "--staff",
            "rina",
            "--amount",
            "abc",
        ],
    ));
    assert!(err.contains("--amount"), "{err}");
    let err = refused(&topup(dir, &db, &["order", "show", "TU-2026"]));
    assert!(!err.is_empty());

    let out = ok(&topup(
        dir,
        &db,
        &[
            "order",
            "approve",
            &typed,
            "--staff",
            "rina",
            "--amount",
            "Rp 1.450.000",
        ],
    ));
    assert!(
        out.contains("credited 1450000; balance now 1450000"),
        "{out}"
    );
    let err = refused(&topup(
        dir,
        &db,
        &[
            "order",
            "reject",
            &order.number,
            "--staff",
            "rina",
            "--reason",
            "late",
        ],
    ));
    assert!(err.contains("already paid by staff rina"), "{err}");
    let err = refused(&topup(dir, &db, &["order", "cancel", &order.number]));
    assert!(err.contains("cannot cancel order"), "{err}");

    let balance = ok(&topup(dir, &db, &["balance", "PT Sinar Abadi"]));
    assert_eq!(balance.trim(), "PT Sinar Abadi: IDR 1,450,000");
    let json: serde_json::Value = serde_json::from_str(&ok(&topup(
        dir,
        &db,
        &["--json", "balance", &account.id.to_string()],
    )))
    .unwrap();
    assert_eq!(json["balance"], "1450000");

    let shown: serde_json::Value = serde_json::from_str(&ok(&topup(
        dir,
        &db,
        &["--json", "order", "show", &order.number],
    )))
    .unwrap();
    assert_eq!(shown["order"]["status"], "paid");
    assert_eq!(shown["order"]["paid_minor"], 145_000_000);
    assert_eq!(shown["events"].as_array().unwrap().len(), 3);

    // The receipt is a PDF file.
    let pdf = dir.join("r.pdf");
    ok(&topup(
        dir,
        &db,
        &[
            "order",
            "receipt",
            &order.number,
            "--out",
            pdf.to_str().unwrap(),
        ],
    ));
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
}

#[tokio::test]
async fn reject_and_cancel_from_the_cli_and_outbox_listing() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let db = t.settings.database.url.clone();
    let user = t.customer("PT Tolak", "t@tolak.id", Lang::Id).await;
    t.staff("budi").await;
    let a = t.dealing(&user, 800_000).await;
    let b = t.request(&user, 100_000).await;

    let out = ok(&topup(
        dir,
        &db,
        &[
            "order",
            "reject",
            &a.number,
            "--staff",
            "budi",
            "--reason",
            "not_received",
        ],
    ));
    assert!(out.contains("Dana transfer belum kami terima"), "{out}");
    let out = ok(&topup(
        dir,
        &db,
        &["order", "cancel", &format!("#{}", b.number)],
    ));
    assert!(out.contains(&format!("Cancelled {}", b.number)), "{out}");

    let outbox = ok(&topup(dir, &db, &["outbox", "list", "--status", "pending"]));
    assert_eq!(
        outbox.lines().filter(|l| l.contains("t@tolak.id")).count(),
        5,
        "{outbox}"
    );
    let err = refused(&topup(dir, &db, &["outbox", "retry", "1"]));
    assert!(err.contains("is not dead"), "{err}");
    let accounts = ok(&topup(dir, &db, &["account", "list"]));
    assert!(
        accounts.contains("PT Tolak") && accounts.contains("Rp 0"),
        "{accounts}"
    );
}

#[test]
fn a_bad_config_is_reported_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[desk]\nconfirm_hours = 0\nclose_hours = -1\n[web]\nlisten = \"nowhere\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_topup"))
        .args(["--config", cfg.to_str().unwrap(), "account", "list"])
        .output()
        .unwrap();
    let err = refused(&out);
    assert!(err.contains("3 problem(s)"), "{err}");
    std::fs::write(&cfg, "[desk]\nconfrm_hours = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_topup"))
        .args(["--config", cfg.to_str().unwrap(), "account", "list"])
        .output()
        .unwrap();
    let err = refused(&out);
    assert!(err.contains("confrm_hours"), "{err}");
}

#[tokio::test]
async fn messages_from_unknown_senders_are_listed_and_shown_to_operators() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let db = t.settings.database.url.clone();
    let raw = b"From: Stranger <who@nowhere.example>\r\nSubject: Saldo?\r\nMessage-ID: <s1@nowhere.example>\r\n\r\nTolong isi saldo 1 juta\r\n";
    let inbound = topup::sources::inbound_from_email(raw.to_vec(), vec![], &t.settings);
    t.desk.handle_inbound(inbound).await.unwrap();
    let list = ok(&topup(dir, &db, &["inbound", "list", "--unhandled"]));
    assert!(
        list.contains("who@nowhere.example") && list.contains("unknown_sender"),
        "{list}"
    );
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let shown = ok(&topup(dir, &db, &["inbound", "show", &id]));
    assert!(
        shown.contains("Tolong isi saldo 1 juta"),
        "the message is kept as it arrived: {shown}"
    );
    let err = refused(&topup(dir, &db, &["inbound", "show", "999"]));
    assert!(err.contains("not found: message 999"), "{err}");
}

/// One line on stderr, exit code 2, no backtrace.
fn one_clear_line(out: &Output) -> String {
    let err = refused(out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    err
}

#[tokio::test]
async fn operator_input_is_validated_at_the_boundary() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let url = &t.settings.database.url;
    let err = one_clear_line(&topup(
        dir,
        url,
        &[
            "account",
            "add",
            "PT Baris",
            "--email",
            "a@b.id\r\nBcc: x@evil.test",
        ],
    ));
    assert!(err.contains("not an email address"), "{err}");
    assert!(
        !err.contains("already exists") && !err.contains("database"),
        "{err}"
    );
    let err = one_clear_line(&topup(
        dir,
        url,
        &["account", "add", "PT Spasi", "--email", "bu di@spasi.id"],
    ));
    assert!(err.contains("not an email address"), "{err}");
    let long = "N".repeat(10_000);
    let err = one_clear_line(&topup(
        dir,
        url,
        &["account", "add", &long, "--email", "a@panjang.id"],
    ));
    assert!(err.contains("longer than 120"), "{err}");
    let err = one_clear_line(&topup(
        dir,
        url,
        &[
            "account",
            "add",
            "PT \u{1b}[31mMerah",
            "--email",
            "a@merah.id",
        ],
    ));
    assert!(err.contains("control characters"), "{err}");
    ok(&topup(
        dir,
        url,
        &["account", "add", "PT Benar", "--email", "ops@benar.id"],
    ));
    let err = one_clear_line(&topup(
        dir,
        url,
        &["user", "add", "PT Benar", "x y@benar.id"],
    ));
    assert!(err.contains("not an email address"), "{err}");
    let err = one_clear_line(&topup(
        dir,
        url,
        &[
            "user",
            "add",
            "PT Benar",
            "pic@benar.id",
            "--discord",
            "budi#1234",
        ],
    ));
    assert!(err.contains("not a Discord user id"), "{err}");
    let err = one_clear_line(&topup(dir, url, &["staff", "add", "   "]));
    assert!(err.contains("staff name is empty"), "{err}");
    // A duplicate is a duplicate, said plainly.
    let err = one_clear_line(&topup(
        dir,
        url,
        &["account", "add", "PT Benar", "--email", "x@benar2.id"],
    ));
    assert!(
        err.contains("already exists") && !err.contains("database failed"),
        "{err}"
    );
    // Nothing of the refused input was stored.
    let list = ok(&topup(dir, url, &["account", "list"]));
    assert_eq!(list.lines().count(), 2, "{list}");
}

#[test]
fn a_config_path_that_is_a_directory_or_an_unreachable_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_topup"))
        .current_dir(dir.path())
        .args(["--config", dir.path().to_str().unwrap(), "account", "list"])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let err = one_clear_line(&out);
    assert!(err.contains("not a file"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing created on defaults"
    );

    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_topup"))
        .current_dir(dir.path())
        .args(["account", "list"])
        .env("TOPUP__DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("TOPUP_CONFIG")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let err = one_clear_line(&out);
    assert!(
        err.contains("Cannot open database") || err.contains("Cannot reach database"),
        "{err}"
    );
    assert!(!err.contains("nobody:"), "no credentials printed");
    eprintln!(
        "unreachable database reported after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn failed_messages_are_listed_and_can_be_handled_again() {
    let t = TestDesk::new().await;
    t.customer("PT Gagal", "ops@gagal.id", Lang::Id).await;
    crate::hostile::poison_trigger(&t).await;
    let raw =
        b"From: Ops <ops@gagal.id>\r\nTo: topup@localhost\r\nSubject: POISON top up 2 juta\r\n\
Message-ID: <poison-1@gagal.id>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Mohon top up Rp 2.000.000.\r\n";
    let out = topup::sources::handle_email(&t.desk, raw.to_vec(), vec![])
        .await
        .unwrap();
    assert!(out.failed(), "{}", out.outcome);
    let id = out.inbound_id.unwrap().to_string();
    let dir = t.dir.path();
    let url = &t.settings.database.url;
    let listed = ok(&topup(dir, url, &["inbound", "list", "--failed"]));
    assert!(
        listed.contains("failed: ") && listed.contains("poison subject refused"),
        "{listed}"
    );
    // Still failing: it stays failed and says why.
    let still = topup(dir, url, &["inbound", "retry", &id]);
    assert_eq!(still.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&still.stderr).contains("poison subject refused"));
    let listed = ok(&topup(dir, url, &["inbound", "list", "--failed"]));
    assert_eq!(
        listed.lines().count(),
        2,
        "still one failed message: {listed}"
    );
    // The cause is fixed: handled again, the order is made, the failed list is empty.
    sqlx::raw_sql("DROP TRIGGER poison")
        .execute(t.desk.store().pool())
        .await
        .or(sqlx::raw_sql("DROP TRIGGER poison ON inbound_messages")
            .execute(t.desk.store().pool())
            .await)
        .unwrap();
    let again = ok(&topup(dir, url, &["inbound", "retry", &id]));
    assert!(again.contains("created TU-"), "{again}");
    let listed = ok(&topup(dir, url, &["inbound", "list", "--failed"]));
    assert_eq!(listed.lines().count(), 1, "only the header: {listed}");
}

/// `topup backup` makes a copy that is a working desk; on PostgreSQL it
/// points to pg_dump instead of pretending.
#[tokio::test]
async fn backup_copies_a_sqlite_desk_and_refuses_postgres_with_a_pointer() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let db = t.settings.database.url.clone();
    ok(&topup(dir, &db, &["migrate"]));
    ok(&topup(
        dir,
        &db,
        &[
            "account",
            "add",
            "PT Cadangan",
            "--email",
            "boss@cadangan.id",
        ],
    ));
    let copy = dir.join("backup.db");
    let copy_arg = copy.to_str().unwrap();
    if db.starts_with("postgres") {
        let err = refused(&topup(dir, &db, &["backup", copy_arg]));
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!copy.exists());
        return;
    }
    let out = ok(&topup(dir, &db, &["backup", copy_arg]));
    assert!(out.contains("Backed up the database to"), "{out}");
    // The copy is a desk of its own: restore = point database.url at it.
    let restored = format!("sqlite://{}", copy.display());
    let list = ok(&topup(dir, &restored, &["account", "list"]));
    assert!(list.contains("PT Cadangan"), "{list}");
    // An existing file is never overwritten.
    let err = refused(&topup(dir, &db, &["backup", copy_arg]));
    assert!(err.contains("exists"), "{err}");
}

/// The shipped systemd unit is valid and hardened (checked by systemd's own
/// tools where they exist).
#[test]
fn the_systemd_unit_is_valid_and_hardened() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/topup.service"
    ))
    .unwrap();
    for line in [
        "User=topup",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/topup",
        "ExecStartPre=/usr/local/bin/topup migrate",
        "ExecStart=/usr/local/bin/topup run",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: checked the unit's lines only");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    // verify wants the binaries to exist: point them at the one just built.
    let path = dir.path().join("topup.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/topup", env!("CARGO_BIN_EXE_topup")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    let level: f32 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for topup.service: ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level: {text}"));
    assert!(level <= 2.0, "exposure {level}: {text}");
}
