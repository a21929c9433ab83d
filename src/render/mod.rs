//! Everything the desk shows a customer outside chat: email templates
//! (Markdown in `prompts/<lang>/`, rendered to subject + text + HTML) and the
//! PDF receipt attached to the paid email.
//!
//! - [`templates`]: [`Templates`], [`EmailKind`], [`RenderedEmail`].
//! - [`receipt`]: [`render_receipt`] from a [`ReceiptData`].
//! - [`words`]: amounts in words for the receipt.

pub mod receipt;
pub mod templates;
pub mod words;

pub use receipt::{ReceiptData, ReceiptError, render_receipt};
pub use templates::{EmailKind, RenderedEmail, TemplateError, Templates};
