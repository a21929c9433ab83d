//! The desk: every use case of the product, each one database transaction.
//!
//! A use case loads the order, asks [`transition`] (pure) whether the move
//! is allowed, then writes the new status with a compare-and-set, the event
//! row, the ledger row (paid only; unique per order) and one outbox row per
//! email or chat update, and commits. Nothing here talks to the network or
//! renders anything: delivery happens after commit, from the outbox.
//!
//! Two decisions racing on one order end with one winner: the loser's
//! compare-and-set changes nothing, and it is told who won and when
//! ([`DeskError::LostRace`]).
//!
//! Channels (mail, chat, web, CLI) call the same functions; [`Desk::handle_inbound`]
//! is the entry for messages (mail and chat) and records each one once, by
//! every key it is known by, in the same transaction as its effect.
//!
//! Who may do what among an account's users is decided here, for every
//! channel alike: anyone of the account may request and send slips; only the
//! main user, or the user who requested the order or sent a slip for it, may
//! cancel or amend it ([`DeskError::NotAllowed`] otherwise). Every event row
//! records the customer user who acted and how it came in (`via`); a status
//! link used without signing in acts as the order's creator, `via` =
//! `status_link` ([`Channel::StatusLink`]).
//!
//! Customers never read staff names: refusals told to customers
//! ([`DeskError::localized`]) say "the Receivables team"; staff, logs and the
//! CLI read the names ([`DeskError`]'s `Display`).

pub mod inbound;
mod notify;
pub mod staff_view;
pub mod statements;

pub use inbound::{ASKED_CANCEL, Inbound, InboundOutcome, Limit};

use std::sync::Arc;

use chrono::{FixedOffset, Offset, TimeZone};
use rand::RngCore;
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::{EventKind, OrderStatus, Refused, transition};
use crate::domain::order_number::OrderNumber;
use crate::render::templates::EmailKind;
use crate::store::accounts::{self, AccountRow, StaffRow, UserRow};
use crate::store::inbound as inbound_store;
use crate::store::orders::{self, Change, NewEvent, NewOrder, OrderRow};
use crate::store::slips::SlipStore;
use crate::store::{Store, StoreError, Tx};

/// What a person is told when the desk cannot do what they asked. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No order has that number.
    #[error("order {0} does not exist")]
    UnknownOrder(String),
    /// The order belongs to another account.
    #[error("order {0} is not an order of your account")]
    NotYours(String),
    /// The lifecycle does not allow it (the text says why, e.g. who decided and when).
    #[error("{0}")]
    Refused(Text),
    /// This user may not do it to this order (only the main user may cancel or
    /// amend another user's order).
    #[error("{0}")]
    NotAllowed(Text),
    /// Another decision changed the order first.
    #[error("{0}")]
    LostRace(Text),
    /// The request itself is wrong (missing amount, unknown staff member, ...).
    #[error("{0}")]
    Invalid(Text),
    /// The store failed, or refused a value or a duplicate (the text says which).
    #[error("{}", store_text(.0))]
    Store(#[from] StoreError),
    /// Anything else (slip storage, ...).
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

/// A refused value or a duplicate speaks for itself; a database failure says so.
fn store_text(e: &StoreError) -> String {
    match e {
        StoreError::Db(db) => format!("the database failed: {db}"),
        other => other.to_string(),
    }
}

/// A message in English and Indonesian for customers, and optionally other
/// words for staff (naming staff members, whom customers never see). Displays
/// as the staff words, else the English (logs, staff, the CLI); customers read
/// [`Text::get`] in their language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// English, for customers.
    pub en: String,
    /// Indonesian, for customers.
    pub id: String,
    /// English for staff, when it says more than the customers' words.
    pub staff: Option<String>,
}

impl Text {
    /// Both languages.
    pub fn new(en: impl Into<String>, id: impl Into<String>) -> Text {
        Text {
            en: en.into(),
            id: id.into(),
            staff: None,
        }
    }

    /// The same customer words, with other words for staff.
    pub fn for_staff(mut self, staff: impl Into<String>) -> Text {
        self.staff = Some(staff.into());
        self
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Id => &self.id,
        }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.staff.as_deref().unwrap_or(&self.en))
    }
}

/// A text only staff or operators read (the same words in both languages).
impl From<String> for Text {
    fn from(en: String) -> Text {
        Text {
            id: en.clone(),
            en,
            staff: None,
        }
    }
}

impl From<&str> for Text {
    fn from(en: &str) -> Text {
        Text::from(en.to_string())
    }
}

impl DeskError {
    /// True when the store or the slip store cannot be reached right now
    /// (try again later), as opposed to a failure of this particular request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DeskError::Store(StoreError::Db(e)) => crate::store::is_unavailable(e),
            DeskError::Internal(e) => e.chain().any(|c| {
                c.is::<inbound::SlipStoreDown>()
                    || c.downcast_ref::<sqlx::Error>()
                        .is_some_and(crate::store::is_unavailable)
            }),
            _ => false,
        }
    }

    /// What the customer is told, in their language (never a staff member's name).
    pub fn localized(&self, lang: Lang) -> String {
        match (self, lang) {
            (DeskError::UnknownOrder(n), Lang::Id) => format!("pesanan {n} tidak ditemukan"),
            (DeskError::NotYours(n), Lang::Id) => {
                format!("pesanan {n} bukan pesanan akun Anda")
            }
            (
                DeskError::Refused(t)
                | DeskError::NotAllowed(t)
                | DeskError::LostRace(t)
                | DeskError::Invalid(t),
                lang,
            ) => t.get(lang).to_string(),
            (DeskError::Store(_) | DeskError::Internal(_), Lang::Id) => {
                "terjadi gangguan di sistem kami; silakan coba lagi nanti".into()
            }
            (e, _) => e.to_string(),
        }
    }
}

impl DeskError {
    /// The order number this refusal is about, if its words name one (every
    /// desk refusal about an order writes its canonical number), so that the
    /// answer's subject can carry it.
    pub fn order_number(&self, prefix: &str) -> Option<String> {
        let text = self.to_string();
        let pattern = format!(r"\b{}-\d{{8}}-\d{{4,}}\b", regex::escape(prefix));
        regex::Regex::new(&pattern)
            .ok()?
            .find(&text)
            .map(|m| m.as_str().to_string())
    }
}

impl From<sqlx::Error> for DeskError {
    fn from(e: sqlx::Error) -> Self {
        DeskError::Store(StoreError::Db(e))
    }
}

/// Result of a desk call.
pub type DeskResult<T> = Result<T, DeskError>;

/// A staff decision on a submitted order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The money arrived; credit `amount`, or the claimed amount when `None`.
    Approve {
        /// A corrected amount, when the bank statement shows another sum.
        amount: Option<Money>,
    },
    /// The submission is rejected.
    Reject {
        /// Why.
        reason: RejectReason,
    },
}

/// Why staff rejected a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The amount on the slip differs from the order.
    AmountDiffers,
    /// The money did not arrive.
    NotReceived,
    /// Free text.
    Other(String),
}

impl RejectReason {
    /// Reads `amount_differs`, `not_received`, or takes any other text as [`RejectReason::Other`].
    pub fn parse(s: &str) -> RejectReason {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "amount_differs" | "amount" => RejectReason::AmountDiffers,
            "not_received" | "money_not_received" => RejectReason::NotReceived,
            _ => RejectReason::Other(s.trim().to_string()),
        }
    }

    /// The code pages use to say a known reason in the reader's language
    /// (`amount_differs`, `not_received`; empty for free text).
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::AmountDiffers => "amount_differs",
            RejectReason::NotReceived => "not_received",
            RejectReason::Other(_) => "",
        }
    }

    /// The reason as the customer reads it.
    pub fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (RejectReason::AmountDiffers, Lang::En) => {
                "The amount on the transfer slip differs from the amount of the order.".into()
            }
            (RejectReason::AmountDiffers, Lang::Id) => {
                "Jumlah pada bukti transfer berbeda dengan jumlah pesanan.".into()
            }
            (RejectReason::NotReceived, Lang::En) => {
                "The transfer has not arrived in our bank account.".into()
            }
            (RejectReason::NotReceived, Lang::Id) => {
                "Dana transfer belum kami terima di rekening kami.".into()
            }
            (RejectReason::Other(t), _) => t.clone(),
        }
    }
}

