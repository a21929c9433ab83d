//! Email templates: one Markdown file per [`EmailKind`] and [`Lang`] in
//! `prompts/<lang>/<kind>.md`, rendered with minijinja into a subject, a
//! plain-text part and a small HTML document.
//!
//! The defaults are compiled in (`include_str!`); an operator may point at an
//! override folder with the same layout, whose files win, to change wording
//! without rebuilding. Override files are checked when loaded (they must
//! render with [`EmailKind::sample_vars`]), so a typo shows at start-up and
//! not when a customer's mail is due.
//!
//! # File format
//!
//! ```text
//! Subject: Paid: {{ order_number }} {{ amount }}
//!
//! Dear {{ user_name }},
//! ...Markdown body...
//! ```
//!
//! The first line is `Subject: ...`, then one blank line, then the Markdown
//! body. Both may use variables. Undefined variables are an error
//! ([`UndefinedBehavior::Strict`]), never an empty string.
//!
//! # Invariants (safety)
//!
//! Values such as company names and reject reasons are written by customers
//! and staff. Markdown passes raw HTML through (pulldown-cmark follows
//! CommonMark), so every `{{ value }}` in a body is Markdown-escaped before the
//! Markdown is parsed (a value can never become a link, emphasis or a tag),
//! and any raw HTML that still reaches the parser (from a template itself) is
//! turned into escaped text. The subject is plain text with line breaks
//! removed.
//!
//! # Variables
//!
//! Always available (the caller passes them; `lang` is filled in from the
//! language argument when missing): `company`, `user_name` (the recipient's
//! display name), `seller_name`, `support_email`, `lang` (`id` / `en`). All
//! amounts and times are passed already formatted for the recipient's
//! language. No variable ever carries a staff member's name.
//!
//! Subjects say what happened and carry the order number
//! (`Lunas: TU-20260812-0001 Rp 1.500.000`); the thread is kept by the
//! In-Reply-To / References headers, not by a `Re:` subject.
//!
//! | kind | variables used by the default templates |
//! | --- | --- |
//! | `order_created` | `user_name`, `company`, `order_number`, `amount`, `transfer_amount` and `unique_code` (empty without `desk.unique_code`), `bank_accounts` (list of `{bank, account_number, account_name}`), `status_link`, `support_email`, `seller_name` |
//! | `submission_received` | `user_name`, `company`, `order_number`, `order_time`, `amount`, `submitted_by` (display name of the user who sent the slip), `status_link`, `seller_name` |
//! | `paid` | `user_name`, `company`, `order_number`, `amount` (credited), `requested_amount` (the amount asked when staff credited another one, else empty), `new_balance`, `seller_name` |
//! | `payment_failure` | `user_name`, `order_number`, `amount`, `reason`, `status_link`, `support_email`, `seller_name` |
//! | `confirm_timeout` | `user_name`, `order_number`, `amount`, `status_link`, `support_email`, `seller_name` |
//! | `cancelled` | `user_name`, `order_number`, `amount`, `support_email`, `seller_name` |
//! | `closed` | `user_name`, `order_number`, `amount`, `support_email`, `seller_name` |
//! | `unknown_sender` | `seller_name`, `support_email` (the sender has no account, so no `company` / `user_name`) |
//! | `not_understood` | `user_name`, `support_email`, `seller_name`; about a named order also `order_number` (else empty), `amount`, `status_name`, and `can_slip`, `can_amend`, `can_cancel` (booleans: what the order's status allows) |
//! | `limits_exceeded` | `user_name`, `limit_name` (already in the account's language), `limit_value` (formatted), `support_email`, `seller_name` |
//! | `sign_in_link` | `user_name`, `company`, `sign_in_link`, `expires`, `seller_name` |
//! | `link_code` | `user_name`, `company`, `code`, `expires`, `note` (why the main user gets the code, or empty), `seller_name` |
//! | `confirm_amend` | `user_name`, `order_number`, `amount` (the order's amount now), `new_amount` (the amount the desk understood), `support_email`, `seller_name` |
//! | `confirm_cancel` | `user_name`, `order_number`, `amount`, `status_name` (the order's status now), `support_email`, `seller_name` |
//! | `order_status` | `user_name`, `company`, `order_number` (empty string when the account has no active order), `new_balance` (current balance), `seller_name`; and only when `order_number` is not empty: `order_time`, `amount`, `status_name` (display name in the account's language), `status_link` |
//! | `action_refused` | `user_name`, `order_number` (may be empty), `reason` (why it was refused), `support_email`, `seller_name` |
//! | `statement_imported` | `user_name` (the statement sender), `files` (list of `{name, summary}`: what each file matched, or why it was not read), `seller_name` |
//!
//! [`EmailKind::variables`] lists the same names in code, and
//! [`EmailKind::sample_vars`] gives a documented example value for each.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use minijinja::value::Value as JinjaValue;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::Lang;

