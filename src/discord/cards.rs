//! Review cards: the staff channel's view of a submission, posted and edited
//! from the outbox (so Discord being down only delays them).
//!
//! A card shows what staff need to decide without switching windows (see
//! [`crate::desk::staff_view`]): the sender's name and address, the
//! customer's own words, the claimed amount, the slip as the embed's image
//! (Discord opens it full size on a click), the account's balance and recent
//! orders, a link to the order on the staff board, and the flags. Its words
//! are in `desk.staff_lang`, its amounts in `desk.staff_notation`. An order
//! still in `dealing` after `desk.remind_hours` is announced once more, as a
//! reply to its card ([`Cards::remind`]).
//!
//! A card belongs to one *review round*: the round starts with the event
//! that moved the order into `dealing` (a slip or an amendment) and ends with
//! the first event that moves it out again (approve, reject, time limit,
//! cancel). A resubmission opens a new round and gets a new card; old cards
//! keep showing how their round ended. Every card is rendered from the
//! order's rows alone, so a retried or late job draws the same card, and
//! posting is idempotent per round (`discord_cards` has one row per round).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serenity::all::{
    ButtonStyle, ChannelId, Colour, CreateActionRow, CreateAttachment, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateMessage, EditMessage, MessageId,
};
use serenity::http::Http;

use super::store as cards_store;
use crate::desk::staff_view::{Review, flag_text, label};
use crate::desk::{Desk, DeskError};
use crate::domain::Lang;
use crate::domain::order::OrderStatus;
use crate::outbox::Job;
use crate::outbox::deliver::ChatDelivery;
use crate::outbox::email::SendError;
use crate::store::orders::EventRow;

/// At most this many slip files ride on one card.
const MAX_CARD_FILES: usize = 4;
/// And at most this many bytes in all (Discord refuses large uploads with 413).
const MAX_CARD_BYTES: usize = 8 * 1024 * 1024;

/// Posts and edits review cards; the outbox's [`ChatDelivery`] for Discord.
#[derive(Clone)]
pub struct Cards {
    desk: Desk,
    http: Arc<Http>,
}

impl std::fmt::Debug for Cards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cards")
            .field(
                "staff_channel_id",
                &self.desk.settings().discord.staff_channel_id,
            )
            .finish_non_exhaustive()
    }
}

impl ChatDelivery for Cards {
    fn deliver<'a>(
        &'a self,
        job: &'a Job,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(async move {
            match job {
                Job::ReviewCard { order_id } => self.post(*order_id).await,
                Job::CardUpdate { order_id } => self.update(*order_id).await,
                Job::Reminder { order_id } => self.remind(*order_id).await,
                Job::ChatReply {
                    channel_id,
                    message_id,
                    order_id,
                    outcome,
                } => {
                    let order =
                        match order_id {
                            Some(id) => {
                                let mut conn =
                                    self.desk.store().pool().acquire().await.map_err(|e| {
                                        SendError::Transient(format!("database: {e}"))
                                    })?;
                                crate::store::orders::by_id(&mut conn, *id).await.ok()
                            }
                            None => None,
                        };
                    super::gateway::post_reply(
                        &self.desk,
                        &self.http,
                        *channel_id,
                        *message_id,
                        order,
                        outcome,
                    )
                    .await
                }
                Job::ChatDirect {
                    user_id,
                    order_id,
                    outcome,
                } => {
                    let order =
                        match order_id {
                            Some(id) => {
                                let mut conn =
                                    self.desk.store().pool().acquire().await.map_err(|e| {
                                        SendError::Transient(format!("database: {e}"))
                                    })?;
                                crate::store::orders::by_id(&mut conn, *id).await.ok()
                            }
                            None => None,
                        };
                    super::gateway::post_direct(&self.desk, &self.http, *user_id, order, outcome)
                        .await
                }
                Job::Email(_) => Err(SendError::Permanent("an email is not a Discord job".into())),
            }
        })
    }
}

/// A card ready to send: embed, slip files, buttons, and whether its round is over.
#[derive(Debug)]
pub struct CardContent {
    /// The embed.
    pub embed: CreateEmbed,
    /// Slip files to upload with a new card.
    pub files: Vec<CreateAttachment>,
    /// Approve / Reject buttons (empty when the round is over).
    pub components: Vec<CreateActionRow>,
    /// The round has an outcome; the card needs no more edits.
    pub settled: bool,
}

