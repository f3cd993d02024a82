//! Names: after cue words ("my name is", "receiver:", "atas nama", "my brother"), after
//! salutations ("Hi Priya,"), before "here" ("Rahul Sharma here"), in signatures
//! ("- Rahul"), and a common given name followed by a capitalised surname.

use crate::cues::Cue;
use crate::lexicon::{
    WordTable, GIVEN, IN_WORD, KIND_NAME, NAME_PARTICLE, NOT_NAME, PREFIX, SUFFIX,
};
use crate::scan::{Ctx, P_PERSON, P_WEAK};
use crate::words::script_mark;
use crate::{Kind, Why};

/// Cues that say outright that a name follows, so a lower-case word may be one.
const EXPLICIT: &[&str] = &[
    "my name is",
    "name is",
    "name",
    "name:",
    "full name",
    "naam",
    "mera naam",
    "my naam",
    "nama",
    "nama saya",
    "atas nama",
    "a.n.",
    "a/n",
    "meu nome é",
    "meu nome e",
    "me chamo",
    "mein name ist",
    "je m'appelle",
    "receiver",
    "receiver name",
    "recipient",
    "consignee",
    "account holder",
    "titular",
    "kontoinhaber",
    "customer name",
    "my wife",
    "my husband",
    "my brother",
    "my sister",
    "my son",
    "my daughter",
    "my mother",
    "my father",
    "my mom",
    "my dad",
    "my friend",
    "my neighbour",
    "my neighbor",
    "my colleague",
    "my bhai",
    "me llamo",
    "mi nombre es",
    "mi chiamo",
    "penerima",
    "destinatário",
    "destinatario",
    "empfänger",
    "nome",
    "nome:",
    "namanya",
    "jina",
    "jina ni",
    "jina langu ni",
    "anaitwa",
    "se llama",
    "a nombre de",
    "a nome de",
    "en nombre de",
    "au nom de",
    "destinataire",
    "klingel",
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
];

struct P<'c, 'a> {
    ctx: &'c Ctx<'a>,
    wt: &'c WordTable,
    /// No lower-case letter anywhere: capitals say nothing.
    shouting: bool,
}

impl P<'_, '_> {
    fn text(&self, i: usize) -> &str {
        let w = self.wt.words[i];
        &self.ctx.t[w.s..w.e]
    }

    fn given(&self, i: usize) -> bool {
        self.wt.has(i, GIVEN)
    }

    fn alpha(&self, i: usize) -> bool {
        let w = self.text(i);
        w.len() >= 2
            && w.chars()
                .all(|c| c.is_alphabetic() || c == '\'' || c == '-' || c == '’' || script_mark(c))
    }

    fn title(&self, i: usize) -> bool {
        let w = self.text(i);
        let mut cs = w.chars();
        let first_up = cs.next().is_some_and(char::is_uppercase);
        first_up && (self.shouting || cs.any(char::is_lowercase))
    }

    fn plain(&self, i: usize) -> bool {
        self.alpha(i)
            && !self
                .wt
                .has(i, NOT_NAME | KIND_NAME | SUFFIX | PREFIX | IN_WORD)
    }

    fn single_space(&self, i: usize) -> bool {
        i + 1 < self.wt.len() && &self.ctx.b[self.wt.words[i].e..self.wt.words[i + 1].s] == b" "
    }

    /// An initial: one capital letter and a dot ("J." in "J. Hoffmann").
    fn initial(&self, i: usize) -> bool {
        let w = self.wt.words[i];
        let mut cs = self.text(i).chars();
        cs.next().is_some_and(char::is_uppercase)
            && cs.next().is_none()
            && self.ctx.b.get(w.e) == Some(&b'.')
            && i + 1 < self.wt.len()
            && &self.ctx.b[w.e..self.wt.words[i + 1].s] == b". "
    }

    /// Name words from `j`: title-case ones, or lower-case ones when `lower` allows; a
    /// name may start with an initial ("J. Hoffmann").
    fn run(&self, j: usize, lower: bool, max: usize) -> Option<usize> {
        let n = self.wt.len();
        if j + 1 < n && self.initial(j) && self.plain(j + 1) && self.title(j + 1) {
            return self.run(j + 1, false, max.saturating_sub(1).max(1));
        }
        if j >= n || !(self.plain(j) && (self.title(j) || lower)) {
            return None;
        }
        // "Budi Santoso ya": after a capitalised name, only capitalised words continue it
        let lower = lower && !self.title(j);
        let ok = |k: usize| self.plain(k) && (self.title(k) || lower);
        let mut end = j;
        while end + 1 < n && end + 1 - j < max && self.single_space(end) {
            let k = end + 1;
            if self.wt.has(k, NAME_PARTICLE) && k + 1 < n && self.single_space(k) && ok(k + 1) {
                end = k + 1;
            } else if ok(k) {
                end = k;
            } else {
                break;
            }
        }
        Some(end)
    }
}

