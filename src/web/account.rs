//! The customer's account page (`/account`): sign-in by a one-time link sent
//! to a registered address, then the seed's portal: the balance at the top
//! ("Home"), **Top Up** with a customized amount and the payment method,
//! then the order page (`/account/orders/{number}`) with the bank details
//! and the order number, the slip upload and Submit; the order list with
//! statuses and filters, Edit on a rejected order's amount, cancel and
//! receipts; the user's own name; and, for the main user, the PIC users
//! (list, add with email and name, remove). A PIC sees the users but cannot
//! manage them. The language switch (`POST /lang`) is remembered per user.
//!
//! Every action goes through the desk as the signed-in user on
//! [`Channel::Web`], like mail and chat do, with the same order numbers,
//! mails and lifecycle; who may change which order is the desk's rule.
//!
//! The sign-in form answers the same for every address, so it does not tell
//! who is registered. The link opens a confirmation page whose button signs
//! in (a POST), so mail scanners that fetch links do not use it up.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde_json::{Value, json};

use crate::desk::{Channel, OrderView, ReplyTo};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::{EventKind, OrderStatus, transition};
use crate::render::templates::EmailKind;
use crate::store::accounts::{self, UserRow};
use crate::store::{StoreError, orders};

use super::AppState;
use super::error::WebError;
use super::session::{
    self, CUSTOMER_COOKIE, CsrfToken, Flash, FlashMessage, SessionKind, cookie, set_cookie,
};
use super::status::{self, Visitor};
use super::views::{LANG_COOKIE, amount_problem, text, visitor_lang};

/// `?lang=en|id` on pages shown before we know the account.
#[derive(Debug, serde::Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The language of a page before sign-in: `?lang=` (from our sign-in mail), else the visitor's.
async fn anonymous_lang(
    st: &AppState,
    headers: &HeaderMap,
    q: &LangQuery,
) -> Result<Lang, WebError> {
    match q.lang.as_deref().and_then(|l| Lang::parse(l).ok()) {
        Some(l) => Ok(l),
        None => visitor_lang(st, headers, "/account", None).await,
    }
}

fn base(st: &AppState, lang: Lang, csrf: &str, flash: Option<FlashMessage>) -> Value {
    json!({
        "lang": lang.code(),
        "title": text(lang, "account_page"),
        "seller": st.desk.settings().desk.seller_name,
        "csrf": csrf,
        "path": "/account",
        "flash": flash,
    })
}

fn with(mut v: Value, key: &str, extra: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), extra);
    }
    v
}

/// A redirect that carries a one-shot message to the next page.
fn redirect_with(st: &AppState, to: &str, msg: FlashMessage) -> Response {
    let mut res = Redirect::to(to).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, msg.cookie(st.secure_cookies));
    res
}

