//! # veilbox-mask
//!
//! Finds personal and payment data in courier chat (WhatsApp messages between customers
//! and agents, in English, Hinglish, Portuguese, Indonesian and European languages) and
//! masks it, while keeping visible what an agent needs: tracking numbers and order ids.
//!
//! The crate is pure: no I/O, no async, no global state (but for a thread-local pool of
//! spare buffers that carries nothing from one scan to the next). A [`Scanner`] is built
//! once and shared by every thread; [`Scanner::scan`] reads a message in a fixed number of
//! linear passes (folding, one cue automaton, one lexer pass, the word list), so its cost
//! is linear in the message, and returns [`Finding`]s; [`mask`] applies a [`Policy`].
//!
//! ```
//! use veilbox_mask::{mask, Hints, Kind, Policy, Scanner, ScannerConfig};
//!
//! let scanner = Scanner::new(ScannerConfig::default())?;
//! let text = "Hi, this is Priya Nair. Parcel EE123456785IN not here, call me on +91 98765 43210";
//! let findings = scanner.scan(text, &Hints::new());
//! let kinds: Vec<Kind> = findings.iter().map(|f| f.kind).collect();
//! assert_eq!(kinds, [Kind::Person, Kind::Tracking, Kind::Phone]);
//! assert_eq!(
//!     mask(text, &findings, &Policy::full()),
//!     "Hi, this is [PERSON]. Parcel EE123456785IN not here, call me on [PHONE]"
//! );
//! # Ok::<(), veilbox_mask::ConfigError>(())
//! ```
//!
//! Partial and token masking, and hints (values the CRM already knows):
//!
//! ```
//! use veilbox_mask::{mask, Hints, Kind, Policy, Scanner, ScannerConfig};
//!
//! let scanner = Scanner::new(ScannerConfig::default())?;
//! let text = "card 4111 1111 1111 1111 exp 09/27 cvv 123";
//! let found = scanner.scan(text, &Hints::new());
//! assert_eq!(mask(text, &found, &Policy::partial()), "card [CARD …1111] exp [CARD_EXPIRY] cvv [CVV]");
//!
//! let per_tenant = Policy::token(b"server secret", b"tenant-42");
//! assert!(mask(text, &found, &per_tenant).starts_with("card CARD·"));
//!
//! let mut hints = Hints::new();
//! hints.add(Kind::Person, "Kavya Iyer");
//! let found = scanner.scan("pls ask kavya to call back", &hints);
//! assert_eq!(found[0].kind, Kind::Person);
//! # Ok::<(), veilbox_mask::ConfigError>(())
//! ```
//!
//! ## How it works
//!
//! 1. **Folding** (evasion): a copy of the text is made only if needed, in which
//!    Devanagari, Arabic-Indic, full-width and other script digits are ASCII, invisible
//!    characters are gone, emoji are spaces ("98765🙏43210"), `[at]`/`(dot)` are `@`/`.`,
//!    and runs of spelled digits ("nine eight seven six…", "double five") are digits. Each
//!    folded byte remembers where it came from, so findings point into the original text.
//! 2. **Cues**: one Aho-Corasick pass finds the cue words ("otp", "cvv", "a/c no", "kode
//!    pos", "meu nome é", "my brother", …).
//! 3. **Lexing**: one pass over the words. Digit groups joined by spaces, dashes, dots,
//!    slashes and brackets are classified by the nearest cue and by their own shape and
//!    check digits (Luhn, Verhoeff, mod-97, CPF, S10, AWB mod-7, SSN ranges, numbering
//!    plans); letters-and-digits tokens by format (PAN, NINO, IBAN, S10, UPS, keys, JWTs).
//! 4. **Names and addresses** are grown from anchors over the word list; postcodes are
//!    decided once addresses are known.
//! 5. **Overlaps** are resolved by priority: hints, then check digits, then kept
//!    references, then formats, then cues, then addresses, then names.
//!
//! Tracking numbers and order ids are reported as [`Kind::Tracking`] and [`Kind::Order`]
//! so that a number next to "tracking" or shaped like a courier reference is never masked
//! as a phone or a card.
#![deny(missing_docs)]

mod address;
mod checks;
mod config;
mod cues;
mod finding;
mod hints;
mod kind;
mod lexicon;
mod mask;
mod names;
mod normalize;
mod person;
mod scan;
mod scanner;
mod scratch;
mod text;
mod words;

pub use config::{ConfigError, ScannerConfig};
pub use finding::{Finding, Why};
pub use hints::{Hint, Hints};
pub use kind::{Kind, UnknownKind};
pub use mask::{mask, Policy, Style};
pub use scanner::Scanner;

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Checksum(s) => write!(f, "checksum:{s}"),
            Why::Format(s) => write!(f, "format:{s}"),
            Why::Cue(s) => write!(f, "cue:{s}"),
            Why::Lexicon => f.write_str("lexicon"),
            Why::Hint => f.write_str("hint"),
            Why::Configured => f.write_str("configured"),
        }
    }
}

/// `text` as the scanner reads it: digits of other scripts and spelled-out digits ("nine
/// eight seven") as ASCII digits, `[at]`/`(dot)` as `@`/`.`, invisible characters gone.
///
/// For callers that must know what a finding *is* (the phone number a spelled-out finding
/// spells) with parsers that read plain digits.
///
/// ```
/// assert!(veilbox_mask::folded("nine eight seven six five four three two one zero")
///     .contains("9876543210"));
/// ```
pub fn folded(text: &str) -> String {
    normalize::fold(text).text.into_owned()
}

/// The findings' spans in Unicode code points (as Python indexes a `str`) instead of bytes,
/// in the same order. Linear in `text` plus `findings`.
pub fn char_spans(text: &str, findings: &[Finding]) -> Vec<(usize, usize)> {
    if text.is_ascii() {
        return findings.iter().map(|f| (f.start, f.end)).collect();
    }
    let mut marks: Vec<(usize, usize)> = Vec::with_capacity(findings.len() * 2);
    for (i, f) in findings.iter().enumerate() {
        marks.push((f.start, 2 * i));
        marks.push((f.end, 2 * i + 1));
    }
    marks.sort_unstable();
    let mut out = vec![(0usize, 0usize); findings.len()];
    // a byte offset's code-point index is the number of characters that start before it
    // (an offset inside a character counts that character, as the first boundary at or
    // after it would); offsets past the end are left at 0. Counting lead bytes between
    // marks reads only the text up to the last mark, without decoding.
    let b = text.as_bytes();
    let (mut at, mut chars) = (0usize, 0usize);
    for &(byte, slot) in &marks {
        if byte > b.len() {
            break;
        }
        chars += b[at..byte].iter().filter(|&&c| (c as i8) >= -0x40).count();
        at = byte;
        if slot % 2 == 0 {
            out[slot / 2].0 = chars;
        } else {
            out[slot / 2].1 = chars;
        }
    }
    out
}
