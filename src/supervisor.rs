//! Long-running tasks: one root [`CancellationToken`] for shutdown, one
//! [`TaskTracker`] so nothing is detached, and restart with backoff for a
//! task that ends or fails without being asked to.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Spawns `make()` on `tracker`, restarting it with exponential backoff
/// (1 s doubling to 60 s) whenever it returns before `shutdown` is cancelled.
/// Each exit is logged with the task's name, so no task dies silently.
pub fn spawn_supervised<F, Fut>(
    tracker: &TaskTracker,
    shutdown: CancellationToken,
    name: &'static str,
    mut make: F,
) where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tracker.spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            let started = tokio::time::Instant::now();
            // Run the attempt in its own task so a panic is caught and logged.
            let result = tokio::spawn(make(shutdown.child_token())).await;
            if shutdown.is_cancelled() {
                tracing::info!(task = name, "Task stopped");
                return;
            }
            match result {
                Ok(Ok(())) => tracing::warn!(task = name, "Task ended on its own; restarting"),
                Ok(Err(e)) => tracing::error!(task = name, "Task failed: {e:#}; restarting"),
                Err(e) => tracing::error!(task = name, "Task panicked: {e}; restarting"),
            }
            if started.elapsed() > Duration::from_secs(120) {
                backoff = Duration::from_secs(1);
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    });
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Sets up tracing: `RUST_LOG` (default `info`), to stderr, as text or
/// JSON lines (`log.format`). Text has colours only when stderr is a
/// terminal: a log file or a journal gets plain text, not escape codes.
/// A second call does nothing.
pub fn init_tracing(format: crate::config::LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        crate::config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        crate::config::LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// Whether each inbound source is working, for `/healthz`: sources report
/// `up` when connected (or after a clean pass) and `down` with the reason
/// when a session fails. One per application, passed down (no global).
#[derive(Debug, Default)]
pub struct SourceHealth(std::sync::Mutex<std::collections::BTreeMap<String, SourceState>>);

/// The last known state of one source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceState {
    /// The source works.
    pub up: bool,
    /// What it is connected to, or why it is not.
    pub detail: String,
}

impl SourceHealth {
    /// Records that `name` works.
    pub fn up(&self, name: &str, detail: impl Into<String>) {
        self.set(name, true, detail.into());
    }

    /// Records that `name` does not work, and why.
    pub fn down(&self, name: &str, why: impl Into<String>) {
        self.set(name, false, why.into());
    }

    fn set(&self, name: &str, up: bool, detail: String) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(name.to_string(), SourceState { up, detail });
        }
    }

    /// Every source reported so far, by name.
    pub fn snapshot(&self) -> Vec<(String, SourceState)> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}
