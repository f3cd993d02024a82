//! Hints: values the caller already knows (the customer's name, phone and addresses from
//! the CRM), found wherever they appear, exactly or lightly varied: other spacing and
//! punctuation, another case, accents dropped, a country code added or removed, one typo
//! in a long name word.

use crate::lexicon::WordTable;
use crate::scan::{Ctx, P_HINT};
use crate::text::folded;
use crate::{Kind, Why};

/// One known value and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// What the value is.
    pub kind: Kind,
    /// The value as the CRM holds it.
    pub value: String,
}

/// Known values to look for in a message. Cheap to build per message.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    items: Vec<Hint>,
}

impl Hints {
    /// No hints.
    pub fn new() -> Self {
        Hints::default()
    }

    /// Adds a value of a known kind.
    pub fn add(&mut self, kind: Kind, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.trim().is_empty() {
            self.items.push(Hint { kind, value });
        }
        self
    }

    /// Adds a value whose kind is guessed: an e-mail if it holds `@`, a phone if it is
    /// mostly digits, an address if it mixes words and digits, else a name.
    pub fn add_guess(&mut self, value: &str) -> &mut Self {
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let letters = value.chars().filter(|c| c.is_alphabetic()).count();
        let kind = if value.contains('@') {
            Kind::Email
        } else if digits >= 6 && letters == 0 {
            Kind::Phone
        } else if digits > 0 && letters > 0 {
            Kind::Address
        } else {
            Kind::Person
        };
        self.add(kind, value)
    }

    /// True when there are no hints.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The hints.
    pub fn iter(&self) -> impl Iterator<Item = &Hint> {
        self.items.iter()
    }
}

/// At most one edit (substitution, insertion or deletion) apart.
fn one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < la && j < lb {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        if la > lb {
            i += 1;
        } else if lb > la {
            j += 1;
        } else {
            i += 1;
            j += 1;
        }
    }
    edits + (la - i) + (lb - j) <= 1
}

fn word_match(text_word: &str, hint_word: &str) -> bool {
    text_word == hint_word || (hint_word.chars().count() >= 5 && one_edit(text_word, hint_word))
}

