//! Email intake: a raw RFC 5322 message (mail-parser 0.11) to the parts the
//! extractor needs (subject, the customer's own text, quoted context, slip
//! attachments, whether it is automatic mail), plus [`EmailMeta`] for the
//! desk (threading headers, sender, authentication results).
//!
//! Invariants: never panics and never fails; malformed MIME gives what could
//! be read. Slips are found by walking every part by content type, including
//! inline images and messages attached as `message/rfc822`; small images
//! drawn by the HTML signature through `cid:` are not slips.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::SlipFile;
use super::text::{CidImage, Pat, cid_images, html_to_text};

/// Nested `message/rfc822` depth we follow; deeper nesting is not a
/// customer's submission.
const MAX_DEPTH: usize = 4;

/// What the desk needs to know about a mail besides its meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailMeta {
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// The sender's address in lower case.
    pub from: Option<String>,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// The decoded subject.
    pub subject: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets.
    pub references: Vec<String>,
    /// Automatic mail that must never get a reply (auto-replies, bounces,
    /// read receipts, lists and bulk mail).
    pub auto: bool,
    /// Raw `Authentication-Results` header values, unfolded.
    pub authentication_results: Vec<String>,
    /// Size of the raw message in bytes.
    pub size: usize,
}

/// Reads the headers the desk needs. A message that cannot be parsed gives
/// a meta with only its size.
pub fn email_meta(raw: &[u8]) -> EmailMeta {
    match MessageParser::default().parse(raw) {
        Some(msg) => meta_of(&msg, raw.len()),
        None => EmailMeta {
            size: raw.len(),
            ..EmailMeta::default()
        },
    }
}

/// The headers the desk needs, from a message parsed already.
pub(crate) fn meta_of(msg: &Message<'_>, size: usize) -> EmailMeta {
    let mut meta = EmailMeta {
        size,
        ..EmailMeta::default()
    };
    meta.message_id = msg
        .message_id()
        .map(|s| s.trim_matches(['<', '>']).to_string());
    if let Some(addr) = msg.from().and_then(|a| a.first()) {
        meta.from = addr.address().map(|a| a.trim().to_lowercase());
        meta.from_name = addr
            .name()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
    }
    meta.subject = msg.subject().map(str::to_string);
    meta.in_reply_to = id_list(msg.in_reply_to());
    meta.references = id_list(msg.references());
    meta.auto = is_automatic(msg);
    meta.authentication_results = msg
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authentication-results"))
        .map(|(_, value)| unfold(value))
        .collect();
    meta
}

fn id_list(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let clean = |s: &str| s.trim().trim_matches(['<', '>']).to_string();
    if let Some(list) = value.as_text_list() {
        list.iter()
            .map(|s| clean(s))
            .filter(|s| !s.is_empty())
            .collect()
    } else if let Some(text) = value.as_text() {
        text.split_whitespace()
            .map(clean)
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        Vec::new()
    }
}

fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parts of a mail the extractor reads.
#[derive(Debug, Default)]
pub(crate) struct ParsedEmail {
    pub subject: Option<String>,
    /// The body as plain text, HTML quotes turned into `> ` lines and
    /// attached messages appended after a forward marker.
    pub body: String,
    pub slips: Vec<SlipFile>,
    pub auto: bool,
}

/// Parses a raw message; `None` only when mail-parser finds no message.
pub(crate) fn read_email(raw: &[u8]) -> Option<ParsedEmail> {
    let msg = MessageParser::default().parse(raw)?;
    Some(parts_of(&msg))
}

/// The parts the extractor reads, from a message parsed already.
pub(crate) fn parts_of(msg: &Message<'_>) -> ParsedEmail {
    let auto = is_automatic(msg);
    let mut parsed = ParsedEmail {
        subject: msg.subject().map(str::to_string),
        auto,
        ..ParsedEmail::default()
    };
    if auto {
        return parsed;
    }
    let mut body = String::new();
    collect_text(msg, 0, &mut body, 0);
    parsed.body = body;
    collect_slips(msg, &mut parsed.slips, 0);
    parsed
}

