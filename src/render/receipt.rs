//! The PDF receipt ("Kuitansi" / "Receipt") attached to the paid email: one
//! A4 page with the seller, the paying account, the order, the dates, the
//! amount in figures and in words, the payment method, the approving staff
//! reference and the new balance, labelled in the account's language.
//!
//! Drawn with printpdf's op-based API and the embedded DejaVu Sans fonts
//! (subsetted on save), so every Indonesian or English character shows the
//! same on any viewer and the text can be extracted (`pdftotext`). Text is
//! measured with the font's own advance widths to right-align figures and
//! wrap long values.

use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

use crate::domain::Lang;
use crate::domain::money::Money;
use crate::render::words::amount_in_words;

const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Everything a receipt shows. Dates are already formatted for `lang`.
/// Stored in the outbox with the paid email, so a retry renders the same receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceiptData {
    /// The account's language: labels, amount format and words.
    pub lang: Lang,
    /// The receipt's own number.
    pub receipt_number: String,
    /// Who issues the receipt (the seller).
    pub seller_name: String,
    /// The seller's address; line breaks are kept.
    pub seller_address: String,
    /// The paying account (company).
    pub account_name: String,
    /// The order number.
    pub order_number: String,
    /// When the order was made.
    pub order_date: String,
    /// When the payment was confirmed.
    pub paid_date: String,
    /// The amount credited.
    pub amount: Money,
    /// E.g. "Transfer bank (BCA)".
    pub payment_method: String,
    /// The approving staff member's reference.
    pub staff_reference: String,
    /// The account's balance after this credit.
    pub new_balance: Money,
    /// When the receipt was issued (the decision), Unix milliseconds: the
    /// PDF's creation date. 0 (receipts queued before this field existed)
    /// means the time of rendering.
    #[serde(default)]
    pub issued_at: i64,
}

/// The receipt could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// An embedded font did not parse (a build defect).
    #[error("The receipt font {0} could not be loaded")]
    Font(&'static str),
    /// printpdf produced no document.
    #[error("The receipt PDF could not be written")]
    Empty,
}

/// Labels in the account's language.
struct Labels {
    title: &'static str,
    number: &'static str,
    received_from: &'static str,
    order_number: &'static str,
    order_date: &'static str,
    paid_date: &'static str,
    payment_method: &'static str,
    purpose: &'static str,
    purpose_value: &'static str,
    approved_by: &'static str,
    amount: &'static str,
    in_words: &'static str,
    paid_stamp: &'static str,
    new_balance: &'static str,
    footer: &'static str,
}

const ID_LABELS: Labels = Labels {
    title: "KUITANSI",
    number: "Nomor Kuitansi",
    received_from: "Telah terima dari",
    order_number: "Nomor Pesanan",
    order_date: "Tanggal Pesanan",
    paid_date: "Tanggal Pembayaran",
    payment_method: "Metode Pembayaran",
    purpose: "Untuk pembayaran",
    purpose_value: "Pengisian saldo (top up)",
    approved_by: "Dikonfirmasi oleh",
    amount: "Jumlah",
    in_words: "Terbilang",
    paid_stamp: "LUNAS",
    new_balance: "Saldo setelah pengisian",
    footer: "Kuitansi ini dibuat secara elektronik dan sah tanpa tanda tangan.",
};

const EN_LABELS: Labels = Labels {
    title: "RECEIPT",
    number: "Receipt number",
    received_from: "Received from",
    order_number: "Order number",
    order_date: "Order date",
    paid_date: "Payment date",
    payment_method: "Payment method",
    purpose: "For",
    purpose_value: "Balance top-up",
    approved_by: "Confirmed by",
    amount: "Amount",
    in_words: "In words",
    paid_stamp: "PAID",
    new_balance: "Balance after top-up",
    footer: "This receipt was issued electronically and is valid without a signature.",
};

// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const VALUE_X: f32 = MARGIN + 150.0;

const INK: (f32, f32, f32) = (0.11, 0.13, 0.16);
const MUTED: (f32, f32, f32) = (0.40, 0.44, 0.50);
const ACCENT: (f32, f32, f32) = (0.09, 0.27, 0.47);
const BOX_FILL: (f32, f32, f32) = (0.94, 0.96, 0.98);
const RULE: (f32, f32, f32) = (0.85, 0.87, 0.90);
const GREEN: (f32, f32, f32) = (0.10, 0.50, 0.25);

