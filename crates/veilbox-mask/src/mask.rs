//! Masking: how each kind is hidden in what an agent sees or what leaves in a reply.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::text::fold_char;
use crate::{Finding, Kind};

/// How one kind is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `[PHONE]`.
    Full,
    /// `[CARD …1111]`: at most the last four digits of a number of eight digits or more
    /// (what PCI DSS allows at most, and less than its first-six-last-four); anything shorter
    /// or not a number is masked in full.
    Partial,
    /// `PHONE·3f2a`: a keyed hash, the same for the same value within one scope (set the
    /// key with [`Policy::token`]); without a key it falls back to [`Style::Full`].
    Token,
    /// Left as written.
    Keep,
}

/// A style per kind, and the token key.
#[derive(Clone)]
pub struct Policy {
    styles: [Style; Kind::COUNT],
    key: Option<[u8; 32]>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("styles", &self.styles)
            .field("key", &self.key.map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::full()
    }
}

fn base(sensitive: Style) -> [Style; Kind::COUNT] {
    let mut s = [sensitive; Kind::COUNT];
    s[Kind::Tracking.index()] = Style::Keep;
    s[Kind::Order.index()] = Style::Keep;
    s
}

impl Policy {
    /// Every sensitive kind in full; tracking numbers and order ids kept.
    pub fn full() -> Self {
        Policy {
            styles: base(Style::Full),
            key: None,
        }
    }

    /// Numbers (phones, cards, accounts, ids) partially, everything else in full.
    pub fn partial() -> Self {
        let mut p = Policy::full();
        for k in Kind::ALL {
            if k.is_numeric() {
                p.styles[k.index()] = Style::Partial;
            }
        }
        p
    }

    /// Every sensitive kind as a keyed token. The key is derived from `secret` and `scope`
    /// (a tenant, a conversation): the same value gives the same token within a scope and
    /// unrelated tokens across scopes.
    pub fn token(secret: &[u8], scope: &[u8]) -> Self {
        let mut p = Policy {
            styles: base(Style::Token),
            key: None,
        };
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
            mac.update(b"veilbox-mask token scope\0");
            mac.update(scope);
            p.key = Some(mac.finalize().into_bytes().into());
        }
        p
    }

    /// This policy with `kind` shown as `style`.
    pub fn with(mut self, kind: Kind, style: Style) -> Self {
        self.styles[kind.index()] = style;
        self
    }

    /// How `kind` is shown.
    pub fn style(&self, kind: Kind) -> Style {
        self.styles[kind.index()]
    }

    fn token_of(&self, kind: Kind, value: &str) -> Option<String> {
        let key = self.key?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
        mac.update(kind.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(canonical(kind, value).as_bytes());
        let h = mac.finalize().into_bytes();
        Some(format!("{}·{:02x}{:02x}", kind.as_str(), h[0], h[1]))
    }
}

/// The value as compared for tokens: digits for numbers (a phone's last ten), else letters
/// and digits folded to lower case without accents.
fn canonical(kind: Kind, value: &str) -> String {
    if kind.is_numeric() {
        let d: String = value.chars().filter(char::is_ascii_digit).collect();
        if kind == Kind::Phone && d.len() > 10 {
            return d[d.len() - 10..].to_string();
        }
        return d;
    }
    let mut s = String::with_capacity(value.len());
    let mut space = false;
    for c in value.chars() {
        if c.is_alphanumeric() {
            if space && !s.is_empty() {
                s.push(' ');
            }
            space = false;
            s.push(fold_char(c));
        } else {
            space = true;
        }
    }
    s
}

fn render(out: &mut String, kind: Kind, value: &str, policy: &Policy) {
    match policy.style(kind) {
        Style::Keep => out.push_str(value),
        Style::Full => {
            out.push('[');
            out.push_str(kind.as_str());
            out.push(']');
        }
        Style::Partial => {
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            if kind.is_numeric() && digits.len() >= 8 {
                out.push('[');
                out.push_str(kind.as_str());
                out.push_str(" …");
                out.extend(&digits[digits.len() - 4..]);
                out.push(']');
            } else {
                render(out, kind, value, &Policy::full());
            }
        }
        Style::Token => match policy.token_of(kind, value) {
            Some(t) => out.push_str(&t),
            None => render(out, kind, value, &Policy::full()),
        },
    }
}

/// Masks `findings` in `text` by `policy`. Findings may come in any order; spans that do
/// not fit `text` or that overlap an earlier finding are masked as far as they are new,
/// never panicking.
pub fn mask(text: &str, findings: &[Finding], policy: &Policy) -> String {
    let fits = |f: &Finding| {
        f.start < f.end
            && f.end <= text.len()
            && text.is_char_boundary(f.start)
            && text.is_char_boundary(f.end)
    };
    let key = |f: &Finding| (f.start, std::cmp::Reverse(f.end));
    // what `Scanner::scan` returns (all fitting, in order) is masked as it is; anything
    // else is filtered and sorted first (a stable sort: the same order either way)
    if findings.iter().all(fits) && findings.is_sorted_by_key(key) {
        return mask_sorted(text, findings.iter(), policy);
    }
    let mut order: Vec<&Finding> = findings.iter().filter(|f| fits(f)).collect();
    order.sort_by_key(|f| key(f));
    mask_sorted(text, order.into_iter(), policy)
}

/// Masks findings that fit `text`, sorted by start (and longest first).
fn mask_sorted<'f>(
    text: &str,
    order: impl Iterator<Item = &'f Finding>,
    policy: &Policy,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut cursor = 0;
    for f in order {
        if f.end <= cursor {
            continue;
        }
        let s = f.start.max(cursor);
        out.push_str(&text[cursor..s]);
        render(&mut out, f.kind, &text[s..f.end], policy);
        cursor = f.end;
    }
    out.push_str(&text[cursor..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Why;

    fn f(kind: Kind, start: usize, end: usize) -> Finding {
        Finding {
            kind,
            start,
            end,
            confidence: 1.0,
            why: Why::Hint,
        }
    }

    #[test]
    fn styles() {
        let t = "card 4111 1111 1111 1111 ok";
        let fs = [f(Kind::Card, 5, 24)];
        assert_eq!(mask(t, &fs, &Policy::full()), "card [CARD] ok");
        assert_eq!(mask(t, &fs, &Policy::partial()), "card [CARD …1111] ok");
        let a = mask(t, &fs, &Policy::token(b"k", b"tenant-1"));
        let b = mask(
            "card 4111-1111-1111-1111 ok",
            &[f(Kind::Card, 5, 24)],
            &Policy::token(b"k", b"tenant-1"),
        );
        let c = mask(t, &fs, &Policy::token(b"k", b"tenant-2"));
        assert!(a.starts_with("card CARD·"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(mask(t, &[f(Kind::Card, 5, 99)], &Policy::full()), t);
    }
}
