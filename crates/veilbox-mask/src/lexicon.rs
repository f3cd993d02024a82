//! One hash table for every word list the name and address recognisers consult, and the
//! per-message table of folded words with their flags, so each word is folded and looked
//! up once.

use crate::scratch::TableBuffers;
use crate::text::fold_char;
use crate::words::Word;

pub(crate) const SUFFIX: u32 = 1;
pub(crate) const WEAK_SUFFIX: u32 = 1 << 1;
pub(crate) const PREFIX: u32 = 1 << 2;
pub(crate) const HOUSE: u32 = 1 << 3;
pub(crate) const BUILDING: u32 = 1 << 4;
pub(crate) const PARTICLE: u32 = 1 << 5;
pub(crate) const ADDR_STOP: u32 = 1 << 6;
pub(crate) const ABBREV: u32 = 1 << 7;
pub(crate) const GIVEN: u32 = 1 << 8;
pub(crate) const NOT_NAME: u32 = 1 << 9;
pub(crate) const IN_WORD: u32 = 1 << 10;
pub(crate) const KIND_NAME: u32 = 1 << 11;
pub(crate) const NAME_PARTICLE: u32 = 1 << 12;
/// A kind's name in lower case ("phone"): the word is a mask tag if written in capitals.
/// Only used while the word table is built; words carry [`KIND_NAME`] instead.
const KIND_LOWER: u32 = 1 << 13;

