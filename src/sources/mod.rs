//! Inbound mail sources: the Maildir folder (the embedded default) and an
//! IMAP mailbox, both turning raw messages into [`Inbound`] values for
//! [`crate::desk::Desk::handle_inbound`].
//!
//! Invariant shared by every source: a message is marked done at the source
//! (moved to `cur/`, flagged `\Seen`, moved to the processed mailbox) only
//! after the desk returned `Ok`, i.e. after the database commit. A crash in
//! between makes the source hand the same message over again, and the desk's
//! inbound keys (Message-ID, IMAP UIDVALIDITY/UID) make that a no-op.
//!
//! This file owns the mapping from raw mail to [`Inbound`], including the
//! reading of our own receiving server's `Authentication-Results`.

pub mod imap;
pub mod lease;
pub mod maildir;

use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::desk::{Channel, Desk, DeskError, DeskResult, Inbound, InboundOutcome, Limit};
use crate::intake::email::{EmailMeta, email_meta};
use crate::intake::{Extraction, Intent};

/// Hands one raw email to the desk, so that no message can stop a source:
/// a message the parser cannot read (it panicked on it) is recorded as failed
/// from what its headers say, kept raw for staff, and the source moves on;
/// [`Desk::handle_inbound`] guards the rest.
///
/// # Errors
/// Only when the store cannot be reached now (the source tries again later).
pub async fn handle_email(
    desk: &Desk,
    raw: Vec<u8>,
    extra_keys: Vec<String>,
) -> DeskResult<InboundOutcome> {
    match read_email(raw, extra_keys, desk.settings()) {
        Ok(msg) if is_statement_mail(desk.settings(), &msg) => {
            desk.handle_statement_mail(msg).await
        }
        Ok(msg) => desk.handle_inbound(msg).await,
        Err(failed) => desk.record_failed(&failed.0, &failed.1).await,
    }
}

/// A mail whose sender is a configured statement sender (and, where the
/// receiving server's verdicts are trusted, whose sender passed
/// authentication): its attachments are statements. Any other mail, a
/// forged one included, is a customer's and goes the usual way.
fn is_statement_mail(settings: &Settings, msg: &Inbound) -> bool {
    msg.channel == Channel::Email
        && !msg.auth_failed
        && msg.over_limit.is_none()
        && settings.statements.is_sender(&msg.sender)
}

/// Hands several raw emails to the desk in one database transaction (group
/// commit; see [`Desk::handle_inbound_batch`]); outcomes in the same order.
/// Messages the parser cannot read are recorded as failed on their own.
///
/// # Errors
/// Only when the store cannot be reached now (the source tries again later).
pub async fn handle_emails(
    desk: &Desk,
    mails: Vec<(Vec<u8>, Vec<String>)>,
) -> DeskResult<Vec<InboundOutcome>> {
    let n = mails.len();
    let mut batch = Vec::with_capacity(n);
    let mut slots: Vec<Option<InboundOutcome>> = Vec::with_capacity(n);
    for (raw, keys) in mails {
        match read_email(raw, keys, desk.settings()) {
            Ok(msg) if is_statement_mail(desk.settings(), &msg) => {
                slots.push(Some(desk.handle_statement_mail(msg).await?));
            }
            Ok(msg) => {
                batch.push(msg);
                slots.push(None);
            }
            Err(failed) => slots.push(Some(desk.record_failed(&failed.0, &failed.1).await?)),
        }
    }
    let mut handled = desk.handle_inbound_batch(batch).await?.into_iter();
    Ok(slots
        .into_iter()
        .filter_map(|slot| slot.or_else(|| handled.next()))
        .collect())
}

/// Parses a raw email into the desk's view; a message the parser panics on
/// comes back as what its headers say, with the reason, to be recorded as failed.
fn read_email(
    raw: Vec<u8>,
    extra_keys: Vec<String>,
    settings: &Settings,
) -> Result<Inbound, Box<(Inbound, String)>> {
    if raw.len() > settings.limits.max_message_bytes {
        return Ok(inbound_from_email(raw, extra_keys, settings));
    }
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse_email(&raw, settings)));
    match parsed {
        Ok((meta, extraction, hash)) => Ok(build(
            meta, extraction, raw, hash, extra_keys, settings, None,
        )),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Box::new((
                unreadable(raw, extra_keys, settings),
                format!("the message could not be read: {why}"),
            )))
        }
    }
}

