//! The customer's account page (`/account`): sign-in by a one-time link sent
//! to a registered address, then the balance and the account's orders.
//!
//! The sign-in form answers the same for every address, so it does not tell
//! who is registered. The link opens a confirmation page whose button signs
//! in (a POST), so mail scanners that fetch links do not use it up.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde_json::{Value, json};

use crate::desk::ReplyTo;
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::render::templates::EmailKind;
use crate::store::accounts;
use crate::store::orders;

use super::AppState;
use super::error::WebError;
use super::session::{
    self, CUSTOMER_COOKIE, CsrfToken, Flash, FlashMessage, SessionKind, cookie, set_cookie,
};
use super::views::{text, texts};

/// `?lang=en|id` on pages shown before we know the account.
#[derive(Debug, serde::Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

fn anonymous_lang(st: &AppState, q: &LangQuery) -> Lang {
    q.lang
        .as_deref()
        .and_then(|l| Lang::parse(l).ok())
        .unwrap_or(st.desk.settings().desk.default_lang)
}

fn base(st: &AppState, lang: Lang, csrf: &str, flash: Option<FlashMessage>) -> Value {
    json!({
        "lang": lang.code(),
        "title": text(lang, "account_page"),
        "seller": st.desk.settings().desk.seller_name,
        "csrf": csrf,
        "flash": flash,
        "t": texts(lang),
    })
}

fn with(mut v: Value, key: &str, extra: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), extra);
    }
    v
}

