//! Discord adapter against a real desk (SQLite, or PostgreSQL with
//! `TOPUP_TEST_DB=postgres`) and serenity's REST client pointed at mockito:
//! review cards (post, edit, retry classification), the signed HTTP
//! interactions endpoint (PING, approve flow, refusals, replays, races), and
//! gateway payloads fed into the same handlers (intake, slash commands).

#[path = "support/db.rs"]
mod db;
#[path = "support/decisions.rs"]
mod decisions;
#[path = "support/discord_app.rs"]
mod support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use serenity::all::{Interaction, Message};
use support::*;
use topup::discord::interactions::{self, Reply};
use topup::discord::{Cards, http_client};
use topup::outbox::Job;
use topup::outbox::deliver::ChatDelivery;
use topup::outbox::email::SendError;

/// Request bodies a mock saw.
type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

/// The `payload_json` part of a multipart body, and whether the PNG bytes were uploaded.
fn multipart_payload(body: &[u8]) -> (Value, bool) {
    let text = String::from_utf8_lossy(body);
    let start = text
        .find("name=\"payload_json\"")
        .expect("payload_json part");
    let after = &text[start..];
    let json_start = after.find("\r\n\r\n").expect("part body") + 4;
    let json_end = after[json_start..].find("\r\n--").expect("part end");
    let payload: Value =
        serde_json::from_str(&after[json_start..json_start + json_end]).expect("payload json");
    let has_png = body.windows(PNG.len()).any(|w| w == PNG);
    (payload, has_png)
}

fn capture_as(
    message_id: u64,
) -> (
    Seen,
    impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
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

#[tokio::test]
async fn review_card_is_posted_with_slip_and_buttons_and_edited_after_the_decision() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let order = app.dealing_order().await;
    let cards = Cards::new(app.desk.clone(), http_client(&app.settings.discord));

    let (posted, post) = posts_to(&mut server, STAFF_CHANNEL, 1).await;
    cards
        .deliver(&Job::ReviewCard { order_id: order.id })
        .await
        .unwrap();
    // A retried job for the same round does not post a second card.
    cards
        .deliver(&Job::ReviewCard { order_id: order.id })
        .await
        .unwrap();
    post.assert_async().await;

    let bodies = posted.lock().unwrap().clone();
    let (payload, has_png) = multipart_payload(&bodies[0]);
    assert!(has_png, "the slip is uploaded as a file");
    let embed = &payload["embeds"][0];
    let fields: Vec<(String, String)> = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let field = |n: &str| {
        fields
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("field {n} in {fields:?}"))
    };
    assert_eq!(field("Order"), order.number);
    assert_eq!(field("Company"), "PT Maju Jaya");
    assert_eq!(
        field("Claimed amount"),
        "Rp 1.500.000",
        "the account reads Indonesian"
    );
    assert!(field("Submitted by").contains("budi@maju.co.id"));
    assert_eq!(field("Channel"), "email");
    assert_eq!(field("Submitted"), "2026-11-25 10:00 WIB");
    assert!(field("Slips").contains("bukti transfer.png"));
    assert_eq!(embed["image"]["url"], "attachment://slip-1.png");
    assert_eq!(payload["attachments"][0]["filename"], "slip-1.png");
    let buttons = &payload["components"][0]["components"];
    let round = app
        .texts(
            "SELECT CAST(MAX(id) AS TEXT) FROM order_events WHERE order_id = $1 AND to_status = 'dealing'",
            order.id,
        )
        .await
        .remove(0);
    assert_eq!(
        buttons[0]["custom_id"],
        format!("approve:{}:{round}", order.number),
        "the button names the review round it shows"
    );
    assert_eq!(buttons[0]["label"], "Approve");
    assert_eq!(
        buttons[1]["custom_id"],
        format!("reject:{}:{round}", order.number)
    );
    let stored = app
        .texts(
            "SELECT message_id FROM discord_cards WHERE order_id = $1",
            order.id,
        )
        .await;
    assert_eq!(stored, vec!["800000000000000777".to_string()]);

    // Decided: the card is edited to show who, when and what was credited, without buttons.
    app.clock.advance_ms(60_000);
    app.desk
        .decide(
            &app.desk.parse_order_number(&order.number).unwrap(),
            &app.sari,
            &topup::desk::Decision::Approve { amount: None },
        )
        .await
        .unwrap();
    let (edited, answer) = capture();
    let edit = server
        .mock(
            "PATCH",
            format!("/api/v10/channels/{STAFF_CHANNEL}/messages/800000000000000777").as_str(),
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(1)
        .create_async()
        .await;
    cards
        .deliver(&Job::CardUpdate { order_id: order.id })
        .await
        .unwrap();
    // Settled cards are not edited again.
    cards
        .deliver(&Job::CardUpdate { order_id: order.id })
        .await
        .unwrap();
    edit.assert_async().await;
    let body: Value = serde_json::from_slice(&edited.lock().unwrap()[0]).unwrap();
    assert_eq!(body["components"], json!([]), "buttons removed: {body}");
    let description = body["embeds"][0]["description"].as_str().unwrap();
    assert!(description.contains("Paid"), "{description}");
    assert!(description.contains("staff Sari"), "{description}");
    assert!(
        description.contains("2026-11-25 10:01 WIB"),
        "{description}"
    );
    assert!(description.contains("Rp 1.500.000"), "{description}");
    assert!(
        body.get("attachments").is_none(),
        "the slip stays on the card"
    );
}

