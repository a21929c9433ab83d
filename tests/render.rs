//! Email templates and PDF receipts as a customer sees them: every kind in
//! both languages, strict variables, escaping of customer-written values,
//! operator overrides, and the receipt's text as `pdftotext` reads it.

use serde_json::{Value, json};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::render::receipt::{ReceiptData, render_receipt};
use topup::render::templates::{EmailKind, TemplateError, Templates};

const LANGS: [Lang; 2] = [Lang::Id, Lang::En];

fn with(kind: EmailKind, lang: Lang, key: &str, value: Value) -> Value {
    let mut vars = kind.sample_vars(lang);
    vars[key] = value;
    vars
}

#[test]
fn every_kind_renders_in_both_languages_with_its_facts() {
    let templates = Templates::embedded();
    for lang in LANGS {
        for kind in EmailKind::ALL {
            let vars = kind.sample_vars(lang);
            let mail = templates
                .render(kind, lang, &vars)
                .unwrap_or_else(|e| panic!("{kind} in {lang}: {e}"));
            // Every variable the kind documents shows up in the text part
            // (lists by their fields), so no fact is silently dropped.
            for name in kind.variables() {
                match &vars[*name] {
                    Value::String(s) => assert!(
                        mail.text.contains(s.as_str()) || mail.subject.contains(s.as_str()),
                        "{kind} {lang}: {name} = {s:?} missing from\n{}",
                        mail.text
                    ),
                    Value::Array(items) => {
                        for item in items {
                            for field in item.as_object().expect("object").values() {
                                let field = field.as_str().expect("string");
                                assert!(mail.text.contains(field), "{kind} {lang}: {field}");
                                assert!(mail.html.contains(field), "{kind} {lang}: {field}");
                            }
                        }
                    }
                    // A flag that chooses what is said, not a fact shown.
                    Value::Bool(_) => {}
                    other => panic!("unexpected sample {other}"),
                }
            }
            assert!(mail.html.contains("<meta name=\"viewport\""));
            assert!(mail.html.contains(&format!("<html lang=\"{lang}\">")));
        }
    }
}

#[test]
fn languages_use_their_own_words() {
    let templates = Templates::embedded();
    let id = templates
        .render(
            EmailKind::OrderCreated,
            Lang::Id,
            &EmailKind::OrderCreated.sample_vars(Lang::Id),
        )
        .expect("renders");
    assert!(
        id.text.contains("Nomor Pesanan: TU-20260812-0001"),
        "{}",
        id.text
    );
    assert!(id.text.contains("Menunggu bukti transfer"));
    assert!(
        id.text.contains("- BCA: 123-456-7890 a.n. PT Topup Desk"),
        "{}",
        id.text
    );
    assert!(
        id.html.contains("<strong>Rp 1.500.000</strong>"),
        "{}",
        id.html
    );
    assert!(
        id.html.contains(
            "href=\"https://topup.example.com/o/3f9c2a\">https://topup.example.com/o/3f9c2a</a>"
        ),
        "{}",
        id.html
    );

    let en = templates
        .render(
            EmailKind::Paid,
            Lang::En,
            &EmailKind::Paid.sample_vars(Lang::En),
        )
        .expect("renders");
    assert_eq!(en.subject, "Paid: TU-20260812-0001 IDR 1,500,000");
    assert!(
        en.text.contains("New balance: IDR 4,250,000"),
        "{}",
        en.text
    );

    let failure = templates
        .render(
            EmailKind::PaymentFailure,
            Lang::Id,
            &EmailKind::PaymentFailure.sample_vars(Lang::Id),
        )
        .expect("renders");
    assert_eq!(failure.subject, "Pembayaran Gagal: TU-20260812-0001");
    assert!(
        failure.text.contains("ubah jumlah menjadi Rp"),
        "{}",
        failure.text
    );
}