/// The kinds of email the desk sends; one template per kind and language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// A top-up was requested: order number, amount, bank accounts, how to send the slip.
    OrderCreated,
    /// A slip was received: order details for the customer's records.
    SubmissionReceived,
    /// Staff confirmed the payment: amount credited, new balance, receipt attached.
    Paid,
    /// Staff rejected the submission: reason and how to fix it.
    PaymentFailure,
    /// The payment was not confirmed within the confirm limit (24 h): nothing
    /// for the customer to fix; replying with the slip puts it back in review.
    ConfirmTimeout,
    /// The customer cancelled the order.
    Cancelled,
    /// The order was never submitted within the time limit and was closed.
    Closed,
    /// The sender's address belongs to no account.
    UnknownSender,
    /// A human message we could not act on: short help text.
    NotUnderstood,
    /// A message went over a configured limit.
    LimitsExceeded,
    /// A one-time sign-in link to the account page.
    SignInLink,
    /// A one-time code to link a Discord user to the account.
    LinkCode,
    /// An answer to a status question: the order's status (or that there is
    /// no active order) and the balance.
    OrderStatus,
    /// The customer asked for something the desk refused (e.g. cancelling a
    /// paid order): the reason.
    ActionRefused,
    /// A configured statement sender mailed statements: what each file
    /// matched, or why it was not read.
    StatementImported,
    /// The desk read a message as a change of amount on weak evidence (a bare
    /// amount about a rejected order): it asks before doing it; a "yes" reply
    /// in the thread carries it out.
    ConfirmAmend,
    /// The desk read a message as a cancellation on weak evidence (the intent
    /// model alone, against the rules): it asks before cancelling; a "yes"
    /// reply in the thread carries it out.
    ConfirmCancel,
}

impl EmailKind {
    /// Every kind, in a fixed order.
    pub const ALL: [EmailKind; 17] = [
        EmailKind::OrderCreated,
        EmailKind::SubmissionReceived,
        EmailKind::Paid,
        EmailKind::PaymentFailure,
        EmailKind::ConfirmTimeout,
        EmailKind::Cancelled,
        EmailKind::Closed,
        EmailKind::UnknownSender,
        EmailKind::NotUnderstood,
        EmailKind::LimitsExceeded,
        EmailKind::SignInLink,
        EmailKind::LinkCode,
        EmailKind::OrderStatus,
        EmailKind::ActionRefused,
        EmailKind::StatementImported,
        EmailKind::ConfirmAmend,
        EmailKind::ConfirmCancel,
    ];

