//! Unit tests of the intake rules on small hand-written messages.

use super::text::ALL_PATTERNS;
use super::*;

#[test]
fn every_pattern_compiles() {
    let all = ALL_PATTERNS
        .iter()
        .chain(email::EMAIL_PATTERNS)
        .chain(chat::CHAT_PATTERNS);
    for (i, p) in all.enumerate() {
        assert!(p.get().is_some(), "pattern {i} does not compile");
    }
}
