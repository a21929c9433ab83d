//! Message understanding: a pure function from a message (email or chat) to
//! an [`Extraction`]: the intent, the order number, the amount and the slip
//! attachments.
//!
//! The rules follow the corpus contract: the customer's own text (including
//! a forwarded message) outranks the subject, which outranks quoted history;
//! amounts come only from the customer's own statement (never quotes,
//! signatures, balances or fees); `ignore` is decided from headers and
//! structure before anything else; intents are tried in the order cancel,
//! amend, slip with an attachment, status, slip by statement, request,
//! unknown. No I/O here except [`parse_file`] reading its file.

pub mod chat;
pub mod email;
pub mod model;
pub(crate) mod normal;
pub(crate) mod text;

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order_number::OrderNumber;

pub use chat::extract_chat;
pub use email::{EmailMeta, email_meta};

/// What a message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Asks for a new top-up of some amount.
    Request,
    /// Confirms a payment (proof attached, or the transfer said done).
    Slip,
    /// Changes the amount of an existing order.
    Amend,
    /// Cancels an order.
    Cancel,
    /// Asks how an order or payment is progressing.
    Status,
    /// Automatic mail that must never get a reply.
    Ignore,
    /// Human mail that is none of the above.
    Unknown,
}

impl Intent {
    /// The lowercase name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Request => "request",
            Intent::Slip => "slip",
            Intent::Amend => "amend",
            Intent::Cancel => "cancel",
            Intent::Status => "status",
            Intent::Ignore => "ignore",
            Intent::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One transfer proof attached to a message.
#[derive(Clone, PartialEq, Eq)]
pub struct SlipFile {
    /// The file name as the sender's client gave it (RFC 2231 decoded).
    pub file_name: Option<String>,
    /// `image/…` or `application/pdf` (inferred from the name for
    /// `application/octet-stream` parts).
    pub content_type: String,
    /// The decoded file content.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for SlipFile {
    // The bytes are not worth printing in logs or test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlipFile")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What a message means for the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    pub intent: Intent,
    /// The order the message is about; `None` for requests and automatic
    /// mail, and when no order is named anywhere.
    pub order_number: Option<OrderNumber>,
    /// The amount the customer states; `None` for `unknown` and `ignore`.
    pub amount: Option<Money>,
    /// Transfer proofs attached (always empty for `ignore` and chat).
    pub slips: Vec<SlipFile>,
    /// The intent is the model's against what the rules read (weaker
    /// evidence: the desk asks before cancelling on it).
    pub intent_by_model: bool,
}

impl Extraction {
    /// A message that says nothing the desk can act on beyond `intent`.
    pub fn nothing(intent: Intent) -> Extraction {
        Extraction {
            intent,
            order_number: None,
            amount: None,
            slips: Vec::new(),
            intent_by_model: false,
        }
    }
}

/// How much of a body (after MIME decoding and HTML conversion) is read. A
/// customer's request, quote included, fits many times over; what lies
/// beyond is not read, so a megabyte of figures costs no more than this.
pub const MAX_TEXT_EXAMINED: usize = 128 * 1024;
/// How much of a subject is read.
pub const MAX_SUBJECT_EXAMINED: usize = 2 * 1024;

/// Extracts a raw email. Never fails: malformed MIME gives what could be
/// read, and a message that cannot be read at all is `unknown`.
pub fn extract_email(raw: &[u8], prefix: &str) -> Extraction {
    extract_email_and_lang(raw, prefix).0
}

/// [`extract_email`] and [`email_lang`] from one MIME parse.
fn extract_email_and_lang(raw: &[u8], prefix: &str) -> (Extraction, Option<Lang>) {
    let Some(mail) = email::read_email(raw) else {
        return (Extraction::nothing(Intent::Unknown), None);
    };
    extract_parts(mail, prefix)
}

/// The headers the desk needs and what the message says, from one MIME
/// parse (the daemon's path; [`email_meta`] and [`extract_email`] each
/// parse on their own).
pub fn read_mail(raw: &[u8], prefix: &str) -> (email::EmailMeta, Extraction) {
    match mail_parser::MessageParser::default().parse(raw) {
        Some(msg) => (
            email::meta_of(&msg, raw.len()),
            extract_parts(email::parts_of(&msg), prefix).0,
        ),
        None => (
            email::EmailMeta {
                size: raw.len(),
                ..email::EmailMeta::default()
            },
            Extraction::nothing(Intent::Unknown),
        ),
    }
}

/// What a parsed mail says, and the language its own text is written in.
fn extract_parts(mail: email::ParsedEmail, prefix: &str) -> (Extraction, Option<Lang>) {
    if mail.auto {
        return (Extraction::nothing(Intent::Ignore), None);
    }
    let subject = mail
        .subject
        .as_deref()
        .map(|s| text::normalise_text(text::bounded(s, MAX_SUBJECT_EXAMINED)));
    let kind = subject.as_deref().map(subject_kind).unwrap_or_default();
    let split = text::split_reply(text::bounded(&mail.body, MAX_TEXT_EXAMINED), kind.forward);
    let lang = normal::language(&normal::words(&format!(
        "{}\n{}",
        subject.as_deref().unwrap_or(""),
        split.own
    )));
    let extraction = decide(
        Inputs {
            own: &split.own,
            subject: subject.as_deref(),
            subject_is_reply: kind.reply,
            quoted: &split.quoted,
            slips: mail.slips,
        },
        prefix,
    );
    (extraction, lang)
}

/// The source-neutral inputs of [`decide`].
pub(crate) struct Inputs<'a> {
    pub own: &'a str,
    pub subject: Option<&'a str>,
    /// A reply's subject repeats the earlier message: it may name the order
    /// but says nothing about what the customer wants now.
    pub subject_is_reply: bool,
    pub quoted: &'a str,
    pub slips: Vec<SlipFile>,
}

