//! The `topup` command line: `run`, and the operator's commands, all on the
//! same store as the daemon. Output is for people, or JSON with `--json`.
//! Invalid input (unknown order, bad amount, refused transition) prints one
//! line and exits with code 2; other failures exit with 1.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::app::Application;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::desk::{Actor, Decision, Desk, DeskError, RejectReason};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::store::StoreError;
use crate::store::accounts;
use crate::store::orders;
use crate::store::outbox;

/// A prepaid-balance top-up desk run by email and chat.
#[derive(Debug, Parser)]
#[command(name = "topup", version, about)]
pub struct Cli {
    /// Config file (TOML). Also `TOPUP_CONFIG`. Without one, embedded defaults are used.
    #[arg(long, global = true, env = "TOPUP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data folder (SQLite file, inbox, outbox, slips). Overrides `data_dir` of the config.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: everything that is configured (embedded defaults without a config).
    Run,
    /// Create or update the database schema.
    Migrate,
    /// Print what the parser understands of messages (`.eml` as email, `.txt` as chat), one JSON line each.
    Parse {
        /// Message files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also print how the intent was decided (the rules' answer, the
        /// classifier's, and the features it read).
        #[arg(long)]
        explain: bool,
    },
    /// Customer accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Users of accounts (main user and PIC users).
    #[command(subcommand)]
    User(UserCmd),
    /// Receivables staff.
    #[command(subcommand)]
    Staff(StaffCmd),
    /// Orders.
    #[command(subcommand)]
    Order(OrderCmd),
    /// An account's balance.
    Balance {
        /// Account id or exact name.
        account: String,
    },
    /// Outgoing mail and chat updates.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Transfer slips: read files directly, or read a failed one again.
    #[command(subcommand)]
    Slip(SlipCmd),
    /// Received messages (kept, including those from unknown senders).
    #[command(subcommand)]
    Inbound(InboundCmd),
    /// Bank statements: import, money without an order, attach.
    #[command(subcommand)]
    Statement(StatementCmd),
    /// Apply the time limits (24 h / 120 h) once, now.
    Expire,
    /// Check the config, and reach the configured servers.
    CheckConfig,
    /// Copy the SQLite database to FILE while the daemon runs (a consistent
    /// snapshot). For PostgreSQL, use `pg_dump`.
    Backup {
        /// Where to write the copy (must not exist yet).
        file: PathBuf,
    },
    /// Set up a demo desk in its own folder (an account with a PIC, a staff
    /// member with a printed password, a request and a slip mail waiting in
    /// the inbox) and run it: the whole loop in one command.
    Demo {
        /// The demo's data folder (created; reused when it exists).
        #[arg(long, default_value = "topup-demo")]
        dir: PathBuf,
    },
}

/// `topup account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Add an account with its main user.
    Add {
        /// Company name.
        name: String,
        /// The main user's email address.
        #[arg(long)]
        email: String,
        /// Language of its mail: `id` or `en`.
        #[arg(long, value_parser = parse_lang)]
        lang: Option<Lang>,
    },
    /// List accounts with their balances.
    List,
}

/// `topup user ...`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user to an account.
    Add {
        /// Account id or exact name.
        account: String,
        /// The user's email address.
        email: String,
        /// `pic` (default) or `main`.
        #[arg(long, default_value = "pic", value_parser = ["pic", "main"])]
        role: String,
        /// Discord user id.
        #[arg(long)]
        discord: Option<String>,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List users (of one account).
    List {
        /// Account id or exact name.
        account: Option<String>,
    },
}

/// `topup staff ...`
#[derive(Debug, Subcommand)]
pub enum StaffCmd {
    /// Add a staff member.
    Add {
        /// Unique name.
        name: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Discord user id.
        #[arg(long)]
        discord: Option<String>,
        /// Password for the staff web board (or `TOPUP_STAFF_PASSWORD`).
        #[arg(long, env = "TOPUP_STAFF_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Language of their staff board: `id` or `en` (default `desk.staff_lang`).
        #[arg(long, value_parser = parse_lang)]
        lang: Option<Lang>,
    },
    /// List staff.
    List,
}

