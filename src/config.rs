//! Settings: embedded defaults, then the TOML file (`--config` or
//! `TOPUP_CONFIG`), then environment variables `TOPUP__SECTION__KEY`.
//!
//! [`Settings::default`] *is* the embedded default that `topup run` uses with
//! no config at all: SQLite and Maildir under `./data`, `.eml` files for
//! outgoing mail, the web server on 127.0.0.1. Settings are passed down, never
//! kept in a global. Secrets are [`SecretString`]s, which never print.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::domain::Lang;
use crate::outbox::email::SmtpConfig;

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Folder for the SQLite file, inbox, outbox and slips (relative paths below resolve against it).
    pub data_dir: PathBuf,
    /// Where orders are stored.
    pub database: DatabaseSettings,
    /// The desk's business rules: prefix, currency, limits in hours, bank accounts, seller.
    pub desk: DeskSettings,
    /// Size limits for inbound messages.
    pub limits: LimitSettings,
    /// Mail in and out.
    pub mail: MailSettings,
    /// The web server.
    pub web: WebSettings,
    /// Discord bot and channels.
    pub discord: DiscordSettings,
    /// Outbox delivery retries.
    pub outbox: OutboxSettings,
    /// Where slip files are kept.
    pub slips: SlipSettings,
    /// How the daemon logs.
    pub log: LogSettings,
    /// Bank statements: who may mail them, how big they may be, the generic CSV mapping.
    pub statements: StatementSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            database: DatabaseSettings::default(),
            desk: DeskSettings::default(),
            limits: LimitSettings::default(),
            mail: MailSettings::default(),
            web: WebSettings::default(),
            discord: DiscordSettings::default(),
            outbox: OutboxSettings::default(),
            slips: SlipSettings::default(),
            log: LogSettings::default(),
            statements: StatementSettings::default(),
        }
    }
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`. Empty: `<data_dir>/topup.db`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: String::new(),
            max_connections: 8,
        }
    }
}

/// A bank account customers pay into.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BankAccount {
    /// Bank name, e.g. `BCA`.
    pub bank: String,
    /// Account number as printed.
    pub account_number: String,
    /// Name on the account.
    pub account_name: String,
}

/// Business rules of the desk.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskSettings {
    /// Order number prefix (`TU` gives `TU-20261125-0001`).
    pub order_prefix: String,
    /// ISO currency code of all amounts.
    pub currency: String,
    /// Language of accounts created without one.
    pub default_lang: Lang,
    /// A submission not confirmed within this many hours becomes `payment_failure`.
    pub confirm_hours: i64,
    /// An open order with no slip within this many hours becomes `closed`.
    pub close_hours: i64,
    /// Offset of the desk's local time from UTC in minutes (order-number dates; WIB = 420).
    pub utc_offset_minutes: i32,
    /// Base URL of the web server as customers reach it (links in emails).
    pub public_url: String,
    /// Seller name on receipts and emails.
    pub seller_name: String,
    /// Seller address on receipts.
    pub seller_address: String,
    /// Address customers may write to for help.
    pub support_email: String,
    /// Accounts customers pay into.
    pub bank_accounts: Vec<BankAccount>,
    /// How often the scheduler checks the time limits, in seconds.
    pub scheduler_interval_secs: u64,
    /// Orders waiting in `dealing` this many hours are highlighted on the
    /// staff board and re-announced in the staff channel once (before the
    /// confirm limit fails them). 0 turns the reminder off.
    pub remind_hours: i64,
    /// Language of the staff board (for staff without their own setting) and
    /// of Discord review cards.
    pub staff_lang: Lang,
    /// The notation of amounts on every staff surface (board, cards, CLI):
    /// `id` gives `Rp 1.500.000`, `en` gives `IDR 1,500,000`, whatever the
    /// customer's language.
    pub staff_notation: Lang,
    /// `"off"` (default): staff approve every order. `"matched"`: an order in
    /// `dealing` whose money a statement line matched (`order_number` or
    /// `reference` rule) is approved by the system, decided by
    /// "system (statement line N)", with the same mails and receipt.
    pub auto_approve: AutoApprove,
    /// Add a code of 1-999 rupiah to every new order's amount to transfer,
    /// unique among unsettled orders, so the amount alone names the order.
    pub unique_code: bool,
    /// With unique codes, what is credited: `"requested"` (the order's
    /// amount, default) or `"transferred"` (amount plus code).
    pub credit: CreditChoice,
}

/// Whether the system approves orders that statements matched.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AutoApprove {
    /// Staff approve everything.
    #[default]
    Off,
    /// Matched orders are approved by the system.
    Matched,
}

/// What an order with a unique code credits.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CreditChoice {
    /// The amount the customer asked for.
    #[default]
    Requested,
    /// The amount transferred (amount plus code).
    Transferred,
}

/// Bank statements.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementSettings {
    /// Addresses whose mails to the desk's mailbox carry statements (the
    /// bank's or the finance team's). Mail from any other sender is never
    /// read as a statement.
    pub senders: Vec<String>,
    /// Largest statement file, bytes.
    pub max_bytes: usize,
    /// Most lines in one file.
    pub max_lines: usize,
    /// The column mapping of the generic `csv` format.
    pub csv: Option<crate::statement::table::ColumnMapping>,
}

impl Default for StatementSettings {
    fn default() -> Self {
        StatementSettings {
            senders: Vec::new(),
            max_bytes: 20 * 1024 * 1024,
            max_lines: 100_000,
            csv: None,
        }
    }
}

impl StatementSettings {
    /// The file limits.
    pub fn limits(&self) -> crate::statement::Limits {
        crate::statement::Limits {
            max_bytes: self.max_bytes,
            max_lines: self.max_lines,
            // Excel XML is about ten times its zip.
            max_unpacked: (self.max_bytes as u64).saturating_mul(10),
        }
    }

    /// True when `address` is a configured statement sender.
    pub fn is_sender(&self, address: &str) -> bool {
        let a = address.trim().to_ascii_lowercase();
        !a.is_empty()
            && self
                .senders
                .iter()
                .any(|s| s.trim().to_ascii_lowercase() == a)
    }
}

impl Default for DeskSettings {
    fn default() -> Self {
        DeskSettings {
            order_prefix: "TU".into(),
            currency: "IDR".into(),
            default_lang: Lang::Id,
            confirm_hours: 24,
            close_hours: 120,
            utc_offset_minutes: 7 * 60,
            public_url: "http://127.0.0.1:8080".into(),
            seller_name: "Top-up Desk".into(),
            seller_address: String::new(),
            support_email: "topup@localhost".into(),
            bank_accounts: vec![BankAccount {
                bank: "BCA".into(),
                account_number: "000-000-0000".into(),
                account_name: "Top-up Desk (configure desk.bank_accounts)".into(),
            }],
            scheduler_interval_secs: 60,
            remind_hours: 20,
            staff_lang: Lang::En,
            staff_notation: Lang::Id,
            auto_approve: AutoApprove::Off,
            unique_code: false,
            credit: CreditChoice::Requested,
        }
    }
}

/// Size limits for inbound messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest accepted message, in bytes.
    pub max_message_bytes: usize,
    /// Largest accepted single attachment, in bytes.
    pub max_attachment_bytes: usize,
    /// Most slips accepted in one message.
    pub max_attachments: usize,
    /// At most this many answers per hour to one address for messages the desk could
    /// not act on (not understood, refusals, unknown senders): the mail-loop guard.
    /// Order mail (created, received, paid, failure, cancelled, closed) is never capped.
    pub replies_per_sender_per_hour: i64,
    /// At most this many sign-in links per hour to one address.
    pub sign_in_links_per_address_per_hour: i64,
    /// Largest amount one order may have, in whole currency units (larger
    /// amounts are refused as a typo or an attack on the sums).
    pub max_order_amount: i64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_message_bytes: 25 * 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_attachments: 10,
            replies_per_sender_per_hour: 10,
            sign_in_links_per_address_per_hour: 5,
            max_order_amount: 10_000_000_000,
        }
    }
}

/// Mail settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// Address our mail comes from (and which we never answer).
    pub from_address: String,
    /// Display name on our mail.
    pub from_name: String,
    /// Maildir watched when no IMAP server is configured. Empty: `<data_dir>/inbox`.
    pub maildir: PathBuf,
    /// Folder of `.eml` files written when no SMTP server is configured. Empty: `<data_dir>/outbox`.
    pub eml_dir: PathBuf,
    /// Folder whose `<lang>/<kind>.md` files override the embedded templates.
    pub templates_dir: Option<PathBuf>,
    /// The authserv-id our own receiving server writes in `Authentication-Results`.
    pub authserv_id: Option<String>,
    /// Refuse (instead of flag) mail whose sender authentication did not pass.
    pub refuse_unauthenticated: bool,
    /// IMAP mailbox to watch instead of the Maildir.
    pub imap: Option<ImapSettings>,
    /// SMTP server to send through instead of writing `.eml` files.
    pub smtp: Option<SmtpConfig>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            from_address: "topup@localhost".into(),
            from_name: "Top-up Desk".into(),
            maildir: PathBuf::new(),
            eml_dir: PathBuf::new(),
            templates_dir: None,
            authserv_id: None,
            refuse_unauthenticated: false,
            imap: None,
            smtp: None,
        }
    }
}

/// How to reach an IMAP server.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// Plain TCP (loopback only).
    None,
    /// Implicit TLS (port 993).
    #[default]
    Tls,
}

/// IMAP source settings.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSettings {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `tls` or `none`.
    pub tls: ImapTls,
    /// Extra root CA (PEM) to trust, for private servers.
    pub ca_file: Option<PathBuf>,
    /// Login name.
    pub username: String,
    /// Password (or `TOPUP__MAIL__IMAP__PASSWORD`).
    pub password: SecretString,
    /// Mailbox to watch.
    pub mailbox: String,
    /// Move processed mail here; empty keeps it in place, flagged `\Seen`.
    pub processed_mailbox: String,
    /// Re-issue IDLE after this many seconds (well under 29 minutes).
    pub idle_secs: u64,
    /// Timeout for every other IMAP command.
    pub command_timeout_secs: u64,
    /// Allow `tls = "none"` to a host that is not on this machine (the password
    /// and every message would cross the network in clear text).
    pub allow_plaintext: bool,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            host: "127.0.0.1".into(),
            port: 993,
            tls: ImapTls::Tls,
            ca_file: None,
            username: String::new(),
            password: SecretString::from(String::new()),
            mailbox: "INBOX".into(),
            processed_mailbox: String::new(),
            idle_secs: 600,
            command_timeout_secs: 30,
            allow_plaintext: false,
        }
    }
}

impl std::fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

/// Web server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Address to listen on. Port 0 picks a free port.
    pub listen: String,
    /// Largest accepted upload (slip) in bytes.
    pub max_upload_bytes: usize,
    /// A reverse proxy stands in front: take the client's address from the
    /// last `X-Forwarded-For` entry (for the sign-in brake). Leave off when
    /// clients reach the daemon directly, or they could pick their address.
    pub trust_forwarded_for: bool,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            listen: "127.0.0.1:8080".into(),
            max_upload_bytes: 10 * 1024 * 1024,
            trust_forwarded_for: false,
        }
    }
}

/// Discord settings. Leave `token` empty to run without Discord.
#[derive(Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordSettings {
    /// Bot token (or `TOPUP__DISCORD__TOKEN`).
    pub token: Option<SecretString>,
    /// Application id (for interaction responses and slash commands).
    pub application_id: u64,
    /// Application public key (hex), to verify the HTTP interactions endpoint.
    pub public_key: String,
    /// Channel where review cards are posted.
    pub staff_channel_id: u64,
    /// Roles whose members may approve or reject.
    pub staff_role_ids: Vec<u64>,
    /// Users who may approve or reject.
    pub staff_user_ids: Vec<u64>,
    /// Channels where customers may post slips.
    pub intake_channel_ids: Vec<u64>,
    /// Connect to the gateway (needed for intake channels and button clicks without the HTTP endpoint).
    pub gateway: bool,
    /// Base URL of Discord's API (tests point it at a fake).
    pub api_base: Option<String>,
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("application_id", &self.application_id)
            .field("staff_channel_id", &self.staff_channel_id)
            .field("staff_role_ids", &self.staff_role_ids)
            .field("staff_user_ids", &self.staff_user_ids)
            .field("intake_channel_ids", &self.intake_channel_ids)
            .finish_non_exhaustive()
    }
}

impl DiscordSettings {
    /// Discord is used when a bot token is configured.
    pub fn enabled(&self) -> bool {
        use secrecy::ExposeSecret;
        self.token
            .as_ref()
            .is_some_and(|t| !t.expose_secret().is_empty())
    }
}

/// Outbox delivery settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Give up (mark `dead`) after this many attempts.
    pub max_attempts: i64,
    /// First retry delay in seconds; doubles each attempt, with jitter.
    pub base_backoff_secs: i64,
    /// Longest retry delay in seconds.
    pub max_backoff_secs: i64,
    /// How often to look for due rows when nothing wakes the worker, in seconds.
    pub poll_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            max_attempts: 10,
            base_backoff_secs: 15,
            max_backoff_secs: 3600,
            poll_secs: 5,
        }
    }
}

/// Logging (the level comes from `RUST_LOG`, default `info`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (one line per event; colours only on a terminal) or `json`
    /// (one JSON object per line, for log pipelines).
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where slip files live, and how they are read.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlipSettings {
    /// Empty: `<data_dir>/slips`. Or an object-store URL such as `s3://bucket/prefix`.
    pub store: String,
    /// Read every slip (amount, date, accounts, reference) after intake and
    /// show the checks to staff. Needs `tesseract` and `pdftoppm` installed.
    pub read: bool,
    /// Deadline of one `tesseract` or `pdftoppm` run, in seconds (a read tries up to five preprocessings within three times this).
    pub read_timeout_secs: u64,
    /// Tries of a read that failed for a passing reason before it counts as unreadable.
    pub read_attempts: i64,
    /// Largest image read, in pixels (checked from the header before decoding).
    pub max_read_pixels: u64,
    /// A second Tesseract language-data folder holding `eng.traineddata` and
    /// `ind.traineddata` (the standard `tessdata` models; `scripts/fetch-tessdata
    /// DIR` writes one), read in turn with the system's: two models misread a
    /// blurred digit differently, and the reads vote. Empty: the system's only.
    pub second_tessdata: String,
}

