//! Bank statements end to end: every supported format read from files
//! written the way the banks export them (tests/statements/), recorded
//! once, matched to the right order or listed as money without an order,
//! approved by the system when configured, and hostile files refused with
//! a clear answer and nothing recorded. Runs on the store chosen by
//! `TOPUP_TEST_DB`.

#[path = "support/db.rs"]
mod db;
#[allow(dead_code)]
#[path = "it/helpers.rs"]
mod helpers;
#[path = "support/web_app.rs"]
mod web_app;

use std::path::Path;

use helpers::TestDesk;
use topup::config::AutoApprove;
use topup::desk::statements::{ImportReport, LineState, Rule};
use topup::desk::{Actor, Decision};
use topup::domain::Lang;
use topup::store::orders::OrderRow;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/statements")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Orders in every state, numbered as the fixtures expect
/// (TU-20261125-0001 ... 0007, all made on 2026-11-25).
struct Store {
    orders: Vec<OrderRow>,
}

async fn orders_in_every_state(t: &TestDesk) -> Store {
    let sinar = t
        .customer("PT Sinar Abadi", "budi@sinar.example", Lang::Id)
        .await;
    let maju = t
        .customer("CV Maju Jaya", "sari@maju.example", Lang::Id)
        .await;
    let sumber = t
        .customer("PT Sumber Rejeki", "eko@sumber.example", Lang::En)
        .await;
    let cahaya = t
        .customer("PT Cahaya Timur", "rina@cahaya.example", Lang::Id)
        .await;
    let staff = t.staff("rina").await;
    let o1 = t.dealing(&sinar, 2_500_000).await; // 0001 dealing, number in the remark
    let o2 = t.request(&maju, 1_000_000).await; // 0002 open, number without hyphens
    let o3 = t.dealing(&sumber, 750_000).await; // 0003 dealing, amount and payer only
    let o4 = t.dealing(&cahaya, 500_000).await; // 0004 \ the same amount:
    let o5 = t.request(&sinar, 500_000).await; // 0005 / ambiguous
    let o6 = t.dealing(&maju, 300_000).await; // 0006 paid already
    let n6 = t.desk.parse_order_number(&o6.number).unwrap();
    let o6 = t
        .desk
        .decide(&n6, &staff, &Decision::Approve { amount: None })
        .await
        .unwrap();
    let o7 = t.request(&sumber, 200_000).await; // 0007 cancelled
    let n7 = t.desk.parse_order_number(&o7.number).unwrap();
    let o7 = t.desk.cancel(&Actor::Operator, &n7, None).await.unwrap();
    let orders = vec![o1, o2, o3, o4, o5, o6, o7];
    for (i, o) in orders.iter().enumerate() {
        assert_eq!(o.number, format!("TU-20261125-{:04}", i + 1));
    }
    Store { orders }
}

/// What each of the nine fixture lines must become.
const EXPECTED: [(LineState, Option<&str>, Option<Rule>); 9] = [
    (
        LineState::Matched,
        Some("TU-20261125-0001"),
        Some(Rule::OrderNumber),
    ),
    (
        LineState::Matched,
        Some("TU-20261125-0002"),
        Some(Rule::OrderNumber),
    ),
    (
        LineState::Suggested,
        Some("TU-20261125-0003"),
        Some(Rule::Amount),
    ),
    (LineState::Ambiguous, None, None),
    // Money for an order already paid, and for a cancelled order: never matched.
    (LineState::Unmatched, None, None),
    (LineState::Unmatched, None, None),
    // Money without an order.
    (LineState::Unmatched, None, None),
    (LineState::Debit, None, None),
    // The number of an order that already has its money, another amount.
    (LineState::Unmatched, None, None),
];

