//! Words of the folded text for the name and address recognisers: runs of letters and
//! digits in any script, with inner apostrophes and hyphens ("O'Brien", "Jean-Pierre").

/// A word's byte span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Word {
    pub(crate) s: usize,
    pub(crate) e: usize,
}

/// Byte classes, one table lookup per byte instead of a chain of range checks.
const ALNUM: u8 = 1;
/// `'` or `-`: inside a word when letters stand on both sides.
const JOIN: u8 = 2;
const LETTER: u8 = 4;
/// A byte of a multi-byte character: the character decides.
const HIGH: u8 = 8;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b >= 0x80 {
            HIGH
        } else if b.is_ascii_alphabetic() {
            ALNUM | LETTER
        } else if b.is_ascii_digit() {
            ALNUM
        } else if b == b'\'' || b == b'-' {
            JOIN
        } else {
            0
        };
        c += 1;
    }
    t
};

fn class(c: u8) -> u8 {
    CLASS[usize::from(c)]
}

/// The next word at or after byte `i` of `t` (a char boundary): the word and whether it is
/// all ASCII.
#[inline(always)]
pub(crate) fn next_word(t: &str, i: usize) -> Option<(Word, bool)> {
    next_word_before(t, i, t.len())
}

/// [`next_word`], if the word starts before `limit` (a char boundary of `t`).
#[inline(always)]
pub(crate) fn next_word_before(t: &str, mut i: usize, limit: usize) -> Option<(Word, bool)> {
    let b = t.as_bytes();
    let n = b.len();
    // skip to a word start
    loop {
        // a plain loop: measured cheaper here than `position`
        while i < limit && class(b[i]) & (ALNUM | HIGH) == 0 {
            i += 1;
        }
        if i >= limit {
            return None;
        }
        if b[i] < 0x80 {
            break;
        }
        let c = t[i..].chars().next().unwrap_or(' ');
        if c.is_alphanumeric() {
            break;
        }
        i += c.len_utf8();
    }
    let s = i;
    let mut ascii = true;
    while i < n {
        let k = class(b[i]);
        if k & ALNUM != 0 {
            i += 1;
            continue;
        }
        if k & JOIN != 0 {
            // inner apostrophe or hyphen between letters
            if i > s && class(b[i - 1]) & LETTER != 0 && i + 1 < n && class(b[i + 1]) & LETTER != 0
            {
                i += 1;
                continue;
            }
            break;
        }
        if k & HIGH == 0 {
            break;
        }
        let ch = t[i..].chars().next().unwrap_or(' ');
        if !(ch.is_alphanumeric() || script_mark(ch)) {
            break;
        }
        ascii = false;
        i += ch.len_utf8();
    }
    Some((Word { s, e: i }, ascii))
}

/// Splits `t` into words.
pub(crate) fn words(t: &str, out: &mut Vec<Word>) {
    let mut i = 0;
    while let Some((w, _)) = next_word(t, i) {
        out.push(w);
        i = w.e;
    }
}

/// The vowel signs, viramas and nuktas of Indic scripts, combining accents and the harakat
/// of Arabic: parts of a written word ("मोहम्मद", "مُحَمَّد") that are not letters on their own.
pub(crate) fn script_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0900}'..='\u{0DFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules as first written, one range check at a time: the table must agree.
    fn words_plain(t: &str) -> Vec<(usize, usize)> {
        let b = t.as_bytes();
        let n = b.len();
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            while i < n && b[i] < 0x80 && !b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if i >= n {
                break;
            }
            if b[i] >= 0x80 {
                let c = t[i..].chars().next().unwrap_or(' ');
                if !c.is_alphanumeric() {
                    i += c.len_utf8();
                    continue;
                }
            }
            let s = i;
            while i < n {
                let c = b[i];
                if c < 0x80 {
                    if c.is_ascii_alphanumeric() {
                        i += 1;
                        continue;
                    }
                    if (c == b'\'' || c == b'-')
                        && i > s
                        && b[i - 1].is_ascii_alphabetic()
                        && i + 1 < n
                        && b[i + 1].is_ascii_alphabetic()
                    {
                        i += 1;
                        continue;
                    }
                    break;
                }
                let ch = t[i..].chars().next().unwrap_or(' ');
                if ch.is_alphanumeric() {
                    i += ch.len_utf8();
                    continue;
                }
                break;
            }
            out.push((s, i));
        }
        out
    }

    #[test]
    fn table_agrees_with_the_rules() {
        for t in [
            "",
            " ",
            "O'Brien and Jean-Pierre -x- 'a' a-1 1-a don't--",
            "São Paulo, Müller-Lüdenscheid ९८७६ 👍 ok'",
            "a-é é-a x'ß 12-34 ab-",
            "naïve—café “quoted” end",
        ] {
            let mut got = Vec::new();
            words(t, &mut got);
            let got: Vec<(usize, usize)> = got.iter().map(|w| (w.s, w.e)).collect();
            assert_eq!(got, words_plain(t), "{t:?}");
            for w in &got {
                let ascii = next_word(t, w.0).map(|(_, a)| a);
                assert_eq!(ascii, Some(t[w.0..w.1].is_ascii()), "{t:?}");
            }
        }
    }
}