impl Default for SlipSettings {
    fn default() -> Self {
        SlipSettings {
            store: String::new(),
            read: true,
            read_timeout_secs: 20,
            read_attempts: 3,
            max_read_pixels: 40_000_000,
            second_tessdata: String::new(),
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (if any), then `TOPUP__SECTION__KEY` variables.
    ///
    /// # Errors
    /// A file that cannot be read or a key that is unknown or of the wrong type.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut fig = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("Config file {} does not exist", file.display());
            }
            if !file.is_file() {
                anyhow::bail!(
                    "Config file {} is not a file (a directory?): give the path of the TOML file",
                    file.display()
                );
            }
            fig = fig.merge(Toml::file(file));
        }
        fig = fig.merge(Env::prefixed("TOPUP__").split("__"));
        let settings: Settings = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("Config is invalid: {e}"))?;
        Ok(settings)
    }

    /// Every problem with these settings at once (empty when fine).
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let d = &self.desk;
        if d.order_prefix.is_empty() || !d.order_prefix.chars().all(|c| c.is_ascii_alphabetic()) {
            problems.push(format!(
                "desk.order_prefix {:?} must be letters only",
                d.order_prefix
            ));
        }
        if d.confirm_hours <= 0 {
            problems.push("desk.confirm_hours must be positive".into());
        }
        if d.close_hours <= 0 {
            problems.push("desk.close_hours must be positive".into());
        }
        if d.remind_hours < 0
            || (d.confirm_hours > 0 && d.remind_hours > 0 && d.remind_hours >= d.confirm_hours)
        {
            problems.push(format!(
                "desk.remind_hours must be 0 (off) or less than desk.confirm_hours ({})",
                d.confirm_hours
            ));
        }
        if d.bank_accounts.is_empty() {
            problems.push("desk.bank_accounts needs at least one account".into());
        }
        if !(d.public_url.starts_with("http://") || d.public_url.starts_with("https://")) {
            problems.push(format!(
                "desk.public_url {:?} must start with http:// or https://",
                d.public_url
            ));
        }
        let url = &self.database.url;
        if !url.is_empty() && !url.starts_with("sqlite:") && !url.starts_with("postgres") {
            problems.push(format!(
                "database.url must start with sqlite: or postgres:// (got {url:?})"
            ));
        }
        if !self.mail.from_address.contains('@') {
            problems.push("mail.from_address must be an email address".into());
        }
        if !(1..=10_000_000_000_000).contains(&self.limits.max_order_amount) {
            problems.push(
                "limits.max_order_amount must be between 1 and 10000000000000 (whole units)".into(),
            );
        }
        if self.outbox.max_attempts < 1 {
            problems.push("outbox.max_attempts must be at least 1".into());
        }
        if self.web.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "web.listen {:?} must be an address like 127.0.0.1:8080",
                self.web.listen
            ));
        }
        if let Some(imap) = &self.mail.imap {
            if imap.username.is_empty() {
                problems.push("mail.imap.username is empty".into());
            }
            if imap.idle_secs == 0 || imap.idle_secs > 25 * 60 {
                problems.push("mail.imap.idle_secs must be between 1 and 1500".into());
            }
            if imap.tls == ImapTls::None && !imap.allow_plaintext && !is_loopback(&imap.host) {
                problems.push(format!(
                    "mail.imap.tls = \"none\" sends the password and mail in clear text to {}: use \
                     tls = \"tls\", or set mail.imap.allow_plaintext = true if the network is trusted",
                    imap.host
                ));
            }
        }
        if let Some(smtp) = &self.mail.smtp
            && smtp.tls == crate::outbox::email::TlsMode::None
            && !smtp.allow_plaintext
            && !is_loopback(&smtp.host)
        {
            problems.push(format!(
                "mail.smtp.tls = \"none\" sends mail (and any password) in clear text to {}: use \
                 \"starttls\" or \"tls\", or set mail.smtp.allow_plaintext = true if the network is trusted",
                smtp.host
            ));
        }
        if self.discord.enabled() {
            if self.discord.staff_channel_id == 0 {
                problems.push("discord.staff_channel_id is needed with a bot token".into());
            }
            if self.discord.staff_role_ids.is_empty() && self.discord.staff_user_ids.is_empty() {
                problems.push(
                    "discord.staff_role_ids or discord.staff_user_ids must name who may decide"
                        .into(),
                );
            }
        }
        let st = &self.statements;
        if st.max_bytes == 0 || st.max_lines == 0 {
            problems.push("statements.max_bytes and statements.max_lines must be positive".into());
        }
        for sender in &st.senders {
            if !sender.contains('@') {
                problems.push(format!(
                    "statements.senders: {sender:?} is not an email address"
                ));
            }
        }
        if let Some(m) = &st.csv
            && (m.date.is_empty()
                || m.description.is_empty()
                || (m.amount.is_empty() && m.credit.is_empty()))
        {
            problems.push(
                "statements.csv needs date, description and amount (or credit and debit) columns"
                    .into(),
            );
        }
        problems
    }

    /// What an operator must know about these settings even though they are
    /// valid (printed by `topup run` and `topup check-config`).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self
            .mail
            .authserv_id
            .as_deref()
            .is_none_or(|id| id.trim().is_empty())
        {
            warnings.push(
                "sender addresses are NOT verified: mail.authserv_id is not set, so anyone can send \
                 mail in a customer's name. Set it to the authserv-id your receiving mail server writes \
                 in Authentication-Results (then unverified mail may only bring slips, flagged for staff)"
                    .into(),
            );
            if !self.statements.senders.is_empty() {
                warnings.push(
                    "statement mail is NOT verified: without mail.authserv_id, a mail that only                      claims to come from a statements.senders address is imported as a statement"
                        .into(),
                );
            }
        }
        warnings
    }

    /// The database URL, defaulting to a SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("topup.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// `path` if set (relative to the data folder), else `<data_dir>/<default>`.
    pub fn data_path(&self, path: &Path, default: &str) -> PathBuf {
        if path.as_os_str().is_empty() {
            self.data_dir.join(default)
        } else if path.is_relative() {
            self.data_dir.join(path)
        } else {
            path.to_path_buf()
        }
    }

    /// The Maildir watched when no IMAP server is configured.
    pub fn maildir_path(&self) -> PathBuf {
        self.data_path(&self.mail.maildir, "inbox")
    }

    /// The folder `.eml` files are written to when no SMTP server is configured.
    pub fn eml_dir_path(&self) -> PathBuf {
        self.data_path(&self.mail.eml_dir, "outbox")
    }

    /// The local slip folder (when `slips.store` is not a URL).
    pub fn slips_path(&self) -> PathBuf {
        if self.slips.store.is_empty() {
            self.data_dir.join("slips")
        } else {
            self.data_path(Path::new(&self.slips.store), "slips")
        }
    }
}