/// Finds names.
pub(crate) fn persons(ctx: &mut Ctx<'_>, wt: &WordTable) {
    let n = wt.len();
    if n == 0 {
        return;
    }
    let mut out: Vec<(usize, usize, f32, Why, u8)> = Vec::new();
    {
        let shouting = !ctx.t.chars().any(char::is_lowercase);
        let p = P { ctx, wt, shouting };
        let words = &wt.words;
        let caseless = ctx.lower_only || shouting;
        for h in ctx.cues {
            // most cues announce something else: skipped before the word search
            if !matches!(h.cue, Cue::Name | Cue::Greeting | Cue::NameAfter) {
                continue;
            }
            let j = words.partition_point(|w| w.s < h.end);
            if j >= n {
                continue;
            }
            let gap = &ctx.b[h.end..words[j].s];
            match h.cue {
                Cue::Name => {
                    if gap.len() > 4
                        || !gap
                            .iter()
                            .all(|c| matches!(c, b' ' | b':' | b',' | b'-' | b'\n' | b'('))
                    {
                        continue;
                    }
                    let explicit = EXPLICIT.iter().any(|e| h.word.eq_ignore_ascii_case(e));
                    let max = if explicit { 4 } else { 3 };
                    if let Some(end) = p.run(j, caseless || explicit, max) {
                        // after a weak cue ("this is", "I'm") in a message without case,
                        // the first word must be a known given name
                        let lead_title = p.title(j) || p.initial(j);
                        if !explicit && (caseless || !lead_title) && !p.given(j) {
                            continue;
                        }
                        // "im" and "its" are also German and English function words ("im
                        // Paketzentrum"): only a known given name follows them as a name
                        if matches!(h.word, "im" | "its") && !p.given(j) {
                            continue;
                        }
                        out.push((words[j].s, words[end].e, 0.85, Why::Cue(h.word), P_PERSON));
                    }
                }
                Cue::Greeting => {
                    if gap != b" " {
                        continue;
                    }
                    if caseless && !p.given(j) {
                        continue;
                    }
                    if let Some(end) = p.run(j, caseless, 3) {
                        let after = ctx.b.get(words[end].e).copied();
                        if after.is_none()
                            || matches!(after, Some(b',' | b'!' | b'.' | b'\n' | b' ' | b'?'))
                        {
                            out.push((words[j].s, words[end].e, 0.8, Why::Cue(h.word), P_PERSON));
                        }
                    }
                }
                Cue::NameAfter => {
                    // "Rahul Sharma here", at the start of a clause
                    let k = words.partition_point(|w| w.e <= h.start);
                    if k == 0 || &ctx.b[words[k - 1].e..h.start] != b" " {
                        continue;
                    }
                    let ok = |i: usize| p.plain(i) && (p.title(i) || caseless);
                    let mut first = k - 1;
                    if !ok(first) {
                        continue;
                    }
                    while first > 0 && k - first < 3 && p.single_space(first - 1) && ok(first - 1) {
                        first -= 1;
                    }
                    if caseless && !p.given(first) {
                        continue;
                    }
                    let lead = ctx.t[..words[first].s].trim_end_matches(' ');
                    let clause_start = lead.is_empty()
                        || lead.ends_with([',', '.', '!', '\n', ':', '-'])
                        || (first > 0
                            && matches!(
                                wt.low(first - 1),
                                "hey" | "hi" | "hello" | "hallo" | "oi" | "ola" | "halo"
                            ));
                    if clause_start {
                        out.push((
                            words[first].s,
                            words[k - 1].e,
                            0.85,
                            Why::Cue(h.word),
                            P_PERSON,
                        ));
                    }
                }
                _ => {}
            }
        }
        // a given name and a capitalised surname, anywhere
        let mut i = 0;
        while i < n {
            // "São Paulo", "San Jose", "St Helens": a given name after a place prefix
            // names a place, not a person.
            let place = i > 0
                && matches!(
                    wt.low(i - 1),
                    "são"
                        | "sao"
                        | "san"
                        | "santa"
                        | "santo"
                        | "st"
                        | "saint"
                        | "port"
                        | "porto"
                        | "fort"
                        | "mount"
                        | "mt"
                        | "lake"
                        | "los"
                        | "las"
                        | "vila"
                        | "cidade"
                );
            if !place && p.given(i) && p.plain(i) && (p.title(i) || caseless) {
                if let Some(end) = p.run(i, caseless, 3) {
                    if end > i {
                        out.push((words[i].s, words[end].e, 0.75, Why::Lexicon, P_PERSON - 5));
                    } else if !caseless {
                        let lead = ctx.t[..words[i].s].trim_end_matches(' ');
                        let sentence_start =
                            lead.is_empty() || lead.ends_with(['.', '!', '?', '\n']);
                        let verbish =
                            sentence_start && i + 1 < n && p.single_space(i) && !p.title(i + 1);
                        let after_digit = lead.ends_with(|c: char| c.is_ascii_digit());
                        if !verbish && !after_digit {
                            out.push((words[i].s, words[i].e, 0.6, Why::Lexicon, P_WEAK));
                        }
                    }
                    i = end + 1;
                    continue;
                }
            }
            i += 1;
        }
        // a signature line: "- Rahul" or "~ Priya S" at the end
        if let Some(last_nl) = ctx.t.trim_end().rfind('\n') {
            let line = ctx.t[last_nl + 1..].trim_start();
            if line.starts_with(['-', '~']) {
                let j = words.partition_point(|w| w.s <= last_nl);
                if let Some(end) = p.run(j, false, 3) {
                    if end + 1 == n {
                        out.push((
                            words[j].s,
                            words[end].e,
                            0.75,
                            Why::Format("signature"),
                            P_PERSON,
                        ));
                    }
                }
            }
        }
    }
    for (s, e, conf, why, prio) in out {
        ctx.emit(Kind::Person, s, e, conf, why, prio);
    }
    file_names(ctx);
}

