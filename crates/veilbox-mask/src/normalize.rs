//! Evasion folding: the scanner reads a folded copy of the text in which non-ASCII digits
//! are ASCII digits, full-width forms are ASCII, invisible characters are gone, emoji are
//! spaces, `[at]`/`(dot)` are `@`/`.`, and runs of spelled-out digits ("nine eight seven
//! six") are digits. Every folded byte remembers the span of the original it came from,
//! so findings are mapped back exactly. Text that needs no folding is not copied.

use std::borrow::Cow;

/// The folded text and, when it differs from the original, the origin of every byte.
pub(crate) struct Folded<'a> {
    pub(crate) text: Cow<'a, str>,
    /// The origin of the folded bytes, piece by piece, in order.
    map: Vec<Piece>,
}

/// Where a run of folded bytes came from. A map of pieces instead of one entry per byte:
/// most of a folded text is copied unchanged, and a copied run is one piece.
#[derive(Clone, Copy, Debug)]
struct Piece {
    /// The first folded byte.
    f: u32,
    /// Folded bytes in the piece (never 0).
    len: u32,
    /// Copied (`whole` false): folded byte `f + k` is original byte `o + k`. Otherwise every
    /// byte of the piece comes from the whole original span `[o, oe)`.
    o: u32,
    oe: u32,
    whole: bool,
}

impl Piece {
    /// The original span of folded byte `i` (inside the piece).
    fn origin(&self, i: usize) -> (usize, usize) {
        if self.whole {
            (self.o as usize, self.oe as usize)
        } else {
            let k = self.o as usize + (i - self.f as usize);
            (k, k + 1)
        }
    }
}

impl Folded<'_> {
    /// The original span of folded byte `i`, if there is such a byte.
    #[cfg(test)]
    fn byte_origin(&self, i: usize) -> Option<(usize, usize)> {
        let k = self.map.partition_point(|p| (p.f + p.len) as usize <= i);
        self.map.get(k).map(|p| p.origin(i))
    }

    /// The original byte span of the folded span `[s, e)`.
    #[cfg(test)]
    pub(crate) fn original(&self, s: usize, e: usize) -> (usize, usize) {
        if self.map.is_empty() || e == 0 {
            return (s, e);
        }
        let a = self.byte_origin(s).map_or(0, |m| m.0);
        let b = self.byte_origin(e - 1).map_or(0, |m| m.1);
        (a, b.max(a))
    }

    /// The original byte span of the folded span `[s, e)`, for spans given in order of
    /// start (as the resolved findings are): `cursor` (0 before the first span) remembers
    /// the piece reached, so the map is walked once for all spans instead of searched
    /// twice for each (as `original`, kept for the tests, does).
    pub(crate) fn original_in_order(
        &self,
        s: usize,
        e: usize,
        cursor: &mut usize,
    ) -> (usize, usize) {
        if self.map.is_empty() || e == 0 {
            return (s, e);
        }
        // the first piece that ends after `i`, as `byte_origin`'s search finds it; no
        // piece before the cursor ends after a later start
        let after = |mut k: usize, i: usize| {
            while self.map.get(k).is_some_and(|p| (p.f + p.len) as usize <= i) {
                k += 1;
            }
            k
        };
        let k = after(*cursor, s);
        *cursor = k;
        let a = self.map.get(k).map_or(0, |p| p.origin(s).0);
        let k = after(k, e - 1);
        let b = self.map.get(k).map_or(0, |p| p.origin(e - 1).1);
        (a, b.max(a))
    }
}

/// The digit value of a decimal digit from another script, if `c` is one.
fn script_digit(c: char) -> Option<u8> {
    const ZEROS: [u32; 21] = [
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
        0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x17E0, 0x1810, 0xFF10, 0x1D7CE,
    ];
    let u = c as u32;
    for z in ZEROS {
        if (z..z + 10).contains(&u) {
            return Some((u - z) as u8);
        }
    }
    None
}

enum Fold {
    Keep,
    Drop,
    Space,
    Ascii(u8),
}