fn db_err(e: impl std::fmt::Display) -> SendError {
    // The store is local: a failure there is worth retrying.
    SendError::Transient(format!("reading the order failed: {e}"))
}

impl Cards {
    /// Cards for the desk's staff channel, sent with `http`.
    pub fn new(desk: Desk, http: Arc<Http>) -> Cards {
        Cards { desk, http }
    }

    async fn review(&self, order_id: i64) -> Result<Review, SendError> {
        self.desk.review_by_id(order_id).await.map_err(|e| match e {
            DeskError::UnknownOrder(_)
            | DeskError::Store(crate::store::StoreError::NotFound(_)) => {
                SendError::Permanent(e.to_string())
            }
            other => db_err(other),
        })
    }

    /// Posts the card of the order's current review round (once per round).
    ///
    /// # Errors
    /// [`SendError::Transient`] for 429/5xx/no answer, [`SendError::Permanent`] for other refusals.
    pub async fn post(&self, order_id: i64) -> Result<(), SendError> {
        let channel = self.desk.settings().discord.staff_channel_id;
        if channel == 0 {
            return Err(SendError::Permanent(
                "discord.staff_channel_id is not set".into(),
            ));
        }
        let review = self.review(order_id).await?;
        let view = &review.view;
        let Some(round) = current_round(&view.events) else {
            // Never submitted: nothing for staff to review.
            return Ok(());
        };
        let existing = {
            let mut conn = self.desk.store().pool().acquire().await.map_err(db_err)?;
            cards_store::cards_of(&mut conn, order_id)
                .await
                .map_err(db_err)?
        };
        if existing.iter().any(|c| c.round_event_id == round.id) {
            return Ok(());
        }
        let card = render(&self.desk, &review, round, true).await?;
        let message = CreateMessage::new()
            .embed(card.embed)
            .components(card.components)
            .add_files(card.files);
        let sent = ChannelId::new(channel)
            .send_message(&self.http, message)
            .await
            .map_err(|e| super::classify(&e))?;
        let mut conn = self.desk.store().pool().acquire().await.map_err(db_err)?;
        cards_store::insert_card(
            &mut conn,
            order_id,
            round.id,
            &channel.to_string(),
            &sent.id.to_string(),
            card.settled,
            self.desk.now(),
        )
        .await
        .map_err(db_err)?;
        tracing::info!(order = %view.order.number, message_id = %sent.id, "Review card posted");
        Ok(())
    }

    /// Edits every card of the order whose round was still open, to show how it ended.
    ///
    /// # Errors
    /// As [`Cards::post`].
    pub async fn update(&self, order_id: i64) -> Result<(), SendError> {
        let review = self.review(order_id).await?;
        let view = &review.view;
        let cards = {
            let mut conn = self.desk.store().pool().acquire().await.map_err(db_err)?;
            cards_store::cards_of(&mut conn, order_id)
                .await
                .map_err(db_err)?
        };
        for card in cards.into_iter().filter(|c| c.settled == 0) {
            let Some(round) = view.events.iter().find(|e| e.id == card.round_event_id) else {
                continue;
            };
            let content = render(&self.desk, &review, round, false).await?;
            let (Ok(channel), Ok(message)) = (
                card.channel_id.parse::<u64>(),
                card.message_id.parse::<u64>(),
            ) else {
                continue;
            };
            let edit = EditMessage::new()
                .embed(content.embed)
                .components(content.components);
            ChannelId::new(channel)
                .edit_message(&self.http, MessageId::new(message), edit)
                .await
                .map_err(|e| super::classify(&e))?;
            let mut conn = self.desk.store().pool().acquire().await.map_err(db_err)?;
            cards_store::mark_edited(&mut conn, card.id, content.settled, self.desk.now())
                .await
                .map_err(db_err)?;
            tracing::info!(order = %view.order.number, message_id = %card.message_id, "Review card updated");
        }
        Ok(())
    }
}

