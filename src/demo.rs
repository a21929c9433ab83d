//! `topup demo`: a desk a newcomer can try in one command. In its own data
//! folder it creates an account with a main user and a PIC, a staff member
//! whose password it prints, and two customer mails waiting in the Maildir
//! inbox (a top-up request, and a transfer slip for an order made earlier),
//! so the whole loop shows up at once: order mail, review on the staff
//! board, approve, paid mail with the PDF receipt in the `.eml` outbox.
//!
//! Running it again on the same folder adds new sample mails and a new
//! password; nothing else is duplicated.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use printpdf::{
    BuiltinFont, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem,
};
use rand::Rng;

use crate::desk::{Channel, Desk, DeskError};
use crate::domain::Lang;
use crate::domain::money::Money;
use crate::store::accounts;

const COMPANY: &str = "PT Contoh Sejahtera";
const MAIN_EMAIL: &str = "budi@contoh.co.id";
const MAIN_NAME: &str = "Budi Santoso";
const PIC_EMAIL: &str = "sari@contoh.co.id";
const PIC_NAME: &str = "Sari Wulandari";
const STAFF: &str = "demo";

/// What the demo set up, to print for the newcomer.
#[derive(Debug)]
pub struct Demo {
    /// The staff member's fresh password.
    pub password: String,
    /// The order the slip mail is about.
    pub slip_order: String,
    /// The Maildir inbox the sample mails wait in.
    pub inbox: PathBuf,
    /// Where replies are written.
    pub outbox: PathBuf,
}

impl Demo {
    /// Prints what to do next.
    pub fn print(&self, web: Option<SocketAddr>) {
        let board = web.map_or_else(
            || "the staff board".to_owned(),
            |a| format!("http://{a}/staff"),
        );
        println!("Demo desk ready:");
        println!(
            "  staff board  {board}  (name {STAFF:?}, password {})",
            self.password
        );
        println!(
            "  customer     {COMPANY}: {MAIN_NAME} <{MAIN_EMAIL}> (main user), {PIC_NAME} <{PIC_EMAIL}> (PIC)"
        );
        println!(
            "  waiting      a top-up request from {MAIN_EMAIL}, and a slip from {PIC_EMAIL} for {}",
            self.slip_order
        );
        println!(
            "  inbox        {} (drop more .eml files into new/)",
            self.inbox.display()
        );
        println!(
            "  replies      {} (.eml files: order mails, the paid mail with its PDF receipt)",
            self.outbox.display()
        );
        println!(
            "Approve {} on the board and watch the replies folder.",
            self.slip_order
        );
    }
}