/// Handles a message recorded as failed once more, from its kept raw copy
/// (after the cause was fixed). It is handled under a new key, so it is not
/// a duplicate of its failed record; on success that record points to it.
///
/// # Errors
/// [`DeskError::Invalid`] when the message did not fail or its raw copy is
/// gone; the store's errors.
pub async fn retry_failed(desk: &Desk, id: i64) -> DeskResult<InboundOutcome> {
    let row = {
        let mut conn = desk.store().pool().acquire().await?;
        crate::store::inbound::by_id(&mut conn, id).await?
    };
    if row.failed_error.is_none() {
        return Err(DeskError::Invalid(
            format!("message {id} did not fail; nothing to retry").into(),
        ));
    }
    let Some(hash) = &row.raw_hash else {
        return Err(DeskError::Invalid(
            format!("message {id} has no raw copy to retry from").into(),
        ));
    };
    let raw = desk
        .slips()
        .get(hash)
        .await
        .map_err(|e| DeskError::Internal(anyhow::anyhow!("Reading the kept message failed: {e}")))?
        .to_vec();
    let settings = desk.settings().clone();
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        inbound_from_email(raw, Vec::new(), &settings)
    }));
    let Ok(mut msg) = parsed else {
        return Err(DeskError::Invalid(
            format!("message {id} still cannot be read; it stays failed").into(),
        ));
    };
    msg.keys = vec![format!("retry:{id}:{}", desk.now())];
    let outcome = desk.try_inbound(msg).await?;
    if let Some(new_id) = outcome.inbound_id {
        let mut conn = desk.store().pool().acquire().await?;
        crate::store::inbound::set_retried(&mut conn, id, new_id).await?;
    }
    Ok(outcome)
}

/// What is known of a message the parser failed on: its keys and sender from
/// the headers (when even those cannot be read, the hash of the raw bytes).
fn unreadable(raw: Vec<u8>, extra_keys: Vec<String>, settings: &Settings) -> Inbound {
    let meta = std::panic::catch_unwind(|| email_meta(header_block(&raw))).unwrap_or_default();
    let hash = content_hash(&raw);
    let extraction = Extraction::nothing(Intent::Unknown);
    build(meta, extraction, raw, hash, extra_keys, settings, None)
}

/// Builds the desk's view of a raw email.
///
/// Keys: `msgid:<Message-ID>` (or `sha256:<hash of the raw bytes>` when the
/// message has none), then `extra_keys` (e.g. the IMAP UIDVALIDITY/UID key).
/// Never fails: unreadable mail still gives an extraction (intent `unknown`).
/// A message over `limits.max_message_bytes` is not parsed at all: see
/// [`inbound_from_oversized`].
pub fn inbound_from_email(raw: Vec<u8>, extra_keys: Vec<String>, settings: &Settings) -> Inbound {
    if raw.len() > settings.limits.max_message_bytes {
        let size = raw.len();
        let head = header_block(&raw).to_vec();
        drop(raw);
        return inbound_from_oversized(head, size, extra_keys, settings);
    }
    let (meta, extraction, hash) = parse_email(&raw, settings);
    build(meta, extraction, raw, hash, extra_keys, settings, None)
}

/// The parsing half of [`inbound_from_email`] (may panic on a parser bug;
/// [`handle_email`] catches that).
fn parse_email(raw: &[u8], settings: &Settings) -> (EmailMeta, Extraction, String) {
    let (meta, extraction) = crate::intake::read_mail(raw, &settings.desk.order_prefix);
    (meta, extraction, content_hash(raw))
}

