//! The staff board (`/staff`): sign-in with name or email and password
//! (argon2), the dealing queue oldest first with everything needed to
//! decide, Approve / Reject through [`Desk::decide`](crate::desk::Desk::decide),
//! and the recent decisions with who made them. A decision that lost a race
//! shows the desk's words naming the winner.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde_json::{Value, json};

use crate::desk::{Decision, RejectReason};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::store::accounts::{self, StaffRow};
use crate::store::{inbound as inbound_store, orders};

use super::AppState;
use super::error::WebError;
use super::session::{
    self, CsrfToken, Flash, FlashMessage, STAFF_COOKIE, SessionKind, cookie, set_cookie,
};
use super::status::is_image;

/// The staff member signed in by session cookie, if any.
///
/// # Errors
/// Database errors.
pub async fn staff_by_cookie(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Option<StaffRow>, WebError> {
    let Some(secret) = cookie(headers, STAFF_COOKIE) else {
        return Ok(None);
    };
    let Some(id) =
        session::session_subject(st.desk.store(), SessionKind::Staff, &secret, st.desk.now())
            .await?
    else {
        return Ok(None);
    };
    let row: Option<StaffRow> = sqlx::query_as(
        "SELECT id, name, email, discord_id, password_hash FROM staff WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(st.desk.store().pool())
    .await?;
    Ok(row)
}

fn flag_text(flag: &str) -> String {
    match flag {
        "duplicate_slip" => "Duplicate slip (also on another order)".into(),
        "resubmission" => "Resubmitted after a rejection".into(),
        "pic" => "Sent by a PIC user".into(),
        other => other.replace('_', " "),
    }
}

/// A row of the "recently decided" table.
#[derive(Debug, sqlx::FromRow)]
struct Decided {
    number: String,
    token: String,
    status: String,
    amount_minor: Option<i64>,
    paid_minor: Option<i64>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    reason: Option<String>,
    company: String,
}

/// Everything on the board.
async fn board_context(
    st: &AppState,
    staff: &StaffRow,
    csrf: &str,
    flash: Option<FlashMessage>,
) -> Result<Value, WebError> {
    let d = &st.desk;
    let lang: Lang = d.settings().desk.default_lang;
    let mut conn = d.store().pool().acquire().await?;
    let queue_rows = orders::dealing_queue(&mut conn).await?;
    let mut queue = Vec::with_capacity(queue_rows.len());
    for o in &queue_rows {
        let account = accounts::account_by_id(&mut conn, o.account_id).await?;
        let user = match o.user_id {
            Some(id) => Some(accounts::user_by_id(&mut conn, id).await?),
            None => None,
        };
        let slips = inbound_store::slips_of(&mut conn, o.id).await?;
        let balance = accounts::balance(&mut conn, o.account_id).await?;
        let round = orders::current_round(&mut conn, o.id).await?;
        queue.push(json!({
            "number": o.number,
            "round": round,
            "status_url": format!("/o/{}", o.token),
            "company": account.name,
            "user": user.map(|u| format!("{}{}", u.label(), if u.role == "pic" { " (PIC)" } else { "" })).unwrap_or_default(),
            "amount": o.amount_minor.map(|m| Money::from_minor(m).display(lang)).unwrap_or_else(|| "amount not stated".into()),
            "amount_minor": o.amount_minor,
            "submitted": o.submitted_at.map(|t| d.format_time(t)),
            "balance": Money::from_minor(balance).display(lang),
            "flags": o.flag_list().into_iter().map(flag_text).collect::<Vec<_>>(),
            "slips": slips.iter().map(|s| json!({
                "url": format!("/staff/slips/{}", s.hash),
                "is_image": is_image(&s.content_type),
                "file_name": s.file_name,
            })).collect::<Vec<_>>(),
        }));
    }
    let recent: Vec<Decided> =
        sqlx::query_as(
            "SELECT o.number, o.token, o.status, o.amount_minor, o.paid_minor, o.decided_by, \
             o.decided_at, o.reason, a.name AS company FROM orders o JOIN accounts a ON a.id = o.account_id \
             WHERE o.decided_at IS NOT NULL ORDER BY o.decided_at DESC, o.id DESC LIMIT 20",
        )
        .fetch_all(&mut *conn)
        .await?;
    let recent: Vec<Value> = recent
        .into_iter()
        .map(|r| {
            let Decided { number, token, status, amount_minor: amount, paid_minor: paid, decided_by: by, decided_at: at, reason, company } = r;
            let status = crate::domain::order::OrderStatus::parse(&status)
                .unwrap_or(crate::domain::order::OrderStatus::Dealing);
            json!({
                "number": number,
                "status_url": format!("/o/{token}"),
                "status": status.as_str(),
                "status_name": status.display_name(Lang::En),
                "amount": paid.or(amount).map(|m| Money::from_minor(m).display(lang)).unwrap_or_default(),
                "decided_by": by.unwrap_or_default(),
                "decided": at.map(|t| d.format_time(t)),
                "reason": reason,
                "company": company,
            })
        })
        .collect();
    let unhandled: Vec<Value> = inbound_store::not_acted_on(&mut conn, 20)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "url": format!("/staff/messages/{}", m.id),
                "received": d.format_time(m.received_at),
                "source": m.source,
                "sender": m.sender,
                "subject": m.subject,
                "outcome": m.outcome,
                "has_raw": m.raw_hash.is_some(),
            })
        })
        .collect();
    Ok(json!({
        "lang": "en",
        "title": "Staff board",
        "unhandled": unhandled,
        "seller": d.settings().desk.seller_name,
        "csrf": csrf,
        "flash": flash,
        "staff": staff.name,
        "queue": queue,
        "recent": recent,
    }))
}

