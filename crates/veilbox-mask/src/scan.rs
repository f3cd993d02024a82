//! The lexer: one left-to-right pass over the folded text that reads each word once and
//! hands digit groups, alphanumeric tokens, e-mails, links and coordinates to their
//! recognisers. Cue words come from one Aho-Corasick pass done before it. Everything here
//! is linear in the text: every recogniser looks at a bounded window around its token.

use crate::checks;
use crate::cues::{Cue, CueHit};
use crate::text::char_before;
use crate::words::Word;
use crate::{Kind, Why};

/// Byte classes for the lexer's word loop, one table lookup per byte.
const LETTER: u8 = 1;
/// ASCII whitespace: ends a word.
const SPACE: u8 = 2;
/// Anything else.
const OTHER: u8 = 4;
/// Marks on some `OTHER` bytes, so that `word` looks for them only in words that hold
/// them: `@`, `:` or `=`, `.` or `/`.
const AT: u8 = 8;
const KEY_SEP: u8 = 16;
const DOT_SLASH: u8 = 32;

const CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphabetic() {
            t[c] = LETTER;
        } else if b.is_ascii_whitespace() {
            t[c] = SPACE;
        } else if b == b'@' {
            t[c] = OTHER | AT;
        } else if b == b':' || b == b'=' {
            t[c] = OTHER | KEY_SEP;
        } else if b == b'.' || b == b'/' {
            t[c] = OTHER | DOT_SLASH;
        }
        c += 1;
    }
    t
};

fn class(c: u8) -> u8 {
    CLASS[usize::from(c)]
}

/// Closing punctuation trimmed from the end of a word.
fn is_trailing(c: u8) -> bool {
    matches!(
        c,
        b'.' | b','
            | b';'
            | b':'
            | b'!'
            | b'?'
            | b')'
            | b']'
            | b'"'
            | b'\''
            | b'>'
            | b'*'
            | b'}'
            | b'|'
    )
}

/// Priorities used when findings overlap: the higher wins.
pub(crate) const P_HINT: u8 = 100;
pub(crate) const P_CHECKSUM: u8 = 90;
pub(crate) const P_KEEP: u8 = 85;
pub(crate) const P_FORMAT: u8 = 80;
pub(crate) const P_CUE: u8 = 75;
pub(crate) const P_ADDRESS: u8 = 60;
pub(crate) const P_PERSON: u8 = 55;
pub(crate) const P_WEAK: u8 = 40;

/// A finding before overlaps are resolved, in folded-text byte offsets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub(crate) kind: Kind,
    pub(crate) s: usize,
    pub(crate) e: usize,
    pub(crate) conf: f32,
    pub(crate) why: Why,
    pub(crate) prio: u8,
}

/// A number shaped like a postcode, decided once addresses are known.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaybePostcode {
    pub(crate) s: usize,
    pub(crate) e: usize,
    /// What it is if no address comes just before it ("PIN 4521" is an OTP).
    pub(crate) otherwise: Option<Cand>,
}

/// Per-scan state.
pub(crate) struct Ctx<'a> {
    pub(crate) t: &'a str,
    pub(crate) b: &'a [u8],
    pub(crate) cues: &'a [CueHit],
    /// The message has no upper-case letter: names and places are not capitalised.
    pub(crate) lower_only: bool,
    pub(crate) cands: Vec<Cand>,
    pub(crate) maybe_postcodes: Vec<MaybePostcode>,
    pub(crate) tracking: Option<&'a regex_automata::meta::Regex>,
    /// No lower-case or no upper-case letter: case says nothing about key prefixes.
    caseless: bool,
    card_seen: bool,
    last_expiry_end: Option<usize>,
    /// End of the last mask tag (`[PHONE]`) read.
    last_tag_end: usize,
    /// Runs of ASCII letters that start a token after whitespace (or at the start of the
    /// text) and end it, but for closing punctuation; in order: each is one word of the
    /// word table, which then does not split them again.
    pub(crate) plain: Vec<Word>,
}

#[derive(Clone, Copy, Default, Debug)]
struct Seg {
    s: usize,
    e: usize,
    /// The separator before this segment (0 for the first).
    sep: u8,
}

const MAX_SEGS: usize = 12;

/// A run of digits joined by phone/card/date separators.
struct Group {
    start: usize,
    plus: bool,
    segs: [Seg; MAX_SEGS],
    k: usize,
}

/// A contiguous part of a group, with its digits gathered.
struct View {
    s: usize,
    e: usize,
    d: [u8; 40],
    n: usize,
    lens: [u8; MAX_SEGS],
    seps: [u8; MAX_SEGS],
    k: usize,
    plus: bool,
    paren: bool,
}

impl View {
    fn digits(&self) -> &[u8] {
        &self.d[..self.n]
    }
    fn lens(&self) -> &[u8] {
        &self.lens[..self.k]
    }
    /// Separators between segments.
    fn seps(&self) -> &[u8] {
        &self.seps[1..self.k]
    }
    fn all_seps(&self, c: u8) -> bool {
        self.k > 1 && self.seps().iter().all(|&x| x == c)
    }
}

enum Out {
    Emit(Cand),
    Maybe(MaybePostcode),
    Skip,
    Nothing,
}

fn has_break(s: &[u8]) -> bool {
    for i in 0..s.len() {
        match s[i] {
            b'\n' | b'!' | b'?' => return true,
            b'.' if i + 1 < s.len() && s[i + 1] == b' ' => {
                // "No. 5", "Jl. X", "Rs. 40": short abbreviations do not end a sentence
                let w = s[..i]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count();
                if w == 0 || w > 3 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |a, &c| {
        a.saturating_mul(10).saturating_add(u32::from(c - b'0'))
    })
}

/// North American number: area and exchange codes start 2-9.
fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d[0] >= b'2' && d[3] >= b'2' && &d[1..3] != b"11" && &d[4..6] != b"11"
}

fn toll_free(v: &View, plus: bool) -> bool {
    let d = v.digits();
    let s = |p: &[u8]| d.starts_with(p);
    if plus {
        return (s(b"1") && d.len() == 11 && d[1] == b'8' && d[2] == d[3] && d[2] != b'1')
            || s(b"44800")
            || s(b"44808")
            || s(b"911800");
    }
    s(b"1800")
        || s(b"1860")
        || s(b"0800")
        || s(b"0808")
        || s(b"0500")
        || (d.len() == 10
            && d[0] == b'8'
            && d[1] == d[2]
            && matches!(d[1], b'0' | b'3'..=b'8')
            && v.k >= 2
            && v.lens[0] == 3)
        || (d.len() == 11 && d[0] == b'1' && d[1] == b'8' && d[2] == d[3] && d[2] != b'1')
}

/// Units and counted nouns after a number ("5 kg", "3 pm", "2 days"), `w` in lower case
/// ("%" glued to the number is checked by the caller). A `match`, which compiles to a
/// switch on the length and a few compares, not a walk over every unit.
fn is_unit(w: &[u8]) -> bool {
    matches!(
        w,
        b"kg"
            | b"kgs"
            | b"g"
            | b"gm"
            | b"gms"
            | b"gram"
            | b"grams"
            | b"lb"
            | b"lbs"
            | b"oz"
            | b"km"
            | b"kms"
            | b"cm"
            | b"mm"
            | b"ml"
            | b"m"
            | b"pm"
            | b"am"
            | b"hrs"
            | b"hr"
            | b"h"
            | b"hours"
            | b"hour"
            | b"mins"
            | b"min"
            | b"minutes"
            | b"sec"
            | b"secs"
            | b"days"
            | b"day"
            | b"dias"
            | b"hari"
            | b"jam"
            | b"x"
            | b"pcs"
            | b"pc"
            | b"items"
            | b"item"
            | b"boxes"
            | b"box"
            | b"packages"
            | b"parcels"
            | b"rs"
            | b"rupees"
            | b"reais"
            | b"euro"
            | b"euros"
            | b"dollars"
            | b"usd"
            | b"inr"
            | b"eur"
            | b"gbp"
            | b"idr"
            | b"brl"
            | b"rb"
            | b"ribu"
            | b"k"
            | b"lakh"
            | b"lakhs"
            | b"crore"
            | b"mb"
            | b"gb"
            | b"th"
            | b"st"
            | b"nd"
            | b"rd"
            | b"times"
            | b"weeks"
            | b"week"
            | b"months"
            | b"years"
            | b"yrs"
            | b"floor"
            | b"pax"
            | b"people"
            | b"orders"
            | b"tickets"
            | b"naira"
            | b"ngn"
            | b"kes"
            | b"ksh"
            | b"shillings"
            | b"mxn"
            | b"pesos"
            | b"chf"
            | b"aed"
            | b"zar"
            | b"rupiah"
            | b"rupia"
            | b"reales"
            | b"jt"
            | b"juta"
            | b"mil"
            | b"l"
            | b"litres"
            | b"liters"
            | b"mah"
            | b"w"
            | b"kw"
            | b"kwh"
            | b"stk"
            | b"colis"
            | b"paquetes"
            | b"pacotes"
            | b"unidades"
            | b"uds"
            | b"tage"
            | b"jours"
            | b"semaines"
            | b"minuten"
            | b"stunden"
    )
}

const MONTHS: &[(&str, u8)] = &[
    ("jan", 1),
    ("january", 1),
    ("janeiro", 1),
    ("januari", 1),
    ("janvier", 1),
    ("enero", 1),
    ("januar", 1),
    ("feb", 2),
    ("february", 2),
    ("fevereiro", 2),
    ("fev", 2),
    ("februari", 2),
    ("février", 2),
    ("febrero", 2),
    ("februar", 2),
    ("mar", 3),
    ("march", 3),
    ("março", 3),
    ("marco", 3),
    ("maret", 3),
    ("mars", 3),
    ("marzo", 3),
    ("märz", 3),
    ("apr", 4),
    ("april", 4),
    ("abril", 4),
    ("avril", 4),
    ("abr", 4),
    ("may", 5),
    ("mai", 5),
    ("mei", 5),
    ("maio", 5),
    ("mayo", 5),
    ("jun", 6),
    ("june", 6),
    ("junho", 6),
    ("juni", 6),
    ("juin", 6),
    ("junio", 6),
    ("jul", 7),
    ("july", 7),
    ("julho", 7),
    ("juli", 7),
    ("juillet", 7),
    ("julio", 7),
    ("aug", 8),
    ("august", 8),
    ("agosto", 8),
    ("agustus", 8),
    ("ago", 8),
    ("sep", 9),
    ("sept", 9),
    ("september", 9),
    ("setembro", 9),
    ("set", 9),
    ("septembre", 9),
    ("septiembre", 9),
    ("oct", 10),
    ("october", 10),
    ("outubro", 10),
    ("out", 10),
    ("oktober", 10),
    ("octobre", 10),
    ("octubre", 10),
    ("okt", 10),
    ("nov", 11),
    ("november", 11),
    ("novembro", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("dec", 12),
    ("december", 12),
    ("dezembro", 12),
    ("dez", 12),
    ("desember", 12),
    ("dezember", 12),
    ("décembre", 12),
    ("diciembre", 12),
    ("des", 12),
];

fn ascii_month(w: &[u8]) -> Option<u8> {
    Some(match w {
        b"jan" | b"january" | b"janeiro" | b"januari" | b"janvier" | b"enero" | b"januar" => 1,
        b"feb" | b"february" | b"fevereiro" | b"fev" | b"februari" | b"febrero" | b"februar" => 2,
        b"mar" | b"march" | b"marco" | b"maret" | b"mars" | b"marzo" => 3,
        b"apr" | b"april" | b"abril" | b"avril" | b"abr" => 4,
        b"may" | b"mai" | b"mei" | b"maio" | b"mayo" => 5,
        b"jun" | b"june" | b"junho" | b"juni" | b"juin" | b"junio" => 6,
        b"jul" | b"july" | b"julho" | b"juli" | b"juillet" | b"julio" => 7,
        b"aug" | b"august" | b"agosto" | b"agustus" | b"ago" => 8,
        b"sep" | b"sept" | b"september" | b"setembro" | b"set" | b"septembre" | b"septiembre" => 9,
        b"oct" | b"october" | b"outubro" | b"out" | b"oktober" | b"octobre" | b"octubre"
        | b"okt" => 10,
        b"nov" | b"november" | b"novembro" | b"novembre" | b"noviembre" => 11,
        b"dec" | b"december" | b"dezembro" | b"dez" | b"desember" | b"dezember" | b"diciembre"
        | b"des" => 12,
        _ => return None,
    })
}

/// For each first letter of an ASCII month name, a bit for each second letter (`a` = bit 0)
/// that some month name goes on with.
const MONTH_STARTS: [u32; 26] = {
    let mut t = [0u32; 26];
    let mut i = 0;
    while i < MONTHS.len() {
        let m = MONTHS[i].0.as_bytes();
        if m[0].is_ascii_lowercase() && m[1].is_ascii_lowercase() {
            t[(m[0] - b'a') as usize] |= 1 << (m[1] - b'a');
        }
        i += 1;
    }
    t
};

/// Whether the ASCII letters `w` may be a month name, by their length and first two
/// letters: a cheap test that spares most words the call to [`month`].
fn maybe_month(w: &[u8]) -> bool {
    (3..=10).contains(&w.len())
        && MONTH_STARTS[usize::from((w[0] | 0x20) - b'a')] & (1 << ((w[1] | 0x20) - b'a')) != 0
}

fn month(w: &str) -> Option<u8> {
    if !(3..=10).contains(&w.len()) {
        return None;
    }
    let first = w.as_bytes()[0].to_ascii_lowercase();
    if !matches!(first, b'j' | b'f' | b'm' | b'a' | b's' | b'o' | b'n' | b'd') {
        return None;
    }
    if w.is_ascii() {
        // most words are rejected by their first two letters
        let second = (w.as_bytes()[1] | 0x20).wrapping_sub(b'a');
        if second >= 26 || MONTH_STARTS[usize::from(first - b'a')] & (1 << second) == 0 {
            return None;
        }
        let mut buf = [0u8; 10];
        for (d, c) in buf.iter_mut().zip(w.bytes()) {
            *d = c.to_ascii_lowercase();
        }
        return ascii_month(&buf[..w.len()]);
    }
    MONTHS
        .iter()
        .find(|(m, _)| crate::text::folded_eq(w, m) || w == *m)
        .map(|(_, n)| *n)
}

/// Phone cues that are just "number": a more specific cue before them decides.
const GENERIC_PHONE_CUES: &[&str] = &[
    "number", "no", "no.", "num", "nbr", "número", "numero", "nomor",
];

const TLDS: &[&str] = &[
    "com", "net", "org", "in", "co", "uk", "br", "id", "de", "fr", "nl", "es", "it", "io", "me",
    "edu", "gov", "info", "biz", "us", "ca", "au", "eu", "be", "at", "ch", "pt", "pl", "se", "ie",
    "sg", "my", "ai", "app",
];

const SECRET_PREFIXES: &[(&str, usize)] = &[
    ("sk_live_", 16),
    ("sk_test_", 16),
    ("pk_live_", 16),
    ("pk_test_", 16),
    ("rk_live_", 16),
    ("rk_test_", 16),
    ("whsec_", 16),
    ("ghp_", 30),
    ("gho_", 30),
    ("ghu_", 30),
    ("ghs_", 30),
    ("ghr_", 30),
    ("github_pat_", 30),
    ("glpat-", 20),
    ("xoxb-", 20),
    ("xoxp-", 20),
    ("xoxa-", 20),
    ("xoxs-", 20),
    ("xoxe-", 20),
    ("xapp-", 20),
    ("AIza", 35),
    ("sk-proj-", 20),
    ("sk-", 32),
    ("SG.", 40),
    ("shpat_", 30),
    ("shpss_", 30),
    ("npm_", 30),
    ("hf_", 30),
    ("sq0atp-", 20),
    ("sq0csp-", 20),
    ("dop_v1_", 40),
    ("AKIA", 16),
    ("ASIA", 16),
];

/// The first bytes of [`SECRET_PREFIXES`], as written and (`_CI`) in either case.
const SECRET_FIRST_BYTES: [bool; 256] = secret_first_bytes(false);
const SECRET_FIRST_BYTES_CI: [bool; 256] = secret_first_bytes(true);

const fn secret_first_bytes(either_case: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < SECRET_PREFIXES.len() {
        let c = SECRET_PREFIXES[i].0.as_bytes()[0];
        t[c as usize] = true;
        if either_case {
            t[c.to_ascii_lowercase() as usize] = true;
            t[c.to_ascii_uppercase() as usize] = true;
        }
        i += 1;
    }
    t
}

fn secret_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'+' | b'=')
}