/// `host` is this machine (`localhost` or a loopback address).
fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let s = Settings::default();
        assert_eq!(s.validate(), Vec::<String>::new());
        assert!(s.database_url().starts_with("sqlite://./data/topup.db"));
        assert_eq!(s.maildir_path(), PathBuf::from("./data/inbox"));
    }

    #[test]
    fn validate_reports_every_problem_at_once() {
        let mut s = Settings::default();
        s.desk.confirm_hours = 0;
        s.desk.order_prefix = "T-U".into();
        s.web.listen = "nowhere".into();
        let problems = s.validate();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn plain_text_mail_is_refused_off_this_machine() {
        let mut s = Settings::default();
        s.mail.imap = Some(ImapSettings {
            host: "imap.example.com".into(),
            tls: ImapTls::None,
            username: "desk".into(),
            ..ImapSettings::default()
        });
        s.mail.smtp = Some(SmtpConfig {
            host: "10.0.0.5".into(),
            ..SmtpConfig::default()
        });
        let problems = s.validate();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("clear text") && problems[1].contains("clear text"));
        // Loopback is fine, and so is an explicit choice.
        if let Some(i) = s.mail.imap.as_mut() {
            i.host = "127.0.0.1".into();
        }
        if let Some(m) = s.mail.smtp.as_mut() {
            m.allow_plaintext = true;
        }
        assert_eq!(s.validate(), Vec::<String>::new());
    }

    #[test]
    fn unverified_senders_are_announced() {
        let mut s = Settings::default();
        assert!(s.warnings()[0].contains("NOT verified"));
        s.mail.authserv_id = Some("mx.desk.example".into());
        assert!(s.warnings().is_empty());
    }

    #[test]
    fn secrets_never_print() {
        let mut s = Settings::default();
        s.discord.token = Some(SecretString::from("very-secret-token".to_string()));
        let text = format!("{s:?}");
        assert!(!text.contains("very-secret-token"), "{text}");
    }
}