fn login_page(
    st: &AppState,
    csrf: &str,
    login: &str,
    flash: Option<FlashMessage>,
    status: StatusCode,
) -> Result<Response, WebError> {
    st.views.page(
        status,
        "staff.html",
        json!({
            "lang": "en",
            "title": "Staff sign-in",
            "seller": st.desk.settings().desk.seller_name,
            "csrf": csrf,
            "flash": flash,
            "login": login,
        }),
    )
}

async fn board(
    st: &AppState,
    staff: &StaffRow,
    csrf: &CsrfToken,
    flash: Option<FlashMessage>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let ctx = board_context(st, staff, &csrf.0, flash).await?;
    st.views.page(status, "staff.html", ctx)
}

/// `GET /staff`: the board, or the sign-in form.
///
/// # Errors
/// Database errors.
pub async fn page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    match staff_by_cookie(&st, &headers).await? {
        Some(staff) => board(&st, &staff, &csrf, flash.0, StatusCode::OK).await,
        None => login_page(&st, &csrf.0, "", flash.0, StatusCode::OK),
    }
}

/// The staff sign-in form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    csrf: Option<String>,
    login: String,
    password: String,
}

/// `POST /staff/sign-in`.
///
/// # Errors
/// 403 without the CSRF field; database errors. A wrong password re-renders the form (401).
pub async fn sign_in(
    State(st): State<AppState>,
    client: super::auth::ClientAddr,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let attempt = super::auth::Attempt {
        client: client.0,
        device: cookie(&headers, super::auth::DEVICE_COOKIE),
    };
    let signed_in = match super::auth::check_login(&st, &form.login, &form.password, &attempt).await
    {
        Ok(signed_in) => signed_in,
        Err(WebError::TooManyAttempts(text)) => {
            return login_page(
                &st,
                &csrf.0,
                form.login.trim(),
                Some(FlashMessage::error(text)),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(e) => return Err(e),
    };
    let Some(super::auth::SignedIn { staff, device }) = signed_in else {
        tracing::warn!(login = %form.login.trim(), "Staff sign-in refused");
        return login_page(
            &st,
            &csrf.0,
            form.login.trim(),
            Some(FlashMessage::error("Wrong name or password.")),
            StatusCode::UNAUTHORIZED,
        );
    };
    let secret =
        session::create_session(st.desk.store(), SessionKind::Staff, staff.id, st.desk.now())
            .await?;
    tracing::info!(staff = %staff.name, "Staff signed in");
    let mut res = Redirect::to("/staff").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            STAFF_COOKIE,
            &secret,
            Some(session::STAFF_SESSION_MS / 1000),
            st.secure_cookies,
        ),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            super::auth::DEVICE_COOKIE,
            &device,
            Some(super::auth::DEVICE_MS / 1000),
            st.secure_cookies,
        ),
    );
    Ok(res)
}

