//! Unit tests of the intake rules on small hand-written texts.

use super::text::{self, ALL_PATTERNS};
use super::*;

fn amount_of(s: &str) -> Option<String> {
    let hits = text::find_amounts(s);
    text::choose_amount(s, &hits, Intent::Slip).map(Money::to_plain)
}

/// Asserts the amount read from each text (as the amount of a payment).
fn assert_amounts<const N: usize>(cases: [(&str, &str); N]) {
    for (s, want) in cases {
        assert_eq!(amount_of(s).as_deref(), Some(want), "text {s:?}");
    }
}

/// Asserts the intent the rules give each text without a slip (`amount`:
/// whether the message states one).
fn assert_intents<const N: usize>(amount: bool, cases: [(&str, Intent); N]) {
    for (s, want) in cases {
        assert_eq!(text::classify(s, 0, amount), want, "text {s:?}");
    }
}

#[test]
fn every_pattern_is_listed_and_compiles() {
    // A pattern that does not compile reads as never matching: every one
    // declared in these files must be in the lists checked below.
    for source in [
        include_str!("text.rs"),
        include_str!("email.rs"),
        include_str!("chat.rs"),
    ] {
        for line in source.lines() {
            let Some((name, _)) = line
                .strip_prefix("static ")
                .and_then(|rest| rest.split_once(": Pat"))
            else {
                continue;
            };
            assert!(
                source.contains(&format!("&{name},")) || source.contains(&format!("&{name}]")),
                "{name} is declared but not in its file's list of patterns"
            );
        }
    }
    let all = ALL_PATTERNS
        .iter()
        .chain(email::EMAIL_PATTERNS)
        .chain(chat::CHAT_PATTERNS);
    for (i, p) in all.enumerate() {
        assert!(p.get().is_some(), "pattern {i} does not compile");
    }
}

#[test]
fn amounts_in_every_notation() {
    assert_amounts([
        ("sudah tf Rp 1.500.000 ya", "1500000"),
        ("nominal Rp. 1.500.000,- ok", "1500000"),
        ("IDR 1,500,000.00 sent", "1500000"),
        ("sebesar Rp 1.500.000,50", "1500000.50"),
        ("1.500.000 IDR transferred", "1500000"),
        ("tf 1,5jt", "1500000"),
        ("tf 2 jt", "2000000"),
        ("tf 750rb", "750000"),
        ("tf 500k", "500000"),
        ("topup 1500000", "1500000"),
        ("mau isi saldo satu setengah juta", "1500000"),
        ("top up dua juta lima ratus ribu rupiah", "2500000"),
        ("top up seratus lima puluh ribu", "150000"),
        ("a top-up of two million five hundred thousand", "2500000"),
        ("saya transfer sebelas juta", "11000000"),
        ("we paid IDR 5 million", "5000000"),
        ("transferred 2.5 million rupiah", "2500000"),
        ("sudah tf 1jt500 ya", "1500000"),
        ("sudah tf 2jt 250 ya", "2250000"),
        ("sudah tf 1jt 250rb ya", "1250000"),
        ("sudah tf 1 juta 500 ribu", "1500000"),
        ("sudah tf 1.250K", "1250000"),
        ("sudah tf 1,500 rb", "1500000"),
        ("sudah tf satu koma lima juta", "1500000"),
        ("paid two point five million", "2500000"),
        ("please top up seven and a half million rupiah", "7500000"),
        ("we paid two and a half million", "2500000"),
        ("please add IDR 10M to our balance", "10000000"),
        ("the amount should be 2.5M, sorry", "2500000"),
        ("1.5 mio transferred today", "1500000"),
        ("need 10M credit asap pls", "10000000"),
        ("tolong ubah jadi setengah juta ya", "500000"),
        ("top up satu setengah juta", "1500000"),
        ("sudah lunas ya TU 20260911 5134 Rp 12,5 juta", "12500000"),
        ("sudah tf 750000 Rp 1.500.000", "1500000"),
        ("sudah tf 1jt750rb", "1750000"),
        ("sudah tf 1jt 50rb", "1050000"),
        ("sudah tf 5 jeti", "5000000"),
        ("sudah tf 500 rebu", "500000"),
        ("sudah tf dua juta setengah", "2500000"),
        ("sudah tf sejuta setengah", "1500000"),
        ("sudah tf 2 juta setengah ya", "2500000"),
        ("sudah tf 3jt setengah", "3500000"),
        // Digits after "koma" are decimals of the scale, however many.
        ("yang saya transfer satu koma dua lima juta", "1250000"),
        ("could you set us up for another 10 mil?", "10000000"),
        ("remitted 2.5 mil today", "2500000"),
        // Javanese: ewu is ribu, setunggal is satu.
        ("sampun transfer 750 ewu", "750000"),
        ("sampun transfer setunggal juta", "1000000"),
        // Taken back by what follows it.
        ("harusnya Rp140.000 eh Rp1.400.000", "1400000"),
        ("paid 2jt, I mean 2,5jt", "2500000"),
        // The difference is not the amount transferred.
        ("sudah tf, kelebihan 100rb, tf nya 1,1jt", "1100000"),
    ]);
}

