//! Free-text understanding shared by email and chat: splitting a reply into
//! the customer's own text and the quoted context, HTML to text, finding
//! amounts (figures, `juta`/`rb`/`k`, Indonesian and English words) and
//! intent keywords in Indonesian and English.
//!
//! Everything here is pure and total: any input gives an answer, never a
//! panic. Rules are general statements about how people write, never about
//! particular messages.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use unicode_normalization::UnicodeNormalization;

use super::Intent;
use super::normal::{self, Cue};
use crate::domain::money::Money;
use crate::domain::order_number::OrderNumber;

/// A regular expression compiled on first use. An invalid pattern (a
/// programming error caught by the tests) matches nothing instead of
/// panicking at run time.
pub(crate) struct Pat {
    src: &'static str,
    re: OnceLock<Option<Regex>>,
}

impl Pat {
    pub(crate) const fn new(src: &'static str) -> Pat {
        Pat {
            src,
            re: OnceLock::new(),
        }
    }

    pub(crate) fn get(&self) -> Option<&Regex> {
        // Keywords are ASCII, so ASCII word boundaries suffice; Unicode
        // boundaries would push the regex engine off its fast path on any
        // text with non-ASCII characters (emoji, accented names).
        self.re
            .get_or_init(|| Regex::new(&self.src.replace(r"\b", r"(?-u:\b)")).ok())
            .as_ref()
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        self.get().is_some_and(|r| r.is_match(s))
    }

    pub(crate) fn captures<'t>(&self, s: &'t str) -> Option<Captures<'t>> {
        self.get().and_then(|r| r.captures(s))
    }
}

// ---------------------------------------------------------------------------
// Reply splitting
// ---------------------------------------------------------------------------

/// A message body divided into what the customer wrote now (including any
/// forwarded message, which they are submitting) and the quoted history.
/// Signatures, mobile footers and disclaimers are in neither.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    pub own: String,
    pub quoted: String,
}

/// "On … wrote:", "Pada … menulis:" and their relatives in other clients.
static ATTRIBUTION: Pat = Pat::new(
    r"(?i)^(on\b.*\bwrote|pada\b.*\bmenulis|le\b.*\ba écrit|am\b.*\bschrieb|el\b.*\bescribió|.*<[^>]*@[^>]*>\s*(wrote|menulis)|.*\b(wrote|menulis))\s*:\s*$",
);
static ATTRIBUTION_START: Pat = Pat::new(r"(?i)^(on|pada|le|am|el)\s+\S");
static ATTRIBUTION_END: Pat = Pat::new(r"(?i)\b(wrote|menulis|a écrit|schrieb|escribió)\s*:\s*$");
static FORWARD_MARKER: Pat = Pat::new(
    r"(?i)^(-{2,}\s*(forwarded message|forwarded e-?mail|pesan (yang )?di ?teruskan|pesan terusan|email terusan|weitergeleitete nachricht|message transféré|mensaje reenviado)\s*-*|begin forwarded message\s*:?|awal pesan yang diteruskan\s*:?|mulai pesan yang diteruskan\s*:?)$",
);
static ORIGINAL_MARKER: Pat = Pat::new(
    r"(?i)^-{2,}\s*(original message|pesan asli|pesan semula|ursprüngliche nachricht)\s*-{2,}$",
);
static HEADER_LINE: Pat = Pat::new(
    r"(?i)^\*{0,2}(from|sent|date|to|cc|bcc|subject|reply-to|dari|dikirim|terkirim|tanggal|kepada|untuk|perihal|subjek|judul|de|von|gesendet|an|betreff|envoyé|à|objet)\*{0,2}\s*:",
);
static HEADER_FROM: Pat = Pat::new(r"(?i)^\*{0,2}(from|dari|de|von)\*{0,2}\s*:");
static HEADER_WHEN: Pat = Pat::new(
    r"(?i)^\*{0,2}(sent|date|dikirim|terkirim|tanggal|gesendet|envoyé|to|kepada|subject|perihal)\*{0,2}\s*:",
);
static HEADER_SUBJECT: Pat =
    Pat::new(r"(?i)^\*{0,2}(subject|perihal|subjek|judul|betreff|objet)\*{0,2}\s*:\s*(.*)$");
static SEPARATOR: Pat = Pat::new(r"^(_{8,}|-{8,}|={8,})$");
static MOBILE_FOOTER: Pat = Pat::new(
    r"(?i)^(sent from|sent via|sent with|dikirim dari|dikirim melalui|dikirim via|dikirim dengan|kirim dari|get outlook for|download outlook|diketik dari|enviado desde|von meinem)\b",
);
static CLOSING: Pat = Pat::new(
    r"(?i)^(salam( hangat| hormat| sukses)?|hormat (kami|saya)|regards|best regards|kind regards|warm regards|best wishes|best|cheers|thanks( again| a lot| and regards)?|many thanks|thank you( very much)?|thx|tq|trims|makasih|terima ?kasih( banyak| atas perhatiannya)?|wassalam|sincerely|yours (sincerely|truly|faithfully)|mit freundlichen grüßen.*|viele grüße|atenciosamente|cordialement)[\s,.!🙏]*$",
);
static DISCLAIMER: Pat = Pat::new(
    r"(?i)^(disclaimer|confidentiality notice|confidential|catatan kerahasiaan|perhatian)\s*:",
);

/// Splits a plain-text body. `is_forward` says the subject marks the mail
/// as forwarded (`Fwd:`, `FW:`): then the first Outlook-style header block
/// starts the forwarded message, which counts as own text.
pub(crate) fn split_reply(text: &str, is_forward: bool) -> Split {
    #[derive(PartialEq, Clone, Copy)]
    enum State {
        Own,
        Signature,
        PrefixQuote,
        RestQuote,
        /// Inside a `>`-marked forwarded message (HTML forwards).
        ForwardQuoted,
    }
    let text = normalise_text(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut own: Vec<String> = Vec::new();
    let mut quoted: Vec<String> = Vec::new();
    let mut state = State::Own;
    let mut forward_used = false;
    let mut own_has_content = false;
    let mut i = 0;

    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        i += 1;
        if state == State::RestQuote {
            quoted.push(strip_quote_marks(t).to_string());
            continue;
        }
        if t.starts_with('>') {
            let inner = strip_quote_marks(t);
            // A forward converted from HTML sits inside a quote container;
            // it is still the customer's submission.
            if FORWARD_MARKER.is_match(inner) {
                state = State::ForwardQuoted;
                forward_used = true;
                continue;
            }
            if state == State::ForwardQuoted {
                if HEADER_LINE.is_match(inner) {
                    if let Some(c) = HEADER_SUBJECT.captures(inner) {
                        own.push(c.get(2).map_or("", |m| m.as_str()).to_string());
                    }
                } else {
                    own.push(inner.to_string());
                }
                continue;
            }
            state = State::PrefixQuote;
            quoted.push(inner.to_string());
            continue;
        }
        if state == State::ForwardQuoted {
            if t.is_empty() {
                continue;
            }
            state = State::Own;
        }
        // A forwarded message is the customer's submission: back to own text.
        if FORWARD_MARKER.is_match(t) {
            state = State::Own;
            forward_used = true;
            i = skip_header_block(&lines, i, &mut own);
            continue;
        }
        let original = ORIGINAL_MARKER.is_match(t);
        let separator_before_headers = SEPARATOR.is_match(t)
            && next_nonblank(&lines, i).is_some_and(|j| header_block_at(&lines, j));
        let header_here = header_block_at(&lines, i - 1);
        if original || separator_before_headers || header_here {
            let start = if header_here { i - 1 } else { i };
            if is_forward && !forward_used {
                forward_used = true;
                state = State::Own;
                i = skip_header_block(&lines, start, &mut own);
            } else {
                state = State::RestQuote;
                i = skip_header_block(&lines, start, &mut quoted);
            }
            continue;
        }
        if ATTRIBUTION.is_match(t) {
            state = if prefixed_quote_follows(&lines, i) {
                State::PrefixQuote
            } else {
                State::RestQuote
            };
            continue;
        }
        // Gmail wraps a long attribution over two lines.
        if ATTRIBUTION_START.is_match(t)
            && !ATTRIBUTION_END.is_match(t)
            && lines
                .get(i)
                .is_some_and(|n| ATTRIBUTION_END.is_match(n.trim()))
            && (t.contains('@') || t.chars().any(|c| c.is_ascii_digit()))
        {
            i += 1;
            state = if prefixed_quote_follows(&lines, i) {
                State::PrefixQuote
            } else {
                State::RestQuote
            };
            continue;
        }
        if state == State::PrefixQuote {
            if t.is_empty() {
                continue;
            }
            // Text written below the quote (bottom posting) is new text.
            state = State::Own;
        }
        if line.trim_end() == "--" || line == "-- " || t == "—" || t == "--" {
            state = State::Signature;
            continue;
        }
        if MOBILE_FOOTER.is_match(t) || DISCLAIMER.is_match(t) {
            state = State::Signature;
            continue;
        }
        if state == State::Own && own_has_content && CLOSING.is_match(t) {
            state = State::Signature;
            continue;
        }
        if state == State::Own {
            if !t.is_empty() {
                own_has_content = true;
            }
            own.push(line.to_string());
        }
    }
    Split {
        own: own.join("\n").trim().to_string(),
        quoted: quoted.join("\n").trim().to_string(),
    }
}

/// After an attribution line: `>`-prefixed lines form a quote that may be
/// followed by new text; anything else (Yahoo's indented quote, unprefixed
/// HTML conversions) is quote to the end.
fn prefixed_quote_follows(lines: &[&str], from: usize) -> bool {
    next_nonblank(lines, from).is_some_and(|j| lines[j].trim().starts_with('>'))
}

fn next_nonblank(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&j| !lines[j].trim().is_empty())
}

/// An Outlook-style header block starts at `at`: a `From:` line followed
/// within three lines by a `Sent:`/`Date:`/`To:`/`Subject:` line.
fn header_block_at(lines: &[&str], at: usize) -> bool {
    let Some(first) = lines.get(at) else {
        return false;
    };
    if !HEADER_FROM.is_match(first.trim()) {
        return false;
    }
    lines
        .iter()
        .skip(at + 1)
        .take(3)
        .any(|l| HEADER_WHEN.is_match(l.trim()))
}

/// Skips blank lines and header lines from `from`; the value of a subject
/// line is kept in `sink` (it names what the message is about). Returns the
/// index of the first body line.
fn skip_header_block(lines: &[&str], from: usize, sink: &mut Vec<String>) -> usize {
    let mut i = from;
    let mut seen_header = false;
    while i < lines.len() {
        let t = lines[i].trim();
        if t.is_empty() {
            if seen_header {
                return i + 1;
            }
            i += 1;
            continue;
        }
        if HEADER_LINE.is_match(t) {
            seen_header = true;
            if let Some(c) = HEADER_SUBJECT.captures(t) {
                sink.push(c.get(2).map_or("", |m| m.as_str()).to_string());
            }
            i += 1;
            continue;
        }
        // A wrapped header value (a long To: list) continues the block.
        if seen_header && (lines[i].starts_with(' ') || lines[i].starts_with('\t')) {
            i += 1;
            continue;
        }
        return i;
    }
    i
}

