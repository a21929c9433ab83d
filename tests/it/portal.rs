//! Who may do what among an account's users, who is named and told, and the
//! words customers read, through the desk as every channel uses it (mail by
//! `handle_inbound`, chat and CLI by the use cases), plus the CLI's output
//! for staff: formatted amounts and names, no stale decision, a quiet end
//! on a closed pipe, and logs without colour codes off a terminal.

use std::process::{Command, Stdio};

use serde_json::Value;
use topup::desk::{Actor, Channel, Decision, DeskError, Inbound, RejectReason};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::intake::{Extraction, Intent, SlipFile};
use topup::render::templates::{EmailKind, Templates};
use topup::store::accounts;

use crate::helpers::TestDesk;

/// Every email outbox payload, oldest first.
async fn mails(t: &TestDesk) -> Vec<Value> {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let mut rows = topup::store::outbox::list(&mut conn, None, 500)
        .await
        .unwrap();
    rows.reverse();
    rows.into_iter()
        .filter(|r| r.kind == "email")
        .map(|r| serde_json::from_str(&r.payload).unwrap())
        .collect()
}

/// Payloads of one kind of email, oldest first.
async fn mails_of(t: &TestDesk, kind: &str) -> Vec<Value> {
    mails(t)
        .await
        .into_iter()
        .filter(|m| m["kind"] == kind)
        .collect()
}

fn mail_from(sender: &str, name: Option<&str>, id: &str, intent: Intent) -> Inbound {
    Inbound {
        channel: Channel::Email,
        keys: vec![format!("msgid:<{id}>")],
        content_hash: None,
        sender: sender.into(),
        sender_name: name.map(str::to_string),
        subject: "Top up".into(),
        message_id: Some(format!("<{id}>")),
        thread_ids: vec![],
        extraction: Extraction {
            intent,
            order_number: None,
            amount: None,
            slips: vec![],
            intent_by_model: false,
        },
        raw: None,
        auth_failed: false,
        over_limit: None,
        chat_reply_to: None,
    }
}

