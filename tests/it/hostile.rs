//! Hostile and messy input at the desk: a message whose handling panics or
//! fails deterministically is recorded as failed and never blocks the next
//! one; text that PostgreSQL would refuse is cleaned; forged headers cannot
//! create, change or cancel orders; the loop guard never silences order
//! mail; a reused Message-ID does not hide a different message; amounts and
//! sums are bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use topup::clock::{Clock, ManualClock};
use topup::config::Settings;
use topup::desk::{Channel, Decision, Inbound};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::domain::order::OrderStatus;
use topup::intake::{Extraction, Intent};
use topup::store::inbound as inbound_store;

use crate::helpers::{T0, TestDesk, backend, fresh_database};
use crate::inbound::statuses;

fn mail(sender: &str, id: &str, intent: Intent, amount: Option<i64>) -> Inbound {
    Inbound {
        channel: Channel::Email,
        keys: vec![format!("msgid:{id}")],
        content_hash: Some(format!("hash-of-{id}")),
        sender: sender.into(),
        sender_name: None,
        subject: "Top up".into(),
        message_id: Some(format!("<{id}>")),
        thread_ids: vec![],
        extraction: Extraction {
            intent,
            order_number: None,
            amount: amount.map(Money::from_major),
            slips: vec![],
            intent_by_model: false,
        },
        raw: Some(format!("Message-ID: <{id}>\r\n\r\nhello").into_bytes()),
        auth_failed: false,
        over_limit: None,
        chat_reply_to: None,
    }
}

/// Email kinds in the outbox, oldest first, with their status.
async fn emails(t: &TestDesk) -> Vec<(String, String)> {
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    topup::store::outbox::list(&mut conn, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|r| r.kind == "email")
        .map(|r| (r.email_kind.unwrap_or_default(), r.status))
        .collect()
}

/// A clock that panics the next `n` times it is read: a stand-in for any
/// bug that makes handling one message panic.
#[derive(Debug)]
struct PanickyClock {
    inner: ManualClock,
    panics_left: AtomicU32,
}

impl Clock for PanickyClock {
    fn now_ms(&self) -> i64 {
        if self
            .panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("injected failure while handling a message");
        }
        self.inner.now_ms()
    }
}

#[tokio::test]
async fn a_message_whose_handling_panics_is_recorded_as_failed_and_the_next_one_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.database.url = fresh_database(dir.path()).await;
    let settings = Arc::new(settings);
    let clock = Arc::new(PanickyClock {
        inner: ManualClock::at(T0),
        panics_left: AtomicU32::new(0),
    });
    let desk = topup::app::Application::open_desk(settings, clock.clone())
        .await
        .unwrap();
    {
        let mut tx = desk.store().begin_write().await.unwrap();
        topup::store::accounts::add_account(&mut tx, "PT Tahan", "ops@tahan.id", Lang::Id, T0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // Every attempt panics.
    clock
        .panics_left
        .store(topup::desk::inbound::MAX_ATTEMPTS, Ordering::SeqCst);
    let out = desk
        .handle_inbound(mail(
            "ops@tahan.id",
            "p1@tahan.id",
            Intent::Request,
            Some(1_000_000),
        ))
        .await
        .expect("a panic is not an error of the source");
    assert!(out.failed(), "{}", out.outcome);
    assert!(out.outcome.contains("injected failure"), "{}", out.outcome);
    // The next message goes through as usual.
    let next = desk
        .handle_inbound(mail(
            "ops@tahan.id",
            "p2@tahan.id",
            Intent::Request,
            Some(2_000_000),
        ))
        .await
        .unwrap();
    assert!(next.outcome.starts_with("created "), "{}", next.outcome);
    // The failed one is kept raw for staff, and a redelivery is a duplicate.
    let mut conn = desk.store().pool().acquire().await.unwrap();
    let failed = inbound_store::failed(&mut conn, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].raw_hash.is_some(), "kept raw");
    assert!(
        failed[0]
            .failed_error
            .as_deref()
            .unwrap()
            .contains("injected failure")
    );
    let listed = inbound_store::not_acted_on(&mut conn, 10).await.unwrap();
    assert!(
        listed.iter().any(|r| r.id == failed[0].id),
        "on the staff list"
    );
    drop(conn);
    let again = desk
        .handle_inbound(mail(
            "ops@tahan.id",
            "p1@tahan.id",
            Intent::Request,
            Some(1_000_000),
        ))
        .await
        .unwrap();
    assert!(again.duplicate());
}