fn fold_char(c: char) -> Fold {
    let u = c as u32;
    // Latin letters with accents and the like: below the first script digit (U+0660) only
    // the no-break space and the soft hyphen fold
    if u < 0x0660 {
        return match u {
            0x00A0 => Fold::Space,
            0x00AD => Fold::Drop,
            // superscript one, two, three
            0x00B9 => Fold::Ascii(b'1'),
            0x00B2 => Fold::Ascii(b'2'),
            0x00B3 => Fold::Ascii(b'3'),
            _ => Fold::Keep,
        };
    }
    if let Some(d) = script_digit(c) {
        return Fold::Ascii(b'0' + d);
    }
    match u {
        0xFF01..=0xFF5E => Fold::Ascii((u - 0xFEE0) as u8),
        // superscript and subscript digits, circled and dingbat digits: digits
        0x2070 => Fold::Ascii(b'0'),
        0x2074..=0x2079 => Fold::Ascii(b'0' + (u - 0x2070) as u8),
        0x2080..=0x2089 => Fold::Ascii(b'0' + (u - 0x2080) as u8),
        0x2460..=0x2468 => Fold::Ascii(b'1' + (u - 0x2460) as u8),
        0x24EA | 0x24FF => Fold::Ascii(b'0'),
        0x2776..=0x277E => Fold::Ascii(b'1' + (u - 0x2776) as u8),
        0x2780..=0x2788 => Fold::Ascii(b'1' + (u - 0x2780) as u8),
        0x278A..=0x2792 => Fold::Ascii(b'1' + (u - 0x278A) as u8),
        // the keycap that makes "9️⃣" of a digit
        0x20E3 => Fold::Drop,
        0x3000 | 0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => Fold::Space,
        0x200B..=0x200D | 0x2060 | 0xFEFF | 0xFE00..=0xFE0F | 0x00AD | 0xE0020..=0xE007F => {
            Fold::Drop
        }
        0x2010..=0x2015 | 0x2212 => Fold::Ascii(b'-'),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF => Fold::Space,
        _ => Fold::Keep,
    }
}

/// Spelled digits in the languages of the markets served (English, Portuguese, Spanish,
/// Indonesian, romanised Hindi, German, French), and "double"/"triple" (255).
const DIGIT_WORDS: &[(&[u8], u8)] = &[
    (b"double", 255),
    (b"triple", 255),
    (b"zero", 0),
    (b"oh", 0),
    (b"cero", 0),
    (b"nol", 0),
    (b"kosong", 0),
    (b"shunya", 0),
    (b"sifar", 0),
    (b"null", 0),
    ("z\u{e9}ro".as_bytes(), 0),
    (b"one", 1),
    (b"um", 1),
    (b"uno", 1),
    (b"una", 1),
    (b"satu", 1),
    (b"ek", 1),
    (b"eins", 1),
    (b"un", 1),
    (b"two", 2),
    (b"dois", 2),
    (b"duas", 2),
    (b"dos", 2),
    (b"dua", 2),
    (b"do", 2),
    (b"zwei", 2),
    (b"deux", 2),
    (b"three", 3),
    ("tr\u{ea}s".as_bytes(), 3),
    (b"tres", 3),
    (b"tiga", 3),
    (b"teen", 3),
    (b"drei", 3),
    (b"trois", 3),
    (b"four", 4),
    (b"quatro", 4),
    (b"cuatro", 4),
    (b"empat", 4),
    (b"char", 4),
    (b"chaar", 4),
    (b"vier", 4),
    (b"quatre", 4),
    (b"five", 5),
    (b"cinco", 5),
    (b"lima", 5),
    (b"paanch", 5),
    (b"panch", 5),
    ("f\u{fc}nf".as_bytes(), 5),
    (b"funf", 5),
    (b"cinq", 5),
    (b"six", 6),
    (b"seis", 6),
    (b"enam", 6),
    (b"chhe", 6),
    (b"che", 6),
    (b"sechs", 6),
    (b"seven", 7),
    (b"sete", 7),
    (b"siete", 7),
    (b"tujuh", 7),
    (b"saat", 7),
    (b"sieben", 7),
    (b"sept", 7),
    (b"eight", 8),
    (b"oito", 8),
    (b"ocho", 8),
    (b"delapan", 8),
    (b"aath", 8),
    (b"acht", 8),
    (b"huit", 8),
    (b"nine", 9),
    (b"nove", 9),
    (b"nueve", 9),
    (b"sembilan", 9),
    (b"nau", 9),
    (b"neun", 9),
    (b"neuf", 9),
];