fn assert_expected(file: &str, report: &ImportReport) {
    assert_eq!(report.lines.len(), 9, "{file}: {report:#?}");
    for (l, (state, order, rule)) in report.lines.iter().zip(EXPECTED) {
        assert_eq!(
            (l.state, l.order.as_deref(), l.rule),
            (state, order, rule),
            "{file} line {}: {l:?}",
            l.line
        );
    }
    let ambiguous = &report.lines[3];
    assert_eq!(
        ambiguous.candidates,
        vec!["TU-20261125-0004", "TU-20261125-0005"],
        "{file}"
    );
    assert_eq!(report.lines[0].amount, "2500000");
    assert_eq!(report.lines[0].date, "2026-11-30");
}

async fn import(t: &TestDesk, file: &str) -> ImportReport {
    t.desk
        .import_file(&fixture(file), None, None, file, "test")
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn generic_mapping(s: &mut topup::config::Settings) {
    s.statements.csv = Some(topup::statement::table::ColumnMapping {
        bank: "BCA".into(),
        account: "555".into(),
        date: vec!["Booking date".into()],
        description: vec!["Remark".into()],
        payer: vec!["Payer".into()],
        reference: vec!["Ref".into()],
        amount: vec!["Mutation".into()],
        balance: vec!["Balance".into()],
        ..Default::default()
    });
}

#[tokio::test]
async fn every_format_matches_each_line_to_the_right_order_and_reimport_adds_nothing() {
    for file in [
        "bca.csv",
        "bca.xlsx",
        "mandiri.csv",
        "bni.csv",
        "bri.csv",
        "statement.mt940",
        "generic.csv",
    ] {
        // The clock: statements arrive on 30/11.
        let t = TestDesk::with(generic_mapping).await;
        let store = orders_in_every_state(&t).await;
        let report = import(&t, file).await;
        assert_expected(file, &report);

        // Again, and again under another name: nothing new, same answers.
        let again = import(&t, file).await;
        assert!(
            again.lines.iter().all(|l| l.state == LineState::Duplicate),
            "{file}: {again:#?}"
        );
        assert_eq!(
            again.lines[0].order.as_deref(),
            Some("TU-20261125-0001"),
            "{file}"
        );
        // The orders' views carry their line and rule.
        let n1 = t.desk.parse_order_number(&store.orders[0].number).unwrap();
        let view = t.desk.view(&n1).await.unwrap();
        assert_eq!(view.statement_lines.len(), 1, "{file}");
        assert_eq!(
            view.statement_lines[0].rule.as_deref(),
            Some("order_number")
        );
        // Nothing was approved without auto-approval.
        assert_eq!(view.order.status, "dealing", "{file}");
        // Money without an order is listed.
        let unmatched = t.desk.unmatched_lines(100).await.unwrap();
        assert_eq!(unmatched.len(), 5, "{file}: {unmatched:#?}");
    }
}

#[tokio::test]
async fn overlapping_statements_record_each_line_once() {
    let t = TestDesk::new().await;
    orders_in_every_state(&t).await;
    let full = String::from_utf8(fixture("mandiri.csv")).unwrap();
    let rows: Vec<&str> = full.split("\r\n").collect();
    // The first half, then the whole period.
    let first: String = rows[..5].join("\r\n");
    let r1 = t
        .desk
        .import_file(first.as_bytes(), None, Some("1"), "first.csv", "test")
        .await
        .unwrap();
    assert_eq!(r1.lines.len(), 4);
    let r2 = t
        .desk
        .import_file(full.as_bytes(), None, Some("1"), "full.csv", "test")
        .await
        .unwrap();
    assert_eq!(r2.count(LineState::Duplicate), 4);
    assert_eq!(r2.lines.len() - r2.count(LineState::Duplicate), 5);
    assert_expected_states_of_tail(&r2);
}

fn assert_expected_states_of_tail(r: &ImportReport) {
    for (l, (state, _, _)) in r.lines.iter().zip(EXPECTED).skip(4) {
        assert_eq!(l.state, state, "{l:?}");
    }
}

#[tokio::test]
async fn two_equal_transfers_on_one_day_are_two_lines() {
    let t = TestDesk::new().await;
    let text = "Tgl.;Rincian Transaksi;Debit;Kredit\n\
        30/11/2026;SETORAN;0,00;100.000,00\n\
        30/11/2026;SETORAN;0,00;100.000,00\n";
    let r = t
        .desk
        .import_file(text.as_bytes(), None, Some("1"), "a.csv", "test")
        .await
        .unwrap();
    assert_eq!(r.count(LineState::Unmatched), 2);
    let r = t
        .desk
        .import_file(text.as_bytes(), None, Some("1"), "a.csv", "test")
        .await
        .unwrap();
    assert_eq!(r.count(LineState::Duplicate), 2);
}

#[tokio::test]
async fn auto_approve_pays_matched_dealing_orders_as_the_system() {
    let t = TestDesk::with(|s| s.desk.auto_approve = AutoApprove::Matched).await;
    let store = orders_in_every_state(&t).await;
    let report = import(&t, "bca.csv").await;
    assert_expected("bca.csv", &report);
    // 0001 was dealing and matched by number: paid by the system.
    assert!(report.lines[0].approved);
    let o1 = &store.orders[0];
    let view = t
        .desk
        .view(&t.desk.parse_order_number(&o1.number).unwrap())
        .await
        .unwrap();
    assert_eq!(view.order.status, "paid");
    let by = format!("system (statement line {})", report.lines[0].id);
    assert_eq!(view.order.decided_by.as_deref(), Some(by.as_str()));
    assert_eq!(t.balance(o1.account_id).await, 250_000_000);
    assert!(
        t.outbox_kinds(o1.id)
            .await
            .contains(&"email:paid".to_string()),
        "{:?}",
        t.outbox_kinds(o1.id).await
    );
    let approve = view.events.iter().find(|e| e.event == "approve").unwrap();
    assert_eq!(approve.actor_kind, "system");
    assert_eq!(approve.actor, by);
    // 0002 is open (no slip yet), 0003 only suggested: both wait for staff.
    assert!(!report.lines[1].approved && !report.lines[2].approved);
    // When 0002's slip comes, the money is already on the statement: paid at once.
    let o2 = &store.orders[1];
    let maju = {
        let mut conn = t.desk.store().pool().acquire().await.unwrap();
        topup::store::accounts::main_user(&mut conn, o2.account_id)
            .await
            .unwrap()
    };
    let slip = t.slip(b"slip of 0002").await;
    let n2 = t.desk.parse_order_number(&o2.number).unwrap();
    let after = t
        .desk
        .submit_slip(
            &maju,
            Some(&n2),
            &[slip],
            None,
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap();
    assert_eq!(after.status, "paid");
    assert_eq!(
        after.decided_by.as_deref(),
        Some(format!("system (statement line {})", report.lines[1].id).as_str())
    );
    let o3 = t
        .desk
        .view(&t.desk.parse_order_number(&store.orders[2].number).unwrap())
        .await
        .unwrap();
    assert_eq!(o3.order.status, "dealing");
    // The receipt of a system approval is made.
    let receipt = topup::outbox::deliver::receipt_for(
        &t.desk,
        &t.desk.parse_order_number(&o1.number).unwrap(),
    )
    .await
    .unwrap();
    assert!(receipt.starts_with(b"%PDF"));
}

#[tokio::test]
async fn money_without_an_order_is_attached_to_an_account_as_a_paid_order() {
    let t = TestDesk::new().await;
    let store = orders_in_every_state(&t).await;
    let staff = t.staff("joko").await;
    let report = import(&t, "bca.csv").await;
    let free = &report.lines[6];
    assert_eq!(free.state, LineState::Unmatched);
    let account = store.orders[1].account_id;
    let before = t.balance(account).await;
    let order = t
        .desk
        .attach_line_to_account(free.id, "CV Maju Jaya", &staff)
        .await
        .unwrap();
    assert_eq!(order.status, "paid");
    assert_eq!(order.paid_minor, Some(123_456_700));
    assert_eq!(t.balance(account).await, before + 123_456_700);
    assert!(
        t.outbox_kinds(order.id)
            .await
            .contains(&"email:paid".to_string())
    );
    // It is no longer unmatched, and cannot be attached twice.
    assert!(
        t.desk
            .unmatched_lines(100)
            .await
            .unwrap()
            .iter()
            .all(|l| l.id != free.id)
    );
    let again = t
        .desk
        .attach_line_to_account(free.id, "CV Maju Jaya", &staff)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already belongs"), "{again}");
    // A debit is never an order's money.
    let debit = &report.lines[7];
    let err = t
        .desk
        .attach_line_to_account(debit.id, "CV Maju Jaya", &staff)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("debit"), "{err}");
    // Staff attach the ambiguous line to the order it pays; never to a second one.
    let amb = &report.lines[3];
    let n4 = t.desk.parse_order_number(&store.orders[3].number).unwrap();
    let row = t
        .desk
        .attach_line_to_order(amb.id, &n4, &staff)
        .await
        .unwrap();
    assert_eq!(row.order_number.as_deref(), Some("TU-20261125-0004"));
    let other = &report.lines[4];
    let err = t
        .desk
        .attach_line_to_order(other.id, &n4, &staff)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("already has a statement line"),
        "{err}"
    );
}