#[test]
fn status_answer_without_an_active_order_needs_only_the_balance() {
    let templates = Templates::embedded();
    for (lang, expected) in [
        (
            Lang::Id,
            "Saat ini tidak ada pesanan top up yang sedang berjalan.",
        ),
        (Lang::En, "You have no open top-up order at the moment."),
    ] {
        let mut vars = EmailKind::OrderStatus.sample_vars(lang);
        let map = vars.as_object_mut().expect("object");
        for key in ["order_time", "amount", "status_name", "status_link"] {
            map.remove(key);
        }
        map.insert("order_number".into(), json!(""));
        let mail = templates
            .render(EmailKind::OrderStatus, lang, &vars)
            .expect("renders without order details");
        assert!(mail.text.contains(expected), "{}", mail.text);
        assert!(
            mail.text
                .contains(vars["new_balance"].as_str().expect("balance"))
        );
        assert!(!mail.subject.contains("TU-"), "{}", mail.subject);
    }
}

#[test]
fn help_about_a_named_order_offers_only_what_its_status_allows() {
    let templates = Templates::embedded();
    for lang in LANGS {
        // A paid order: only a status question (and a new top-up).
        let mut vars = EmailKind::NotUnderstood.sample_vars(lang);
        vars["can_cancel"] = json!(false);
        let mail = templates
            .render(EmailKind::NotUnderstood, lang, &vars)
            .expect("renders");
        assert!(
            mail.subject.contains("TU-20260812-0001"),
            "{}",
            mail.subject
        );
        assert!(
            mail.text.contains("Status TU-20260812-0001"),
            "{}",
            mail.text
        );
        for other in ["Cancel TU-", "Batalkan TU-", "1,450,000", "1.450.000"] {
            assert!(
                !mail.text.contains(other),
                "{lang}: {other} in\n{}",
                mail.text
            );
        }
        // A rejected order: a new slip, a new amount or a cancellation.
        for key in ["can_slip", "can_amend", "can_cancel"] {
            vars[key] = json!(true);
        }
        let mail = templates
            .render(EmailKind::NotUnderstood, lang, &vars)
            .expect("renders");
        let (amend, cancel) = match lang {
            Lang::Id => ("Ubah jumlah TU-20260812-0001", "Batalkan TU-20260812-0001"),
            Lang::En => (
                "Change the amount of TU-20260812-0001",
                "Cancel TU-20260812-0001",
            ),
        };
        assert!(
            mail.text.contains(amend) && mail.text.contains(cancel),
            "{}",
            mail.text
        );

        // No order named: every action, changing an amount included.
        let mut vars = EmailKind::NotUnderstood.sample_vars(lang);
        let map = vars.as_object_mut().expect("object");
        for key in [
            "amount",
            "status_name",
            "can_slip",
            "can_amend",
            "can_cancel",
        ] {
            map.remove(key);
        }
        map.insert("order_number".into(), json!(""));
        let mail = templates
            .render(EmailKind::NotUnderstood, lang, &vars)
            .expect("renders without an order");
        assert!(!mail.subject.contains("TU-"), "{}", mail.subject);
        for action in [amend, cancel, "Top up"] {
            assert!(
                mail.text.contains(action),
                "{lang}: {action} missing from\n{}",
                mail.text
            );
        }
    }
}

#[test]
fn a_missing_variable_is_an_error_naming_it() {
    let templates = Templates::embedded();
    let mut vars = EmailKind::Paid.sample_vars(Lang::Id);
    vars.as_object_mut().expect("object").remove("new_balance");
    let err = templates
        .render(EmailKind::Paid, Lang::Id, &vars)
        .expect_err("new_balance is missing");
    assert!(
        matches!(&err, TemplateError::MissingVariable { variable, .. } if variable == "new_balance"),
        "{err:?}"
    );
    assert!(err.to_string().contains("new_balance"), "{err}");
    assert!(err.to_string().contains("id/paid.md"), "{err}");

    // A missing field inside a list item is also an error, not an empty string.
    let vars = with(
        EmailKind::OrderCreated,
        Lang::En,
        "bank_accounts",
        json!([{"bank": "BCA", "account_number": "1"}]),
    );
    let err = templates
        .render(EmailKind::OrderCreated, Lang::En, &vars)
        .expect_err("account_name is missing");
    assert!(matches!(err, TemplateError::Render { .. }), "{err:?}");
}

