//! Hostile input to the message parser (issue 10, items 1 and 15):
//! characters whose byte length changes with their case, in the places
//! where the parser once sliced one string with another's offsets (reply
//! prefixes, several order numbers), and bodies of a megabyte of figures or
//! order numbers, which once took seconds each. The `topup parse` binary is
//! run on such files too: it must answer, exit 0, and print no backtrace.
//!
//! The large-body tests print their time (`--nocapture` shows it) instead of
//! asserting one: the machine is shared, so a timed assert would flake. They
//! assert what the bound guarantees instead: which candidate wins.

use std::process::Command;
use std::time::Instant;

use topup::intake::{Intent, extract_chat, extract_email};

/// Characters whose UTF-8 length differs from that of their lower or upper
/// case: KELVIN SIGN (3 bytes, lower `k` 1 byte), İ (2 → 3 bytes lower),
/// dotless ı (2 → 1 byte upper), ß (upper `SS`), final sigma, ﬁ ligature,
/// Ⱥ (2 → 3 bytes lower).
const CASE_CHANGERS: [char; 7] = [
    '\u{212A}', '\u{0130}', '\u{0131}', 'ß', 'ς', '\u{FB01}', '\u{023A}',
];

fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Budi <budi@example.com>\r\nTo: desk@topup.example\r\nSubject: =?UTF-8?B?{}?=\r\nMessage-ID: <h1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        base64_encode(subject.as_bytes())
    )
    .into_bytes()
}

/// Standard base64 (the test needs it for one header; no crate for that).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn kelvin_sign_in_a_reply_subject_is_read_not_a_panic() {
    let got = extract_email(
        &mail("Re \u{212A}: top up", "status TU-20261125-0001 gimana ya?"),
        "TU",
    );
    assert_eq!(got.intent, Intent::Status);
    assert_eq!(
        got.order_number.as_ref().map(|n| n.as_str()),
        Some("TU-20261125-0001")
    );
}

#[test]
fn dotless_i_before_two_order_numbers_is_read_not_a_panic() {
    let body = "ı€TU-20261125-0001 TU-20261125-0002";
    let chat = extract_chat(body, "TU");
    assert_eq!(chat.intent, Intent::Unknown);
    let email = extract_email(&mail("pesanan", body), "TU");
    assert_eq!(email.intent, Intent::Unknown);
    // With an intent, the first number named is the order acted on.
    let cancel = extract_chat("ı€ batalkan TU-20261125-0001 TU-20261125-0002", "TU");
    assert_eq!(cancel.intent, Intent::Cancel);
    assert_eq!(
        cancel.order_number.as_ref().map(|n| n.as_str()),
        Some("TU-20261125-0001")
    );
}

#[test]
fn an_aside_still_skips_the_duplicate_after_case_changing_text() {
    // "duplikat dari" before the first number: the second is the one meant.
    // The İ and K signs before it shift every upper-cased offset.
    let got = extract_chat(
        "İİİ \u{212A}\u{212A} duplikat dari TU-20261125-0001.\nTolong batalkan TU-20261125-0002",
        "TU",
    );
    assert_eq!(got.intent, Intent::Cancel);
    assert_eq!(
        got.order_number.as_ref().map(|n| n.as_str()),
        Some("TU-20261125-0002")
    );
}

#[test]
fn every_case_changing_character_in_every_position_parses() {
    let templates = [
        "Re {c}: top up",
        "{c}Re: Fwd{c}: Rp 1.500.000",
        "Balas{c}: batalkan TU-20261125-0001",
    ];
    let bodies = [
        "{c}€TU-20261125-0001 TU-20261125-0002",
        "ubah jumlah {c} TU-20261125-0001 menjadi Rp 1.450.000 bukan {c} Rp 1.500.000",
        "{c}{c}{c} sudah tf 2,5jt utk TU-20261125-0001, {c} duplikat dari TU-20261125-0003",
        "> {c} TU-20261125-0009\n{c} status TU20261125-0001?",
    ];
    for c in CASE_CHANGERS {
        for t in templates {
            for b in bodies {
                let subject = t.replace("{c}", &c.to_string());
                let body = b.replace("{c}", &c.to_string());
                let _ = extract_email(&mail(&subject, &body), "TU");
                let _ = extract_chat(&body, "TU");
            }
        }
    }
    // The amend still finds its new amount around the odd characters.
    let got = extract_chat(
        "ubah jumlah \u{212A} TU-20261125-0001 menjadi Rp 1.450.000 bukan ı Rp 1.500.000",
        "TU",
    );
    assert_eq!(got.intent, Intent::Amend);
    assert_eq!(got.amount.map(|m| m.to_plain()).as_deref(), Some("1450000"));
}

