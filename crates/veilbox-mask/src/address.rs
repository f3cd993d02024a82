//! Street addresses and the postcodes after them.
//!
//! An address is anchored on a street word ("Road", "Rua", "Jl.", "-straße"), a
//! house-number word followed by a number ("Flat 12", "No. 5"), then grown word by word to
//! the left and right over what addresses are made of: numbers, capitalised names,
//! particles ("de", "das"), state codes, separated by spaces, commas, slashes and " - ".
//! It stops at function words, cue words, sentence ends and postcodes; a comma segment
//! that holds a non-address word is dropped whole.

use crate::cues::Cue;
use crate::lexicon::{
    WordTable, ABBREV, ADDR_STOP, BUILDING, HOUSE, IN_WORD, KIND_NAME, PARTICLE, PREFIX, SUFFIX,
    WEAK_SUFFIX,
};
use crate::scan::{Ctx, MaybePostcode, P_ADDRESS, P_CUE};
use crate::{Kind, Why};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Anchor {
    /// Street type after the name: "MG Road", "Main St".
    Suffix,
    /// Street type before the name: "Rua Augusta", "Jl. Merdeka", "Rue de Rivoli".
    Prefix,
    /// Street type inside the word: "Hauptstraße", "Keizersgracht".
    InWord,
    /// "Flat 12", "House No. 45", "Apt 5".
    House,
    /// A named building: "Shanti Apartments", "Prestige Towers".
    Building,
}

/// What an address word is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Num,
    Keyword,
    Title,
    Particle,
    Lower,
    Stop,
    /// Inside something already found (a phone, a key): a hard edge.
    Taken,
}

struct Addr<'c, 'a> {
    ctx: &'c Ctx<'a>,
    wt: &'c WordTable,
    /// Spans already found by the lexer (phones, cards, references): not address words.
    taken: Vec<(usize, usize)>,
}

impl Addr<'_, '_> {
    fn text(&self, i: usize) -> &str {
        let w = self.wt.words[i];
        &self.ctx.t[w.s..w.e]
    }

    fn tok(&self, i: usize) -> Tok {
        let word = self.wt.words[i];
        let k = self.taken.partition_point(|&(_, e)| e <= word.s);
        if self.taken.get(k).is_some_and(|&(s, _)| s < word.e) {
            return Tok::Taken;
        }
        let w = self.text(i);
        let first = w.chars().next().unwrap_or(' ');
        if first.is_ascii_digit() {
            // "18:00" is a time
            if word.s > 0 && self.ctx.b[word.s - 1] == b':' {
                return Tok::Stop;
            }
            let digits = w.bytes().take_while(u8::is_ascii_digit).count();
            return if w.len() <= 6 && digits <= 5 {
                Tok::Num
            } else {
                Tok::Stop
            };
        }
        let wt = self.wt;
        if wt.has(i, KIND_NAME) {
            // a mask tag stands where the value stood: a name reads like a name, anything
            // else was found by the lexer and is a hard edge
            return if w == "PERSON" {
                Tok::Title
            } else {
                Tok::Taken
            };
        }
        // state and province codes: "TX", "SP", "MG"
        if w.len() == 2
            && w.bytes().all(|c| c.is_ascii_uppercase())
            && !matches!(
                w,
                "NO" | "OK" | "HI" | "PM" | "AM" | "TO" | "AT" | "IN" | "ON" | "OR" | "MY" | "IS"
            )
        {
            return Tok::Title;
        }
        // "C.P. 06700": an abbreviation of letters and dots ends the address
        if w.len() == 1
            && self.ctx.b.get(word.e) == Some(&b'.')
            && self
                .ctx
                .b
                .get(word.e + 1)
                .is_some_and(u8::is_ascii_alphabetic)
        {
            return Tok::Stop;
        }
        // floor, side and unit words inside an address ("3º izq", "int. 5", "3. OG links",
        // "hse 4B", "bât. C"): they stand where a number would
        if unit_word(wt.low(i)) {
            return Tok::Num;
        }
        if wt.has(i, ADDR_STOP) {
            return Tok::Stop;
        }
        if wt.has(i, SUFFIX | PREFIX | HOUSE | BUILDING | IN_WORD) {
            return Tok::Keyword;
        }
        if wt.has(i, PARTICLE) {
            return Tok::Particle;
        }
        if first.is_uppercase() {
            return Tok::Title;
        }
        if self.ctx.lower_only && w.chars().all(char::is_alphabetic) {
            return Tok::Lower;
        }
        Tok::Stop
    }

