//! The order status page by secret link (`/o/{token}`): where the order
//! stands, its history, bank details while it awaits payment, its slips,
//! and the actions the lifecycle allows now (upload a slip, correct the
//! amount, cancel). The same page, context and actions serve the account
//! portal's order page (`/account/orders/{number}`, see [`super::account`]).
//!
//! Who acts: a visitor signed in as a user of the order's account acts as
//! that user ([`Channel::Web`]); anyone else holding the link acts as the
//! order's creator, recorded as done through the status link
//! ([`Channel::StatusLink`]). The desk decides what each may do; a refusal
//! re-renders the page with the desk's words in the page's language.
//!
//! The token is the only credential: an unknown token gets a 404 page that
//! says nothing about orders.

use axum::Extension;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use crate::desk::{Actor, Channel, OrderView, RejectReason};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::{EventKind, OrderStatus, transition};
use crate::domain::order_number::OrderNumber;
use crate::store::accounts::UserRow;

use super::AppState;
use super::error::WebError;
use super::session::{CsrfToken, Flash, FlashMessage};
use super::upload::{self, UploadProblem};
use super::views::{amount_problem, known_text, text, visitor_lang};

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

/// Who is looking at an order page, and how their actions are recorded.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The user actions are done as.
    pub user: UserRow,
    /// [`Channel::Web`] for a signed-in user, [`Channel::StatusLink`] for the link alone.
    pub channel: Channel,
    /// The language of the page.
    pub lang: Lang,
}

/// The visitor of an order page: the signed-in user of the order's account,
/// else the order's creator through the status link.
///
/// # Errors
/// 409 when the order has no user; database errors.
pub async fn visitor(
    st: &AppState,
    headers: &axum::http::HeaderMap,
    view: &OrderView,
    path: &str,
) -> Result<Visitor, WebError> {
    let lang = visitor_lang(st, headers, path, Some(view.account.lang())).await?;
    if let Some(u) = super::account::signed_in_user(st, headers).await?
        && u.account_id == view.account.id
    {
        return Ok(Visitor {
            user: u,
            channel: Channel::Web,
            lang,
        });
    }
    let user = view
        .user
        .clone()
        .ok_or_else(|| WebError::Conflict(text(lang, "err_409_text")))?;
    Ok(Visitor {
        user,
        channel: Channel::StatusLink,
        lang,
    })
}

/// A timeline note in `lang`: known reasons by their code, free text as written.
fn event_note(st: &AppState, e: &crate::store::orders::EventRow, lang: Lang) -> Option<String> {
    let note = match e.reason_code.as_str() {
        "amount_differs" => Some(RejectReason::AmountDiffers.text(lang)),
        "not_received" => Some(RejectReason::NotReceived.text(lang)),
        "confirm_timeout" => Some(st.desk.timeout_reason(EventKind::ConfirmTimeout, lang)),
        "close_timeout" => Some(st.desk.timeout_reason(EventKind::CloseTimeout, lang)),
        "corrected_amount" => Some(text(lang, "corrected_amount")),
        _ => e.reason.clone(),
    };
    note.filter(|n| !n.trim().is_empty())
}

