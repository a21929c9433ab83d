//! What a Discord review card tells staff, and the reminder before the 24 h
//! limit: a real desk on a fresh store (`TOPUP_TEST_DB=sqlite|postgres`) with
//! serenity's REST client pointed at mockito. The card is in the desk's staff
//! language with amounts in the desk's staff notation, whatever the
//! customer's; it names the sender with name and address, quotes the
//! customer's own words, shows the balance, recent orders, the slip as its
//! image, the flags and a link to the order on the staff board.

#[path = "support/db.rs"]
mod db;
#[path = "support/discord_app.rs"]
mod support;

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde_json::{Value, json};
use support::*;
use topup::clock::ManualClock;
use topup::config::{DiscordSettings, Settings};
use topup::desk::{Channel, Decision, Desk};
use topup::discord::{Cards, http_client};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::outbox::Job;
use topup::outbox::deliver::ChatDelivery;
use topup::store::accounts;

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

struct Setup {
    desk: Desk,
    clock: ManualClock,
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
    settings.web.listen = "127.0.0.1:0".into();
    settings.desk.public_url = "https://topup.example.com".into();
    settings.desk.staff_lang = Lang::Id;
    settings.desk.staff_notation = Lang::En;
    settings.discord = DiscordSettings {
        token: Some(SecretString::from("test-bot-token".to_string())),
        application_id: APP,
        staff_channel_id: STAFF_CHANNEL,
        staff_user_ids: vec![RUDI],
        api_base: Some(api_base.to_string()),
        ..DiscordSettings::default()
    };
    let settings = Arc::new(settings);
    let clock = ManualClock::at(T0);
    let desk = topup::app::Application::open_desk(settings.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    Setup {
        desk,
        clock,
        settings,
        _dir: dir,
    }
}

fn capture(
    message_id: u64,
) -> (
    Seen,
    impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static,
) {
    let seen: Seen = Arc::default();
    let keep = seen.clone();
    let answer = message_json(
        message_id,
        STAFF_CHANNEL,
        user_json(BOT, "topup"),
        "",
        json!([]),
    )
    .to_string()
    .into_bytes();
    (seen, move |req: &mockito::Request| {
        keep.lock()
            .unwrap()
            .push(req.body().cloned().unwrap_or_default());
        answer.clone()
    })
}

/// The `payload_json` part of a multipart body.
fn multipart_payload(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let start = text
        .find("name=\"payload_json\"")
        .expect("payload_json part");
    let after = &text[start..];
    let json_start = after.find("\r\n\r\n").unwrap() + 4;
    let json_end = after[json_start..].find("\r\n--").unwrap();
    serde_json::from_str(&after[json_start..json_start + json_end]).unwrap()
}

fn field(embed: &Value, name: &str) -> String {
    embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| f["value"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no field {name:?} in {embed}"))
}

#[tokio::test]
async fn the_card_shows_what_staff_need_in_their_language_and_notation() {
    let mut server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    let mut tx = d.store().begin_write().await.unwrap();
    let account =
        accounts::add_account(&mut tx, "PT Kartu [Lengkap]", "budi@kartu.id", Lang::Id, T0)
            .await
            .unwrap();
    let main = accounts::user_by_email(&mut tx, "budi@kartu.id")
        .await
        .unwrap()
        .unwrap();
    accounts::set_user_name(&mut tx, main.id, "Budi Santoso")
        .await
        .unwrap();
    accounts::add_user(
        &mut tx,
        account.id,
        "siti@kartu.id",
        "pic",
        "Siti",
        None,
        T0,
    )
    .await
    .unwrap();
    let staff = accounts::add_staff(&mut tx, "Sari", None, None, None, T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let main = {
        let mut conn = d.store().pool().acquire().await.unwrap();
        accounts::user_by_id(&mut conn, main.id).await.unwrap()
    };

    // An earlier paid order (recent orders, balance).
    let earlier = d
        .request(&main, Money::from_major(300_000), Channel::Email, None)
        .await
        .unwrap();
    let en = d.parse_order_number(&earlier.number).unwrap();
    let slip = d
        .store_slips(&[topup::intake::SlipFile {
            file_name: Some("lama.png".into()),
            content_type: "image/png".into(),
            bytes: [PNG, b"earlier"].concat(),
        }])
        .await
        .unwrap();
    d.submit_slip(&main, Some(&en), &slip, None, Channel::Email, None)
        .await
        .unwrap();
    d.decide(&en, &staff, &Decision::Approve { amount: None })
        .await
        .unwrap();

    // Budi asks; Siti sends the slip by mail with a few words (and a link that must stay text).
    let order = d
        .request(&main, Money::from_major(1_500_000), Channel::Email, None)
        .await
        .unwrap();
    let raw = format!(
        "From: Siti <siti@kartu.id>\r\nSubject: Bukti [klik](http://evil.example) {n}\r\nMessage-ID: <k1@kartu.id>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Sudah transfer jam 9 pagi.\r\nMohon dicek ya.\r\n\r\nPada Sen, 25 Nov 2026, Topup menulis:\r\n> pesanan lama\r\n--b\r\n\
         Content-Type: image/png; name=bukti.png\r\nContent-Disposition: attachment; filename=bukti.png\r\nContent-Transfer-Encoding: base64\r\n\r\n{png}\r\n--b--\r\n",
        n = order.number,
        png = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG)
    );
    let out = d
        .handle_inbound(topup::sources::inbound_from_email(
            raw.into_bytes(),
            vec![],
            &s.settings,
        ))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("submitted"), "{}", out.outcome);

    let (posted, answer) = capture(800_000_000_000_000_901);
    let post = server
        .mock(
            "POST",
            format!("/api/v10/channels/{STAFF_CHANNEL}/messages").as_str(),
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(1)
        .create_async()
        .await;
    let cards = Cards::new(d.clone(), http_client(&s.settings.discord));
    cards
        .deliver(&Job::ReviewCard { order_id: order.id })
        .await
        .unwrap();
    post.assert_async().await;
    let payload = multipart_payload(&posted.lock().unwrap()[0]);
    let embed = &payload["embeds"][0];
    let board = format!("https://topup.example.com/staff/orders/{}", order.number);
    assert_eq!(
        embed["url"],
        board.as_str(),
        "the title opens the order on the board"
    );
    assert_eq!(field(embed, "Di papan staf"), board);
    assert_eq!(field(embed, "Pesanan"), order.number);
    assert_eq!(field(embed, "Perusahaan"), "PT Kartu \\[Lengkap\\]");
    assert_eq!(
        field(embed, "Jumlah yang diklaim"),
        "IDR 1,500,000",
        "the desk's notation"
    );
    let sender = field(embed, "Dikirim oleh");
    assert!(
        sender.contains("Siti <siti@kartu.id>") && sender.contains("(PIC)"),
        "{sender}"
    );
    assert!(field(embed, "Diminta oleh").contains("Budi Santoso <budi@kartu.id>"));
    let words = field(embed, "Kata-kata pelanggan");
    assert!(
        words.contains("Sudah transfer jam 9 pagi.") && words.contains("Mohon dicek ya."),
        "{words}"
    );
    assert!(
        !words.contains("pesanan lama"),
        "quotes are left out: {words}"
    );
    assert!(
        words.contains("\\[klik\\]\\(http://evil.example\\)"),
        "customer text cannot become a link: {words}"
    );
    assert_eq!(field(embed, "Saldo"), "IDR 300,000");
    assert!(field(embed, "Pesanan terakhir").contains(&earlier.number));
    assert!(field(embed, "Tanda").contains("PIC"));
    assert!(
        field(embed, "Bukti transfer").contains("https://topup.example.com/staff/slips/"),
        "full size on the board"
    );
    assert_eq!(
        embed["image"]["url"], "attachment://slip-1.png",
        "the slip is the card's large image"
    );
    let buttons = &payload["components"][0]["components"];
    assert_eq!(
        (buttons[0]["label"].as_str(), buttons[1]["label"].as_str()),
        (Some("Setujui"), Some("Tolak"))
    );
    assert!(
        embed["description"]
            .as_str()
            .unwrap()
            .contains("gagal otomatis pada 2026-11-26 10:00 WIB"),
        "{embed}"
    );

    // 21 hours later the staff channel is reminded once, as a reply to the card.
    s.clock.advance_hours(21);
    d.expire_due().await.unwrap();
    d.expire_due().await.unwrap();
    let jobs: Vec<(String,)> = sqlx::query_as("SELECT payload FROM outbox WHERE kind = 'reminder'")
        .fetch_all(d.store().pool())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "reminded once");
    let job: Job = serde_json::from_str(&jobs[0].0).unwrap();
    let (sent, answer) = capture(800_000_000_000_000_902);
    let remind = server
        .mock(
            "POST",
            format!("/api/v10/channels/{STAFF_CHANNEL}/messages").as_str(),
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(1)
        .create_async()
        .await;
    cards.deliver(&job).await.unwrap();
    remind.assert_async().await;
    let body: Value = serde_json::from_slice(&sent.lock().unwrap()[0]).unwrap();
    let content = body["content"].as_str().unwrap();
    assert!(
        content.contains(&order.number) && content.contains("IDR 1,500,000"),
        "{content}"
    );
    assert!(
        content.contains("sudah menunggu 21 jam") && content.contains("2026-11-26 10:00 WIB"),
        "{content}"
    );
    assert!(content.contains(&board), "{content}");
    assert_eq!(
        body["message_reference"]["message_id"], "800000000000000901",
        "a reply to the card"
    );
}

#[tokio::test]
async fn chat_answers_to_customers_never_name_staff() {
    let server = mockito::Server::new_async().await;
    let s = setup(&server.url()).await;
    let d = &s.desk;
    let mut tx = d.store().begin_write().await.unwrap();
    accounts::add_account(&mut tx, "PT Obrolan", "o@obrolan.id", Lang::En, T0)
        .await
        .unwrap();
    let user = accounts::user_by_email(&mut tx, "o@obrolan.id")
        .await
        .unwrap()
        .unwrap();
    let sari = accounts::add_staff(&mut tx, "Sari", None, None, None, T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let order = d
        .request(&user, Money::from_major(100_000), Channel::Discord, None)
        .await
        .unwrap();
    let n = d.parse_order_number(&order.number).unwrap();
    let slip = d
        .store_slips(&[topup::intake::SlipFile {
            file_name: None,
            content_type: "image/png".into(),
            bytes: PNG.to_vec(),
        }])
        .await
        .unwrap();
    d.submit_slip(&user, Some(&n), &slip, None, Channel::Discord, None)
        .await
        .unwrap();
    d.decide(&n, &sari, &Decision::Approve { amount: None })
        .await
        .unwrap();
    let err = d
        .cancel(&topup::desk::Actor::Customer(user.clone()), &n, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Sari"),
        "staff read the name: {err}"
    );
    let outcome = topup::desk::InboundOutcome {
        inbound_id: Some(1),
        outcome: format!("refused: {err}"),
        order: Some(order.clone()),
    };
    let told = topup::discord::gateway::outcome_text(d, &outcome)
        .await
        .unwrap();
    assert!(
        !told.contains("Sari") && told.contains("Receivables team"),
        "{told}"
    );
}
