//! Generates transfer slips like customers send them, to measure the slip
//! reader: app screenshots of several banks rendered as PNG, the same as
//! phone photos of a screen (rotated, blurred, low contrast, colour cast,
//! heavy JPEG) and as screenshots forwarded at half size, ATM receipts, and
//! PDFs (with a text layer, and scanned without one).
//!
//! Two sets with disjoint layouts and variants: `dev` (tune on it) and
//! `heldout` (never look at it while tuning). Each set has a `manifest.jsonl`
//! with the truth: `{"file","set","layout","degradation","amount","claimed"}`,
//! where `claimed` is what the customer wrote (it differs from `amount` on
//! about one slip in five).
//!
//! `cargo run --example slipgen -- OUT_DIR [PER_LAYOUT] [SEED]`; then
//! `scripts/eval-slips OUT_DIR`. Needs DejaVu fonts (`fonts-dejavu-core`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{ImageBuffer, Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FONT_DIRS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
];

struct Fonts {
    regular: Vec<u8>,
    bold: Vec<u8>,
    mono: Vec<u8>,
}

fn load_fonts() -> anyhow::Result<Fonts> {
    let find = |name: &str| -> anyhow::Result<Vec<u8>> {
        for d in FONT_DIRS {
            let p = Path::new(d).join(name);
            if p.exists() {
                return Ok(std::fs::read(p)?);
            }
        }
        anyhow::bail!("{name} not found: install fonts-dejavu-core")
    };
    Ok(Fonts {
        regular: find("DejaVuSans.ttf")?,
        bold: find("DejaVuSans-Bold.ttf")?,
        mono: find("DejaVuSansMono.ttf")?,
    })
}

#[derive(Clone, Copy)]
enum Face {
    Regular,
    Bold,
    Mono,
}

struct Canvas<'f> {
    img: RgbImage,
    fonts: &'f Fonts,
}

impl<'f> Canvas<'f> {
    fn new(w: u32, h: u32, fonts: &'f Fonts, bg: [u8; 3]) -> Self {
        Canvas {
            img: ImageBuffer::from_pixel(w, h, Rgb(bg)),
            fonts,
        }
    }

    fn font(&self, face: Face) -> FontRef<'f> {
        let bytes = match face {
            Face::Regular => &self.fonts.regular,
            Face::Bold => &self.fonts.bold,
            Face::Mono => &self.fonts.mono,
        };
        FontRef::try_from_slice(bytes).expect("DejaVu parses")
    }

    fn width(&self, text: &str, size: f32, face: Face) -> f32 {
        let font = self.font(face);
        let scaled = font.as_scaled(PxScale::from(size));
        text.chars()
            .map(|c| scaled.h_advance(font.glyph_id(c)))
            .sum()
    }

    fn rect(&mut self, x: u32, y: u32, w: u32, h: u32, colour: [u8; 3]) {
        for yy in y..(y + h).min(self.img.height()) {
            for xx in x..(x + w).min(self.img.width()) {
                self.img.put_pixel(xx, yy, Rgb(colour));
            }
        }
    }

    /// Draws `text` with its top-left at (x, y).
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, face: Face, colour: [u8; 3]) {
        let font = self.font(face);
        let scaled = font.as_scaled(PxScale::from(size));
        let mut caret = x;
        for c in text.chars() {
            let id = font.glyph_id(c);
            let glyph = id.with_scale_and_position(size, point(caret, y + scaled.ascent()));
            caret += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            let (w, h) = self.img.dimensions();
            outline.draw(|gx, gy, cov| {
                let px = b.min.x as i32 + gx as i32;
                let py = b.min.y as i32 + gy as i32;
                if px < 0 || py < 0 || px as u32 >= w || py as u32 >= h {
                    return;
                }
                let p = self.img.get_pixel_mut(px as u32, py as u32);
                for i in 0..3 {
                    p[i] = (f32::from(p[i]) * (1.0 - cov) + f32::from(colour[i]) * cov) as u8;
                }
            });
        }
    }

    fn right(&mut self, right: f32, y: f32, text: &str, size: f32, face: Face, colour: [u8; 3]) {
        let w = self.width(text, size, face);
        self.text(right - w, y, text, size, face, colour);
    }

    fn centre(&mut self, cx: f32, y: f32, text: &str, size: f32, face: Face, colour: [u8; 3]) {
        let w = self.width(text, size, face);
        self.text(cx - w / 2.0, y, text, size, face, colour);
    }
}

