//! Property test: the extractors and domain parsers never panic, whatever
//! bytes arrive: random bytes, random text, and real messages from
//! `tests/parse_cases/` truncated, with bytes overwritten or with junk
//! inserted (broken boundaries, encodings and headers).

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use topup::domain::money::Money;
use topup::domain::order_number::OrderNumber;
use topup::intake::{email_meta, extract_chat, extract_email};

fn real_messages() -> &'static [Vec<u8>] {
    static MESSAGES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MESSAGES.get_or_init(load_messages)
}

fn load_messages() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_cases");
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml" || e == "txt"))
                .filter_map(|p| std::fs::read(p).ok())
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = extract_email(&bytes, "TU");
        let _ = email_meta(&bytes);
        let _ = extract_chat(&String::from_utf8_lossy(&bytes), "TU");
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        let _ = extract_chat(&text, "TU");
        let _ = Money::parse(&text);
        let _ = OrderNumber::parse(&text);
        let _ = OrderNumber::find_all(&text, "TU");
    }

    #[test]
    fn mutated_real_messages_never_panic(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
        junk in proptest::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![
            &b"\r\n--"[..], b"\r\n\r\n", b"=?UTF-8?B?", b"=\r\n", b"<blockquote>", b"</div>", b"Content-Type: multipart/mixed; boundary=x\r\n",
            b"> ", b"Rp 1.500.", b"TU-2026", b"&#x", b"\xff\xfe", b"cid:",
        ])), 0..6),
    ) {
        let messages = real_messages();
        prop_assume!(!messages.is_empty());
        let mut raw = messages[pick.index(messages.len())].clone();
        for (at, piece) in junk {
            let at = at.index(raw.len() + 1);
            raw.splice(at..at, piece.iter().copied());
        }
        for (at, byte) in edits {
            if !raw.is_empty() {
                let at = at.index(raw.len());
                raw[at] = byte;
            }
        }
        if truncate && !raw.is_empty() {
            raw.truncate(cut.index(raw.len()));
        }
        let _ = extract_email(&raw, "TU");
        let _ = email_meta(&raw);
        let _ = extract_chat(&String::from_utf8_lossy(&raw), "TU");
    }
}
