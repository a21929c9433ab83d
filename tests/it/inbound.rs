//! Inbound messages through the desk: recorded once by every key, the
//! effects of each intent, refusals answered, unknown senders and automatic
//! mail handled without losing anything.

use topup::desk::{Channel, Inbound};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::domain::order::OrderStatus;
use topup::intake::{Extraction, Intent, SlipFile};

use crate::helpers::TestDesk;

fn mail(sender: &str, id: &str, intent: Intent) -> Inbound {
    Inbound {
        channel: Channel::Email,
        keys: vec![format!("msgid:<{id}>")],
        sender: sender.into(),
        subject: "Bukti transfer".into(),
        message_id: Some(format!("<{id}>")),
        thread_ids: vec![],
        extraction: Extraction {
            intent,
            order_number: None,
            amount: None,
            slips: vec![],
            intent_by_model: false,
        },
        raw: Some(format!("Message-ID: <{id}>\r\n\r\nhello").into_bytes()),
        auth_failed: false,
        over_limit: None,
        chat_reply_to: None,
        content_hash: None,
        sender_name: None,
    }
}

fn png(tag: &str) -> SlipFile {
    SlipFile {
        file_name: Some("../../etc/passwd.png".into()),
        content_type: "image/png".into(),
        bytes: format!("\u{89}PNG {tag}").into_bytes(),
    }
}

async fn outbox_recipients(t: &TestDesk) -> Vec<(String, String)> {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::outbox::list(&mut conn, None, 100)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
            (
                r.recipient,
                v["kind"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_redelivered_slip_makes_one_order() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Sekali", "finance@sekali.id", Lang::Id).await;
    let mut m = mail("finance@sekali.id", "slip-1@sekali.id", Intent::Slip);
    m.extraction.amount = Some(Money::from_major(1_500_000));
    m.extraction.slips = vec![png("one")];
    m.keys.push("imap:box:7:42".into());
    let first = t.desk.handle_inbound(m.clone()).await.unwrap();
    let order = first.order.clone().expect("an order");
    assert_eq!(order.status(), OrderStatus::Dealing);
    assert_eq!(order.account_id, user.account_id);

    // Same Message-ID from another mailbox UID, and the same UID after a restart.
    let mut again = m.clone();
    again.keys = vec!["msgid:<slip-1@sekali.id>".into(), "imap:box:7:99".into()];
    assert!(t.desk.handle_inbound(again).await.unwrap().duplicate());
    let mut by_uid = m.clone();
    by_uid.keys = vec!["imap:box:7:42".into()];
    assert!(t.desk.handle_inbound(by_uid).await.unwrap().duplicate());

    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let orders = topup::store::orders::list(&mut conn, None, Some(user.account_id), 10)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    let slips = topup::store::inbound::slips_of(&mut conn, order.id)
        .await
        .unwrap();
    assert_eq!(slips.len(), 1);
    // Kept by content hash, never under the sender's file name.
    assert_eq!(slips[0].hash.len(), 64);
    assert!(
        t.dir
            .path()
            .join("slips")
            .join(&slips[0].hash[..2])
            .is_dir()
    );
    assert_eq!(
        outbox_recipients(&t).await,
        vec![("finance@sekali.id".into(), "submission_received".into())]
    );
}

#[tokio::test]
async fn unknown_senders_are_answered_once_and_kept_for_staff() {
    let t = TestDesk::new().await;
    let out = t
        .desk
        .handle_inbound(mail(
            "stranger@elsewhere.com",
            "x1@elsewhere.com",
            Intent::Slip,
        ))
        .await
        .unwrap();
    assert!(out.order.is_none());
    assert!(out.outcome.starts_with("unknown_sender"), "{}", out.outcome);
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let kept = topup::store::inbound::list(&mut conn, true, 10)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].raw_hash.is_some(), "the message is kept");
    assert_eq!(
        outbox_recipients(&t).await,
        vec![("stranger@elsewhere.com".into(), "unknown_sender".into())]
    );
}