#[tokio::test]
async fn discord_failures_are_classified_for_the_outbox() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let order = app.dealing_order().await;
    let cards = Cards::new(app.desk.clone(), http_client(&app.settings.discord));
    let path = format!("/api/v10/channels/{STAFF_CHANNEL}/messages");
    for (status, body, transient) in [
        (
            429,
            r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#,
            true,
        ),
        (
            500,
            r#"{"message": "Internal Server Error", "code": 0}"#,
            true,
        ),
        (
            403,
            r#"{"message": "Missing Access", "code": 50001}"#,
            false,
        ),
    ] {
        let m = server
            .mock("POST", path.as_str())
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body(body)
            .create_async()
            .await;
        let err = cards
            .deliver(&Job::ReviewCard { order_id: order.id })
            .await
            .expect_err("Discord refused");
        match (&err, transient) {
            (SendError::Transient(_), true) | (SendError::Permanent(_), false) => {}
            _ => panic!("HTTP {status} classified as {err:?}"),
        }
        if status == 403 {
            assert!(err.to_string().contains("Missing Access"), "{err}");
        }
        m.remove_async().await;
    }
    // Nothing was remembered, so the retry after the outage posts the card.
    assert!(
        app.texts(
            "SELECT message_id FROM discord_cards WHERE order_id = $1",
            order.id
        )
        .await
        .is_empty()
    );
}

fn capture() -> (
    Seen,
    impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static,
) {
    capture_as(800_000_000_000_000_777)
}