/// Street types that follow the name: "MG Road", "Main St".
const SUFFIX_WORDS: &[&str] = &[
    "road",
    "rd",
    "street",
    "st",
    "lane",
    "ln",
    "avenue",
    "ave",
    "drive",
    "dr",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "close",
    "crescent",
    "cres",
    "place",
    "pl",
    "terrace",
    "tce",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "square",
    "sq",
    "marg",
    "salai",
    "path",
    "gali",
    "chowk",
    "cross",
    "main",
    "circle",
    "row",
    "walk",
    "gardens",
    "grove",
    "mews",
    "parade",
    "esplanade",
    "quay",
    "wharf",
    "broadway",
    "queensway",
    "nagar",
    "layout",
    "colony",
    "vihar",
    "enclave",
    "bagh",
    "ganj",
    "puram",
    "peth",
    "raya",
    "alley",
    "pike",
    "trail",
];
/// Suffix streets that are also everyday words: they need a house number in the address.
const WEAK_SUFFIX_WORDS: &[&str] = &[
    "place", "pl", "way", "close", "court", "ct", "row", "walk", "main", "cross", "circle", "path",
    "square", "sq", "gardens", "grove", "dr", "st", "colony", "layout", "trail", "alley",
];
/// Street types before the name: "Rua Augusta", "Jl. Merdeka", "Rue de Rivoli".
const PREFIX_WORDS: &[&str] = &[
    "rua",
    "avenida",
    "av",
    "travessa",
    "tv",
    "alameda",
    "praça",
    "praca",
    "estrada",
    "rodovia",
    "largo",
    "jl",
    "jalan",
    "gang",
    "gg",
    "via",
    "viale",
    "piazza",
    "corso",
    "vicolo",
    "calle",
    "paseo",
    "plaza",
    "carrer",
    "camino",
    "rue",
    "avenue",
    "boulevard",
    "bd",
    "chemin",
    "allée",
    "allee",
    "quai",
    "impasse",
    "route",
    "strada",
    "sector",
    "sec",
    "block",
    "phase",
    "lorong",
    "avda",
    "avd",
    "ctra",
    "carretera",
    "ronda",
    "travesía",
    "travesia",
    "pasaje",
    "glorieta",
    "cours",
    "col",
    "colonia",
];
/// Street types inside a word: "Hauptstraße", "Keizersgracht" (matched as suffixes).
pub(crate) const IN_WORD_SUFFIXES: &[&str] = &[
    "strase", "strasse", "straße", "str", "gasse", "weg", "allee", "platz", "damm", "ufer",
    "gracht", "straat", "laan", "kade", "singel", "plein", "dijk", "steeg",
];
const HOUSE_WORDS: &[&str] = &[
    "flat",
    "apt",
    "apartment",
    "apto",
    "ap",
    "unit",
    "suite",
    "ste",
    "house",
    "hno",
    "plot",
    "door",
    "blk",
    "floor",
    "no",
    "nº",
    "room",
    "villa",
    "casa",
    "lote",
    "quadra",
    "bloco",
    "andar",
    "rt",
    "rw",
    "kav",
    "blok",
    "lantai",
    "lt",
    "shop",
    "wing",
    "h",
];
const BUILDING_WORDS: &[&str] = &[
    "apartments",
    "apts",
    "residency",
    "towers",
    "tower",
    "complex",
    "enclave",
    "heights",
    "society",
    "estate",
    "residence",
    "residences",
    "villas",
    "building",
    "bldg",
    "mansion",
    "mansions",
    "plaza",
    "phase",
    "house",
    "niwas",
    "bhavan",
    "sadan",
    "kunj",
    "dham",
    "condominio",
    "edificio",
    "residencial",
    "perumahan",
    "komplek",
    "griya",
    "wisma",
];
const PARTICLE_WORDS: &[&str] = &[
    "de", "da", "das", "do", "dos", "di", "del", "della", "van", "von", "der", "den", "la", "le",
    "les", "du", "des", "y", "e", "of",
    // French house-number suffixes: "12 bis rue Victor Hugo"
    "bis", "ter", "quater",
];
const NAME_PARTICLE_WORDS: &[&str] = &[
    "de", "da", "das", "do", "dos", "van", "von", "der", "den", "bin", "binti", "al", "el", "di",
    "del", "la", "le",
];
/// Words that end an address when met: function words, cue words, chat words.
const ADDR_STOP_WORDS: &[&str] = &[
    "to",
    "at",
    "in",
    "on",
    "for",
    "from",
    "with",
    "by",
    "and",
    "or",
    "but",
    "the",
    "a",
    "an",
    "is",
    "are",
    "was",
    "be",
    "it",
    "its",
    "please",
    "pls",
    "plz",
    "deliver",
    "delivery",
    "address",
    "ship",
    "send",
    "leave",
    "near",
    "landmark",
    "opposite",
    "opp",
    "behind",
    "beside",
    "next",
    "ring",
    "call",
    "bell",
    "hai",
    "ke",
    "ki",
    "ka",
    "ko",
    "se",
    "mein",
    "par",
    "pe",
    "saya",
    "dan",
    "yang",
    "pin",
    "pincode",
    "cep",
    "zip",
    "postcode",
    "kode",
    "pos",
    "plz",
    "code",
    "my",
    "your",
    "our",
    "i",
    "we",
    "you",
    "he",
    "she",
    "they",
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "ok",
    "okay",
    "sir",
    "madam",
    "mr",
    "mrs",
    "ms",
    "dear",
    "can",
    "could",
    "will",
    "would",
    "should",
    "this",
    "that",
    "here",
    "there",
    "not",
    "gate",
    "temple",
    "correct",
    "wrong",
    "label",
    "entregar",
    "endereço",
    "endereco",
    "alamat",
    "kirim",
    "lieferadresse",
    "rumah",
    "pagar",
    "portaria",
    "receiver",
    "name",
    "mobile",
    "phone",
    "email",
    "customer",
    "driver",
    "rider",
    "courier",
    "parcel",
    "order",
    "tracking",
    "shipment",
    "today",
    "tomorrow",
    "before",
    "after",
    "between",
    "around",
    "pm",
    "am",
    "ground",
    "left",
    "right",
    "side",
    "back",
    "front",
    "safe",
    "neighbour",
    "neighbor",
    "reception",
    "security",
    "guard",
    "office",
    "hub",
    "when",
    "if",
    "so",
    "then",
    "also",
    "still",
    "yet",
    "now",
    "pls",
    "kindly",
    "asap",
    "urgent",
    "cod",
    "otp",
    "paid",
    "rs",
    "landmark",
    "ph",
    "mob",
    "tel",
    "contact",
    "whatsapp",
    "hp",
    "date",
    "birth",
    "born",
    "dob",
    "dates",
    "thanks",
    "ticket",
    "refund",
    "card",
    "account",
    "bank",
    "amount",
    "time",
    "reached",
    "waiting",
];
const ABBREV_WORDS: &[&str] = &[
    "jl", "no", "st", "dr", "rd", "ave", "apt", "av", "r", "h", "al", "gg", "tv", "nr", "str",
    "blk", "ste", "bd", "sec", "rt", "rw", "lt", "n", "kel", "kec", "kab", "ds", "desa", "kav",
    "bl", "qd", "lj", "cj", "apt", "avda", "avd", "ctra", "col", "int", "bât", "bat", "hse", "opp",
    "esc", "pta", "dpto", "depto",
];