/// The signed-in customer, if the session cookie names one.
///
/// # Errors
/// Database errors.
pub async fn signed_in_user(
    st: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<accounts::UserRow>, WebError> {
    let Some(secret) = cookie(headers, CUSTOMER_COOKIE) else {
        return Ok(None);
    };
    let Some(id) = session::session_subject(
        st.desk.store(),
        SessionKind::Customer,
        &secret,
        st.desk.now(),
    )
    .await?
    else {
        return Ok(None);
    };
    let mut conn = st.desk.store().pool().acquire().await?;
    match accounts::user_by_id(&mut conn, id).await {
        Ok(u) => Ok(Some(u)),
        Err(crate::store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `GET /account`: the account home when signed in, else the sign-in form.
///
/// # Errors
/// Database errors.
pub async fn page(
    State(st): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: axum::http::HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    let Some(user) = signed_in_user(&st, &headers).await? else {
        let lang = anonymous_lang(&st, &q);
        return st.views.page(
            StatusCode::OK,
            "account.html",
            base(&st, lang, &csrf.0, flash.0),
        );
    };
    let mut conn = st.desk.store().pool().acquire().await?;
    let account = accounts::account_by_id(&mut conn, user.account_id).await?;
    let lang = account.lang();
    let balance = accounts::balance(&mut conn, account.id).await?;
    let list = orders::list(&mut conn, None, Some(account.id), 200).await?;
    drop(conn);
    let orders: Vec<Value> = list
        .iter()
        .map(|o| {
            json!({
                "number": o.number,
                "url": format!("/o/{}", o.token),
                "status": o.status().as_str(),
                "status_name": o.status().display_name(lang),
                "amount": o.paid_minor.or(o.amount_minor).map(|m| Money::from_minor(m).display(lang)).unwrap_or_else(|| "—".into()),
                "created": st.desk.format_time(o.created_at),
            })
        })
        .collect();
    let home = json!({
        "company": account.name,
        "user": user.label(),
        "balance": Money::from_minor(balance).display(lang),
        "orders": orders,
    });
    st.views.page(
        StatusCode::OK,
        "account.html",
        with(base(&st, lang, &csrf.0, flash.0), "home", home),
    )
}

/// The sign-in form.
#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    email: String,
}

/// `POST /account`: emails a sign-in link to a registered address; answers the same
/// for unknown ones.
///
/// # Errors
/// 403 without the CSRF field; database errors.
pub async fn request_link(
    State(st): State<AppState>,
    Query(q): Query<LangQuery>,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let lang = anonymous_lang(&st, &q);
    let email = accounts::normalise_email(&form.email);
    if email.contains('@') && email.len() <= 254 {
        send_link(&st, &email).await?;
    }
    st.views.page(
        StatusCode::OK,
        "account.html",
        with(base(&st, lang, &csrf.0, None), "sent", json!(true)),
    )
}

async fn send_link(st: &AppState, email: &str) -> Result<(), WebError> {
    let desk = &st.desk;
    let mut tx = desk.store().begin_write().await?;
    let Some(user) = accounts::user_by_email(&mut tx, email).await? else {
        tracing::info!("Sign-in link asked for an unregistered address");
        return Ok(());
    };
    let account = accounts::account_by_id(&mut tx, user.account_id).await?;
    let lang = account.lang();
    let now = desk.now();
    let secret = session::create_sign_in(&mut tx, user.id, now).await?;
    let link = format!(
        "{}/account/sign-in/{secret}?lang={}",
        desk.settings().desk.public_url.trim_end_matches('/'),
        lang.code()
    );
    let mut vars = desk.base_vars(&account.name, Some(&user), lang);
    if let Some(o) = vars.as_object_mut() {
        o.insert("sign_in_link".into(), json!(link));
        o.insert(
            "expires".into(),
            json!(desk.format_time(now + session::SIGN_IN_LINK_MS)),
        );
    }
    let reply = ReplyTo {
        address: user.primary_email().to_string(),
        ..ReplyTo::default()
    };
    // Queued as a reply: the per-sender hourly cap also limits how many links one address gets.
    desk.reply_email(&mut tx, EmailKind::SignInLink, lang, &reply, None, vars)
        .await?;
    tx.commit().await?;
    let bell = desk.outbox_bell();
    bell.notify_one();
    Ok(())
}

/// `GET /account/sign-in/{token}`: a page with one button that signs in.
///
/// # Errors
/// Database errors.
pub async fn confirm_page(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    Extension(csrf): Extension<CsrfToken>,
) -> Result<Response, WebError> {
    let lang = anonymous_lang(&st, &q);
    if !session::sign_in_is_valid(st.desk.store(), &token, st.desk.now()).await? {
        return expired(&st, lang, &csrf);
    }
    let action = format!("/account/sign-in/{token}?lang={}", lang.code());
    st.views.page(
        StatusCode::OK,
        "account.html",
        with(base(&st, lang, &csrf.0, None), "confirm", json!(action)),
    )
}

fn expired(st: &AppState, lang: Lang, csrf: &CsrfToken) -> Result<Response, WebError> {
    st.views.page(
        StatusCode::BAD_REQUEST,
        "account.html",
        base(
            st,
            lang,
            &csrf.0,
            Some(FlashMessage::error(text(lang, "link_expired"))),
        ),
    )
}

/// A form with only the CSRF field.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /account/sign-in/{token}`: uses the link once and starts a session.
///
/// # Errors
/// 403 without the CSRF field; database errors.
pub async fn sign_in(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let now = st.desk.now();
    let Some(user_id) = session::consume_sign_in(st.desk.store(), &token, now).await? else {
        return expired(&st, anonymous_lang(&st, &q), &csrf);
    };
    let secret =
        session::create_session(st.desk.store(), SessionKind::Customer, user_id, now).await?;
    let mut res = Redirect::to("/account").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            CUSTOMER_COOKIE,
            &secret,
            Some(session::CUSTOMER_SESSION_MS / 1000),
            st.secure_cookies,
        ),
    );
    Ok(res)
}

/// `POST /account/sign-out`.
///
/// # Errors
/// 403 without the CSRF field; database errors.
pub async fn sign_out(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    if let Some(secret) = cookie(&headers, CUSTOMER_COOKIE) {
        session::end_session(st.desk.store(), &secret).await?;
    }
    let mut res = Redirect::to("/account").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(CUSTOMER_COOKIE, "", Some(0), st.secure_cookies),
    );
    Ok(res)
}
