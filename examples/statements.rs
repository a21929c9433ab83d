//! Reconciliation on generated data: a store with orders in every state and
//! a generated statement in each supported layout (BCA, Mandiri, BNI, BRI
//! CSV, MT940, the mapped generic CSV) whose every line has a known truth.
//! Prints per format how many lines went to the right order, to a wrong
//! one, and which credits without an order were listed; then imports a
//! 10,000-line statement and times it.
//!
//! `cargo run --release --example statements -- [SEED] [LINES]`: seed 1 is
//! the development split (looked at while writing the matcher), seed 2 the
//! held-out split (only measured). `TOPUP_TEST_DB=postgres` runs on a new
//! PostgreSQL database at 127.0.0.1:5432.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use topup::clock::ManualClock;
use topup::config::Settings;
use topup::desk::statements::LineState;
use topup::desk::{Actor, Channel, Decision, Desk};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::statement::Format;
use topup::store::accounts;

const WORDS: [&str; 24] = [
    "Sinar",
    "Abadi",
    "Maju",
    "Jaya",
    "Sumber",
    "Rejeki",
    "Cahaya",
    "Timur",
    "Makmur",
    "Sentosa",
    "Karya",
    "Bumi",
    "Indah",
    "Prima",
    "Utama",
    "Mega",
    "Agung",
    "Lestari",
    "Sejahtera",
    "Nusantara",
    "Gemilang",
    "Berkah",
    "Mulia",
    "Perkasa",
];

/// What a generated line should become.
#[derive(Debug, Clone, PartialEq)]
enum Truth {
    /// Matched or suggested to this order.
    Order(String),
    /// Ambiguous between these.
    Ambiguous,
    /// A credit without an unsettled order: listed as unmatched.
    Unmatched,
    /// Money out.
    Debit,
}

struct GenLine {
    day: (u32, u32),
    credit: bool,
    amount: i64,
    remark: String,
    payer: String,
    reference: String,
    truth: Truth,
}

struct World {
    desk: Desk,
    _dir: tempfile::TempDir,
    /// (number, company, amount rupiah, status)
    orders: Vec<(String, String, i64, String)>,
}

async fn database(dir: &std::path::Path) -> String {
    if std::env::var("TOPUP_TEST_DB").as_deref() == Ok("postgres") {
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let name = format!("topup_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(admin).await.expect("PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create database");
        format!("postgres://postgres@127.0.0.1:5432/{name}")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("topup.db").display())
    }
}

fn company(rng: &mut StdRng, used: &mut HashSet<String>) -> String {
    loop {
        let a = WORDS.choose(rng).copied().unwrap_or("Sinar");
        let b = WORDS.choose(rng).copied().unwrap_or("Abadi");
        let kind = ["PT", "CV", "PT", "UD"]
            .choose(rng)
            .copied()
            .unwrap_or("PT");
        let name = format!("{kind} {a} {b}");
        if a != b && used.insert(name.clone()) {
            return name;
        }
        if used.len() > 400 {
            let name = format!("PT {a} {b} {}", used.len());
            used.insert(name.clone());
            return name;
        }
    }
}