// ---------------------------------------------------------------------------
// Automatic mail
// ---------------------------------------------------------------------------

static AUTO_SUBJECT: Pat = Pat::new(
    r"(?i)^\s*(automatic reply|auto(matic)?[- ]?(reply|response|antwort)|auto\s*:|out of (the )?office|ooo\b|balasan otomatis|balas otomatis|jawaban otomatis|otomatis\s*:|sedang cuti|undeliverable|undelivered mail|delivery status notification|delivery failure|mail delivery failed|returned mail|failure notice|read\s*:|dibaca\s*:|telah dibaca|read receipt|abwesenheitsnotiz|réponse automatique)",
);

/// Automatic mail by headers and structure (RFC 3834 `Auto-Submitted`,
/// `X-Autoreply`, `Precedence`, list headers, `multipart/report`, daemon
/// senders, well-known auto-reply subjects).
fn is_automatic(msg: &Message<'_>) -> bool {
    for (name, value) in msg.headers_raw() {
        let value = value.trim().to_ascii_lowercase();
        let no = value.is_empty() || value == "no" || value == "false" || value == "0";
        match name.to_ascii_lowercase().as_str() {
            "auto-submitted" if !value.starts_with("no") => return true,
            "x-autoreply" | "x-autorespond" | "x-autoresponder" | "x-autogenerated"
            | "x-auto-response"
                if !no =>
            {
                return true;
            }
            "precedence"
                if ["bulk", "list", "junk", "auto_reply", "auto-reply"]
                    .iter()
                    .any(|p| value.starts_with(p)) =>
            {
                return true;
            }
            "list-id" | "list-unsubscribe" | "list-post" | "x-mailing-list" => return true,
            _ => {}
        }
    }
    if msg.content_type().is_some_and(|ct| {
        ct.c_type.eq_ignore_ascii_case("multipart")
            && ct
                .c_subtype
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return true;
    }
    if let Some(addr) = msg.from().and_then(|a| a.first()).and_then(|a| a.address()) {
        let local = addr.split('@').next().unwrap_or("").to_ascii_lowercase();
        if matches!(
            local.as_str(),
            "mailer-daemon" | "postmaster" | "mail-daemon" | "noreply-dmarc-support"
        ) {
            return true;
        }
    }
    msg.subject().is_some_and(|s| AUTO_SUBJECT.is_match(s))
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

fn mime(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(ct) => (
            ct.c_type.to_ascii_lowercase(),
            ct.c_subtype.as_deref().unwrap_or("").to_ascii_lowercase(),
        ),
        None => ("text".to_string(), "plain".to_string()),
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|cd| cd.c_type.eq_ignore_ascii_case("attachment"))
}

/// Appends the readable text of part `id` (and its children) to `out`.
fn collect_text(msg: &Message<'_>, id: u32, out: &mut String, depth: usize) {
    let Some(part) = msg.part(id) else { return };
    let (ctype, sub) = mime(part);
    match &part.body {
        PartType::Multipart(children) => {
            if sub == "alternative" {
                if let Some(best) = best_alternative(msg, children) {
                    collect_text(msg, best, out, depth);
                }
            } else {
                for &child in children {
                    collect_text(msg, child, out, depth);
                }
            }
        }
        PartType::Text(text)
            if ctype == "text" && (sub == "plain" || sub.is_empty()) && !is_attachment(part) =>
        {
            // Normalised once, with the whole body, by `text::split_reply`.
            push_block(out, text);
        }
        PartType::Html(html) if !is_attachment(part) => {
            push_block(out, &html_to_text(html));
        }
        PartType::Message(inner) if depth < MAX_DEPTH => {
            // An attached message is a forward: the customer submits it.
            out.push_str("\n\n---------- Forwarded message ---------\n");
            if let Some(subject) = inner.subject() {
                out.push_str("Subject: ");
                out.push_str(subject);
                out.push('\n');
            }
            out.push('\n');
            let mut inner_text = String::new();
            collect_text(inner, 0, &mut inner_text, depth + 1);
            out.push_str(&inner_text);
        }
        _ => {}
    }
}

fn push_block(out: &mut String, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(text);
    out.push('\n');
}

/// In `multipart/alternative` the plain text is read when it has content,
/// else the HTML (or a multipart holding it).
fn best_alternative(msg: &Message<'_>, children: &[u32]) -> Option<u32> {
    let mut html = None;
    let mut nested = None;
    for &child in children {
        let Some(part) = msg.part(child) else {
            continue;
        };
        match &part.body {
            PartType::Text(t) if !t.trim().is_empty() => return Some(child),
            PartType::Html(_) => html = html.or(Some(child)),
            PartType::Multipart(_) => nested = nested.or(Some(child)),
            _ => {}
        }
    }
    html.or(nested).or_else(|| children.first().copied())
}

// ---------------------------------------------------------------------------
// Slips
// ---------------------------------------------------------------------------

/// File name endings that make an `application/octet-stream` part a slip.
const SLIP_EXTENSIONS: &[(&str, &str)] = &[
    (".pdf", "application/pdf"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".png", "image/png"),
    (".heic", "image/heic"),
    (".webp", "image/webp"),
];

/// Below this size an image drawn by the HTML through `cid:` is a logo or
/// icon, not a photographed or captured transfer proof.
const LOGO_MAX_BYTES: usize = 10 * 1024;

static LOGO_WORDS: Pat = Pat::new(
    r"(?i)(logo|icon|facebook|twitter|linkedin|instagram|youtube|tiktok|whatsapp-icon|banner|signature|ttd|social|x-logo)",
);

fn collect_slips(msg: &Message<'_>, slips: &mut Vec<SlipFile>, depth: usize) {
    let drawn: Vec<CidImage> = msg
        .parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Html(h) => Some(cid_images(h)),
            _ => None,
        })
        .flatten()
        .collect();
    for part in &msg.parts {
        match &part.body {
            PartType::Message(inner) if depth < MAX_DEPTH => collect_slips(inner, slips, depth + 1),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                if let Some(slip) = as_slip(part, bytes, &drawn) {
                    slips.push(slip);
                }
            }
            PartType::Text(t) => {
                // A PDF or image part with a broken encoding can surface as
                // text; judge it by its declared type like any other.
                if let Some(slip) = as_slip(part, t.as_bytes(), &drawn) {
                    slips.push(slip);
                }
            }
            _ => {}
        }
    }
}