#[test]
fn customer_values_cannot_inject_html_or_markdown() {
    let templates = Templates::embedded();
    let evil =
        "<script>alert(1)</script> *Acme* [x](http://evil) <img src=x onerror=alert(2)> &amp;";
    for lang in LANGS {
        let mut vars = with(EmailKind::PaymentFailure, lang, "reason", json!(evil));
        vars["user_name"] = json!("# Heading\n\n- item\n1. list");
        let mail = templates
            .render(EmailKind::PaymentFailure, lang, &vars)
            .expect("renders");
        assert!(!mail.html.contains("<script"), "{}", mail.html);
        assert!(!mail.html.contains("<img"), "{}", mail.html);
        assert!(!mail.html.contains("<em>"), "{}", mail.html);
        assert!(!mail.html.contains("http://evil\""), "{}", mail.html);
        assert!(!mail.html.contains("<h1"), "{}", mail.html);
        assert!(
            mail.html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; *Acme* [x](http://evil)")
        );
        assert!(
            mail.html.contains("&amp;amp;"),
            "the entity is shown, not decoded"
        );
        // The text part shows the value exactly as written.
        assert!(mail.text.contains(evil), "{}", mail.text);

        let company = with(EmailKind::OrderCreated, lang, "company", json!(evil));
        let mail = templates
            .render(EmailKind::OrderCreated, lang, &company)
            .expect("renders");
        assert!(!mail.html.contains("<script"));
        assert!(!mail.html.contains("<em>"));
        assert_eq!(
            mail.html.matches("<a ").count(),
            2,
            "only our links: {}",
            mail.html
        );
    }

    // Line breaks in a subject value cannot add headers or lines.
    let vars = with(
        EmailKind::LinkCode,
        Lang::En,
        "company",
        json!("Acme\r\nBcc: x@evil"),
    );
    let mail = templates
        .render(EmailKind::LinkCode, Lang::En, &vars)
        .expect("renders");
    assert_eq!(
        mail.subject,
        "Your code to link Discord to Acme Bcc: x@evil"
    );
}

#[test]
fn an_override_dir_wins_and_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("en")).expect("mkdir");
    std::fs::write(
        dir.path().join("en/paid.md"),
        "Subject: Money in: {{ amount }}\n\nHi {{ user_name }}, your balance is now **{{ new_balance }}**.\n",
    )
    .expect("write");
    let templates = Templates::with_override_dir(dir.path()).expect("loads");
    let mail = templates
        .render(
            EmailKind::Paid,
            Lang::En,
            &EmailKind::Paid.sample_vars(Lang::En),
        )
        .expect("renders");
    assert_eq!(mail.subject, "Money in: IDR 1,500,000");
    assert_eq!(
        mail.text,
        "Hi Budi Santoso, your balance is now IDR 4,250,000.\n"
    );
    // Other languages and kinds keep the defaults.
    let id = templates
        .render(
            EmailKind::Paid,
            Lang::Id,
            &EmailKind::Paid.sample_vars(Lang::Id),
        )
        .expect("renders");
    assert!(id.subject.starts_with("Lunas:"));

    // An override with a typo in a variable is refused at load time.
    std::fs::write(
        dir.path().join("en/paid.md"),
        "Subject: Paid\n\nNew balance: {{ new_balanse }}\n",
    )
    .expect("write");
    let err = Templates::with_override_dir(dir.path()).expect_err("typo");
    assert!(err.to_string().contains("new_balanse"), "{err}");

    // So is a file without the subject line, or with an unknown name.
    std::fs::write(dir.path().join("en/paid.md"), "Hello {{ user_name }}\n").expect("write");
    let err = Templates::with_override_dir(dir.path()).expect_err("no subject");
    assert!(matches!(err, TemplateError::NoSubject { .. }), "{err:?}");
    std::fs::remove_file(dir.path().join("en/paid.md")).expect("rm");
    std::fs::write(dir.path().join("en/payed.md"), "Subject: x\n\ny\n").expect("write");
    let err = Templates::with_override_dir(dir.path()).expect_err("unknown kind");
    assert!(matches!(err, TemplateError::UnknownFile { .. }), "{err:?}");

    let err = Templates::with_override_dir(&dir.path().join("missing")).expect_err("no folder");
    assert!(matches!(err, TemplateError::Read { .. }), "{err:?}");
}