#[tokio::test]
async fn hostile_files_are_refused_whole_with_a_reason_and_record_nothing() {
    let t = TestDesk::with(|s| s.statements.max_bytes = 64 * 1024).await;
    orders_in_every_state(&t).await;
    let bad_row = "Tgl.;Rincian Transaksi;Debit;Kredit\n\
        30/11/2026;TU-20261125-0001;0,00;2.500.000,00\n\
        30/11/2026;forged;0,00;2.500,000.00\n";
    let huge = vec![b'x'; 64 * 1024 + 1];
    let mut truncated_xlsx = fixture("bca.xlsx");
    truncated_xlsx.truncate(300);
    // A zip bomb dressed as an Excel export: 8 KB that unpack to 8 MB.
    let bomb = {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("[Content_Types].xml", deflated).unwrap();
        w.write_all(b"<?xml version=\"1.0\"?><Types/>").unwrap();
        w.start_file("xl/worksheets/sheet1.xml", deflated).unwrap();
        w.write_all(&vec![b' '; 8 * 1024 * 1024]).unwrap();
        w.finish().unwrap().into_inner()
    };
    assert!(bomb.len() < 64 * 1024, "the bomb itself is small");
    let cases: Vec<(&str, Vec<u8>, Option<topup::statement::Format>, &str)> = vec![
        ("zip bomb", bomb, None, "unpacks to more than 655360 bytes"),
        ("bad row", bad_row.as_bytes().to_vec(), None, "row 3"),
        ("huge", huge, None, "more than the 65536 bytes"),
        ("empty", Vec::new(), None, "empty"),
        (
            "broken mt940",
            b":20:X\r\n:25:1\r\n:61:2611301130C2500000,00\r\n".to_vec(),
            None,
            "MT940",
        ),
        (
            "binary",
            vec![0u8, 159, 146, 150, 255, 0, 1],
            None,
            "not a statement",
        ),
        ("truncated xlsx", truncated_xlsx, None, "spreadsheet"),
        (
            "wrong format named",
            fixture("bca.csv"),
            Some(topup::statement::Format::Mandiri),
            "mandiri layout",
        ),
    ];
    for (what, bytes, format, says) in cases {
        let err = t
            .desk
            .import_file(&bytes, format, None, what, "test")
            .await
            .unwrap_err();
        assert!(err.to_string().contains(says), "{what}: {err}");
    }
    assert!(t.desk.unmatched_lines(100).await.unwrap().is_empty());
    let n1 = t.desk.parse_order_number("TU-20261125-0001").unwrap();
    assert!(t.desk.view(&n1).await.unwrap().statement_lines.is_empty());
}

