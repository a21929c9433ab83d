//! [`WebError`]: the one error type of the web layer, and how errors are shown.
//!
//! Every error a person meets is a real page ([`error_pages`], a layer over
//! every route): the site header, what happened and what to do in the
//! visitor's language, a way back, and the same security headers as every
//! other page. That covers our own errors and the framework's (an unknown
//! path, a wrong method, a form that does not parse). Under `/api/` every
//! error is JSON `{"error": "..."}` instead, whatever produced it (wrap our
//! own in [`ApiError`]). The texts of 4xx errors are what the person is told;
//! a 5xx body is always generic and the cause is logged here, never sent.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::session::CsrfToken;
use super::views::{Rendered, page_headers, text, visitor_lang};
use crate::desk::DeskError;
use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Nothing here (unknown token, order or file). Says nothing more on purpose.
    #[error("not found")]
    NotFound,
    /// The request is malformed (bad amount, missing field).
    #[error("{0}")]
    BadRequest(String),
    /// Credentials are missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The form's CSRF field is missing or wrong (an old page, or another site).
    #[error("This form has expired or did not come from this site. Reload the page and try again.")]
    FormExpired,
    /// The lifecycle refused the action or another decision won the race.
    #[error("{0}")]
    Conflict(String),
    /// The upload is larger than `web.max_upload_bytes`.
    #[error("{0}")]
    TooLarge(String),
    /// The upload is not an image or a PDF.
    #[error("{0}")]
    Unsupported(String),
    /// Too many failed sign-ins for one name: wait before trying again.
    #[error("{0}")]
    TooManyAttempts(String),
    /// Our fault; the cause is logged, the person sees a generic text.
    #[error("something went wrong on our side; please try again later")]
    Internal(#[source] anyhow::Error),
}

impl WebError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) | WebError::FormExpired => StatusCode::FORBIDDEN,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The text a person may be shown (generic for 5xx).
    pub fn public_text(&self) -> String {
        self.to_string()
    }

    fn log(&self) {
        if let WebError::Internal(cause) = self {
            tracing::error!("Web request failed: {cause:#}");
        }
    }

    /// Wraps any internal failure.
    pub fn internal(e: impl Into<anyhow::Error>) -> WebError {
        WebError::Internal(e.into())
    }
}

/// A desk error told to staff: their words, which name staff members.
impl From<DeskError> for WebError {
    fn from(e: DeskError) -> Self {
        let text = e.to_string();
        match e {
            DeskError::UnknownOrder(_) => WebError::NotFound,
            DeskError::NotYours(_) | DeskError::NotAllowed(_) => WebError::Forbidden(text),
            DeskError::Refused(_) | DeskError::LostRace(_) => WebError::Conflict(text),
            DeskError::Invalid(_) => WebError::BadRequest(text),
            DeskError::Store(s) => WebError::Internal(s.into()),
            DeskError::Internal(e) => WebError::Internal(e),
        }
    }
}

impl WebError {
    /// A desk refusal told to a customer, in `lang` (never naming staff).
    pub fn from_desk(e: DeskError, lang: crate::domain::Lang) -> WebError {
        let text = e.localized(lang);
        match e {
            DeskError::UnknownOrder(_) => WebError::NotFound,
            DeskError::NotYours(_) | DeskError::NotAllowed(_) => WebError::Forbidden(text),
            DeskError::Refused(_) | DeskError::LostRace(_) => WebError::Conflict(text),
            DeskError::Invalid(_) => WebError::BadRequest(text),
            DeskError::Store(s) => WebError::Internal(s.into()),
            DeskError::Internal(e) => WebError::Internal(e),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => WebError::NotFound,
            other => WebError::Internal(other.into()),
        }
    }
}

impl From<sqlx::Error> for WebError {
    fn from(e: sqlx::Error) -> Self {
        WebError::Internal(e.into())
    }
}

/// What the error-page layer needs to know about one of our errors.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// The text a person may be shown (already generic for 5xx).
    pub text: String,
    /// The text is the form-expired message (shown in the visitor's language).
    pub form_expired: bool,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let info = ErrorInfo {
            text: self.public_text(),
            form_expired: matches!(self, WebError::FormExpired),
        };
        let mut res = (status, minimal_page(status, &info.text)).into_response();
        page_headers(res.headers_mut());
        res.extensions_mut().insert(info);
        res
    }
}