/// A spelled digit word at `b[i..]` (whole word): (digits it stands for, repeat, length).
fn digit_word(b: &[u8], i: usize) -> Option<(u8, u8, usize)> {
    let end = b[i..]
        .iter()
        .position(|&c| !(c.is_ascii_alphabetic() || c >= 0x80))
        .map_or(b.len(), |p| i + p);
    let w = &b[i..end];
    if w.len() < 2 || w.len() > 8 {
        return None;
    }
    let mut low = [0u8; 8];
    for (d, c) in low.iter_mut().zip(w) {
        *d = c.to_ascii_lowercase();
    }
    let key = u64::from_le_bytes(low);
    let table = digit_word_table();
    let d = table[table.binary_search_by_key(&key, |&(k, _)| k).ok()?].1;
    let low = &low[..w.len()];
    let (d, r) = match (d, low) {
        (255, b"double") => (255, 2),
        (255, _) => (255, 3),
        (d, _) => (d, 1),
    };
    Some((d, r, end - i))
}

/// [`DIGIT_WORDS`] keyed by the word's bytes packed into a `u64` (zero-padded), sorted:
/// a word is found in a handful of comparisons, not by walking the table.
fn digit_word_table() -> &'static [(u64, u8)] {
    static TABLE: std::sync::OnceLock<Vec<(u64, u8)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(u64, u8)> = DIGIT_WORDS
            .iter()
            .filter(|(w, _)| w.len() <= 8)
            .map(|(w, d)| {
                let mut key = [0u8; 8];
                key[..w.len()].copy_from_slice(w);
                (u64::from_le_bytes(key), *d)
            })
            .collect();
        table.sort_unstable();
        table.dedup_by_key(|e| e.0);
        table
    })
}

/// Whether the word at `b[i..]` may be a spelled digit word, by its first two letters:
/// most words that start with one of the letters of a digit word are rejected here
/// without being read to their end.
fn digit_word_start(b: &[u8], i: usize) -> bool {
    // bit `second letter` of the entry of the first letter, for every digit word
    const STARTS: [u32; 26] = {
        let mut t = [0u32; 26];
        let mut k = 0;
        while k < DIGIT_WORDS.len() {
            let w = DIGIT_WORDS[k].0;
            if w[1].is_ascii_lowercase() {
                t[(w[0] - b'a') as usize] |= 1 << (w[1] - b'a');
            }
            k += 1;
        }
        t
    };
    match (b.get(i), b.get(i + 1)) {
        (Some(&c0), Some(&c1)) if c0.is_ascii_alphabetic() && c1.is_ascii_alphabetic() => {
            let (c0, c1) = (c0.to_ascii_lowercase(), c1.to_ascii_lowercase());
            STARTS[usize::from(c0 - b'a')] & (1 << (c1 - b'a')) != 0
        }
        _ => false,
    }
}

/// A run of at least four spelled digits starting at word `i`: the digits and the end.
fn spelled_run(b: &[u8], i: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut p = i;
    let mut end = i;
    let mut repeat = 1u8;
    // at most 24 words: a phone or card spelled out is shorter, and the bound keeps the
    // fold linear on "double double double ..."
    let mut words = 0;
    while p < b.len() && words < 24 {
        words += 1;
        let Some((d, r, len)) = digit_word(b, p) else {
            break;
        };
        if d == 255 {
            repeat = r;
        } else {
            for _ in 0..repeat {
                out.push(b'0' + d);
            }
            repeat = 1;
            end = p + len;
        }
        p += len;
        // separators between spelled digits: one space, hyphen or comma (+space)
        let mut q = p;
        while q < b.len() && q - p < 2 && matches!(b[q], b' ' | b'-' | b',') {
            q += 1;
        }
        if q == p || q >= b.len() || !b[q].is_ascii_alphabetic() {
            break;
        }
        p = q;
    }
    // "oh" alone is a word, not a digit: a run must hold real digit words
    (out.len() >= 4).then_some((out, end))
}

