//! Outbound mail end to end with the real servers of `scripts/test-env`:
//! a customer's slip mail goes into the desk's Dovecot mailbox, the daemon
//! (IMAP IDLE in, SMTP through OpenSMTPD out) answers, and the answer lands
//! in the customer's own mailbox threaded under their mail; the approval
//! sends the paid mail with a PDF receipt that opens; and mail queued while
//! SMTP is down is delivered once after it comes back.

#[path = "support/db.rs"]
mod db;
#[path = "support/intake.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};
use support::*;
use topup::desk::Decision;
use topup::outbox::email::{SmtpConfig, TlsMode};

/// The SMTP outage test stops the one OpenSMTPD: it takes this for writing.
static SMTP: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn with_smtp(mut s: topup::config::Settings) -> topup::config::Settings {
    s.mail.smtp = Some(SmtpConfig {
        host: "127.0.0.1".into(),
        port: test_env("TOPUP_TEST_SMTP_PORT").parse().expect("port"),
        tls: TlsMode::None,
        timeout_secs: 5,
        ..SmtpConfig::default()
    });
    s.mail.from_address = format!("desk-{}@example.test", uuid::Uuid::new_v4().simple());
    s.outbox.base_backoff_secs = 1;
    s.outbox.max_backoff_secs = 2;
    s.outbox.poll_secs = 1;
    s
}

/// Every message in `user`'s INBOX.
async fn inbox(user: &str) -> Vec<Vec<u8>> {
    let mut s = imap_login(user).await;
    let mailbox = s.examine("INBOX").await.expect("EXAMINE");
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> = s
            .fetch("1:*", "BODY.PEEK[]")
            .await
            .expect("FETCH")
            .try_collect()
            .await
            .expect("FETCH results");
        out = fetches
            .iter()
            .filter_map(|f| f.body().map(<[u8]>::to_vec))
            .collect();
    }
    let _ = s.logout().await;
    out
}