fn strip_quote_marks(t: &str) -> &str {
    t.trim_start_matches(['>', ' ', '\t'])
}

/// Text as the rules read it: CRLF to LF, non-breaking and odd spaces to
/// plain spaces, zero-width characters dropped, and compatibility forms to
/// their plain characters (Unicode NFKC): the fullwidth `ＴＵ－２０２６…` a
/// phone keyboard pastes, the "fancy" bold digits `𝟭.𝟱𝟬𝟬.𝟬𝟬𝟬` of chat
/// apps, ligatures. The few characters NFKC expands (`﷽` becomes 18) cannot
/// grow a hostile text past twice its size: what lies beyond is dropped.
pub(crate) fn normalise_text(text: &str) -> String {
    let spaced = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter_map(|c| match c {
            '\u{a0}' | '\u{2007}' | '\u{202f}' | '\u{2009}' | '\u{200a}' => Some(' '),
            '\u{200b}' | '\u{feff}' | '\u{200c}' | '\u{200d}' => None,
            c => Some(c),
        })
        .collect::<String>();
    if spaced.is_ascii() {
        return spaced;
    }
    let limit = spaced.len().saturating_mul(2);
    let mut out = String::with_capacity(spaced.len());
    for c in spaced.nfkc() {
        if out.len() + c.len_utf8() > limit {
            break;
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------
// HTML to text
// ---------------------------------------------------------------------------

static CID_SRC: Pat = Pat::new(r#"(?is)<img\b[^>]*?\bsrc\s*=\s*["']?cid:([^"'\s>]+)[^>]*>"#);
static ATTR_WIDTH: Pat = Pat::new(r#"(?i)\bwidth\s*[=:]\s*["']?\s*(\d+)"#);
static ATTR_HEIGHT: Pat = Pat::new(r#"(?i)\bheight\s*[=:]\s*["']?\s*(\d+)"#);

/// An `<img src="cid:…">` in an HTML body: the content id and the size the
/// HTML draws it at (signature logos are drawn small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CidImage {
    pub cid: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub tag: String,
}

pub(crate) fn cid_images(html: &str) -> Vec<CidImage> {
    let Some(re) = CID_SRC.get() else {
        return Vec::new();
    };
    re.captures_iter(html)
        .map(|c| {
            let tag = c.get(0).map_or("", |m| m.as_str()).to_string();
            let num = |p: &Pat| {
                p.captures(&tag)
                    .and_then(|c| c.get(1))
                    .and_then(|m| m.as_str().parse().ok())
            };
            CidImage {
                cid: c
                    .get(1)
                    .map_or("", |m| m.as_str())
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_lowercase(),
                width: num(&ATTR_WIDTH),
                height: num(&ATTR_HEIGHT),
                tag: tag.to_lowercase(),
            }
        })
        .collect()
}

/// Turns an HTML body into plain text: block elements become line breaks,
/// `<blockquote>` and quote containers (`gmail_quote`, `yahoo_quoted`,
/// Outlook's reply container) become `> ` lines so the reply splitter
/// treats them as quotes, and entities are decoded.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    // Stack of open div/blockquote elements: whether each is a quote.
    let mut stack: Vec<bool> = Vec::new();
    let mut quote_depth = 0usize;
    let mut rest = html;
    let mut at_line_start = true;
    let mut skip_until: Option<&'static str> = None;

    let push_text = |out: &mut String, text: &str, depth: usize, at_line_start: &mut bool| {
        for (k, piece) in text.split('\n').enumerate() {
            if k > 0 {
                out.push('\n');
                *at_line_start = true;
            }
            let piece = collapse_ws(piece);
            if piece.trim().is_empty() {
                if !*at_line_start && !piece.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                continue;
            }
            if *at_line_start {
                for _ in 0..depth {
                    out.push_str("> ");
                }
                out.push_str(piece.trim_start());
            } else {
                out.push_str(&piece);
            }
            *at_line_start = false;
        }
    };

    while !rest.is_empty() {
        if let Some(end_tag) = skip_until {
            match find_ci(rest, end_tag) {
                Some(p) => {
                    rest = &rest[p..];
                    skip_until = None;
                    // fall through to parse the end tag itself
                }
                None => break,
            }
        }
        let Some(lt) = rest.find('<') else {
            let decoded = decode_entities(rest).replace('\n', " ");
            push_text(&mut out, &decoded, quote_depth, &mut at_line_start);
            break;
        };
        if lt > 0 {
            // Newlines inside HTML source are just spaces.
            let decoded = decode_entities(&rest[..lt]).replace(['\n', '\r'], " ");
            push_text(&mut out, &decoded, quote_depth, &mut at_line_start);
        }
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = match rest.find("-->") {
                Some(p) => &rest[p + 3..],
                None => "",
            };
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
            .collect::<String>()
            .to_ascii_lowercase();
        let newline = |out: &mut String, at_line_start: &mut bool| {
            if !*at_line_start {
                out.push('\n');
                *at_line_start = true;
            }
        };
        match name.as_str() {
            "style" | "script" | "head" | "title" if !closing => {
                skip_until = Some(match name.as_str() {
                    "style" => "</style",
                    "script" => "</script",
                    "title" => "</title",
                    _ => "</head",
                });
            }
            "br" => {
                out.push('\n');
                at_line_start = true;
            }
            "div" | "blockquote" => {
                newline(&mut out, &mut at_line_start);
                if closing {
                    if let Some(was_quote) = stack.pop()
                        && was_quote
                    {
                        quote_depth = quote_depth.saturating_sub(1);
                    }
                } else if !tag.ends_with('/') {
                    let lower = tag.to_ascii_lowercase();
                    // Outlook's reply/forward container only wraps the
                    // header block, which the splitter recognises itself
                    // (and tells a forward from a reply by the subject).
                    let is_quote = name == "blockquote"
                        || (lower.contains("gmail_quote")
                            && !lower.contains("gmail_quote_container"))
                        || lower.contains("yahoo_quoted")
                        || lower.contains("moz-cite-prefix")
                        || lower.contains("protonmail_quote");
                    stack.push(is_quote);
                    if is_quote {
                        quote_depth += 1;
                    }
                }
            }
            "p" | "tr" | "li" | "ul" | "ol" | "table" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
            | "hr" | "center" | "section" | "article" | "header" | "footer" | "pre" => {
                newline(&mut out, &mut at_line_start);
            }
            "td" | "th" if closing && !at_line_start => out.push(' '),
            _ => {}
        }
    }
    // Trim trailing spaces on each line and collapse runs of blank lines.
    let mut cleaned = String::with_capacity(out.len());
    let mut blank_run = 0;
    for line in out.lines() {
        let line = line.trim_end();
        if line.trim_start_matches(['>', ' ']).is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
            cleaned.push_str(line.trim_end_matches(' '));
        } else {
            blank_run = 0;
            cleaned.push_str(line);
        }
        cleaned.push('\n');
    }
    cleaned.trim().to_string()
}

/// Byte offset of the ASCII `needle` (lower case) in `hay`, ignoring ASCII
/// case. Compares in place: lower-casing a copy of the rest of a large body
/// for every `<style>` would make HTML conversion quadratic.
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' || c == '\t' {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

/// Decodes the HTML entities that occur in mail: named basics and numeric.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let Some(end) = end else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "nbsp" | "ensp" | "emsp" | "thinsp" => Some(' '),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "rsquo" | "lsquo" => Some('\''),
            "rdquo" | "ldquo" => Some('"'),
            "ndash" => Some('–'),
            "mdash" => Some('—'),
            "hellip" => Some('…'),
            "zwnj" | "zwj" | "shy" => Some('\u{200b}'),
            _ => entity.strip_prefix('#').and_then(|n| {
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some('\u{a0}') | Some('\u{200b}') => {
                if decoded == Some('\u{a0}') {
                    out.push(' ');
                }
                rest = &rest[end + 1..];
            }
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------
// Amounts
// ---------------------------------------------------------------------------

/// How an amount was written, which decides how much context it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    /// With a currency, a multiplier (`juta`, `rb`, `k`) or in words.
    Marked,
    /// Digits with thousands separators (`1.500.000`).
    Grouped,
    /// A bare digit run (`1500000`): only after an amount word.
    Plain,
}

/// One amount found in free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmountHit {
    pub money: Money,
    pub start: usize,
    pub end: usize,
    pub strength: Strength,
}

static NUMBER: Pat = Pat::new(
    r"(?i)(?P<cur>\b(?:rp|idr)\.?\s*)?(?P<num>\d(?:[\d.,]*\d)?)(?P<mult>\s*(?:juta|jt+|jeti|ribu|rb+|rebu|ewu|k|miliar|milyar|million|thousand|billion|mio|mil|mn|m)\b)?(?P<dash>\s*,\s*-{1,2})?(?P<cur2>\s*(?:idr|rupiah|rp)\b)?",
);
/// Right before an order number's sequence: its date part and a separator.
static ORDER_DATE_BEFORE: Pat = Pat::new(r"(?i)[a-z]{1,5}[\s\-_]{0,3}\d{8}[\s\-_]{1,3}$");
static THOUSANDS_GROUPED: Pat = Pat::new(r"^\d{1,3}(?:[.,]\d{3})+$");
/// "1jt500", "2jt 250", "1jt750rb", "1jt 50rb": millions with the
/// thousands written after the word (three digits, or any with their own
/// thousands word).
/// The figure may be glued to the word before ("ubah ke1jt250").
static JUTA_REST: Pat =
    Pat::new(r"(?i)(?:\b|[a-z])(\d{1,3})\s?(?:jt|juta|jeti)\s?(\d{1,3})(\s?(?:rb|ribu|rebu|k)\b)?");
/// Words that introduce an amount; a bare digit run counts only after one.
static AMOUNT_LEAD: Pat = Pat::new(
    r"(?i)\b(amount|jumlah(nya)?|nominal(nya)?|sebesar|senilai|sejumlah|total|top ?-?up|topup|isi( saldo)?|deposit|tf|trf|transfer(an)?|ditransfer|bayar|dibayar|menjadi|jadi|to|of)\s*[:=]?\s*$",
);
/// Context right before an amount that makes it not a top-up amount:
/// fees, limits and thresholds ("transfer di atas 50 juta"), loans (balances: [`BALANCE_BEFORE`]).
static DISTRACTOR_BEFORE: Pat = Pat::new(
    r"(?i)(biaya|\bfee\b|admin fee|ongkos|potongan|\bcharges?\b|minimal|minimum|maksimal|maximum|\blimit\b|bunga|cicilan|denda|pinjaman|\bloan\b|cashback|diskon|discount|bonus|gaji|salary|harga|price|kas kecil|selisih|di ?atas|di ?bawah|lebih dari|kurang dari|more than|less than|above|below|exceeding|melebihi)[^.!?\n]{0,25}$",
);
/// Taxes and budgets anywhere in the clause before an amount: "PPN 11%
/// sebesar Rp 493.900", "our quarterly budget for this service is IDR
/// 85.000.000", "anggaran top up kami bulan ini Rp 35 juta".
static TAX_OR_BUDGET_BEFORE: Pat =
    Pat::new(r"(?i)\b(ppn|pph|vat|pajak|tax|npwp|anggaran|budget|plafon|pagu)\b[^.!?\n]{0,45}$");
/// A balance stated in the clause before an amount: "sisa saldo di akun
/// kami per pagi ini Rp 1.605.000", "our balance stands at IDR 310,000",
/// "balance: Rp 50.000" (unless the clause adds to it: [`TOPUP_ACTION`]).
static BALANCE_BEFORE: Pat = Pat::new(
    r"(?i)(sisa saldo|\bsaldo[a-z]*\b[^.!?\n]{0,40}?\b(saat ini|sekarang|skrg|skrng|tinggal|tersisa|masih|msh|hanya|cuma|sisa|per|terakhir|akhir|awal)\b|\b(current|remaining|available|new|closing|opening|account|ending|starting)\s+balance|\bbalance\b[^.!?\n]{0,40}?\b(is|now|stands|was|dropped|fell|shows?|showing|remains?|currently|still|down)\b|\bbalance\s*:|\b(menunjukkan|menampilkan|tertera|terlihat|tercatat|shows?|showing|displays?)\s+(saldo|balance)\b)[^.!?\n]{0,45}$",
);
/// Words that add to a balance: where one is in the clause, a balance word
/// names what is topped up ("isi saldo 2jt", "recharge the balance: IDR
/// 4,000,000").
static TOPUP_ACTION: Pat = Pat::new(
    r"(?i)\b(top\s?-?up[a-z]*|topup[a-z]*|isi|isikan|mengisi|pengisian|tambah[a-z]*|menambah[a-z]*|penambahan|recharge[a-z]*|reload[a-z]*|add|deposit[a-z]*|transfer[a-z]*|mentransfer|ditransfer|tf|trf|kirim[a-z]*|mengirim[a-z]*|dikirim[a-z]*|bayar[a-z]*|membayar|dibayar[a-z]*|paid|pay|payment|setor[a-z]*|menyetor|disetor[a-z]*|remit[a-z]*|wired?|request[a-z]*|ubah[a-z]*|ganti[a-z]*|naik[a-z]*|menjadi|jadi)\b",
);
/// Whether the clause before an amount states a balance and does not add
/// to it.
fn balance_before(clause: &str) -> bool {
    BALANCE_BEFORE.is_match(clause) && !TOPUP_ACTION.is_match(clause)
}
/// The difference between two amounts, right before it: "kelebihan 100rb",
/// "ditolak (kurang 50rb)",
/// "kurangnya Rp 500.000", "topped up the missing 500k", "overpaid by".
static DIFFERENCE_BEFORE: Pat = Pat::new(
    r"(?i)\b((kelebihan|kekurangan)(nya)?|lebihnya|kurangnya|kurang|the missing|overpaid by|short by)\s*(sebesar\s*|of\s*)?(rp\.?\s*|idr\s*)?$",
);
/// A balance stated right before the amount: "saldonya ... masih ada Rp
/// 3.200.000", "our balance still shows the old figure (Rp 420.000)".
static BALANCE_STATED_BEFORE: Pat = Pat::new(
    r"(?i)\b(saldo\w*|balance)\b[^.!?\n]{0,40}\b(masih ada|masih|tinggal|tersisa|sisa|sekarang|cuma|hanya|minus|negatif|shows?|showing|is|now|still|figure)\s*[:(]?\s*$",
);

/// A balance said in a few words before the amount, in chat shorthand:
/// "saldo td 85rb", "saldonya udh 5jt lagi", "saldo jd 5,2jt", "saldo blm
/// nambah nih, msh 45rb" (the words between are checked for a top-up:
/// [`balance_said_before`]).
static BALANCE_SAID_BEFORE: Pat = Pat::new(
    r"(?i)(?:^|[^\w])((?:[\w-]+\s+){0,2})saldo\w*((?:\s+[^\s.!?]+){0,4}?)\s+(udah|udh|sudah|sdh|skrg|skrng|sekarang|td|tadi|msh|masih|jadi|jd|menjadi|kini)\s*[:(]?\s*$",
);

/// Whether the words before `pos` state a balance in shorthand, with no
/// top-up in the two words before the balance word nor between it and the
/// amount ("isi saldo sekarang 3jt", "tambah saldo jadi 3jt", "saldo sudah
/// saya tf 2jt" are no balances).
fn balance_said_before(text: &str, pos: usize) -> bool {
    BALANCE_SAID_BEFORE
        .captures(tail_before(text, pos, 60))
        .is_some_and(|c| {
            let adds = |k: usize| c.get(k).is_some_and(|m| TOPUP_ACTION.is_match(m.as_str()));
            !adds(1) && !adds(2)
        })
}

/// An amount that the customer says is NOT the one ("bukan Rp 15.000.000").
static NEGATED_BEFORE: Pat = Pat::new(
    r"(?i)\b(bukan|not|instead of|salah (input|ketik|tulis|transfer)|typo|keliru)\b[^.!?\n]{0,12}$",
);
/// ... unless a contrast comes between: "bukan 3jt tapi 3,3jt".
static CONTRAST_BEFORE: Pat = Pat::new(
    r"(?i)\b(tapi|tetapi|tp|melainkan|namun|but|rather|it'?s|yang benar|yg bener|seharusnya|harusnya)\b[^.!?\n]{0,8}$",
);

/// Whether the amount at `start` is one the customer rules out.
fn negated(text: &str, start: usize) -> bool {
    let before = clause_before(text, start);
    NEGATED_BEFORE.is_match(before) && !CONTRAST_BEFORE.is_match(before)
}
/// Words right after an amount that take it back for the next one: "eh",
/// "eh salah", "I mean", "sorry" (not "maksudnya": "2jt maksudnya" is
/// what was meant).
static AMOUNT_RETRACTED_AFTER: Pat = Pat::new(
    r"(?i)^[\s,.;:-]{0,3}\(?(eh|eh,? salah|salah,?|sorry,?( i mean| i meant)?|i mean|i meant|oops,?|typo,?)\b[^.!?\n]{0,12}$",
);
/// ... or a self-correction further on, shortly before the next amount:
/// "5jt ya. Eh salah, maksud saya 15jt", "Rp 2.500.000? Sorry, typo —
/// Rp 2.000.000", "2jt. eh tunggu, bos bilang 2,2jt" (a bare "maksudnya"
/// confirms the amount before it: "2jt maksudnya, bukan 20jt").
static AMOUNT_CORRECTED_BEFORE: Pat = Pat::new(
    r"(?i)\b(eh,? salah|salah,? maksud\w*|sorry,? (typo|salah|i mean|i meant|wrong)|i mean|i meant|typo|maksud (saya|sy|aku|gw|gue|kami)|maksudku|eh,? (sorry|sori|tunggu|bentar|bntr|sebentar|wait|ralat|koreksi)|scratch that|make that|correction)\b[^.!?\n]{0,25}$",
);
/// The longest gap between two amounts in which a self-correction is read.
const CORRECTION_GAP: usize = 80;
/// For a change of amount: the old amount ("from", "dari", "semula").
static OLD_BEFORE: Pat = Pat::new(
    r"(?i)\b(from|dari|semula|sebelumnya|awalnya|lama|old|previously|was|tadinya|(ga|gak|nggak|ngga|enggak|gk|tidak|tdk) jadi|batal\w*|cancel|(ku|ter|di)?ketik|typed|wrote|write|written|(ku|ter|di)?tulis|nulis)\b[^.!?\n]{0,12}$",
);
/// For a change of amount: the new amount ("to", "menjadi", "jadi", an arrow: "Rp 1.600.000 → Rp 2.000.000").
static NEW_BEFORE: Pat = Pat::new(
    r"(?i)(→|->|=>|⇒)\s*(rp\.?|idr)?\s*$|\b(to|into|menjadi|jadi|jd|ke|dirubah|diubah|be|seharusnya|harusnya|semestinya|mestinya|should be|(correct|right)( one| amount| figure)? is|nominalnya|dijadikan|jadikan|jadiin|tapi|tetapi|melainkan|but|maksudnya|padahal)\b[^.!?\n]{0,12}$",
);
/// The contrasts among [`NEW_BEFORE`]'s words: weaker than a change word.
static CONTRAST_ONLY_BEFORE: Pat =
    Pat::new(r"(?i)\b(tapi|tetapi|melainkan|but|padahal)\b[^.!?\n]{0,12}$");
/// A verb of changing right before an amount ("order yg 1,5jt diganti 1jt
/// aja"): weaker than [`NEW_BEFORE`], since "ganti 1,5jt jadi 1jt" puts it
/// before the old amount.
static CHANGED_BEFORE: Pat = Pat::new(
    r"(?i)\b(diganti|ganti|gantiin|digantikan|gantikan|direvisi|dikoreksi|diralat)\b\s*(aja|saja|dong|ya)?\s*(rp\.?|idr)?\s*$",
);
/// Words right after an amount that say it has already arrived ("2jt udh
/// masuk", "the 5 million top-up arrived").
static AMOUNT_ARRIVED_AFTER: Pat = Pat::new(
    r"(?i)^[^.!?\n]{0,20}?\b((sudah|udah|udh|sdh|dah|telah|already) (masuk|diterima|terisi|bertambah|credited|received|arrived)|(has|have|was|were) (been )?(credited|received|arrived)|arrived|went through)\b",
);
static TOTAL_BEFORE: Pat =
    Pat::new(r"(?i)\b(total|totalnya|seluruhnya|keseluruhan|in total)\b[^.!?\n]{0,15}$");
/// "IDR 20,000,000 in total – split into ...": the total named after it.
static TOTAL_AFTER: Pat = Pat::new(r"(?i)^\s{0,2}(in total|altogether|seluruhnya|keseluruhan)\b");
/// A time in the past in the clause before an amount: "bulan lalu kami top
/// up Rp 10.000.000", "last month we paid 3 million", "biasanya 10jt".
/// Beside another amount, such one is history, not the one acted on.
/// A day or time gone by, in the clause before an amount ("kmrn sy topup 1jt").
static PAST_TIME: Pat = Pat::new(
    r"(?i)\b(kemarin|kemaren|kmrn|kmarin|kmaren|yesterday|minggu lalu|last week|bulan lalu|last month|tadi pagi)\b",
);
/// Now, right before an amount ("skrg mau 2jt", "this time 3 million").
static PRESENT_BEFORE: Pat = Pat::new(
    r"(?i)\b(sekarang|skrg|skrang|skg|now|kali ini|this time|hari ini|today)\b[^.!?\n]{0,20}$",
);
static PAST_BEFORE: Pat = Pat::new(
    r"(?i)\b((bulan|minggu|tahun|bln|mgg|thn) (lalu|kemarin|kmrn|kmarin)|last (month|week|year|time)|the month before|sebelumnya|sblmnya|biasa(nya)?|bisanya|usually|previously|wingi|(kaya|kayak|kyk|seperti|spt|sama kaya|like) (kemarin|kmrn|kmarin|biasa|last time|before))\b[^.!?\n]{0,45}$",
);

/// Every amount in `text` that a person would read as a sum of money the
/// writer states, in order of appearance. Account, phone, reference and
/// invoice numbers, dates, times, percentages, balances and fees are left out.
/// At most this many amounts of one text are considered (the first ones): a
/// customer states one to a handful, and the choice between them compares
/// pairs, which must stay cheap on a body holding a hundred thousand figures.
pub(crate) const MAX_AMOUNT_CANDIDATES: usize = 32;

pub(crate) fn find_amounts(text: &str) -> Vec<AmountHit> {
    let mut hits = figure_amounts(text);
    hits.extend(word_amounts(text));
    hits.extend(juta_rest_amounts(text));
    hits.extend(spaced_amounts(text));
    hits.extend(spoken_fraction_amounts(text));
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    // Where two readings overlap ("1 juta" inside "1 juta 500"), the
    // longer one is what was written.
    hits.dedup_by(|later, earlier| later.start < earlier.end);
    let mut hits = join_compounds(text, hits);
    add_trailing_halves(text, &mut hits);
    hits.retain(|h| {
        let before = clause_before(text, h.start);
        !DISTRACTOR_BEFORE.is_match(before)
            && !TAX_OR_BUDGET_BEFORE.is_match(before)
            && !balance_before(before)
            && !DIFFERENCE_BEFORE.is_match(before)
            && !BALANCE_STATED_BEFORE.is_match(tail_before(text, h.start, 60))
            && !balance_said_before(text, h.start)
    });
    hits.truncate(MAX_AMOUNT_CANDIDATES);
    hits
}

/// "Rp1 500 000", "Rp 1. 500.000": after a currency, thousands grouped by
/// spaces (or a dot with a stray space) are one figure. Only with the
/// currency: bare digit groups are order numbers, phones and accounts.
static SPACED_THOUSANDS: Pat =
    Pat::new(r"(?i)\b(?:rp|idr)\.?[ ]?([0-9]{1,3})((?:\.?[ ][0-9]{3}|\.[0-9]{3}){1,4})\b");

/// "2 setengah jt", "1 koma 75 jt", "1 point 2 million": digits said with
/// a half or a spoken decimal point before the scale word (as dictated or
/// typed the way it is said).
static SPOKEN_FRACTION: Pat = Pat::new(
    r"(?i)\b([0-9]{1,3})\s{1,2}(?:(setengah|stengah|half)|(?:koma|point)\s{1,2}([0-9]{1,3}))\s{0,2}(jt|juta|jeti|rb|ribu|rebu|million|thousand)\b",
);

fn spoken_fraction_amounts(text: &str) -> Vec<AmountHit> {
    marked_amounts(text, &SPOKEN_FRACTION, |c, _| {
        let whole: i64 = c.get(1)?.as_str().parse().ok()?;
        let NumWord::Scale(unit) = num_word(&c.get(4)?.as_str().to_ascii_lowercase())? else {
            return None;
        };
        let fraction = match (c.get(2), c.get(3)) {
            (Some(_), _) => unit / 2,
            (None, Some(d)) => {
                let digits = d.as_str();
                let places = u32::try_from(digits.len()).ok()?;
                digits.parse::<i64>().ok()? * unit / 10_i64.pow(places)
            }
            (None, None) => return None,
        };
        Some(Money::from_major(whole * unit + fraction))
    })
}

fn spaced_amounts(text: &str) -> Vec<AmountHit> {
    marked_amounts(text, &SPACED_THOUSANDS, |c, whole| {
        let groups = c.get(2)?.as_str();
        // A figure of its own notation ("Rp 1.500.000") is read elsewhere;
        // one followed by decimals or more digits is not this notation.
        if !groups.contains(' ')
            || text[whole.end()..].starts_with(|ch: char| ch.is_ascii_digit() || ch == ',')
        {
            return None;
        }
        let digits: String = c
            .get(1)?
            .as_str()
            .chars()
            .chain(groups.chars())
            .filter(char::is_ascii_digit)
            .collect();
        Some(Money::from_major(digits.parse().ok()?))
    })
}

fn juta_rest_amounts(text: &str) -> Vec<AmountHit> {
    marked_amounts(text, &JUTA_REST, |c, whole| {
        // Without its own thousands word the rest is three digits that
        // end there ("1 juta 500.000" is another notation).
        if c.get(3).is_none()
            && (c.get(2)?.as_str().len() != 3
                || text[whole.end()..]
                    .starts_with(|ch: char| ch.is_alphanumeric() || ch == '.' || ch == ','))
        {
            return None;
        }
        let millions: i64 = c.get(1)?.as_str().parse().ok()?;
        let thousands: i64 = c.get(2)?.as_str().parse().ok()?;
        Some(Money::from_major(millions * 1_000_000 + thousands * 1_000))
    })
}

/// Every match of `pat` that `read` takes for a sum, as a marked amount
/// spanning the whole match.
fn marked_amounts(
    text: &str,
    pat: &Pat,
    read: impl Fn(&Captures<'_>, regex::Match<'_>) -> Option<Money>,
) -> Vec<AmountHit> {
    let Some(re) = pat.get() else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            // A figure glued to the word before ("ke1jt250") starts at its digits.
            let glued =
                whole.as_str().len() - whole.as_str().trim_start_matches(char::is_alphabetic).len();
            Some(AmountHit {
                money: read(&c, whole)?,
                start: whole.start() + glued,
                end: whole.end(),
                strength: Strength::Marked,
            })
        })
        .collect()
}

/// "1jt 250rb", "2 juta 500 ribu": a whole number of millions followed
/// right away by thousands is one amount.
fn join_compounds(text: &str, hits: Vec<AmountHit>) -> Vec<AmountHit> {
    const MILLION: i64 = 1_000_000 * 100;
    let ends_with_word = |h: &AmountHit, words: &[&str]| {
        let typed = text[h.start..h.end].trim_end().to_ascii_lowercase();
        words.iter().any(|w| typed.ends_with(w))
    };
    let mut out: Vec<AmountHit> = Vec::with_capacity(hits.len());
    for hit in hits {
        if let Some(prev) = out.last_mut()
            && prev.end <= hit.start
            && text[prev.end..hit.start].chars().all(|c| c == ' ')
            && hit.start - prev.end <= 2
            && prev.money.minor() % MILLION == 0
            && hit.money.minor() < MILLION
            && ends_with_word(prev, &["juta", "jt"])
            && ends_with_word(&hit, &["ribu", "rb", "k"])
            && let Some(sum) = prev.money.checked_add(hit.money)
        {
            prev.money = sum;
            prev.end = hit.end;
            continue;
        }
        out.push(hit);
    }
    out
}

/// "2 juta setengah", "3jt setengah": a whole number of millions (or
/// thousands) followed by "setengah" is that and a half.
fn add_trailing_halves(text: &str, hits: &mut [AmountHit]) {
    for h in hits.iter_mut() {
        let typed = text[h.start..h.end].trim_end().to_ascii_lowercase();
        let unit: i64 = if typed.ends_with("juta") || typed.ends_with("jt") {
            1_000_000
        } else if typed.ends_with("ribu") || typed.ends_with("rb") {
            1_000
        } else {
            continue;
        };
        let rest = &text[h.end..];
        let gap = rest.len() - rest.trim_start().len();
        let Some(after) = rest.trim_start().get(..8) else {
            continue;
        };
        let whole_units = h.money.minor() % (unit * 100) == 0;
        let ends_word = !rest[gap + 8..].starts_with(char::is_alphanumeric);
        if gap > 0
            && gap <= 2
            && whole_units
            && ends_word
            && after.eq_ignore_ascii_case("setengah")
            && let Some(sum) = h.money.checked_add(Money::from_major(unit / 2))
        {
            h.money = sum;
            h.end += gap + 8;
        }
    }
}

fn figure_amounts(text: &str) -> Vec<AmountHit> {
    let Some(re) = NUMBER.get() else {
        return Vec::new();
    };
    let mut hits = Vec::new();
    for c in re.captures_iter(text) {
        let (Some(whole), Some(num)) = (c.get(0), c.name("num")) else {
            continue;
        };
        let has_cur = c.name("cur").is_some() || c.name("cur2").is_some();
        let mult = c.name("mult");
        // What comes right before the digits must end a word: no letters
        // (tu2026…), no `-`/`/`/`+`/`#` (accounts, dates, phones, ids).
        if c.name("cur").is_none() && !glued_to_a_word(text, num.start(), mult) {
            let before = text[..num.start()].chars().next_back();
            if before.is_some_and(|b| b.is_alphanumeric() || "-/+#@&._,\\".contains(b)) {
                continue;
            }
        }
        // The sequence of an order number written with spaces
        // ("TU 20261125 0042") is no amount.
        if ORDER_DATE_BEFORE.is_match(tail_before(text, num.start(), 16)) {
            continue;
        }
        // "5134 Rp 12,5 juta": that `Rp` opens the next amount; the bare
        // number before it has no currency of its own.
        if c.name("cur").is_none()
            && mult.is_none()
            && c.name("cur2").is_some()
            && text[whole.end()..]
                .trim_start()
                .starts_with(|ch: char| ch.is_ascii_digit())
        {
            continue;
        }
        // What comes after must not continue a longer token.
        let after_str = &text[whole.end()..];
        let mut after = after_str.chars();
        let a1 = after.next();
        let a2 = after.next();
        let continues = match a1 {
            Some(ch) if ch.is_alphanumeric() => true,
            Some('%') => true,
            Some('-' | '/' | '.' | ',' | ':' | '\\') => a2.is_some_and(|d| d.is_ascii_digit()),
            _ => false,
        };
        if continues {
            continue;
        }
        // `10M`, `2.5 mio`: million, except in Indonesian text, where `M`
        // is miliar as often as million: there it is no amount at all.
        let mult = match mult.map(|m| m.as_str().trim().to_ascii_lowercase()) {
            Some(m) if m == "m" && indonesian(text) => continue,
            _ => mult,
        };
        let raw = num.as_str();
        let mut typed = raw.to_string();
        if let Some(m) = mult {
            // "1.250k", "1,500 rb": before a thousands word, a separator
            // followed by three digits groups thousands (no one writes
            // 1.25 thousand rupiah); before juta it stays a decimal point.
            let thousands = m.as_str().trim().to_ascii_lowercase();
            if matches!(
                thousands.as_str(),
                "k" | "rb" | "ribu" | "rebu" | "ewu" | "thousand"
            ) && THOUSANDS_GROUPED.is_match(raw)
            {
                typed = raw.replace(['.', ','], "");
            }
            match m.as_str().trim().to_ascii_lowercase().as_str() {
                "m" | "mio" | "mil" | "mn" => typed.push_str("million"),
                // "3jtt", "500rbb": a letter held on a phone keyboard.
                w if w.starts_with("jt") => typed.push_str("jt"),
                w if w.starts_with("rb") => typed.push_str("rb"),
                "jeti" => typed.push_str("juta"),
                "rebu" | "ewu" => typed.push_str("ribu"),
                other => typed.push_str(other),
            }
        }
        let Ok(money) = Money::parse(&typed) else {
            continue;
        };
        let strength = if has_cur || mult.is_some() {
            Strength::Marked
        } else if raw.contains(['.', ',']) {
            Strength::Grouped
        } else {
            Strength::Plain
        };
        let major = money.minor() / 100;
        match strength {
            Strength::Marked if major < 1_000 => continue,
            Strength::Grouped if major < 10_000 || !grouped_like_money(raw) => continue,
            Strength::Plain => {
                if major < 10_000 || raw.starts_with('0') || raw.len() > 12 {
                    continue;
                }
                if !AMOUNT_LEAD.is_match(clause_before(text, num.start())) {
                    continue;
                }
            }
            _ => {}
        }
        hits.push(AmountHit {
            money,
            start: whole.start(),
            end: whole.end(),
            strength,
        });
    }
    hits
}

/// "topup2jt", "kak,5 jt": a figure with a millions or thousands word,
/// typed without a space after a word (or after a word and a comma), is an
/// amount all the same (no account, phone or order number carries `jt`).
fn glued_to_a_word(text: &str, start: usize, mult: Option<regex::Match<'_>>) -> bool {
    let Some(mult) = mult else {
        return false;
    };
    if !matches!(
        mult.as_str().trim().to_ascii_lowercase().as_str(),
        "jt" | "juta" | "rb" | "ribu"
    ) {
        return false;
    }
    let mut before = text[..start].chars().rev();
    match before.next() {
        Some(',') => before.next().is_some_and(char::is_alphabetic),
        Some(b) => b.is_alphabetic(),
        None => false,
    }
}

/// Whether `text` is written in Indonesian (its common words say so).
fn indonesian(text: &str) -> bool {
    normal::language(&normal::words(text)) == Some(crate::domain::Lang::Id)
}

/// `1.500.000` or `1,500,000.00`: thousands groups of three, at most two
/// decimals. Rejects `13.16` (a time) and `0,5` kinds.
fn grouped_like_money(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split(['.', ',']).collect();
    if groups.len() < 2 {
        return false;
    }
    let last = groups[groups.len() - 1];
    let body = if last.len() <= 2 && groups.len() >= 3 {
        &groups[..groups.len() - 1]
    } else {
        &groups[..]
    };
    body.len() >= 2
        && body[1..].iter().all(|g| g.len() == 3)
        && !body[0].is_empty()
        && body[0].len() <= 3
}

/// The last `max` bytes (or fewer, to stay on a character boundary) of
/// `text` before `pos`: the context a look-behind rule reads, bounded so
/// that checking many candidates stays linear.
fn tail_before(text: &str, pos: usize, max: usize) -> &str {
    let head = &text[..pos];
    let mut start = head.len().saturating_sub(max);
    while !head.is_char_boundary(start) {
        start += 1;
    }
    &head[start..]
}

/// The first `max` bytes of `text` (or fewer, to end on a character
/// boundary): parsing examines a bounded prefix of what arrives.
pub(crate) fn bounded(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The part of the current clause before `pos` (at most 60 characters),
/// cut at the previous sentence end, line break or ", ".
fn clause_before(text: &str, pos: usize) -> &str {
    let window = tail_before(text, pos, 60);
    let cut = clause_ends(window).last().unwrap_or(0);
    &window[cut..]
}

/// The clause of `text` from `pos` on (at most 60 bytes).
fn clause_after(text: &str, pos: usize) -> &str {
    let window = bounded(text.get(pos..).unwrap_or(""), 60);
    let cut = clause_ends(window).next().unwrap_or(window.len());
    &window[..cut]
}

/// Where clauses of `text` end (byte offsets after their last byte): a line
/// break, or `.`, `!`, `?`, `;`, `,` before a space or a line break (never the
/// separators of `1.500.000`).
fn clause_ends(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().filter_map(move |(i, &b)| {
        let next_is_space = bytes.get(i + 1).is_none_or(|n| *n == b' ' || *n == b'\n');
        let ends = b == b'\n' || (matches!(b, b'.' | b'!' | b'?' | b';' | b',') && next_is_space);
        ends.then_some(i + 1)
    })
}

/// The clauses of `text` (see [`clause_ends`]), in order.
fn clauses(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    clause_ends(text)
        .chain(std::iter::once(text.len()))
        .filter_map(move |end| {
            let clause = text.get(start..end)?;
            start = end;
            Some(clause)
        })
}

/// Number words. Values: digits, teens and tens add to the current small
/// number; `Ratus`/`Puluh`/`Belas` multiply or extend it; scales close a group.
#[derive(Clone, Copy)]
enum NumWord {
    Unit(i64),
    Tens(i64),
    Belas,
    Puluh,
    Ratus,
    /// "seratus": one hundred in one word.
    Hundred,
    Half,
    Scale(i64),
    And,
    /// "koma"/"point": the next unit is tenths ("satu koma lima juta").
    Comma,
}

fn num_word(w: &str) -> Option<NumWord> {
    use NumWord::*;
    Some(match w {
        "nol" | "zero" => Unit(0),
        "satu" | "setunggal" | "one" | "a" | "an" => Unit(1),
        "dua" | "two" => Unit(2),
        "tiga" | "three" => Unit(3),
        "empat" | "four" => Unit(4),
        "lima" | "five" => Unit(5),
        "enam" | "six" => Unit(6),
        "tujuh" | "seven" => Unit(7),
        "delapan" | "eight" => Unit(8),
        "sembilan" | "nine" => Unit(9),
        "sepuluh" | "ten" => Tens(10),
        "sebelas" | "eleven" => Tens(11),
        "twelve" => Tens(12),
        "thirteen" => Tens(13),
        "fourteen" => Tens(14),
        "fifteen" => Tens(15),
        "sixteen" => Tens(16),
        "seventeen" => Tens(17),
        "eighteen" => Tens(18),
        "nineteen" => Tens(19),
        "twenty" => Tens(20),
        "thirty" => Tens(30),
        "forty" => Tens(40),
        "fifty" => Tens(50),
        "sixty" => Tens(60),
        "seventy" => Tens(70),
        "eighty" => Tens(80),
        "ninety" => Tens(90),
        "seratus" => Hundred,
        "belas" => Belas,
        "puluh" => Puluh,
        "ratus" | "hundred" => Ratus,
        "setengah" | "half" => Half,
        "ribu" | "thousand" | "rb" | "rebu" | "ewu" => Scale(1_000),
        "seribu" | "sarebu" => Scale(-1_000),
        "juta" | "million" | "jt" | "jeti" => Scale(1_000_000),
        "sejuta" | "sajuta" => Scale(-1_000_000),
        "miliar" | "milyar" | "billion" => Scale(1_000_000_000),
        "semiliar" | "semilyar" => Scale(-1_000_000_000),
        "and" | "dan" => And,
        "koma" | "point" => Comma,
        _ => return None,
    })
}

/// Amounts written in words: "sepuluh juta", "dua juta lima ratus ribu",
/// "satu setengah juta", "two million five hundred thousand". A run counts
/// only when it has a scale word (ribu/juta/thousand/million…).
fn word_amounts(text: &str) -> Vec<AmountHit> {
    // Words with their byte spans.
    let mut words: Vec<(usize, usize, String)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, ch) in text.char_indices() {
        if ch.is_alphabetic() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            words.push((s, i, text[s..i].to_lowercase()));
        }
    }
    if let Some(s) = start {
        words.push((s, text.len(), text[s..].to_lowercase()));
    }
    let mut hits = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let Some(first) = num_word(&words[i].2) else {
            i += 1;
            continue;
        };
        let next_is_big = words.get(i + 1).is_some_and(|w| {
            matches!(w.2.as_str(), "million" | "thousand" | "hundred" | "billion")
        });
        let bad_start = matches!(
            first,
            NumWord::And | NumWord::Belas | NumWord::Puluh | NumWord::Ratus | NumWord::Comma
        ) || matches!(first, NumWord::Scale(s) if s > 0)
            || (matches!(words[i].2.as_str(), "a" | "an") && !next_is_big);
        if bad_start {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut total: i64 = 0;
        let mut group: i64 = 0;
        let mut last: i64 = 0;
        let mut half = false;
        let mut comma = false;
        // Digits after "koma": "satu koma dua lima juta" is 1.25 million.
        let mut decimals: (i64, u32) = (0, 0);
        let mut scaled = false;
        let mut last_scale: i64 = 0;
        let mut end = words[i].1;
        let mut ok = true;
        while j < words.len() {
            // Only spaces or hyphens between words of one number.
            if j > i {
                let gap = &text[words[j - 1].1..words[j].0];
                if !gap.chars().all(|c| c == ' ' || c == '-') || gap.len() > 3 {
                    break;
                }
            }
            let Some(mut w) = num_word(&words[j].2) else {
                break;
            };
            // "seven and a half million": that `a` is no unit of its own.
            if j > i
                && matches!(words[j].2.as_str(), "a" | "an")
                && words.get(j + 1).is_some_and(|n| n.2 == "half")
            {
                w = NumWord::And;
            }
            match w {
                // "twenty five": a unit after a pending ten adds to it.
                NumWord::Unit(d) if comma && decimals.1 < 6 => {
                    decimals = (decimals.0 * 10 + d, decimals.1 + 1);
                }
                NumWord::Unit(d) => {
                    last = if last >= 20 && last % 10 == 0 {
                        last + d
                    } else {
                        d
                    }
                }
                NumWord::Tens(t) => {
                    group += last;
                    last = t;
                }
                NumWord::Belas => {
                    group += 10 + last;
                    last = 0;
                }
                NumWord::Puluh => {
                    group += last * 10;
                    last = 0;
                }
                NumWord::Ratus => {
                    group += last.max(1) * 100;
                    last = 0;
                }
                NumWord::Hundred => {
                    group += last + 100;
                    last = 0;
                }
                NumWord::Half => half = true,
                NumWord::Scale(s) => {
                    let (scale, g) = if s < 0 { (-s, 1) } else { (s, group + last) };
                    // "juta" alone is one million; "setengah juta" only the half.
                    let g = if g == 0 && s > 0 && !half { 1 } else { g };
                    let Some(v) = g.checked_mul(scale) else {
                        ok = false;
                        break;
                    };
                    let fraction = if half { scale / 2 } else { 0 }
                        + decimals.0 * scale / 10_i64.pow(decimals.1);
                    total = total.saturating_add(v).saturating_add(fraction);
                    group = 0;
                    last = 0;
                    half = false;
                    decimals = (0, 0);
                    comma = false;
                    scaled = true;
                    last_scale = scale;
                }
                NumWord::And => {}
                NumWord::Comma => comma = true,
            }
            end = words[j].1;
            j += 1;
        }
        total = total.saturating_add(group + last);
        // "dua juta setengah", "sejuta setengah": a half after the scale
        // word is half of that scale.
        if half && group + last == 0 {
            total = total.saturating_add(last_scale / 2);
        }
        if ok && scaled && (1_000..1_000_000_000_000_000).contains(&total) {
            let mut hit_end = end;
            if let Some(w) = words.get(j)
                && (w.2 == "rupiah" || w.2 == "idr")
                && text[end..w.0].trim().is_empty()
            {
                hit_end = w.1;
            }
            hits.push(AmountHit {
                money: Money::from_major(total),
                start: words[i].0,
                end: hit_end,
                strength: Strength::Marked,
            });
        }
        i = j.max(i + 1);
    }
    hits
}

