//! Staff decisions made on the desk directly, where a test needs an order
//! in a state rather than the path that puts it there.

#![allow(dead_code)]

use topup::desk::{Decision, Desk, RejectReason};
use topup::domain::order_number::OrderNumber;
use topup::store::accounts::StaffRow;

/// `staff` rejects order `number` for `reason`.
pub async fn reject(desk: &Desk, number: &OrderNumber, staff: &StaffRow, reason: RejectReason) {
    desk.decide(number, staff, &Decision::Reject { reason })
        .await
        .expect("the order is under review");
}