async fn named_pic(
    t: &TestDesk,
    main: &topup::store::accounts::UserRow,
    email: &str,
    name: &str,
) -> topup::store::accounts::UserRow {
    let mut tx = t.desk.store().begin_write().await.unwrap();
    let u = accounts::add_user(
        &mut tx,
        main.account_id,
        email,
        "pic",
        name,
        None,
        t.clock_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    u
}

async fn set_name(t: &TestDesk, user: &topup::store::accounts::UserRow, name: &str) {
    let mut tx = t.desk.store().begin_write().await.unwrap();
    accounts::set_user_name(&mut tx, user.id, name)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn only_the_main_user_or_who_asked_may_cancel_or_amend_on_every_channel() {
    let t = TestDesk::new().await;
    let main = t.customer("PT Dua Orang", "budi@dua.id", Lang::Id).await;
    set_name(&t, &main, "Budi Santoso").await;
    let siti = named_pic(&t, &main, "siti@dua.id", "Siti Rahayu").await;
    let rina = named_pic(&t, &main, "rina@dua.id", "Rina").await;
    let staff = t.staff("dewi").await;

    // Chat (and CLI-style calls): Siti may not cancel Budi's order; the refusal names
    // the requester and the main user, and nothing changes.
    let budis = t.request(&main, 500_000).await;
    let n = t.desk.parse_order_number(&budis.number).unwrap();
    let err = t
        .desk
        .cancel(&Actor::Customer(siti.clone()), &n, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotAllowed(_)), "{err:?}");
    let id_text = err.localized(Lang::Id);
    assert!(
        id_text.contains(&budis.number)
            && id_text.contains("Budi Santoso")
            && id_text.contains("hanya pengguna utama"),
        "{id_text}"
    );
    assert_eq!(t.desk.view(&n).await.unwrap().order.status, "open");

    // Mail: the same refusal, answered in Indonesian, with the order number in the subject.
    let mut cancel = mail_from("siti@dua.id", None, "c1@dua.id", Intent::Cancel);
    cancel.extraction.order_number = Some(n.clone());
    let out = t.desk.handle_inbound(cancel).await.unwrap();
    assert!(out.outcome.starts_with("refused: "), "{}", out.outcome);
    let refusal = mails_of(&t, "action_refused").await.pop().unwrap();
    assert_eq!(refusal["to"], "siti@dua.id");
    assert_eq!(refusal["vars"]["order_number"], budis.number.as_str());
    assert!(
        refusal["vars"]["reason"]
            .as_str()
            .unwrap()
            .contains("dibuat oleh Budi Santoso"),
        "{refusal}"
    );
    let rendered = Templates::embedded()
        .render(EmailKind::ActionRefused, Lang::Id, &refusal["vars"])
        .unwrap();
    assert_eq!(
        rendered.subject,
        format!("Tidak diproses: {}", budis.number)
    );

    // A rejected order of Budi's: Siti may not amend it either (mail path, no number:
    // the account's only rejected order), but Budi may.
    let rejected = t.dealing(&main, 750_000).await;
    let rn = t.desk.parse_order_number(&rejected.number).unwrap();
    t.desk
        .decide(
            &rn,
            &staff,
            &Decision::Reject {
                reason: RejectReason::AmountDiffers,
            },
        )
        .await
        .unwrap();
    let mut amend = mail_from("siti@dua.id", None, "a1@dua.id", Intent::Amend);
    amend.extraction.amount = Some(Money::from_major(700_000));
    let out = t.desk.handle_inbound(amend).await.unwrap();
    assert!(
        out.outcome.contains("only the main user"),
        "{}",
        out.outcome
    );
    let refusal = mails_of(&t, "action_refused").await.pop().unwrap();
    assert_eq!(
        refusal["vars"]["order_number"],
        rejected.number.as_str(),
        "the refusal names the order it picked, so the subject carries its number"
    );
    assert_eq!(
        t.desk.view(&rn).await.unwrap().order.status,
        "payment_failure"
    );
    t.desk
        .amend(
            &main,
            &rn,
            Money::from_major(700_000),
            &[],
            Channel::Email,
            None,
        )
        .await
        .unwrap();

    // A PIC acts on the orders they asked for or sent a slip for.
    let sitis = t.request(&siti, 300_000).await;
    let sn = t.desk.parse_order_number(&sitis.number).unwrap();
    let err = t
        .desk
        .cancel(&Actor::Customer(rina.clone()), &sn, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotAllowed(_)), "{err:?}");
    let slip = t.slip(b"rina's slip for siti's order").await;
    t.desk
        .submit_slip(&rina, Some(&sn), &[slip], None, Channel::Email, None)
        .await
        .expect("any user of the account may send a slip");
    let cancelled = t
        .desk
        .cancel(&Actor::Customer(rina.clone()), &sn, None)
        .await
        .expect("Rina sent its slip, so she may cancel it");
    assert_eq!(cancelled.status, "deleted");
    // The main user may cancel anyone's order; the operator too.
    let other = t.request(&siti, 100_000).await;
    let on = t.desk.parse_order_number(&other.number).unwrap();
    t.desk
        .cancel(&Actor::Customer(main.clone()), &on, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_action_records_who_did_it_and_how() {
    let t = TestDesk::new().await;
    let main = t.customer("PT Jejak", "main@jejak.id", Lang::En).await;
    let pic = named_pic(&t, &main, "pic@jejak.id", "Putri").await;
    let order = t.request(&main, 200_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let slip = t.slip(b"jejak slip").await;
    t.desk
        .submit_slip(&pic, Some(&n), &[slip], None, Channel::Web, None)
        .await
        .unwrap();
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let events = topup::store::orders::events(&mut conn, order.id)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(events[0].user_id, Some(main.id));
    assert_eq!(events[0].via, "email");
    assert_eq!(events[1].event, "slip");
    assert_eq!(
        events[1].user_id,
        Some(pic.id),
        "the slip is Putri's, not the requester's"
    );
    assert_eq!(events[1].via, "web");
    let view = t.desk.view(&n).await.unwrap();
    assert_eq!(view.order.submitted_by, Some(pic.id));
    assert_eq!(view.submitter.as_ref().map(|u| u.id), Some(pic.id));

    // The status link without signing in acts as the order's creator, and says so.
    let staff = t.staff("dewi").await;
    t.desk
        .decide(
            &n,
            &staff,
            &Decision::Reject {
                reason: RejectReason::NotReceived,
            },
        )
        .await
        .unwrap();
    t.desk
        .cancel_on(
            &Actor::Customer(main.clone()),
            &n,
            None,
            Channel::StatusLink,
        )
        .await
        .unwrap();
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let last = topup::store::orders::events(&mut conn, order.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.event.as_str(), last.via.as_str()),
        ("cancel", "status_link")
    );
    assert_eq!(last.user_id, Some(main.id));
}

#[tokio::test]
async fn a_pic_submitting_for_the_main_users_order_tells_both_and_names_the_pic() {
    let t = TestDesk::new().await;
    let main = t.customer("PT Berdua", "budi@berdua.id", Lang::Id).await;
    set_name(&t, &main, "Budi").await;
    let pic = named_pic(&t, &main, "siti@berdua.id", "Siti").await;
    // Siti reads her mail in English.
    let mut tx = t.desk.store().begin_write().await.unwrap();
    accounts::set_user_lang(&mut tx, pic.id, Lang::En)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let staff = t.staff("dewi").await;
    let order = t.request(&main, 2_250_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let mut slip_mail = mail_from("siti@berdua.id", None, "s1@berdua.id", Intent::Slip);
    slip_mail.extraction.order_number = Some(n.clone());
    slip_mail.extraction.slips = vec![SlipFile {
        file_name: Some("bukti.jpg".into()),
        content_type: "image/jpeg".into(),
        bytes: b"\xff\xd8\xff siti".to_vec(),
    }];
    t.desk.handle_inbound(slip_mail).await.unwrap();

    let received = mails_of(&t, "submission_received").await;
    let to: Vec<&str> = received.iter().map(|m| m["to"].as_str().unwrap()).collect();
    assert_eq!(
        to,
        vec!["siti@berdua.id", "budi@berdua.id"],
        "both are told"
    );
    for m in &received {
        assert_eq!(
            m["vars"]["submitted_by"], "Siti",
            "the submitter is named: {m}"
        );
    }
    assert_eq!(received[0]["vars"]["user_name"], "Siti");
    assert_eq!(received[0]["lang"], "en", "Siti's own language");
    assert_eq!(
        received[0]["in_reply_to"], "<s1@berdua.id>",
        "Siti's copy answers her mail"
    );
    assert_eq!(received[1]["vars"]["user_name"], "Budi");
    assert_eq!(received[1]["lang"], "id");
    let text = Templates::embedded()
        .render(
            EmailKind::SubmissionReceived,
            Lang::Id,
            &received[1]["vars"],
        )
        .unwrap()
        .text;
    assert!(text.starts_with("Yth. Budi,"), "{text}");
    assert!(text.contains("Nama Pengguna: Siti"), "{text}");

    // Paid with another amount than asked: both are told, and the mail says so.
    t.desk
        .decide(
            &n,
            &staff,
            &Decision::Approve {
                amount: Some(Money::from_major(2_000_000)),
            },
        )
        .await
        .unwrap();
    let paid = mails_of(&t, "paid").await;
    assert_eq!(paid.len(), 2);
    let budi = paid.iter().find(|m| m["to"] == "budi@berdua.id").unwrap();
    let mail = Templates::embedded()
        .render(EmailKind::Paid, Lang::Id, &budi["vars"])
        .unwrap();
    assert_eq!(
        mail.subject,
        format!("Lunas: {} Rp 2.000.000", order.number)
    );
    assert!(
        mail.text
            .contains("Kami menerima Rp 2.000.000 (bukan Rp 2.250.000 yang diminta)"),
        "{}",
        mail.text
    );
    // No staff name reaches a customer: not in the variables, not on the receipt.
    let all = serde_json::to_string(&paid).unwrap();
    assert!(!all.contains("dewi"), "{all}");
    assert!(
        budi["receipt"]["staff_reference"]
            .as_str()
            .unwrap()
            .starts_with("Tim Receivables"),
        "{budi}"
    );
}

#[tokio::test]
async fn refusals_told_to_customers_never_name_staff_but_staff_read_the_name() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Rahasia", "a@rahasia.id", Lang::En).await;
    let staff = t.staff("rina").await;
    let order = t.dealing(&user, 100_000).await;
    let n = t.approve(&order, &staff).await;
    let err = t
        .desk
        .cancel(&Actor::Customer(user.clone()), &n, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("by staff rina"), "staff: {err}");
    for lang in [Lang::En, Lang::Id] {
        let told = err.localized(lang);
        assert!(!told.contains("rina"), "{told}");
        assert!(told.contains("Receivables"), "{told}");
    }
}

#[tokio::test]
async fn the_first_mails_display_name_becomes_the_users_name() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Nama", "budi@nama.id", Lang::Id).await;
    assert_eq!(user.name, "");
    let raw = b"From: \"Budi  Santoso\" <budi@nama.id>\r\nTo: topup@localhost\r\nSubject: Top up\r\nMessage-ID: <n1@nama.id>\r\n\r\nTolong top up Rp 1.000.000\r\n";
    let inbound = topup::sources::inbound_from_email(raw.to_vec(), vec![], &t.settings);
    t.desk.handle_inbound(inbound).await.unwrap();
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let now = accounts::user_by_id(&mut conn, user.id).await.unwrap();
    assert_eq!(now.name, "Budi Santoso", "spaces folded");
    drop(conn);
    let created = mails_of(&t, "order_created").await;
    assert_eq!(
        created[0]["vars"]["user_name"], "Budi Santoso",
        "greeted by name"
    );

    // A later mail with another display name does not rename them; an address is no name.
    let raw = b"From: Pak Budi <budi@nama.id>\r\nSubject: status\r\nMessage-ID: <n2@nama.id>\r\n\r\nstatus?\r\n";
    let inbound = topup::sources::inbound_from_email(raw.to_vec(), vec![], &t.settings);
    t.desk.handle_inbound(inbound).await.unwrap();
    let other = t.customer("PT Alamat", "x@alamat.id", Lang::Id).await;
    let mut msg = mail_from(
        "x@alamat.id",
        Some("x@alamat.id"),
        "n3@alamat.id",
        Intent::Unknown,
    );
    msg.subject = "?".into();
    t.desk.handle_inbound(msg).await.unwrap();
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    assert_eq!(
        accounts::user_by_id(&mut conn, user.id).await.unwrap().name,
        "Budi Santoso"
    );
    assert_eq!(
        accounts::user_by_id(&mut conn, other.id)
            .await
            .unwrap()
            .name,
        ""
    );
}

#[tokio::test]
async fn a_timed_out_order_says_it_was_not_confirmed_and_a_reply_with_the_slip_reopens_it() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Waktu", "w@waktu.id", Lang::Id).await;
    let order = t.dealing(&user, 1_000_000).await;
    t.clock.advance_hours(25);
    assert_eq!(t.desk.expire_due().await.unwrap(), 1);
    let mail = mails_of(&t, "confirm_timeout")
        .await
        .pop()
        .expect("the timeout mail");
    assert_eq!(mail["to"], "w@waktu.id");
    let rendered = Templates::embedded()
        .render(EmailKind::ConfirmTimeout, Lang::Id, &mail["vars"])
        .unwrap();
    assert!(
        rendered
            .subject
            .starts_with(&format!("Pembayaran Gagal: {}", order.number))
    );
    assert!(
        rendered
            .text
            .contains("tidak berarti pembayaran atau jumlah Anda salah"),
        "{}",
        rendered.text
    );
    assert!(
        rendered
            .text
            .contains("Balas email ini dengan melampirkan bukti transfer"),
        "{}",
        rendered.text
    );
    assert!(
        !rendered.text.contains("ubah jumlah menjadi"),
        "no advice to fix the amount: {}",
        rendered.text
    );
    assert!(mails_of(&t, "payment_failure").await.is_empty());

    // The customer replies to that mail with the same slip: back in review.
    let mut reply = mail_from("w@waktu.id", None, "again@waktu.id", Intent::Slip);
    reply.thread_ids = vec![mail["message_id"].as_str().unwrap().to_string()];
    reply.extraction.slips = vec![SlipFile {
        file_name: Some("bukti.png".into()),
        content_type: "image/png".into(),
        bytes: format!("slip of {}", order.number).into_bytes(),
    }];
    let out = t.desk.handle_inbound(reply).await.unwrap();
    assert_eq!(out.order.unwrap().status, "dealing", "{}", out.outcome);
}