/// Picks the amount the message is about among the hits of one text.
/// For a change of amount it is the new one ("to", "menjadi", never the one
/// after "from"/"bukan"); otherwise the total when one amount is the sum of
/// the others or is labelled total, else the first.
pub(crate) fn choose_amount(text: &str, hits: &[AmountHit], intent: Intent) -> Option<Money> {
    // An amount taken back by the words after it ("Rp140.000 eh Rp1.400.000",
    // "2jt, I mean 2,5jt") is no candidate when another amount follows.
    // Read once per hit: each is asked about as itself and as the one before.
    let retracted: Vec<bool> = hits
        .iter()
        .zip(hits.iter().skip(1))
        .map(|(hit, next)| {
            text.get(hit.end..next.start).is_some_and(|between| {
                AMOUNT_RETRACTED_AFTER.is_match(between)
                    || between.len() <= CORRECTION_GAP && AMOUNT_CORRECTED_BEFORE.is_match(between)
            })
        })
        .chain(std::iter::once(false))
        .collect();
    let usable: Vec<&AmountHit> = hits
        .iter()
        .enumerate()
        // The words that take one amount back are not a negation of the
        // next: "Rp 2.500.000? Sorry, typo — Rp 2.000.000".
        .filter(|&(k, h)| (!negated(text, h.start) || k > 0 && retracted[k - 1]) && !retracted[k])
        .map(|(_, h)| h)
        .collect();
    let usable = if usable.is_empty() {
        hits.iter().collect()
    } else {
        usable
    };
    if usable.is_empty() {
        return None;
    }
    if intent == Intent::Amend {
        let not_old: Vec<&&AmountHit> = usable
            .iter()
            .filter(|h| !OLD_BEFORE.is_match(clause_before(text, h.start)))
            .collect();
        // "tapi ordernya 1.000.000. Bisa diganti jadi 1,2jt": a contrast
        // introduces the new amount only where no change word does.
        let new_after = |h: &&&AmountHit, contrast: bool| {
            let tail = tail_before(text, h.start, 60);
            NEW_BEFORE.is_match(tail) && (contrast || !CONTRAST_ONLY_BEFORE.is_match(tail))
        };
        let changed = |h: &&&&AmountHit| CHANGED_BEFORE.is_match(tail_before(text, h.start, 40));
        if let Some(h) = not_old
            .iter()
            .find(|h| new_after(h, false))
            .or_else(|| not_old.iter().find(changed))
            .or_else(|| not_old.iter().find(|h| new_after(h, true)))
        {
            return Some(h.money);
        }
        if let Some(h) = not_old.first() {
            return Some(h.money);
        }
        return usable.last().map(|h| h.money);
    }
    // "Tadinya mau 2jt, tapi ... jadi 3 juta": an earlier amount the
    // customer says they meant before gives way to the one that replaces it.
    if usable.len() >= 2
        && OLD_BEFORE.is_match(clause_before(text, usable[0].start))
        && let Some(h) = usable[1..].iter().find(|h| {
            NEW_BEFORE.is_match(tail_before(text, h.start, 60))
                && !OLD_BEFORE.is_match(clause_before(text, h.start))
        })
    {
        return Some(h.money);
    }
    // "kmrn sy topup 1jt skrg mau 2jt": of an amount of yesterday and one
    // said to be for now, the one for now (asked for: a payment told of
    // both days is another matter).
    if matches!(intent, Intent::Request | Intent::Amend)
        && usable.len() >= 2
        && PAST_TIME.is_match(clause_before(text, usable[0].start))
        && let Some(h) = usable[1..]
            .iter()
            .find(|h| PRESENT_BEFORE.is_match(tail_before(text, h.start, 40)))
    {
        return Some(h.money);
    }
    // "Kemarin topup 2jt sudah masuk, sekarang mau 4jt": a top-up said to
    // have arrived is a past one, not the one asked for.
    // "Bulan lalu kami top up Rp 10.000.000 ... mohon dibuatkan order Rp
    // 6.000.000": an amount of the past is history beside a present one.
    let usable = {
        let present: Vec<&AmountHit> = usable
            .iter()
            .enumerate()
            .filter(|&(k, h)| {
                // A time of the past reaches up to the amount before: "kaya
                // kemarin yg 5jt tp kali ini 3,5jt" tells of 5jt only.
                let since = k.checked_sub(1).map_or(0, |p| usable[p].end);
                let from = (h.start - clause_before(text, h.start).len()).max(since);
                !PAST_BEFORE.is_match(&text[from..h.start])
            })
            .map(|(_, h)| *h)
            .collect();
        if present.is_empty() { usable } else { present }
    };
    let usable = if intent == Intent::Request {
        let open: Vec<&AmountHit> = usable
            .iter()
            .copied()
            .filter(|h| {
                !text
                    .get(h.end..)
                    .is_some_and(|after| AMOUNT_ARRIVED_AFTER.is_match(after))
            })
            .collect();
        if open.is_empty() { usable } else { open }
    } else {
        usable
    };
    if let Some(h) = usable.iter().find(|h| {
        TOTAL_BEFORE.is_match(clause_before(text, h.start))
            || text
                .get(h.end..)
                .is_some_and(|after| TOTAL_AFTER.is_match(after))
    }) {
        return Some(h.money);
    }
    if usable.len() >= 3 {
        for (k, h) in usable.iter().enumerate() {
            let others: Option<Money> = usable
                .iter()
                .enumerate()
                .filter(|(m, o)| *m != k && o.money != h.money)
                .try_fold(Money::from_minor(0), |acc, (_, o)| acc.checked_add(o.money));
            if others == Some(h.money) {
                return Some(h.money);
            }
        }
    }
    usable.first().map(|h| h.money)
}