const BLACK: [u8; 3] = [20, 20, 20];
const GREY: [u8; 3] = [110, 110, 110];
const WHITE: [u8; 3] = [255, 255, 255];

/// One slip's facts.
struct Slip {
    amount: i64,
    fee: i64,
    day: u32,
    month: u32,
    hour: u32,
    minute: u32,
    second: u32,
    reference: String,
    sender: String,
    sender_acct: String,
    remark: String,
    dest: (&'static str, &'static str),
}

const OURS: &[(&str, &str)] = &[("BCA", "527-031-8846"), ("Mandiri", "137-00-1842550-6")];
const SENDERS: &[&str] = &[
    "PT DELTA RASA PANGAN",
    "CV SINAR ABADI",
    "BUDI SANTOSO",
    "SAKURA COMPONENTS K.K.",
    "PT MAJU BERSAMA TBK",
    "SITI RAHAYU",
    "ANDI WIJAYA",
    "PT NUSANTARA LOGISTIK",
];
const REMARKS: &[&str] = &[
    "TOP UP",
    "deposit",
    "topup saldo",
    "TU-20261125-0042",
    "",
    "bayar",
];
const MONTHS_ID: &[&str] = &[
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const MONTHS_EN3: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn random_slip(rng: &mut StdRng) -> Slip {
    let step = if rng.gen_bool(0.7) { 50_000 } else { 5_000 };
    let amount = rng.gen_range(100_000 / step..=25_000_000 / step) * step;
    Slip {
        amount,
        fee: [0, 0, 2_500, 6_500][rng.gen_range(0..4)],
        day: rng.gen_range(1..=28),
        month: rng.gen_range(9..=11),
        hour: rng.gen_range(7..=21),
        minute: rng.gen_range(0..60),
        second: rng.gen_range(0..60),
        reference: format!("2026{:010}", rng.gen_range(0..10_000_000_000u64)),
        sender: SENDERS[rng.gen_range(0..SENDERS.len())].to_string(),
        sender_acct: format!("xxxxxx{:04}", rng.gen_range(0..10_000)),
        remark: REMARKS[rng.gen_range(0..REMARKS.len())].to_string(),
        dest: OURS[rng.gen_range(0..OURS.len())],
    }
}

/// `1.500.000` (Indonesian grouping).
fn id_num(v: i64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// `1,500,000` (English grouping).
fn en_num(v: i64) -> String {
    id_num(v).replace('.', ",")
}

fn date_num(s: &Slip) -> String {
    format!(
        "{:02}/{:02}/2026 {:02}:{:02}:{:02}",
        s.day, s.month, s.hour, s.minute, s.second
    )
}

// ----------------------------------------------------------------------------
// Layouts. dev: bca, brimo, livin, atm_mandiri, bni_pdf, octo, bsi, jenius.
// heldout: klikbca, bni_mobile, brimo_fee, atm_bca, generic_en, scan_pdf.
// ----------------------------------------------------------------------------

fn bca(c: &mut Canvas, s: &Slip) {
    c.rect(0, 0, 480, 70, [0, 82, 155]);
    c.text(24.0, 20.0, "m-BCA m-Transfer", 24.0, Face::Bold, WHITE);
    c.centre(240.0, 95.0, "BERHASIL", 22.0, Face::Bold, [0, 140, 60]);
    let rows = [
        ("Tanggal", date_num(s)),
        ("Ke Rekening", format!("{} {}", s.dest.0, s.dest.1)),
        ("Nama", "PT BILLING CONTOH INDONESIA".into()),
        ("Jumlah", format!("Rp {},00", id_num(s.amount))),
        ("Berita", s.remark.clone()),
        ("Dari Rekening", s.sender_acct.to_uppercase()),
        ("No. Referensi", s.reference.clone()),
    ];
    let mut y = 140.0;
    for (k, v) in rows {
        c.text(24.0, y, k, 15.0, Face::Regular, GREY);
        c.text(24.0, y + 22.0, &v, 18.0, Face::Bold, BLACK);
        y += 62.0;
    }
}

/// How a layout draws its label-value rows: the label from `left` in
/// `grey`, the value in bold ending at `right`, `step` apart.
struct Rows {
    left: f32,
    right: f32,
    label: f32,
    value: f32,
    grey: [u8; 3],
    step: f32,
}

impl Rows {
    /// Small 14-px values near the screen's edges, labels of `label` px.
    const fn small(label: f32, grey: [u8; 3], step: f32) -> Rows {
        Rows {
            left: 20.0,
            right: 460.0,
            label,
            value: 14.0,
            grey,
            step,
        }
    }

    /// One row at `y`, which moves to the next row.
    fn row(&self, c: &mut Canvas, y: &mut f32, k: &str, v: &str) {
        c.text(self.left, *y, k, self.label, Face::Regular, self.grey);
        c.right(self.right, *y, v, self.value, Face::Bold, BLACK);
        *y += self.step;
    }

    /// Every row from `y` down.
    fn all(&self, c: &mut Canvas, mut y: f32, rows: &[(&str, String)]) {
        for (k, v) in rows {
            self.row(c, &mut y, k, v);
        }
    }
}

/// The rows most app layouts share.
const TWO_COL: Rows = Rows {
    left: 24.0,
    right: 456.0,
    label: 15.0,
    value: 15.0,
    grey: GREY,
    step: 40.0,
};

fn two_col(c: &mut Canvas, y: &mut f32, k: &str, v: &str) {
    TWO_COL.row(c, y, k, v);
}

fn brimo(c: &mut Canvas, s: &Slip, with_fee: bool) {
    c.text(24.0, 18.0, "BRImo", 28.0, Face::Bold, [0, 60, 140]);
    c.centre(240.0, 100.0, "Transaksi Berhasil", 26.0, Face::Bold, BLACK);
    let date = format!(
        "{} {} 2026, {:02}:{:02}:{:02} WIB",
        s.day,
        MONTHS_ID[s.month as usize - 1],
        s.hour,
        s.minute,
        s.second
    );
    c.centre(240.0, 140.0, &date, 15.0, Face::Regular, GREY);
    let fee = if with_fee { s.fee.max(2_500) } else { 0 };
    c.centre(240.0, 175.0, "Total Transaksi", 15.0, Face::Regular, GREY);
    c.centre(
        240.0,
        198.0,
        &format!("Rp{},00", id_num(s.amount + fee)),
        30.0,
        Face::Bold,
        BLACK,
    );
    let mut y = 265.0;
    two_col(c, &mut y, "Nomor Referensi", &s.reference);
    two_col(c, &mut y, "Sumber Dana", &s.sender);
    c.right(
        456.0,
        y,
        &format!("BANK BRI {}", s.sender_acct),
        15.0,
        Face::Bold,
        BLACK,
    );
    y += 40.0;
    two_col(
        c,
        &mut y,
        "Jenis Transaksi",
        &format!("Transfer {}", s.dest.0),
    );
    two_col(c, &mut y, "Tujuan", "PT BILLING CONTOH INDONESIA");
    c.right(
        456.0,
        y,
        &format!("{} {}", s.dest.0, s.dest.1),
        15.0,
        Face::Bold,
        BLACK,
    );
    y += 40.0;
    two_col(c, &mut y, "Nominal", &format!("Rp{},00", id_num(s.amount)));
    two_col(c, &mut y, "Biaya Admin", &format!("Rp{},00", id_num(fee)));
    two_col(c, &mut y, "Catatan", &s.remark);
}

fn livin(c: &mut Canvas, s: &Slip) {
    c.rect(0, 0, 480, 80, [0, 51, 102]);
    c.text(
        24.0,
        24.0,
        "Livin' by Mandiri",
        24.0,
        Face::Bold,
        [255, 200, 0],
    );
    c.centre(240.0, 110.0, "Transfer Berhasil", 22.0, Face::Bold, BLACK);
    c.centre(
        240.0,
        150.0,
        &format!("Rp {}", id_num(s.amount)),
        32.0,
        Face::Bold,
        [0, 51, 102],
    );
    let mut y = 230.0;
    let date = format!(
        "{} {} 2026 {:02}:{:02}",
        s.day,
        &MONTHS_ID[s.month as usize - 1][..3],
        s.hour,
        s.minute
    );
    two_col(c, &mut y, "Tanggal", &date);
    two_col(c, &mut y, "Penerima", "PT BILLING CONTOH INDONESIA");
    two_col(
        c,
        &mut y,
        "Bank / Rekening",
        &format!("{} - {}", s.dest.0, s.dest.1),
    );
    two_col(
        c,
        &mut y,
        "Sumber Dana",
        &format!("{} - {}", s.sender, s.sender_acct),
    );
    two_col(c, &mut y, "Biaya", &format!("Rp {}", id_num(s.fee)));
    two_col(c, &mut y, "No. Referensi", &s.reference);
    two_col(c, &mut y, "Keterangan", &s.remark);
}

fn atm(c: &mut Canvas, s: &Slip, bank: &str) {
    let lines: Vec<String> = vec![
        format!("BANK {bank}"),
        format!("ATM {:04}", s.reference.len() * 331 % 9999),
        "KCP SUDIRMAN JKT".into(),
        format!(
            "TGL {:02}/{:02}/26 JAM {:02}:{:02}",
            s.day, s.month, s.hour, s.minute
        ),
        "TRANSFER".into(),
        format!("BANK TUJUAN : {}", s.dest.0.to_uppercase()),
        format!("NO REK : {}", s.dest.1.replace('-', "")),
        "NAMA : PT BILLING CONTOH".into(),
        format!("JUMLAH : RP {}", id_num(s.amount)),
        format!("NO REF : {}", &s.reference[8..]),
        format!("DARI REK : {}", s.sender_acct.to_uppercase()),
        format!("SALDO : RP {}", id_num(s.amount * 3 + 1_234_000)),
        "SIMPAN STRUK INI SEBAGAI".into(),
        "BUKTI TRANSAKSI YANG SAH".into(),
    ];
    let mut y = 40.0;
    for l in lines {
        c.text(40.0, y, &l, 17.0, Face::Mono, [40, 40, 60]);
        y += 36.0;
    }
}

fn klikbca(c: &mut Canvas, s: &Slip) {
    c.rect(0, 0, 480, 56, [20, 70, 160]);
    c.text(20.0, 16.0, "KlikBCA Individual", 20.0, Face::Bold, WHITE);
    c.text(
        20.0,
        76.0,
        "Transfer ke Rekening BCA - Konfirmasi",
        14.0,
        Face::Bold,
        BLACK,
    );
    let mut y = 120.0;
    two_col(c, &mut y, "Tanggal Transaksi", &date_num(s));
    two_col(c, &mut y, "Rekening Tujuan", s.dest.1);
    two_col(c, &mut y, "Nama Penerima", "PT BILLING CONTOH INDONESIA");
    two_col(
        c,
        &mut y,
        "Jumlah Transfer",
        &format!("Rp {}.00", en_num(s.amount)),
    );
    two_col(c, &mut y, "Berita", &s.remark);
    two_col(c, &mut y, "Rekening Sumber", &s.sender_acct);
    two_col(c, &mut y, "No. Transaksi", &s.reference);
    two_col(c, &mut y, "Status", "Berhasil");
}

fn bni_mobile(c: &mut Canvas, s: &Slip) {
    c.rect(0, 0, 480, 64, [240, 100, 20]);
    c.text(24.0, 18.0, "BNI Mobile Banking", 22.0, Face::Bold, WHITE);
    c.centre(
        240.0,
        90.0,
        "Transfer Berhasil",
        20.0,
        Face::Bold,
        [0, 110, 110],
    );
    let mut y = 150.0;
    let date = format!(
        "{:02} {} 2026 {:02}:{:02}:{:02}",
        s.day,
        MONTHS_EN3[s.month as usize - 1],
        s.hour,
        s.minute,
        s.second
    );
    two_col(c, &mut y, "Tanggal", &date);
    two_col(c, &mut y, "Rekening Debit", &s.sender_acct);
    two_col(c, &mut y, "Nama Pengirim", &s.sender);
    two_col(c, &mut y, "Bank Tujuan", s.dest.0);
    two_col(c, &mut y, "Rekening Tujuan", s.dest.1);
    two_col(c, &mut y, "Nama Penerima", "PT BILLING CONTOH INDONESIA");
    two_col(c, &mut y, "Nominal", &format!("Rp{}", id_num(s.amount)));
    two_col(
        c,
        &mut y,
        "Biaya Admin",
        &format!("Rp{}", id_num(s.fee.max(2_500))),
    );
    two_col(
        c,
        &mut y,
        "Total",
        &format!("Rp{}", id_num(s.amount + s.fee.max(2_500))),
    );
    two_col(
        c,
        &mut y,
        "Saldo Akhir",
        &format!("Rp{}", id_num(s.amount * 2 + 750_000)),
    );
    two_col(c, &mut y, "No. Referensi", &s.reference);
}

fn generic_en(c: &mut Canvas, s: &Slip) {
    c.text(24.0, 24.0, "Jago", 26.0, Face::Bold, [250, 160, 0]);
    c.text(24.0, 70.0, "Transfer receipt", 20.0, Face::Bold, BLACK);
    let mut y = 130.0;
    let date = format!(
        "{} {} 2026, {:02}:{:02}",
        s.day,
        MONTHS_EN3[s.month as usize - 1],
        s.hour,
        s.minute
    );
    two_col(c, &mut y, "Date", &date);
    two_col(
        c,
        &mut y,
        "From Account",
        &format!("{} {}", s.sender, s.sender_acct),
    );
    two_col(
        c,
        &mut y,
        "To Account",
        &format!("{} {}", s.dest.0, s.dest.1),
    );
    two_col(c, &mut y, "Beneficiary Name", "PT BILLING CONTOH INDONESIA");
    two_col(
        c,
        &mut y,
        "Transfer Amount",
        &format!("IDR {}.00", en_num(s.amount)),
    );
    two_col(c, &mut y, "Admin Fee", &format!("IDR {}.00", en_num(s.fee)));
    two_col(c, &mut y, "Reference", &s.reference);
    two_col(c, &mut y, "Description", &s.remark);
}

/// CIMB Niaga OCTO Mobile (dev): the amount only in a small row, a total
/// debit with the fee below it.
fn octo(c: &mut Canvas, s: &Slip) {
    c.rect(0, 0, 480, 60, [150, 0, 20]);
    c.text(20.0, 16.0, "OCTO Mobile", 22.0, Face::Bold, WHITE);
    c.centre(
        240.0,
        84.0,
        "Transfer Sukses",
        19.0,
        Face::Bold,
        [0, 130, 70],
    );
    let fee = s.fee;
    let rows = [
        ("Tanggal", date_num(s)),
        ("Dari Rekening", s.sender_acct.to_uppercase()),
        ("Ke Rekening", format!("{} {}", s.dest.0, s.dest.1)),
        ("Nama Penerima", "PT BILLING CONTOH INDONESIA".into()),
        ("Jumlah", format!("IDR {},00", id_num(s.amount))),
        ("Biaya Transfer", format!("IDR {},00", id_num(fee))),
        ("Total Debit", format!("IDR {},00", id_num(s.amount + fee))),
        ("No. Referensi", s.reference.clone()),
        ("Keterangan", s.remark.clone()),
    ];
    Rows::small(13.0, [120, 120, 130], 36.0).all(c, 140.0, &rows);
}

/// BSI Mobile (dev): labels above values on a light card, grey on grey.
fn bsi(c: &mut Canvas, s: &Slip) {
    c.rect(0, 0, 480, 800, [244, 246, 245]);
    c.rect(0, 0, 480, 64, [0, 150, 140]);
    c.text(20.0, 18.0, "BSI Mobile", 22.0, Face::Bold, WHITE);
    c.rect(16, 90, 448, 640, WHITE);
    c.centre(
        240.0,
        104.0,
        "Transaksi Berhasil",
        18.0,
        Face::Bold,
        [0, 150, 140],
    );
    let fee = s.fee.max(2_500);
    let rows = [
        (
            "Waktu",
            format!(
                "{:02}-{:02}-2026 {:02}:{:02}",
                s.day, s.month, s.hour, s.minute
            ),
        ),
        ("Rekening Tujuan", format!("{} {}", s.dest.0, s.dest.1)),
        ("Nama Penerima", "PT BILLING CONTOH INDONESIA".into()),
        ("Nominal", format!("Rp {}", id_num(s.amount))),
        ("Biaya Admin", format!("Rp {}", id_num(fee))),
        ("Total", format!("Rp {}", id_num(s.amount + fee))),
        ("Keterangan", s.remark.clone()),
        ("Nomor Referensi", s.reference.clone()),
    ];
    let mut y = 150.0;
    for (k, v) in rows {
        c.text(32.0, y, k, 12.0, Face::Regular, [130, 135, 135]);
        c.text(32.0, y + 17.0, &v, 15.0, Face::Bold, BLACK);
        y += 50.0;
    }
}

/// Jenius-style English receipt (dev): `Amount` with English grouping,
/// no decimals, thin rows.
fn jenius(c: &mut Canvas, s: &Slip) {
    c.text(20.0, 20.0, "Jenius", 24.0, Face::Bold, [0, 160, 220]);
    c.text(20.0, 64.0, "Send It - Success", 17.0, Face::Bold, BLACK);
    let date = format!(
        "{:02} {} 2026 {:02}:{:02}",
        s.day,
        MONTHS_EN3[s.month as usize - 1],
        s.hour,
        s.minute
    );
    let rows = [
        ("Transaction date", date),
        ("Recipient", "PT BILLING CONTOH INDONESIA".into()),
        ("Recipient account", format!("{} {}", s.dest.0, s.dest.1)),
        ("Amount", format!("IDR {}", en_num(s.amount))),
        ("Fee", format!("IDR {}", en_num(s.fee))),
        ("Message", s.remark.clone()),
        ("Reference no.", s.reference.clone()),
    ];
    Rows::small(14.0, [140, 140, 150], 34.0).all(c, 120.0, &rows);
}

// ----------------------------------------------------------------------------
// PDFs written by hand (no layout engine needed for a few lines of text).
// ----------------------------------------------------------------------------

fn pdf_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)")
}

