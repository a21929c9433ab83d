//! The order lifecycle: statuses, the events that move an order, and the
//! one table ([`transition`]) that says which moves are allowed.
//!
//! This module is pure. The desk asks it what happens before it writes
//! anything, so the table in SPEC.md lives in exactly one place. Anything
//! not in the table is a [`Refused`] value that the desk turns into a
//! message for the person who asked.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::Lang;

/// Where an order stands. Stored in the database as [`OrderStatus::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Requested, bank details and order number sent, no slip yet.
    Open,
    /// Slip submitted, waiting for staff to check the bank statement.
    Dealing,
    /// Staff confirmed the money arrived; the balance was credited once.
    Paid,
    /// Staff rejected it, or it was not confirmed in time.
    PaymentFailure,
    /// The customer cancelled it.
    Deleted,
    /// Never submitted within the time limit; closed by the system.
    Closed,
}

impl OrderStatus {
    /// Every status, in lifecycle order (for listings and metrics).
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Open,
        OrderStatus::Dealing,
        OrderStatus::Paid,
        OrderStatus::PaymentFailure,
        OrderStatus::Deleted,
        OrderStatus::Closed,
    ];

    /// The name stored in the database and shown in the JSON API.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Dealing => "dealing",
            OrderStatus::Paid => "paid",
            OrderStatus::PaymentFailure => "payment_failure",
            OrderStatus::Deleted => "deleted",
            OrderStatus::Closed => "closed",
        }
    }

    /// Parses a stored or typed status name (`payment_failure`, `payment-failure`, any case).
    ///
    /// # Errors
    /// Says which names are valid when the text is none of them.
    pub fn parse(s: &str) -> Result<Self, String> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown status {s:?} (one of: open, dealing, paid, payment_failure, deleted, closed)"
                )
            })
    }

    /// The display name customers and staff see, in their language.
    pub fn display_name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (OrderStatus::Open, Lang::En) => "Awaiting slip",
            (OrderStatus::Open, Lang::Id) => "Menunggu bukti transfer",
            (OrderStatus::Dealing, _) => "Dealing",
            (OrderStatus::Paid, Lang::En) => "Paid",
            (OrderStatus::Paid, Lang::Id) => "Lunas",
            (OrderStatus::PaymentFailure, Lang::En) => "Payment Failure",
            (OrderStatus::PaymentFailure, Lang::Id) => "Pembayaran Gagal",
            (OrderStatus::Deleted, Lang::En) => "Deleted",
            (OrderStatus::Deleted, Lang::Id) => "Dihapus",
            (OrderStatus::Closed, Lang::En) => "Closed",
            (OrderStatus::Closed, Lang::Id) => "Ditutup",
        }
    }

    /// `paid`, `deleted` and `closed` never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid | OrderStatus::Deleted | OrderStatus::Closed
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The customer asks for a top-up of an amount.
    Request,
    /// The customer sends a transfer slip.
    Slip,
    /// Staff confirm the money arrived.
    Approve,
    /// Staff reject the submission, with a reason.
    Reject,
    /// The customer corrects the amount of a rejected order.
    Amend,
    /// The customer cancels the order.
    Cancel,
    /// The system: a submission was not confirmed within the confirm limit (24 h).
    ConfirmTimeout,
    /// The system: an open order got no slip within the close limit (120 h).
    CloseTimeout,
}

impl EventKind {
    /// Every event kind (for exhaustive tests).
    pub const ALL: [EventKind; 8] = [
        EventKind::Request,
        EventKind::Slip,
        EventKind::Approve,
        EventKind::Reject,
        EventKind::Amend,
        EventKind::Cancel,
        EventKind::ConfirmTimeout,
        EventKind::CloseTimeout,
    ];

    /// The name stored in the events table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Request => "request",
            EventKind::Slip => "slip",
            EventKind::Approve => "approve",
            EventKind::Reject => "reject",
            EventKind::Amend => "amend",
            EventKind::Cancel => "cancel",
            EventKind::ConfirmTimeout => "confirm_timeout",
            EventKind::CloseTimeout => "close_timeout",
        }
    }

    /// Who may cause this event.
    pub fn actor_kind(self) -> ActorKind {
        match self {
            EventKind::Request | EventKind::Slip | EventKind::Amend | EventKind::Cancel => {
                ActorKind::Customer
            }
            EventKind::Approve | EventKind::Reject => ActorKind::Staff,
            EventKind::ConfirmTimeout | EventKind::CloseTimeout => ActorKind::System,
        }
    }

    /// A verb phrase for messages ("cannot approve order ...").
    pub fn verb(self) -> &'static str {
        match self {
            EventKind::Request => "request",
            EventKind::Slip => "submit a slip for",
            EventKind::Approve => "approve",
            EventKind::Reject => "reject",
            EventKind::Amend => "amend",
            EventKind::Cancel => "cancel",
            EventKind::ConfirmTimeout => "expire",
            EventKind::CloseTimeout => "close",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of party behind an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A customer user (main or PIC).
    Customer,
    /// A receivables staff member.
    Staff,
    /// The daemon itself (time limits).
    System,
}

