//! The learned half of intent detection: a linear classifier (multinomial
//! logistic regression) over the normalised words of a message, its word
//! pairs and the character n-grams of its words.
//!
//! Rules know what rules do best (order numbers, amounts, automatic mail,
//! the contract's precedence); a customer says "is it done yet" a hundred
//! ways, and a model of word pieces carries what it learned to phrasings
//! nobody listed. [`super::decide`] asks both (see [`combine`]).
//!
//! The weights are data, `intent_model.tsv`, written by
//! `scripts/train-intent` (scikit-learn, a fixed seed: the same data gives
//! the same file) from labelled messages whose features this module
//! computed (`topup parse --explain` prints them), so training and the
//! daemon cannot disagree on what a feature is.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::LazyLock;

use super::Intent;
use super::normal;

/// The intents the model tells apart, in the column order of the weights.
const CLASSES: [Intent; 6] = [
    Intent::Request,
    Intent::Slip,
    Intent::Amend,
    Intent::Cancel,
    Intent::Status,
    Intent::Unknown,
];

/// Longest text the model reads (the rules read the same bounded text).
const MAX_CHARS: usize = 4_000;

/// What the rules found in a message before its intent is decided.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found {
    /// Slips attached.
    pub slips: usize,
    /// An amount in its own text or subject.
    pub amount: bool,
    /// An order number in its own text or subject.
    pub order: bool,
    /// What the rules' expressions and cues saw.
    pub(crate) signals: super::text::Signals,
}

/// The features of a message's own text: `w:` normalised words, `l:` those
/// of its last sentence (see [`last_sentence`]), `n:` the words a negation
/// reaches (`[negations]` of `lexicon.toml`), `b:` pairs of them, `c:` character 3- and 4-grams of each lower-cased word with
/// `^`/`$` at its ends, `q` for a question mark, `has_amount` /
/// `has_order` / `slips` for what the rules found, and `s:` for each of the
/// rules' signals (which expressions and cues matched, see
/// [`super::text::Signals`]).
pub fn features(text: &str, found: Found) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for_each_feature(text, found, |f| {
        if seen.insert(f.to_string()) {
            out.push(f.to_string());
        }
    });
    out
}

/// Calls `each` with every feature of [`features`], some more than once,
/// built in one reused buffer (the daemon parses every message with it).
fn for_each_feature(text: &str, found: Found, mut each: impl FnMut(&str)) {
    let text = super::text::bounded(text, MAX_CHARS);
    let words = normal::words(text);
    let mut buf = String::with_capacity(64);
    for w in &words {
        buf.clear();
        buf.push_str("w:");
        buf.push_str(w);
        each(&buf);
    }
    for w in normal::words(last_sentence(text)) {
        buf.clear();
        buf.push_str("l:");
        buf.push_str(&w);
        each(&buf);
    }
    // Words in the reach of a negation ("ga usah di-cancel", "jangan dihapus",
    // "no need to change"): the action a customer says *not* to take.
    for (i, w) in words.iter().enumerate() {
        if !normal::is_negation(w) {
            continue;
        }
        for next in words.iter().skip(i + 1).take(NEGATION_REACH) {
            buf.clear();
            buf.push_str("n:");
            buf.push_str(next);
            each(&buf);
        }
    }
    for pair in words.windows(2) {
        buf.clear();
        buf.push_str("b:");
        buf.push_str(&pair[0]);
        buf.push(' ');
        buf.push_str(&pair[1]);
        each(&buf);
    }
    let lower = text.to_lowercase();
    let mut chars: Vec<char> = Vec::with_capacity(32);
    for word in lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().nth(1).is_some())
    {
        chars.clear();
        chars.push('^');
        chars.extend(word.chars());
        chars.push('$');
        for n in [3, 4] {
            for gram in chars.windows(n) {
                buf.clear();
                buf.push_str("c:");
                buf.extend(gram);
                each(&buf);
            }
        }
    }
    for (present, name) in [
        (text.contains('?'), "q"),
        (found.amount, "has_amount"),
        (found.order, "has_order"),
        (found.slips > 0, "slips"),
    ] {
        if present {
            each(name);
        }
    }
    for name in found.signals.names() {
        each(name);
    }
}