    /// The template's file name without `.md` (and the serde name).
    pub fn file_stem(self) -> &'static str {
        match self {
            EmailKind::OrderCreated => "order_created",
            EmailKind::SubmissionReceived => "submission_received",
            EmailKind::Paid => "paid",
            EmailKind::PaymentFailure => "payment_failure",
            EmailKind::ConfirmTimeout => "confirm_timeout",
            EmailKind::Cancelled => "cancelled",
            EmailKind::Closed => "closed",
            EmailKind::UnknownSender => "unknown_sender",
            EmailKind::NotUnderstood => "not_understood",
            EmailKind::LimitsExceeded => "limits_exceeded",
            EmailKind::SignInLink => "sign_in_link",
            EmailKind::LinkCode => "link_code",
            EmailKind::OrderStatus => "order_status",
            EmailKind::ActionRefused => "action_refused",
            EmailKind::StatementImported => "statement_imported",
            EmailKind::ConfirmAmend => "confirm_amend",
            EmailKind::ConfirmCancel => "confirm_cancel",
        }
    }

    /// The kind whose [`file_stem`](Self::file_stem) is `stem`.
    pub fn from_file_stem(stem: &str) -> Option<EmailKind> {
        EmailKind::ALL.into_iter().find(|k| k.file_stem() == stem)
    }

    /// The variables the default templates of this kind use (see the table in
    /// the module docs). Callers must pass at least these.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            EmailKind::OrderCreated => &[
                "user_name",
                "company",
                "order_number",
                "amount",
                "transfer_amount",
                "unique_code",
                "bank_accounts",
                "status_link",
                "support_email",
                "seller_name",
            ],
            EmailKind::SubmissionReceived => &[
                "user_name",
                "company",
                "order_number",
                "order_time",
                "amount",
                "submitted_by",
                "status_link",
                "seller_name",
            ],
            EmailKind::Paid => &[
                "user_name",
                "company",
                "order_number",
                "amount",
                "requested_amount",
                "new_balance",
                "seller_name",
            ],
            EmailKind::PaymentFailure => &[
                "user_name",
                "order_number",
                "amount",
                "reason",
                "status_link",
                "support_email",
                "seller_name",
            ],
            EmailKind::ConfirmTimeout => &[
                "user_name",
                "order_number",
                "amount",
                "status_link",
                "support_email",
                "seller_name",
            ],
            EmailKind::Cancelled | EmailKind::Closed => &[
                "user_name",
                "order_number",
                "amount",
                "support_email",
                "seller_name",
            ],
            EmailKind::UnknownSender => &["seller_name", "support_email"],
            EmailKind::NotUnderstood => &[
                "user_name",
                "order_number",
                "amount",
                "status_name",
                "can_slip",
                "can_amend",
                "can_cancel",
                "support_email",
                "seller_name",
            ],
            EmailKind::StatementImported => &["user_name", "files", "seller_name"],
            EmailKind::LimitsExceeded => &[
                "user_name",
                "limit_name",
                "limit_value",
                "support_email",
                "seller_name",
            ],
            EmailKind::SignInLink => &[
                "user_name",
                "company",
                "sign_in_link",
                "expires",
                "seller_name",
            ],
            EmailKind::LinkCode => &[
                "user_name",
                "company",
                "code",
                "expires",
                "seller_name",
                "note",
            ],
            EmailKind::OrderStatus => &[
                "user_name",
                "company",
                "order_number",
                "order_time",
                "amount",
                "status_name",
                "status_link",
                "new_balance",
                "seller_name",
            ],
            EmailKind::ActionRefused => &[
                "user_name",
                "order_number",
                "reason",
                "support_email",
                "seller_name",
            ],
            EmailKind::ConfirmAmend => &[
                "user_name",
                "order_number",
                "amount",
                "new_amount",
                "support_email",
                "seller_name",
            ],
            EmailKind::ConfirmCancel => &[
                "user_name",
                "order_number",
                "amount",
                "status_name",
                "support_email",
                "seller_name",
            ],
        }
    }

    /// Example variables for this kind: every common variable plus the
    /// kind's own, formatted as the desk formats them for `lang`. Used to check
    /// override templates at load time, by tests, and for previews.
    pub fn sample_vars(self, lang: Lang) -> Value {
        let (status_name, refusal) = match lang {
            Lang::Id => ("Dealing", "Pesanan yang sudah Lunas tidak dapat dibatalkan"),
            Lang::En => ("Dealing", "A paid order cannot be cancelled"),
        };
        let requested = match lang {
            Lang::Id => "Rp 1.750.000",
            Lang::En => "IDR 1,750,000",
        };
        let (amount, balance, order_time, expires, limit_name, limit_value, reason) = match lang {
            Lang::Id => (
                "Rp 1.500.000",
                "Rp 4.250.000",
                "12 Agustus 2026 10.15 WIB",
                "12 Agustus 2026 10.45 WIB",
                "Ukuran lampiran maksimum",
                "10 MB",
                "Jumlah berbeda dengan bukti transfer",
            ),
            Lang::En => (
                "IDR 1,500,000",
                "IDR 4,250,000",
                "12 August 2026 10:15 WIB",
                "12 August 2026 10:45 WIB",
                "Maximum attachment size",
                "10 MB",
                "The amount differs from the transfer slip",
            ),
        };
        let mut vars = json!({
            "company": "PT Maju Jaya",
            "user_name": "Budi Santoso",
            "seller_name": "Topup Desk",
            "support_email": "support@example.com",
            "lang": lang.code(),
        });
        let own = match self {
            EmailKind::OrderCreated => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "transfer_amount": "",
                "unique_code": "",
                "status_link": "https://topup.example.com/o/3f9c2a",
                "bank_accounts": [
                    {"bank": "BCA", "account_number": "123-456-7890", "account_name": "PT Topup Desk"},
                    {"bank": "Mandiri", "account_number": "987-000-1234567", "account_name": "PT Topup Desk"},
                ],
            }),
            EmailKind::SubmissionReceived => json!({
                "order_number": "TU-20260812-0001",
                "order_time": order_time,
                "amount": amount,
                "submitted_by": "Siti Rahayu",
                "status_link": "https://topup.example.com/o/3f9c2a",
            }),
            EmailKind::Paid => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "requested_amount": requested,
                "new_balance": balance,
            }),
            EmailKind::ConfirmTimeout => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "status_link": "https://topup.example.com/o/3f9c2a",
            }),
            EmailKind::PaymentFailure => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "reason": reason,
                "status_link": "https://topup.example.com/o/3f9c2a",
            }),
            EmailKind::Cancelled | EmailKind::Closed => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
            }),
            EmailKind::UnknownSender => json!({}),
            EmailKind::NotUnderstood => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "status_name": status_name,
                "can_slip": false,
                "can_amend": false,
                "can_cancel": true,
            }),
            EmailKind::StatementImported => json!({
                "files": [
                    {"name": "mutasi-30-11.csv", "summary": "9 lines: 2 matched, 1 suggested, 1 ambiguous, 4 unmatched, 1 debits, 0 already imported"},
                ],
            }),
            EmailKind::LimitsExceeded => json!({
                "limit_name": limit_name,
                "limit_value": limit_value,
            }),
            EmailKind::SignInLink => json!({
                "sign_in_link": "https://topup.example.com/sign-in/7d1e0b",
                "expires": expires,
            }),
            EmailKind::LinkCode => json!({
                "code": "482915",
                "expires": expires,
                "note": match lang {
                    Lang::Id => "Berikan kode ini hanya jika Anda setuju pengguna Discord baru menggantikan yang lama.",
                    Lang::En => "Give this code only if you agree that the new Discord user replaces the old one.",
                },
            }),
            EmailKind::OrderStatus => json!({
                "order_number": "TU-20260812-0001",
                "order_time": order_time,
                "amount": amount,
                "status_name": status_name,
                "status_link": "https://topup.example.com/o/3f9c2a",
                "new_balance": balance,
            }),
            EmailKind::ActionRefused => json!({
                "order_number": "TU-20260812-0001",
                "reason": refusal,
            }),
            EmailKind::ConfirmAmend => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "new_amount": amount,
            }),
            EmailKind::ConfirmCancel => json!({
                "order_number": "TU-20260812-0001",
                "amount": amount,
                "status_name": status_name,
            }),
        };
        if let (Some(all), Value::Object(own)) = (vars.as_object_mut(), own) {
            all.extend(own);
        }
        vars
    }
}

