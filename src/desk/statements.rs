//! Reconciliation: recording statement lines once, matching each credit to
//! its order, and what follows (approval by the system, money without an
//! order, the "not on the statement" flag).
//!
//! Matching rules run in this order and the line records the one that fired:
//! 1. `order_number`: an order number, in any notation customers type,
//!    appears in the remark and the amount equals the order's amount (or
//!    its amount to transfer with a unique code) → **matched**;
//! 2. `reference`: the line's reference equals the reference read from the
//!    order's slip → **matched**;
//! 3. `amount`: exactly one unsettled order (`open`, `dealing`,
//!    `payment_failure`) is due that amount, was created on or before the
//!    booking date, and its company's name is in the remark → **suggested**;
//!    two or more such orders → **ambiguous** with the candidates, left to staff.
//!
//! An order holds at most one line and a line at most one order: matching
//! takes orders out of the candidate set as it goes, and the store's unique
//! `order_id` is the last guard. A whole file is imported in one
//! transaction, so a failure leaves nothing half-done, and a re-import
//! finds every line already stored (`duplicate`) and changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, Desk, DeskError, DeskResult, Text};
use crate::config::{AutoApprove, CreditChoice};
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::domain::order_number::OrderNumber;
use crate::statement::{self, Direction, Format, Line, Statement};
use crate::store::accounts::StaffRow;
use crate::store::orders::{self, OrderRow};
use crate::store::statements::{self as store, Candidate, LineRow, NewLine};
use crate::store::{Tx, accounts};

/// What became of one line of an imported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineState {
    /// The money of an order, by `order_number` or `reference`.
    Matched,
    /// Probably an order's money (`amount`): staff confirm.
    Suggested,
    /// Several orders could be meant: staff choose.
    Ambiguous,
    /// A credit without an order.
    Unmatched,
    /// Already recorded by an earlier import (nothing changed).
    Duplicate,
    /// Money out: kept, never matched.
    Debit,
}

impl LineState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LineState::Matched => "matched",
            LineState::Suggested => "suggested",
            LineState::Ambiguous => "ambiguous",
            LineState::Unmatched => "unmatched",
            LineState::Duplicate => "duplicate",
            LineState::Debit => "debit",
        }
    }
}

/// The rule that tied a line to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The order number in the remark, same amount.
    OrderNumber,
    /// The slip's reference equals the line's.
    Reference,
    /// The only order due that amount, payer like the company.
    Amount,
    /// A staff member attached it.
    Staff,
}

impl Rule {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::OrderNumber => "order_number",
            Rule::Reference => "reference",
            Rule::Amount => "amount",
            Rule::Staff => "staff",
        }
    }
}

/// One line of an import, as `statement import --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct LineReport {
    /// Position in the file, from 1.
    pub line: usize,
    /// Booking date.
    pub date: String,
    /// Plain amount (`2500000`).
    pub amount: String,
    /// Remark.
    pub description: String,
    /// Reference.
    pub reference: Option<String>,
    /// Outcome.
    pub state: LineState,
    /// The order it belongs to (for a duplicate: the order the stored line has).
    pub order: Option<String>,
    /// The rule.
    pub rule: Option<Rule>,
    /// Stored line id (`topup statement attach ID`).
    pub id: i64,
    /// Candidate orders of an ambiguous line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// True when the system approved the order on this line's evidence.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approved: bool,
}

/// The result of one import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Import id.
    pub import_id: i64,
    /// Format read.
    pub format: Format,
    /// Bank.
    pub bank: String,
    /// Account number recorded.
    pub account: String,
    /// Every line.
    pub lines: Vec<LineReport>,
}

impl ImportReport {
    /// Lines in `state`.
    pub fn count(&self, state: LineState) -> usize {
        self.lines.iter().filter(|l| l.state == state).count()
    }

    /// "12 lines: 3 matched, 1 suggested, 0 ambiguous, 2 unmatched, 5 debits, 1 already imported; 2 approved by the system".
    pub fn summary(&self) -> String {
        self.summary_in(crate::domain::Lang::En)
    }

    /// [`ImportReport::summary`] in `lang` (staff read it on the board and in the reply mail).
    pub fn summary_in(&self, lang: crate::domain::Lang) -> String {
        let approved = self.lines.iter().filter(|l| l.approved).count();
        let n = |state| self.count(state);
        let (total, m, s, a, u, d, dup) = (
            self.lines.len(),
            n(LineState::Matched),
            n(LineState::Suggested),
            n(LineState::Ambiguous),
            n(LineState::Unmatched),
            n(LineState::Debit),
            n(LineState::Duplicate),
        );
        match lang {
            crate::domain::Lang::En => format!(
                "{total} lines: {m} matched, {s} suggested, {a} ambiguous, {u} unmatched, {d} debits, {dup} already imported{}",
                if approved > 0 {
                    format!("; {approved} approved by the system")
                } else {
                    String::new()
                }
            ),
            crate::domain::Lang::Id => format!(
                "{total} baris: {m} cocok, {s} disarankan, {a} ambigu, {u} tanpa pesanan, {d} debit, {dup} sudah pernah diimpor{}",
                if approved > 0 {
                    format!("; {approved} disetujui oleh sistem")
                } else {
                    String::new()
                }
            ),
        }
    }
}