/// Open-addressing table of the lexicon: every entry is at most 16 bytes, so a word is
/// packed into a `u128` (zero-padded) and compared in one instruction; the hash is two
/// multiplications. Replaces a `HashMap<&str, u32>`, whose byte-wise hashing and string
/// compare were the biggest cost of the word table.
const SLOTS_BITS: u32 = 12;

#[derive(Clone, Copy, Default)]
struct Slot {
    key: u128,
    len: u8,
    flags: u32,
}

fn pack(w: &[u8]) -> u128 {
    // shifts, not a copy into a stack array: the copy (a `memcpy` of variable length)
    // followed by a 16-byte load stalls on store forwarding
    let mut k = 0u128;
    for (j, &c) in w.iter().enumerate() {
        k |= u128::from(c) << (8 * j);
    }
    k
}

fn slot_of(key: u128, len: usize) -> usize {
    let lo = key as u64;
    let hi = (key >> 64) as u64;
    let h = (lo.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hi.wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
        .wrapping_add(len as u64)
        .wrapping_mul(0x1656_67B1_9E37_79F9);
    (h >> (64 - SLOTS_BITS)) as usize
}

/// Whether some in-word street suffix ends with the bytes `a`, `b`: most words are
/// rejected by their last two bytes before the suffixes are compared. (For each last byte,
/// one bit per value of the byte before it, modulo 32: a filter, never a false "no".)
fn suffix_end(a: u8, b: u8) -> bool {
    const ENDS: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < IN_WORD_SUFFIXES.len() {
            let s = IN_WORD_SUFFIXES[i].as_bytes();
            t[s[s.len() - 1] as usize] |= 1 << (s[s.len() - 2] & 31);
            i += 1;
        }
        t
    };
    ENDS[usize::from(b)] & (1 << (a & 31)) != 0
}

/// The shared word table.
pub(crate) struct Lexicon {
    slots: Vec<Slot>,
}