impl std::fmt::Display for EmailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_stem())
    }
}

/// A template could not be loaded or rendered. The text names the file and,
/// for a missing variable, the variable.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// An override file could not be read.
    #[error("Cannot read email template {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file in the override folder is not `<lang>/<kind>.md` for a known language and kind.
    #[error(
        "{path} is not a known email template: expected <lang>/<kind>.md with lang id or en and kind one of {known}"
    )]
    UnknownFile {
        /// The file.
        path: PathBuf,
        /// The known kinds, comma-separated.
        known: String,
    },
    /// The file does not start with `Subject: ...` and a blank line.
    #[error(
        "Email template {name} must start with a \"Subject: ...\" line followed by a blank line"
    )]
    NoSubject {
        /// `<lang>/<kind>.md`.
        name: String,
    },
    /// The template has a syntax error.
    #[error("Email template {name} is not valid: {detail}")]
    Syntax {
        /// `<lang>/<kind>.md`.
        name: String,
        /// minijinja's description, with the line.
        detail: String,
    },
    /// The template uses a variable the caller did not pass.
    #[error("Email template {name} uses the variable `{variable}`, which was not given")]
    MissingVariable {
        /// `<lang>/<kind>.md`.
        name: String,
        /// The variable.
        variable: String,
    },
    /// Rendering failed for another reason (e.g. a missing field inside a list item).
    #[error("Email template {name} could not be rendered: {detail}")]
    Render {
        /// `<lang>/<kind>.md`.
        name: String,
        /// minijinja's description, with the line.
        detail: String,
    },
    /// The variables were not a JSON object.
    #[error("Email template variables must be a JSON object, got {got}")]
    VarsNotObject {
        /// What was passed instead (`array`, `string`, ...).
        got: &'static str,
    },
}

/// One rendered email, ready for [`crate::outbox::email`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject, one line.
    pub subject: String,
    /// The plain-text part (Markdown rendered as readable text).
    pub text: String,
    /// A complete small HTML document with inline CSS.
    pub html: String,
}

/// The auto-escape mode of body templates: our formatter escapes values for Markdown.
const MARKDOWN_ESCAPE: AutoEscape = AutoEscape::Custom("markdown");
/// Suffix of the template name under which a file's subject line is registered.
const SUBJECT_SUFFIX: &str = "#subject";
const LANGS: [Lang; 2] = [Lang::Id, Lang::En];

/// All email templates, ready to render. Cheap to share (`Arc` it).
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