#[tokio::test]
async fn unknown_senders_are_answered_in_the_language_they_wrote_in() {
    let t = TestDesk::new().await;
    let stranger = |id: &str, subject: &str, body: &str| {
        let mut m = mail(&format!("{id}@elsewhere.com"), id, Intent::Unknown);
        m.raw = Some(
            format!(
                "From: {id}@elsewhere.com\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\r\n{body}\r\n"
            )
            .into_bytes(),
        );
        m
    };
    for m in [
        stranger(
            "en",
            "Question",
            "Hi, could you tell me how we can top up our balance?",
        ),
        stranger(
            "id",
            "Pertanyaan",
            "Halo kak, saya mau tanya cara isi saldo",
        ),
        stranger("none", "TU-20261125-0001", "Rp 1.500.000"),
    ] {
        let out = t.desk.handle_inbound(m).await.unwrap();
        assert!(out.outcome.starts_with("unknown_sender"), "{}", out.outcome);
    }
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let langs: Vec<(String, String)> = topup::store::outbox::list(&mut conn, None, 10)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
            (
                r.recipient,
                v["lang"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // The third says nothing in words: the desk's default language.
    assert_eq!(
        langs,
        vec![
            ("en@elsewhere.com".into(), "en".into()),
            ("id@elsewhere.com".into(), "id".into()),
            ("none@elsewhere.com".into(), "id".into()),
        ]
    );
}

#[tokio::test]
async fn automatic_mail_is_recorded_and_never_answered() {
    let t = TestDesk::new().await;
    t.customer("PT Auto", "ooo@auto.id", Lang::En).await;
    let out = t
        .desk
        .handle_inbound(mail("ooo@auto.id", "ooo@auto.id", Intent::Ignore))
        .await
        .unwrap();
    assert_eq!(out.outcome, "ignored (automatic mail)");
    let out = t
        .desk
        .handle_inbound(mail(
            "mailer-daemon@nowhere.com",
            "bounce@nowhere.com",
            Intent::Ignore,
        ))
        .await
        .unwrap();
    assert!(out.inbound_id.is_some());
    assert!(
        outbox_recipients(&t).await.is_empty(),
        "no replies to automatic mail"
    );
}

#[tokio::test]
async fn requests_create_orders_and_refusals_are_answered_with_the_reason() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Minta", "buyer@minta.id", Lang::En).await;
    let staff = t.staff("rina").await;
    let mut req = mail("buyer@minta.id", "req-1@minta.id", Intent::Request);
    req.extraction.amount = Some(Money::from_major(2_000_000));
    let created = t.desk.handle_inbound(req).await.unwrap().order.unwrap();
    assert_eq!(created.status(), OrderStatus::Open);
    assert_eq!(
        created.thread_message_id.as_deref(),
        Some("<req-1@minta.id>")
    );

    // A reply in the same thread with a slip and no number finds the order by thread.
    let mut slip = mail("buyer@minta.id", "slip-1@minta.id", Intent::Slip);
    slip.thread_ids = vec!["<req-1@minta.id>".into()];
    slip.extraction.slips = vec![png("a")];
    let submitted = t.desk.handle_inbound(slip).await.unwrap().order.unwrap();
    assert_eq!(submitted.id, created.id);
    assert_eq!(submitted.status(), OrderStatus::Dealing);

    let n = t.approve(&created, &staff).await;

    // Cancelling a paid order is refused, answered with why, and changes nothing.
    let mut cancel = mail("buyer@minta.id", "cancel-1@minta.id", Intent::Cancel);
    cancel.extraction.order_number = Some(n.clone());
    let out = t.desk.handle_inbound(cancel).await.unwrap();
    assert!(
        out.outcome.contains("already paid by staff rina"),
        "{}",
        out.outcome
    );
    assert_eq!(
        t.desk.view(&n).await.unwrap().order.status(),
        OrderStatus::Paid
    );

    // A request without an amount is answered, not dropped.
    let out = t
        .desk
        .handle_inbound(mail("buyer@minta.id", "req-2@minta.id", Intent::Request))
        .await
        .unwrap();
    assert!(out.outcome.contains("names no amount"), "{}", out.outcome);

    let kinds: Vec<String> = outbox_recipients(&t)
        .await
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "order_created",
            "submission_received",
            "paid",
            "action_refused",
            "action_refused"
        ]
    );
    // The paid mail threads under the customer's latest mail about the order.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::for_order(&mut conn, created.id)
        .await
        .unwrap();
    let paid: serde_json::Value = serde_json::from_str(&rows[2].payload).unwrap();
    assert_eq!(paid["in_reply_to"], "<slip-1@minta.id>");
    let _ = user;
}

