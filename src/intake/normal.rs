//! Normalisation of free text for intent matching, and the intent cues of
//! `lexicon.toml`: words are lower-cased one by one (the result is a list of
//! words, never offsets into the original, so case changes that alter byte
//! lengths are harmless), chat spellings become the standard word, and
//! Indonesian affixes are stripped to a stem of the lexicon, so one cue
//! covers `ubah`, `diubah`, `mengubah`, `ubahnya`.
//!
//! The lexicon is data, compiled into the binary with `include_str!`: adding
//! a way of saying something is an edit of that file, not of code.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::domain::Lang;

/// The intents the cues speak for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Cue {
    Cancel,
    /// Counts only when the message states an amount.
    Amend,
    Status,
    Slip,
    /// Counts only when the message states an amount.
    Request,
}

#[derive(Deserialize)]
struct LexiconFile {
    spelling: HashMap<String, String>,
    amount_words: Words,
    negations: Words,
    documents: Words,
    callouts: Words,
    lang: LangWords,
    affixes: Affixes,
    cues: Cues,
}

/// A section that is one list of words.
#[derive(Deserialize)]
struct Words {
    words: HashSet<String>,
}

#[derive(Deserialize)]
struct LangWords {
    id: HashSet<String>,
    en: HashSet<String>,
}

#[derive(Deserialize)]
struct Affixes {
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

#[derive(Deserialize)]
struct Cues {
    cancel: Vec<String>,
    amend: Vec<String>,
    status: Vec<String>,
    slip: Vec<String>,
    request: Vec<String>,
}

/// One cue phrase: words, `None` for the `*` gap.
type Phrase = Vec<Option<String>>;

struct Lexicon {
    spelling: HashMap<String, String>,
    amount_words: HashSet<String>,
    negations: HashSet<String>,
    /// Words for the proof itself (`[documents]`).
    documents: HashSet<String>,
    /// Greetings and calls for attention (`[callouts]`).
    callouts: HashSet<String>,
    lang: LangWords,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    /// Every word of a cue or a spelling target: what affix stripping may
    /// reduce a word to.
    stems: HashSet<String>,
    /// Cue phrases by their first word.
    by_first: HashMap<String, Vec<(Cue, Phrase)>>,
}

/// The most words a `*` gap stands for.
const GAP: usize = 4;

fn lexicon() -> Option<&'static Lexicon> {
    static LEXICON: OnceLock<Option<Lexicon>> = OnceLock::new();
    LEXICON
        .get_or_init(|| {
            // A malformed file is a programming error caught by the unit
            // tests; at run time the cues are then simply absent.
            let file: LexiconFile = toml::from_str(include_str!("lexicon.toml")).ok()?;
            Some(Lexicon::new(file))
        })
        .as_ref()
}

impl Lexicon {
    fn new(file: LexiconFile) -> Lexicon {
        let mut stems: HashSet<String> = file.spelling.values().cloned().collect();
        let mut by_first: HashMap<String, Vec<(Cue, Phrase)>> = HashMap::new();
        let groups = [
            (Cue::Cancel, &file.cues.cancel),
            (Cue::Amend, &file.cues.amend),
            (Cue::Status, &file.cues.status),
            (Cue::Slip, &file.cues.slip),
            (Cue::Request, &file.cues.request),
        ];
        for (cue, phrases) in groups {
            for phrase in phrases {
                let words: Phrase = phrase
                    .split_whitespace()
                    .map(|w| (w != "*").then(|| w.to_string()))
                    .collect();
                for w in words.iter().flatten() {
                    stems.insert(w.clone());
                }
                if let Some(Some(first)) = words.first() {
                    by_first
                        .entry(first.clone())
                        .or_default()
                        .push((cue, words));
                }
            }
        }
        let mut prefixes = file.affixes.prefixes;
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Lexicon {
            spelling: file.spelling,
            amount_words: file.amount_words.words,
            negations: file.negations.words,
            documents: file.documents.words,
            callouts: file.callouts.words,
            lang: file.lang,
            prefixes,
            suffixes: file.affixes.suffixes,
            stems,
            by_first,
        }
    }