/// Makes the store refuse any inbound record whose subject contains `POISON`:
/// a deterministic store error, like PostgreSQL refusing a value.
pub async fn poison_trigger(t: &TestDesk) {
    let pool = t.desk.store().pool();
    if backend() == "postgres" {
        sqlx::raw_sql(
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
               IF NEW.subject LIKE '%POISON%' THEN RAISE EXCEPTION 'poison subject refused'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON inbound_messages \
               FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .execute(pool)
        .await
        .unwrap();
    } else {
        sqlx::raw_sql(
            "CREATE TRIGGER poison BEFORE INSERT ON inbound_messages \
             WHEN NEW.subject LIKE '%POISON%' BEGIN SELECT RAISE(ABORT, 'poison subject refused'); END;",
        )
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_message_the_store_always_refuses_is_recorded_without_its_headers() {
    let t = TestDesk::new().await;
    t.customer("PT Racun", "ops@racun.id", Lang::Id).await;
    poison_trigger(&t).await;
    let mut poison = mail(
        "ops@racun.id",
        "x1@racun.id",
        Intent::Request,
        Some(500_000),
    );
    poison.subject = "POISON top up".into();
    let out = t.desk.handle_inbound(poison).await.unwrap();
    assert!(out.failed(), "{}", out.outcome);
    assert!(
        out.outcome.contains("poison subject refused"),
        "{}",
        out.outcome
    );
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let failed = inbound_store::failed(&mut conn, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].subject, "(not stored: recording it failed)");
    assert_eq!(failed[0].sender, "ops@racun.id");
    drop(conn);
    let next = t
        .desk
        .handle_inbound(mail(
            "ops@racun.id",
            "x2@racun.id",
            Intent::Request,
            Some(600_000),
        ))
        .await
        .unwrap();
    assert!(next.outcome.starts_with("created "), "{}", next.outcome);
}

#[tokio::test]
async fn nul_and_control_characters_are_stored_cleaned() {
    // PostgreSQL refuses a NUL byte in `text`: before the fix this message failed
    // every time and stopped the source.
    let t = TestDesk::new().await;
    t.customer("PT Nol", "ops@nol.id", Lang::Id).await;
    let mut m = mail("ops@nol.id", "nul\0@nol.id", Intent::Slip, None);
    m.content_hash = Some("0123abcd".into());
    m.subject = "Bukti\0 transfer\u{7}\u{1b}[31m".into();
    m.extraction.slips = vec![topup::intake::SlipFile {
        file_name: Some("bukti\0.png".into()),
        content_type: "image/png".into(),
        bytes: b"\x89PNG nul".to_vec(),
    }];
    let out = t.desk.handle_inbound(m).await.unwrap();
    assert!(out.outcome.starts_with("submitted "), "{}", out.outcome);
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let row = inbound_store::by_id(&mut conn, out.inbound_id.unwrap())
        .await
        .unwrap();
    assert_eq!(row.subject, "Bukti transfer[31m");
    let slips = inbound_store::slips_of(&mut conn, out.order.unwrap().id)
        .await
        .unwrap();
    assert_eq!(slips[0].file_name, "bukti.png");
}

#[tokio::test]
async fn unverified_mail_may_bring_a_slip_but_not_request_amend_or_cancel() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Asli", "boss@asli.id", Lang::En).await;
    let open = t.request(&user, 1_000_000).await;

    let mut request = mail(
        "boss@asli.id",
        "f1@asli.id",
        Intent::Request,
        Some(9_000_000),
    );
    request.auth_failed = true;
    let out = t.desk.handle_inbound(request).await.unwrap();
    assert!(out.order.is_none());
    assert!(
        out.outcome.starts_with("kept: sender not verified"),
        "{}",
        out.outcome
    );

    let mut cancel = mail("boss@asli.id", "f2@asli.id", Intent::Cancel, None);
    cancel.auth_failed = true;
    cancel.extraction.order_number = Some(t.desk.parse_order_number(&open.number).unwrap());
    let out = t.desk.handle_inbound(cancel).await.unwrap();
    assert!(
        out.outcome.starts_with("kept: sender not verified"),
        "{}",
        out.outcome
    );
    let n = t.desk.parse_order_number(&open.number).unwrap();
    assert_eq!(
        t.desk.view(&n).await.unwrap().order.status(),
        OrderStatus::Open
    );

    // The answers go to the address's owner and say how to do it safely.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::list(&mut conn, Some("pending"), 10)
        .await
        .unwrap();
    let refusal = rows
        .iter()
        .find(|r| r.email_kind.as_deref() == Some("action_refused") && r.payload.contains("cancel"))
        .expect("answered");
    assert!(
        refusal.payload.contains(&format!("/o/{}", open.token)),
        "{}",
        refusal.payload
    );
    let kept = inbound_store::not_acted_on(&mut conn, 10).await.unwrap();
    assert_eq!(kept.len(), 2, "both kept for staff");
    drop(conn);

    // A slip still goes through, flagged for staff.
    let mut slip = mail("boss@asli.id", "f3@asli.id", Intent::Slip, None);
    slip.auth_failed = true;
    slip.extraction.order_number = Some(n.clone());
    let out = t.desk.handle_inbound(slip).await.unwrap();
    let order = out.order.expect("submitted");
    assert_eq!(order.status(), OrderStatus::Dealing);
    assert!(order.flag_list().contains(&"unauthenticated"));
}

#[tokio::test]
async fn the_loop_guard_never_silences_order_mail() {
    let t = TestDesk::with(|s| s.limits.replies_per_sender_per_hour = 3).await;
    let user = t.customer("PT Ramai", "ops@ramai.id", Lang::Id).await;
    // Ten messages nobody understands: three answers, seven held back, all visible.
    for i in 0..10 {
        t.desk
            .handle_inbound(mail(
                "ops@ramai.id",
                &format!("u{i}@ramai.id"),
                Intent::Unknown,
                None,
            ))
            .await
            .unwrap();
    }
    // Now a real top-up request: its bank details and order number are sent.
    let out = t
        .desk
        .handle_inbound(mail(
            "ops@ramai.id",
            "real@ramai.id",
            Intent::Request,
            Some(2_500_000),
        ))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("created "), "{}", out.outcome);
    // And the staff decision mails too.
    let order = t.dealing(&user, 700_000).await;
    let staff = t.staff("rina").await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    t.desk
        .decide(&n, &staff, &Decision::Approve { amount: None })
        .await
        .unwrap();
    let sent = emails(&t).await;
    let count = |kind: &str, status: &str| {
        sent.iter()
            .filter(|(k, s)| k == kind && s == status)
            .count()
    };
    assert_eq!(count("not_understood", "pending"), 3);
    assert_eq!(count("not_understood", "suppressed"), 7);
    assert_eq!(count("order_created", "pending"), 2);
    assert_eq!(count("submission_received", "pending"), 1);
    assert_eq!(count("paid", "pending"), 1);
    assert_eq!(
        sent.iter().filter(|(_, s)| s == "suppressed").count(),
        7,
        "only answers to messages we could not act on are held back"
    );
    // A held-back answer is never delivered.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let due = topup::store::outbox::claim_due(
        &mut conn,
        t.desk.store().backend(),
        t.clock_ms() + 1,
        30_000,
        100,
        "test",
    )
    .await
    .unwrap();
    assert!(due.iter().all(|r| r.status == "pending"));
    assert_eq!(due.len(), sent.len() - 7);
}

