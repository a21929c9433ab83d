//! Slip reading end to end: a real desk on a fresh store
//! (`TOPUP_TEST_DB=sqlite|postgres`), real Tesseract (Debian's
//! `tesseract-ocr`, installed by `scripts/test-env`), serenity's REST client
//! pointed at mockito. The review card is posted before anything is read;
//! the reading worker then reads the slip, records it, and the card is
//! edited to show what staff need: the amount differs (with both amounts),
//! a reference already used on another order, or an unreadable slip.
//!
//! The slips in `tests/slips/` come from `examples/slipgen.rs` (dev sets): a
//! BCA m-Transfer screenshot of Rp 7.750.000 (ref 20267234519234, paid into
//! BCA 527-031-8846 on 18/11/2026 21:35:10 WIB), and a phone photo of an ATM
//! Mandiri receipt of Rp 13.900.000 printed in a mono font that dots its
//! zeros (seed 5150); two screenshots forwarded at half size (seed 5150):
//! OCTO Mobile, Rp 18.305.000, and ATM Mandiri, Rp 1.100.000; and a BSI
//! Mobile screenshot of Rp 8.950.000 forwarded at half size (seed 5150),
//! which most reads misread as 8.930.000.

#[path = "support/db.rs"]
mod db;

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde_json::json;
use topup::clock::ManualClock;
use topup::config::{BankAccount, DiscordSettings, Settings};
use topup::desk::{Channel, Desk};
use topup::discord::{Cards, http_client};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::intake::SlipFile;
use topup::outbox::Job;
use topup::outbox::deliver::ChatDelivery;
use topup::slip::checks::SlipCheck;
use topup::store::accounts::{self, UserRow};

const STAFF_CHANNEL: u64 = 100_000_000_000_000_100;
const CARD: u64 = 800_000_000_000_000_555;
/// 2026-11-18 22:00 WIB: the slip's evening.
const T0: i64 = 1_795_014_000_000;
const SLIP: &[u8] = include_bytes!("slips/bca-7750000.png");

/// The slip saved again as a JPEG: another file with the same transfer on it.
fn resaved_as_jpeg() -> Vec<u8> {
    let img = image::load_from_memory(SLIP).unwrap().to_rgb8();
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, 80,
    ))
    .unwrap();
    out
}

struct Setup {
    desk: Desk,
    user: UserRow,
    settings: Arc<Settings>,
    _dir: tempfile::TempDir,
}

async fn setup(api_base: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.database.url = db::fresh_database(dir.path()).await;
    settings.desk.staff_lang = Lang::En;
    settings.desk.staff_notation = Lang::Id;
    settings.desk.bank_accounts = vec![
        BankAccount {
            bank: "BCA".into(),
            account_number: "527-031-8846".into(),
            account_name: "PT BILLING CONTOH INDONESIA".into(),
        },
        BankAccount {
            bank: "Mandiri".into(),
            account_number: "137-00-1842550-6".into(),
            account_name: "PT BILLING CONTOH INDONESIA".into(),
        },
    ];
    settings.discord = DiscordSettings {
        token: Some(SecretString::from("test-bot-token".to_string())),
        application_id: 300_000_000_000_000_002,
        staff_channel_id: STAFF_CHANNEL,
        api_base: Some(api_base.to_string()),
        gateway: false,
        ..DiscordSettings::default()
    };
    let settings = Arc::new(settings);
    let desk = topup::app::Application::open_desk(settings.clone(), Arc::new(ManualClock::at(T0)))
        .await
        .unwrap();
    let mut tx = desk.store().begin_write().await.unwrap();
    accounts::add_account(&mut tx, "PT Maju Jaya", "budi@maju.co.id", Lang::Id, T0)
        .await
        .unwrap();
    let user = accounts::user_by_email(&mut tx, "budi@maju.co.id")
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    Setup {
        desk,
        user,
        settings,
        _dir: dir,
    }
}

