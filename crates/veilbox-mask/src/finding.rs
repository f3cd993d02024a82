//! What the scanner reports for each piece of sensitive (or kept) data.

use crate::Kind;

/// Why a finding was made: the evidence that decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A check digit or checksum held (`"luhn"`, `"verhoeff"`, `"mod97"`, `"cpf"`, `"s10"`).
    Checksum(&'static str),
    /// The value's own format is distinctive (`"e164"`, `"email"`, `"jwt"`, `"ipv4"`, ...).
    Format(&'static str),
    /// A cue word next to the value decided its kind (the cue as written in the cue table).
    Cue(&'static str),
    /// The name lexicon (a common first name followed by a capitalised word).
    Lexicon,
    /// A value the caller passed as a hint.
    Hint,
    /// A courier format from the scanner's configuration.
    Configured,
}

/// One finding: a kind, a byte span of the scanned text, a confidence and the reason.
///
/// `start` and `end` are byte offsets into the text passed to
/// [`Scanner::scan`](crate::Scanner::scan), always on `char` boundaries, `start < end`.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// How sure the scanner is, from 0 to 1.
    pub confidence: f32,
    /// The evidence.
    pub why: Why,
}

impl Finding {
    /// The found text.
    ///
    /// Returns an empty string if the span does not fit `text` (a finding of another text).
    pub fn value<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }
}
