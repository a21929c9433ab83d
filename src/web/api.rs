//! The JSON API, mirroring the pages with the same authorization:
//! order endpoints take the status-page token as their credential; staff
//! endpoints take HTTP Basic (staff name or email + password) or the staff
//! session cookie, which for POSTs must come with the `X-CSRF-Token` header
//! repeating the `topup_csrf` cookie. Errors are `{"error": "..."}` with
//! 400/401/403/404/409 (409: refused transition or lost race).

use axum::Json;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::desk::{Decision, OrderView};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::store::accounts::StaffRow;
use crate::store::{accounts, inbound as inbound_store, orders};

use super::AppState;
use super::auth::{Attempt, ClientAddr, check_login};
use super::error::{ApiError, WebError};
use super::session::{CSRF_COOKIE, cookie, same_secret};
use super::staff::{self as board, optional_amount, reject_reason, staff_by_cookie};
use super::status::{self, actions, load};
use super::upload::{self, UploadProblem};

fn order_json(st: &AppState, view: &OrderView) -> Value {
    let o = &view.order;
    let lang = view.account.lang();
    let token = &o.token;
    let status = o.status();
    json!({
        "number": o.number,
        "status": status.as_str(),
        "status_name": {"en": status.display_name(Lang::En), "id": status.display_name(Lang::Id)},
        "company": view.account.name,
        "currency": o.currency,
        "amount_minor": o.amount_minor,
        "paid_minor": o.paid_minor,
        "amount": status::amount_text(view, lang),
        "created_at": o.created_at,
        "submitted_at": o.submitted_at,
        "decided_at": o.decided_at,
        // Customers never read staff names (the token is a customer's credential).
        "decided_by": o.decided_by.as_ref().map(|_| "Receivables team"),
        "reason": o.reason,
        "status_url": st.desk.status_link(token),
        "receipt_url": (status == crate::domain::order::OrderStatus::Paid).then(|| format!("/o/{token}/receipt.pdf")),
        "actions": actions(status),
        "events": view.events.iter().filter(|e| e.event != "unauthorized").map(|e| json!({
            "at": e.at, "event": e.event, "actor_kind": e.actor_kind,
            "actor": if e.actor_kind == "staff" { "Receivables team" } else { e.actor.as_str() },
            "from": e.from_status, "to": e.to_status, "amount_minor": e.amount_minor, "reason": e.reason,
        })).collect::<Vec<_>>(),
        "slips": view.slips.iter().map(|s| json!({
            "hash": s.hash, "content_type": s.content_type, "file_name": s.file_name, "size": s.size,
            "url": format!("/o/{token}/slips/{}", s.hash),
        })).collect::<Vec<_>>(),
        // With `desk.unique_code`: the exact sum to transfer.
        "transfer_minor": view.transfer_minor,
        // The bank statement line that carries the money, and the rule that found it.
        "statement_lines": view.statement_lines.iter().map(|l| json!({
            "date": l.booked_on, "amount_minor": l.amount_minor, "bank": l.bank,
            "state": l.state, "rule": l.rule,
        })).collect::<Vec<_>>(),
    })
}

async fn reload(st: &AppState, token: &str) -> Result<Json<Value>, ApiError> {
    let view = load(st, token).await?;
    Ok(Json(order_json(st, &view)))
}

/// `GET /api/orders/{token}`.
///
/// # Errors
/// 404 for an unknown token.
pub async fn order(
    State(st): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    reload(&st, &token).await
}

/// `POST /api/orders/{token}/cancel`.
///
/// # Errors
/// 404 unknown token, 409 refused.
pub async fn cancel(
    State(st): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = load(&st, &token).await?;
    status::submit_cancel(&st, &view).await?;
    reload(&st, &token).await
}

/// Body of `amend`: `{"amount": "1.500.000"}` (a string as a person types it, or a number of whole units).
#[derive(Debug, serde::Deserialize)]
pub struct AmendBody {
    amount: Value,
}

/// `POST /api/orders/{token}/amend`.
///
/// # Errors
/// 400 bad amount, 404 unknown token, 409 refused.
pub async fn amend(
    State(st): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let view = load(&st, &token).await?;
    let body: AmendBody = serde_json::from_slice(&body)
        .map_err(|e| WebError::BadRequest(format!("expected {{\"amount\": \"...\"}}: {e}")))?;
    let amount = match body.amount {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return Err(WebError::BadRequest("amount must be a string or a number".into()).into()),
    };
    status::submit_amend(&st, &view, &amount).await?;
    reload(&st, &token).await
}