/// Orders in every state; distinct amounts except for `pairs` pairs.
async fn world(rng: &mut StdRng, n: usize, pairs: usize) -> anyhow::Result<World> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.database.url = database(dir.path()).await;
    settings.statements.csv = Some(topup::statement::table::ColumnMapping {
        bank: "BCA".into(),
        account: "555".into(),
        date: vec!["Booking date".into()],
        description: vec!["Remark".into()],
        payer: vec!["Payer".into()],
        reference: vec!["Ref".into()],
        amount: vec!["Mutation".into()],
        balance: vec!["Balance".into()],
        ..Default::default()
    });
    settings.limits.max_order_amount = 1_000_000_000;
    // 2026-11-25 03:00 UTC.
    let clock = ManualClock::at(1_795_575_600_000);
    let desk =
        topup::app::Application::open_desk(Arc::new(settings), Arc::new(clock.clone())).await?;
    let mut tx = desk.store().begin_write().await?;
    let staff = accounts::add_staff(&mut tx, "rina", None, None, None, desk.now()).await?;
    tx.commit().await?;
    let mut used_names = HashSet::new();
    let mut amounts = HashSet::new();
    let mut orders = Vec::new();
    let mut users = Vec::new();
    for i in 0..(n / 3).max(2) {
        let name = company(rng, &mut used_names);
        let mut tx = desk.store().begin_write().await?;
        let a = accounts::add_account(
            &mut tx,
            &name,
            &format!("u{i}@c{i}.example"),
            Lang::Id,
            desk.now(),
        )
        .await?;
        tx.commit().await?;
        let mut conn = desk.store().pool().acquire().await?;
        let u = accounts::list_users(&mut conn, Some(a.id)).await?.remove(0);
        users.push((u, name));
    }
    let mut shared = Vec::new();
    for i in 0..n {
        let (user, name) = users.choose(rng).cloned().expect("users");
        let amount = if i < pairs * 2 && i % 2 == 1 {
            shared[i / 2]
        } else {
            loop {
                let a = rng.gen_range(100..50_000) * 1000;
                if amounts.insert(a) {
                    break a;
                }
            }
        };
        if i < pairs * 2 && i % 2 == 0 {
            shared.push(amount);
        }
        let o = desk
            .request(&user, Money::from_major(amount), Channel::Email, None)
            .await?;
        let number = desk.parse_order_number(&o.number)?;
        // Every state: open, dealing, payment_failure, paid, deleted, closed.
        let state = if i < pairs * 2 {
            rng.gen_range(0..3)
        } else {
            rng.gen_range(0..6)
        };
        if state >= 1 && state != 4 && state != 5 {
            let files = vec![topup::intake::SlipFile {
                file_name: Some("slip.png".into()),
                content_type: "image/png".into(),
                bytes: format!("slip {}", o.number).into_bytes(),
            }];
            let slips = desk.store_slips(&files).await?;
            desk.submit_slip(&user, Some(&number), &slips, None, Channel::Email, None)
                .await?;
        }
        match state {
            2 => {
                desk.decide(
                    &number,
                    &staff,
                    &Decision::Reject {
                        reason: topup::desk::RejectReason::NotReceived,
                    },
                )
                .await?;
            }
            3 => {
                desk.decide(&number, &staff, &Decision::Approve { amount: None })
                    .await?;
            }
            4 => {
                desk.cancel(&Actor::Operator, &number, None).await?;
            }
            5 => {
                clock.advance_hours(200);
                desk.expire_due().await?;
                clock.advance_hours(-200);
            }
            _ => {}
        }
        orders.push((o.number.clone(), name, amount, String::new()));
    }
    // The time limits moved earlier orders too: read every status at the end.
    for o in &mut orders {
        let number = desk.parse_order_number(&o.0)?;
        o.3 = desk.view(&number).await?.order.status;
    }
    Ok(World {
        desk,
        _dir: dir,
        orders,
    })
}

fn notation(rng: &mut StdRng, number: &str) -> String {
    let parts: Vec<&str> = number.split('-').collect();
    match rng.gen_range(0..5) {
        0 => number.to_string(),
        1 => parts.join(" "),
        2 => parts.concat(),
        3 => number.to_lowercase(),
        _ => format!("{}{}-{}", parts[0], parts[1], parts[2]),
    }
}

fn short(name: &str, rng: &mut StdRng) -> String {
    let words: Vec<&str> = name
        .split(' ')
        .filter(|w| !["PT", "CV", "UD"].contains(w))
        .collect();
    let full = words.join(" ").to_uppercase();
    // Banks cut the payer name to 18 characters; some put PT after it.
    let mut s: String = full.chars().take(18).collect();
    if rng.gen_bool(0.3) {
        s.push_str(" PT");
    }
    s
}