fn receipt(lang: Lang) -> ReceiptData {
    ReceiptData {
        lang,
        receipt_number: "R-TU-20260812-0001".to_owned(),
        seller_name: "PT Topup Desk Indonesia".to_owned(),
        seller_address: "Jl. Jenderal Sudirman Kav. 52-53\nJakarta Selatan 12190".to_owned(),
        account_name: "PT Maju Jaya Sejahtera".to_owned(),
        order_number: "TU-20260812-0001".to_owned(),
        order_date: "12/08/2026 10:15 WIB".to_owned(),
        paid_date: "12/08/2026 14:02 WIB".to_owned(),
        amount: Money::from_minor(150_000_000),
        payment_method: "Transfer bank (BCA)".to_owned(),
        staff_reference: "Tim Receivables · S-3 (12/08/2026 14:02 WIB)".to_owned(),
        new_balance: Money::from_minor(425_000_050),
        issued_at: 1_786_518_120_000,
    }
}

/// The PDF's text as `pdftotext -layout` reads it, lines with runs of
/// spaces collapsed so assertions do not depend on column positions.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receipt.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext not runnable ({e}): apt-get install poppler-utils"));
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An accountant filing receipts sorts by the PDF's own date: it is the
/// day of the payment decision, not 1970.
#[test]
fn the_receipt_pdf_carries_its_issue_date() {
    let pdf = render_receipt(&receipt(Lang::Id)).expect("renders");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receipt.pdf");
    std::fs::write(&path, &pdf).expect("write pdf");
    let out = std::process::Command::new("pdfinfo")
        .arg("-isodates")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("pdfinfo not runnable ({e}): apt-get install poppler-utils"));
    let info = String::from_utf8_lossy(&out.stdout);
    let created = info
        .lines()
        .find(|l| l.starts_with("CreationDate:"))
        .unwrap_or_else(|| panic!("no creation date: {info}"));
    assert!(created.contains("2026-08-12T07:02:00"), "{created}");
    assert!(info.contains("Producer:"), "{info}");
}

#[test]
fn indonesian_receipt_shows_every_fact_with_the_amount_in_words() {
    let pdf = render_receipt(&receipt(Lang::Id)).expect("renders");
    assert!(pdf.starts_with(b"%PDF-"));
    // The fonts are subsetted, not embedded whole (two DejaVu faces are 1.4 MB).
    assert!(pdf.len() < 200_000, "receipt is {} bytes", pdf.len());
    let text = pdf_text(&pdf);
    for expected in [
        "KUITANSI",
        "Nomor Kuitansi: R-TU-20260812-0001",
        "PT Topup Desk Indonesia",
        "Jl. Jenderal Sudirman Kav. 52-53",
        "Telah terima dari PT Maju Jaya Sejahtera",
        "Nomor Pesanan TU-20260812-0001",
        "Tanggal Pesanan 12/08/2026 10:15 WIB",
        "Tanggal Pembayaran 12/08/2026 14:02 WIB",
        "Metode Pembayaran Transfer bank (BCA)",
        "Dikonfirmasi oleh Tim Receivables · S-3",
        "Rp 1.500.000",
        "Terbilang: satu juta lima ratus ribu rupiah",
        "LUNAS",
        "Saldo setelah pengisian Rp 4.250.000,50",
        "sah tanpa tanda tangan",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("RECEIPT"));
}

#[test]
fn english_receipt_is_labelled_in_english() {
    let pdf = render_receipt(&receipt(Lang::En)).expect("renders");
    let text = pdf_text(&pdf);
    for expected in [
        "RECEIPT",
        "Received from PT Maju Jaya Sejahtera",
        "Order number TU-20260812-0001",
        "Payment method Transfer bank (BCA)",
        "IDR 1,500,000",
        "In words: one million five hundred thousand rupiah",
        "PAID",
        "Balance after top-up IDR 4,250,000.50",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("KUITANSI"));
}