/// Discord's "create message" in `channel`, as the bot token calls it:
/// expected `times` times, each body kept, each answered as the bot's
/// message.
async fn posts_to(
    server: &mut mockito::ServerGuard,
    channel: u64,
    times: usize,
) -> (Seen, mockito::Mock) {
    let (seen, answer) = capture();
    let mock = server
        .mock(
            "POST",
            format!("/api/v10/channels/{channel}/messages").as_str(),
        )
        .match_header("authorization", "Bot test-bot-token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(times)
        .create_async()
        .await;
    (seen, mock)
}

#[tokio::test]
async fn a_resubmission_gets_a_new_card_and_the_old_one_keeps_its_outcome() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let order = app.dealing_order().await;
    let number = app.desk.parse_order_number(&order.number).unwrap();
    let cards = Cards::new(app.desk.clone(), http_client(&app.settings.discord));
    let posts = format!("/api/v10/channels/{STAFF_CHANNEL}/messages");
    let (_, answer) = capture_as(801);
    let first = server
        .mock("POST", posts.as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .create_async()
        .await;
    cards
        .deliver(&Job::ReviewCard { order_id: order.id })
        .await
        .unwrap();
    first.remove_async().await;

    // Rejected: card 1 shows the rejection.
    decisions::reject(
        &app.desk,
        &number,
        &app.sari,
        topup::desk::RejectReason::AmountDiffers,
    )
    .await;
    let (edited, answer) = capture_as(801);
    let edit1 = server
        .mock("PATCH", format!("{posts}/801").as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(1)
        .create_async()
        .await;
    cards
        .deliver(&Job::CardUpdate { order_id: order.id })
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&edited.lock().unwrap()[0]).unwrap();
    let description = body["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        description.contains("Payment Failure") && description.contains("Sari"),
        "{description}"
    );
    assert!(
        description.contains("Jumlah pada bukti transfer berbeda"),
        "{description}"
    );

    // The customer corrects the amount: a second card with buttons and the resubmission flag.
    app.clock.advance_ms(3_600_000);
    app.desk
        .amend(
            &app.customer,
            &number,
            topup::domain::money::Money::from_major(1_000_000),
            &[],
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap();
    let (posted, answer) = capture_as(802);
    let second = server
        .mock("POST", posts.as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(1)
        .create_async()
        .await;
    cards
        .deliver(&Job::ReviewCard { order_id: order.id })
        .await
        .unwrap();
    second.assert_async().await;
    let (payload, has_png) = multipart_payload(&posted.lock().unwrap()[0]);
    assert!(has_png, "the earlier slip is shown again");
    let round = app
        .texts(
            "SELECT CAST(MAX(id) AS TEXT) FROM order_events WHERE order_id = $1 AND to_status = 'dealing'",
            order.id,
        )
        .await
        .remove(0);
    assert_eq!(
        payload["components"][0]["components"][0]["custom_id"],
        format!("approve:{}:{round}", order.number),
        "the new card carries the new round"
    );
    let text = payload["embeds"][0].to_string();
    assert!(text.contains("Resubmission after a rejection"), "{text}");
    assert!(text.contains("Rp 1.000.000"), "{text}");
    let cards_now = app
        .texts(
            "SELECT message_id || ':' || CAST(settled AS TEXT) FROM discord_cards WHERE order_id = $1 ORDER BY id",
            order.id,
        )
        .await;
    assert_eq!(cards_now, vec!["801:1".to_string(), "802:0".to_string()]);

    // Approved: only the open card is edited; card 1 keeps its rejection.
    app.desk
        .decide(
            &number,
            &app.sari,
            &topup::desk::Decision::Approve { amount: None },
        )
        .await
        .unwrap();
    let (_, answer) = capture_as(802);
    let edit2 = server
        .mock("PATCH", format!("{posts}/802").as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(answer)
        .expect(1)
        .create_async()
        .await;
    cards
        .deliver(&Job::CardUpdate { order_id: order.id })
        .await
        .unwrap();
    edit2.assert_async().await;
    edit1.assert_async().await;
}

/// The interactions endpoint on a free port.
async fn endpoint(app: &DiscordApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = topup::discord::routes(app.desk.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/discord/interactions")
}

enum Signed {
    Now,
    At(i64),
    Forged,
    Unsigned,
}

async fn send(app: &DiscordApp, url: &str, body: &Value, how: Signed) -> (u16, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    let now = app.desk.now() / 1000;
    let client = reqwest::Client::new();
    let mut req = client.post(url).header("content-type", "application/json");
    let signed = match how {
        Signed::Now => Some(sign(&signing_key(), now, &raw)),
        Signed::At(t) => Some(sign(&signing_key(), t, &raw)),
        Signed::Forged => Some(sign(
            &ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
            now,
            &raw,
        )),
        Signed::Unsigned => None,
    };
    if let Some((sig, ts)) = signed {
        req = req
            .header("X-Signature-Ed25519", sig)
            .header("X-Signature-Timestamp", ts);
    }
    let resp = req.body(raw).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn interactions_endpoint_verifies_and_runs_the_approve_flow() {
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let url = endpoint(&app).await;
    let order = app.dealing_order().await;
    let number = order.number.clone();

    // PING / PONG.
    let ping = json!({ "type": 1, "id": "1", "application_id": APP.to_string(), "token": "t", "version": 1 });
    let (status, body) = send(&app, &url, &ping, Signed::Now).await;
    assert_eq!((status, body), (200, json!({ "type": 1, "data": null })));

    // Bad, missing and replayed signatures are refused before anything is read.
    let click = click_json(&format!("approve:{number}"), SARI, &[STAFF_ROLE]);
    assert_eq!(send(&app, &url, &click, Signed::Forged).await.0, 401);
    assert_eq!(send(&app, &url, &click, Signed::Unsigned).await.0, 401);
    let old = app.desk.now() / 1000 - 6 * 60;
    assert_eq!(send(&app, &url, &click, Signed::At(old)).await.0, 401);
    let mut tampered = click.clone();
    let raw = serde_json::to_vec(&click).unwrap();
    let (sig, ts) = sign(&signing_key(), app.desk.now() / 1000, &raw);
    tampered["data"]["custom_id"] = json!(format!("reject:{number}"));
    let resp = reqwest::Client::new()
        .post(&url)
        .header("X-Signature-Ed25519", sig)
        .header("X-Signature-Timestamp", ts)
        .body(serde_json::to_vec(&tampered).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        401,
        "a body changed after signing is refused"
    );

    // Approve click by staff: a modal asking the amount, prefilled with the claim.
    let (status, body) = send(&app, &url, &click, Signed::Now).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 9, "{body}");
    assert_eq!(body["data"]["custom_id"], format!("approve_modal:{number}"));
    let amount_input = &body["data"]["components"][0]["components"][0];
    assert_eq!(amount_input["custom_id"], "amount");
    assert_eq!(amount_input["value"], "Rp 1.500.000");
    assert_eq!(amount_input["required"], false);
    assert_eq!(
        app.status(&number).await,
        "dealing",
        "a click alone decides nothing"
    );

    // Modal submit: paid, balance credited, the desk's outbox has the card edit.
    let submit = modal_json(
        &format!("approve_modal:{number}"),
        SARI,
        &[STAFF_ROLE],
        &[("amount", "Rp 1.500.000")],
    );
    let (status, body) = send(&app, &url, &submit, Signed::Now).await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], 4, "{body}");
    assert_eq!(body["data"]["flags"], 64, "ephemeral: {body}");
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("approved"),
        "{body}"
    );
    assert_eq!(app.status(&number).await, "paid");
    assert_eq!(app.balance().await, 150_000_000);
    let kinds = app
        .texts(
            "SELECT kind FROM outbox WHERE order_id = $1 ORDER BY id",
            order.id,
        )
        .await;
    assert!(kinds.contains(&"card_update".to_string()), "{kinds:?}");

    // Second submit (double click, or a colleague's): told who was first; no second credit.
    let again = modal_json(
        &format!("approve_modal:{number}"),
        RUDI,
        &[],
        &[("amount", "")],
    );
    let (_, body) = send(&app, &url, &again, Signed::Now).await;
    let text = body["data"]["content"].as_str().unwrap();
    assert_eq!(body["data"]["flags"], 64);
    assert!(
        text.contains("already paid") && text.contains("Sari"),
        "{text}"
    );
    assert_eq!(app.balance().await, 150_000_000);

    // A click on a decided card does not open the modal.
    let (_, body) = send(&app, &url, &click, Signed::Now).await;
    assert_eq!(body["type"], 4);
    assert!(
        body["data"]["content"].as_str().unwrap().contains("Paid"),
        "{body}"
    );
}

#[tokio::test]
async fn unauthorised_clicks_are_refused_privately_and_recorded() {
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let url = endpoint(&app).await;
    let order = app.dealing_order().await;
    let number = order.number.clone();

    let click = click_json(&format!("approve:{number}"), MALLORY, &[]);
    let (status, body) = send(&app, &url, &click, Signed::Now).await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["flags"], 64, "ephemeral: {body}");
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Only the receivables staff")
    );
    // Even a forged modal submit (no click allowed first) changes nothing.
    let submit = modal_json(
        &format!("approve_modal:{number}"),
        MALLORY,
        &[],
        &[("amount", "Rp 9.000.000")],
    );
    let (_, body) = send(&app, &url, &submit, Signed::Now).await;
    assert_eq!(body["data"]["flags"], 64);
    assert_eq!(app.status(&number).await, "dealing");
    assert_eq!(app.balance().await, 0);
    let actors = app
        .texts(
            "SELECT actor FROM order_events WHERE order_id = $1 AND event = 'unauthorized'",
            order.id,
        )
        .await;
    assert_eq!(actors.len(), 2, "{actors:?}");
    assert!(actors[0].contains(&MALLORY.to_string()), "{actors:?}");

    // Staff role but no staff row: told how to get one.
    let stranger = 200_000_000_000_000_777u64;
    let click = click_json(&format!("reject:{number}"), stranger, &[STAFF_ROLE]);
    let (_, body) = send(&app, &url, &click, Signed::Now).await;
    let text = body["data"]["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("topup staff add NAME --discord {stranger}")),
        "{text}"
    );
}