/// Requests an order of `claimed` rupiah and sends `bytes` as its slip.
async fn order_with_slip(
    s: &Setup,
    claimed: i64,
    name: &str,
    bytes: &[u8],
) -> topup::store::orders::OrderRow {
    let d = &s.desk;
    let order = d
        .request(&s.user, Money::from_major(claimed), Channel::Email, None)
        .await
        .unwrap();
    let number = d.parse_order_number(&order.number).unwrap();
    let stored = d
        .store_slips(&[SlipFile {
            file_name: Some(name.into()),
            content_type: match name.rsplit('.').next() {
                Some("png") => "image/png",
                Some("heic") => "image/heic",
                Some("mov") => "video/quicktime",
                _ => "image/jpeg",
            }
            .into(),
            bytes: bytes.to_vec(),
        }])
        .await
        .unwrap();
    d.submit_slip(&s.user, Some(&number), &stored, None, Channel::Email, None)
        .await
        .unwrap()
}

async fn checks(d: &Desk, number: &str) -> Vec<SlipCheck> {
    d.view(&d.parse_order_number(number).unwrap())
        .await
        .unwrap()
        .slip_report
        .checks
}

async fn count(d: &Desk, sql: &'static str) -> i64 {
    let mut conn = d.store().pool().acquire().await.unwrap();
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut *conn).await.unwrap();
    n
}

type Seen = Arc<Mutex<Vec<String>>>;

fn answer(seen: &Seen) -> impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static {
    let keep = seen.clone();
    move |req: &mockito::Request| {
        keep.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&req.body().cloned().unwrap_or_default()).into_owned());
        json!({
            "id": CARD.to_string(), "channel_id": STAFF_CHANNEL.to_string(),
            "author": {"id": "300000000000000001", "username": "topup", "discriminator": "0000", "avatar": null},
            "content": "", "timestamp": "2026-11-18T15:00:00.000Z", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0, "components": []
        })
        .to_string()
        .into_bytes()
    }
}

#[tokio::test]
async fn the_card_is_posted_before_reading_and_edited_with_the_amount_that_differs() {
    let mut server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    // The customer claims Rp 7.250.000; the slip shows Rp 7.750.000.
    let order = order_with_slip(&s, 7_250_000, "bukti.png", SLIP).await;
    assert_eq!(
        count(
            d,
            "SELECT COUNT(*) FROM slip_reads WHERE status = 'pending'"
        )
        .await,
        1,
        "queued in the submission's transaction, not read yet"
    );
    assert_eq!(
        checks(d, &order.number).await,
        vec![SlipCheck::Reading { pending: 1 }]
    );

    let posted: Seen = Arc::default();
    let post = server
        .mock(
            "POST",
            format!("/api/v10/channels/{STAFF_CHANNEL}/messages").as_str(),
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer(&posted))
        .expect(1)
        .create_async()
        .await;
    let cards = Cards::new(d.clone(), http_client(&s.settings.discord));
    cards
        .deliver(&Job::ReviewCard { order_id: order.id })
        .await
        .unwrap();
    post.assert_async().await;
    assert!(
        posted.lock().unwrap()[0].contains("reading 1 slip"),
        "the card does not wait for OCR and says the slip is being read"
    );

    assert_eq!(topup::slip::worker::drain(d).await.unwrap(), 1);
    let mut conn = d.store().pool().acquire().await.unwrap();
    let read = topup::store::slip_reads::of_order(&mut conn, order.id)
        .await
        .unwrap()
        .remove(0);
    drop(conn);
    assert_eq!(read.status, "done");
    assert_eq!(
        read.amount_minor,
        Some(Money::from_major(7_750_000).minor())
    );
    assert_eq!(read.reference.as_deref(), Some("20267234519234"));
    assert_eq!(read.slip_time.as_deref(), Some("2026-11-18T21:35:10"));
    assert_eq!(read.bank.as_deref(), Some("BCA m-Transfer"));
    assert_eq!(
        checks(d, &order.number).await,
        vec![SlipCheck::AmountDiffers {
            slip: Money::from_major(7_750_000),
            claimed: Money::from_major(7_250_000),
        }],
        "our account, the right day, a new reference: only the amount is wrong"
    );
    assert_eq!(
        count(d, "SELECT COUNT(*) FROM outbox WHERE kind = 'card_update'").await,
        1,
        "the reading queued an edit of the card"
    );

    let edited: Seen = Arc::default();
    let edit = server
        .mock(
            "PATCH",
            format!("/api/v10/channels/{STAFF_CHANNEL}/messages/{CARD}").as_str(),
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer(&edited))
        .expect(1)
        .create_async()
        .await;
    cards
        .deliver(&Job::CardUpdate { order_id: order.id })
        .await
        .unwrap();
    edit.assert_async().await;
    let body = edited.lock().unwrap()[0].clone();
    assert!(
        body.contains("amount differs: slip Rp 7.750.000, claimed Rp 7.250.000"),
        "{body}"
    );
}