fn write_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut x = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(x, "{o:010} 00000 n ");
    }
    let _ = write!(
        x,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(x.as_bytes());
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut o = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    o.extend_from_slice(data);
    o.extend_from_slice(b"\nendstream");
    o
}

/// A text PDF: BNI-style receipt (dev).
fn bni_pdf(s: &Slip) -> Vec<u8> {
    let rows = [
        (
            "Transaction Date",
            format!(
                "{:02}-{}-2026 {:02}:{:02}:{:02}",
                s.day,
                MONTHS_EN3[s.month as usize - 1],
                s.hour,
                s.minute,
                s.second
            ),
        ),
        ("Debit Account", s.sender_acct.clone()),
        ("Remitter", s.sender.clone()),
        ("Beneficiary Bank", s.dest.0.to_string()),
        ("Beneficiary Account", s.dest.1.to_string()),
        ("Beneficiary Name", "PT BILLING CONTOH INDONESIA".into()),
        ("Amount", format!("IDR {}.00", en_num(s.amount))),
        ("Charges", format!("IDR {}.00", en_num(s.fee))),
        ("Remark", s.remark.clone()),
        ("Reference No.", s.reference.clone()),
    ];
    let mut content = String::from("BT /F1 18 Tf 50 780 Td (BNIDirect) Tj ET\n");
    content.push_str("BT /F1 12 Tf 50 750 Td (Transaction Receipt / Bukti Transaksi) Tj ET\n");
    let mut y = 700;
    for (k, v) in rows {
        let _ = writeln!(content, "BT /F1 11 Tf 50 {y} Td ({}) Tj ET", pdf_escape(k));
        let _ = writeln!(
            content,
            "BT /F1 11 Tf 250 {y} Td ({}) Tj ET",
            pdf_escape(&v)
        );
        y -= 28;
    }
    write_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        stream("", content.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
    ])
}