#[test]
fn numbers_that_are_not_amounts() {
    for s in [
        // In Indonesian `M` is miliar as often as million: no guess.
        "mau top up 5M ya",
        "rek 1234567890 a.n. Budi",
        "WA +62 812-3456-7890",
        "tanggal 24/11/2026 jam 13.45",
        "Ref 20261119742185",
        "INV-20261125-0042 dan TU-20261125-0042",
        "NPWP 01.234.567.8-901.000",
        "Jl. Merdeka No. 45, Bandung 40111",
        "saldo tinggal Rp 350.000",
        "saldonya kami kira habis, ternyata masih ada Rp 3.200.000",
        "our balance still shows the old figure (Rp 420.000)",
        "biaya admin Rp 6.500",
        "bunga 0,5% per bulan",
        "dua kali transfer",
        "<@&338799744583949891> halo",
        // "matur sewu nuwun" is thanks, not a thousand.
        "matur sewu nuwun nggih",
        // A balance stated however far into its clause, taxes and budgets.
        "Sisa saldo di akun kami per pagi ini Rp1.605.000",
        "As of this morning our balance stands at IDR 310,000.",
        "Our balance has dropped to Rp 700.000.",
        "The VAT recorded on INV-66811 is IDR 1,037,300.00.",
        "PPN 11% sebesar Rp 493.900,- akan kami laporkan terpisah",
        "Our quarterly budget for this service is IDR 85.000.000.",
        "Anggaran top up kami untuk bulan ini sebesar Rp 35.000.000.",
        "Dashboard masih menunjukkan saldo Rp 80.000.",
        // A difference is not the amount, with its suffix too.
        "Kekurangannya sebesar Rp 500.000 sudah kami transfer pagi ini",
    ] {
        assert_eq!(amount_of(s), None, "text {s:?}");
    }
}

#[test]
fn choosing_among_amounts() {
    let amend = |s: &str| {
        let hits = text::find_amounts(s);
        text::choose_amount(s, &hits, Intent::Amend).map(Money::to_plain)
    };
    assert_eq!(
        amend("ubah dari Rp 2.000.000 menjadi Rp 2.500.000").as_deref(),
        Some("2500000")
    );
    assert_eq!(
        amend("jadi 2jt ya, kemarin salah input 20jt").as_deref(),
        Some("2000000")
    );
    assert_eq!(
        amend("nominalnya 1.500.000 bukan 15.000.000").as_deref(),
        Some("1500000")
    );
    // "bukan X tapi Y": the negation stops at the contrast.
    assert_eq!(
        amend("edit order TU-20261208-0666: bukan 3jt tapi 3,3jt").as_deref(),
        Some("3300000")
    );
    assert_eq!(
        amend("bukan 5jt tapi 500rb ya kak").as_deref(),
        Some("500000")
    );
    assert_eq!(
        amend("nominal kurang 500rb, mohon dijadikan 3jt").as_deref(),
        Some("3000000")
    );
    // The amount a change cancels, or the one typed by mistake, is the old one.
    assert_eq!(
        amend("batalin nominal 5jt di TU-20260611-5000, ganti 4jt").as_deref(),
        Some("4000000")
    );
    assert_eq!(
        amend("cancel the 2.5jt on TU-20260120-0250 and put 2jt instead").as_deref(),
        Some("2000000")
    );
    assert_eq!(
        amend("I mistakenly put 2,000,000 on it. Please adjust it to 2,500,000.").as_deref(),
        Some("2500000")
    );
    assert_eq!(
        amend("sorry salah ketik, 2jt maksudnya, bukan 20jt").as_deref(),
        Some("2000000")
    );
    assert_eq!(
        amend("tadi kuketik 330rb, padahal maksudnya 3,3jt").as_deref(),
        Some("3300000")
    );
    // "Not going to be X": X is the old amount, whatever follows.
    assert_eq!(
        amend("kak yg tadi ga jadi 5jt, ganti 2,5jt aja").as_deref(),
        Some("2500000")
    );
    assert_eq!(
        amend("TU-20261203-0778 gak jadi 3jt, jadi 2jt").as_deref(),
        Some("2000000")
    );
    assert_eq!(
        amend("kak maaf td sy input 300rb, mestinya 3jt").as_deref(),
        Some("3000000")
    );
    // Unchanged: the amount after "ke" when the old one is named first.
    assert_eq!(
        amend("ganti nominal 5jt ke 3jt").as_deref(),
        Some("3000000")
    );
    // A balance is no amount, an amount after it still is.
    assert_eq!(
        amount_of("saldo tinggal 100rb, mau topup 2jt").as_deref(),
        Some("2000000")
    );
    assert_eq!(
        amount_of("saldo masih kosong, tf 2jt ya").as_deref(),
        Some("2000000")
    );
    // A balance word is no distractor where the clause asks to add to it.
    assert_amounts([
        ("Recharge the balance: IDR 4,000,000.00", "4000000"),
        ("tolong isi saldo kami sebesar 2jt", "2000000"),
        ("Kami berencana menambah saldo 1 juta", "1000000"),
        ("top up balance IDR 4,000,000", "4000000"),
    ]);
    // The amount after the balance, the tax or the budget is the one.
    assert_eq!(
        amount_of("Our balance has dropped to Rp 700.000. We hereby request a top-up of 750k.")
            .as_deref(),
        Some("750000")
    );
    assert_eq!(
        amount_of(
            "The 11% VAT of IDR 1,773,200 will be booked separately. Please create a top-up order for Rp 2.750.000."
        )
        .as_deref(),
        Some("2750000")
    );
    assert_eq!(
        amount_of("This is drawn from our Q4 budget of Rp40.000.000. Dana IDR 15.000.000 sudah kami kirim.")
            .as_deref(),
        Some("15000000")
    );
    // The total, whether it comes first or after its parts.
    assert_eq!(
        amount_of("Rp 5.000.000 dalam dua kali: Rp 3.000.000 dan Rp 2.000.000").as_deref(),
        Some("5000000")
    );
    assert_eq!(
        amount_of("Rp 3.000.000 dan Rp 2.000.000, total Rp 5.000.000").as_deref(),
        Some("5000000")
    );
}