impl<'a> Ctx<'a> {
    /// `cands` and `plain` are empty buffers to fill (see [`crate::scratch`]).
    pub(crate) fn new(
        t: &'a str,
        cues: &'a [CueHit],
        tracking: Option<&'a regex_automata::meta::Regex>,
        mut cands: Vec<Cand>,
        mut plain: Vec<Word>,
    ) -> Self {
        cands.clear();
        cands.reserve(16 + t.len() / 32);
        plain.clear();
        plain.reserve(t.len() / 6 + 4);
        let lower_only = if t.is_ascii() {
            !t.bytes().any(|c| c.is_ascii_uppercase())
        } else {
            !t.chars().any(char::is_uppercase)
        };
        let caseless = lower_only || !t.bytes().any(|c| c.is_ascii_lowercase());
        Ctx {
            caseless,
            t,
            b: t.as_bytes(),
            cues,
            lower_only,
            cands,
            maybe_postcodes: Vec::new(),
            tracking,
            card_seen: false,
            last_expiry_end: None,
            last_tag_end: 0,
            plain,
        }
    }

    pub(crate) fn emit(&mut self, kind: Kind, s: usize, e: usize, conf: f32, why: Why, prio: u8) {
        if s < e {
            self.cands.push(Cand {
                kind,
                s,
                e,
                conf,
                why,
                prio,
            });
        }
    }

    /// Cues ending at most `win` bytes before `pos`, nearest first, within the sentence.
    pub(crate) fn cues_before(
        &self,
        pos: usize,
        win: usize,
    ) -> impl Iterator<Item = &'a CueHit> + 'a {
        let cues = self.cues;
        let b = self.b;
        let idx = cues.partition_point(|h| h.end <= pos);
        let mut stop = false;
        cues[..idx].iter().rev().take_while(move |h| {
            if stop || pos - h.end > win || has_break(&b[h.end..pos]) {
                stop = true;
                return false;
            }
            true
        })
    }

    /// Cues starting at most `win` bytes after `pos`, nearest first, within the sentence.
    pub(crate) fn cues_after(
        &self,
        pos: usize,
        win: usize,
    ) -> impl Iterator<Item = &'a CueHit> + 'a {
        let cues = self.cues;
        let b = self.b;
        let idx = cues.partition_point(|h| h.start < pos);
        let mut stop = false;
        cues[idx..].iter().take_while(move |h| {
            if stop || h.start - pos > win || has_break(&b[pos..h.start]) {
                stop = true;
                return false;
            }
            true
        })
    }