/// A scanned PDF (no text layer): a JPEG of a slip on a page (held-out).
fn scan_pdf(jpeg: &[u8], w: u32, h: u32) -> Vec<u8> {
    let content = format!("q {w} 0 0 {h} 50 100 cm /Im1 Do Q");
    write_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>", w + 100, h + 200).into_bytes(),
        stream("", content.as_bytes()),
        stream(
            &format!("/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"),
            jpeg,
        ),
    ])
}

// ----------------------------------------------------------------------------
// Degradations.
// ----------------------------------------------------------------------------

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    img.write_with_encoder(enc).expect("jpeg encodes");
    out
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png encodes");
    out
}

/// A phone photo of the screen: taken at a phone camera's resolution (twice
/// the screenshot's), a darker, low-contrast, colour-cast frame around the
/// screen, rotated a few degrees, slightly blurred, heavy JPEG.
fn photo(img: &RgbImage, rng: &mut StdRng) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let img = &image::imageops::resize(img, w * 2, h * 2, image::imageops::FilterType::Triangle);
    let (w, h) = img.dimensions();
    let (bw, bh) = (w + 120, h + 160);
    let cast = [
        rng.gen_range(-25..=25),
        rng.gen_range(-25..=25),
        rng.gen_range(-35..=10),
    ];
    let contrast: f32 = rng.gen_range(0.55..0.8);
    let lift: f32 = rng.gen_range(20.0..60.0);
    let angle: f32 = rng.gen_range(2.0f32..5.0) * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    let (sn, cs) = angle.to_radians().sin_cos();
    let (cx, cy) = (bw as f32 / 2.0, bh as f32 / 2.0);
    let mut out = RgbImage::new(bw, bh);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let dx = x as f32 - cx;
        let dy = y as f32 - cy;
        let sx = cs * dx - sn * dy + cx - 60.0;
        let sy = sn * dx + cs * dy + cy - 80.0;
        let base = if sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h {
            img.get_pixel(sx as u32, sy as u32).0
        } else {
            [60, 60, 55]
        };
        for i in 0..3 {
            let v = f32::from(base[i]) * contrast + lift + cast[i] as f32;
            p[i] = v.clamp(0.0, 255.0) as u8;
        }
    }
    let blurred = image::imageops::blur(&out, rng.gen_range(1.0..2.2));
    jpeg(&blurred, rng.gen_range(25..45))
}