/// `topup order ...`
#[derive(Debug, Subcommand)]
pub enum OrderCmd {
    /// List orders, newest first.
    List {
        /// Only this status.
        #[arg(long, value_parser = parse_status)]
        status: Option<OrderStatus>,
        /// Only this account (id or exact name).
        #[arg(long)]
        account: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show an order with its timeline.
    Show(OrderArg),
    /// Approve a submitted order (credits the balance once).
    Approve {
        /// Order number.
        order: String,
        /// Staff member deciding (name, email or Discord id).
        #[arg(long)]
        staff: String,
        /// Credit this amount instead of the claimed one.
        #[arg(long, value_parser = parse_money)]
        amount: Option<Money>,
    },
    /// Reject a submitted order.
    Reject {
        /// Order number.
        order: String,
        /// Staff member deciding.
        #[arg(long)]
        staff: String,
        /// `amount_differs`, `not_received`, or free text.
        #[arg(long)]
        reason: String,
    },
    /// Cancel an order for the customer.
    Cancel(OrderArg),
    /// Write the PDF receipt of a paid order.
    Receipt {
        /// Order number.
        order: String,
        /// Output file (default `<ORDER>.pdf`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// An order argument.
#[derive(Debug, Args)]
pub struct OrderArg {
    /// Order number, in any form a customer would type.
    pub order: String,
}

/// `topup outbox ...`
#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// List outbox rows (newest first).
    List {
        /// `pending`, `sent` or `dead`.
        #[arg(long, value_parser = ["pending", "sent", "dead"])]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put a dead row back in the queue.
    Retry {
        /// Row id.
        id: i64,
    },
}

/// `topup slip ...`
#[derive(Debug, Subcommand)]
pub enum SlipCmd {
    /// Read images and PDFs and print what they say, one JSON line per file
    /// (`{"file", "amount", "date", "bank", ..., "error"}`); needs no database.
    Read {
        /// Slip files (PNG, JPEG, WebP, PDF).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Add the text the fields came from (`text`) and the reads tried (`tries`).
        #[arg(long)]
        text: bool,
        /// The amount the customer claimed for these files, read as one
        /// message's slips: an unsure amount gives way to it where one of its
        /// reads found it, as `topup parse` and the desk do.
        #[arg(long, value_name = "AMOUNT")]
        claimed: Option<String>,
    },
    /// Queue a slip whose reading failed for another read (after installing a missing tool).
    Retry {
        /// The slip's SHA-256 (as `order show` prints it, at least 12 characters).
        hash: String,
    },
}

/// `topup inbound ...`
#[derive(Debug, Subcommand)]
pub enum InboundCmd {
    /// List received messages, newest first.
    List {
        /// Only those that need a person: unknown senders, refusals, not understood, kept, failed.
        #[arg(long)]
        unhandled: bool,
        /// Only those whose handling failed (kept raw; see `topup inbound retry`).
        #[arg(long, conflicts_with = "unhandled")]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Handle a failed message again (after the cause was fixed), from its kept raw copy.
    Retry {
        /// Message id (from `topup inbound list --failed`).
        id: i64,
    },
    /// Print a received message as it arrived.
    Show {
        /// Message id (from `topup inbound list`).
        id: i64,
    },
}

/// `topup statement ...`
#[derive(Debug, Subcommand)]
pub enum StatementCmd {
    /// Import a statement file (MT940, a bank's CSV or Excel export, or the
    /// mapped generic CSV): each line is recorded once and matched to its order.
    /// With --json, one object per line.
    Import {
        /// The file.
        file: PathBuf,
        /// `mt940`, `bca`, `mandiri`, `bni`, `bri` or `csv` (default: detected).
        #[arg(long, value_parser = crate::statement::Format::parse)]
        format: Option<crate::statement::Format>,
        /// Account number to record the lines under, when the file does not say.
        #[arg(long)]
        account: Option<String>,
    },
    /// Credits without an order (unmatched and ambiguous), newest first.
    Unmatched {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Attach a statement line to an order, or (money without an order) to
    /// an account, which makes a paid order with the usual mail and receipt.
    Attach {
        /// Statement line id (from `topup statement unmatched`).
        line: i64,
        /// The order it pays.
        #[arg(long, conflicts_with = "account", required_unless_present = "account")]
        order: Option<String>,
        /// The account (id or exact name) whose money it is.
        #[arg(long)]
        account: Option<String>,
        /// Staff member deciding (name, email or Discord id).
        #[arg(long)]
        staff: String,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s)
}

fn parse_status(s: &str) -> Result<OrderStatus, String> {
    OrderStatus::parse(s)
}

fn parse_money(s: &str) -> Result<Money, String> {
    Money::parse(s).map_err(|e| e.to_string())
}

/// An error that ends the command: the message, and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// 2 for invalid input or a refused action, 1 for everything else.
    pub code: i32,
    /// What the operator reads.
    pub message: String,
}

impl From<DeskError> for Failure {
    fn from(e: DeskError) -> Self {
        let code = match e {
            DeskError::Store(StoreError::Db(_)) | DeskError::Internal(_) => 1,
            DeskError::Store(_) => 2,
            _ => 2,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::from(DeskError::Store(e))
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::from(DeskError::from(e))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        // A database that cannot be opened is a setting to fix: one line, code 2.
        let code = if e.chain().any(|c| c.is::<crate::store::Unreachable>()) {
            2
        } else {
            1
        };
        Failure {
            code,
            message: format!("{e:#}"),
        }
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

/// Loads settings for `cli` (file, env, `--data-dir`) and checks them.
///
/// # Errors
/// Every problem with the config, in one message.
pub fn settings(cli: &Cli) -> Result<Settings, Failure> {
    let mut settings =
        Settings::load(cli.config.as_deref()).map_err(|e| invalid(format!("{e:#}")))?;
    if let Some(dir) = &cli.data_dir {
        settings.data_dir = dir.clone();
    }
    let problems = settings.validate();
    if !problems.is_empty() {
        return Err(invalid(format!(
            "The config has {} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        )));
    }
    Ok(settings)
}

/// Runs the command line.
///
/// # Errors
/// A [`Failure`] with the message and exit code.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Parse { files, explain } = &cli.command {
        return parse(&cli, files, *explain);
    }
    if let Command::Slip(SlipCmd::Read {
        files,
        text,
        claimed,
    }) = &cli.command
    {
        let claimed = claimed
            .as_deref()
            .map(Money::parse)
            .transpose()
            .map_err(|e| invalid(format!("--claimed: {e}")))?;
        return slip_read(&cli, files, *text, claimed);
    }
    let mut settings = settings(&cli)?;
    if let Command::Demo { dir } = &cli.command {
        settings.data_dir = dir.clone();
        settings.database.url = String::new();
        settings.mail.imap = None;
        settings.mail.smtp = None;
    }
    let settings = Arc::new(settings);
    crate::supervisor::init_tracing(settings.log.format);
    let clock: SharedClock = Arc::new(SystemClock);
    if let Command::Demo { .. } = cli.command {
        let app = Application::build(settings, clock).await?;
        let demo = crate::demo::prepare(app.desk())
            .await
            .map_err(|e| Failure::from(anyhow::anyhow!(e)))?;
        demo.print(app.web_addr());
        app.run_until_signal().await?;
        return Ok(());
    }
    if let Command::Run = cli.command {
        let app = Application::build(settings, clock).await?;
        app.run_until_signal().await?;
        return Ok(());
    }
    if let Command::CheckConfig = cli.command {
        return crate::app::check_config(&settings)
            .await
            .map_err(Failure::from);
    }
    let desk = Application::open_desk(settings, clock).await?;
    let result = operate(&cli, &desk).await;
    desk.store().close().await;
    result
}

fn parse(cli: &Cli, files: &[PathBuf], explain: bool) -> Result<(), Failure> {
    let prefix = Settings::load(cli.config.as_deref())
        .map(|s| s.desk.order_prefix)
        .unwrap_or_else(|_| "TU".into());
    let mut failed = 0;
    for f in files {
        match crate::intake::parse_file_with(f, &prefix, explain) {
            Ok(v) => println!("{v}"),
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", f.display());
            }
        }
    }
    if failed > 0 {
        return Err(invalid(format!("{failed} file(s) could not be read")));
    }
    Ok(())
}

/// `topup slip read`: one JSON line per file, an `error` when it cannot be read.
fn slip_read(
    cli: &Cli,
    files: &[PathBuf],
    with_text: bool,
    claimed: Option<Money>,
) -> Result<(), Failure> {
    // Each OCR read at debug level (stderr) when asked for: `RUST_LOG=topup=debug`.
    if std::env::var_os("RUST_LOG").is_some() {
        crate::supervisor::init_tracing(crate::config::LogFormat::Text);
    }
    let limits = Settings::load(cli.config.as_deref())
        .map(|s| crate::slip::read::ReadLimits::from_settings(&s.slips))
        .unwrap_or_default();
    let read = |f: &PathBuf| {
        let started = std::time::Instant::now();
        let read = std::fs::read(f)
            .map_err(|e| format!("cannot read the file: {e}"))
            .and_then(|bytes| {
                crate::slip::read::read_slip(&bytes, &limits).map_err(|e| e.to_string())
            });
        (read, started.elapsed().as_millis())
    };
    let mut failed = 0;
    let mut emit = |f: &PathBuf, read: Result<crate::slip::read::Reading, String>, ms: u128| {
        let mut line = match read {
            Ok(r) => {
                let mut v = r.fields.to_json();
                v["method"] = json!(r.method.as_str());
                if with_text {
                    v["text"] = json!(r.text);
                    v["tries"] = json!(r.tries);
                }
                v["error"] = serde_json::Value::Null;
                v
            }
            Err(e) => {
                failed += 1;
                json!({"error": e})
            }
        };
        line["file"] = json!(f.display().to_string());
        line["read_ms"] = json!(ms as u64);
        write_out(&line.to_string());
    };
    match claimed {
        // Each file as soon as it is read.
        None => files.iter().for_each(|f| {
            let (r, ms) = read(f);
            emit(f, r, ms);
        }),
        // All read first: the claim is the files' total.
        Some(claim) => {
            let mut reads: Vec<_> = files.iter().map(read).collect();
            let mut fields: Vec<_> = reads
                .iter_mut()
                .map(|(r, _)| r.as_mut().ok().map(|r| &mut r.fields))
                .collect();
            crate::slip::reconcile(&mut fields, claim);
            for (f, (r, ms)) in files.iter().zip(reads) {
                emit(f, r, ms);
            }
        }
    }
    if failed > 0 {
        return Err(invalid(format!("{failed} file(s) could not be read")));
    }
    Ok(())
}

fn print<T: serde::Serialize>(cli: &Cli, value: &T, text: impl FnOnce() -> String) {
    let out = if cli.json {
        serde_json::to_string_pretty(value).unwrap_or_default()
    } else {
        text()
    };
    write_out(&out);
}

/// Writes a command's output. A reader that went away (`topup outbox list |
/// head`) is not an error: the command ends quietly with success, as other
/// Unix tools do, instead of panicking in `println!`.
fn write_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing the output failed: {e}");
        std::process::exit(1);
    }
}

async fn operate(cli: &Cli, desk: &Desk) -> Result<(), Failure> {
    let store = desk.store();
    let now = desk.now();
    let mut conn = store.pool().acquire().await?;
    match &cli.command {
        // Handled by `run` before a desk is opened.
        Command::Run
        | Command::Parse { .. }
        | Command::Slip(SlipCmd::Read { .. })
        | Command::CheckConfig
        | Command::Demo { .. } => {}
        Command::Migrate => {
            // Application::open_desk has migrated already.
            print(cli, &json!({"migrated": true}), || {
                "Database is up to date.".into()
            });
        }
        Command::Account(AccountCmd::Add { name, email, lang }) => {
            let lang = lang.unwrap_or(desk.settings().desk.default_lang);
            if name.trim().is_empty() {
                return Err(invalid("the account name is empty"));
            }
            let mut tx = store.begin_write().await?;
            let account = accounts::add_account(&mut tx, name.trim(), email, lang, now).await?;
            tx.commit().await?;
            print(cli, &account, || {
                format!(
                    "Added account {} (id {}, {}), main user {}",
                    account.name,
                    account.id,
                    lang,
                    accounts::normalise_email(email)
                )
            });
        }
        Command::Account(AccountCmd::List) => {
            let list = accounts::list_accounts(&mut conn).await?;
            let mut rows = Vec::new();
            for a in list {
                let balance = accounts::balance(&mut conn, a.id).await?;
                rows.push((a, balance));
            }
            let json_rows: Vec<_> = rows
                .iter()
                .map(|(a, b)| json!({"id": a.id, "name": a.name, "lang": a.lang, "balance": Money::from_minor(*b).to_plain()}))
                .collect();
            print(cli, &json_rows, || {
                table(
                    &[">id", "name", "lang", ">balance"],
                    rows.iter().map(|(a, b)| {
                        vec![
                            a.id.to_string(),
                            a.name.clone(),
                            a.lang.clone(),
                            Money::from_minor(*b).display(a.lang()),
                        ]
                    }),
                )
            });
        }
        Command::User(UserCmd::Add {
            account,
            email,
            role,
            discord,
            name,
        }) => {
            let mut tx = store.begin_write().await?;
            let acc = accounts::find_account(&mut tx, account).await?;
            let user =
                accounts::add_user(&mut tx, acc.id, email, role, name, discord.as_deref(), now)
                    .await?;
            tx.commit().await?;
            print(cli, &user, || {
                format!(
                    "Added {} user {} to {}",
                    user.role,
                    user.primary_email(),
                    acc.name
                )
            });
        }
        Command::User(UserCmd::List { account }) => {
            let account_id = match account {
                Some(a) => Some(accounts::find_account(&mut conn, a).await?.id),
                None => None,
            };
            let users = accounts::list_users(&mut conn, account_id).await?;
            print(cli, &users, || {
                table(
                    &[">id", ">account", "role", "name", "email", "discord"],
                    users.iter().map(|u| {
                        vec![
                            u.id.to_string(),
                            u.account_id.to_string(),
                            if u.removed_at.is_some() {
                                format!("{} (removed)", u.role)
                            } else {
                                u.role.clone()
                            },
                            if u.name.is_empty() {
                                "-".into()
                            } else {
                                u.name.clone()
                            },
                            u.emails.clone(),
                            u.discord_id.clone().unwrap_or_else(|| "-".into()),
                        ]
                    }),
                )
            });
        }
        Command::Staff(StaffCmd::Add {
            name,
            email,
            discord,
            password,
            lang,
        }) => {
            let hash = match password {
                Some(p) => {
                    Some(crate::web::auth::hash_password(p).map_err(|e| invalid(e.to_string()))?)
                }
                None => None,
            };
            let mut tx = store.begin_write().await?;
            let staff = accounts::add_staff(
                &mut tx,
                name.trim(),
                email.as_deref(),
                discord.as_deref(),
                hash.as_deref(),
                now,
            )
            .await?;
            if let Some(lang) = lang {
                accounts::set_staff_lang(&mut tx, staff.id, *lang).await?;
            }
            tx.commit().await?;
            print(cli, &staff, || format!("Added staff member {}", staff.name));
        }
        Command::Staff(StaffCmd::List) => {
            let staff = accounts::list_staff(&mut conn).await?;
            print(cli, &staff, || {
                table(
                    &[">id", "name", "email", "discord"],
                    staff.iter().map(|s| {
                        vec![
                            s.id.to_string(),
                            s.name.clone(),
                            s.email.clone().unwrap_or_else(|| "-".into()),
                            s.discord_id.clone().unwrap_or_else(|| "-".into()),
                        ]
                    }),
                )
            });
        }
        Command::Order(OrderCmd::List {
            status,
            account,
            limit,
        }) => {
            let account_id = match account {
                Some(a) => Some(accounts::find_account(&mut conn, a).await?.id),
                None => None,
            };
            let list = orders::list(&mut conn, *status, account_id, *limit).await?;
            // Staff read amounts in the desk's notation and accounts by name.
            let names: std::collections::HashMap<i64, String> = accounts::list_accounts(&mut conn)
                .await?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect();
            print(cli, &list, || {
                table(
                    &["order", "status", ">amount", "created", "account"],
                    list.iter().map(|o| {
                        vec![
                            o.number.clone(),
                            o.status.clone(),
                            o.paid_minor
                                .or(o.amount_minor)
                                .map(|m| desk.staff_money(m))
                                .unwrap_or_else(|| "-".into()),
                            desk.format_time(o.created_at),
                            names
                                .get(&o.account_id)
                                .cloned()
                                .unwrap_or_else(|| o.account_id.to_string()),
                        ]
                    }),
                )
            });
        }
        Command::Order(OrderCmd::Show(OrderArg { order })) => {
            let number = desk.parse_order_number(order)?;
            let view = desk.view(&number).await?;
            print(cli, &view, || show_order(desk, &view));
        }
        Command::Order(OrderCmd::Approve {
            order,
            staff,
            amount,
        }) => {
            let number = desk.parse_order_number(order)?;
            let staff = desk.staff(staff).await?;
            let o = desk
                .decide(&number, &staff, &Decision::Approve { amount: *amount })
                .await?;
            let mut c = store.pool().acquire().await?;
            let balance = accounts::balance(&mut c, o.account_id).await?;
            print(cli, &o, || {
                format!(
                    "Approved {}: credited {}; balance now {}",
                    o.number,
                    Money::from_minor(o.paid_minor.unwrap_or_default()).to_plain(),
                    Money::from_minor(balance).to_plain()
                )
            });
        }
        Command::Order(OrderCmd::Reject {
            order,
            staff,
            reason,
        }) => {
            let number = desk.parse_order_number(order)?;
            let staff = desk.staff(staff).await?;
            if reason.trim().is_empty() {
                return Err(invalid("a rejection needs a reason"));
            }
            let o = desk
                .decide(
                    &number,
                    &staff,
                    &Decision::Reject {
                        reason: RejectReason::parse(reason),
                    },
                )
                .await?;
            print(cli, &o, || {
                format!(
                    "Rejected {}: {}",
                    o.number,
                    o.reason.clone().unwrap_or_default()
                )
            });
        }
        Command::Order(OrderCmd::Cancel(OrderArg { order })) => {
            let number = desk.parse_order_number(order)?;
            let o = desk.cancel(&Actor::Operator, &number, None).await?;
            print(cli, &o, || format!("Cancelled {}", o.number));
        }
        Command::Order(OrderCmd::Receipt { order, out }) => {
            let number = desk.parse_order_number(order)?;
            let bytes = crate::outbox::deliver::receipt_for(desk, &number).await?;
            let path = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{number}.pdf")));
            std::fs::write(&path, &bytes).map_err(|e| Failure {
                code: 1,
                message: format!("Cannot write {}: {e}", path.display()),
            })?;
            print(
                cli,
                &json!({"order": number.as_str(), "file": path, "bytes": bytes.len()}),
                || {
                    format!(
                        "Wrote receipt of {number} to {} ({} bytes)",
                        path.display(),
                        bytes.len()
                    )
                },
            );
        }
        Command::Statement(cmd) => statement(cli, desk, cmd).await?,
        Command::Balance { account } => {
            let acc = accounts::find_account(&mut conn, account).await?;
            let balance = accounts::balance(&mut conn, acc.id).await?;
            let m = Money::from_minor(balance);
            print(
                cli,
                &json!({"account": acc.name, "balance": m.to_plain(), "currency": desk.settings().desk.currency}),
                || format!("{}: {}", acc.name, m.display(acc.lang())),
            );
        }
        Command::Outbox(OutboxCmd::List { status, limit }) => {
            let rows = outbox::list(&mut conn, status.as_deref(), *limit).await?;
            print(cli, &rows, || {
                table(
                    &[
                        ">id",
                        "kind",
                        "status",
                        ">attempts",
                        "recipient",
                        "last error",
                    ],
                    rows.iter().map(|r| {
                        vec![
                            r.id.to_string(),
                            r.kind.clone(),
                            r.status.clone(),
                            r.attempts.to_string(),
                            r.recipient.clone(),
                            r.last_error.clone().unwrap_or_default(),
                        ]
                    }),
                )
            });
        }
        Command::Slip(SlipCmd::Retry { hash }) => {
            let hash = hash.trim().to_ascii_lowercase();
            if hash.len() < 12 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid("give at least 12 hex digits of the slip's SHA-256"));
            }
            let full: Option<(String,)> = sqlx::query_as(
                "SELECT hash FROM slip_reads WHERE hash LIKE $1 ORDER BY hash LIMIT 1",
            )
            .bind(format!("{hash}%"))
            .fetch_optional(&mut *conn)
            .await?;
            let Some((full,)) = full else {
                return Err(invalid(format!("no slip {hash} was queued for reading")));
            };
            let mut tx = store.begin_write().await?;
            let ok = crate::store::slip_reads::requeue(&mut tx, &full, now).await?;
            tx.commit().await?;
            if !ok {
                return Err(invalid(format!(
                    "slip {hash} did not fail (only failed reads are queued again)"
                )));
            }
            desk.outbox_bell().notify_one();
            print(cli, &json!({"requeued": full}), || {
                format!("Slip {} will be read again", &full[..12])
            });
        }
        Command::Outbox(OutboxCmd::Retry { id }) => {
            let mut tx = store.begin_write().await?;
            let ok = outbox::retry(&mut tx, *id, now).await?;
            tx.commit().await?;
            if !ok {
                return Err(invalid(format!(
                    "outbox row {id} is not dead (only dead rows can be retried)"
                )));
            }
            desk.outbox_bell().notify_one();
            print(cli, &json!({"retried": id}), || {
                format!("Outbox row {id} will be sent again")
            });
        }
        Command::Inbound(InboundCmd::List {
            unhandled,
            failed,
            limit,
        }) => {
            let rows = if *failed {
                crate::store::inbound::failed(&mut conn, *limit).await?
            } else if *unhandled {
                crate::store::inbound::not_acted_on(&mut conn, *limit).await?
            } else {
                crate::store::inbound::list(&mut conn, false, *limit).await?
            };
            print(cli, &rows, || {
                table(
                    &[
                        ">id",
                        "received",
                        "source",
                        "sender",
                        "outcome",
                        "decided by",
                    ],
                    rows.iter().map(|r| {
                        vec![
                            r.id.to_string(),
                            desk.format_time(r.received_at),
                            r.source.clone(),
                            r.sender.clone(),
                            r.outcome.clone(),
                            r.decided_by.clone(),
                        ]
                    }),
                )
            });
        }
        Command::Inbound(InboundCmd::Retry { id }) => {
            drop(conn);
            let outcome = crate::sources::retry_failed(desk, *id).await?;
            print(
                cli,
                &json!({"id": id, "new_id": outcome.inbound_id, "outcome": outcome.outcome}),
                || format!("Message {id} handled again: {}", outcome.outcome),
            );
            return Ok(());
        }
        Command::Inbound(InboundCmd::Show { id }) => {
            let row = crate::store::inbound::by_id(&mut conn, *id).await?;
            let raw = match &row.raw_hash {
                Some(h) => desk
                    .slips()
                    .get(h)
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .map_err(|e| Failure {
                        code: 1,
                        message: e.to_string(),
                    })?,
                None => String::new(),
            };
            print(cli, &json!({"message": row, "raw": raw}), || {
                format!(
                    "From {} via {} at {}\nOutcome: {}\n\n{raw}",
                    row.sender,
                    row.source,
                    desk.format_time(row.received_at),
                    row.outcome
                )
            });
        }
        Command::Expire => {
            let n = desk.expire_due().await?;
            print(cli, &json!({"expired": n}), || {
                format!("{n} order(s) moved by the time limits")
            });
        }
        Command::Backup { file } => {
            if store.backend() != crate::store::Backend::Sqlite {
                return Err(invalid(
                    "topup backup copies a SQLite database; for PostgreSQL use pg_dump \
                     (see \"Backups\" in the README)",
                ));
            }
            if file.exists() {
                return Err(invalid(format!(
                    "{} exists; choose a new file name",
                    file.display()
                )));
            }
            let Some(path) = file.to_str() else {
                return Err(invalid("the backup path is not valid UTF-8"));
            };
            // VACUUM INTO writes a consistent, compacted copy from one read
            // transaction: the daemon may keep writing meanwhile.
            sqlx::query("VACUUM INTO $1")
                .bind(path)
                .execute(&mut *conn)
                .await
                .map_err(|e| invalid(format!("the backup failed: {e}")))?;
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            print(cli, &json!({"file": path, "bytes": size}), || {
                format!("Backed up the database to {path} ({size} bytes)")
            });
        }
    }
    Ok(())
}

/// A plain-text table whose columns are as wide as their widest cell; a
/// header starting with `>` right-aligns its column (numbers).
/// `cell` with control characters shown as escapes (`\u{1b}`), cut to 200 characters.
async fn statement(cli: &Cli, desk: &Desk, cmd: &StatementCmd) -> Result<(), Failure> {
    match cmd {
        StatementCmd::Import {
            file,
            format,
            account,
        } => {
            let limit = desk.settings().statements.max_bytes;
            let size = std::fs::metadata(file)
                .map_err(|e| invalid(format!("Cannot read {}: {e}", file.display())))?
                .len();
            if size > limit as u64 {
                return Err(invalid(format!(
                    "{}: the statement file is {size} bytes, more than the {limit} bytes a statement may be",
                    file.display()
                )));
            }
            let bytes = std::fs::read(file)
                .map_err(|e| invalid(format!("Cannot read {}: {e}", file.display())))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let report = desk
                .import_file(&bytes, *format, account.as_deref(), &name, "operator")
                .await?;
            if cli.json {
                let out: Vec<String> = report
                    .lines
                    .iter()
                    .map(|l| serde_json::to_string(l).unwrap_or_default())
                    .collect();
                write_out(&out.join("\n"));
            } else {
                let notation = desk.settings().desk.staff_notation;
                let body = table(
                    &[
                        ">line",
                        "date",
                        ">amount",
                        "state",
                        "order",
                        "rule",
                        "description",
                    ],
                    report.lines.iter().map(|l| {
                        vec![
                            l.line.to_string(),
                            l.date.clone(),
                            Money::parse(&l.amount)
                                .map(|m| m.display(notation))
                                .unwrap_or_else(|_| l.amount.clone()),
                            l.state.as_str().to_string(),
                            l.order.clone().unwrap_or_else(|| {
                                if l.candidates.is_empty() {
                                    "-".into()
                                } else {
                                    format!("one of {}", l.candidates.join(", "))
                                }
                            }),
                            l.rule
                                .map(|r| r.as_str().to_string())
                                .unwrap_or_else(|| "-".into()),
                            l.description.chars().take(60).collect(),
                        ]
                    }),
                );
                write_out(&format!(
                    "{body}\nImported {} ({} {}, account {}): {}",
                    name,
                    report.format,
                    report.bank,
                    report.account,
                    report.summary()
                ));
            }
        }
        StatementCmd::Unmatched { limit } => {
            let rows = desk.unmatched_lines(*limit).await?;
            let notation = desk.settings().desk.staff_notation;
            print(cli, &rows, || {
                table(
                    &[
                        ">id",
                        "date",
                        "bank",
                        ">amount",
                        "state",
                        "candidates",
                        "description",
                    ],
                    rows.iter().map(|l| {
                        vec![
                            l.id.to_string(),
                            l.booked_on.clone(),
                            l.bank.clone(),
                            Money::from_minor(l.amount_minor).display(notation),
                            l.state.clone(),
                            if l.candidates.is_empty() {
                                "-".into()
                            } else {
                                l.candidates.clone()
                            },
                            l.description.chars().take(60).collect(),
                        ]
                    }),
                )
            });
        }
        StatementCmd::Attach {
            line,
            order,
            account,
            staff,
        } => {
            let staff = desk.staff(staff).await?;
            if let Some(order) = order {
                let number = desk.parse_order_number(order)?;
                let row = desk.attach_line_to_order(*line, &number, &staff).await?;
                print(cli, &row, || {
                    format!(
                        "Statement line {} now pays {number}; approve it to credit the balance",
                        row.id
                    )
                });
            } else if let Some(account) = account {
                let o = desk.attach_line_to_account(*line, account, &staff).await?;
                print(cli, &o, || {
                    format!(
                        "Statement line {line} paid new order {}: credited {}",
                        o.number,
                        Money::from_minor(o.paid_minor.unwrap_or_default()).to_plain()
                    )
                });
            }
        }
    }
    Ok(())
}

fn printable(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars().take(200) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cell.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let names: Vec<&str> = headers.iter().map(|h| h.trim_start_matches('>')).collect();
    let right: Vec<bool> = headers.iter().map(|h| h.starts_with('>')).collect();
    let mut lines: Vec<Vec<String>> = vec![names.iter().map(|n| n.to_string()).collect()];
    // Text from outside (subjects, names stored by older versions) may hold
    // escape codes: a terminal must show them, not obey them.
    lines.extend(rows.map(|row| row.iter().map(|cell| printable(cell)).collect()));
    let mut widths = vec![0; headers.len()];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
                if right[i] {
                    format!("{pad}{cell}")
                } else {
                    format!("{cell}{pad}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn show_order(desk: &Desk, v: &crate::desk::OrderView) -> String {
    let o = &v.order;
    let lang = v.account.lang();
    let money = |m: Option<i64>| {
        m.map(|m| Money::from_minor(m).display(lang))
            .unwrap_or_else(|| "-".into())
    };
    let mut out = String::new();
    out.push_str(&format!("Order     {}\n", o.number));
    out.push_str(&format!(
        "Status    {} ({})\n",
        o.status,
        o.status().display_name(lang)
    ));
    out.push_str(&format!(
        "Account   {} (id {})\n",
        v.account.name, v.account.id
    ));
    if let Some(u) = &v.user {
        out.push_str(&format!("User      {} ({})\n", u.label(), u.role));
    }
    if let Some(u) = &v.submitter {
        out.push_str(&format!("Slip by   {} ({})\n", u.label(), u.role));
    }
    out.push_str(&format!("Amount    {}\n", money(o.amount_minor)));
    if o.paid_minor.is_some() {
        out.push_str(&format!("Credited  {}\n", money(o.paid_minor)));
    }
    out.push_str(&format!("Created   {}\n", desk.format_time(o.created_at)));
    if let Some(t) = o.submitted_at {
        out.push_str(&format!("Submitted {}\n", desk.format_time(t)));
    }
    // Only the decision the order stands on: an order back in review has none
    // yet (the earlier ones are in the timeline).
    let decided_now = matches!(o.status(), OrderStatus::Paid | OrderStatus::PaymentFailure);
    if let Some(by) = o.decided_by.as_ref().filter(|_| decided_now) {
        out.push_str(&format!(
            "Decided   by {by} at {}\n",
            o.decided_at
                .map(|t| desk.format_time(t))
                .unwrap_or_default()
        ));
    }
    if let Some(r) = o
        .reason
        .as_ref()
        .filter(|r| !r.trim().is_empty() && o.status() != OrderStatus::Dealing)
    {
        out.push_str(&format!("Reason    {r}\n"));
    }
    if !o.flags.is_empty() {
        out.push_str(&format!("Flags     {}\n", o.flags));
    }
    out.push_str(&format!("Link      {}\n", desk.status_link(&o.token)));
    out.push_str(&format!("Balance   {}\n", money(Some(v.balance_minor))));
    if !v.slips.is_empty() {
        out.push_str("Slips\n");
        for s in &v.slips {
            out.push_str(&format!(
                "  {} {} ({} bytes) {}\n",
                &s.hash[..12],
                s.content_type,
                s.size,
                s.file_name
            ));
        }
    }
    let r = &v.slip_report;
    if !r.slips.is_empty() {
        let notation = desk.settings().desk.staff_notation;
        let staff_lang = desk.settings().desk.staff_lang;
        out.push_str("Slip check\n");
        for line in r.lines(staff_lang, notation) {
            let mark = if r.has_warning() { "!" } else { " " };
            out.push_str(&format!(" {mark}{line}\n"));
        }
    }
    out.push_str("Timeline\n");
    for e in &v.events {
        let moved = match (&e.from_status, &e.to_status) {
            (Some(f), Some(t)) => format!("{f} -> {t}"),
            (None, Some(t)) => format!("-> {t}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {}  {:<16} {:<28} {} {}\n",
            desk.format_time(e.at),
            e.event,
            if e.via == "status_link" {
                format!("{} {} (status link)", e.actor_kind, e.actor)
            } else {
                format!("{} {}", e.actor_kind, e.actor)
            },
            moved,
            e.reason.as_deref().unwrap_or("")
        ));
    }
    out.trim_end().to_string()
}