// ---------------------------------------------------------------------------
// Order numbers
// ---------------------------------------------------------------------------

/// Words right before an order number that mark it as not the one acted on
/// ("duplikat dari TU-…", "like last time TU-…").
static ORDER_ASIDE_BEFORE: Pat = Pat::new(
    r"(?i)\b(duplikat(nya)?( dari)?|duplicate( of)?|dobel( dari)?|double( of)?|sama dengan|same as|instead of|bukan|not|yang lama|old|sebelumnya|previous|last time|seperti|(terima ?kasih|makasih|thanks|thank you) (untuk|atas|buat|for)|keep|retain)\b[^.!?\n]{0,25}$",
);

/// Words right after an order number that say it is settled ("TU-… was
/// credited, but TU-… is still pending"; "TU-… sudah lunas, yang TU-…
/// tolong ubah"): among several orders, not the one acted on.
static SETTLED_AFTER: Pat = Pat::new(
    r"(?i)^[^.!?\n]{0,20}?\b(was credited|has been credited|(sudah|udah|udh|sdh|telah|already) (masuk|beres|lunas|selesai|terisi|credited|done|received|benar|bener|betul|ok|oke)|is done|is (fine|correct|right|ok)|went through)\b",
);

/// Whether the order number ending at `end` is said to be settled (and not
/// asked about: "TU-… sudah masuk belum?"). What follows the next order
/// number (at `next`) is about that one: "TU-A sudah masuk, sekarang TU-B
/// gimana?" asks about B only.
fn settled_after(text: &str, end: usize, next: usize) -> bool {
    let Some(after) = text.get(end..next.max(end)) else {
        return false;
    };
    let sentence_end = after.find(['.', '!', '?', '\n']).unwrap_or(after.len());
    let asked = after[..sentence_end].to_lowercase();
    let question = after[sentence_end..].starts_with('?')
        || [" belum", " blm", " not ", " kah", " ya?"]
            .iter()
            .any(|w| asked.contains(w));
    SETTLED_AFTER.is_match(after) && !question
}