#[tokio::test]
async fn mangled_statements_never_panic() {
    // Every fixture with bytes flipped, cut and repeated: an answer every time.
    let t = TestDesk::new().await;
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for file in [
        "bca.csv",
        "mandiri.csv",
        "bni.csv",
        "bri.csv",
        "statement.mt940",
        "bca.xlsx",
    ] {
        let original = fixture(file);
        for _ in 0..40 {
            let mut bytes = original.clone();
            let n = usize::try_from(next() % 8).unwrap() + 1;
            for _ in 0..n {
                let i = usize::try_from(next()).unwrap() % bytes.len();
                bytes[i] = u8::try_from(next() % 256).unwrap();
            }
            let cut = usize::try_from(next()).unwrap() % bytes.len();
            for candidate in [bytes.clone(), bytes[..cut].to_vec()] {
                let _ = t
                    .desk
                    .import_file(&candidate, None, Some("fuzz"), file, "test")
                    .await;
            }
        }
    }
}

#[tokio::test]
async fn a_slip_without_money_on_later_statements_is_flagged() {
    let t = TestDesk::new().await;
    let u = t
        .customer("PT Sinar Abadi", "budi@sinar.example", Lang::Id)
        .await;
    // Slip on Wednesday 2026-11-25.
    let o = t.dealing(&u, 900_000).await;
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    // Statements through Thursday: too early to say.
    assert_eq!(t.desk.missing_flag(&o, false, Some(day(26))), None);
    // Through Friday (two business days after): flagged.
    assert_eq!(t.desk.missing_flag(&o, false, Some(day(27))), Some(day(27)));
    assert_eq!(
        topup::desk::statements::not_on_statement(day(27), Lang::En),
        "not on the statement through 2026-11-27"
    );
    assert_eq!(
        topup::desk::statements::not_on_statement(day(27), Lang::Id),
        "belum ada di mutasi rekening sampai 2026-11-27"
    );
    // With its line, or when no statement was imported: no flag.
    assert_eq!(t.desk.missing_flag(&o, true, Some(day(30))), None);
    assert_eq!(t.desk.missing_flag(&o, false, None), None);
    // The date statements cover is the last booking date imported.
    let text = "Tgl.;Rincian Transaksi;Debit;Kredit\n27/11/2026;SETORAN;0,00;1,00\n";
    t.desk
        .import_file(text.as_bytes(), None, Some("1"), "a.csv", "test")
        .await
        .unwrap();
    assert_eq!(t.desk.covered_through().await.unwrap(), Some(day(27)));
}

