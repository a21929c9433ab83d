//! The web server against an attacker: cross-site pages cannot reach an API
//! action whatever credentials the browser holds, the staff sign-in brake
//! counts per staff member and per client address, survives a restart and
//! cannot lock staff out of their own browsers, and public health says only
//! up or not. The real application on port 0, over HTTP.

#[path = "support/db.rs"]
mod db;
#[path = "support/decisions.rs"]
mod decisions;
#[path = "support/web_app.rs"]
mod web_app;

use topup::domain::Lang;
use web_app::{Client, STAFF_PASSWORD, WebApp, basic};

#[tokio::test]
async fn a_cross_site_form_cannot_approve_even_with_cached_basic_credentials() {
    let app = WebApp::spawn().await;
    let user = app.customer("PT Lintas", "ops@lintas.id", Lang::Id).await;
    let order = app.dealing(&user, 2_500_000).await;
    app.staff("Rina").await;
    let auth = basic("Rina", STAFF_PASSWORD);
    let approve = format!("/api/staff/orders/{}/approve", order.number);
    let mut c = Client::new(&app);

    // A 401 never asks the browser for a password (it would cache and replay it).
    let p = c.post_json(&approve, serde_json::json!({}), &[]).await;
    assert_eq!(p.status, 401);
    assert!(p.header("www-authenticate").is_none());

    // What an auto-submitted <form enctype="text/plain"> on another site sends,
    // with the browser adding the cached Basic credentials.
    for (ct, body) in [
        ("text/plain", "{\"amount\":\"2500000\", \"x\":\"=\"}"),
        ("application/x-www-form-urlencoded", "amount=2500000"),
        ("multipart/form-data; boundary=x", "--x--"),
    ] {
        let p = c
            .post_raw(
                &approve,
                ct,
                body,
                &[("authorization", &auth), ("origin", "https://evil.example")],
            )
            .await;
        assert_eq!(p.status, 415, "{ct}: {}", p.html());
        assert!(
            p.json()["error"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    assert_eq!(app.order(&order.number).await.status, "dealing");
    assert_eq!(app.balance(user.account_id).await, 0, "no money moved");

    // The same for a customer's order action and an upload without the header.
    let cancel = format!("/api/orders/{}/cancel", order.token);
    let p = c.post_raw(&cancel, "text/plain", "", &[]).await;
    assert_eq!(p.status, 415);
    let form = reqwest::multipart::Form::new().part(
        "slip",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 x".to_vec()).file_name("x.pdf"),
    );
    let p = c
        .post_multipart(&format!("/api/orders/{}/slip", order.token), form)
        .await;
    assert_eq!(p.status, 415);
    assert_eq!(app.order(&order.number).await.status, "dealing");

    // An approval must say what it is: an empty JSON body is not one.
    let p = c
        .post_raw(
            &approve,
            "application/json",
            "",
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(p.status, 400);
    assert_eq!(app.order(&order.number).await.status, "dealing");
    let p = c
        .post_json(&approve, serde_json::json!({}), &[("authorization", &auth)])
        .await;
    assert_eq!(p.status, 200, "{}", p.html());
    assert_eq!(app.order(&order.number).await.status, "paid");
    app.stop().await;
}

#[tokio::test]
async fn the_brake_counts_per_staff_member_whatever_name_or_email_is_typed() {
    let app = WebApp::spawn().await;
    let carol = app.staff("Carol").await;
    {
        let mut conn = app.desk.store().pool().acquire().await.unwrap();
        sqlx::query("UPDATE staff SET email = 'carol@desk.example' WHERE id = $1")
            .bind(carol.id)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let mut c = Client::new(&app);
    for login in [
        "carol",
        "CAROL",
        "carol@desk.example",
        "Carol@Desk.Example",
        "carol",
    ] {
        assert_eq!(c.staff_sign_in(login, "guess").await.status, 401, "{login}");
    }
    let p = c.staff_sign_in("carol@desk.example", STAFF_PASSWORD).await;
    assert_eq!(
        p.status, 429,
        "five failures across spellings lock the member"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_client_cannot_try_many_names() {
    let app = WebApp::spawn().await;
    app.staff("Rina").await;
    let mut c = Client::new(&app);
    for i in 0..20 {
        let p = c.staff_sign_in(&format!("guess{i}"), "x").await;
        assert_eq!(p.status, 401, "attempt {i}");
    }
    // The 21st attempt from this address is refused, even with a real name and password.
    let p = c.staff_sign_in("Rina", STAFF_PASSWORD).await;
    assert_eq!(p.status, 429);
    assert!(p.html().contains("from your network"), "{}", p.html());
    app.stop().await;
}

#[tokio::test]
async fn a_stranger_cannot_lock_staff_out_of_a_browser_they_signed_in_from() {
    let app = WebApp::spawn().await;
    app.staff("Rina").await;
    // Rina signs in once from her own browser, which is then known.
    let mut rina = Client::new(&app);
    assert_eq!(rina.staff_sign_in("Rina", STAFF_PASSWORD).await.status, 303);
    assert!(rina.cookies.contains_key("topup_device"));
    rina.submit("/staff/sign-out", &[]).await;
    // A stranger guesses her password five times.
    let mut stranger = Client::new(&app);
    for _ in 0..5 {
        assert_eq!(stranger.staff_sign_in("Rina", "guess").await.status, 401);
    }
    assert_eq!(
        stranger.staff_sign_in("Rina", STAFF_PASSWORD).await.status,
        429
    );
    // Rina's own browser still gets in.
    assert_eq!(rina.staff_sign_in("Rina", STAFF_PASSWORD).await.status, 303);
    app.stop().await;
}

#[tokio::test]
async fn the_brake_survives_a_restart() {
    let app = WebApp::spawn().await;
    app.staff("Rina").await;
    let mut c = Client::new(&app);
    for _ in 0..5 {
        assert_eq!(c.staff_sign_in("Rina", "guess").await.status, 401);
    }
    // A second server on the same database (a restart, or another daemon).
    let state = topup::web::AppState::new(app.desk.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(topup::web::serve(listener, state, shutdown.clone()));
    let http = reqwest::Client::new();
    let auth = basic("Rina", STAFF_PASSWORD);
    let res = http
        .get(format!("http://{addr}/api/staff/queue"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    shutdown.cancel();
    let _ = server.await;
    app.stop().await;
}

#[tokio::test]
async fn the_board_refuses_a_decision_on_a_round_it_did_not_show() {
    let app = WebApp::spawn().await;
    let user = app.customer("PT Putaran", "ops@putaran.id", Lang::En).await;
    let order = app.dealing(&user, 2_250_000).await;
    app.staff("Rina").await;
    let mut rina = Client::new(&app);
    rina.staff_sign_in("Rina", STAFF_PASSWORD).await;
    let board = rina.get("/staff").await.html();
    let round = board
        .split("name=\"round\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form carries its round")
        .to_string();
    // Meanwhile: rejected, amended, back in review.
    let joko = app.staff("Joko").await;
    let n = app.desk.parse_order_number(&order.number).unwrap();
    decisions::reject(
        &app.desk,
        &n,
        &joko,
        topup::desk::RejectReason::AmountDiffers,
    )
    .await;
    app.desk
        .amend(
            &user,
            &n,
            topup::domain::money::Money::from_major(2_000_000),
            &[],
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap();
    // Rina's page still shows the first round: her approval is refused.
    let p = rina
        .submit(
            &format!("/staff/orders/{}/approve", order.number),
            &[("round", &round), ("amount", "")],
        )
        .await;
    assert_eq!(p.status, 409, "{}", p.html());
    assert!(
        p.html().contains("changed after you opened it"),
        "{}",
        p.html()
    );
    assert_eq!(app.order(&order.number).await.status, "dealing");
    assert_eq!(app.balance(user.account_id).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_links_are_capped_per_address_and_never_use_up_order_mail() {
    let app = WebApp::spawn_with(|s| s.limits.sign_in_links_per_address_per_hour = 2).await;
    let user = app.customer("PT Tautan", "ops@tautan.id", Lang::Id).await;
    let mut c = Client::new(&app);
    c.get("/account").await;
    for _ in 0..6 {
        let p = c.submit("/account", &[("email", "ops@tautan.id")]).await;
        assert!(p.status < 500, "{}", p.status);
    }
    app.request(&user, 1_000_000).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT email_kind, status FROM outbox WHERE kind = 'email' ORDER BY id")
            .fetch_all(app.desk.store().pool())
            .await
            .unwrap();
    // The running app's outbox worker may have sent the mail already: pending
    // or sent both mean "not held back".
    let held = |s: &str| {
        if s == "suppressed" {
            "suppressed"
        } else {
            "queued"
        }
    };
    let links: Vec<&str> = rows
        .iter()
        .filter(|(k, _)| k == "sign_in_link")
        .map(|(_, s)| held(s))
        .collect();
    assert_eq!(
        links,
        [
            "queued",
            "queued",
            "suppressed",
            "suppressed",
            "suppressed",
            "suppressed"
        ]
    );
    assert!(
        rows.iter()
            .any(|(k, s)| k == "order_created" && held(s) == "queued"),
        "{rows:?}"
    );
    app.stop().await;
}