impl Cards {
    /// Announces once more, as a reply to its review card, an order that has
    /// waited in `dealing` for `desk.remind_hours`. An order decided meanwhile
    /// is not announced.
    ///
    /// # Errors
    /// As [`Cards::post`].
    pub async fn remind(&self, order_id: i64) -> Result<(), SendError> {
        let channel = self.desk.settings().discord.staff_channel_id;
        if channel == 0 {
            return Err(SendError::Permanent(
                "discord.staff_channel_id is not set".into(),
            ));
        }
        let review = self.review(order_id).await?;
        let order = &review.view.order;
        let (Some(submitted), Some(due)) = (order.submitted_at, review.due_at) else {
            return Ok(());
        };
        let lang = self.desk.settings().desk.staff_lang;
        let waited = self.desk.staff_duration(self.desk.now() - submitted, lang);
        let text = label(lang, "reminder")
            .replace("{waited}", &waited)
            .replace("{due}", &self.desk.format_time(due));
        let content = format!(
            "⏰ **{}** ({}, {}) {text}\n{}",
            order.number,
            escape_md(&review.view.account.name),
            order
                .amount_minor
                .map(|m| self.desk.staff_money(m))
                .unwrap_or_else(|| label(lang, "not_stated").to_string()),
            self.desk.staff_link(&order.number)
        );
        let card = {
            let mut conn = self.desk.store().pool().acquire().await.map_err(db_err)?;
            cards_store::cards_of(&mut conn, order_id)
                .await
                .map_err(db_err)?
                .into_iter()
                .next_back()
        };
        let mut message = CreateMessage::new().content(content);
        if let Some(card) = card
            && let (Ok(c), Ok(m)) = (
                card.channel_id.parse::<u64>(),
                card.message_id.parse::<u64>(),
            )
        {
            message = message.reference_message((ChannelId::new(c), MessageId::new(m)));
        }
        ChannelId::new(channel)
            .send_message(&self.http, message)
            .await
            .map_err(|e| super::classify(&e))?;
        tracing::info!(order = %order.number, "Staff channel reminded");
        Ok(())
    }
}

/// Backslash-escapes Discord Markdown in text customers wrote (company
/// names, subjects, file names), so it cannot become a link or formatting.
pub fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '[' | ']' | '(' | ')' | '#' | '<' | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters (Discord refuses longer embed fields).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The event that opened the order's latest review round.
pub fn current_round(events: &[EventRow]) -> Option<&EventRow> {
    events
        .iter()
        .rev()
        .find(|e| e.to_status.as_deref() == Some(OrderStatus::Dealing.as_str()))
}

/// How the round opened by `round` ended, if it did.
pub fn round_outcome<'a>(events: &'a [EventRow], round: &EventRow) -> Option<&'a EventRow> {
    events.iter().find(|e| {
        e.id > round.id
            && e.from_status.as_deref() == Some(OrderStatus::Dealing.as_str())
            && e.to_status.is_some()
    })
}

/// The custom ids of a card's buttons: the order and the review round the
/// card shows (the event that opened it), so a click on an old card cannot
/// decide a newer round.
pub fn button_ids(number: &str, round: i64) -> (String, String) {
    (
        format!("approve:{number}:{round}"),
        format!("reject:{number}:{round}"),
    )
}

fn extension(content_type: &str) -> &'static str {
    match content_type.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

fn flag_icon(flag: &str) -> &'static str {
    match flag {
        "duplicate_slip" | "unauthenticated" => "⚠️ ",
        "resubmission" => "🔁 ",
        "pic" => "👤 ",
        _ => "",
    }
}