/// `[at]`, `(at)`, `{at}`, `<at>` and the same for `dot`: the folded byte and the length.
fn bracket_word(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let close = match b[i] {
        b'[' => b']',
        b'(' => b')',
        b'{' => b'}',
        b'<' => b'>',
        _ => return None,
    };
    for (w, out) in [(&b"at"[..], b'@'), (&b"dot"[..], b'.')] {
        let e = i + 1 + w.len();
        if e < b.len() && b[i + 1..e].eq_ignore_ascii_case(w) && b[e] == close {
            return Some((out, e + 1 - i));
        }
    }
    None
}

struct Out {
    text: String,
    map: Vec<Piece>,
}

impl Out {
    /// Appends `c`, every byte of it coming from the original span `[s, e)`.
    fn push(&mut self, c: char, s: usize, e: usize) {
        let f = self.text.len() as u32;
        self.text.push(c);
        let len = c.len_utf8() as u32;
        let (s, e) = (s as u32, e as u32);
        match self.map.last_mut() {
            // the digits of a spelled run all come from the whole run: one piece
            Some(p) if p.whole && p.o == s && p.oe == e && p.f + p.len == f => p.len += len,
            _ => self.map.push(Piece {
                f,
                len,
                o: s,
                oe: e,
                whole: true,
            }),
        }
    }

    /// The last folded byte now comes from an original span ending at `end`.
    fn extend_last(&mut self, end: usize) {
        let Some(p) = self.map.last_mut() else {
            return;
        };
        if p.whole && p.len == 1 {
            p.oe = end as u32;
            return;
        }
        p.len -= 1;
        let f = p.f + p.len;
        let (o, _) = p.origin(f as usize);
        if p.len == 0 {
            self.map.pop();
        }
        self.map.push(Piece {
            f,
            len: 1,
            o: o as u32,
            oe: end as u32,
            whole: true,
        });
    }

    /// Removes the last folded byte (an ASCII space).
    fn pop_space(&mut self) {
        self.text.pop();
        if let Some(p) = self.map.last_mut() {
            p.len -= 1;
            if p.len == 0 {
                self.map.pop();
            }
        }
    }
}

/// Appends the unchanged bytes `text[from..to]`, each mapped to itself.
fn copy(o: &mut Out, text: &str, from: usize, to: usize) {
    if from < to {
        let f = o.text.len() as u32;
        o.text.push_str(&text[from..to]);
        o.map.push(Piece {
            f,
            len: (to - from) as u32,
            o: from as u32,
            oe: 0,
            whole: false,
        });
    }
}

/// The output, created on the first fold, with the unchanged bytes `text[*from..i]` that
/// were passed over since the last change appended (runs of unchanged bytes are copied in
/// one go, not byte by byte).
fn out_at<'o>(out: &'o mut Option<Out>, text: &str, from: &mut usize, i: usize) -> &'o mut Out {
    let o = out.get_or_insert_with(|| Out {
        text: String::with_capacity(text.len() + 8),
        map: Vec::with_capacity(16),
    });
    copy(o, text, *from, i);
    *from = i;
    o
}

