//! The one interaction handler, stateless and keyed by `custom_id`; both the
//! gateway and the HTTP endpoint call [`answer`].
//!
//! Custom ids (the order number and the review round are the only state, so
//! nothing is lost if the daemon restarts between a click and the modal
//! submit; the round is the id of the event that opened the round the card
//! shows, and a decision on an older round is refused with what changed):
//!
//! | id | what | answer |
//! | --- | --- | --- |
//! | `approve:<order>:<round>` | Approve button on a card | modal `approve_modal:<order>:<round>` with text input `amount`, prefilled with the claimed amount (empty = the claimed amount) |
//! | `reject:<order>:<round>` | Reject button | modal `reject_modal:<order>:<round>` with text inputs `reason` (`1` amount differs, `2` money not received, `3` or any other text = other) and `details` (free text, told to the customer) |
//! | `approve_modal:<order>:<round>` | modal submit | `Desk::decide_round(Approve)`, ephemeral result |
//! | `reject_modal:<order>:<round>` | modal submit | `Desk::decide_round(Reject)`, ephemeral result |
//!
//! Ids without a round (cards posted by an earlier version) still work, without the round check.
//!
//! Only members with a configured staff role, or configured staff users, may
//! decide; they also need a staff row with their Discord id (`topup staff add
//! NAME --discord ID`), whose name is recorded on the decision. Anyone else
//! gets an ephemeral refusal and the attempt is written to the order's audit
//! trail. Slash commands (`/topup`, `/status`, `/cancel`, `/link`) act for the
//! customer user linked to the Discord id.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ActionRowComponent, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    CommandOptionType, ComponentInteraction, CreateActionRow, CreateCommand, CreateCommandOption,
    CreateInputText, CreateInteractionResponse, CreateInteractionResponseMessage, CreateModal,
    EditInteractionResponse, InputTextStyle, Interaction, Member, ModalInteraction, User,
};
use serenity::http::Http;

use crate::config::DiscordSettings;
use crate::desk::{Actor, Channel, Decision, Desk, DeskError, OrderView, RejectReason};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::domain::order_number::OrderNumber;
use crate::store::accounts::{self, UserRow};
use crate::store::orders;

/// Discord shows "This interaction failed" after 3 s; answer by then or defer.
const ACK_BUDGET: Duration = Duration::from_millis(2500);

/// What the handler answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer to a PING.
    Pong,
    /// Open a modal.
    Modal(CreateModal),
    /// A message; `ephemeral` ones only the clicker sees.
    Message {
        /// The text.
        text: String,
        /// Only the user who acted sees it.
        ephemeral: bool,
    },
}

impl Reply {
    fn private(text: impl Into<String>) -> Reply {
        Reply::Message {
            text: text.into(),
            ephemeral: true,
        }
    }

