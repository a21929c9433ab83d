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
use crate::desk::{Channel, Inbound};
use crate::intake::email::{EmailMeta, email_meta};
use crate::intake::extract_email;

/// Builds the desk's view of a raw email.
///
/// Keys: `msgid:<Message-ID>` (or `sha256:<hash of the raw bytes>` when the
/// message has none), then `extra_keys` (e.g. the IMAP UIDVALIDITY/UID key).
/// Never fails: unreadable mail still gives an extraction (intent `unknown`).
pub fn inbound_from_email(raw: Vec<u8>, extra_keys: Vec<String>, settings: &Settings) -> Inbound {
    let meta = email_meta(&raw);
    let extraction = extract_email(&raw, &settings.desk.order_prefix);
    let mut keys = Vec::with_capacity(1 + extra_keys.len());
    match &meta.message_id {
        Some(id) if !id.trim().is_empty() => keys.push(format!("msgid:{}", id.trim())),
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
    Inbound {
        channel: Channel::Email,
        keys,
        sender: meta.from.clone().unwrap_or_default(),
        sender_name: meta.from_name.clone(),
        subject: meta.subject.clone().unwrap_or_default(),
        message_id: meta.message_id.clone().filter(|m| !m.trim().is_empty()),
        thread_ids,
        extraction,
        raw: Some(raw),
        auth_failed,
        over_limit: None,
        chat_reply_to: None,
    }
}

/// True when our own receiving server (`authserv_id`) vouched for the sender:
/// `dmarc=pass`, or `spf=pass` / `dkim=pass` for a domain aligned with the
/// From domain. Headers written by anyone else are ignored, because any
/// sender can put an `Authentication-Results` header into their mail.
fn authenticated(meta: &EmailMeta, authserv_id: &str) -> bool {
    let from_domain = meta
        .from
        .as_deref()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase());
    meta.authentication_results
        .iter()
        .filter_map(|h| parse_auth_results(h))
        .filter(|ar| ar.authserv_id.eq_ignore_ascii_case(authserv_id))
        .any(|ar| {
            ar.results.iter().any(|r| {
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
    fn comments_cannot_smuggle_a_result() {
        let raw = mail(
            "Authentication-Results: mx.desk.test; dkim=fail header.d=example.co.id (; dmarc=pass)\r\n",
        );
        assert!(inbound_from_email(raw, vec![], &settings(Some("mx.desk.test"))).auth_failed);
    }
}