#[test]
fn long_values_wrap_instead_of_running_off_the_page() {
    let mut data = receipt(Lang::Id);
    data.account_name = "PT Perusahaan Dengan Nama Yang Sangat Panjang Sekali Untuk Menguji Pemotongan Baris Pada Kuitansi Tbk".to_owned();
    data.amount = Money::from_minor(98_765_432_112_345);
    let text = pdf_text(&render_receipt(&data).expect("renders"));
    // Every word is there, split over lines.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Menguji Pemotongan Baris Pada Kuitansi Tbk"),
        "{text}"
    );
    assert!(
        flat.contains("sembilan ratus delapan puluh tujuh miliar"),
        "{text}"
    );
    assert!(
        flat.contains("seratus dua puluh tiga rupiah empat puluh lima sen"),
        "{text}"
    );
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 110, "a line runs wide: {widest}\n{text}");
}

#[test]
fn subjects_say_what_happened_and_carry_the_order_number() {
    let templates = Templates::embedded();
    let n = "TU-20260812-0001";
    let expected = [
        (
            EmailKind::OrderCreated,
            Lang::Id,
            format!("Pesanan dibuat: {n} Rp 1.500.000"),
        ),
        (
            EmailKind::OrderCreated,
            Lang::En,
            format!("Order created: {n} IDR 1,500,000"),
        ),
        (
            EmailKind::SubmissionReceived,
            Lang::Id,
            format!("Bukti transfer diterima: {n} Rp 1.500.000"),
        ),
        (
            EmailKind::SubmissionReceived,
            Lang::En,
            format!("Slip received: {n} IDR 1,500,000"),
        ),
        (
            EmailKind::Paid,
            Lang::Id,
            format!("Lunas: {n} Rp 1.500.000"),
        ),
        (
            EmailKind::Paid,
            Lang::En,
            format!("Paid: {n} IDR 1,500,000"),
        ),
        (
            EmailKind::PaymentFailure,
            Lang::Id,
            format!("Pembayaran Gagal: {n}"),
        ),
        (
            EmailKind::PaymentFailure,
            Lang::En,
            format!("Payment Failure: {n}"),
        ),
        (
            EmailKind::ConfirmTimeout,
            Lang::Id,
            format!("Pembayaran Gagal: {n} belum terkonfirmasi"),
        ),
        (
            EmailKind::ConfirmTimeout,
            Lang::En,
            format!("Payment Failure: {n} not confirmed in time"),
        ),
        (EmailKind::Cancelled, Lang::Id, format!("Dibatalkan: {n}")),
        (EmailKind::Cancelled, Lang::En, format!("Cancelled: {n}")),
        (EmailKind::Closed, Lang::Id, format!("Ditutup: {n}")),
        (EmailKind::Closed, Lang::En, format!("Closed: {n}")),
        (
            EmailKind::OrderStatus,
            Lang::Id,
            format!("Status {n}: Dealing"),
        ),
        (
            EmailKind::OrderStatus,
            Lang::En,
            format!("Status of {n}: Dealing"),
        ),
        (
            EmailKind::ActionRefused,
            Lang::Id,
            format!("Tidak diproses: {n}"),
        ),
        (EmailKind::ActionRefused, Lang::En, format!("Not done: {n}")),
    ];
    for (kind, lang, subject) in expected {
        let mail = templates
            .render(kind, lang, &kind.sample_vars(lang))
            .expect("renders");
        assert_eq!(mail.subject, subject, "{kind} {lang}");
        // The outbox keeps the template's subject for a reply too: the thread is
        // kept by the headers, the subject says what happened.
        let job = topup::outbox::EmailJob {
            kind,
            lang,
            to: "a@b.id".into(),
            message_id: "<1@x>".into(),
            in_reply_to: Some("<c@b.id>".into()),
            references: vec!["<c@b.id>".into()],
            reply_subject: Some("Bukti transfer".into()),
            order_number: Some(n.into()),
            vars: json!({}),
            receipt: None,
            direct_reply: true,
        };
        assert_eq!(job.subject(&mail.subject), subject);
    }
}