impl Lexicon {
    pub(crate) fn new() -> Self {
        let mut slots = vec![Slot::default(); 1 << SLOTS_BITS];
        let mask = slots.len() - 1;
        let mut add = |words: &[&str], flag: u32| {
            for w in words {
                let b = w.as_bytes();
                // every entry is 1..=16 bytes (checked by a test); longer ones could never
                // be looked up
                if b.is_empty() || b.len() > 16 {
                    continue;
                }
                let key = pack(b);
                let mut i = slot_of(key, b.len());
                loop {
                    let s = &mut slots[i];
                    if s.len == 0 {
                        *s = Slot {
                            key,
                            len: b.len() as u8,
                            flags: flag,
                        };
                        break;
                    }
                    if s.key == key && usize::from(s.len) == b.len() {
                        s.flags |= flag;
                        break;
                    }
                    i = (i + 1) & mask;
                }
            }
        };
        add(SUFFIX_WORDS, SUFFIX);
        add(WEAK_SUFFIX_WORDS, WEAK_SUFFIX);
        add(PREFIX_WORDS, PREFIX);
        add(HOUSE_WORDS, HOUSE);
        add(BUILDING_WORDS, BUILDING);
        add(PARTICLE_WORDS, PARTICLE);
        add(NAME_PARTICLE_WORDS, NAME_PARTICLE);
        add(ADDR_STOP_WORDS, ADDR_STOP);
        add(ABBREV_WORDS, ABBREV);
        add(crate::names::GIVEN_NAMES, GIVEN);
        add(crate::names::NOT_NAMES, NOT_NAME);
        let kinds: Vec<String> = crate::Kind::ALL
            .iter()
            .map(|k| k.as_str().to_ascii_lowercase())
            .collect();
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        add(&kinds, KIND_LOWER);
        Lexicon { slots }
    }

    /// `w` is one of `names::NOT_NAMES`, ASCII case-insensitively (those are lower-case
    /// ASCII): one table probe instead of comparing with each of them.
    pub(crate) fn is_not_name(&self, w: &[u8]) -> bool {
        if w.is_empty() || w.len() > 16 {
            return false;
        }
        let mut low = [0u8; 16];
        for (d, c) in low.iter_mut().zip(w) {
            *d = c.to_ascii_lowercase();
        }
        self.lookup_key(pack(&low[..w.len()]), w.len()) & NOT_NAME != 0
    }

    #[cfg(test)]
    fn lookup(&self, w: &[u8]) -> u32 {
        self.lookup_key(pack(w), w.len())
    }

    /// The flags of the word packed into `key` (see [`pack`]), `len` bytes long.
    fn lookup_key(&self, key: u128, len: usize) -> u32 {
        let mask = self.slots.len() - 1;
        let mut i = slot_of(key, len);
        loop {
            let s = &self.slots[i];
            if s.len == 0 {
                return 0;
            }
            if s.key == key && usize::from(s.len) == len {
                return s.flags;
            }
            i = (i + 1) & mask;
        }
    }

    /// The flags of the folded word `b[s..e]`; `b` holds at least 16 bytes from `s` on.
    fn flags_at(&self, b: &[u8], s: usize, e: usize) -> u32 {
        let len = e - s;
        // no entry is longer than 16 bytes or starts with a digit
        if len == 0 || len > 16 || b[s].is_ascii_digit() {
            return 0;
        }
        // one 16-byte load, the bytes past the word masked off: the same key as `pack`
        let mut key = [0u8; 16];
        key.copy_from_slice(&b[s..s + 16]);
        let key = u128::from_le_bytes(key) & (u128::MAX >> (8 * (16 - len)));
        let mut f = self.lookup_key(key, len);
        let folded = &b[s..e];
        if len > 5
            && suffix_end(folded[len - 2], folded[len - 1])
            && IN_WORD_SUFFIXES
                .iter()
                .any(|x| folded.ends_with(x.as_bytes()))
        {
            f |= IN_WORD;
        }
        f
    }
}

/// The words of one message, folded, with their flags.
pub(crate) struct WordTable {
    pub(crate) words: Vec<Word>,
    /// The text with ASCII letters in lower case (an ASCII word's folded form is at the
    /// word's own offsets), then the folded forms of the other words, then 16 zero bytes so
    /// that a lexicon key can always be read as one 16-byte load.
    buf: String,
    spans: Vec<(u32, u32)>,
    pub(crate) flags: Vec<u32>,
}