#[tokio::test]
async fn status_questions_are_answered_and_limits_are_enforced() {
    let t = TestDesk::with(|s| s.limits.max_attachments = 2).await;
    t.customer("PT Tanya", "q@tanya.id", Lang::Id).await;
    let mut req = mail("q@tanya.id", "r@tanya.id", Intent::Request);
    req.extraction.amount = Some(Money::from_major(100_000));
    let order = t.desk.handle_inbound(req).await.unwrap().order.unwrap();
    let out = t
        .desk
        .handle_inbound(mail("q@tanya.id", "s@tanya.id", Intent::Status))
        .await
        .unwrap();
    assert_eq!(out.outcome, format!("status of {}: open", order.number));

    let mut big = mail("q@tanya.id", "big@tanya.id", Intent::Slip);
    big.extraction.slips = vec![png("1"), png("2"), png("3")];
    let out = t.desk.handle_inbound(big).await.unwrap();
    assert!(
        out.outcome.contains("number of attachments over the limit"),
        "{}",
        out.outcome
    );
    assert!(out.order.is_none(), "nothing acted on");
    let kinds: Vec<String> = outbox_recipients(&t)
        .await
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(
        kinds,
        vec!["order_created", "order_status", "limits_exceeded"]
    );
}

#[tokio::test]
async fn the_reply_loop_guard_caps_answers_per_sender() {
    let t = TestDesk::with(|s| s.limits.replies_per_sender_per_hour = 3).await;
    for i in 0..6 {
        t.desk
            .handle_inbound(mail(
                "loop@robot.example",
                &format!("l{i}@robot.example"),
                Intent::Unknown,
            ))
            .await
            .unwrap();
    }
    assert_eq!(statuses(&t).await, vec![("pending", 3), ("suppressed", 3)]);
    // An hour later the sender may be answered again.
    t.clock.advance_hours(1);
    t.desk
        .handle_inbound(mail(
            "loop@robot.example",
            "l9@robot.example",
            Intent::Unknown,
        ))
        .await
        .unwrap();
    assert_eq!(statuses(&t).await, vec![("pending", 4), ("suppressed", 3)]);
}

/// Outbox rows by status, sorted.
pub async fn statuses(t: &TestDesk) -> Vec<(&'static str, i64)> {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::outbox::count_by_status(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(s, n)| {
            let s: &'static str = match s.as_str() {
                "pending" => "pending",
                "sent" => "sent",
                "dead" => "dead",
                "suppressed" => "suppressed",
                _ => "other",
            };
            (s, n)
        })
        .collect()
}

#[tokio::test]
async fn forged_senders_are_flagged_or_refused() {
    let t = TestDesk::new().await;
    t.customer("PT Asli", "boss@asli.id", Lang::En).await;
    let mut m = mail("boss@asli.id", "forged@asli.id", Intent::Slip);
    m.auth_failed = true;
    m.extraction.amount = Some(Money::from_major(10));
    let order = t.desk.handle_inbound(m).await.unwrap().order.unwrap();
    assert!(
        order.flag_list().contains(&"unauthenticated") || {
            let n = t.desk.parse_order_number(&order.number).unwrap();
            t.desk
                .view(&n)
                .await
                .unwrap()
                .order
                .flag_list()
                .contains(&"unauthenticated")
        }
    );

    let strict = TestDesk::with(|s| s.mail.refuse_unauthenticated = true).await;
    strict.customer("PT Asli", "boss@asli.id", Lang::En).await;
    let mut m = mail("boss@asli.id", "forged2@asli.id", Intent::Slip);
    m.auth_failed = true;
    let out = strict.desk.handle_inbound(m).await.unwrap();
    assert!(out.order.is_none());
    assert!(
        out.outcome.contains("sender authentication failed"),
        "{}",
        out.outcome
    );
    assert!(
        outbox_recipients(&strict).await.is_empty(),
        "no reply to a forged From"
    );
}

