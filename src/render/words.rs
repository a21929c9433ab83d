//! Amounts in words for receipts ("terbilang"): `Rp 1.500.000` is
//! "satu juta lima ratus ribu rupiah" in Indonesian and "one million five
//! hundred thousand rupiah" in English. Sen follow the rupiah
//! ("... rupiah lima puluh sen" / "... rupiah and fifty sen"). Handles every
//! amount [`Money`] can hold (below a thousand trillion rupiah).

use crate::domain::Lang;
use crate::domain::money::Money;

/// Sen per rupiah (Money's minor unit).
const SEN_PER_RUPIAH: u64 = 100;

/// The amount in lower-case words in `lang`, with the currency ("rupiah")
/// and any sen.
pub fn amount_in_words(m: Money, lang: Lang) -> String {
    let minor = m.minor();
    let negative = minor < 0;
    let abs = minor.unsigned_abs();
    let rupiah = abs / SEN_PER_RUPIAH;
    let sen = abs % SEN_PER_RUPIAH;
    let (minus, number, and_sen) = match lang {
        Lang::Id => ("minus", indonesian as fn(u64) -> String, ""),
        Lang::En => ("minus", english as fn(u64) -> String, "and "),
    };
    let mut out = String::new();
    if negative {
        out.push_str(minus);
        out.push(' ');
    }
    if rupiah > 0 || sen == 0 {
        out.push_str(&number(rupiah));
        out.push_str(" rupiah");
        if sen > 0 {
            out.push(' ');
            out.push_str(and_sen);
        }
    }
    if sen > 0 {
        out.push_str(&number(sen));
        out.push_str(" sen");
    }
    out
}

const ID_UNITS: [&str; 10] = [
    "nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
];

/// 0..=999 in Indonesian; empty for 0.
fn indonesian_below_thousand(n: u64) -> String {
    let hundreds = n / 100;
    let rest = n % 100;
    let mut parts: Vec<String> = Vec::new();
    match hundreds {
        0 => {}
        1 => parts.push("seratus".to_owned()),
        h => parts.push(format!("{} ratus", ID_UNITS[h as usize])),
    }
    match rest {
        0 => {}
        1..=9 => parts.push(ID_UNITS[rest as usize].to_owned()),
        10 => parts.push("sepuluh".to_owned()),
        11 => parts.push("sebelas".to_owned()),
        12..=19 => parts.push(format!("{} belas", ID_UNITS[(rest - 10) as usize])),
        _ => {
            parts.push(format!("{} puluh", ID_UNITS[(rest / 10) as usize]));
            if !rest.is_multiple_of(10) {
                parts.push(ID_UNITS[(rest % 10) as usize].to_owned());
            }
        }
    }
    parts.join(" ")
}

/// Any non-negative number in Indonesian words.
fn indonesian(n: u64) -> String {
    if n == 0 {
        return ID_UNITS[0].to_owned();
    }
    const SCALES: [(u64, &str); 5] = [
        (1_000_000_000_000_000, "biliar"),
        (1_000_000_000_000, "triliun"),
        (1_000_000_000, "miliar"),
        (1_000_000, "juta"),
        (1_000, "ribu"),
    ];
    let mut rest = n;
    let mut parts = Vec::new();
    for (scale, name) in SCALES {
        let group = rest / scale;
        rest %= scale;
        if group == 0 {
            continue;
        }
        // "seribu" only for exactly one thousand; "satu juta", "satu miliar".
        if scale == 1_000 && group == 1 {
            parts.push("seribu".to_owned());
        } else {
            parts.push(format!("{} {name}", indonesian(group)));
        }
    }
    if rest > 0 {
        parts.push(indonesian_below_thousand(rest));
    }
    parts.join(" ")
}

const EN_SMALL: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// 1..=999 in English.
fn english_below_thousand(n: u64) -> String {
    let hundreds = n / 100;
    let rest = n % 100;
    let mut parts: Vec<String> = Vec::new();
    if hundreds > 0 {
        parts.push(format!("{} hundred", EN_SMALL[hundreds as usize]));
    }
    match rest {
        0 => {}
        1..=19 => parts.push(EN_SMALL[rest as usize].to_owned()),
        _ if rest.is_multiple_of(10) => parts.push(EN_TENS[(rest / 10) as usize].to_owned()),
        _ => parts.push(format!(
            "{}-{}",
            EN_TENS[(rest / 10) as usize],
            EN_SMALL[(rest % 10) as usize]
        )),
    }
    parts.join(" ")
}