/// A form with only the CSRF field.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /staff/sign-out`.
///
/// # Errors
/// 403 without the CSRF field; database errors.
pub async fn sign_out(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    if let Some(secret) = cookie(&headers, STAFF_COOKIE) {
        session::end_session(st.desk.store(), &secret).await?;
    }
    let mut res = Redirect::to("/staff").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(STAFF_COOKIE, "", Some(0), st.secure_cookies),
    );
    Ok(res)
}

/// Reads an optional corrected amount.
///
/// # Errors
/// [`WebError::BadRequest`] for an amount that does not parse.
pub fn optional_amount(s: Option<&str>) -> Result<Option<Money>, WebError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(a) => Money::parse(a)
            .map(Some)
            .map_err(|e| WebError::BadRequest(format!("amount {a:?}: {e}"))),
        None => Ok(None),
    }
}

/// Builds a rejection from the select value and free text.
///
/// # Errors
/// [`WebError::BadRequest`] when "other" has no text.
pub fn reject_reason(reason: &str, text: Option<&str>) -> Result<RejectReason, WebError> {
    let text = text.map(str::trim).unwrap_or_default();
    match reason.trim() {
        "amount_differs" => Ok(RejectReason::AmountDiffers),
        "not_received" => Ok(RejectReason::NotReceived),
        _ if text.is_empty() => Err(WebError::BadRequest(
            "Write the reason the customer should read.".into(),
        )),
        _ => Ok(RejectReason::Other(text.chars().take(500).collect())),
    }
}

/// Runs a decision; returns what to tell the staff member.
///
/// # Errors
/// The desk's refusal (409, naming who decided), unknown order (404), bad input (400).
pub async fn decide(
    st: &AppState,
    number: &str,
    staff: &StaffRow,
    decision: &Decision,
    round: Option<i64>,
) -> Result<crate::store::orders::OrderRow, WebError> {
    let number = st
        .desk
        .parse_order_number(number)
        .map_err(|_| WebError::NotFound)?;
    let order = st
        .desk
        .decide_round(&number, staff, decision, round)
        .await?;
    tracing::info!(order = %order.number, staff = %staff.name, status = %order.status(), "Decided on the web board");
    Ok(order)
}

async fn decided(
    st: &AppState,
    staff: &StaffRow,
    csrf: &CsrfToken,
    result: Result<String, WebError>,
) -> Result<Response, WebError> {
    match result {
        Ok(msg) => {
            let mut res = Redirect::to("/staff").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                FlashMessage::ok(msg).cookie(st.secure_cookies),
            );
            Ok(res)
        }
        Err(WebError::Internal(e)) => Err(WebError::Internal(e)),
        Err(e) => {
            board(
                st,
                staff,
                csrf,
                Some(FlashMessage::error(e.public_text())),
                e.status(),
            )
            .await
        }
    }
}