fn as_slip(part: &MessagePart<'_>, bytes: &[u8], drawn: &[CidImage]) -> Option<SlipFile> {
    let (ctype, sub) = mime(part);
    let name = part.attachment_name().map(str::to_string);
    let lower_name = name.as_deref().unwrap_or("").to_ascii_lowercase();
    let content_type = if ctype == "image" && !sub.is_empty() {
        format!("image/{sub}")
    } else if ctype == "application" && (sub == "pdf" || sub == "x-pdf") {
        "application/pdf".to_string()
    } else if ctype == "application" && (sub == "octet-stream" || sub.is_empty()) {
        let (_, by_name) = SLIP_EXTENSIONS
            .iter()
            .find(|(ext, _)| lower_name.ends_with(ext))?;
        (*by_name).to_string()
    } else {
        return None;
    };
    // A truncated or undecodable part is no readable proof.
    if bytes.is_empty() || part.is_encoding_problem {
        return None;
    }
    if content_type.starts_with("image/") && is_signature_image(part, bytes, &lower_name, drawn) {
        return None;
    }
    Some(SlipFile {
        file_name: name,
        content_type,
        bytes: bytes.to_vec(),
    })
}

/// A signature logo or social icon: drawn by the HTML through `cid:` and
/// small (in bytes, in the size the HTML draws it, or named so).
fn is_signature_image(
    part: &MessagePart<'_>,
    bytes: &[u8],
    lower_name: &str,
    drawn: &[CidImage],
) -> bool {
    let Some(cid) = part.content_id() else {
        return false;
    };
    let cid = cid.trim().trim_matches(['<', '>']).to_lowercase();
    if cid.is_empty() {
        return false;
    }
    let Some(img) = drawn.iter().find(|d| d.cid == cid) else {
        return false;
    };
    let drawn_small = match (img.width, img.height) {
        (Some(w), Some(h)) => w <= 320 && h <= 160,
        (Some(w), None) => w <= 200,
        (None, Some(h)) => h <= 100,
        (None, None) => false,
    };
    // A screenshot pasted into the body is drawn large ("width=360") even
    // when the file is small; a logo is drawn small or named so.
    let drawn_large = img.width.is_some_and(|w| w >= 300) || img.height.is_some_and(|h| h >= 200);
    (bytes.len() < LOGO_MAX_BYTES && !drawn_large)
        || drawn_small
        || LOGO_WORDS.is_match(lower_name)
        || LOGO_WORDS.is_match(&img.tag)
}