/// A screenshot forwarded through a chat app: half size, JPEG.
fn half(img: &RgbImage, rng: &mut StdRng) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let small = image::imageops::resize(img, w / 2, h / 2, image::imageops::FilterType::Triangle);
    jpeg(&small, rng.gen_range(55..80))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out: PathBuf = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: slipgen OUT_DIR [PER_LAYOUT] [SEED]"))?
        .into();
    let per: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(8);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(7);
    let fonts = load_fonts()?;
    let sets: [(&str, &[&str]); 2] = [
        (
            "dev",
            &[
                "bca",
                "brimo",
                "livin",
                "atm_mandiri",
                "bni_pdf",
                "octo",
                "bsi",
                "jenius",
            ],
        ),
        (
            "heldout",
            &[
                "klikbca",
                "bni_mobile",
                "brimo_fee",
                "atm_bca",
                "generic_en",
                "scan_pdf",
            ],
        ),
    ];
    for (set, layouts) in sets {
        // Separate seeds: the held-out amounts and names are not the dev ones.
        let mut rng = StdRng::seed_from_u64(seed ^ if set == "dev" { 0 } else { 0x5eed_f00d });
        let dir = out.join(set);
        std::fs::create_dir_all(&dir)?;
        let mut manifest = std::fs::File::create(dir.join("manifest.jsonl"))?;
        for layout in layouts {
            for i in 0..per {
                let s = random_slip(&mut rng);
                let claimed = if rng.gen_bool(0.2) {
                    s.amount + [-500_000, 450_000, -45_000, 1_000_000][rng.gen_range(0..4)]
                } else {
                    s.amount
                };
                let claimed = claimed.max(50_000);
                let degradations: &[&str] = if layout.ends_with("pdf") {
                    &["pdf"]
                } else {
                    &["clean", "photo", "half"]
                };
                for deg in degradations {
                    let (bytes, ext) = if *layout == "bni_pdf" {
                        (bni_pdf(&s), "pdf")
                    } else {
                        let (w, h) = if layout.starts_with("atm") {
                            (420, 600)
                        } else {
                            (480, 800)
                        };
                        let mut c = Canvas::new(w, h, &fonts, WHITE);
                        match *layout {
                            "bca" => bca(&mut c, &s),
                            "brimo" => brimo(&mut c, &s, false),
                            "brimo_fee" => brimo(&mut c, &s, true),
                            "livin" => livin(&mut c, &s),
                            "atm_mandiri" => atm(&mut c, &s, "MANDIRI"),
                            "atm_bca" => atm(&mut c, &s, "BCA"),
                            "klikbca" => klikbca(&mut c, &s),
                            "bni_mobile" => bni_mobile(&mut c, &s),
                            "generic_en" | "scan_pdf" => generic_en(&mut c, &s),
                            "octo" => octo(&mut c, &s),
                            "bsi" => bsi(&mut c, &s),
                            "jenius" => jenius(&mut c, &s),
                            other => anyhow::bail!("unknown layout {other}"),
                        }
                        match *deg {
                            "clean" => (png(&c.img), "png"),
                            "photo" => (photo(&c.img, &mut rng), "jpg"),
                            "half" => (half(&c.img, &mut rng), "jpg"),
                            _ => (scan_pdf(&jpeg(&c.img, 70), w, h), "pdf"),
                        }
                    };
                    let name = format!("{layout}-{i:03}-{deg}.{ext}");
                    std::fs::write(dir.join(&name), bytes)?;
                    writeln!(
                        manifest,
                        "{}",
                        serde_json::json!({
                            "file": name, "set": set, "layout": layout, "degradation": deg,
                            "amount": s.amount.to_string(), "claimed": claimed.to_string(),
                        })
                    )?;
                }
            }
        }
        eprintln!("{set}: written to {}", dir.display());
    }
    Ok(())
}