#[test]
fn reply_split_keeps_own_text_and_forwards() {
    let gmail = "Bukti terlampir.\n\n-- \nAni\nPT Ani\n\nOn Mon, 7 Dec 2026 at 10:00, Billing <\ntopup@billing.example.com> wrote:\n> Pesanan TU-20261207-0001\n> Rp 5.000.000\n";
    let s = text::split_reply(gmail, false);
    assert_eq!(s.own, "Bukti terlampir.");
    assert!(s.quoted.contains("TU-20261207-0001") && !s.own.contains("Ani"));

    let outlook = "Sudah transfer.\n\nDari: Billing <topup@billing.example.com>\nDikirim: Senin, 7 Desember 2026\nKepada: Ani\nPerihal: [TU-20261207-0002] Pesanan\n\nSilakan transfer Rp 5.000.000\n";
    let s = text::split_reply(outlook, false);
    assert_eq!(s.own, "Sudah transfer.");
    assert!(s.quoted.contains("[TU-20261207-0002] Pesanan") && s.quoted.contains("Rp 5.000.000"));

    // Under FW: the same block is the forwarded message: own text.
    let s = text::split_reply(outlook, true);
    assert!(s.own.contains("Silakan transfer Rp 5.000.000"), "{s:?}");

    let bottom = "Pada Sen, 7 Des 2026 pukul 10.00 Billing menulis:\n> Jumlah Rp 1.000.000\n\nSudah saya bayar.\n";
    let s = text::split_reply(bottom, false);
    assert_eq!(s.own, "Sudah saya bayar.");

    let forward = "FYI\n\n---------- Forwarded message ---------\nFrom: A <a@x.example>\nDate: today\nSubject: bukti\nTo: B <b@x.example>\n\nSudah transfer Rp 2.000.000\n";
    let s = text::split_reply(forward, false);
    assert!(
        s.own.contains("Sudah transfer Rp 2.000.000") && !s.own.contains("From:"),
        "{s:?}"
    );
}

#[test]
fn html_quotes_become_prefixed_lines() {
    let html = "<html><head><style>p{color:red}</style></head><body><div>Halo&nbsp;admin,<br>top up Rp&nbsp;1.500.000</div>\
                <blockquote><div>Saldo Rp 3.000.000</div></blockquote><p>&#84;&#x55;-20261207-0003 &amp; co</p></body></html>";
    let t = text::html_to_text(html);
    assert_eq!(
        t,
        "Halo admin,\ntop up Rp 1.500.000\n> Saldo Rp 3.000.000\nTU-20261207-0003 & co"
    );
}

#[test]
fn intents_follow_the_contract_order() {
    assert_eq!(
        text::classify("ubah jumlah menjadi 2jt sesuai bukti terlampir", 1, true),
        Intent::Amend
    );
    assert_eq!(
        text::classify("tolong batalkan, salah nominal", 0, false),
        Intent::Cancel
    );
    assert_eq!(
        text::classify("sudah transfer kemarin, kok belum masuk?", 0, true),
        Intent::Status
    );
    assert_eq!(
        text::classify("sudah transfer kemarin ya", 0, true),
        Intent::Slip
    );
    assert_eq!(text::classify("kok belum masuk?", 1, false), Intent::Slip);
    assert_eq!(text::classify("mau top up 2jt", 0, true), Intent::Request);
    assert_eq!(
        text::classify("bisa top up pakai QRIS?", 0, false),
        Intent::Unknown
    );
    assert_eq!(
        text::classify("terima kasih, top up berhasil", 0, true),
        Intent::Unknown
    );
}

#[test]
fn an_action_refused_right_before_its_word_is_not_asked_for() {
    assert_intents(
        false,
        [
            ("ga jadi cancel ya kak, barusan udah aku tf", Intent::Slip),
            (
                "no need to cancel TU-20261124-1414, thanks",
                Intent::Unknown,
            ),
            ("please don't cancel, we have just paid it", Intent::Slip),
            ("jangan dibatalkan ya kak, makasih", Intent::Unknown),
            ("gak usah di-cancel, kok belum masuk?", Intent::Status),
            // Not refused: another clause, or the refusal is the cancellation.
            ("tidak bisa bayar, batalkan saja", Intent::Cancel),
            ("ga jadi top up ya kak", Intent::Cancel),
            ("jangan diproses dulu, tolong batalkan", Intent::Cancel),
            ("dibatalke mawon nggih", Intent::Cancel),
            ("dibatalkeun wae", Intent::Cancel),
            ("No, please disregard my order", Intent::Cancel),
            // A negation in the clause before refuses nothing in this one.
            ("No, cancel it", Intent::Cancel),
            ("tidak, hapus saja ordernya", Intent::Cancel),
            ("jangan ditunda. hapus saja ordernya", Intent::Cancel),
        ],
    );
    let refused = text::signals("ga jadi cancel, udah tf", "TU");
    assert!(refused.has(text::Signals::CANCEL_REFUSED));
    assert!(!refused.has(text::Signals::CANCEL));
    assert_eq!(
        text::classify("please don't change the amount", 0, true),
        Intent::Unknown
    );
}

#[test]
fn subject_prefixes() {
    let k = subject_kind("RE: Fwd: bukti");
    assert!(k.reply && !k.forward);
    let k = subject_kind("Fwd: RE: bukti");
    assert!(k.forward && k.reply);
    let k = subject_kind("Top-up: 2jt");
    assert!(!k.forward && !k.reply);
    let k = subject_kind("Balas: [TU-20261207-0001] Pesanan");
    assert!(k.reply);
}