    /// The normal form of one lower-case word.
    fn normal(&self, word: &str) -> String {
        self.resolve(word)
            .or_else(|| held_letter_dropped(word).and_then(|w| self.resolve(&w)))
            .unwrap_or_else(|| word.to_string())
    }

    /// The lexicon's word for `word`: its chat spelling's, itself as a
    /// stem, or the stem under its affixes.
    fn resolve(&self, word: &str) -> Option<String> {
        if let Some(w) = self.spelling.get(word) {
            return Some(w.clone());
        }
        if self.stems.contains(word) {
            return Some(word.to_string());
        }
        self.stem(word)
    }

    /// Strips one suffix and one prefix (either may be empty) when what
    /// remains is a stem of the lexicon (or a chat spelling of one).
    fn stem(&self, word: &str) -> Option<String> {
        let known = |w: &str| -> Option<String> {
            if self.stems.contains(w) {
                Some(w.to_string())
            } else {
                self.spelling.get(w).cloned()
            }
        };
        let suffixes = self.suffixes.iter().map(String::as_str).chain([""]);
        for suffix in suffixes {
            let Some(base) = word.strip_suffix(suffix) else {
                continue;
            };
            let prefixes = self.prefixes.iter().map(String::as_str).chain([""]);
            for prefix in prefixes {
                let Some(rest) = base.strip_prefix(prefix) else {
                    continue;
                };
                if rest.chars().count() < 3 {
                    continue;
                }
                if let Some(found) = known(rest) {
                    return Some(found);
                }
                // meng+kirim = mengirim, men+tunggu = menunggu, ...
                let restored = match prefix {
                    "meng" | "peng" => Some('k'),
                    "men" | "pen" => Some('t'),
                    "mem" | "pem" => Some('p'),
                    "meny" | "peny" => Some('s'),
                    _ => None,
                };
                if let Some(first) = restored
                    && let Some(found) = known(&format!("{first}{rest}"))
                {
                    return Some(found);
                }
            }
        }
        None
    }
}

/// `word` with its last letter held no longer: "topupp", "transferrr",
/// "kakk" as typed fast on a phone. `None` when the last letter is single.
fn held_letter_dropped(word: &str) -> Option<String> {
    let last = word.chars().next_back()?;
    let kept = word.trim_end_matches(last);
    (word.len() - kept.len() > last.len_utf8()).then(|| format!("{kept}{last}"))
}

/// The normalised words of `text`: letters and digits runs, lower-cased,
/// chat spellings and affixes resolved, and each amount (digit runs,
/// number words, currency and multipliers: `Rp 1.500.000`, `2jt`, `dua
/// juta`) one `#n`.
pub(crate) fn words(text: &str) -> Vec<String> {
    let Some(lex) = lexicon() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    let flush = |current: &mut String, digits: bool, out: &mut Vec<String>| {
        if current.is_empty() {
            return;
        }
        let word = if digits {
            "#n".to_string()
        } else {
            let w = lex.normal(current);
            if lex.amount_words.contains(&w) {
                "#n".to_string()
            } else {
                w
            }
        };
        // One amount, however many words it is written in, is one `#n`.
        if !(word == "#n" && out.last().is_some_and(|l| l == "#n")) {
            out.push(word);
        }
        current.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !digits {
                flush(&mut current, digits, &mut out);
                digits = true;
            }
            current.push(c);
        } else if c.is_alphabetic() {
            if digits {
                flush(&mut current, digits, &mut out);
                digits = false;
            }
            current.extend(c.to_lowercase());
        } else {
            flush(&mut current, digits, &mut out);
            digits = false;
        }
    }
    flush(&mut current, digits, &mut out);
    out
}