/// The idempotency key of a line: account, date, direction, amount,
/// reference (else description), running balance, and which occurrence of
/// identical lines in its file it is (two equal transfers on one day are
/// two lines; the same file or an overlapping one again adds nothing).
pub fn line_key(account: &str, line: &Line, occurrence: usize) -> String {
    let mut h = Sha256::new();
    let what = line
        .reference
        .as_deref()
        .unwrap_or(&line.description)
        .to_lowercase();
    let balance = line
        .balance_minor
        .map(|b| b.to_string())
        .unwrap_or_default();
    for part in [
        account.trim(),
        &line.date.to_string(),
        line.direction.as_str(),
        &line.amount_minor.to_string(),
        &what,
        &balance,
        &occurrence.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// A company name's words that say who it is (`PT`, `CV`, `Tbk` dropped).
fn name_words(name: &str) -> Vec<String> {
    const FILLER: [&str; 9] = [
        "pt", "cv", "tbk", "ud", "persero", "the", "and", "dan", "co",
    ];
    name.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !FILLER.contains(&w.as_str()))
        .collect()
}

/// True when the remark (or payer) names the company: every distinctive word
/// of the name, or a prefix of at least four letters of it (banks cut names
/// short), appears in it; for names of three or more words, all but one.
pub fn payer_like(company: &str, text: &str) -> bool {
    let want = name_words(company);
    if want.is_empty() {
        return false;
    }
    let have: Vec<String> = name_words(text);
    let found = want
        .iter()
        .filter(|w| {
            have.iter()
                .any(|h| h == *w || (h.chars().count() >= 4 && w.starts_with(h.as_str())))
        })
        .count();
    let needed = if want.len() >= 3 {
        want.len() - 1
    } else {
        want.len()
    };
    found >= needed
}

/// What the matcher decided for one credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Index into the candidates, and the rule.
    Matched(usize, Rule),
    /// Index, by the amount rule.
    Suggested(usize),
    /// Indexes of every candidate.
    Ambiguous(Vec<usize>),
    /// Nothing fits.
    Unmatched,
}

/// The candidate orders with indexes by number and by amount due.
pub struct Matcher {
    candidates: Vec<Candidate>,
    taken: HashSet<usize>,
    by_number: HashMap<String, usize>,
    by_amount: HashMap<i64, Vec<usize>>,
    prefix: String,
    offset_minutes: i32,
}

impl Matcher {
    /// Over `candidates` (unsettled orders without a line).
    pub fn new(candidates: Vec<Candidate>, prefix: &str, offset_minutes: i32) -> Matcher {
        let mut by_number = HashMap::new();
        let mut by_amount: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            by_number.insert(c.number.clone(), i);
            if let Some(a) = c.transfer_minor.or(c.amount_minor) {
                by_amount.entry(a).or_default().push(i);
            }
        }
        Matcher {
            candidates,
            taken: HashSet::new(),
            by_number,
            by_amount,
            prefix: prefix.to_string(),
            offset_minutes,
        }
    }

    /// The candidate at `i`.
    pub fn candidate(&self, i: usize) -> &Candidate {
        &self.candidates[i]
    }

    /// Takes order `i` out of the candidates (it now has a line).
    pub fn take(&mut self, i: usize) {
        self.taken.insert(i);
    }

    fn created_on(&self, c: &Candidate) -> NaiveDate {
        let ms = c.created_at + i64::from(self.offset_minutes) * 60_000;
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// Decides one credit line by every rule. `by_reference` are the
    /// indexes of orders whose slip reference equals the line's.
    pub fn decide(&self, line: &Line, by_reference: &[usize]) -> Outcome {
        self.strong(line, by_reference)
            .unwrap_or_else(|| self.by_amount(line))
    }

    /// The rules that name the order (`order_number`, `reference`). An
    /// import runs them over every line before [`Matcher::by_amount`], so a
    /// line that names its order is never beaten to it by a line that only
    /// has its amount.
    pub fn strong(&self, line: &Line, by_reference: &[usize]) -> Option<Outcome> {
        // 1. The order number in the remark (or the reference field), same amount.
        let text = format!(
            "{} {}",
            line.description,
            line.reference.as_deref().unwrap_or("")
        );
        for number in OrderNumber::find_all(&text, &self.prefix) {
            if let Some(&i) = self.by_number.get(number.as_str())
                && !self.taken.contains(&i)
            {
                let c = &self.candidates[i];
                if c.amount_minor == Some(line.amount_minor)
                    || c.transfer_minor == Some(line.amount_minor)
                {
                    return Some(Outcome::Matched(i, Rule::OrderNumber));
                }
            }
        }
        // 2. The slip's reference.
        if let Some(&i) = by_reference.iter().find(|i| !self.taken.contains(i)) {
            let c = &self.candidates[i];
            if c.transfer_minor.or(c.amount_minor) == Some(line.amount_minor) {
                return Some(Outcome::Matched(i, Rule::Reference));
            }
        }
        None
    }

    /// The `amount` rule: the only unsettled order due this amount, created
    /// on or before the booking date, whose company the remark names.
    pub fn by_amount(&self, line: &Line) -> Outcome {
        let fits: Vec<usize> = self
            .by_amount
            .get(&line.amount_minor)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|i| !self.taken.contains(i))
                    .filter(|&i| self.created_on(&self.candidates[i]) <= line.date)
                    .collect()
            })
            .unwrap_or_default();
        match fits.as_slice() {
            [] => Outcome::Unmatched,
            [i] => {
                let c = &self.candidates[*i];
                let payer = format!(
                    "{} {}",
                    line.payer.as_deref().unwrap_or(""),
                    line.description
                );
                if payer_like(&c.account_name, &payer) {
                    Outcome::Suggested(*i)
                } else {
                    Outcome::Unmatched
                }
            }
            _ => Outcome::Ambiguous(fits),
        }
    }
}