/// Byte classes for the folding loop, one table lookup per byte.
const ALNUM: u8 = 1;
/// A letter that starts a spelled digit word ("zero", "oh", "one" … "nine", "double",
/// "triple").
const DIGIT_WORD: u8 = 2;
/// `[`, `(`, `{`, `<`: may open `[at]` or `(dot)`.
const BRACKET: u8 = 4;
/// A byte of a multi-byte character.
const HIGH: u8 = 8;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b >= 0x80 {
            HIGH
        } else if b.is_ascii_alphanumeric() {
            match b.to_ascii_lowercase() {
                b'z' | b'o' | b't' | b'f' | b's' | b'e' | b'n' | b'd' | b'a' | b'c' | b'h'
                | b'k' | b'l' | b'p' | b'q' | b'u' | b'v' => ALNUM | DIGIT_WORD,
                _ => ALNUM,
            }
        } else if matches!(b, b'[' | b'(' | b'{' | b'<') {
            BRACKET
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

/// Folds `text` (see the module doc). Borrows when nothing needs folding.
pub(crate) fn fold(text: &str) -> Folded<'_> {
    let b = text.as_bytes();
    let mut out: Option<Out> = None;
    // bytes from `from` to `i` are unchanged and not yet appended to `out`
    let mut from = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let k = class(c);
        if k == 0 {
            // spaces, most punctuation; several spaces (or one line break) between digits
            // are one space: "4111  1111", "(31) 9 8823\n4410"
            if matches!(c, b' ' | b'\n' | b'\t') && i > 0 && b[i - 1].is_ascii_digit() {
                if let Some(j) = digit_gap(b, i) {
                    let o = out_at(&mut out, text, &mut from, i);
                    o.push(' ', i, j);
                    i = j;
                    from = j;
                    continue;
                }
            }
            i += 1;
            continue;
        }
        if k & ALNUM != 0 {
            // a run of letters and digits: nothing in it folds but a spelled-out digit run
            // at its start (a letter after a non-alphanumeric byte)
            if k & DIGIT_WORD != 0
                && (i == 0 || class(b[i - 1]) & ALNUM == 0)
                && digit_word_start(b, i)
            {
                if let Some((digits, end)) = spelled_run(b, i) {
                    let o = out_at(&mut out, text, &mut from, i);
                    // each digit maps to the whole run, so spans cover the words
                    for d in digits {
                        o.push(char::from(d), i, end);
                    }
                    i = end;
                    from = end;
                    continue;
                }
            }
            // (a plain loop: measured cheaper here than `position`)
            let start = i;
            i += 1;
            while i < b.len() && class(b[i]) & ALNUM != 0 {
                i += 1;
            }
            // "O7911 l23456": letters that look like digits, in a run of digits
            if let Some(digits) = homoglyph_digits(&b[start..i]) {
                let o = out_at(&mut out, text, &mut from, start);
                for (k, d) in digits.into_iter().enumerate() {
                    o.push(char::from(d), start + k, start + k + 1);
                }
                from = i;
                continue;
            }
            // and the space (or other byte that never folds) usually after a word; not
            // whitespace after a digit, which may be a gap inside a number (below)
            if i < b.len()
                && class(b[i]) == 0
                && !(b[i - 1].is_ascii_digit() && matches!(b[i], b' ' | b'\n' | b'\t'))
            {
                i += 1;
            }
            continue;
        }
        if k & BRACKET != 0 {
            if let Some((f, len)) = bracket_word(b, i) {
                let o = out_at(&mut out, text, &mut from, i);
                let mut s = i;
                if o.text.ends_with(' ') {
                    o.pop_space();
                    s -= 1;
                }
                let mut e = i + len;
                if e < b.len() && b[e] == b' ' {
                    e += 1;
                }
                o.push(char::from(f), s, e);
                i = e;
                from = e;
                continue;
            }
            i += 1;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('\u{FFFD}');
        let len = ch.len_utf8();
        match fold_char(ch) {
            Fold::Keep => {
                // a kept character maps each of its bytes to the whole character
                if let Some(o) = out.as_mut() {
                    copy(o, text, from, i);
                    o.push(ch, i, i + len);
                    from = i + len;
                }
            }
            Fold::Drop => {
                let o = out_at(&mut out, text, &mut from, i);
                // the dropped character belongs to the byte before it, if any
                o.extend_last(i + len);
                from = i + len;
            }
            Fold::Space => {
                let o = out_at(&mut out, text, &mut from, i);
                // the spaces around an emoji go with it: "0856 👉 9012" is one number
                let mut end = i + len;
                while end < b.len() && b[end] == b' ' {
                    end += 1;
                }
                if o.text.ends_with(' ') {
                    o.extend_last(end);
                } else {
                    o.push(' ', i, end);
                }
                from = end;
                i = end;
                continue;
            }
            Fold::Ascii(a) => {
                let o = out_at(&mut out, text, &mut from, i);
                o.push(char::from(a), i, i + len);
                from = i + len;
            }
        }
        i += len;
    }
    match out {
        None => Folded {
            text: Cow::Borrowed(text),
            map: Vec::new(),
        },
        Some(mut o) => {
            copy(&mut o, text, from, b.len());
            Folded {
                text: Cow::Owned(o.text),
                map: o.map,
            }
        }
    }
}

