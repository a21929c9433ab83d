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

/// Signs `login` in through the board's own sign-in form (the page is open).
async fn staff_sign_in(b: &mut Browser, login: &str) {
    b.eval(&format!(
        "document.querySelector('#login').value = {}; document.querySelector('#password').value = {}; \
         document.querySelector('form[action=\"/staff/sign-in\"] button').click(); true",
        serde_json::to_string(login).unwrap(),
        serde_json::to_string(STAFF_PASSWORD).unwrap()
    ))
    .await;
}

/// Chooses `file` in the board's statement form, presses Impor, and waits
/// for a page whose text holds `flash`.
async fn import_statement(b: &mut Browser, file: &std::path::Path, flash: &str) {
    b.set_file("#statement-upload input[type=file]", file).await;
    b.eval("document.querySelector('#statement-upload button[type=submit]').click(); true")
        .await;
    b.wait_for(
        &format!(
            "document.readyState === 'complete' && document.body.innerText.includes({})",
            serde_json::to_string(flash).unwrap()
        ),
        &format!("the flash message {flash:?}"),
    )
    .await;
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
    staff_sign_in(&mut b, "Rina").await;
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

/// True when every table on the page fits inside its card (nothing cut off or
/// scrolled sideways) and the page itself does not scroll sideways.
const TABLES_FIT: &str = "(() => { const bad = []; for (const t of document.querySelectorAll('table')) { \
    const box = t.closest('.card') || t.parentElement; \
    if (t.getBoundingClientRect().right > box.getBoundingClientRect().right + 1 || t.scrollWidth > t.clientWidth + 1) \
      bad.push((box.id || t.id || 'table') + ': right ' + Math.round(t.getBoundingClientRect().right) + ' of ' + Math.round(box.getBoundingClientRect().right) + ', scroll ' + t.scrollWidth + ' of ' + t.clientWidth); } \
  if (document.documentElement.scrollWidth > window.innerWidth + 1) bad.push('page:' + document.documentElement.scrollWidth + '>' + window.innerWidth); \
  return bad.join(' '); })()";

#[tokio::test]
async fn the_portal_top_up_steps_and_the_staff_board_in_a_real_browser() {
    let out = output_dir();
    let app = WebApp::spawn().await;
    let user = app
        .customer("PT Maju Jaya Sentosa", "budi@majujaya.example", Lang::Id)
        .await;
    app.name(&user, "Budi Hartono").await;
    app.pic(
        &user,
        "siti.rahayu.keuangan@majujaya.example",
        "Siti Rahayu",
    )
    .await;
    let earlier = app.dealing(&user, 750_000).await;
    app.staff("Rina").await;
    // Messages not acted on, with the long unbroken text that used to cut the table off.
    for i in 0..3 {
        let raw = format!(
            "From: Someone <very.long.sender.address.number{i}@a-rather-long-domain-name.example.co.id>\r\n\
             Subject: Bukti_transfer_pembayaran_invoice_INV-2026-11-000{i}_untuk_PT_Yang_Belum_Terdaftar\r\n\
             Message-ID: <long{i}@x.example>\r\n\r\nhalo\r\n"
        );
        app.desk
            .handle_inbound(topup::sources::inbound_from_email(
                raw.into_bytes(),
                vec![],
                &app.settings,
            ))
            .await
            .unwrap();
    }

    let mut b = Browser::launch().await;
    let slip = out.join("slip-portal.png");
    draw_slip(&mut b, "Rp 2.500.000", "Top Up", &slip).await;

    // Sign in by the emailed link, on a phone.
    b.viewport(390, 844, true).await;
    b.goto(&app.url("/account")).await;
    b.eval("document.querySelector('#email').value = 'budi@majujaya.example'; document.querySelector('form[action=\"/account\"] button').click(); true").await;
    // Before sign-in the page follows the browser's language (headless Chromium asks for English).
    b.wait_for(
        "document.body.innerText.includes('Check your email')",
        "the check-your-mail page",
    )
    .await;
    let mail = app
        .emails_to("budi@majujaya.example")
        .await
        .into_iter()
        .rev()
        .find(|m| m.contains("/account/sign-in/"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&mail).unwrap();
    let link = v["vars"]["sign_in_link"].as_str().unwrap();
    let path = &link[link.find("/account/sign-in/").unwrap()..];
    b.goto(&app.url(path)).await;
    b.eval("document.querySelector('form button[type=submit]:not(.on):not([name=lang])').click(); true").await;
    b.wait_for(
        "document.querySelector('#balance') !== null",
        "the account home",
    )
    .await;
    let home = b.eval("document.body.innerText").await;
    let home = home.as_str().unwrap().to_string();
    assert!(
        home.contains("Saldo") && home.contains("Rp 0") && home.contains("Budi Hartono"),
        "{home}"
    );
    assert!(
        home.contains(&earlier.number) && home.contains("Siti Rahayu"),
        "{home}"
    );
    let fit = b.eval(TABLES_FIT).await;
    assert_eq!(fit.as_str().unwrap(), "", "account page fits a phone");
    b.screenshot(&out.join("11-account-home-phone.png")).await;
    b.viewport(1280, 900, false).await;
    b.goto(&app.url("/account")).await;
    assert_eq!(b.eval(TABLES_FIT).await.as_str().unwrap(), "");
    b.screenshot(&out.join("12-account-home-desktop.png")).await;

    // Top Up, step 1: a customized amount and the payment method.
    b.viewport(390, 844, true).await;
    b.goto(&app.url("/account")).await;
    b.eval("document.querySelector('#topup-amount').value = '2,5 juta'; document.querySelector('#topup').scrollIntoView(); true").await;
    b.screenshot(&out.join("13-topup-1-amount-phone.png")).await;
    b.eval("document.querySelector('#topup button[type=submit]').click(); true")
        .await;
    b.wait_for(
        "location.pathname.startsWith('/account/orders/')",
        "the order page",
    )
    .await;
    b.wait_for(
        "document.readyState === 'complete' && document.querySelector('#bank') !== null",
        "bank details",
    )
    .await;
    let order = app.orders_of(user.account_id).await.remove(0);
    assert_eq!(order.amount_minor, Some(250_000_000));
    // Step 2: the bank details and the order number; step 3: upload and Submit.
    let text = b.eval("document.body.innerText").await;
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains(&order.number)
            && text.contains("123-456-7890")
            && text.contains("Rp 2.500.000"),
        "{text}"
    );
    let now_step = b
        .eval("document.querySelector('#steps li.now').innerText")
        .await;
    assert!(
        now_step.as_str().unwrap().contains("Transfer"),
        "{now_step}"
    );
    assert_eq!(b.eval(TABLES_FIT).await.as_str().unwrap(), "");
    b.screenshot(&out.join("14-topup-2-bank-details-phone.png"))
        .await;
    b.set_file("#upload input[type=file]", &slip).await;
    b.eval("document.querySelector('#upload').scrollIntoView(); true")
        .await;
    b.screenshot(&out.join("15-topup-3-upload-phone.png")).await;
    b.eval("document.querySelector('#upload button[type=submit]').click(); true")
        .await;
    b.wait_for(
        "document.readyState === 'complete' && document.querySelector('[data-status]').dataset.status === 'dealing'",
        "Dealing",
    )
    .await;
    b.wait_for("document.querySelector('#slips img') && document.querySelector('#slips img').naturalWidth > 100", "the slip").await;
    b.screenshot(&out.join("16-topup-4-dealing-phone.png"))
        .await;
    assert_eq!(app.order(&order.number).await.status, "dealing");
    b.viewport(1280, 900, false).await;
    b.goto(&app.url(&format!("/account/orders/{}", order.number)))
        .await;
    b.screenshot(&out.join("17-topup-order-desktop.png")).await;

    // The language switch in the header, remembered for this user.
    b.eval("document.querySelector('.langs button[value=en]').click(); true")
        .await;
    b.wait_for("document.documentElement.lang === 'en'", "English")
        .await;
    let text = b.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("History"), "{text}");
    assert_eq!(app.user(user.id).await.lang.as_deref(), Some("en"));

    // The staff board on a desktop uses its width; its tables fit on desktop and phone.
    b.goto(&app.url("/staff")).await;
    staff_sign_in(&mut b, "Rina").await;
    let card = format!("#order-{}", order.number);
    b.wait_for(
        &format!("document.querySelector('{card}') !== null"),
        "the order on the board",
    )
    .await;
    b.wait_for(
        &format!("document.querySelector('{card} img').naturalWidth > 100"),
        "the slip",
    )
    .await;
    let width = b
        .eval("document.querySelector('main').getBoundingClientRect().width")
        .await;
    assert!(
        width.as_f64().unwrap() >= 1150.0,
        "the board uses the desktop's width: {width}"
    );
    let slip_width = b
        .eval(&format!(
            "document.querySelector('{card} img').getBoundingClientRect().width"
        ))
        .await;
    assert!(
        slip_width.as_f64().unwrap() >= 170.0,
        "the slip is large enough to read: {slip_width}"
    );
    assert_eq!(
        b.eval(TABLES_FIT).await.as_str().unwrap(),
        "",
        "board tables fit on a desktop"
    );
    b.screenshot(&out.join("18-staff-board-wide-desktop.png"))
        .await;
    b.viewport(390, 844, true).await;
    b.goto(&app.url("/staff")).await;
    assert_eq!(
        b.eval(TABLES_FIT).await.as_str().unwrap(),
        "",
        "board tables fit on a phone"
    );
    b.screenshot(&out.join("19-staff-board-wide-phone.png"))
        .await;
    b.viewport(1280, 900, false).await;
    b.goto(&app.url(&format!("/staff/orders/{}", order.number)))
        .await;
    assert_eq!(b.eval(TABLES_FIT).await.as_str().unwrap(), "");
    b.screenshot(&out.join("20-staff-order-desktop.png")).await;

    b.close().await;
    app.stop().await;
}