/// The desk's view of a message too large to take: only its header block was
/// read (`head`), nothing is parsed beyond the headers, and the desk records
/// it from them and answers with the limit. Automatic mail stays unanswered.
pub fn inbound_from_oversized(
    head: Vec<u8>,
    size: usize,
    extra_keys: Vec<String>,
    settings: &Settings,
) -> Inbound {
    let meta = email_meta(&head);
    let intent = if meta.auto {
        Intent::Ignore
    } else {
        Intent::Unknown
    };
    let extraction = Extraction::nothing(intent);
    let mut hasher = Sha256::new();
    hasher.update(&head);
    hasher.update(size.to_le_bytes());
    let content_hash = hex::encode(&hasher.finalize()[..16]);
    let limit = Limit::MessageSize(settings.limits.max_message_bytes);
    build(
        meta,
        extraction,
        head,
        content_hash,
        extra_keys,
        settings,
        Some(limit),
    )
}

fn build(
    meta: EmailMeta,
    extraction: Extraction,
    raw: Vec<u8>,
    content_hash: String,
    extra_keys: Vec<String>,
    settings: &Settings,
    over_limit: Option<Limit>,
) -> Inbound {
    let mut keys = Vec::with_capacity(1 + extra_keys.len());
    match &meta.message_id {
        Some(id) if !id.trim().is_empty() => {
            keys.push(format!("msgid:{}", clip(id.trim(), MAX_ID_CHARS)))
        }
        _ => keys.push(format!("sha256:{}", hex::encode(Sha256::digest(&raw)))),
    }
    keys.extend(extra_keys);
    let auth_failed = match settings.mail.authserv_id.as_deref() {
        Some(id) if !id.trim().is_empty() => !authenticated(&meta, id.trim()),
        _ => false,
    };
    let mut thread_ids = meta.in_reply_to.clone();
    for r in &meta.references {
        if !thread_ids.contains(r) {
            thread_ids.push(r.clone());
        }
    }
    // Thread ids only look up our own Message-IDs: a flood of them is junk.
    thread_ids.truncate(MAX_THREAD_IDS);
    thread_ids.retain(|id| id.len() <= MAX_ID_CHARS);
    Inbound {
        channel: Channel::Email,
        keys,
        content_hash: Some(content_hash),
        sender: meta.from.clone().unwrap_or_default(),
        sender_name: meta.from_name.clone(),
        subject: meta.subject.clone().unwrap_or_default(),
        message_id: meta
            .message_id
            .clone()
            .filter(|m| !m.trim().is_empty() && m.len() <= MAX_ID_CHARS),
        thread_ids,
        extraction,
        raw: Some(raw),
        auth_failed,
        over_limit,
        chat_reply_to: None,
    }
}

/// Longest Message-ID we keep or echo (RFC 5322 lines are at most 998 characters).
const MAX_ID_CHARS: usize = 250;
/// Most thread ids (In-Reply-To and References) looked at.
const MAX_THREAD_IDS: usize = 50;

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The header block of a raw message: everything before the first empty
/// line, at most 256 KB (a header block larger than that is junk).
pub fn header_block(raw: &[u8]) -> &[u8] {
    const MAX_HEAD: usize = 256 * 1024;
    let window = &raw[..raw.len().min(MAX_HEAD)];
    let end = window
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| window.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(window.len());
    &raw[..end]
}

/// What a message says, hashed: its From, To, Cc, Subject and Date headers
/// and its body. Trace headers (Received, Delivered-To, Authentication-Results)
/// differ between two deliveries of one message and are left out, so the same
/// message arriving twice hashes the same, and a different message reusing a
/// Message-ID does not.
pub fn content_hash(raw: &[u8]) -> String {
    let head = header_block(raw);
    let body = &raw[head.len()..];
    let mut hasher = Sha256::new();
    let text = String::from_utf8_lossy(head);
    let mut current: Option<String> = None;
    let mut wanted: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(c) = current.take() {
            wanted.push(c);
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if matches!(name.as_str(), "from" | "to" | "cc" | "subject" | "date") {
            current = Some(line.trim().to_string());
        }
    }
    wanted.extend(current);
    wanted.sort();
    for h in &wanted {
        hasher.update(h.as_bytes());
        hasher.update(b"\n");
    }
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(&hasher.finalize()[..16])
}