impl WordTable {
    /// The words of `t`. `plain` are words the lexer already found, in order (see
    /// [`crate::scan::Ctx::plain`]: ASCII letters after whitespace, followed by nothing or
    /// closing punctuation up to the next whitespace); `bufs` are buffers to fill (see
    /// [`crate::scratch`]).
    pub(crate) fn new(t: &str, lex: &Lexicon, plain: &[Word], bufs: TableBuffers) -> Self {
        let TableBuffers {
            mut words,
            mut buf,
            mut spans,
            mut flags,
        } = bufs;
        words.clear();
        words.reserve(t.len() / 4 + 4);
        buf.clear();
        buf.reserve(t.len() + 64);
        buf.push_str(t);
        buf.make_ascii_lowercase();
        spans.clear();
        spans.reserve(words.capacity());
        let mut add = |w: Word, ascii: bool| {
            words.push(w);
            if ascii {
                spans.push((w.s as u32, w.e as u32));
            } else {
                let s = buf.len();
                buf.extend(t[w.s..w.e].chars().map(fold_char));
                spans.push((s as u32, buf.len() as u32));
            }
        };
        // a plain token is preceded by whitespace, so no word found before it reaches
        // into it, and from its start `next_word` would find exactly the token's letters
        // (the closing punctuation after them neither continues the word nor starts one)
        let mut i = 0;
        for &p in plain {
            while let Some((w, ascii)) = crate::words::next_word_before(t, i, p.s) {
                i = w.e;
                add(w, ascii);
            }
            add(p, true);
            // the byte after a plain token (whitespace or closing punctuation, if any)
            // starts no word
            i = (p.e + 1).min(t.len());
        }
        while let Some((w, ascii)) = crate::words::next_word(t, i) {
            i = w.e;
            add(w, ascii);
        }
        buf.push_str("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let b = buf.as_bytes();
        flags.clear();
        flags.reserve(words.len());
        for (w, &(s, e)) in words.iter().zip(&spans) {
            let (s, e) = (s as usize, e as usize);
            let mut f = lex.flags_at(b, s, e);
            if f & KIND_LOWER != 0 {
                // a mask tag: the word is a kind's name in capitals
                let src = &t.as_bytes()[w.s..w.e];
                if src.len() < 2 || !src.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') {
                    f &= !KIND_LOWER;
                } else {
                    f = (f & !KIND_LOWER) | KIND_NAME;
                }
            }
            flags.push(f);
        }
        WordTable {
            words,
            buf,
            spans,
            flags,
        }
    }

    /// The vectors, for the next scan on this thread.
    pub(crate) fn into_buffers(self) -> TableBuffers {
        TableBuffers {
            words: self.words,
            buf: self.buf,
            spans: self.spans,
            flags: self.flags,
        }
    }

    /// Word `i`, folded.
    pub(crate) fn low(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    pub(crate) fn has(&self, i: usize, flag: u32) -> bool {
        self.flags[i] & flag != 0
    }

    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_fits_the_table() {
        let lists: [&[&str]; 11] = [
            SUFFIX_WORDS,
            WEAK_SUFFIX_WORDS,
            PREFIX_WORDS,
            HOUSE_WORDS,
            BUILDING_WORDS,
            PARTICLE_WORDS,
            NAME_PARTICLE_WORDS,
            ADDR_STOP_WORDS,
            ABBREV_WORDS,
            crate::names::GIVEN_NAMES,
            crate::names::NOT_NAMES,
        ];
        let lex = Lexicon::new();
        let mut n = 0;
        for list in lists {
            for w in list {
                assert!((1..=16).contains(&w.len()), "{w}");
                assert_ne!(lex.lookup(w.as_bytes()), 0, "{w}");
                n += 1;
            }
        }
        assert!(n * 2 < lex.slots.len());
        for w in crate::names::NOT_NAMES {
            assert!(
                w.bytes().all(|c| c.is_ascii() && !c.is_ascii_uppercase()),
                "{w}"
            );
            assert!(lex.is_not_name(w.to_ascii_uppercase().as_bytes()), "{w}");
        }
        assert!(!lex.is_not_name(b"Tiger@2021"));
        assert_eq!(lex.lookup(b"zzzzqq"), 0);
    }
}
