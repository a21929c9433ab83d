//! The order lifecycle through the desk, on the store chosen by
//! `TOPUP_TEST_DB`: every transition writes its status, event and outbox
//! rows; refusals say why and change nothing; races have one winner.

use topup::desk::{Actor, Channel, Decision, DeskError, RejectReason};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::domain::order::OrderStatus;

use crate::helpers::TestDesk;

fn approve() -> Decision {
    Decision::Approve { amount: None }
}

#[tokio::test]
async fn request_slip_approve_credits_the_balance_once_and_emails_each_step() {
    let t = TestDesk::new().await;
    let user = t
        .customer("PT Maju Jaya", "finance@maju.co.id", Lang::Id)
        .await;
    let staff = t.staff("rina").await;

    let order = t.request(&user, 1_500_000).await;
    assert_eq!(order.status(), OrderStatus::Open);
    assert!(order.number.starts_with("TU-20261125-"), "{}", order.number);
    assert_eq!(
        order.amount_minor,
        Some(Money::from_major(1_500_000).minor())
    );

    let order = {
        let slip = t.slip(b"png bytes").await;
        let n = t.desk.parse_order_number(&order.number).unwrap();
        t.desk
            .submit_slip(&user, Some(&n), &[slip], None, Channel::Email, None)
            .await
            .unwrap()
    };
    assert_eq!(order.status(), OrderStatus::Dealing);
    assert_eq!(order.submitted_at, Some(crate::helpers::T0));

    let n = t.desk.parse_order_number(&order.number).unwrap();
    let paid = t.desk.decide(&n, &staff, &approve()).await.unwrap();
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert_eq!(paid.decided_by.as_deref(), Some("rina"));
    assert_eq!(
        t.balance(user.account_id).await,
        Money::from_major(1_500_000).minor()
    );

    assert_eq!(
        t.outbox_kinds(order.id).await,
        vec![
            "email:order_created",
            "email:submission_received",
            "email:paid"
        ]
    );
    assert_eq!(t.events(order.id).await, vec!["request", "slip", "approve"]);

    // The paid email carries the receipt data with the new balance.
    let mut conn = t.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::for_order(&mut conn, order.id)
        .await
        .unwrap();
    let paid_mail: serde_json::Value = serde_json::from_str(&rows[2].payload).unwrap();
    assert_eq!(paid_mail["receipt"]["amount"], "1500000");
    assert_eq!(paid_mail["receipt"]["new_balance"], "1500000");
    assert_eq!(paid_mail["vars"]["new_balance"], "Rp 1.500.000");
    assert_eq!(paid_mail["to"], "finance@maju.co.id");

    // A second approval is refused with who and when, and credits nothing.
    let err = t.desk.decide(&n, &staff, &approve()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DeskError::Refused(_)), "{err:?}");
    assert!(
        text.contains("already paid by staff rina at 2026-11-25 10:00 WIB"),
        "{text}"
    );
    assert_eq!(
        t.balance(user.account_id).await,
        Money::from_major(1_500_000).minor()
    );
}