#[tokio::test]
async fn a_reply_to_our_mail_finds_its_order_through_the_thread_headers() {
    let t = TestDesk::new().await;
    t.customer("PT Benang", "ops@benang.id", Lang::En).await;
    let request = b"From: Ops <ops@benang.id>\r\nTo: topup@localhost\r\nSubject: Top up please\r\n\
Message-ID: <ask-1@benang.id>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Please top up IDR 3,000,000 for us.\r\n";
    let inbound = topup::sources::inbound_from_email(request.to_vec(), vec![], &t.settings);
    let order = t.desk.handle_inbound(inbound).await.unwrap().order.unwrap();
    assert_eq!(order.status(), OrderStatus::Open);
    // A second open order: "the account's only open order" cannot decide it.
    let user = {
        let mut conn = t.desk.store().pool().acquire().await.unwrap();
        topup::store::accounts::user_by_email(&mut conn, "ops@benang.id")
            .await
            .unwrap()
            .unwrap()
    };
    let other = t.request(&user, 50_000).await;
    assert_ne!(other.id, order.id);

    // Our order-created mail has its own Message-ID; the customer answers it.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::for_order(&mut conn, order.id)
        .await
        .unwrap();
    drop(conn);
    let ours: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
    let our_id = ours["message_id"].as_str().unwrap().to_string();
    assert!(
        our_id.starts_with('<') && our_id.ends_with("@localhost>"),
        "{our_id}"
    );
    let reply = format!(
        "From: Ops <ops@benang.id>\r\nTo: topup@localhost\r\nSubject: Re: Top up please\r\n\
Message-ID: <ans-1@benang.id>\r\nIn-Reply-To: {our_id}\r\nReferences: {our_id}\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nTransfer done, slip attached.\r\n--b\r\n\
Content-Type: image/png\r\nContent-Disposition: attachment; filename=slip.png\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n--b--\r\n"
    );
    let inbound = topup::sources::inbound_from_email(reply.into_bytes(), vec![], &t.settings);
    assert_eq!(inbound.extraction.intent, Intent::Slip);
    assert_eq!(
        inbound.extraction.order_number, None,
        "no number in the reply itself"
    );
    let submitted = t.desk.handle_inbound(inbound).await.unwrap().order.unwrap();
    assert_eq!(submitted.id, order.id, "found through In-Reply-To");
    assert_eq!(submitted.status(), OrderStatus::Dealing);
}

#[tokio::test]
async fn indonesian_customers_are_told_refusals_in_indonesian() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Bahasa", "keu@bahasa.id", Lang::Id).await;
    let staff = t.staff("rina").await;
    let order = t.dealing(&user, 400_000).await;
    let n = t.approve(&order, &staff).await;
    let mut cancel = mail("keu@bahasa.id", "batal-1@bahasa.id", Intent::Cancel);
    cancel.extraction.order_number = Some(n.clone());
    let out = t.desk.handle_inbound(cancel).await.unwrap();
    // Logs and staff read English; the customer's email says it in Indonesian.
    assert!(
        out.outcome.contains("already paid by staff rina"),
        "{}",
        out.outcome
    );
    let mail = latest_outbox_payload(&t).await;
    assert_eq!(mail["kind"], "action_refused");
    assert_eq!(
        mail["vars"]["reason"],
        format!(
            "pesanan {} tidak dapat dibatalkan karena sudah dinyatakan lunas oleh tim Receivables pada 2026-11-25 10:00 WIB",
            order.number
        )
    );
    let ask = mail_without_amount(&t).await;
    assert_eq!(
        ask,
        "pesan Anda meminta top up tetapi tidak menyebutkan jumlahnya"
    );
}

/// The payload of the newest outbox row.
async fn latest_outbox_payload(t: &TestDesk) -> serde_json::Value {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::list(&mut conn, None, 1)
        .await
        .unwrap();
    serde_json::from_str(&rows[0].payload).unwrap()
}

async fn mail_without_amount(t: &TestDesk) -> String {
    t.desk
        .handle_inbound(mail("keu@bahasa.id", "minta-1@bahasa.id", Intent::Request))
        .await
        .unwrap();
    let mail = latest_outbox_payload(t).await;
    mail["vars"]["reason"].as_str().unwrap().to_string()
}

/// The decided_by column of an inbound record.
async fn decided_by(t: &TestDesk, inbound_id: Option<i64>) -> String {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::inbound::by_id(&mut conn, inbound_id.expect("recorded"))
        .await
        .unwrap()
        .decided_by
}

