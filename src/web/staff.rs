//! The staff board (`/staff`): sign-in with name or email and password
//! (argon2), the dealing queue oldest first with everything needed to
//! decide (the same review model as the Discord cards,
//! [`crate::desk::staff_view`]: sender, the customer's words, slips large
//! with a click to full size, balance, recent orders, flags; orders waiting
//! `desk.remind_hours` highlighted), Approve / Reject through
//! [`Desk::decide`](crate::desk::Desk::decide), one order's page
//! (`/staff/orders/{number}`, the link on review cards), the recent
//! decisions with who made them, and the messages not acted on. A decision
//! that lost a race shows the desk's words naming the winner.
//!
//! The board is in the staff member's language (their setting, else
//! `desk.staff_lang`); amounts in `desk.staff_notation`; it uses the width
//! of a desktop screen and its tables fit on a phone.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde_json::{Value, json};

use crate::desk::staff_view::{Review, flag_text, label};
use crate::desk::{Decision, RejectReason};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::store::accounts::{self, StaffRow, UserRow};
use crate::store::{inbound as inbound_store, orders};

use super::AppState;
use super::error::WebError;
use super::session::{
    self, CsrfToken, Flash, FlashMessage, STAFF_COOKIE, SessionKind, cookie, set_cookie,
};
use super::status::is_image;
use super::views::{PerLang, text, texts, visitor_lang};

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
    let mut conn = st.desk.store().pool().acquire().await?;
    Ok(accounts::staff_by_id(&mut conn, id).await?)
}

/// A row of the "recently decided" table.
#[derive(Debug, sqlx::FromRow)]
struct Decided {
    number: String,
    status: String,
    amount_minor: Option<i64>,
    paid_minor: Option<i64>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    reason: Option<String>,
    company: String,
}

/// A review as the board shows it (the queue and the order page).
fn review_json(st: &AppState, r: &Review, lang: Lang) -> Value {
    let d = &st.desk;
    let o = &r.view.order;
    let person = |u: &UserRow| {
        format!(
            "{}{}",
            u.label(),
            if u.role == "pic" { " (PIC)" } else { "" }
        )
    };
    json!({
        "number": o.number,
        "status": o.status().as_str(),
        "status_name": o.status().display_name(lang),
        "status_url": format!("/o/{}", o.token),
        "page_url": format!("/staff/orders/{}", o.number),
        "company": r.view.account.name,
        "user": r.sender().map(person).unwrap_or_default(),
        "requested_by": r.view.submitter.as_ref().and(r.view.user.as_ref()).map(person),
        "amount": o.amount_minor.map(|m| d.staff_money(m)).unwrap_or_else(|| label(lang, "not_stated").into()),
        "amount_minor": o.amount_minor,
        "submitted": o.submitted_at.map(|t| d.format_time(t)),
        "waiting": o.submitted_at.map(|t| d.staff_duration(d.now() - t, lang)),
        "due": r.due_at.map(|t| d.format_time(t)),
        "waiting_long": r.waiting_long,
        "balance": d.staff_money(r.view.balance_minor),
        "words": r.words,
        "recent": r.recent.iter().map(|x| json!({
            "number": x.number,
            "url": format!("/staff/orders/{}", x.number),
            "status": x.status().as_str(),
            "status_name": x.status().display_name(lang),
            "amount": x.paid_minor.or(x.amount_minor).map(|m| d.staff_money(m)).unwrap_or_else(|| "-".into()),
        })).collect::<Vec<_>>(),
        "flags": o.flag_list().into_iter().map(|f| flag_text(lang, f)).collect::<Vec<_>>(),
        "slip_check": r.view.slip_report.lines(lang, d.settings().desk.staff_notation),
        "slip_warning": r.view.slip_report.has_warning(),
        "slips": r.view.slips.iter().map(|s| json!({
            "url": format!("/staff/slips/{}", s.hash),
            "is_image": is_image(&s.content_type),
            "file_name": s.file_name,
        })).collect::<Vec<_>>(),
        "decidable": o.status() == OrderStatus::Dealing,
        "money": r.money(lang, d.settings().desk.staff_notation),
        "not_on_statement": r.not_on_statement(lang),
    })
}

/// The labels of the board (page texts plus the staff review labels), one
/// template value per language built once: every render of the board passes
/// it as `t` without copying a hundred texts.
fn board_texts(lang: Lang) -> minijinja::Value {
    static TEXTS: PerLang = PerLang::new();
    TEXTS.get(lang, board_texts_of)
}

fn board_texts_of(lang: Lang) -> Value {
    let mut t = json!(texts(lang));
    if let Some(map) = t.as_object_mut() {
        for key in [
            "claimed",
            "submitted_by",
            "requested_by",
            "words",
            "balance",
            "recent",
            "no_recent",
            "flags",
            "waiting",
            "fails_at",
            "company",
            "submitted",
            "approve",
            "reject",
        ] {
            map.insert(format!("s_{key}"), json!(label(lang, key)));
        }
    }
    t
}

