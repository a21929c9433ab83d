//! One slip file to text and fields: a PDF's text layer through `lopdf`, a
//! PDF without text rendered by `pdftoppm`, images through Debian's
//! `tesseract` command line after preprocessing with the `image` crate.
//!
//! Hostile input is expected: the file type is sniffed from the bytes (never
//! the declared type), pixel dimensions are checked from the header before
//! anything is decoded (decompression bombs), the decoder's allocations are
//! capped, every subprocess has a deadline and is killed when it passes, and
//! a panic inside a decoder becomes [`ReadError::Corrupt`]. Everything here
//! is blocking: async callers use `spawn_blocking`.
//!
//! Preprocessing is tried in order until two reads agree on a sure amount
//! (see [`super::Confidence`]): grayscale scaled to a width Tesseract reads
//! well (small images blown up with Lanczos and sharpened) and darkened;
//! then deskewed (projection profile), contrast-stretched and darkened more;
//! then plain variants and a binarised one (Otsu). Customers' phone photos
//! of screens are rotated a few degrees, blurred and low in contrast;
//! screenshots forwarded through chat apps arrive at half size; both fade
//! the small grey labels that make an amount sure.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::{GrayImage, ImageFormat, ImageReader, Limits, Luma};
use imageproc::geometric_transformations::{Border, Interpolation, rotate_about_center};
use imageproc::region_labelling::{Connectivity, connected_components};

use super::extract::{MIN_TOP_UP, fields_from_text};
use super::{Confidence, SlipFields};
use crate::config::SlipSettings;
use crate::domain::money::Money;

/// Caps on one read, and the models it reads with.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Largest image accepted, in pixels (width × height, from the header).
    pub max_pixels: u64,
    /// Deadline of each `tesseract` / `pdftoppm` run.
    pub tool_timeout: Duration,
    /// Deadline of the whole read (all preprocessing tries).
    pub total_timeout: Duration,
    /// A second language-data folder read in turn with the system's (see
    /// [`crate::config::SlipSettings::second_tessdata`]).
    pub second_tessdata: Option<PathBuf>,
}

impl ReadLimits {
    /// The limits of the settings. A second language-data folder without
    /// both models is left out with a warning (every read through it would
    /// fail).
    pub fn from_settings(s: &SlipSettings) -> ReadLimits {
        let second_tessdata = Some(s.second_tessdata.trim())
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .filter(|dir| {
                let missing: Vec<&str> = ["eng", "ind"]
                    .into_iter()
                    .filter(|l| !dir.join(format!("{l}.traineddata")).is_file())
                    .collect();
                // Said once: the reading worker builds its limits for every read.
                static WARNED: std::sync::Once = std::sync::Once::new();
                if !missing.is_empty() {
                    WARNED.call_once(|| {
                        tracing::warn!(
                            dir = %dir.display(),
                            "slips.second_tessdata has no {}.traineddata: slips are read with the system's models only",
                            missing.join(".traineddata or ")
                        );
                    });
                }
                missing.is_empty() && dir.to_str().is_some()
            });
        ReadLimits {
            tool_timeout: Duration::from_secs(s.read_timeout_secs.max(1)),
            total_timeout: Duration::from_secs(s.read_timeout_secs.max(1) * 3),
            max_pixels: s.max_read_pixels,
            second_tessdata,
            ..ReadLimits::default()
        }
    }
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 40_000_000,
            tool_timeout: Duration::from_secs(20),
            total_timeout: Duration::from_secs(60),
            second_tessdata: None,
        }
    }
}

/// Why a slip could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Larger than [`ReadLimits`] allow (bytes or pixels).
    #[error("too large to read: {0}")]
    TooLarge(String),
    /// Not an image or PDF this reader knows (a video, a document, random bytes).
    #[error("not a readable image or PDF ({0})")]
    Unsupported(String),
    /// The file is damaged.
    #[error("damaged file: {0}")]
    Corrupt(String),
    /// A tool ran past its deadline (killed) or the read took too long.
    #[error("{0} took too long")]
    Timeout(&'static str),
    /// A tool is missing or failed (worth retrying: it may be installed or recover).
    #[error("{0}")]
    Tool(String),
}

impl ReadError {
    /// True when the same bytes may read on a later try.
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadError::Timeout(_) | ReadError::Tool(_))
    }
}

/// How the text was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A PDF's own text.
    PdfText,
    /// A PDF rendered to an image, then OCR.
    PdfOcr,
    /// OCR of an image.
    ImageOcr,
}

impl Method {
    /// Short name for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::PdfText => "pdf_text",
            Method::PdfOcr => "pdf_ocr",
            Method::ImageOcr => "ocr",
        }
    }
}

/// The outcome of a read that ran to the end (fields may still be empty).
#[derive(Debug, Clone)]
pub struct Reading {
    pub fields: SlipFields,
    pub method: Method,
    /// The text the fields came from (the last try's).
    pub text: String,
    /// Preprocessing variants tried.
    pub tries: usize,
}

/// What the bytes are, from their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Image(ImageFormat),
    /// An iPhone's HEIC photo (or AVIF): decoded by Debian's `heif-convert`.
    Heif,
}

/// Brands of the ISO media files that hold a still image (HEIF, AVIF); an
/// MP4 or QuickTime video has the same `ftyp` box with other brands.
const HEIF_BRANDS: [&[u8; 4]; 10] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis",
];

/// Sniffs the file type from the bytes; anything but PNG, JPEG, WebP, HEIC
/// or AVIF stills and PDF is [`ReadError::Unsupported`].
///
/// # Errors
/// Unknown or unsupported content.
pub fn sniff(bytes: &[u8]) -> Result<Kind, ReadError> {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Kind::Pdf);
    }
    if bytes.len() > 12 && &bytes[4..8] == b"ftyp" {
        // The box: size, "ftyp", major brand, minor version, compatible brands.
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let ftyp = &bytes[8..size.clamp(12, bytes.len().min(256))];
        let still = ftyp
            .chunks_exact(4)
            .enumerate()
            .any(|(i, b)| i != 1 && HEIF_BRANDS.iter().any(|h| h.as_slice() == b));
        return if still {
            Ok(Kind::Heif)
        } else {
            Err(ReadError::Unsupported("a video, not a photo".into()))
        };
    }
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)) => Ok(Kind::Image(f)),
        Ok(f) => Err(ReadError::Unsupported(format!("{f:?}"))),
        Err(_) => Err(ReadError::Unsupported("unknown content".into())),
    }
}

