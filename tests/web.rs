//! The web server end to end: the real application on port 0 over a fresh
//! store (`TOPUP_TEST_DB=sqlite|postgres`), driven over HTTP like a browser
//! (cookies and CSRF fields by hand) and like an API client.

#[path = "support/db.rs"]
mod db;
#[path = "support/decisions.rs"]
mod decisions;
#[path = "support/web_app.rs"]
mod web_app;

use topup::domain::Lang;
use web_app::{Client, PNG, STAFF_PASSWORD, WebApp, basic, slip_form};

fn token_of(order: &topup::store::orders::OrderRow) -> String {
    order.token.clone()
}

#[tokio::test]
async fn unknown_links_are_a_bare_404_and_an_open_order_shows_what_to_do() {
    let app = WebApp::spawn().await;
    let mut c = Client::new(&app);
    for path in [
        "/o/0123456789abcdef0123456789abcdef01234567",
        "/o/nothex",
        "/o/x/slips/y",
        "/api/orders/0123456789abcdef0123456789abcdef01234567",
    ] {
        let p = c.get(path).await;
        assert_eq!(p.status, 404, "{path}");
        let seen = web_app::visible_text(&p.html()).to_lowercase();
        assert!(
            !seen.contains("order") && !seen.contains("pesanan"),
            "{path}: 404 says nothing about orders: {seen}"
        );
    }

    let user = app
        .customer("PT Maju Jaya", "budi@maju.example", Lang::Id)
        .await;
    let order = app.request(&user, 1_500_000).await;
    let mut c = Client::new(&app);
    let p = c.get(&format!("/o/{}", token_of(&order))).await;
    assert_eq!(p.status, 200);
    let html = p.html();
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains(&order.number));
    assert!(
        html.contains("Menunggu bukti transfer"),
        "Indonesian status name"
    );
    assert!(html.contains("Awaiting slip"), "English status name too");
    assert!(html.contains("Rp 1.500.000"));
    assert!(html.contains("123-456-7890"), "bank details while open");
    assert!(html.contains("Top up diminta"), "timeline in Indonesian");
    assert!(
        html.contains("enctype=\"multipart/form-data\""),
        "upload form offered"
    );
    assert!(!html.contains("/amend\""), "no amend form while open");
    assert!(html.contains(&format!("/o/{}/cancel", order.token)));
    let cookie = p.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    app.stop().await;
}

#[tokio::test]
async fn customer_text_is_escaped_everywhere() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("<script>alert(1)</script>", "x@evil.example", Lang::En)
        .await;
    let order = app.dealing(&user, 250_000).await;
    let staff = app.staff("Rina").await;
    let mut c = Client::new(&app);
    let page = c.get(&format!("/o/{}", order.token)).await.html();
    assert!(
        !page.contains("<script>alert(1)</script>"),
        "status page escapes"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    c.staff_sign_in(&staff.name, STAFF_PASSWORD).await;
    let board = c.get("/staff").await.html();
    assert!(board.contains(&order.number));
    assert!(
        !board.contains("<script>alert(1)</script>"),
        "board escapes"
    );
    assert!(board.contains("&lt;script&gt;"));
    app.stop().await;
}

#[tokio::test]
async fn uploading_a_slip_moves_the_order_to_dealing_and_wrong_moves_are_refused() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("CV Sinar", "sinar@example.com", Lang::En)
        .await;
    let order = app.request(&user, 750_000).await;
    let other = app.dealing(&user, 100_000).await;
    let mut c = Client::new(&app);
    let path = format!("/o/{}", order.token);
    c.get(&path).await;

    // No CSRF field: refused, nothing changes.
    let p = c
        .post_multipart(
            &format!("{path}/slip"),
            slip_form(None, "slip.png", PNG.to_vec(), "image/png"),
        )
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(app.order(&order.number).await.status, "open");

    // Not an image or PDF (whatever the browser claims): refused with the reason.
    let csrf = c.csrf();
    let p = c
        .post_multipart(
            &format!("{path}/slip"),
            slip_form(
                Some(&csrf),
                "slip.png",
                b"<html>not a picture</html>".to_vec(),
                "image/png",
            ),
        )
        .await;
    assert_eq!(p.status, 415);
    assert!(p.html().contains("not an image or a PDF"), "{}", p.html());
    assert_eq!(app.order(&order.number).await.status, "open");

    // A real image: 303 back to the page with a message; the order is dealing.
    let p = c
        .post_multipart(
            &format!("{path}/slip"),
            slip_form(Some(&csrf), "bukti transfer.png", PNG.to_vec(), "image/png"),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html());
    assert_eq!(p.location().as_deref(), Some(path.as_str()));
    assert_eq!(app.order(&order.number).await.status, "dealing");
    let html = c.get(&path).await.html();
    assert!(html.contains("data-status=\"dealing\""));
    assert!(
        html.contains("your slip was received"),
        "flash shown once: {html}"
    );
    assert!(
        !html.contains("123-456-7890"),
        "no bank details once paid for"
    );
    assert!(
        !c.get(&path).await.html().contains("your slip was received"),
        "flash is one-shot"
    );

    // The slip is served as an image from this order only.
    let hash = topup::store::slips::hash(PNG);
    let img = c.get(&format!("{path}/slips/{hash}")).await;
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(img.body, PNG);
    let foreign = c.get(&format!("/o/{}/slips/{hash}", other.token)).await;
    assert_eq!(foreign.status, 404, "a hash of another order is not served");

    // A second upload while dealing: refused (409) with the desk's words; page re-rendered.
    let p = c
        .post_multipart(
            &format!("{path}/slip"),
            slip_form(Some(&csrf), "again.png", PNG.to_vec(), "image/png"),
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.html().contains("being reviewed"), "{}", p.html());

    // Amending is only for rejected orders.
    let p = c
        .submit(&format!("{path}/amend"), &[("amount", "800.000")])
        .await;
    assert_eq!(p.status, 409);
    assert!(p.html().contains("cannot amend"), "{}", p.html());
    app.stop().await;
}

#[tokio::test]
async fn too_large_uploads_are_refused_with_the_limit() {
    let app = WebApp::spawn_with(|s| s.web.max_upload_bytes = 2048).await;
    let user = app
        .customer("CV Besar", "besar@example.com", Lang::En)
        .await;
    let order = app.request(&user, 10_000).await;
    let mut c = Client::new(&app);
    let path = format!("/o/{}", order.token);
    c.get(&path).await;
    let csrf = c.csrf();
    let mut big = PNG.to_vec();
    big.resize(200_000, 0);
    let p = c
        .post_multipart(
            &format!("{path}/slip"),
            slip_form(Some(&csrf), "big.png", big, "image/png"),
        )
        .await;
    assert_eq!(p.status, 413, "{}", p.html());
    assert!(p.html().contains("too large"));
    assert_eq!(app.order(&order.number).await.status, "open");
    app.stop().await;
}