#[test]
fn chat_markup_is_read_as_shown() {
    let got = extract_chat(
        "<@123> **udah tf** `TU-20261207-0004` 1,5jt\n> TU-20261207-0001 3jt",
        "TU",
    );
    assert_eq!(got.intent, Intent::Slip);
    assert_eq!(
        got.order_number.map(|n| n.to_string()).as_deref(),
        Some("TU-20261207-0004")
    );
    assert_eq!(got.amount.map(Money::to_plain).as_deref(), Some("1500000"));
    assert!(got.slips.is_empty());
}

#[test]
fn automatic_chat_messages_are_ignored_and_people_who_mention_them_are_not() {
    for auto in [
        "[Auto-reply] Terima kasih, kami di luar jam kerja. TU-20261207-0005",
        "Balasan otomatis: nomor ini tidak dipantau.",
        "**Out of Office** - back Monday.",
        "🤖 *ReminderBot*: jangan lupa top up 2jt",
        "🔔 [Finance Bot] Pembayaran keluar tercatat: Rp 2.000.000",
        "Terima kasih telah menghubungi Toko Makmur, pesan Anda akan kami balas.",
        "I am away this week. (automatic reply)",
        "Saldo Anda Rp 150.000 - auto-generated, do not reply",
    ] {
        assert_eq!(extract_chat(auto, "TU").intent, Intent::Ignore, "{auto}");
    }
    for human in [
        "saya out of office kemarin, baru sempat tf 2jt utk TU-20261207-0005",
        "sorry for the auto-reply earlier, please top up 5jt",
        "bot nya error ya? TU-20261207-0005 belum masuk",
        "robot: mau top up 3jt",
    ] {
        assert_ne!(extract_chat(human, "TU").intent, Intent::Ignore, "{human}");
    }
}

#[test]
fn requests_and_automatic_mail_carry_no_order() {
    let got = extract_chat("seperti TU-20261207-0005 kemarin, top up lagi 2jt", "TU");
    assert_eq!(got.intent, Intent::Request);
    assert_eq!(got.order_number, None);

    let raw = b"From: a@x.example\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nTU-20261207-0006 Rp 5.000.000\r\n";
    assert_eq!(
        extract_email(raw, "TU"),
        Extraction::nothing(Intent::Ignore)
    );
    let raw = b"From: a@x.example\r\nSubject: hi\r\nAuto-Submitted: no\r\n\r\nmau top up 5jt\r\n";
    assert_eq!(extract_email(raw, "TU").intent, Intent::Request);
}

#[test]
fn intent_serialises_lowercase() -> Result<(), serde_json::Error> {
    assert_eq!(serde_json::to_string(&Intent::Amend)?, "\"amend\"");
    assert_eq!(
        serde_json::from_str::<Intent>("\"ignore\"")?,
        Intent::Ignore
    );
    assert_eq!(Intent::Status.to_string(), "status");
    Ok(())
}

#[test]
fn html_forwards_count_as_own_text() {
    let gmail = "<div dir=\"ltr\">Tolong diproses.<br><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">\
                 ---------- Forwarded message ---------<br>From: <b>Keu</b> &lt;k@x.example&gt;<br>Date: Mon, 7 Dec 2026<br>\
                 Subject: bukti<br>To: &lt;a@x.example&gt;<br></div><br><br><div>Sudah transfer Rp 2.000.000 untuk TU-20261207-0007</div></div></div>";
    let s = text::split_reply(&text::html_to_text(gmail), false);
    assert!(
        s.own
            .contains("Sudah transfer Rp 2.000.000 untuk TU-20261207-0007"),
        "{s:?}"
    );
    assert!(!s.own.contains("Date:"), "{s:?}");

    let outlook = "<div>FYI</div><div id=\"divRplyFwdMsg\"><b>From:</b> Keu &lt;k@x.example&gt;<br><b>Sent:</b> Monday<br>\
                   <b>To:</b> A<br><b>Subject:</b> bukti</div><div>Sudah transfer Rp 3.000.000</div>";
    let fw = text::split_reply(&text::html_to_text(outlook), true);
    assert!(fw.own.contains("Rp 3.000.000"), "{fw:?}");
    let re = text::split_reply(&text::html_to_text(outlook), false);
    assert_eq!(re.own, "FYI");
    assert!(re.quoted.contains("Rp 3.000.000"), "{re:?}");
}

#[test]
fn among_several_orders_the_settled_one_is_not_the_one_acted_on() {
    let order = |s: &str| text::choose_order(s, "TU", Intent::Unknown).map(|n| n.to_string());
    assert_eq!(
        order("TU-20270414-0301 was credited this morning, but TU-20270414-0302 is still pending")
            .as_deref(),
        Some("TU-20270414-0302")
    );
    assert_eq!(
        order(
            "TU-20270323-0400 sudah lunas (makasih), yang TU-20270323-0401 tolong ubah jadi 1,6jt"
        )
        .as_deref(),
        Some("TU-20270323-0401")
    );
    // Asked about, not settled: the first one stays.
    assert_eq!(
        order("TU-20270414-0301 sudah masuk belum? kalau TU-20270414-0302 gimana").as_deref(),
        Some("TU-20270414-0301")
    );
    // A settled order before a question about the next one: the question is the next one's.
    assert_eq!(
        order("kemarin TU-20261125-0041 sudah masuk, sekarang TU-20261125-0042 gimana statusnya?")
            .as_deref(),
        Some("TU-20261125-0042")
    );
    // One said to be right, the other acted on.
    assert_eq!(
        order("TU-20261125-0041 sudah benar, yang TU-20261125-0042 tolong dibatalkan").as_deref(),
        Some("TU-20261125-0042")
    );
    // An aside word belongs to the number right after it, not to the next one.
    assert_eq!(
        order("bukan TU-20261125-0041 tapi TU-20261125-0042 yang mau saya cancel").as_deref(),
        Some("TU-20261125-0042")
    );
    assert_eq!(
        order("bukan TU202611250041 tapi TU 20261125 0042 yang mau saya cancel").as_deref(),
        Some("TU-20261125-0042"),
        "numbers written shorter or longer than their canonical form"
    );
    // Written with slashes, or underlined in chat markup.
    assert_eq!(
        order("status TU/20261204/0333 ?").as_deref(),
        Some("TU-20261204-0333")
    );
    assert_eq!(
        extract_chat("__TU-20270207-1203__ batal", "TU")
            .order_number
            .map(|n| n.to_string())
            .as_deref(),
        Some("TU-20270207-1203")
    );
}