/// Everything an order page shows. `base` is where its forms post
/// (`/o/{token}` or `/account/orders/{number}`); `portal` adds the top-up
/// steps and the way back to the account page.
#[allow(clippy::too_many_arguments)]
pub async fn page_context(
    st: &AppState,
    view: &OrderView,
    who: &Visitor,
    base: &str,
    portal: bool,
    csrf: &str,
    flash: Option<FlashMessage>,
) -> Result<Value, WebError> {
    let lang = who.lang;
    let d = &st.desk;
    let o = &view.order;
    let status = o.status();
    let names: std::collections::HashMap<i64, String> = view
        .users
        .iter()
        .map(|u| (u.id, u.display_name()))
        .collect();
    let events: Vec<Value> = view
        .events
        .iter()
        .filter(|e| e.event != "unauthorized")
        .map(|e| {
            // Customers never read staff names: staff decisions are the team's.
            let who = match e.actor_kind.as_str() {
                "staff" => text(lang, "team"),
                "system" => text(lang, "system"),
                "operator" => text(lang, "operator"),
                _ => e
                    .user_id
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| e.actor.clone()),
            };
            json!({
                "title": known_text(lang, &format!("ev_{}", e.event)).unwrap_or(e.event.as_str()),
                "when": d.format_time(e.at),
                "who": who,
                "via": (e.via == "status_link").then(|| text(lang, "via_status_link")),
                "amount": e.amount_minor.map(|m| Money::from_minor(m).display(lang)),
                "note": event_note(st, e, lang),
            })
        })
        .collect();
    let slips: Vec<Value> = view
        .slips
        .iter()
        .map(|s| {
            json!({
                "url": format!("{base}/slips/{}", s.hash),
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
    // A decision is shown only while it is the order's current state: an order
    // back in review has no decision yet, and an old rejection is not the
    // reason of a later decision.
    let decided_now = matches!(status, OrderStatus::Paid | OrderStatus::PaymentFailure);
    let reason = if status == OrderStatus::PaymentFailure {
        let latest = view
            .events
            .iter()
            .rev()
            .find(|e| e.to_status.as_deref() == Some(OrderStatus::PaymentFailure.as_str()));
        latest
            .and_then(|e| event_note(st, e, lang))
            .or_else(|| o.reason.clone().filter(|r| !r.trim().is_empty()))
    } else {
        None
    };
    let may_change = d.may_change(&who.user, o).await?;
    let lifecycle = actions(status);
    let mut allowed = lifecycle.clone();
    if !may_change && let Some(a) = allowed.as_object_mut() {
        a.insert("amend".into(), json!(false));
        a.insert("cancel".into(), json!(false));
    }
    let not_yours = !may_change && (lifecycle["amend"] == true || lifecycle["cancel"] == true);
    Ok(json!({
        "lang": lang.code(),
        "title": format!("{} {}", text(lang, "status_page"), o.number),
        "seller": d.settings().desk.seller_name,
        "support": d.settings().desk.support_email,
        "csrf": csrf,
        "path": base,
        "flash": flash,
        "base": base,
        "portal": portal,
        "not_yours": not_yours,
        "o": {
            "number": o.number,
            "company": view.account.name,
            "status": status.as_str(),
            "status_name": status.display_name(lang),
            "status_en": status.display_name(Lang::En),
            "status_id": status.display_name(Lang::Id),
            "amount": amount_text(view, lang),
            // With `desk.unique_code`: the exact sum to transfer (amount plus code).
            "transfer": view.transfer_minor.map(|m| Money::from_minor(m).display(lang)),
            "created": d.format_time(o.created_at),
            "requested_by": view.user.as_ref().map(UserRow::display_name),
            "submitted": o.submitted_at.map(|t| d.format_time(t)),
            "submitted_by": view.submitter.as_ref().map(UserRow::display_name),
            "decided": o.decided_at.filter(|_| decided_now).map(|t| d.format_time(t)),
            "reason": reason,
            "receipt_url": (status == OrderStatus::Paid).then(|| format!("{base}/receipt.pdf")),
        },
        "banks": banks,
        "actions": allowed,
        "slips": slips,
        "events": events,
        "max_upload": upload::human_size(d.settings().web.max_upload_bytes),
    }))
}

/// Renders an order page.
#[allow(clippy::too_many_arguments)]
pub async fn render_order(
    st: &AppState,
    view: &OrderView,
    who: &Visitor,
    base: &str,
    portal: bool,
    csrf: &CsrfToken,
    flash: Option<FlashMessage>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let ctx = page_context(st, view, who, base, portal, &csrf.0, flash).await?;
    st.views.page_in(status, "status.html", who.lang, ctx)
}

/// `GET /o/{token}`.
///
/// # Errors
/// 404 for an unknown token.
pub async fn page(
    State(st): State<AppState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    if !plausible_token(&token) {
        return Err(WebError::NotFound);
    }
    let view = st.desk.page_view_by_token(&token).await?;
    let base = format!("/o/{token}");
    let who = visitor(&st, &headers, &view, &base).await?;
    render_order(
        &st,
        &view,
        &who,
        &base,
        false,
        &csrf,
        flash.0,
        StatusCode::OK,
    )
    .await
}

/// After an action: success redirects back to the page with a flash; a
/// refusal (4xx) re-renders the page with the message and its status code;
/// our own failures stay errors.
///
/// # Errors
/// Internal errors and a vanished order.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    st: &AppState,
    view: &OrderView,
    who: &Visitor,
    base: &str,
    portal: bool,
    csrf: &CsrfToken,
    outcome: Result<&'static str, WebError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(ok_key) => {
            let msg = FlashMessage::ok(text(who.lang, ok_key));
            let mut res = Redirect::to(base).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, msg.cookie(st.secure_cookies));
            Ok(res)
        }
        Err(e @ (WebError::Internal(_) | WebError::NotFound | WebError::FormExpired)) => Err(e),
        Err(e) => {
            let number = order_number(st, view)?;
            let view = st.desk.view(&number).await?;
            render_order(
                st,
                &view,
                who,
                base,
                portal,
                csrf,
                Some(FlashMessage::error(e.public_text())),
                e.status(),
            )
            .await
        }
    }
}

