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

/// An automatic chat message announces itself at its start: a tag such as
/// `[Auto-reply]`, `Balasan otomatis:`, `Out of Office`, `[Bot]`,
/// `🤖 *ReminderBot*:`, or a business's away greeting ("Terima kasih telah
/// menghubungi ..."), which no customer writes to the desk.
static AUTO_START: Pat = Pat::new(
    r"(?i)^[\W_]{0,6}(auto(matic|mated)?[- ]?(reply|response|responder|message)|automatic reply|this is an automated|out of (the )?office|(pesan|balasan|jawaban|pengumuman|notifikasi) otomatis|\[[a-z ]{0,20}bot\]|\*{1,2}[a-z ]{0,15}bot\*{1,2}\s*:|🤖|terima kasih (telah|sudah) menghubungi|thank you for contacting|thanks for contacting)",
);

/// ... or at its end: "(automatic reply)", "sent automatically",
/// "auto-generated, do not reply", "pesan ini dikirim otomatis".
static AUTO_END: Pat = Pat::new(
    r"(?i)(\(?automatic reply\)?|sent automatically|auto-?generated([ ,;-]+do not reply)?|dikirim (secara )?otomatis|do not reply to this message|jangan membalas pesan ini|reply stop to unsubscribe)[\W_]{0,6}$",
);

/// A line of a chat pasted from a chat window: its time (and date) and who
/// said it, "[09:14] Saya: …", "12/01/26 09.14 - CS Topup: …": earlier
/// messages, context like a quote.
static CHAT_LOG_LINE: Pat = Pat::new(
    r"^\[?\s?(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4},?\s+)?\d{1,2}[:.]\d{2}(\s?[AaPp][Mm])?\s?\]?\s?(-\s?)?[^:\n]{1,30}:\s",
);

/// Whether a chat message was written by a machine (never answered).
fn is_automatic(text: &str) -> bool {
    let t = text.trim();
    AUTO_START.is_match(t) || AUTO_END.is_match(t)
}

/// Extracts intent, order number and amount from one chat message.
pub fn extract_chat(text: &str, prefix: &str) -> Extraction {
    let text = super::text::bounded(text, super::MAX_TEXT_EXAMINED);
    if is_automatic(text) {
        return Extraction::nothing(super::Intent::Ignore);
    }
    let text = super::text::normalise_text(text);
    let cleaned = match DISCORD_TOKEN.get() {
        Some(re) => re.replace_all(&text, " ").into_owned(),
        None => text,
    };
    let cleaned = cleaned
        .replace("```", "\n")
        .replace("__", " ")
        .replace(['`', '*', '~'], " ")
        .replace("||", " ");
    let mut own = Vec::new();
    let mut quoted = Vec::new();
    for line in cleaned.lines() {
        let t = line.trim_start();
        if let Some(q) = t.strip_prefix(">>>").or_else(|| t.strip_prefix('>')) {
            quoted.push(q.trim_start().to_string());
        } else if CHAT_LOG_LINE.is_match(t) {
            quoted.push(t.to_string());
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
pub(crate) const CHAT_PATTERNS: &[&Pat] = &[&DISCORD_TOKEN, &AUTO_START, &AUTO_END, &CHAT_LOG_LINE];
