//! The order status page by secret link (`/o/{token}`): where the order
//! stands, its history, bank details while it awaits payment, its slips,
//! and the actions the lifecycle allows now (upload a slip, correct the
//! amount, cancel). Every action goes through the desk as the order's user
//! on [`Channel::Web`]; a refusal re-renders the page with the desk's words.
//!
//! The token is the only credential: an unknown token gets a bare 404.

use axum::Extension;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use crate::desk::{Actor, Channel, OrderView};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::{EventKind, OrderStatus, transition};
use crate::domain::order_number::OrderNumber;

use super::AppState;
use super::error::WebError;
use super::session::{CsrfToken, Flash, FlashMessage};
use super::upload::{self, UploadProblem};
use super::views::{text, texts};

/// True when `token` looks like an order token (hex); anything else is a 404 without a query.
pub fn plausible_token(token: &str) -> bool {
    (16..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Loads the order behind a token.
///
/// # Errors
/// [`WebError::NotFound`] for an unknown token.
pub async fn load(st: &AppState, token: &str) -> Result<OrderView, WebError> {
    if !plausible_token(token) {
        return Err(WebError::NotFound);
    }
    Ok(st.desk.view_by_token(token).await?)
}

/// What the lifecycle allows the customer to do now.
pub fn actions(status: OrderStatus) -> Value {
    let can = |e| transition(Some(status), e).is_ok();
    json!({
        "upload": can(EventKind::Slip),
        "amend": can(EventKind::Amend),
        "cancel": can(EventKind::Cancel),
    })
}

/// The amount a customer reads: what was paid, else what was claimed.
pub fn amount_text(view: &OrderView, lang: Lang) -> String {
    view.order
        .paid_minor
        .or(view.order.amount_minor)
        .map(|m| Money::from_minor(m).display(lang))
        .unwrap_or_else(|| "—".into())
}

/// Whether a stored slip type is shown inline as an image.
pub fn is_image(content_type: &str) -> bool {
    content_type.starts_with("image/") && content_type != "image/heic"
}

fn order_number(st: &AppState, view: &OrderView) -> Result<OrderNumber, WebError> {
    st.desk
        .parse_order_number(&view.order.number)
        .map_err(|e| WebError::internal(anyhow::anyhow!("Stored order number is invalid: {e}")))
}

fn page_context(
    st: &AppState,
    view: &OrderView,
    token: &str,
    csrf: &str,
    flash: Option<FlashMessage>,
) -> Value {
    let lang = view.account.lang();
    let d = &st.desk;
    let o = &view.order;
    let status = o.status();
    let t = texts(lang);
    let events: Vec<Value> = view
        .events
        .iter()
        .filter(|e| e.event != "unauthorized")
        .map(|e| {
            let who = match e.actor_kind.as_str() {
                "staff" => e.actor.clone(),
                "system" => String::new(),
                _ => e.actor.clone(),
            };
            json!({
                "title": t.get(format!("ev_{}", e.event).as_str()).copied().unwrap_or(e.event.as_str()),
                "when": d.format_time(e.at),
                "who": who,
                "amount": e.amount_minor.map(|m| Money::from_minor(m).display(lang)),
                "reason": e.reason,
            })
        })
        .collect();
    let slips: Vec<Value> = view
        .slips
        .iter()
        .map(|s| {
            json!({
                "url": format!("/o/{token}/slips/{}", s.hash),
                "is_image": is_image(&s.content_type),
                "file_name": s.file_name,
            })
        })
        .collect();
    let banks = if matches!(status, OrderStatus::Open | OrderStatus::PaymentFailure) {
        json!(d.settings().desk.bank_accounts)
    } else {
        json!([])
    };
    json!({
        "lang": lang.code(),
        "title": format!("{} {}", text(lang, "status_page"), o.number),
        "seller": d.settings().desk.seller_name,
        "support": d.settings().desk.support_email,
        "csrf": csrf,
        "flash": flash,
        "t": t,
        "token": token,
        "o": {
            "number": o.number,
            "company": view.account.name,
            "status": status.as_str(),
            "status_name": status.display_name(lang),
            "status_en": status.display_name(Lang::En),
            "status_id": status.display_name(Lang::Id),
            "amount": amount_text(view, lang),
            "created": d.format_time(o.created_at),
            "submitted": o.submitted_at.map(|t| d.format_time(t)),
            "decided": o.decided_at.map(|t| d.format_time(t)),
            "reason": if status == OrderStatus::PaymentFailure { o.reason.clone() } else { None },
            "receipt_url": (status == OrderStatus::Paid).then(|| format!("/o/{token}/receipt.pdf")),
        },
        "banks": banks,
        "actions": actions(status),
        "slips": slips,
        "events": events,
        "max_upload": upload::human_size(d.settings().web.max_upload_bytes),
    })
}

fn render(
    st: &AppState,
    view: &OrderView,
    token: &str,
    csrf: &CsrfToken,
    flash: Option<FlashMessage>,
    status: StatusCode,
) -> Result<Response, WebError> {
    st.views.page(
        status,
        "status.html",
        page_context(st, view, token, &csrf.0, flash),
    )
}

/// `GET /o/{token}`.
///
/// # Errors
/// 404 for an unknown token.
pub async fn page(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    render(&st, &view, &token, &csrf, flash.0, StatusCode::OK)
}

/// After an action: success redirects with a flash; a refusal (4xx) re-renders the
/// page with the message and its status code; our own failures stay errors.
async fn finish(
    st: &AppState,
    token: &str,
    csrf: &CsrfToken,
    outcome: Result<&'static str, WebError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(ok_key) => {
            let view = load(st, token).await?;
            let msg = FlashMessage::ok(text(view.account.lang(), ok_key));
            let mut res = Redirect::to(&format!("/o/{token}")).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, msg.cookie(st.secure_cookies));
            Ok(res)
        }
        Err(WebError::Internal(e)) => Err(WebError::Internal(e)),
        Err(WebError::NotFound) => Err(WebError::NotFound),
        Err(e) => {
            let view = load(st, token).await?;
            render(
                st,
                &view,
                token,
                csrf,
                Some(FlashMessage::error(e.public_text())),
                e.status(),
            )
        }
    }
}