/// True when our own receiving server (`authserv_id`) vouched for the sender:
/// `dmarc=pass`, or `spf=pass` / `dkim=pass` for a domain aligned with the
/// From domain. Only the topmost `Authentication-Results` header carrying our
/// authserv-id counts (RFC 8601 §5: the receiving server adds its header on
/// top; anything below it, even with our id, may come from the sender).
fn authenticated(meta: &EmailMeta, authserv_id: &str) -> bool {
    let from_domain = meta
        .from
        .as_deref()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase());
    let Some(ours) = meta
        .authentication_results
        .iter()
        .filter_map(|h| parse_auth_results(h))
        .find(|ar| ar.authserv_id.eq_ignore_ascii_case(authserv_id))
    else {
        return false;
    };
    ours.results.iter().any(|r| {
        if r.result != "pass" {
            return false;
        }
        match r.method.as_str() {
            "dmarc" => true,
            "spf" | "dkim" => {
                let Some(from) = from_domain.as_deref() else {
                    return false;
                };
                r.props.iter().any(|(k, v)| {
                    let relevant = match r.method.as_str() {
                        "spf" => k == "smtp.mailfrom" || k == "smtp.helo",
                        _ => k == "header.d" || k == "header.i",
                    };
                    relevant && aligned(v, from)
                })
            }
            _ => false,
        }
    })
}

/// `value` (a domain or an address) is `from` or a subdomain of it.
fn aligned(value: &str, from: &str) -> bool {
    let domain = value
        .rsplit_once('@')
        .map_or(value, |(_, d)| d)
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    domain == from || domain.ends_with(&format!(".{from}"))
}

/// One `Authentication-Results` header (RFC 8601), as far as we need it.
#[derive(Debug, PartialEq, Eq)]
struct AuthResults {
    authserv_id: String,
    results: Vec<MethodResult>,
}