#[tokio::test]
async fn reject_modal_reads_the_reason_choice() {
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let url = endpoint(&app).await;
    let order = app.dealing_order().await;
    let number = order.number.clone();

    let (_, body) = send(
        &app,
        &url,
        &click_json(&format!("reject:{number}"), RUDI, &[]),
        Signed::Now,
    )
    .await;
    assert_eq!(body["type"], 9, "{body}");
    assert_eq!(body["data"]["custom_id"], format!("reject_modal:{number}"));
    let ids: Vec<&str> = body["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["components"][0]["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["reason", "details"]);

    // "3" without details is refused and changes nothing.
    let submit = modal_json(
        &format!("reject_modal:{number}"),
        RUDI,
        &[],
        &[("reason", "3"), ("details", "")],
    );
    let (_, body) = send(&app, &url, &submit, Signed::Now).await;
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Details"),
        "{body}"
    );
    assert_eq!(app.status(&number).await, "dealing");

    let submit = modal_json(
        &format!("reject_modal:{number}"),
        RUDI,
        &[],
        &[("reason", "2"), ("details", "")],
    );
    let (_, body) = send(&app, &url, &submit, Signed::Now).await;
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Payment Failure"),
        "{body}"
    );
    assert_eq!(app.status(&number).await, "payment_failure");
    let reasons = app
        .texts(
            "SELECT reason FROM order_events WHERE order_id = $1 AND event = 'reject'",
            order.id,
        )
        .await;
    assert_eq!(
        reasons,
        vec!["Dana transfer belum kami terima di rekening kami.".to_string()]
    );
}

#[test]
fn reject_reason_choices() {
    use topup::desk::RejectReason;
    use topup::domain::Lang;
    assert_eq!(
        interactions::reject_reason("1", "", Lang::En),
        Ok(RejectReason::AmountDiffers)
    );
    assert_eq!(
        interactions::reject_reason(" 2 ", "", Lang::En),
        Ok(RejectReason::NotReceived)
    );
    assert_eq!(
        interactions::reject_reason("3", "Slip is from another bank account", Lang::En),
        Ok(RejectReason::Other(
            "Slip is from another bank account".into()
        ))
    );
    assert_eq!(
        interactions::reject_reason("amount differs", "", Lang::En),
        Ok(RejectReason::AmountDiffers)
    );
    assert_eq!(
        interactions::reject_reason("1", "Slip shows Rp 1.000.000.", Lang::En),
        Ok(RejectReason::Other(
            "The amount on the transfer slip differs from the amount of the order. Slip shows Rp 1.000.000.".into()
        ))
    );
    assert!(interactions::reject_reason("3", " ", Lang::En).is_err());
}

