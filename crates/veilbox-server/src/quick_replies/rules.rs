//! What a quick reply may say. Pure: lengths, placeholders Veilbox knows, and the leak
//! prevention rules a reply is judged by, with no customer (a template is written for
//! every customer, so nothing in it can be "this customer's own").

use veilbox_mask::{Hints, Kind, Scanner};

use crate::dlp::placeholders::{self, FillError};
use crate::dlp::rules::{judge, Owner};
use crate::dlp::{Level, PLACEHOLDERS};

/// The longest title, in characters: it is a label in the composer's picker.
pub const TITLE_MAX: usize = 60;
/// The longest body, in characters: well under WhatsApp's 4096, as placeholders grow when
/// filled in (an address, a slot in words).
pub const BODY_MAX: usize = 1000;

/// A quick reply that passed the checks: title and body trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The title.
    pub title: String,
    /// The body, placeholders unfilled.
    pub body: String,
}

/// Why a quick reply was refused. Names kinds and placeholders, never the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Empty or too long.
    #[error("the title must be 1 to {TITLE_MAX} characters")]
    Title,
    /// Empty or too long.
    #[error("the text must be 1 to {BODY_MAX} characters")]
    Body,
    /// A `{{...}}` that is not one of [`PLACEHOLDERS`].
    #[error("{0}")]
    Placeholder(FillError),
    /// Leak prevention would block this text in any conversation.
    #[error("refused by leak prevention: the text contains {} ({}). A quick reply holds placeholders, never the data itself", .kinds.join(", "), .reason)]
    Blocked {
        /// The blocked kinds, sorted.
        kinds: Vec<&'static str>,
        /// Why, for the first of them.
        reason: &'static str,
    },
}

/// Checks a quick reply as a supervisor wrote it.
pub fn check(scanner: &Scanner, title: &str, body: &str) -> Result<Checked, Refusal> {
    let title = title.trim();
    let body = body.trim();
    if title.is_empty() || title.chars().count() > TITLE_MAX {
        return Err(Refusal::Title);
    }
    if body.is_empty() || body.chars().count() > BODY_MAX {
        return Err(Refusal::Body);
    }
    let found = placeholders::find(body);
    if let Some(unknown) = found.iter().find(|p| !PLACEHOLDERS.contains(&p.name)) {
        let name: String = unknown.name.chars().take(40).collect();
        return Err(Refusal::Placeholder(FillError::Unknown(name)));
    }
    let placeholder_spans: Vec<(usize, usize)> = found.iter().map(|p| (p.start, p.end)).collect();
    let outside = |(start, end): (usize, usize)| {
        !placeholder_spans
            .iter()
            .any(|&(s, e)| s <= start && end <= e)
    };
    let mut blocked: Vec<(Kind, &'static str)> = Vec::new();
    for f in scanner.scan(body, &Hints::new()) {
        if !outside((f.start, f.end)) {
            continue;
        }
        let (level, reason) = judge(f.kind, Owner::Nobody);
        if level == Level::Block {
            blocked.push((f.kind, reason));
        }
    }
    // Card numbers typed digit by digit, as the reply check catches them.
    if !crate::dlp::evasion::spaced_cards(body).is_empty() {
        blocked.push((Kind::Card, judge(Kind::Card, Owner::Nobody).1));
    }
    if let Some(&(_, reason)) = blocked.first() {
        let mut kinds: Vec<&'static str> = blocked.iter().map(|(k, _)| k.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        return Err(Refusal::Blocked { kinds, reason });
    }
    Ok(Checked {
        title: title.to_owned(),
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> Scanner {
        Scanner::new(veilbox_mask::ScannerConfig::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn placeholders_and_plain_text_pass_trimmed() {
        let checked = check(
            &scanner(),
            "  Running late ",
            "Hi {{customer.name}}, {{ shipment.tracking }} reaches {{shipment.address}} {{shipment.eta}}, slot {{shipment.slot}}.\n",
        );
        assert_eq!(checked.map(|c| c.title), Ok("Running late".to_owned()),);
    }

    #[test]
    fn lengths_are_bounded() {
        let s = scanner();
        assert_eq!(check(&s, " ", "hello"), Err(Refusal::Title));
        assert_eq!(check(&s, &"t".repeat(61), "hello"), Err(Refusal::Title));
        assert!(check(&s, &"é".repeat(60), "hello").is_ok());
        assert_eq!(check(&s, "Hi", "  "), Err(Refusal::Body));
        assert_eq!(check(&s, "Hi", &"b".repeat(1001)), Err(Refusal::Body));
    }

    #[test]
    fn unknown_placeholders_are_refused_by_name() {
        let refused = check(&scanner(), "Pay", "Send it to {{customer.iban}}").unwrap_err();
        assert_eq!(
            refused,
            Refusal::Placeholder(FillError::Unknown("customer.iban".into()))
        );
        assert!(refused
            .to_string()
            .starts_with("{{customer.iban}} is not a placeholder Veilbox knows"));
    }

    #[test]
    fn payment_data_and_codes_are_refused_by_kind() {
        let s = scanner();
        for body in [
            "Pay with card 4111 1111 1111 1111 please",
            "Your one-time code is 482913",
            "Card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 works",
        ] {
            match check(&s, "Bad", body) {
                Err(Refusal::Blocked { kinds, .. }) => assert!(!kinds.is_empty(), "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let message = check(&s, "Bad", "Pay with card 4111 1111 1111 1111")
            .unwrap_err()
            .to_string();
        assert!(message.contains("CARD"), "{message}");
        assert!(!message.contains("4111"), "{message}");
    }
}