#[tokio::test]
async fn approving_with_a_corrected_amount_credits_that_amount() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Corrected", "a@corrected.id", Lang::En).await;
    let staff = t.staff("budi").await;
    let order = t.dealing(&user, 2_000_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let paid = t
        .desk
        .decide(
            &n,
            &staff,
            &Decision::Approve {
                amount: Some(Money::from_major(1_950_000)),
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.paid_minor, Some(Money::from_major(1_950_000).minor()));
    assert_eq!(
        t.balance(user.account_id).await,
        Money::from_major(1_950_000).minor()
    );
}

#[tokio::test]
async fn reject_then_amend_goes_back_to_review_without_a_customer_email() {
    let t = TestDesk::with(|s| {
        // With Discord configured every (re)submission posts a review card.
        s.discord.token = Some("test-token".to_string().into());
        s.discord.staff_channel_id = 42;
        s.discord.staff_user_ids = vec![7];
    })
    .await;
    let user = t.customer("PT Revisi", "ops@revisi.id", Lang::Id).await;
    let staff = t.staff("sari").await;
    let order = t.dealing(&user, 1_000_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();

    let failed = t
        .desk
        .decide(
            &n,
            &staff,
            &Decision::Reject {
                reason: RejectReason::AmountDiffers,
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status(), OrderStatus::PaymentFailure);
    assert_eq!(
        failed.reason.as_deref(),
        Some("Jumlah pada bukti transfer berbeda dengan jumlah pesanan.")
    );

    let amended = t
        .desk
        .amend(
            &user,
            &n,
            Money::from_major(950_000),
            &[],
            Channel::Email,
            None,
        )
        .await
        .unwrap();
    assert_eq!(amended.status(), OrderStatus::Dealing);
    assert_eq!(
        amended.amount_minor,
        Some(Money::from_major(950_000).minor())
    );
    assert!(
        amended.flag_list().contains(&"resubmission"),
        "{}",
        amended.flags
    );

    assert_eq!(
        t.outbox_kinds(order.id).await,
        vec![
            "email:order_created",
            "email:submission_received",
            "review_card",
            "email:payment_failure",
            "card_update",
            // amend: no customer email until staff decide again, but a new card.
            "review_card",
        ]
    );
    assert_eq!(t.balance(user.account_id).await, 0);
}

#[tokio::test]
async fn cancel_is_allowed_until_final_and_refused_after() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Batal", "x@batal.id", Lang::En).await;
    let staff = t.staff("dewi").await;
    let open = t.request(&user, 500_000).await;
    let n = t.desk.parse_order_number(&open.number).unwrap();
    let me = Actor::Customer(user.clone());
    let gone = t.desk.cancel(&me, &n, None).await.unwrap();
    assert_eq!(gone.status(), OrderStatus::Deleted);
    let err = t.desk.cancel(&me, &n, None).await.unwrap_err();
    assert!(
        err.to_string().contains("already cancelled by x@batal.id"),
        "{err}"
    );

    let paid = t.dealing(&user, 700_000).await;
    let pn = t.desk.parse_order_number(&paid.number).unwrap();
    t.desk.decide(&pn, &staff, &approve()).await.unwrap();
    let err = t.desk.cancel(&me, &pn, None).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot cancel order {}: it is already paid by staff dewi",
            paid.number
        )),
        "{err}"
    );
    // Nothing changed: still paid, credited once.
    assert_eq!(
        t.desk.view(&pn).await.unwrap().order.status(),
        OrderStatus::Paid
    );
    assert_eq!(
        t.balance(user.account_id).await,
        Money::from_major(700_000).minor()
    );
}

#[tokio::test]
async fn customers_cannot_touch_other_accounts_orders() {
    let t = TestDesk::new().await;
    let a = t.customer("PT A", "a@a.id", Lang::En).await;
    let b = t.customer("PT B", "b@b.id", Lang::En).await;
    let order = t.request(&a, 100_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let err = t
        .desk
        .cancel(&Actor::Customer(b), &n, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotYours(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("order {} is not an order of your account", order.number)
    );
}

#[tokio::test]
async fn a_slip_without_an_order_number_finds_the_only_open_order_or_makes_one() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Slip", "s@slip.id", Lang::Id).await;
    let pic = t.pic(&user, "pic@slip.id").await;
    let open = t.request(&user, 300_000).await;
    let slip = t.slip(b"first").await;
    let matched = t
        .desk
        .submit_slip(
            &pic,
            None,
            std::slice::from_ref(&slip),
            None,
            Channel::Email,
            None,
        )
        .await
        .unwrap();
    assert_eq!(matched.id, open.id, "the only open order is the one");
    assert!(matched.flag_list().contains(&"pic"), "{}", matched.flags);

    // No open order now: a slip makes a new dealing order, so no payment is missed.
    let slip2 = t.slip(b"second").await;
    let fresh = t
        .desk
        .submit_slip(
            &user,
            None,
            &[slip2],
            Some(Money::from_major(250_000)),
            Channel::Email,
            None,
        )
        .await
        .unwrap();
    assert_ne!(fresh.id, open.id);
    assert_eq!(fresh.status(), OrderStatus::Dealing);
    assert_eq!(fresh.amount_minor, Some(Money::from_major(250_000).minor()));

    // The same slip file on another order is flagged.
    let third = t
        .desk
        .submit_slip(
            &user,
            None,
            &[slip],
            Some(Money::from_major(1)),
            Channel::Email,
            None,
        )
        .await
        .unwrap();
    assert!(
        third.flag_list().contains(&"duplicate_slip"),
        "{}",
        third.flags
    );
}

#[tokio::test]
async fn order_numbers_count_per_day_in_local_time() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Seq", "q@seq.id", Lang::En).await;
    let a = t.request(&user, 1).await;
    let b = t.request(&user, 2).await;
    assert_eq!(a.number, "TU-20261125-0001");
    assert_eq!(b.number, "TU-20261125-0002");
    // 17:30 UTC is already the next day in WIB (UTC+7).
    t.clock.advance_ms((14 * 60 + 30) * 60_000);
    let c = t.request(&user, 3).await;
    assert_eq!(c.number, "TU-20261126-0001");
}