#[tokio::test]
async fn gateway_message_with_a_slip_in_the_intake_channel_submits_it() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    app.link_customer().await;
    let http = http_client(&app.settings.discord);
    let download = server
        .mock("GET", "/attachments/400/1/bukti.png")
        .with_status(200)
        .with_header("content-type", "image/png")
        .with_body(PNG)
        .expect(1)
        .create_async()
        .await;
    let (replies, reply) = posts_to(&mut server, INTAKE_CHANNEL, 1).await;
    let attachment = png_attachment(&server.url(), 1, "bukti.png", PNG.len(), 1);
    // MESSAGE_CREATE as the gateway delivers it.
    let event = message_json(
        500_000_000_000_000_001,
        INTAKE_CHANNEL,
        user_json(BUDI, "budi"),
        "sudah transfer 1,5 juta ya",
        attachment,
    );
    let msg: Message = serde_json::from_value(event.clone()).expect("a MESSAGE_CREATE payload");
    let text = topup::discord::gateway::handle_message(&app.desk, &msg)
        .await
        .unwrap()
        .expect("answered in the channel");
    download.assert_async().await;
    assert_eq!(deliver_chat_replies(&app, &http).await, 1);
    reply.assert_async().await;
    assert!(text.contains("received your transfer slip"), "{text}");
    let body: Value = serde_json::from_slice(&replies.lock().unwrap()[0]).unwrap();
    assert_eq!(
        body["message_reference"]["message_id"], "500000000000000001",
        "{body}"
    );

    let number = regex::Regex::new(r"TU-\d{8}-\d{4}")
        .unwrap()
        .find(&text)
        .unwrap()
        .as_str()
        .to_string();
    let view = app
        .desk
        .view(&app.desk.parse_order_number(&number).unwrap())
        .await
        .unwrap();
    assert_eq!(view.order.status, "dealing");
    assert_eq!(view.order.source, "discord");
    assert_eq!(view.order.amount_minor, Some(150_000_000));
    assert_eq!(view.slips.len(), 1);
    assert_eq!(
        app.desk
            .slips()
            .get(&view.slips[0].hash)
            .await
            .unwrap()
            .as_ref(),
        PNG
    );
    let kinds = app
        .texts(
            "SELECT kind FROM outbox WHERE order_id = $1 ORDER BY id",
            view.order.id,
        )
        .await;
    assert!(kinds.contains(&"review_card".to_string()), "{kinds:?}");

    // The gateway redelivers the same message after a reconnect: nothing new, no second answer.
    let again: Message = serde_json::from_value(event).unwrap();
    assert_eq!(
        topup::discord::gateway::handle_message(&app.desk, &again)
            .await
            .unwrap(),
        None
    );

    // Messages elsewhere, and the bot's own, are not ours.
    let elsewhere: Message = serde_json::from_value(message_json(
        500_000_000_000_000_002,
        STAFF_CHANNEL,
        user_json(BUDI, "budi"),
        "top up 2 juta",
        json!([]),
    ))
    .unwrap();
    assert_eq!(
        topup::discord::gateway::handle_message(&app.desk, &elsewhere)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn unlinked_chat_users_are_told_how_to_link() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let http = http_client(&app.settings.discord);
    let (_, reply) = posts_to(&mut server, INTAKE_CHANNEL, 1).await;
    let msg: Message = serde_json::from_value(message_json(
        500_000_000_000_000_003,
        INTAKE_CHANNEL,
        user_json(BUDI, "budi"),
        "mau top up 2 juta",
        json!([]),
    ))
    .unwrap();
    let text = topup::discord::gateway::handle_message(&app.desk, &msg)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deliver_chat_replies(&app, &http).await, 1);
    reply.assert_async().await;
    assert!(text.contains("/link email"), "{text}");
}

async fn run(app: &DiscordApp, payload: Value) -> Reply {
    let interaction: Interaction =
        serde_json::from_value(payload).expect("an INTERACTION_CREATE payload");
    interactions::handle(&app.desk, &interaction).await
}

