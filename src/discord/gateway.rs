//! The gateway: a serenity [`Client`] whose event handler maps `message` to
//! [`handle_message`] (intake channels) and `interaction_create` to the same
//! stateless handler as the HTTP endpoint; slash commands are registered on
//! `ready`. It stops when the shutdown token is cancelled.
//!
//! Intake answers are outbox rows (`Job::ChatReply`) written in the same
//! transaction as the message's effect, so they are retried like every
//! other chat update; a redelivered message is recognised by its id and not
//! answered twice.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serenity::all::{
    ChannelId, ClientBuilder, Command, Context, CreateAllowedMentions, CreateMessage, EventHandler,
    GatewayIntents, Interaction, Message, MessageId, MessageType, Ready,
};
use serenity::async_trait;
use serenity::http::Http;
use tokio_util::sync::CancellationToken;

use crate::desk::{Channel, Desk, Inbound, InboundOutcome, Limit};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::intake::{Intent, SlipFile, extract_chat};

/// How long one attachment download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the gateway until `shutdown`.
///
/// # Errors
/// The client cannot be built or the gateway refuses the token (the supervisor retries).
pub async fn run_gateway(desk: Desk, shutdown: CancellationToken) -> anyhow::Result<()> {
    let cfg = desk.settings().discord.clone();
    let http = super::http_client(&cfg);
    let intents =
        GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT | GatewayIntents::GUILDS;
    // The client owns its own Http (serenity takes it by value), built with the same settings.
    let mut client = ClientBuilder::new_with_http(super::http_builder(&cfg).build(), intents)
        .event_handler(Handler { desk, http })
        .await
        .context("Building the Discord client failed")?;
    let shards = client.shard_manager.clone();
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        shards.shutdown_all().await;
    });
    let result = client.start().await.context("The Discord gateway stopped");
    stopper.abort();
    result
}

/// Maps gateway events to the desk.
struct Handler {
    desk: Desk,
    http: Arc<Http>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(bot = %ready.user.name, "Discord gateway ready");
        match Command::set_global_commands(&ctx.http, super::interactions::commands()).await {
            Ok(c) => tracing::info!(commands = c.len(), "Slash commands registered"),
            Err(e) => tracing::warn!("Registering slash commands failed: {e}"),
        }
    }

    async fn message(&self, _ctx: Context, msg: Message) {
        if let Err(e) = handle_message(&self.desk, &msg).await {
            tracing::warn!(message_id = %msg.id, "Discord message not handled: {e:#}");
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let (id, token) = (interaction.id(), interaction.token().to_string());
        let response = super::interactions::answer(&self.desk, &self.http, interaction).await;
        if let Err(e) = self
            .http
            .create_interaction_response(id, &token, &response, Vec::new())
            .await
        {
            tracing::warn!("Answering a Discord interaction failed: {e}");
        }
    }
}

fn slip_type(content_type: Option<&str>, file_name: &str) -> Option<String> {
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_ascii_lowercase())
        .unwrap_or_default();
    if ct.starts_with("image/") || ct == "application/pdf" {
        return Some(ct);
    }
    let lower = file_name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    match ext {
        "png" => Some("image/png".into()),
        "jpg" | "jpeg" => Some("image/jpeg".into()),
        "gif" => Some("image/gif".into()),
        "webp" => Some("image/webp".into()),
        "pdf" => Some("application/pdf".into()),
        _ => None,
    }
}

/// [`download`], tried three times with a short pause (Discord's CDN has hiccups).
async fn download_with_retries(url: &str, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut last = None;
    for attempt in 0..3u64 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
        }
        match download(url, limit).await {
            Ok(bytes) => return Ok(bytes),
            // A file over the limit stays over it.
            Err(e) if e.to_string().contains("larger than") => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("download failed")))
}