/// An order of `rupiah` that `staff` rejected because the amount differs.
async fn rejected(
    t: &TestDesk,
    user: &topup::store::accounts::UserRow,
    staff: &topup::store::accounts::StaffRow,
    rupiah: i64,
) -> topup::store::orders::OrderRow {
    let order = t.dealing(user, rupiah).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let reject = topup::desk::Decision::Reject {
        reason: topup::desk::RejectReason::AmountDiffers,
    };
    t.desk.decide(&n, staff, &reject).await.unwrap();
    order
}

#[tokio::test]
async fn a_vague_message_is_read_against_the_state_of_its_order() {
    use topup::domain::order_number::OrderNumber;

    let t = TestDesk::new().await;
    let user = t.customer("PT Konteks", "ops@konteks.id", Lang::Id).await;
    let staff = t.staff("sari").await;

    // A rejected order: a bare new amount naming it is read as a change of
    // amount, which the desk asks about before making it.
    let failed = rejected(&t, &user, &staff, 1_500_000).await;
    let mut m = mail("ops@konteks.id", "v1@konteks.id", Intent::Unknown);
    m.extraction.order_number = Some(OrderNumber::parse(&failed.number).unwrap());
    m.extraction.amount = Some(Money::from_major(1_450_000));
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("asked"), "{}", out.outcome);
    assert_eq!(
        decided_by(&t, out.inbound_id).await,
        "payment_failure_amount_is_amend"
    );
    let question = last_email(&t, "confirm_amend").await;
    assert!(
        question["vars"]["new_amount"]
            .as_str()
            .is_some_and(|a| a.contains("1.450.000")),
        "{question}"
    );

    // An order under review: an unclear message about it gets its status.
    let dealing = t.dealing(&user, 2_000_000).await;
    let mut m = mail("ops@konteks.id", "v2@konteks.id", Intent::Unknown);
    m.extraction.order_number = Some(OrderNumber::parse(&dealing.number).unwrap());
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("status of"), "{}", out.outcome);
    assert_eq!(
        decided_by(&t, out.inbound_id).await,
        "dealing_question_is_status"
    );

    // An open order's own amount, sent about it, says it was paid.
    let open = t.request(&user, 700_000).await;
    let mut m = mail("ops@konteks.id", "v4@konteks.id", Intent::Unknown);
    m.extraction.order_number = Some(OrderNumber::parse(&open.number).unwrap());
    m.extraction.amount = Some(Money::from_major(700_000));
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("submitted"), "{}", out.outcome);
    assert_eq!(
        decided_by(&t, out.inbound_id).await,
        "open_order_amount_is_slip"
    );

    // What the parser understood plainly is recorded as the parser's.
    let mut m = mail("ops@konteks.id", "v3@konteks.id", Intent::Request);
    m.extraction.amount = Some(Money::from_major(500_000));
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("created"), "{}", out.outcome);
    assert_eq!(decided_by(&t, out.inbound_id).await, "parser");
}

#[tokio::test]
async fn unverified_mail_is_never_promoted_to_a_change() {
    use topup::domain::order_number::OrderNumber;

    let t = TestDesk::new().await;
    let user = t.customer("PT Palsu", "ops@palsu.id", Lang::Id).await;
    let staff = t.staff("sari").await;
    let failed = rejected(&t, &user, &staff, 1_500_000).await;
    let mut m = mail("ops@palsu.id", "f1@palsu.id", Intent::Unknown);
    m.auth_failed = true;
    m.extraction.order_number = Some(OrderNumber::parse(&failed.number).unwrap());
    m.extraction.amount = Some(Money::from_major(1));
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(!out.outcome.starts_with("amended"), "{}", out.outcome);
    let order = t.order(failed.id).await;
    assert_eq!(
        order.amount_minor,
        Some(Money::from_major(1_500_000).minor())
    );
    assert_eq!(order.status(), OrderStatus::PaymentFailure);
}

/// The newest outbox email of template `kind` (its JSON payload).
async fn last_email(t: &TestDesk, kind: &str) -> serde_json::Value {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::outbox::list(&mut conn, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.payload).unwrap())
        .find(|v| v["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} email"))
}