#[tokio::test]
async fn a_forwarded_copy_of_a_used_slip_is_caught_by_its_reference() {
    let server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    let first = order_with_slip(&s, 7_750_000, "bukti.png", SLIP).await;
    topup::slip::worker::drain(d).await.unwrap();
    assert_eq!(
        checks(d, &first.number).await,
        vec![],
        "a matching slip raises nothing"
    );
    let view = d
        .view(&d.parse_order_number(&first.number).unwrap())
        .await
        .unwrap();
    assert_eq!(
        view.slip_report.lines(Lang::En, Lang::Id),
        vec!["slip: Rp 7.750.000, BCA m-Transfer, 18/11 21:35, ref 20267234519234"]
    );

    // The same transfer saved again: another file (the SHA-256 check misses it).
    let second = order_with_slip(&s, 7_750_000, "fwd.jpg", &resaved_as_jpeg()).await;
    topup::slip::worker::drain(d).await.unwrap();
    let found = checks(d, &second.number).await;
    assert_eq!(
        found,
        vec![SlipCheck::ReferenceReused {
            reference: "20267234519234".into(),
            orders: vec![first.number.clone()],
        }],
        "no amount flag on a matching amount"
    );
    assert!(!view.order.flag_list().contains(&"duplicate_slip"));
}

const BSI_HALF: &[u8] = include_bytes!("slips/bsi-8950000-half.jpg");

/// A half-size forward most of whose reads blur 8.950.000 into 8.930.000,
/// while one read finds it: for the order that claims 8.950.000 the slip
/// matches (unsure, with what else was read); for one that claims another
/// figure staff see "amount unsure" with the figure most reads gave.
#[tokio::test]
async fn a_blurred_slip_one_of_whose_reads_is_the_claim_matches_it_unsure() {
    let server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    let right = order_with_slip(&s, 8_950_000, "bsi.jpg", BSI_HALF).await;
    topup::slip::worker::drain(d).await.unwrap();
    let view = d
        .view(&d.parse_order_number(&right.number).unwrap())
        .await
        .unwrap();
    // The slip is dated 3/10, weeks before this order: that is all there is to see.
    assert!(
        matches!(&view.slip_report.checks[..], [SlipCheck::OldSlip { .. }]),
        "no amount flag on the claimed amount: {:?}",
        view.slip_report.checks
    );
    assert_eq!(view.slip_report.total, Some(Money::from_major(8_950_000)));
    let line = view.slip_report.slips[0].summary(Lang::Id);
    assert!(
        line.starts_with("slip: Rp 8.950.000 (unsure; also read Rp 8.930.000"),
        "{line}"
    );

    // The same file (read once) on an order that claims 9.500.000.
    let other = order_with_slip(&s, 9_500_000, "bsi.jpg", BSI_HALF).await;
    topup::slip::worker::drain(d).await.unwrap();
    let found = checks(d, &other.number).await;
    assert_eq!(
        found[0],
        SlipCheck::AmountUnsure {
            slip: Money::from_major(8_930_000),
            claimed: Money::from_major(9_500_000)
        },
        "{found:?}"
    );
}