/// The embedded default for a kind and language.
fn embedded_source(kind: EmailKind, lang: Lang) -> &'static str {
    macro_rules! by_kind {
        ($lang:literal) => {
            match kind {
                EmailKind::OrderCreated => {
                    include_str!(concat!("../../prompts/", $lang, "/order_created.md"))
                }
                EmailKind::SubmissionReceived => {
                    include_str!(concat!("../../prompts/", $lang, "/submission_received.md"))
                }
                EmailKind::Paid => include_str!(concat!("../../prompts/", $lang, "/paid.md")),
                EmailKind::PaymentFailure => {
                    include_str!(concat!("../../prompts/", $lang, "/payment_failure.md"))
                }
                EmailKind::ConfirmTimeout => {
                    include_str!(concat!("../../prompts/", $lang, "/confirm_timeout.md"))
                }
                EmailKind::Cancelled => {
                    include_str!(concat!("../../prompts/", $lang, "/cancelled.md"))
                }
                EmailKind::Closed => include_str!(concat!("../../prompts/", $lang, "/closed.md")),
                EmailKind::UnknownSender => {
                    include_str!(concat!("../../prompts/", $lang, "/unknown_sender.md"))
                }
                EmailKind::NotUnderstood => {
                    include_str!(concat!("../../prompts/", $lang, "/not_understood.md"))
                }
                EmailKind::LimitsExceeded => {
                    include_str!(concat!("../../prompts/", $lang, "/limits_exceeded.md"))
                }
                EmailKind::SignInLink => {
                    include_str!(concat!("../../prompts/", $lang, "/sign_in_link.md"))
                }
                EmailKind::LinkCode => {
                    include_str!(concat!("../../prompts/", $lang, "/link_code.md"))
                }
                EmailKind::OrderStatus => {
                    include_str!(concat!("../../prompts/", $lang, "/order_status.md"))
                }
                EmailKind::ActionRefused => {
                    include_str!(concat!("../../prompts/", $lang, "/action_refused.md"))
                }
                EmailKind::StatementImported => {
                    include_str!(concat!("../../prompts/", $lang, "/statement_imported.md"))
                }
                EmailKind::ConfirmAmend => {
                    include_str!(concat!("../../prompts/", $lang, "/confirm_amend.md"))
                }
                EmailKind::ConfirmCancel => {
                    include_str!(concat!("../../prompts/", $lang, "/confirm_cancel.md"))
                }
            }
        };
    }
    match lang {
        Lang::Id => by_kind!("id"),
        Lang::En => by_kind!("en"),
    }
}

fn template_name(kind: EmailKind, lang: Lang) -> String {
    format!("{}/{}.md", lang.code(), kind.file_stem())
}

/// Splits a file into its subject template and body template.
fn split_subject(name: &str, source: &str) -> Result<(String, String), TemplateError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let no_subject = || TemplateError::NoSubject {
        name: name.to_owned(),
    };
    let (first, rest) = source.split_once('\n').ok_or_else(no_subject)?;
    let first = first.trim_end_matches('\r');
    let subject = match first.get(..8) {
        Some(head) if head.eq_ignore_ascii_case("subject:") => first[8..].trim().to_owned(),
        _ => return Err(no_subject()),
    };
    let body = match rest.split_once('\n') {
        Some((blank, body)) if blank.trim().is_empty() => body,
        None if rest.trim().is_empty() => "",
        _ => return Err(no_subject()),
    };
    Ok((subject, body.replace("\r\n", "\n")))
}

/// Escapes a value so Markdown shows it literally: every ASCII punctuation
/// character gets a backslash (CommonMark allows that for all of them), and
/// line breaks become hard breaks so a value cannot start a new block.
pub fn escape_markdown(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut first = true;
    for line in value.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !first {
            out.push_str("\\\n");
        }
        first = false;
        for c in line.chars() {
            if c.is_ascii_punctuation() {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(SUBJECT_SUFFIX) {
            AutoEscape::None
        } else {
            MARKDOWN_ESCAPE
        }
    });
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == MARKDOWN_ESCAPE && !value.is_safe() {
            if value.is_undefined() {
                // Strict mode already refuses printing undefined; keep the
                // same error if that ever changes.
                return Err(minijinja::Error::from(minijinja::ErrorKind::UndefinedError));
            }
            let text = if value.is_none() {
                String::new()
            } else {
                value.to_string()
            };
            out.write_str(&escape_markdown(&text)).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
            })
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

fn add_file(
    env: &mut Environment<'static>,
    kind: EmailKind,
    lang: Lang,
    source: &str,
) -> Result<(), TemplateError> {
    let name = template_name(kind, lang);
    let (subject, body) = split_subject(&name, source)?;
    let syntax = |e: minijinja::Error| TemplateError::Syntax {
        name: name.clone(),
        detail: error_detail(&e),
    };
    env.add_template_owned(format!("{name}{SUBJECT_SUFFIX}"), subject)
        .map_err(syntax)?;
    env.add_template_owned(name.clone(), body).map_err(syntax)?;
    Ok(())
}

/// minijinja's error text plus its causes, on one line.
fn error_detail(e: &minijinja::Error) -> String {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let _ = write!(detail, ": {cause}");
        source = cause.source();
    }
    detail
}

/// Names that templates may use without the caller passing them (minijinja globals).
const GLOBALS: [&str; 4] = ["range", "dict", "debug", "namespace"];