/// Reads one slip file.
///
/// # Errors
/// [`ReadError`]: too large, unsupported, damaged, a tool missing or too slow.
pub fn read_slip(bytes: &[u8], limits: &ReadLimits) -> Result<Reading, ReadError> {
    if bytes.len() > limits.max_bytes {
        return Err(ReadError::TooLarge(format!(
            "{} bytes (limit {})",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let deadline = Instant::now() + limits.total_timeout;
    match sniff(bytes)? {
        Kind::Pdf => read_pdf(bytes, limits, deadline),
        Kind::Image(format) => {
            let gray = decode(bytes, format, limits)?;
            ocr_until_amount(&gray, limits, deadline, Method::ImageOcr)
        }
        Kind::Heif => {
            let png = heif_to_png(bytes, limits, deadline)?;
            let gray = decode(&png, ImageFormat::Png, limits)?;
            ocr_until_amount(&gray, limits, deadline, Method::ImageOcr)
        }
    }
}

/// Decodes a HEIC/AVIF photo to PNG with `heif-convert` (libheif; it takes
/// files, not pipes, so both live in a private temporary directory that is
/// removed afterwards). The PNG's dimensions are then checked like any
/// image's before it is decoded.
fn heif_to_png(bytes: &[u8], limits: &ReadLimits, deadline: Instant) -> Result<Vec<u8>, ReadError> {
    // Like any image's header, the sizes the file declares are checked
    // before anything decodes it: libheif would allocate a grid of tiles as
    // large as the file says.
    let (w, h) = heif_extent(bytes)
        .ok_or_else(|| ReadError::Corrupt("the HEIC photo declares no image size".into()))?;
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(ReadError::TooLarge(format!(
            "a {w} x {h} photo (limit {} pixels)",
            limits.max_pixels
        )));
    }
    let io = |e: std::io::Error| ReadError::Tool(format!("temporary file for heif-convert: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("topup-heif")
        .tempdir()
        .map_err(io)?;
    let input = dir.path().join("slip.heic");
    let output = dir.path().join("slip.png");
    std::fs::write(&input, bytes).map_err(io)?;
    let (Some(inp), Some(out)) = (input.to_str(), output.to_str()) else {
        return Err(ReadError::Tool("temporary path is not UTF-8".into()));
    };
    run_tool(
        "heif-convert",
        &["--quiet", inp, out],
        &[],
        limits.tool_timeout.min(remaining(deadline)?),
    )?;
    // A file holding several images is written as slip-1.png, slip-2.png, ...
    let first = [output.clone(), dir.path().join("slip-1.png")]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| ReadError::Corrupt("the HEIC photo holds no image".into()))?;
    let mut png = Vec::new();
    std::fs::File::open(first)
        .map_err(io)?
        .take(MAX_TOOL_OUTPUT)
        .read_to_end(&mut png)
        .map_err(io)?;
    Ok(png)
}

/// The largest image size a HEIF file declares: every `ispe` (image spatial
/// extents) property box, whose payload is a version/flags word, the width
/// and the height (ISO/IEC 23008-12). A grid photo declares the whole grid
/// and each tile; the largest counts. Boxes are found by their type, so a
/// hostile box tree cannot hide one by nesting.
fn heif_extent(bytes: &[u8]) -> Option<(u32, u32)> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let mut largest: Option<(u32, u32)> = None;
    let mut from = 0;
    while let Some(found) = bytes
        .get(from..)
        .and_then(|rest| rest.windows(4).position(|w| w == b"ispe"))
    {
        let at = from + found;
        from = at + 4;
        // `size` (4 bytes) comes before the type; an ispe box is 20 bytes.
        if at < 4 || word(at - 4) != Some(20) {
            continue;
        }
        let (Some(w), Some(h)) = (word(at + 8), word(at + 12)) else {
            continue;
        };
        let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
        if largest.is_none_or(|l| area((w, h)) > area(l)) {
            largest = Some((w, h));
        }
    }
    largest
}

fn read_pdf(bytes: &[u8], limits: &ReadLimits, deadline: Instant) -> Result<Reading, ReadError> {
    // lopdf on hostile input: a panic is a damaged file, never a crashed worker.
    let text = std::panic::catch_unwind(|| pdf_text(bytes)).unwrap_or(None);
    if let Some(text) = text {
        let fields = fields_from_text(&text);
        if fields.amount.is_some() {
            return Ok(Reading {
                fields,
                method: Method::PdfText,
                text,
                tries: 1,
            });
        }
    }
    // No text layer (a scan or a printed-to-image PDF): render page 1.
    // `-scale-to` caps the long side whatever the page size claims.
    let png = run_tool(
        "pdftoppm",
        &[
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-scale-to",
            "2000",
            "-singlefile",
            "-",
        ],
        bytes,
        limits.tool_timeout.min(remaining(deadline)?),
    )?;
    if png.is_empty() {
        return Err(ReadError::Corrupt(
            "the PDF has no page that renders".into(),
        ));
    }
    let gray = decode(&png, ImageFormat::Png, limits)?;
    ocr_until_amount(&gray, limits, deadline, Method::PdfOcr)
}

/// The text of the first pages, or `None` when there is none to speak of.
fn pdf_text(bytes: &[u8]) -> Option<String> {
    let doc = lopdf::Document::load_mem(bytes).ok()?;
    let pages: Vec<u32> = doc.get_pages().keys().copied().take(3).collect();
    let text = doc.extract_text(&pages).ok()?;
    (text.chars().filter(|c| c.is_alphanumeric()).count() >= 20).then_some(text)
}

/// Decodes an image to grayscale after checking its header dimensions.
fn decode(bytes: &[u8], format: ImageFormat, limits: &ReadLimits) -> Result<GrayImage, ReadError> {
    let corrupt = |e: image::ImageError| ReadError::Corrupt(e.to_string());
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(corrupt)?;
    if u64::from(w) * u64::from(h) > limits.max_pixels || w > 20_000 || h > 20_000 {
        return Err(ReadError::TooLarge(format!("{w}×{h} pixels")));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut caps = Limits::default();
    caps.max_image_width = Some(w);
    caps.max_image_height = Some(h);
    caps.max_alloc = Some(limits.max_pixels * 4 + 16 * 1024 * 1024);
    reader.limits(caps);
    let image = std::panic::catch_unwind(move || reader.decode())
        .map_err(|_| ReadError::Corrupt("the image decoder failed".into()))?
        .map_err(corrupt)?;
    Ok(image.to_luma8())
}

fn remaining(deadline: Instant) -> Result<Duration, ReadError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(ReadError::Timeout("reading the slip"))
    } else {
        Ok(left)
    }
}

/// Preprocessing variants tried, in order (see [`Prepared::variant`]).
const VARIANTS: usize = 5;

/// Dots in zeros needed to take a slip's font for a dotted-zero one (an
/// amount, a balance and an account number hold many zeros; one enclosed
/// speck may be a stain).
const MIN_DOTTED_ZEROS: usize = 3;

/// Reads the image with several preprocessings and takes the amount the
/// reads agree on: two reads and no other amount, or three reads. One
/// blurred digit (`7.750.000` read as `7.750.900`) would otherwise become a
/// wrong "amount differs" flag. The amount is [`Confidence::Sure`] only when
/// two agreeing reads each found it where the text backs it (a labelled
/// field, well formed; see [`super::extract`]); reads go on until that
/// happens or the variants run out. Otherwise the likeliest amount is kept
/// as [`Confidence::Unsure`], which staff see as "amount unsure", never as
/// "amount differs". A clean screenshot costs two reads.
fn ocr_until_amount(
    gray: &GrayImage,
    limits: &ReadLimits,
    deadline: Instant,
    method: Method,
) -> Result<Reading, ReadError> {
    let mut readings: Vec<Reading> = Vec::new();
    let mut prep = Prepared::new(gray);
    for variant in 0..VARIANTS {
        // Past the deadline (a loaded machine), the reads so far are settled
        // rather than thrown away: an amount from fewer reads is unsure, not lost.
        let left = match remaining(deadline) {
            Ok(left) => left,
            Err(_) if !readings.is_empty() => break,
            Err(e) => return Err(e),
        };
        let prepared = prep.variant(variant);
        // With a second model, it reads first and every other time.
        let data = limits
            .second_tessdata
            .as_deref()
            .filter(|_| variant % 2 == 0);
        let mut read = tesseract(&prepared, data, limits.tool_timeout.min(left));
        if data.is_some()
            && let Err(ReadError::Tool(e)) = &read
        {
            // Damaged second models cost the slip nothing: the system's read instead.
            tracing::warn!("the second Tesseract models failed, the system's read instead: {e}");
            read = tesseract(&prepared, None, limits.tool_timeout.min(left));
        }
        let text = match read {
            Ok(text) => text,
            Err(ReadError::Timeout(_)) if !readings.is_empty() => break,
            Err(e) => return Err(e),
        };
        let fields = fields_from_text(&text);
        tracing::debug!(
            variant,
            amount = ?fields.amount.map(|m| m.to_plain()),
            confidence = ?fields.amount_confidence,
            "OCR read:\n{text}"
        );
        readings.push(Reading {
            fields,
            method,
            text,
            tries: variant + 1,
        });
        if let Some((_, true)) = agreed_amount(&readings) {
            break;
        }
    }
    tracing::debug!(dotted_zeros = prep.dotted_zeros, "dots erased from zeros");
    Ok(settle(readings, prep.has_dotted_zeros()))
}

/// The reading to keep from several reads of one image: the agreed amount
/// (sure or not, see [`agreed_amount`]), else the amount most reads found
/// (a sure one first) as unsure; the other fields filled in from all reads.
/// On a slip whose font dots its zeros, reads that differ only where some
/// read a zero and others a `6`, `8` or `9` give the zero there (see
/// [`zeros_restored`]), unsure.
fn settle(readings: Vec<Reading>, dotted_zeros: bool) -> Reading {
    let tries = readings.len();
    let amounts: Vec<Money> = readings.iter().filter_map(|r| r.fields.amount).collect();
    let restored = zeros_restored(&amounts).filter(|_| dotted_zeros);
    let (amount, confidence) = match agreed_amount(&readings) {
        _ if restored.is_some() => (restored, Confidence::Unsure),
        Some((a, sure)) => (
            Some(a),
            if sure {
                Confidence::Sure
            } else {
                Confidence::Unsure
            },
        ),
        None => {
            let votes = |a: Money| {
                readings
                    .iter()
                    .filter(|r| r.fields.amount == Some(a))
                    .count()
            };
            // A figure too small for a top-up (a fee whose label was lost)
            // loses to any that is not, however many reads found it.
            let ranked = |a: Money| (a.minor() >= MIN_TOP_UP, votes(a));
            // Of amounts found as often, the earlier read's (the plainer
            // preprocessing): `max_by_key` keeps the last of equals, so the
            // reads are walked from the last.
            let likeliest = readings
                .iter()
                .rev()
                .filter_map(|r| {
                    let a = r.fields.amount?;
                    Some((
                        ranked(a),
                        r.fields.amount_confidence == Some(Confidence::Sure),
                        a,
                    ))
                })
                .max_by_key(|(rank, sure, _)| (*rank, *sure))
                .map(|(_, _, a)| a);
            // No amount ahead of the others: the reads vote digit by digit.
            let tied = likeliest.is_some_and(|best| {
                amounts
                    .iter()
                    .any(|a| *a != best && ranked(*a) == ranked(best))
            });
            let consensus = tied.then(|| digit_consensus(&amounts)).flatten();
            (consensus.or(likeliest), Confidence::Unsure)
        }
    };
    // A restored amount may be no single read's: then any read will do.
    let found_by_one = readings.iter().any(|r| r.fields.amount == amount);
    let mut best = readings
        .iter()
        .filter(|r| !found_by_one || r.fields.amount == amount)
        .max_by_key(|r| {
            (
                r.fields.amount_confidence == Some(Confidence::Sure),
                count(&r.fields),
            )
        })
        .expect("at least one read ran")
        .clone();
    fill_from_others(&mut best.fields, &readings);
    best.fields.amount = amount;
    best.fields.amount_confidence = amount.map(|_| confidence);
    best.fields.amount_alternatives = if confidence == Confidence::Sure {
        Vec::new()
    } else {
        alternatives(&amounts, amount)
    };
    best.tries = tries;
    best
}

/// The amounts reads found besides `kept`, each once, the most found first
/// (ties in the order they were read).
fn alternatives(amounts: &[Money], kept: Option<Money>) -> Vec<Money> {
    let mut out: Vec<Money> = Vec::new();
    for a in amounts {
        if Some(*a) != kept && !out.contains(a) {
            out.push(*a);
        }
    }
    let votes = |a: &Money| amounts.iter().filter(|b| *b == a).count();
    out.sort_by_key(|a| std::cmp::Reverse(votes(a)));
    out
}

/// The amount of reads that differ only in digits a dotted zero is misread
/// as: where one read has `0` and the others `6`, `8` or `9`, the `0`. Reads
/// with another number of digits (a dropped group) are left out; `None` when
/// the reads agree, or differ in any other way.
fn zeros_restored(amounts: &[Money]) -> Option<Money> {
    let same = of_common_length(amounts.iter());
    let len = same.first()?.len();
    let mut out = String::with_capacity(len);
    let mut differed = false;
    for i in 0..len {
        let first = same[0][i];
        if same.iter().all(|p| p[i] == first) {
            out.push(char::from(first));
            continue;
        }
        let zero_or_lookalike = same
            .iter()
            .all(|p| p[i] == b'0' || super::checks::zero_lookalike(p[i]));
        if !zero_or_lookalike || !same.iter().any(|p| p[i] == b'0') {
            return None;
        }
        out.push('0');
        differed = true;
    }
    if !differed {
        return None;
    }
    Money::parse(&out).ok()
}

/// The reads' amounts as plain digits (`13900000`), keeping those with the
/// most common number of digits: reads that dropped or added a group are
/// left out of a place-by-place comparison.
fn of_common_length<'a>(amounts: impl Iterator<Item = &'a Money>) -> Vec<Vec<u8>> {
    let plain: Vec<Vec<u8>> = amounts.map(|a| a.to_plain().into_bytes()).collect();
    let Some(len) = plain
        .iter()
        .map(Vec::len)
        .max_by_key(|l| plain.iter().filter(|p| p.len() == *l).count())
    else {
        return Vec::new();
    };
    plain.into_iter().filter(|p| p.len() == len).collect()
}

/// The amount the reads give digit by digit, when they tie as wholes
/// (`20.250.000`, `20.258.000`, `20.230.000`, `26.250.000`: each blurred digit
/// misread by one read only): among the reads with the most common number
/// of digits, the majority digit at every place. `None` when a place has no
/// majority or fewer than three reads have that length.
fn digit_consensus(amounts: &[Money]) -> Option<Money> {
    let same = of_common_length(amounts.iter().filter(|a| a.minor() >= MIN_TOP_UP));
    let len = same.first()?.len();
    if same.len() < 3 {
        return None;
    }
    let mut out = String::with_capacity(len);
    for i in 0..len {
        let mut counts = [0usize; 256];
        for p in &same {
            counts[usize::from(p[i])] += 1;
        }
        let best = (0..256).max_by_key(|b| counts[*b])?;
        if counts[best] * 2 <= same.len() {
            return None;
        }
        out.push(char::from(u8::try_from(best).ok()?));
    }
    Money::parse(&out).ok()
}

/// Fields one read missed (a small label lost in a forwarded screenshot) are
/// taken from the others, by majority; the bank is always the majority's.
fn fill_from_others(fields: &mut SlipFields, readings: &[Reading]) {
    fn most<T: PartialEq + Clone>(values: impl Iterator<Item = Option<T>>) -> Option<T> {
        let values: Vec<T> = values.flatten().collect();
        values
            .iter()
            .max_by_key(|v| values.iter().filter(|w| w == v).count())
            .cloned()
    }
    let f = |get: fn(&SlipFields) -> Option<String>| most(readings.iter().map(|r| get(&r.fields)));
    if fields.date.is_none() {
        fields.date = most(readings.iter().map(|r| r.fields.date));
    }
    // The bank by majority: one read that lost the issuer's name in the
    // header says "ATM Bank" where the others say "ATM Mandiri".
    fields.bank = f(|x| x.bank.clone()).or_else(|| fields.bank.take());
    fields.reference = fields
        .reference
        .take()
        .or_else(|| f(|x| x.reference.clone()));
    fields.dest_account = fields
        .dest_account
        .take()
        .or_else(|| f(|x| x.dest_account.clone()));
    fields.dest_name = fields
        .dest_name
        .take()
        .or_else(|| f(|x| x.dest_name.clone()));
    fields.sender_name = fields
        .sender_name
        .take()
        .or_else(|| f(|x| x.sender_name.clone()));
    fields.sender_account = fields
        .sender_account
        .take()
        .or_else(|| f(|x| x.sender_account.clone()));
    fields.remark = fields.remark.take().or_else(|| f(|x| x.remark.clone()));
}

/// The amount the reads agree on: found by two with no other amount found,
/// or by three; sure when two of the agreeing reads found it sure and no
/// read found another amount (a dissenting read means a digit is in doubt:
/// the dotted zero of an ATM receipt's mono font read as `9` by three
/// reads out of four).
fn agreed_amount(readings: &[Reading]) -> Option<(Money, bool)> {
    let amounts: Vec<_> = readings.iter().filter_map(|r| r.fields.amount).collect();
    let votes = |a: &Money| amounts.iter().filter(|b| *b == a).count();
    let agreed = amounts
        .iter()
        .find(|a| votes(a) >= 3 || (votes(a) >= 2 && votes(a) == amounts.len()))
        .copied()?;
    let sure = votes(&agreed) == amounts.len()
        && readings
            .iter()
            .filter(|r| {
                r.fields.amount == Some(agreed)
                    && r.fields.amount_confidence == Some(Confidence::Sure)
            })
            .count()
            >= 2;
    Some((agreed, sure))
}

fn count(f: &SlipFields) -> usize {
    [
        f.date.is_some(),
        f.bank.is_some(),
        f.dest_account.is_some(),
        f.reference.is_some(),
        f.sender_account.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count()
}

/// The preprocessed images of one slip; the deskewed, stretched base is
/// computed once and shared by the variants that need it.
pub struct Prepared<'a> {
    gray: &'a GrayImage,
    base: Option<GrayImage>,
    dotted_zeros: usize,
    straight: Option<GrayImage>,
}

impl<'a> Prepared<'a> {
    /// Nothing computed yet.
    pub fn new(gray: &'a GrayImage) -> Self {
        Prepared {
            gray,
            base: None,
            dotted_zeros: 0,
            straight: None,
        }
    }

    /// Whether the slip's font draws zeros with a dot inside (seen while
    /// preparing the first variant): then a zero is what OCR most often
    /// misreads, as `9`, `8` or `6`.
    pub fn has_dotted_zeros(&self) -> bool {
        self.dotted_zeros >= MIN_DOTTED_ZEROS
    }

    /// Variant `n`: 0 grayscale at a good width, darkened; 1 deskewed,
    /// stretched and darkened more; 2 deskewed and stretched grayscale;
    /// 3 plain grayscale; 4 deskewed, stretched and binarised. Darkening
    /// matters: the small grey labels of app slips, blurred on a photo or
    /// halved in a forwarded screenshot, otherwise fade below Tesseract's
    /// own threshold, and with them the `Nominal` that makes an amount sure.
    pub fn variant(&mut self, n: usize) -> GrayImage {
        let gray = self.gray;
        let dotted_zeros = &mut self.dotted_zeros;
        let base = self.base.get_or_insert_with(|| {
            let (base, dots) = erase_dotted_zeros(&scale_to_width(gray, 1200));
            *dotted_zeros = dots;
            base
        });
        if n == 0 {
            return darken(base, 2.0);
        }
        if n == 3 {
            return base.clone();
        }
        let straight = self.straight.get_or_insert_with(|| stretch(&deskew(base)));
        match n {
            1 => darken(straight, 2.5),
            2 => straight.clone(),
            _ => binarise(straight),
        }
    }
}

/// Scales so the width is about `target` (small screenshots up, huge photos down).
fn scale_to_width(gray: &GrayImage, target: u32) -> GrayImage {
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 || (w >= target * 3 / 4 && w <= target * 2) {
        return gray.clone();
    }
    let factor = f64::from(target) / f64::from(w);
    let nh = ((f64::from(h) * factor).round() as u32).clamp(1, 8000);
    if factor >= 2.0 {
        // A small screenshot (forwarded at half size) blown up: Lanczos keeps
        // the strokes of small glyphs apart, a light unsharp mask firms them.
        let up = image::imageops::resize(gray, target, nh, image::imageops::FilterType::Lanczos3);
        return image::imageops::unsharpen(&up, 1.5, 4);
    }
    image::imageops::resize(gray, target, nh, image::imageops::FilterType::CatmullRom)
}

/// Contrast stretched between the 1st and 99th percentile.
fn stretch(gray: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for p in gray.pixels() {
        hist[p[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let pct = |q: f64| {
        let want = (total as f64 * q) as u64;
        let mut acc = 0;
        for (i, c) in hist.iter().enumerate() {
            acc += c;
            if acc > want {
                return i as f64;
            }
        }
        255.0
    };
    let (lo, hi) = (pct(0.01), pct(0.99));
    if hi - lo < 8.0 {
        return gray.clone();
    }
    let mut out = gray.clone();
    for p in out.pixels_mut() {
        let v = ((f64::from(p[0]) - lo) * 255.0 / (hi - lo)).clamp(0.0, 255.0);
        p[0] = v as u8;
    }
    out
}

/// Mid-tones pulled towards black (`gamma` > 1): grey and blurred strokes
/// come out dark while the white background stays white.
fn darken(gray: &GrayImage, gamma: f64) -> GrayImage {
    let table: Vec<u8> = (0..=255u32)
        .map(|v| (255.0 * (f64::from(v) / 255.0).powf(gamma)).round() as u8)
        .collect();
    let mut out = gray.clone();
    for p in out.pixels_mut() {
        p[0] = table[p[0] as usize];
    }
    out
}

/// Otsu's threshold: black text on white.
fn binarise(gray: &GrayImage) -> GrayImage {
    let threshold = otsu_threshold(gray);
    let mut out = gray.clone();
    for p in out.pixels_mut() {
        p[0] = if p[0] > threshold { 255 } else { 0 };
    }
    out
}

/// Erases the dot inside the zeros of a mono font (ATM receipts print
/// `0` with a dot in its bowl): blurred on a photo, that zero reads as `9`
/// or `8`, and `13.900.000` becomes `13.909.009`. A dot is a small patch of
/// ink whose only neighbour is one small enclosed bowl of paper, an upright
/// oval, with the dot roughly in its middle; no letter or digit of a proportional font has one, so other
/// slips come out unchanged. The dot is painted in the bowl's own shade.
/// Light text on a dark background is left alone (its bowls are ink there).
/// Returns the image and how many dots were erased.
pub fn erase_dotted_zeros(gray: &GrayImage) -> (GrayImage, usize) {
    let (w, h) = gray.dimensions();
    let threshold = otsu_threshold(gray);
    let ink: Vec<bool> = gray.pixels().map(|p| p[0] <= threshold).collect();
    if ink.iter().filter(|i| **i).count() * 2 > ink.len() {
        return (gray.clone(), 0);
    }
    // Ink joins diagonally (strokes), paper only straight (so a bowl does not
    // leak out between two diagonal ink pixels).
    // Noise (a photo of gravel, a hostile image) is no text: left as it is.
    let (Some(dots), Some(paper)) = (
        Regions::label(gray, &ink, true),
        Regions::label(gray, &ink, false),
    ) else {
        return (gray.clone(), 0);
    };
    let largest_bowl = w.max(h) / 15;
    let mut out = gray.clone();
    let mut erased = 0;
    for (id, dot) in dots.regions.iter().enumerate() {
        let id = id as u32 + 1;
        if dot.width() * 3 > largest_bowl || dot.height() * 3 > largest_bowl {
            continue;
        }
        // The paper regions touching the dot.
        let mut around = None;
        let mut enclosed = true;
        for y in dot.top.saturating_sub(1)..=(dot.bottom + 1).min(h - 1) {
            for x in dot.left.saturating_sub(1)..=(dot.right + 1).min(w - 1) {
                let i = (y * w + x) as usize;
                if ink[i] {
                    continue;
                }
                let touches = [(0i64, 1i64), (0, -1), (1, 0), (-1, 0)]
                    .iter()
                    .any(|(dx, dy)| {
                        let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
                        nx >= 0
                            && ny >= 0
                            && nx < i64::from(w)
                            && ny < i64::from(h)
                            && dots.labels[(ny * i64::from(w) + nx) as usize] == id
                    });
                if touches {
                    let label = paper.labels[i];
                    enclosed &= *around.get_or_insert(label) == label;
                }
            }
        }
        let Some(bowl) = around.filter(|_| enclosed) else {
            continue;
        };
        let b = &paper.regions[bowl as usize - 1];
        let centred = |lo: u32, hi: u32, dlo: u32, dhi: u32| {
            let (span, mid) = (hi - lo + 1, (dlo + dhi) / 2);
            mid >= lo + span / 4 && mid <= hi - span / 4
        };
        // A zero's bowl is an upright oval, half as wide as tall or so (the
        // round bowl of an icon with a tick inside is not one).
        if b.on_border
            || b.width() > largest_bowl
            || b.height() > largest_bowl
            || b.height() * 2 < b.width() * 3
            || dot.area * 4 >= b.area
            || !centred(b.left, b.right, dot.left, dot.right)
            || !centred(b.top, b.bottom, dot.top, dot.bottom)
        {
            continue;
        }
        // The dot and its blurred rim (paper of the bowl next to it, still
        // grey enough to read as a dot) take the bowl's shade.
        let shade = (b.shade / b.area) as u8;
        let rim = (dot.width().max(dot.height()) / 3).max(1);
        for y in dot.top.saturating_sub(rim)..=(dot.bottom + rim).min(h - 1) {
            for x in dot.left.saturating_sub(rim)..=(dot.right + rim).min(w - 1) {
                let i = (y * w + x) as usize;
                if dots.labels[i] == id || (!ink[i] && paper.labels[i] == bowl) {
                    out.put_pixel(x, y, image::Luma([shade.max(gray.as_raw()[i])]));
                }
            }
        }
        erased += 1;
    }
    (out, erased)
}

/// Connected regions of ink (or of paper) in a thresholded image.
struct Regions {
    /// Per pixel, its region's number (1-based; 0 for the other kind).
    labels: Vec<u32>,
    regions: Vec<Region>,
}

/// One connected region: its bounding box, size and summed gray level.
#[derive(Debug, Clone, Copy)]
struct Region {
    left: u32,
    top: u32,
    right: u32,
    bottom: u32,
    area: u64,
    /// Whether it touches the image's edge (paper around the text does).
    on_border: bool,
    /// Sum of its pixels' gray levels.
    shade: u64,
}

impl Region {
    fn width(&self) -> u32 {
        self.right - self.left + 1
    }

    fn height(&self) -> u32 {
        self.bottom - self.top + 1
    }
}

impl Regions {
    /// Most regions labelled: a page of small print at 1,200 px has a few
    /// thousand glyphs; more is noise, and is not labelled further.
    const MAX_REGIONS: usize = 50_000;

    /// Labels the pixels of `gray` where `ink` equals `of_ink`, 8-connected
    /// for ink and 4-connected for paper (imageproc's labelling: numbered
    /// from 1 in raster order); `None` past [`Self::MAX_REGIONS`].
    fn label(gray: &GrayImage, ink: &[bool], of_ink: bool) -> Option<Regions> {
        let (w, h) = gray.dimensions();
        // The kind labelled is 1, the other the background, 0.
        let mask = GrayImage::from_fn(w, h, |x, y| {
            Luma([u8::from(ink[(y * w + x) as usize] == of_ink)])
        });
        let connectivity = if of_ink {
            Connectivity::Eight
        } else {
            Connectivity::Four
        };
        let labels = connected_components(&mask, connectivity, Luma([0])).into_raw();
        let count = labels.iter().copied().max().unwrap_or(0) as usize;
        if count > Self::MAX_REGIONS {
            return None;
        }
        let mut regions: Vec<Option<Region>> = vec![None; count];
        for (i, label) in labels.iter().enumerate() {
            let Some(slot) = (*label as usize).checked_sub(1) else {
                continue;
            };
            let (x, y) = ((i as u32) % w, (i as u32) / w);
            let r = regions[slot].get_or_insert(Region {
                left: x,
                top: y,
                right: x,
                bottom: y,
                area: 0,
                on_border: false,
                shade: 0,
            });
            r.left = r.left.min(x);
            r.right = r.right.max(x);
            r.top = r.top.min(y);
            r.bottom = r.bottom.max(y);
            r.area += 1;
            r.shade += u64::from(gray.as_raw()[i]);
            r.on_border |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
        }
        Some(Regions {
            labels,
            // Labels are consecutive: each has at least one pixel.
            regions: regions.into_iter().flatten().collect(),
        })
    }
}

/// Otsu's threshold of a gray image: the level that best splits ink from paper.
fn otsu_threshold(gray: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for p in gray.pixels() {
        hist[p[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, c)| i as f64 * *c as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut threshold) = (0u64, 0f64, 0f64, 128u8);
    for (t, c) in hist.iter().enumerate() {
        w_b += c;
        if w_b == 0 || w_b == total {
            continue;
        }
        sum_b += t as f64 * *c as f64;
        let w_f = total - w_b;
        let m_b = sum_b / w_b as f64;
        let m_f = (sum_all - sum_b) / w_f as f64;
        let between = w_b as f64 * w_f as f64 * (m_b - m_f).powi(2);
        if between > best {
            best = between;
            threshold = t as u8;
        }
    }
    threshold
}

/// The skew of text lines in degrees (positive: lines fall to the right),
/// by the projection profile: the angle whose row sums are sharpest.
pub fn skew_angle(gray: &GrayImage) -> f64 {
    let small = scale_to_width(gray, 600);
    let bin = binarise(&small);
    let (w, h) = bin.dimensions();
    let dark: Vec<(f64, f64)> = bin
        .enumerate_pixels()
        .filter(|(_, _, p)| p[0] == 0)
        .map(|(x, y, _)| (f64::from(x), f64::from(y)))
        .collect();
    // Mostly dark (inverted or a photo of nothing): no estimate.
    if dark.is_empty() || dark.len() as u64 > u64::from(w) * u64::from(h) / 2 {
        return 0.0;
    }
    let rows = (h + w) as usize;
    let mut best = (0.0, f64::MIN);
    let mut angle = -8.0f64;
    while angle <= 8.0 {
        let (s, c) = angle.to_radians().sin_cos();
        let mut hist = vec![0f64; rows * 2];
        for (x, y) in &dark {
            let r = y * c - x * s + rows as f64;
            if r >= 0.0 && (r as usize) < hist.len() {
                hist[r as usize] += 1.0;
            }
        }
        let score: f64 = hist.windows(2).map(|p| (p[1] - p[0]).powi(2)).sum();
        if score > best.1 {
            best = (angle, score);
        }
        angle += 0.5;
    }
    best.0
}

/// `gray` turned so its text lines are level; as it was when they are
/// within 0.4° already.
pub fn deskew(gray: &GrayImage) -> GrayImage {
    let angle = skew_angle(gray);
    if angle.abs() >= 0.4 {
        // Lines falling to the right (a positive skew) are turned
        // counter-clockwise by as much.
        rotate(gray, angle)
    } else {
        gray.clone()
    }
}

/// Rotates by `degrees` (counter-clockwise positive) about the centre,
/// bilinear, white outside.
pub fn rotate(gray: &GrayImage, degrees: f64) -> GrayImage {
    // imageproc turns clockwise for a positive angle.
    rotate_about_center(
        gray,
        -(degrees.to_radians() as f32),
        Interpolation::Bilinear,
        Border::Constant(Luma([255])),
    )
}

/// Tesseract on one prepared image (sent as PGM on stdin; one thread, so
/// several reads do not fight over the cores), with the models of `data`
/// (a language-data folder) or the system's.
fn tesseract(
    gray: &GrayImage,
    data: Option<&Path>,
    timeout: Duration,
) -> Result<String, ReadError> {
    let (w, h) = gray.dimensions();
    let mut pgm = format!("P5\n{w} {h}\n255\n").into_bytes();
    pgm.extend_from_slice(gray.as_raw());
    let mut args = vec!["stdin", "stdout", "-l", "ind+eng", "--psm", "6"];
    if let Some(dir) = data.and_then(Path::to_str) {
        args.extend(["--tessdata-dir", dir]);
    }
    let out = run_tool("tesseract", &args, &pgm, timeout)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Largest output taken from a tool (a rendered page is well under this).
const MAX_TOOL_OUTPUT: u64 = 64 * 1024 * 1024;

/// Runs `program` with `input` on stdin and returns its stdout; killed at `timeout`.
fn run_tool(
    program: &'static str,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ReadError> {
    let mut child = Command::new(program)
        .args(args)
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ReadError::Tool(format!("cannot run {program}: {e} (is it installed?)")))?;
    let mut stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            // A tool that exits early closes the pipe: not an error here.
            let _ = s.write_all(&input);
        }
    });
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(MAX_TOOL_OUTPUT).read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                let _ = reader.join();
                return Err(ReadError::Timeout(program));
            }
            Err(e) => return Err(ReadError::Tool(format!("{program}: {e}"))),
        }
    };
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(match program {
            "pdftoppm" => ReadError::Corrupt("the PDF cannot be rendered".into()),
            "heif-convert" => ReadError::Corrupt("the HEIC photo cannot be decoded".into()),
            _ => ReadError::Tool(format!("{program} failed ({status})")),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_ignores_names_and_tells_photos_from_videos() {
        assert_eq!(sniff(b"%PDF-1.4\n...").ok(), Some(Kind::Pdf));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic").ok(),
            Some(Kind::Heif)
        );
        // An iPhone video: same box, other brands.
        assert!(matches!(
            sniff(b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\0\x08wide"),
            Err(ReadError::Unsupported(_))
        ));
        assert!(matches!(
            sniff(b"\0\0\0\x18ftypmp42\0\0\0\0isommp42"),
            Err(ReadError::Unsupported(_))
        ));
        assert!(matches!(
            sniff(b"PK\x03\x04zip"),
            Err(ReadError::Unsupported(_))
        ));
        assert!(matches!(sniff(b""), Err(ReadError::Unsupported(_))));
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // A valid PNG header claiming 60000 × 60000 pixels, no pixel data at all.
        let mut png = Vec::new();
        let mut enc = image::codecs::png::PngEncoder::new(&mut png);
        let _ = &mut enc;
        let small = GrayImage::new(4, 4);
        small
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode");
        // Patch the IHDR width and height (bytes 16..24); the CRC is now wrong,
        // which a reader that decodes before checking would trip on later.
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let err = read_slip(&png, &ReadLimits::default()).expect_err("refused");
        assert!(
            matches!(err, ReadError::TooLarge(_) | ReadError::Corrupt(_)),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_and_corrupt_files_say_why() {
        let limits = ReadLimits {
            max_bytes: 10,
            ..ReadLimits::default()
        };
        assert!(matches!(
            read_slip(&[0u8; 11], &limits),
            Err(ReadError::TooLarge(_))
        ));
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.extend_from_slice(&[0x13; 200]);
        assert!(matches!(
            read_slip(&jpeg, &ReadLimits::default()),
            Err(ReadError::Corrupt(_))
        ));
    }

    fn reading(amount: Option<i64>) -> Reading {
        Reading {
            fields: SlipFields {
                amount: amount.map(crate::domain::money::Money::from_major),
                ..SlipFields::default()
            },
            method: Method::ImageOcr,
            text: String::new(),
            tries: 1,
        }
    }

    #[test]
    fn an_amount_counts_only_when_the_reads_agree() {
        let m = crate::domain::money::Money::from_major;
        let agreed = |v: &[Option<i64>]| {
            agreed_amount(&v.iter().map(|a| reading(*a)).collect::<Vec<_>>()).map(|(a, _)| a)
        };
        assert_eq!(
            agreed(&[Some(7_750_000), Some(7_750_000)]),
            Some(m(7_750_000))
        );
        assert_eq!(
            agreed(&[None, Some(7_750_000), Some(7_750_000)]),
            Some(m(7_750_000))
        );
        // A blurred digit in one read: two against one is not enough.
        assert_eq!(
            agreed(&[Some(5_150_600), Some(5_150_000), Some(5_150_600)]),
            None
        );
        assert_eq!(
            agreed(&[
                Some(5_150_600),
                Some(5_150_000),
                Some(5_150_600),
                Some(5_150_600)
            ]),
            Some(m(5_150_600))
        );
        assert_eq!(
            agreed(&[Some(7_750_000)]),
            None,
            "one read alone is not agreement"
        );
    }

    #[test]
    fn a_fee_read_as_often_as_the_amount_does_not_win() {
        let m = crate::domain::money::Money::from_major;
        let reads: Vec<Reading> = [2_500, 10_980_000, 10_950_000, 10_950_000, 2_500]
            .into_iter()
            .map(|a| reading(Some(a)))
            .collect();
        let settled = settle(reads, false);
        assert_eq!(settled.fields.amount, Some(m(10_950_000)));
        assert_eq!(settled.fields.amount_confidence, Some(Confidence::Unsure));
        // A small figure that is all the reads found is still given, unsure.
        let settled = settle(vec![reading(Some(2_500)), reading(None)], false);
        assert_eq!(settled.fields.amount, Some(m(2_500)));
    }

    #[test]
    fn an_unsure_amount_keeps_what_the_other_reads_found_most_first() {
        let m = crate::domain::money::Money::from_major;
        let reads: Vec<Reading> = [
            8_930_000, 8_950_000, 5_950_000, 8_930_000, 8_930_000, 5_950_000,
        ]
        .into_iter()
        .map(|a| reading(Some(a)))
        .chain([reading(None)])
        .collect();
        let settled = settle(reads, false);
        assert_eq!(settled.fields.amount, Some(m(8_930_000)));
        assert_eq!(settled.fields.amount_confidence, Some(Confidence::Unsure));
        assert_eq!(
            settled.fields.amount_alternatives,
            vec![m(5_950_000), m(8_950_000)]
        );
        // Reads that agree sure leave no alternative.
        let sure = |a: i64| {
            let mut r = reading(Some(a));
            r.fields.amount_confidence = Some(Confidence::Sure);
            r
        };
        let settled = settle(vec![sure(7_750_000), sure(7_750_000)], false);
        assert_eq!(settled.fields.amount_confidence, Some(Confidence::Sure));
        assert!(settled.fields.amount_alternatives.is_empty());
    }

    #[test]
    fn reads_that_tie_as_wholes_vote_digit_by_digit() {
        let m = crate::domain::money::Money::from_major;
        let settled = |v: &[i64]| {
            settle(v.iter().map(|a| reading(Some(*a))).collect(), false)
                .fields
                .amount
        };
        assert_eq!(
            settled(&[20_250_000, 20_258_000, 20_230_000, 26_250_000]),
            Some(m(20_250_000))
        );
        // A place without a majority: of the amounts found as often, the
        // earlier reads' (the plainer preprocessing).
        assert_eq!(
            settled(&[4_190_000, 4_390_000, 4_190_000, 4_390_000]),
            Some(m(4_190_000))
        );
        assert_eq!(
            settled(&[3_700_000, 3_700_000, 3_700_060, 3_700_060]),
            Some(m(3_700_000))
        );
        // A read ahead of the others is kept as it is.
        assert_eq!(
            settled(&[8_930_000, 8_930_000, 8_950_000]),
            Some(m(8_930_000))
        );
        // Two reads are no vote.
        assert_eq!(digit_consensus(&[m(20_250_000), m(26_250_000)]), None);
    }

    #[test]
    fn a_zero_read_as_its_lookalikes_is_restored_only_where_the_reads_say_so() {
        let m = crate::domain::money::Money::from_major;
        let restored = |v: &[i64]| zeros_restored(&v.iter().map(|a| m(*a)).collect::<Vec<_>>());
        // The ATM photo of 13.900.000: no read had it right, together they do.
        assert_eq!(
            restored(&[13_909_009, 13_909_900, 13_909_009, 13_909_099, 13_900_000]),
            Some(m(13_900_000))
        );
        assert_eq!(
            restored(&[8_089_900, 8_080_000, 8_989_900, 8_980_900]),
            Some(m(8_080_000))
        );
        // Reads that agree need nothing restored; a 7 is no zero's lookalike.
        assert_eq!(restored(&[1_500_000, 1_500_000]), None);
        assert_eq!(restored(&[1_500_000, 1_700_000]), None);
        assert_eq!(
            restored(&[1_590_000, 1_580_000]),
            None,
            "no read saw a zero there"
        );
        // A read that lost a group does not line up with the others.
        assert_eq!(restored(&[19_250, 19_250_900, 19_250, 19_250]), None);
        assert_eq!(
            restored(&[19_250, 19_250_900, 19_250_000]),
            Some(m(19_250_000)),
            "reads of the common length line up; the short one is left out"
        );
        assert_eq!(restored(&[]), None);

        // Only a slip whose font dots its zeros has its zeros restored.
        let reads: Vec<Reading> = [13_909_009, 13_909_009, 13_909_009, 13_900_000]
            .into_iter()
            .map(|a| reading(Some(a)))
            .collect();
        let plain = settle(reads.clone(), false);
        assert_eq!(plain.fields.amount, Some(m(13_909_009)));
        let dotted = settle(reads, true);
        assert_eq!(dotted.fields.amount, Some(m(13_900_000)));
        assert_eq!(dotted.fields.amount_confidence, Some(Confidence::Unsure));
    }

    /// A white page with four glyph-sized upright oval rings (a mono zero's
    /// outline), each with a dot in its bowl when `dotted`, and a round ring
    /// with a dot inside (an icon).
    fn zeros_on_paper(dotted: bool) -> GrayImage {
        let mut img = GrayImage::from_pixel(600, 200, Luma([240]));
        let mut ring = |cx: f64, cy: f64, rx: f64, ry: f64, dot: bool| {
            for y in 0..200u32 {
                for x in 0..600u32 {
                    let (dx, dy) = ((f64::from(x) - cx) / rx, (f64::from(y) - cy) / ry);
                    let r = (dx * dx + dy * dy).sqrt();
                    let (px, py) = (f64::from(x) - cx, f64::from(y) - cy);
                    if (0.7..=1.0).contains(&r) || (dot && px.abs() <= 2.0 && py.abs() <= 2.0) {
                        img.put_pixel(x, y, Luma([30]));
                    }
                }
            }
        };
        for i in 0..4 {
            ring(40.0 + 30.0 * f64::from(i), 60.0, 10.0, 20.0, dotted);
        }
        ring(300.0, 60.0, 22.0, 22.0, true);
        img
    }

    #[test]
    fn the_dot_in_a_mono_zero_is_erased_and_nothing_else() {
        let (out, erased) = erase_dotted_zeros(&zeros_on_paper(true));
        assert_eq!(erased, 4, "the four zeros' dots, not the icon's");
        for i in 0..4 {
            let x = 40 + 30 * i;
            assert!(out.get_pixel(x, 60)[0] > 200, "zero {i} has no dot left");
            assert!(out.get_pixel(x, 41)[0] < 60, "zero {i} keeps its ring");
        }
        assert!(
            out.get_pixel(300, 60)[0] < 60,
            "the round icon keeps its dot"
        );

        let plain = zeros_on_paper(false);
        let (out, erased) = erase_dotted_zeros(&plain);
        assert_eq!((erased, out.as_raw() == plain.as_raw()), (0, true));

        // Light text on a dark screen: its bowls are the ink there.
        let mut dark = zeros_on_paper(true);
        for p in dark.pixels_mut() {
            p[0] = 255 - p[0];
        }
        let (out, erased) = erase_dotted_zeros(&dark);
        assert_eq!((erased, out.as_raw() == dark.as_raw()), (0, true));

        // Hostile noise at the largest size a slip is read at (1,200 × 8,000
        // after scaling): a checkerboard is 4.8 million one-pixel regions;
        // it is left as it is, without labelling them all.
        let noise = GrayImage::from_fn(1200, 8000, |x, y| {
            Luma([if (x + y) % 2 == 0 { 20 } else { 235 }])
        });
        let (out, erased) = erase_dotted_zeros(&noise);
        assert_eq!((erased, out.as_raw() == noise.as_raw()), (0, true));
    }

    fn sure(amount: i64, confidence: Confidence) -> Reading {
        let mut r = reading(Some(amount));
        r.fields.amount_confidence = Some(confidence);
        r
    }

    #[test]
    fn an_amount_is_sure_only_when_two_reads_found_it_sure() {
        use Confidence::{Sure, Unsure};
        let m = Money::from_major;
        let r = settle(vec![sure(7_750_000, Sure), sure(7_750_000, Sure)], false);
        assert_eq!(r.fields.amount, Some(m(7_750_000)));
        assert_eq!(r.fields.amount_confidence, Some(Sure));
        assert_eq!(r.tries, 2);
        // Agreeing reads of a headline (the text does not back it): unsure.
        let r = settle(vec![sure(4_856_500, Unsure), sure(4_856_500, Sure)], false);
        assert_eq!(r.fields.amount, Some(m(4_856_500)));
        assert_eq!(r.fields.amount_confidence, Some(Unsure));
        // One sure read alone, or reads that disagree: the likeliest, unsure.
        let r = settle(vec![sure(7_750_000, Sure), reading(None)], false);
        assert_eq!(r.fields.amount_confidence, Some(Unsure));
        let r = settle(
            vec![
                sure(5_150_600, Sure),
                sure(5_150_000, Sure),
                sure(5_150_600, Sure),
            ],
            false,
        );
        assert_eq!(r.fields.amount, Some(m(5_150_600)));
        assert_eq!(r.fields.amount_confidence, Some(Unsure));
        // Three sure reads of a misread digit against one right read: the
        // majority is kept, but a dissenting read leaves it unsure.
        let r = settle(
            vec![
                sure(11_459_000, Sure),
                sure(11_450_000, Sure),
                sure(11_459_000, Sure),
                sure(11_459_000, Sure),
            ],
            false,
        );
        assert_eq!(r.fields.amount, Some(m(11_459_000)));
        assert_eq!(r.fields.amount_confidence, Some(Unsure));
        let r = settle(vec![reading(None), reading(None)], false);
        assert_eq!(r.fields.amount, None);
        assert_eq!(r.fields.amount_confidence, None);
    }

    #[test]
    fn a_tool_past_its_deadline_is_killed() {
        let started = Instant::now();
        let err = run_tool("sleep", &["5"], b"", Duration::from_millis(200)).expect_err("timeout");
        assert!(matches!(err, ReadError::Timeout("sleep")));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn skew_is_estimated_and_undone() {
        // Dark horizontal bars like text lines, rotated by 3 degrees.
        let img = GrayImage::from_fn(600, 800, |x, y| {
            if (y / 20) % 2 == 0 && (50..550).contains(&x) && (100..700).contains(&y) {
                Luma([0])
            } else {
                Luma([255])
            }
        });
        let tilted = rotate(&img, 3.0);
        let angle = skew_angle(&tilted);
        assert!((angle.abs() - 3.0).abs() <= 0.5, "estimated {angle}");
        assert!(skew_angle(&img).abs() <= 0.5);
        // Deskewing straightens it (turning the way the estimate says, not
        // the other way, which doubled the tilt of every photo until now).
        let straight = deskew(&tilted);
        assert!(skew_angle(&straight).abs() <= 0.5, "after undoing {angle}");
        // White comes in at the corners; the middle keeps its bars.
        assert_eq!(tilted.get_pixel(0, 0), &Luma([255]));
        assert_eq!(straight.get_pixel(300, 130), &Luma([0]));
    }
}