/// A reply saying `body` in the thread of `question` (its Message-ID).
fn reply_in_thread(sender: &str, id: &str, question: &serde_json::Value, body: &str) -> Inbound {
    let mut m = mail(sender, id, Intent::Unknown);
    let asked = question["message_id"]
        .as_str()
        .expect("message id")
        .to_string();
    m.thread_ids = vec![asked.clone()];
    m.raw = Some(
        format!(
            "From: {sender}\r\nSubject: Re: Konfirmasi\r\nMessage-ID: <{id}>\r\nIn-Reply-To: {asked}\r\n\r\n{body}\r\n\r\n> Balas YA pada email ini untuk mengubah.\r\n"
        )
        .into_bytes(),
    );
    m
}

#[tokio::test]
async fn a_yes_in_the_thread_carries_out_the_proposed_change_once() {
    use topup::domain::order_number::OrderNumber;

    let t = TestDesk::new().await;
    let user = t.customer("PT Tanya", "ops@tanya.id", Lang::Id).await;
    let staff = t.staff("sari").await;
    let failed = rejected(&t, &user, &staff, 1_500_000).await;
    let mut m = mail("ops@tanya.id", "q1@tanya.id", Intent::Unknown);
    m.extraction.order_number = Some(OrderNumber::parse(&failed.number).unwrap());
    m.extraction.amount = Some(Money::from_major(1_450_000));
    let asked = t.desk.handle_inbound(m).await.unwrap();
    assert!(asked.outcome.starts_with("asked"), "{}", asked.outcome);
    let question = last_email(&t, "confirm_amend").await;

    // Something other than a bare yes in the thread does not answer it.
    let other = reply_in_thread(
        "ops@tanya.id",
        "q2@tanya.id",
        &question,
        "kapan jam buka cs?",
    );
    let out = t.desk.handle_inbound(other).await.unwrap();
    assert!(!out.outcome.starts_with("amended"), "{}", out.outcome);

    let yes = reply_in_thread("ops@tanya.id", "q3@tanya.id", &question, "Ya, betul");
    let out = t.desk.handle_inbound(yes).await.unwrap();
    assert!(out.outcome.starts_with("amended"), "{}", out.outcome);
    assert_eq!(decided_by(&t, out.inbound_id).await, "confirmed_proposal");
    let order = out.order.expect("the order");
    assert_eq!(
        order.amount_minor,
        Some(Money::from_major(1_450_000).minor())
    );
    // Back in review with the slip it already has.
    assert_eq!(order.status(), OrderStatus::Dealing);

    // A second yes changes nothing and says so.
    let again = reply_in_thread("ops@tanya.id", "q4@tanya.id", &question, "ya");
    let out = t.desk.handle_inbound(again).await.unwrap();
    assert!(out.outcome.starts_with("refused"), "{}", out.outcome);
    assert!(out.outcome.contains("already"), "{}", out.outcome);
    assert_eq!(
        t.events(order.id)
            .await
            .iter()
            .filter(|e| *e == "amend")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_yes_after_the_order_changed_is_refused_clearly() {
    use topup::domain::order_number::OrderNumber;

    let t = TestDesk::new().await;
    let user = t.customer("PT Basi", "ops@basi.id", Lang::En).await;
    let staff = t.staff("sari").await;
    let failed = rejected(&t, &user, &staff, 1_500_000).await;
    let mut m = mail("ops@basi.id", "s1@basi.id", Intent::Unknown);
    m.extraction.order_number = Some(OrderNumber::parse(&failed.number).unwrap());
    m.extraction.amount = Some(Money::from_major(1_450_000));
    t.desk.handle_inbound(m).await.unwrap();
    let question = last_email(&t, "confirm_amend").await;

    // Meanwhile the customer changes the amount themselves.
    let mut amend = mail("ops@basi.id", "s2@basi.id", Intent::Amend);
    amend.extraction.order_number = Some(OrderNumber::parse(&failed.number).unwrap());
    amend.extraction.amount = Some(Money::from_major(1_400_000));
    let out = t.desk.handle_inbound(amend).await.unwrap();
    assert!(out.outcome.starts_with("amended"), "{}", out.outcome);

    let yes = reply_in_thread("ops@basi.id", "s3@basi.id", &question, "Yes please");
    let out = t.desk.handle_inbound(yes).await.unwrap();
    assert!(out.outcome.starts_with("refused"), "{}", out.outcome);
    assert!(
        out.outcome.contains("has changed since we asked"),
        "{}",
        out.outcome
    );
    let order = t.order(failed.id).await;
    assert_eq!(
        order.amount_minor,
        Some(Money::from_major(1_400_000).minor())
    );
}

/// A cancellation of `order` that only the intent model read, by email.
fn model_only_cancel(sender: &str, id: &str, order: &topup::store::orders::OrderRow) -> Inbound {
    let mut m = mail(sender, id, Intent::Cancel);
    m.extraction.intent_by_model = true;
    m.extraction.order_number =
        Some(topup::domain::order_number::OrderNumber::parse(&order.number).unwrap());
    m
}

#[tokio::test]
async fn a_cancellation_only_the_model_read_is_asked_and_a_yes_cancels_once() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Ragu", "ops@ragu.id", Lang::Id).await;
    let order = t.request(&user, 2_000_000).await;

    let out = t
        .desk
        .handle_inbound(model_only_cancel("ops@ragu.id", "c1@ragu.id", &order))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("asked: cancel"), "{}", out.outcome);
    assert_eq!(decided_by(&t, out.inbound_id).await, "model_only_cancel");
    assert_eq!(t.order(order.id).await.status(), OrderStatus::Open);
    let question = last_email(&t, "confirm_cancel").await;
    assert_eq!(question["vars"]["order_number"], order.number.as_str());
    assert_eq!(
        question["vars"]["status_name"],
        OrderStatus::Open.display_name(Lang::Id)
    );
    assert!(
        question["vars"]["amount"]
            .as_str()
            .is_some_and(|a| a.contains("2.000.000")),
        "{question}"
    );

    let yes = reply_in_thread("ops@ragu.id", "c2@ragu.id", &question, "iya betul");
    let out = t.desk.handle_inbound(yes).await.unwrap();
    assert!(out.outcome.starts_with("cancelled"), "{}", out.outcome);
    assert_eq!(decided_by(&t, out.inbound_id).await, "confirmed_proposal");
    assert_eq!(t.order(order.id).await.status(), OrderStatus::Deleted);
    last_email(&t, "cancelled").await;

    let again = reply_in_thread("ops@ragu.id", "c3@ragu.id", &question, "ya");
    let out = t.desk.handle_inbound(again).await.unwrap();
    assert!(out.outcome.starts_with("refused"), "{}", out.outcome);
    assert!(out.outcome.contains("already cancelled"), "{}", out.outcome);
    assert_eq!(
        t.events(order.id)
            .await
            .iter()
            .filter(|e| *e == "cancel")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_yes_to_a_cancellation_after_the_order_moved_on_cancels_nothing() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Lanjut", "ops@lanjut.id", Lang::En).await;
    let order = t.request(&user, 900_000).await;
    t.desk
        .handle_inbound(model_only_cancel("ops@lanjut.id", "m1@lanjut.id", &order))
        .await
        .unwrap();
    let question = last_email(&t, "confirm_cancel").await;

    // Meanwhile the customer pays and sends the slip: the order is in review.
    let mut slip = mail("ops@lanjut.id", "m2@lanjut.id", Intent::Slip);
    slip.extraction.order_number =
        Some(topup::domain::order_number::OrderNumber::parse(&order.number).unwrap());
    slip.extraction.slips = vec![png("paid")];
    let out = t.desk.handle_inbound(slip).await.unwrap();
    assert!(out.outcome.starts_with("submitted"), "{}", out.outcome);

    let yes = reply_in_thread("ops@lanjut.id", "m3@lanjut.id", &question, "Yes");
    let out = t.desk.handle_inbound(yes).await.unwrap();
    assert!(
        out.outcome.contains("has changed since we asked"),
        "{}",
        out.outcome
    );
    assert_eq!(t.order(order.id).await.status(), OrderStatus::Dealing);
}

#[tokio::test]
async fn a_cancellation_the_rules_read_is_done_at_once_and_chat_is_told_how_to_confirm() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Pasti", "ops@pasti.id", Lang::Id).await;

    // The rules read it: carried out, no question.
    let plain = t.request(&user, 500_000).await;
    let mut m = model_only_cancel("ops@pasti.id", "p1@pasti.id", &plain);
    m.extraction.intent_by_model = false;
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("cancelled"), "{}", out.outcome);
    assert_eq!(decided_by(&t, out.inbound_id).await, "parser");

    // In chat there is no thread to answer in: nothing is done, and the
    // answer gives the words that would do it.
    let order = t.request(&user, 750_000).await;
    let mut chat = model_only_cancel("ops@pasti.id", "p2@pasti.id", &order);
    chat.channel = Channel::Discord;
    chat.sender = "123456789012345678".into();
    chat.raw = None;
    {
        let mut conn = t.desk.store().pool().acquire().await.unwrap();
        topup::store::accounts::link_discord(&mut conn, user.id, "123456789012345678")
            .await
            .unwrap();
    }
    let out = t.desk.handle_inbound(chat).await.unwrap();
    assert_eq!(
        out.outcome,
        format!("{}{}", topup::desk::ASKED_CANCEL, order.number)
    );
    assert_eq!(t.order(order.id).await.status(), OrderStatus::Open);
    let told = topup::discord::gateway::outcome_text(&t.desk, &out)
        .await
        .unwrap();
    assert!(
        told.contains(&format!("`cancel {}`", order.number))
            && told.contains("Nothing has been cancelled"),
        "{told}"
    );
}