fn rgb((r, g, b): (f32, f32, f32)) -> Color {
    Color::Rgb(Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

/// Ops for one page plus the fonts to measure with.
struct Canvas {
    ops: Vec<Op>,
    regular: (FontId, ParsedFont),
    bold: (FontId, ParsedFont),
}

impl Canvas {
    fn font(&self, bold: bool) -> &(FontId, ParsedFont) {
        if bold { &self.bold } else { &self.regular }
    }

    /// The width of `text` in points at `size`.
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let font = &self.font(bold).1;
        let units = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        let advance: u32 = text
            .chars()
            .map(|c| {
                font.lookup_glyph_index(u32::from(c))
                    .or_else(|| font.lookup_glyph_index(u32::from('?')))
                    .map(|g| u32::from(font.get_horizontal_advance(g)))
                    .unwrap_or(0)
            })
            .sum();
        advance as f32 / units * size
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, color: (f32, f32, f32), text: &str) {
        let font = self.font(bold).0.clone();
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor { col: rgb(color) },
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    fn text_right(
        &mut self,
        right: f32,
        y: f32,
        size: f32,
        bold: bool,
        color: (f32, f32, f32),
        text: &str,
    ) {
        let x = right - self.width(text, size, bold);
        self.text(x, y, size, bold, color, text);
    }

    /// Greedy word wrap to `max` points; a word longer than a line is split.
    fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= max {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone may still be too wide: cut it by characters.
                let mut piece = String::new();
                for c in word.chars() {
                    piece.push(c);
                    if self.width(&piece, size, bold) > max && piece.chars().count() > 1 {
                        piece.pop();
                        lines.push(std::mem::take(&mut piece));
                        piece.push(c);
                    }
                }
                line = piece;
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: (f32, f32, f32)) {
        self.ops.extend([
            Op::SetFillColor { col: rgb(fill) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(w),
                    height: Pt(h),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            },
        ]);
    }

    fn outline(&mut self, x: f32, y: f32, w: f32, h: f32, color: (f32, f32, f32), thick: f32) {
        self.ops.extend([
            Op::SetOutlineColor { col: rgb(color) },
            Op::SetOutlineThickness { pt: Pt(thick) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(w),
                    height: Pt(h),
                    mode: Some(PaintMode::Stroke),
                    winding_order: None,
                },
            },
        ]);
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, color: (f32, f32, f32), thick: f32) {
        let point = |x: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops.extend([
            Op::SetOutlineColor { col: rgb(color) },
            Op::SetOutlineThickness { pt: Pt(thick) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(x1), point(x2)],
                    is_closed: false,
                },
            },
        ]);
    }

    /// A labelled row; the value wraps within its column. Returns the y below it.
    fn row(&mut self, y: f32, label: &str, value: &str) -> f32 {
        self.text(MARGIN, y, 9.5, false, MUTED, label);
        let lines = self.wrap(value, 11.0, false, PAGE_W - MARGIN - VALUE_X);
        let mut y_line = y;
        for line in &lines {
            self.text(VALUE_X, y_line, 11.0, false, INK, line);
            y_line -= 15.0;
        }
        let below = y_line + 15.0 - 9.0;
        self.hline(MARGIN, PAGE_W - MARGIN, below, RULE, 0.5);
        below - 16.0
    }
}

