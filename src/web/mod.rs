//! Web server: the order status page, the customer account page, the staff
//! board, a JSON API mirroring them, `/healthz` and Prometheus `/metrics`.
//!
//! Server-rendered HTML (minijinja, autoescaped), no JavaScript. Every
//! change goes through the [`Desk`], like mail and chat do, so the web adds
//! no rules of its own. Routes:
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `GET /o/{token}` | anyone with the link | status, history, bank details, slips, actions |
//! | `POST /o/{token}/slip`, `/amend`, `/cancel` | same | desk `submit_slip` / `amend` / `cancel` |
//! | `GET /o/{token}/slips/{hash}`, `/receipt.pdf` | same | the order's slip files, its receipt |
//! | `GET,POST /account`, `/account/sign-in/{token}`, `POST /account/sign-out` | customers | one-time email link, the portal home (balance, Top Up, orders, users) |
//! | `POST /account/top-up`, `GET /account/orders/{number}` (+ `/slip`, `/amend`, `/cancel`, `/slips/{hash}`, `/receipt.pdf`) | customers | desk `request`, the order page with bank details and upload |
//! | `POST /account/users`, `/account/users/{id}/remove`, `/account/profile` | customers (users: main user) | PIC management, own name |
//! | `POST /lang` | anyone | language switch, remembered per user |
//! | `GET /staff`, `POST /staff/sign-in`, `/staff/sign-out` | staff | password sign-in, dealing queue, decisions |
//! | `GET /staff/orders/{number}`, `POST .../approve`, `/reject`, `GET /staff/slips/{hash}` | staff | one order, desk `decide` |
//! | `POST /staff/statements`, `POST /staff/statements/{id}/attach` | staff | statement upload, money without an order |
//! | `/api/orders/{token}[/cancel,/amend,/slip]`, `/api/staff/queue`, `/api/staff/orders/{number}/approve,reject` | as the pages | JSON |
//! | `GET /healthz`, `GET /metrics` | operators | health JSON, Prometheus text |
//!
//! Every error is a real page in the visitor's language, and every error
//! under `/api/` is JSON ([`error::error_pages`]).
//!
//! Module map: [`error`] (one error type, error pages), [`session`] (sessions, sign-in
//! links, cookies, CSRF, flash), [`views`] (templates and texts),
//! [`upload`] (multipart and file sniffing), [`status`], [`account`],
//! [`staff`], [`api`], [`health`], [`http_metrics`] (requests, process, build), [`auth`] (argon2).

pub mod account;
pub mod api;
pub mod auth;
pub mod error;
pub mod health;
pub mod http_metrics;
pub mod session;
pub mod staff;
pub mod status;
pub mod upload;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::desk::Desk;

pub use error::{ApiError, WebError};

/// How long one request may take before it is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every handler shares: the desk and the page templates.
#[derive(Clone, Debug)]
pub struct AppState {
    desk: Desk,
    views: Arc<views::Views>,
    /// Cookies get `Secure` when customers reach us over https.
    secure_cookies: bool,
    /// The brake on guessing staff passwords (its counts live in the database).
    brake: Arc<auth::SignInBrake>,
    /// Request counts and latencies, the process, the build.
    metrics: Arc<http_metrics::HttpMetrics>,
}

impl AppState {
    /// State over `desk`.
    pub fn new(desk: Desk) -> AppState {
        let secure_cookies = desk.settings().desk.public_url.starts_with("https://");
        AppState {
            desk,
            views: Arc::new(views::Views::new()),
            secure_cookies,
            brake: Arc::default(),
            metrics: Arc::default(),
        }
    }

    /// The desk.
    pub fn desk(&self) -> &Desk {
        &self.desk
    }
}