/// At most this many distinct order numbers of one text are considered: a
/// customer names one or two, and a text naming thousands must not cost
/// thousands of checks.
pub(crate) const MAX_ORDER_CANDIDATES: usize = 16;

/// Words after an order number that take it back, before the customer
/// names the right one: "TU-A udh sy bayar, eh salah, TU-B maksudnya";
/// "TU-A, sorry, I meant TU-B".
static RETRACTED_AFTER: Pat = Pat::new(
    r"(?i)\b(eh|eh,? salah|salah( ketik| tulis| nomor| no)?|keliru|typo|sorry,? i mean|i meant?|maksud(nya|ku| saya| sy| aku)?|koreksi|ralat|wrong (one|number|order))\b",
);

/// A bare sequence (`0513`) standing for one of the orders named in full.
static BARE_SEQUENCE: Pat = Pat::new(r"\b\d{4,9}\b");

/// A second order of the same day written by its sequence alone right
/// after a full number (a neighbour of its sequence): "TU-20261115-0042 dan -0043", "TU-20261116-0201/0202",
/// "TU-…-1001 & 1002", "TU-…-9090 eh 9091".
static SHORTHAND_AFTER: Pat =
    Pat::new(r"(?i)^\s*(?:(?:/|&|\+|,|dan|and|sama|eh,?|atau|or)\s*-?|-)\s*(\d{4,9})\b");

