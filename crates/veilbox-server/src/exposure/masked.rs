//! A text after masking: the masked text and, for each hidden value, its kind and the
//! reference a reveal asks for. The hidden values stay on the server: they are kept only
//! so that a reveal can find the one value it names, and are neither serialised nor
//! rendered.

use maud::{html, Markup};
use serde::Serialize;
use veilbox_mask::Kind;

/// One hidden value in a [`Masked`] text. Its `Debug` leaves the value out, so that a
/// masked text printed while debugging or in a log line shows no personal data.
#[derive(Clone)]
pub struct MaskedSpan {
    /// What was hidden.
    pub kind: Kind,
    /// What the viewer sees in its place (`[PHONE]`, `•••• 3210`).
    pub label: String,
    /// What a reveal names, when this viewer may ask to reveal it.
    pub reference: Option<String>,
    /// The hidden value. Private: only the reveal path reads it, through [`Masked::hidden`].
    hidden: String,
}

impl std::fmt::Debug for MaskedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskedSpan")
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// A piece of a masked text.
#[derive(Debug, Clone)]
enum Piece {
    Plain(String),
    Hidden(MaskedSpan),
}

/// A text with its personal data replaced by labels.
#[derive(Debug, Clone, Default)]
pub struct Masked {
    pieces: Vec<Piece>,
}

/// A hidden value as JSON: its kind and, when revealable, its reference.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MaskedJson {
    /// The kind (`PHONE`, `ADDRESS`, ...).
    pub kind: String,
    /// What to send to the reveal endpoint, when this caller may ask.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl Masked {
    /// A text with nothing hidden.
    pub fn plain(text: &str) -> Masked {
        let mut masked = Masked::default();
        masked.push_plain(text);
        masked
    }

    pub(super) fn push_plain(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Piece::Plain(last)) = self.pieces.last_mut() {
            last.push_str(text);
        } else {
            self.pieces.push(Piece::Plain(text.to_owned()));
        }
    }

    pub(super) fn push_hidden(
        &mut self,
        kind: Kind,
        label: String,
        reference: Option<String>,
        hidden: &str,
    ) {
        self.pieces.push(Piece::Hidden(MaskedSpan {
            kind,
            label,
            reference,
            hidden: hidden.to_owned(),
        }));
    }

    /// The hidden values, in order.
    pub fn spans(&self) -> impl Iterator<Item = &MaskedSpan> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hidden(span) => Some(span),
            Piece::Plain(_) => None,
        })
    }

    /// The `n`th hidden value and its kind: the one thing a reveal returns.
    pub(super) fn hidden(&self, n: usize) -> Option<(Kind, &str)> {
        self.spans().nth(n).map(|s| (s.kind, s.hidden.as_str()))
    }

    /// Whether anything is hidden.
    pub fn is_masked(&self) -> bool {
        self.spans().next().is_some()
    }

    /// The text as the viewer sees it, labels in place of the hidden values.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Plain(text) => out.push_str(text),
                Piece::Hidden(span) => out.push_str(&span.label),
            }
        }
        out
    }

    /// The hidden values as JSON (kinds and references only).
    pub fn json(&self) -> Vec<MaskedJson> {
        self.spans()
            .map(|s| MaskedJson {
                kind: s.kind.as_str().to_owned(),
                reference: s.reference.clone(),
            })
            .collect()
    }

    /// The text as HTML: each hidden value is a label, and a button when the viewer may
    /// ask to reveal it. The value itself is not in the markup in any form.
    pub fn html(&self) -> Markup {
        html! {
            @for piece in &self.pieces {
                @match piece {
                    Piece::Plain(text) => { (text) }
                    Piece::Hidden(span) => {
                        @if let Some(reference) = &span.reference {
                            button.masked.revealable type="button" data-ref=(reference) data-kind=(span.kind.as_str())
                                title={ "Hidden " (span.kind.as_str().to_lowercase().replace('_', " ")) ": reveal with a reason" } {
                                (span.label)
                            }
                        } @else {
                            span.masked data-kind=(span.kind.as_str()) title="Hidden" { (span.label) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_values_are_in_neither_the_text_the_json_nor_the_html() {
        let mut m = Masked::plain("call ");
        m.push_hidden(
            Kind::Phone,
            "[PHONE]".into(),
            Some("m/1/body/0".into()),
            "+91 98765 43210",
        );
        m.push_plain(" or write to ");
        m.push_hidden(Kind::Email, "[EMAIL]".into(), None, "asha@example.com");
        assert_eq!(m.text(), "call [PHONE] or write to [EMAIL]");
        let html = m.html().into_string();
        let json = serde_json::to_string(&m.json()).unwrap();
        for secret in ["98765", "asha@"] {
            assert!(!html.contains(secret), "{html}");
            assert!(!json.contains(secret), "{json}");
        }
        assert!(html.contains(r#"data-ref="m/1/body/0""#), "{html}");
        assert_eq!(m.hidden(1), Some((Kind::Email, "asha@example.com")));
        let debug = format!("{m:?}");
        assert!(
            !debug.contains("98765") && !debug.contains("asha@"),
            "{debug}"
        );
        assert_eq!(m.hidden(2), None);
    }
}
