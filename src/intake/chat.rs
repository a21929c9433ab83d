//! Chat intake: one chat message (Discord) to an [`Extraction`]. Chat
//! messages carry no attachments here (slips arrive through the desk's own
//! upload path), so `slips` is always empty.
//!
//! Discord markup is read as a person sees it: mentions and custom emoji are
//! dropped, code spans and bold markers are removed, and `> ` lines are
//! quotes of earlier messages (context only).

use super::text::Pat;
use super::{Extraction, Inputs, decide};

/// `<@123>`, `<@!123>`, `<@&123>`, `<#123>`, `<:name:123>`, `<a:name:123>`,
/// `<t:1700000000:R>`.
static DISCORD_TOKEN: Pat = Pat::new(r"<(@[!&]?\d+|#\d+|a?:\w+:\d+|t:\d+(:\w)?)>");

/// Extracts intent, order number and amount from one chat message.
pub fn extract_chat(text: &str, prefix: &str) -> Extraction {
    let text = super::text::bounded(text, super::MAX_TEXT_EXAMINED);
    let cleaned = match DISCORD_TOKEN.get() {
        Some(re) => re.replace_all(text, " ").into_owned(),
        None => text.to_string(),
    };
    let cleaned = cleaned
        .replace("```", "\n")
        .replace(['`', '*', '~'], " ")
        .replace("||", " ");
    let mut own = Vec::new();
    let mut quoted = Vec::new();
    for line in cleaned.lines() {
        let t = line.trim_start();
        if let Some(q) = t.strip_prefix(">>>").or_else(|| t.strip_prefix('>')) {
            quoted.push(q.trim_start().to_string());
        } else {
            own.push(line.to_string());
        }
    }
    decide(
        Inputs {
            own: &own.join("\n"),
            subject: None,
            subject_is_reply: false,
            quoted: &quoted.join("\n"),
            slips: Vec::new(),
        },
        prefix,
    )
}

#[cfg(test)]
pub(crate) const CHAT_PATTERNS: &[&Pat] = &[&DISCORD_TOKEN];