/// Who does something.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A customer user.
    Customer(UserRow),
    /// A staff member.
    Staff(StaffRow),
    /// The operator through the CLI, acting for the customer.
    Operator,
    /// The daemon (time limits).
    System,
    /// The system, approving on the evidence of statement line `line`
    /// (`desk.auto_approve = "matched"`).
    Reconciler {
        /// The statement line's id.
        line: i64,
    },
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Customer(_) => "customer",
            Actor::Staff(_) => "staff",
            Actor::Operator => "operator",
            Actor::System | Actor::Reconciler { .. } => "system",
        }
    }

    fn label(&self) -> String {
        match self {
            Actor::Customer(u) => u.primary_email().to_string(),
            Actor::Staff(s) => s.name.clone(),
            Actor::Operator => "operator".into(),
            Actor::System => "system".into(),
            Actor::Reconciler { line } => format!("system (statement line {line})"),
        }
    }

    fn user_id(&self) -> Option<i64> {
        match self {
            Actor::Customer(u) => Some(u.id),
            _ => None,
        }
    }
}

/// The channel a customer action came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Email.
    Email,
    /// Discord chat.
    Discord,
    /// The web (the account page, or the status page by a signed-in user).
    Web,
    /// The status page's secret link, used without signing in: the action is
    /// the order creator's, recorded as done through the link.
    StatusLink,
    /// The operator's CLI.
    Cli,
}

impl Channel {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Discord => "discord",
            Channel::Web => "web",
            Channel::StatusLink => "status_link",
            Channel::Cli => "cli",
        }
    }
}

/// The customer email an action answers (for threading the reply).
#[derive(Debug, Clone, Default)]
pub struct ReplyTo {
    /// Address to answer.
    pub address: String,
    /// The customer's Message-ID.
    pub message_id: Option<String>,
    /// Their References (oldest first).
    pub references: Vec<String>,
    /// Their subject.
    pub subject: String,
}

/// A slip file already stored by hash.
#[derive(Debug, Clone)]
pub struct StoredSlip {
    /// SHA-256 hex.
    pub hash: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// The name the sender gave (display only).
    pub file_name: String,
}

/// How much of an order a view reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// What the customer's status page shows.
    Page,
    /// Everything, staff-only parts included.
    Full,
}

/// Everything about one order, for pages, cards and the CLI.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderView {
    /// The order.
    pub order: OrderRow,
    /// Its account.
    pub account: AccountRow,
    /// The user who requested it (or sent the first slip).
    pub user: Option<UserRow>,
    /// The user who sent the latest slip or amendment, when another than `user`.
    pub submitter: Option<UserRow>,
    /// Every user of the account, removed ones too (for names on the timeline).
    pub users: Vec<UserRow>,
    /// Its audit trail.
    pub events: Vec<orders::EventRow>,
    /// Its slips.
    pub slips: Vec<inbound_store::OrderSlipRow>,
    /// The account's balance now, minor units.
    pub balance_minor: i64,
    /// What the slips of the current review round say (amount, checks).
    pub slip_report: crate::slip::checks::SlipReport,
    /// The statement line(s) that carry its money, with the rule that matched them.
    pub statement_lines: Vec<crate::store::statements::LineRow>,
    /// The unique code and the amount to transfer (`desk.unique_code`).
    pub transfer_minor: Option<i64>,
}

/// The desk: store, slip files, clock, settings, and the outbox bell.
#[derive(Clone, Debug)]
pub struct Desk {
    store: Store,
    slips: SlipStore,
    clock: SharedClock,
    settings: Arc<Settings>,
    outbox_bell: Arc<Notify>,
    health: Arc<crate::supervisor::SourceHealth>,
    page_views: PageViews,
}

/// Status-page views kept between requests, by token, each with the
/// [`orders::PageVersion`] it was read at: a customer refreshing the page
/// costs one read while nothing changed, and sees any change at once (the
/// version is read on every request, so a change by another daemon counts).
#[derive(Clone)]
struct PageViews(mini_moka::sync::Cache<String, (orders::PageVersion, Arc<OrderView>)>);

impl PageViews {
    /// Pages kept at most; an idle one is dropped after ten minutes.
    const CAPACITY: u64 = 4_096;

    fn new() -> Self {
        PageViews(
            mini_moka::sync::Cache::builder()
                .max_capacity(Self::CAPACITY)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build(),
        )
    }
}

impl std::fmt::Debug for PageViews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageViews({} kept)", self.0.entry_count())
    }
}

impl Desk {
    /// A desk over `store`.
    pub fn new(
        store: Store,
        slips: SlipStore,
        clock: SharedClock,
        settings: Arc<Settings>,
    ) -> Desk {
        Desk {
            store,
            slips,
            clock,
            settings,
            outbox_bell: Arc::new(Notify::new()),
            health: Arc::default(),
            page_views: PageViews::new(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The slip files.
    pub fn slips(&self) -> &SlipStore {
        &self.slips
    }

    /// The settings.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Rung after every commit that wrote outbox rows; delivery workers wait on it.
    pub fn outbox_bell(&self) -> Arc<Notify> {
        self.outbox_bell.clone()
    }

    /// Whether the inbound sources work (reported by the sources, read by `/healthz`).
    pub fn health(&self) -> &crate::supervisor::SourceHealth {
        &self.health
    }

    /// Now, in Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn prefix(&self) -> &str {
        &self.settings.desk.order_prefix
    }

    /// Parses an order number as a person typed it, with the configured prefix.
    ///
    /// # Errors
    /// [`DeskError::Invalid`] saying what is wrong with it.
    pub fn parse_order_number(&self, s: &str) -> DeskResult<OrderNumber> {
        OrderNumber::parse_with_prefix(s, self.prefix())
            .map_err(|e| DeskError::Invalid(e.to_string().into()))
    }

    async fn commit(&self, tx: Tx, rang: bool) -> DeskResult<()> {
        tx.commit().await?;
        if rang {
            self.outbox_bell.notify_waiters();
            self.outbox_bell.notify_one();
        }
        Ok(())
    }

    /// Stores slip files by hash (outside any transaction: files are content-addressed, so a
    /// file left behind by a rolled-back transaction is harmless and reused next time).
    ///
    /// # Errors
    /// The slip storage failed.
    pub async fn store_slips(
        &self,
        files: &[crate::intake::SlipFile],
    ) -> DeskResult<Vec<StoredSlip>> {
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let hash =
                self.slips.put(&f.bytes).await.map_err(|e| {
                    DeskError::Internal(anyhow::anyhow!("Storing a slip failed: {e}"))
                })?;
            out.push(StoredSlip {
                hash,
                content_type: f.content_type.clone(),
                size: i64::try_from(f.bytes.len()).unwrap_or(i64::MAX),
                file_name: f.file_name.clone().unwrap_or_default(),
            });
        }
        Ok(out)
    }

    // ----- customer use cases -------------------------------------------

    /// A customer asks for a top-up: a new `open` order, and the order-created email.
    ///
    /// # Errors
    /// Database errors.
    pub async fn request(
        &self,
        user: &UserRow,
        amount: Money,
        channel: Channel,
        reply: Option<&ReplyTo>,
    ) -> DeskResult<OrderRow> {
        let mut tx = self.store.begin_write().await?;
        let order = self
            .request_in(&mut tx, user, amount, channel, reply)
            .await?;
        self.commit(tx, true).await?;
        Ok(order)
    }

    async fn request_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        amount: Money,
        channel: Channel,
        reply: Option<&ReplyTo>,
    ) -> DeskResult<OrderRow> {
        self.check_amount(amount)?;
        let to = transition(None, EventKind::Request).map_err(refused_plain)?;
        let order = self
            .new_order(tx, user, to, Some(amount), channel, None)
            .await?;
        if self.settings.desk.unique_code {
            self.give_code(tx, &order).await?;
        }
        self.event(
            tx,
            &order,
            EventKind::Request,
            &Actor::Customer(user.clone()),
            channel.as_str(),
            None,
            Some(to),
            Some(amount.minor()),
            None,
        )
        .await?;
        if let Some(r) = reply {
            self.remember_thread(tx, &order, r).await?;
        }
        let order = orders::by_id(tx, order.id).await?;
        self.email(tx, &order, EmailKind::OrderCreated, reply, None)
            .await?;
        Ok(order)
    }