#[tokio::test]
async fn staff_are_reminded_once_per_review_round_before_the_limit() {
    let t = TestDesk::with(|s| {
        s.discord.token = Some(secrecy::SecretString::from("test-token".to_string()));
        s.discord.staff_channel_id = 42;
        s.discord.staff_user_ids = vec![1];
    })
    .await;
    let user = t.customer("PT Ingat", "i@ingat.id", Lang::Id).await;
    let order = t.dealing(&user, 100_000).await;
    let reminders = |kinds: Vec<String>| kinds.iter().filter(|k| *k == "reminder").count();
    t.clock.advance_hours(19);
    t.desk.expire_due().await.unwrap();
    assert_eq!(
        reminders(t.outbox_kinds(order.id).await),
        0,
        "not before 20 h"
    );
    t.clock.advance_hours(2);
    t.desk.expire_due().await.unwrap();
    t.desk.expire_due().await.unwrap();
    assert_eq!(reminders(t.outbox_kinds(order.id).await), 1, "once");
    // Rejected and resubmitted: a new round is reminded again after 20 h.
    let staff = t.staff("dewi").await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    t.desk
        .decide(
            &n,
            &staff,
            &Decision::Reject {
                reason: RejectReason::NotReceived,
            },
        )
        .await
        .unwrap();
    t.desk
        .amend(
            &user,
            &n,
            Money::from_major(90_000),
            &[],
            Channel::Email,
            None,
        )
        .await
        .unwrap();
    t.clock.advance_hours(21);
    t.desk.expire_due().await.unwrap();
    assert_eq!(reminders(t.outbox_kinds(order.id).await), 2);
}