/// What makes digits after a shorthand's joiner an amount, not a sequence:
/// decimals or thousands (`1002.50`, `1002,5`) or a scale word.
static AMOUNT_TAIL: Pat = Pat::new(r"(?i)^([.,]\d|\s*(jt|juta|rb|ribu|k|m|million)\b)");

/// The orders `text` names: each in full where first written, then each
/// written by its sequence alone after one of the same length
/// ([`SHORTHAND_AFTER`]), with the span of those digits; in text order.
fn named_orders(text: &str, prefix: &str) -> Vec<(std::ops::Range<usize>, OrderNumber)> {
    let mut found = OrderNumber::find_all_spans(text, prefix, MAX_ORDER_CANDIDATES);
    let (Some(re), Some(tail)) = (SHORTHAND_AFTER.get(), AMOUNT_TAIL.get()) else {
        return found;
    };
    let mut more = Vec::new();
    for (span, number) in &found {
        let (mut end, mut last) = (span.end, number.clone());
        while let Some(c) = text.get(end..).and_then(|rest| re.captures(rest)) {
            let Some(digits) = c.get(1) else { break };
            let after = end + digits.end();
            // Orders of one day written together are neighbours: the same
            // length, differing at most in the last two digits ("0042 dan
            // 0043", not "000000, 100000", which is an amount).
            let seq = number.sequence();
            if digits.len() != seq.len()
                || digits.as_str()[..seq.len().saturating_sub(2)]
                    != seq[..seq.len().saturating_sub(2)]
                || text.get(after..).is_some_and(|rest| tail.is_match(rest))
            {
                break;
            }
            let Some(next) = last.with_sequence(digits.as_str()) else {
                break;
            };
            more.push((end + digits.start()..after, next.clone()));
            (end, last) = (after, next);
        }
    }
    for (span, number) in more {
        if found.len() < MAX_ORDER_CANDIDATES && !found.iter().any(|(_, n)| *n == number) {
            found.push((span, number));
        }
    }
    found.sort_by_key(|(span, _)| span.start);
    found
}