/// The JSON line `topup ARGS` prints (it must succeed).
fn topup_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_topup"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A claim that is no amount is refused with the reason before any file is
/// read, and the command fails; nothing is printed as a reading.
#[test]
fn slip_read_refuses_a_claim_that_is_no_amount() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bsi.jpg");
    std::fs::write(&file, BSI_HALF).unwrap();
    for (claimed, why) in [
        ("abc", "is not an amount"),
        ("-5", "must be more than zero"),
        ("0", "must be more than zero"),
        ("99999999999999999999999", "too large"),
        ("Rp 1.000.000.000.000.000", "too large"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_topup"))
            .args(["slip", "read"])
            .arg(format!("--claimed={claimed}"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{claimed}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--claimed") && err.contains(why),
            "{claimed}: {err}"
        );
        assert!(out.stdout.is_empty(), "{claimed}");
    }
}

/// `topup slip read --claimed` reads the files as one message's slips, as
/// `topup parse` does with the amount of the message's text.
#[test]
fn slip_read_with_the_claim_takes_the_read_that_found_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bsi.jpg");
    std::fs::write(&file, BSI_HALF).unwrap();
    let read = |claimed: Option<&str>| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["slip".as_ref(), "read".as_ref()];
        if let Some(c) = claimed {
            args.push("--claimed".as_ref());
            args.push(c.as_ref());
        }
        args.push(file.as_os_str());
        topup_json(&args)
    };
    let alone = read(None);
    assert_eq!(alone["amount"], "8930000");
    assert_eq!(alone["amount_confidence"], "low");
    assert!(
        alone["amount_alternatives"]
            .as_array()
            .unwrap()
            .contains(&json!("8950000")),
        "{alone}"
    );
    let claimed = read(Some("Rp 8.950.000"));
    assert_eq!(claimed["amount"], "8950000");
    assert_eq!(claimed["amount_confidence"], "low");
    assert_eq!(read(Some("9,5 juta"))["amount"], "8930000");
}

const BSI_FEE_HALF: &[u8] = include_bytes!("slips/bsi-22865000-fee-half.jpg");

/// A half-size forward of a slip with a BI-FAST fee whose labels OCR lost:
/// every read takes the total (22.867.500) or the fee. Under a claim of
/// 22.865.000 the total less the common fee of Rp 2.500 is the claim, so the
/// slip matches, unsure; under any other claim the total read stays.
#[test]
fn slip_read_takes_the_claim_where_the_total_is_the_claim_plus_a_fee() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bsi-fee.jpg");
    std::fs::write(&file, BSI_FEE_HALF).unwrap();
    let read = |claimed: &str| {
        topup_json(&[
            "slip".as_ref(),
            "read".as_ref(),
            "--claimed".as_ref(),
            claimed.as_ref(),
            file.as_os_str(),
        ])
    };
    let matched = read("22865000");
    assert_eq!(matched["amount"], "22865000", "{matched}");
    assert_eq!(matched["amount_confidence"], "low");
    assert_eq!(matched["amount_alternatives"][0], "22867500", "{matched}");
    let other = read("22860000");
    assert_eq!(other["amount"], "22867500", "{other}");
}

/// `topup parse` gives the message's slip amount with the amount its text
/// claims: the half-size BSI forward under "Rp 8.950.000" is 8.950.000.
#[test]
fn parse_reads_a_blurred_slip_against_the_amount_of_the_message() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(BSI_HALF);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let mail = format!(
        "From: Budi <budi@maju.co.id>\r\nTo: topup@billing.example.com\r\n\
         Subject: Bukti transfer TU-20261201-0042\r\nMessage-ID: <bsi@maju.co.id>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Selamat siang, terlampir bukti transfer Rp 8.950.000 untuk TU-20261201-0042.\r\n\
         --b\r\nContent-Type: image/jpeg; name=\"bukti.jpg\"\r\n\
         Content-Disposition: attachment; filename=\"bukti.jpg\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    );
    let file = dir.path().join("bukti.eml");
    std::fs::write(&file, mail).unwrap();
    let v = topup_json(&["parse".as_ref(), file.as_os_str()]);
    assert_eq!(v["intent"], "slip");
    assert_eq!(v["amount"], "8950000");
    assert_eq!(v["slip_amount"], "8950000");
    assert_eq!(v["slips_read"][0]["amount_confidence"], "low");
}