impl Templates {
    /// The templates compiled into the binary.
    pub fn embedded() -> Templates {
        let mut env = new_env();
        for lang in LANGS {
            for kind in EmailKind::ALL {
                // The embedded files are checked by the tests in this module,
                // so an error here is a build defect; log it rather than panic
                // so the daemon still sends every other kind.
                if let Err(e) = add_file(&mut env, kind, lang, embedded_source(kind, lang)) {
                    tracing::error!("Embedded email template is broken: {e}");
                }
            }
        }
        Templates { env }
    }

    /// The embedded templates, with every `<dir>/<lang>/<kind>.md` that
    /// exists replacing its default. Each override must render with
    /// [`EmailKind::sample_vars`].
    ///
    /// # Errors
    /// The folder is missing; a file that cannot be read, is not a known `<lang>/<kind>.md`, lacks
    /// the subject line, has a syntax error or does not render with the sample
    /// variables (e.g. uses an unknown variable).
    pub fn with_override_dir(dir: &Path) -> Result<Templates, TemplateError> {
        let mut templates = Templates::embedded();
        let read_err = |path: &Path, source| TemplateError::Read {
            path: path.to_owned(),
            source,
        };
        // A configured folder that is not there is a typo, not "no overrides".
        std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
        let mut overridden = Vec::new();
        for lang in LANGS {
            let lang_dir = dir.join(lang.code());
            if !lang_dir.is_dir() {
                continue;
            }
            let mut entries = Vec::new();
            for entry in std::fs::read_dir(&lang_dir).map_err(|e| read_err(&lang_dir, e))? {
                entries.push(entry.map_err(|e| read_err(&lang_dir, e))?.path());
            }
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    continue;
                }
                let kind = path
                    .extension()
                    .filter(|ext| *ext == "md")
                    .and(path.file_stem())
                    .and_then(|stem| stem.to_str())
                    .and_then(EmailKind::from_file_stem)
                    .ok_or_else(|| TemplateError::UnknownFile {
                        path: path.clone(),
                        known: EmailKind::ALL.map(EmailKind::file_stem).join(", "),
                    })?;
                let source = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
                add_file(&mut templates.env, kind, lang, &source)?;
                overridden.push((kind, lang));
            }
        }
        for (kind, lang) in overridden {
            templates.render(kind, lang, &kind.sample_vars(lang))?;
        }
        Ok(templates)
    }

    /// Renders one email.
    ///
    /// # Errors
    /// [`TemplateError::MissingVariable`] naming a variable the template
    /// needed that `vars` lacks; [`TemplateError::Render`] for any other
    /// template failure; [`TemplateError::VarsNotObject`].
    pub fn render(
        &self,
        kind: EmailKind,
        lang: Lang,
        vars: &Value,
    ) -> Result<RenderedEmail, TemplateError> {
        let Value::Object(map) = vars else {
            return Err(TemplateError::VarsNotObject {
                got: json_type(vars),
            });
        };
        let mut map = map.clone();
        map.entry("lang")
            .or_insert_with(|| Value::String(lang.code().to_owned()));
        let name = template_name(kind, lang);
        let ctx = JinjaValue::from_serialize(&map);

        let render_one = |template_name: &str| -> Result<String, TemplateError> {
            let template =
                self.env
                    .get_template(template_name)
                    .map_err(|e| TemplateError::Render {
                        name: name.clone(),
                        detail: error_detail(&e),
                    })?;
            template.render(&ctx).map_err(|e| {
                // Name the variable: minijinja only says "undefined value".
                // Rendering first lets a template use a variable inside an
                // `{% if %}` branch the caller's values never reach.
                if e.kind() == minijinja::ErrorKind::UndefinedError {
                    let mut missing: Vec<String> = template
                        .undeclared_variables(false)
                        .into_iter()
                        .filter(|v| !map.contains_key(v) && !GLOBALS.contains(&v.as_str()))
                        .collect();
                    missing.sort();
                    if let Some(variable) = missing.into_iter().next() {
                        return TemplateError::MissingVariable {
                            name: name.clone(),
                            variable,
                        };
                    }
                }
                TemplateError::Render {
                    name: name.clone(),
                    detail: error_detail(&e),
                }
            })
        };

        let subject = render_one(&format!("{name}{SUBJECT_SUFFIX}"))?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let markdown = render_one(&name)?;
        Ok(RenderedEmail {
            text: markdown_to_text(&markdown),
            html: html_document(&subject, &markdown_to_html(&markdown), lang),
            subject,
        })
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The Markdown events with raw HTML turned into text, so nothing in a
/// template or value can inject markup.
fn safe_events(markdown: &str) -> impl Iterator<Item = Event<'_>> {
    Parser::new_ext(markdown, Options::empty()).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        other => other,
    })
}