    /// The text of a message reply (tests, and the edit after a deferral).
    pub fn text(&self) -> Option<&str> {
        match self {
            Reply::Message { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The interaction response Discord expects.
    pub fn into_response(self) -> CreateInteractionResponse {
        match self {
            Reply::Pong => CreateInteractionResponse::Pong,
            Reply::Modal(m) => CreateInteractionResponse::Modal(m),
            Reply::Message { text, ephemeral } => CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(clip(&text, 1900))
                    .ephemeral(ephemeral),
            ),
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Answers an interaction within Discord's 3-second limit: the handler's own
/// answer when it is ready in time, else a deferred (loading) answer now and
/// an edit of it with the result when the work is done.
pub async fn answer(
    desk: &Desk,
    http: &Arc<Http>,
    interaction: Interaction,
) -> CreateInteractionResponse {
    if matches!(interaction, Interaction::Ping(_)) {
        return CreateInteractionResponse::Pong;
    }
    let token = interaction.token().to_string();
    let work_desk = desk.clone();
    let mut work = tokio::spawn(async move { handle(&work_desk, &interaction).await });
    match tokio::time::timeout(ACK_BUDGET, &mut work).await {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(e)) => {
            tracing::error!("Interaction handler failed: {e}");
            Reply::private(
                "Something went wrong on our side; nothing was changed. Please try again.",
            )
            .into_response()
        }
        Err(_) => {
            let http = http.clone();
            tokio::spawn(async move {
                let text = match work.await {
                    Ok(Reply::Message { text, .. }) => text,
                    Ok(_) => "That took too long for Discord; please click again.".to_string(),
                    Err(e) => format!("Something went wrong on our side: {e}"),
                };
                let edit = EditInteractionResponse::new().content(clip(&text, 1900));
                if let Err(e) = http
                    .edit_original_interaction_response(&token, &edit, Vec::new())
                    .await
                {
                    tracing::warn!("Editing a deferred interaction answer failed: {e}");
                }
            });
            CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new().ephemeral(true),
            )
        }
    }
}

/// The handler proper: what to answer to one interaction (no deadline here).
pub async fn handle(desk: &Desk, interaction: &Interaction) -> Reply {
    match interaction {
        Interaction::Ping(_) => Reply::Pong,
        Interaction::Component(c) => component(desk, c).await,
        Interaction::Modal(m) => modal(desk, m).await,
        Interaction::Command(c) => command(desk, c).await,
        _ => Reply::private("This interaction is not supported."),
    }
}

// ----- staff: buttons and modals --------------------------------------------

/// Who clicked, as recorded on refusals.
fn who(user: &User) -> String {
    format!("discord:{} ({})", user.id, user.name)
}

/// Whether the clicker holds a staff role or is a configured staff user.
pub fn authorised(cfg: &DiscordSettings, user: &User, member: Option<&Member>) -> bool {
    cfg.staff_user_ids.contains(&user.id.get())
        || member.is_some_and(|m| {
            m.roles
                .iter()
                .any(|r| cfg.staff_role_ids.contains(&r.get()))
        })
}

enum Gate {
    Staff(crate::store::accounts::StaffRow),
    Refused(Reply),
}

/// Authorisation and the staff row; refusals are answered privately and logged on the order.
async fn gate(
    desk: &Desk,
    user: &User,
    member: Option<&Member>,
    number: &OrderNumber,
    what: &str,
) -> Gate {
    if !authorised(&desk.settings().discord, user, member) {
        if let Err(e) = desk
            .record_attempt(
                number,
                &who(user),
                &format!("{what}: not a staff member on Discord"),
            )
            .await
        {
            tracing::warn!(order = %number, "Recording an unauthorised attempt failed: {e}");
        }
        tracing::warn!(order = %number, user = %user.id, "Unauthorised {what}");
        return Gate::Refused(Reply::private(
            "Only the receivables staff can approve or reject top-ups. This attempt was recorded.",
        ));
    }
    match desk.staff(&user.id.to_string()).await {
        Ok(staff) if staff.discord_id.as_deref() == Some(user.id.to_string().as_str()) => {
            Gate::Staff(staff)
        }
        Ok(_) | Err(DeskError::Invalid(_)) => Gate::Refused(Reply::private(format!(
            "You have a staff role, but no staff record carries your Discord id. Ask the operator to run \
             `topup staff add NAME --discord {}`.",
            user.id
        ))),
        Err(e) => Gate::Refused(Reply::private(format!(
            "The desk cannot be reached right now ({e}); try again."
        ))),
    }
}

/// `action:order[:round]`.
fn split_id(custom_id: &str) -> Option<(&str, &str, Option<i64>)> {
    let (action, rest) = custom_id.split_once(':')?;
    match rest.rsplit_once(':') {
        Some((number, round)) => Some((action, number, Some(round.parse().ok()?))),
        None => Some((action, rest, None)),
    }
}

async fn component(desk: &Desk, c: &ComponentInteraction) -> Reply {
    let Some((action, number, round)) = split_id(&c.data.custom_id) else {
        return Reply::private("This button is not ours.");
    };
    let number = match desk.parse_order_number(number) {
        Ok(n) => n,
        Err(e) => return Reply::private(e.to_string()),
    };
    let what = match action {
        "approve" => "approve click",
        "reject" => "reject click",
        _ => return Reply::private("This button is not ours."),
    };
    if let Gate::Refused(r) = gate(desk, &c.user, c.member.as_ref(), &number, what).await {
        return r;
    }
    let view = match desk.view(&number).await {
        Ok(v) => v,
        Err(e) => return Reply::private(e.to_string()),
    };
    if view.order.status() != OrderStatus::Dealing {
        return Reply::private(not_dealing(desk, &view));
    }
    match action {
        "approve" => Reply::Modal(approve_modal(&view, round)),
        _ => Reply::Modal(reject_modal(&view, round)),
    }
}

/// Why an order can no longer be decided, naming who moved it and when.
fn not_dealing(desk: &Desk, view: &OrderView) -> String {
    let order = &view.order;
    let last = view.events.iter().rev().find(|e| e.to_status.is_some());
    let by = last
        .map(|e| format!(" by {} at {}", e.actor, desk.format_time(e.at)))
        .unwrap_or_default();
    format!(
        "Order {} is {}{by}; it can no longer be approved or rejected.",
        order.number,
        order.status().display_name(Lang::En)
    )
}

fn round_suffix(round: Option<i64>) -> String {
    round.map(|r| format!(":{r}")).unwrap_or_default()
}

/// The Approve modal: one optional amount, prefilled with the claimed amount.
pub fn approve_modal(view: &OrderView, round: Option<i64>) -> CreateModal {
    let lang = view.account.lang();
    let mut input = CreateInputText::new(
        InputTextStyle::Short,
        "Amount to credit (empty: claimed amount)",
        "amount",
    )
    .required(false)
    .max_length(40)
    .placeholder("e.g. Rp 1.500.000");
    if let Some(m) = view.order.amount_minor {
        input = input.value(Money::from_minor(m).display(lang));
    }
    CreateModal::new(
        format!("approve_modal:{}{}", view.order.number, round_suffix(round)),
        format!("Approve {}", view.order.number),
    )
    .components(vec![CreateActionRow::InputText(input)])
}

/// The Reject modal: a reason choice typed as 1/2/3 (or words) and free text.
pub fn reject_modal(view: &OrderView, round: Option<i64>) -> CreateModal {
    let reason = CreateInputText::new(
        InputTextStyle::Short,
        "Reason: 1, 2 or 3 (see the hint)",
        "reason",
    )
    .required(true)
    .max_length(200)
    .placeholder("1 = amount differs from slip, 2 = money not received, 3 = other");
    let details = CreateInputText::new(
        InputTextStyle::Paragraph,
        "Details for the customer (needed for 3)",
        "details",
    )
    .required(false)
    .max_length(1000);
    CreateModal::new(
        format!("reject_modal:{}{}", view.order.number, round_suffix(round)),
        format!("Reject {}", view.order.number),
    )
    .components(vec![
        CreateActionRow::InputText(reason),
        CreateActionRow::InputText(details),
    ])
}

/// The value of text input `id` in a modal submit.
fn input<'a>(m: &'a ModalInteraction, id: &str) -> &'a str {
    m.data
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .find_map(|c| match c {
            ActionRowComponent::InputText(t) if t.custom_id == id => t.value.as_deref(),
            _ => None,
        })
        .unwrap_or("")
}

/// Reads the Reject modal: `1`/`2`/`3` or words, plus details.
///
/// # Errors
/// A text for the staff member when "other" has no text.
pub fn reject_reason(choice: &str, details: &str, lang: Lang) -> Result<RejectReason, String> {
    let details = details.trim();
    let standard = |r: RejectReason| {
        if details.is_empty() {
            r
        } else {
            // Keep what staff typed: the customer reads the standard reason and the details.
            RejectReason::Other(format!("{} {details}", r.text(lang)))
        }
    };
    match choice.trim() {
        "1" => Ok(standard(RejectReason::AmountDiffers)),
        "2" => Ok(standard(RejectReason::NotReceived)),
        "3" | "" => {
            if details.is_empty() {
                Err("For reason 3 (other), type the reason in Details; nothing was changed.".into())
            } else {
                Ok(RejectReason::Other(details.to_string()))
            }
        }
        text => match RejectReason::parse(text) {
            RejectReason::Other(t) if !details.is_empty() => {
                Ok(RejectReason::Other(format!("{t} {details}")))
            }
            r @ RejectReason::Other(_) => Ok(r),
            r => Ok(standard(r)),
        },
    }
}

async fn modal(desk: &Desk, m: &ModalInteraction) -> Reply {
    let Some((action, number, round)) = split_id(&m.data.custom_id) else {
        return Reply::private("This form is not ours.");
    };
    let number = match desk.parse_order_number(number) {
        Ok(n) => n,
        Err(e) => return Reply::private(e.to_string()),
    };
    let what = match action {
        "approve_modal" => "approve",
        "reject_modal" => "reject",
        _ => return Reply::private("This form is not ours."),
    };
    let staff = match gate(desk, &m.user, m.member.as_ref(), &number, what).await {
        Gate::Staff(s) => s,
        Gate::Refused(r) => return r,
    };
    let view = match desk.view(&number).await {
        Ok(v) => v,
        Err(e) => return Reply::private(e.to_string()),
    };
    let lang = view.account.lang();
    let decision = if action == "approve_modal" {
        let typed = input(m, "amount").trim();
        let amount = if typed.is_empty() {
            None
        } else {
            match Money::parse(typed) {
                Ok(a) => Some(a),
                Err(e) => {
                    return Reply::private(format!(
                        "Cannot read the amount {typed:?}: {e}. Nothing was changed."
                    ));
                }
            }
        };
        Decision::Approve { amount }
    } else {
        match reject_reason(input(m, "reason"), input(m, "details"), lang) {
            Ok(reason) => Decision::Reject { reason },
            Err(text) => return Reply::private(text),
        }
    };
    match desk.decide_round(&number, &staff, &decision, round).await {
        Ok(order) => {
            tracing::info!(order = %order.number, staff = %staff.name, status = %order.status(), "Decided on Discord");
            let text = match order.status() {
                OrderStatus::Paid => {
                    let credited =
                        Money::from_minor(order.paid_minor.unwrap_or_default()).display(lang);
                    format!(
                        "✅ {} approved: {credited} credited to {}. The customer gets the paid email with the receipt.",
                        order.number, view.account.name
                    )
                }
                status => format!(
                    "❌ {} is now {}: {}. The customer is told the reason.",
                    order.number,
                    status.display_name(Lang::En),
                    order.reason.clone().unwrap_or_default()
                ),
            };
            Reply::private(text)
        }
        Err(e) => Reply::private(e.to_string()),
    }
}

// ----- customers: slash commands --------------------------------------------

/// The slash commands registered at gateway start.
pub fn commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("topup")
            .description("Ask for a top-up of your balance")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "amount",
                    "How much, e.g. Rp 1.500.000 or 1,5 juta",
                )
                .required(true),
            ),
        CreateCommand::new("status")
            .description("Where your top-up stands")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "order",
                    "Order number (default: your open orders)",
                )
                .required(false),
            ),
        CreateCommand::new("cancel")
            .description("Cancel a top-up order")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "order",
                    "Order number, e.g. TU-20261125-0001",
                )
                .required(true),
            ),
        CreateCommand::new("link")
            .description("Link your Discord account to your customer account")
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "email",
                    "Send a code to your registered email",
                )
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "address",
                        "Your registered email address",
                    )
                    .required(true),
                ),
            )
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "code",
                    "Type the code from the email",
                )
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "code",
                        "The 10-character code from the email",
                    )
                    .required(true),
                ),
            ),
    ]
}