/// `method=result prop=value ...`
#[derive(Debug, PartialEq, Eq)]
struct MethodResult {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

/// Parses an unfolded header value; `None` when it has no authserv-id.
fn parse_auth_results(value: &str) -> Option<AuthResults> {
    let cleaned = strip_comments(value);
    let mut parts = cleaned.split(';');
    let authserv_id = parts
        .next()?
        .split_whitespace()
        .next()? // an optional version number may follow the id
        .to_string();
    if authserv_id.is_empty() {
        return None;
    }
    let mut results = Vec::new();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some(first) = words.next() else { continue };
        let Some((method, result)) = first.split_once('=') else {
            continue; // `none` or junk
        };
        // `dkim/1=pass`: a method version.
        let method = method
            .split('/')
            .next()
            .unwrap_or(method)
            .to_ascii_lowercase();
        let props = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_string()))
            .collect();
        results.push(MethodResult {
            method,
            result: result.to_ascii_lowercase(),
            props,
        });
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// Removes RFC 5322 comments `( ... )` (nested), which may hold anything.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::Intent;

    fn settings(authserv: Option<&str>) -> Settings {
        let mut s = Settings::default();
        s.mail.authserv_id = authserv.map(str::to_string);
        s
    }

    fn mail(headers: &str) -> Vec<u8> {
        format!(
            "{headers}From: Budi <Budi@Example.co.id>\r\nTo: topup@desk.test\r\n\
             Subject: Bukti transfer Rp 1.500.000\r\nMessage-ID: <abc@example.co.id>\r\n\
             In-Reply-To: <our-1@desk.test>\r\nReferences: <our-0@desk.test> <our-1@desk.test>\r\n\
             \r\nSudah transfer Rp 1.500.000 ya.\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn keys_sender_and_thread_come_from_the_headers() {
        let m = inbound_from_email(mail(""), vec!["imap:x:1:2".into()], &settings(None));
        assert_eq!(
            m.keys,
            vec!["msgid:abc@example.co.id".to_string(), "imap:x:1:2".into()]
        );
        assert_eq!(m.sender, "budi@example.co.id");
        assert_eq!(m.channel, Channel::Email);
        assert_eq!(m.message_id.as_deref(), Some("abc@example.co.id"));
        assert_eq!(
            m.thread_ids,
            vec!["our-1@desk.test".to_string(), "our-0@desk.test".into()]
        );
        assert!(m.raw.is_some());
        assert!(
            !m.auth_failed,
            "no authserv-id configured: nothing is checked"
        );
    }

    #[test]
    fn mail_without_message_id_is_keyed_by_its_hash() {
        let raw = b"From: a@b.test\r\nSubject: hi\r\n\r\nhello\r\n".to_vec();
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(&raw)));
        let m = inbound_from_email(raw, vec![], &settings(None));
        assert_eq!(m.keys, vec![expected]);
        assert_eq!(m.message_id, None);
    }

    #[test]
    fn garbage_still_gives_an_inbound() {
        let m = inbound_from_email(
            vec![0, 159, 146, 150],
            vec![],
            &settings(Some("mx.desk.test")),
        );
        assert_eq!(m.extraction.intent, Intent::Unknown);
        assert!(m.keys[0].starts_with("sha256:"));
        assert!(m.auth_failed, "no trusted result at all counts as failed");
    }

    #[test]
    fn forged_header_from_another_authserv_is_ignored() {
        let raw =
            mail("Authentication-Results: mx.evil.test; dmarc=pass header.from=example.co.id\r\n");
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }

    #[test]
    fn dmarc_fail_from_our_server_is_flagged() {
        let raw = mail(
            "Authentication-Results: mx.desk.test; dkim=fail header.d=example.co.id;\r\n \
             spf=softfail smtp.mailfrom=example.co.id; dmarc=fail (p=none) header.from=example.co.id\r\n",
        );
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }

    #[test]
    fn aligned_dkim_pass_is_enough() {
        let raw = mail(
            "Authentication-Results: mx.desk.test (version 1);\r\n dkim=pass (2048-bit key) \
             header.d=mail.example.co.id header.s=sel; spf=fail smtp.mailfrom=bounce.other.test\r\n",
        );
        assert!(!inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }

    #[test]
    fn unaligned_passes_do_not_count() {
        let raw = mail(
            "Authentication-Results: mx.desk.test; dkim=pass header.d=notexample.co.id; \
             spf=pass smtp.mailfrom=user@bulk-sender.test\r\n",
        );
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }

    #[test]
    fn dmarc_pass_and_aligned_spf_pass_are_accepted() {
        let dmarc =
            mail("Authentication-Results: mx.desk.test; dmarc=pass header.from=example.co.id\r\n");
        assert!(!inbound_from_email(dmarc, vec![], &settings(Some("MX.desk.test"))).auth_failed);
        let spf = mail(
            "Authentication-Results: mx.desk.test; spf=pass smtp.mailfrom=budi@example.co.id\r\n",
        );
        assert!(!inbound_from_email(spf, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }

    #[test]
    fn a_forged_pass_below_our_failing_result_is_ignored() {
        // Our receiving server adds its header on top; the sender put a
        // "pass" with our authserv-id further down.
        let raw = mail(
            "Authentication-Results: mx.desk.test; dmarc=fail header.from=example.co.id\r\n\
             Received: from evil by mx.desk.test\r\n\
             Authentication-Results: mx.desk.test; dmarc=pass header.from=example.co.id\r\n",
        );
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
        // ...and a forged pass above another server's header still counts only ours.
        let raw = mail(
            "Authentication-Results: mx.other.test; dmarc=pass header.from=example.co.id\r\n\
             Authentication-Results: mx.desk.test; dmarc=fail header.from=example.co.id\r\n\
             Authentication-Results: mx.desk.test; dmarc=pass header.from=example.co.id\r\n",
        );
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }

    #[test]
    fn a_redelivery_hashes_alike_and_other_content_does_not() {
        let a =
            b"Received: from a\r\nFrom: x@y.id\r\nSubject: s\r\nMessage-ID: <1@y>\r\n\r\nbody\r\n";
        let b = b"Received: from b\r\nDelivered-To: z\r\nFrom: x@y.id\r\nSubject: s\r\nMessage-ID: <1@y>\r\n\r\nbody\r\n";
        let c = b"From: x@y.id\r\nSubject: s\r\nMessage-ID: <1@y>\r\n\r\nother body\r\n";
        assert_eq!(content_hash(a), content_hash(b));
        assert_ne!(content_hash(a), content_hash(c));
    }

    #[test]
    fn comments_cannot_smuggle_a_result() {
        let raw = mail(
            "Authentication-Results: mx.desk.test; dkim=fail header.d=example.co.id (; dmarc=pass)\r\n",
        );
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }
}