/// The signed-in customer, if the session cookie names a user who may still act.
///
/// # Errors
/// Database errors.
pub async fn signed_in_user(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Option<UserRow>, WebError> {
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
        Ok(u) if u.removed_at.is_none() => Ok(Some(u)),
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The signed-in user and their language, or a redirect to the sign-in form.
async fn require_user(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Result<(UserRow, Lang), Response>, WebError> {
    let Some(user) = signed_in_user(st, headers).await? else {
        return Ok(Err(Redirect::to("/account").into_response()));
    };
    let mut conn = st.desk.store().pool().acquire().await?;
    let account = accounts::account_by_id(&mut conn, user.account_id).await?;
    let lang = user.lang_or(account.lang());
    Ok(Ok((user, lang)))
}

/// Filters of the order list.
#[derive(Debug, serde::Deserialize, Default)]
pub struct HomeQuery {
    lang: Option<String>,
    status: Option<String>,
    mine: Option<String>,
}

/// `GET /account`: the account home when signed in, else the sign-in form.
///
/// # Errors
/// Database errors.
pub async fn page(
    State(st): State<AppState>,
    Query(q): Query<HomeQuery>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    let Some(user) = signed_in_user(&st, &headers).await? else {
        let lang = anonymous_lang(&st, &headers, &LangQuery { lang: q.lang }).await?;
        return st.views.page_in(
            StatusCode::OK,
            "account.html",
            lang,
            base(&st, lang, &csrf.0, flash.0),
        );
    };
    home(&st, &user, &q, &csrf, flash.0, "", StatusCode::OK).await
}

/// The account home of `user` (with `typed` left in the Top Up field).
async fn home(
    st: &AppState,
    user: &UserRow,
    q: &HomeQuery,
    csrf: &CsrfToken,
    flash: Option<FlashMessage>,
    typed: &str,
    code: StatusCode,
) -> Result<Response, WebError> {
    let mut conn = st.desk.store().pool().acquire().await?;
    let account = accounts::account_by_id(&mut conn, user.account_id).await?;
    let lang = user.lang_or(account.lang());
    let balance = accounts::balance(&mut conn, account.id).await?;
    let wanted = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| OrderStatus::parse(s).ok());
    let mine = q.mine.as_deref().is_some_and(|m| !m.is_empty());
    let list = orders::list(&mut conn, wanted, Some(account.id), 200).await?;
    let everyone = accounts::list_users(&mut conn, Some(account.id)).await?;
    let active = accounts::active_users(&mut conn, account.id).await?;
    drop(conn);
    let name_of = |id: Option<i64>| {
        id.and_then(|id| everyone.iter().find(|u| u.id == id))
            .map(UserRow::display_name)
    };
    let orders: Vec<Value> = list
        .iter()
        .filter(|o| !mine || o.user_id == Some(user.id) || o.submitted_by == Some(user.id))
        .map(|o| {
            let status = o.status();
            // The desk decides for real; this only hides buttons that would be refused.
            let mine = user.is_main() || o.user_id == Some(user.id) || o.submitted_by == Some(user.id);
            let url = format!("/account/orders/{}", o.number);
            json!({
                "number": o.number,
                "url": url,
                "status": status.as_str(),
                "status_name": status.display_name(lang),
                "amount": o.paid_minor.or(o.amount_minor).map(|m| Money::from_minor(m).display(lang)).unwrap_or_else(|| "—".into()),
                "created": st.desk.format_time(o.created_at),
                "by": (o.user_id != Some(user.id)).then(|| name_of(o.user_id)).flatten(),
                "can_edit": mine && transition(Some(status), EventKind::Amend).is_ok(),
                "can_cancel": mine && transition(Some(status), EventKind::Cancel).is_ok(),
                "receipt_url": (status == OrderStatus::Paid).then(|| format!("{url}/receipt.pdf")),
            })
        })
        .collect();
    let statuses: Vec<Value> = OrderStatus::ALL
        .iter()
        .map(|s| {
            json!({
                "value": s.as_str(),
                "name": s.display_name(lang),
                "selected": Some(*s) == wanted,
            })
        })
        .collect();
    let role_name = |u: &UserRow| {
        if u.is_main() {
            text(lang, "role_main")
        } else {
            text(lang, "role_pic")
        }
    };
    let users: Vec<Value> = active
        .iter()
        .map(|u| {
            json!({
                "id": u.id,
                "name": u.name,
                "email": u.primary_email(),
                "role_name": role_name(u),
                "removable": user.is_main() && !u.is_main(),
            })
        })
        .collect();
    let main_name = active
        .iter()
        .find(|u| u.is_main())
        .map(UserRow::display_name)
        .unwrap_or_default();
    let home = json!({
        "company": account.name,
        "user": user.display_name(),
        "my_name": user.name,
        "role_name": role_name(user),
        "is_main": user.is_main(),
        "main_name": main_name,
        "balance": Money::from_minor(balance).display(lang),
        "orders": orders,
        "statuses": statuses,
        "mine": mine,
        "filtered": wanted.is_some() || mine,
        "users": users,
        "typed_amount": typed.chars().take(60).collect::<String>(),
    });
    st.views.page_in(
        code,
        "account.html",
        lang,
        with(base(st, lang, &csrf.0, flash), "home", home),
    )
}

/// The Top Up form.
#[derive(Debug, serde::Deserialize)]
pub struct TopUpForm {
    csrf: Option<String>,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    method: String,
}

/// `POST /account/top-up` (`csrf`, `amount`, `method=transfer`): a new order
/// through the desk, then its page with the bank details and order number.
///
/// # Errors
/// 403 without the CSRF field; a bad amount re-renders the home page (400).
pub async fn top_up(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<TopUpForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let problem = if form.method != "transfer" {
        Some(text(lang, "bad_method"))
    } else {
        None
    };
    let amount = match (problem, Money::parse(form.amount.trim())) {
        (None, Ok(a)) => a,
        (Some(p), _) => {
            return home(
                &st,
                &user,
                &HomeQuery::default(),
                &csrf,
                Some(FlashMessage::error(p)),
                &form.amount,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        (None, Err(e)) => {
            let p = amount_problem(lang, &form.amount, &e);
            return home(
                &st,
                &user,
                &HomeQuery::default(),
                &csrf,
                Some(FlashMessage::error(p)),
                &form.amount,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let order = match st.desk.request(&user, amount, Channel::Web, None).await {
        Ok(o) => o,
        // An amount the desk does not take (over the limit) is told on the same page.
        Err(e @ crate::desk::DeskError::Invalid(_)) => {
            let p = e.localized(lang);
            return home(
                &st,
                &user,
                &HomeQuery::default(),
                &csrf,
                Some(FlashMessage::error(p)),
                &form.amount,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(e) => return Err(WebError::from_desk(e, lang)),
    };
    tracing::info!(order = %order.number, user = user.id, "Top-up requested on the account page");
    Ok(Redirect::to(&format!("/account/orders/{}", order.number)).into_response())
}

/// The order `number` of the signed-in user's account (404 for any other).
async fn own_view(st: &AppState, user: &UserRow, number: &str) -> Result<OrderView, WebError> {
    let number = st
        .desk
        .parse_order_number(number)
        .map_err(|_| WebError::NotFound)?;
    let view = st.desk.view(&number).await?;
    if view.account.id != user.account_id {
        return Err(WebError::NotFound);
    }
    Ok(view)
}

fn portal_visitor(user: UserRow, lang: Lang) -> Visitor {
    Visitor {
        user,
        channel: Channel::Web,
        lang,
    }
}

/// `GET /account/orders/{number}`: the order page of the portal (bank details,
/// order number, upload and Submit, Edit, cancel, receipt, history).
///
/// # Errors
/// 404 for an order of another account.
pub async fn order_page(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Extension(flash): Extension<Flash>,
) -> Result<Response, WebError> {
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let view = own_view(&st, &user, &number).await?;
    let base = format!("/account/orders/{}", view.order.number);
    let who = portal_visitor(user, lang);
    status::render_order(
        &st,
        &view,
        &who,
        &base,
        true,
        &csrf,
        flash.0,
        StatusCode::OK,
    )
    .await
}

/// `POST /account/orders/{number}/slip` (multipart: `csrf`, `slip`, optional `amount`).
///
/// # Errors
/// 403 without the CSRF field; refusals re-render the order page.
pub async fn upload_slip(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let view = own_view(&st, &user, &number).await?;
    let base = format!("/account/orders/{}", view.order.number);
    let who = portal_visitor(user, lang);
    let outcome = match status::read_upload(&st, form, lang).await {
        Ok(f) => {
            csrf.check(f.csrf.as_deref())?;
            status::submit_upload_as(&st, &view, &who, f)
                .await
                .map(|()| "ok_slip")
        }
        Err(e) => Err(e),
    };
    status::finish(&st, &view, &who, &base, true, &csrf, outcome).await
}

/// `POST /account/orders/{number}/amend` (`csrf`, `amount`): Edit on a rejected order.
///
/// # Errors
/// 403 without the CSRF field; refusals re-render the order page.
pub async fn amend(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<status::AmendForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let view = own_view(&st, &user, &number).await?;
    let base = format!("/account/orders/{}", view.order.number);
    let who = portal_visitor(user, lang);
    let outcome = status::submit_amend_as(&st, &view, &who, &form.amount)
        .await
        .map(|()| "ok_amend");
    status::finish(&st, &view, &who, &base, true, &csrf, outcome).await
}

/// The cancel form (`back=list` returns to the order list).
#[derive(Debug, serde::Deserialize)]
pub struct CancelForm {
    csrf: Option<String>,
    back: Option<String>,
}

/// `POST /account/orders/{number}/cancel` (`csrf`).
///
/// # Errors
/// 403 without the CSRF field; refusals re-render the order page.
pub async fn cancel(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CancelForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let view = own_view(&st, &user, &number).await?;
    let base = format!("/account/orders/{}", view.order.number);
    let who = portal_visitor(user, lang);
    let outcome = status::submit_cancel_as(&st, &view, &who)
        .await
        .map(|()| "ok_cancel");
    if outcome.is_ok() && form.back.as_deref() == Some("list") {
        return Ok(redirect_with(
            &st,
            "/account#orders",
            FlashMessage::ok(format!("{} {}", view.order.number, text(lang, "ok_cancel"))),
        ));
    }
    status::finish(&st, &view, &who, &base, true, &csrf, outcome).await
}

/// `GET /account/orders/{number}/slips/{hash}`: a slip of this order.
///
/// # Errors
/// 404 for another account's order or a hash that is not this order's.
pub async fn slip(
    State(st): State<AppState>,
    Path((number, hash)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (user, _) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let view = own_view(&st, &user, &number).await?;
    let s = view
        .slips
        .iter()
        .find(|s| s.hash == hash)
        .ok_or(WebError::NotFound)?;
    status::slip_response(&st, &s.hash, &s.file_name).await
}

/// `GET /account/orders/{number}/receipt.pdf`.
///
/// # Errors
/// 404 for another account's order, 409 when it is not paid.
pub async fn receipt(
    State(st): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let view = own_view(&st, &user, &number).await?;
    status::receipt_response(&st, &view, lang).await
}

/// The add-PIC form.
#[derive(Debug, serde::Deserialize)]
pub struct PicForm {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
}

/// `POST /account/users` (`csrf`, `email`, `name`): the main user adds a PIC.
///
/// # Errors
/// 403 for a PIC or without the CSRF field; a taken address re-renders the page (409).
pub async fn add_pic(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<PicForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    if !user.is_main() {
        return Err(WebError::Forbidden(text(lang, "only_main")));
    }
    let email = accounts::normalise_email(&form.email);
    let name = accounts::clean_name(&form.name);
    let problem = if !valid_email(&email) {
        Some((StatusCode::BAD_REQUEST, text(lang, "bad_email")))
    } else if name.is_empty() {
        Some((StatusCode::BAD_REQUEST, text(lang, "need_name")))
    } else {
        let mut tx = st.desk.store().begin_write().await?;
        match accounts::add_user(
            &mut tx,
            user.account_id,
            &email,
            "pic",
            &name,
            None,
            st.desk.now(),
        )
        .await
        {
            Ok(pic) => {
                tx.commit().await?;
                tracing::info!(
                    user = user.id,
                    pic = pic.id,
                    "PIC user added on the account page"
                );
                None
            }
            Err(StoreError::Conflict(_)) => Some((StatusCode::CONFLICT, text(lang, "pic_taken"))),
            Err(StoreError::Invalid(_)) => Some((StatusCode::BAD_REQUEST, text(lang, "bad_email"))),
            Err(e) => return Err(e.into()),
        }
    };
    match problem {
        None => Ok(redirect_with(
            &st,
            "/account#users",
            FlashMessage::ok(text(lang, "ok_pic_added")),
        )),
        Some((code, p)) => {
            home(
                &st,
                &user,
                &HomeQuery::default(),
                &csrf,
                Some(FlashMessage::error(p)),
                "",
                code,
            )
            .await
        }
    }
}

/// A plausible address: one `@`, no spaces or list separators, at most 254 characters.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>' | '"')
        })
}

/// A form with only the CSRF field.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /account/users/{id}/remove` (`csrf`): the main user removes a PIC.
///
/// # Errors
/// 403 for a PIC or without the CSRF field; 404 for anyone who is not a PIC of the account.
pub async fn remove_pic(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    if !user.is_main() {
        return Err(WebError::Forbidden(text(lang, "only_main")));
    }
    let mut tx = st.desk.store().begin_write().await?;
    let removed = accounts::remove_pic(&mut tx, user.account_id, id, st.desk.now()).await?;
    tx.commit().await?;
    tracing::info!(
        user = user.id,
        pic = removed.id,
        "PIC user removed on the account page"
    );
    Ok(redirect_with(
        &st,
        "/account#users",
        FlashMessage::ok(text(lang, "ok_pic_removed")),
    ))
}

/// The own-name form.
#[derive(Debug, serde::Deserialize)]
pub struct ProfileForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
}

/// `POST /account/profile` (`csrf`, `name`): the signed-in user's display name.
///
/// # Errors
/// 403 without the CSRF field; an empty name re-renders the page (400).
pub async fn profile(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<ProfileForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let (user, lang) = match require_user(&st, &headers).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let name = accounts::clean_name(&form.name);
    if name.is_empty() {
        return home(
            &st,
            &user,
            &HomeQuery::default(),
            &csrf,
            Some(FlashMessage::error(text(lang, "need_name"))),
            "",
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let mut tx = st.desk.store().begin_write().await?;
    accounts::set_user_name(&mut tx, user.id, &name).await?;
    tx.commit().await?;
    Ok(redirect_with(
        &st,
        "/account#profile",
        FlashMessage::ok(text(lang, "ok_profile")),
    ))
}

/// The language switch.
#[derive(Debug, serde::Deserialize)]
pub struct LangForm {
    csrf: Option<String>,
    #[serde(default)]
    lang: String,
    next: Option<String>,
}

/// Where to go after the switch: a path of this site, else the account page.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control)
                && p.len() <= 512 =>
        {
            p.to_string()
        }
        _ => "/account".into(),
    }
}

/// `POST /lang` (`csrf`, `lang`, `next`): switches the language of every page.
/// It is remembered in a cookie, and for a signed-in customer (or staff
/// member, on staff pages) in their own setting, which also sets the language
/// of the mail they get.
///
/// # Errors
/// 403 without the CSRF field; 400 for an unknown language.
pub async fn switch_lang(
    State(st): State<AppState>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<LangForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let lang = Lang::parse(&form.lang).map_err(WebError::BadRequest)?;
    let next = local_path(form.next.as_deref());
    if next.starts_with("/staff") {
        if let Some(staff) = super::staff::staff_by_cookie(&st, &headers).await? {
            let mut tx = st.desk.store().begin_write().await?;
            accounts::set_staff_lang(&mut tx, staff.id, lang).await?;
            tx.commit().await?;
        }
    } else if let Some(user) = signed_in_user(&st, &headers).await? {
        let mut tx = st.desk.store().begin_write().await?;
        accounts::set_user_lang(&mut tx, user.id, lang).await?;
        tx.commit().await?;
    }
    let mut res = Redirect::to(&next).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LANG_COOKIE,
            lang.code(),
            Some(365 * 24 * 3600),
            st.secure_cookies,
        ),
    );
    Ok(res)
}

/// The sign-in form.
#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    #[serde(default)]
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
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let lang = anonymous_lang(&st, &headers, &q).await?;
    let email = accounts::normalise_email(&form.email);
    if email.contains('@') && email.len() <= 254 {
        send_link(&st, &email).await?;
    }
    st.views.page_in(
        StatusCode::OK,
        "account.html",
        lang,
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
    let lang = user.lang_or(account.lang());
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
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
) -> Result<Response, WebError> {
    let lang = anonymous_lang(&st, &headers, &q).await?;
    if !session::sign_in_is_valid(st.desk.store(), &token, st.desk.now()).await? {
        return expired(&st, lang, &csrf);
    }
    let action = format!("/account/sign-in/{token}?lang={}", lang.code());
    st.views.page_in(
        StatusCode::OK,
        "account.html",
        lang,
        with(base(&st, lang, &csrf.0, None), "confirm", json!(action)),
    )
}

fn expired(st: &AppState, lang: Lang, csrf: &CsrfToken) -> Result<Response, WebError> {
    st.views.page_in(
        StatusCode::BAD_REQUEST,
        "account.html",
        lang,
        base(
            st,
            lang,
            &csrf.0,
            Some(FlashMessage::error(text(lang, "link_expired"))),
        ),
    )
}

/// `POST /account/sign-in/{token}`: uses the link once and starts a session.
///
/// # Errors
/// 403 without the CSRF field; database errors.
pub async fn sign_in(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    csrf.check(form.csrf.as_deref())?;
    let now = st.desk.now();
    let Some(user_id) = session::consume_sign_in(st.desk.store(), &token, now).await? else {
        let lang = anonymous_lang(&st, &headers, &q).await?;
        return expired(&st, lang, &csrf);
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
    headers: HeaderMap,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_only_goes_back_to_this_site() {
        assert_eq!(local_path(Some("/o/abc")), "/o/abc");
        assert_eq!(local_path(Some("//evil.example/x")), "/account");
        assert_eq!(local_path(Some("https://evil.example")), "/account");
        assert_eq!(local_path(Some("/\\evil.example")), "/account");
        assert_eq!(local_path(None), "/account");
    }

    #[test]
    fn pic_addresses_must_be_one_plain_address() {
        assert!(valid_email("siti@maju.co.id"));
        assert!(!valid_email("siti@maju"));
        assert!(!valid_email("a@b.c, evil@x.y"));
        assert!(!valid_email("Siti <siti@maju.co.id>"));
        assert!(!valid_email("@maju.co.id"));
        assert!(!valid_email(&format!("{}@x.id", "a".repeat(260))));
    }
}