#[test]
fn a_number_taken_back_or_named_by_its_sequence_is_chosen_right() {
    let order = |s: &str| text::choose_order(s, "TU", Intent::Unknown).map(|n| n.to_string());
    // The customer corrects a mistyped number: the one named after is meant.
    assert_eq!(
        order("kak TU-20260227-0862 udh sy bayar, eh salah, TU-20260227-0826 maksudnya. 3 juta")
            .as_deref(),
        Some("TU-20260227-0826")
    );
    assert_eq!(
        order("TU-20260227-0862, sorry I meant TU-20260227-0826, please cancel").as_deref(),
        Some("TU-20260227-0826")
    );
    // Two numbers, then the bare sequence of the one meant.
    assert_eq!(
        order(
            "pesanan TU-20260628-0512, TU-20260628-0513 tolong yang 0513 aja diubah jadi 600 ribu"
        )
        .as_deref(),
        Some("TU-20260628-0513")
    );
    // A sequence repeated for the order set aside does not bring it back.
    assert_eq!(
        order("batalin yg TU-20260505-0410 ya, bukan yg TU-20260505-0408. yg 0408 tetap jalan")
            .as_deref(),
        Some("TU-20260505-0410")
    );
    // A sequence that fits no order, or an amount, changes nothing.
    assert_eq!(
        order("TU-20260628-0512 dan TU-20260628-0513 gimana? sudah tf 1500 ribu").as_deref(),
        Some("TU-20260628-0512")
    );
}

#[test]
fn text_pasted_in_compatibility_forms_is_read_as_plain() {
    let chat = |s: &str| extract_chat(s, "TU");
    // Fullwidth letters, digits and hyphen, as some phone keyboards paste them.
    let e = chat("ＴＵ－２０２７０５０９－０２０５ udh sy bayar ya kak, Rp１.０００.０００");
    assert_eq!(
        e.order_number.map(|n| n.to_string()).as_deref(),
        Some("TU-20270509-0205")
    );
    assert_eq!(e.amount.map(Money::to_plain).as_deref(), Some("1000000"));
    // "Fancy" bold digits of chat apps.
    let e = chat("mau top up 𝟮.𝟱𝟬𝟬.𝟬𝟬𝟬 ya kak");
    assert_eq!(e.intent, Intent::Request);
    assert_eq!(e.amount.map(Money::to_plain).as_deref(), Some("2500000"));
    // The same in mail bodies and subjects.
    let raw = "From: budi@maju.co.id\r\nTo: topup@desk.test\r\nSubject: status ＴＵ２０２６１０２４０５５０\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\nganti nominal jadi ２．０００．０００ kak\r\n";
    let e = extract_email(raw.as_bytes(), "TU");
    assert_eq!(
        e.order_number.map(|n| n.to_string()).as_deref(),
        Some("TU-20261024-0550")
    );
    assert_eq!(e.amount.map(Money::to_plain).as_deref(), Some("2000000"));
}

#[test]
fn normalising_never_lets_a_text_grow_past_twice_its_size() {
    // U+FDFA is one character that NFKC writes as eighteen.
    let hostile = "\u{FDFA}".repeat(10_000);
    let out = text::normalise_text(&hostile);
    assert!(out.len() <= hostile.len() * 2, "{} bytes", out.len());
    assert!(
        out.starts_with("صلى الله"),
        "still normalised: {}",
        out.chars().take(20).collect::<String>()
    );
    // Plain ASCII is returned as it was.
    assert_eq!(
        text::normalise_text("TU-20261125-0042\r\n"),
        "TU-20261125-0042\n"
    );
}

#[test]
fn a_cancellation_only_the_model_reads_is_marked_as_the_models() {
    // The rules read this one: carried out at once.
    let plain = extract_chat("TU-20261130-0007 dibatalkan saja", "TU");
    assert_eq!(plain.intent, Intent::Cancel);
    assert!(!plain.intent_by_model);
    // No cancel word the rules know: the model's reading, which the desk
    // asks about before acting on.
    let model = extract_chat("order TU-20261130-0007 tidak dilanjutkan ya", "TU");
    assert_eq!(model.intent, Intent::Cancel);
    assert!(model.intent_by_model);
    assert_eq!(
        model.order_number.map(|n| n.to_string()),
        Some("TU-20261130-0007".to_string())
    );
}

#[test]
fn a_mail_with_a_proof_attached_is_a_payment_unless_it_cancels_or_amends() {
    let mail = |text: &str| {
        format!(
            "From: jh@nordsee.example\r\nTo: topup@desk.test\r\nSubject: Bank confirmation\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --b\r\nContent-Type: image/jpeg\r\nContent-Disposition: inline; filename=IMG_0934.jpeg\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U\r\n\
             --b--\r\n"
        )
    };
    for (text, want) in [
        // A top-up word beside the proof: still the payment for it.
        (
            "please find enclosed the bank confirmation for our top-up of IDR 6,000,000.00, order TU-20261029-5510.",
            Intent::Slip,
        ),
        // Nothing but the phone's footer: the model has no words to go on.
        ("Sent from my iPhone", Intent::Slip),
        (
            "tolong batalkan TU-20261029-5510, salah kirim",
            Intent::Cancel,
        ),
    ] {
        let e = extract_email(mail(text).as_bytes(), "TU");
        assert_eq!(e.slips.len(), 1, "{text}");
        assert_eq!(e.intent, want, "{text}");
    }
}

