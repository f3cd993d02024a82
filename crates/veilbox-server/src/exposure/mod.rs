//! The one masking step between customer data and a person.
//!
//! Every path that carries customer data to staff (pages, the JSON API, live fragments,
//! the customer card, search results) renders it through an [`Exposure`]: the masking
//! engine finds the personal data in each text, the customer's CRM values are passed as
//! hints (so a name or address the CRM knows is found wherever it is written), and each
//! value is replaced by a label before anything is rendered. What a browser receives holds
//! no hidden value in any form: not in text, attributes, scripts or events.
//!
//! Findings are made when a text is shown rather than stored at ingest: they depend on the
//! CRM (a name learned today hides it in last week's messages too), and scanning a page of
//! messages costs tens of microseconds.
//!
//! A hidden value the viewer may reveal carries a reference (`m/<message>/<field>/<n>`,
//! `c/<customer>/<field>`, `s/<shipment>/<field>`); [`reveal`] resolves it again on the
//! server, with the same hints, after the authorizer agreed and the reason was recorded.

pub mod card;
pub mod content;
pub mod handle;
mod masked;
pub mod reveal;

use std::sync::Arc;

use veilbox_mask::{Hints, Kind, Scanner};
use veilbox_store::crm::CustomerCard;

pub use masked::{Masked, MaskedJson, MaskedSpan};

/// What one viewer sees of one customer's data.
#[derive(Clone)]
pub struct Exposure {
    scanner: Arc<Scanner>,
    hints: Hints,
    /// Kinds the viewer may ask to reveal here (indexed by [`Kind::index`]).
    revealable: [bool; Kind::COUNT],
    /// Whether the viewer may ask to see the original of a photo or document here.
    media: bool,
}

impl std::fmt::Debug for Exposure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hints are customer data.
        f.debug_struct("Exposure").finish_non_exhaustive()
    }
}

impl Exposure {
    /// Masks everything and offers no reveal: lists, search results, the customer page.
    pub fn masked_only(scanner: Arc<Scanner>, card: Option<&CustomerCard>) -> Exposure {
        Exposure {
            scanner,
            hints: card.map(hints_of).unwrap_or_default(),
            revealable: [false; Kind::COUNT],
            media: false,
        }
    }

    /// Masks everything; values of the kinds in `revealable` carry a reveal reference.
    pub fn with_reveals(
        scanner: Arc<Scanner>,
        card: Option<&CustomerCard>,
        revealable: impl IntoIterator<Item = Kind>,
    ) -> Exposure {
        let mut exposure = Exposure::masked_only(scanner, card);
        for kind in revealable {
            exposure.revealable[kind.index()] = true;
        }
        exposure
    }

    /// Also offers the originals of media for reveal.
    pub fn with_media_reveals(mut self, allowed: bool) -> Exposure {
        self.media = allowed;
        self
    }

    /// The same masking with no reveal offered: for what a message said before an edit,
    /// whose values are not kept where a reveal could find them.
    pub fn without_reveals(&self) -> Exposure {
        Exposure {
            revealable: [false; Kind::COUNT],
            media: false,
            ..self.clone()
        }
    }

    /// Whether the viewer may ask to see the original of a photo or document.
    pub fn may_reveal_media(&self) -> bool {
        self.media
    }

    /// Whether the viewer may ask to reveal values of `kind`.
    pub fn may_reveal(&self, kind: Kind) -> bool {
        self.revealable[kind.index()]
    }

    fn reference(&self, kind: Kind, base: Option<&str>, n: usize) -> Option<String> {
        base.filter(|_| self.may_reveal(kind))
            .map(|base| format!("{base}/{n}"))
    }

    /// `text` with every finding of the masking engine hidden (tracking numbers and order
    /// ids stay visible: agents need them). `base` names the field for reveals.
    pub fn text(&self, base: Option<&str>, text: &str) -> Masked {
        let findings = self.scanner.scan(text, &self.hints);
        let mut masked = Masked::default();
        let mut at = 0;
        let mut n = 0;
        for finding in findings {
            if finding.kind.is_kept() || finding.start < at {
                continue;
            }
            let (Some(before), Some(value)) = (
                text.get(at..finding.start),
                text.get(finding.start..finding.end),
            ) else {
                continue;
            };
            masked.push_plain(before);
            masked.push_hidden(
                finding.kind,
                label(finding.kind),
                self.reference(finding.kind, base, n),
                value,
            );
            n += 1;
            at = finding.end;
        }
        masked.push_plain(text.get(at..).unwrap_or(""));
        masked
    }