    fn cue_before(&self, pos: usize, win: usize, cue: Cue) -> Option<&'a CueHit> {
        self.cues_before(pos, win).find(|h| h.cue == cue)
    }

    /// Reads the whole text.
    pub(crate) fn lex(&mut self) {
        // a copy of the slice: the length is then known not to change across the calls
        // below, and the loops need no second bounds check
        let b = self.b;
        let n = b.len();
        let mut i = 0;
        while i < n {
            if class(b[i]) & SPACE != 0 {
                i += 1;
                continue;
            }
            // the word's end, and what kinds of bytes it holds
            let mut we = i;
            let mut kinds = 0u8;
            while we < n {
                let k = class(b[we]);
                if k & SPACE != 0 {
                    break;
                }
                kinds |= k;
                we += 1;
            }
            if kinds == LETTER && (i == 0 || class(b[i - 1]) & SPACE != 0) {
                self.plain.push(Word { s: i, e: we });
            }
            let next = if kinds == LETTER && we - i < 16 {
                // the common case, a plain short word (what `word` would find too: nothing
                // to trim, no tag)
                self.plain_word(i, we, we)
            } else {
                self.word(i, we, kinds)
            };
            i = next.max(i + 1);
            // the word's end (whitespace or the end of the text) is a char boundary, and
            // the whitespace there is skipped in the same step
            if i != we {
                while i < n && !self.t.is_char_boundary(i) {
                    i += 1;
                }
            } else if i < n {
                i += 1;
            }
        }
    }

    /// A plain short word `[s, e)` (ASCII letters, fewer than 16) in the text word ending at
    /// `we`: nothing but months, "at" and NINO prefixes. Returns where to go on.
    #[inline(always)]
    fn plain_word(&mut self, s: usize, e: usize, we: usize) -> usize {
        let b = self.b;
        if e - s == 2 {
            // a spaced NINO goes on with " 12 …": checked here, not by reading on
            if b.get(s + 2) == Some(&b' ') && b.get(s + 3).is_some_and(u8::is_ascii_digit) {
                if let Some(end) = self.nino_spaced(s) {
                    return end;
                }
            }
            if b[s..e].eq_ignore_ascii_case(b"at") {
                if let Some(end) = self.spelled_email(s, e) {
                    return end;
                }
            }
        } else if maybe_month(&b[s..e]) && month(&self.t[s..e]).is_some() {
            if let Some(end) = self.word_date(s, e) {
                return end.max(we);
            }
        }
        we
    }

    /// A mask tag left by an earlier masking (`[PHONE]`, `[CARD …1111]`): its end.
    fn mask_tag(&self, s: usize) -> Option<usize> {
        let b = self.b;
        if b.get(s) != Some(&b'[') {
            return None;
        }
        let close = b[s..].iter().take(40).position(|&c| c == b']')? + s;
        let inner = &self.t[s + 1..close];
        let name = inner.split(' ').next().unwrap_or("");
        Kind::ALL
            .iter()
            .any(|k| k.as_str() == name)
            .then_some(close + 1)
    }

    /// Reads the word `[ws, we)`; returns where to go on (may be past `we`). `kinds` holds
    /// the classes of the word's bytes (or more): a byte whose mark is missing is not
    /// looked for.
    fn word(&mut self, ws: usize, we: usize, kinds: u8) -> usize {
        let b = self.b;
        if let Some(end) = self.mask_tag(ws) {
            self.last_tag_end = end;
            return end;
        }
        let mut s = ws;
        while s < we && matches!(b[s], b'[' | b'"' | b'\'' | b'<' | b'*' | b'{' | b'(' | b'|') {
            if b[s] == b'(' && s + 1 < we && b[s + 1].is_ascii_digit() {
                break;
            }
            s += 1;
        }
        let mut e = we;
        while e > s && is_trailing(b[e - 1]) {
            e -= 1;
        }
        if s >= e {
            return we;
        }
        let core = &b[s..e];
        if core.len() < 16 && core.iter().all(u8::is_ascii_alphabetic) {
            // "twice.", "Hi,": after whitespace, letters then only closing punctuation are
            // one word of the word table too
            if s == ws && (ws == 0 || b[ws - 1].is_ascii_whitespace()) {
                self.plain.push(Word { s, e });
            }
            return self.plain_word(s, e, we);
        }
        // "Phone:9876543210", "otp=1234": the value after an alphabetic key
        if let Some(p) = (kinds & KEY_SEP != 0)
            .then(|| core.iter().position(|&c| c == b':' || c == b'='))
            .flatten()
        {
            if p > 0 && core[..p].iter().all(u8::is_ascii_alphabetic) && p + 1 < core.len() {
                return self.word(s + p + 1, we, kinds);
            }
        }
        if kinds & AT != 0 && core.contains(&b'@') {
            self.email(s, e);
            return we;
        }
        let dotted = kinds & DOT_SLASH != 0 && core.iter().any(|&c| c == b'.' || c == b'/');
        if dotted
            && (starts_ci(core, b"http://")
                || starts_ci(core, b"https://")
                || starts_ci(core, b"www.")
                || contains_ci(core, b"maps.")
                || contains_ci(core, b"goo.gl/")
                || contains_ci(core, b"wa.me/"))
        {
            return self.url(s, e, we);
        }
        let (mut alpha, mut digit) = (0usize, 0usize);
        for &c in core {
            if c.is_ascii_alphabetic() {
                alpha += 1;
            } else if c.is_ascii_digit() {
                digit += 1;
            }
        }
        if digit == 0 {
            if e - s == 2 && alpha == 2 {
                if let Some(end) = self.nino_spaced(s) {
                    return end;
                }
            }
            if alpha == e - s && month(&self.t[s..e]).is_some() {
                if let Some(end) = self.word_date(s, e) {
                    return end.max(we);
                }
            }
            if core.eq_ignore_ascii_case(b"at") {
                if let Some(end) = self.spelled_email(s, e) {
                    return end;
                }
            }
            if e - s >= 16 {
                self.secret(s, e);
            }
            return we;
        }
        if alpha > 0 {
            return self.alnum(s, e, we);
        }
        // digits with punctuation
        if kinds & KEY_SEP != 0
            && core.iter().filter(|&&c| c == b':').count() >= 2
            && self.ipv6(s, e)
        {
            return we;
        }
        let mut p = s;
        while p < e && !b[p].is_ascii_digit() {
            p += 1;
        }
        if p >= e {
            return we;
        }
        let gps_start = if p > s && b[p - 1] == b'-' { p - 1 } else { p };
        // a coordinate has a decimal point right after its first digits, in this word
        if kinds & DOT_SLASH != 0 {
            if let Some(end) = self.gps(gps_start) {
                return end;
            }
        }
        // a group may start with '+' or '('
        let mut g = p;
        if g > s && b[g - 1] == b'(' {
            g -= 1;
        }
        if g > s && b[g - 1] == b'+' {
            g -= 1;
        }
        self.group(g)
    }

    // ------------------------------------------------------------------ digit groups

    /// Fills `g` (empty, with its start set) with the group at `g.start`. (Filled in place:
    /// a `Group` returned by value was copied out with `memcpy`.)
    fn lex_group(&self, g: &mut Group) {
        let b = self.b;
        let n = b.len();
        let start = g.start;
        let mut p = start;
        if b[p] == b'+' {
            g.plus = true;
            p += 1;
        }
        let mut paren_open = false;
        if p < n && b[p] == b'(' {
            paren_open = true;
            p += 1;
        }
        let (mut used_slash, mut used_dot, mut used_space, mut used_other) =
            (false, false, false, false);
        let mut total = 0usize;
        let mut sep = 0u8;
        loop {
            let mut q = p;
            while q < n && b[q].is_ascii_digit() {
                q += 1;
            }
            if q == p {
                break;
            }
            g.segs[g.k] = Seg { s: p, e: q, sep };
            g.k += 1;
            total += q - p;
            if g.k == MAX_SEGS || total > 24 || q >= n {
                break;
            }
            // the separator after this run
            let mut r = q;
            let mut next_sep = 0u8;
            match b[r] {
                b')' if paren_open => {
                    r += 1;
                    if r < n && (b[r] == b' ' || b[r] == b'-') {
                        r += 1;
                    }
                    paren_open = false;
                    next_sep = b')';
                }
                b' ' => {
                    r += 1;
                    if r < n && b[r] == b'(' {
                        r += 1;
                        paren_open = true;
                        next_sep = b'(';
                    } else if r + 1 < n && b[r] == b'/' && b[r + 1] == b' ' {
                        r += 2;
                        next_sep = b'/';
                    } else {
                        next_sep = b' ';
                    }
                }
                b'-' | b'.' | b'/' => {
                    next_sep = b[r];
                    r += 1;
                }
                b',' => {
                    // thousands: "1,299"
                    let run = b[r + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    if run == 3 && q - p <= 3 {
                        next_sep = b',';
                        r += 1;
                    }
                }
                _ => {}
            }
            if next_sep == 0 || r >= n || !b[r].is_ascii_digit() {
                break;
            }
            // the next run must not be glued to letters ("12 5th")
            let mut q2 = r;
            while q2 < n && b[q2].is_ascii_digit() {
                q2 += 1;
            }
            if q2 < n && b[q2].is_ascii_alphabetic() {
                break;
            }
            // a space joins short chunks ("98765 43210", "4111 1111"), or a country or
            // area code to a number ("+91 9876543210", "11 987654321"), not two long
            // numbers side by side
            let so_far: usize = g.segs[..g.k].iter().map(|x| x.e - x.s).sum();
            if next_sep == b' ' && (q - p > 6 || (q2 - r > 6 && !(q - p <= 4 && so_far <= 6))) {
                break;
            }
            // "2346 103.21.244.7": a space does not join a number that goes on as a
            // dotted, slashed or colon number of its own
            if matches!(next_sep, b' ' | b'(' | b')')
                && q2 + 1 < n
                && matches!(b[q2], b'.' | b'/' | b':')
                && b[q2 + 1].is_ascii_digit()
                && !used_dot
                && !used_slash
            {
                break;
            }
            // a CNPJ as printed mixes them: "11.222.333/0001-81"
            let lens_so_far = |want: &[usize]| {
                g.k == want.len() && g.segs[..g.k].iter().zip(want).all(|(x, &w)| x.e - x.s == w)
            };
            let cnpj = (next_sep == b'/' && used_dot && q2 - r == 4 && lens_so_far(&[2, 3, 3]))
                || (next_sep == b'-' && used_slash && q2 - r == 2 && lens_so_far(&[2, 3, 3, 4]));
            // do not mix date/decimal separators with phone spacing
            let ok = cnpj
                || match next_sep {
                    b'/' => !used_space && !used_dot && !used_other,
                    b'.' => !used_space && !used_slash,
                    b' ' | b'(' | b')' => !used_slash && !used_dot,
                    b',' => !used_slash && !used_dot && !used_space && !used_other,
                    _ => !used_slash,
                };
            if !ok {
                break;
            }
            match next_sep {
                b'/' => used_slash = true,
                b'.' => used_dot = true,
                b' ' | b'(' | b')' => used_space = true,
                _ => used_other = true,
            }
            sep = next_sep;
            p = r;
        }
    }

    fn view(&self, g: &Group, i: usize, k: usize) -> View {
        let mut v = View {
            s: if i == 0 { g.start } else { g.segs[i].s },
            e: g.segs[k - 1].e,
            d: [0; 40],
            n: 0,
            lens: [0; MAX_SEGS],
            seps: [0; MAX_SEGS],
            k: k - i,
            plus: i == 0 && g.plus,
            paren: false,
        };
        for (j, seg) in g.segs[i..k].iter().enumerate() {
            let len = seg.e - seg.s;
            let take = len.min(40 - v.n);
            v.d[v.n..v.n + take].copy_from_slice(&self.b[seg.s..seg.s + take]);
            v.n += take;
            v.lens[j] = len.min(255) as u8;
            v.seps[j] = if j == 0 { 0 } else { seg.sep };
            if seg.sep == b'(' || seg.sep == b')' {
                v.paren = true;
            }
        }
        if i == 0 && (self.b[g.start] == b'(' || (g.plus && self.b.get(g.start + 1) == Some(&b'(')))
        {
            v.paren = true;
        }
        // a closing parenthesis right after belongs to the number: "(11)"
        if self.b.get(v.e) == Some(&b')') && self.b[v.s..v.e].contains(&b'(') {
            v.e += 1;
        }
        v
    }

    /// Lexes and classifies the digit group at `start`; returns its end.
    fn group(&mut self, start: usize) -> usize {
        let mut g = Group {
            start,
            plus: false,
            segs: [Seg::default(); MAX_SEGS],
            k: 0,
        };
        self.lex_group(&mut g);
        if g.k == 0 {
            return start + 1;
        }
        let end = g.segs[g.k - 1].e;
        self.international_prefix(&mut g);
        // glued to letters after ("5kg", "3pm"): a quantity, not an identifier
        if end < self.b.len() && self.b[end].is_ascii_alphabetic() {
            let v = self.view(&g, 0, g.k);
            if !self.unit_after(v.e)
                && self.b[end..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count()
                    > 3
            {
                // "9876543210pls": still read it
            } else {
                let digits: usize = g.segs[..g.k].iter().map(|x| x.e - x.s).sum();
                if digits >= 5 && !self.unit_after(v.e) {
                    self.fail_closed(v.s, v.e, "number glued to letters");
                }
                return end;
            }
        }
        // fewer than three digits: `classify` skips every part of the group, no view needed
        if g.segs[..g.k].iter().map(|x| x.e - x.s).sum::<usize>() < 3 {
            return end;
        }
        // the longest classifiable prefix first, then what follows it; segments nothing
        // classifies (nor proves safe) are hidden together if they hold five digits or more
        let mut i = 0;
        let mut untaken: Option<usize> = None;
        while i < g.k {
            let mut took = false;
            for k in (i + 1..=g.k).rev() {
                let v = self.view(&g, i, k);
                // a chunk too short to say anything ("0000 00") is part of what it is
                // joined to, not passed over on its own
                if v.n < 3 && (i > 0 || k < g.k) {
                    continue;
                }
                match self.classify(&v) {
                    Out::Nothing => continue,
                    // what proves part of a number safe ("10-00" is no expiry) says nothing
                    // of the digits it is joined to: only a part that stands apart (by a
                    // space) is passed over
                    Out::Skip | Out::Maybe(_) if !(self.apart(&g, i) && self.apart(&g, k)) => {
                        continue
                    }
                    Out::Skip => {}
                    Out::Emit(mut c) => {
                        if c.kind == Kind::Phone {
                            c.e = self.extension_after(c.e);
                        }
                        if c.kind == Kind::Card {
                            self.card_seen = true;
                        }
                        if c.kind == Kind::CardExpiry {
                            self.last_expiry_end = Some(c.e);
                        }
                        self.cands.push(c);
                    }
                    Out::Maybe(m) => self.maybe_postcodes.push(m),
                }
                if let Some(a) = untaken.take() {
                    self.hide_segments(&g, a, i);
                }
                i = k;
                took = true;
                break;
            }
            if !took {
                untaken.get_or_insert(i);
                i += 1;
            }
        }
        if let Some(a) = untaken {
            self.hide_segments(&g, a, g.k);
        }
        end
    }

    /// Whether segment boundary `j` of `g` (before segment `j`) is the group's start, its
    /// end, or a space: the parts on either side are read apart.
    fn apart(&self, g: &Group, j: usize) -> bool {
        j == 0 || j >= g.k || matches!(g.segs[j].sep, b' ' | b'(' | b')')
    }

    /// "0034 655 219 804": `00` then a country code, as dialled from abroad, is a `+`.
    fn international_prefix(&self, g: &mut Group) {
        if g.plus || g.k < 2 {
            return;
        }
        let first = g.segs[0];
        let digits: usize = g.segs[..g.k].iter().map(|x| x.e - x.s).sum();
        if (4..=5).contains(&(first.e - first.s))
            && self.b[first.s..].starts_with(b"00")
            && self.b[first.s + 2] != b'0'
            && (11..=17).contains(&digits)
        {
            g.plus = true;
            g.segs[0].s += 2;
        }
    }

    /// The end of a phone number's extension after `e` ("ext 214", "x203", "ramal 12"), or
    /// `e` when none follows.
    fn extension_after(&self, e: usize) -> usize {
        let b = self.b;
        let mut i = e;
        while i < b.len() && matches!(b[i], b' ' | b',') {
            i += 1;
        }
        let word = b[i..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let w = &b[i..i + word];
        let known = [
            &b"ext"[..],
            b"extn",
            b"extension",
            b"x",
            b"ramal",
            b"durchwahl",
            b"poste",
            b"anexo",
        ];
        if word == 0 || !known.iter().any(|k| w.eq_ignore_ascii_case(k)) {
            return e;
        }
        i += word;
        while i < b.len() && matches!(b[i], b'.' | b':' | b' ') {
            i += 1;
        }
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if (1..=6).contains(&digits) && b.get(i + digits).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            i + digits
        } else {
            e
        }
    }

    /// Hides segments `a..b` of `g` when they hold five digits or more, or are joined to
    /// the rest of a number that does (see `fail_closed`).
    fn hide_segments(&mut self, g: &Group, a: usize, b: usize) {
        let digits: usize = g.segs[a..b].iter().map(|x| x.e - x.s).sum();
        let all: usize = g.segs[..g.k].iter().map(|x| x.e - x.s).sum();
        // a short tail joined to a number found ("…-0") is part of it
        let joined = all >= 5 && !(self.apart(g, a) && self.apart(g, b));
        // so is a chunk of three digits or more of a number of five or more ("00000 000")
        if digits >= 5 || (all >= 5 && digits >= 3) || joined {
            let s = if a == 0 { g.start } else { g.segs[a].s };
            self.fail_closed(s, g.segs[b - 1].e, "unclassified number");
        }
    }

    fn currency_before(&self, s: usize) -> bool {
        let b = self.b;
        let mut p = s;
        if p > 0 && b[p - 1] == b' ' {
            p -= 1;
        }
        let before = &self.t[..p];
        if let Some(c) = before.chars().next_back() {
            if matches!(c, '₹' | '$' | '£' | '€' | '¥' | '₱' | '₦' | '฿' | '₫') {
                return true;
            }
        }
        let w: &[u8] = {
            let wb = before.as_bytes();
            let k = wb
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_alphabetic() || **c == b'.' || **c == b'$')
                .count();
            &wb[wb.len() - k..]
        };
        let w = w.strip_suffix(b".").unwrap_or(w);
        [
            &b"rs"[..],
            b"inr",
            b"r$",
            b"rp",
            b"usd",
            b"eur",
            b"gbp",
            b"idr",
            b"brl",
            b"mrp",
            b"us$",
            b"rmb",
            b"sgd",
            b"ngn",
            b"kes",
            b"ksh",
            b"kshs",
            b"mxn",
            b"chf",
            b"aed",
            b"zar",
            b"cad",
            b"aud",
            b"cop",
            b"ars",
            b"pln",
            b"try",
        ]
        .iter()
        .any(|c| w.eq_ignore_ascii_case(c))
    }

    fn unit_after(&self, e: usize) -> bool {
        let b = self.b;
        let mut p = e;
        if p < b.len() && b[p] == b'%' {
            return true;
        }
        if p < b.len() && b[p] == b' ' {
            p += 1;
        }
        let q = b[p..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        // no unit is longer than eight letters; a word that goes on in other letters
        // ("München") is no unit
        // ("x203" after a phone is its extension, not "times")
        if q == 0
            || q > 8
            || b.get(p + q)
                .is_some_and(|&c| c >= 0x80 || c.is_ascii_digit())
        {
            return false;
        }
        let mut low = [0u8; 8];
        for (d, c) in low.iter_mut().zip(&b[p..p + q]) {
            *d = c.to_ascii_lowercase();
        }
        is_unit(&low[..q])
    }

    fn postcode_shape(&self, v: &View) -> bool {
        let l = v.lens();
        (v.k == 1
            && (v.n == 5 || v.n == 6 || v.n == 8 || v.n == 4 && self.nl_suffix(v.e).is_some()))
            || (v.k == 2 && v.seps()[0] == b'-' && l[0] == 5 && (l[1] == 4 || l[1] == 3))
            || (v.k == 2 && v.seps()[0] == b' ' && l[0] == 3 && l[1] == 3)
    }

    /// Dutch postcode letters after "1234": " AB".
    fn nl_suffix(&self, e: usize) -> Option<usize> {
        let b = self.b;
        let p = if b.get(e) == Some(&b' ') { e + 1 } else { e };
        let ok = p + 2 <= b.len()
            && (b[p].is_ascii_uppercase() || self.lower_only && b[p].is_ascii_lowercase())
            && (b[p + 1].is_ascii_uppercase() || self.lower_only && b[p + 1].is_ascii_lowercase())
            && (p + 2 == b.len() || !b[p + 2].is_ascii_alphanumeric());
        ok.then_some(p + 2)
    }

    fn maybe_postcode(&self, v: &View, otherwise: Option<Cand>) -> Out {
        let e = if v.n == 4 {
            self.nl_suffix(v.e).unwrap_or(v.e)
        } else {
            v.e
        };
        Out::Maybe(MaybePostcode {
            s: v.s,
            e,
            otherwise,
        })
    }

    fn classify(&self, v: &View) -> Out {
        let d = v.digits();
        let n = v.n;
        let l = v.lens();
        // a run longer than any identifier: nothing to classify (and the digit buffer
        // holds only its start)
        if l.iter().map(|&x| usize::from(x)).sum::<usize>() != n || n > 32 {
            return Out::Nothing;
        }
        let emit = |kind, conf, why, prio| {
            Out::Emit(Cand {
                kind,
                s: v.s,
                e: v.e,
                conf,
                why,
                prio,
            })
        };
        if let Some(c) = char_before(self.t, v.s) {
            if matches!(c, '…' | '·' | '•') {
                return Out::Skip;
            }
            if c == '#' {
                return if n >= 5 {
                    emit(Kind::Order, 0.7, Why::Format("#id"), P_KEEP)
                } else {
                    Out::Skip
                };
            }
            // glued to a word ("is415-555-0132"): short runs are parts of words, longer
            // ones are read (and failing that, hidden)
            if c.is_alphabetic() && n < 5 {
                return Out::Skip;
            }
        }
        if n < 3 || self.currency_before(v.s) || self.unit_after(v.e) {
            return Out::Skip;
        }
        // dates
        if v.k == 3 && (v.all_seps(b'/') || v.all_seps(b'-') || v.all_seps(b'.')) {
            if let Some(year) = date_year(l, d) {
                if let Some(h) = self.cue_before(v.s, 48, Cue::Dob) {
                    return emit(Kind::Dob, 0.92, Why::Cue(h.word), P_CUE);
                }
                if (1920..=2012).contains(&year) {
                    return emit(Kind::Dob, 0.6, Why::Format("date"), P_WEAK);
                }
                return Out::Skip;
            }
        }
        // card expiry MM/YY
        if v.k == 2
            && (v.all_seps(b'/') || v.all_seps(b'-'))
            && l[0] == 2
            && (l[1] == 2 || l[1] == 4)
        {
            let m = num(&d[..2]);
            let y = num(&d[2..]);
            let y = if l[1] == 2 { 2000 + y } else { y };
            if (1..=12).contains(&m) && (2015..=2045).contains(&y) {
                if let Some(h) = self.cue_before(v.s, 32, Cue::Expiry) {
                    return emit(Kind::CardExpiry, 0.92, Why::Cue(h.word), P_CUE);
                }
                if self.card_seen || self.cue_before(v.s, 64, Cue::Card).is_some() {
                    return emit(Kind::CardExpiry, 0.8, Why::Format("mm/yy near card"), P_CUE);
                }
            }
            return Out::Skip;
        }
        // IPv4
        if v.k == 4 && v.all_seps(b'.') && l.iter().all(|&x| (1..=3).contains(&x)) {
            let mut off = 0;
            let ok = l.iter().all(|&x| {
                let part = &d[off..off + x as usize];
                off += x as usize;
                num(part) <= 255
            });
            if ok {
                return emit(Kind::Ip, 0.9, Why::Format("ipv4"), P_FORMAT);
            }
            // dotted like an address but no address ("000.000.256.0"): read on below
        }
        // a company's tax number as printed: "01.700.845/0001-52"
        if v.k == 5 && l == [2, 3, 3, 4, 2] && v.seps() == [b'.', b'.', b'/', b'-'] {
            let ok = checks::cnpj(d);
            return emit(
                Kind::NationalId,
                if ok { 0.95 } else { 0.7 },
                Why::Checksum("cnpj"),
                if ok { P_CHECKSUM } else { P_CUE },
            );
        }
        let cpf_dotted = v.k == 4 && l == [3, 3, 3, 2] && v.seps() == [b'.', b'.', b'-'];
        if cpf_dotted {
            let ok = checks::cpf(d);
            return emit(
                Kind::Cpf,
                if ok { 0.97 } else { 0.7 },
                Why::Checksum("cpf"),
                if ok { P_CHECKSUM } else { P_CUE },
            );
        }
        let dotted_amount = v.seps().contains(&b'.')
            && (n < 5
                || (v.k == 2 && (l[0] <= 3 || l[1] <= 3))
                || (v.all_seps(b'.') && l[0] <= 3 && l[1..v.k].iter().all(|&x| x == 3)));
        if v.seps().contains(&b',') || dotted_amount {
            // decimals and thousands: amounts, weights, versions ("1.2.3", "2.5", "150.000",
            // "1.299.000"; "0000.0000" or "00.00.00" is not proven to be one)
            return Out::Skip;
        }
        // ZIP+4 ("73339-1835") and CEP ("01310-100") are postcodes, whatever the cue
        if v.k == 2 && v.all_seps(b'-') && l[0] == 5 && (l[1] == 4 || l[1] == 3) {
            if let Some(h) = self.cue_before(v.s, 32, Cue::Postcode) {
                return emit(Kind::Postcode, 0.9, Why::Cue(h.word), P_CUE);
            }
            return self.maybe_postcode(v, None);
        }
        // after an expiry on the next line: the security code ("4111…\n06/26\n737")
        if (3..=4).contains(&n) && v.k == 1 {
            if let Some(x) = self.last_expiry_end {
                if v.s >= x
                    && v.s - x <= 4
                    && self.b[x..v.s].iter().all(|c| !c.is_ascii_alphanumeric())
                {
                    return emit(Kind::Cvv, 0.85, Why::Format("after expiry"), P_CUE);
                }
            }
        }
        // what the nearest cue words say
        // kept references between a cue and its value do not count against the window:
        // "PIN for the parcel locker 9400 9974 5707 0195 1168 68: 3019"
        let kept: usize = self
            .cands
            .iter()
            .rev()
            .take_while(|c| c.e + 80 > v.s)
            .filter(|c| c.kind.is_kept() && c.e <= v.s)
            .map(|c| c.e - c.s)
            .sum();
        // a cue does not reach across a value already found (or masked): what a cue says
        // is about the value next to it, and masking must not change it
        let barrier = self
            .cands
            .iter()
            .rev()
            // a barrier further back than any cue window does not matter (and bounds the
            // walk, keeping the scan linear)
            .take_while(|c| c.e + 512 > v.s)
            .find(|c| !c.kind.is_kept() && c.e <= v.s)
            .map_or(0, |c| c.e)
            .max(self.last_tag_end);
        // whether the digits read as a card or a phone, which no reference word keeps
        // visible (asked only when a reference word is near)
        let card_or_phone = || {
            (n >= 13 && checks::luhn(d) && checks::card_prefix(d)) || phone_national(v).is_some()
        };
        let mut generic: Option<&CueHit> = None;
        for h in self
            .cues_before(v.s, 40 + kept)
            .take_while(|h| h.start >= barrier)
        {
            let gap = v.s - h.end;
            let why = Why::Cue(h.word);
            match h.cue {
                Cue::Cvv if (3..=4).contains(&n) && v.k == 1 => {
                    return emit(Kind::Cvv, 0.92, why, P_CUE)
                }
                Cue::Otp if (4..=8).contains(&n) => return emit(Kind::Otp, 0.9, why, P_CUE),
                Cue::Pin if (4..=8).contains(&n) => {
                    let otp = Cand {
                        kind: Kind::Otp,
                        s: v.s,
                        e: v.e,
                        conf: 0.85,
                        why,
                        prio: P_CUE,
                    };
                    if n == 6 && v.k == 1 {
                        return self.maybe_postcode(v, Some(otp));
                    }
                    return Out::Emit(otp);
                }
                Cue::Account if (6..=20).contains(&n) => {
                    return emit(Kind::BankAccount, 0.85, why, P_CUE)
                }
                Cue::Aadhaar if n == 12 => {
                    let ok = checks::aadhaar(d);
                    return emit(Kind::Aadhaar, if ok { 0.97 } else { 0.7 }, why, P_CUE);
                }
                Cue::Ssn if n == 9 => {
                    return emit(
                        Kind::Ssn,
                        if checks::ssn(d) { 0.95 } else { 0.6 },
                        why,
                        P_CUE,
                    );
                }
                Cue::Cpf if n == 11 => {
                    return emit(
                        Kind::Cpf,
                        if checks::cpf(d) { 0.97 } else { 0.7 },
                        why,
                        P_CUE,
                    );
                }
                Cue::Card if (13..=19).contains(&n) => {
                    return emit(
                        Kind::Card,
                        if checks::luhn(d) { 0.97 } else { 0.6 },
                        why,
                        P_CUE,
                    );
                }
                Cue::Phone if (7..=13).contains(&n) || (v.plus && n <= 15) => {
                    if toll_free(v, v.plus) {
                        return Out::Skip;
                    }
                    // "aadhaar card number is …": a bare "number" defers to a more
                    // specific cue just before it
                    if generic.is_none()
                        && GENERIC_PHONE_CUES
                            .iter()
                            .any(|g| h.word.eq_ignore_ascii_case(g))
                    {
                        generic = Some(h);
                        continue;
                    }
                    return emit(Kind::Phone, 0.9, why, P_CUE);
                }
                Cue::Postcode if self.postcode_shape(v) => {
                    let e = if n == 4 {
                        self.nl_suffix(v.e).unwrap_or(v.e)
                    } else {
                        v.e
                    };
                    return Out::Emit(Cand {
                        kind: Kind::Postcode,
                        s: v.s,
                        e,
                        conf: 0.9,
                        why,
                        prio: P_CUE,
                    });
                }
                // a DHL waybill (ten digits, mod 7) right after the courier's word: "DHL
                // 3537622362", "waybill 3224475144" (further on, a phone that happens to
                // pass the check would be kept visible)
                Cue::Tracking if n == 10 && v.k == 1 && gap <= 4 && checks::dhl(d) => {
                    return emit(Kind::Tracking, 0.85, Why::Checksum("dhl"), P_KEEP);
                }
                // an air waybill as written on the waybill ("AWB 123-45678903")
                Cue::Tracking if v.k == 2 && l == [3, 8] && v.all_seps(b'-') && gap <= 20 => {
                    return emit(Kind::Tracking, 0.85, why, P_KEEP);
                }
                // the courier's word for it keeps it visible, unless the digits read as
                // something more sensitive: a card or a phone number
                Cue::Tracking if n >= 8 && !v.plus && gap <= 20 && !card_or_phone() => {
                    return emit(Kind::Tracking, 0.8, why, P_KEEP);
                }
                Cue::NationalId if n >= 5 && !v.plus && gap <= 24 => {
                    if checks::nik(d) {
                        return emit(Kind::Nik, 0.95, why, P_CUE);
                    }
                    if n == 12 && checks::aadhaar(d) {
                        return emit(Kind::Aadhaar, 0.95, why, P_CUE);
                    }
                    return emit(Kind::NationalId, 0.85, why, P_CUE);
                }
                Cue::Order if n >= 4 && !v.plus && gap <= 20 && !card_or_phone() => {
                    return emit(Kind::Order, 0.8, why, P_KEEP)
                }
                Cue::BankPublic | Cue::Helpline if gap <= 24 => return Out::Skip,
                Cue::Amount if n <= 7 && gap <= 16 => return Out::Skip,
                _ => continue,
            }
        }
        if let Some(h) = generic {
            return emit(Kind::Phone, 0.85, Why::Cue(h.word), P_CUE);
        }
        // what the digits themselves say
        if v.plus {
            if toll_free(v, true) {
                return Out::Skip;
            }
            if (8..=15).contains(&n) {
                return emit(Kind::Phone, 0.95, Why::Format("international"), P_FORMAT);
            }
            return Out::Nothing;
        }
        if n == 12 && checks::aadhaar(d) && (v.k == 1 || (v.k == 3 && l == [4, 4, 4])) {
            return emit(Kind::Aadhaar, 0.9, Why::Checksum("verhoeff"), P_CHECKSUM);
        }
        if (13..=19).contains(&n) && checks::luhn(d) && checks::card_prefix(d) {
            let grouped = v.k == 1
                || (l[..v.k - 1].iter().all(|&x| x == 4) && l[v.k - 1] <= 4)
                || l == [4, 6, 5]
                || l == [4, 6, 4];
            if grouped {
                return emit(Kind::Card, 0.95, Why::Checksum("luhn"), P_CHECKSUM);
            }
        }
        if v.k == 3 && l == [3, 2, 4] && (v.all_seps(b'-') || v.all_seps(b' ')) && checks::ssn(d) {
            return emit(Kind::Ssn, 0.85, Why::Format("ssn"), P_FORMAT);
        }
        if toll_free(v, false) && (10..=11).contains(&n) {
            return Out::Skip;
        }
        if let Some(conf) = phone_national(v) {
            return emit(Kind::Phone, conf, Why::Format("national"), P_FORMAT);
        }
        if n == 16 && checks::nik(d) {
            return emit(Kind::Nik, 0.8, Why::Format("nik"), P_FORMAT);
        }
        if n == 15 && checks::nir(d) {
            return emit(Kind::NationalId, 0.9, Why::Checksum("nir"), P_CHECKSUM);
        }
        if n == 14 && checks::cnpj(d) {
            return emit(Kind::NationalId, 0.85, Why::Checksum("cnpj"), P_CHECKSUM);
        }
        if (20..=22).contains(&n) && d[0] == b'9' && (b'1'..=b'5').contains(&d[1]) {
            return emit(Kind::Tracking, 0.85, Why::Format("usps"), P_KEEP);
        }
        if n == 20 && d.starts_with(b"00") && checks::gs1(d) {
            return emit(Kind::Tracking, 0.85, Why::Checksum("sscc"), P_KEEP);
        }
        if v.k == 2 && l == [3, 8] && v.all_seps(b'-') && checks::awb(&d[3..]) {
            return emit(Kind::Tracking, 0.85, Why::Checksum("awb"), P_KEEP);
        }
        if v.k == 3 && l == [3, 7, 7] && v.all_seps(b'-') {
            return emit(Kind::Order, 0.85, Why::Format("order id"), P_KEEP);
        }
        if n == 11 && v.k == 1 && checks::cpf(d) && d[0] != b'0' {
            return emit(Kind::Cpf, 0.5, Why::Checksum("cpf"), P_WEAK);
        }
        if self.postcode_shape(v) {
            return self.maybe_postcode(v, None);
        }
        // anything else is not proven safe: `group` hides it (failing closed)
        Out::Nothing
    }

    /// A number or identifier `[s, e)` that nothing classified or proved safe: hidden, as a
    /// national id after an id word, as a number otherwise.
    fn fail_closed(&mut self, s: usize, e: usize, why: &'static str) {
        let id_cue = self.cues_before(s, 32).find(|h| {
            h.cue == Cue::NationalId
                || (h.cue == Cue::Phone
                    && GENERIC_PHONE_CUES
                        .iter()
                        .any(|g| h.word.eq_ignore_ascii_case(g)))
        });
        match id_cue {
            Some(h) => self.emit(Kind::NationalId, s, e, 0.6, Why::Cue(h.word), P_WEAK),
            None => self.emit(Kind::Number, s, e, 0.5, Why::Format(why), P_WEAK),
        }
    }

    // ------------------------------------------------------------------ tokens

    /// Letters and digits mixed: ids, codes, references.
    fn alnum(&mut self, s: usize, e: usize, we: usize) -> usize {
        let b = self.b;
        let core = &b[s..e];
        let len = e - s;
        if let Some(re) = self.tracking {
            let input =
                regex_automata::Input::new(&self.t[s..e]).anchored(regex_automata::Anchored::Yes);
            if re.find(input).is_some_and(|m| m.end() == len) {
                self.emit(Kind::Tracking, s, e, 0.95, Why::Configured, P_KEEP);
                return we;
            }
        }
        if len >= 4
            && core[0].is_ascii_alphabetic()
            && core[1].is_ascii_alphabetic()
            && core[2].is_ascii_digit()
            && core[3].is_ascii_digit()
        {
            if let Some(end) = self.iban(s) {
                return end.max(we);
            }
        }
        if self.secret(s, e) {
            return we;
        }
        let mut up = [0u8; 16];
        if len <= 16 {
            for (i, &c) in core.iter().enumerate() {
                up[i] = c.to_ascii_uppercase();
            }
        }
        let up = &up[..len.min(16)];
        let is_upper = core.iter().all(|c| !c.is_ascii_lowercase());
        if len == 10 && checks::pan(core) {
            let cue = self.cue_before(s, 24, Cue::Pan).is_some();
            if is_upper || cue || self.lower_only {
                let conf = if cue {
                    0.97
                } else if is_upper {
                    0.9
                } else {
                    0.7
                };
                self.emit(Kind::Pan, s, e, conf, Why::Format("pan"), P_FORMAT);
                return we;
            }
        }
        if len == 9 && checks::nino(up) && (is_upper || self.lower_only) {
            self.emit(Kind::UkNino, s, e, 0.93, Why::Format("nino"), P_FORMAT);
            return we;
        }
        if len == 13
            && up[..2].iter().all(u8::is_ascii_alphabetic)
            && up[2..11].iter().all(u8::is_ascii_digit)
            && up[11..].iter().all(u8::is_ascii_alphabetic)
        {
            // the check digit is the proof; a wrong one is not a tracking number we know
            if checks::s10(&up[2..11]) {
                self.emit(Kind::Tracking, s, e, 0.97, Why::Checksum("s10"), P_KEEP);
                return we;
            }
        }
        // UPS written in groups, as on its label: "1Z Y83 R06 03 9795 0383"
        if len == 2 && core.eq_ignore_ascii_case(b"1z") {
            if let Some(end) = self.ups_spaced(e) {
                self.emit(Kind::Tracking, s, end, 0.9, Why::Format("ups"), P_KEEP);
                return end.max(we);
            }
        }
        if len == 18 && starts_ci(core, b"1z") && core.iter().all(u8::is_ascii_alphanumeric) {
            self.emit(Kind::Tracking, s, e, 0.95, Why::Format("ups"), P_KEEP);
            return we;
        }
        if let Some(end) = self.uk_postcode(s, e) {
            return end.max(we);
        }
        if core.iter().filter(|&&c| c == b':').count() >= 2 && self.ipv6(s, e) {
            return we;
        }
        // an alphanumeric code after an OTP cue ("code: A7K9Q2")
        if (4..=8).contains(&len) && core.iter().all(u8::is_ascii_alphanumeric) {
            if let Some(h) = self
                .cues_before(s, 24)
                .find(|h| matches!(h.cue, Cue::Otp | Cue::Pin))
            {
                self.emit(Kind::Otp, s, e, 0.75, Why::Cue(h.word), P_CUE);
                return we;
            }
        }
        // order ids and courier references: kept visible with proof (a format of the
        // courier's, or the courier's word for it just before); any other token that mixes
        // letters with four digits or more is hidden (failing closed)
        let digits = core.iter().filter(|c| c.is_ascii_digit()).count();
        let lead = core.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if starts_ci(core, b"od") && digits >= 12 || starts_ci(core, b"ord") && digits >= 4 {
            self.emit(Kind::Order, s, e, 0.85, Why::Format("order id"), P_KEEP);
            return we;
        }
        if digits < 4 || self.safe_token(core, lead) {
            return we;
        }
        if let Some(format) = carrier_format(core) {
            self.emit(Kind::Tracking, s, e, 0.85, Why::Format(format), P_KEEP);
            return we;
        }
        if let Some(h) = self
            .cues_before(s, 24)
            .find(|h| matches!(h.cue, Cue::Tracking | Cue::Order))
        {
            let kind = if h.cue == Cue::Order {
                Kind::Order
            } else {
                Kind::Tracking
            };
            self.emit(kind, s, e, 0.7, Why::Cue(h.word), P_KEEP);
            return we;
        }
        if checks::dni(core) {
            self.emit(
                Kind::NationalId,
                s,
                e,
                0.9,
                Why::Checksum("dni"),
                P_CHECKSUM,
            );
            return we;
        }
        // a number glued to a short word ("is415-555-0132", "no9876543210"): the number
        // is read on its own
        // (upper-case letters before digits are part of an identifier: a voter id
        // "XJK4728193", a passport "AK0482917", hidden whole below)
        if (1..=3).contains(&lead)
            && core[..lead].iter().any(u8::is_ascii_lowercase)
            && digits >= 7
            && core[lead..]
                .iter()
                .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.' | b' '))
        {
            return self.group(s + lead).max(we);
        }
        self.fail_closed(s, e, "identifier");
        we
    }

    /// The end of the sixteen letters and digits after a UPS `1Z` ending at `e`, written
    /// in groups of two to four separated by single spaces; `None` if they are not there.
    fn ups_spaced(&self, e: usize) -> Option<usize> {
        let b = self.b;
        let (mut p, mut count) = (e, 0);
        while count < 16 && p + 1 < b.len() && b[p] == b' ' && b[p + 1].is_ascii_alphanumeric() {
            let group = b[p + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if !(2..=4).contains(&group) {
                return None;
            }
            count += group;
            p += 1 + group;
        }
        (count == 16).then_some(p)
    }

    /// A letters-and-digits token that says nothing about anyone: a time (`10:30am`), a
    /// quantity with its unit (`2500mAh`, `12kg`), an amount with its currency (`Rp50000`,
    /// `KES2500`), a date with a month name (`12Jan2025`), an ordinal.
    fn safe_token(&self, core: &[u8], lead: usize) -> bool {
        // the letters, lower case: no unit, currency or month is longer than sixteen, so
        // a token with more letters is none of them (and no buffer is allocated)
        let mut buf = [0u8; 16];
        let mut count = 0;
        for c in core.iter().filter(|c| c.is_ascii_alphabetic()) {
            if count == buf.len() {
                return false;
            }
            buf[count] = c.to_ascii_lowercase();
            count += 1;
        }
        let letters = &buf[..count];
        let only = |allowed: &[u8]| {
            core.iter()
                .all(|c| c.is_ascii_alphanumeric() || allowed.contains(c))
        };
        // an Indian bank branch code ("HDFC0001234"): printed on every cheque, public
        if core.len() == 11
            && core[..4].iter().all(u8::is_ascii_uppercase)
            && core[4] == b'0'
            && core[5..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return true;
        }
        // digits then letters: a unit ("500ml") or a time ("10:30am", "14h30")
        let tail = core
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if lead == 0 && tail == letters.len() && only(b":.,") {
            return is_unit(letters) || letters == b"h" || letters == b"hrs";
        }
        if lead == 0 && letters == b"h" && only(b":") {
            return true;
        }
        // letters then digits: an amount ("Rp50000", "Rs.500", "R$1500")
        if lead > 0 && lead == letters.len() && only(b".,$") {
            return matches!(
                letters,
                b"rs"
                    | b"inr"
                    | b"rp"
                    | b"idr"
                    | b"r"
                    | b"usd"
                    | b"eur"
                    | b"gbp"
                    | b"brl"
                    | b"ngn"
                    | b"kes"
                    | b"ksh"
                    | b"kshs"
                    | b"mxn"
                    | b"sgd"
                    | b"aed"
                    | b"zar"
                    | b"chf"
                    | b"cad"
                    | b"aud"
                    | b"mrp"
                    | b"us"
                    | b"n"
            );
        }
        // a date with a month name inside ("12Jan2025", "2025-jan-12")
        month(std::str::from_utf8(letters).unwrap_or("")).is_some() && only(b"-/.")
    }

    fn iban(&mut self, s: usize) -> Option<usize> {
        let b = self.b;
        let cc = [b[s].to_ascii_uppercase(), b[s + 1].to_ascii_uppercase()];
        let len = checks::iban_length(cc)?;
        let mut buf = [0u8; 36];
        let (mut count, mut i, mut last) = (0usize, s, s);
        while count < len && i < b.len() {
            let c = b[i];
            if c.is_ascii_alphanumeric() {
                buf[count] = c.to_ascii_uppercase();
                count += 1;
                i += 1;
                last = i;
            } else if (c == b' ' || c == b'-')
                && count % 4 == 0
                && i + 1 < b.len()
                && b[i + 1].is_ascii_alphanumeric()
            {
                i += 1;
            } else {
                break;
            }
        }
        if count != len || (last < b.len() && b[last].is_ascii_alphanumeric()) {
            return None;
        }
        if checks::iban_mod97(&buf[..len]) {
            self.emit(
                Kind::Iban,
                s,
                last,
                0.97,
                Why::Checksum("mod97"),
                P_CHECKSUM,
            );
        } else if let Some(h) = self.cue_before(s, 24, Cue::Iban) {
            self.emit(Kind::Iban, s, last, 0.6, Why::Cue(h.word), P_CUE);
        } else {
            return None;
        }
        Some(last)
    }

    /// Known key and token formats, and long random tokens after a secret cue.
    fn secret(&mut self, s: usize, e: usize) -> bool {
        let b = self.b;
        let mut end = s;
        while end < b.len() && secret_char(b[end]) {
            end += 1;
        }
        while end > s && matches!(b[end - 1], b'.' | b'-' | b',') {
            end -= 1;
        }
        let tok = &b[s..end];
        let len = tok.len();
        if len < 16 {
            return false;
        }
        let _ = e;
        let caseless = self.caseless;
        // most tokens start with a byte that starts no key prefix
        let firsts = if caseless {
            &SECRET_FIRST_BYTES_CI
        } else {
            &SECRET_FIRST_BYTES
        };
        let prefixes = if firsts[usize::from(tok[0])] {
            SECRET_PREFIXES
        } else {
            &[]
        };
        for (prefix, min) in prefixes {
            let pre = prefix.as_bytes();
            let starts = tok.starts_with(pre) || (caseless && starts_ci(tok, pre));
            if starts && len - prefix.len() >= *min {
                let rest = &tok[prefix.len()..];
                let ok = if prefix.starts_with("AKIA") || prefix.starts_with("ASIA") {
                    rest.len() == 16
                        && rest.iter().all(|c| {
                            c.is_ascii_uppercase()
                                || c.is_ascii_digit()
                                || (caseless && c.is_ascii_alphabetic())
                        })
                } else {
                    rest.iter().any(u8::is_ascii_digit) || rest.len() >= 24
                };
                if ok {
                    self.emit(
                        Kind::Secret,
                        s,
                        end,
                        0.97,
                        Why::Format("key prefix"),
                        P_FORMAT,
                    );
                    return true;
                }
            }
        }
        if tok.starts_with(b"eyJ") || (caseless && starts_ci(tok, b"eyj")) {
            let parts: Vec<&[u8]> = tok.split(|&c| c == b'.').collect();
            if parts.len() == 3 && parts[0].len() >= 10 && parts[1].len() >= 8 {
                self.emit(Kind::Secret, s, end, 0.97, Why::Format("jwt"), P_FORMAT);
                return true;
            }
        }
        if len >= 20 {
            let (up, lo, dg) = (
                tok.iter().any(u8::is_ascii_uppercase),
                tok.iter().any(u8::is_ascii_lowercase),
                tok.iter().any(u8::is_ascii_digit),
            );
            let hex = len >= 32 && tok.iter().all(u8::is_ascii_hexdigit);
            if (up && lo && dg) || hex {
                if let Some(h) = self.cue_before(s, 32, Cue::Secret) {
                    self.emit(Kind::Secret, s, end, 0.8, Why::Cue(h.word), P_CUE);
                    return true;
                }
                if len >= 32 && up && lo && dg {
                    self.emit(
                        Kind::Secret,
                        s,
                        end,
                        0.6,
                        Why::Format("random token"),
                        P_WEAK,
                    );
                    return true;
                }
            }
        }
        false
    }

    fn ipv6(&mut self, s: usize, e: usize) -> bool {
        let tok = &self.b[s..e];
        if !tok.iter().all(|c| c.is_ascii_hexdigit() || *c == b':') {
            return false;
        }
        let colons = tok.iter().filter(|&&c| c == b':').count();
        let groups: Vec<&[u8]> = tok
            .split(|&c| c == b':')
            .filter(|g| !g.is_empty())
            .collect();
        let ok = groups.iter().all(|g| g.len() <= 4)
            && groups.len() >= 3
            && (colons == 7 || (tok.windows(2).any(|w| w == b"::") && colons <= 7))
            && groups
                .iter()
                .any(|g| g.len() >= 3 || g.iter().any(u8::is_ascii_alphabetic));
        if ok {
            self.emit(Kind::Ip, s, e, 0.9, Why::Format("ipv6"), P_FORMAT);
        }
        ok
    }

    fn email(&mut self, s: usize, e: usize) {
        let b = self.b;
        let Some(at) = b[s..e].iter().position(|&c| c == b'@').map(|p| s + p) else {
            return;
        };
        let local_ok = |c: u8| {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-') || c >= 0x80
        };
        let mut ls = at;
        while ls > s && local_ok(b[ls - 1]) {
            ls -= 1;
        }
        while ls < at && !self.t.is_char_boundary(ls) {
            ls += 1;
        }
        while ls < at && matches!(b[ls], b'.' | b'-') {
            ls += 1;
        }
        let mut de = at + 1;
        while de < e && (b[de].is_ascii_alphanumeric() || matches!(b[de], b'.' | b'-')) {
            de += 1;
        }
        while de > at + 1 && matches!(b[de - 1], b'.' | b'-') {
            de -= 1;
        }
        if ls == at || de == at + 1 {
            return;
        }
        let domain = &b[at + 1..de];
        if let Some(dot) = domain.iter().rposition(|&c| c == b'.') {
            let tld = &domain[dot + 1..];
            if tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) && dot > 0 {
                self.emit(Kind::Email, ls, de, 0.97, Why::Format("email"), P_FORMAT);
            }
        } else if (2..=24).contains(&domain.len()) && domain.iter().all(u8::is_ascii_alphabetic) {
            self.emit(Kind::Upi, ls, de, 0.9, Why::Format("upi"), P_FORMAT);
        }
    }

    /// "john dot smith at gmail dot com"
    fn spelled_email(&mut self, s: usize, e: usize) -> Option<usize> {
        let b = self.b;
        let word_at = |p: usize| -> usize {
            b[p..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-')
                .count()
        };
        // right: word ((" dot " | ".") word)+
        let mut p = e + 1;
        if e >= b.len() || b[e] != b' ' || p >= b.len() {
            return None;
        }
        let mut dots = 0;
        let mut end;
        loop {
            let w = word_at(p);
            if w == 0 {
                return None;
            }
            end = p + w;
            if end + 5 <= b.len() && b[end..end + 5].eq_ignore_ascii_case(b" dot ") {
                p = end + 5;
            } else if end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_alphabetic() {
                p = end + 1;
            } else {
                break;
            }
            dots += 1;
        }
        let tld_len = b[..end]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let tld = &self.t[end - tld_len..end];
        if dots == 0
            || !TLDS.iter().any(|t| tld.eq_ignore_ascii_case(t))
            || b.get(end) == Some(&b'@')
        {
            return None;
        }
        let next_ws = b[e + 1..]
            .iter()
            .position(u8::is_ascii_whitespace)
            .map_or(b.len(), |x| e + 1 + x);
        if b[e + 1..next_ws].contains(&b'@') {
            return None;
        }
        // left: word ((" dot " | ".") word)*
        if s < 2 || b[s - 1] != b' ' {
            return None;
        }
        let back = |q: usize| {
            b[..q]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'.')
                .count()
        };
        let mut start = s - 1 - back(s - 1);
        if start == s - 1 {
            return None;
        }
        while start >= 5 && b[start - 5..start].eq_ignore_ascii_case(b" dot ") {
            let w = back(start - 5);
            if w == 0 {
                break;
            }
            start = start - 5 - w;
        }
        self.emit(
            Kind::Email,
            start,
            end,
            0.85,
            Why::Format("spelled email"),
            P_FORMAT,
        );
        Some(end)
    }

    fn url(&mut self, s: usize, e: usize, we: usize) -> usize {
        let b = self.b;
        let u = &b[s..e];
        let is_map = contains_ci(u, b"maps")
            || contains_ci(u, b"goo.gl")
            || contains_ci(u, b"openstreetmap")
            || contains_ci(u, b"waze.com")
            || contains_ci(u, b"map.");
        for q in s + 1..e {
            if matches!(b[q - 1], b'=' | b'@' | b'/' | b',')
                && (b[q].is_ascii_digit() || b[q] == b'-')
            {
                if let Some(end) = self.gps(q) {
                    return end.max(we);
                }
            }
        }
        if is_map {
            self.emit(Kind::Gps, s, e, 0.75, Why::Format("map link"), P_FORMAT);
            return we;
        }
        // a chat link names a WhatsApp number: "wa.me/447700966456",
        // "api.whatsapp.com/send?phone=447700966456"
        for key in [&b"wa.me/"[..], b"phone="] {
            if let Some(p) = find_ci(u, key) {
                let ds = s + p + key.len();
                let de = ds + b[ds..e].iter().take_while(|c| c.is_ascii_digit()).count();
                if de - ds >= 7 {
                    self.emit(Kind::Phone, ds, de, 0.9, Why::Format("chat link"), P_FORMAT);
                    return we;
                }
            }
        }
        for key in [
            &b"token="[..],
            b"key=",
            b"apikey=",
            b"api_key=",
            b"access_token=",
            b"secret=",
            b"password=",
            b"pwd=",
            b"sig=",
        ] {
            if let Some(p) = find_ci(u, key) {
                if p > 0 && !matches!(u[p - 1], b'?' | b'&' | b'_') {
                    continue;
                }
                let vs = s + p + key.len();
                let ve = b[vs..e]
                    .iter()
                    .position(|&c| c == b'&' || c == b'#')
                    .map_or(e, |x| vs + x);
                if ve - vs >= 8 {
                    let kind = if key.starts_with(b"pass") || key.starts_with(b"pwd") {
                        Kind::Password
                    } else {
                        Kind::Secret
                    };
                    self.emit(kind, vs, ve, 0.85, Why::Format("url parameter"), P_FORMAT);
                }
            }
        }
        we
    }

    /// One coordinate: `-12.3456`, `12.3456°`, `12.3456° N`.
    fn coord(&self, p: usize) -> Option<(usize, f64, usize, Option<u8>)> {
        let b = self.b;
        let mut i = p;
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let is = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_len = i - is;
        if !(1..=3).contains(&int_len) || b.get(i) != Some(&b'.') {
            return None;
        }
        let int = f64::from(num(&b[is..i]));
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() && i - fs < 10 {
            i += 1;
        }
        let dec = i - fs;
        if dec == 0 {
            return None;
        }
        let frac = f64::from(num(&b[fs..i])) / 10f64.powi(dec as i32);
        let mut v = int + frac;
        if neg {
            v = -v;
        }
        if b[i..].starts_with("°".as_bytes()) {
            i += 2;
        }
        let mut hemi = None;
        let mut h = i;
        if b.get(h) == Some(&b' ') {
            h += 1;
        }
        if let Some(&c) = b.get(h) {
            let c = c.to_ascii_uppercase();
            if matches!(c, b'N' | b'S' | b'E' | b'W')
                && b.get(h + 1).is_none_or(|x| !x.is_ascii_alphanumeric())
            {
                hemi = Some(c);
                i = h + 1;
            }
        }
        Some((i, v, dec, hemi))
    }

    /// A coordinate pair at `p`: emits GPS and returns its end.
    fn gps(&mut self, p: usize) -> Option<usize> {
        let b = self.b;
        if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'.') {
            return None;
        }
        let (e1, lat, d1, h1) = self.coord(p)?;
        let mut q = e1;
        if b.get(q) == Some(&b' ') {
            q += 1;
        }
        if matches!(b.get(q), Some(b',' | b';' | b'/')) {
            q += 1;
        }
        if b.get(q) == Some(&b' ') {
            q += 1;
        }
        if q == e1 {
            return None;
        }
        let (e2, lon, d2, h2) = self.coord(q)?;
        let hemis = matches!(h1, Some(b'N' | b'S')) && matches!(h2, Some(b'E' | b'W'));
        let precise = (d1 >= 3 && d2 >= 3) || (hemis && d1 >= 2 && d2 >= 2);
        if !precise || lat.abs() > 90.0 || lon.abs() > 180.0 || (h1.is_some() != h2.is_some()) {
            return None;
        }
        if e2 < b.len() && b[e2].is_ascii_alphanumeric() {
            return None;
        }
        self.emit(Kind::Gps, p, e2, 0.93, Why::Format("coordinates"), P_FORMAT);
        Some(e2)
    }

    /// "AB 12 34 56 C"
    fn nino_spaced(&mut self, s: usize) -> Option<usize> {
        let b = self.b;
        let mut buf = [0u8; 9];
        let (mut n, mut i) = (0usize, s);
        while n < 9 && i < b.len() {
            let c = b[i];
            if c.is_ascii_alphanumeric() {
                // two letters, six digits, a letter, or `checks::nino` fails: stop as soon
                // as the shape is wrong (most two-letter words are followed by a word)
                if c.is_ascii_digit() != (2..8).contains(&n) {
                    return None;
                }
                buf[n] = c.to_ascii_uppercase();
                n += 1;
                i += 1;
            } else if c == b' ' && n > 0 && i + 1 < b.len() && b[i + 1].is_ascii_alphanumeric() {
                i += 1;
            } else {
                break;
            }
        }
        if n != 9 || !checks::nino(&buf) || (i < b.len() && b[i].is_ascii_alphanumeric()) {
            return None;
        }
        if !(b[s].is_ascii_uppercase()
            || self.lower_only
            || self.cue_before(s, 24, Cue::Nino).is_some())
        {
            return None;
        }
        self.emit(Kind::UkNino, s, i, 0.93, Why::Format("nino"), P_FORMAT);
        Some(i)
    }

    /// UK postcodes: "SW1A 1AA", "M1 1AE", "EC1A1BB".
    fn uk_postcode(&mut self, s: usize, e: usize) -> Option<usize> {
        let b = self.b;
        let outward = |w: &[u8]| -> bool {
            let l = w.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            if !(1..=2).contains(&l) || w.len() < l + 1 || w.len() > l + 2 || !w[l].is_ascii_digit()
            {
                return false;
            }
            w.len() == l + 1 || w[l + 1].is_ascii_alphanumeric()
        };
        let inward = |w: &[u8]| {
            w.len() == 3
                && w[0].is_ascii_digit()
                && w[1].is_ascii_alphabetic()
                && w[2].is_ascii_alphabetic()
        };
        let w = &b[s..e];
        let (end, ok) = if (5..=7).contains(&w.len())
            && inward(&w[w.len() - 3..])
            && outward(&w[..w.len() - 3])
        {
            (e, true)
        } else if outward(w)
            && e + 4 <= b.len()
            && b[e] == b' '
            && inward(&b[e + 1..e + 4])
            && (e + 4 == b.len() || !b[e + 4].is_ascii_alphanumeric())
        {
            (e + 4, true)
        } else {
            (e, false)
        };
        if !ok {
            return None;
        }
        let span = &b[s..end];
        let upper = !span.iter().any(u8::is_ascii_lowercase);
        let cue = self.cue_before(s, 24, Cue::Postcode);
        if !(upper || cue.is_some() || self.lower_only) {
            return None;
        }
        let why = cue.map_or(Why::Format("uk postcode"), |h| Why::Cue(h.word));
        self.emit(
            Kind::Postcode,
            s,
            end,
            if cue.is_some() { 0.95 } else { 0.85 },
            why,
            P_FORMAT,
        );
        Some(end)
    }

    /// "5 Jan 1990", "Jan 5, 1990", "5 de janeiro de 1990" at the month word `[s, e)`.
    fn word_date(&mut self, s: usize, e: usize) -> Option<usize> {
        let b = self.b;
        let digits_back = |q: usize| {
            b[..q]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let skip_de_back = |q: usize| {
            if q >= 4 && b[q - 4..q].eq_ignore_ascii_case(b" de ") {
                q - 3
            } else {
                q
            }
        };
        let mut start = None;
        // day before: "5 Jan", "5th Jan", "5 de janeiro"
        let q = skip_de_back(s);
        if q >= 2 && b[q - 1] == b' ' {
            let mut r = q - 1;
            if r >= 2 && matches!(&b[r - 2..r], b"st" | b"nd" | b"rd" | b"th") {
                r -= 2;
            }
            let dl = digits_back(r);
            if (1..=2).contains(&dl) && (r - dl == 0 || !b[r - dl - 1].is_ascii_alphanumeric()) {
                start = Some(r - dl);
            }
        }
        let mut p = e;
        if b.get(p) == Some(&b'.') {
            p += 1;
        }
        if start.is_none() {
            // day after: "Jan 5, 1990"
            if b.get(p) != Some(&b' ') {
                return None;
            }
            p += 1;
            let dl = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=2).contains(&dl) {
                return None;
            }
            p += dl;
            if b.len() >= p + 2 && matches!(&b[p..p + 2], b"st" | b"nd" | b"rd" | b"th") {
                p += 2;
            }
            if b.get(p) == Some(&b',') {
                p += 1;
            }
            start = Some(s);
        }
        // year
        if p + 4 <= b.len() && b[p..p + 4].eq_ignore_ascii_case(b" de ") {
            p += 3;
        }
        if b.get(p) == Some(&b',') {
            p += 1;
        }
        if b.get(p) != Some(&b' ') {
            return None;
        }
        p += 1;
        let yl = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
        if yl != 4 || b.get(p + yl).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        let year = num(&b[p..p + 4]);
        let end = p + 4;
        let start = start?;
        if let Some(h) = self.cue_before(start, 48, Cue::Dob) {
            self.emit(Kind::Dob, start, end, 0.92, Why::Cue(h.word), P_CUE);
        } else if (1920..=2012).contains(&year) {
            self.emit(Kind::Dob, start, end, 0.6, Why::Format("date"), P_WEAK);
        } else {
            return Some(end);
        }
        Some(end)
    }

    /// Passwords and generic secrets: the token after a cue word.
    pub(crate) fn after_cues(&mut self, lex: &crate::lexicon::Lexicon) {
        let cues = self.cues;
        for h in cues {
            if !matches!(h.cue, Cue::Password | Cue::Secret) {
                continue;
            }
            let b = self.b;
            let mut p = h.end;
            let mut explicit = false;
            // "senha do app: x", "password for the portal = x": the value follows the colon
            if let Some(c) = b[p..b.len().min(p + 20)]
                .iter()
                .position(|&c| c == b':' || c == b'=' || c == b'\n')
            {
                if b[p + c] != b'\n' {
                    p += c;
                }
            }
            loop {
                while p < b.len() && matches!(b[p], b' ' | b':' | b'=' | b'-') {
                    explicit |= b[p] == b':' || b[p] == b'=';
                    p += 1;
                }
                let w = b[p..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic() || **c >= 0x80)
                    .count();
                let word = &self.t[p..p + w];
                let filler = [
                    "is", "was", "é", "e", "adalah", "ist", "est", "hai", "será", "now", "as",
                ];
                if w > 0
                    && w < 8
                    && b.get(p + w).is_some_and(|c| *c == b' ' || *c == b':')
                    && filler.iter().any(|f| word.eq_ignore_ascii_case(f))
                {
                    p += w;
                    continue;
                }
                break;
            }
            let mut e = p;
            while e < b.len() && !b[e].is_ascii_whitespace() {
                e += 1;
            }
            while e > p && matches!(b[e - 1], b',' | b';' | b')' | b'"' | b'\'') {
                e -= 1;
            }
            if e > p + 1 && b[e - 1] == b'.' {
                e -= 1;
            }
            if e <= p || !self.t.is_char_boundary(e) {
                continue;
            }
            let tok = &b[p..e];
            let len = tok.len();
            let has_digit = tok.iter().any(u8::is_ascii_digit);
            let has_sym = tok.iter().any(|c| c.is_ascii_punctuation());
            let inner_upper = tok.iter().skip(1).any(u8::is_ascii_uppercase);
            let stop = lex.is_not_name(tok);
            if h.cue == Cue::Password {
                if (4..=64).contains(&len)
                    && !stop
                    && (has_digit || has_sym || inner_upper || (explicit && len >= 6))
                {
                    self.emit(Kind::Password, p, e, 0.88, Why::Cue(h.word), P_CUE + 5);
                }
            } else if len >= 16
                && has_digit
                && tok.iter().any(u8::is_ascii_alphabetic)
                && !tok.contains(&b'@')
            {
                self.emit(Kind::Secret, p, e, 0.8, Why::Cue(h.word), P_CUE);
            }
        }
    }
}

