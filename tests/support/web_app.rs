//! Web test helpers: the real application (store, outbox, sources, web
//! server on port 0) on a fresh SQLite file or a fresh PostgreSQL database
//! (`TOPUP_TEST_DB=postgres`), customers, staff and orders made through the
//! store and the desk, and a small HTTP client that keeps cookies by hand
//! and never follows redirects (so tests see every 303 and Set-Cookie).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

#[allow(unused_imports)]
pub use crate::db::{backend, fresh_database};
use tokio_util::sync::CancellationToken;
use topup::clock::ManualClock;
use topup::config::Settings;
use topup::desk::{Channel, Desk};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::store::accounts::{self, StaffRow, UserRow};
use topup::store::orders::OrderRow;

/// A tiny valid PNG (1x1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

pub const STAFF_PASSWORD: &str = "correct horse battery";

/// The running application.
pub struct WebApp {
    pub addr: SocketAddr,
    pub desk: Desk,
    pub clock: ManualClock,
    pub settings: Arc<Settings>,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WebApp {
    pub async fn spawn() -> WebApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> WebApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.database.url = fresh_database(dir.path()).await;
        settings.web.listen = "127.0.0.1:0".into();
        settings.desk.seller_name = "PT Isi Saldo Nusantara".into();
        settings.desk.bank_accounts = vec![topup::config::BankAccount {
            bank: "BCA".into(),
            account_number: "123-456-7890".into(),
            account_name: "PT Isi Saldo Nusantara".into(),
        }];
        change(&mut settings);
        let settings = Arc::new(settings);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let clock = ManualClock::at(now);
        let app = topup::app::Application::build(settings.clone(), Arc::new(clock.clone()))
            .await
            .expect("build app");
        let addr = app.web_addr().expect("web address");
        let desk = app.desk().clone();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            app.run(token).await.expect("app runs");
        });
        WebApp {
            addr,
            desk,
            clock,
            settings,
            dir,
            shutdown,
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the app and waits for it (the web server closes within its grace period).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(std::time::Duration::from_secs(40), t)
                .await
                .expect("app stops in time")
                .expect("app task");
        }
    }

    fn now(&self) -> i64 {
        self.desk.now()
    }

    /// An account with its main user.
    pub async fn customer(&self, company: &str, email: &str, lang: Lang) -> UserRow {
        let mut tx = self.desk.store().begin_write().await.unwrap();
        let account = accounts::add_account(&mut tx, company, email, lang, self.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::list_users(&mut conn, Some(account.id))
            .await
            .unwrap()
            .remove(0)
    }

    /// A staff member with [`STAFF_PASSWORD`].
    pub async fn staff(&self, name: &str) -> StaffRow {
        let hash = topup::web::auth::hash_password(STAFF_PASSWORD).unwrap();
        let mut tx = self.desk.store().begin_write().await.unwrap();
        let email = format!("{}@desk.example", name.to_lowercase());
        let s = accounts::add_staff(&mut tx, name, Some(&email), None, Some(&hash), self.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        s
    }

    /// A staff member as stored.
    pub async fn staff_row(&self, name: &str) -> StaffRow {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::find_staff(&mut conn, name)
            .await
            .unwrap()
            .unwrap()
    }

    /// An `open` order of `rupiah` for `user`.
    pub async fn request(&self, user: &UserRow, rupiah: i64) -> OrderRow {
        self.desk
            .request(user, Money::from_major(rupiah), Channel::Email, None)
            .await
            .unwrap()
    }

    /// A `dealing` order (slip sent by email).
    pub async fn dealing(&self, user: &UserRow, rupiah: i64) -> OrderRow {
        let o = self.request(user, rupiah).await;
        let files = vec![topup::intake::SlipFile {
            file_name: Some("bukti.png".into()),
            content_type: "image/png".into(),
            bytes: [PNG, o.number.as_bytes()].concat(),
        }];
        let slips = self.desk.store_slips(&files).await.unwrap();
        let n = self.desk.parse_order_number(&o.number).unwrap();
        self.desk
            .submit_slip(user, Some(&n), &slips, None, Channel::Email, None)
            .await
            .unwrap()
    }

    /// A PIC user of `main`'s account.
    pub async fn pic(&self, main: &UserRow, email: &str, name: &str) -> UserRow {
        let mut tx = self.desk.store().begin_write().await.unwrap();
        let u = accounts::add_user(
            &mut tx,
            main.account_id,
            email,
            "pic",
            name,
            None,
            self.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        u
    }

    /// Sets a user's display name.
    pub async fn name(&self, user: &UserRow, name: &str) {
        let mut tx = self.desk.store().begin_write().await.unwrap();
        accounts::set_user_name(&mut tx, user.id, name)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Signs `email` in on the account page the way a person does: asks for the
    /// link, takes it from the queued email, opens it and presses the button.
    pub async fn sign_in(&self, c: &mut Client, email: &str) {
        c.get("/account").await;
        let p = c.submit("/account", &[("email", email)]).await;
        assert_eq!(p.status, 200, "{}", p.html());
        let mail = self
            .emails_to(email)
            .await
            .into_iter()
            .rev()
            .find(|m| m.contains("/account/sign-in/"))
            .expect("a sign-in email");
        let v: serde_json::Value = serde_json::from_str(&mail).unwrap();
        let link = v["vars"]["sign_in_link"].as_str().unwrap();
        let path = &link[link.find("/account/sign-in/").unwrap()..];
        assert_eq!(c.get(path).await.status, 200);
        let p = c.submit(path, &[]).await;
        assert_eq!(p.status, 303, "signed in: {}", p.html());
        assert!(c.cookies.contains_key("topup_session"));
    }

    /// The user as stored now.
    pub async fn user(&self, id: i64) -> UserRow {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::user_by_id(&mut conn, id).await.unwrap()
    }

    /// The audit trail of an order.
    pub async fn events(&self, order_id: i64) -> Vec<topup::store::orders::EventRow> {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        topup::store::orders::events(&mut conn, order_id)
            .await
            .unwrap()
    }

    /// Every order of an account, newest first.
    pub async fn orders_of(&self, account_id: i64) -> Vec<OrderRow> {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        topup::store::orders::list(&mut conn, None, Some(account_id), 100)
            .await
            .unwrap()
    }

    /// Email payloads of one template kind, oldest first.
    pub async fn mails_of(&self, kind: &str) -> Vec<serde_json::Value> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT payload FROM outbox WHERE kind = 'email' ORDER BY id")
                .fetch_all(self.desk.store().pool())
                .await
                .unwrap();
        rows.into_iter()
            .map(|(p,)| serde_json::from_str::<serde_json::Value>(&p).unwrap())
            .filter(|v| v["kind"] == kind)
            .collect()
    }

    pub async fn order(&self, number: &str) -> OrderRow {
        let n = self.desk.parse_order_number(number).unwrap();
        self.desk.view(&n).await.unwrap().order
    }

    pub async fn balance(&self, account_id: i64) -> i64 {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::balance(&mut conn, account_id).await.unwrap()
    }

    /// Payloads of email outbox rows to `recipient`.
    pub async fn emails_to(&self, recipient: &str) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT payload FROM outbox WHERE kind = 'email' AND recipient = $1 ORDER BY id",
        )
        .bind(recipient)
        .fetch_all(self.desk.store().pool())
        .await
        .unwrap();
        rows.into_iter().map(|(p,)| p).collect()
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Page {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body with minijinja's escaped slashes (`&#x2f;`) read back, for matching URLs.
    pub fn html(&self) -> String {
        self.text().replace("&#x2f;", "/")
    }

    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// An HTTP client with a cookie jar kept by hand.
pub struct Client {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(app: &WebApp) -> Client {
        Client {
            base: format!("http://{}", app.addr),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header("cookie", self.cookie_header())
        };
        let res = req.send().await.expect("request");
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.bytes().await.unwrap().to_vec();
        Page {
            status,
            headers,
            body,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self.http.get(self.url(path));
        self.send(r).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let r = self.http.post(self.url(path)).form(fields);
        self.send(r).await
    }

    /// Posts a form with the page's CSRF token added.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }

    /// Sets a cookie as the browser would hold it (e.g. a picked language).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_string(), value.to_string());
    }

    pub async fn post_body(&mut self, path: &str, body: &str, content_type: &str) -> Page {
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_string());
        self.send(r).await
    }

    pub async fn post_multipart(&mut self, path: &str, form: reqwest::multipart::Form) -> Page {
        let r = self.http.post(self.url(path)).multipart(form);
        self.send(r).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        body: serde_json::Value,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut r = self.http.post(self.url(path)).json(&body);
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    /// A multipart POST with extra headers (API uploads send `X-Topup-Client`).
    pub async fn post_multipart_with(
        &mut self,
        path: &str,
        form: reqwest::multipart::Form,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut r = self.http.post(self.url(path)).multipart(form);
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    /// A POST of raw bytes with a given content type (what a cross-site form sends).
    pub async fn post_raw(
        &mut self,
        path: &str,
        content_type: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut r = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_string());
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    pub async fn get_with(&mut self, path: &str, extra: &[(&str, &str)]) -> Page {
        let mut r = self.http.get(self.url(path));
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    pub fn csrf(&self) -> String {
        self.cookies
            .get("topup_csrf")
            .cloned()
            .expect("visit a page first: no CSRF cookie")
    }

    /// Signs a staff member in on the board.
    pub async fn staff_sign_in(&mut self, login: &str, password: &str) -> Page {
        self.get("/staff").await;
        self.submit(
            "/staff/sign-in",
            &[("login", login), ("password", password)],
        )
        .await
    }
}

/// A multipart slip form.
pub fn slip_form(
    csrf: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    if let Some(c) = csrf {
        form = form.text("csrf", c.to_string());
    }
    form.part(
        "slip",
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap(),
    )
}

/// The text a person sees on a page: no style sheet, no tags, entities read back.
pub fn visible_text(html: &str) -> String {
    let mut rest = html;
    let mut out = String::new();
    while let Some(i) = rest.find("<style") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</style>") {
            Some(j) => rest = &rest[i + j + 8..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    let mut text = String::new();
    let mut in_tag = false;
    for c in out.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&#x2f;", "/")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Basic auth header value for a staff member.
pub fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    )
}