/// The language of normalised words: Indonesian or English by which has
/// more of its common words (at least two, and more than the other);
/// `None` when the text does not say.
pub(crate) fn language(words: &[String]) -> Option<Lang> {
    let lex = lexicon()?;
    let id = words.iter().filter(|w| lex.lang.id.contains(*w)).count();
    let en = words.iter().filter(|w| lex.lang.en.contains(*w)).count();
    match id.cmp(&en) {
        std::cmp::Ordering::Greater if id >= 2 => Some(Lang::Id),
        std::cmp::Ordering::Less if en >= 2 => Some(Lang::En),
        _ => None,
    }
}

/// Whether a normalised word negates what follows (`[negations]`).
pub(crate) fn is_negation(word: &str) -> bool {
    lexicon().is_some_and(|l| l.negations.contains(word))
}

/// Whether a lower-case word greets or calls for attention ("halo", "min",
/// "ping") rather than asking anything (`[callouts]`).
pub(crate) fn is_callout(word: &str) -> bool {
    lexicon().is_some_and(|l| l.callouts.contains(word))
}

/// A bare yes: a yes word first and at most five words in all.
pub(crate) fn is_yes(words: &[String]) -> bool {
    const YES: [&str; 13] = [
        "ya", "iya", "y", "yes", "yep", "yup", "ok", "oke", "okay", "betul", "benar", "setuju",
        "confirm",
    ];
    words.len() <= 5 && words.first().is_some_and(|w| YES.contains(&w.as_str()))
}

/// The cues present in normalised words.
pub(crate) fn cues(words: &[String]) -> HashSet<Cue> {
    let mut found = HashSet::new();
    let Some(lex) = lexicon() else {
        return found;
    };
    for (i, w) in words.iter().enumerate() {
        let Some(phrases) = lex.by_first.get(w) else {
            continue;
        };
        for (cue, phrase) in phrases {
            // A cancellation or change the words right before it refuse is not asked for.
            let refused = || {
                matches!(cue, Cue::Cancel | Cue::Amend)
                    && (refuses(&words[..i])
                        || tells(&words[..i])
                        || by_themselves(&words[i + 1..]))
            };
            // "bukti yang benar": the right document, not a corrected amount.
            let of_a_document =
                || *cue == Cue::Amend && i > 0 && lex.documents.contains(&words[i - 1]);
            if !found.contains(cue)
                && matches_at(&words[i + 1..], &phrase[1..])
                && !refused()
                && !of_a_document()
            {
                found.insert(*cue);
            }
        }
    }
    found
}

/// Words that may stand between a negation and the action it refuses:
/// "ga *jadi* cancel", "gak *usah* dibatalkan", "no *need to* change",
/// "don'*t* cancel".
/// ("please" is not one: "no, please cancel" asks, and the words have lost
/// the comma).
const REFUSAL_LINKS: [&str; 12] = [
    "jadi", "usah", "perlu", "need", "to", "have", "want", "mau", "ingin", "be", "di", "t",
];

/// Whether the words after an action say the customer does or did it
/// themselves ("sudah saya batalkan sendiri lewat aplikasi", "I cancelled
/// it myself"): nothing for the desk to do.
pub(crate) fn by_themselves(after: &[String]) -> bool {
    const SELF: [&str; 4] = ["sendiri", "myself", "ourselves", "themselves"];
    after.iter().take(6).any(|w| SELF.contains(&w.as_str()))
}

/// Whether the words `before` an action word end in a negation that
/// refuses it: "ga jadi [cancel]", "jangan [dibatalkan]", "no need to
/// [cancel]". The expressions of `text.rs` ask the same of the words of the
/// clause before their match.
pub(crate) fn refuses(before: &[String]) -> bool {
    let Some(lex) = lexicon() else {
        return false;
    };
    for prev in before.iter().rev().take(4) {
        if lex.negations.contains(prev) {
            return true;
        }
        if !REFUSAL_LINKS.contains(&prev.as_str()) {
            return false;
        }
    }
    false
}