#[tokio::test]
async fn time_limits_fail_unconfirmed_and_close_unsubmitted_orders() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Waktu", "w@waktu.id", Lang::En).await;
    let staff = t.staff("eko").await;
    let open = t.request(&user, 100_000).await;
    let dealing = t.dealing(&user, 200_000).await;

    t.clock.advance_hours(23);
    assert_eq!(
        t.desk.expire_due().await.unwrap(),
        0,
        "nothing is due before 24 h"
    );
    t.clock.advance_hours(1);
    assert_eq!(t.desk.expire_due().await.unwrap(), 1);
    let dn = t.desk.parse_order_number(&dealing.number).unwrap();
    let v = t.desk.view(&dn).await.unwrap();
    assert_eq!(v.order.status(), OrderStatus::PaymentFailure);
    assert_eq!(v.order.decided_by.as_deref(), Some("system"));
    assert!(v.order.reason.as_deref().unwrap().contains("24 hours"));
    // Staff can no longer approve it; the customer can resubmit.
    let err = t.desk.decide(&dn, &staff, &approve()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("in payment failure (decided by the system"),
        "{err}"
    );

    t.clock.advance_hours(96);
    assert_eq!(
        t.desk.expire_due().await.unwrap(),
        1,
        "120 h after the request"
    );
    let on = t.desk.parse_order_number(&open.number).unwrap();
    assert_eq!(
        t.desk.view(&on).await.unwrap().order.status(),
        OrderStatus::Closed
    );
    assert_eq!(
        t.outbox_kinds(open.id).await,
        vec!["email:order_created", "email:closed"]
    );
    assert_eq!(
        t.desk.expire_due().await.unwrap(),
        0,
        "each limit applies once"
    );
}

#[tokio::test]
async fn two_staff_approving_at_once_have_exactly_one_winner() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Race", "r@race.id", Lang::En).await;
    let rina = t.staff("rina").await;
    let budi = t.staff("budi").await;
    for round in 0..5 {
        let order = t.dealing(&user, 100_000 + round).await;
        let n = t.desk.parse_order_number(&order.number).unwrap();
        let (yes, no) = (
            approve(),
            Decision::Reject {
                reason: RejectReason::NotReceived,
            },
        );
        let (a, b) = tokio::join!(
            t.desk.decide(&n, &rina, &yes),
            t.desk.decide(&n, &budi, &no)
        );
        let winners = [a.is_ok(), b.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(winners, 1, "round {round}: {a:?} / {b:?}");
        let loser = a.err().or(b.err()).unwrap();
        let text = loser.to_string();
        assert!(
            text.contains("by staff rina")
                || text.contains("by staff budi")
                || text.contains("by rina")
                || text.contains("by budi"),
            "the loser is told who won: {text}"
        );
        let mut conn = t.desk.store().pool().acquire().await.unwrap();
        let credits = topup::store::orders::credits_of(&mut conn, order.id)
            .await
            .unwrap();
        let status = t.desk.view(&n).await.unwrap().order.status();
        assert_eq!(credits, i64::from(status == OrderStatus::Paid));
        let decisions = t
            .events(order.id)
            .await
            .into_iter()
            .filter(|e| e == "approve" || e == "reject")
            .count();
        assert_eq!(decisions, 1, "one decision recorded");
    }
}

#[tokio::test]
async fn a_click_racing_a_cancel_has_one_winner() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Click", "c@click.id", Lang::En).await;
    let rina = t.staff("rina").await;
    let order = t.dealing(&user, 900_000).await;
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let me = Actor::Customer(user.clone());
    let yes = approve();
    let (a, b) = tokio::join!(t.desk.decide(&n, &rina, &yes), t.desk.cancel(&me, &n, None));
    assert!(a.is_ok() ^ b.is_ok(), "{a:?} / {b:?}");
    let status = t.desk.view(&n).await.unwrap().order.status();
    let credited = t.balance(user.account_id).await;
    match status {
        OrderStatus::Paid => assert_eq!(credited, Money::from_major(900_000).minor()),
        OrderStatus::Deleted => assert_eq!(credited, 0),
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn approving_needs_a_known_amount_and_a_known_order() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Nol", "n@nol.id", Lang::En).await;
    let staff = t.staff("tono").await;
    let slip = t.slip(b"no amount").await;
    let order = t
        .desk
        .submit_slip(&user, None, &[slip], None, Channel::Email, None)
        .await
        .unwrap();
    let n = t.desk.parse_order_number(&order.number).unwrap();
    let err = t.desk.decide(&n, &staff, &approve()).await.unwrap_err();
    assert!(err.to_string().contains("has no claimed amount"), "{err}");
    assert_eq!(
        t.desk.view(&n).await.unwrap().order.status(),
        OrderStatus::Dealing
    );
    let ghost = t.desk.parse_order_number("TU-20991231-0001").unwrap();
    let err = t.desk.decide(&ghost, &staff, &approve()).await.unwrap_err();
    assert_eq!(err.to_string(), "order TU-20991231-0001 does not exist");
}
