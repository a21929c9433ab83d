//! Outbox delivery: rendered, threaded mail with receipts; retries with
//! backoff, dead rows visible and retryable; several dispatchers never send a
//! row twice.

use std::sync::Arc;

use mail_parser::{MessageParser, MimeHeaders};
use topup::desk::{Channel, Decision, Inbound};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::intake::{Extraction, Intent};
use topup::outbox::deliver::Dispatcher;
use topup::outbox::email::{Mailer, SmtpConfig};
use topup::render::templates::Templates;

use crate::helpers::TestDesk;

fn eml_dispatcher(t: &TestDesk) -> (Dispatcher, std::path::PathBuf) {
    let dir = t.dir.path().join("outbox");
    std::fs::create_dir_all(&dir).unwrap();
    let d = Dispatcher::new(
        t.desk.clone(),
        Arc::new(Mailer::eml_dir(dir.clone())),
        Arc::new(Templates::embedded()),
        None,
    );
    (d, dir)
}

fn emls(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

async fn statuses(t: &TestDesk) -> Vec<(String, i64, Option<String>)> {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::outbox::list(&mut conn, None, 100)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| (r.status, r.attempts, r.last_error))
        .collect()
}

#[tokio::test]
async fn replies_are_threaded_rendered_in_the_account_language_and_paid_mail_carries_the_receipt() {
    let t = TestDesk::new().await;
    t.customer("PT Benang Emas", "finance@benang.id", Lang::Id)
        .await;
    let staff = t.staff("rina").await;
    let (dispatcher, dir) = eml_dispatcher(&t);

    let out = t
        .desk
        .handle_inbound(Inbound {
            channel: Channel::Email,
            keys: vec!["msgid:<cust-1@benang.id>".into()],
            sender: "finance@benang.id".into(),
            subject: "Bukti transfer top up".into(),
            message_id: Some("<cust-1@benang.id>".into()),
            thread_ids: vec!["<older@benang.id>".into()],
            extraction: Extraction {
                intent: Intent::Slip,
                order_number: None,
                amount: Some(Money::from_major(2_500_000)),
                slips: vec![topup::intake::SlipFile {
                    file_name: Some("bukti.jpg".into()),
                    content_type: "image/jpeg".into(),
                    bytes: b"\xff\xd8\xff jpeg".to_vec(),
                }],
                intent_by_model: false,
            },
            raw: None,
            auth_failed: false,
            over_limit: None,
            chat_reply_to: None,
            content_hash: None,
            sender_name: None,
        })
        .await
        .unwrap();
    let order = out.order.unwrap();
    assert_eq!(dispatcher.drain().await.unwrap(), 1);

    let mails = emls(&dir);
    assert_eq!(mails.len(), 1);
    let m = MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(
        m.subject().unwrap(),
        format!("Bukti transfer diterima: {} Rp 2.500.000", order.number),
        "the subject says what happened; the thread is kept by the headers"
    );
    assert_eq!(m.in_reply_to().as_text(), Some("cust-1@benang.id"));
    let refs: Vec<String> = m
        .references()
        .as_text_list()
        .map(|l| l.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(refs, vec!["older@benang.id", "cust-1@benang.id"]);
    assert_eq!(
        m.header("Auto-Submitted").unwrap().as_text(),
        Some("auto-replied")
    );
    let text = m.body_text(0).unwrap();
    assert!(text.contains(&order.number), "{text}");
    assert!(text.contains("PT Benang Emas"), "{text}");
    assert!(text.contains("Rp 2.500.000"), "{text}");
    assert!(m.body_html(0).unwrap().contains("<"), "an HTML part too");

    let n = t.desk.parse_order_number(&order.number).unwrap();
    t.desk
        .decide(&n, &staff, &Decision::Approve { amount: None })
        .await
        .unwrap();
    assert_eq!(dispatcher.drain().await.unwrap(), 1);
    let mails = emls(&dir);
    assert_eq!(mails.len(), 2);
    let paid = MessageParser::default().parse(&mails[1]).unwrap();
    // Threaded under the customer's slip mail, as a notification (not a direct answer).
    assert_eq!(paid.in_reply_to().as_text(), Some("cust-1@benang.id"));
    assert_eq!(
        paid.header("Auto-Submitted").unwrap().as_text(),
        Some("auto-generated")
    );
    let pdf = paid
        .attachments()
        .find(|a| a.content_type().is_some_and(|c| c.subtype() == Some("pdf")))
        .expect("a PDF receipt");
    assert_eq!(
        pdf.attachment_name(),
        Some(format!("kuitansi-{}.pdf", order.number).as_str())
    );
    assert!(pdf.contents().starts_with(b"%PDF"));
    assert!(
        statuses(&t)
            .await
            .iter()
            .all(|(s, a, _)| s == "sent" && *a == 1)
    );
}

#[tokio::test]
async fn failed_sends_are_retried_with_backoff_then_dead_and_retryable() {
    let t = TestDesk::with(|s| {
        s.outbox.max_attempts = 3;
        s.outbox.base_backoff_secs = 60;
    })
    .await;
    let user = t.customer("PT Gagal", "g@gagal.id", Lang::En).await;
    // A port nobody listens on: connection refused, a transient failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let smtp = SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        timeout_secs: 2,
        ..SmtpConfig::default()
    };
    let dispatcher = Dispatcher::new(
        t.desk.clone(),
        Arc::new(Mailer::smtp(&smtp).unwrap()),
        Arc::new(Templates::embedded()),
        None,
    );
    t.request(&user, 100_000).await;
    assert_eq!(dispatcher.drain().await.unwrap(), 1);
    let s = statuses(&t).await;
    assert_eq!(s[0].0, "pending");
    assert_eq!(s[0].1, 1);
    assert!(s[0].2.as_deref().unwrap().contains("Temporary"), "{s:?}");
    // Not due again until the backoff passed.
    assert_eq!(dispatcher.drain().await.unwrap(), 0);
    t.clock.advance_ms(90_000);
    assert_eq!(dispatcher.drain().await.unwrap(), 1);
    assert_eq!(statuses(&t).await[0].1, 2);
    t.clock.advance_hours(1);
    assert_eq!(dispatcher.drain().await.unwrap(), 1);
    let s = statuses(&t).await;
    assert_eq!(
        (s[0].0.as_str(), s[0].1),
        ("dead", 3),
        "gave up after max_attempts: {s:?}"
    );
    t.clock.advance_hours(10);
    assert_eq!(dispatcher.drain().await.unwrap(), 0, "dead rows stay dead");

    // The operator retries it once the mail server is fixed.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let id = topup::store::outbox::list(&mut conn, Some("dead"), 1)
        .await
        .unwrap()[0]
        .id;
    assert!(
        topup::store::outbox::retry(&mut conn, id, t.clock_ms())
            .await
            .unwrap()
    );
    drop(conn);
    let (ok_dispatcher, dir) = eml_dispatcher(&t);
    assert_eq!(ok_dispatcher.drain().await.unwrap(), 1);
    assert_eq!(emls(&dir).len(), 1);
    assert_eq!(statuses(&t).await[0].0, "sent");
}

#[tokio::test]
async fn several_dispatchers_side_by_side_send_each_row_once() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Banyak", "b@banyak.id", Lang::En).await;
    for i in 0..40 {
        t.request(&user, 1_000 + i).await;
    }
    let dir = t.dir.path().join("outbox");
    std::fs::create_dir_all(&dir).unwrap();
    let make = || {
        Dispatcher::new(
            t.desk.clone(),
            Arc::new(Mailer::eml_dir(dir.clone())),
            Arc::new(Templates::embedded()),
            None,
        )
    };
    let (a, b, c) = (make(), make(), make());
    let (x, y, z) = tokio::join!(a.drain(), b.drain(), c.drain());
    let handled = x.unwrap() + y.unwrap() + z.unwrap();
    assert_eq!(handled, 40, "every row claimed by exactly one dispatcher");
    assert_eq!(emls(&dir).len(), 40);
    let s = statuses(&t).await;
    assert!(
        s.iter()
            .all(|(st, attempts, _)| st == "sent" && *attempts == 1),
        "{s:?}"
    );
}