/// The year of a day/month/year (or year-month-day) date made of segments `l`.
/// Tracking number formats of real carriers that have no public check digit, on the
/// whole token: the format is the proof. (UPU S10 and configured formats are checked
/// before this; UPS `1Z` is matched by its prefix and length.)
fn carrier_format(core: &[u8]) -> Option<&'static str> {
    let up: Vec<u8> = core.iter().map(u8::to_ascii_uppercase).collect();
    let digits_after = |prefix: &[u8], lens: std::ops::RangeInclusive<usize>| {
        up.starts_with(prefix)
            && lens.contains(&(up.len() - prefix.len()))
            && up[prefix.len()..].iter().all(u8::is_ascii_digit)
    };
    let formats: [(&[u8], std::ops::RangeInclusive<usize>, &'static str); 14] = [
        (b"TBA", 12..=12, "amazon"),
        (b"JP", 10..=12, "j&t"),
        (b"JX", 10..=12, "j&t"),
        (b"JT", 10..=12, "j&t"),
        (b"JD", 16..=18, "yodel"),
        (b"JVGL", 16..=16, "dhl ecommerce"),
        (b"GM", 16..=18, "dhl ecommerce"),
        (b"FMPP", 10..=10, "ekart"),
        (b"FMPC", 10..=10, "ekart"),
        (b"NLIDAP", 8..=10, "lazada"),
        (b"SPXID", 10..=14, "shopee"),
        (b"CGK", 10..=12, "jne"),
        (b"SPE", 10..=14, "sicepat"),
        (b"NV", 10..=14, "ninja van"),
    ];
    if let Some((_, _, name)) = formats.iter().find(|(p, l, _)| digits_after(p, l.clone())) {
        return Some(name);
    }
    let n = up.len();
    // DTDC: a letter and eight or nine digits
    if (9..=10).contains(&n)
        && matches!(up[0], b'D' | b'Z')
        && up[1..].iter().all(u8::is_ascii_digit)
    {
        return Some("dtdc");
    }
    // Evri (Hermes UK): H, two digits, three letters, ten digits
    if n == 16
        && up[0] == b'H'
        && up[1..3].iter().all(u8::is_ascii_digit)
        && up[3..6].iter().all(u8::is_ascii_alphabetic)
        && up[6..].iter().all(u8::is_ascii_digit)
    {
        return Some("evri");
    }
    // PostNL: 3S, four letters, six to nine digits
    if up.starts_with(b"3S")
        && (12..=15).contains(&n)
        && up[2..6].iter().all(u8::is_ascii_alphabetic)
        && up[6..].iter().all(u8::is_ascii_digit)
    {
        return Some("postnl");
    }
    None
}