/// Any non-negative number in English words (short scale).
fn english(n: u64) -> String {
    if n == 0 {
        return EN_SMALL[0].to_owned();
    }
    const SCALES: [(u64, &str); 6] = [
        (1_000_000_000_000_000_000, "quintillion"),
        (1_000_000_000_000_000, "quadrillion"),
        (1_000_000_000_000, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ];
    let mut rest = n;
    let mut parts = Vec::new();
    for (scale, name) in SCALES {
        let group = rest / scale;
        rest %= scale;
        if group > 0 {
            parts.push(format!("{} {name}", english_below_thousand(group)));
        }
    }
    if rest > 0 {
        parts.push(english_below_thousand(rest));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(rupiah: i64) -> String {
        amount_in_words(Money::from_minor(rupiah * 100), Lang::Id)
    }

    fn en(rupiah: i64) -> String {
        amount_in_words(Money::from_minor(rupiah * 100), Lang::En)
    }

    #[test]
    fn indonesian_words() {
        assert_eq!(id(1_500_000), "satu juta lima ratus ribu rupiah");
        assert_eq!(id(0), "nol rupiah");
        assert_eq!(id(1), "satu rupiah");
        assert_eq!(id(10), "sepuluh rupiah");
        assert_eq!(id(11), "sebelas rupiah");
        assert_eq!(id(17), "tujuh belas rupiah");
        assert_eq!(id(21), "dua puluh satu rupiah");
        assert_eq!(id(100), "seratus rupiah");
        assert_eq!(id(111), "seratus sebelas rupiah");
        assert_eq!(id(1_000), "seribu rupiah");
        assert_eq!(id(1_001), "seribu satu rupiah");
        assert_eq!(id(2_000), "dua ribu rupiah");
        assert_eq!(id(101_000), "seratus satu ribu rupiah");
        assert_eq!(id(750_000), "tujuh ratus lima puluh ribu rupiah");
        assert_eq!(id(1_000_000), "satu juta rupiah");
        assert_eq!(
            id(12_345_678),
            "dua belas juta tiga ratus empat puluh lima ribu enam ratus tujuh puluh delapan rupiah"
        );
        assert_eq!(id(1_000_000_000), "satu miliar rupiah");
        assert_eq!(id(2_000_001_000), "dua miliar seribu rupiah");
        assert_eq!(id(3_000_000_000_000), "tiga triliun rupiah");
        assert_eq!(
            id(999_999_999_999_999),
            "sembilan ratus sembilan puluh sembilan triliun sembilan ratus sembilan puluh \
             sembilan miliar sembilan ratus sembilan puluh sembilan juta sembilan ratus \
             sembilan puluh sembilan ribu sembilan ratus sembilan puluh sembilan rupiah"
        );
    }

    #[test]
    fn english_words() {
        assert_eq!(en(1_500_000), "one million five hundred thousand rupiah");
        assert_eq!(en(0), "zero rupiah");
        assert_eq!(en(15), "fifteen rupiah");
        assert_eq!(en(40), "forty rupiah");
        assert_eq!(en(99), "ninety-nine rupiah");
        assert_eq!(en(1_000), "one thousand rupiah");
        assert_eq!(en(101_000), "one hundred one thousand rupiah");
        assert_eq!(
            en(12_345_678),
            "twelve million three hundred forty-five thousand six hundred seventy-eight rupiah"
        );
        assert_eq!(en(7_000_000_000_000), "seven trillion rupiah");
        assert_eq!(en(2_000_000_005), "two billion five rupiah");
    }

    #[test]
    fn sen_follow_the_rupiah() {
        let m = Money::from_minor(150_000_050);
        assert_eq!(
            amount_in_words(m, Lang::Id),
            "satu juta lima ratus ribu rupiah lima puluh sen"
        );
        assert_eq!(
            amount_in_words(m, Lang::En),
            "one million five hundred thousand rupiah and fifty sen"
        );
        assert_eq!(amount_in_words(Money::from_minor(5), Lang::Id), "lima sen");
        assert_eq!(
            amount_in_words(Money::from_minor(99), Lang::En),
            "ninety-nine sen"
        );
        assert_eq!(
            amount_in_words(Money::from_minor(-100), Lang::En),
            "minus one rupiah"
        );
    }
}