/// How many words after a negation it reaches.
const NEGATION_REACH: usize = 3;

/// The message's last sentence of three words or more: where a customer
/// who first tells a story says what they want ("... jadi tolong dibatalkan
/// saja ya"), before a short closing line or a name. Sentences end at a line
/// break, `!`, `?`, or a `.` before a space (never the dots of `1.500.000`).
fn last_sentence(text: &str) -> &str {
    let mut ends: Vec<usize> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        if matches!(c, '\n' | '!' | '?') || (c == '.' && next_is_space) {
            ends.push(i + c.len_utf8());
        }
    }
    ends.push(text.len());
    let mut end = text.len();
    for &start in ends.iter().rev().skip(1).chain(std::iter::once(&0)) {
        let sentence = &text[start..end];
        if sentence
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count()
            >= 3
        {
            return sentence;
        }
        end = start;
    }
    ""
}

/// What the model says of a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The most likely intent.
    pub intent: Intent,
    /// Its probability.
    pub probability: f32,
    /// Its probability less the runner-up's.
    pub margin: f32,
    /// How many of the message's words the model knows (letters only), plus
    /// one for an amount the rules found: too few and the model is guessing
    /// from its priors.
    pub known_words: usize,
}

/// Fewest known words with which the model may give an intent to text the
/// rules did not understand ("ı€ TU-... TU-..." is no cancellation, while
/// "tf 2jt TU-..." is a payment: an action word and a sum are enough).
const MIN_KNOWN_WORDS: usize = 2;

struct Model {
    bias: [f32; 6],
    weights: HashMap<String, [f32; 6]>,
    thresholds: Thresholds,
    /// Each message's features count `row_scale / sqrt(n)` for its `n`
    /// distinct features (the model was trained on rows of that length, so
    /// a long message does not outvote a short one by its length alone);
    /// `None`: each counts one.
    row_scale: Option<f32>,
}

/// How sure the model must be to decide against the rules (chosen by
/// cross-validation in `scripts/train-intent`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// To give an intent to text the rules did not understand.
    pub unknown_override: f32,
    /// To overrule an intent the rules found.
    pub disagree_override: f32,
    /// To cancel an order the rules did not read as a cancellation: a
    /// cancellation is carried out at once, so a guess costs the customer
    /// their order, where "not understood" only asks again.
    pub cancel_override: f32,
}

static MODEL: LazyLock<Option<Model>> = LazyLock::new(|| {
    let model = load(include_str!("intent_model.tsv"));
    if model.is_none() {
        tracing::error!("The intent model (src/intake/intent_model.tsv) is unreadable; rules only");
    }
    model
});

/// Reads the weights: `classes`, the three thresholds, `bias` and one line
/// per feature (a name and six numbers), tab-separated; `#` lines are comments.
fn load(tsv: &str) -> Option<Model> {
    let mut bias = None;
    let mut weights = HashMap::new();
    let mut classes = false;
    let (mut unknown_override, mut disagree_override, mut cancel_override) = (None, None, None);
    let mut row_scale = None;
    for line in tsv.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut cols = line.split('\t');
        let name = cols.next()?;
        match name {
            "classes" => {
                let names: Vec<&str> = cols.collect();
                let expected: Vec<&str> = CLASSES.iter().map(|c| c.as_str()).collect();
                if names != expected {
                    return None;
                }
                classes = true;
                continue;
            }
            "unknown_override" => {
                unknown_override = Some(cols.next()?.parse().ok()?);
                continue;
            }
            "cancel_override" => {
                cancel_override = Some(cols.next()?.parse().ok()?);
                continue;
            }
            "disagree_override" => {
                disagree_override = Some(cols.next()?.parse().ok()?);
                continue;
            }
            "row_scale" => {
                row_scale = Some(cols.next()?.parse().ok()?);
                continue;
            }
            _ => {}
        }
        let mut row = [0f32; 6];
        for slot in &mut row {
            *slot = cols.next()?.parse().ok()?;
        }
        if name == "bias" {
            bias = Some(row);
        } else {
            weights.insert(name.to_string(), row);
        }
    }
    classes.then_some(())?;
    Some(Model {
        bias: bias?,
        weights,
        thresholds: Thresholds {
            unknown_override: unknown_override?,
            disagree_override: disagree_override?,
            cancel_override: cancel_override?,
        },
        row_scale,
    })
}