/// Whether the normalised words right before an action tell of it in a
/// relative clause instead of asking for it: "order yang kemarin kami
/// [batalkan]", "the order which we [cancelled]".
pub(crate) fn tells(before: &[String]) -> bool {
    // Who did it, or that it is done: "yang kemarin batal" alone still asks.
    const DONE: [&str; 8] = [
        "sudah", "telah", "pernah", "sempat", "kami", "saya", "aku", "di",
    ];
    const WHEN: [&str; 6] = ["kemarin", "tadi", "had", "have", "already", "just"];
    let mut done = false;
    let mut words = before.iter().rev().take(5).peekable();
    while let Some(w) = words.next() {
        match w.as_str() {
            "yang" => return done,
            "we" | "i" | "you" => {
                return words.peek().is_some_and(|p| *p == "which" || *p == "that");
            }
            w if DONE.contains(&w) => done = true,
            w if WHEN.contains(&w) => {}
            _ => return false,
        }
    }
    false
}

/// Whether `phrase` matches at the start of `words` (a `None` element
/// skips zero to [`GAP`] words).
fn matches_at(words: &[String], phrase: &[Option<String>]) -> bool {
    match phrase.split_first() {
        None => true,
        Some((None, rest)) => {
            (0..=GAP.min(words.len())).any(|skip| matches_at(&words[skip..], rest))
        }
        Some((Some(want), rest)) => words
            .first()
            .is_some_and(|w| w == want && matches_at(&words[1..], rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexicon_file_reads() {
        assert!(lexicon().is_some(), "lexicon.toml does not parse");
    }

    #[test]
    fn affixed_forms_share_their_stem() {
        for (form, stem) in [
            ("mengubah", "ubah"),
            ("diubah", "ubah"),
            ("ubahnya", "ubah"),
            ("diganti", "ganti"),
            ("gantinya", "ganti"),
            ("direvisi", "revisi"),
            ("dikoreksi", "koreksi"),
            ("batalkan", "batal"),
            ("dibatalkan", "batal"),
            ("pembatalan", "batal"),
            ("batalin", "batal"),
            ("diproses", "proses"),
            ("menyusul", "susul"),
            ("mengirim", "kirim"),
            ("menunggu", "tunggu"),
            ("seharusnya", "harus"),
            ("kutransfer", "transfer"),
            ("ditransfer", "transfer"),
            ("lunasi", "lunas"),
            ("udh", "sudah"),
            ("tf", "transfer"),
        ] {
            assert_eq!(words(form), [stem], "{form}");
        }
        // Words that merely end like a suffix stay as they are.
        assert_eq!(words("bukan akan"), ["bukan", "akan"]);
    }

    #[test]
    fn a_bare_yes_is_told_from_a_message() {
        for t in [
            "Ya",
            "iya, betul",
            "YES please",
            "ok kak",
            "Betul, ubah saja",
        ] {
            assert!(is_yes(&words(t)), "{t}");
        }
        for t in [
            "",
            "tidak",
            "ya tapi nominalnya salah, harusnya dua juta ya kak",
            "yang benar 2jt",
        ] {
            assert!(!is_yes(&words(t)), "{t}");
        }
    }

    #[test]
    fn the_language_is_read_from_common_words() {
        let lang = |t: &str| language(&words(t));
        assert_eq!(lang("Halo kak, saya mau tanya soal saldo"), Some(Lang::Id));
        assert_eq!(lang("udah tf ya min, makasih"), Some(Lang::Id));
        assert_eq!(lang("Hi, could you tell me how to top up?"), Some(Lang::En));
        assert_eq!(lang("TU-20261125-0001 Rp 1.500.000"), None);
    }

    #[test]
    fn cues_span_gaps_and_case_changing_text() {
        let w = words("Udah \u{212A}ami TF ya kak 2jt");
        assert!(cues(&w).contains(&Cue::Slip), "{w:?}");
        assert_eq!(words("tf Rp 1.500.000 ya"), ["transfer", "#n", "ya"]);
        assert_eq!(words("dua juta lima ratus ribu"), ["#n"]);
        let w = words("it has been 3 days since we paid");
        let c = cues(&w);
        assert!(c.contains(&Cue::Status) && c.contains(&Cue::Slip), "{w:?}");
        assert!(cues(&words("terima kasih banyak")).is_empty());
    }
}