#[test]
fn amounts_said_the_way_they_are_dictated() {
    assert_amounts([
        ("kak yg 2 setengah jt kemarin udah masuk blm", "2500000"),
        ("mau depo 3 setengah juta", "3500000"),
        ("isi 750 setengah rb", "750500"),
        ("bisa dijadiin 1 koma 75 jt aja", "1750000"),
        ("isi 1 koma 2 juta ya mas", "1200000"),
        ("please add 1 point 5 million", "1500000"),
        ("topup2jt kak", "2000000"),
        ("done kak,5 jt ke rek BCA ya", "5000000"),
        ("teh abdi bade topup sajuta", "1000000"),
    ]);
    // Glued to a word without a millions or thousands word, a figure stays
    // part of that word (codes, account labels).
    assert_eq!(amount_of("kode promo2500000"), None);
}

#[test]
fn a_total_named_after_its_figure_and_an_amount_of_the_past_are_read_as_meant() {
    assert_eq!(
        amount_of("we paid IDR 20,000,000 in total – split into 12,000,000 and 8,000,000")
            .as_deref(),
        Some("20000000")
    );
    // "total" before the next figure names that one, not the part before it.
    assert_eq!(
        amount_of("udah tf 2 kali, 1jt + 1,5jt, total 2,5jt").as_deref(),
        Some("2500000")
    );
    // A time of the past reaches up to the amount before, not beyond it.
    let request = |s: &str| {
        let hits = text::find_amounts(s);
        text::choose_amount(s, &hits, Intent::Request).map(Money::to_plain)
    };
    assert_eq!(
        request("mau topup lagi kak kaya kemarin yg 5jt tp kali ini 3,5jt aja").as_deref(),
        Some("3500000")
    );
}

#[test]
fn orders_left_off_told_of_or_changed_from_one_figure_to_another() {
    assert_intents(
        true,
        [
            (
                "gan TU-20261201-00421 gajadi, udh dapet dr tempat lain",
                Intent::Cancel,
            ),
            ("wes ora sido mas TU-20261105-0378", Intent::Cancel),
            ("ga jadi deh kak.", Intent::Cancel),
            ("skip aja yg kemarin ya mas", Intent::Cancel),
            ("yg kmrn batal", Intent::Cancel),
            // A question, or a refusal of another action, leaves nothing off.
            ("ga jadi?", Intent::Unknown),
            // An order the customer says they cancelled before is told of.
            (
                "mohon buat order top up Rp 4.400.000, pengganti order yang kemarin kami batalkan",
                Intent::Request,
            ),
            (
                "please update order TU-20261203-0020 from IDR 25m to IDR 40m",
                Intent::Amend,
            ),
            (
                "Please update order TU-20261110-0300 to the total we paid: IDR 16,000,000",
                Intent::Amend,
            ),
        ],
    );
    assert_eq!(
        text::classify("ga jadi cancel kak, udah tf", 0, false),
        Intent::Slip
    );
    let order = |s: &str| text::choose_order(s, "TU", Intent::Unknown).map(|n| n.to_string());
    assert_eq!(
        order("two orders by mistake. Please keep TU-20261203-0300 and cancel TU-20261203-0301")
            .as_deref(),
        Some("TU-20261203-0301")
    );
}

#[test]
fn a_hostile_body_of_the_new_notations_stays_bounded_and_read_right() {
    // 128 KiB (what a body is cut to) of dictated and glued amounts, spelled
    // prefixes and cancellations left off, repeated.
    let unit =
        "topup2jt, 2 setengah jt, 1 koma 5 jt, T U 20261114 0118 buatTU-20261208-0019 gajadi. ";
    let body = unit.repeat(128 * 1024 / unit.len());
    let hits = text::find_amounts(&body);
    assert_eq!(hits.len(), text::MAX_AMOUNT_CANDIDATES);
    assert_eq!(amount_of(&body).as_deref(), Some("2000000"));
    let orders: Vec<String> = crate::domain::order_number::OrderNumber::find_all(&body, "TU")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(orders, ["TU-20261114-0118", "TU-20261208-0019"]);
    assert_eq!(text::classify(&body, 0, true), Intent::Cancel);
}

#[test]
fn an_amount_corrected_further_on_gives_way_to_the_correction() {
    assert_amounts([
        ("topup 3jt ya kak. Eh salah, maksud saya 13jt", "13000000"),
        (
            "Please top up Rp 4.500.000? Sorry, typo — Rp 4.050.000",
            "4050000",
        ),
        ("tf 1jt. eh tunggu, kata bos 1,2jt aja", "1200000"),
        (
            "udah tf 800rb buat TU-20261201-0042. eh bentar, salah, yg ini 850rb",
            "850000",
        ),
    ]);
    // A correction far from the figure before it takes nothing back.
    let far = "udah tf 800rb ya kak, buat stok akhir bulan dan keperluan kantor cabang yang di \
               Bekasi minggu depan. maksud saya nanti sisanya 200rb";
    assert_eq!(amount_of(far).as_deref(), Some("800000"));
}