/// Draws the card of the round opened by `round`. With `with_files`, the slip
/// files are read and attached (a new card); edits keep the files already there.
///
/// # Errors
/// [`SendError::Transient`] when a slip file cannot be read.
pub async fn render(
    desk: &Desk,
    review: &Review,
    round: &EventRow,
    with_files: bool,
) -> Result<CardContent, SendError> {
    let view = &review.view;
    let order = &view.order;
    let lang = desk.settings().desk.staff_lang;
    let t = |key| label(lang, key);
    let money = |m: i64| desk.staff_money(m);
    let outcome = round_outcome(&view.events, round);
    let is_current = current_round(&view.events).is_some_and(|r| r.id == round.id);
    let open = outcome.is_none() && is_current && order.status() == OrderStatus::Dealing;

    let person = |u: &crate::store::accounts::UserRow| {
        let mut s = if u.name.is_empty() {
            u.primary_email().to_string()
        } else {
            format!("{} <{}>", escape_md(&u.name), u.primary_email())
        };
        if u.role == "pic" {
            s.push_str(" (PIC)");
        }
        if let Some(d) = &u.discord_id {
            s.push_str(&format!(" · <@{d}>"));
        }
        s
    };
    let submitter = review
        .sender()
        .map(person)
        .unwrap_or_else(|| t("unknown").into());
    let claimed = order
        .amount_minor
        .map(money)
        .unwrap_or_else(|| t("not_stated").into());
    let flags: Vec<String> = order
        .flag_list()
        .into_iter()
        .map(|f| format!("{}{}", flag_icon(f), flag_text(lang, f)))
        .collect();

    let (status_line, colour) = match outcome {
        None if open => {
            let mut line = format!("🟡 **{}**", t("waiting_review"));
            if let Some(due) = review.due_at {
                let waited = desk.staff_duration(desk.now() - round.at, lang);
                line.push_str(&format!(
                    "\n{}: {waited} · {} {}",
                    t("waiting"),
                    t("fails_at"),
                    desk.format_time(due)
                ));
            }
            (line, Colour::GOLD)
        }
        None => (
            format!("{} {}.", t("superseded"), order.status().display_name(lang)),
            Colour::LIGHT_GREY,
        ),
        Some(e) => {
            let to = e
                .to_status
                .as_deref()
                .and_then(|s| OrderStatus::parse(s).ok())
                .unwrap_or(OrderStatus::Dealing);
            let who = match (e.actor_kind.as_str(), lang) {
                ("staff", Lang::En) => format!("staff {}", e.actor),
                ("staff", Lang::Id) => format!("staf {}", e.actor),
                ("system", Lang::En) => "the system".into(),
                ("system", Lang::Id) => "sistem".into(),
                _ => e.actor.clone(),
            };
            let when = desk.format_time(e.at);
            let (icon, colour) = match to {
                OrderStatus::Paid => ("✅", Colour::DARK_GREEN),
                OrderStatus::PaymentFailure => ("❌", Colour::RED),
                _ => ("⛔", Colour::LIGHT_GREY),
            };
            let mut line = format!(
                "{icon} **{}** {} {who} {} {when}",
                to.display_name(lang),
                t("by"),
                t("at")
            );
            if to == OrderStatus::Paid {
                if let Some(a) = e.amount_minor {
                    line.push_str(&format!("\n{}: **{}**", t("credited"), money(a)));
                }
                line.push_str(&format!(
                    "\n{}: {}",
                    t("balance_now"),
                    money(view.balance_minor)
                ));
            }
            if let Some(r) = e.reason.as_deref().filter(|r| !r.is_empty()) {
                line.push_str(&format!("\n{}: {}", t("reason"), escape_md(r)));
            }
            (line, colour)
        }
    };

    let mut embed = CreateEmbed::new()
        .title(format!("Top-up {}", order.number))
        .url(desk.staff_link(&order.number))
        .description(clip(&status_line, 4000))
        .colour(colour)
        .field(t("order"), order.number.clone(), true)
        .field(
            t("company"),
            clip(&escape_md(&view.account.name), 1024),
            true,
        )
        .field(t("claimed"), claimed, true)
        .field(t("submitted_by"), clip(&submitter, 1024), false);
    if let (Some(requester), Some(_)) = (&view.user, &view.submitter) {
        embed = embed.field(t("requested_by"), clip(&person(requester), 1024), false);
    }
    embed = embed.field(t("channel"), order.source.clone(), true).field(
        t("submitted"),
        desk.format_time(round.at),
        true,
    );
    if let Some(stated) = round
        .amount_minor
        .filter(|a| Some(*a) != order.amount_minor)
    {
        embed = embed.field(t("stated"), money(stated), true);
    }
    if let Some(w) = &review.words {
        let mut text = format!("**{}**", escape_md(&w.subject));
        for line in &w.lines {
            text.push_str(&format!("\n> {}", escape_md(line)));
        }
        embed = embed.field(t("words"), clip(&text, 1024), false);
    }
    embed = embed.field(t("balance"), money(view.balance_minor), true);
    // The bank statement: the money that arrived for it, or that it did not.
    let notation = desk.settings().desk.staff_notation;
    if let Some(m) = review
        .money(lang, notation)
        .or_else(|| review.not_on_statement(lang))
    {
        embed = embed.field("🏦", clip(&escape_md(&m), 1024), false);
    }
    let recent: Vec<String> = review
        .recent
        .iter()
        .map(|o| {
            format!(
                "{} · {} · {}",
                o.number,
                o.status().display_name(lang),
                o.paid_minor
                    .or(o.amount_minor)
                    .map(money)
                    .unwrap_or_else(|| "-".into())
            )
        })
        .collect();
    embed = embed.field(
        t("recent"),
        if recent.is_empty() {
            t("no_recent").to_string()
        } else {
            clip(&recent.join("\n"), 1024)
        },
        false,
    );
    let report = &view.slip_report;
    if !report.slips.is_empty() && is_current {
        let notation = desk.settings().desk.staff_notation;
        let icon = if report.has_warning() { "⚠️ " } else { "" };
        let lines: Vec<String> = report
            .lines(lang, notation)
            .into_iter()
            .map(|l| format!("{icon}{}", escape_md(&l)))
            .collect();
        embed = embed.field(t("slip_check"), clip(&lines.join("\n"), 1024), false);
    }
    embed = embed.field(
        t("flags"),
        if flags.is_empty() {
            t("none").to_string()
        } else {
            flags.join("\n")
        },
        false,
    );

    // Slips of this round first (added with the round's event), then older ones.
    let mut slips: Vec<_> = view.slips.iter().collect();
    slips.sort_by_key(|s| (s.added_at < round.at, std::cmp::Reverse(s.added_at)));
    let mut files = Vec::new();
    let mut names = Vec::new();
    let mut image: Option<String> = None;
    let mut budget = MAX_CARD_BYTES;
    let base = desk
        .settings()
        .desk
        .public_url
        .trim_end_matches('/')
        .to_string();
    for (i, s) in slips.iter().enumerate() {
        let size = usize::try_from(s.size).unwrap_or(usize::MAX);
        let attach = i < MAX_CARD_FILES && size <= budget;
        let file_name = format!("slip-{}.{}", i + 1, extension(&s.content_type));
        let shown = if s.file_name.is_empty() {
            file_name.clone()
        } else {
            escape_md(&s.file_name)
        };
        let earlier = if s.added_at < round.at {
            format!(" ({})", t("earlier"))
        } else {
            String::new()
        };
        let full = format!("{base}/staff/slips/{}", s.hash);
        if attach {
            budget -= size;
            names.push(format!("`{file_name}`: [{shown}]({full}){earlier}"));
            if image.is_none() && s.content_type.starts_with("image/") {
                image = Some(file_name.clone());
            }
            if with_files {
                let bytes =
                    desk.slips().get(&s.hash).await.map_err(|e| {
                        SendError::Transient(format!("reading slip {}: {e}", s.hash))
                    })?;
                files.push(CreateAttachment::bytes(bytes.to_vec(), file_name));
            }
        } else {
            names.push(format!("[{shown}]({full}){earlier}: {}", t("not_attached")));
        }
    }
    embed = embed.field(
        t("slips"),
        if names.is_empty() {
            t("no_slips").to_string()
        } else {
            clip(&names.join("\n"), 1024)
        },
        false,
    );
    embed = embed.field(t("board_link"), desk.staff_link(&order.number), false);
    if let Some(name) = image {
        // The embed's image is shown at full card width; a click opens it full size.
        embed = embed.attachment(name);
    }
    embed = embed.footer(CreateEmbedFooter::new(format!(
        "{}: {}",
        t("order_status"),
        order.status().display_name(lang)
    )));

    let components = if open {
        let (approve, reject) = button_ids(&order.number, round.id);
        vec![CreateActionRow::Buttons(vec![
            CreateButton::new(approve)
                .label(t("approve"))
                .style(ButtonStyle::Success),
            CreateButton::new(reject)
                .label(t("reject"))
                .style(ButtonStyle::Danger),
        ])]
    } else {
        Vec::new()
    };
    Ok(CardContent {
        embed,
        files,
        components,
        settled: outcome.is_some(),
    })
}