/// Renders the receipt as a one-page A4 PDF.
///
/// # Errors
/// Only if the embedded fonts fail to load or nothing is written (build defects).
pub fn render_receipt(data: &ReceiptData) -> Result<Vec<u8>, ReceiptError> {
    let mut warnings = Vec::new();
    let regular = ParsedFont::from_bytes(REGULAR_TTF, 0, &mut warnings)
        .ok_or(ReceiptError::Font("DejaVuSans"))?;
    let bold = ParsedFont::from_bytes(BOLD_TTF, 0, &mut warnings)
        .ok_or(ReceiptError::Font("DejaVuSans-Bold"))?;
    let labels = match data.lang {
        Lang::Id => &ID_LABELS,
        Lang::En => &EN_LABELS,
    };
    let title = format!("{} {}", labels.title, data.receipt_number);
    let mut doc = PdfDocument::new(&title);
    let issued = if data.issued_at > 0 {
        data.issued_at / 1000
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().cast_signed())
    };
    if let Ok(date) = printpdf::date::OffsetDateTime::from_unix_timestamp(issued) {
        let info = &mut doc.metadata.info;
        info.creation_date = date;
        info.modification_date = date;
        info.metadata_date = date;
        info.producer = format!("topup {}", env!("CARGO_PKG_VERSION"));
    }
    let regular_id = doc.add_font(&regular);
    let bold_id = doc.add_font(&bold);
    let mut c = Canvas {
        ops: Vec::new(),
        regular: (regular_id, regular),
        bold: (bold_id, bold),
    };

    // Header: seller on the left, title and number on the right.
    let top = PAGE_H - MARGIN;
    c.rect(0.0, PAGE_H - 8.0, PAGE_W, 8.0, ACCENT);
    let seller_lines = c.wrap(&data.seller_name, 15.0, true, CONTENT_W * 0.55);
    let mut y = top - 14.0;
    for line in &seller_lines {
        c.text(MARGIN, y, 15.0, true, INK, line);
        y -= 19.0;
    }
    for line in c.wrap(&data.seller_address, 9.0, false, CONTENT_W * 0.55) {
        c.text(MARGIN, y + 4.0, 9.0, false, MUTED, &line);
        y -= 12.0;
    }
    c.text_right(
        PAGE_W - MARGIN,
        top - 18.0,
        26.0,
        true,
        ACCENT,
        labels.title,
    );
    c.text_right(
        PAGE_W - MARGIN,
        top - 36.0,
        9.5,
        false,
        MUTED,
        &format!("{}: {}", labels.number, data.receipt_number),
    );
    let header_bottom = y.min(top - 48.0) - 8.0;
    c.hline(MARGIN, PAGE_W - MARGIN, header_bottom, ACCENT, 1.5);

    // The facts, one labelled row each.
    let mut y = header_bottom - 30.0;
    for (label, value) in [
        (labels.received_from, data.account_name.as_str()),
        (labels.order_number, data.order_number.as_str()),
        (labels.order_date, data.order_date.as_str()),
        (labels.paid_date, data.paid_date.as_str()),
        (labels.payment_method, data.payment_method.as_str()),
        (labels.purpose, labels.purpose_value),
        (labels.approved_by, data.staff_reference.as_str()),
    ] {
        y = c.row(y, label, value);
    }

    // The amount box: figures, words and a paid stamp.
    let words = amount_in_words(data.amount, data.lang);
    let words_lines = c.wrap(
        &format!("{}: {words}", labels.in_words),
        10.5,
        false,
        CONTENT_W - 150.0,
    );
    let box_h = 78.0 + 14.0 * (words_lines.len() as f32 - 1.0);
    let box_top = y - 6.0;
    let box_y = box_top - box_h;
    c.rect(MARGIN, box_y, CONTENT_W, box_h, BOX_FILL);
    c.rect(MARGIN, box_y, 4.0, box_h, ACCENT);
    c.text(
        MARGIN + 18.0,
        box_top - 20.0,
        9.5,
        false,
        MUTED,
        labels.amount,
    );
    c.text(
        MARGIN + 18.0,
        box_top - 44.0,
        22.0,
        true,
        INK,
        &data.amount.display(data.lang),
    );
    let mut wy = box_top - 64.0;
    for line in &words_lines {
        c.text(MARGIN + 18.0, wy, 10.5, false, INK, line);
        wy -= 14.0;
    }
    let stamp_w = c.width(labels.paid_stamp, 16.0, true) + 28.0;
    let stamp_x = PAGE_W - MARGIN - 18.0 - stamp_w;
    let stamp_y = box_top - box_h / 2.0 - 15.0;
    c.outline(stamp_x, stamp_y, stamp_w, 30.0, GREEN, 2.0);
    c.text(
        stamp_x + 14.0,
        stamp_y + 9.5,
        16.0,
        true,
        GREEN,
        labels.paid_stamp,
    );

    // The balance after this credit.
    let y = box_y - 30.0;
    c.text(MARGIN, y, 9.5, false, MUTED, labels.new_balance);
    c.text(
        VALUE_X,
        y,
        12.0,
        true,
        INK,
        &data.new_balance.display(data.lang),
    );

    // Footer.
    c.hline(MARGIN, PAGE_W - MARGIN, MARGIN + 30.0, RULE, 0.5);
    for (i, line) in c
        .wrap(
            &format!("{} — {}", data.seller_name, labels.footer),
            8.5,
            false,
            CONTENT_W,
        )
        .iter()
        .enumerate()
    {
        c.text(
            MARGIN,
            MARGIN + 16.0 - 11.0 * i as f32,
            8.5,
            false,
            MUTED,
            line,
        );
    }

    let page = PdfPage::new(Mm(210.0), Mm(297.0), c.ops);
    let bytes = doc
        .with_pages(vec![page])
        .save(&PdfSaveOptions::default(), &mut Vec::new());
    if bytes.is_empty() {
        return Err(ReceiptError::Empty);
    }
    Ok(bytes)
}