/// The model's intent for a message's own text; `None` when the weights
/// could not be read.
pub fn predict(text: &str, found: Found) -> Option<Prediction> {
    let model = MODEL.as_ref()?;
    let mut sums = [0f32; 6];
    let mut known_words = 0;
    // Each feature counts once (the model was trained on presence); every
    // distinct one, known or not, makes the row longer.
    // (By a fast hash of each: this runs for every message the daemon reads.)
    let hashes = foldhash::fast::FixedState::default();
    let mut distinct: HashSet<u64, foldhash::fast::FixedState> = HashSet::default();
    for_each_feature(text, found, |f| {
        if !distinct.insert(hashes.hash_one(f)) {
            return;
        }
        let Some(w) = model.weights.get(f) else {
            return;
        };
        if f.starts_with("w:") && f.chars().count() >= 5 && f != "w:#n" {
            known_words += 1;
        }
        for (s, w) in sums.iter_mut().zip(w) {
            *s += w;
        }
    });
    if found.amount {
        known_words += 1;
    }
    let length = match model.row_scale {
        Some(scale) if !distinct.is_empty() => scale / (distinct.len() as f32).sqrt(),
        _ => 1.0,
    };
    let mut scores = model.bias;
    for (s, w) in scores.iter_mut().zip(sums) {
        *s += w * length;
    }
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    let mut ranked: Vec<(usize, f32)> = exp.iter().map(|e| e / sum).enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Some(Prediction {
        intent: CLASSES[ranked[0].0],
        probability: ranked[0].1,
        margin: ranked[0].1 - ranked[1].1,
        known_words,
    })
}

/// The intent of human text from the rules' answer and the model's, with
/// the thresholds of the committed weights.
pub fn combine(rule: Intent, model: Option<Prediction>) -> Intent {
    match MODEL.as_ref() {
        Some(m) => combine_with(rule, model, m.thresholds),
        None => rule,
    }
}