// ----- the CLI, as staff read it -------------------------------------------

fn topup(dir: &std::path::Path, db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_topup"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("TOPUP__DATABASE__URL", db_url)
        .env_remove("TOPUP_CONFIG")
        .env("RUST_LOG", "info")
        .output()
        .expect("run topup")
}

#[tokio::test]
async fn cli_lists_amounts_and_names_and_shows_no_stale_decision() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let db = t.settings.database.url.clone();
    let user = t.customer("PT Daftar Rapi", "d@rapi.id", Lang::En).await;
    let staff = t.staff("rina").await;
    let order = t.dealing(&user, 1_500_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    t.desk
        .decide(
            &n,
            &staff,
            &Decision::Reject {
                reason: RejectReason::AmountDiffers,
            },
        )
        .await
        .unwrap();
    t.desk
        .amend(
            &user,
            &n,
            Money::from_major(1_450_000),
            &[],
            Channel::Email,
            None,
        )
        .await
        .unwrap();

    let out = topup(dir, &db, &["order", "list"]);
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("PT Daftar Rapi"), "account by name: {list}");
    assert!(list.contains("Rp 1.450.000"), "the desk's notation: {list}");

    let out = topup(dir, &db, &["order", "show", &order.number]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Status    dealing"), "{shown}");
    assert!(
        !shown.contains("Decided   by rina"),
        "back in review: no decision yet: {shown}"
    );
    assert!(
        !shown.contains("Reason    "),
        "the old rejection is not the reason now: {shown}"
    );
    assert!(
        shown.contains("reject"),
        "the rejection stays in the timeline: {shown}"
    );

    // An action through the status link is shown as such to staff.
    let linked = t.request(&user, 20_000).await;
    let ln = t.desk.parse_order_number(&linked.number).unwrap();
    t.desk
        .cancel_on(
            &Actor::Customer(user.clone()),
            &ln,
            None,
            Channel::StatusLink,
        )
        .await
        .unwrap();
    let out = topup(dir, &db, &["order", "show", &linked.number]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("customer d@rapi.id (status link)"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_closed_pipe_ends_quietly_and_logs_have_no_colour_codes_off_a_terminal() {
    let t = TestDesk::new().await;
    let dir = t.dir.path();
    let db = t.settings.database.url.clone();
    let user = t.customer("PT Pipa", "p@pipa.id", Lang::Id).await;
    for i in 0..30 {
        t.request(&user, 10_000 + i).await;
    }
    // `topup outbox list | head -0`: the reader is gone before the first line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_topup"))
        .arg("--data-dir")
        .arg(dir)
        .args(["outbox", "list"])
        .env("TOPUP__DATABASE__URL", &db)
        .env_remove("TOPUP_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status.code());
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );

    // Logs written to a pipe or a file carry no ANSI escape codes. The binary
    // runs on the real clock, long after this desk's submission at T0.
    t.dealing(&user, 50_000).await;
    let out = Command::new(env!("CARGO_BIN_EXE_topup"))
        .arg("--data-dir")
        .arg(dir)
        .args(["expire"])
        .env("TOPUP__DATABASE__URL", &db)
        .env_remove("TOPUP_CONFIG")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Order expired"),
        "the log line is there: {err}"
    );
    assert!(!err.contains('\u{1b}'), "no escape codes: {err:?}");
}