/// The order's user, who every web action is done as.
fn customer(view: &OrderView) -> Result<crate::store::accounts::UserRow, WebError> {
    view.user.clone().ok_or_else(|| {
        WebError::Conflict("this order has no customer user; ask us by email".into())
    })
}

/// Stores an uploaded slip and submits it for the order (shared with the API).
///
/// # Errors
/// Refusals from the desk; unsupported file types; bad amounts.
pub async fn submit_upload(
    st: &AppState,
    view: &OrderView,
    form: upload::SlipForm,
) -> Result<(), WebError> {
    let lang = view.account.lang();
    let (name, bytes) = form
        .file
        .ok_or_else(|| WebError::BadRequest(text(lang, "no_file")))?;
    let file = upload::slip_file(name, bytes, &text(lang, "bad_type"))?;
    let amount = match form.amount.as_deref() {
        Some(a) => Some(Money::parse(a).map_err(|e| WebError::BadRequest(format!("{a:?}: {e}")))?),
        None => None,
    };
    let user = customer(view)?;
    let number = order_number(st, view)?;
    // Files are content-addressed: one stored for a refused upload is harmless (desk docs).
    let stored = st.desk.store_slips(&[file]).await?;
    st.desk
        .submit_slip(&user, Some(&number), &stored, amount, Channel::Web, None)
        .await
        .map_err(|e| WebError::from_desk(e, lang))?;
    Ok(())
}

/// Amends the amount of a rejected order (shared with the API).
///
/// # Errors
/// Refusals from the desk; bad amounts.
pub async fn submit_amend(st: &AppState, view: &OrderView, amount: &str) -> Result<(), WebError> {
    let amount = Money::parse(amount.trim())
        .map_err(|e| WebError::BadRequest(format!("{:?}: {e}", amount.trim())))?;
    let user = customer(view)?;
    let number = order_number(st, view)?;
    st.desk
        .amend(&user, &number, amount, &[], Channel::Web, None)
        .await
        .map_err(|e| WebError::from_desk(e, view.account.lang()))?;
    Ok(())
}