#[tokio::test]
async fn a_damaged_slip_is_unreadable_at_once_and_never_an_amount_flag() {
    let server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    let mut broken = SLIP[..SLIP.len() / 3].to_vec();
    broken.extend_from_slice(b"garbage");
    let order = order_with_slip(&s, 7_250_000, "rusak.png", &broken).await;
    topup::slip::worker::drain(d).await.unwrap();
    let found = checks(d, &order.number).await;
    assert!(
        matches!(&found[..], [SlipCheck::Unreadable { reason, .. }] if reason.contains("damaged")),
        "{found:?}"
    );
    assert_eq!(
        count(
            d,
            "SELECT COUNT(*) FROM slip_reads WHERE status = 'failed' AND attempts = 1"
        )
        .await,
        1,
        "a damaged file is not retried"
    );
}

/// The slip as an iPhone sends it: HEIC, encoded by Debian's `heif-enc`
/// (libheif with x265, installed by `scripts/test-env` with `heif-convert`).
fn as_heic() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("slip.png");
    let heic = dir.path().join("IMG_4721.HEIC");
    std::fs::write(&png, SLIP).unwrap();
    let status = std::process::Command::new("heif-enc")
        .args([
            "-q",
            "85",
            png.to_str().unwrap(),
            "-o",
            heic.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("heif-enc (libheif-examples) is installed by scripts/test-env");
    assert!(status.success());
    std::fs::read(heic).unwrap()
}

/// The `ispe` boxes of a HEIC file rewritten to claim `w` x `h`: the header
/// of a decompression bomb, the rest a real photo.
fn claiming(heic: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = heic.to_vec();
    let mut patched = 0;
    for at in 4..out.len().saturating_sub(16) {
        if &out[at..at + 4] == b"ispe" && out[at - 4..at] == 20u32.to_be_bytes() {
            out[at + 8..at + 12].copy_from_slice(&w.to_be_bytes());
            out[at + 12..at + 16].copy_from_slice(&h.to_be_bytes());
            patched += 1;
        }
    }
    assert!(patched > 0, "heif-enc writes an ispe box");
    out
}

#[test]
fn a_heic_claiming_a_huge_photo_is_refused_before_it_is_decoded() {
    use topup::slip::read::{ReadError, ReadLimits, read_slip};
    let heic = as_heic();
    // The real photo's size is read from its header, and a small limit refuses it.
    let small = ReadLimits {
        max_pixels: 10_000,
        ..ReadLimits::default()
    };
    match read_slip(&heic, &small) {
        Err(ReadError::TooLarge(why)) => assert!(why.contains("limit 10000 pixels"), "{why}"),
        other => panic!("expected too large, got {other:?}"),
    }
    // A bomb: 60,000 x 60,000 declared. Refused from the header (the
    // decoded image's check would name the size libheif produced instead).
    match read_slip(&claiming(&heic, 60_000, 60_000), &ReadLimits::default()) {
        Err(ReadError::TooLarge(why)) => assert!(why.contains("a 60000 x 60000 photo"), "{why}"),
        other => panic!("expected too large, got {other:?}"),
    }
    // A HEIC box tree with no declared size at all is a damaged file.
    let mut nameless = heic.clone();
    for at in 0..nameless.len() - 4 {
        if &nameless[at..at + 4] == b"ispe" {
            nameless[at..at + 4].copy_from_slice(b"xxxx");
        }
    }
    assert!(matches!(
        read_slip(&nameless, &ReadLimits::default()),
        Err(ReadError::Corrupt(_))
    ));
}

#[tokio::test]
async fn an_iphone_heic_slip_is_read_and_a_video_is_refused_with_its_reason() {
    let server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    let heic = as_heic();
    assert_eq!(&heic[4..12], b"ftypheic", "a real HEIC file");
    let order = order_with_slip(&s, 7_250_000, "IMG_4721.heic", &heic).await;
    topup::slip::worker::drain(d).await.unwrap();
    let found = checks(d, &order.number).await;
    assert!(
        found
            .iter()
            .any(|c| matches!(c, SlipCheck::AmountDiffers { .. })),
        "the HEIC photo's Rp 7.750.000 is read against the claimed 7.250.000: {found:?}"
    );

    // The same photo cut off in transit: a damaged HEIC says so, once.
    let order = order_with_slip(&s, 7_250_000, "IMG_4722.heic", &heic[..heic.len() / 3]).await;
    topup::slip::worker::drain(d).await.unwrap();
    let found = checks(d, &order.number).await;
    assert!(
        matches!(&found[..], [SlipCheck::Unreadable { reason, .. }] if reason.contains("HEIC")),
        "{found:?}"
    );

    // A QuickTime video sent as a slip: the same ISO box, not a photo.
    let mut video = b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\0\x08wide".to_vec();
    video.extend_from_slice(&[0x42; 4096]);
    let order = order_with_slip(&s, 7_250_000, "VID_0001.mov", &video).await;
    topup::slip::worker::drain(d).await.unwrap();
    let found = checks(d, &order.number).await;
    assert!(
        matches!(&found[..], [SlipCheck::Unreadable { reason, .. }] if reason.contains("video")),
        "{found:?}"
    );
}

/// A phone photo of an ATM receipt whose font dots its zeros: Tesseract
/// alone reads `13.909.009` (the blurred dot makes a `9`); the reader erases
/// the dots and lines its reads up, and gets the amount, marked unsure.
#[test]
fn a_photographed_atm_receipt_with_dotted_zeros_is_read_right() {
    let photo = include_bytes!("slips/atm-mandiri-13900000-photo.jpg");
    let read = topup::slip::read::read_slip(photo, &topup::slip::read::ReadLimits::default())
        .expect("read");
    assert_eq!(read.fields.amount, Some(Money::from_major(13_900_000)));
    assert_eq!(read.fields.bank.as_deref(), Some("ATM Mandiri"));
}

/// The second set of models of `scripts/fetch-tessdata`, fetched by `scripts/test-env`.
fn second_tessdata() -> String {
    std::env::var("TOPUP_TEST_TESSDATA")
        .expect("TOPUP_TEST_TESSDATA is not set: source the env file of scripts/test-env start")
}

fn limits_with_second(dir: &str) -> topup::slip::read::ReadLimits {
    let settings = topup::config::SlipSettings {
        second_tessdata: dir.to_string(),
        ..Default::default()
    };
    topup::slip::read::ReadLimits::from_settings(&settings)
}

/// Screenshots forwarded at half size: the system's models alone read the
/// OCTO slip as 19.105.000 and the ATM receipt as 1.100.008 (sure, a wrong
/// "amount differs" in waiting); read in turn with the second set of models,
/// the reads agree on what the slips show.
#[test]
fn half_size_forwards_are_read_right_with_the_second_models() {
    let limits = limits_with_second(&second_tessdata());
    assert!(
        limits.second_tessdata.is_some(),
        "the second models were not taken"
    );
    for (file, want) in [
        (
            &include_bytes!("slips/octo-18305000-half.jpg")[..],
            18_305_000,
        ),
        (
            &include_bytes!("slips/atm-mandiri-1100000-half.jpg")[..],
            1_100_000,
        ),
    ] {
        let read = topup::slip::read::read_slip(file, &limits).expect("read");
        assert_eq!(read.fields.amount, Some(Money::from_major(want)));
    }
}

/// A second models folder without both models is left out (every read
/// through it would fail), and slips are still read with the system's; so
/// are they when the models are there but damaged (a truncated download).
#[test]
fn missing_or_damaged_second_models_cost_the_read_nothing() {
    let empty = tempfile::tempdir().unwrap();
    let limits = limits_with_second(empty.path().to_str().unwrap());
    assert!(limits.second_tessdata.is_none());
    let read = topup::slip::read::read_slip(SLIP, &limits).expect("read");
    assert_eq!(read.fields.amount, Some(Money::from_major(7_750_000)));

    let damaged = tempfile::tempdir().unwrap();
    for lang in ["eng", "ind"] {
        std::fs::write(
            damaged.path().join(format!("{lang}.traineddata")),
            b"not a model",
        )
        .unwrap();
    }
    let limits = limits_with_second(damaged.path().to_str().unwrap());
    assert!(limits.second_tessdata.is_some());
    let read = topup::slip::read::read_slip(SLIP, &limits).expect("read");
    assert_eq!(read.fields.amount, Some(Money::from_major(7_750_000)));
}
