//! Review cards: the staff channel's view of a submission, posted and edited
//! from the outbox (so Discord being down only delays them).
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
use crate::desk::{Desk, DeskError, OrderView};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::outbox::Job;
use crate::outbox::deliver::ChatDelivery;
use crate::outbox::email::SendError;
use crate::store::orders::{self, EventRow};

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

    async fn view(&self, order_id: i64) -> Result<OrderView, SendError> {
        let number = {
            let mut conn = self.desk.store().pool().acquire().await.map_err(db_err)?;
            orders::by_id(&mut conn, order_id)
                .await
                .map_err(db_err)?
                .number
        };
        let number = self
            .desk
            .parse_order_number(&number)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        self.desk.view(&number).await.map_err(|e| match e {
            DeskError::UnknownOrder(_) => SendError::Permanent(e.to_string()),
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
        let view = self.view(order_id).await?;
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
        let card = render(&self.desk, &view, round, true).await?;
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
        let view = self.view(order_id).await?;
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
            let content = render(&self.desk, &view, round, false).await?;
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

fn flag_text(flag: &str) -> String {
    match flag {
        "duplicate_slip" => "⚠️ Duplicate slip: the same file is attached to another order".into(),
        "resubmission" => "🔁 Resubmission after a rejection".into(),
        "pic" => "👤 Sent by a PIC (sub-account) user".into(),
        "unauthenticated" => "⚠️ Sender authentication (DMARC/SPF/DKIM) failed".into(),
        other => other.to_string(),
    }
}

/// Draws the card of the round opened by `round`. With `with_files`, the slip
/// files are read and attached (a new card); edits keep the files already there.
///
/// # Errors
/// [`SendError::Transient`] when a slip file cannot be read.
pub async fn render(
    desk: &Desk,
    view: &OrderView,
    round: &EventRow,
    with_files: bool,
) -> Result<CardContent, SendError> {
    let order = &view.order;
    let lang = view.account.lang();
    let money = |m: i64| Money::from_minor(m).display(lang);
    let outcome = round_outcome(&view.events, round);
    let is_current = current_round(&view.events).is_some_and(|r| r.id == round.id);
    let open = outcome.is_none() && is_current && order.status() == OrderStatus::Dealing;

    let submitter = match &view.user {
        Some(u) => {
            let mut s = if u.name.is_empty() {
                u.primary_email().to_string()
            } else {
                format!("{} <{}>", u.name, u.primary_email())
            };
            if u.role == "pic" {
                s.push_str(" (PIC)");
            }
            if let Some(d) = &u.discord_id {
                s.push_str(&format!(" · <@{d}>"));
            }
            s
        }
        None => "unknown".into(),
    };
    let claimed = order
        .amount_minor
        .map(money)
        .unwrap_or_else(|| "(not stated)".into());
    let flags: Vec<String> = order.flag_list().into_iter().map(flag_text).collect();

    let (status_line, colour) = match outcome {
        None if open => (
            "🟡 **Waiting for review**: check the bank statement, then Approve or Reject."
                .to_string(),
            Colour::GOLD,
        ),
        None => (
            format!(
                "Superseded: the order is now {}.",
                order.status().display_name(Lang::En)
            ),
            Colour::LIGHT_GREY,
        ),
        Some(e) => {
            let to = e
                .to_status
                .as_deref()
                .and_then(|s| OrderStatus::parse(s).ok())
                .unwrap_or(OrderStatus::Dealing);
            let who = match e.actor_kind.as_str() {
                "staff" => format!("staff {}", e.actor),
                "system" => "the system".into(),
                _ => e.actor.clone(),
            };
            let when = desk.format_time(e.at);
            let (icon, colour) = match to {
                OrderStatus::Paid => ("✅", Colour::DARK_GREEN),
                OrderStatus::PaymentFailure => ("❌", Colour::RED),
                _ => ("⛔", Colour::LIGHT_GREY),
            };
            let mut line = format!(
                "{icon} **{}** by {who} at {when}",
                to.display_name(Lang::En)
            );
            if to == OrderStatus::Paid {
                if let Some(a) = e.amount_minor {
                    line.push_str(&format!("\nCredited: **{}**", money(a)));
                }
                line.push_str(&format!("\nBalance now: {}", money(view.balance_minor)));
            }
            if let Some(r) = e.reason.as_deref().filter(|r| !r.is_empty()) {
                line.push_str(&format!("\nReason: {r}"));
            }
            (line, colour)
        }
    };

    let mut embed = CreateEmbed::new()
        .title(format!("Top-up {}", order.number))
        .description(status_line)
        .colour(colour)
        .field("Order", order.number.clone(), true)
        .field("Company", view.account.name.clone(), true)
        .field("Claimed amount", claimed, true)
        .field("Submitted by", submitter, false)
        .field("Channel", order.source.clone(), true)
        .field("Submitted", desk.format_time(round.at), true);
    if let Some(stated) = round
        .amount_minor
        .filter(|a| Some(*a) != order.amount_minor)
    {
        embed = embed.field("Amount stated with the slip", money(stated), true);
    }
    embed = embed.field(
        "Flags",
        if flags.is_empty() {
            "none".to_string()
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
    for (i, s) in slips.iter().enumerate() {
        let size = usize::try_from(s.size).unwrap_or(usize::MAX);
        let attach = i < MAX_CARD_FILES && size <= budget;
        let file_name = format!("slip-{}.{}", i + 1, extension(&s.content_type));
        let shown = if s.file_name.is_empty() {
            file_name.clone()
        } else {
            s.file_name.clone()
        };
        let earlier = if s.added_at < round.at {
            " (earlier submission)"
        } else {
            ""
        };
        if attach {
            budget -= size;
            names.push(format!("`{file_name}`: {shown}{earlier}"));
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
            names.push(format!(
                "{shown}{earlier}: not attached here (see the staff web board)"
            ));
        }
    }
    embed = embed.field(
        "Slips",
        if names.is_empty() {
            "none attached".to_string()
        } else {
            names.join("\n")
        },
        false,
    );
    if let Some(name) = image {
        embed = embed.attachment(name);
    }
    embed = embed.footer(CreateEmbedFooter::new(format!(
        "Order status: {}",
        order.status().display_name(Lang::En)
    )));

    let components = if open {
        let (approve, reject) = button_ids(&order.number, round.id);
        vec![CreateActionRow::Buttons(vec![
            CreateButton::new(approve)
                .label("Approve")
                .style(ButtonStyle::Success),
            CreateButton::new(reject)
                .label("Reject")
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