#[tokio::test]
async fn cancel_needs_csrf_and_a_final_order_refuses_it() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Batal", "batal@example.com", Lang::Id)
        .await;
    let order = app.request(&user, 50_000).await;
    let mut c = Client::new(&app);
    let path = format!("/o/{}", order.token);
    c.get(&path).await;
    let p = c.post_form(&format!("{path}/cancel"), &[]).await;
    assert_eq!(p.status, 403, "no CSRF field");
    let p = c
        .post_form(&format!("{path}/cancel"), &[("csrf", &"0".repeat(64))])
        .await;
    assert_eq!(p.status, 403, "wrong CSRF field");
    assert_eq!(app.order(&order.number).await.status, "open");

    let p = c.submit(&format!("{path}/cancel"), &[]).await;
    assert_eq!(p.status, 303);
    assert_eq!(app.order(&order.number).await.status, "deleted");
    let html = c.get(&path).await.html();
    assert!(html.contains("Dihapus") && html.contains("Pesanan sudah dibatalkan"));
    assert!(
        !html.contains("/cancel\""),
        "no cancel form on a final order"
    );

    let p = c.submit(&format!("{path}/cancel"), &[]).await;
    assert_eq!(p.status, 409);
    // The page speaks the account's language, refusals included.
    assert!(
        p.html()
            .contains("tidak dapat dibatalkan karena sudah dibatalkan"),
        "{}",
        p.html()
    );
    app.stop().await;
}