fn date_year(l: &[u8], d: &[u8]) -> Option<u32> {
    let (a, bb, c) = (l[0] as usize, l[1] as usize, l[2] as usize);
    let p1 = num(&d[..a]);
    let p2 = num(&d[a..a + bb]);
    let p3 = num(&d[a + bb..a + bb + c]);
    if a == 4 && (1..=2).contains(&bb) && (1..=2).contains(&c) {
        return ((1..=12).contains(&p2) && (1..=31).contains(&p3) && (1900..=2099).contains(&p1))
            .then_some(p1);
    }
    if (1..=2).contains(&a) && (1..=2).contains(&bb) && (c == 4 || c == 2) {
        let valid = ((1..=31).contains(&p1) && (1..=12).contains(&p2))
            || ((1..=12).contains(&p1) && (1..=31).contains(&p2));
        let year = if c == 2 {
            if p3 > 30 {
                1900 + p3
            } else {
                2000 + p3
            }
        } else {
            p3
        };
        return (valid && (1900..=2099).contains(&year)).then_some(year);
    }
    None
}

/// National phone formats: a confidence when the digits follow a real numbering plan.
fn phone_national(v: &View) -> Option<f32> {
    let d = v.digits();
    let l = v.lens();
    let grouped = v.k >= 2 || v.paren;
    match d.len() {
        10 => {
            if (b'6'..=b'9').contains(&d[0]) {
                Some(0.85)
            } else if d[0] == b'0' && d[1] != b'0' {
                Some(0.8)
            } else if nanp(d) {
                Some(if grouped { 0.85 } else { 0.6 })
            } else if d[0] == b'3' {
                Some(0.7)
            } else {
                None
            }
        }
        11 => {
            let trunk = d[0] == b'0' && d[1] != b'0';
            let brazil = grouped && l[0] == 2 && d[2] == b'9' && d[0] != b'0' && d[1] != b'0';
            if trunk || brazil {
                Some(0.85)
            } else if (v.paren && l[0] == 2) || (grouped && d[0] == b'1' && nanp(&d[1..])) {
                Some(0.8)
            } else {
                None
            }
        }
        12 => {
            if d[0] == b'0' && d[1] != b'0' {
                Some(0.75)
            } else if (d.starts_with(b"91") && (b'6'..=b'9').contains(&d[2]))
                || (d.starts_with(b"44") && d[2] == b'7')
                || (d.starts_with(b"62") && d[2] == b'8')
                || (d.starts_with(b"55") && grouped)
            {
                Some(0.6)
            } else {
                None
            }
        }
        13 => {
            if d.starts_with(b"08")
                || (d.starts_with(b"628") && grouped)
                || (d.starts_with(b"55") && grouped)
            {
                Some(0.7)
            } else {
                None
            }
        }
        9 => {
            if v.k == 3 && l == [3, 3, 3] && (b'6'..=b'9').contains(&d[0]) {
                Some(0.7)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn starts_ci(h: &[u8], p: &[u8]) -> bool {
    h.len() >= p.len() && h[..p.len()].eq_ignore_ascii_case(p)
}

fn find_ci(h: &[u8], p: &[u8]) -> Option<usize> {
    if p.len() > h.len() {
        return None;
    }
    (0..=h.len() - p.len()).find(|&i| h[i..i + p.len()].eq_ignore_ascii_case(p))
}

fn contains_ci(h: &[u8], p: &[u8]) -> bool {
    find_ci(h, p).is_some()
}