fn subject_and_reply_to(raw: &[u8]) -> (String, Option<String>) {
    let m = MessageParser::default().parse(raw).expect("parses");
    (
        m.subject().unwrap_or_default().to_string(),
        m.in_reply_to().as_text().map(str::to_string),
    )
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test-env");
    assert!(
        out.status.success(),
        "the receipt opens: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asks for a top-up of `rupiah` as the user who writes from `email`.
async fn request_as(daemon: &Daemon, email: &str, rupiah: i64) -> topup::store::orders::OrderRow {
    let mut conn = daemon.desk.store().pool().acquire().await.unwrap();
    let user = topup::store::accounts::user_by_email(&mut conn, email)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    daemon
        .desk
        .request(
            &user,
            topup::domain::money::Money::from_major(rupiah),
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slip_reply_and_paid_receipt_land_in_the_customers_mailbox_threaded() {
    let _dovecot = DOVECOT.read().await;
    let _smtp = SMTP.read().await;
    let dir = tempfile::tempdir().unwrap();
    let desk_box = fresh_mailbox();
    let settings = Arc::new(with_smtp(settings(dir.path(), Some(&desk_box)).await));
    let daemon = Daemon::start(settings).await;
    let customer = fresh_address("sari");
    daemon.customer("PT Sumber Rejeki", &customer).await;
    let mut tx = daemon.desk.store().begin_write().await.unwrap();
    let staff = topup::store::accounts::add_staff(&mut tx, "rina", None, None, None, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    eventually("IMAP caught up", 20, async || daemon.imap_caught_up().await).await;

    let slip_id = message_id("slip");
    append(
        &desk_box,
        &slip_mail(
            &customer,
            &slip_id,
            "Bukti transfer top up",
            "Selamat siang,\r\n\r\nTerlampir bukti transfer Rp 2.750.000 untuk top up saldo.\r\n\r\nSalam,\r\nSari",
            &png("e2e"),
        ),
    )
    .await;

    eventually("the submission-received reply arrives", 30, async || {
        !inbox(&customer).await.is_empty()
    })
    .await;
    let order = daemon.orders().await.remove(0);
    let mails = inbox(&customer).await;
    assert_eq!(mails.len(), 1);
    let (subject, reply_to) = subject_and_reply_to(&mails[0]);
    assert_eq!(
        subject,
        format!("Bukti transfer diterima: {} Rp 2.750.000", order.number)
    );
    assert_eq!(reply_to.as_deref(), Some(slip_id.trim_matches(['<', '>'])));
    let received = MessageParser::default().parse(&mails[0]).unwrap();
    let text = received.body_text(0).unwrap();
    assert!(
        text.contains("Rp 2.750.000") && text.contains("PT Sumber Rejeki"),
        "{text}"
    );

    let n = daemon.desk.parse_order_number(&order.number).unwrap();
    daemon
        .desk
        .decide(&n, &staff, &Decision::Approve { amount: None })
        .await
        .unwrap();
    eventually("the paid mail arrives", 30, async || {
        inbox(&customer).await.len() == 2
    })
    .await;
    let mails = inbox(&customer).await;
    let paid = MessageParser::default().parse(&mails[1]).unwrap();
    assert_eq!(
        paid.in_reply_to().as_text(),
        Some(slip_id.trim_matches(['<', '>']))
    );
    assert!(paid.subject().unwrap().contains(&order.number));
    let pdf = paid
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".pdf")))
        .expect("the receipt is attached");
    let receipt = pdftotext(pdf.contents());
    assert!(receipt.contains(&order.number), "{receipt}");
    assert!(receipt.contains("Rp 2.750.000"), "{receipt}");
    assert!(
        receipt.contains("dua juta tujuh ratus lima puluh ribu rupiah"),
        "{receipt}"
    );
    assert!(receipt.contains("PT Sumber Rejeki"), "{receipt}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_while_smtp_is_down_is_delivered_once_when_it_is_back() {
    let _dovecot = DOVECOT.read().await;
    let _smtp = SMTP.write().await;
    let script = test_env("TOPUP_TEST_ENV_SCRIPT");
    let dir = tempfile::tempdir().unwrap();
    let settings = Arc::new(with_smtp(settings(dir.path(), None).await));
    let daemon = Daemon::start(settings).await;
    let customer = fresh_address("tono");
    daemon.customer("PT Tahan Banting", &customer).await;

    let stop = std::process::Command::new(&script)
        .arg("stop-smtp")
        .status()
        .unwrap();
    assert!(stop.success());
    let result = async {
        let order = request_as(&daemon, &customer, 900_000).await;
        eventually("a failed attempt is recorded", 30, async || {
            daemon
                .outbox()
                .await
                .iter()
                .any(|r| r.attempts >= 1 && r.status == "pending" && r.last_error.is_some())
        })
        .await;
        order
    }
    .await;
    let start = std::process::Command::new(&script)
        .arg("start-smtp")
        .status()
        .unwrap();
    assert!(start.success());
    let order = result;

    eventually("the order-created mail is delivered", 60, async || {
        daemon.outbox().await.iter().all(|r| r.status == "sent")
    })
    .await;
    eventually("it reaches the mailbox", 30, async || {
        !inbox(&customer).await.is_empty()
    })
    .await;
    // Give a duplicate the chance to show up, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = inbox(&customer).await;
    assert_eq!(mails.len(), 1, "delivered exactly once");
    let (subject, _) = subject_and_reply_to(&mails[0]);
    assert!(subject.contains(&order.number), "{subject}");
    let rows = daemon.outbox().await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].attempts >= 2,
        "retried after the outage: {:?}",
        rows[0]
    );
    daemon.stop().await;
}

/// Sends `raw` as `from` to `to` through the test OpenSMTPD (which delivers into Dovecot).
async fn send_through_smtp(from: &str, to: &str, raw: &[u8]) {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};
    let port: u16 = test_env("TOPUP_TEST_SMTP_PORT").parse().expect("port");
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let envelope = Envelope::new(
        Some(from.parse().expect("from")),
        vec![to.parse().expect("to")],
    )
    .expect("envelope");
    smtp.send_raw(&envelope, raw)
        .await
        .expect("SMTP accepts it");
}