#[tokio::test]
async fn a_different_message_reusing_a_message_id_is_seen_and_a_redelivery_is_not() {
    let t = TestDesk::new().await;
    t.customer("PT Ulang", "ops@ulang.id", Lang::Id).await;
    let first = mail(
        "ops@ulang.id",
        "same@scanner",
        Intent::Request,
        Some(1_000_000),
    );
    let out = t.desk.handle_inbound(first.clone()).await.unwrap();
    assert!(out.outcome.starts_with("created "));
    // The same message again (same content): nothing new.
    assert!(t.desk.handle_inbound(first).await.unwrap().duplicate());
    // Another message with the same Message-ID but other content: handled, flagged.
    let mut other = mail(
        "ops@ulang.id",
        "same@scanner",
        Intent::Request,
        Some(3_000_000),
    );
    other.content_hash = Some("another-content".into());
    let out = t.desk.handle_inbound(other.clone()).await.unwrap();
    assert!(out.outcome.starts_with("created "), "{}", out.outcome);
    assert!(out.outcome.contains("reused Message-ID"), "{}", out.outcome);
    // ... and that one redelivered is a duplicate too.
    assert!(t.desk.handle_inbound(other).await.unwrap().duplicate());
}

#[tokio::test]
async fn amounts_are_bounded_and_sums_checked() {
    let t = TestDesk::with(|s| s.limits.max_order_amount = 1_000_000_000).await;
    let user = t.customer("PT Besar", "ops@besar.id", Lang::Id).await;
    let out = t
        .desk
        .handle_inbound(mail(
            "ops@besar.id",
            "big@besar.id",
            Intent::Request,
            Some(1_000_000_001),
        ))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("refused:"), "{}", out.outcome);
    assert!(
        out.outcome.contains("more than one order may be"),
        "{}",
        out.outcome
    );

    // A balance near the limit of the ledger's integer: the next credit is
    // refused with a clear reason instead of failing with "integer overflow".
    let order = t.dealing(&user, 500_000).await;
    let filler = t.request(&user, 1_000).await;
    sqlx::query(
        "INSERT INTO ledger (account_id, order_id, amount_minor, staff, created_at) VALUES ($1, $2, $3, 'x', 0)",
    )
    .bind(user.account_id)
    .bind(filler.id)
    .bind(i64::MAX - 10)
    .execute(t.desk.store().pool())
    .await
    .unwrap();
    let staff = t.staff("rina").await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let err = t
        .desk
        .decide(&n, &staff, &Decision::Approve { amount: None })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("would overflow"), "{err}");
    assert_eq!(
        t.desk.view(&n).await.unwrap().order.status(),
        OrderStatus::Dealing
    );
}