/// The rules keep what they are sure of unless the model is surer: where
/// the rules found nothing (`unknown`) a model at least
/// `unknown_override` sure decides; against an intent the rules found, only
/// one at least `disagree_override` sure; and neither with fewer than
/// [`MIN_KNOWN_WORDS`] known words.
pub fn combine_with(rule: Intent, model: Option<Prediction>, t: Thresholds) -> Intent {
    let Some(m) = model else {
        return rule;
    };
    // Too few known words and the model is guessing from its priors: it
    // neither reads an intent into nothing nor overrules the rules (a slip
    // mailed with no words but "Sent from my iPhone" stays a slip).
    if m.known_words < MIN_KNOWN_WORDS {
        return rule;
    }
    let needed = if rule == Intent::Unknown {
        t.unknown_override
    } else {
        t.disagree_override
    };
    let needed = if m.intent == Intent::Cancel {
        needed.max(t.cancel_override)
    } else {
        needed
    };
    if m.intent != rule && m.probability >= needed {
        m.intent
    } else {
        rule
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_cover_words_pairs_and_pieces_once() {
        let f = features(
            "Udah tf 2jt, udah?",
            Found {
                amount: true,
                ..Found::default()
            },
        );
        assert!(f.contains(&"w:sudah".to_string()), "{f:?}");
        assert!(f.contains(&"w:transfer".to_string()), "{f:?}");
        assert!(f.contains(&"b:sudah transfer".to_string()), "{f:?}");
        assert!(f.contains(&"c:^ud".to_string()), "{f:?}");
        assert!(f.contains(&"has_amount".to_string()));
        assert!(f.contains(&"q".to_string()));
        assert!(!f.contains(&"has_order".to_string()));
        let unique: HashSet<_> = f.iter().collect();
        assert_eq!(unique.len(), f.len());
    }

    #[test]
    fn a_negation_marks_the_words_it_reaches() {
        let f = features(
            "ordernya jangan dihapus, ga usah di-cancel",
            Found::default(),
        );
        assert!(f.contains(&"n:hapus".to_string()), "{f:?}");
        assert!(f.contains(&"n:cancel".to_string()), "{f:?}");
        assert!(
            !f.contains(&"n:order".to_string()),
            "before the negation: {f:?}"
        );
        let f = features("No need to change the amount", Found::default());
        assert!(f.contains(&"n:change".to_string()), "{f:?}");
        assert!(!f.contains(&"n:amount".to_string()), "out of reach: {f:?}");
    }

    #[test]
    fn the_last_sentence_is_the_last_with_three_words() {
        assert_eq!(
            last_sentence(
                "Kemarin kami transfer Rp 1.500.000 ke BCA. Tapi ternyata salah order, jadi tolong dibatalkan saja\nSalam,\nBudi"
            ),
            " Tapi ternyata salah order, jadi tolong dibatalkan saja\n"
        );
        assert_eq!(last_sentence("sudah masuk belum?"), "sudah masuk belum?");
        assert_eq!(last_sentence("ok"), "");
        let f = features(
            "Saya sudah transfer kemarin. Tolong batalkan order ini ya",
            Found::default(),
        );
        assert!(f.contains(&"l:batal".to_string()), "{f:?}");
        assert!(!f.contains(&"l:transfer".to_string()), "{f:?}");
    }

    #[test]
    fn the_committed_weights_load() {
        assert!(MODEL.is_some());
        let p = predict("batalin aja pesanan yg tadi", Found::default()).unwrap();
        assert!(p.probability > 0.0 && p.probability <= 1.0);
    }

    #[test]
    fn unreadable_weights_are_refused_not_guessed() {
        assert!(load("classes\tslip\trequest\n").is_none());
        assert!(load("bias\t1\t2\n").is_none());
        let ok = "classes\trequest\tslip\tamend\tcancel\tstatus\tunknown\n\
                  unknown_override\t0.5\ndisagree_override\t0.9\ncancel_override\t0.8\n\
                  bias\t0\t0\t0\t0\t0\t0\n";
        assert!(load(ok).is_some());
        assert!(load(&ok.replace("disagree_override\t0.9\n", "")).is_none());
        assert!(load(&ok.replace("cancel_override\t0.8\n", "")).is_none());
    }

    #[test]
    fn rules_stand_unless_the_model_is_sure() {
        let p = |intent, probability| {
            Some(Prediction {
                intent,
                probability,
                margin: 0.0,
                known_words: 3,
            })
        };
        let t = Thresholds {
            unknown_override: 0.5,
            disagree_override: 0.9,
            cancel_override: 0.8,
        };
        let c = |rule, m| combine_with(rule, m, t);
        assert_eq!(c(Intent::Unknown, p(Intent::Status, 0.7)), Intent::Status);
        assert_eq!(c(Intent::Unknown, p(Intent::Status, 0.3)), Intent::Unknown);
        assert_eq!(c(Intent::Slip, p(Intent::Status, 0.7)), Intent::Slip);
        assert_eq!(c(Intent::Slip, p(Intent::Status, 0.95)), Intent::Status);
        assert_eq!(c(Intent::Cancel, None), Intent::Cancel);
        // A cancellation the rules did not read needs the cancellation bar.
        assert_eq!(c(Intent::Unknown, p(Intent::Cancel, 0.7)), Intent::Unknown);
        assert_eq!(c(Intent::Unknown, p(Intent::Cancel, 0.85)), Intent::Cancel);
        assert_eq!(c(Intent::Status, p(Intent::Cancel, 0.95)), Intent::Cancel);
        let guess = Some(Prediction {
            intent: Intent::Cancel,
            probability: 0.99,
            margin: 0.9,
            known_words: 1,
        });
        assert_eq!(
            c(Intent::Unknown, guess),
            Intent::Unknown,
            "too little to go on"
        );
    }
}