/// The router with every route.
pub fn router(state: AppState) -> axum::Router {
    // Multipart framing and the other form fields need a little room above the file itself.
    let upload_limit =
        DefaultBodyLimit::max(state.desk.settings().web.max_upload_bytes + 64 * 1024);
    let secure = session::SecureCookies(state.secure_cookies);
    // Discord's interactions endpoint is signed by Discord, not by a browser
    // session: it sits outside the CSRF and session layers.
    let discord = state
        .desk
        .settings()
        .discord
        .enabled()
        .then(|| crate::discord::routes(state.desk.clone()));
    let pages = axum::Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/o/{token}", get(status::page))
        .route(
            "/o/{token}/slip",
            post(status::upload_slip).layer(upload_limit),
        )
        .route("/o/{token}/amend", post(status::amend))
        .route("/o/{token}/cancel", post(status::cancel))
        .route("/o/{token}/slips/{hash}", get(status::slip))
        .route("/o/{token}/receipt.pdf", get(status::receipt))
        .route("/account", get(account::page).post(account::request_link))
        .route(
            "/account/sign-in/{token}",
            get(account::confirm_page).post(account::sign_in),
        )
        .route("/account/sign-out", post(account::sign_out))
        .route("/account/top-up", post(account::top_up))
        .route("/account/orders/{number}", get(account::order_page))
        .route(
            "/account/orders/{number}/slip",
            post(account::upload_slip).layer(upload_limit),
        )
        .route("/account/orders/{number}/amend", post(account::amend))
        .route("/account/orders/{number}/cancel", post(account::cancel))
        .route("/account/orders/{number}/slips/{hash}", get(account::slip))
        .route(
            "/account/orders/{number}/receipt.pdf",
            get(account::receipt),
        )
        .route("/account/users", post(account::add_pic))
        .route("/account/users/{id}/remove", post(account::remove_pic))
        .route("/account/profile", post(account::profile))
        .route("/lang", post(account::switch_lang))
        .route("/staff", get(staff::page))
        .route("/staff/sign-in", post(staff::sign_in))
        .route("/staff/sign-out", post(staff::sign_out))
        .route("/staff/orders/{number}", get(staff::order_page))
        .route("/staff/orders/{number}/approve", post(staff::approve))
        .route("/staff/orders/{number}/reject", post(staff::reject))
        .route("/staff/slips/{hash}", get(staff::slip))
        .route("/staff/messages/{id}", get(staff::message))
        .route(
            "/staff/statements",
            post(staff::upload_statement).layer(DefaultBodyLimit::max(
                state.desk.settings().statements.max_bytes + 64 * 1024,
            )),
        )
        .route("/staff/statements/{id}/attach", post(staff::attach_line))
        .route("/api/orders/{token}", get(api::order))
        .route("/api/orders/{token}/cancel", post(api::cancel))
        .route("/api/orders/{token}/amend", post(api::amend))
        .route(
            "/api/orders/{token}/slip",
            post(api::slip).layer(upload_limit),
        )
        .route("/api/staff/queue", get(api::queue))
        .route("/api/staff/orders/{number}/approve", post(api::approve))
        .route("/api/staff/orders/{number}/reject", post(api::reject))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .fallback(|| async { WebError::NotFound })
        .layer(axum::middleware::from_fn(api::cross_site_guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::error_pages,
        ))
        .layer(axum::middleware::from_fn(session::csrf_and_flash))
        .layer(Extension(secure))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state.clone());
    let app = match discord {
        Some(discord) => pages.merge(discord),
        None => pages,
    };
    app.layer(axum::middleware::from_fn_with_state(
        state.metrics.clone(),
        http_metrics::track,
    ))
}

/// Serves the router on `listener` until `shutdown` is cancelled. Open
/// connections then get [`SHUTDOWN_GRACE`]; an idle keep-alive connection
/// cannot hold shutdown open longer than that.
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "Web server listening");
    }
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => res?,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("Web connections did not close within {} s; dropping them", SHUTDOWN_GRACE.as_secs());
        }
    }
    Ok(())
}
