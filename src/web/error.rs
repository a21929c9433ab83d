//! [`WebError`]: the one error type of the web layer, and how it is shown.
//!
//! Pages get a short plain page, the JSON API gets `{"error": "..."}` (wrap
//! the error in [`ApiError`]). The texts of 4xx errors are what the person
//! is told (desk refusals name who decided and when); a 5xx body is always
//! generic and the cause is logged here, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
    /// Signed in, but not allowed (or the CSRF token is missing).
    #[error("{0}")]
    Forbidden(String),
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
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
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

impl From<DeskError> for WebError {
    fn from(e: DeskError) -> Self {
        WebError::from_desk(e, crate::domain::Lang::En)
    }
}

impl WebError {
    /// A desk refusal, told in `lang` (the customer's pages speak the account's language).
    pub fn from_desk(e: DeskError, lang: crate::domain::Lang) -> WebError {
        let text = e.localized(lang);
        match e {
            DeskError::UnknownOrder(_) => WebError::NotFound,
            DeskError::NotYours(_) => WebError::Forbidden(text),
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

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        // A page of its own with nothing but the message, escaped by hand (no template:
        // this must work even when rendering is what failed).
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body style=\"font-family:system-ui,sans-serif;\
             max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f2933\">\
             <h1 style=\"font-size:1.4rem\">{title}</h1><p>{}</p></body></html>",
            html_escape(&self.public_text())
        );
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        res
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