#[tokio::test]
async fn slash_commands_link_then_act_for_the_account() {
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;

    // Not linked yet.
    let topup_cmd = command_json(
        "topup",
        BUDI,
        json!([{ "name": "amount", "type": 3, "value": "2 juta" }]),
    );
    let reply = run(&app, topup_cmd.clone()).await;
    assert!(reply.text().unwrap().contains("/link email"), "{reply:?}");

    // /link email queues the code email to the registered address.
    let link_email = command_json(
        "link",
        BUDI,
        json!([{ "name": "email", "type": 1, "options": [{ "name": "address", "type": 3, "value": "Budi@Maju.co.id" }] }]),
    );
    let reply = run(&app, link_email).await;
    assert!(
        reply.text().unwrap().contains("10-character code"),
        "{reply:?}"
    );
    let payloads: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient, payload FROM outbox WHERE kind = 'email' ORDER BY id")
            .fetch_all(app.desk.store().pool())
            .await
            .unwrap();
    let (to, payload) = payloads.last().expect("a link-code email");
    assert_eq!(to, "budi@maju.co.id");
    let job: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(job["kind"], "link_code", "{job}");
    let code = job["vars"]["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 11, "ABCDE-FGHJK: {code}");
    assert_eq!(job["vars"]["company"], "PT Maju Jaya");
    assert!(
        job["vars"]["expires"].as_str().unwrap().contains("10:15"),
        "{job}"
    );

    // A wrong code is refused; the right one links.
    let wrong = if code == "AAAAA-AAAAA" {
        "BBBBB-BBBBB"
    } else {
        "AAAAA-AAAAA"
    };
    let link_code = |c: &str| {
        command_json(
            "link",
            BUDI,
            json!([{ "name": "code", "type": 1, "options": [{ "name": "code", "type": 3, "value": c }] }]),
        )
    };
    let reply = run(&app, link_code(wrong)).await;
    assert!(reply.text().unwrap().contains("not right"), "{reply:?}");
    let reply = run(&app, link_code(&code)).await;
    assert!(reply.text().unwrap().starts_with("Linked"), "{reply:?}");
    // The code works once.
    let reply = run(&app, link_code(&code)).await;
    assert!(
        reply.text().unwrap().contains("no pending code"),
        "{reply:?}"
    );

    // Now /topup creates an order for the account, /status shows it, /cancel cancels it.
    let reply = run(&app, topup_cmd).await;
    let text = reply.text().unwrap().to_string();
    let number = regex::Regex::new(r"TU-\d{8}-\d{4}")
        .unwrap()
        .find(&text)
        .unwrap()
        .as_str()
        .to_string();
    assert!(text.contains("IDR 2,000,000"), "{text}");
    assert_eq!(app.status(&number).await, "open");
    let reply = run(&app, command_json("status", BUDI, json!([]))).await;
    assert!(reply.text().unwrap().contains(&number), "{reply:?}");
    let reply = run(
        &app,
        command_json(
            "cancel",
            BUDI,
            json!([{ "name": "order", "type": 3, "value": number.to_lowercase() }]),
        ),
    )
    .await;
    assert!(reply.text().unwrap().contains("cancelled"), "{reply:?}");
    assert_eq!(app.status(&number).await, "deleted");

    // Another Discord user cannot act on that account's orders.
    let reply = run(
        &app,
        command_json(
            "cancel",
            MALLORY,
            json!([{ "name": "order", "type": 3, "value": number }]),
        ),
    )
    .await;
    assert!(reply.text().unwrap().contains("not linked"), "{reply:?}");
}

#[tokio::test]
async fn gateway_click_payload_opens_the_reject_modal() {
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let order = app.dealing_order().await;
    match run(
        &app,
        click_json(&format!("reject:{}", order.number), SARI, &[STAFF_ROLE]),
    )
    .await
    {
        Reply::Modal(m) => {
            let v = serde_json::to_value(&m).unwrap();
            assert_eq!(v["custom_id"], format!("reject_modal:{}", order.number));
        }
        other => panic!("expected a modal, got {other:?}"),
    }
}

#[tokio::test]
async fn check_config_reports_the_bot_and_the_staff_channel() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let me = server
        .mock("GET", "/api/v10/users/@me")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(user_json(BOT, "TopupBot").to_string())
        .create_async()
        .await;
    let channel = server
        .mock("GET", format!("/api/v10/channels/{STAFF_CHANNEL}").as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(
            json!({
                "id": STAFF_CHANNEL.to_string(), "type": 0, "guild_id": GUILD.to_string(), "name": "review",
                "position": 1, "permission_overwrites": [], "nsfw": false, "parent_id": null,
                "last_message_id": null, "topic": null, "rate_limit_per_user": 0, "flags": 0
            })
            .to_string(),
        )
        .create_async()
        .await;
    let text = topup::discord::check(&app.settings.discord).await.unwrap();
    assert_eq!(text, "bot TopupBot, staff channel #review");
    me.assert_async().await;
    channel.assert_async().await;

    // A refused token is a clear error, not a panic.
    me.remove_async().await;
    server
        .mock("GET", "/api/v10/users/@me")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(r#"{"message": "401: Unauthorized", "code": 0}"#)
        .create_async()
        .await;
    let err = topup::discord::check(&app.settings.discord)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("401"), "{err:#}");
}

/// Delivers the pending chat answers from the outbox, as the dispatcher does;
/// returns how many were sent.
async fn deliver_chat_replies(
    app: &DiscordApp,
    http: &std::sync::Arc<serenity::http::Http>,
) -> usize {
    use topup::outbox::deliver::ChatDelivery;
    let cards = topup::discord::Cards::new(app.desk.clone(), http.clone());
    let mut conn = app.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::list(&mut conn, Some("pending"), 100)
        .await
        .unwrap();
    let mut sent = 0;
    for row in rows.into_iter().filter(|r| r.kind == "chat_reply") {
        let job: topup::outbox::Job = serde_json::from_str(&row.payload).unwrap();
        cards.deliver(&job).await.expect("the answer is posted");
        topup::store::outbox::mark_sent(&mut conn, row.id, 0)
            .await
            .unwrap();
        sent += 1;
    }
    sent
}

#[tokio::test]
async fn an_oversized_chat_slip_is_recorded_and_answered_through_the_outbox() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    app.link_customer().await;
    let http = http_client(&app.settings.discord);
    // Never downloaded: it is over the attachment limit.
    let download = server
        .mock("GET", "/attachments/400/2/huge.png")
        .expect(0)
        .create_async()
        .await;
    let (replies, reply) = posts_to(&mut server, INTAKE_CHANNEL, 1).await;
    let huge = app.settings.limits.max_attachment_bytes + 1;
    let attachment = png_attachment(&server.url(), 2, "huge.png", huge, 9000);
    let msg: Message = serde_json::from_value(message_json(
        500_000_000_000_000_009,
        INTAKE_CHANNEL,
        user_json(BUDI, "budi"),
        "bukti transfer 2 juta",
        attachment,
    ))
    .unwrap();
    let text = topup::discord::gateway::handle_message(&app.desk, &msg)
        .await
        .unwrap()
        .expect("answered");
    assert!(text.contains("attachment size over the limit"), "{text}");
    // Recorded for staff, nothing acted on.
    let mut conn = app.desk.store().pool().acquire().await.unwrap();
    let kept = topup::store::inbound::list(&mut conn, false, 10)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].outcome.contains("over the limit; kept for staff"),
        "{:?}",
        kept[0]
    );
    assert_eq!(kept[0].order_id, None);
    drop(conn);
    // The answer is an outbox row, posted as a reply to the customer's message.
    assert_eq!(deliver_chat_replies(&app, &http).await, 1);
    reply.assert_async().await;
    download.assert_async().await;
    let body: Value = serde_json::from_slice(&replies.lock().unwrap()[0]).unwrap();
    assert_eq!(
        body["message_reference"]["message_id"],
        "500000000000000009"
    );
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, that was not done"),
        "{body}"
    );
}

// ----- hostile input (issue 10) ---------------------------------------------

/// The pending link-code email's code and recipient, newest first.
async fn last_link_code(app: &DiscordApp) -> Option<(String, String, String)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT recipient, payload FROM outbox WHERE kind = 'email' AND email_kind = 'link_code' \
         ORDER BY id DESC",
    )
    .fetch_all(app.desk.store().pool())
    .await
    .unwrap();
    rows.into_iter().next().map(|(to, payload)| {
        let job: Value = serde_json::from_str(&payload).unwrap();
        (
            to,
            job["vars"]["code"].as_str().unwrap().to_string(),
            job["vars"]["note"].as_str().unwrap().to_string(),
        )
    })
}