impl Desk {
    /// What an order credits when approved without a corrected amount: its
    /// amount, or with a unique code and `desk.credit = "transferred"` the
    /// amount transferred.
    ///
    /// # Errors
    /// Database errors.
    pub(crate) async fn amount_due(
        &self,
        tx: &mut Tx,
        order: &OrderRow,
    ) -> DeskResult<Option<i64>> {
        if self.settings.desk.credit == CreditChoice::Transferred
            && let Some((_, transfer)) = store::code_of(tx, order.id).await?
        {
            return Ok(Some(transfer));
        }
        Ok(order.amount_minor)
    }

    /// Gives a new order its unique code (`desk.unique_code`): 1-999 rupiah
    /// that no other unsettled order has, from a random start so codes do
    /// not tell how many orders are open. With all 999 taken the order gets
    /// none (its amount alone then does not name it; the number still does).
    ///
    /// # Errors
    /// Database errors.
    pub(crate) async fn give_code(&self, tx: &mut Tx, order: &OrderRow) -> DeskResult<Option<i64>> {
        let Some(amount) = order.amount_minor else {
            return Ok(None);
        };
        // Two daemons on PostgreSQL could otherwise read the same free code
        // at once: a transaction-scoped advisory lock serialises the choice
        // (SQLite's write transactions are serial already).
        if self.store().backend() == crate::store::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7305240001)")
                .execute(&mut **tx)
                .await?;
        }
        let used: HashSet<i64> = store::codes_in_use(tx).await?.into_iter().collect();
        let start: i64 = rand::Rng::gen_range(&mut rand::thread_rng(), 0..999);
        let Some(code) = (0..999)
            .map(|i| (start + i) % 999 + 1)
            .find(|c| !used.contains(c))
        else {
            tracing::warn!(order = %order.number, "All 999 unique codes are in use: the order has none");
            return Ok(None);
        };
        let transfer = amount.saturating_add(code * 100);
        store::set_code(tx, order.id, code, transfer).await?;
        Ok(Some(transfer))
    }

    /// With `desk.auto_approve = "matched"`, approves `order` (just moved to
    /// `dealing` by a slip) when a statement line already matched its money
    /// by `order_number` or `reference`; otherwise returns it unchanged. A
    /// refusal (an amount over the limit, ...) leaves it to staff.
    ///
    /// # Errors
    /// Database errors.
    pub(crate) async fn approve_if_matched(
        &self,
        tx: &mut Tx,
        order: OrderRow,
    ) -> DeskResult<OrderRow> {
        if self.settings.desk.auto_approve != AutoApprove::Matched
            || order.status() != OrderStatus::Dealing
        {
            return Ok(order);
        }
        let Some(line) = store::for_order(tx, order.id).await?.into_iter().find(|l| {
            l.state == "matched" && matches!(l.rule.as_deref(), Some("order_number" | "reference"))
        }) else {
            return Ok(order);
        };
        let id = order.id;
        match self
            .approve_in(tx, order, &Actor::Reconciler { line: line.id }, None)
            .await
        {
            Ok(o) => {
                self.card_update(tx, &o).await?;
                Ok(o)
            }
            Err(e @ (DeskError::Invalid(_) | DeskError::Refused(_) | DeskError::LostRace(_))) => {
                tracing::warn!(
                    order_id = id,
                    line = line.id,
                    "Not approved by the system: {e}"
                );
                Ok(orders::by_id(tx, id).await?)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads a statement file and imports it ([`Desk::import_statement`]).
    ///
    /// # Errors
    /// [`DeskError::Invalid`] with the reason the file was not read.
    pub async fn import_file(
        &self,
        bytes: &[u8],
        format: Option<Format>,
        account: Option<&str>,
        source: &str,
        actor: &str,
    ) -> DeskResult<ImportReport> {
        let st = &self.settings.statements;
        let mut statement = statement::parse(bytes, format, st.csv.as_ref(), st.limits())
            .map_err(|e| DeskError::Invalid(Text::from(format!("{source}: {e}"))))?;
        if let Some(a) = account.map(str::trim).filter(|a| !a.is_empty()) {
            statement.account = a.to_string();
        }
        self.import_statement(&statement, source, actor).await
    }

    /// The account number a statement without one is recorded under: the
    /// configured account of its bank when there is exactly one, else the bank.
    fn account_of(&self, s: &Statement) -> String {
        if !s.account.trim().is_empty() {
            return s.account.trim().to_string();
        }
        let same: Vec<_> = self
            .settings
            .desk
            .bank_accounts
            .iter()
            .filter(|b| b.bank.eq_ignore_ascii_case(&s.bank))
            .collect();
        match same.as_slice() {
            [one] => one
                .account_number
                .chars()
                .filter(char::is_ascii_digit)
                .collect(),
            _ => s.bank.clone(),
        }
    }

    /// Records every line of `statement` once and matches its credits, in
    /// one transaction; with `desk.auto_approve = "matched"`, approves the
    /// matched orders in `dealing` in the same transaction.
    ///
    /// # Errors
    /// Database errors (nothing of the file is then recorded).
    pub async fn import_statement(
        &self,
        statement: &Statement,
        source: &str,
        actor: &str,
    ) -> DeskResult<ImportReport> {
        let account = self.account_of(statement);
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let import_id = store::insert_import(
            &mut tx,
            source,
            statement.format.as_str(),
            &statement.bank,
            &account,
            i64::try_from(statement.lines.len()).unwrap_or(i64::MAX),
            actor,
            now,
        )
        .await?;
        let mut matcher = Matcher::new(
            store::candidates(&mut tx).await?,
            self.prefix(),
            self.settings.desk.utc_offset_minutes,
        );
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut reports = Vec::with_capacity(statement.lines.len());
        let mut added = 0i64;
        let mut to_approve: Vec<(usize, i64, i64)> = Vec::new();
        let mut pending: Vec<(usize, &Line, i64, Vec<usize>)> = Vec::new();
        for line in &statement.lines {
            let base = line_key(&account, line, 0);
            let occurrence = seen.entry(base).or_insert(0);
            let key = line_key(&account, line, *occurrence);
            *occurrence += 1;
            let date = line.date.to_string();
            let initial = match line.direction {
                Direction::Debit => LineState::Debit,
                Direction::Credit => LineState::Unmatched,
            };
            let inserted = store::insert_line(
                &mut tx,
                &NewLine {
                    key: &key,
                    import_id,
                    bank: &statement.bank,
                    account: &account,
                    booked_on: &date,
                    direction: line.direction.as_str(),
                    amount_minor: line.amount_minor,
                    description: &line.description,
                    reference: line.reference.as_deref(),
                    payer: line.payer.as_deref(),
                    balance_minor: line.balance_minor,
                    state: initial.as_str(),
                },
                now,
            )
            .await?;
            let mut report = LineReport {
                line: line.line,
                date,
                amount: Money::from_minor(line.amount_minor).to_plain(),
                description: line.description.clone(),
                reference: line.reference.clone(),
                state: initial,
                order: None,
                rule: None,
                id: 0,
                candidates: Vec::new(),
                approved: false,
            };
            let Some(id) = inserted else {
                let stored = store::by_key(&mut tx, &key).await?;
                report.state = LineState::Duplicate;
                if let Some(s) = stored {
                    report.id = s.id;
                    report.order = s.order_number;
                    report.rule = s.rule.as_deref().and_then(rule_of);
                }
                reports.push(report);
                continue;
            };
            added += 1;
            report.id = id;
            if line.direction == Direction::Credit {
                let by_reference = match &line.reference {
                    Some(r) => {
                        let ids = store::orders_with_slip_reference(&mut tx, r).await?;
                        (0..matcher.candidates.len())
                            .filter(|&i| ids.contains(&matcher.candidate(i).id))
                            .collect()
                    }
                    None => Vec::new(),
                };
                pending.push((reports.len(), line, id, by_reference));
            }
            reports.push(report);
        }
        // Lines that name their order first, then the amount rule for the rest.
        let mut decided = vec![false; pending.len()];
        for strong_pass in [true, false] {
            for (k, (at, line, id, by_reference)) in pending.iter().enumerate() {
                if decided[k] {
                    continue;
                }
                let outcome = if strong_pass {
                    match matcher.strong(line, by_reference) {
                        Some(o) => o,
                        None => continue,
                    }
                } else {
                    matcher.by_amount(line)
                };
                decided[k] = true;
                let (state, rule, order, candidates) = match &outcome {
                    Outcome::Matched(i, rule) => {
                        (LineState::Matched, Some(*rule), Some(*i), vec![])
                    }
                    Outcome::Suggested(i) => {
                        (LineState::Suggested, Some(Rule::Amount), Some(*i), vec![])
                    }
                    Outcome::Ambiguous(all) => (LineState::Ambiguous, None, None, all.clone()),
                    // Recorded as unmatched already.
                    Outcome::Unmatched => continue,
                };
                let numbers: Vec<String> = candidates
                    .iter()
                    .map(|&i| matcher.candidate(i).number.clone())
                    .collect();
                let order_id = order.map(|i| matcher.candidate(i).id);
                let stored = store::set_outcome(
                    &mut tx,
                    *id,
                    state.as_str(),
                    rule.map(Rule::as_str),
                    order_id,
                    &numbers.join(","),
                    now,
                )
                .await?;
                if !stored {
                    continue;
                }
                let report = &mut reports[*at];
                report.state = state;
                report.rule = rule;
                report.candidates = numbers;
                if let Some(i) = order {
                    matcher.take(i);
                    report.order = Some(matcher.candidate(i).number.clone());
                    if state == LineState::Matched
                        && self.settings.desk.auto_approve == AutoApprove::Matched
                        && matcher.candidate(i).status == OrderStatus::Dealing.as_str()
                    {
                        to_approve.push((*at, matcher.candidate(i).id, *id));
                    }
                }
            }
        }
        store::set_import_added(&mut tx, import_id, added).await?;
        for (report, order_id, line_id) in to_approve {
            let order = orders::by_id(&mut tx, order_id).await?;
            match self
                .approve_in(&mut tx, order, &Actor::Reconciler { line: line_id }, None)
                .await
            {
                Ok(o) => {
                    reports[report].approved = true;
                    self.card_update(&mut tx, &o).await?;
                }
                // A refusal (amount over the limit, ...) leaves the order to staff.
                Err(
                    e @ (DeskError::Invalid(_) | DeskError::Refused(_) | DeskError::LostRace(_)),
                ) => {
                    tracing::warn!(order_id, line_id, "Not approved by the system: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        // Matched or suggested money shows on the review card.
        for r in &reports {
            if matches!(r.state, LineState::Matched | LineState::Suggested)
                && !r.approved
                && let Some(n) = &r.order
                && let Ok(number) = OrderNumber::parse_with_prefix(n, self.prefix())
                && let Some(o) = orders::by_number(&mut tx, &number).await?
                && o.status() == OrderStatus::Dealing
            {
                self.card_update(&mut tx, &o).await?;
            }
        }
        self.commit(tx, true).await?;
        tracing::info!(import_id, source, added, "Statement imported");
        Ok(ImportReport {
            import_id,
            format: statement.format,
            bank: statement.bank.clone(),
            account,
            lines: reports,
        })
    }

    /// Credits without an order, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn unmatched_lines(&self, limit: i64) -> DeskResult<Vec<LineRow>> {
        let mut conn = self.store.pool().acquire().await?;
        Ok(store::unmatched(&mut conn, limit).await?)
    }

    /// A staff member ties unmatched line `line_id` to order `number`
    /// (unsettled, with no line yet). The order is then approved as usual.
    ///
    /// # Errors
    /// [`DeskError::Invalid`] when the line or the order cannot take it.
    pub async fn attach_line_to_order(
        &self,
        line_id: i64,
        number: &OrderNumber,
        staff: &StaffRow,
    ) -> DeskResult<LineRow> {
        let mut tx = self.store.begin_write().await?;
        let line = self.free_credit(&mut tx, line_id).await?;
        let order = self.order(&mut tx, number).await?;
        if order.status().is_final() {
            return Err(DeskError::Invalid(Text::from(format!(
                "order {} is {}: money cannot be attached to it",
                order.number,
                order.status().display_name(crate::domain::Lang::En)
            ))));
        }
        if !store::for_order(&mut tx, order.id).await?.is_empty() {
            return Err(DeskError::Invalid(Text::from(format!(
                "order {} already has a statement line",
                order.number
            ))));
        }
        if !store::set_outcome(
            &mut tx,
            line.id,
            "matched",
            Some("staff"),
            Some(order.id),
            "",
            self.now(),
        )
        .await?
        {
            return Err(DeskError::Invalid(Text::from(format!(
                "statement line {line_id} or order {} was just taken",
                order.number
            ))));
        }
        tracing::info!(line_id, order = %order.number, staff = %staff.name, "Statement line attached");
        self.card_update(&mut tx, &order).await?;
        let row = store::by_id(&mut tx, line.id).await?;
        self.commit(tx, true).await?;
        Ok(row)
    }

    /// Money without an order: a staff member attaches unmatched line
    /// `line_id` to account `account` (id or exact name). A paid order of
    /// the line's amount is made for the account's main user, approved by
    /// the staff member, with the paid mail and its receipt.
    ///
    /// # Errors
    /// [`DeskError::Invalid`] when the line is not a free credit.
    pub async fn attach_line_to_account(
        &self,
        line_id: i64,
        account: &str,
        staff: &StaffRow,
    ) -> DeskResult<OrderRow> {
        let mut tx = self.store.begin_write().await?;
        let line = self.free_credit(&mut tx, line_id).await?;
        let account = accounts::find_account(&mut tx, account).await?;
        let user = accounts::main_user(&mut tx, account.id).await?;
        let amount = Money::from_minor(line.amount_minor);
        self.check_amount(amount)?;
        let now = self.now();
        let order = self
            .new_order(
                &mut tx,
                &user,
                OrderStatus::Dealing,
                Some(amount),
                super::Channel::Cli,
                Some(now),
            )
            .await?;
        let note = format!(
            "money found on the statement ({} {} {}): statement line {}",
            line.bank,
            line.booked_on,
            amount.display(self.settings.desk.staff_notation),
            line.id
        );
        self.event(
            &mut tx,
            &order,
            crate::domain::order::EventKind::Slip,
            &Actor::Staff(staff.clone()),
            "statement",
            None,
            Some(OrderStatus::Dealing),
            Some(amount.minor()),
            Some(&note),
        )
        .await?;
        if !store::set_outcome(
            &mut tx,
            line.id,
            "matched",
            Some("staff"),
            Some(order.id),
            "",
            now,
        )
        .await?
        {
            return Err(DeskError::Invalid(Text::from(format!(
                "statement line {line_id} was just taken"
            ))));
        }
        let order = self
            .approve_in(&mut tx, order, &Actor::Staff(staff.clone()), None)
            .await?;
        self.commit(tx, true).await?;
        Ok(order)
    }

    async fn free_credit(&self, tx: &mut Tx, line_id: i64) -> DeskResult<LineRow> {
        let line = store::by_id(tx, line_id).await?;
        if line.direction != "credit" {
            return Err(DeskError::Invalid(Text::from(format!(
                "statement line {line_id} is a debit: only money in belongs to an order"
            ))));
        }
        if let Some(n) = &line.order_number {
            return Err(DeskError::Invalid(Text::from(format!(
                "statement line {line_id} already belongs to order {n}"
            ))));
        }
        Ok(line)
    }

    /// The date an order's money is "not on the statement through" (see
    /// [`not_on_statement`]): an order in `dealing` without a line whose
    /// slip came two business days before the last date statements cover.
    /// `covered` is that date.
    pub fn missing_flag(
        &self,
        order: &OrderRow,
        has_line: bool,
        covered: Option<NaiveDate>,
    ) -> Option<NaiveDate> {
        if has_line || order.status() != OrderStatus::Dealing {
            return None;
        }
        let covered = covered?;
        let submitted = order.submitted_at?;
        let slip_day = self.local_time(submitted).date_naive();
        (covered >= statement::add_business_days(slip_day, 2)).then_some(covered)
    }

    /// The last date imported statements cover.
    ///
    /// # Errors
    /// Database errors.
    pub async fn covered_through(&self) -> DeskResult<Option<NaiveDate>> {
        let mut conn = self.store.pool().acquire().await?;
        Ok(store::covered_through(&mut conn)
            .await?
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }
}

fn rule_of(s: &str) -> Option<Rule> {
    match s {
        "order_number" => Some(Rule::OrderNumber),
        "reference" => Some(Rule::Reference),
        "amount" => Some(Rule::Amount),
        "staff" => Some(Rule::Staff),
        _ => None,
    }
}

/// `en` or `id`, as `lang` says.
fn in_lang(lang: crate::domain::Lang, en: &'static str, id: &'static str) -> &'static str {
    match lang {
        crate::domain::Lang::En => en,
        crate::domain::Lang::Id => id,
    }
}

/// "Money arrived: BCA 30/11 Rp 2.500.000, berita 'TU-...'" for the board
/// and the card, in `lang`, the amount in `notation`.
pub fn money_arrived(
    line: &LineRow,
    lang: crate::domain::Lang,
    notation: crate::domain::Lang,
) -> String {
    let day = NaiveDate::parse_from_str(&line.booked_on, "%Y-%m-%d")
        .map(|d| d.format("%d/%m").to_string())
        .unwrap_or_else(|_| line.booked_on.clone());
    let remark: String = line.description.chars().take(80).collect();
    let how = match line.state.as_str() {
        "suggested" => in_lang(
            lang,
            " (suggested by amount: check the payer)",
            " (disarankan dari jumlahnya: periksa pengirimnya)",
        ),
        _ => "",
    };
    format!(
        "{}: {} {day} {}, berita '{remark}'{how}",
        in_lang(lang, "Money arrived", "Dana masuk"),
        line.bank,
        Money::from_minor(line.amount_minor).display(notation)
    )
}

/// "not on the statement through 2026-12-02", in `lang`.
pub fn not_on_statement(through: NaiveDate, lang: crate::domain::Lang) -> String {
    format!(
        "{} {through}",
        in_lang(
            lang,
            "not on the statement through",
            "belum ada di mutasi rekening sampai"
        )
    )
}

/// Most statement files read from one mail.
const MAX_MAIL_FILES: usize = 10;

/// The statement files attached to a mail (CSV, text, MT940, Excel), by name
/// or type; images, PDFs and anything else are left alone.
pub fn statement_attachments(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    use mail_parser::{MessageParser, MimeHeaders};
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in msg.attachments() {
        let name = part.attachment_name().unwrap_or_default().to_string();
        let lower = name.to_ascii_lowercase();
        let ctype = part
            .content_type()
            .map(|c| {
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase()
            })
            .unwrap_or_default();
        let by_name = [".csv", ".txt", ".sta", ".mt940", ".940", ".xlsx", ".xls"]
            .iter()
            .any(|e| lower.ends_with(e));
        let by_type = ctype == "text/csv"
            || ctype == "application/vnd.ms-excel"
            || ctype.starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml");
        if by_name || by_type {
            let name: String = name.chars().filter(|c| !c.is_control()).take(120).collect();
            out.push((
                if name.is_empty() {
                    "statement".into()
                } else {
                    name
                },
                part.contents().to_vec(),
            ));
        }
        if out.len() >= MAX_MAIL_FILES {
            break;
        }
    }
    out
}

impl Desk {
    /// A mail from a configured statement sender (`statements.senders`,
    /// authenticated when `mail.authserv_id` is set: the caller checks): its
    /// statement attachments are imported, the mail is recorded once under
    /// its keys, and the sender gets a reply saying what each file matched
    /// (not when the mail is automatic). A redelivered mail is a duplicate
    /// and changes nothing.
    ///
    /// # Errors
    /// Database errors only (a file that cannot be read is told in the reply).
    pub async fn handle_statement_mail(
        &self,
        msg: super::Inbound,
    ) -> DeskResult<super::InboundOutcome> {
        use crate::store::inbound::{self as inbound_store, NewInbound, Recorded};
        {
            let mut conn = self.store.pool().acquire().await?;
            if inbound_store::seen(&mut conn, &msg.keys).await? {
                return Ok(super::InboundOutcome {
                    inbound_id: None,
                    outcome: "duplicate".into(),
                    order: None,
                });
            }
        }
        let files = msg
            .raw
            .as_deref()
            .map(statement_attachments)
            .unwrap_or_default();
        let source_of = |name: &str| format!("email from {}: {name}", msg.sender);
        // The reply is in the staff language; the inbound record (for the
        // operator's log, like every outcome) in English.
        let lang = self.settings.desk.staff_lang;
        let mut results = Vec::new();
        let mut outcomes = Vec::new();
        for (name, bytes) in &files {
            let (summary, logged) = match self
                .import_file(bytes, None, None, &source_of(name), &msg.sender)
                .await
            {
                Ok(report) => (report.summary_in(lang), report.summary()),
                Err(DeskError::Invalid(why)) => (
                    format!("{}: {why}", in_lang(lang, "not imported", "tidak diimpor")),
                    format!("not imported: {why}"),
                ),
                Err(e) => return Err(e),
            };
            results.push(serde_json::json!({"name": name, "summary": summary}));
            outcomes.push(format!("{name}: {logged}"));
        }
        if results.is_empty() {
            results.push(serde_json::json!({
                "name": "(none)",
                "summary": in_lang(
                    lang,
                    "no statement file (CSV, Excel or MT940) was attached",
                    "tidak ada berkas mutasi (CSV, Excel atau MT940) yang terlampir",
                ),
            }));
            outcomes.push("(none): no statement file (CSV, Excel or MT940) was attached".into());
        }
        let outcome = format!("statement: {}", outcomes.join("; "));
        let mut tx = self.store.begin_write().await?;
        let recorded = inbound_store::record(
            &mut tx,
            &NewInbound {
                source: "email",
                sender: &msg.sender,
                subject: &msg.subject,
                intent: "statement",
                raw_hash: None,
                content_hash: msg.content_hash.as_deref(),
            },
            &msg.keys,
            self.now(),
        )
        .await?;
        let id = match recorded {
            Recorded::Duplicate => {
                return Ok(super::InboundOutcome {
                    inbound_id: None,
                    outcome: "duplicate".into(),
                    order: None,
                });
            }
            other => other.id(),
        };
        if let Some(id) = id {
            inbound_store::set_outcome(&mut tx, id, &outcome, None, None).await?;
        }
        // Automatic mail (a bank's mailer, an auto-responder) is never
        // answered (RFC 3834): its statements are imported, the summary is
        // in the inbound record for staff.
        if msg.extraction.intent == crate::intake::Intent::Ignore {
            self.commit(tx, false).await?;
            return Ok(super::InboundOutcome {
                inbound_id: id,
                outcome,
                order: None,
            });
        }
        let mut vars = self.base_vars("", None, lang);
        super::notify::merge(
            &mut vars,
            serde_json::json!({"user_name": msg.sender_name.clone().unwrap_or_else(|| msg.sender.clone()), "files": results}),
        );
        let reply = super::ReplyTo {
            address: msg.sender.clone(),
            message_id: msg.message_id.clone(),
            references: msg.thread_ids.clone(),
            subject: msg.subject.clone(),
        };
        self.reply_email(
            &mut tx,
            crate::render::templates::EmailKind::StatementImported,
            lang,
            &reply,
            None,
            vars,
        )
        .await?;
        self.commit(tx, true).await?;
        tracing::info!(sender = %msg.sender, files = files.len(), "Statement mail handled");
        Ok(super::InboundOutcome {
            inbound_id: id,
            outcome,
            order: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, number: &str, amount: i64, company: &str) -> Candidate {
        Candidate {
            id,
            number: number.into(),
            status: "dealing".into(),
            amount_minor: Some(amount * 100),
            transfer_minor: None,
            created_at: 1_795_575_600_000,
            account_name: company.into(),
        }
    }

    fn line(amount: i64, description: &str) -> Line {
        Line {
            line: 1,
            date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            direction: Direction::Credit,
            amount_minor: amount * 100,
            description: description.into(),
            reference: None,
            payer: None,
            balance_minor: None,
        }
    }

    #[test]
    fn rules_in_order() {
        let m = Matcher::new(
            vec![
                cand(1, "TU-20261125-0001", 2_500_000, "PT Sinar Abadi"),
                cand(2, "TU-20261125-0002", 1_000_000, "CV Maju Jaya"),
                cand(3, "TU-20261125-0003", 1_000_000, "PT Sumber Rejeki"),
                cand(4, "TU-20261125-0004", 750_000, "PT Sumber Rejeki"),
            ],
            "TU",
            420,
        );
        assert_eq!(
            m.decide(&line(2_500_000, "TRSF TU 20261125 0001 X"), &[]),
            Outcome::Matched(0, Rule::OrderNumber)
        );
        // The number with another amount does not match by number; the amount alone is ambiguous.
        assert_eq!(
            m.decide(&line(1_000_000, "TU-20261125-0001"), &[]),
            Outcome::Ambiguous(vec![1, 2])
        );
        assert_eq!(
            m.decide(&line(750_000, "TRSF DR SUMBER REJEK"), &[]),
            Outcome::Suggested(3)
        );
        assert_eq!(
            m.decide(&line(750_000, "TRSF DR ANDI"), &[]),
            Outcome::Unmatched
        );
        assert_eq!(m.decide(&line(123, "nothing"), &[]), Outcome::Unmatched);
        assert_eq!(
            m.decide(&line(750_000, "x"), &[3]),
            Outcome::Matched(3, Rule::Reference)
        );
    }

    #[test]
    fn a_taken_order_is_never_matched_again_and_early_money_is_not_an_orders() {
        let mut m = Matcher::new(
            vec![cand(1, "TU-20261125-0001", 2_500_000, "PT Sinar Abadi")],
            "TU",
            420,
        );
        m.take(0);
        assert_eq!(
            m.decide(&line(2_500_000, "TU-20261125-0001 SINAR ABADI"), &[]),
            Outcome::Unmatched
        );
        let m = Matcher::new(
            vec![cand(1, "TU-20261125-0001", 2_500_000, "PT Sinar Abadi")],
            "TU",
            420,
        );
        let mut early = line(2_500_000, "SINAR ABADI");
        early.date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(m.decide(&early, &[]), Outcome::Unmatched);
    }

    #[test]
    fn payer_names_as_banks_cut_them() {
        assert!(payer_like(
            "PT Sinar Abadi",
            "TRSF E-BANKING CR SINAR ABADI PT"
        ));
        assert!(payer_like("PT Sinar Abadi Sentosa", "SINAR ABADI SENT"));
        assert!(!payer_like("PT Sinar Abadi", "SINAR JAYA"));
        assert!(!payer_like("PT", "PT"));
    }

    #[test]
    fn keys_ignore_nothing_that_tells_lines_apart() {
        let a = line(1000, "x");
        let mut b = a.clone();
        assert_eq!(line_key("1", &a, 0), line_key("1", &b, 0));
        assert_ne!(line_key("1", &a, 0), line_key("1", &a, 1));
        assert_ne!(line_key("1", &a, 0), line_key("2", &a, 0));
        b.balance_minor = Some(5);
        assert_ne!(line_key("1", &a, 0), line_key("1", &b, 0));
    }
}