#[test]
fn a_balance_said_in_shorthand_or_a_shortfall_is_no_amount() {
    for s in [
        "min saldo belum nambah, msh 60rb aja",
        "makasih kak, saldonya udh 7jt sekarang",
        "saldo jd 3,1jt, thanks",
    ] {
        assert_eq!(amount_of(s), None, "text {s:?}");
    }
    assert_amounts([
        ("saldo td 120rb, udah tf 2jt ya", "2000000"),
        // A top-up word before or after the balance word names what is added.
        ("isi saldo jd 2jt ya kak", "2000000"),
        ("tambah saldo jadi 3jt ya", "3000000"),
        (
            "yg pertama ditolak (kurang 50rb), yg kedua udah tf 1.050.000",
            "1050000",
        ),
        // "kurang lebih" is about, not short by.
        ("udah tf kurang lebih 2jt", "2000000"),
    ]);
}

#[test]
fn questions_of_how_an_order_stands_are_status_questions() {
    assert_intents(
        false,
        [
            ("TU-20261201-0042 udah masuk kah?", Intent::Status),
            (
                "kami ingin menanyakan apakah top up TU-20261201-0042 sudah diproses",
                Intent::Status,
            ),
            ("kak kenapa ditolak ya TU-20261201-0042", Intent::Status),
            ("order yg kemarin gimana ya kak", Intent::Status),
            ("TU-20261201-0042 gmn, udh 2 hari", Intent::Status),
            ("is TU-20261201-0042 done?", Intent::Status),
            ("Sampai kapan saya harus menunggu?", Intent::Status),
            // Told, not asked.
            ("udah masuk kak, makasih", Intent::Unknown),
            ("order gimana caranya kak?", Intent::Unknown),
        ],
    );
}

#[test]
fn payments_told_formally_and_cancellations_done_by_the_customer() {
    assert_intents(
        true,
        [
            (
                "We wish to inform you that a transfer of IDR 11,000,000 was made today",
                Intent::Slip,
            ),
            (
                "payment for order TU-20261123-00415 has been executed today for IDR 18,400,000",
                Intent::Slip,
            ),
            (
                "tolong buatkan order baru 2jt, yg TU-20261121-0190 sudah saya batalkan sendiri",
                Intent::Request,
            ),
            (
                "I already cancelled TU-20261121-0190 myself, please top up 3 million",
                Intent::Request,
            ),
            // "harus" changes an amount only with one after it.
            ("isi 100rb bisa? atau minimal harus berapa", Intent::Request),
            ("harusnya 1,5jt bukan 1jt", Intent::Amend),
        ],
    );
}

#[test]
fn a_pasted_chat_log_is_context_like_a_quote() {
    let e = extract_chat(
        "[10:02] Saya: mau top up 6 jt\n\
         [10:05] CS Topup: Baik, pesanan TU-20261108-0077 sebesar Rp 6.000.000 sudah dibuat.\n\
         \n\
         udah saya tf ya kak",
        "TU",
    );
    assert_eq!(e.intent, Intent::Slip);
    assert_eq!(
        e.order_number.map(|n| n.to_string()).as_deref(),
        Some("TU-20261108-0077")
    );
    assert_eq!(e.amount, None, "the amounts are only in the pasted lines");
    // A time in the customer's own words is no log line.
    let own = extract_chat("tf 2jt jam 10:02 tadi buat TU-20261108-0077", "TU");
    assert_eq!(own.amount.map(Money::to_plain).as_deref(), Some("2000000"));
}

#[test]
fn a_change_word_outranks_a_contrast_and_a_threshold_is_no_amount() {
    let amend = |s: &str| {
        let hits = text::find_amounts(s);
        text::choose_amount(s, &hits, Intent::Amend).map(Money::to_plain)
    };
    assert_eq!(
        amend("udah tf 2.300.000, tapi ordernya 2.000.000. Bisa diganti jadi 2,3jt?").as_deref(),
        Some("2300000")
    );
    assert_eq!(amend("bukan 3jt tapi 3,3jt").as_deref(), Some("3300000"));
    assert_eq!(
        amount_of("transfer di atas 25 juta kena biaya gak? cuma tanya"),
        None
    );
    assert_eq!(
        text::classify("Bisa isikan Rp 4.000.000 untuk akun kami?", 0, true),
        Intent::Request
    );
}

#[test]
fn a_hostile_chat_of_log_lines_corrections_and_balances_stays_bounded() {
    // 128 KiB of pasted log lines: all context, so no amount is the
    // customer's, and the order comes from them.
    let line = "[09:14] CS Topup: pesanan TU-20261108-0023 sebesar Rp 4.000.000 sudah dibuat.\n";
    let log = line.repeat(128 * 1024 / line.len());
    let e = extract_chat(&log, "TU");
    assert_eq!(e.amount, None);
    assert_eq!(
        e.order_number.map(|n| n.to_string()).as_deref(),
        Some("TU-20261108-0023")
    );
    // 128 KiB of corrections, shorthand balances and questions in the
    // customer's own words.
    let unit = "saldo td 85rb, tf 1jt eh salah, maksud saya 2jt. TU-20261108-0023 udah masuk kah? ";
    let body = unit.repeat(128 * 1024 / unit.len());
    let hits = text::find_amounts(&body);
    assert_eq!(hits.len(), text::MAX_AMOUNT_CANDIDATES);
    assert!(hits.iter().all(|h| h.money.to_plain() != "85000"));
    assert_eq!(text::classify(&body, 0, true), Intent::Status);
}

/// What `extract_chat` reads: intent, order number and amount.
fn read_chat(s: &str) -> (Intent, Option<String>, Option<String>) {
    let e = extract_chat(s, "TU");
    (
        e.intent,
        e.order_number.map(|n| n.to_string()),
        e.amount.map(Money::to_plain),
    )
}