fn option_str<'a>(options: &'a [CommandDataOption], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn not_linked() -> Reply {
    Reply::private(
        "Your Discord account is not linked to a customer account yet. Use `/link email address:<your registered \
         email>`, then `/link code code:<the code we email you>`.",
    )
}

async fn linked_user(desk: &Desk, discord_id: &str) -> Result<Option<UserRow>, DeskError> {
    let mut conn = desk.store().pool().acquire().await?;
    Ok(accounts::user_by_discord(&mut conn, discord_id).await?)
}

async fn command(desk: &Desk, c: &CommandInteraction) -> Reply {
    let discord_id = c.user.id.to_string();
    let options = &c.data.options;
    if c.data.name == "link" {
        let Some(sub) = options.first() else {
            return Reply::private("Use `/link email` or `/link code`.");
        };
        let CommandDataOptionValue::SubCommand(sub_options) = &sub.value else {
            return Reply::private("Use `/link email` or `/link code`.");
        };
        return match sub.name.as_str() {
            "email" => {
                let address = option_str(sub_options, "address")
                    .unwrap_or("")
                    .trim()
                    .to_string();
                match super::links::start(desk, &discord_id, &address).await {
                    Ok(()) => Reply::private(format!(
                        "If {address} is registered with us, a 10-character code is on its way there (to the \
                         account's main user when that user is already linked to another Discord account). It \
                         works for 15 minutes: type it with `/link code`."
                    )),
                    Err(e) => Reply::private(format!("That did not work: {e}")),
                }
            }
            _ => {
                let code = option_str(sub_options, "code").unwrap_or("");
                match super::links::finish(desk, &discord_id, code).await {
                    Ok(user) => Reply::private(format!(
                        "Linked: you now act on Discord as {} ({}).",
                        user.label(),
                        user.primary_email()
                    )),
                    Err(e) => Reply::private(format!("Not linked: {e}")),
                }
            }
        };
    }
    let user = match linked_user(desk, &discord_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return not_linked(),
        Err(e) => {
            return Reply::private(format!(
                "The desk cannot be reached right now ({e}); try again."
            ));
        }
    };
    match c.data.name.as_str() {
        "topup" => {
            let typed = option_str(options, "amount").unwrap_or("");
            let amount = match Money::parse(typed) {
                Ok(a) => a,
                Err(e) => return Reply::private(format!("Cannot read the amount {typed:?}: {e}")),
            };
            match desk.request(&user, amount, Channel::Discord, None).await {
                Ok(order) => Reply::private(created_text(desk, &order, amount)),
                Err(e) => Reply::private(format!("Not done: {}", e.localized(Lang::En))),
            }
        }
        "status" => match option_str(options, "order") {
            Some(n) => match desk.parse_order_number(n) {
                Ok(number) => match desk.view(&number).await {
                    Ok(v) if v.account.id == user.account_id => {
                        Reply::private(status_text(desk, &v))
                    }
                    Ok(_) => Reply::private(DeskError::NotYours(number.to_string()).to_string()),
                    Err(e) => Reply::private(e.to_string()),
                },
                Err(e) => Reply::private(e.to_string()),
            },
            None => Reply::private(active_status(desk, &user).await),
        },
        "cancel" => {
            let typed = option_str(options, "order").unwrap_or("");
            match desk.parse_order_number(typed) {
                Ok(number) => match desk.cancel(&Actor::Customer(user), &number, None).await {
                    Ok(order) => Reply::private(format!("Order {} is cancelled.", order.number)),
                    Err(e) => Reply::private(format!("Not cancelled: {}", e.localized(Lang::En))),
                },
                Err(e) => Reply::private(e.to_string()),
            }
        }
        other => Reply::private(format!("Unknown command /{other}.")),
    }
}