impl ActorKind {
    /// The name stored in the events table.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Customer => "customer",
            ActorKind::Staff => "staff",
            ActorKind::System => "system",
        }
    }
}

/// A move the lifecycle does not allow. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The event needs an existing order and there is none.
    #[error("there is no order to {}", .event.verb())]
    NoOrder {
        /// What was attempted.
        event: EventKind,
    },
    /// The order exists but is in a status that does not accept the event.
    #[error("cannot {} an order that is {}", .event.verb(), .from.display_name(Lang::En))]
    WrongStatus {
        /// Where the order stands.
        from: OrderStatus,
        /// What was attempted.
        event: EventKind,
    },
}

/// The lifecycle table of SPEC.md: where an order in `from` (or no order,
/// `None`) goes on `event`.
///
/// # Errors
/// [`Refused`] for every pair the table does not list.
pub fn transition(from: Option<OrderStatus>, event: EventKind) -> Result<OrderStatus, Refused> {
    use EventKind as E;
    use OrderStatus as S;
    let to = match (from, event) {
        (None, E::Request) => S::Open,
        // Nobody's payment is missed because they skipped the request step.
        (None, E::Slip) => S::Dealing,
        (Some(S::Open), E::Slip) => S::Dealing,
        (Some(S::Dealing), E::Approve) => S::Paid,
        (Some(S::Dealing), E::Reject) => S::PaymentFailure,
        (Some(S::Dealing), E::ConfirmTimeout) => S::PaymentFailure,
        (Some(S::PaymentFailure), E::Amend | E::Slip) => S::Dealing,
        (Some(S::Open | S::Dealing | S::PaymentFailure), E::Cancel) => S::Deleted,
        (Some(S::Open), E::CloseTimeout) => S::Closed,
        (None, event) => return Err(Refused::NoOrder { event }),
        (Some(from), event) => return Err(Refused::WrongStatus { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as E;
    use OrderStatus as S;

    /// The table of SPEC.md, written out once more by hand: every allowed pair.
    const ALLOWED: &[(Option<S>, E, S)] = &[
        (None, E::Request, S::Open),
        (None, E::Slip, S::Dealing),
        (Some(S::Open), E::Slip, S::Dealing),
        (Some(S::Dealing), E::Approve, S::Paid),
        (Some(S::Dealing), E::Reject, S::PaymentFailure),
        (Some(S::Dealing), E::ConfirmTimeout, S::PaymentFailure),
        (Some(S::PaymentFailure), E::Amend, S::Dealing),
        (Some(S::PaymentFailure), E::Slip, S::Dealing),
        (Some(S::Open), E::Cancel, S::Deleted),
        (Some(S::Dealing), E::Cancel, S::Deleted),
        (Some(S::PaymentFailure), E::Cancel, S::Deleted),
        (Some(S::Open), E::CloseTimeout, S::Closed),
    ];

    #[test]
    fn every_pair_is_allowed_exactly_as_the_spec_says() {
        let froms = std::iter::once(None).chain(S::ALL.into_iter().map(Some));
        let mut checked = 0;
        for from in froms {
            for event in E::ALL {
                let expected = ALLOWED
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match (transition(from, event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} + {event:?}"),
                    (Err(refused), None) => {
                        // The refusal names what was attempted and where it stood.
                        let text = refused.to_string();
                        assert!(text.contains(event.verb()), "{text}");
                        if let Some(from) = from {
                            assert!(text.contains(from.display_name(Lang::En)), "{text}");
                        }
                    }
                    (got, want) => panic!("{from:?} + {event:?}: got {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 8);
    }

    #[test]
    fn final_states_accept_nothing() {
        for from in S::ALL.into_iter().filter(|s| s.is_final()) {
            for event in E::ALL {
                assert!(transition(Some(from), event).is_err(), "{from} + {event}");
            }
        }
    }

    #[test]
    fn status_names_round_trip_and_read_typed_variants() {
        for st in S::ALL {
            assert_eq!(S::parse(st.as_str()), Ok(st));
        }
        assert_eq!(S::parse("Payment-Failure"), Ok(S::PaymentFailure));
        assert!(S::parse("approved").is_err());
        assert_eq!(S::Paid.display_name(Lang::Id), "Lunas");
        assert_eq!(S::Open.display_name(Lang::En), "Awaiting slip");
    }

    #[test]
    fn each_event_has_one_kind_of_actor() {
        assert_eq!(E::Approve.actor_kind(), ActorKind::Staff);
        assert_eq!(E::Cancel.actor_kind(), ActorKind::Customer);
        assert_eq!(E::CloseTimeout.actor_kind(), ActorKind::System);
    }
}