/// Sets the demo up on `desk` (whose settings point at the demo folder).
///
/// # Errors
/// Database or file errors.
pub async fn prepare(desk: &Desk) -> Result<Demo, DeskError> {
    let settings = desk.settings().clone();
    let now = desk.now();
    let password: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let hash = crate::web::auth::hash_password(&password)
        .map_err(|e| DeskError::Invalid(e.to_string().into()))?;

    let mut tx = desk.store().begin_write().await?;
    if accounts::find_staff(&mut tx, STAFF).await?.is_some() {
        accounts::set_staff_password(&mut tx, STAFF, &hash).await?;
    } else {
        accounts::add_staff(&mut tx, STAFF, None, None, Some(&hash), now).await?;
    }
    if accounts::find_account(&mut tx, COMPANY).await.is_err() {
        let a = accounts::add_account(&mut tx, COMPANY, MAIN_EMAIL, Lang::Id, now).await?;
        accounts::add_user(&mut tx, a.id, PIC_EMAIL, "pic", PIC_NAME, None, now).await?;
    }
    let main = accounts::user_by_email(&mut tx, MAIN_EMAIL)
        .await?
        .ok_or_else(|| DeskError::Invalid("the demo's main user is missing".into()))?;
    accounts::set_user_name(&mut tx, main.id, MAIN_NAME).await?;
    tx.commit().await?;

    // An order made earlier by mail, so the slip mail has something to pay.
    let order = desk
        .request(&main, Money::from_major(1_000_000), Channel::Email, None)
        .await?;

    let inbox = settings.maildir_path();
    let stamp = now;
    let request = mail(
        &format!("{MAIN_NAME} <{MAIN_EMAIL}>"),
        "Top up saldo",
        &format!("demo-request-{stamp}@contoh.co.id"),
        "Selamat pagi,\r\n\r\nMohon dibantu top up saldo kami sebesar Rp 2.500.000.\r\n\r\nTerima kasih,\r\nBudi\r\n",
        None,
    );
    let slip = slip_pdf(&order.number, "1.000.000");
    let slip_mail = mail(
        &format!("{PIC_NAME} <{PIC_EMAIL}>"),
        &format!("Bukti transfer {}", order.number),
        &format!("demo-slip-{stamp}@contoh.co.id"),
        &format!(
            "Halo,\r\n\r\nBerikut bukti transfer untuk pesanan {} sebesar Rp 1.000.000.\r\n\r\nSalam,\r\nSari\r\n",
            order.number
        ),
        Some(("bukti-transfer.pdf", &slip)),
    );
    drop_mail(&inbox, &format!("demo-1-{stamp}"), &request)?;
    drop_mail(&inbox, &format!("demo-2-{stamp}"), &slip_mail)?;
    Ok(Demo {
        password,
        slip_order: order.number,
        inbox,
        outbox: settings.eml_dir_path(),
    })
}

/// Writes `raw` into the Maildir the way a delivery agent does (tmp/, then
/// a rename into new/), so the running source never sees half a file.
fn drop_mail(maildir: &Path, name: &str, raw: &[u8]) -> Result<(), DeskError> {
    let io = |e: std::io::Error| DeskError::Invalid(format!("writing the demo mail: {e}").into());
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).map_err(io)?;
    }
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, raw).map_err(io)?;
    std::fs::rename(&tmp, maildir.join("new").join(name)).map_err(io)
}

/// A plain (or multipart, with one attachment) customer mail to the desk.
fn mail(from: &str, subject: &str, id: &str, body: &str, file: Option<(&str, &[u8])>) -> Vec<u8> {
    use base64::Engine as _;
    let date = chrono::Utc::now().to_rfc2822();
    let head = format!(
        "From: {from}\r\nTo: topup@localhost\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: {date}\r\nMIME-Version: 1.0\r\n"
    );
    let Some((name, bytes)) = file else {
        return format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").into_bytes();
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "{head}Content-Type: multipart/mixed; boundary=\"demo-boundary\"\r\n\r\n\
--demo-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
--demo-boundary\r\nContent-Type: application/pdf; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
--demo-boundary--\r\n",
        wrapped.join("\r\n")
    )
    .into_bytes()
}

/// A transfer receipt as a mobile-banking app exports it (text PDF).
fn slip_pdf(order_number: &str, amount: &str) -> Vec<u8> {
    let lines = [
        (16.0, "m-Transfer BCA".to_owned()),
        (11.0, "Transfer Berhasil".to_owned()),
        (
            11.0,
            format!(
                "Tanggal        {}",
                chrono::Local::now().format("%d/%m/%Y %H:%M")
            ),
        ),
        (11.0, "Ke rekening    1234567890".to_owned()),
        (11.0, "Nama penerima  PT TOPUP DESK INDONESIA".to_owned()),
        (11.0, format!("Nominal        Rp {amount}")),
        (11.0, format!("Berita         {order_number}")),
        (11.0, "Dari           PT CONTOH SEJAHTERA".to_owned()),
    ];
    let mut ops = Vec::new();
    let mut y = 180.0;
    for (size, text) in lines {
        ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::Builtin(BuiltinFont::Helvetica),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(24.0),
                    y: Pt(y),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text)],
            },
            Op::EndTextSection,
        ]);
        y -= 18.0;
    }
    PdfDocument::new("Bukti transfer")
        .with_pages(vec![PdfPage::new(Mm(90.0), Mm(75.0), ops)])
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}
