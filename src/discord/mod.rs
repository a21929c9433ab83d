//! Discord: review cards in the staff channel, button/modal interactions (over
//! the gateway or the signed HTTP endpoint), intake channels and slash
//! commands. Everything here is thin over the [`Desk`]: decisions, orders and
//! replies are the desk's; this module only translates Discord's shapes.
//!
//! - [`Cards`] posts and edits review cards from the outbox ([`ChatDelivery`]),
//!   so a Discord outage only delays them. One card per review round, all kept.
//! - [`interactions`] is ONE stateless handler keyed by `custom_id`
//!   (`approve:<order>:<round>`, `reject:<order>:<round>`, `approve_modal:<order>:<round>`,
//!   `reject_modal:<order>:<round>`): nothing lives in memory between a click and
//!   the modal submit, so a restart in between loses nothing.
//! - [`routes`] is the HTTP interactions endpoint (`POST /discord/interactions`):
//!   the Ed25519 signature over `timestamp + body` is checked before the body
//!   is read as JSON, and stale timestamps are refused (replays).
//! - [`run_gateway`] feeds gateway messages and interactions into the same
//!   handlers and registers the slash commands.
//!
//! [`Desk`]: crate::desk::Desk
//! [`ChatDelivery`]: crate::outbox::deliver::ChatDelivery

pub mod cards;
pub mod endpoint;
pub mod gateway;
pub mod interactions;
pub mod links;
pub mod store;

use std::sync::Arc;

use secrecy::ExposeSecret;
use serenity::http::{Http, HttpBuilder, HttpError};
use serenity::model::id::{ApplicationId, ChannelId};

use crate::config::DiscordSettings;
use crate::outbox::email::SendError;

pub use cards::Cards;
pub use endpoint::routes;
pub use gateway::run_gateway;

/// A serenity REST client for the configured bot. With `api_base` set (tests,
/// or an API proxy that rate-limits for several processes) every call goes
/// there and serenity's own rate limiter is off.
pub fn http_client(cfg: &DiscordSettings) -> Arc<Http> {
    Arc::new(http_builder(cfg).build())
}

/// The builder behind [`http_client`] (the gateway client takes its `Http` by value).
pub fn http_builder(cfg: &DiscordSettings) -> HttpBuilder {
    let token = cfg
        .token
        .as_ref()
        .map(|t| t.expose_secret().to_string())
        .unwrap_or_default();
    let mut builder = HttpBuilder::new(token);
    if cfg.application_id != 0 {
        builder = builder.application_id(ApplicationId::new(cfg.application_id));
    }
    if let Some(base) = cfg.api_base.as_deref().filter(|b| !b.is_empty()) {
        builder = builder
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    builder
}

/// `topup check-config`: the token works (`GET /users/@me`) and the bot can see
/// the staff channel. Returns what was found, e.g. `bot TopupBot, staff channel #review`.
///
/// # Errors
/// Discord cannot be reached, the token is refused, or the channel is not visible to the bot.
pub async fn check(cfg: &DiscordSettings) -> anyhow::Result<String> {
    if !cfg.enabled() {
        anyhow::bail!("discord.token is empty");
    }
    let http = http_client(cfg);
    let me = http.get_current_user().await.map_err(|e| {
        anyhow::anyhow!(
            "Discord refused the bot token or cannot be reached: {}",
            describe(&e)
        )
    })?;
    if cfg.staff_channel_id == 0 {
        anyhow::bail!(
            "bot {} works, but discord.staff_channel_id is not set",
            me.name
        );
    }
    let channel = http
        .get_channel(ChannelId::new(cfg.staff_channel_id))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "bot {} cannot see staff channel {}: {}",
                me.name,
                cfg.staff_channel_id,
                describe(&e)
            )
        })?;
    let name = match channel {
        serenity::model::channel::Channel::Guild(c) => format!("#{}", c.name),
        other => other.id().to_string(),
    };
    Ok(format!("bot {}, staff channel {name}", me.name))
}

/// The HTTP status of a failed Discord call, if Discord answered at all.
fn status_of(e: &serenity::Error) -> Option<u16> {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => Some(r.status_code.as_u16()),
        _ => None,
    }
}

/// One line about a failed Discord call (status and Discord's message; never the token).
fn describe(e: &serenity::Error) -> String {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            format!("HTTP {} {}", r.status_code.as_u16(), r.error.message)
        }
        other => other.to_string(),
    }
}

/// Outbox classification: 429 and 5xx (and no answer at all) are worth
/// retrying; any other 4xx (missing access, unknown channel, a card Discord
/// refuses) will fail the same way next time.
pub fn classify(e: &serenity::Error) -> SendError {
    let text = describe(e);
    match (status_of(e), e) {
        (Some(429), _) => SendError::Transient(format!("Discord rate limit: {text}")),
        (Some(s), _) if s >= 500 => SendError::Transient(format!("Discord: {text}")),
        (Some(_), _) => SendError::Permanent(format!("Discord: {text}")),
        (None, serenity::Error::Http(HttpError::Request(_)) | serenity::Error::Io(_)) => {
            SendError::Transient(format!("Discord cannot be reached: {text}"))
        }
        (None, _) => SendError::Permanent(format!("Discord: {text}")),
    }
}