pub(crate) fn decide(inputs: Inputs<'_>, prefix: &str) -> Extraction {
    let fresh_subject = inputs
        .subject
        .filter(|_| !inputs.subject_is_reply)
        .unwrap_or("");
    let own_hits = text::find_amounts(inputs.own);
    let subject_hits = text::find_amounts(fresh_subject);
    let has_amount = !own_hits.is_empty() || !subject_hits.is_empty();
    let intent_text = format!("{}\n{}", inputs.own, fresh_subject);
    let signals = text::signals(&intent_text, prefix);
    // Only whether one is named: the first find is enough (which one is
    // chosen below, from the own text, the subject, then quotes).
    let names_order = |t: &str| !OrderNumber::find_all_at(t, prefix, 1).is_empty();
    let order_named = names_order(&intent_text);
    let rule = match text::decide_intent(signals, inputs.slips.len(), has_amount) {
        // "TU-… gmn?", "??? TU-…", "update?" under the desk's mail about an
        // order: a bare question about an order asks how it stands.
        Intent::Unknown
            if inputs.slips.is_empty()
                && !has_amount
                && bare_question(inputs.own, prefix)
                && (order_named || names_order(inputs.quoted)) =>
        {
            Intent::Status
        }
        rule => rule,
    };
    let found = model::Found {
        signals,
        slips: inputs.slips.len(),
        amount: has_amount,
        order: order_named,
    };
    let predicted = model::predict(&intent_text, found);
    let intent = match model::combine(rule, predicted) {
        // With the proof attached, a cancellation or change of amount the
        // expressions read word for word outranks the payment words around
        // it, as the contract orders them: "mohon revisi nominal menjadi Rp
        // 3.500.000, bukti keduanya terlampir" is a change of amount. (Without
        // one, the model rightly reads "was my cancellation processed?" as a
        // question.)
        Intent::Slip if !inputs.slips.is_empty() && spelled_out(rule, signals) => rule,
        // With a proof attached the contract leaves cancel, amend or slip:
        // "please find enclosed the bank confirmation for our top-up of IDR
        // 6,000,000" is no request for a new order.
        Intent::Request | Intent::Status | Intent::Unknown if !inputs.slips.is_empty() => rule,
        intent => intent,
    };
    explain::record(|| explain::Explain {
        features: model::features(&intent_text, found),
        rule,
        model: predicted,
    });

    let amount = match intent {
        Intent::Unknown | Intent::Ignore => None,
        _ => text::choose_amount(inputs.own, &own_hits, intent)
            .or_else(|| text::choose_amount(fresh_subject, &subject_hits, intent)),
    };
    let order_number = match intent {
        Intent::Request | Intent::Ignore => None,
        _ => text::choose_order(inputs.own, prefix, intent)
            .or_else(|| {
                inputs
                    .subject
                    .and_then(|s| text::choose_order(s, prefix, intent))
            })
            .or_else(|| text::choose_order(inputs.quoted, prefix, intent)),
    };
    Extraction {
        intent,
        order_number,
        amount,
        slips: inputs.slips,
        intent_by_model: intent != rule,
    }
}