#[tokio::test]
async fn staff_sign_in_approve_credits_once_and_the_loser_is_told_who_won() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Lancar", "lancar@example.com", Lang::Id)
        .await;
    let order = app.dealing(&user, 1_500_000).await;
    let rina = app.staff("Rina").await;
    app.staff("Joko").await;

    let mut c = Client::new(&app);
    let p = c.get("/staff").await;
    assert!(p.html().contains("name=\"password\""), "sign-in form");
    let p = c.staff_sign_in("Rina", "wrong password").await;
    assert_eq!(p.status, 401);
    assert!(p.html().contains("Wrong name or password"));
    assert!(!c.cookies.contains_key("topup_staff"));
    let p = c.staff_sign_in("nobody", STAFF_PASSWORD).await;
    assert_eq!(p.status, 401);
    // CSRF is checked on the sign-in form too.
    let p = c
        .post_form(
            "/staff/sign-in",
            &[("login", "Rina"), ("password", STAFF_PASSWORD)],
        )
        .await;
    assert_eq!(p.status, 403);

    let p = c.staff_sign_in("rina@desk.example", STAFF_PASSWORD).await;
    assert_eq!(p.status, 303, "email works as login: {}", p.html());
    let set = p.header("set-cookie").unwrap();
    assert!(
        set.contains("topup_staff=") && set.contains("HttpOnly") && set.contains("SameSite=Lax")
    );
    let board = c.get("/staff").await.html();
    assert!(
        board.contains(&order.number)
            && board.contains("PT Lancar")
            && board.contains("lancar@example.com")
    );
    assert!(board.contains("Rp 1.500.000"));
    assert!(board.contains("/staff/slips/"), "slip preview");
    let slip_url = board
        .split("/staff/slips/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(c.get(&format!("/staff/slips/{slip_url}")).await.status, 200);
    assert_eq!(
        Client::new(&app)
            .get(&format!("/staff/slips/{slip_url}"))
            .await
            .status,
        401
    );

    // Approve without CSRF: refused.
    let p = c
        .post_form(&format!("/staff/orders/{}/approve", order.number), &[])
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(app.order(&order.number).await.status, "dealing");

    let p = c
        .submit(
            &format!("/staff/orders/{}/approve", order.number),
            &[("amount", "")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html());
    let paid = app.order(&order.number).await;
    assert_eq!(paid.status, "paid");
    assert_eq!(paid.decided_by.as_deref(), Some(rina.name.as_str()));
    assert_eq!(app.balance(user.account_id).await, 150_000_000);
    let board = c.get("/staff").await.html();
    assert!(board.contains("Approved"), "flash");
    assert!(board.contains("Recently decided") && board.contains("Rina"));

    // Joko, on a stale board, approves too: nothing is credited twice and he is told who decided.
    let mut joko = Client::new(&app);
    joko.staff_sign_in("Joko", STAFF_PASSWORD).await;
    let p = joko
        .submit(&format!("/staff/orders/{}/approve", order.number), &[])
        .await;
    assert_eq!(p.status, 409);
    let text = p.html();
    assert!(
        text.contains("already paid") && text.contains("Rina"),
        "{text}"
    );
    assert_eq!(app.balance(user.account_id).await, 150_000_000);

    // The customer sees Lunas / Paid and gets the receipt.
    let mut cust = Client::new(&app);
    let html = cust.get(&format!("/o/{}", order.token)).await.html();
    assert!(
        html.contains("data-status=\"paid\"") && html.contains("Lunas") && html.contains("Paid")
    );
    let receipt = cust.get(&format!("/o/{}/receipt.pdf", order.token)).await;
    assert_eq!(receipt.status, 200);
    assert_eq!(
        receipt.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert!(receipt.body.starts_with(b"%PDF"));
    let other = app.request(&user, 5_000).await;
    assert_eq!(
        cust.get(&format!("/o/{}/receipt.pdf", other.token))
            .await
            .status,
        409,
        "no receipt before payment"
    );

    // Signing out ends the session.
    joko.submit("/staff/sign-out", &[]).await;
    assert!(
        joko.get("/staff")
            .await
            .html()
            .contains("name=\"password\"")
    );
    app.stop().await;
}

#[tokio::test]
async fn reject_then_amend_on_the_page_goes_back_to_dealing() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Koreksi", "koreksi@example.com", Lang::En)
        .await;
    let order = app.dealing(&user, 1_000_000).await;
    app.staff("Rina").await;
    let mut staff = Client::new(&app);
    staff.staff_sign_in("Rina", STAFF_PASSWORD).await;
    let p = staff
        .submit(
            &format!("/staff/orders/{}/reject", order.number),
            &[("reason", "other"), ("text", "")],
        )
        .await;
    assert_eq!(p.status, 400, "other needs a text");
    let p = staff
        .submit(
            &format!("/staff/orders/{}/reject", order.number),
            &[("reason", "amount_differs"), ("text", "")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(app.order(&order.number).await.status, "payment_failure");

    let mut c = Client::new(&app);
    let path = format!("/o/{}", order.token);
    let html = c.get(&path).await.html();
    assert!(html.contains("Payment Failure") && html.contains("Pembayaran Gagal"));
    assert!(html.contains("differs from the amount"), "reason shown");
    assert!(
        html.contains(&format!("{path}/amend")),
        "amend form offered"
    );
    let p = c
        .submit(&format!("{path}/amend"), &[("amount", "twelve")])
        .await;
    assert_eq!(p.status, 400, "bad amount");
    assert_eq!(app.order(&order.number).await.status, "payment_failure");
    let p = c
        .submit(&format!("{path}/amend"), &[("amount", "Rp 1.250.000")])
        .await;
    assert_eq!(p.status, 303, "{}", p.html());
    let o = app.order(&order.number).await;
    assert_eq!(o.status, "dealing");
    assert_eq!(o.amount_minor, Some(125_000_000));
    app.stop().await;
}

#[tokio::test]
async fn the_json_api_mirrors_the_pages_with_the_same_rules() {
    let app = WebApp::spawn().await;
    let user = app.customer("PT Api", "api@example.com", Lang::En).await;
    let order = app.request(&user, 300_000).await;
    app.staff("Rina").await;
    let mut c = Client::new(&app);
    let base = format!("/api/orders/{}", order.token);

    let v = c.get(&base).await.json();
    assert_eq!(v["number"], order.number.as_str());
    assert_eq!(v["status"], "open");
    assert_eq!(v["status_name"]["id"], "Menunggu bukti transfer");
    assert_eq!(v["actions"]["upload"], true);
    assert_eq!(v["actions"]["amend"], false);

    let p = c
        .post_json(
            &format!("{base}/amend"),
            serde_json::json!({"amount": "400.000"}),
            &[],
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.json()["error"].as_str().unwrap().contains("cannot amend"));

    let form = reqwest::multipart::Form::new().part(
        "slip",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 slip".to_vec()).file_name("slip.pdf"),
    );
    let p = c
        .post_multipart_with(&format!("{base}/slip"), form, &[("x-topup-client", "test")])
        .await;
    assert_eq!(p.status, 200, "{}", p.html());
    let v = p.json();
    assert_eq!(v["status"], "dealing");
    assert_eq!(v["slips"][0]["content_type"], "application/pdf");

    // Staff API: credentials required, Basic works, refusals are 409 JSON.
    let p = c.get("/api/staff/queue").await;
    assert_eq!(p.status, 401);
    assert!(p.json()["error"].is_string());
    let bad = basic("Rina", "nope");
    assert_eq!(
        c.get_with("/api/staff/queue", &[("authorization", &bad)])
            .await
            .status,
        401
    );
    let auth = basic("Rina", STAFF_PASSWORD);
    let q = c
        .get_with("/api/staff/queue", &[("authorization", &auth)])
        .await
        .json();
    assert_eq!(q["queue"][0]["number"], order.number.as_str());
    assert_eq!(q["queue"][0]["company"], "PT Api");

    let p = c
        .post_json(
            &format!("/api/staff/orders/{}/approve", order.number),
            serde_json::json!({"amount": "290.000"}),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.html());
    assert_eq!(p.json()["status"], "paid");
    assert_eq!(
        app.balance(user.account_id).await,
        29_000_000,
        "corrected amount credited"
    );
    let seen = c.get(&base).await.text();
    assert!(
        !seen.contains("Rina") && seen.contains("Receivables team"),
        "the customer's API never names staff: {seen}"
    );
    let p = c
        .post_json(
            &format!("/api/staff/orders/{}/reject", order.number),
            serde_json::json!({"reason": "not_received"}),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.json()["error"].as_str().unwrap().contains("Rina"));
    let p = c
        .post_json(
            "/api/staff/orders/TU-20200101-9999/approve",
            serde_json::json!({}),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(p.status, 404);
    let p = c
        .post_json(&format!("{base}/cancel"), serde_json::json!({}), &[])
        .await;
    assert_eq!(p.status, 409, "paid orders cannot be cancelled");

    // A staff session cookie works for the API, but POSTs need the CSRF header.
    let second = app.dealing(&user, 20_000).await;
    let mut s = Client::new(&app);
    s.staff_sign_in("Rina", STAFF_PASSWORD).await;
    assert_eq!(s.get("/api/staff/queue").await.status, 200);
    let approve = format!("/api/staff/orders/{}/approve", second.number);
    assert_eq!(
        s.post_json(&approve, serde_json::json!({}), &[])
            .await
            .status,
        403
    );
    assert_eq!(app.order(&second.number).await.status, "dealing");
    let csrf = s.csrf();
    let p = s
        .post_json(&approve, serde_json::json!({}), &[("x-csrf-token", &csrf)])
        .await;
    assert_eq!(p.status, 200, "{}", p.html());
    app.stop().await;
}

#[tokio::test]
async fn account_sign_in_by_one_time_link() {
    let app = WebApp::spawn().await;
    let user = app.customer("PT Akun", "akun@example.com", Lang::En).await;
    let paid = app.dealing(&user, 100_000).await;
    let rina = app.staff("Rina").await;
    let n = app.desk.parse_order_number(&paid.number).unwrap();
    app.desk
        .decide(&n, &rina, &topup::desk::Decision::Approve { amount: None })
        .await
        .unwrap();
    let newer = app.request(&user, 200_000).await;

    let mut c = Client::new(&app);
    let form = c.get("/account").await.html();
    assert!(form.contains("type=\"email\""));
    assert_eq!(
        c.post_form("/account", &[("email", "akun@example.com")])
            .await
            .status,
        403,
        "CSRF"
    );

    let unknown = c
        .submit("/account", &[("email", "stranger@example.com")])
        .await;
    let known = c.submit("/account", &[("email", "AKUN@example.com")]).await;
    assert_eq!(unknown.status, 200);
    assert_eq!(known.status, 200);
    let strip = |s: String| s.replace(&c.csrf(), "");
    assert_eq!(
        strip(unknown.html()),
        strip(known.html()),
        "same answer for unknown addresses"
    );
    assert!(app.emails_to("stranger@example.com").await.is_empty());
    let mails = app.emails_to("akun@example.com").await;
    let link_mail = mails
        .iter()
        .find(|m| m.contains("/account/sign-in/"))
        .expect("sign-in email queued");
    let secret: String = link_mail
        .split("/account/sign-in/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(secret.len(), 64);

    // Opening the link shows a button; the POST signs in (mail scanners do not use the link up).
    assert!(
        link_mail.contains(&format!("/account/sign-in/{secret}?lang=en")),
        "link in the account's language"
    );
    let path = format!("/account/sign-in/{secret}?lang=en");
    let confirm = c.get(&path).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.html().contains(&format!("action=\"{path}\"")));
    let p = c.submit(&path, &[]).await;
    assert_eq!(p.status, 303);
    assert!(c.cookies.contains_key("topup_session"));
    let home = c.get("/account").await.html();
    assert!(
        home.contains("PT Akun") && home.contains("IDR 100,000"),
        "balance: {home}"
    );
    let (first, second) = (
        home.find(&newer.number).unwrap(),
        home.find(&paid.number).unwrap(),
    );
    assert!(first < second, "newest first");
    assert!(home.contains(&format!("/account/orders/{}", paid.number)));

    // The link works once.
    let mut other = Client::new(&app);
    other.get(&path).await;
    let again = other.submit(&path, &[]).await;
    assert_eq!(again.status, 400);
    assert!(again.html().contains("expired or was already used"));
    assert!(!other.cookies.contains_key("topup_session"));

    c.submit("/account/sign-out", &[]).await;
    assert!(c.get("/account").await.html().contains("type=\"email\""));
    app.stop().await;
}

#[tokio::test]
async fn health_and_metrics_report_the_store() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Metrik", "metrik@example.com", Lang::Id)
        .await;
    let order = app.dealing(&user, 10_000).await;
    let rina = app.staff("Rina").await;
    app.clock.advance_ms(90_000);
    let n = app.desk.parse_order_number(&order.number).unwrap();
    app.desk
        .decide(&n, &rina, &topup::desk::Decision::Approve { amount: None })
        .await
        .unwrap();
    app.request(&user, 20_000).await;

    let mut c = Client::new(&app);
    let h = c.get("/healthz").await;
    assert_eq!(h.status, 200);
    assert_eq!(
        h.json(),
        serde_json::json!({"status": "ok"}),
        "the public sees up or not, nothing more"
    );
    c.staff_sign_in(&rina.name, STAFF_PASSWORD).await;
    let h = c.get("/healthz").await;
    let v = h.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], "ok");
    let maildir = &v["sources"][0];
    assert_eq!(maildir["name"], "maildir", "{v}");
    assert!(
        maildir["state"] == "up" || maildir["state"] == "starting",
        "{v}"
    );
    assert!(v["outbox_pending"].is_i64() && v["outbox_dead"].is_i64());

    let m = c.get("/metrics").await;
    assert_eq!(m.status, 200);
    let text = m.html();
    assert!(text.contains("topup_orders{status=\"paid\"} 1"), "{text}");
    assert!(text.contains("topup_orders{status=\"open\"} 1"));
    assert!(text.contains("topup_decision_seconds_count 1"));
    assert!(text.contains("topup_decision_seconds_bucket{le=\"60\"} 0"));
    assert!(text.contains("topup_decision_seconds_bucket{le=\"300\"} 1"));
    assert!(text.contains("topup_decision_seconds_sum 90"));
    assert!(text.contains("topup_outbox{status=\"pending\"}"));
    assert!(text.contains("topup_outbox{status=\"dead\"} 0"));
    assert!(text.contains("topup_imap_reconnects_total "));
    assert!(text.contains("# TYPE topup_messages_total counter"));
    // The server's own figures: requests under their route pattern, never a token.
    assert!(
        text.contains(
            "topup_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("topup_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 2"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "topup_build_info{{commit=\"{}\",version=\"{}\"}} 1",
            topup::BUILD_COMMIT,
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes "), "{text}");
    c.get("/o/not-a-real-token").await;
    let again = c.get("/metrics").await.html();
    assert!(
        again.contains("route=\"/o/{token}\",status=\"404\""),
        "{again}"
    );
    assert!(!again.contains("not-a-real-token"));

    // When the database is gone, health says so with 503.
    app.desk.store().close().await;
    let h = c.get("/healthz").await;
    assert_eq!(h.status, 503);
    assert_eq!(h.json()["status"], "unavailable");
    app.stop().await;
}

/// Prometheus reads a histogram that goes down as a counter reset: an amend
/// that reopens a rejected order must not take its decision back.
#[tokio::test]
async fn the_decision_histogram_only_grows_across_an_amend() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Histo", "histo@example.com", Lang::Id)
        .await;
    let rina = app.staff("Rina").await;
    let order = app.dealing(&user, 1_000_000).await;
    let n = app.desk.parse_order_number(&order.number).unwrap();
    app.clock.advance_ms(120_000);
    decisions::reject(
        &app.desk,
        &n,
        &rina,
        topup::desk::RejectReason::AmountDiffers,
    )
    .await;
    let mut c = Client::new(&app);
    let count = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("topup_decision_seconds_count "))
            .map(|v| v.parse::<i64>().unwrap())
            .unwrap()
    };
    assert_eq!(count(&c.get("/metrics").await.html()), 1);

    app.desk
        .amend(
            &user,
            &n,
            topup::domain::money::Money::from_major(900_000),
            &[],
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap();
    let after_amend = c.get("/metrics").await.html();
    assert_eq!(count(&after_amend), 1, "the amend took a decision back");
    assert!(
        after_amend.contains("topup_decision_seconds_sum 120\n"),
        "{after_amend}"
    );

    app.clock.advance_ms(30_000);
    app.desk
        .decide(&n, &rina, &topup::desk::Decision::Approve { amount: None })
        .await
        .unwrap();
    let text = c.get("/metrics").await.html();
    assert_eq!(count(&text), 2);
    assert!(
        text.contains("topup_decision_seconds_bucket{le=\"60\"} 1"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn staff_see_messages_that_were_not_acted_on_and_can_read_them() {
    let app = WebApp::spawn().await;
    let staff = app.staff("Rina").await;
    let raw = b"From: Mallory <m@phish.example>\r\nSubject: <b>Urgent</b> invoice\r\nMessage-ID: <p1@phish.example>\r\n\r\n<script>alert(2)</script> click here\r\n";
    let inbound = topup::sources::inbound_from_email(raw.to_vec(), vec![], &app.settings);
    app.desk.handle_inbound(inbound).await.unwrap();

    let mut c = Client::new(&app);
    c.staff_sign_in(&staff.name, STAFF_PASSWORD).await;
    let board = c.get("/staff").await.html();
    assert!(board.contains("Messages not acted on"), "{board}");
    assert!(
        board.contains("m@phish.example") && board.contains("unknown_sender"),
        "{board}"
    );
    assert!(
        board.contains("&lt;b&gt;Urgent&lt;&#x2f;b&gt;")
            || board.contains("&lt;b&gt;Urgent&lt;/b&gt;"),
        "escaped subject: {board}"
    );
    let url = board
        .split("/staff/messages/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let shown = c.get(&format!("/staff/messages/{url}")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.header("content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
    assert!(
        shown
            .html()
            .contains("<script>alert(2)</script> click here"),
        "as it arrived, as text"
    );
    // Only for signed-in staff.
    assert_eq!(
        Client::new(&app)
            .get(&format!("/staff/messages/{url}"))
            .await
            .status,
        401
    );
    assert_eq!(c.get("/staff/messages/99999").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn repeated_wrong_staff_passwords_are_braked_per_name() {
    let app = WebApp::spawn().await;
    app.staff("Rina").await;
    app.staff("Joko").await;
    let mut c = Client::new(&app);
    for _ in 0..5 {
        assert_eq!(c.staff_sign_in("Rina", "guess").await.status, 401);
    }
    // Now even the right password is refused for a while, without being checked.
    let p = c.staff_sign_in("rina", STAFF_PASSWORD).await;
    assert_eq!(p.status, 429);
    assert!(
        p.html()
            .contains("Too many failed sign-ins for this name; try again in 15 minutes"),
        "{}",
        p.html()
    );
    assert!(!c.cookies.contains_key("topup_staff"));
    let auth = basic("Rina", STAFF_PASSWORD);
    let api = c
        .get_with("/api/staff/queue", &[("authorization", &auth)])
        .await;
    assert_eq!(api.status, 429, "the API is braked too");
    // Another name is not affected.
    assert_eq!(c.staff_sign_in("Joko", STAFF_PASSWORD).await.status, 303);
    // After the window the right password works again.
    app.clock.advance_ms(15 * 60 * 1000 + 1);
    let mut c = Client::new(&app);
    assert_eq!(c.staff_sign_in("Rina", STAFF_PASSWORD).await.status, 303);
    app.stop().await;
}

// ----- the portal on the account page --------------------------------------

fn order_link(page: &web_app::Page) -> String {
    page.location().expect("a redirect")
}

#[tokio::test]
async fn top_up_on_the_account_page_follows_the_seeds_steps_with_the_same_order_and_mails() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Portal Jaya", "budi@portal.example", Lang::Id)
        .await;
    app.name(&user, "Budi").await;
    let mut c = Client::new(&app);
    app.sign_in(&mut c, "budi@portal.example").await;

    let home = c.get("/account").await.html();
    assert!(
        home.contains("id=\"balance\">Rp 0<"),
        "the balance on Home: {home}"
    );
    assert!(home.contains("action=\"/account/top-up\""), "a Top Up form");
    assert!(
        home.contains("value=\"transfer\" checked"),
        "remittance transfer preselected"
    );

    // An amount that is not one, or no payment method: told why in the page's language, nothing made.
    let p = c
        .submit(
            "/account/top-up",
            &[("amount", "dua setengah"), ("method", "transfer")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(
        p.html().contains("tidak dapat dibaca sebagai jumlah"),
        "{}",
        p.html()
    );
    assert!(
        p.html().contains("value=\"dua setengah\""),
        "what was typed stays"
    );
    let p = c
        .submit("/account/top-up", &[("amount", "2.500.000")])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.html().contains("Pilih metode pembayaran"));
    let p = c
        .submit(
            "/account/top-up",
            &[("amount", "Rp 20.000.000.000"), ("method", "transfer")],
        )
        .await;
    assert_eq!(p.status, 400, "over the desk's limit for one order");
    assert!(
        p.html().contains("melebihi batas satu pesanan") && p.html().contains("id=\"topup\""),
        "told on the same page: {}",
        p.html()
    );
    assert!(app.orders_of(user.account_id).await.is_empty());

    // Top Up with a customized amount (Indonesian words), then the order page.
    let p = c
        .submit(
            "/account/top-up",
            &[("amount", "2,5 juta"), ("method", "transfer")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html());
    let orders = app.orders_of(user.account_id).await;
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order.amount_minor, Some(250_000_000));
    assert_eq!(order.status, "open");
    assert_eq!(order.source, "web");
    assert!(order.number.starts_with("TU-"), "the same order numbers");
    assert_eq!(order_link(&p), format!("/account/orders/{}", order.number));
    let created = app.mails_of("order_created").await;
    assert_eq!(created.len(), 1, "the same mail as by email");
    assert_eq!(created[0]["to"], "budi@portal.example");
    let events = app.events(order.id).await;
    assert_eq!(
        (events[0].user_id, events[0].via.as_str()),
        (Some(user.id), "web")
    );

    // The order page: bank details and the order number, then upload and Submit.
    let page = c.get(&order_link(&p)).await.html();
    assert!(
        page.contains("id=\"order-number\">".to_string().as_str()) && page.contains(&order.number)
    );
    assert!(page.contains("123-456-7890") && page.contains("PT Isi Saldo Nusantara"));
    assert!(page.contains("Rp 2.500.000"));
    assert!(page.contains("class=\"steps\""), "the top-up steps");
    let upload = format!("/account/orders/{}/slip", order.number);
    assert!(page.contains(&format!("action=\"{upload}\"")), "{page}");
    let csrf = c.csrf();
    let p = c
        .post_multipart(
            &upload,
            slip_form(Some(&csrf), "bukti.png", PNG.to_vec(), "image/png"),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html());
    assert_eq!(app.order(&order.number).await.status, "dealing");
    assert_eq!(app.mails_of("submission_received").await.len(), 1);
    let last = app.events(order.id).await.pop().unwrap();
    assert_eq!(
        (last.event.as_str(), last.user_id, last.via.as_str()),
        ("slip", Some(user.id), "web")
    );
    let page = c.get(&order_link(&p)).await.html();
    assert!(page.contains("data-status=\"dealing\"") && page.contains("Terima kasih"));
    assert!(
        page.contains(&format!("/account/orders/{}/slips/", order.number)),
        "the slip, from this page"
    );

    // English notation works as well; the list shows both with statuses, and filters.
    let p = c
        .submit(
            "/account/top-up",
            &[("amount", "IDR 1,250,000"), ("method", "transfer")],
        )
        .await;
    assert_eq!(p.status, 303);
    let second = app.orders_of(user.account_id).await.remove(0);
    assert_eq!(second.amount_minor, Some(125_000_000));
    let list = c.get("/account").await.html();
    assert!(list.contains(&order.number) && list.contains(&second.number));
    assert!(
        list.contains(">Dealing<") && list.contains(">Menunggu bukti transfer<"),
        "{list}"
    );
    let dealing = c.get("/account?status=dealing").await.html();
    assert!(dealing.contains(&order.number) && !dealing.contains(&second.number));
    let none = c.get("/account?status=paid").await.html();
    assert!(none.contains("Tidak ada pesanan yang cocok"), "{none}");
    app.stop().await;
}

#[tokio::test]
async fn edit_a_rejected_amount_cancel_and_receipts_on_the_account_page() {
    let app = WebApp::spawn().await;
    let user = app.customer("PT Ubah", "ubah@example.com", Lang::Id).await;
    let rina = app.staff("Rina").await;
    let rejected = app.dealing(&user, 1_000_000).await;
    let n = app.desk.parse_order_number(&rejected.number).unwrap();
    decisions::reject(
        &app.desk,
        &n,
        &rina,
        topup::desk::RejectReason::AmountDiffers,
    )
    .await;
    let open = app.request(&user, 300_000).await;
    let paid = app.dealing(&user, 200_000).await;
    let pn = app.desk.parse_order_number(&paid.number).unwrap();
    app.desk
        .decide(&pn, &rina, &topup::desk::Decision::Approve { amount: None })
        .await
        .unwrap();
    let mut c = Client::new(&app);
    app.sign_in(&mut c, "ubah@example.com").await;

    let list = c.get("/account").await.html();
    let row = |number: &str| {
        let start = list.find(&format!("data-order=\"{number}\"")).unwrap();
        let end = list[start..].find("</tr>").unwrap() + start;
        list[start..end].to_string()
    };
    assert!(
        row(&rejected.number).contains("#amend\""),
        "Edit beside a rejected amount"
    );
    assert!(
        !row(&open.number).contains("#amend\""),
        "no Edit on an open order"
    );
    assert!(
        row(&paid.number).contains("/receipt.pdf"),
        "receipt of a paid order"
    );
    assert!(
        row(&open.number).contains("/cancel\""),
        "cancel an open order"
    );
    assert!(!row(&paid.number).contains("/cancel\""));

    // The order page says the reason in the page's language; a bad amount is refused in Indonesian.
    let path = format!("/account/orders/{}", rejected.number);
    let page = c.get(&path).await.html();
    assert!(
        page.contains("Jumlah pada bukti transfer berbeda"),
        "{page}"
    );
    assert!(page.contains(">Diputuskan<"));
    let p = c
        .submit(&format!("{path}/amend"), &[("amount", "banyak sekali")])
        .await;
    assert_eq!(p.status, 400);
    let html = p.html();
    assert!(html.contains("tidak dapat dibaca sebagai jumlah"), "{html}");
    assert!(
        !html.contains("is not an amount"),
        "no English on an Indonesian page: {html}"
    );
    let p = c
        .submit(&format!("{path}/amend"), &[("amount", "Rp 950.000")])
        .await;
    assert_eq!(p.status, 303);
    let amended = app.order(&rejected.number).await;
    assert_eq!(
        (amended.status.as_str(), amended.amount_minor),
        ("dealing", Some(95_000_000))
    );
    // Back in review: no decision, and the old rejection is not shown as a reason.
    let page = c.get(&path).await.html();
    assert!(!page.contains(">Diputuskan<"), "{page}");
    assert!(!page.contains("<dt>Alasan</dt>"), "{page}");
    assert!(
        page.contains("Jumlah pada bukti transfer berbeda"),
        "the rejection stays in the history"
    );
    // Approved later: still no old reason, and staff names never show.
    app.desk
        .decide(&n, &rina, &topup::desk::Decision::Approve { amount: None })
        .await
        .unwrap();
    let page = c.get(&path).await.html();
    assert!(
        page.contains(">Diputuskan<") && !page.contains("<dt>Alasan</dt>"),
        "{page}"
    );
    assert!(
        page.contains("Tim Receivables") && !page.contains("Rina"),
        "{page}"
    );

    // Cancel from the list; the receipt downloads.
    let p = c
        .submit(
            &format!("/account/orders/{}/cancel", open.number),
            &[("back", "list")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location().as_deref(), Some("/account#orders"));
    assert_eq!(app.order(&open.number).await.status, "deleted");
    let pdf = c
        .get(&format!("/account/orders/{}/receipt.pdf", paid.number))
        .await;
    assert_eq!(pdf.status, 200);
    assert!(pdf.body.starts_with(b"%PDF"));
    assert!(
        pdf.header("content-disposition")
            .unwrap()
            .contains("kuitansi-")
    );

    // Another account's orders are not there at all.
    let other = app.customer("PT Lain", "lain@example.com", Lang::Id).await;
    let foreign = app.dealing(&other, 10_000).await;
    for p in [
        format!("/account/orders/{}", foreign.number),
        format!("/account/orders/{}/receipt.pdf", foreign.number),
        format!(
            "/account/orders/{}/slips/{}",
            foreign.number,
            topup::store::slips::hash(PNG)
        ),
    ] {
        assert_eq!(c.get(&p).await.status, 404, "{p}");
    }
    let p = c
        .submit(&format!("/account/orders/{}/cancel", foreign.number), &[])
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(app.order(&foreign.number).await.status, "dealing");
    app.stop().await;
}

#[tokio::test]
async fn the_main_user_manages_pics_and_a_pic_acts_only_on_its_own_orders() {
    let app = WebApp::spawn().await;
    let main = app.customer("PT Tim", "budi@tim.example", Lang::Id).await;
    app.name(&main, "Budi").await;
    let mut boss = Client::new(&app);
    app.sign_in(&mut boss, "budi@tim.example").await;
    let home = boss.get("/account").await.html();
    assert!(
        home.contains("action=\"/account/users\""),
        "the main user may add users"
    );

    // Add a PIC with email and name; bad or taken addresses are refused with the reason.
    let p = boss
        .submit(
            "/account/users",
            &[("email", "Siti@Tim.example"), ("name", " Siti  Rahayu ")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html());
    let home = boss.get("/account").await.html();
    assert!(home.contains("Pengguna PIC sudah ditambahkan"));
    assert!(
        home.contains("siti@tim.example") && home.contains("Siti Rahayu"),
        "{home}"
    );
    let p = boss
        .submit(
            "/account/users",
            &[("email", "siti@tim.example"), ("name", "Lagi")],
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.html().contains("Alamat itu sudah terdaftar"));
    let p = boss
        .submit(
            "/account/users",
            &[("email", "not an address"), ("name", "X")],
        )
        .await;
    assert_eq!(p.status, 400);
    let p = boss
        .submit(
            "/account/users",
            &[("email", "x@tim.example"), ("name", "   ")],
        )
        .await;
    assert_eq!(p.status, 400);

    // The PIC signs in, sees who manages users, and cannot manage them.
    let mut siti = Client::new(&app);
    app.sign_in(&mut siti, "siti@tim.example").await;
    let home = siti.get("/account").await.html();
    assert!(
        !home.contains("action=\"/account/users\""),
        "no user management for a PIC"
    );
    assert!(
        home.contains("Pengguna dikelola oleh pengguna utama: Budi"),
        "{home}"
    );
    let p = siti
        .submit(
            "/account/users",
            &[("email", "evil@tim.example"), ("name", "Evil")],
        )
        .await;
    assert_eq!(p.status, 403);
    assert!(
        p.html()
            .contains("Hanya pengguna utama yang dapat mengelola pengguna"),
        "{}",
        p.html()
    );
    assert!(
        p.html().contains("class=\"top\""),
        "a real page with the site header"
    );

    // Siti uploads the slip of Budi's order: allowed; both are told; she is named.
    let budis = app.request(&main, 400_000).await;
    let path = format!("/account/orders/{}", budis.number);
    let page = siti.get(&path).await.html();
    assert!(page.contains("id=\"upload\""), "a PIC uploads slips");
    assert!(
        !page.contains("id=\"cancel\""),
        "but cannot cancel another user's order"
    );
    assert!(page.contains("id=\"not-yours\""));
    let p = siti.submit(&format!("{path}/cancel"), &[]).await;
    assert_eq!(p.status, 403, "the desk refuses it too");
    assert!(
        p.html().contains("hanya pengguna utama (Budi)"),
        "{}",
        p.html()
    );
    assert_eq!(app.order(&budis.number).await.status, "open");
    let csrf = siti.csrf();
    let p = siti
        .post_multipart(
            &format!("{path}/slip"),
            slip_form(Some(&csrf), "b.png", PNG.to_vec(), "image/png"),
        )
        .await;
    assert_eq!(p.status, 303);
    let told: Vec<String> = app
        .mails_of("submission_received")
        .await
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["to"].as_str().unwrap(),
                m["vars"]["submitted_by"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told.contains(&"budi@tim.example Siti Rahayu".to_string()),
        "{told:?}"
    );
    assert!(
        told.contains(&"siti@tim.example Siti Rahayu".to_string()),
        "{told:?}"
    );
    // Having sent its slip, Siti may now cancel it.
    let page = siti.get(&path).await.html();
    assert!(page.contains("id=\"cancel\""), "{page}");

    // Budi removes Siti: her session ends and her mail is from an unknown sender now.
    let home = boss.get("/account").await.html();
    let remove = home
        .split("action=\"/account/users/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let p = boss.submit(&format!("/account/users/{remove}"), &[]).await;
    assert_eq!(p.status, 303);
    assert!(
        !boss
            .get("/account")
            .await
            .html()
            .contains("siti@tim.example")
    );
    assert!(
        siti.get("/account").await.html().contains("type=\"email\""),
        "signed out"
    );
    let raw = b"From: Siti <siti@tim.example>\r\nSubject: top up\r\nMessage-ID: <gone@tim.example>\r\n\r\nTop up Rp 100.000\r\n";
    let out = app
        .desk
        .handle_inbound(topup::sources::inbound_from_email(
            raw.to_vec(),
            vec![],
            &app.settings,
        ))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("unknown_sender"), "{}", out.outcome);
    // The main user cannot remove himself, and ids of other accounts are not found.
    let p = boss
        .submit(&format!("/account/users/{}/remove", main.id), &[])
        .await;
    assert_eq!(p.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_language_switch_is_remembered_per_user_and_used_for_their_mail() {
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Bahasa Web", "b@bahasa.example", Lang::Id)
        .await;
    let mut c = Client::new(&app);
    app.sign_in(&mut c, "b@bahasa.example").await;
    assert!(c.get("/account").await.html().contains(">Saldo<"));
    let p = c
        .submit("/lang", &[("lang", "en"), ("next", "/account")])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location().as_deref(), Some("/account"));
    let home = c.get("/account").await.html();
    assert!(
        home.contains(">Balance<") && home.contains("<html lang=\"en\">"),
        "{home}"
    );
    assert_eq!(app.user(user.id).await.lang.as_deref(), Some("en"));

    // Another browser, signed in later: English without switching; mail too.
    let mut other = Client::new(&app);
    app.sign_in(&mut other, "b@bahasa.example").await;
    assert!(other.get("/account").await.html().contains(">Balance<"));
    other
        .submit(
            "/account/top-up",
            &[("amount", "500rb"), ("method", "transfer")],
        )
        .await;
    let created = app.mails_of("order_created").await;
    assert_eq!(created[0]["lang"], "en");
    assert_eq!(created[0]["vars"]["amount"], "IDR 500,000");

    // Before signing in, the switch is a cookie; a foreign next is not followed.
    let mut anon = Client::new(&app);
    anon.get("/account").await;
    let p = anon
        .submit("/lang", &[("lang", "en"), ("next", "//evil.example/x")])
        .await;
    assert_eq!(p.location().as_deref(), Some("/account"));
    assert!(
        anon.get("/account")
            .await
            .html()
            .contains("Sign in to your account")
    );
    let p = anon.submit("/lang", &[("lang", "fr")]).await;
    assert_eq!(p.status, 400);
    app.stop().await;
}

/// The status page keeps what it read between refreshes; whatever changes
/// (a slip sent through another daemon on the same database, a rename, a new
/// person acting, a cancel), the next refresh shows it.
#[tokio::test]
async fn a_refreshed_status_page_shows_every_change_at_once_whoever_made_it() {
    let app = WebApp::spawn().await;
    let main = app
        .customer("PT Segar Selalu", "main@segar.example", Lang::En)
        .await;
    app.name(&main, "Ibu Wati").await;
    let order = app.request(&main, 250_000).await;
    let link = format!("/o/{}", order.token);
    let mut c = Client::new(&app);
    let first = web_app::visible_text(&c.get(&link).await.html());
    assert!(
        first.contains("Awaiting slip") && first.contains("Ibu Wati"),
        "{first}"
    );
    let again = web_app::visible_text(&c.get(&link).await.html());
    assert_eq!(first, again, "nothing changed, the same page");

    // Another daemon (its own desk, same database) takes a slip for the order.
    let other = topup::desk::Desk::new(
        app.desk.store().clone(),
        app.desk.slips().clone(),
        app.desk.clock().clone(),
        app.desk.settings().clone(),
    );
    let files = vec![topup::intake::SlipFile {
        file_name: Some("transfer-segar.png".into()),
        content_type: "image/png".into(),
        bytes: [PNG, order.number.as_bytes()].concat(),
    }];
    let slips = other.store_slips(&files).await.unwrap();
    let n = other.parse_order_number(&order.number).unwrap();
    other
        .submit_slip(
            &main,
            Some(&n),
            &slips,
            None,
            topup::desk::Channel::Email,
            None,
        )
        .await
        .unwrap();
    let html = c.get(&link).await.html();
    let seen = web_app::visible_text(&html);
    assert!(
        seen.contains("Dealing"),
        "the other daemon's change: {seen}"
    );
    assert!(html.contains("transfer-segar.png"), "its slip is listed");

    // A rename and a new person are shown on the next refresh too.
    app.name(&main, "Ibu Wati Segar").await;
    let seen = web_app::visible_text(&c.get(&link).await.html());
    assert!(seen.contains("Ibu Wati Segar"), "{seen}");

    // A staff decision made on the other daemon: the refusal and its reason.
    let rina = app.staff("Rina").await;
    decisions::reject(&other, &n, &rina, topup::desk::RejectReason::NotReceived).await;
    let seen = web_app::visible_text(&c.get(&link).await.html());
    assert!(seen.contains("Payment Failure"), "{seen}");
    assert!(
        seen.contains("The transfer has not arrived in our bank account."),
        "the reason: {seen}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_status_link_acts_as_the_creator_and_a_signed_in_user_as_themselves() {
    let app = WebApp::spawn().await;
    let main = app
        .customer("PT Tautan", "main@tautan.example", Lang::Id)
        .await;
    app.name(&main, "Bu Ani").await;
    app.pic(&main, "pic@tautan.example", "Pak Dodi").await;
    let order = app.request(&main, 100_000).await;
    let link = format!("/o/{}", order.token);

    // A signed-in PIC on the main user's order is themselves: no cancel.
    let mut pic = Client::new(&app);
    app.sign_in(&mut pic, "pic@tautan.example").await;
    let p = pic.submit(&format!("{link}/cancel"), &[]).await;
    assert_eq!(p.status, 403, "{}", p.html());
    assert_eq!(app.order(&order.number).await.status, "open");

    // Anyone else with the link acts as the creator, recorded as through the link.
    let mut anon = Client::new(&app);
    anon.get(&link).await;
    let p = anon.submit(&format!("{link}/cancel"), &[]).await;
    assert_eq!(p.status, 303);
    let last = app.events(order.id).await.pop().unwrap();
    assert_eq!(
        (last.event.as_str(), last.user_id, last.via.as_str()),
        ("cancel", Some(main.id), "status_link")
    );
    let page = anon.get(&link).await.html();
    assert!(
        page.contains("Bu Ani") && page.contains("lewat tautan status"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn errors_are_real_pages_in_the_visitors_language_and_api_errors_are_json() {
    let app = WebApp::spawn().await;
    let user = app.customer("PT Galat", "g@galat.example", Lang::Id).await;
    let order = app.request(&user, 10_000).await;
    let security = |p: &web_app::Page| {
        for h in [
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "cache-control",
        ] {
            assert!(p.header(h).is_some(), "{h} on a {} page", p.status);
        }
        assert!(p.header("content-type").unwrap().starts_with("text/html"));
        let html = p.html();
        assert!(html.contains("class=\"top\""), "the site header: {html}");
        assert!(
            html.contains("href=\"/account\"") || html.contains("href=\"/staff\""),
            "a way back"
        );
    };

    let mut c = Client::new(&app);
    let p = c
        .get_with("/nothing/here", &[("accept-language", "en-US,en;q=0.9")])
        .await;
    assert_eq!(p.status, 404);
    security(&p);
    assert!(p.html().contains("Page not found") && p.html().contains("<html lang=\"en\">"));
    let p = c
        .get_with(
            "/nothing/here",
            &[("accept-language", "id-ID,id;q=0.9,en;q=0.5")],
        )
        .await;
    assert!(p.html().contains("Halaman tidak ditemukan"));
    c.set_cookie("topup_lang", "en");
    let p = c
        .get_with(
            "/o/0123456789abcdef0123456789abcdef01234567",
            &[("accept-language", "id")],
        )
        .await;
    assert!(
        p.html().contains("Page not found"),
        "the picked language wins"
    );

    // 401 (staff only), 403 (an old form), 405 and 422 (the framework's own refusals).
    let mut c = Client::new(&app);
    let p = c.get("/staff/slips/abc").await;
    assert_eq!(p.status, 401);
    security(&p);
    assert!(p.html().contains("Please sign in") && p.html().contains("href=\"/staff\""));
    c.set_cookie("topup_lang", "id");
    let p = c.post_form("/account/top-up", &[("amount", "1")]).await;
    assert_eq!(p.status, 403);
    security(&p);
    assert!(
        p.html().contains("Formulir ini sudah kedaluwarsa"),
        "{}",
        p.html()
    );
    let p = c.get("/account/top-up").await;
    assert_eq!(p.status, 405);
    security(&p);
    assert!(p.html().contains("Tidak dapat dilakukan di sini"));
    c.get("/account").await;
    let p = c
        .post_body(
            "/staff/sign-in",
            "csrf=x",
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(p.status, 422);
    security(&p);
    assert!(
        !p.html().contains("Failed to deserialize"),
        "our words, not the framework's"
    );

    // 429: too many wrong staff passwords; still a real page with the headers.
    app.staff("Rina").await;
    let mut guess = Client::new(&app);
    let mut last = None;
    for _ in 0..6 {
        last = Some(guess.staff_sign_in("Rina", "wrong guess").await);
    }
    let p = last.unwrap();
    assert_eq!(p.status, 429);
    security(&p);

    // The API answers JSON whatever went wrong.
    let mut api = Client::new(&app);
    for (p, status) in [
        (api.get("/api/nothing").await, 404),
        (
            api.get(&format!("/api/orders/{}/cancel", order.token))
                .await,
            405,
        ),
        (
            api.post_body(
                &format!("/api/orders/{}/amend", order.token),
                "amount=1",
                "text/plain",
            )
            .await,
            415,
        ),
        (
            api.post_body(
                &format!("/api/orders/{}/amend", order.token),
                "{\"amount\": ",
                "application/json",
            )
            .await,
            400,
        ),
    ] {
        assert_eq!(p.status, status);
        assert!(
            p.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert!(p.json()["error"].is_string(), "{}", p.text());
    }

    // 500: the store is gone; the page is generic, in the visitor's language, with the headers.
    let mut c = Client::new(&app);
    c.set_cookie("topup_lang", "id");
    app.desk.store().close().await;
    let p = c.get(&format!("/o/{}", order.token)).await;
    assert_eq!(p.status, 500);
    security(&p);
    assert!(
        p.html().contains("Terjadi gangguan di sistem kami"),
        "{}",
        p.html()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_staff_board_speaks_each_staff_members_language_and_shows_what_to_decide() {
    let app = WebApp::spawn_with(|s| s.desk.staff_notation = Lang::En).await;
    let user = app
        .customer("PT Papan", "keu@papan.example", Lang::Id)
        .await;
    app.name(&user, "Ibu Keuangan").await;
    app.staff("Rina").await;
    app.staff("Joko").await;
    let earlier = app.dealing(&user, 300_000).await;
    let rina = app.staff_row("Rina").await;
    let en = app.desk.parse_order_number(&earlier.number).unwrap();
    app.desk
        .decide(&en, &rina, &topup::desk::Decision::Approve { amount: None })
        .await
        .unwrap();
    // A slip by email, with the customer's own words.
    let order = app.request(&user, 1_500_000).await;
    let raw = format!(
        "From: Ibu Keuangan <keu@papan.example>\r\nTo: topup@localhost\r\nSubject: Bukti transfer {n}\r\n\
         Message-ID: <w1@papan.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSelamat siang,\r\nsudah kami transfer lewat KlikBCA tadi pagi.\r\n\r\n> kutipan lama\r\n\
         --b\r\nContent-Type: image/png; name=bukti.png\r\nContent-Disposition: attachment; filename=bukti.png\r\nContent-Transfer-Encoding: base64\r\n\r\n{png}\r\n--b--\r\n",
        n = order.number,
        png = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG)
    );
    let out = app
        .desk
        .handle_inbound(topup::sources::inbound_from_email(
            raw.into_bytes(),
            vec![],
            &app.settings,
        ))
        .await
        .unwrap();
    assert!(out.outcome.starts_with("submitted"), "{}", out.outcome);

    let mut r = Client::new(&app);
    r.staff_sign_in("Rina", STAFF_PASSWORD).await;
    let board = r.get("/staff").await.html();
    assert!(board.contains("Dealing queue") && board.contains("<body class=\"wide\">"));
    assert!(
        board.contains("IDR 1,500,000"),
        "the desk's notation, not the customer's: {board}"
    );
    assert!(!board.contains("Rp 1.500.000"));
    assert!(
        board.contains(&format!("Bukti transfer {}", order.number))
            && board.contains("sudah kami transfer lewat KlikBCA"),
        "the customer's subject and first lines: {board}"
    );
    assert!(
        !board.contains("kutipan lama"),
        "quotes are not the customer's words"
    );
    assert!(
        board.contains("Ibu Keuangan &lt;keu@papan.example&gt;"),
        "name and address: {board}"
    );
    assert!(
        board.contains(&format!("href=\"/staff/orders/{}\"", earlier.number)),
        "recent orders"
    );
    assert!(!board.contains("class=\"card hl\""), "not waiting long yet");

    // Joko switches the board to Indonesian; it stays so for him only.
    let mut j = Client::new(&app);
    j.staff_sign_in("Joko", STAFF_PASSWORD).await;
    let p = j
        .submit("/lang", &[("lang", "id"), ("next", "/staff")])
        .await;
    assert_eq!(p.location().as_deref(), Some("/staff"));
    let mut j2 = Client::new(&app);
    j2.staff_sign_in("Joko", STAFF_PASSWORD).await;
    let board_id = j2.get("/staff").await.html();
    assert!(
        board_id.contains("Antrean Dealing") && board_id.contains("Setujui"),
        "{board_id}"
    );
    assert!(
        r.get("/staff").await.html().contains("Dealing queue"),
        "Rina keeps English"
    );

    // After 20 hours the order is highlighted with the time it fails.
    app.clock.advance_ms(21 * 3_600_000);
    let mut r = Client::new(&app);
    r.staff_sign_in("Rina", STAFF_PASSWORD).await;
    let board = r.get("/staff").await.html();
    assert!(board.contains("class=\"card hl\""), "{board}");
    assert!(board.contains("Waiting long"));

    // The order's own page (the link on the review cards) shows who decided what; customers never do.
    let page = r
        .get(&format!("/staff/orders/{}", earlier.number))
        .await
        .html();
    assert!(page.contains("staff Rina"), "{page}");
    let customer = Client::new(&app)
        .get(&format!("/o/{}", earlier.token))
        .await
        .html();
    assert!(
        !customer.contains("Rina") && customer.contains("Tim Receivables"),
        "{customer}"
    );
    assert_eq!(
        Client::new(&app)
            .get(&format!("/staff/orders/{}", earlier.number))
            .await
            .status,
        303
    );
    app.stop().await;
}