#[cfg(test)]
pub(crate) const EMAIL_PATTERNS: &[&Pat] = &[&AUTO_SUBJECT, &LOGO_WORDS];

#[cfg(test)]
mod one_parse {
    /// The daemon's single-parse path reads exactly what the two separate
    /// readers read (headers, intent, number, amount, slips).
    #[test]
    fn read_mail_agrees_with_the_two_separate_readers() {
        let mails: [&[u8]; 4] = [
            b"From: Budi <budi@maju.co.id>\r\nSubject: Re: Bukti transfer TU-20261125-0042\r\n\
Message-ID: <m1@maju.co.id>\r\nIn-Reply-To: <x@desk>\r\nReferences: <a@desk> <x@desk>\r\n\
Authentication-Results: mx.desk; dmarc=pass\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
Sudah transfer Rp 1.500.000 ya\r\n--b\r\nContent-Type: image/png; name=bukti.png\r\n\
Content-Disposition: attachment; filename=bukti.png\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n--b--\r\n",
            b"From: a@b.c\r\nSubject: Automatic reply: out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway\r\n",
            b"From: x@y.z\r\nSubject: tolong top up 2,5 juta\r\n\r\nterima kasih\r\n",
            b"\xff\xfe not a message at all",
        ];
        for raw in mails {
            let (meta, extraction) = crate::intake::read_mail(raw, "TU");
            let apart = super::email_meta(raw);
            assert_eq!(meta.message_id, apart.message_id);
            assert_eq!(meta.from, apart.from);
            assert_eq!(meta.subject, apart.subject);
            assert_eq!(meta.in_reply_to, apart.in_reply_to);
            assert_eq!(meta.references, apart.references);
            assert_eq!(meta.auto, apart.auto);
            assert_eq!(meta.authentication_results, apart.authentication_results);
            assert_eq!(meta.size, raw.len());
            assert_eq!(extraction, crate::intake::extract_email(raw, "TU"));
        }
    }

    /// A screenshot pasted into a Gmail body is drawn large by the HTML and
    /// is the slip, however small its file; a logo drawn small is not.
    #[test]
    fn a_pasted_screenshot_is_a_slip_and_a_signature_logo_is_not() {
        let mail = |width: u32, name: &str| {
            format!(
                "From: Budi <budi@maju.co.id>\r\nSubject: TU-20261204-0333\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n\
<div>sudah transfer</div><img src=\"cid:ii_x1\" alt=\"{name}\" width=\"{width}\">\r\n\
--r\r\nContent-Type: image/png; name=\"{name}\"\r\nContent-Disposition: inline; filename=\"{name}\"\r\n\
Content-Transfer-Encoding: base64\r\nContent-ID: <ii_x1>\r\n\r\niVBORw0KGgoAAAANSUhEUgAAACgAAAA8\r\n--r--\r\n"
            )
            .into_bytes()
        };
        assert_eq!(
            crate::intake::extract_email(&mail(360, "image.png"), "TU")
                .slips
                .len(),
            1
        );
        assert_eq!(
            crate::intake::extract_email(&mail(120, "image.png"), "TU")
                .slips
                .len(),
            0
        );
        assert_eq!(
            crate::intake::extract_email(&mail(360, "logo.png"), "TU")
                .slips
                .len(),
            0
        );
    }
}