#[tokio::test]
async fn a_worker_that_dies_releases_its_outbox_rows_within_one_short_lease() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Lepas", "ops@lepas.id", Lang::Id).await;
    t.request(&user, 1_000_000).await;
    let store = t.desk.store();
    let mut conn = store.pool().acquire().await.unwrap();
    // A worker claims the row and dies before sending.
    let claimed = topup::store::outbox::claim_due(
        &mut conn,
        store.backend(),
        t.clock_ms(),
        30_000,
        10,
        "dead-worker",
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    // While its lease runs, nobody else takes it; a live worker extends its own
    // lease (heartbeat) but not someone else's.
    let extended = topup::store::outbox::extend_leases(
        &mut conn,
        &[claimed[0].id],
        "other",
        t.clock_ms() + 60_000,
    )
    .await
    .unwrap();
    assert_eq!(extended, 0);
    t.clock.advance_ms(29_000);
    let none =
        topup::store::outbox::claim_due(&mut conn, store.backend(), t.clock_ms(), 30_000, 10, "w2")
            .await
            .unwrap();
    assert!(none.is_empty());
    // 30 s after the claim the row is back (it was 5 minutes).
    t.clock.advance_ms(1_001);
    let back =
        topup::store::outbox::claim_due(&mut conn, store.backend(), t.clock_ms(), 30_000, 10, "w2")
            .await
            .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, claimed[0].id);
}

#[tokio::test]
async fn unfinished_eml_files_of_a_killed_run_are_removed_at_start() {
    let t = TestDesk::new().await;
    let outbox = t.settings.eml_dir_path();
    std::fs::create_dir_all(&outbox).unwrap();
    std::fs::write(outbox.join(".topup.abc@x.eml.0123.tmp"), b"").unwrap();
    std::fs::write(outbox.join("done@x.eml"), b"From: a\r\n\r\nx").unwrap();
    let app = topup::app::Application::build(t.settings.clone(), Arc::new(t.clock.clone()))
        .await
        .unwrap();
    drop(app);
    let names: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["done@x.eml".to_string()]);
    let _ = statuses(&t).await;
}

#[tokio::test]
async fn a_batch_commits_together_and_a_poison_message_in_it_fails_alone() {
    let t = TestDesk::new().await;
    t.customer("PT Kelompok", "ops@kelompok.id", Lang::Id).await;
    poison_trigger(&t).await;
    let mut batch: Vec<Inbound> = (0..5)
        .map(|i| {
            mail(
                "ops@kelompok.id",
                &format!("g{i}@kelompok.id"),
                Intent::Request,
                Some(1_000_000 * (i + 1)),
            )
        })
        .collect();
    batch[2].subject = "POISON".into();
    // A duplicate of the first one inside the same batch.
    batch.push(batch[0].clone());
    let outcomes = t.desk.handle_inbound_batch(batch).await.unwrap();
    let summary: Vec<String> = outcomes
        .iter()
        .map(|o| {
            o.outcome
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        summary,
        [
            "created",
            "created",
            "failed:",
            "created",
            "created",
            "duplicate"
        ],
        "{outcomes:?}"
    );
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let orders = topup::store::orders::list(&mut conn, None, None, 100)
        .await
        .unwrap();
    assert_eq!(orders.len(), 4);
    assert_eq!(inbound_store::failed(&mut conn, 10).await.unwrap().len(), 1);
    // Every order's mail is queued once.
    let (mails,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE email_kind = 'order_created'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(mails, 4);
}