    /// The gap between word `i` and word `i + 1`: `None` if it ends an address, else
    /// whether it holds a comma.
    fn gap(&self, i: usize) -> Option<bool> {
        let (a, b) = (self.wt.words[i].e, self.wt.words[i + 1].s);
        let g = &self.ctx.b[a..b];
        if g.len() > 5 || g.is_empty() {
            return None;
        }
        let mut comma = false;
        let mut line = false;
        for &c in g {
            match c {
                b' ' | b'/' | b'-' | b'#' | b'[' | b']' => {}
                // a forwarded block goes on on the next line while that line starts like
                // an address line does (a number, a capitalised name, a street word)
                b'\n' => {
                    if line || !matches!(self.tok(i + 1), Tok::Num | Tok::Title | Tok::Keyword) {
                        return None;
                    }
                    line = true;
                    comma = true;
                }
                b',' => {
                    if comma && !line {
                        return None;
                    }
                    comma = true;
                }
                b'.' => {
                    let str_abbrev = self.wt.has(i, IN_WORD) && self.wt.low(i).ends_with("str");
                    // "3. OG": a floor written as an ordinal
                    let w = self.text(i);
                    let ordinal = w.len() <= 2 && w.bytes().all(|c| c.is_ascii_digit());
                    if !(self.wt.has(i, ABBREV) || str_abbrev || ordinal) || comma {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        // " - " joins a state code ("São Paulo - SP") or, in title case, a district
        // ("3477 - Itaim Bibi")
        if g.contains(&b'-') && g.len() > 1 {
            let next = self.text(i + 1);
            let code = next.len() == 2 && next.chars().all(char::is_alphabetic);
            let upper_code =
                code && (self.ctx.lower_only || next.chars().all(|c| c.is_ascii_uppercase()));
            let district = !self.ctx.lower_only
                && next.chars().next().is_some_and(char::is_uppercase)
                && !self.wt.has(i + 1, ADDR_STOP);
            if !upper_code && !district {
                return None;
            }
        }
        Some(comma)
    }

    fn anchor(&self, i: usize) -> Option<Anchor> {
        let wt = self.wt;
        let n = wt.len();
        let ok_name = |j: usize| {
            matches!(
                self.tok(j),
                Tok::Title | Tok::Num | Tok::Lower | Tok::Keyword
            )
        };
        if wt.has(i, SUFFIX)
            && i > 0
            && self.gap(i - 1) == Some(false)
            && ok_name(i - 1)
            && !wt.has(i - 1, HOUSE)
        {
            return Some(Anchor::Suffix);
        }
        if wt.has(i, PREFIX) && i + 1 < n && self.gap(i) == Some(false) {
            let next = self.tok(i + 1);
            let next_ok = matches!(next, Tok::Title | Tok::Num | Tok::Lower)
                || (next == Tok::Particle
                    && i + 2 < n
                    && matches!(self.tok(i + 2), Tok::Title | Tok::Lower))
                || (next == Tok::Particle
                    && i + 3 < n
                    && self.tok(i + 2) == Tok::Particle
                    && matches!(self.tok(i + 3), Tok::Title | Tok::Lower));
            if next_ok {
                return Some(Anchor::Prefix);
            }
        }
        if wt.has(i, IN_WORD) {
            let num_next = i + 1 < n && self.gap(i) == Some(false) && self.tok(i + 1) == Tok::Num;
            let num_prev = i > 0 && self.gap(i - 1) == Some(false) && self.tok(i - 1) == Tok::Num;
            if num_next || num_prev {
                return Some(Anchor::InWord);
            }
        }
        if wt.has(i, BUILDING)
            && !wt.has(i, HOUSE)
            && i > 0
            && self.gap(i - 1) == Some(false)
            && self.tok(i - 1) == Tok::Title
        {
            return Some(Anchor::Building);
        }
        if wt.has(i, HOUSE) && i + 1 < n && self.gap(i).is_some() {
            let next_num = self.tok(i + 1) == Tok::Num
                || (wt.has(i + 1, HOUSE) && i + 2 < n && self.tok(i + 2) == Tok::Num);
            if next_num {
                return Some(Anchor::House);
            }
        }
        None
    }

    /// The last word of the landmark segment starting at `j` (up to the next comma or
    /// line break, at most six words on), if the address goes on after it.
    fn landmark_end(&self, j: usize) -> Option<usize> {
        let n = self.wt.len();
        let mut k = j;
        while k + 1 < n && k - j < 6 {
            match self.tok(k + 1) {
                Tok::Taken => return None,
                _ => match self.gap(k) {
                    Some(true) => return Some(k),
                    Some(false) => k += 1,
                    None => {
                        // a line break ends the landmark when the next line is an address line
                        let g = &self.ctx.b[self.wt.words[k].e..self.wt.words[k + 1].s];
                        return (g.contains(&b'\n')
                            && matches!(self.tok(k + 1), Tok::Num | Tok::Title | Tok::Keyword))
                        .then_some(k);
                    }
                },
            }
        }
        None
    }

    fn postcode_at(&self, j: usize) -> bool {
        let w = self.text(j);
        let n = self.wt.len();
        (w.len() >= 5 && w.bytes().all(|c| c.is_ascii_digit()))
            || (w.len() == 4 && w.bytes().all(|c| c.is_ascii_digit()) && j + 1 < n && {
                let x = self.text(j + 1);
                x.len() == 2
                    && x.bytes().all(|c| {
                        c.is_ascii_uppercase() || (self.ctx.lower_only && c.is_ascii_lowercase())
                    })
            })
            || uk_outward(w) && j + 1 < n && uk_inward(self.text(j + 1))
            || (5..=7).contains(&w.len())
                && w.is_ascii()
                && uk_inward(&w[w.len() - 3..])
                && uk_outward(&w[..w.len() - 3])
    }
}

/// Finds addresses, then decides which postcode-shaped numbers are postcodes.
pub(crate) fn addresses(ctx: &mut Ctx<'_>, wt: &WordTable) {
    let mut found: Vec<(usize, usize)> = Vec::new();
    {
        let mut taken: Vec<(usize, usize)> = Vec::with_capacity(ctx.cands.len());
        taken.extend(
            ctx.cands
                .iter()
                // a number hidden only because nothing classified it ("Flat 1203B") may be
                // an address word: the address, found later and stronger, takes it in
                .filter(|c| c.kind != Kind::Person && c.kind != Kind::Number)
                .map(|c| (c.s, c.e)),
        );
        taken.sort_unstable();
        // keep the list sorted by end too: drop spans nested in an earlier one
        let mut flat: Vec<(usize, usize)> = Vec::with_capacity(taken.len());
        for (s, e) in taken {
            match flat.last_mut() {
                Some(last) if s < last.1 => last.1 = last.1.max(e),
                _ => flat.push((s, e)),
            }
        }
        let a = Addr {
            ctx,
            wt,
            taken: flat,
        };
        let words = &wt.words;
        let n = wt.len();
        let mut i = 0;
        while i < n {
            // only a street, house or building word anchors an address
            if wt.flags[i] & (SUFFIX | PREFIX | IN_WORD | BUILDING | HOUSE) == 0 {
                i += 1;
                continue;
            }
            let Some(kind) = a.anchor(i) else {
                i += 1;
                continue;
            };
            // grow left
            let mut left = i;
            while left > 0 && i - left < 14 {
                let Some(_) = a.gap(left - 1) else { break };
                match a.tok(left - 1) {
                    Tok::Stop | Tok::Taken => break,
                    Tok::Particle
                        if left < 2 || matches!(a.tok(left - 2), Tok::Stop | Tok::Taken) =>
                    {
                        break
                    }
                    _ => left -= 1,
                }
            }
            // grow right
            let mut right = i;
            let mut seg_end = i;
            let mut rolled = false;
            let mut in_seg = 0;
            while right + 1 < n && right - i < 24 {
                let Some(comma) = a.gap(right) else { break };
                if comma {
                    seg_end = right;
                    in_seg = 0;
                }
                if a.postcode_at(right + 1) {
                    break;
                }
                in_seg += 1;
                if a.ctx.lower_only && in_seg > 3 && seg_end > i {
                    rolled = true;
                    break;
                }
                match a.tok(right + 1) {
                    Tok::Taken => break,
                    // ", near Hanuman temple, Dilsukhnagar": a landmark between commas is
                    // part of the address
                    Tok::Stop if comma && landmark(wt.low(right + 1)) => {
                        match a.landmark_end(right + 1) {
                            Some(end) => right = end,
                            None => break,
                        }
                    }
                    Tok::Stop => {
                        // a capitalised stop word starts a new sentence; a lower-case one
                        // shows the segment was not part of the address
                        let capital = a
                            .text(right + 1)
                            .chars()
                            .next()
                            .is_some_and(char::is_uppercase);
                        if !comma && (!capital || a.ctx.lower_only) {
                            rolled = true;
                        }
                        break;
                    }
                    Tok::Particle
                        if right + 2 >= n
                            || !matches!(
                                a.tok(right + 2),
                                Tok::Title | Tok::Lower | Tok::Particle
                            ) =>
                    {
                        break
                    }
                    _ => right += 1,
                }
            }
            if rolled {
                right = seg_end.max(i);
            }
            // drop leading comma segments that hold no number, house or building word
            let mut segs: Vec<usize> = vec![left];
            for j in left..i {
                if a.gap(j) == Some(true) {
                    segs.push(j + 1);
                }
            }
            let strong = |j: usize| a.tok(j) == Tok::Num || wt.has(j, HOUSE | BUILDING);
            let anchor_seg = *segs.last().unwrap_or(&left);
            let mut start = anchor_seg;
            for (k, &ss) in segs.iter().enumerate() {
                let se = segs.get(k + 1).copied().unwrap_or(i + 1);
                if (ss..se).any(strong) {
                    start = ss;
                    break;
                }
            }
            let mut left = start.min(anchor_seg);
            while left < i && a.tok(left) == Tok::Particle {
                left += 1;
            }
            let has_num = (left..=right).any(|j| a.tok(j) == Tok::Num);
            let segments = 1 + (left..right).filter(|&j| a.gap(j) == Some(true)).count();
            let words_n = right - left + 1;
            let weak = kind == Anchor::Suffix && wt.has(i, WEAK_SUFFIX);
            let ok = words_n >= 2
                && (has_num || (segments >= 3 && !weak))
                && (!matches!(kind, Anchor::House | Anchor::Building)
                    || segments >= 2
                    || words_n >= 5)
                && !(a.ctx.lower_only && !has_num && segments < 3);
            if ok {
                let mut s = words[left].s;
                if s > 0 && a.ctx.b[s - 1] == b'#' {
                    s -= 1;
                }
                let mut e = words[right].e;
                if e < a.ctx.b.len() && a.ctx.b[e] == b'.' && wt.has(right, ABBREV) {
                    e += 1;
                }
                found.push((s, e));
                i = right + 1;
            } else {
                i += 1;
            }
        }
    }
    for &(s, e) in &found {
        ctx.emit(
            Kind::Address,
            s,
            e,
            0.8,
            Why::Format("street address"),
            P_ADDRESS,
        );
    }
    postcodes(ctx, &found);
    po_boxes(ctx);
}

/// "P.O. Box 45678-00100 Nairobi", "Postfach 10 12 34", "Caixa Postal 1234": the box
/// word, its number (with a postal code joined by a dash or space) and the town after it.
/// It outranks what the digits alone would read as (a phone).
fn po_boxes(ctx: &mut Ctx<'_>) {
    let b = ctx.b;
    let mut boxes = Vec::new();
    for h in ctx.cues.iter().filter(|h| h.cue == Cue::PoBox) {
        let mut p = h.end;
        while p < b.len() && matches!(b[p], b' ' | b'.' | b':' | b'#' | b',') {
            p += 1;
        }
        let start_digits = p;
        while p < b.len() && (b[p].is_ascii_digit() || matches!(b[p], b' ' | b'-')) {
            p += 1;
        }
        while p > start_digits && !b[p - 1].is_ascii_digit() {
            p -= 1;
        }
        let digits = b[start_digits..p]
            .iter()
            .filter(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 16 {
            continue;
        }
        let e = city_after(ctx, p).map_or(p, |(_, ce)| ce);
        boxes.push((h.start, e));
    }
    for (s, e) in boxes {
        ctx.emit(
            Kind::Address,
            s,
            e,
            0.85,
            Why::Format("post-office box"),
            crate::scan::P_FORMAT + 2,
        );
    }
}

/// Floor, side and unit words written inside an address.
fn unit_word(w: &str) -> bool {
    matches!(
        w,
        "izq"
            | "izqda"
            | "izda"
            | "dcha"
            | "drcha"
            | "dch"
            | "int"
            | "interior"
            | "piso"
            | "puerta"
            | "pta"
            | "bajo"
            | "esc"
            | "dpto"
            | "depto"
            | "hs"
            | "og"
            | "eg"
            | "dg"
            | "links"
            | "rechts"
            | "bât"
            | "bat"
            | "étage"
            | "etage"
            | "esq"
            | "hse"
            | "huis"
    )
}

/// Words that start a landmark inside an address: "near", "opp.", "dekat", "perto de".
fn landmark(w: &str) -> bool {
    matches!(
        w,
        "near"
            | "nr"
            | "opp"
            | "opposite"
            | "behind"
            | "beside"
            | "next"
            | "dekat"
            | "samping"
            | "depan"
            | "belakang"
            | "seberang"
            | "perto"
            | "próximo"
            | "proximo"
            | "cerca"
            | "frente"
            | "junto"
            | "près"
            | "pres"
            | "face"
            | "gegenüber"
            | "neben"
            | "karibu"
            | "mbele"
            | "nyuma"
    )
}

/// One or two capitalised words right after `e` that end a clause: a city.
fn city_after(ctx: &Ctx<'_>, e: usize) -> Option<(usize, usize)> {
    let b = ctx.b;
    if b.get(e) != Some(&b' ') {
        return None;
    }
    let s = e + 1;
    let mut p = s;
    for _ in 0..2 {
        let c = ctx.t[p..].chars().next()?;
        if !c.is_uppercase() {
            break;
        }
        let w = ctx.t[p..]
            .find(|c: char| !c.is_alphabetic())
            .map_or(ctx.t.len(), |x| p + x);
        if w - p < 3 {
            return None;
        }
        p = w;
        if b.get(p) == Some(&b' ')
            && ctx.t[p + 1..]
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
        {
            p += 1;
        } else {
            break;
        }
    }
    let end = if p > s && b[p - 1] == b' ' { p - 1 } else { p };
    // the clause ends, or goes on in lower case ("80331 München für morgen")
    let ok = end > s
        && (end == b.len()
            || matches!(b[end], b',' | b'.' | b'\n' | b'!' | b'?' | b';' | b')')
            || (b[end] == b' '
                && ctx.t[end + 1..]
                    .chars()
                    .next()
                    .is_some_and(char::is_lowercase)));
    ok.then_some((s, end))
}

fn uk_outward(w: &str) -> bool {
    let b = w.as_bytes();
    let l = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    (1..=2).contains(&l) && b.len() > l && b.len() <= l + 2 && b[l].is_ascii_digit()
}

fn uk_inward(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 3
        && b[0].is_ascii_digit()
        && b[1].is_ascii_alphabetic()
        && b[2].is_ascii_alphabetic()
}

fn postcodes(ctx: &mut Ctx<'_>, found: &[(usize, usize)]) {
    let maybes = std::mem::take(&mut ctx.maybe_postcodes);
    let b = ctx.b;
    for m in maybes {
        let MaybePostcode { s, e, otherwise } = m;
        // addresses are in text order: only the last one ending before `s` can be just
        // before it
        let k = found.partition_point(|&(_, ae)| ae <= s);
        let after_address = found[k.saturating_sub(1)..k].iter().any(|&(_, ae)| {
            ae <= s && s - ae <= 16 && {
                let gap = &ctx.t[ae..s];
                let cleaned: String = gap
                    .chars()
                    .filter(|c| c.is_alphabetic())
                    .collect::<String>()
                    .to_ascii_lowercase();
                gap.matches('\n').count() <= 1
                    && !gap.contains('.')
                    && matches!(
                        cleaned.as_str(),
                        "" | "pin" | "cep" | "zip" | "pincode" | "postcode" | "kodepos" | "plz"
                    )
            }
        });
        let state_before = s >= 3
            && b[s - 1] == b' '
            && b[s - 3].is_ascii_uppercase()
            && b[s - 2].is_ascii_uppercase()
            && (s == 3 || !b[s - 4].is_ascii_alphanumeric());
        let after_cue = ctx.cues_after(e, 24).find(|h| h.cue == Cue::PostcodeAfter);
        let cep = e - s == 9 && b[s + 5] == b'-';
        if after_address {
            ctx.emit(
                Kind::Postcode,
                s,
                e,
                0.85,
                Why::Format("after address"),
                P_CUE,
            );
            // "75002 Paris", "10115 Berlin": the city written after the postcode
            if let Some((cs, ce)) = city_after(ctx, e) {
                ctx.emit(
                    Kind::Address,
                    cs,
                    ce,
                    0.75,
                    Why::Format("city after postcode"),
                    P_ADDRESS,
                );
            }
        } else if let Some(h) = after_cue {
            ctx.emit(Kind::Postcode, s, e, 0.8, Why::Cue(h.word), P_CUE);
        } else if state_before && e - s >= 5 {
            ctx.emit(
                Kind::Postcode,
                s,
                e,
                0.8,
                Why::Format("after state code"),
                P_CUE,
            );
        } else if cep {
            ctx.emit(Kind::Postcode, s, e, 0.7, Why::Format("cep"), P_CUE);
        } else if let Some(c) = otherwise {
            ctx.cands.push(c);
        } else {
            // shaped like a postcode, with nothing saying it is one: not proven safe either
            ctx.emit(
                Kind::Number,
                s,
                e,
                0.5,
                Why::Format("unclassified number"),
                crate::scan::P_WEAK,
            );
        }
    }
}