#[tokio::test]
async fn staff_import_a_statement_on_the_board_and_attach_money_without_an_order_in_a_real_browser()
{
    let out = output_dir();
    let app = WebApp::spawn_with(|s| s.desk.staff_lang = Lang::Id).await;
    let user = app
        .customer("PT Sinar Abadi", "budi@sinar.example", Lang::Id)
        .await;
    let order = app.dealing(&user, 2_500_000).await;
    app.staff("Rina").await;
    let statement = out.join("mutasi-bca.csv");
    std::fs::write(
        &statement,
        format!(
            "Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n\
             '30/11/2026,\"TRSF E-BANKING CR {} SINAR ABADI\",'0000,\"2,500,000.00\",CR,\"12,500,000.00\"\n\
             '30/11/2026,\"TRSF DARI BUDI SINAR\",'0000,\"777,000.00\",CR,\"13,277,000.00\"\n",
            order.number
        ),
    )
    .unwrap();

    let mut b = Browser::launch().await;
    b.viewport(1280, 900, false).await;
    b.goto(&app.url("/staff")).await;
    staff_sign_in(&mut b, "Rina").await;
    b.wait_for("document.querySelector('#unmatched') !== null", "the board")
        .await;
    let board = b.eval("document.body.innerText").await;
    let board = board.as_str().unwrap().to_string();
    assert!(
        board.contains("Dana masuk tanpa pesanan (0)") && board.contains("Impor mutasi rekening"),
        "the statement section in the staff language: {board}"
    );

    // Choose the file in the board's own form and press Impor.
    import_statement(&mut b, &statement, "Diimpor mutasi-bca.csv").await;
    let board = b.eval("document.body.innerText").await;
    let board = board.as_str().unwrap().to_string();
    assert!(
        board.contains("2 baris: 1 cocok, 0 disarankan, 0 ambigu, 1 tanpa pesanan"),
        "{board}"
    );
    let card = b
        .eval(&format!(
            "document.querySelector('#order-{} [data-money]').innerText",
            order.number
        ))
        .await;
    assert!(
        card.as_str()
            .unwrap()
            .starts_with("💰 Dana masuk: BCA 30/11 Rp 2.500.000, berita"),
        "the money shows on the order's card: {card}"
    );
    assert!(
        board.contains("Dana masuk tanpa pesanan (1)") && board.contains("Rp 777.000"),
        "{board}"
    );
    b.screenshot(&out.join("10-statement-imported-desktop.png"))
        .await;

    // Attach the money without an order to the company it came from.
    b.eval(
        "document.querySelector('#unmatched input[name=target]').value = 'PT Sinar Abadi'; \
         document.querySelector('#unmatched form.inline button').click(); true",
    )
    .await;
    b.wait_for(
        "document.readyState === 'complete' && document.body.innerText.includes('membayar pesanan baru')",
        "the attach flash message",
    )
    .await;
    let board = b.eval("document.body.innerText").await;
    let board = board.as_str().unwrap().to_string();
    assert!(
        board.contains("Rp 777.000 dikreditkan") && board.contains("Dana masuk tanpa pesanan (0)"),
        "{board}"
    );
    assert_eq!(app.balance(user.account_id).await, 77_700_000);
    b.screenshot(&out.join("11-statement-attached-desktop.png"))
        .await;

    // The same file again adds nothing.
    import_statement(&mut b, &statement, "2 sudah pernah diimpor").await;
    assert_eq!(app.balance(user.account_id).await, 77_700_000);
    b.close().await;
    app.stop().await;
}