#[test]
fn of_several_orders_the_one_named_where_the_action_is_asked_for_is_chosen() {
    let order = |s: &str| read_chat(s).1;
    for (s, want) in [
        // The action's clause names the second order in full.
        (
            "TU-20261112-0418 sudah dibayar, yang TU-20261112-0419 tolong dibatalkan.",
            "TU-20261112-0419",
        ),
        // By its sequence alone, after the full number of another.
        (
            "min, order tu-20261112-0077 sama tu-20261112-0078 tuh sama2 dr outlet Bintaro. \
             yg 0078 udah aku tf 300rb, yg 0077 nanti aja.",
            "TU-20261112-0078",
        ),
        // Lines of a list, each with its own mark.
        (
            "TU-20261130-9001 ✅ lunas\nTU-20261130-9002 ❌ batal ya kak",
            "TU-20261130-9002",
        ),
        // Two clauses ask for the same action about different orders: the
        // first one stays (no guess between them).
        (
            "TU-20261130-9001 tolong dibatalkan, TU-20261130-9002 juga tolong dibatalkan",
            "TU-20261130-9001",
        ),
    ] {
        assert_eq!(order(s).as_deref(), Some(want), "{s}");
    }
}

#[test]
fn a_second_order_written_by_its_sequence_alone_is_an_order_of_the_same_day() {
    let order = |s: &str| read_chat(s).1;
    for (s, want) in [
        (
            "TU-20261115-0042 dan -0043 itu dua order dari dua cabang. Yang 0043 (cabang Bogor) \
             sudah kami transfer Rp2.000.000 tadi jam 10. Yang 0042 menyusul.",
            "TU-20261115-0043",
        ),
        (
            "Order TU-20261116-0201/0202: yang 0201 (Tebet) udah masuk, yang 0202 (Cibubur) \
             gimana kak?",
            "TU-20261116-0202",
        ),
        (
            "TU-20261110-1001 & 1002: yang 1002 (Karawang) tolong revisi nominal ke Rp 1.250.000.",
            "TU-20261110-1002",
        ),
        // A number corrected by its sequence alone.
        (
            "eh kak anu udah transfer tadi yg TU-20261115-9090 eh 9091 maksudnya 1 jt",
            "TU-20261115-9091",
        ),
        (
            "kak\nTU-20261107-0070\neh 0071\nudh masuk blm",
            "TU-20261107-0071",
        ),
        // Digits of another length, or an amount, are no second order.
        (
            "TU-20261115-0042 dan 20261115 sudah transfer",
            "TU-20261115-0042",
        ),
        (
            "TU-20261115-0042 dan 2500 rb sudah saya transfer",
            "TU-20261115-0042",
        ),
        // Not a neighbour of the sequence: an amount, found by the property test.
        (
            "TU-20280229-000000 ,  100000 batalkan",
            "TU-20280229-000000",
        ),
    ] {
        assert_eq!(order(s).as_deref(), Some(want), "{s}");
    }
}

#[test]
fn letters_held_on_a_phone_keyboard_and_glued_figures_are_read() {
    assert_eq!(
        read_chat("topupp 3jtt kakk"),
        (Intent::Request, None, Some("3000000".into()))
    );
    assert_eq!(
        read_chat("kak mau topupp 1jtt yaaa hehe saldo tinggal 20rb")
            .2
            .as_deref(),
        Some("1000000")
    );
    assert_eq!(
        read_chat("kak TU-20261108-0818 ubah ke1jt250 ya"),
        (
            Intent::Amend,
            Some("TU-20261108-0818".into()),
            Some("1250000".into())
        )
    );
    // An order number glued to the cancel word.
    assert_eq!(
        read_chat("kak batalinTU-20261125-0045 ya").0,
        Intent::Cancel
    );
}

#[test]
fn an_amount_for_now_outranks_one_of_yesterday_and_an_arrow_gives_the_new_amount() {
    assert_eq!(
        read_chat("kak kmrn sy topup 1jt skrg mau 2jt").2.as_deref(),
        Some("2000000")
    );
    // A payment told of both days is left as it was read.
    assert_eq!(
        read_chat("kemarin sudah tf 1jt, hari ini tf 2jt lagi untuk TU-20261125-0045")
            .2
            .as_deref(),
        Some("1000000")
    );
    assert_eq!(
        read_chat(
            "Koreksi nominal:\n• TU-20261119-0700 (Cihampelas): Rp 1.600.000 → Rp 2.000.000\n\
             • TU-20261119-0701 (Riau): tetap\nMakasih."
        ),
        (
            Intent::Amend,
            Some("TU-20261119-0700".into()),
            Some("2000000".into())
        )
    );
    assert_eq!(
        text::classify(
            "Kak, kita udah transfer 2x buat TU-20261123-0404, kok saldo baru nambah 1jt?",
            0,
            true
        ),
        Intent::Status
    );
}

#[test]
fn the_amount_after_a_change_verb_a_negative_balance_and_a_usable_balance_question() {
    // The old amount first, the new one after "diganti" (no "jadi").
    assert_eq!(
        read_chat("kak order aku yg 1,5jt diganti 1jt aja ya, TU-20261126-0602"),
        (
            Intent::Amend,
            Some("TU-20261126-0602".into()),
            Some("1000000".into())
        )
    );
    // "ganti X jadi Y" still takes Y: the change verb is the weaker sign.
    assert_eq!(
        read_chat("tolong ganti 1,5jt jadi 1jt utk TU-20261126-0602")
            .2
            .as_deref(),
        Some("1000000")
    );
    // A balance below zero is no amount to top up.
    assert_eq!(
        read_chat("kak saldo minus 25rb nih, topup 2jt ya"),
        (Intent::Request, None, Some("2000000".into()))
    );
    // Whether the balance can be used yet asks how the order stands.
    assert_eq!(
        read_chat("ka, order yg 1jt tadi udh bisa dipake saldonya?").0,
        Intent::Status
    );
}
