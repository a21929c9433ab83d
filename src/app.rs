//! Wiring: [`Application::build`] opens the store (and migrates it), the
//! slip store, the mailer and the templates, binds the web listener, and
//! [`Application::run`] starts every configured part as a supervised task
//! until the shutdown token is cancelled; then it joins them with a
//! deadline and closes the pool last.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::desk::Desk;
use crate::outbox::deliver::{ChatDelivery, Dispatcher};
use crate::outbox::email::Mailer;
use crate::render::templates::Templates;
use crate::store::Store;
use crate::store::slips::SlipStore;
use crate::supervisor::spawn_supervised;

/// A built application, ready to run.
#[derive(Debug)]
pub struct Application {
    settings: Arc<Settings>,
    desk: Desk,
    dispatcher: Dispatcher,
    listener: Option<tokio::net::TcpListener>,
    web_addr: Option<SocketAddr>,
}

/// Where the parts of a running application are (printed by `topup run`).
#[derive(Debug, Clone)]
pub struct Report {
    /// Database URL (password hidden).
    pub database: String,
    /// Inbox description.
    pub inbox: String,
    /// Outgoing mail description.
    pub outbox: String,
    /// Staff review channel.
    pub review: String,
    /// Web address.
    pub web: Option<String>,
}

impl Application {
    /// Opens the store (migrated) and the slip files: enough for the CLI.
    ///
    /// # Errors
    /// The database cannot be opened or migrated, or the slip folder cannot be made.
    pub async fn open_desk(settings: Arc<Settings>, clock: SharedClock) -> anyhow::Result<Desk> {
        let url = settings.database_url();
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!("Cannot create data folder {}", settings.data_dir.display())
            })?;
        }
        let store = Store::connect(&url, settings.database.max_connections).await?;
        store
            .migrate()
            .await
            .context("Migrating the database failed")?;
        let slips = SlipStore::from_setting(&settings.slips.store, &settings.slips_path())?;
        Ok(Desk::new(store, slips, clock, settings))
    }

    /// Builds everything `run` needs; binds the web listener (port 0 picks a free port).
    ///
    /// # Errors
    /// Anything that cannot be opened: database, folders, templates, SMTP config, the web port.
    pub async fn build(settings: Arc<Settings>, clock: SharedClock) -> anyhow::Result<Application> {
        install_crypto_provider();
        let desk = Self::open_desk(settings.clone(), clock).await?;
        let templates = match &settings.mail.templates_dir {
            Some(dir) => Templates::with_override_dir(dir)
                .with_context(|| format!("Templates in {} are invalid", dir.display()))?,
            None => Templates::embedded(),
        };
        let mailer = match &settings.mail.smtp {
            Some(cfg) => Mailer::smtp(cfg).context("SMTP settings are invalid")?,
            None => {
                let dir = settings.eml_dir_path();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("Cannot create outbox folder {}", dir.display()))?;
                crate::outbox::email::clean_temporaries(&dir);
                Mailer::eml_dir(dir)
            }
        };
        let chat: Option<Arc<dyn ChatDelivery>> = if settings.discord.enabled() {
            Some(Arc::new(crate::discord::Cards::new(
                desk.clone(),
                crate::discord::http_client(&settings.discord),
            )))
        } else {
            None
        };
        let dispatcher = Dispatcher::new(desk.clone(), Arc::new(mailer), Arc::new(templates), chat);
        let listener = tokio::net::TcpListener::bind(&settings.web.listen)
            .await
            .with_context(|| format!("Cannot listen on {}", settings.web.listen))?;
        let web_addr = listener.local_addr().ok();
        Ok(Application {
            settings,
            desk,
            dispatcher,
            listener: Some(listener),
            web_addr,
        })
    }

    /// The desk (for tests and adapters).
    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// The outbox worker (tests drain it directly).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The web server's address.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// What runs where.
    pub fn report(&self) -> Report {
        let s = &self.settings;
        Report {
            database: crate::store::redact_url(&s.database_url()),
            inbox: match &s.mail.imap {
                Some(i) => format!(
                    "IMAP {}@{}:{} mailbox {}",
                    i.username, i.host, i.port, i.mailbox
                ),
                None => format!("Maildir {}", s.maildir_path().display()),
            },
            outbox: match &s.mail.smtp {
                Some(c) => format!("SMTP {}:{}", c.host, c.port),
                None => format!(".eml files in {}", s.eml_dir_path().display()),
            },
            review: if s.discord.enabled() {
                format!("Discord channel {}", s.discord.staff_channel_id)
            } else {
                "staff web board (no Discord configured)".into()
            },
            web: self.web_addr.map(|a| format!("http://{a}")),
        }
    }

    /// What a newcomer still has to set up before the desk can work: without
    /// staff nobody can sign in to the board, without accounts every mail is
    /// from an unknown sender. Empty when both exist (or the store cannot say).
    pub async fn missing_setup(&self) -> Vec<String> {
        let Ok(mut conn) = self.desk.store().pool().acquire().await else {
            return Vec::new();
        };
        let mut steps = Vec::new();
        if matches!(crate::store::accounts::list_staff(&mut conn).await, Ok(s) if s.is_empty()) {
            steps.push(
                "no staff yet, so nobody can sign in to the board: \
                 topup staff add NAME --password PASSWORD"
                    .to_owned(),
            );
        }
        if matches!(crate::store::accounts::list_accounts(&mut conn).await, Ok(a) if a.is_empty()) {
            steps.push(
                "no accounts yet, so every mail is answered as from an unknown sender: \
                 topup account add \"PT Example\" --email boss@example.co.id"
                    .to_owned(),
            );
        }
        steps
    }

    /// Runs until Ctrl-C or SIGTERM, printing where everything is.
    ///
    /// # Errors
    /// Start-up failures.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let r = self.report();
        println!("topup is running:");
        println!("  database  {}", r.database);
        println!("  inbox     {}", r.inbox);
        println!("  outbox    {}", r.outbox);
        println!("  review    {}", r.review);
        if let Some(web) = &r.web {
            println!(
                "  web       {web}  (status pages, staff board at {web}/staff, /healthz, /metrics)"
            );
        }
        for w in self.settings.warnings() {
            println!("warning: {w}");
            tracing::warn!("{w}");
        }
        for step in self.missing_setup().await {
            println!("next step: {step}");
        }
        println!("Press Ctrl-C to stop.");
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            crate::supervisor::wait_for_signal().await;
            tracing::info!("Shutting down");
            trigger.cancel();
        });
        self.run(shutdown).await
    }

    /// Runs every configured part until `shutdown` is cancelled, then stops them
    /// at safe points, waits for them (at most 30 s) and closes the database.
    ///
    /// # Errors
    /// Start-up failures.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        let settings = self.settings.clone();

        // Time limits.
        let desk = self.desk.clone();
        let interval = Duration::from_secs(settings.desk.scheduler_interval_secs.max(1));
        spawn_supervised(&tracker, shutdown.clone(), "scheduler", move |token| {
            let desk = desk.clone();
            async move { scheduler(desk, interval, token).await }
        });

        // Outbox delivery.
        let dispatcher = self.dispatcher.clone();
        spawn_supervised(&tracker, shutdown.clone(), "outbox", move |token| {
            let d = dispatcher.clone();
            async move { d.run(token).await }
        });

        // Slip reading, off the intake path.
        if settings.slips.read {
            let desk = self.desk.clone();
            spawn_supervised(&tracker, shutdown.clone(), "slip-reader", move |token| {
                let desk = desk.clone();
                async move { crate::slip::worker::run(desk, token).await }
            });
        }

        // Inbound mail.
        self.spawn_sources(&tracker, &shutdown);

        // Discord gateway (intake channels, slash commands, button clicks).
        if settings.discord.enabled() && settings.discord.gateway {
            let desk = self.desk.clone();
            spawn_supervised(&tracker, shutdown.clone(), "discord", move |token| {
                let desk = desk.clone();
                async move { crate::discord::run_gateway(desk, token).await }
            });
        }

        // Web server.
        if let Some(listener) = self.listener.take() {
            let state = crate::web::AppState::new(self.desk.clone());
            let token = shutdown.clone();
            tracker.spawn(async move {
                if let Err(e) = crate::web::serve(listener, state, token).await {
                    tracing::error!("Web server failed: {e:#}");
                }
            });
        }

        shutdown.cancelled().await;
        tracker.close();
        if tokio::time::timeout(Duration::from_secs(30), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("Some tasks did not stop within 30 s; leaving them");
        }
        self.desk.store().close().await;
        tracing::info!("Stopped");
        Ok(())
    }

    fn spawn_sources(&self, tracker: &TaskTracker, shutdown: &CancellationToken) {
        let desk = self.desk.clone();
        match self.settings.mail.imap.clone() {
            Some(imap) => {
                spawn_supervised(tracker, shutdown.clone(), "imap", move |token| {
                    let desk = desk.clone();
                    let imap = imap.clone();
                    async move { crate::sources::imap::run(desk, imap, token).await }
                });
            }
            None => {
                let dir: PathBuf = self.settings.maildir_path();
                spawn_supervised(tracker, shutdown.clone(), "maildir", move |token| {
                    let desk = desk.clone();
                    let dir = dir.clone();
                    async move { crate::sources::maildir::run(desk, dir, token).await }
                });
            }
        }
    }
}