fn lines(rng: &mut StdRng, w: &World, extra: usize, total: Option<usize>) -> Vec<GenLine> {
    let mut out = Vec::new();
    let unsettled = |s: &str| ["open", "dealing", "payment_failure"].contains(&s);
    let mut by_amount: std::collections::HashMap<i64, Vec<&(String, String, i64, String)>> =
        Default::default();
    for o in &w.orders {
        if unsettled(&o.3) {
            by_amount.entry(o.2).or_default().push(o);
        }
    }
    let mut seq = 0;
    let mut reference = || {
        seq += 1;
        format!("FT2611{seq:08}")
    };
    let mut done_ambiguous = HashSet::new();
    for o in &w.orders {
        let (number, name, amount, status) = o;
        let twins = by_amount.get(amount).map_or(0, Vec::len);
        let day = (rng.gen_range(25..=30), 11);
        if twins >= 2 {
            if done_ambiguous.insert(*amount) {
                out.push(GenLine {
                    day,
                    credit: true,
                    amount: *amount,
                    remark: "SETORAN TUNAI".into(),
                    payer: String::new(),
                    reference: reference(),
                    truth: Truth::Ambiguous,
                });
            }
            continue;
        }
        let with_number = rng.gen_bool(0.6);
        let remark = if with_number {
            format!(
                "TRSF E-BANKING CR {}/FTSCY/WS{} {}",
                "3011",
                rng.gen_range(10_000..99_999),
                notation(rng, number)
            )
        } else {
            format!(
                "TRSF E-BANKING CR 3011/FTSCY/WS{} TOPUP",
                rng.gen_range(10_000..99_999)
            )
        };
        let truth = if unsettled(status) {
            Truth::Order(number.clone())
        } else {
            Truth::Unmatched
        };
        out.push(GenLine {
            day,
            credit: true,
            amount: *amount,
            remark,
            payer: short(name, rng),
            reference: reference(),
            truth,
        });
    }
    let extra = total.map_or(extra, |t| t.saturating_sub(out.len()));
    for i in 0..extra {
        if i % 3 == 0 {
            out.push(GenLine {
                day: (30, 11),
                credit: false,
                amount: rng.gen_range(1..500) * 1000,
                remark: "BIAYA ADM".into(),
                payer: String::new(),
                reference: reference(),
                truth: Truth::Debit,
            });
        } else {
            // Odd amounts no order has: money without an order.
            let amount: i64 = rng.gen_range(100_000..90_000_000) + 1;
            let amount = if amount.rem_euclid(1000) == 0 {
                amount + 7
            } else {
                amount
            };
            out.push(GenLine {
                day: (30, 11),
                credit: true,
                amount,
                remark: format!(
                    "TRSF DARI {}",
                    WORDS.choose(rng).copied().unwrap_or("X").to_uppercase()
                ),
                payer: "BUDI SANTOSO".into(),
                reference: reference(),
                truth: Truth::Unmatched,
            });
        }
    }
    out.shuffle(rng);
    out.sort_by_key(|l| l.day);
    out
}

fn en(minor_major: i64) -> String {
    let s = minor_major.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.00")
}

fn id(major: i64) -> String {
    en(major)
        .replace(',', "X")
        .replace('.', ",")
        .replace('X', ".")
}