/// A mail from `from` with `file` attached (base64), as a bank's or the finance team's mailer sends it.
fn statement_mail(from: &str, message_id: &str, file: &str, auth: Option<&str>) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(fixture(file));
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let auth = auth
        .map(|a| format!("Authentication-Results: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "{auth}From: Finance <{from}>\r\nTo: topup@desk.example\r\nSubject: Mutasi 30/11\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n\
         Mutasi terlampir.\r\n--b1\r\nContent-Type: text/csv; name=\"{file}\"\r\n\
         Content-Disposition: attachment; filename=\"{file}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

async fn emails_to(t: &TestDesk, to: &str) -> Vec<String> {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::outbox::list(&mut conn, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.recipient == to)
        .map(|r| r.email_kind.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn statements_mailed_by_a_configured_sender_are_imported_once_and_answered() {
    let t =
        TestDesk::with(|s| s.statements.senders = vec!["Finance@Sinar-Desk.example".into()]).await;
    orders_in_every_state(&t).await;
    let raw = statement_mail("finance@sinar-desk.example", "m1@bank", "bca.csv", None);
    let out = topup::sources::handle_email(&t.desk, raw.clone(), vec![])
        .await
        .unwrap();
    assert!(out.outcome.contains("2 matched"), "{}", out.outcome);
    let n1 = t.desk.parse_order_number("TU-20261125-0001").unwrap();
    assert_eq!(t.desk.view(&n1).await.unwrap().statement_lines.len(), 1);
    assert_eq!(
        emails_to(&t, "finance@sinar-desk.example").await,
        vec!["statement_imported"]
    );
    // Redelivered: nothing new, no second answer.
    let again = topup::sources::handle_email(&t.desk, raw, vec![])
        .await
        .unwrap();
    assert!(again.duplicate());
    assert_eq!(emails_to(&t, "finance@sinar-desk.example").await.len(), 1);
    // A bank's automatic mailer: imported, never answered (no mail loop).
    let auto = String::from_utf8(statement_mail(
        "finance@sinar-desk.example",
        "m5@bank",
        "mandiri.csv",
        None,
    ))
    .unwrap()
    .replacen("From:", "Auto-Submitted: auto-generated\r\nFrom:", 1);
    let out = topup::sources::handle_email(&t.desk, auto.into_bytes(), vec![])
        .await
        .unwrap();
    assert!(out.outcome.contains("mandiri.csv"), "{}", out.outcome);
    assert_eq!(emails_to(&t, "finance@sinar-desk.example").await.len(), 1);
}

#[tokio::test]
async fn statement_mail_from_anyone_else_is_never_a_statement() {
    let t = TestDesk::with(|s| {
        s.statements.senders = vec!["finance@sinar-desk.example".into()];
        s.mail.authserv_id = Some("mx.desk.example".into());
    })
    .await;
    orders_in_every_state(&t).await;
    // Another sender, and the configured address forged (authentication failed).
    let other = statement_mail("attacker@evil.example", "m2@evil", "bca.csv", None);
    topup::sources::handle_email(&t.desk, other, vec![])
        .await
        .unwrap();
    let forged = statement_mail(
        "finance@sinar-desk.example",
        "m3@evil",
        "bca.csv",
        Some("mx.desk.example; dmarc=fail header.from=sinar-desk.example; spf=fail"),
    );
    topup::sources::handle_email(&t.desk, forged, vec![])
        .await
        .unwrap();
    assert!(t.desk.unmatched_lines(100).await.unwrap().is_empty());
    let n1 = t.desk.parse_order_number("TU-20261125-0001").unwrap();
    assert!(t.desk.view(&n1).await.unwrap().statement_lines.is_empty());
    assert!(
        !emails_to(&t, "finance@sinar-desk.example")
            .await
            .contains(&"statement_imported".to_string())
    );
    // The genuine one, authenticated by our server, is imported.
    let genuine = statement_mail(
        "finance@sinar-desk.example",
        "m4@bank",
        "mandiri.csv",
        Some("mx.desk.example; dmarc=pass header.from=sinar-desk.example; spf=pass"),
    );
    let out = topup::sources::handle_email(&t.desk, genuine, vec![])
        .await
        .unwrap();
    assert!(out.outcome.contains("2 matched"), "{}", out.outcome);
}

#[tokio::test]
async fn unique_codes_make_amounts_name_their_orders() {
    use topup::config::CreditChoice;
    let t = TestDesk::with(|s| {
        s.desk.unique_code = true;
        s.desk.credit = CreditChoice::Transferred;
    })
    .await;
    let a = t
        .customer("PT Sinar Abadi", "budi@sinar.example", Lang::Id)
        .await;
    let b = t
        .customer("CV Maju Jaya", "sari@maju.example", Lang::Id)
        .await;
    let staff = t.staff("rina").await;
    let oa = t.dealing(&a, 1_000_000).await;
    let ob = t.dealing(&b, 1_000_000).await;
    let va = t
        .desk
        .view(&t.desk.parse_order_number(&oa.number).unwrap())
        .await
        .unwrap();
    let vb = t
        .desk
        .view(&t.desk.parse_order_number(&ob.number).unwrap())
        .await
        .unwrap();
    let (ta, tb) = (va.transfer_minor.unwrap(), vb.transfer_minor.unwrap());
    assert_ne!(ta, tb, "codes are unique among unsettled orders");
    // The customer's status page reads a lighter view: the same order,
    // people, timeline, slips and amount to transfer.
    let page = t.desk.page_view_by_token(&oa.token).await.unwrap();
    assert_eq!(page.transfer_minor, Some(ta));
    assert_eq!(page.order.number, va.order.number);
    assert_eq!(page.events.len(), va.events.len());
    assert_eq!(page.slips.len(), va.slips.len());
    assert_eq!(page.users.len(), va.users.len());
    assert_eq!(
        page.user.as_ref().map(|u| u.id),
        va.user.as_ref().map(|u| u.id)
    );
    for t in [ta, tb] {
        let code = t - 100_000_000;
        assert!((100..=99_900).contains(&code) && code % 100 == 0, "{t}");
    }
    // The order-created mail says what to transfer.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::for_order(&mut conn, oa.id)
        .await
        .unwrap();
    let created = rows
        .iter()
        .find(|r| r.email_kind.as_deref() == Some("order_created"))
        .unwrap();
    let want = topup::domain::money::Money::from_minor(ta).display(Lang::Id);
    assert!(created.payload.contains(&want), "{}", created.payload);
    drop(conn);
    // Two orders of the same amount, no number, no name: the code tells them apart.
    let text = format!(
        "Tgl.;Rincian Transaksi;Debit;Kredit\n30/11/2026;TRANSFER SINAR ABADI;0,00;{}\n",
        topup::domain::money::Money::from_minor(ta)
            .display(Lang::Id)
            .trim_start_matches("Rp ")
    );
    let r = t
        .desk
        .import_file(text.as_bytes(), None, Some("1"), "a.csv", "test")
        .await
        .unwrap();
    assert_eq!(r.lines[0].state, LineState::Suggested);
    assert_eq!(r.lines[0].order.as_deref(), Some(oa.number.as_str()));
    // Credited: the transferred amount (desk.credit = "transferred").
    let paid = t
        .desk
        .decide(
            &t.desk.parse_order_number(&oa.number).unwrap(),
            &staff,
            &Decision::Approve { amount: None },
        )
        .await
        .unwrap();
    assert_eq!(paid.paid_minor, Some(ta));
}

fn topup_cli(t: &TestDesk, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_topup"))
        .arg("--data-dir")
        .arg(t.dir.path())
        .args(args)
        .env("TOPUP__DATABASE__URL", &t.settings.database.url)
        .env_remove("TOPUP_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run topup")
}

#[tokio::test]
async fn the_cli_imports_lists_and_attaches() {
    let t = TestDesk::new().await;
    orders_in_every_state(&t).await;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/statements/bni.csv");
    let file = file.to_str().unwrap();
    let out = topup_cli(
        &t,
        &["--json", "statement", "import", file, "--format", "bni"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(
        lines[0],
        serde_json::json!({
            "line": 1, "date": "2026-11-30", "amount": "2500000",
            "description": lines[0]["description"], "reference": "000001",
            "state": "matched", "order": "TU-20261125-0001", "rule": "order_number",
            "id": lines[0]["id"],
        })
    );
    assert_eq!(lines[7]["state"], "debit");
    let out = topup_cli(&t, &["--json", "order", "show", "tu202611250001"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["statement_lines"][0]["rule"], "order_number");
    assert_eq!(
        shown["statement_lines"][0]["order_number"],
        "TU-20261125-0001"
    );
    assert_eq!(lines[7]["order"], serde_json::Value::Null);
    // Again: every line a duplicate; the text form says so.
    let out = topup_cli(&t, &["statement", "import", file]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("9 already imported"), "{text}");
    // Money without an order, listed and attached.
    let out = topup_cli(&t, &["--json", "statement", "unmatched"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 5);
    let free = rows
        .iter()
        .find(|r| r["amount_minor"] == 123_456_700)
        .unwrap()["id"]
        .to_string();
    t.staff("joko").await;
    let out = topup_cli(
        &t,
        &[
            "statement",
            "attach",
            &free,
            "--account",
            "PT Cahaya Timur",
            "--staff",
            "joko",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("credited 1234567"),
        "{text}"
    );
    // A file that cannot be read: exit 2 with the reason, nothing recorded.
    let bad = t.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Tgl.;Rincian Transaksi;Debit;Kredit\n99/99/2026;x;0,00;1,00\n",
    )
    .unwrap();
    let out = topup_cli(&t, &["statement", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("row 2") && !err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn staff_upload_a_statement_on_the_board_and_see_the_money_and_what_is_left() {
    let app = web_app::WebApp::spawn().await;
    let user = app
        .customer("PT Sinar Abadi", "budi@sinar.example", Lang::Id)
        .await;
    let order = app.dealing(&user, 2_500_000).await;
    let staff = app.staff("rina").await;
    let mut c = web_app::Client::new(&app);
    c.staff_sign_in(&staff.name, web_app::STAFF_PASSWORD).await;
    let csv = format!(
        "Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n\
         '30/11/2026,\"TRSF E-BANKING CR {} SINAR ABADI\",'0000,\"2,500,000.00\",CR,\"12,500,000.00\"\n\
         '30/11/2026,\"TRSF DARI BUDI\",'0000,\"777,000.00\",CR,\"13,277,000.00\"\n",
        order.number
    );
    // Without the CSRF field: refused, nothing imported.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.clone().into_bytes()).file_name("mutasi.csv"),
    );
    assert_eq!(
        c.post_multipart("/staff/statements", form).await.status,
        403
    );
    let form = reqwest::multipart::Form::new().text("csrf", c.csrf()).part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("mutasi.csv"),
    );
    let p = c.post_multipart("/staff/statements", form).await;
    assert_eq!(p.status, 303, "{}", p.text());
    let board = c.get("/staff").await.html();
    assert!(
        board.contains("Money arrived: BCA 30/11 Rp 2.500.000, berita"),
        "{board}"
    );
    assert!(board.contains("Money without an order"));
    // The staff API and the customer API carry the line and its rule.
    let auth = web_app::basic("rina", web_app::STAFF_PASSWORD);
    let q = c
        .get_with("/api/staff/queue", &[("authorization", &auth)])
        .await
        .json();
    assert_eq!(q["queue"][0]["statement_lines"][0]["rule"], "order_number");
    assert_eq!(
        q["queue"][0]["statement_lines"][0]["amount_minor"],
        250_000_000
    );
    let api = c.get(&format!("/api/orders/{}", order.token)).await.json();
    assert_eq!(api["statement_lines"][0]["state"], "matched");
    assert_eq!(api["statement_lines"][0]["rule"], "order_number");
    assert!(board.contains("Rp 777.000"), "{board}");
    // The unmatched credit attached to the company: a paid order.
    let mut conn = app.desk.store().pool().acquire().await.unwrap();
    let free = topup::store::statements::unmatched(&mut conn, 10)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(free.len(), 1);
    let p = c
        .submit(
            &format!("/staff/statements/{}/attach", free[0].id),
            &[("target", "PT Sinar Abadi")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text());
    assert_eq!(app.balance(user.account_id).await, 77_700_000);
    // A file the desk cannot read: the board says why.
    let form = reqwest::multipart::Form::new().text("csrf", c.csrf()).part(
        "file",
        reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("x.csv"),
    );
    let p = c.post_multipart("/staff/statements", form).await;
    assert_eq!(p.status, 400);
    assert!(
        p.html().contains("not a statement this desk reads"),
        "{}",
        p.html()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_statement_upload_is_refused_and_records_nothing() {
    let app = web_app::WebApp::spawn_with(|s| s.statements.max_bytes = 64 * 1024).await;
    let staff = app.staff("rina").await;
    let mut c = web_app::Client::new(&app);
    c.staff_sign_in(&staff.name, web_app::STAFF_PASSWORD).await;
    let mut csv = b"Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n".to_vec();
    while csv.len() <= 64 * 1024 {
        csv.extend_from_slice(b"'30/11/2026,\"SETORAN\",'0000,\"1,000.00\",CR,\"1,000.00\"\n");
    }
    let form = reqwest::multipart::Form::new().text("csrf", c.csrf()).part(
        "file",
        reqwest::multipart::Part::bytes(csv).file_name("big.csv"),
    );
    let p = c.post_multipart("/staff/statements", form).await;
    assert_eq!(p.status, 413, "{}", p.text());
    let mut conn = app.desk.store().pool().acquire().await.unwrap();
    assert!(
        topup::store::statements::unmatched(&mut conn, 10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(conn);
    app.stop().await;
}
