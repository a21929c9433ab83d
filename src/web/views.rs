//! Page rendering: the minijinja templates (embedded, HTML autoescape on, so
//! everything a customer wrote — company names, file names, reasons — is
//! escaped), the page texts in English and Indonesian, the security headers
//! every page carries (error pages too), and which language a visitor reads:
//! a signed-in customer's or staff member's own setting, else the language
//! they picked (`topup_lang` cookie), else the order's account, else the
//! browser's `Accept-Language`, else `desk.default_lang`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;

use crate::domain::Lang;
use crate::domain::money::AmountError;

use super::AppState;
use super::error::WebError;
use super::session::{self, CUSTOMER_COOKIE, STAFF_COOKIE, SessionKind, cookie};

/// Cookie holding the language a visitor picked with the switch.
pub const LANG_COOKIE: &str = "topup_lang";

/// Marks a response that is a rendered page, so the error-page layer leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// The headers every page gets, error pages included: no caching, no
/// framing, no sniffing, and a policy that allows no script at all.
pub fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

/// The page templates.
#[derive(Debug)]
pub struct Views {
    env: Environment<'static>,
    /// Why the embedded templates did not load (a bug the unit tests catch); pages then fail with 500.
    broken: Option<String>,
}

impl Views {
    /// Loads the embedded templates. A template that does not parse is logged and
    /// makes every page answer 500 (the unit tests keep that from shipping).
    pub fn new() -> Views {
        let mut env = Environment::new();
        let broken = Self::load(&mut env).err().map(|e| format!("{e:#}"));
        if let Some(e) = &broken {
            tracing::error!("Web templates are broken: {e}");
        }
        Views { env, broken }
    }

    fn load(env: &mut Environment<'static>) -> Result<(), minijinja::Error> {
        // `.html` names get HTML escaping of every `{{ }}` (minijinja's default callback).
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.add_template("base.html", include_str!("templates/base.html"))?;
        env.add_template("status.html", include_str!("templates/status.html"))?;
        env.add_template("account.html", include_str!("templates/account.html"))?;
        env.add_template("staff.html", include_str!("templates/staff.html"))?;
        env.add_template("error.html", include_str!("templates/error.html"))?;
        Ok(())
    }

    /// Renders `name` with `ctx` and the page texts in `lang` (as `t`).
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn page_in(
        &self,
        status: StatusCode,
        name: &str,
        lang: Lang,
        ctx: impl serde::Serialize,
    ) -> Result<Response, WebError> {
        self.page_with(status, name, texts_value(lang), ctx)
    }

    /// Renders `name` with `ctx` and the texts `t` (a shared template value,
    /// such as [`texts_value`] or the staff board's labels).
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn page_with(
        &self,
        status: StatusCode,
        name: &str,
        t: minijinja::Value,
        ctx: impl serde::Serialize,
    ) -> Result<Response, WebError> {
        let ctx = minijinja::context! { t => t, ..minijinja::Value::from_serialize(ctx) };
        self.page(status, name, ctx)
    }

    /// Renders `name` with `ctx` as a page with `status`.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn page(
        &self,
        status: StatusCode,
        name: &str,
        ctx: impl serde::Serialize,
    ) -> Result<Response, WebError> {
        if let Some(e) = &self.broken {
            return Err(WebError::internal(anyhow::anyhow!(
                "Web templates are broken: {e}"
            )));
        }
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| WebError::internal(anyhow::anyhow!("Rendering {name} failed: {e:#}")))?;
        let mut res = (status, html).into_response();
        page_headers(res.headers_mut());
        res.extensions_mut().insert(Rendered);
        Ok(res)
    }
}

impl Default for Views {
    fn default() -> Self {
        Views::new()
    }
}