fn write(format: Format, lines: &[GenLine]) -> Vec<u8> {
    let mut bal: i64 = 1_000_000_000;
    let mut s = String::new();
    let d = |l: &GenLine| format!("{:02}/{:02}/2026", l.day.0, l.day.1);
    match format {
        Format::Bca => {
            s.push_str("Informasi Rekening - Mutasi Rekening\r\nNo. rekening : ,'0123456789\r\nPeriode : ,01/11/2026 - 30/11/2026\r\n\r\nTanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\r\n");
            for l in lines {
                bal += if l.credit { l.amount } else { -l.amount };
                let _ = write!(
                    s,
                    "'{:02}/{:02},\"{}\",'0000,\"{}\",{},\"{}\"\r\n",
                    l.day.0,
                    l.day.1,
                    l.remark,
                    en(l.amount),
                    if l.credit { "CR" } else { "DB" },
                    en(bal)
                );
                if !l.payer.is_empty() {
                    let _ = write!(s, ",\"{}\",,,,\r\n", l.payer);
                }
            }
        }
        Format::Mandiri => {
            s.push_str("Tgl.;Tgl. Val.;Rincian Transaksi;No. Referensi;Debit;Kredit;Saldo\r\n");
            for l in lines {
                bal += if l.credit { l.amount } else { -l.amount };
                let (db, cr) = if l.credit {
                    ("0,00".into(), id(l.amount))
                } else {
                    (id(l.amount), "0,00".into())
                };
                let _ = write!(
                    s,
                    "{};{};\"{}\n{}\";{};{};{};{}\r\n",
                    d(l),
                    d(l),
                    l.remark,
                    l.payer,
                    l.reference,
                    db,
                    cr,
                    id(bal)
                );
            }
        }
        Format::Bni => {
            s.push_str("Account No,0987654321\r\n\r\nPost Date,Value Date,Branch,Journal No.,Description,Amount,Db/Cr,Balance\r\n");
            for l in lines {
                bal += if l.credit { l.amount } else { -l.amount };
                let _ = write!(
                    s,
                    "{} 10:15:00,{},0259,{},\"{} {}\",\"{}\",{},\"{}\"\r\n",
                    d(l),
                    d(l),
                    l.reference,
                    l.remark,
                    l.payer,
                    en(l.amount),
                    if l.credit { "C" } else { "D" },
                    en(bal)
                );
            }
        }
        Format::Bri => {
            s.push_str(
                "NOREK,TGL_TRAN,DESK_TRAN,NO_REF,MUTASI_DEBET,MUTASI_KREDIT,SALDO_AKHIR_MUTASI\n",
            );
            for l in lines {
                bal += if l.credit { l.amount } else { -l.amount };
                let (db, cr) = if l.credit {
                    ("0.00".into(), en(l.amount))
                } else {
                    (en(l.amount), "0.00".into())
                };
                let _ = writeln!(
                    s,
                    "034101000123456,{:02}/{:02}/26,\"{} {}\",{},\"{}\",\"{}\",\"{}\"",
                    l.day.0,
                    l.day.1,
                    l.remark,
                    l.payer,
                    l.reference,
                    db,
                    cr,
                    en(bal)
                );
            }
        }
        Format::Mt940 => {
            let _ = write!(
                s,
                ":20:STMT2611300001\r\n:25:1234567890\r\n:28C:00330/001\r\n:60F:C261124IDR{bal},00\r\n"
            );
            for l in lines {
                bal += if l.credit { l.amount } else { -l.amount };
                let _ = write!(
                    s,
                    ":61:26{:02}{:02}{:02}{:02}{}{},00NTRFNONREF//{}\r\n:86:{} {}\r\n",
                    l.day.1,
                    l.day.0,
                    l.day.1,
                    l.day.0,
                    if l.credit { "C" } else { "D" },
                    l.amount,
                    l.reference,
                    l.remark,
                    l.payer
                );
            }
            let _ = write!(s, ":62F:C261130IDR{bal},00\r\n");
        }
        Format::Csv => {
            s.push_str("Booking date|Remark|Payer|Ref|Mutation|Balance\n");
            for l in lines {
                bal += if l.credit { l.amount } else { -l.amount };
                let _ = writeln!(
                    s,
                    "2026-{:02}-{:02}|{}|{}|{}|{}{}.00|{bal}.00",
                    l.day.1,
                    l.day.0,
                    l.remark,
                    l.payer,
                    l.reference,
                    if l.credit { "" } else { "-" },
                    l.amount
                );
            }
        }
    }
    s.into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let big: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let formats = [
        Format::Bca,
        Format::Mandiri,
        Format::Bni,
        Format::Bri,
        Format::Mt940,
        Format::Csv,
    ];
    for (k, format) in formats.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(seed * 1000 + k as u64);
        let w = world(&mut rng, 120, 6).await?;
        let generated = lines(&mut rng, &w, 60, None);
        let file = write(format, &generated);
        let report = w
            .desk
            .import_file(&file, Some(format), None, "generated", "bench")
            .await
            .map_err(|e| anyhow::anyhow!("{format}: {e}"))?;
        let (mut right, mut wrong, mut missed, mut amb_ok, mut unmatched_ok, mut other) =
            (0, 0, 0, 0, 0, 0);
        let (mut matchable, mut ambiguous, mut free) = (0, 0, 0);
        for (g, r) in generated.iter().zip(&report.lines) {
            match &g.truth {
                Truth::Order(n) => {
                    matchable += 1;
                    match (&r.order, r.state) {
                        (Some(o), LineState::Matched | LineState::Suggested) if o == n => {
                            right += 1
                        }
                        (Some(_), _) => wrong += 1,
                        _ => {
                            missed += 1;
                            if std::env::var("SHOW_MISSES").is_ok() {
                                eprintln!(
                                    "missed {n}: {:?} {:?} {} / {}",
                                    r.state, r.candidates, g.remark, g.payer
                                );
                            }
                        }
                    }
                }
                Truth::Ambiguous => {
                    ambiguous += 1;
                    if r.state == LineState::Ambiguous {
                        amb_ok += 1
                    } else if r.order.is_some() {
                        wrong += 1
                    } else {
                        other += 1
                    }
                    if r.state != LineState::Ambiguous && std::env::var("SHOW_MISSES").is_ok() {
                        eprintln!("not ambiguous: {:?} {:?} {}", r.state, r.order, g.amount);
                    }
                }
                Truth::Unmatched => {
                    free += 1;
                    if r.state == LineState::Unmatched {
                        unmatched_ok += 1
                    } else if r.order.is_some() {
                        wrong += 1
                    } else {
                        other += 1
                    }
                    if r.order.is_some() && std::env::var("SHOW_MISSES").is_ok() {
                        eprintln!(
                            "wrong: {:?} {:?} {:?} {} / {} {}",
                            r.state, r.order, r.rule, g.remark, g.payer, g.amount
                        );
                    }
                }
                Truth::Debit => {
                    if r.state != LineState::Debit {
                        other += 1
                    }
                }
            }
        }
        let again = w
            .desk
            .import_file(&file, Some(format), None, "generated", "bench")
            .await
            .map_err(|e| anyhow::anyhow!("{format}: {e}"))?;
        let added_again = again
            .lines
            .iter()
            .filter(|l| l.state != LineState::Duplicate)
            .count();
        println!(
            "{{\"seed\":{seed},\"format\":\"{format}\",\"lines\":{},\"matchable\":{matchable},\"to_right_order\":{right},\"to_wrong_order\":{wrong},\"matchable_missed\":{missed},\"ambiguous\":{ambiguous},\"ambiguous_listed\":{amb_ok},\"without_order\":{free},\"without_order_listed\":{unmatched_ok},\"other_misses\":{other},\"reimport_added\":{added_again}}}",
            generated.len()
        );
    }
    // The big one: BCA CSV of `big` lines against 2,000 orders.
    let mut rng = StdRng::seed_from_u64(seed * 1000 + 99);
    let w = world(&mut rng, 2_000, 50).await?;
    let generated = lines(&mut rng, &w, 0, Some(big));
    let file = write(Format::Bca, &generated);
    let started = Instant::now();
    let report = w
        .desk
        .import_file(&file, Some(Format::Bca), None, "big", "bench")
        .await
        .map_err(|e| anyhow::anyhow!("big: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let wrong = generated
        .iter()
        .zip(&report.lines)
        .filter(|(g, r)| match (&g.truth, &r.order) {
            (Truth::Order(n), Some(o)) => n != o,
            (_, Some(_)) => !matches!(g.truth, Truth::Order(_)),
            _ => false,
        })
        .count();
    println!(
        "{{\"name\":\"statement_import_s\",\"unit\":\"s\",\"lines\":{},\"bytes\":{},\"orders\":{},\"value\":{secs:.2},\"matched\":{},\"suggested\":{},\"to_wrong_order\":{wrong}}}",
        report.lines.len(),
        file.len(),
        w.orders.len(),
        report.count(LineState::Matched),
        report.count(LineState::Suggested)
    );
    Ok(())
}