/// `POST /api/orders/{token}/slip` (multipart: `slip` file, optional `amount`).
///
/// # Errors
/// 400 no file, 413 too large, 415 not an image/PDF, 404 unknown token, 409 refused.
pub async fn slip(
    State(st): State<AppState>,
    Path(token): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let view = load(&st, &token).await?;
    let max = st.desk.settings().web.max_upload_bytes;
    let form = match form {
        Ok(f) => upload::read_slip_form(f, max).await,
        Err(e) => Err(UploadProblem::Malformed(e.body_text())),
    };
    let form = match form {
        Ok(f) => f,
        Err(UploadProblem::TooLarge) => {
            return Err(WebError::TooLarge(format!(
                "the file is larger than {}",
                upload::human_size(max)
            ))
            .into());
        }
        Err(UploadProblem::Malformed(m)) => return Err(WebError::BadRequest(m).into()),
    };
    status::submit_upload(&st, &view, form).await?;
    reload(&st, &token).await
}

// ----- cross-site protection ------------------------------------------------

/// Header that, like `Content-Type: application/json`, a page on another site
/// cannot send without a CORS preflight (which this server never grants).
pub const CLIENT_HEADER: &str = "x-topup-client";

/// Middleware for `POST /api/...`: a state-changing call must carry
/// `Content-Type: application/json`, or (for the multipart slip upload) the
/// [`CLIENT_HEADER`] header, whatever its credentials. A browser on another
/// site can send neither without a preflight, so a cross-site form can never
/// reach an API action, not even one that the browser would send a cached
/// Basic password or a session cookie with.
pub async fn cross_site_guard(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if req.method() == Method::GET || req.method() == Method::HEAD || !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let headers = req.headers();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json || headers.contains_key(CLIENT_HEADER) {
        return next.run(req).await;
    }
    ApiError(WebError::Unsupported(
        "state-changing API calls need Content-Type: application/json (uploads: the \
         X-Topup-Client header)"
            .into(),
    ))
    .into_response()
}

// ----- staff ---------------------------------------------------------------

/// The staff member behind an API call: HTTP Basic, or the session cookie (POSTs
/// then need `X-CSRF-Token`).
async fn api_staff(
    st: &AppState,
    method: &Method,
    headers: &HeaderMap,
    client: ClientAddr,
) -> Result<StaffRow, ApiError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (login, password) = basic_credentials(auth)
            .ok_or_else(|| WebError::Unauthorized("malformed Basic credentials".into()))?;
        let attempt = Attempt {
            client: client.0,
            device: None,
        };
        return check_login(st, &login, &password, &attempt)
            .await?
            .map(|signed_in| signed_in.staff)
            .ok_or_else(|| WebError::Unauthorized("wrong staff name or password".into()).into());
    }
    let staff = staff_by_cookie(st, headers).await?.ok_or_else(|| {
        WebError::Unauthorized("sign in as staff (HTTP Basic or the board's session)".into())
    })?;
    if method != Method::GET {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        let expected = cookie(headers, CSRF_COOKIE);
        match (sent, expected) {
            (Some(s), Some(e)) if !e.is_empty() && same_secret(s, &e) => {}
            _ => {
                return Err(WebError::Forbidden(
                    "a cookie-authenticated call needs the X-CSRF-Token header".into(),
                )
                .into());
            }
        }
    }
    Ok(staff)
}