/// Cancels the order (shared with the API).
///
/// # Errors
/// Refusals from the desk.
pub async fn submit_cancel(st: &AppState, view: &OrderView) -> Result<(), WebError> {
    let user = customer(view)?;
    let number = order_number(st, view)?;
    st.desk
        .cancel(&Actor::Customer(user), &number, None)
        .await
        .map_err(|e| WebError::from_desk(e, view.account.lang()))?;
    Ok(())
}

/// `POST /o/{token}/slip` (multipart: `csrf`, `slip`, optional `amount`).
///
/// # Errors
/// 404 for an unknown token, 403 without the CSRF field; refusals re-render the page.
pub async fn upload_slip(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Extension(csrf): Extension<CsrfToken>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    let lang = view.account.lang();
    let max = st.desk.settings().web.max_upload_bytes;
    let form = match form {
        Ok(f) => upload::read_slip_form(f, max).await,
        Err(e) => Err(UploadProblem::Malformed(e.body_text())),
    };
    let outcome = match form {
        Ok(f) => {
            csrf.check(f.csrf.as_deref())?;
            submit_upload(&st, &view, f).await.map(|()| "ok_slip")
        }
        Err(UploadProblem::TooLarge) => Err(WebError::TooLarge(format!(
            "{} (max {})",
            text(lang, "too_large"),
            upload::human_size(max)
        ))),
        Err(UploadProblem::Malformed(m)) => Err(WebError::BadRequest(m)),
    };
    finish(&st, &token, &csrf, outcome).await
}

/// The amend form.
#[derive(Debug, serde::Deserialize)]
pub struct AmendForm {
    csrf: Option<String>,
    amount: String,
}

/// `POST /o/{token}/amend` (`csrf`, `amount`).
///
/// # Errors
/// 404 for an unknown token, 403 without the CSRF field; refusals re-render the page.
pub async fn amend(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<AmendForm>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    csrf.check(form.csrf.as_deref())?;
    let outcome = submit_amend(&st, &view, &form.amount)
        .await
        .map(|()| "ok_amend");
    finish(&st, &token, &csrf, outcome).await
}

/// A form with only the CSRF field.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /o/{token}/cancel` (`csrf`).
///
/// # Errors
/// 404 for an unknown token, 403 without the CSRF field; refusals re-render the page.
pub async fn cancel(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    csrf.check(form.csrf.as_deref())?;
    let outcome = submit_cancel(&st, &view).await.map(|()| "ok_cancel");
    finish(&st, &token, &csrf, outcome).await
}

/// Serves a stored slip file with a type decided by its bytes.
///
/// # Errors
/// 404 when the file is gone.
pub async fn slip_response(
    st: &AppState,
    hash: &str,
    file_name: &str,
) -> Result<Response, WebError> {
    let bytes = st.desk.slips().get(hash).await.map_err(|e| match e {
        crate::store::slips::SlipError::NotFound(_)
        | crate::store::slips::SlipError::BadHash(_) => WebError::NotFound,
        other => WebError::internal(anyhow::anyhow!("Reading slip {hash} failed: {other}")),
    })?;
    let kind = upload::sniff(&bytes).unwrap_or("application/octet-stream");
    let disposition = if kind == "application/octet-stream" {
        "attachment"
    } else {
        "inline"
    };
    let safe_name: String = file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(80)
        .collect();
    let safe_name = if safe_name.is_empty() {
        "slip".to_string()
    } else {
        safe_name
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{safe_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if kind.starts_with("image/") {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
    }
    Ok(res)
}

/// `GET /o/{token}/slips/{hash}`: only a slip of this order.
///
/// # Errors
/// 404 for an unknown token or a hash that is not this order's.
pub async fn slip(
    State(st): State<AppState>,
    Path((token, hash)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    let s = view
        .slips
        .iter()
        .find(|s| s.hash == hash)
        .ok_or(WebError::NotFound)?;
    slip_response(&st, &s.hash, &s.file_name).await
}

/// `GET /o/{token}/receipt.pdf`: the receipt of a paid order.
///
/// # Errors
/// 404 for an unknown token, 409 when the order is not paid.
pub async fn receipt(
    State(st): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    let number = order_number(&st, &view)?;
    let pdf = crate::outbox::deliver::receipt_for(&st.desk, &number)
        .await
        .map_err(|e| WebError::from_desk(e, view.account.lang()))?;
    let mut res = pdf.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"receipt-{}.pdf\"",
        view.order.number
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