/// Inline styles per tag, because many mail clients drop `<style>` blocks.
const TAG_STYLES: [(&str, &str); 11] = [
    ("<p>", "<p style=\"margin:0 0 16px 0;\">"),
    (
        "<ul>",
        "<ul style=\"margin:0 0 16px 0;padding-left:24px;\">",
    ),
    (
        "<ol>",
        "<ol style=\"margin:0 0 16px 0;padding-left:24px;\">",
    ),
    ("<li>", "<li style=\"margin:0 0 6px 0;\">"),
    ("<h1>", "<h1 style=\"font-size:22px;margin:0 0 16px 0;\">"),
    ("<h2>", "<h2 style=\"font-size:19px;margin:0 0 14px 0;\">"),
    ("<h3>", "<h3 style=\"font-size:17px;margin:0 0 12px 0;\">"),
    (
        "<a href=",
        "<a style=\"color:#0b5cad;word-break:break-all;\" href=",
    ),
    (
        "<code>",
        "<code style=\"font-family:Menlo,Consolas,monospace;background:#f2f4f7;padding:1px 4px;border-radius:3px;\">",
    ),
    (
        "<blockquote>",
        "<blockquote style=\"margin:0 0 16px 0;padding-left:12px;border-left:3px solid #d0d5dd;color:#475467;\">",
    ),
    (
        "<hr />",
        "<hr style=\"border:none;border-top:1px solid #e4e7ec;margin:20px 0;\" />",
    ),
];

fn markdown_to_html(markdown: &str) -> String {
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, safe_events(markdown));
    // Every `<` that came from text is escaped as `&lt;` by push_html, so
    // these literal tags can only be the ones it generated.
    for (tag, styled) in TAG_STYLES {
        html = html.replace(tag, styled);
    }
    html
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_document(subject: &str, body: &str, lang: Lang) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title}</title>\n</head>\n\
<body style=\"margin:0;padding:0;background:#f4f5f7;\">\n\
<div style=\"max-width:600px;margin:0 auto;padding:24px 16px;\">\n\
<div style=\"background:#ffffff;border:1px solid #e4e7ec;border-radius:8px;padding:24px 20px;\
font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1d2939;\
overflow-wrap:break-word;\">\n{body}</div>\n</div>\n</body>\n</html>\n",
        lang = lang.code(),
        title = escape_html(subject),
    )
}

/// Renders Markdown as readable plain text: markers dropped, lists kept as
/// `- ` / `1. `, links as `text (url)`, hard and soft breaks as line breaks.
struct TextWriter {
    out: String,
    /// Prefixes for continuation lines (list indentation, `> ` quotes).
    prefixes: Vec<String>,
    /// The next number of each open list (`None` for bullets).
    lists: Vec<Option<u64>>,
    at_line_start: bool,
    /// A list marker was just written: the item's first block starts on its line.
    item_fresh: bool,
    /// Open links: (where their text started in `out`, destination).
    links: Vec<(usize, String)>,
    /// Where the open heading's text started in `out`.
    heading_start: Option<usize>,
}

impl TextWriter {
    fn new() -> Self {
        TextWriter {
            out: String::new(),
            prefixes: Vec::new(),
            lists: Vec::new(),
            at_line_start: true,
            item_fresh: false,
            links: Vec::new(),
            heading_start: None,
        }
    }

    fn prefix(&self) -> String {
        self.prefixes.concat()
    }

    fn newline(&mut self) {
        // No trailing spaces from prefixes on otherwise empty lines.
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.at_line_start = true;
    }

