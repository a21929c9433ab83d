//! Sending real mail through the local test servers (`scripts/test-env start`):
//! plain SMTP into OpenSMTPD, and Dovecot's submission service with STARTTLS
//! and AUTH; then reading the recipient's INBOX over IMAP to check what the
//! customer actually receives (subject, threading headers, Auto-Submitted,
//! both body parts and the PDF receipt), and that failures are classified the
//! way the outbox needs (wrong password: permanent; silent server: transient).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};
use secrecy::SecretString;
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::outbox::email::{
    Attachment, AutoSubmitted, Mailer, OutgoingEmail, SendError, SmtpConfig, TlsMode,
    build_message, new_message_id,
};
use topup::render::receipt::{ReceiptData, render_receipt};
use topup::render::templates::{EmailKind, Templates};

/// The test servers' settings: from the environment, else from the env file
/// `scripts/test-env start` writes.
struct TestEnv {
    host: String,
    smtp_port: u16,
    submission_port: u16,
    imap_port: u16,
    ca: String,
    password: String,
}

fn test_env() -> TestEnv {
    let dir = std::env::var("TOPUP_TEST_ENV_DIR").unwrap_or_else(|_| "/tmp/topup-test-env".into());
    let file = std::fs::read_to_string(format!("{dir}/env")).unwrap_or_default();
    let get = |name: &str| -> String {
        std::env::var(name).ok().or_else(|| {
            file.lines().find_map(|line| {
                let (key, value) = line.strip_prefix("export ")?.split_once('=')?;
                (key == name).then(|| value.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| {
            panic!("{name} is not set: run scripts/test-env start (and source /tmp/topup-test-env/env)")
        })
    };
    let port = |name: &str| -> u16 {
        get(name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a port number"))
    };
    TestEnv {
        host: get("TOPUP_TEST_IMAP_HOST"),
        smtp_port: port("TOPUP_TEST_SMTP_PORT"),
        submission_port: port("TOPUP_TEST_SUBMISSION_PORT"),
        imap_port: port("TOPUP_TEST_IMAP_PORT"),
        ca: get("TOPUP_TEST_CA"),
        password: get("TOPUP_TEST_MAIL_PASSWORD"),
    }
}

fn fresh_address(tag: &str) -> String {
    format!("cust-{tag}-{}@example.test", uuid::Uuid::new_v4().simple())
}

fn receipt_pdf() -> Vec<u8> {
    render_receipt(&ReceiptData {
        lang: Lang::Id,
        receipt_number: "R-TU-20260812-0001".into(),
        seller_name: "PT Topup Desk".into(),
        seller_address: "Jakarta".into(),
        account_name: "PT Maju Jaya".into(),
        order_number: "TU-20260812-0001".into(),
        order_date: "12/08/2026".into(),
        paid_date: "12/08/2026".into(),
        amount: Money::from_minor(150_000_000),
        payment_method: "Transfer bank".into(),
        staff_reference: "siti".into(),
        new_balance: Money::from_minor(425_000_000),
        issued_at: 1_764_400_000_000,
    })
    .expect("receipt renders")
}

/// The paid email, as the outbox composes it, to `to`.
fn paid_email(to: &str, pdf: Vec<u8>) -> OutgoingEmail {
    let rendered = Templates::embedded()
        .render(
            EmailKind::Paid,
            Lang::Id,
            &EmailKind::Paid.sample_vars(Lang::Id),
        )
        .expect("renders");
    OutgoingEmail {
        message_id: new_message_id("desk.example.test"),
        from: "Topup Desk <desk@desk.example.test>".into(),
        to: format!("Budi Santoso <{to}>"),
        subject: format!("Re: {}", rendered.subject),
        text: rendered.text,
        html: rendered.html,
        in_reply_to: Some("<slip-2@maju.example.test>".into()),
        references: vec![
            "<request-1@maju.example.test>".into(),
            "<slip-2@maju.example.test>".into(),
        ],
        auto_submitted: AutoSubmitted::AutoReplied,
        attachments: vec![Attachment {
            file_name: "kuitansi-TU-20260812-0001.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf,
        }],
    }
}

/// Every message in `user`'s INBOX, waiting (bounded) for the first to arrive.
async fn read_inbox(env: &TestEnv, user: &str) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let step = async {
            let tcp = tokio::net::TcpStream::connect((env.host.as_str(), env.imap_port))
                .await
                .expect("IMAP connects");
            let mut client = async_imap::Client::new(tcp);
            client.read_response().await.expect("IMAP greeting");
            let mut session = client
                .login(user, &env.password)
                .await
                .map_err(|(e, _)| e)
                .expect("IMAP login");
            let mailbox = session.select("INBOX").await.expect("select INBOX");
            let mut bodies = Vec::new();
            if mailbox.exists > 0 {
                let fetches: Vec<_> = session
                    .fetch("1:*", "RFC822")
                    .await
                    .expect("fetch")
                    .try_collect()
                    .await
                    .expect("fetch responses");
                bodies = fetches
                    .iter()
                    .filter_map(|f| f.body().map(<[u8]>::to_vec))
                    .collect();
            }
            let _ = session.logout().await;
            bodies
        };
        let bodies = tokio::time::timeout(Duration::from_secs(10), step)
            .await
            .expect("IMAP answers within 10 s");
        if !bodies.is_empty() {
            return bodies;
        }
        assert!(
            Instant::now() < deadline,
            "no mail reached {user} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Checks the one received message against what was sent.
fn assert_received(raw: &[u8], sent: &OutgoingEmail) {
    let parsed = MessageParser::default().parse(raw).expect("parses");
    assert_eq!(parsed.subject(), Some(sent.subject.as_str()));
    assert_eq!(
        parsed.message_id(),
        Some(sent.message_id.trim_matches(|c| c == '<' || c == '>'))
    );
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("slip-2@maju.example.test")
    );
    let refs: Vec<&str> = parsed
        .references()
        .as_text_list()
        .expect("References")
        .iter()
        .map(|r| r.as_ref())
        .collect();
    assert_eq!(
        refs,
        ["request-1@maju.example.test", "slip-2@maju.example.test"]
    );
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    let text = parsed.body_text(0).expect("text part");
    assert!(text.contains("Saldo baru: Rp 4.250.000"), "{text}");
    let html = parsed.body_html(0).expect("html part");
    assert!(html.contains("<strong>Rp 4.250.000</strong>"), "{html}");
    assert_eq!(parsed.attachment_count(), 1);
    let pdf = parsed.attachment(0).expect("attachment");
    assert_eq!(pdf.attachment_name(), Some("kuitansi-TU-20260812-0001.pdf"));
    assert_eq!(pdf.content_type().map(|c| c.ctype()), Some("application"));
    assert_eq!(pdf.contents(), sent.attachments[0].bytes.as_slice());
}

#[tokio::test]
async fn plain_smtp_delivers_the_paid_mail_with_its_receipt() {
    let env = test_env();
    let to = fresh_address("smtp");
    let mail = paid_email(&to, receipt_pdf());
    let mailer = Mailer::smtp(&SmtpConfig {
        host: env.host.clone(),
        port: env.smtp_port,
        tls: TlsMode::None,
        timeout_secs: 10,
        ..SmtpConfig::default()
    })
    .expect("mailer");
    mailer.check().await.expect("server answers");
    mailer
        .send(&build_message(&mail).expect("builds"))
        .await
        .expect("sent");
    let inbox = read_inbox(&env, &to).await;
    assert_eq!(inbox.len(), 1);
    assert_received(&inbox[0], &mail);
}

fn submission(env: &TestEnv, password: &str) -> SmtpConfig {
    SmtpConfig {
        host: env.host.clone(),
        port: env.submission_port,
        tls: TlsMode::Starttls,
        username: Some("desk@desk.example.test".into()),
        password: Some(SecretString::from(password)),
        ca_file: Some(env.ca.clone().into()),
        timeout_secs: 10,
        allow_plaintext: false,
    }
}

#[tokio::test]
async fn submission_with_starttls_and_auth_delivers_twice_over_one_transport() {
    let env = test_env();
    let mailer = Mailer::smtp(&submission(&env, &env.password)).expect("mailer");
    mailer.check().await.expect("STARTTLS and AUTH succeed");
    // Two recipients through the same pooled transport.
    for tag in ["sub-a", "sub-b"] {
        let to = fresh_address(tag);
        let mail = paid_email(&to, receipt_pdf());
        mailer
            .send(&build_message(&mail).expect("builds"))
            .await
            .expect("sent");
        let inbox = read_inbox(&env, &to).await;
        assert_eq!(inbox.len(), 1);
        assert_received(&inbox[0], &mail);
    }
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_error() {
    let env = test_env();
    let mailer = Mailer::smtp(&submission(&env, "not-the-password")).expect("mailer");
    let mail = paid_email(&fresh_address("badpw"), receipt_pdf());
    let err = mailer
        .send(&build_message(&mail).expect("builds"))
        .await
        .expect_err("AUTH fails");
    assert!(matches!(err, SendError::Permanent(_)), "{err}");
    let err = mailer.check().await.expect_err("AUTH fails");
    assert!(matches!(err, SendError::Permanent(_)), "{err}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let env = test_env();
    let mut cfg = submission(&env, &env.password);
    cfg.ca_file = None;
    let mailer = Mailer::smtp(&cfg).expect("mailer");
    let to = fresh_address("noca");
    let err = mailer
        .send(&build_message(&paid_email(&to, vec![1, 2, 3])).expect("builds"))
        .await
        .expect_err("the test CA is not trusted by default");
    assert!(err.to_string().contains("SMTP server"), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    // Accepts connections but never sends a greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mailer = Mailer::smtp(&SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        timeout_secs: 1,
        ..SmtpConfig::default()
    })
    .expect("mailer");
    let started = Instant::now();
    let err = mailer
        .send(&build_message(&paid_email("x@example.test", vec![])).expect("builds"))
        .await
        .expect_err("no greeting");
    assert!(err.is_transient(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    hold.abort();
}