/// What a customer is told when an order was created from chat.
pub fn created_text(desk: &Desk, order: &orders::OrderRow, amount: Money) -> String {
    let banks: Vec<String> = desk
        .settings()
        .desk
        .bank_accounts
        .iter()
        .map(|b| format!("• {} {} ({})", b.bank, b.account_number, b.account_name))
        .collect();
    format!(
        "Order **{}** created for {}. Transfer the amount to:\n{}\nThen post the transfer slip here and mention {}.\nStatus: {}",
        order.number,
        amount.display(Lang::En),
        banks.join("\n"),
        order.number,
        desk.status_link(&order.token)
    )
}

/// One order's status for its customer.
pub fn status_text(desk: &Desk, v: &OrderView) -> String {
    let o = &v.order;
    let lang = v.account.lang();
    let amount = o
        .paid_minor
        .or(o.amount_minor)
        .map(|m| Money::from_minor(m).display(lang))
        .unwrap_or_else(|| "(no amount yet)".into());
    let mut s = format!(
        "Order **{}**: {} · {amount} · ordered {}",
        o.number,
        o.status().display_name(lang),
        desk.format_time(o.created_at)
    );
    if let Some(r) = o.reason.as_deref().filter(|r| !r.is_empty()) {
        s.push_str(&format!("\nReason: {r}"));
    }
    s.push_str(&format!(
        "\nBalance: {}\nStatus page: {}",
        Money::from_minor(v.balance_minor).display(lang),
        desk.status_link(&o.token)
    ));
    s
}

async fn active_status(desk: &Desk, user: &UserRow) -> String {
    let active = {
        let mut conn = match desk.store().pool().acquire().await {
            Ok(c) => c,
            Err(e) => return format!("The desk cannot be reached right now ({e}); try again."),
        };
        match orders::active_for_account(&mut conn, user.account_id).await {
            Ok(list) => list,
            Err(e) => return format!("The desk cannot be reached right now ({e}); try again."),
        }
    };
    if active.is_empty() {
        return "You have no open top-up orders. Ask for one with `/topup`.".into();
    }
    let mut lines = Vec::new();
    for o in active.iter().take(5) {
        if let Ok(n) = desk.parse_order_number(&o.number)
            && let Ok(v) = desk.view(&n).await
        {
            lines.push(status_text(desk, &v));
        }
    }
    lines.join("\n\n")
}