/// The language a visitor reads at `path` (see the module docs). `account`
/// is the language of the order or account the page is about, if any.
///
/// # Errors
/// Database errors.
pub async fn visitor_lang(
    st: &AppState,
    headers: &HeaderMap,
    path: &str,
    account: Option<Lang>,
) -> Result<Lang, WebError> {
    let d = &st.desk.settings().desk;
    let picked = cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c).ok());
    let now = st.desk.now();
    if path.starts_with("/staff") {
        if let Some(secret) = cookie(headers, STAFF_COOKIE)
            && let Some(id) =
                session::session_subject(st.desk.store(), SessionKind::Staff, &secret, now).await?
        {
            let mut conn = st.desk.store().pool().acquire().await?;
            if let Some(staff) = crate::store::accounts::staff_by_id(&mut conn, id).await? {
                return Ok(staff.lang_or(d.staff_lang));
            }
        }
        return Ok(picked.unwrap_or(d.staff_lang));
    }
    if let Some(secret) = cookie(headers, CUSTOMER_COOKIE)
        && let Some(id) =
            session::session_subject(st.desk.store(), SessionKind::Customer, &secret, now).await?
    {
        let mut conn = st.desk.store().pool().acquire().await?;
        if let Ok(user) = crate::store::accounts::user_by_id(&mut conn, id).await
            && user.removed_at.is_none()
        {
            let account = crate::store::accounts::account_by_id(&mut conn, user.account_id).await?;
            return Ok(user.lang_or(account.lang()));
        }
    }
    Ok(picked
        .or(account)
        .or_else(|| accept_language(headers))
        .unwrap_or(d.default_lang))
}

/// The first of Indonesian or English in the browser's `Accept-Language`.
pub fn accept_language(headers: &HeaderMap) -> Option<Lang> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    value.split(',').find_map(|part| {
        let tag = part.split(';').next()?.trim().to_ascii_lowercase();
        match tag.split('-').next()? {
            "id" | "in" => Some(Lang::Id),
            "en" => Some(Lang::En),
            _ => None,
        }
    })
}

/// Why an amount a person typed was not taken, in `lang`.
pub fn amount_problem(lang: Lang, typed: &str, e: &AmountError) -> String {
    let typed: String = typed.trim().chars().take(40).collect();
    match (e, lang) {
        (AmountError::Empty, Lang::Id) => {
            "Tuliskan jumlahnya, misalnya Rp 1.500.000 atau 1,5 juta.".into()
        }
        (AmountError::Empty, Lang::En) => {
            "Write the amount, for example IDR 1,500,000 or 1.5 million.".into()
        }
        (AmountError::NotPositive, Lang::Id) => "Jumlah harus lebih dari nol.".into(),
        (AmountError::NotPositive, Lang::En) => "The amount must be more than zero.".into(),
        (AmountError::TooLarge, Lang::Id) => format!("Jumlah \"{typed}\" terlalu besar."),
        (AmountError::TooLarge, Lang::En) => format!("The amount \"{typed}\" is too large."),
        (AmountError::TooPrecise(_), Lang::Id) => {
            format!("Jumlah \"{typed}\" memiliki lebih dari 2 angka desimal.")
        }
        (AmountError::TooPrecise(_), Lang::En) => {
            format!("The amount \"{typed}\" has more than 2 decimals.")
        }
        (_, Lang::Id) => format!(
            "\"{typed}\" tidak dapat dibaca sebagai jumlah. Tulis misalnya Rp 1.500.000 atau 1,5 juta."
        ),
        (_, Lang::En) => format!(
            "\"{typed}\" is not an amount we can read. Write it like IDR 1,500,000 or 1.5 million."
        ),
    }
}

/// Page texts in `lang`, by key (`t.key` in templates).
pub fn texts(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    PAIRS
        .iter()
        .map(|(k, en, id)| (*k, if lang == Lang::En { *en } else { *id }))
        .collect()
}

/// [`texts`] as a template value, built once per language: a page passes
/// it as `t` without copying a hundred texts on every render.
pub fn texts_value(lang: Lang) -> minijinja::Value {
    static TEXTS: PerLang = PerLang::new();
    TEXTS.get(lang, texts)
}

/// A template value per language, built on first use and shared after
/// (cloning a `minijinja::Value` map is a reference count).
pub struct PerLang {
    en: OnceLock<minijinja::Value>,
    id: OnceLock<minijinja::Value>,
}

impl Default for PerLang {
    fn default() -> Self {
        PerLang::new()
    }
}

impl PerLang {
    /// Nothing built yet.
    pub const fn new() -> Self {
        PerLang {
            en: OnceLock::new(),
            id: OnceLock::new(),
        }
    }

    /// The value for `lang`, built by `build` the first time.
    pub fn get<T: serde::Serialize>(&self, lang: Lang, build: fn(Lang) -> T) -> minijinja::Value {
        let cell = match lang {
            Lang::En => &self.en,
            Lang::Id => &self.id,
        };
        cell.get_or_init(|| minijinja::Value::from_serialize(build(lang)))
            .clone()
    }
}