#[test]
fn topup_parse_answers_on_the_files_that_panicked() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let eml = dir.path().join("kelvin.eml");
    std::fs::write(
        &eml,
        mail("Re \u{212A}: top up", "ı€TU-20261125-0001 TU-20261125-0002"),
    )?;
    let txt = dir.path().join("dotless.txt");
    std::fs::write(&txt, "ı€TU-20261125-0001 TU-20261125-0002")?;
    let out = Command::new(env!("CARGO_BIN_EXE_topup"))
        .arg("parse")
        .arg(&eml)
        .arg(&txt)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "topup parse failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["intent"], "unknown", "{line}");
    }
    Ok(())
}

/// A body of about `bytes` bytes made of `unit` repeated.
fn repeated(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len())
}

#[test]
fn a_megabyte_of_amounts_is_parsed_in_bounded_work() {
    // 100,000 distinct amounts: the first stated is the one taken, as in a
    // short message (the rest lies beyond what the parser examines).
    let mut body = String::from("sudah transfer Rp 1.250.000 ya\n");
    let mut k = 0u32;
    while body.len() < 1_000_000 {
        k += 1;
        body.push_str(&format!("Rp {}.{:03}.000 ", 1 + k % 9, k % 1000));
    }
    let eml = mail("bukti transfer", &body);
    let started = Instant::now();
    let got = extract_email(&eml, "TU");
    let email_time = started.elapsed();
    let started = Instant::now();
    let chat = extract_chat(&body, "TU");
    let chat_time = started.elapsed();
    println!("1 MB body of {k} amounts: email {email_time:?}, chat {chat_time:?} (debug build)");
    assert_eq!(got.intent, Intent::Slip);
    assert_eq!(got.amount.map(|m| m.to_plain()).as_deref(), Some("1250000"));
    assert_eq!(
        chat.amount.map(|m| m.to_plain()).as_deref(),
        Some("1250000")
    );
}

#[test]
fn a_megabyte_of_order_numbers_is_parsed_in_bounded_work() {
    let mut body = String::from("batalkan ");
    let mut k = 0u32;
    while body.len() < 1_000_000 {
        k += 1;
        body.push_str(&format!("TU-20261125-{:05} ", k));
    }
    let eml = mail("batal", &body);
    let started = Instant::now();
    let got = extract_email(&eml, "TU");
    let email_time = started.elapsed();
    let started = Instant::now();
    let chat = extract_chat(&body, "TU");
    let chat_time = started.elapsed();
    // The same order number fifty thousand times (the dedup path).
    let same = format!("batalkan {}", repeated("TU-20261125-0007 ", 1_000_000));
    let started = Instant::now();
    let same_got = extract_chat(&same, "TU");
    let same_time = started.elapsed();
    println!(
        "1 MB body of {k} order numbers: email {email_time:?}, chat {chat_time:?}; one number repeated: {same_time:?} (debug build)"
    );
    assert_eq!(got.intent, Intent::Cancel);
    assert_eq!(
        got.order_number.as_ref().map(|n| n.as_str()),
        Some("TU-20261125-00001")
    );
    assert_eq!(
        chat.order_number.as_ref().map(|n| n.as_str()),
        Some("TU-20261125-00001")
    );
    assert_eq!(
        same_got.order_number.as_ref().map(|n| n.as_str()),
        Some("TU-20261125-0007")
    );
}

#[test]
fn a_megabyte_of_style_tags_in_html_is_converted_in_bounded_work() {
    let html = repeated("<style>x</style>", 1_000_000);
    let raw = format!(
        "From: a@example.com\r\nSubject: top up\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}<p>mau top up Rp 2.000.000</p>\r\n"
    );
    let started = Instant::now();
    let got = extract_email(raw.as_bytes(), "TU");
    println!(
        "1 MB of <style> elements: {:?} (debug build)",
        started.elapsed()
    );
    // Style elements convert to no text, so the request after them is read.
    assert_eq!(got.intent, Intent::Request);
}
