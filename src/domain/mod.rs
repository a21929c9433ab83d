//! Pure domain types: no I/O, no clocks, no database.

pub mod contact;
pub mod money;
pub mod order;
pub mod order_number;

use serde::{Deserialize, Serialize};

/// The language an account reads its mail and pages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Indonesian (`id`), the default for the Indonesian desk.
    #[default]
    Id,
    /// English (`en`).
    En,
}

impl Lang {
    /// The code stored in the database and used for `prompts/<code>/`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    /// Parses `id` / `en` (any case, also `indonesian` / `english`).
    ///
    /// # Errors
    /// Returns the text back in an error message when it is no known language.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "id" | "indonesian" | "bahasa" | "in" => Ok(Lang::Id),
            "en" | "english" => Ok(Lang::En),
            other => Err(format!("unknown language {other:?} (use id or en)")),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
