//! Property: no sequence of customer, staff and system events credits an
//! order twice or moves an order out of a final state, and every accepted
//! event lands where the lifecycle table says. Sequences come from proptest
//! strategies and run against the real store (`TOPUP_TEST_DB`).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use topup::desk::{Actor, Channel, Decision, RejectReason};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::domain::order::{EventKind, OrderStatus, transition};

use crate::helpers::TestDesk;

#[derive(Debug, Clone, Copy)]
enum Op {
    Slip,
    Approve,
    ApproveTwiceAtOnce,
    Reject,
    Amend,
    Cancel,
    Wait25h,
    Wait121h,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Slip),
        3 => Just(Op::Approve),
        2 => Just(Op::ApproveTwiceAtOnce),
        2 => Just(Op::Reject),
        2 => Just(Op::Amend),
        1 => Just(Op::Cancel),
        1 => Just(Op::Wait25h),
        1 => Just(Op::Wait121h),
    ]
}

#[tokio::test]
async fn no_sequence_credits_twice_or_leaves_a_final_state() {
    let t = TestDesk::new().await;
    let user = t.customer("PT Prop", "p@prop.id", Lang::En).await;
    let rina = t.staff("rina").await;
    let budi = t.staff("budi").await;
    let me = Actor::Customer(user.clone());
    let mut runner = TestRunner::deterministic();
    let sequences = proptest::collection::vec(op(), 1..10);
    let cases = if crate::helpers::backend() == "postgres" {
        40
    } else {
        60
    };
    let mut expected_balance = 0i64;
    let mut accepted = 0;
    for case in 0..cases {
        let seq = sequences.new_tree(&mut runner).unwrap().current();
        let order = t.request(&user, 10_000 + case).await;
        let n = t.desk.parse_order_number(&order.number).unwrap();
        let mut status = OrderStatus::Open;
        for op in &seq {
            let before = status;
            let (event, result) = match op {
                Op::Slip => {
                    let slip = t
                        .slip(format!("{case}-{op:?}-{}", t.clock_ms()).as_bytes())
                        .await;
                    (
                        Some(EventKind::Slip),
                        t.desk
                            .submit_slip(&user, Some(&n), &[slip], None, Channel::Web, None)
                            .await
                            .map(|_| ()),
                    )
                }
                Op::Approve => (
                    Some(EventKind::Approve),
                    t.desk
                        .decide(&n, &rina, &Decision::Approve { amount: None })
                        .await
                        .map(|_| ()),
                ),
                Op::ApproveTwiceAtOnce => {
                    let (a, b) = tokio::join!(
                        t.desk
                            .decide(&n, &rina, &Decision::Approve { amount: None }),
                        t.desk
                            .decide(&n, &budi, &Decision::Approve { amount: None }),
                    );
                    assert!(
                        !(a.is_ok() && b.is_ok()),
                        "two approvals of {} both succeeded",
                        order.number
                    );
                    (Some(EventKind::Approve), a.map(|_| ()).or(b.map(|_| ())))
                }
                Op::Reject => (
                    Some(EventKind::Reject),
                    t.desk
                        .decide(
                            &n,
                            &budi,
                            &Decision::Reject {
                                reason: RejectReason::Other("no".into()),
                            },
                        )
                        .await
                        .map(|_| ()),
                ),
                Op::Amend => (
                    Some(EventKind::Amend),
                    t.desk
                        .amend(
                            &user,
                            &n,
                            Money::from_major(20_000),
                            &[],
                            Channel::Web,
                            None,
                        )
                        .await
                        .map(|_| ()),
                ),
                Op::Cancel => (
                    Some(EventKind::Cancel),
                    t.desk.cancel(&me, &n, None).await.map(|_| ()),
                ),
                Op::Wait25h | Op::Wait121h => {
                    t.clock
                        .advance_hours(if matches!(op, Op::Wait25h) { 25 } else { 121 });
                    t.desk.expire_due().await.unwrap();
                    (None, Ok(()))
                }
            };
            status = t.desk.view(&n).await.unwrap().order.status();
            match event {
                Some(event) => {
                    let allowed = transition(Some(before), event);
                    match (&result, allowed) {
                        (Ok(()), Ok(to)) => assert_eq!(status, to, "{seq:?}"),
                        (Err(_), Err(_)) => assert_eq!(
                            status, before,
                            "a refusal changed {}: {seq:?}",
                            order.number
                        ),
                        (got, want) => panic!(
                            "{op:?} from {before}: got {got:?}, table says {want:?} ({seq:?})"
                        ),
                    }
                    if result.is_ok() {
                        accepted += 1;
                    }
                }
                None => {
                    if before.is_final() {
                        assert_eq!(status, before, "time moved a final order: {seq:?}");
                    }
                }
            }
            if before.is_final() {
                assert_eq!(
                    status, before,
                    "{op:?} moved {} out of {before}: {seq:?}",
                    order.number
                );
            }
            let mut conn = t.desk.store().pool().acquire().await.unwrap();
            let credits = topup::store::orders::credits_of(&mut conn, order.id)
                .await
                .unwrap();
            assert_eq!(credits, i64::from(status == OrderStatus::Paid), "{seq:?}");
        }
        if status == OrderStatus::Paid {
            let v = t.desk.view(&n).await.unwrap();
            expected_balance += v.order.paid_minor.unwrap();
        }
        assert_eq!(
            t.balance(user.account_id).await,
            expected_balance,
            "ledger = sum of paid orders"
        );
    }
    assert!(
        accepted > cases,
        "the sequences exercised the lifecycle ({accepted} accepted events)"
    );
}