#[tokio::test]
async fn link_codes_cannot_be_brute_forced_by_asking_for_new_ones() {
    use topup::discord::links;
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let mallory = "900000000000000001";
    links::start(&app.desk, mallory, "budi@maju.co.id")
        .await
        .unwrap();
    let (_, code, _) = last_link_code(&app).await.unwrap();
    assert_eq!(code.len(), 11, "{code}");
    assert!(
        code.chars()
            .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    // Five wrong guesses, spread over re-issued codes, use up the hour.
    for i in 0..5 {
        if i == 3 {
            // A new code does not reset the count of wrong guesses.
            links::start(&app.desk, mallory, "budi@maju.co.id")
                .await
                .unwrap();
        }
        let err = links::finish(&app.desk, mallory, "AAAAA-AAAAA")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not right"), "{err}");
    }
    let (_, code, _) = last_link_code(&app).await.unwrap();
    let err = links::finish(&app.desk, mallory, &code).await.unwrap_err();
    assert!(err.to_string().contains("too many wrong codes"), "{err}");
    let err = links::start(&app.desk, mallory, "budi@maju.co.id")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too many wrong codes"), "{err}");
    // An hour later the right code (a new one) works, typed in any case and spacing.
    app.clock.advance_hours(1);
    links::start(&app.desk, mallory, "budi@maju.co.id")
        .await
        .unwrap();
    let (_, code, _) = last_link_code(&app).await.unwrap();
    let typed = code.to_lowercase().replace('-', " ");
    let user = links::finish(&app.desk, mallory, &typed).await.unwrap();
    assert_eq!(user.id, app.customer.id);
}

#[tokio::test]
async fn link_code_requests_are_limited_per_discord_user_and_per_target() {
    use topup::discord::links;
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    for _ in 0..3 {
        links::start(&app.desk, "900000000000000002", "budi@maju.co.id")
            .await
            .unwrap();
    }
    let err = links::start(&app.desk, "900000000000000002", "budi@maju.co.id")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("several codes"), "{err}");
    // Other Discord ids asking for the same user: answered alike, but no more mail.
    links::start(&app.desk, "900000000000000003", "budi@maju.co.id")
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE email_kind = 'link_code' AND status = 'pending'",
    )
    .fetch_one(app.desk.store().pool())
    .await
    .unwrap();
    assert_eq!(n, 3, "three codes per target user per hour");
}

#[tokio::test]
async fn an_existing_link_is_replaced_only_with_the_main_users_code() {
    use topup::discord::links;
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let pic = {
        let mut tx = app.desk.store().begin_write().await.unwrap();
        let u = topup::store::accounts::add_user(
            &mut tx,
            app.customer.account_id,
            "pic@maju.co.id",
            "pic",
            "Pia",
            Some("800000000000000001"),
            app.desk.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        u
    };
    let newcomer = "900000000000000004";
    links::start(&app.desk, newcomer, "pic@maju.co.id")
        .await
        .unwrap();
    let (to, code, note) = last_link_code(&app).await.unwrap();
    assert_eq!(
        to, "budi@maju.co.id",
        "the main user confirms a replacement"
    );
    assert!(
        note.contains("sudah tertaut"),
        "the note in the account's language: {note}"
    );
    // Meanwhile the link changes: the old code must not overwrite the new link.
    {
        let mut conn = app.desk.store().pool().acquire().await.unwrap();
        topup::store::accounts::link_discord(&mut conn, pic.id, "800000000000000002")
            .await
            .unwrap();
    }
    let err = links::finish(&app.desk, newcomer, &code).await.unwrap_err();
    assert!(
        err.to_string().contains("changed after the code was sent"),
        "{err}"
    );
    // Asked again, with the main user's code, it replaces the link.
    links::start(&app.desk, newcomer, "pic@maju.co.id")
        .await
        .unwrap();
    let (_, code, _) = last_link_code(&app).await.unwrap();
    let user = links::finish(&app.desk, newcomer, &code).await.unwrap();
    assert_eq!(user.id, pic.id);
    assert_eq!(user.discord_id.as_deref(), Some(newcomer));
}

#[tokio::test]
async fn the_channel_never_sees_the_status_link_or_the_balance() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    app.link_customer().await;
    let http = http_client(&app.settings.discord);
    let (public, channel) = posts_to(&mut server, INTAKE_CHANNEL, 2).await;
    let dm_channel = server
        .mock("POST", "/api/v10/users/@me/channels")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(
            json!({"id": "700000000000000001", "type": 1, "recipients": [user_json(BUDI, "budi")]})
                .to_string(),
        )
        .expect(2)
        .create_async()
        .await;
    let (private, dm) = posts_to(&mut server, 700_000_000_000_000_001, 2).await;
    for (id, text) in [
        (500_000_000_000_000_101u64, "mau top up 2 juta"),
        (500_000_000_000_000_102, "gimana status order saya?"),
    ] {
        let msg: Message = serde_json::from_value(message_json(
            id,
            INTAKE_CHANNEL,
            user_json(BUDI, "budi"),
            text,
            json!([]),
        ))
        .unwrap();
        topup::discord::gateway::handle_message(&app.desk, &msg)
            .await
            .unwrap()
            .unwrap();
    }
    let cards = topup::discord::Cards::new(app.desk.clone(), http.clone());
    let mut conn = app.desk.store().pool().acquire().await.unwrap();
    let rows = topup::store::outbox::list(&mut conn, Some("pending"), 100)
        .await
        .unwrap();
    drop(conn);
    let mut delivered = 0;
    for row in rows
        .iter()
        .filter(|r| r.kind == "chat_reply" || r.kind == "chat_dm")
    {
        let job: topup::outbox::Job = serde_json::from_str(&row.payload).unwrap();
        cards.deliver(&job).await.expect("delivered");
        delivered += 1;
    }
    assert_eq!(delivered, 4);
    channel.assert_async().await;
    dm_channel.assert_async().await;
    dm.assert_async().await;
    let token = {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT token FROM orders")
            .fetch_all(app.desk.store().pool())
            .await
            .unwrap();
        rows[0].0.clone()
    };
    for body in public.lock().unwrap().iter() {
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains(&token) && !text.contains("/o/"), "{text}");
        assert!(!text.contains("Balance"), "{text}");
    }
    let dms: Vec<String> = private
        .lock()
        .unwrap()
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(dms.iter().all(|t| t.contains(&token)), "{dms:?}");
    assert!(dms.iter().any(|t| t.contains("Balance")), "{dms:?}");
}