/// Whether `own` is a question of at most two words besides order numbers
/// and marks: "TU-… gmn?", "👀 TU-… ??", "TU-… udh?"; a greeting or a call
/// for attention ("halo?", "min?") is no question about the order.
fn bare_question(own: &str, prefix: &str) -> bool {
    const MAX_BYTES: usize = 200;
    if own.len() > MAX_BYTES || !own.contains('?') {
        return false;
    }
    let rest = OrderNumber::masked(own, prefix, "").to_lowercase();
    let words: Vec<&str> = rest
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect();
    words.len() <= 2 && !words.iter().any(|w| normal::is_callout(w))
}

/// Whether the rules' `rule` rests on an expression of text.rs (not only on
/// a lexicon cue) for an action the contract ranks above slip, status and
/// request.
fn spelled_out(rule: Intent, signals: text::Signals) -> bool {
    match rule {
        Intent::Cancel => signals.has(text::Signals::CANCEL),
        Intent::Amend => signals.has(text::Signals::AMEND),
        _ => false,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct SubjectKind {
    reply: bool,
    forward: bool,
}

/// `Re:`/`Balas:` mark a reply, `Fwd:`/`FW:`/`TR:` a forward (the first
/// prefix decides which).
fn subject_kind(subject: &str) -> SubjectKind {
    let mut kind = SubjectKind::default();
    let mut rest = subject.trim_start();
    let mut first = true;
    // The colon is found in `rest` itself and only the head is lower-cased:
    // lower-casing can change byte lengths (U+212A KELVIN SIGN, U+0130), so
    // offsets of a lower-cased copy never index `rest`.
    while let Some(colon) = rest.find(':') {
        // Prefixes are short words; a long head is the subject itself.
        if colon > 24 {
            break;
        }
        let head = rest[..colon].trim().to_lowercase();
        let head = head.trim_start_matches('[').trim_end_matches(']');
        let head_word: String = head.chars().take_while(|c| c.is_alphabetic()).collect();
        let is_reply = matches!(
            head_word.as_str(),
            "re" | "aw" | "sv" | "antw" | "balas" | "bls" | "r" | "res"
        );
        let is_fwd = matches!(
            head_word.as_str(),
            "fwd" | "fw" | "tr" | "wg" | "terusan" | "trs" | "i" | "rv" | "enc"
        );
        if !(is_reply || is_fwd) || head.len() > head_word.len() + 4 {
            break;
        }
        if first {
            kind.forward = is_fwd;
        }
        kind.reply |= is_reply;
        first = false;
        rest = rest[colon + 1..].trim_start();
    }
    kind
}

/// The language a mail is written in, from the customer's own text and
/// subject (quotes and signatures left out): `None` when it does not show,
/// or when the mail cannot be read.
pub fn email_lang(raw: &[u8]) -> Option<Lang> {
    extract_email_and_lang(raw, OrderNumber::DEFAULT_PREFIX).1
}

/// Whether a mail's own text is a bare yes ("ya", "iya, betul", "Yes
/// please", "OK"): the answer to a question the desk asked. Quotes and
/// signatures are left out; more than a few words is a message of its own.
pub fn email_is_yes(raw: &[u8]) -> bool {
    let Some(mail) = email::read_email(raw) else {
        return false;
    };
    let split = text::split_reply(text::bounded(&mail.body, MAX_TEXT_EXAMINED), false);
    normal::is_yes(&normal::words(&split.own))
}

/// The language of one chat message (see [`email_lang`]).
pub fn chat_lang(text: &str) -> Option<Lang> {
    normal::language(&normal::words(text::bounded(text, MAX_TEXT_EXAMINED)))
}

/// Reads one message file: `.eml` as email, anything else (`.txt`) as one
/// chat message. Returns `{"file","intent","order_number","amount","slips",
/// "lang","slip_amount","slips_read"}` with `amount` as a plain string (or
/// null), `slips` as a count, `lang` the language written in (`id`, `en` or
/// null), `slip_amount` the total read off the slips (null when there is none
/// or one could not be read) and `slips_read` the fields of each slip
/// ([`crate::slip::read_all`]); `file` is the path as given.
///
/// # Errors
/// When the file cannot be read.
pub fn parse_file(path: &Path, prefix: &str) -> anyhow::Result<serde_json::Value> {
    parse_file_with(path, prefix, false)
}

/// [`parse_file`]; with `explain`, also how the intent was decided:
/// `intent_rule` (the rules' answer), `intent_model` and
/// `intent_model_probability` (the classifier's), and `features` (what the
/// classifier read; `scripts/train-intent` learns from these).
///
/// # Errors
/// As [`parse_file`].
pub fn parse_file_with(
    path: &Path,
    prefix: &str,
    explain: bool,
) -> anyhow::Result<serde_json::Value> {
    let bytes = std::fs::read(path).with_context(|| format!("Reading {}", path.display()))?;
    explain::start(explain);
    let is_email = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
    let (extraction, lang) = if is_email {
        extract_email_and_lang(&bytes, prefix)
    } else {
        let text = String::from_utf8_lossy(&bytes);
        (extract_chat(&text, prefix), chat_lang(&text))
    };
    let explained = explain::take();
    let (slip_amount, slips_read) = crate::slip::read_all(&extraction.slips, extraction.amount);
    let mut out = serde_json::json!({
        "file": path.display().to_string(),
        "intent": extraction.intent.as_str(),
        "order_number": extraction.order_number.as_ref().map(|n| n.as_str().to_string()),
        "amount": extraction.amount.map(Money::to_plain),
        "slips": extraction.slips.len(),
        "lang": lang.map(Lang::code),
        "slip_amount": slip_amount.map(Money::to_plain),
        "slips_read": slips_read,
    });
    if let (Some(e), Some(map)) = (explained, out.as_object_mut()) {
        map.insert("intent_rule".into(), e.rule.as_str().into());
        map.insert(
            "intent_model".into(),
            e.model.map(|m| m.intent.as_str()).into(),
        );
        map.insert(
            "intent_model_probability".into(),
            e.model.map(|m| m.probability).into(),
        );
        map.insert("features".into(), e.features.into());
    }
    Ok(out)
}

/// `topup parse --explain`: the last decision of this thread, kept only when asked for.
mod explain {
    use std::cell::{Cell, RefCell};

    use super::Intent;
    use super::model::Prediction;

    pub(super) struct Explain {
        pub features: Vec<String>,
        pub rule: Intent,
        pub model: Option<Prediction>,
    }

    thread_local! {
        static ON: Cell<bool> = const { Cell::new(false) };
        static LAST: RefCell<Option<Explain>> = const { RefCell::new(None) };
    }

    pub(super) fn start(on: bool) {
        ON.with(|c| c.set(on));
        LAST.with(|l| l.borrow_mut().take());
    }

    pub(super) fn record(make: impl FnOnce() -> Explain) {
        if ON.with(Cell::get) {
            LAST.with(|l| *l.borrow_mut() = Some(make()));
        }
    }

    pub(super) fn take() -> Option<Explain> {
        ON.with(|c| c.set(false));
        LAST.with(|l| l.borrow_mut().take())
    }
}

#[cfg(test)]
mod tests;
