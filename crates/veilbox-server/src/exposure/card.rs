//! A customer's CRM card after masking: the values the company keeps about them, each
//! hidden whole as its kind (names, addresses, e-mails), phones by their last digits, and
//! free text (notes, delivery instructions) scanned like messages.

use veilbox_mask::Kind;
use veilbox_store::crm::{ContactKind, CustomerCard, Shipment};

use super::{Exposure, Masked};

/// The masked values of one card, by field: `c/<customer>/name`, `s/<shipment>/address`, ...
#[derive(Debug, Clone, Default)]
pub struct MaskedCard {
    fields: Vec<(String, Masked)>,
}

impl MaskedCard {
    /// Masks `card` (and its shipments) for the viewer of `x`.
    pub fn of(card: &CustomerCard, x: &Exposure) -> MaskedCard {
        let mut out = MaskedCard::default();
        let c = |field: &str| format!("c/{}/{field}", card.id);
        if let Some(name) = card.display_name.as_ref().or(card.profile_name.as_ref()) {
            out.person(x, c("name"), name);
        }
        if card.display_name.is_some() {
            if let Some(profile) = &card.profile_name {
                out.person(x, c("profile"), profile);
            }
        }
        if let Some(number) = &card.wa_number {
            let base = c("wa");
            out.push(base.clone(), x.phone(Some(&base), &format!("+{number}")));
        }
        for contact in &card.contacts {
            let base = c(&format!("contact.{}", contact.id));
            let masked = match contact.kind {
                ContactKind::Phone => x.phone(Some(&base), &contact.value),
                ContactKind::Email => x.whole(Kind::Email, Some(&base), &contact.value),
            };
            out.push(base, masked);
        }
        for address in &card.addresses {
            let base = c(&format!("address.{}", address.id));
            out.push(
                base.clone(),
                x.whole(Kind::Address, Some(&base), &address.value),
            );
        }
        for note in &card.notes {
            let base = c(&format!("note.{}", note.id));
            out.push(base.clone(), x.text(Some(&base), &note.body));
        }
        for shipment in &card.shipments {
            out.shipment(x, shipment);
        }
        out
    }

    /// Masks one shipment alone.
    pub fn of_shipment(s: &Shipment, x: &Exposure) -> MaskedCard {
        let mut out = MaskedCard::default();
        out.shipment(x, s);
        out
    }

    fn shipment(&mut self, x: &Exposure, s: &Shipment) {
        let f = |field: &str| format!("s/{}/{field}", s.id);
        if let Some(name) = &s.recipient_name {
            self.person(x, f("recipient"), name);
        }
        if let Some(name) = &s.sender_name {
            self.person(x, f("sender"), name);
        }
        if let Some(phone) = &s.recipient_phone {
            let base = f("phone");
            self.push(base.clone(), x.phone(Some(&base), phone));
        }
        if let Some(address) = &s.address {
            let base = f("address");
            self.push(base.clone(), x.whole(Kind::Address, Some(&base), address));
        }
        if let Some(instructions) = &s.instructions {
            let base = f("instructions");
            self.push(base.clone(), x.text(Some(&base), instructions));
        }
    }

    /// A name; a "name" that is really a phone number is hidden as a phone.
    fn person(&mut self, x: &Exposure, base: String, name: &str) {
        let masked = match super::name_kind(name) {
            Kind::Phone => x.phone(Some(&base), name),
            kind => x.whole(kind, Some(&base), name),
        };
        self.push(base, masked);
    }

    fn push(&mut self, base: String, masked: Masked) {
        self.fields.push((base, masked));
    }

    /// The masked value of a field (`c/<id>/name`, `s/<id>/address`, ...), or an empty one.
    pub fn get(&self, base: &str) -> Masked {
        self.fields
            .iter()
            .find(|(field, _)| field == base)
            .map(|(_, masked)| masked.clone())
            .unwrap_or_default()
    }

    /// The `n`th hidden value of a field, for a reveal.
    pub(super) fn hidden(&self, base: &str, n: usize) -> Option<(Kind, String)> {
        self.fields
            .iter()
            .find(|(field, _)| field == base)
            .and_then(|(_, masked)| masked.hidden(n))
            .map(|(kind, value)| (kind, value.to_owned()))
    }
}