/// One text in `lang` (the key itself when there is none).
pub fn text(lang: Lang, key: &str) -> String {
    known_text(lang, key).unwrap_or(key).to_string()
}

/// One text in `lang`, if there is one by that key.
pub fn known_text(lang: Lang, key: &str) -> Option<&'static str> {
    PAIRS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, id)| if lang == Lang::En { *en } else { *id })
}

/// Every page text: (key, English, Indonesian).
const PAIRS: &[(&str, &str, &str)] = &[
    // The order page (status link and account).
    ("order", "Order", "Pesanan"),
    ("order_number", "Order number", "Nomor Pesanan"),
    ("status", "Status", "Status"),
    ("amount", "Amount", "Jumlah"),
    ("ordered", "Ordered", "Dipesan"),
    ("submitted", "Slip sent", "Bukti dikirim"),
    ("decided", "Decided", "Diputuskan"),
    ("reason", "Reason", "Alasan"),
    ("requested_by", "Requested by", "Diminta oleh"),
    ("submitted_by", "Slip sent by", "Bukti dikirim oleh"),
    (
        "download_receipt",
        "Download receipt (PDF)",
        "Unduh kuitansi (PDF)",
    ),
    ("receipt", "Receipt", "Kuitansi"),
    ("pay_into", "Transfer to", "Transfer ke"),
    (
        "pay_hint",
        "Please transfer the exact amount and put the order number in the transfer note.",
        "Mohon transfer sesuai jumlah dan cantumkan nomor pesanan pada berita transfer.",
    ),
    (
        "upload_title",
        "Send your transfer slip",
        "Kirim bukti transfer",
    ),
    (
        "slip_file",
        "Photo or PDF of the transfer slip",
        "Foto atau PDF bukti transfer",
    ),
    (
        "slip_hint",
        "JPEG, PNG, WebP, HEIC or PDF",
        "JPEG, PNG, WebP, HEIC atau PDF",
    ),
    ("upload_button", "Submit", "Kirim"),
    ("amend_title", "Edit the amount", "Ubah jumlah"),
    (
        "amend_label",
        "The amount you transferred",
        "Jumlah yang Anda transfer",
    ),
    (
        "amend_hint",
        "For example Rp 1.500.000 or 1,5 juta. Our team checks the order again.",
        "Misalnya Rp 1.500.000 atau 1,5 juta. Tim kami akan memeriksa ulang pesanan.",
    ),
    (
        "amend_button",
        "Send corrected amount",
        "Kirim jumlah yang benar",
    ),
    ("edit", "Edit", "Ubah"),
    ("slips", "Transfer slips", "Bukti transfer"),
    ("timeline", "History", "Riwayat"),
    ("cancel_title", "Cancel this order", "Batalkan pesanan ini"),
    (
        "cancel_hint",
        "Cancelling cannot be undone. Do not cancel if you already transferred money.",
        "Pembatalan tidak dapat diurungkan. Jangan batalkan jika Anda sudah mentransfer dana.",
    ),
    ("cancel_button", "Cancel order", "Batalkan pesanan"),
    (
        "not_yours_hint",
        "Only the main user, or the user who requested this order or sent its slip, can edit or cancel it.",
        "Hanya pengguna utama, atau pengguna yang meminta pesanan ini atau mengirim buktinya, yang dapat mengubah atau membatalkannya.",
    ),
    ("help", "Questions? Write to", "Ada pertanyaan? Tulis ke"),
    (
        "explain_open",
        "We are waiting for your transfer slip.",
        "Kami menunggu bukti transfer Anda.",
    ),
    (
        "explain_dealing",
        "Your slip was received. Our team is checking the bank statement (usually within one working day).",
        "Bukti transfer sudah kami terima. Tim kami sedang memeriksa mutasi rekening (biasanya dalam satu hari kerja).",
    ),
    (
        "explain_paid",
        "The payment is confirmed and your balance has been credited.",
        "Pembayaran sudah dikonfirmasi dan saldo Anda sudah ditambahkan.",
    ),
    (
        "explain_payment_failure",
        "We could not confirm the payment. Send a new slip or correct the amount below.",
        "Pembayaran tidak dapat kami konfirmasi. Kirim bukti baru atau perbaiki jumlah di bawah.",
    ),
    (
        "explain_deleted",
        "This order was cancelled.",
        "Pesanan ini sudah dibatalkan.",
    ),
    (
        "explain_closed",
        "This order was closed because no slip arrived in time.",
        "Pesanan ini ditutup karena bukti transfer tidak diterima tepat waktu.",
    ),
    ("ev_request", "Top-up requested", "Top up diminta"),
    (
        "ev_slip",
        "Transfer slip received",
        "Bukti transfer diterima",
    ),
    ("ev_approve", "Payment confirmed", "Pembayaran dikonfirmasi"),
    (
        "ev_reject",
        "Payment not confirmed",
        "Pembayaran tidak dikonfirmasi",
    ),
    ("ev_amend", "Amount corrected", "Jumlah diperbaiki"),
    ("ev_cancel", "Cancelled", "Dibatalkan"),
    (
        "ev_confirm_timeout",
        "Not confirmed in time",
        "Tidak dikonfirmasi tepat waktu",
    ),
    (
        "ev_close_timeout",
        "Closed: no slip received",
        "Ditutup: bukti tidak diterima",
    ),
    ("team", "Receivables team", "Tim Receivables"),
    ("system", "System", "Sistem"),
    ("operator", "Our team", "Tim kami"),
    (
        "via_status_link",
        "through the status link",
        "lewat tautan status",
    ),
    (
        "corrected_amount",
        "Credited with a corrected amount",
        "Dikreditkan dengan jumlah yang dikoreksi",
    ),
    (
        "ok_slip",
        "Thank you, your slip was received. Our team will check it.",
        "Terima kasih, bukti transfer sudah diterima. Tim kami akan memeriksanya.",
    ),
    (
        "ok_amend",
        "The corrected amount was sent for review.",
        "Jumlah yang diperbaiki sudah dikirim untuk diperiksa.",
    ),
    (
        "ok_cancel",
        "The order was cancelled.",
        "Pesanan sudah dibatalkan.",
    ),
    (
        "no_file",
        "Choose a photo or PDF of the transfer slip first.",
        "Pilih foto atau PDF bukti transfer terlebih dahulu.",
    ),
    (
        "bad_type",
        "That file is not an image or a PDF. Send a photo or PDF of the transfer slip.",
        "Berkas itu bukan gambar atau PDF. Kirim foto atau PDF bukti transfer.",
    ),
    (
        "too_large",
        "That file is too large.",
        "Berkas terlalu besar.",
    ),
    // The top-up steps of the portal.
    ("step_amount", "Amount", "Jumlah"),
    ("step_pay", "Transfer", "Transfer"),
    ("step_upload", "Upload slip", "Unggah bukti"),
    ("step_dealing", "Checking", "Diperiksa"),
    ("step_paid", "Paid", "Lunas"),
    (
        "pay_step_hint",
        "Transfer the amount to the account below, then upload the transfer slip here.",
        "Transfer jumlah tersebut ke rekening di bawah, lalu unggah bukti transfer di sini.",
    ),
    // The account page.
    ("home", "Home", "Beranda"),
    ("balance", "Balance", "Saldo"),
    ("signed_in_as", "Signed in as", "Masuk sebagai"),
    ("role_main", "main user", "pengguna utama"),
    ("role_pic", "PIC", "PIC"),
    ("top_up", "Top Up", "Top Up"),
    (
        "custom_amount",
        "Customized amount",
        "Jumlah (Customized Amount)",
    ),
    (
        "custom_amount_hint",
        "Any amount, for example Rp 2.500.000, 2,5 juta or IDR 2,500,000.",
        "Jumlah berapa pun, misalnya Rp 2.500.000, 2,5 juta atau IDR 2,500,000.",
    ),
    ("payment_method", "Payment method", "Metode pembayaran"),
    (
        "method_transfer",
        "Remittance (bank transfer)",
        "Transfer bank (remittance)",
    ),
    ("next", "Next", "Lanjut"),
    (
        "bad_method",
        "Choose the payment method.",
        "Pilih metode pembayaran.",
    ),
    ("your_orders", "Orders", "Pesanan"),
    ("filter_status", "Status", "Status"),
    ("all_statuses", "All", "Semua"),
    ("only_mine", "Only mine", "Hanya milik saya"),
    ("filter", "Show", "Tampilkan"),
    ("actions", "Actions", "Aksi"),
    ("by", "By", "Oleh"),
    (
        "no_orders",
        "No orders yet. Start with Top Up above.",
        "Belum ada pesanan. Mulai dengan Top Up di atas.",
    ),
    (
        "no_orders_filtered",
        "No orders match this filter.",
        "Tidak ada pesanan yang cocok dengan filter ini.",
    ),
    (
        "back_to_orders",
        "Back to your orders",
        "Kembali ke daftar pesanan",
    ),
    ("users", "Users", "Pengguna"),
    (
        "users_hint",
        "PIC users can request top-ups and upload slips. Only you, the main user, can edit or cancel their orders and manage users.",
        "Pengguna PIC dapat meminta top up dan mengunggah bukti transfer. Hanya Anda, pengguna utama, yang dapat mengubah atau membatalkan pesanan mereka dan mengelola pengguna.",
    ),
    (
        "users_pic_hint",
        "Users are managed by the main user:",
        "Pengguna dikelola oleh pengguna utama:",
    ),
    ("name", "Name", "Nama"),
    ("role", "Role", "Peran"),
    ("add_pic", "Add a PIC user", "Tambah pengguna PIC"),
    ("pic_email", "Email address", "Alamat email"),
    ("pic_name", "Name", "Nama"),
    ("add_button", "Add user", "Tambah pengguna"),
    ("remove_button", "Remove", "Hapus"),
    (
        "ok_pic_added",
        "The PIC user was added. They can sign in with their email address.",
        "Pengguna PIC sudah ditambahkan. Mereka dapat masuk dengan alamat emailnya.",
    ),
    (
        "ok_pic_removed",
        "The user was removed.",
        "Pengguna sudah dihapus.",
    ),
    (
        "pic_taken",
        "That address is already registered.",
        "Alamat itu sudah terdaftar.",
    ),
    (
        "bad_email",
        "That is not an email address.",
        "Itu bukan alamat email.",
    ),
    (
        "need_name",
        "Write the user's name.",
        "Tuliskan nama pengguna.",
    ),
    (
        "only_main",
        "Only the main user can manage users.",
        "Hanya pengguna utama yang dapat mengelola pengguna.",
    ),
    ("profile", "Your name", "Nama Anda"),
    (
        "profile_hint",
        "Shown in our emails and to your colleagues.",
        "Ditampilkan di email kami dan kepada rekan Anda.",
    ),
    ("save", "Save", "Simpan"),
    (
        "ok_profile",
        "Your name was saved.",
        "Nama Anda sudah disimpan.",
    ),
    ("sign_out", "Sign out", "Keluar"),
    (
        "sign_in_title",
        "Sign in to your account",
        "Masuk ke akun Anda",
    ),
    ("email", "Your email address", "Alamat email Anda"),
    (
        "sign_in_hint",
        "We email you a link that signs you in. No password needed.",
        "Kami mengirim tautan untuk masuk ke email Anda. Tanpa kata sandi.",
    ),
    ("send_link", "Email me a sign-in link", "Kirim tautan masuk"),
    ("check_mail_title", "Check your email", "Periksa email Anda"),
    (
        "check_mail",
        "If this address is registered with us, a sign-in link is on its way. It works once, for 30 minutes.",
        "Jika alamat ini terdaftar, tautan untuk masuk sedang dikirim. Tautan hanya berlaku sekali, selama 30 menit.",
    ),
    (
        "confirm_sign_in",
        "Continue to your account page.",
        "Lanjutkan ke halaman akun Anda.",
    ),
    ("sign_in_button", "Sign in", "Masuk"),
    (
        "link_expired",
        "This sign-in link has expired or was already used. Ask for a new one below.",
        "Tautan masuk ini sudah kedaluwarsa atau sudah digunakan. Minta tautan baru di bawah.",
    ),
    ("status_page", "Order status", "Status pesanan"),
    ("account_page", "Account", "Akun"),
    ("language", "Language", "Bahasa"),
    // Error pages.
    (
        "err_back_account",
        "Back to your account page",
        "Kembali ke halaman akun",
    ),
    (
        "err_back_staff",
        "Back to the staff board",
        "Kembali ke papan staf",
    ),
    (
        "err_400",
        "This request could not be read",
        "Permintaan ini tidak dapat dibaca",
    ),
    (
        "err_400_text",
        "Something in the form was missing or not valid. Go back and try again.",
        "Ada isian formulir yang kosong atau tidak valid. Kembali dan coba lagi.",
    ),
    ("err_401", "Please sign in", "Silakan masuk"),
    (
        "err_401_text",
        "This page is only for people who are signed in.",
        "Halaman ini hanya untuk pengguna yang sudah masuk.",
    ),
    ("err_403", "Not allowed", "Tidak diizinkan"),
    (
        "err_403_text",
        "You may not do this here.",
        "Anda tidak dapat melakukan ini di sini.",
    ),
    ("err_404", "Page not found", "Halaman tidak ditemukan"),
    (
        "err_404_text",
        "There is nothing at this address. The link may be incomplete.",
        "Tidak ada apa pun di alamat ini. Tautannya mungkin tidak lengkap.",
    ),
    (
        "err_405",
        "Not possible here",
        "Tidak dapat dilakukan di sini",
    ),
    (
        "err_405_text",
        "This address does not accept that kind of request.",
        "Alamat ini tidak menerima permintaan seperti itu.",
    ),
    ("err_408", "This took too long", "Waktu habis"),
    ("err_408_text", "Please try again.", "Silakan coba lagi."),
    (
        "err_409",
        "This cannot be done now",
        "Ini tidak dapat dilakukan sekarang",
    ),
    (
        "err_409_text",
        "The order is not in a state that allows it.",
        "Status pesanan tidak memungkinkan hal ini.",
    ),
    ("err_413", "Too large", "Terlalu besar"),
    (
        "err_413_text",
        "What you sent is larger than we accept.",
        "Yang Anda kirim melebihi batas yang kami terima.",
    ),
    (
        "err_415",
        "Not a file we accept",
        "Bukan berkas yang kami terima",
    ),
    (
        "err_415_text",
        "Send a photo or PDF of the transfer slip.",
        "Kirim foto atau PDF bukti transfer.",
    ),
    (
        "err_422",
        "The form was incomplete",
        "Formulir belum lengkap",
    ),
    (
        "err_422_text",
        "Go back, fill in every field and try again.",
        "Kembali, isi semua kolom, lalu coba lagi.",
    ),
    ("err_429", "Too many attempts", "Terlalu banyak percobaan"),
    (
        "err_429_text",
        "Please wait a few minutes before trying again.",
        "Mohon tunggu beberapa menit sebelum mencoba lagi.",
    ),
    (
        "err_500",
        "Something went wrong on our side",
        "Terjadi gangguan di sistem kami",
    ),
    (
        "err_500_text",
        "Nothing was changed. Please try again later.",
        "Tidak ada yang diubah. Silakan coba lagi nanti.",
    ),
    (
        "err_form_expired",
        "This form has expired or did not come from this site. Reload the page and try again.",
        "Formulir ini sudah kedaluwarsa atau tidak berasal dari situs ini. Muat ulang halaman lalu coba lagi.",
    ),
    // The staff board.
    ("staff_board", "Staff board", "Papan staf"),
    ("staff_sign_in", "Staff sign-in", "Masuk staf"),
    ("login", "Name or email", "Nama atau email"),
    ("password", "Password", "Kata sandi"),
    (
        "wrong_password",
        "Wrong name or password.",
        "Nama atau kata sandi salah.",
    ),
    (
        "staff_sign_in_first",
        "Sign in on the staff board first.",
        "Masuk ke papan staf terlebih dahulu.",
    ),
    ("dealing_queue", "Dealing queue", "Antrean Dealing"),
    (
        "queue_empty",
        "Nothing to review. New submissions appear here, oldest first.",
        "Tidak ada yang perlu diperiksa. Pengiriman baru muncul di sini, yang terlama lebih dulu.",
    ),
    ("no_slip_file", "no slip file", "tidak ada berkas bukti"),
    ("full_size", "open full size", "buka ukuran penuh"),
    ("status_page_link", "status page", "halaman status"),
    ("amount_received", "Amount received", "Jumlah diterima"),
    ("blank_is", "blank =", "kosong ="),
    ("reject_because", "Reject because", "Tolak karena"),
    (
        "reason_amount_differs",
        "Amount differs from the slip",
        "Jumlah berbeda dengan bukti",
    ),
    (
        "reason_not_received",
        "Money not received",
        "Dana belum diterima",
    ),
    (
        "reason_other",
        "Other (write below)",
        "Lainnya (tulis di bawah)",
    ),
    (
        "reason_text",
        "Reason for the customer (for Other)",
        "Alasan untuk pelanggan (untuk Lainnya)",
    ),
    (
        "write_reason",
        "Write the reason the customer should read.",
        "Tuliskan alasan yang akan dibaca pelanggan.",
    ),
    ("recently_decided", "Recently decided", "Baru diputuskan"),
    ("decision", "Decision", "Keputusan"),
    ("no_decisions", "No decisions yet.", "Belum ada keputusan."),
    (
        "not_acted_on",
        "Messages not acted on",
        "Pesan yang tidak diproses",
    ),
    ("received", "Received", "Diterima"),
    ("from", "From", "Dari"),
    ("what_happened", "What happened", "Yang terjadi"),
    ("no_subject", "(no subject)", "(tanpa subjek)"),
    (
        "all_acted_on",
        "Every message was acted on.",
        "Semua pesan sudah diproses.",
    ),
    (
        "waiting_long",
        "Waiting long: decide before it fails automatically",
        "Menunggu lama: putuskan sebelum gagal otomatis",
    ),
    ("approved_msg", "Approved", "Disetujui"),
    ("rejected_msg", "Rejected", "Ditolak"),
    ("credited_msg", "credited", "dikreditkan"),
    (
        "customer_told",
        "the customer is told why",
        "pelanggan diberi tahu alasannya",
    ),
    ("user", "User", "Pengguna"),
    // The board's bank statement section.
    (
        "money_without_order",
        "Money without an order",
        "Dana masuk tanpa pesanan",
    ),
    ("line", "Line", "Baris"),
    ("date", "Date", "Tanggal"),
    ("remark", "Remark (berita)", "Berita"),
    ("one_of", "one of", "salah satu dari"),
    ("attach", "Attach", "Kaitkan"),
    (
        "attach_placeholder",
        "TU-... or company",
        "TU-... atau perusahaan",
    ),
    (
        "attach_label",
        "order or company for line",
        "pesanan atau perusahaan untuk baris",
    ),
    (
        "all_credits_matched",
        "Every credit on the imported statements belongs to an order.",
        "Setiap dana masuk pada mutasi yang diimpor sudah punya pesanan.",
    ),
    (
        "import_statement",
        "Import a bank statement (MT940, BCA, Mandiri, BNI, BRI CSV or Excel)",
        "Impor mutasi rekening (MT940, CSV atau Excel BCA, Mandiri, BNI, BRI)",
    ),
    ("import", "Import", "Impor"),
    ("imported_msg", "Imported", "Diimpor"),
    (
        "choose_statement",
        "Choose a statement file.",
        "Pilih berkas mutasi rekening.",
    ),
    (
        "statement_too_large",
        "A statement may be at most",
        "Mutasi rekening paling besar",
    ),
    (
        "name_order_or_company",
        "Name the order (TU-...) or the company the money is from.",
        "Sebutkan pesanan (TU-...) atau perusahaan pengirim dana.",
    ),
    ("statement_line", "Statement line", "Baris mutasi"),
    (
        "now_pays",
        "now pays {number}: approve it when you have checked it.",
        "kini membayar {number}: setujui setelah Anda memeriksanya.",
    ),
    (
        "paid_new_order",
        "paid new order {number}: {amount} credited.",
        "membayar pesanan baru {number}: {amount} dikreditkan.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_render() {
        let v = Views::new();
        assert!(v.broken.is_none(), "{:?}", v.broken);
        let res = v
            .page(
                StatusCode::OK,
                "account.html",
                serde_json::json!({
                    "lang": "en", "title": "x", "seller": "S", "csrf": "c", "t": texts(Lang::En),
                    "home": {"company": "<script>alert(1)</script>", "balance": "IDR 0", "user": "u", "orders": []},
                }),
            )
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn every_status_has_an_explanation_in_both_languages() {
        for lang in [Lang::En, Lang::Id] {
            let t = texts(lang);
            for s in crate::domain::order::OrderStatus::ALL {
                assert!(
                    t.contains_key(format!("explain_{}", s.as_str()).as_str()),
                    "{s}"
                );
            }
            for e in crate::domain::order::EventKind::ALL {
                assert!(t.contains_key(format!("ev_{}", e.as_str()).as_str()), "{e}");
            }
        }
    }
}