/// A finance team's mail with a bank statement (BCA's CSV export) attached.
fn statement_mail(from: &str, to: &str, message_id: &str, csv: &str) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(csv);
    let wrapped: Vec<&str> = body
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Finance <{from}>\r\nTo: {to}\r\nSubject: Mutasi rekening 30/11\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Mutasi hari ini terlampir.\r\n--b1\r\nContent-Type: text/csv; name=\"mutasi.csv\"\r\n\
         Content-Disposition: attachment; filename=\"mutasi.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        wrapped.join("\r\n")
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_mailed_by_finance_is_imported_and_its_summary_lands_in_their_mailbox() {
    let _dovecot = DOVECOT.read().await;
    let _smtp = SMTP.read().await;
    let dir = tempfile::tempdir().unwrap();
    let desk_box = fresh_mailbox();
    let finance = fresh_address("finance");
    let stranger = fresh_address("stranger");
    let mut s = with_smtp(settings(dir.path(), Some(&desk_box)).await);
    s.statements.senders = vec![finance.to_uppercase()];
    s.desk.staff_lang = topup::domain::Lang::Id;
    let daemon = Daemon::start(Arc::new(s)).await;
    let customer = fresh_address("budi");
    daemon.customer("PT Sinar Abadi", &customer).await;
    let order = request_as(&daemon, &customer, 2_500_000).await;
    eventually("IMAP caught up", 20, async || daemon.imap_caught_up().await).await;
    let csv = format!(
        "Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n\
         '30/11/2026,\"TRSF E-BANKING CR {} SINAR ABADI\",'0000,\"2,500,000.00\",CR,\"12,500,000.00\"\n\
         '30/11/2026,\"TRSF DARI BUDI\",'0000,\"777,000.00\",CR,\"13,277,000.00\"\n",
        order.number
    );

    // The same file from someone who is not a statement sender: never a statement.
    let forged_id = message_id("forged-statement");
    send_through_smtp(
        &stranger,
        &desk_box,
        &statement_mail(&stranger, &desk_box, &forged_id, &csv),
    )
    .await;
    eventually("the stranger's mail is handled", 30, async || {
        daemon.inbound().await.iter().any(|r| r.sender == stranger)
    })
    .await;
    let n = daemon.desk.parse_order_number(&order.number).unwrap();
    assert!(
        daemon
            .desk
            .view(&n)
            .await
            .unwrap()
            .statement_lines
            .is_empty(),
        "a stranger's file moved nothing"
    );

    let statement_id = message_id("statement");
    send_through_smtp(
        &finance,
        &desk_box,
        &statement_mail(&finance, &desk_box, &statement_id, &csv),
    )
    .await;
    eventually("the summary reaches finance's mailbox", 45, async || {
        !inbox(&finance).await.is_empty()
    })
    .await;
    let lines = daemon.desk.view(&n).await.unwrap().statement_lines;
    assert_eq!(lines.len(), 1, "the order's money is on it");
    assert_eq!(lines[0].state, "matched");
    let free = daemon.desk.unmatched_lines(10).await.unwrap();
    assert_eq!(free.len(), 1, "the credit without an order is listed");
    assert_eq!(free[0].amount_minor, 77_700_000);

    let mails = inbox(&finance).await;
    assert_eq!(mails.len(), 1);
    let reply = MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some(statement_id.as_str()),
        "threaded under the statement mail"
    );
    assert_eq!(reply.subject(), Some("Mutasi rekening diimpor"));
    let text = reply.body_text(0).unwrap();
    assert!(
        text.contains("mutasi.csv")
            && text.contains("2 baris: 1 cocok")
            && text.contains("1 tanpa pesanan"),
        "the summary in the staff language: {text}"
    );
    // The stranger never hears what a statement held.
    for raw in inbox(&stranger).await {
        let p = MessageParser::default().parse(&raw).unwrap();
        let text = p.body_text(0).unwrap_or_default();
        assert!(
            !text.contains("mutasi.csv") && !text.contains("baris"),
            "{text}"
        );
    }
    daemon.stop().await;
}