    /// What happened to an order after event `since`, for a staff member who
    /// looked at it then: "rejected by rina at …; amended to Rp … by budi at …".
    async fn changes_since(&self, tx: &mut Tx, order_id: i64, since: i64) -> DeskResult<String> {
        let events = orders::events(tx, order_id).await?;
        let lines: Vec<String> = events
            .iter()
            .filter(|e| e.id > since && e.to_status.is_some())
            .map(|e| {
                let amount = e
                    .amount_minor
                    .filter(|_| e.event == "amend")
                    .map(|m| format!(" to {}", Money::from_minor(m).display(Lang::En)))
                    .unwrap_or_default();
                let what = match e.event.as_str() {
                    "approve" => "approved",
                    "reject" => "rejected",
                    "amend" => "amount changed",
                    "slip" => "new slip sent",
                    "cancel" => "cancelled",
                    "expire" => "expired",
                    other => other,
                };
                format!(
                    "{what}{amount} by {} at {}",
                    e.actor,
                    self.format_time(e.at)
                )
            })
            .collect();
        Ok(if lines.is_empty() {
            "its review round is not the one you saw".into()
        } else {
            lines.join("; ")
        })
    }

    /// Refuses an amount that is not positive or over `limits.max_order_amount`.
    ///
    /// # Errors
    /// [`DeskError::Invalid`] saying which bound it breaks.
    pub fn check_amount(&self, amount: Money) -> DeskResult<()> {
        let max_major = self.settings.limits.max_order_amount;
        let max = Money::from_major(max_major);
        if amount.minor() <= 0 {
            return Err(DeskError::Invalid(Text::new(
                "the amount must be more than zero",
                "jumlahnya harus lebih dari nol",
            )));
        }
        if amount.minor() > max.minor() {
            return Err(DeskError::Invalid(Text::new(
                format!(
                    "{} is more than one order may be (at most {})",
                    amount.display(Lang::En),
                    max.display(Lang::En)
                ),
                format!(
                    "{} melebihi batas satu pesanan (paling banyak {})",
                    amount.display(Lang::Id),
                    max.display(Lang::Id)
                ),
            )));
        }
        Ok(())
    }

    /// A customer sends a slip. `target` is the order named (number or thread);
    /// `None` matches the account's only `open` / `payment_failure` order, else
    /// makes a new `dealing` order so no payment is missed. Any user of the
    /// account may send a slip for any of its orders (that is what PICs are for).
    ///
    /// # Errors
    /// [`DeskError::NotYours`], [`DeskError::Refused`] (e.g. already paid), database errors.
    pub async fn submit_slip(
        &self,
        user: &UserRow,
        target: Option<&OrderNumber>,
        slips: &[StoredSlip],
        amount: Option<Money>,
        channel: Channel,
        reply: Option<&ReplyTo>,
    ) -> DeskResult<OrderRow> {
        let mut tx = self.store.begin_write().await?;
        let target = match target {
            Some(n) => Some(self.own_order(&mut tx, user, n).await?),
            None => None,
        };
        let order = self
            .submit_slip_in(&mut tx, user, target, slips, amount, channel, reply, None)
            .await?;
        self.commit(tx, true).await?;
        Ok(order)
    }