/// The order's creator: who the API and an anonymous status link act as.
fn creator(view: &OrderView) -> Result<UserRow, WebError> {
    view.user.clone().ok_or_else(|| {
        WebError::Conflict("this order has no customer user; ask us by email".into())
    })
}

/// The creator acting through the status link, in the account's language (the API).
fn by_link(view: &OrderView) -> Result<Visitor, WebError> {
    Ok(Visitor {
        user: creator(view)?,
        channel: Channel::StatusLink,
        lang: view.account.lang(),
    })
}

/// Stores an uploaded slip and submits it as the order's creator through the
/// status link (the API).
///
/// # Errors
/// Refusals from the desk; unsupported file types; bad amounts.
pub async fn submit_upload(
    st: &AppState,
    view: &OrderView,
    form: upload::SlipForm,
) -> Result<(), WebError> {
    submit_upload_as(st, view, &by_link(view)?, form).await
}

/// Stores an uploaded slip and submits it for the order as `who`.
///
/// # Errors
/// Refusals from the desk; unsupported file types; bad amounts.
pub async fn submit_upload_as(
    st: &AppState,
    view: &OrderView,
    who: &Visitor,
    form: upload::SlipForm,
) -> Result<(), WebError> {
    let lang = who.lang;
    let (name, bytes) = form
        .file
        .ok_or_else(|| WebError::BadRequest(text(lang, "no_file")))?;
    let file = upload::slip_file(name, bytes, &text(lang, "bad_type"))?;
    let amount = match form.amount.as_deref() {
        Some(a) => {
            Some(Money::parse(a).map_err(|e| WebError::BadRequest(amount_problem(lang, a, &e)))?)
        }
        None => None,
    };
    let number = order_number(st, view)?;
    // Files are content-addressed: one stored for a refused upload is harmless (desk docs).
    let stored = st.desk.store_slips(&[file]).await?;
    st.desk
        .submit_slip(&who.user, Some(&number), &stored, amount, who.channel, None)
        .await
        .map_err(|e| WebError::from_desk(e, lang))?;
    Ok(())
}

/// Amends a rejected order as its creator through the status link (the API).
///
/// # Errors
/// Refusals from the desk; bad amounts.
pub async fn submit_amend(st: &AppState, view: &OrderView, amount: &str) -> Result<(), WebError> {
    submit_amend_as(st, view, &by_link(view)?, amount).await
}

/// Amends the amount of a rejected order as `who`.
///
/// # Errors
/// Refusals from the desk; bad amounts (told in the page's language).
pub async fn submit_amend_as(
    st: &AppState,
    view: &OrderView,
    who: &Visitor,
    amount: &str,
) -> Result<(), WebError> {
    let amount = Money::parse(amount.trim())
        .map_err(|e| WebError::BadRequest(amount_problem(who.lang, amount, &e)))?;
    let number = order_number(st, view)?;
    st.desk
        .amend(&who.user, &number, amount, &[], who.channel, None)
        .await
        .map_err(|e| WebError::from_desk(e, who.lang))?;
    Ok(())
}

/// Cancels the order as its creator through the status link (the API).
///
/// # Errors
/// Refusals from the desk.
pub async fn submit_cancel(st: &AppState, view: &OrderView) -> Result<(), WebError> {
    submit_cancel_as(st, view, &by_link(view)?).await
}