/// A page of its own with nothing but the message, escaped by hand (no
/// template: it must work even when rendering is what failed).
fn minimal_page(status: StatusCode, message: &str) -> String {
    let title = status.canonical_reason().unwrap_or("Error");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body style=\"font-family:system-ui,sans-serif;\
         max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f2933\">\
         <h1 style=\"font-size:1.4rem\">{title}</h1><p>{}</p><p><a href=\"/account\">&larr;</a></p></body></html>",
        html_escape(message)
    )
}

/// Layer: turns every error response that is not already a rendered page
/// into the site's error page in the visitor's language, and every error
/// under `/api/` into JSON.
pub async fn error_pages(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let csrf = req
        .extensions()
        .get::<CsrfToken>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let status = res.status();
    if status.as_u16() < 400 || res.extensions().get::<Rendered>().is_some() {
        return res;
    }
    let info = res.extensions().get::<ErrorInfo>().cloned();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if info.is_none() && content_type.starts_with("application/json") {
        // Already what its caller reads (the API, /healthz).
        return res;
    }
    if path.starts_with("/api/") {
        if content_type.starts_with("application/json") {
            return res;
        }
        let (parts, body) = res.into_parts();
        let message = match info {
            Some(i) => i.text,
            None => {
                // The framework's own rejection text, when it wrote one.
                let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
                let t = String::from_utf8_lossy(&bytes).trim().to_string();
                if t.is_empty() || status.is_server_error() {
                    status.canonical_reason().unwrap_or("error").to_lowercase()
                } else {
                    t
                }
            }
        };
        let mut out = (status, Json(json!({ "error": message }))).into_response();
        for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ALLOW] {
            if let Some(v) = parts.headers.get(&name) {
                out.headers_mut().insert(name, v.clone());
            }
        }
        return out;
    }
    let lang = match visitor_lang(&st, &headers, &path, None).await {
        Ok(l) => l,
        Err(_) => st.desk.settings().desk.default_lang,
    };
    let code = status.as_u16();
    let known = [400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500];
    let key = if known.contains(&code) {
        format!("err_{code}")
    } else if status.is_server_error() {
        "err_500".into()
    } else {
        "err_400".into()
    };
    // Our own 4xx texts are specific and already in the visitor's words; the
    // framework's rejections and generic texts are replaced by ours.
    let detail = match &info {
        Some(i) if i.form_expired => Some(text(lang, "err_form_expired")),
        Some(i) if !status.is_server_error() && code != 404 => Some(i.text.clone()),
        _ => None,
    };
    let staff = path.starts_with("/staff");
    let (back, back_text) = if staff {
        ("/staff", text(lang, "err_back_staff"))
    } else {
        ("/account", text(lang, "err_back_account"))
    };
    let ctx = json!({
        "lang": lang.code(),
        "title": text(lang, &key),
        "seller": st.desk.settings().desk.seller_name,
        "csrf": csrf,
        "path": path,
        "wide": staff,
        "error": {
            "code": code,
            "title": text(lang, &key),
            "text": text(lang, &format!("{key}_text")),
            "detail": detail,
            "back": back,
            "back_text": back_text,
        },
    });
    let (parts, _) = res.into_parts();
    match st.views.page_in(status, "error.html", lang, ctx) {
        Ok(mut page) => {
            for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ALLOW] {
                if let Some(v) = parts.headers.get(&name) {
                    page.headers_mut().insert(name, v.clone());
                }
            }
            page
        }
        Err(e) => {
            e.log();
            let mut r = (status, minimal_page(status, &text(lang, &key))).into_response();
            page_headers(r.headers_mut());
            r
        }
    }
}

/// A [`WebError`] answered as JSON `{"error": "..."}` (the API).
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let status = self.0.status();
        // No `WWW-Authenticate: Basic` on a 401: a browser would prompt for the
        // password and then send it with every request to this site, cross-site
        // form posts included. API clients send Basic credentials unasked.
        (
            status,
            Json(serde_json::json!({ "error": self.0.public_text() })),
        )
            .into_response()
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desk_refusals_are_conflicts_and_unknown_orders_say_nothing() {
        let e: WebError =
            DeskError::Refused("cannot cancel order X: it is already paid".into()).into();
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert!(e.public_text().contains("already paid"));
        let e: WebError = DeskError::UnknownOrder("TU-20260101-0001".into()).into();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.public_text(), "not found");
        let e: WebError = DeskError::Internal(anyhow::anyhow!("disk /secret/path full")).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.public_text().contains("secret"));
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