/// Downloads `url`, refusing more than `limit` bytes.
async fn download(url: &str, limit: usize) -> anyhow::Result<Vec<u8>> {
    let client = reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .context("Building the download client failed")?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("Downloading {url} failed"))?;
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .with_context(|| format!("Downloading {url} failed"))?
    {
        if out.len() + chunk.len() > limit {
            anyhow::bail!("{url} is larger than {limit} bytes");
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Handles one message from the gateway: messages in an intake channel go to
/// the desk (text through [`extract_chat`], image/PDF attachments as slips),
/// and the outcome is answered in the channel through the outbox. Returns the
/// answer's text, if any (`None` for messages that are not ours or were seen before).
///
/// # Errors
/// The desk's store failed or an attachment could not be fetched (nothing was recorded then).
pub async fn handle_message(desk: &Desk, msg: &Message) -> anyhow::Result<Option<String>> {
    let cfg = &desk.settings().discord;
    if msg.author.bot
        || !matches!(msg.kind, MessageType::Regular | MessageType::InlineReply)
        || !cfg.intake_channel_ids.contains(&msg.channel_id.get())
    {
        return Ok(None);
    }
    let limits = &desk.settings().limits;
    let slip_attachments: Vec<_> = msg
        .attachments
        .iter()
        .filter_map(|a| slip_type(a.content_type.as_deref(), &a.filename).map(|ct| (a, ct)))
        .collect();
    let too_many = slip_attachments.len() > limits.max_attachments;
    let too_big = slip_attachments
        .iter()
        .any(|(a, _)| usize::try_from(a.size).unwrap_or(usize::MAX) > limits.max_attachment_bytes);
    // Over a limit: nothing is downloaded, but the message is recorded (kept for
    // staff) and answered, like mail over a limit.
    let over_limit = if too_many {
        Some(Limit::Attachments(limits.max_attachments))
    } else if too_big {
        Some(Limit::AttachmentSize(limits.max_attachment_bytes))
    } else {
        None
    };
    let mut over_limit = over_limit;
    let mut slips = Vec::with_capacity(slip_attachments.len());
    if over_limit.is_none() {
        for (a, content_type) in slip_attachments {
            match download_with_retries(&a.url, limits.max_attachment_bytes).await {
                Ok(bytes) => slips.push(SlipFile {
                    file_name: Some(a.filename.clone()),
                    content_type,
                    bytes,
                }),
                Err(e) => {
                    // Discord does not deliver a gateway event twice: a slip we
                    // cannot fetch is recorded and answered, never dropped.
                    tracing::warn!(message = %msg.id, "Attachment download failed: {e:#}");
                    slips.clear();
                    over_limit = Some(Limit::DownloadFailed);
                    break;
                }
            }
        }
    }
    let mut extraction = extract_chat(&msg.content, &desk.settings().desk.order_prefix);
    if (!slips.is_empty() || over_limit.is_some())
        && !matches!(extraction.intent, Intent::Cancel | Intent::Amend)
    {
        // A slip posted with any other words is a submission.
        extraction.intent = Intent::Slip;
    }
    extraction.slips = slips;
    let subject: String = msg.content.chars().take(80).collect();
    let outcome = desk
        .handle_inbound(Inbound {
            channel: Channel::Discord,
            keys: vec![format!("discord:{}", msg.id)],
            content_hash: None,
            sender: msg.author.id.to_string(),
            sender_name: Some(msg.author.name.clone()),
            subject,
            message_id: None,
            thread_ids: Vec::new(),
            extraction,
            raw: serde_json::to_vec(msg).ok(),
            auth_failed: false,
            over_limit,
            // The answer is an outbox row written with the effect: retried when
            // Discord is down or rate-limits, never lost.
            chat_reply_to: Some((msg.channel_id.get(), msg.id.get())),
        })
        .await?;
    Ok(outcome_text(desk, &outcome).await)
}

/// Posts the answer to a customer's chat message (an outbox `ChatReply` job).
///
/// # Errors
/// Discord's answer, classified for the outbox (429/5xx transient).
pub async fn post_reply(
    desk: &Desk,
    http: &Http,
    channel_id: u64,
    message_id: u64,
    order: Option<crate::store::orders::OrderRow>,
    outcome: &str,
) -> Result<(), crate::outbox::email::SendError> {
    let answered = InboundOutcome {
        inbound_id: Some(0),
        outcome: outcome.to_string(),
        order,
    };
    let Some(text) = outcome_text(desk, &answered).await else {
        return Ok(());
    };
    let channel = ChannelId::new(channel_id);
    let message = CreateMessage::new()
        .content(text)
        .reference_message((channel, MessageId::new(message_id)))
        .allowed_mentions(CreateAllowedMentions::new().replied_user(true));
    channel
        .send_message(http, message)
        .await
        .map(|_| ())
        .map_err(|e| super::classify(&e))
}

/// Sends the customer a direct message with what the channel must not show
/// (an outbox `ChatDirect` job): the status-page link and the balance.
///
/// # Errors
/// Discord's answer, classified for the outbox (429/5xx transient; a user who
/// does not accept direct messages is a permanent failure, visible to the operator).
pub async fn post_direct(
    desk: &Desk,
    http: &Http,
    user_id: u64,
    order: Option<crate::store::orders::OrderRow>,
    outcome: &str,
) -> Result<(), crate::outbox::email::SendError> {
    let Some(text) = private_text(desk, order.as_ref(), outcome).await else {
        return Ok(());
    };
    let dm = serenity::model::id::UserId::new(user_id)
        .create_dm_channel(http)
        .await
        .map_err(|e| super::classify(&e))?;
    dm.id
        .send_message(http, CreateMessage::new().content(text))
        .await
        .map(|_| ())
        .map_err(|e| super::classify(&e))
}

/// The private part of an answer: the status link of a created order, or the
/// full status with the balance.
pub async fn private_text(
    desk: &Desk,
    order: Option<&crate::store::orders::OrderRow>,
    outcome: &str,
) -> Option<String> {
    let order = order?;
    let view = match desk.parse_order_number(&order.number) {
        Ok(n) => desk.view(&n).await.ok()?,
        Err(_) => return None,
    };
    if outcome.starts_with("created ") {
        Some(format!(
            "Order **{}**: your status page, to upload the slip, change the amount or cancel. \
             Keep this link to yourself: {}",
            order.number,
            desk.status_link(&order.token)
        ))
    } else if outcome.starts_with("status") {
        Some(super::interactions::status_text(desk, &view))
    } else {
        None
    }
}

/// What the customer is told in the channel about the desk's outcome: what
/// was done, never the status link or the balance (see [`private_text`]).
pub async fn outcome_text(desk: &Desk, outcome: &InboundOutcome) -> Option<String> {
    if outcome.duplicate() {
        return None;
    }
    let text = outcome.outcome.as_str();
    let order = outcome.order.as_ref();
    let number = order.map(|o| o.number.clone()).unwrap_or_default();
    let view = match order {
        Some(o) => match desk.parse_order_number(&o.number) {
            Ok(n) => desk.view(&n).await.ok(),
            Err(_) => None,
        },
        None => None,
    };
    let lang = view.as_ref().map(|v| v.account.lang()).unwrap_or(Lang::En);
    let amount = order
        .and_then(|o| o.amount_minor)
        .map(|m| Money::from_minor(m).display(lang))
        .unwrap_or_else(|| "(amount not stated)".into());
    Some(if text.starts_with("ignored") {
        return None;
    } else if text.starts_with("created ") {
        match order {
            Some(_) => {
                let banks: Vec<String> = desk
                    .settings()
                    .desk
                    .bank_accounts
                    .iter()
                    .map(|b| format!("• {} {} ({})", b.bank, b.account_number, b.account_name))
                    .collect();
                format!(
                    "Order **{number}** created for {amount}. Transfer the amount to:\n{}\nThen post the \
                     transfer slip here and mention {number}. Your status page link is in your direct messages.",
                    banks.join("\n")
                )
            }
            None => text.to_string(),
        }
    } else if text.starts_with("submitted ") {
        format!(
            "Thank you, we received your transfer slip for order **{number}** ({amount}). Our team checks the bank \
             statement and you get an email as soon as it is decided."
        )
    } else if text.starts_with("amended ") {
        format!("Order **{number}** now asks for {amount}; our team reviews it again.")
    } else if text.starts_with("cancelled ") {
        format!("Order **{number}** is cancelled.")
    } else if text.starts_with("status") {
        match &view {
            Some(v) => format!(
                "Order **{number}**: {} · {amount}. The details (balance, status page) are in your direct messages.",
                v.order.status().display_name(lang)
            ),
            None => "You have no open top-up orders.".into(),
        }
    } else if text.starts_with("unknown_sender") {
        "Your Discord account is not linked to a customer account yet, so nothing was done. Use `/link email \
         address:<your registered email>`, then `/link code`."
            .into()
    } else if let Some(reason) = text.strip_prefix("refused: ") {
        format!(
            "Sorry, that was not done: {}",
            crate::desk::customer_words(reason)
        )
    } else if let Some(asked) = text.strip_prefix(crate::desk::ASKED_CANCEL) {
        format!(
            "Do you mean to cancel order **{asked}**? Nothing has been cancelled yet. To cancel it, send \
             `cancel {asked}` (or `batalkan {asked}`)."
        )
    } else if text.starts_with("not understood") {
        "I did not understand that. Post your transfer slip (photo or PDF) with the order number, ask for a top-up \
         with `/topup`, or check an order with `/status`."
            .into()
    } else {
        text.to_string()
    })
}
