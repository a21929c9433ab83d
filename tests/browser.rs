//! The status page and the staff board in a real browser (headless
//! Chromium over the DevTools protocol): a customer uploads a slip through
//! the page's file input, staff sign in on /staff and approve, and the
//! status page shows Lunas / Paid. Screenshots of every step, at a phone
//! size and at a desktop size, go to `<target>/test-output/browser/`.

#[path = "support/db.rs"]
mod db;
#[path = "support/web_app.rs"]
mod web_app;
#[path = "support/web_cdp.rs"]
mod web_cdp;

use std::path::PathBuf;

use topup::domain::Lang;
use web_app::{STAFF_PASSWORD, WebApp};
use web_cdp::Browser;

fn output_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target
        .join("test-output")
        .join("browser")
        .join(web_app::backend());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A transfer slip picture, drawn by the browser itself (no image crate needed).
async fn draw_slip(b: &mut Browser, amount: &str, number: &str, path: &std::path::Path) {
    b.viewport(360, 520, false).await;
    let html = format!(
        "<div style=\"font:15px sans-serif;padding:18px;background:#fff;height:520px;box-sizing:border-box\">\
         <div style=\"background:#0060af;color:#fff;padding:10px;font-weight:bold\">m-BCA  Transfer Berhasil</div>\
         <p>Tanggal: 25/11/2026 10:12:44</p><p>Ke rekening: 123-456-7890<br>PT ISI SALDO NUSANTARA</p>\
         <p style=\"font-size:24px;font-weight:bold\">{amount}</p><p>Berita: {number}</p>\
         <p>No. Ref: 8812 3344 5566</p><p style=\"color:green;font-weight:bold\">BERHASIL</p></div>"
    );
    b.eval(&format!(
        "document.body.style.margin='0'; document.body.innerHTML = {}; true",
        serde_json::to_string(&html).unwrap()
    ))
    .await;
    b.screenshot(path).await;
}

#[tokio::test]
async fn slip_upload_and_approval_in_a_real_browser() {
    let out = output_dir();
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Maju Jaya Sentosa", "budi@majujaya.example", Lang::Id)
        .await;
    let order = app.request(&user, 1_500_000).await;
    app.staff("Rina").await;
    let status_url = app.url(&format!("/o/{}", order.token));

    let mut b = Browser::launch().await;
    let slip = out.join("slip-upload.png");
    draw_slip(&mut b, "Rp 1.500.000", &order.number, &slip).await;

    // The customer opens the link from the order email on a phone.
    b.viewport(390, 844, true).await;
    b.goto(&status_url).await;
    b.wait_for(
        "document.querySelector('[data-status]').dataset.status === 'open'",
        "open order",
    )
    .await;
    let text = b.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Menunggu bukti transfer") && text.contains("Rp 1.500.000"),
        "{text}"
    );
    assert!(text.contains("123-456-7890"), "bank details shown: {text}");
    let width = b.eval("document.documentElement.scrollWidth").await;
    assert!(
        width.as_i64().unwrap() <= 390,
        "no sideways scrolling on a phone: {width}"
    );
    b.screenshot(&out.join("01-status-open-phone.png")).await;

    // Upload the slip through the page's own form.
    b.set_file("#upload input[type=file]", &slip).await;
    b.eval("document.querySelector('#upload button[type=submit]').click(); true")
        .await;
    b.wait_for(
        "document.readyState === 'complete' && document.querySelector('[data-status]').dataset.status === 'dealing'",
        "the page to show Dealing",
    )
    .await;
    let text = b.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("Dealing"));
    assert!(
        text.as_str().unwrap().contains("Terima kasih"),
        "flash message"
    );
    b.wait_for("document.querySelector('#slips img') && document.querySelector('#slips img').naturalWidth > 100", "slip thumbnail to load").await;
    b.screenshot(&out.join("02-status-dealing-phone.png")).await;
    assert_eq!(app.order(&order.number).await.status, "dealing");

    // Staff sign in on the board (desktop) and approve.
    b.viewport(1280, 900, false).await;
    b.goto(&app.url("/staff")).await;
    b.screenshot(&out.join("03-staff-sign-in-desktop.png"))
        .await;
    b.eval(&format!(
        "document.querySelector('#login').value = 'Rina'; document.querySelector('#password').value = {}; \
         document.querySelector('form[action=\"/staff/sign-in\"] button').click(); true",
        serde_json::to_string(STAFF_PASSWORD).unwrap()
    ))
    .await;
    let card = format!("#order-{}", order.number);
    b.wait_for(
        &format!("document.querySelector('{card}') !== null"),
        "the order on the board",
    )
    .await;
    let board = b.eval("document.body.innerText").await;
    let board = board.as_str().unwrap();
    assert!(
        board.contains("PT Maju Jaya Sentosa") && board.contains("budi@majujaya.example"),
        "{board}"
    );
    b.wait_for(
        &format!("document.querySelector('{card} img').naturalWidth > 100"),
        "slip preview",
    )
    .await;
    b.screenshot(&out.join("04-staff-board-desktop.png")).await;
    b.viewport(390, 844, true).await;
    b.goto(&app.url("/staff")).await;
    b.screenshot(&out.join("05-staff-board-phone.png")).await;

    b.eval(&format!(
        "document.querySelector('{card} form[action$=\"/approve\"] button').click(); true"
    ))
    .await;
    b.wait_for(
        "document.querySelector('.flash.ok') !== null",
        "the approval message",
    )
    .await;
    let board = b.eval("document.body.innerText").await;
    assert!(
        board
            .as_str()
            .unwrap()
            .contains(&format!("Approved {}", order.number))
    );
    b.screenshot(&out.join("06-staff-approved-phone.png")).await;
    assert_eq!(app.order(&order.number).await.status, "paid");
    assert_eq!(app.balance(user.account_id).await, 150_000_000);

    // The customer's page now says Lunas / Paid and links the receipt.
    b.goto(&status_url).await;
    b.wait_for(
        "document.querySelector('[data-status]').dataset.status === 'paid'",
        "Paid",
    )
    .await;
    let text = b.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("Lunas") && text.contains("Paid"), "{text}");
    let receipt = b
        .eval("document.querySelector('a[href$=\"/receipt.pdf\"]').href")
        .await;
    assert!(receipt.as_str().unwrap().ends_with("/receipt.pdf"));
    b.screenshot(&out.join("07-status-paid-phone.png")).await;

    b.close().await;
    app.stop().await;
}