/// The end of the whitespace at `b[i..]` (after a digit) when it should fold to one space:
/// two or more spaces before a digit, or one line break between a number of four digits
/// or more and a short chunk ("0733\n219 884"); `None` for an ordinary single space.
fn digit_gap(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut breaks = 0;
    while j < b.len() && j - i < 6 && matches!(b[j], b' ' | b'\n' | b'\t' | b'\r') {
        breaks += usize::from(b[j] == b'\n');
        j += 1;
    }
    if j >= b.len() || !b[j].is_ascii_digit() || breaks > 1 || (j - i < 2 && b[i] == b' ') {
        return None;
    }
    if breaks == 1 {
        // the number before, on its line: digits, spaces and phone punctuation
        let line = &b[..i];
        let run = line
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'(' | b')' | b'.'))
            .filter(|c| c.is_ascii_digit())
            .count();
        let next = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        // a line that already holds a whole number (a card) does not go on; nor does one
        // followed by a date or an expiry line ("…5238\n06 / 29")
        let after = b[j + next..].iter().find(|&&c| c != b' ');
        if !(4..10).contains(&run) || next > 4 || matches!(after, Some(b'/' | b'-' | b'.')) {
            return None;
        }
    }
    Some(j)
}

/// A run of digits with letters that look like them (`O`, `o` for 0; `I`, `l` for 1): the
/// digits it stands for. At least three characters, one real digit and one look-alike.
fn homoglyph_digits(run: &[u8]) -> Option<Vec<u8>> {
    if run.len() < 3 || !matches!(run[0], b'0'..=b'9' | b'O' | b'o' | b'I' | b'l') {
        return None;
    }
    // checked before anything is allocated: most words that start like this are words
    let mut digits = 0;
    for &c in run {
        match c {
            b'0'..=b'9' => digits += 1,
            b'O' | b'o' | b'I' | b'l' => {}
            _ => return None,
        }
    }
    if digits == 0 || digits == run.len() {
        return None;
    }
    Some(
        run.iter()
            .map(|&c| match c {
                b'O' | b'o' => b'0',
                b'I' | b'l' => b'1',
                d => d,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_maps_back() {
        let t = "call ९८७६५४३२१० now";
        let f = fold(t);
        assert_eq!(f.text, "call 9876543210 now");
        let (s, e) = f.original(5, 15);
        assert_eq!(&t[s..e], "९८७६५४३२१०");

        let t = "nine eight seven six five four three two one zero pls";
        let f = fold(t);
        assert_eq!(f.text, "9876543210 pls");
        let (s, e) = f.original(0, 10);
        assert_eq!(
            &t[s..e],
            "nine eight seven six five four three two one zero"
        );

        let t = "rahul [at] gmail [dot] com";
        let f = fold(t);
        assert_eq!(f.text, "rahul@gmail.com");

        let t = "98765🙏43210";
        let f = fold(t);
        assert_eq!(f.text, "98765 43210");
        assert!(matches!(fold("plain ascii").text, Cow::Borrowed(_)));

        // spans in order of start map as each one alone does
        for t in [
            "call ९८७६५४३२१० now 👍 é [at] x\u{200b}y nine eight seven six ok",
            "98765🙏43210 and ０１２ (dot) ß",
        ] {
            let f = fold(t);
            let n = f.text.len();
            for len in 1..4 {
                let mut cursor = 0;
                for s in (0..n + 2).step_by(len) {
                    let e = s + len;
                    assert_eq!(f.original_in_order(s, e, &mut cursor), f.original(s, e));
                }
            }
        }
        assert_eq!(fold("one two").text, "one two");
    }

    #[test]
    fn gaps_inside_numbers_fold_to_one_space() {
        assert_eq!(fold("card 4111  1111  1111").text, "card 4111 1111 1111");
        assert_eq!(fold("ni 0733\n219 884").text, "ni 0733 219 884");
        assert_eq!(fold("(31) 9 8823\n4410 ok").text, "(31) 9 8823 4410 ok");
        // an ordinary space, a paragraph break, a list on lines: unchanged
        assert_eq!(fold("12 34").text, "12 34");
        assert_eq!(fold("box 12\n\n34 left").text, "box 12\n\n34 left");
        assert_eq!(fold("1\n2\n3").text, "1\n2\n3");
        assert_eq!(
            fold("4951 7912 1855 5238\n06 / 29\n281").text,
            "4951 7912 1855 5238\n06 / 29\n281"
        );
    }
}
