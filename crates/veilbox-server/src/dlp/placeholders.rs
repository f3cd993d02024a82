//! Blind placeholders: `{{customer.name}}`, `{{shipment.address}}` and the like in a reply
//! are filled in by the server at send time, so the customer gets their real address while
//! the agent never saw it. Pure: the values come from [`PlaceholderValues`].

use veilbox_store::crm::{CustomerCard, Shipment};

/// Every placeholder an agent may use, as written between `{{` and `}}`.
pub const PLACEHOLDERS: [&str; 5] = [
    "customer.name",
    "shipment.address",
    "shipment.tracking",
    "shipment.eta",
    "shipment.slot",
];

/// One `{{...}}` in a draft: its byte span and the name inside, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder<'t> {
    /// Byte offset of the first `{`.
    pub start: usize,
    /// Byte offset one past the last `}`.
    pub end: usize,
    /// The name between the braces.
    pub name: &'t str,
}

/// Every `{{...}}` of `text`, in order. A `{{` with no `}}` after it is plain text.
pub fn find(text: &str) -> Vec<Placeholder<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        out.push(Placeholder {
            start: open,
            end: close + 2,
            name: text[open + 2..close].trim(),
        });
        from = close + 2;
    }
    out
}

/// The values the placeholders stand for, for one conversation's customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceholderValues {
    /// The customer's name: their CRM display name, else their WhatsApp profile name.
    pub customer_name: Option<String>,
    /// The chosen shipment's delivery address.
    pub address: Option<String>,
    /// The chosen shipment's tracking number.
    pub tracking: Option<String>,
    /// The chosen shipment's expected delivery, in words.
    pub eta: Option<String>,
    /// The chosen shipment's delivery slot, in words.
    pub slot: Option<String>,
}

impl PlaceholderValues {
    /// The values of `card`. The shipment is the newest one still on its way (not
    /// delivered, returned or cancelled): that is the parcel a customer writing in is
    /// almost always asking about; when every shipment is final, the newest one.
    pub fn of(card: &CustomerCard) -> PlaceholderValues {
        let shipment: Option<&Shipment> = card
            .shipments
            .iter()
            .filter(|s| s.closed_at.is_none())
            .max_by_key(|s| s.created_at)
            .or_else(|| card.shipments.iter().max_by_key(|s| s.created_at));
        PlaceholderValues {
            customer_name: card
                .display_name
                .clone()
                .or_else(|| card.profile_name.clone()),
            address: shipment.and_then(|s| s.address.clone()),
            tracking: shipment.map(|s| s.tracking.clone()),
            eta: shipment.and_then(|s| s.eta).map(when),
            slot: shipment.and_then(|s| match (s.slot_start, s.slot_end) {
                (Some(start), Some(end)) => Some(format!("{} to {}", when(start), when(end))),
                (Some(start), None) => Some(format!("from {}", when(start))),
                _ => None,
            }),
        }
    }

    fn get(&self, name: &str) -> Option<Option<&str>> {
        let value = match name {
            "customer.name" => &self.customer_name,
            "shipment.address" => &self.address,
            "shipment.tracking" => &self.tracking,
            "shipment.eta" => &self.eta,
            "shipment.slot" => &self.slot,
            _ => return None,
        };
        Some(value.as_deref())
    }
}

/// Why a draft's placeholders could not be filled. Names placeholders, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// Not one of [`PLACEHOLDERS`].
    #[error("{{{{{0}}}}} is not a placeholder Veilbox knows (use customer.name, shipment.address, shipment.tracking, shipment.eta or shipment.slot)")]
    Unknown(String),
    /// Known, but this customer has no value for it.
    #[error("{{{{{0}}}}} has no value for this customer")]
    Missing(String),
}

/// `text` with every placeholder replaced by its value.
pub fn fill(text: &str, values: &PlaceholderValues) -> Result<String, FillError> {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for p in find(text) {
        let value = match values.get(p.name) {
            None => return Err(FillError::Unknown(clip(p.name))),
            Some(None) => return Err(FillError::Missing(p.name.to_owned())),
            Some(Some(value)) => value,
        };
        out.push_str(&text[from..p.start]);
        out.push_str(value);
        from = p.end;
    }
    out.push_str(&text[from..]);
    Ok(out)
}

/// An unknown name as the agent typed it, cut short: it is theirs, but it goes into an
/// error message.
fn clip(name: &str) -> String {
    name.chars().take(40).collect()
}

/// A time in words the customer reads: `2026-11-30 14:00 UTC`.
fn when(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> PlaceholderValues {
        PlaceholderValues {
            customer_name: Some("Priya".into()),
            address: Some("12 Elm Road, Leeds".into()),
            tracking: Some("EE123456785IN".into()),
            eta: Some(when(1_800_000_000_000)),
            slot: None,
        }
    }

    #[test]
    fn placeholders_are_filled_in() {
        assert_eq!(
            fill(
                "Hi {{customer.name}}, {{ shipment.tracking }} goes to {{shipment.address}}.",
                &values()
            ),
            Ok("Hi Priya, EE123456785IN goes to 12 Elm Road, Leeds.".to_owned())
        );
        assert_eq!(
            fill("ETA {{shipment.eta}}", &values()),
            Ok("ETA 2027-01-15 08:00 UTC".to_owned())
        );
        assert_eq!(
            fill("no {{ open brace", &values()),
            Ok("no {{ open brace".to_owned())
        );
    }

    #[test]
    fn unknown_or_empty_placeholders_refuse() {
        assert_eq!(
            fill("{{customer.iban}}", &values()),
            Err(FillError::Unknown("customer.iban".into()))
        );
        assert_eq!(
            fill("{{shipment.slot}}", &values()),
            Err(FillError::Missing("shipment.slot".into()))
        );
        assert_eq!(
            FillError::Missing("shipment.slot".into()).to_string(),
            "{{shipment.slot}} has no value for this customer"
        );
    }
}