async fn require_staff(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Result<StaffRow, Response>, WebError> {
    Ok(match staff_by_cookie(st, headers).await? {
        Some(s) => Ok(s),
        None => Err(Redirect::to("/staff").into_response()),
    })
}

/// The approve form.
#[derive(Debug, serde::Deserialize)]
pub struct ApproveForm {
    csrf: Option<String>,
    amount: Option<String>,
    /// The review round the board showed (see [`crate::desk::Desk::decide_round`]).
    round: Option<String>,
}

/// The round a form names: absent or empty means none; anything else must be a number.
fn form_round(value: Option<&str>) -> Result<Option<i64>, WebError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| WebError::BadRequest("the form's review round is not valid".into())),
    }
}

/// `POST /staff/orders/{number}/approve` (`csrf`, optional `amount`).
///
/// # Errors
/// 403 without the CSRF field; refusals re-render the board with the desk's words.
pub async fn approve(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<ApproveForm>,
) -> Result<Response, WebError> {
    let staff = match require_staff(&st, &headers).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    csrf.check(form.csrf.as_deref())?;
    let result = async {
        let amount = optional_amount(form.amount.as_deref())?;
        let round = form_round(form.round.as_deref())?;
        let order = decide(&st, &number, &staff, &Decision::Approve { amount }, round).await?;
        let lang = st.desk.settings().desk.default_lang;
        Ok(format!(
            "Approved {}: {} credited.",
            order.number,
            Money::from_minor(order.paid_minor.unwrap_or_default()).display(lang)
        ))
    }
    .await;
    decided(&st, &staff, &csrf, result).await
}

/// The reject form.
#[derive(Debug, serde::Deserialize)]
pub struct RejectForm {
    csrf: Option<String>,
    reason: String,
    text: Option<String>,
    /// The review round the board showed.
    round: Option<String>,
}

/// `POST /staff/orders/{number}/reject` (`csrf`, `reason`, `text`).
///
/// # Errors
/// 403 without the CSRF field; refusals re-render the board with the desk's words.
pub async fn reject(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<RejectForm>,
) -> Result<Response, WebError> {
    let staff = match require_staff(&st, &headers).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    csrf.check(form.csrf.as_deref())?;
    let result = async {
        let reason = reject_reason(&form.reason, form.text.as_deref())?;
        let round = form_round(form.round.as_deref())?;
        let order = decide(&st, &number, &staff, &Decision::Reject { reason }, round).await?;
        Ok(format!(
            "Rejected {}: the customer is told why.",
            order.number
        ))
    }
    .await;
    decided(&st, &staff, &csrf, result).await
}

/// `GET /staff/slips/{hash}`: any order's slip, for signed-in staff.
///
/// # Errors
/// 404 for unknown files; 401 when not signed in.
pub async fn slip(
    State(st): State<AppState>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if staff_by_cookie(&st, &headers).await?.is_none() {
        return Err(WebError::Unauthorized("Sign in on /staff first.".into()));
    }
    let name: Option<(String,)> =
        sqlx::query_as("SELECT file_name FROM order_slips WHERE hash = $1 LIMIT 1")
            .bind(&hash)
            .fetch_optional(st.desk.store().pool())
            .await?;
    let (name,) = name.ok_or(WebError::NotFound)?;
    super::status::slip_response(&st, &hash, &name).await
}

/// `GET /staff/messages/{id}`: a kept inbound message as it arrived, as plain
/// text (never rendered), for staff deciding what to do with it.
pub async fn message(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if staff_by_cookie(&st, &headers).await?.is_none() {
        return Err(WebError::Unauthorized("Sign in on /staff first.".into()));
    }
    let mut conn = st.desk.store().pool().acquire().await?;
    let row = inbound_store::by_id(&mut conn, id)
        .await
        .map_err(|_| WebError::NotFound)?;
    let hash = row.raw_hash.ok_or(WebError::NotFound)?;
    let raw = st
        .desk
        .slips()
        .get(&hash)
        .await
        .map_err(|_| WebError::NotFound)?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            ),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (axum::http::header::CONTENT_DISPOSITION, "inline"),
        ],
        String::from_utf8_lossy(&raw).into_owned(),
    )
        .into_response())
}