/// The order number that `text` is about: the first one neither
/// introduced as an aside nor taken back, unless the clause that asks for
/// the `intent`'s action names another ([`anchored`]: "TU-…-0418 sudah
/// dibayar, yang TU-…-0419 tolong dibatalkan") or the text repeats another
/// such one's bare sequence ("TU-…-0512, TU-…-0513, yang 0513 aja");
/// `None` when the text names none.
pub(crate) fn choose_order(text: &str, prefix: &str, intent: Intent) -> Option<OrderNumber> {
    let found = named_orders(text, prefix);
    if found.len() <= 1 {
        return found.into_iter().next().map(|(_, n)| n);
    }
    // Positions come from `text` itself, so they index it safely whatever
    // case-changing characters it holds.
    // Each number's neighbourhood ends at the numbers around it: in "bukan
    // TU-A tapi TU-B", the "bukan" is A's, not B's.
    let meant: Vec<usize> = (0..found.len())
        .filter(|&i| {
            let span = &found[i].0;
            let prev_end = i.checked_sub(1).map_or(0, |p| found[p].0.end);
            let next = found.get(i + 1).map_or(text.len(), |(s, _)| s.start);
            let before = clause_before(text, span.start);
            let before = text
                .get(prev_end.max(span.start - before.len())..span.start)
                .unwrap_or(before);
            let retracted = i + 1 < found.len()
                && text
                    .get(span.end..next)
                    .is_some_and(|between| RETRACTED_AFTER.is_match(between));
            !ORDER_ASIDE_BEFORE.is_match(before)
                && !settled_after(text, span.end, next)
                && !retracted
        })
        .collect();
    let chosen = match meant.as_slice() {
        [] => 0,
        [one] => *one,
        several => anchored(text, prefix, &found, intent)
            .filter(|i| several.contains(i))
            .or_else(|| named_by_sequence(text, &found).filter(|i| several.contains(i)))
            .unwrap_or(several[0]),
    };
    found.into_iter().nth(chosen).map(|(_, n)| n)
}

/// The one order among `found` named in every clause where the text asks
/// for the `intent`'s action (its expression: "tolong dibatalkan", "udah
/// aku tf", "kok masih pending"), in full or by its sequence alone ("yang
/// 0043 batalkan aja"); `None` when no such clause names exactly one, or
/// two such clauses name different ones.
fn anchored(
    text: &str,
    prefix: &str,
    found: &[(std::ops::Range<usize>, OrderNumber)],
    intent: Intent,
) -> Option<usize> {
    let pat = match intent {
        Intent::Cancel => &CANCEL,
        Intent::Amend => &AMEND,
        Intent::Status => &STATUS,
        Intent::Slip => &SLIP_STATEMENT,
        _ => return None,
    };
    let mentions = mentions(text, prefix, found);
    let ends: Vec<usize> = clause_ends(text).collect();
    let mut chosen = None;
    for m in pat.get()?.find_iter(text) {
        let start = ends
            .iter()
            .rev()
            .find(|e| **e <= m.start())
            .copied()
            .unwrap_or(0);
        let end = ends
            .iter()
            .find(|e| **e > m.start())
            .copied()
            .unwrap_or(text.len());
        let mut named = mentions
            .iter()
            .filter(|(at, _)| start <= *at && *at < end)
            .map(|(_, i)| *i);
        let Some(first) = named.next() else { continue };
        if named.any(|i| i != first) {
            continue;
        }
        match chosen {
            None => chosen = Some(first),
            Some(c) if c == first => {}
            Some(_) => return None,
        }
    }
    chosen
}

/// Where `text` names each of `found` (an index into it): every writing of
/// a full number, the shorthands, and bare sequences that fit exactly one.
fn mentions(
    text: &str,
    prefix: &str,
    found: &[(std::ops::Range<usize>, OrderNumber)],
) -> Vec<(usize, usize)> {
    let index = |n: &OrderNumber| found.iter().position(|(_, f)| f == n);
    let written = OrderNumber::written_spans(text, prefix, 4 * MAX_ORDER_CANDIDATES);
    let spans: Vec<(std::ops::Range<usize>, usize)> = written
        .into_iter()
        .filter_map(|(span, n)| Some((span, index(&n)?)))
        .chain(
            found
                .iter()
                .enumerate()
                .map(|(i, (span, _))| (span.clone(), i)),
        )
        .collect();
    let numbers: Vec<std::ops::Range<usize>> = spans.iter().map(|(span, _)| span.clone()).collect();
    let bare: Vec<(usize, usize)> = bare_sequences(text, found, &numbers)
        .filter_map(|(at, fits)| match fits.as_slice() {
            [i] => Some((at, *i)),
            _ => None,
        })
        .collect();
    spans
        .into_iter()
        .map(|(span, i)| (span.start, i))
        .chain(bare)
        .collect()
}

/// Each digit run of `text` outside `numbers` that could be a bare sequence,
/// where it starts and which of `found` have that sequence (none, one or several).
fn bare_sequences<'a>(
    text: &'a str,
    found: &'a [(std::ops::Range<usize>, OrderNumber)],
    numbers: &'a [std::ops::Range<usize>],
) -> impl Iterator<Item = (usize, Vec<usize>)> + 'a {
    BARE_SEQUENCE
        .get()
        .into_iter()
        .flat_map(move |re| re.find_iter(text))
        .filter(move |m| {
            !numbers
                .iter()
                .any(|span| span.start <= m.start() && m.end() <= span.end)
        })
        .map(move |m| {
            let fits = found
                .iter()
                .enumerate()
                .filter(|(_, (_, n))| n.sequence() == m.as_str())
                .map(|(i, _)| i)
                .collect();
            (m.start(), fits)
        })
}

/// The one order among `found` whose sequence the text also writes bare,
/// outside the numbers themselves; `None` when no bare sequence, or one
/// that fits several orders or none.
fn named_by_sequence(text: &str, found: &[(std::ops::Range<usize>, OrderNumber)]) -> Option<usize> {
    let numbers: Vec<std::ops::Range<usize>> = found.iter().map(|(span, _)| span.clone()).collect();
    let mut named = None;
    for (_, fits) in bare_sequences(text, found, &numbers) {
        match (fits.as_slice(), named) {
            ([i], None) => named = Some(*i),
            ([i], Some(j)) if *i == j => {}
            ([], _) => {}
            _ => return None,
        }
    }
    named
}

// ---------------------------------------------------------------------------
// Intent
// ---------------------------------------------------------------------------

static CANCEL: Pat = Pat::new(
    r"(?i)\b(batal|batalkan|dibatalkan|batalin|dibatalin|pembatalan|cancel|cancell?ed|cancell?ation|cancelling|canceling|hapus(kan)? (pesanan|order|orderan)|(hapus|delete|remove)\s+(the |my |our |this )?(order|pesanan)|(order|pesanan)\w* (ini )?(dihapus|dihapuskan)|(tidak|gak|ga|nggak|ngga|enggak|tdk|gk) jadi (top ?up|topup|order|pesan|transfer|tf|isi)|void (the |this )?order)\b",
);
/// "TU-… gajadi", "ga jadi deh kak.", "wes ora sido mas TU-…": the order left off
/// at the end of a clause (not "ga jadi cancel", where it refuses an action,
/// nor the question "ga jadi?"). Read with the order numbers written `#order`.
static CANCEL_LEFT_OFF: Pat = Pat::new(
    r"(?i)(?:^|[^\w])(?:(?:tidak|gak|ga|nggak|ngga|enggak|tdk|gk|ora|ra|teu)\s?(?:jadi|jd|sido)|gajadi|gakjadi|gjd)(?:\s+(?:deh|dong|ya|yah|aja|saja|kak|kk|mas|mbak|min|gan|sis|bro|pak|bu|teh|#order))*\s*(?:[.,!\n]|$)",
);
static AMEND: Pat = Pat::new(
    r"(?i)\b((ubah|ubahkan|rubah|ganti|revisi|koreksi|perbaiki|ralat|edit|sesuaikan|update)\s+(jumlah|nominal|amount|angka|nilai|total)|(jumlah|nominal|amount)\w*\s+(di ?ubah|di ?ganti|di ?revisi|di ?koreksi|diperbaiki|di ?sesuaikan)|revisi|change (the |my |our )?(order )?amount|(correct|adjust|update|amend|modify|fix) (the |my |our )?(order |top-?up )?amount|amount (should|must) be|correction|amend|mengubah (jumlah|nominal)|(update|change|adjust|correct|revise|modify|amend|ubah|ganti|revisi)\s+(the |my |our |this )?(order|pesanan|top-?up)\b[^.!?\n]{0,30}?\s(to|into|ke|jadi|menjadi)\s+(the |a )?(total|amount|sum|nominal|rp|idr|\d)|(from|dari)\s+(rp\.?\s?|idr\s?)?(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?\s?(juta|jt|rb|ribu|k|m|million))\s+(to|into|ke|jadi|menjadi)\s+(rp\.?\s?|idr\s?)?\d)\b",
);
static STATUS: Pat = Pat::new(
    r"(?i)\b(status(nya)?|any update|an update|update on|(kok|koq|kenapa|knp|kapan) (belum|blm|blom|gak|ga|nggak|tidak|tdk|masih|lama|diproses|masuk)|(kok|koq|kenapa|knp) (saldo|dana|deposit|top ?up|topup|pesanan|order)(nya)? (baru|cuma|hanya|belum|blm|masih|gak|ga|tidak|tdk)|(belum|blm|blom|masih belum) (masuk|diproses|di proses|bertambah|nambah|ada|juga|terproses|dikonfirmasi|diverifikasi|update|berubah|terisi|sampai|diterima|kami terima)|not (yet )?(been )?(credited|received|processed|reflected|updated|added)|has not been|hasn't been|have not been|haven't been|haven'?t (received|seen)|still (not|waiting|pending)|sudah sampai mana|sampai mana|gimana (status|pesanan|order|top ?up|topup|ya|kak|min)|bagaimana (status|pesanan|order|top ?up|kabar|progres)|when will|how long|how much longer|masih (diproses|pending|menunggu)|sampai kapan|berapa lama lagi)\b",
);
/// Questions of how an order stands, read with its number written
/// `#order` ([`signals`]): "udah masuk kah?", "apakah top up kami sudah
/// diproses", "kok direject?", "#order gmn, sdh tf", "order kmrn gmn ya",
/// "is #order done?".
static STATUS_ASKED: Pat = Pat::new(
    r"(?i)(\b(sudah|udah|udh|sdh|dah|telah|already)\s+(masuk|diterima|diproses|terproses|berhasil|sukses|aktif|selesai|beres|terisi|credited|processed|received|approved|disetujui|dikonfirmasi)\s*(kah|belum|blm|blom|apa belum|atau belum|ya|yah|kak|ka|min|gan|bu|pak|bos|sis)?\s*\?|\bapakah\b[^.!?\n]{0,80}?\b(sudah|udah|udh|sdh|telah)\s+(masuk|diterima|diproses|terproses|berhasil|sukses|aktif|selesai|beres|terisi|dikonfirmasi|disetujui)\b|\b(kok|kenapa|knp|napa|why)\s+(di ?reject|direject|ditolak|di ?tolak|gagal|rejected|declined)\b|\bwhy (was|is|did|has) [^.!?\n]{0,30}\b(rejected|declined|failed)\b|(\b(order|pesanan|orderan|topup)\w*|#order)\s+(\w+\s+)?(gmn|gimana|gmana|bagaimana)(\s*[?,.!]|\s+(ya|kak|min|nih|dong|kabarnya|statusnya)\b|\s*$)|\b(is|has|was|have)\s+(it|this|that|the order|my order|our order|the top-?up|my top-?up|our top-?up|the payment|#order)\s+(been\s+)?(done|finished|completed|through|credited|received|approved)\b)",
);
static SLIP_STATEMENT: Pat = Pat::new(
    r"(?i)\b((sudah|udah|udh|sdh|dah|telah|uda|sudh)\s+((saya|kami|aku|sy|gw|gue|kita)\s+)?(di)?(transfer|tf|trf|transfer|bayar|lunas|kirim (dana|uang)|melakukan (pembayaran|transfer)|membayar|mentransfer)|(saya|kami|aku|sy) (transfer|tf|bayar|bayarkan|transferkan) (kemarin|tadi|barusan)|terlampir|dilampirkan|lampirkan|kami lampirkan|saya lampirkan|lampiran|bukti (transfer|tf|trf|bayar|pembayaran)\w*|konfirmasi (pembayaran|transfer)|payment (done|made|sent|completed|confirmation|proof|receipt|slip)|transfer (done|made|completed|confirmation|proof|receipt|slip)|done (transfer|payment|tf)|(have|has|had|just) (transferred|paid|made (the|a|our) (payment|transfer)|sent the (payment|money|funds))|(we|i) (transferred|paid|wired|sent the payment)|please find attached|find attached|attached (is|are|please)|is attached|are attached|attached the|proof of (payment|transfer)|bank receipt|transfer receipt|receipt (for|of) (our|the|my)|(transfer|payment|remittance)\s+(of|for|amounting to)\b[^.!?\n]{0,60}?\b(was|has been|have been|had been)\s+(made|executed|effected|sent|remitted|completed|initiated|done|transferred|wired)|(we|i)\s+(have\s+)?(remitted|effected|executed|wired))\b",
);
static REQUEST: Pat = Pat::new(
    r"(?i)\b(top[ -]?up|topup|isi (saldo|ulang|deposit)|isi(kan|in)?\b|tambah (saldo|deposit)|deposit|recharge|reload|refill|(buat|buatkan|bikin|bikinin|dibuatkan|create|open|set up|place)\s+(an? |new |baru )?(order|pesanan|top[ -]?up|invoice))\b",
);
static ACKNOWLEDGEMENT: Pat = Pat::new(
    r"(?i)\b((sudah|telah|udah|dah) (masuk|diterima|kami terima|saya terima|berhasil|bertambah|terisi)|berhasil|received|credited|thank you for)\b",
);
static REQUEST_VERB: Pat = Pat::new(
    r"(?i)\b(mau|ingin|pengen|pingin|mohon|tolong|minta|please|pls|plz|would like|want|wish|can (i|we)|could (you|we|i)|buat|buatkan|dibuatkan|bikin|lagi|request)\b",
);

