//! Property test: the extractors and domain parsers never panic, whatever
//! bytes arrive: random bytes, random text, real messages from
//! `tests/parse_cases/` truncated, with bytes overwritten or with junk
//! inserted (broken boundaries, encodings and headers), and structured
//! messages built to reach the deep paths (reply and forward prefixes, two or
//! more order numbers, amounts in every notation, quotes) with characters
//! whose byte length changes with their case mixed in everywhere.
//!
//! The suite runs a fixed number of cases; `TOPUP_FUZZ_CASES=N` runs more
//! (`scripts/fuzz-parse` does, in a release build).

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
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

/// The number of cases per property: `default` in the suite, or
/// `TOPUP_FUZZ_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("TOPUP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Characters whose UTF-8 length changes with their case (KELVIN SIGN,
/// İ, dotless ı, ß, final sigma, the ﬁ ligature, Ⱥ), and a few other
/// multi-byte ones.
const ODD: [&str; 10] = [
    "\u{212A}", "\u{0130}", "\u{0131}", "ß", "ς", "\u{FB01}", "\u{023A}", "€", "🙏", "\u{00A0}",
];

fn odd() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&ODD[..]), 0..3).prop_map(|v| v.concat())
}

fn reply_prefix() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "Re", "RE", "re", "Balas", "AW", "Fwd", "FW", "TR", "Terusan", "[Re]", "R", "Re 2", "Fwd ",
    ]);
    prop::collection::vec((odd(), words, odd()), 0..4).prop_map(|v| {
        v.into_iter()
            .map(|(a, w, b)| format!("{a}{w}{b}: "))
            .collect()
    })
}

fn order_number() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["TU", "tu", "Tu", "#TU", "(TU", "`TU", "**TU"]),
        prop::sample::select(vec!["-", "", " ", "_", "\\-", "\u{2013}"]),
        prop::sample::select(vec!["20261125", "20261301", "20260229", "20280229"]),
        prop::sample::select(vec!["-", "", " "]),
        "[0-9]{3,10}",
    )
        .prop_map(|(p, s1, d, s2, n)| format!("{p}{s1}{d}{s2}{n}"))
}

fn amount() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[1-9][0-9]{0,2}", "[0-9]{3}", "[0-9]{3}").prop_map(|(a, b, c)| format!("Rp {a}.{b}.{c}")),
        ("[1-9][0-9]{0,2}", "[0-9]{3}").prop_map(|(a, b)| format!("IDR {a},{b},000.00")),
        ("[1-9]", "[0-9]").prop_map(|(a, b)| format!("{a},{b}jt")),
        "[1-9][0-9]{2}(rb| ribu|k|K)",
        "[1-9][0-9]{4,9}",
        prop::sample::select(vec![
            "satu setengah juta",
            "dua juta lima ratus ribu rupiah",
            "two million five hundred thousand",
            "seratus lima puluh ribu",
            "Rp. 1.500.000,-",
            "1.500.000 IDR",
        ])
        .prop_map(str::to_string),
    ]
}

fn filler() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "tolong",
        "batalkan",
        "ubah jumlah",
        "menjadi",
        "bukan",
        "dari",
        "sudah tf",
        "status",
        "duplikat dari",
        "mau top up",
        "bukti transfer terlampir",
        "saldo tinggal",
        "biaya",
        "\n",
        "\n> ",
        "\n\n",
        ", ",
        ". ",
        "On Mon, Budi <b@x.id> wrote:\n> ",
        "\n-- \n",
        "---------- Forwarded message ---------\nFrom: a@b.c\nSubject: x\n\n",
        "total",
        "ke",
    ])
    .prop_map(str::to_string)
}

/// A message body: filler words, order numbers, amounts and odd
/// characters in any order.
fn body() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => filler(),
            2 => order_number(),
            2 => amount(),
            2 => odd(),
        ],
        1..24,
    )
    .prop_map(|parts| parts.join(" "))
}

fn structured_mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Budi <budi@example.com>\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Every order number the parser returns was written in the message.
fn named_in(number: &OrderNumber, text: &str) -> bool {
    OrderNumber::find_all(text, "TU").contains(number)
}

proptest! {
    #![proptest_config(Config { cases: cases(1000), failure_persistence: None, ..Config::default() })]

    #[test]
    fn structured_messages_never_panic_and_name_only_their_numbers(
        prefix in reply_prefix(),
        subject in body(),
        text in body(),
    ) {
        let subject = format!("{prefix}{}", subject.replace('\n', " "));
        let email = extract_email(&structured_mail(&subject, &text), "TU");
        let chat = extract_chat(&text, "TU");
        if let Some(n) = &email.order_number {
            prop_assert!(named_in(n, &format!("{subject}\n{text}")), "{n} not in the mail");
        }
        if let Some(n) = &chat.order_number {
            prop_assert!(named_in(n, &text), "{n} not in the chat text");
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: cases(2000), failure_persistence: None, ..Config::default() })]

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

/// Pieces of the texts the newer paths read: order numbers in every
/// notation (dots, colons, dated with separators, written short or long),
/// the words that mark one order as an aside or settled, and OCR'd slip lines
/// with misread grouping marks and currency marks.
const PIECES: [&str; 24] = [
    "TU.20261125.0042",
    "TU : 20261125-0042",
    "tu-2026-11-25-0043",
    "TU 2026 1125 0044",
    "TU202611250045",
    "TU\u{2212}20261125\u{2212}0046",
    "bukan ",
    " tapi ",
    " sudah masuk, ",
    " sudah benar ",
    " gimana?",
    " batalkan ",
    "IOR 21.900 000,00",
    "JOR 10,950,000",
    "Rp 1.150,.000,00",
    "IDN 3.500,000",
    "Jumlah ",
    "Biaya Admin ",
    "\n",
    ". ",
    ",",
    " ",
    "99999999999999999999",
    "1.",
];

fn pieced() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            prop::sample::select(PIECES.to_vec()),
            prop::sample::select(ODD.to_vec())
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(Config { cases: cases(1000), failure_persistence: None, ..Config::default() })]

    /// The order a message is about is always one it names, however the
    /// asides, settled orders and odd characters are mixed in; slip text
    /// built from the same pieces never panics and never reads a sum no
    /// slip shows.
    #[test]
    fn several_orders_and_ocr_lines_never_panic(text in pieced()) {
        let named = OrderNumber::find_all(&text, "TU");
        let got = extract_chat(&text, "TU");
        if let Some(n) = &got.order_number {
            prop_assert!(named.contains(n), "{n} is not named in {text:?}");
        }
        let fields = topup::slip::extract::fields_from_text(&text);
        if let Some(a) = fields.amount {
            prop_assert!(a < Money::from_major(100_000_000_000), "{a:?} from {text:?}");
        }
    }
}