#[tokio::test]
async fn a_model_only_cancellation_of_a_paid_order_is_refused_not_asked() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Lunas", "ops@lunas.id", Lang::Id).await;
    let staff = t.staff("sari").await;
    let order = t.dealing(&user, 1_000_000).await;
    t.approve(&order, &staff).await;
    let out = t
        .desk
        .handle_inbound(model_only_cancel("ops@lunas.id", "l1@lunas.id", &order))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("refused"), "{}", out.outcome);
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let asked = topup::store::outbox::list(&mut conn, None, 100)
        .await
        .unwrap()
        .into_iter()
        .any(|r| r.payload.contains("\"confirm_cancel\""));
    assert!(!asked, "no question about what cannot be done");
    assert_eq!(t.order(order.id).await.status(), OrderStatus::Paid);
}

#[tokio::test]
async fn help_for_a_message_about_an_order_says_what_was_understood_and_what_it_allows() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Bingung", "ops@bingung.id", Lang::En).await;
    let staff = t.staff("sari").await;
    let order = t.dealing(&user, 3_000_000).await;
    let n = t.approve(&order, &staff).await;

    let mut m = mail("ops@bingung.id", "h1@bingung.id", Intent::Unknown);
    m.extraction.order_number = Some(n.clone());
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("not understood"), "{}", out.outcome);
    let help = last_email(&t, "not_understood").await;
    assert_eq!(help["vars"]["order_number"], order.number.as_str());
    assert_eq!(help["vars"]["status_name"], "Paid");
    // A paid order can be neither paid again, changed nor cancelled.
    for key in ["can_slip", "can_amend", "can_cancel"] {
        assert_eq!(help["vars"][key], false, "{key}: {help}");
    }

    // About no order: the general help, every action listed.
    let m = mail("ops@bingung.id", "h2@bingung.id", Intent::Unknown);
    t.desk.handle_inbound(m).await.unwrap();
    let help = last_email(&t, "not_understood").await;
    assert_eq!(help["vars"]["order_number"], "");
}

#[tokio::test]
async fn a_yes_from_another_account_or_unverified_mail_confirms_nothing() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Asli", "ops@asli.id", Lang::Id).await;
    t.customer("PT Lain", "ops@lain.id", Lang::Id).await;
    let order = t.request(&user, 1_200_000).await;
    t.desk
        .handle_inbound(model_only_cancel("ops@asli.id", "x1@asli.id", &order))
        .await
        .unwrap();
    let question = last_email(&t, "confirm_cancel").await;

    // Another customer who learnt the question's Message-ID answers it.
    let forged = reply_in_thread("ops@lain.id", "x2@lain.id", &question, "ya");
    let out = t.desk.handle_inbound(forged).await.unwrap();
    assert!(!out.outcome.starts_with("cancelled"), "{}", out.outcome);
    // The right address, but the mail failed its domain's sender checks.
    let mut spoofed = reply_in_thread("ops@asli.id", "x3@asli.id", &question, "ya");
    spoofed.auth_failed = true;
    let out = t.desk.handle_inbound(spoofed).await.unwrap();
    assert!(!out.outcome.starts_with("cancelled"), "{}", out.outcome);
    assert_eq!(t.order(order.id).await.status(), OrderStatus::Open);
}