/// What the rules saw in a message, one bit each: which expressions of
/// this file matched and which lexicon cues were found. The rules decide
/// from them in the contract's order ([`decide_intent`]); the intent model
/// reads them as features of their own (`s:` in [`super::model`]), so it
/// learns how far each one is to be trusted, not only the rules' verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signals(u16);

impl Signals {
    pub(crate) const CANCEL: u16 = 1;
    pub(crate) const CANCEL_CUE: u16 = 1 << 1;
    /// A cancellation word refused right before it ("ga jadi cancel").
    pub(crate) const CANCEL_REFUSED: u16 = 1 << 2;
    pub(crate) const AMEND: u16 = 1 << 3;
    pub(crate) const AMEND_CUE: u16 = 1 << 4;
    pub(crate) const STATUS: u16 = 1 << 5;
    pub(crate) const STATUS_CUE: u16 = 1 << 6;
    pub(crate) const SLIP: u16 = 1 << 7;
    pub(crate) const SLIP_CUE: u16 = 1 << 8;
    pub(crate) const REQUEST: u16 = 1 << 9;
    pub(crate) const REQUEST_CUE: u16 = 1 << 10;
    pub(crate) const ACKNOWLEDGEMENT: u16 = 1 << 11;
    pub(crate) const REQUEST_VERB: u16 = 1 << 12;

    /// The feature name of each bit.
    const NAMES: [(u16, &'static str); 13] = [
        (Self::CANCEL, "s:cancel"),
        (Self::CANCEL_CUE, "s:cancel_cue"),
        (Self::CANCEL_REFUSED, "s:cancel_refused"),
        (Self::AMEND, "s:amend"),
        (Self::AMEND_CUE, "s:amend_cue"),
        (Self::STATUS, "s:status"),
        (Self::STATUS_CUE, "s:status_cue"),
        (Self::SLIP, "s:slip"),
        (Self::SLIP_CUE, "s:slip_cue"),
        (Self::REQUEST, "s:request"),
        (Self::REQUEST_CUE, "s:request_cue"),
        (Self::ACKNOWLEDGEMENT, "s:acknowledgement"),
        (Self::REQUEST_VERB, "s:request_verb"),
    ];

    pub(crate) fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// The feature names of the bits set.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(bit, _)| self.has(*bit))
            .map(|(_, name)| name)
    }
}

/// What the expressions and cues of the rules find in `text`, whose order
/// numbers begin with `prefix`.
pub(crate) fn signals(text: &str, prefix: &str) -> Signals {
    let text = text.replace(['’', '‘'], "'");
    // A cue and its refusal are read within one clause: "No, cancel it".
    let mut cues = HashSet::new();
    for clause in clauses(&text) {
        cues.extend(normal::cues(&normal::words(clause)));
    }
    let mut bits = 0;
    let mut set = |on: bool, bit: u16| {
        if on {
            bits |= bit;
        }
    };
    // Written once, and only when an expression that needs it is read.
    let masked = std::cell::OnceCell::new();
    let masked = || masked.get_or_init(|| OrderNumber::masked(&text, prefix, "#order"));
    // Read with the order numbers set apart: "batalinTU-…" is "batalin #order".
    let (cancel_asked, cancel_refused) = asked_or_refused(&CANCEL, masked());
    set(
        cancel_asked || CANCEL_LEFT_OFF.is_match(masked()),
        Signals::CANCEL,
    );
    set(cancel_refused, Signals::CANCEL_REFUSED);
    set(cues.contains(&Cue::Cancel), Signals::CANCEL_CUE);
    set(asked_or_refused(&AMEND, &text).0, Signals::AMEND);
    set(cues.contains(&Cue::Amend), Signals::AMEND_CUE);
    set(
        STATUS.is_match(&text) || STATUS_ASKED.is_match(masked()),
        Signals::STATUS,
    );
    set(cues.contains(&Cue::Status), Signals::STATUS_CUE);
    set(SLIP_STATEMENT.is_match(&text), Signals::SLIP);
    set(cues.contains(&Cue::Slip), Signals::SLIP_CUE);
    set(REQUEST.is_match(&text), Signals::REQUEST);
    set(cues.contains(&Cue::Request), Signals::REQUEST_CUE);
    set(ACKNOWLEDGEMENT.is_match(&text), Signals::ACKNOWLEDGEMENT);
    set(REQUEST_VERB.is_match(&text), Signals::REQUEST_VERB);
    Signals(bits)
}

/// Whether `pat` asks for its action somewhere in `text` (a match not
/// refused right before it: "ga jadi cancel, udah tf" asks for no
/// cancellation), and whether a match is refused so.
fn asked_or_refused(pat: &Pat, text: &str) -> (bool, bool) {
    let (mut asked, mut refused) = (false, false);
    if let Some(re) = pat.get() {
        for m in re.find_iter(text) {
            // An action the customer says not to take ("ga jadi cancel",
            // "please don't change the amount"), read like the cues.
            let before = normal::words(clause_before(text, m.start()));
            if normal::refuses(&before) {
                refused = true;
            } else if normal::tells(&before)
                || normal::by_themselves(&normal::words(clause_after(text, m.end())))
            {
                // "pengganti order yang kemarin kami batalkan": an action
                // told of, not asked for.
            } else {
                asked = true;
            }
        }
    }
    (asked, refused)
}

/// Decides the intent of human text from its [`Signals`], in the
/// contract's order: cancel, amend, slip when a proof is attached, status,
/// slip by statement, request (a top-up word and an amount), unknown.
///
/// Each step asks the expressions of this file, then the cues of the
/// lexicon over the normalised words (chat spellings and affixed forms).
pub(crate) fn decide_intent(s: Signals, slips: usize, has_amount: bool) -> Intent {
    if s.has(Signals::CANCEL) || s.has(Signals::CANCEL_CUE) {
        return Intent::Cancel;
    }
    if s.has(Signals::AMEND) || (has_amount && s.has(Signals::AMEND_CUE)) {
        return Intent::Amend;
    }
    if slips > 0 {
        return Intent::Slip;
    }
    if s.has(Signals::STATUS) || s.has(Signals::STATUS_CUE) {
        return Intent::Status;
    }
    if s.has(Signals::SLIP) || s.has(Signals::SLIP_CUE) {
        return Intent::Slip;
    }
    if has_amount
        && (s.has(Signals::REQUEST) || s.has(Signals::REQUEST_CUE))
        && (s.has(Signals::REQUEST_VERB) || !s.has(Signals::ACKNOWLEDGEMENT))
    {
        return Intent::Request;
    }
    Intent::Unknown
}

/// [`decide_intent`] on the [`signals`] of `text`.
#[cfg(test)]
pub(crate) fn classify(text: &str, slips: usize, has_amount: bool) -> Intent {
    decide_intent(signals(text, "TU"), slips, has_amount)
}

#[cfg(test)]
pub(crate) const ALL_PATTERNS: &[&Pat] = &[
    &ATTRIBUTION,
    &ATTRIBUTION_START,
    &ATTRIBUTION_END,
    &FORWARD_MARKER,
    &ORIGINAL_MARKER,
    &HEADER_LINE,
    &HEADER_FROM,
    &HEADER_WHEN,
    &HEADER_SUBJECT,
    &SEPARATOR,
    &MOBILE_FOOTER,
    &CLOSING,
    &DISCLAIMER,
    &CID_SRC,
    &ATTR_WIDTH,
    &ATTR_HEIGHT,
    &NUMBER,
    &ORDER_DATE_BEFORE,
    &THOUSANDS_GROUPED,
    &JUTA_REST,
    &AMOUNT_LEAD,
    &DISTRACTOR_BEFORE,
    &TAX_OR_BUDGET_BEFORE,
    &BALANCE_BEFORE,
    &TOPUP_ACTION,
    &DIFFERENCE_BEFORE,
    &NEGATED_BEFORE,
    &AMOUNT_RETRACTED_AFTER,
    &AMOUNT_CORRECTED_BEFORE,
    &CONTRAST_BEFORE,
    &AMOUNT_ARRIVED_AFTER,
    &PAST_BEFORE,
    &SPACED_THOUSANDS,
    &SPOKEN_FRACTION,
    &BALANCE_STATED_BEFORE,
    &BALANCE_SAID_BEFORE,
    &SETTLED_AFTER,
    &OLD_BEFORE,
    &NEW_BEFORE,
    &CONTRAST_ONLY_BEFORE,
    &CHANGED_BEFORE,
    &TOTAL_BEFORE,
    &TOTAL_AFTER,
    &ORDER_ASIDE_BEFORE,
    &RETRACTED_AFTER,
    &BARE_SEQUENCE,
    &PAST_TIME,
    &PRESENT_BEFORE,
    &SHORTHAND_AFTER,
    &AMOUNT_TAIL,
    &CANCEL,
    &CANCEL_LEFT_OFF,
    &AMEND,
    &STATUS,
    &STATUS_ASKED,
    &SLIP_STATEMENT,
    &REQUEST,
    &ACKNOWLEDGEMENT,
    &REQUEST_VERB,
];