/// Applies the time limits every `interval` until cancelled.
async fn scheduler(
    desk: Desk,
    interval: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        match desk.expire_due().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(orders = n, "Time limits applied"),
            Err(e) => tracing::warn!("Applying time limits failed: {e}"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Installs ring as the process's rustls provider (serenity, lettre and sqlx bring ring;
/// two providers make rustls panic when a TLS config is built).
pub fn install_crypto_provider() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// `topup check-config`: validates settings and reaches each configured server.
///
/// # Errors
/// The first unreachable server, with what was tried.
pub async fn check_config(settings: &Settings) -> anyhow::Result<()> {
    install_crypto_provider();
    println!(
        "config: ok ({} settings problems)",
        settings.validate().len()
    );
    for w in settings.warnings() {
        println!("warning: {w}");
    }
    let store = Store::connect(&settings.database_url(), 1).await?;
    store.ping().await.context("Database does not answer")?;
    println!(
        "database: ok ({})",
        crate::store::redact_url(&settings.database_url())
    );
    store.close().await;
    match &settings.mail.smtp {
        Some(cfg) => {
            Mailer::smtp(cfg)?
                .check()
                .await
                .map_err(|e| anyhow::anyhow!("SMTP {}:{}: {e}", cfg.host, cfg.port))?;
            println!("smtp: ok ({}:{})", cfg.host, cfg.port);
        }
        None => println!(
            "smtp: not configured; mail is written to {}",
            settings.eml_dir_path().display()
        ),
    }
    match &settings.mail.imap {
        Some(imap) => {
            crate::sources::imap::check(imap).await?;
            println!("imap: ok ({}:{})", imap.host, imap.port);
        }
        None => println!(
            "imap: not configured; watching {}",
            settings.maildir_path().display()
        ),
    }
    if settings.discord.enabled() {
        match crate::discord::check(&settings.discord).await {
            Ok(text) => println!("discord: ok ({text})"),
            Err(e) => println!("discord: cannot verify: {e:#}"),
        }
    } else {
        println!("discord: not configured; staff review on the web board");
    }
    Ok(())
}