/// Words of a document's file name that say what the document is, not whose it is.
const DOCUMENT_WORDS: &[&str] = &[
    "aadhaar",
    "aadhar",
    "pan",
    "ktp",
    "kk",
    "npwp",
    "sim",
    "rg",
    "cpf",
    "cnh",
    "dni",
    "nie",
    "nin",
    "id",
    "idcard",
    "passport",
    "paspor",
    "passaporte",
    "pasaporte",
    "licence",
    "license",
    "dl",
    "voter",
    "card",
    "front",
    "back",
    "frente",
    "verso",
    "depan",
    "belakang",
    "scan",
    "foto",
    "photo",
    "img",
    "image",
    "doc",
    "document",
    "documento",
    "copy",
    "copia",
    "kopie",
    "proof",
    "address",
    "bill",
    "invoice",
    "receipt",
    "nota",
    "fatura",
    "factura",
    "rechnung",
    "label",
    "pod",
    "signed",
    "final",
    "new",
    "old",
    "page",
    "pg",
    "whatsapp",
    "screenshot",
];

/// A person's name inside a document's file name ("KTP_Siti_Rahma.pdf",
/// "aadhaar_priya_nair_front.jpg"): the name parts between the document words.
fn file_names(ctx: &mut Ctx<'_>) {
    const EXTENSIONS: &[&str] = &[
        ".pdf", ".jpg", ".jpeg", ".png", ".heic", ".webp", ".doc", ".docx", ".tif", ".tiff",
    ];
    let t = ctx.t;
    let b = ctx.b;
    let mut found: Vec<(usize, usize)> = Vec::new();
    let boundary = |c: u8| c.is_ascii_whitespace() || matches!(c, b',' | b'(' | b')' | b'"');
    // driven by the dots (a file name ends in one and its extension), so that a message
    // without one costs a single search
    let mut from = 0;
    while let Some(dot) = t[from..].find('.').map(|p| p + from) {
        from = dot + 1;
        let Some(ext) = EXTENSIONS.iter().find(|x| {
            b.len() >= dot + x.len()
                && b[dot..dot + x.len()].eq_ignore_ascii_case(x.as_bytes())
                && b.get(dot + x.len())
                    .is_none_or(|&c| !c.is_ascii_alphanumeric())
        }) else {
            continue;
        };
        let start = b[..dot]
            .iter()
            .rposition(|&c| boundary(c))
            .map_or(0, |p| p + 1);
        let token = &t[start..dot + ext.len()];
        let stem = &token[..token.len() - ext.len()];
        if !stem.contains(['_', '-']) {
            continue;
        }
        let mut first: Option<usize> = None;
        let mut last = 0;
        let mut part_at = 0;
        for part in stem.split(['_', '-']) {
            let s = part_at;
            part_at += part.len() + 1;
            let is_name = part.chars().count() >= 2
                && part.chars().all(char::is_alphabetic)
                && !DOCUMENT_WORDS.iter().any(|w| part.eq_ignore_ascii_case(w));
            if is_name {
                first.get_or_insert(s);
                last = s + part.len();
            } else if first.is_some() {
                break;
            }
        }
        if let Some(first) = first {
            found.push((start + first, start + last));
        }
    }
    for (s, e) in found {
        ctx.emit(Kind::Person, s, e, 0.7, Why::Format("file name"), P_PERSON);
    }
}