    /// A value that is personal as a whole (a name, an address, coordinates): hidden
    /// entirely, as `kind` or as the most sensitive kind the engine finds inside it, so
    /// that a card number typed into a contact's name is a CARD (which nobody may reveal),
    /// not a PERSON (which an agent may).
    pub fn whole(&self, kind: Kind, base: Option<&str>, value: &str) -> Masked {
        let mut masked = Masked::default();
        if !value.trim().is_empty() {
            let kind = self
                .scanner
                .scan(value, &self.hints)
                .into_iter()
                .map(|finding| finding.kind)
                .filter(|found| found.sensitivity() > kind.sensitivity())
                .max_by_key(|found| found.sensitivity())
                .unwrap_or(kind);
            masked.push_hidden(kind, label(kind), self.reference(kind, base, 0), value);
        }
        masked
    }

    /// A phone number shown by its last four digits only (`•••• 3210`), so that an agent
    /// can tell numbers apart and confirm one without seeing it.
    pub fn phone(&self, base: Option<&str>, value: &str) -> Masked {
        let mut masked = Masked::default();
        if !value.trim().is_empty() {
            masked.push_hidden(
                Kind::Phone,
                phone_label(value),
                self.reference(Kind::Phone, base, 0),
                value,
            );
        }
        masked
    }
}

/// `[PHONE]`, `[ADDRESS]`, ...
pub fn label(kind: Kind) -> String {
    format!("[{}]", kind.as_str())
}

/// `•••• 3210`: at most the last four digits of a number.
pub fn phone_label(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    // Short numbers show less, so that most of the number is always hidden.
    let shown = if digits.len() >= 8 { 4 } else { 0 };
    let tail: String = digits[digits.len() - shown..].iter().collect();
    format!("••••{}{tail}", if shown > 0 { " " } else { "" })
}

/// What a customer's "name" is: a profile name that is really a phone number is a phone.
pub fn name_kind(name: &str) -> Kind {
    if veilbox_vault::normalize::phone(name).is_some() {
        Kind::Phone
    } else {
        Kind::Person
    }
}

/// The customer's CRM values as hints: found and hidden wherever they are written.
pub fn hints_of(card: &CustomerCard) -> Hints {
    let mut hints = Hints::new();
    for name in [&card.display_name, &card.profile_name]
        .into_iter()
        .flatten()
    {
        hints.add(name_kind(name), name.as_str());
    }
    if let Some(number) = &card.wa_number {
        hints.add(Kind::Phone, format!("+{number}"));
    }
    for contact in &card.contacts {
        let kind = match contact.kind {
            veilbox_store::crm::ContactKind::Phone => Kind::Phone,
            veilbox_store::crm::ContactKind::Email => Kind::Email,
        };
        hints.add(kind, contact.value.as_str());
    }
    for address in &card.addresses {
        hints.add(Kind::Address, address.value.as_str());
    }
    // The customer's own tracking numbers stay visible even in a format the engine cannot
    // prove safe (it hides unknown numbers): the courier's import vouches for them. A
    // shipment's sender is not a hint: most often the merchant or the courier itself,
    // whose name must stay readable.
    for s in &card.shipments {
        hints.add(Kind::Tracking, s.tracking.as_str());
        if let Some(name) = &s.recipient_name {
            hints.add(Kind::Person, name.as_str());
        }
        if let Some(phone) = &s.recipient_phone {
            hints.add(Kind::Phone, phone.as_str());
        }
        if let Some(address) = &s.address {
            hints.add(Kind::Address, address.as_str());
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;
    use veilbox_mask::ScannerConfig;

    fn scanner() -> Arc<Scanner> {
        Arc::new(Scanner::new(ScannerConfig::default()).expect("scanner"))
    }

    #[test]
    fn a_message_is_masked_and_only_revealable_kinds_carry_a_reference() {
        let x = Exposure::with_reveals(scanner(), None, [Kind::Phone]);
        let text = "Parcel EE123456785IN: call me on +91 98765 43210, card 4111 1111 1111 1111";
        let masked = x.text(Some("m/abc/body"), text);
        assert_eq!(
            masked.text(),
            "Parcel EE123456785IN: call me on [PHONE], card [CARD]"
        );
        let refs: Vec<_> = masked.spans().map(|s| s.reference.clone()).collect();
        assert_eq!(refs, [Some("m/abc/body/0".to_owned()), None]);
        assert_eq!(masked.hidden(0), Some((Kind::Phone, "+91 98765 43210")));
    }

    #[test]
    fn phone_labels_show_at_most_the_last_four_digits() {
        assert_eq!(phone_label("+91 98765 43210"), "•••• 3210");
        assert_eq!(phone_label("12345"), "••••");
        assert_eq!(phone_label(""), "••••");
    }
}