    #[allow(clippy::too_many_arguments)]
    async fn submit_slip_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        target: Option<OrderRow>,
        slips: &[StoredSlip],
        amount: Option<Money>,
        channel: Channel,
        reply: Option<&ReplyTo>,
        inbound_id: Option<i64>,
    ) -> DeskResult<OrderRow> {
        if let Some(a) = amount {
            self.check_amount(a)?;
        }
        let now = self.now();
        let target = match target {
            Some(o) => Some(o),
            None => {
                let awaiting = orders::awaiting_for_account(tx, user.account_id).await?;
                if awaiting.len() == 1 {
                    awaiting.into_iter().next()
                } else {
                    None
                }
            }
        };
        let actor = Actor::Customer(user.clone());
        let order = match target {
            None => {
                let to = transition(None, EventKind::Slip).map_err(refused_plain)?;
                let order = self
                    .new_order(tx, user, to, amount, channel, Some(now))
                    .await?;
                self.event(
                    tx,
                    &order,
                    EventKind::Slip,
                    &actor,
                    channel.as_str(),
                    None,
                    Some(to),
                    amount.map(Money::minor),
                    None,
                )
                .await?;
                order
            }
            Some(order) => {
                let from = order.status();
                let to = self.allowed(tx, &order, EventKind::Slip).await?;
                let change = Change {
                    // A claimed amount in the slip message fills a missing one; it never
                    // silently replaces the requested amount (staff see both on the card).
                    amount_minor: if order.amount_minor.is_none() {
                        amount.map(Money::minor)
                    } else {
                        None
                    },
                    submitted_at: Some(now),
                    submitted_by: Some(user.id),
                    // A new review round: the last rejection is not this round's reason.
                    reason: Some(""),
                    ..Change::default()
                };
                self.move_order(tx, &order, from, to, &change).await?;
                self.event(
                    tx,
                    &order,
                    EventKind::Slip,
                    &actor,
                    channel.as_str(),
                    Some(from),
                    Some(to),
                    amount.map(Money::minor),
                    None,
                )
                .await?;
                order
            }
        };
        let mut flags: Vec<String> = Vec::new();
        if order.status() == OrderStatus::PaymentFailure {
            flags.push("resubmission".into());
        }
        self.attach_and_flag(tx, &order, user, slips, inbound_id, &mut flags)
            .await?;
        if let Some(r) = reply {
            self.remember_thread(tx, &order, r).await?;
        }
        let order = orders::by_id(tx, order.id).await?;
        let first_submission = !flags.iter().any(|f| f == "resubmission");
        if first_submission {
            self.email(tx, &order, EmailKind::SubmissionReceived, reply, None)
                .await?;
        }
        self.review_card(tx, &order).await?;
        // Money that a statement already matched to this order: with
        // `desk.auto_approve = "matched"` the slip completes it.
        let order = self.approve_if_matched(tx, order).await?;
        Ok(order)
    }

    async fn attach_and_flag(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        user: &UserRow,
        slips: &[StoredSlip],
        inbound_id: Option<i64>,
        flags: &mut Vec<String>,
    ) -> DeskResult<()> {
        let now = self.now();
        for f in order.flag_list() {
            if f != "resubmission" && !flags.iter().any(|x| x == f) {
                flags.push(f.to_string());
            }
        }
        if user.role == "pic" && !flags.iter().any(|f| f == "pic") {
            flags.push("pic".into());
        }
        for s in slips {
            let others = inbound_store::attach_slip(
                tx,
                order.id,
                &s.hash,
                &s.content_type,
                s.size,
                &s.file_name,
                inbound_id,
                now,
            )
            .await?;
            if !others.is_empty() && !flags.iter().any(|f| f == "duplicate_slip") {
                flags.push("duplicate_slip".into());
            }
            if self.settings.slips.read {
                // Read after commit, off the intake path (see `slip::worker`).
                crate::store::slip_reads::enqueue(tx, &s.hash, now).await?;
            }
        }
        orders::set_flags(tx, order.id, &flags.join(",")).await?;
        Ok(())
    }

    /// A customer corrects the amount of a rejected order: back to `dealing`, a new review card.
    ///
    /// # Errors
    /// [`DeskError::Refused`] unless the order is in `payment_failure`;
    /// [`DeskError::NotAllowed`] when a PIC amends another user's order.
    pub async fn amend(
        &self,
        user: &UserRow,
        number: &OrderNumber,
        amount: Money,
        slips: &[StoredSlip],
        channel: Channel,
        reply: Option<&ReplyTo>,
    ) -> DeskResult<OrderRow> {
        let mut tx = self.store.begin_write().await?;
        let order = self.own_order(&mut tx, user, number).await?;
        let order = self
            .amend_in(&mut tx, user, order, amount, slips, channel, reply, None)
            .await?;
        self.commit(tx, true).await?;
        Ok(order)
    }

    #[allow(clippy::too_many_arguments)]
    async fn amend_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        order: OrderRow,
        amount: Money,
        slips: &[StoredSlip],
        channel: Channel,
        reply: Option<&ReplyTo>,
        inbound_id: Option<i64>,
    ) -> DeskResult<OrderRow> {
        self.check_amount(amount)?;
        let from = order.status();
        let to = self.allowed(tx, &order, EventKind::Amend).await?;
        self.ensure_may_change(tx, user, &order, EventKind::Amend)
            .await?;
        let change = Change {
            amount_minor: Some(amount.minor()),
            submitted_at: Some(self.now()),
            submitted_by: Some(user.id),
            reason: Some(""),
            ..Change::default()
        };
        self.move_order(tx, &order, from, to, &change).await?;
        let actor = Actor::Customer(user.clone());
        self.event(
            tx,
            &order,
            EventKind::Amend,
            &actor,
            channel.as_str(),
            Some(from),
            Some(to),
            Some(amount.minor()),
            None,
        )
        .await?;
        let mut flags = vec!["resubmission".to_string()];
        self.attach_and_flag(tx, &order, user, slips, inbound_id, &mut flags)
            .await?;
        if let Some(r) = reply {
            self.remember_thread(tx, &order, r).await?;
        }
        let order = orders::by_id(tx, order.id).await?;
        self.review_card(tx, &order).await?;
        Ok(order)
    }

    /// A customer (or the operator for them) cancels an order, from chat, mail
    /// (with `reply`) or the CLI; the web uses [`Desk::cancel_on`].
    ///
    /// # Errors
    /// [`DeskError::Refused`] when the order is final (e.g. already paid, naming who and when);
    /// [`DeskError::NotAllowed`] when a PIC cancels another user's order.
    pub async fn cancel(
        &self,
        actor: &Actor,
        number: &OrderNumber,
        reply: Option<&ReplyTo>,
    ) -> DeskResult<OrderRow> {
        let channel = match (actor, reply) {
            (Actor::Operator, _) => Channel::Cli,
            (_, Some(_)) => Channel::Email,
            _ => Channel::Discord,
        };
        self.cancel_on(actor, number, reply, channel).await
    }

    /// [`Desk::cancel`] through a known channel.
    ///
    /// # Errors
    /// As [`Desk::cancel`].
    pub async fn cancel_on(
        &self,
        actor: &Actor,
        number: &OrderNumber,
        reply: Option<&ReplyTo>,
        channel: Channel,
    ) -> DeskResult<OrderRow> {
        let mut tx = self.store.begin_write().await?;
        let order = match actor {
            Actor::Customer(u) => self.own_order(&mut tx, u, number).await?,
            _ => self.order(&mut tx, number).await?,
        };
        let order = self
            .cancel_via(&mut tx, actor, order, reply, channel.as_str())
            .await?;
        self.commit(tx, true).await?;
        Ok(order)
    }

    async fn cancel_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        order: OrderRow,
        reply: Option<&ReplyTo>,
    ) -> DeskResult<OrderRow> {
        let via = if reply.is_some() { "email" } else { "" };
        self.cancel_via(tx, actor, order, reply, via).await
    }

    async fn cancel_via(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        order: OrderRow,
        reply: Option<&ReplyTo>,
        via: &str,
    ) -> DeskResult<OrderRow> {
        let from = order.status();
        let to = self.allowed(tx, &order, EventKind::Cancel).await?;
        if let Actor::Customer(user) = actor {
            self.ensure_may_change(tx, user, &order, EventKind::Cancel)
                .await?;
        }
        self.move_order(tx, &order, from, to, &Change::default())
            .await?;
        self.event(
            tx,
            &order,
            EventKind::Cancel,
            actor,
            via,
            Some(from),
            Some(to),
            None,
            None,
        )
        .await?;
        if let Some(r) = reply {
            self.remember_thread(tx, &order, r).await?;
        }
        let order = orders::by_id(tx, order.id).await?;
        self.email_as(tx, &order, EmailKind::Cancelled, reply, None, actor)
            .await?;
        if from == OrderStatus::Dealing || from == OrderStatus::PaymentFailure {
            self.card_update(tx, &order).await?;
        }
        Ok(order)
    }

    /// Uses the display name of a user's first mail (`From: Budi Santoso
    /// <budi@...>`) as their name when they have none yet. Names that are only
    /// an address are not names.
    ///
    /// # Errors
    /// Database errors.
    pub async fn learn_name(
        &self,
        tx: &mut Tx,
        user: UserRow,
        from_name: Option<&str>,
    ) -> DeskResult<UserRow> {
        let Some(name) = from_name.map(accounts::clean_name) else {
            return Ok(user);
        };
        if !user.name.is_empty() || name.is_empty() || name.contains('@') {
            return Ok(user);
        }
        if accounts::set_user_name_if_empty(tx, user.id, &name).await? {
            tracing::info!(user = user.id, "Display name taken from the sender's mail");
            return Ok(accounts::user_by_id(tx, user.id).await?);
        }
        Ok(user)
    }

    // ----- staff use cases ----------------------------------------------

    /// Finds a staff member by name, email or Discord id.
    ///
    /// # Errors
    /// [`DeskError::Invalid`] when there is none.
    pub async fn staff(&self, key: &str) -> DeskResult<StaffRow> {
        let mut conn = self.store.pool().acquire().await?;
        accounts::find_staff(&mut conn, key).await?.ok_or_else(|| {
            DeskError::Invalid(
                format!("no staff member {key:?} (add one with `topup staff add`)").into(),
            )
        })
    }

    /// Staff approve or reject a submitted order.
    ///
    /// # Errors
    /// [`DeskError::Refused`] naming who decided and when when the order is no longer
    /// `dealing`; [`DeskError::LostRace`] when another decision won while this one ran.
    pub async fn decide(
        &self,
        number: &OrderNumber,
        staff: &StaffRow,
        decision: &Decision,
    ) -> DeskResult<OrderRow> {
        self.decide_round(number, staff, decision, None).await
    }

    /// [`Desk::decide`] on the review round the staff member saw: `round` is
    /// the id of the event that opened it (on the card's buttons and the
    /// board's forms). When the order was rejected, amended or resubmitted
    /// since, the decision is refused with what changed, so nobody pays a
    /// round they have not looked at. `None` skips the check (CLI).
    ///
    /// # Errors
    /// As [`Desk::decide`], and [`DeskError::Refused`] for an older round.
    pub async fn decide_round(
        &self,
        number: &OrderNumber,
        staff: &StaffRow,
        decision: &Decision,
        round: Option<i64>,
    ) -> DeskResult<OrderRow> {
        let mut tx = self.store.begin_write().await?;
        let order = self.order(&mut tx, number).await?;
        if let Some(seen) = round {
            let current = orders::current_round(&mut tx, order.id).await?;
            if current != Some(seen) {
                let changes = self.changes_since(&mut tx, order.id, seen).await?;
                return Err(DeskError::Refused(
                    format!(
                        "order {} changed after you opened it ({changes}); look at the current \
                         submission before deciding",
                        order.number
                    )
                    .into(),
                ));
            }
        }
        let account = accounts::account_by_id(&mut tx, order.account_id).await?;
        let lang = account.lang();
        let actor = Actor::Staff(staff.clone());
        let now = self.now();
        let from = order.status();
        let event = match decision {
            Decision::Approve { .. } => EventKind::Approve,
            Decision::Reject { .. } => EventKind::Reject,
        };
        let to = self.allowed(&mut tx, &order, event).await?;
        let order = match decision {
            Decision::Approve { amount } => {
                self.approve_in(&mut tx, order, &actor, *amount).await?
            }
            Decision::Reject { reason } => {
                let text = reason.text(lang);
                if text.trim().is_empty() {
                    return Err(DeskError::Invalid("a rejection needs a reason".into()));
                }
                let change = Change {
                    decided: Some((now, &staff.name)),
                    reason: Some(&text),
                    ..Change::default()
                };
                self.move_order(&mut tx, &order, from, to, &change).await?;
                self.event_noted(
                    &mut tx,
                    &order,
                    event,
                    &actor,
                    Some(from),
                    Some(to),
                    None,
                    Some(&text),
                    reason.code(),
                )
                .await?;
                let order = orders::by_id(&mut tx, order.id).await?;
                self.email(&mut tx, &order, EmailKind::PaymentFailure, None, None)
                    .await?;
                order
            }
        };
        self.card_update(&mut tx, &order).await?;
        self.commit(tx, true).await?;
        Ok(order)
    }

    /// Approves `order` (in `dealing`) inside `tx`: credits `amount` or the
    /// amount due, writes the event and the paid mail with its receipt.
    /// Staff decisions and the system's own approval of matched statement
    /// lines ([`Actor::Reconciler`]) share it, so both send the same mails.
    ///
    /// # Errors
    /// [`DeskError::Refused`] when the order is not `dealing`,
    /// [`DeskError::Invalid`] for an amount out of bounds,
    /// [`DeskError::LostRace`].
    pub(crate) async fn approve_in(
        &self,
        tx: &mut Tx,
        order: OrderRow,
        actor: &Actor,
        amount: Option<Money>,
    ) -> DeskResult<OrderRow> {
        let event = EventKind::Approve;
        let from = order.status();
        let to = self.allowed(tx, &order, event).await?;
        let lang = accounts::account_by_id(tx, order.account_id).await?.lang();
        let now = self.now();
        let label = actor.label();
        let due = self.amount_due(tx, &order).await?;
        let credit = amount.map(Money::minor).or(due).ok_or_else(|| {
            DeskError::Invalid(
                format!(
                    "order {} has no claimed amount: approve it with an amount",
                    order.number
                )
                .into(),
            )
        })?;
        self.check_amount(Money::from_minor(credit))?;
        let balance = accounts::balance(tx, order.account_id).await?;
        if balance.checked_add(credit).is_none() {
            return Err(DeskError::Invalid(
                format!(
                    "crediting {} would overflow the balance of the account",
                    Money::from_minor(credit).display(lang)
                )
                .into(),
            ));
        }
        let note = amount.filter(|a| Some(a.minor()) != due).map(|a| {
            format!(
                "approved with a corrected amount {}",
                a.display(self.settings.desk.staff_notation)
            )
        });
        let change = Change {
            paid_minor: Some(credit),
            decided: Some((now, &label)),
            // The order's reason is this decision's: none, or the correction note.
            reason: Some(note.as_deref().unwrap_or("")),
            ..Change::default()
        };
        self.move_order(tx, &order, from, to, &change).await?;
        if !orders::credit(tx, order.account_id, order.id, credit, &label, now).await? {
            // Unreachable through the lifecycle; the unique key is the last guard.
            return Err(DeskError::Refused(
                format!("order {} was already credited", order.number).into(),
            ));
        }
        self.event_noted(
            tx,
            &order,
            event,
            actor,
            Some(from),
            Some(to),
            Some(credit),
            note.as_deref(),
            if note.is_some() {
                "corrected_amount"
            } else {
                ""
            },
        )
        .await?;
        let order = orders::by_id(tx, order.id).await?;
        let receipt = self.receipt_job_for(tx, &order).await?;
        self.email(tx, &order, EmailKind::Paid, None, Some(receipt))
            .await?;
        Ok(order)
    }

    /// Records an attempt that changed nothing (e.g. an unauthorised click) in the audit trail.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record_attempt(
        &self,
        number: &OrderNumber,
        who: &str,
        what: &str,
    ) -> DeskResult<()> {
        let mut tx = self.store.begin_write().await?;
        let order = self.order(&mut tx, number).await?;
        orders::add_event(
            &mut tx,
            order.id,
            &NewEvent {
                event: "unauthorized",
                actor_kind: "unknown",
                actor: who,
                reason: Some(what),
                ..NewEvent::default()
            },
            self.now(),
        )
        .await?;
        self.commit(tx, false).await
    }

    // ----- system use cases ---------------------------------------------

    /// Applies the time limits: `dealing` older than the confirm limit becomes
    /// `payment_failure`, `open` older than the close limit becomes `closed`.
    /// Returns how many orders changed. Each order is its own transaction; an
    /// order that changed meanwhile is skipped. Also reminds staff, once per
    /// review round, of orders waiting in `dealing` for `desk.remind_hours`
    /// ([`Desk::remind_due`]; not counted).
    ///
    /// # Errors
    /// Database errors.
    pub async fn expire_due(&self) -> DeskResult<usize> {
        let now = self.now();
        let d = &self.settings.desk;
        let limits = [
            (
                OrderStatus::Dealing,
                d.confirm_hours,
                EventKind::ConfirmTimeout,
            ),
            (OrderStatus::Open, d.close_hours, EventKind::CloseTimeout),
        ];
        let mut changed = 0;
        for (status, hours, event) in limits {
            let due = {
                let mut conn = self.store.pool().acquire().await?;
                orders::due_for_expiry(&mut conn, status, now - hours * 3_600_000).await?
            };
            for order in due {
                if self.expire_one(order, event).await? {
                    changed += 1;
                }
            }
        }
        self.remind_due().await?;
        Ok(changed)
    }

    /// Re-announces in the staff channel, once per review round, every order
    /// that has waited in `dealing` for `desk.remind_hours` (the staff board
    /// highlights them by itself). Returns how many were announced.
    ///
    /// # Errors
    /// Database errors.
    pub async fn remind_due(&self) -> DeskResult<usize> {
        let d = &self.settings.desk;
        if d.remind_hours <= 0 || d.remind_hours >= d.confirm_hours {
            return Ok(0);
        }
        let before = self.now() - d.remind_hours * 3_600_000;
        let due = {
            let mut conn = self.store.pool().acquire().await?;
            orders::due_for_reminder(&mut conn, before).await?
        };
        let mut reminded = 0;
        for order in due {
            let mut tx = self.store.begin_write().await?;
            if !orders::mark_reminded(&mut tx, order.id, self.now()).await? {
                continue;
            }
            self.discord_job(
                &mut tx,
                &order,
                crate::outbox::Job::Reminder { order_id: order.id },
            )
            .await?;
            self.commit(tx, true).await?;
            tracing::info!(order = %order.number, "Staff reminded of a waiting order");
            reminded += 1;
        }
        Ok(reminded)
    }

    async fn expire_one(&self, order: OrderRow, event: EventKind) -> DeskResult<bool> {
        let mut tx = self.store.begin_write().await?;
        let order = orders::by_id(&mut tx, order.id).await?;
        let from = order.status();
        let Ok(to) = transition(Some(from), event) else {
            return Ok(false);
        };
        let account = accounts::account_by_id(&mut tx, order.account_id).await?;
        let reason = self.timeout_reason(event, account.lang());
        let code = if event == EventKind::ConfirmTimeout {
            "confirm_timeout"
        } else {
            "close_timeout"
        };
        let now = self.now();
        let change = Change {
            decided: (event == EventKind::ConfirmTimeout).then_some((now, "system")),
            reason: Some(&reason),
            ..Change::default()
        };
        if !orders::compare_and_set(&mut tx, order.id, from, to, &change, now).await? {
            return Ok(false);
        }
        self.event_noted(
            &mut tx,
            &order,
            event,
            &Actor::System,
            Some(from),
            Some(to),
            None,
            Some(&reason),
            code,
        )
        .await?;
        let order = orders::by_id(&mut tx, order.id).await?;
        let kind = if event == EventKind::ConfirmTimeout {
            EmailKind::ConfirmTimeout
        } else {
            EmailKind::Closed
        };
        self.email(&mut tx, &order, kind, None, None).await?;
        if event == EventKind::ConfirmTimeout {
            self.card_update(&mut tx, &order).await?;
        }
        self.commit(tx, true).await?;
        tracing::info!(order = %order.number, from = %from, to = %to, "Order expired");
        Ok(true)
    }

    /// Why a time limit moved an order, in `lang`.
    pub fn timeout_reason(&self, event: EventKind, lang: Lang) -> String {
        let d = &self.settings.desk;
        match (event, lang) {
            (EventKind::ConfirmTimeout, Lang::En) => format!(
                "The payment could not be confirmed within {} hours of submission.",
                d.confirm_hours
            ),
            (EventKind::ConfirmTimeout, Lang::Id) => format!(
                "Pembayaran tidak dapat dikonfirmasi dalam {} jam setelah pengiriman bukti transfer.",
                d.confirm_hours
            ),
            (_, Lang::En) => format!(
                "No transfer slip was received within {} hours.",
                d.close_hours
            ),
            (_, Lang::Id) => format!("Bukti transfer tidak diterima dalam {} jam.", d.close_hours),
        }
    }

    // ----- reads ---------------------------------------------------------

    /// Everything about an order.
    ///
    /// # Errors
    /// [`DeskError::UnknownOrder`].
    pub async fn view(&self, number: &OrderNumber) -> DeskResult<OrderView> {
        let mut conn = self.store.pool().acquire().await?;
        let order = orders::by_number(&mut conn, number)
            .await?
            .ok_or_else(|| DeskError::UnknownOrder(number.to_string()))?;
        self.view_of(&mut conn, order).await
    }

    /// Everything about the order behind a status-page secret.
    ///
    /// # Errors
    /// [`DeskError::UnknownOrder`] (saying nothing about the token).
    pub async fn view_by_token(&self, token: &str) -> DeskResult<OrderView> {
        let mut conn = self.store.pool().acquire().await?;
        let order = orders::by_token(&mut conn, token)
            .await?
            .ok_or_else(|| DeskError::UnknownOrder("behind this link".into()))?;
        self.view_of(&mut conn, order).await
    }

    /// What the customer's status page shows of the order behind `token`:
    /// the order, its account (without the ledger sum), people, timeline,
    /// slips and the amount to transfer. Staff-only parts (slip checks,
    /// statement lines, balance) are left empty. The page is read on every
    /// refresh of every customer: while its [`orders::PageVersion`] is
    /// unchanged the view read last time is served (one round trip), else it
    /// is read again (seven).
    ///
    /// # Errors
    /// [`DeskError::UnknownOrder`] for an unknown token; database errors.
    pub async fn page_view_by_token(&self, token: &str) -> DeskResult<Arc<OrderView>> {
        let unknown = || DeskError::UnknownOrder("behind this link".into());
        let mut conn = self.store.pool().acquire().await?;
        let version = orders::page_version(&mut conn, token)
            .await?
            .ok_or_else(unknown)?;
        if let Some((kept, view)) = self.page_views.0.get(&token.to_string())
            && kept == version
        {
            return Ok(view);
        }
        let order = orders::by_token(&mut conn, token)
            .await?
            .ok_or_else(unknown)?;
        let view = Arc::new(self.view_at(&mut conn, order, Depth::Page).await?);
        // Kept under the version read before it: a change in between makes
        // the next request read the view again, never serve a stale one.
        self.page_views
            .0
            .insert(token.to_string(), (version, view.clone()));
        Ok(view)
    }

    async fn view_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: OrderRow,
    ) -> DeskResult<OrderView> {
        self.view_at(conn, order, Depth::Full).await
    }

    /// The order's view, with its staff-only parts when `depth` is
    /// [`Depth::Full`] (the customer's page does without them).
    async fn view_at(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: OrderRow,
        depth: Depth,
    ) -> DeskResult<OrderView> {
        let (account, balance_minor) = match depth {
            Depth::Full => accounts::account_with_balance(conn, order.account_id).await?,
            Depth::Page => (accounts::account_by_id(conn, order.account_id).await?, 0),
        };
        let users = accounts::list_users(conn, Some(order.account_id)).await?;
        let find = |id: Option<i64>| id.and_then(|id| users.iter().find(|u| u.id == id).cloned());
        let user = find(order.user_id);
        let submitter = match order.submitted_by {
            Some(id) if Some(id) != order.user_id => find(Some(id)),
            _ => None,
        };
        let events = orders::events(conn, order.id).await?;
        let slips = inbound_store::slips_of(conn, order.id).await?;
        let (slip_report, statement_lines, transfer_minor) = match depth {
            Depth::Full => {
                let report = self.slip_report_with(conn, &order, &events, &slips).await?;
                let (lines, transfer) = crate::store::statements::of_order(conn, order.id).await?;
                (report, lines, transfer)
            }
            // An order given a unique code keeps showing it, setting or not.
            Depth::Page => (
                crate::slip::checks::SlipReport::default(),
                Vec::new(),
                crate::store::statements::code_of(conn, order.id)
                    .await?
                    .map(|(_, transfer)| transfer),
            ),
        };
        Ok(OrderView {
            order,
            account,
            user,
            submitter,
            users,
            events,
            slips,
            balance_minor,
            slip_report,
            statement_lines,
            transfer_minor,
        })
    }

    /// What the slips of the order's current review round say (for the staff queue API).
    ///
    /// # Errors
    /// Database errors.
    pub async fn slip_report(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: &OrderRow,
    ) -> DeskResult<crate::slip::checks::SlipReport> {
        let events = orders::events(conn, order.id).await?;
        let slips = inbound_store::slips_of(conn, order.id).await?;
        self.slip_report_with(conn, order, &events, &slips).await
    }

    async fn slip_report_with(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: &OrderRow,
        events: &[orders::EventRow],
        slips: &[inbound_store::OrderSlipRow],
    ) -> DeskResult<crate::slip::checks::SlipReport> {
        let round_at = crate::discord::cards::current_round(events).map(|e| e.at);
        let added: Vec<(String, i64)> =
            slips.iter().map(|s| (s.hash.clone(), s.added_at)).collect();
        let facts = crate::slip::checks::OrderFacts {
            claimed_minor: order.amount_minor,
            created_at_ms: order.created_at,
            accounts: &self.settings.desk.bank_accounts,
            utc_offset_minutes: self.settings.desk.utc_offset_minutes,
        };
        Ok(crate::slip::checks::report_for(conn, order.id, round_at, &added, &facts).await?)
    }

    /// Whether `user` may cancel or amend `order` (the rule of
    /// [`DeskError::NotAllowed`]), for pages that offer only what will work.
    ///
    /// # Errors
    /// Database errors.
    pub async fn may_change(&self, user: &UserRow, order: &OrderRow) -> DeskResult<bool> {
        if user.account_id != order.account_id || user.removed_at.is_some() {
            return Ok(false);
        }
        if user.is_main() || order.user_id == Some(user.id) || order.submitted_by == Some(user.id) {
            return Ok(true);
        }
        let mut conn = self.store.pool().acquire().await?;
        Ok(orders::user_acted_on(&mut conn, order.id, user.id, user.primary_email()).await?)
    }

    /// The status page link of an order.
    pub fn status_link(&self, token: &str) -> String {
        format!(
            "{}/o/{token}",
            self.settings.desk.public_url.trim_end_matches('/')
        )
    }

    /// The order's page on the staff board.
    pub fn staff_link(&self, number: &str) -> String {
        format!(
            "{}/staff/orders/{number}",
            self.settings.desk.public_url.trim_end_matches('/')
        )
    }

    /// Formats a time for people in the desk's local time (`2026-11-25 14:03 WIB`).
    pub fn format_time(&self, ms: i64) -> String {
        let minutes = self.settings.desk.utc_offset_minutes;
        let t = self.local_time(ms);
        let zone = match minutes {
            420 => "WIB".to_string(),
            480 => "WITA".to_string(),
            540 => "WIT".to_string(),
            0 => "UTC".to_string(),
            m => format!("UTC{:+}", m / 60),
        };
        format!("{} {zone}", t.format("%Y-%m-%d %H:%M"))
    }

    // ----- helpers -------------------------------------------------------

    /// `ms` in the desk's local time (`desk.utc_offset_minutes`): order-number dates and
    /// the times people read.
    fn local_time(&self, ms: i64) -> chrono::DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.settings.desk.utc_offset_minutes * 60)
            .unwrap_or_else(|| chrono::Utc.fix());
        offset
            .timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(|| chrono::DateTime::<chrono::Utc>::default().with_timezone(&offset))
    }

    async fn order(&self, tx: &mut Tx, number: &OrderNumber) -> DeskResult<OrderRow> {
        orders::by_number(tx, number)
            .await?
            .ok_or_else(|| DeskError::UnknownOrder(number.to_string()))
    }

    async fn own_order(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        number: &OrderNumber,
    ) -> DeskResult<OrderRow> {
        let order = self.order(tx, number).await?;
        if order.account_id != user.account_id {
            return Err(DeskError::NotYours(number.to_string()));
        }
        Ok(order)
    }

    /// Only the main user, or a user who requested the order or sent a slip or
    /// amendment for it, may cancel or amend it.
    async fn ensure_may_change(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        order: &OrderRow,
        event: EventKind,
    ) -> DeskResult<()> {
        if user.is_main() || order.user_id == Some(user.id) || order.submitted_by == Some(user.id) {
            return Ok(());
        }
        if orders::user_acted_on(tx, order.id, user.id, user.primary_email()).await? {
            return Ok(());
        }
        let owner = match order.user_id {
            Some(id) => accounts::user_by_id(tx, id).await?.display_name(),
            None => "another user".into(),
        };
        let main = accounts::main_user(tx, order.account_id)
            .await?
            .display_name();
        let number = &order.number;
        tracing::info!(order = %number, user = user.id, "A PIC may not {} another user's order", event.verb());
        Err(DeskError::NotAllowed(Text::new(
            format!(
                "you cannot {} order {number}: it was requested by {owner}, and only the main user ({main}) may cancel or amend another user's order",
                event.verb()
            ),
            format!(
                "pesanan {number} tidak dapat {} oleh Anda: pesanan ini dibuat oleh {owner}, dan hanya pengguna utama ({main}) yang dapat membatalkan atau mengubah pesanan pengguna lain",
                verb_id(event)
            ),
        )))
    }

    /// Asks the lifecycle table; a refusal says where the order stands, who put it there and when.
    async fn allowed(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        event: EventKind,
    ) -> DeskResult<OrderStatus> {
        match transition(Some(order.status()), event) {
            Ok(to) => Ok(to),
            Err(refused) => Err(DeskError::Refused(self.explain(tx, order, refused).await?)),
        }
    }

    async fn explain(&self, tx: &mut Tx, order: &OrderRow, refused: Refused) -> DeskResult<Text> {
        let (from, event) = match refused {
            Refused::WrongStatus { from, event } => (from, event),
            Refused::NoOrder { .. } => return Ok(refused.to_string().into()),
        };
        let last = orders::last_transition(tx, order.id).await?;
        let by = match &last {
            Some(e) => self.by_whom(tx, e).await?,
            None => ByWhom::default(),
        };
        let (state_en, state_id) = match from {
            OrderStatus::Paid => ("already paid", "sudah dinyatakan lunas"),
            OrderStatus::Deleted => ("already cancelled", "sudah dibatalkan"),
            OrderStatus::Closed => ("already closed", "sudah ditutup"),
            OrderStatus::Dealing => (
                "being reviewed (submitted",
                "sedang diperiksa (bukti dikirim",
            ),
            OrderStatus::Open => (
                "still awaiting a slip (requested",
                "masih menunggu bukti transfer (dipesan",
            ),
            OrderStatus::PaymentFailure => (
                "in payment failure (decided",
                "berstatus pembayaran gagal (diputuskan",
            ),
        };
        let close = if state_en.contains('(') { ")" } else { "" };
        let number = &order.number;
        let verb = event.verb();
        Ok(Text::new(
            format!(
                "cannot {verb} order {number}: it is {state_en}{}{close}",
                by.en
            ),
            format!(
                "pesanan {number} tidak dapat {} karena {state_id}{}{close}",
                verb_id(event),
                by.id
            ),
        )
        .for_staff(format!(
            "cannot {verb} order {number}: it is {state_en}{}{close}",
            by.staff
        )))
    }

    /// " by staff rina at 2026-11-25 10:00 WIB" for staff; customers read "by
    /// the Receivables team" instead of a staff member's name, and their
    /// colleagues by display name.
    async fn by_whom(&self, tx: &mut Tx, e: &orders::EventRow) -> DeskResult<ByWhom> {
        let at = self.format_time(e.at);
        Ok(match e.actor_kind.as_str() {
            "staff" => ByWhom {
                staff: format!(" by staff {} at {at}", e.actor),
                en: format!(" by the Receivables team at {at}"),
                id: format!(" oleh tim Receivables pada {at}"),
            },
            "system" => ByWhom {
                staff: format!(" by the system at {at}"),
                en: format!(" by the system at {at}"),
                id: format!(" oleh sistem pada {at}"),
            },
            _ => {
                let who = match e.user_id {
                    Some(id) => accounts::user_by_id(tx, id).await?.display_name(),
                    None => e.actor.clone(),
                };
                ByWhom {
                    staff: format!(" by {} at {at}", e.actor),
                    en: format!(" by {who} at {at}"),
                    id: format!(" oleh {who} pada {at}"),
                }
            }
        })
    }

    /// Compare-and-set; on a lost race, says who won.
    async fn move_order(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        from: OrderStatus,
        to: OrderStatus,
        change: &Change<'_>,
    ) -> DeskResult<()> {
        let now = self.now();
        if orders::compare_and_set(tx, order.id, from, to, change, now).await? {
            // The decision-time histogram is observed here, once per decision.
            if change.decided.is_some()
                && matches!(to, OrderStatus::Paid | OrderStatus::PaymentFailure)
                && let Some(submitted) = order.submitted_at
            {
                let at = change.decided.map_or(now, |(t, _)| t);
                orders::record_decision_time(tx, order.id, to, at, at - submitted).await?;
            }
            return Ok(());
        }
        let now_row = orders::by_id(tx, order.id).await?;
        let last = orders::last_transition(tx, order.id).await?;
        let by = match &last {
            Some(e) => self.by_whom(tx, e).await?,
            None => ByWhom::default(),
        };
        let status = now_row.status();
        let en = |who: &str| {
            format!(
                "order {} was just changed to {}{who}; nothing was done",
                order.number,
                status.display_name(Lang::En)
            )
        };
        Err(DeskError::LostRace(
            Text::new(
                en(&by.en),
                format!(
                    "pesanan {} baru saja berubah menjadi {}{}; tidak ada yang diubah",
                    order.number,
                    status.display_name(Lang::Id),
                    by.id
                ),
            )
            .for_staff(en(&by.staff)),
        ))
    }

    async fn new_order(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        status: OrderStatus,
        amount: Option<Money>,
        channel: Channel,
        submitted_at: Option<i64>,
    ) -> DeskResult<OrderRow> {
        let now = self.now();
        let date = self.local_time(now).date_naive();
        let day = date.format("%Y%m%d").to_string();
        let seq = orders::next_sequence(tx, &day).await?;
        let number = OrderNumber::new(self.prefix(), date, seq);
        let mut token = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut token);
        let token = hex::encode(token);
        // Staff see on the card when a PIC user, not the main user, asked.
        let flags = if user.role == "pic" { "pic" } else { "" };
        let order = orders::insert_order(
            tx,
            &NewOrder {
                number: &number,
                account_id: user.account_id,
                user_id: Some(user.id),
                status,
                amount_minor: amount.map(Money::minor),
                currency: &self.settings.desk.currency,
                token: &token,
                source: channel.as_str(),
                flags,
                submitted_at,
                submitted_by: submitted_at.map(|_| user.id),
            },
            now,
        )
        .await?;
        Ok(order)
    }

    #[allow(clippy::too_many_arguments)]
    async fn event(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        event: EventKind,
        actor: &Actor,
        via: &str,
        from: Option<OrderStatus>,
        to: Option<OrderStatus>,
        amount_minor: Option<i64>,
        reason: Option<&str>,
    ) -> DeskResult<()> {
        let label = actor.label();
        orders::add_event(
            tx,
            order.id,
            &NewEvent {
                event: event.as_str(),
                actor_kind: actor.kind(),
                actor: &label,
                from_status: from.map(OrderStatus::as_str),
                to_status: to.map(OrderStatus::as_str),
                amount_minor,
                reason,
                user_id: actor.user_id(),
                via,
                reason_code: "",
            },
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// An event of staff or the system with a note that pages show in the
    /// reader's language by its `code`.
    #[allow(clippy::too_many_arguments)]
    async fn event_noted(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        event: EventKind,
        actor: &Actor,
        from: Option<OrderStatus>,
        to: Option<OrderStatus>,
        amount_minor: Option<i64>,
        reason: Option<&str>,
        code: &str,
    ) -> DeskResult<()> {
        let label = actor.label();
        orders::add_event(
            tx,
            order.id,
            &NewEvent {
                event: event.as_str(),
                actor_kind: actor.kind(),
                actor: &label,
                from_status: from.map(OrderStatus::as_str),
                to_status: to.map(OrderStatus::as_str),
                amount_minor,
                reason,
                user_id: actor.user_id(),
                via: "",
                reason_code: code,
            },
            self.now(),
        )
        .await?;
        Ok(())
    }

    async fn remember_thread(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
        reply: &ReplyTo,
    ) -> DeskResult<()> {
        if let Some(id) = &reply.message_id {
            orders::set_thread(tx, order.id, id, &reply.subject).await?;
        }
        Ok(())
    }

    /// What the receipt of a paid order shows. The approving staff member is
    /// named by reference only (`Tim Receivables · S-3`, the staff id), since
    /// customers never read staff names; staff look the id up with `topup staff list`.
    ///
    /// # Errors
    /// [`DeskError::Refused`] when the order is not paid.
    pub async fn receipt_job_for(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: &OrderRow,
    ) -> DeskResult<crate::render::receipt::ReceiptData> {
        if order.status() != OrderStatus::Paid {
            return Err(DeskError::Refused(Text::new(
                format!(
                    "order {} is {}, not paid: it has no receipt",
                    order.number,
                    order.status().display_name(Lang::En)
                ),
                format!(
                    "pesanan {} berstatus {}, belum lunas: belum ada kuitansi",
                    order.number,
                    order.status().display_name(Lang::Id)
                ),
            )));
        }
        let account = accounts::account_by_id(conn, order.account_id).await?;
        let balance = accounts::balance_after(conn, account.id, order.id).await?;
        let d = &self.settings.desk;
        let decided_at = order.decided_at.unwrap_or(order.updated_at);
        let lang = account.lang();
        let staff_id = match order.decided_by.as_deref() {
            Some(name) => accounts::find_staff(conn, name).await?.map(|s| s.id),
            None => None,
        };
        let code = crate::store::statements::code_of(conn, order.id).await?;
        let credited_code = code.is_some_and(|(_, t)| order.paid_minor == Some(t));
        let team = match lang {
            Lang::Id => "Tim Receivables",
            Lang::En => "Receivables team",
        };
        Ok(crate::render::receipt::ReceiptData {
            lang,
            receipt_number: format!("R-{}", order.number),
            seller_name: d.seller_name.clone(),
            seller_address: d.seller_address.clone(),
            account_name: account.name.clone(),
            order_number: order.number.clone(),
            order_date: self.format_time(order.created_at),
            paid_date: self.format_time(decided_at),
            amount: Money::from_minor(order.paid_minor.unwrap_or_default()),
            payment_method: match (lang, code) {
                (Lang::Id, None) => "Transfer bank".into(),
                (Lang::En, None) => "Bank transfer".into(),
                // The unique code: what was transferred, and whether the code was credited.
                (Lang::Id, Some((code, transfer))) => format!(
                    "Transfer bank {} (termasuk kode unik {}{})",
                    Money::from_minor(transfer).display(lang),
                    Money::from_minor(code * 100).display(lang),
                    if credited_code {
                        ", ikut dikreditkan"
                    } else {
                        ", tidak dikreditkan"
                    }
                ),
                (Lang::En, Some((code, transfer))) => format!(
                    "Bank transfer of {} (with the unique code {}{})",
                    Money::from_minor(transfer).display(lang),
                    Money::from_minor(code * 100).display(lang),
                    if credited_code {
                        ", credited"
                    } else {
                        ", not credited"
                    }
                ),
            },
            staff_reference: match staff_id {
                Some(id) => format!("{team} · S-{id} ({})", self.format_time(decided_at)),
                None => format!("{team} ({})", self.format_time(decided_at)),
            },
            new_balance: Money::from_minor(balance),
            issued_at: decided_at,
        })
    }
}

/// Who moved an order, in the words of staff and of customers.
#[derive(Debug, Default)]
struct ByWhom {
    staff: String,
    en: String,
    id: String,
}

/// A refusal line as staff read it, with every staff member's name replaced by
/// "the Receivables team", for customers who only have the staff words (chat
/// answers are written from the recorded outcome line).
pub fn customer_words(staff_text: &str) -> String {
    match regex::Regex::new(r" by staff .+? at (\d{4}-\d{2}-\d{2} )") {
        Ok(re) => re
            .replace_all(staff_text, " by the Receivables team at $1")
            .into_owned(),
        Err(_) => staff_text.to_string(),
    }
}

fn refused_plain(r: Refused) -> DeskError {
    DeskError::Refused(r.to_string().into())
}

/// The Indonesian passive of what was attempted ("pesanan ... tidak dapat dibatalkan").
pub(crate) fn verb_id(event: EventKind) -> &'static str {
    match event {
        EventKind::Request => "dibuat",
        EventKind::Slip => "menerima bukti transfer",
        EventKind::Approve => "disetujui",
        EventKind::Reject => "ditolak",
        EventKind::Amend => "diubah jumlahnya",
        EventKind::Cancel => "dibatalkan",
        EventKind::ConfirmTimeout => "dinyatakan kedaluwarsa",
        EventKind::CloseTimeout => "ditutup",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_read_the_team_where_staff_read_a_name() {
        let staff = "cannot cancel order TU-20261125-0001: it is already paid by staff rina at 2026-11-25 10:00 WIB";
        assert_eq!(
            customer_words(staff),
            "cannot cancel order TU-20261125-0001: it is already paid by the Receivables team at 2026-11-25 10:00 WIB"
        );
        assert_eq!(
            customer_words("there is no order to cancel"),
            "there is no order to cancel"
        );
    }

    #[test]
    fn a_refusal_knows_the_order_it_is_about() {
        let e = DeskError::Refused(Text::new(
            "cannot amend order TU-20261125-0012: it is being reviewed",
            "x",
        ));
        assert_eq!(e.order_number("TU").as_deref(), Some("TU-20261125-0012"));
        assert_eq!(e.order_number("XY"), None);
        let t = Text::new("customer", "pelanggan").for_staff("staff words");
        assert_eq!(t.to_string(), "staff words");
        assert_eq!(t.get(Lang::Id), "pelanggan");
    }
}
