//! Slip uploads: reading the multipart form and deciding what a file is by
//! its first bytes (never by the name or the browser's claimed type).

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;

use super::error::WebError;

/// The kinds of slip we accept: images and PDFs, by magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(
            &bytes[8..12],
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc"
        )
    {
        Some("image/heic")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// What the slip form sent.
#[derive(Debug, Default)]
pub struct SlipForm {
    /// The CSRF field (pages only).
    pub csrf: Option<String>,
    /// The claimed amount, as typed.
    pub amount: Option<String>,
    /// The file's name (base name only) and bytes; `None` when no file was chosen.
    pub file: Option<(String, Vec<u8>)>,
}

/// Why an upload could not be read.
#[derive(Debug)]
pub enum UploadProblem {
    /// Larger than the limit.
    TooLarge,
    /// Not a readable multipart body.
    Malformed(String),
}

impl From<MultipartError> for UploadProblem {
    fn from(e: MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadProblem::TooLarge
        } else {
            UploadProblem::Malformed(e.body_text())
        }
    }
}

/// Reads the fields `csrf`, `amount` and `slip` (the file); ignores others.
///
/// # Errors
/// The body is too large or malformed.
pub async fn read_slip_form(
    mut form: Multipart,
    max_bytes: usize,
) -> Result<SlipForm, UploadProblem> {
    let mut out = SlipForm::default();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "csrf" => out.csrf = Some(field.text().await?),
            "amount" => out.amount = Some(field.text().await?).filter(|s| !s.trim().is_empty()),
            "slip" | "file" => {
                let file_name = field.file_name().map(base_name).unwrap_or_default();
                let bytes = field.bytes().await?;
                if bytes.len() > max_bytes {
                    return Err(UploadProblem::TooLarge);
                }
                if !bytes.is_empty() {
                    out.file = Some((file_name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The last path segment of a client-supplied file name, at most 120 characters.
fn base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars().filter(|c| !c.is_control()).take(120).collect()
}

/// Turns a checked upload into the intake type the desk stores.
///
/// # Errors
/// [`WebError::Unsupported`] when the bytes are neither an image nor a PDF.
pub fn slip_file(
    name: String,
    bytes: Vec<u8>,
    refusal: &str,
) -> Result<crate::intake::SlipFile, WebError> {
    let content_type = sniff(&bytes).ok_or_else(|| WebError::Unsupported(refusal.to_string()))?;
    Ok(crate::intake::SlipFile {
        file_name: Some(name).filter(|n| !n.is_empty()),
        content_type: content_type.to_string(),
        bytes,
    })
}

/// A human size: `10 MB`.
pub fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0..JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic"), Some("image/heic"));
        assert_eq!(sniff(b"<html><script>"), None);
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn client_paths_are_cut_to_the_file_name() {
        assert_eq!(base_name("C:\\Users\\x\\slip.jpg"), "slip.jpg");
        assert_eq!(base_name("../../etc/passwd"), "passwd");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
    }
}
