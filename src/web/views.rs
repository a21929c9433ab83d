//! Page rendering: the minijinja templates (embedded, HTML autoescape on, so
//! everything a customer wrote — company names, file names, reasons — is
//! escaped) and the page texts in English and Indonesian.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;

use crate::domain::Lang;

use super::error::WebError;

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
        Ok(())
    }

    /// Renders `name` with `ctx` as a page with `status`.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn page(
        &self,
        status: StatusCode,
        name: &str,
        ctx: serde_json::Value,
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
        let h = res.headers_mut();
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
        h.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        Ok(res)
    }
}

impl Default for Views {
    fn default() -> Self {
        Views::new()
    }
}

/// Page texts in `lang`, by key (`t.key` in templates).
pub fn texts(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    let pairs: &[(&str, &str, &str)] = &[
        ("order", "Order", "Pesanan"),
        ("status", "Status", "Status"),
        ("amount", "Amount", "Jumlah"),
        ("ordered", "Ordered", "Dipesan"),
        ("submitted", "Slip sent", "Bukti dikirim"),
        ("decided", "Decided", "Diputuskan"),
        ("reason", "Reason", "Alasan"),
        (
            "download_receipt",
            "Download receipt (PDF)",
            "Unduh kuitansi (PDF)",
        ),
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
        ("upload_button", "Send slip", "Kirim bukti"),
        ("amend_title", "Correct the amount", "Perbaiki jumlah"),
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
        ("slips", "Transfer slips", "Bukti transfer"),
        ("timeline", "History", "Riwayat"),
        ("cancel_title", "Cancel this order", "Batalkan pesanan ini"),
        (
            "cancel_hint",
            "Cancelling cannot be undone. Do not cancel if you already transferred money.",
            "Pembatalan tidak dapat diurungkan. Jangan batalkan jika Anda sudah mentransfer dana.",
        ),
        ("cancel_button", "Cancel order", "Batalkan pesanan"),
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
        ("ev_request", "Top-up requested", "Top-up diminta"),
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
        ("balance", "Balance", "Saldo"),
        ("signed_in_as", "Signed in as", "Masuk sebagai"),
        ("your_orders", "Your orders", "Pesanan Anda"),
        (
            "no_orders",
            "No orders yet. Email us to request a top-up.",
            "Belum ada pesanan. Kirim email kepada kami untuk meminta top-up.",
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
    ];
    pairs
        .iter()
        .map(|(k, en, id)| (*k, if lang == Lang::En { *en } else { *id }))
        .collect()
}

/// One text in `lang`.
pub fn text(lang: Lang, key: &str) -> String {
    texts(lang).get(key).copied().unwrap_or(key).to_string()
}

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