pub(crate) fn find(ctx: &mut Ctx<'_>, wt: &WordTable, hints: &Hints) {
    let mut buf = String::new();
    let words = &wt.words;
    let low: Vec<&str> = (0..wt.len()).map(|i| wt.low(i)).collect();
    let mut out: Vec<(Kind, usize, usize)> = Vec::new();
    for h in hints.iter() {
        let digits: Vec<u8> = h.value.bytes().filter(u8::is_ascii_digit).collect();
        let letters = h.value.chars().filter(|c| c.is_alphabetic()).count();
        match h.kind {
            Kind::Person | Kind::Address => {
                let hw: Vec<String> = {
                    let mut v = Vec::new();
                    crate::words::words(&h.value, &mut v);
                    v.iter()
                        .map(|w| folded(&h.value[w.s..w.e], &mut buf).to_string())
                        .collect()
                };
                let hw: Vec<&str> = hw
                    .iter()
                    .map(String::as_str)
                    .filter(|w| w.chars().count() >= 2)
                    .collect();
                if hw.is_empty() {
                    continue;
                }
                if h.kind == Kind::Person {
                    let mut i = 0;
                    while i < words.len() {
                        let ok = |k: usize| {
                            low[k].chars().count() >= 3 && hw.iter().any(|w| word_match(low[k], w))
                        };
                        if ok(i) {
                            let mut e = i;
                            while e + 1 < words.len()
                                && ok(e + 1)
                                && ctx.b[words[e].e..words[e + 1].s].iter().all(|&c| c == b' ')
                            {
                                e += 1;
                            }
                            out.push((Kind::Person, words[i].s, words[e].e));
                            i = e + 1;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    // the longest run of consecutive hint words, in order
                    let mut i = 0;
                    while i < words.len() {
                        let mut best = 0;
                        for (k, w) in hw.iter().enumerate() {
                            if !word_match(low[i], w) {
                                continue;
                            }
                            let mut m = 1;
                            while i + m < words.len()
                                && k + m < hw.len()
                                && word_match(low[i + m], hw[k + m])
                            {
                                m += 1;
                            }
                            best = best.max(m);
                        }
                        let wordy = (i..i + best)
                            .any(|k| low[k].chars().filter(|c| c.is_alphabetic()).count() >= 3);
                        if best >= 3.min(hw.len()) && best >= 2 && wordy {
                            out.push((Kind::Address, words[i].s, words[i + best - 1].e));
                            i += best;
                        } else {
                            i += 1;
                        }
                    }
                }
            }
            // A reference the CRM holds (kept visible): found only as a whole token, so
            // that it never keeps part of a longer number (a card) visible.
            Kind::Tracking | Kind::Order => {
                let v = h.value.trim();
                let mut from = 0;
                while let Some(p) = find_ci(&ctx.t[from..], v).map(|p| p + from) {
                    let e = p + v.len();
                    let alnum_before = ctx.t[..p]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphanumeric);
                    let alnum_after = ctx.t[e..].chars().next().is_some_and(char::is_alphanumeric);
                    if !alnum_before && !alnum_after {
                        out.push((h.kind, p, e));
                    }
                    from = e;
                }
            }
            _ if digits.len() >= 6 && digits.len() * 2 > letters => {
                let want: &[u8] = if h.kind == Kind::Phone && digits.len() > 10 {
                    &digits[digits.len() - 10..]
                } else {
                    &digits
                };
                // The country code the hint carries, when the match is its national part.
                let prefix = &digits[..digits.len() - want.len()];
                digit_runs(ctx.b, |pos: &[usize], ds: &[u8]| {
                    if let Some(p) = ds.windows(want.len()).position(|w| w == want) {
                        let mut start = p;
                        if !prefix.is_empty()
                            && p >= prefix.len()
                            && &ds[p - prefix.len()..p] == prefix
                        {
                            start = p - prefix.len();
                        }
                        let mut s = pos[start];
                        // "+44 7700…": the plus belongs to the number.
                        if s > 0 && ctx.b[s - 1] == b'+' {
                            s -= 1;
                        }
                        out.push((h.kind, s, pos[p + want.len() - 1] + 1));
                    }
                });
            }
            _ => {
                let v = h.value.trim();
                if let Some(p) = find_ci(ctx.t, v) {
                    out.push((h.kind, p, p + v.len()));
                }
            }
        }
    }
    for (kind, s, e) in out {
        // A name inside a larger token ("ottoline.b@example.net", "x.com/ottoline") is
        // part of that token: the e-mail or link finding covers it whole.
        if kind == Kind::Person && glued(ctx.t, s, e) {
            continue;
        }
        ctx.emit(kind, s, e, 0.99, Why::Hint, P_HINT);
    }
}

/// Whether `t[s..e]` is joined to the word characters around it by `@ . _ /` or directly.
fn glued(t: &str, s: usize, e: usize) -> bool {
    let joiner = |c: char| matches!(c, '@' | '.' | '_' | '/');
    let mut before = t.get(..s).unwrap_or("").chars().rev();
    let mut after = t.get(e..).unwrap_or("").chars();
    let side = |first: Option<char>, second: Option<char>| match first {
        Some(c) if c.is_alphanumeric() || c == '@' || c == '_' => true,
        Some(c) if joiner(c) => second.is_some_and(char::is_alphanumeric),
        _ => false,
    };
    side(before.next(), before.next()) || side(after.next(), after.next())
}

/// Calls `f` with every run of digits joined by phone separators: the digits and where
/// each one is.
fn digit_runs(b: &[u8], mut f: impl FnMut(&[usize], &[u8])) {
    let mut pos = Vec::new();
    let mut ds = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            pos.push(i);
            ds.push(b[i]);
            i += 1;
            continue;
        }
        let joins = !ds.is_empty()
            && matches!(b[i], b' ' | b'-' | b'.' | b'(' | b')' | b'/')
            && b.get(i + 1)
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, b' ' | b'(' | b'-'));
        if !joins && !ds.is_empty() {
            f(&pos, &ds);
            pos.clear();
            ds.clear();
        }
        i += 1;
    }
    if !ds.is_empty() {
        f(&pos, &ds);
    }
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| {
        hay.is_char_boundary(i)
            && h[i..i + n.len()].eq_ignore_ascii_case(n)
            && hay.is_char_boundary(i + n.len())
    })
}
