//! SWIFT MT940 statements through the `mt940` crate.
//!
//! Portals write MT940 loosely (CRLF, characters outside the SWIFT set,
//! `:86:` remarks longer than six lines, text between messages), so the
//! crate's sanitisers run first. The running balance the key needs is
//! computed from the opening balance `:60F:` line by line.

use super::amount::Direction;
use super::{
    Format, Limits, Line, MAX_DESCRIPTION_CHARS, MAX_REFERENCE_CHARS, Statement, StatementError,
    clean,
};

/// True when the bytes carry MT940 tags (`:20:` and `:61:`).
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let has = |tag: &[u8]| head.windows(tag.len()).any(|w| w == tag);
    has(b":20:") && (has(b":61:") || has(b":60F:") || has(b":25:"))
}

/// A decimal as the crate prints it (`2500000`, `2500000.5`) to sen.
fn minor_of(d: &impl std::fmt::Display) -> Option<i64> {
    let s = d.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if frac.len() > 2 || int.starts_with('-') {
        return None;
    }
    let frac = format!("{frac:0<2}");
    int.parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac.parse().ok()?)
}

/// Reads every message of an MT940 file into one statement.
///
/// # Errors
/// [`StatementError::Mt940`] with the parser's words.
pub fn parse(text: &str, limits: Limits) -> Result<Statement, StatementError> {
    let text = mt940::sanitizers::sanitize(text);
    let messages = mt940::parse_mt940(&text).map_err(|e| {
        let words = clean(&e.to_string(), 300);
        StatementError::Mt940(words)
    })?;
    let mut lines = Vec::new();
    let mut account = String::new();
    for message in messages {
        if account.is_empty() {
            account = clean(&message.account_id, 64);
        }
        let opening = minor_of(&message.opening_balance.amount)
            .ok_or_else(|| StatementError::Mt940("the opening balance is not an amount".into()))?;
        let mut balance = match message.opening_balance.debit_credit_indicator {
            mt940::DebitOrCredit::Credit => opening,
            mt940::DebitOrCredit::Debit => -opening,
        };
        for l in message.statement_lines {
            if lines.len() >= limits.max_lines {
                return Err(StatementError::TooManyLines(limits.max_lines));
            }
            let minor = minor_of(&l.amount).ok_or_else(|| {
                StatementError::Mt940(format!(
                    "line {}: {} is not an amount",
                    lines.len() + 1,
                    l.amount
                ))
            })?;
            let direction = match l.ext_debit_credit_indicator {
                mt940::ExtDebitOrCredit::Credit | mt940::ExtDebitOrCredit::ReverseDebit => {
                    Direction::Credit
                }
                mt940::ExtDebitOrCredit::Debit | mt940::ExtDebitOrCredit::ReverseCredit => {
                    Direction::Debit
                }
            };
            balance = match direction {
                Direction::Credit => balance.saturating_add(minor),
                Direction::Debit => balance.saturating_sub(minor),
            };
            let (description, payer) = match &l.information_to_account_owner {
                Some(mt940::InformationToAccountOwner::Plain(s)) => (s.clone(), None),
                Some(mt940::InformationToAccountOwner::Structured {
                    posting_text,
                    purpose,
                    additional_purpose,
                    applicant_name,
                    ..
                }) => (
                    [posting_text, purpose, additional_purpose, applicant_name]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                    applicant_name.clone(),
                ),
                None => (l.supplementary_details.clone().unwrap_or_default(), None),
            };
            let reference = [Some(l.customer_ref.clone()), l.bank_ref.clone()]
                .into_iter()
                .flatten()
                .map(|r| clean(&r, MAX_REFERENCE_CHARS))
                .find(|r| !r.is_empty() && !r.eq_ignore_ascii_case("NONREF"));
            lines.push(Line {
                line: lines.len() + 1,
                date: l.entry_date.unwrap_or(l.value_date),
                direction,
                amount_minor: minor,
                description: clean(&description, MAX_DESCRIPTION_CHARS),
                reference,
                payer: payer.map(|p| clean(&p, MAX_DESCRIPTION_CHARS)),
                balance_minor: Some(balance),
            });
        }
    }
    Ok(Statement {
        format: Format::Mt940,
        bank: "MT940".into(),
        account,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = ":20:STMT261130\r\n:25:0123456789\r\n:28C:00001/001\r\n:60F:C261129IDR10000000,00\r\n:61:2611301130C2500000,00NTRFNONREF//FT2611300001\r\n:86:TRSF DARI PT SINAR ABADI TU-20261125-0001\r\n:61:2611301130D10000,00NCHGNONREF\r\n:86:BIAYA ADM\r\n:62F:C261130IDR12490000,00\r\n";

    #[test]
    fn lines_with_running_balance_and_reference() {
        assert!(looks_like(SAMPLE.as_bytes()));
        let s = parse(SAMPLE, Limits::default()).unwrap();
        assert_eq!(s.account, "0123456789");
        assert_eq!(s.lines.len(), 2);
        let l = &s.lines[0];
        assert_eq!(l.amount_minor, 250_000_000);
        assert_eq!(l.direction, Direction::Credit);
        assert_eq!(l.balance_minor, Some(1_250_000_000));
        assert_eq!(l.reference.as_deref(), Some("FT2611300001"));
        assert!(
            l.description.contains("TU-20261125-0001"),
            "{}",
            l.description
        );
        assert_eq!(s.lines[1].direction, Direction::Debit);
        assert_eq!(s.lines[1].balance_minor, Some(1_249_000_000));
    }

    #[test]
    fn broken_mt940_is_an_error_not_a_panic() {
        for bad in [
            ":20:X\r\n:61:garbage\r\n",
            ":20:X\r\n:25:1\r\n:28C:1\r\n:60F:C261129IDR10000000,00\r\n:61:2613451130C2500000,00NTRFNONREF\r\n:62F:C261130IDR1,00\r\n",
            ":61:2611301130C2500000,00NTRFNONREF\r\n",
        ] {
            assert!(
                matches!(parse(bad, Limits::default()), Err(StatementError::Mt940(_))),
                "{bad}"
            );
        }
    }
}