/// Cancels the order as `who`.
///
/// # Errors
/// Refusals from the desk.
pub async fn submit_cancel_as(
    st: &AppState,
    view: &OrderView,
    who: &Visitor,
) -> Result<(), WebError> {
    let number = order_number(st, view)?;
    st.desk
        .cancel_on(
            &Actor::Customer(who.user.clone()),
            &number,
            None,
            who.channel,
        )
        .await
        .map_err(|e| WebError::from_desk(e, who.lang))?;
    Ok(())
}

/// Reads a multipart slip form; framing problems become errors in `lang`.
///
/// # Errors
/// 413 too large, 400 malformed.
pub async fn read_upload(
    st: &AppState,
    form: Result<Multipart, MultipartRejection>,
    lang: Lang,
) -> Result<upload::SlipForm, WebError> {
    let max = st.desk.settings().web.max_upload_bytes;
    let form = match form {
        Ok(f) => upload::read_slip_form(f, max).await,
        Err(e) => Err(UploadProblem::Malformed(e.body_text())),
    };
    match form {
        Ok(f) => Ok(f),
        Err(UploadProblem::TooLarge) => Err(WebError::TooLarge(format!(
            "{} (max {})",
            text(lang, "too_large"),
            upload::human_size(max)
        ))),
        Err(UploadProblem::Malformed(m)) => Err(WebError::BadRequest(m)),
    }
}

/// `POST /o/{token}/slip` (multipart: `csrf`, `slip`, optional `amount`).
///
/// # Errors
/// 404 for an unknown token, 403 without the CSRF field; refusals re-render the page.
pub async fn upload_slip(
    State(st): State<AppState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    let base = format!("/o/{token}");
    let who = visitor(&st, &headers, &view, &base).await?;
    let outcome = match read_upload(&st, form, who.lang).await {
        Ok(f) => {
            csrf.check(f.csrf.as_deref())?;
            submit_upload_as(&st, &view, &who, f)
                .await
                .map(|()| "ok_slip")
        }
        Err(e) => Err(e),
    };
    finish(&st, &view, &who, &base, false, &csrf, outcome).await
}

/// The amend form.
#[derive(Debug, serde::Deserialize)]
pub struct AmendForm {
    /// The CSRF field.
    pub csrf: Option<String>,
    /// The amount as typed.
    #[serde(default)]
    pub amount: String,
}

/// `POST /o/{token}/amend` (`csrf`, `amount`).
///
/// # Errors
/// 404 for an unknown token, 403 without the CSRF field; refusals re-render the page.
pub async fn amend(
    State(st): State<AppState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<AmendForm>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    csrf.check(form.csrf.as_deref())?;
    let base = format!("/o/{token}");
    let who = visitor(&st, &headers, &view, &base).await?;
    let outcome = submit_amend_as(&st, &view, &who, &form.amount)
        .await
        .map(|()| "ok_amend");
    finish(&st, &view, &who, &base, false, &csrf, outcome).await
}

/// A form with only the CSRF field.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    /// The CSRF field.
    pub csrf: Option<String>,
}

/// `POST /o/{token}/cancel` (`csrf`).
///
/// # Errors
/// 404 for an unknown token, 403 without the CSRF field; refusals re-render the page.
pub async fn cancel(
    State(st): State<AppState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    csrf.check(form.csrf.as_deref())?;
    let base = format!("/o/{token}");
    let who = visitor(&st, &headers, &view, &base).await?;
    let outcome = submit_cancel_as(&st, &view, &who)
        .await
        .map(|()| "ok_cancel");
    finish(&st, &view, &who, &base, false, &csrf, outcome).await
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
    headers: axum::http::HeaderMap,
) -> Result<Response, WebError> {
    let view = load(&st, &token).await?;
    let lang = visitor_lang(&st, &headers, "/o", Some(view.account.lang())).await?;
    receipt_response(&st, &view, lang).await
}

/// The receipt PDF of a paid order (refusal told in `lang`).
///
/// # Errors
/// 409 when the order is not paid.
pub async fn receipt_response(
    st: &AppState,
    view: &OrderView,
    lang: Lang,
) -> Result<Response, WebError> {
    let number = order_number(st, view)?;
    let pdf = crate::outbox::deliver::receipt_for(&st.desk, &number)
        .await
        .map_err(|e| WebError::from_desk(e, lang))?;
    let mut res = pdf.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"{}-{}.pdf\"",
        match lang {
            Lang::Id => "kuitansi",
            Lang::En => "receipt",
        },
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