/// Decodes `Basic base64(login:password)`.
pub fn basic_credentials(header_value: &str) -> Option<(String, String)> {
    let (scheme, rest) = header_value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

/// `GET /api/staff/queue`: the dealing queue, oldest first.
///
/// # Errors
/// 401 without valid credentials.
pub async fn queue(
    State(st): State<AppState>,
    method: Method,
    client: ClientAddr,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    api_staff(&st, &method, &headers, client).await?;
    let mut conn = st
        .desk
        .store()
        .pool()
        .acquire()
        .await
        .map_err(WebError::from)?;
    let rows = orders::dealing_queue(&mut conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for o in rows {
        let account = accounts::account_by_id(&mut conn, o.account_id).await?;
        let user = match o.user_id {
            Some(id) => Some(accounts::user_by_id(&mut conn, id).await?),
            None => None,
        };
        let slips = inbound_store::slips_of(&mut conn, o.id).await?;
        let lines = crate::store::statements::for_order(&mut conn, o.id).await?;
        let slip_check = st.desk.slip_report(&mut conn, &o).await?;
        out.push(json!({
            "statement_lines": lines,
            "number": o.number,
            "company": account.name,
            "user": user.as_ref().map(|u| u.label()),
            "user_role": user.as_ref().map(|u| u.role.clone()),
            "amount_minor": o.amount_minor,
            "round": orders::current_round(&mut conn, o.id).await?,
            "amount": o.amount_minor.map(|m| Money::from_minor(m).display(account.lang())),
            "submitted_at": o.submitted_at,
            "flags": o.flag_list(),
            "slips": slips.iter().map(|s| json!({
                "hash": s.hash, "content_type": s.content_type, "file_name": s.file_name,
                "url": format!("/staff/slips/{}", s.hash),
            })).collect::<Vec<_>>(),
            // What was read off the round's slips, and the checks (`amount_differs`, ...).
            "slip_check": slip_check,
        }));
    }
    Ok(Json(json!({ "queue": out })))
}

/// Body of `approve`: `{"amount": "..."}` optional.
#[derive(Debug, serde::Deserialize, Default)]
pub struct ApproveBody {
    amount: Option<String>,
    /// The review round the caller saw (`round` in the queue); refused when the order moved on.
    round: Option<i64>,
}

/// Body of `reject`: `{"reason": "amount_differs" | "not_received" | "other", "text": "..."}`.
#[derive(Debug, serde::Deserialize)]
pub struct RejectBody {
    reason: String,
    text: Option<String>,
    /// The review round the caller saw.
    round: Option<i64>,
}

fn decided_json(order: &orders::OrderRow) -> Json<Value> {
    Json(json!({
        "number": order.number,
        "status": order.status().as_str(),
        "paid_minor": order.paid_minor,
        "decided_by": order.decided_by,
        "decided_at": order.decided_at,
        "reason": order.reason,
    }))
}

/// `POST /api/staff/orders/{number}/approve`.
///
/// # Errors
/// 401 credentials, 403 CSRF, 400 amount, 404 order, 409 refused or lost race.
pub async fn approve(
    State(st): State<AppState>,
    Path(number): Path<String>,
    method: Method,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let staff = api_staff(&st, &method, &headers, client).await?;
    // An empty body is not an approval: the call must say what it is.
    let body: ApproveBody = serde_json::from_slice(&body).map_err(|e| {
        WebError::BadRequest(format!(
            "expected a JSON object such as {{}} or {{\"amount\": \"...\"}}: {e}"
        ))
    })?;
    let amount = optional_amount(body.amount.as_deref())?;
    let order = board::decide(
        &st,
        &number,
        &staff,
        &Decision::Approve { amount },
        body.round,
    )
    .await?;
    Ok(decided_json(&order))
}

/// `POST /api/staff/orders/{number}/reject`.
///
/// # Errors
/// 401 credentials, 403 CSRF, 400 reason, 404 order, 409 refused or lost race.
pub async fn reject(
    State(st): State<AppState>,
    Path(number): Path<String>,
    method: Method,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let staff = api_staff(&st, &method, &headers, client).await?;
    let body: RejectBody = serde_json::from_slice(&body).map_err(|e| {
        WebError::BadRequest(format!("expected {{\"reason\": ..., \"text\": ...}}: {e}"))
    })?;
    let reason = reject_reason(&body.reason, body.text.as_deref())?;
    let order = board::decide(
        &st,
        &number,
        &staff,
        &Decision::Reject { reason },
        body.round,
    )
    .await?;
    Ok(decided_json(&order))
}

#[cfg(test)]
mod tests {
    use super::basic_credentials;

    #[test]
    fn basic_credentials_decode() {
        // "rina:correct horse"
        assert_eq!(
            basic_credentials("Basic cmluYTpjb3JyZWN0IGhvcnNl"),
            Some(("rina".into(), "correct horse".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