/// Everything on the board.
async fn board_context(
    st: &AppState,
    staff: &StaffRow,
    lang: Lang,
    csrf: &str,
    flash: Option<FlashMessage>,
) -> Result<Value, WebError> {
    let d = &st.desk;
    let queue_rows = {
        let mut conn = d.store().pool().acquire().await?;
        orders::dealing_queue(&mut conn).await?
    };
    let mut queue = Vec::with_capacity(queue_rows.len());
    for o in &queue_rows {
        let number = d.parse_order_number(&o.number)?;
        let review = d.review(&number).await?;
        let mut item = review_json(st, &review, lang);
        let round = {
            let mut conn = d.store().pool().acquire().await?;
            orders::current_round(&mut conn, o.id).await?
        };
        if let Some(map) = item.as_object_mut() {
            map.insert("round".into(), json!(round));
        }
        queue.push(item);
    }
    let mut conn = d.store().pool().acquire().await?;
    let recent: Vec<Decided> =
        sqlx::query_as(
            "SELECT o.number, o.status, o.amount_minor, o.paid_minor, o.decided_by, \
             o.decided_at, o.reason, a.name AS company FROM orders o JOIN accounts a ON a.id = o.account_id \
             WHERE o.decided_at IS NOT NULL AND o.status IN ('paid', 'payment_failure') \
             ORDER BY o.decided_at DESC, o.id DESC LIMIT 20",
        )
        .fetch_all(&mut *conn)
        .await?;
    let recent: Vec<Value> = recent
        .into_iter()
        .map(|r| {
            let Decided {
                number,
                status,
                amount_minor: amount,
                paid_minor: paid,
                decided_by: by,
                decided_at: at,
                reason,
                company,
            } = r;
            let status = OrderStatus::parse(&status).unwrap_or(OrderStatus::Dealing);
            json!({
                "number": number,
                "page_url": format!("/staff/orders/{number}"),
                "status": status.as_str(),
                "status_name": status.display_name(lang),
                "amount": paid.or(amount).map(|m| d.staff_money(m)).unwrap_or_default(),
                "decided_by": by.unwrap_or_default(),
                "decided": at.map(|t| d.format_time(t)),
                "reason": reason.filter(|r| !r.trim().is_empty()),
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
    let notation = d.settings().desk.staff_notation;
    let unmatched: Vec<Value> = crate::store::statements::unmatched(&mut conn, 50)
        .await?
        .into_iter()
        .map(|l| {
            json!({
                "id": l.id,
                "date": l.booked_on,
                "bank": l.bank,
                "amount": crate::domain::money::Money::from_minor(l.amount_minor).display(notation),
                "description": l.description,
                "state": l.state,
                "candidates": l.candidates,
            })
        })
        .collect();
    Ok(json!({
        "unmatched": unmatched,
        "lang": lang.code(),
        "title": text(lang, "staff_board"),
        "wide": true,
        "path": "/staff",
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
    lang: Lang,
    csrf: &str,
    login: &str,
    flash: Option<FlashMessage>,
    status: StatusCode,
) -> Result<Response, WebError> {
    st.views.page_with(
        status,
        "staff.html",
        board_texts(lang),
        json!({
            "lang": lang.code(),
            "title": text(lang, "staff_sign_in"),
            "wide": true,
            "path": "/staff",
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
    let lang = staff.lang_or(st.desk.settings().desk.staff_lang);
    let ctx = board_context(st, staff, lang, &csrf.0, flash).await?;
    st.views
        .page_with(status, "staff.html", board_texts(lang), ctx)
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
        None => {
            let lang = visitor_lang(&st, &headers, "/staff", None).await?;
            login_page(&st, lang, &csrf.0, "", flash.0, StatusCode::OK)
        }
    }
}

/// `GET /staff/orders/{number}`: one order as staff see it (the card, its
/// history with who decided, and the decision forms while it is in `dealing`).
///
/// # Errors
/// 401 when not signed in; 404 for an unknown order.
pub async fn order_page(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    let staff = match require_staff(&st, &headers).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let d = &st.desk;
    let lang = staff.lang_or(d.settings().desk.staff_lang);
    let number = d
        .parse_order_number(&number)
        .map_err(|_| WebError::NotFound)?;
    let review = d.review(&number).await?;
    let events: Vec<Value> = review
        .view
        .events
        .iter()
        .map(|e| {
            json!({
                "when": d.format_time(e.at),
                "event": e.event,
                "who": format!("{} {}", e.actor_kind, e.actor),
                "via": e.via,
                "moved": match (&e.from_status, &e.to_status) {
                    (Some(f), Some(t)) => format!("{f} → {t}"),
                    (None, Some(t)) => format!("→ {t}"),
                    _ => String::new(),
                },
                "amount": e.amount_minor.map(|m| d.staff_money(m)),
                "reason": e.reason,
            })
        })
        .collect();
    let ctx = json!({
        "lang": lang.code(),
        "title": format!("{} · {}", review.view.order.number, text(lang, "staff_board")),
        "wide": true,
        "path": format!("/staff/orders/{}", review.view.order.number),
        "seller": d.settings().desk.seller_name,
        "csrf": csrf.0,
        "flash": flash.0,
        "staff": staff.name,
        "one": review_json(&st, &review, lang),
        "events": events,
    });
    st.views
        .page_with(StatusCode::OK, "staff.html", board_texts(lang), ctx)
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
    let lang = visitor_lang(&st, &headers, "/staff", None).await?;
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
                lang,
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
            lang,
            &csrf.0,
            form.login.trim(),
            Some(FlashMessage::error(text(lang, "wrong_password"))),
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
    let lang = staff.lang_or(st.desk.settings().desk.staff_lang);
    let result = async {
        let amount = optional_amount(form.amount.as_deref())?;
        let round = form_round(form.round.as_deref())?;
        let order = decide(&st, &number, &staff, &Decision::Approve { amount }, round).await?;
        Ok(format!(
            "{} {}: {} {}.",
            text(lang, "approved_msg"),
            order.number,
            st.desk.staff_money(order.paid_minor.unwrap_or_default()),
            text(lang, "credited_msg"),
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
    let lang = staff.lang_or(st.desk.settings().desk.staff_lang);
    let result = async {
        let reason = reject_reason(&form.reason, form.text.as_deref())
            .map_err(|_| WebError::BadRequest(text(lang, "write_reason")))?;
        let round = form_round(form.round.as_deref())?;
        let order = decide(&st, &number, &staff, &Decision::Reject { reason }, round).await?;
        Ok(format!(
            "{} {}: {}.",
            text(lang, "rejected_msg"),
            order.number,
            text(lang, "customer_told"),
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
        let lang = visitor_lang(&st, &headers, "/staff", None).await?;
        return Err(WebError::Unauthorized(text(lang, "staff_sign_in_first")));
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
        let lang = visitor_lang(&st, &headers, "/staff", None).await?;
        return Err(WebError::Unauthorized(text(lang, "staff_sign_in_first")));
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

/// `POST /staff/statements` (multipart: `csrf`, `file`): imports a bank
/// statement; the board then shows what matched and what is left.
///
/// # Errors
/// 403 without the CSRF field; a file the desk cannot read re-renders the
/// board with the reason (nothing of it is recorded).
pub async fn upload_statement(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, WebError> {
    let staff = match require_staff(&st, &headers).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let lang = staff.lang_or(st.desk.settings().desk.staff_lang);
    let max = st.desk.settings().statements.max_bytes;
    let form = form.map_err(|e| WebError::BadRequest(e.body_text()))?;
    let read = super::upload::read_slip_form(form, max).await;
    let form = match read {
        Ok(f) => f,
        Err(super::upload::UploadProblem::TooLarge) => {
            return Err(WebError::TooLarge(format!(
                "{} {}.",
                text(lang, "statement_too_large"),
                super::upload::human_size(max)
            )));
        }
        Err(super::upload::UploadProblem::Malformed(m)) => return Err(WebError::BadRequest(m)),
    };
    csrf.check(form.csrf.as_deref())?;
    let result = async {
        let (name, bytes) = form
            .file
            .ok_or_else(|| WebError::BadRequest(text(lang, "choose_statement")))?;
        let who = format!("staff {}", staff.name);
        let report = st.desk.import_file(&bytes, None, None, &name, &who).await?;
        Ok(format!(
            "{} {name}: {}.",
            text(lang, "imported_msg"),
            report.summary_in(lang)
        ))
    }
    .await;
    decided(&st, &staff, &csrf, result).await
}

/// The attach form: an order number, or an account (id or exact name).
#[derive(Debug, serde::Deserialize)]
pub struct AttachForm {
    csrf: Option<String>,
    target: String,
}

/// `POST /staff/statements/{id}/attach` (`csrf`, `target`): ties a line
/// without an order to the order named, or (money without an order) makes
/// a paid order for the account named.
///
/// # Errors
/// 403 without the CSRF field; refusals re-render the board with the desk's words.
pub async fn attach_line(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<AttachForm>,
) -> Result<Response, WebError> {
    let staff = match require_staff(&st, &headers).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    csrf.check(form.csrf.as_deref())?;
    let lang = staff.lang_or(st.desk.settings().desk.staff_lang);
    let result = async {
        let target = form.target.trim();
        if target.is_empty() {
            return Err(WebError::BadRequest(text(lang, "name_order_or_company")));
        }
        let line = format!("{} {id}", text(lang, "statement_line"));
        match st.desk.parse_order_number(target) {
            Ok(number) => {
                st.desk.attach_line_to_order(id, &number, &staff).await?;
                Ok(format!(
                    "{line} {}",
                    text(lang, "now_pays").replace("{number}", &number.to_string())
                ))
            }
            Err(_) => {
                let o = st.desk.attach_line_to_account(id, target, &staff).await?;
                Ok(format!(
                    "{line} {}",
                    text(lang, "paid_new_order")
                        .replace("{number}", &o.number)
                        .replace(
                            "{amount}",
                            &st.desk.staff_money(o.paid_minor.unwrap_or_default())
                        )
                ))
            }
        }
    }
    .await;
    decided(&st, &staff, &csrf, result).await
}