#[test]
fn paid_with_another_amount_says_what_was_received_and_what_was_asked() {
    let templates = Templates::embedded();
    for (lang, said) in [
        (
            Lang::Id,
            "Kami menerima Rp 1.500.000 (bukan Rp 1.750.000 yang diminta)",
        ),
        (
            Lang::En,
            "We received IDR 1,500,000 (not the IDR 1,750,000 requested)",
        ),
    ] {
        let mail = templates
            .render(EmailKind::Paid, lang, &EmailKind::Paid.sample_vars(lang))
            .expect("renders");
        assert!(mail.text.contains(said), "{}", mail.text);
        let same = with(EmailKind::Paid, lang, "requested_amount", json!(""));
        let mail = templates
            .render(EmailKind::Paid, lang, &same)
            .expect("renders");
        assert!(
            !mail.text.contains("(bukan") && !mail.text.contains("(not the"),
            "{}",
            mail.text
        );
    }
}

#[test]
fn the_timeout_mail_does_not_ask_to_fix_the_amount_and_says_how_to_get_back_in_review() {
    let templates = Templates::embedded();
    for (lang, not_wrong, reply, link) in [
        (
            Lang::Id,
            "tidak berarti pembayaran atau jumlah Anda salah",
            "Balas email ini dengan melampirkan bukti transfer Anda",
            "Kirim ulang bukti transfer melalui halaman status pesanan",
        ),
        (
            Lang::En,
            "does not mean that your payment or its amount is wrong",
            "Reply to this email with your transfer slip attached",
            "Send the slip again on the status page of your order",
        ),
    ] {
        let mail = templates
            .render(
                EmailKind::ConfirmTimeout,
                lang,
                &EmailKind::ConfirmTimeout.sample_vars(lang),
            )
            .expect("renders");
        for said in [not_wrong, reply, link] {
            assert!(
                mail.text.contains(said),
                "{lang}: {said:?} in {}",
                mail.text
            );
        }
        assert!(
            !mail.text.contains("ubah jumlah menjadi") && !mail.text.contains("change amount to")
        );
        assert!(mail.text.contains("Dealing"));
    }
}

#[test]
fn the_submission_mail_greets_its_reader_and_names_who_sent_the_slip() {
    let templates = Templates::embedded();
    for (lang, greeting, named) in [
        (Lang::Id, "Yth. Budi Santoso,", "Nama Pengguna: Siti Rahayu"),
        (Lang::En, "Dear Budi Santoso,", "Submitted by: Siti Rahayu"),
    ] {
        let mail = templates
            .render(
                EmailKind::SubmissionReceived,
                lang,
                &EmailKind::SubmissionReceived.sample_vars(lang),
            )
            .expect("renders");
        assert!(mail.text.starts_with(greeting), "{}", mail.text);
        assert!(mail.text.contains(named), "{}", mail.text);
    }
}

/// Every Indonesian word the desk writes has one spelling (KBBI): mails, pages,
/// refusals and the receipt alike.
#[test]
fn one_spelling_per_word_everywhere() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("prompts"), root.join("src")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "md" || x == "rs" || x == "html")
            {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 40, "the sources were found");
    // (wrong, right): variants people write for the words the desk uses.
    let wrong = [
        ("kwitansi", "kuitansi"),
        ("kwintansi", "kuitansi"),
        ("kadaluarsa", "kedaluwarsa"),
        ("kadaluwarsa", "kedaluwarsa"),
        ("e-mail", "email"),
        ("di konfirmasi", "dikonfirmasi"),
        ("konfirmasikan", "konfirmasi"),
    ];
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("utf-8").to_lowercase();
        for (w, right) in wrong {
            if text.contains(w) {
                found.push(format!("{}: {w:?} (write {right:?})", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
    // "top up" in Indonesian texts, "top-up" in English ones.
    for f in std::fs::read_dir(root.join("prompts/id")).expect("prompts") {
        let text = std::fs::read_to_string(f.expect("entry").path()).expect("utf-8");
        assert!(!text.to_lowercase().contains("top-up"), "{text}");
    }
    for (_, id) in topup::web::views::texts(Lang::Id) {
        assert!(
            !id.to_lowercase().contains("top-up") && !id.to_lowercase().contains("kwitansi"),
            "{id}"
        );
    }
}