#[tokio::test]
async fn a_slip_that_cannot_be_downloaded_is_recorded_and_answered() {
    let mut server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    app.link_customer().await;
    let download = server
        .mock("GET", "/attachments/400/3/bukti.png")
        .with_status(500)
        .expect(3)
        .create_async()
        .await;
    let attachment = png_attachment(&server.url(), 3, "bukti.png", 1000, 10);
    let msg: Message = serde_json::from_value(message_json(
        500_000_000_000_000_201,
        INTAKE_CHANNEL,
        user_json(BUDI, "budi"),
        "bukti transfer 2 juta",
        attachment,
    ))
    .unwrap();
    let text = topup::discord::gateway::handle_message(&app.desk, &msg)
        .await
        .expect("not an error: recorded")
        .expect("answered");
    download.assert_async().await;
    assert!(
        text.contains("could not be downloaded") || text.contains("send it again"),
        "{text}"
    );
    let mut conn = app.desk.store().pool().acquire().await.unwrap();
    let kept = topup::store::inbound::not_acted_on(&mut conn, 10)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].outcome.contains("could not be downloaded"),
        "{:?}",
        kept[0]
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'chat_reply'")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 1, "the answer is queued");
}

#[tokio::test]
async fn a_decision_on_an_older_review_round_is_refused_with_what_changed() {
    let server = mockito::Server::new_async().await;
    let app = DiscordApp::new(&server.url()).await;
    let order = app.dealing_order().await;
    let number = order.number.clone();
    let first_round: i64 = {
        let mut conn = app.desk.store().pool().acquire().await.unwrap();
        topup::store::orders::current_round(&mut conn, order.id)
            .await
            .unwrap()
            .unwrap()
    };
    // Sari opens the approve form of the first round...
    let click = click_json(
        &format!("approve:{number}:{first_round}"),
        SARI,
        &[STAFF_ROLE],
    );
    let reply = run(&app, click).await;
    let Reply::Modal(_) = reply else {
        panic!("a modal: {reply:?}")
    };
    // ...meanwhile Rudi rejects, and the customer amends to another amount.
    let rudi = {
        let mut conn = app.desk.store().pool().acquire().await.unwrap();
        topup::store::accounts::find_staff(&mut conn, "Rudi")
            .await
            .unwrap()
            .unwrap()
    };
    let n = app.desk.parse_order_number(&number).unwrap();
    decisions::reject(
        &app.desk,
        &n,
        &rudi,
        topup::desk::RejectReason::AmountDiffers,
    )
    .await;
    app.desk
        .amend(
            &app.customer,
            &n,
            topup::domain::money::Money::from_major(1_450_000),
            &[],
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap();
    assert_eq!(app.status(&number).await, "dealing");
    // Sari submits her old form: refused, told what changed, nothing credited.
    let submit = modal_json(
        &format!("approve_modal:{number}:{first_round}"),
        SARI,
        &[STAFF_ROLE],
        &[("amount", "Rp 1.500.000")],
    );
    let reply = run(&app, submit).await;
    let text = reply.text().unwrap().to_string();
    assert!(text.contains("changed after you opened it"), "{text}");
    assert!(
        text.contains("rejected by Rudi") && text.contains("amount changed to IDR 1,450,000"),
        "{text}"
    );
    assert_eq!(app.status(&number).await, "dealing");
    assert_eq!(app.balance().await, 0);
    // The new card's buttons carry the new round, and work.
    let round: i64 = {
        let mut conn = app.desk.store().pool().acquire().await.unwrap();
        topup::store::orders::current_round(&mut conn, order.id)
            .await
            .unwrap()
            .unwrap()
    };
    assert_ne!(round, first_round);
    let submit = modal_json(
        &format!("approve_modal:{number}:{round}"),
        SARI,
        &[STAFF_ROLE],
        &[("amount", "")],
    );
    let reply = run(&app, submit).await;
    assert!(reply.text().unwrap().contains("approved"), "{reply:?}");
    assert_eq!(app.balance().await, 145_000_000);
}