    fn write(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if line.is_empty() {
                continue;
            }
            if self.at_line_start {
                let prefix = self.prefix();
                self.out.push_str(&prefix);
                self.at_line_start = false;
            }
            self.out.push_str(line);
            self.item_fresh = false;
        }
    }

    /// Starts a block: on a fresh line, after a blank line unless it is the
    /// first block of a list item or of the document.
    fn block_start(&mut self) {
        if self.item_fresh {
            return;
        }
        if !self.at_line_start {
            self.newline();
        }
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            let prefix = self.prefix();
            self.out.push_str(prefix.trim_end());
            self.newline();
        }
    }

    fn end_line(&mut self) {
        if !self.at_line_start {
            self.newline();
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::Code(text) | Event::InlineMath(text) => self.write(&text),
            Event::DisplayMath(text) => {
                self.block_start();
                self.write(&text);
                self.end_line();
            }
            Event::Html(html) | Event::InlineHtml(html) => self.write(&html),
            Event::SoftBreak | Event::HardBreak => self.newline(),
            Event::Rule => {
                self.block_start();
                self.write("----------------------------------------");
                self.end_line();
            }
            Event::FootnoteReference(name) => self.write(&format!("[{name}]")),
            Event::TaskListMarker(done) => self.write(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock | Tag::CodeBlock(_) | Tag::Table(_) => {
                self.block_start()
            }
            Tag::Heading { .. } => {
                self.block_start();
                self.heading_start = Some(self.out.len());
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.prefixes.push("> ".to_owned());
            }
            Tag::List(start) => {
                // A nested list continues inside its item, without a blank line.
                if self.lists.is_empty() {
                    self.block_start();
                } else {
                    self.end_line();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.end_line();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => "- ".to_owned(),
                };
                self.write(&marker);
                self.prefixes.push(" ".repeat(marker.len()));
                self.item_fresh = true;
            }
            Tag::Link { dest_url, .. } => self.links.push((self.out.len(), dest_url.to_string())),
            Tag::TableRow | Tag::TableHead => self.end_line(),
            Tag::TableCell => {
                if !self.at_line_start {
                    self.write(" | ");
                }
            }
            Tag::FootnoteDefinition(name) => {
                self.block_start();
                self.write(&format!("[{name}]: "));
            }
            Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.block_start(),
            Tag::Emphasis | Tag::Strong | Tag::Strikethrough | Tag::Image { .. } => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::HtmlBlock
            | TagEnd::CodeBlock
            | TagEnd::Table
            | TagEnd::TableHead
            | TagEnd::TableRow
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => self.end_line(),
            TagEnd::Heading(level) => {
                let start = self.heading_start.take().unwrap_or(self.out.len());
                let width = self.out[start..].chars().count();
                self.end_line();
                let underline = match level {
                    HeadingLevel::H1 => Some('='),
                    HeadingLevel::H2 => Some('-'),
                    _ => None,
                };
                if let Some(c) = underline {
                    self.write(&c.to_string().repeat(width));
                    self.end_line();
                }
            }
            TagEnd::BlockQuote(_) => {
                self.end_line();
                self.prefixes.pop();
            }
            TagEnd::List(_) => {
                self.end_line();
                self.lists.pop();
            }
            TagEnd::Item => {
                self.end_line();
                self.prefixes.pop();
                self.item_fresh = false;
            }
            TagEnd::Link => {
                if let Some((start, dest)) = self.links.pop() {
                    let text = self.out[start..].trim();
                    let shown = dest.strip_prefix("mailto:").unwrap_or(&dest);
                    if text != shown && !dest.is_empty() {
                        self.write(&format!(" ({shown})"));
                    }
                }
            }
            TagEnd::TableCell
            | TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Image => {}
        }
    }

    fn finish(mut self) -> String {
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out
    }
}

fn markdown_to_text(markdown: &str) -> String {
    let mut writer = TextWriter::new();
    for event in safe_events(markdown) {
        writer.event(event);
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_renders_with_its_sample_vars() {
        let templates = Templates::embedded();
        for lang in LANGS {
            for kind in EmailKind::ALL {
                let mail = templates
                    .render(kind, lang, &kind.sample_vars(lang))
                    .unwrap_or_else(|e| panic!("{kind} {lang}: {e}"));
                assert!(!mail.subject.is_empty(), "{kind} {lang}");
                assert!(!mail.subject.contains('\n'));
                assert!(mail.html.starts_with("<!DOCTYPE html>"));
                assert!(!mail.text.contains("**"), "{kind} {lang}: {}", mail.text);
                assert!(!mail.text.contains('\\'), "{kind} {lang}: {}", mail.text);
            }
        }
    }

    #[test]
    fn documented_variables_are_exactly_what_the_templates_use() {
        let templates = Templates::embedded();
        for lang in LANGS {
            for kind in EmailKind::ALL {
                let name = template_name(kind, lang);
                let mut used = std::collections::BTreeSet::new();
                for t in [format!("{name}{SUBJECT_SUFFIX}"), name.clone()] {
                    let template = templates.env.get_template(&t).expect("registered");
                    used.extend(template.undeclared_variables(false));
                }
                let documented: std::collections::BTreeSet<String> =
                    kind.variables().iter().map(|v| v.to_string()).collect();
                assert_eq!(used, documented, "{name}");
                let sample = kind.sample_vars(lang);
                for v in kind.variables() {
                    assert!(sample.get(v).is_some(), "{name}: sample lacks {v}");
                }
            }
        }
    }

    #[test]
    fn escape_markdown_leaves_no_active_punctuation() {
        assert_eq!(escape_markdown("*a* [b](c)"), "\\*a\\* \\[b\\]\\(c\\)");
        assert_eq!(escape_markdown("line 1\n\n# two"), "line 1\\\n\\# two");
    }

    #[test]
    fn text_rendering_keeps_lists_links_and_breaks() {
        let text = markdown_to_text(
            "Dear **A**,\n\n- one\n- two [site](https://x.test)\n\n1. first\n2. [https://y.test](https://y.test)\n\nBye,\\\nMe\n",
        );
        assert_eq!(
            text,
            "Dear A,\n\n- one\n- two site (https://x.test)\n\n1. first\n2. https://y.test\n\nBye,\nMe\n"
        );
    }
}
