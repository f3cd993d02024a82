//! A message's content after masking, for HTML and JSON alike.
//!
//! Content is normalised JSON (`veilbox_whatsapp::webhook::MessageContent`). Fields that
//! describe the message and hold nothing personal (its kind, media type, sizes, ids Meta
//! assigns) pass through; a location's address and coordinates and a shared contact's
//! name are hidden whole; every other text is scanned and masked. Fields Veilbox does not
//! know are masked too, or dropped when they are not text: an unknown field is never
//! shown as it came.

use maud::{html, Markup};
use serde::Serialize;
use serde_json::{Map, Value};
use veilbox_mask::Kind;
use veilbox_store::reads::MessageRecord;

use super::{Exposure, Masked, MaskedJson};

/// Fields shown as they are: they describe the message, not the customer.
const DESCRIPTIVE: &[&str] = &[
    "kind",
    "media_type",
    "media_id",
    "mime_type",
    "sha256",
    "file_size",
    "voice",
    "animated",
    "reply_type",
    "id",
    "message_id",
    "emoji",
    "catalog_id",
    "product_items",
    "system_type",
    "declared_type",
    "language",
    "response_source",
];

/// One masked message.
#[derive(Debug, Clone)]
pub struct MaskedMessage {
    /// The content with every hidden value replaced by its label.
    pub content: Value,
    fields: Vec<(String, Masked)>,
}

/// A hidden value of a message, as JSON: which field holds it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MaskedFieldJson {
    /// The content field (`body`, `caption`, `address`, `contact.0`, ...).
    pub field: String,
    /// Kind and reveal reference.
    #[serde(flatten)]
    pub value: MaskedJson,
}

impl MaskedMessage {
    /// Masks `m` for the viewer of `x`.
    pub fn of(m: &MessageRecord, x: &Exposure) -> MaskedMessage {
        let kind = m.content.get("kind").and_then(Value::as_str).unwrap_or("");
        let mut fields = Vec::new();
        let mut content = Map::new();
        let Some(object) = m.content.as_object() else {
            return MaskedMessage {
                content: Value::Object(content),
                fields,
            };
        };
        let base = |field: &str| format!("m/{}/{field}", m.id);
        let add = |field: &str,
                   masked: Masked,
                   content: &mut Map<String, Value>,
                   fields: &mut Vec<(String, Masked)>| {
            content.insert(field.to_owned(), Value::String(masked.text()));
            fields.push((field.to_owned(), masked));
        };
        for (key, value) in object {
            let business_name = key == "name" && matches!(kind, "template" | "flow_reply");
            if DESCRIPTIVE.contains(&key.as_str()) || business_name {
                content.insert(key.clone(), value.clone());
                continue;
            }
            match (key.as_str(), value) {
                (_, Value::Null) => {
                    content.insert(key.clone(), Value::Null);
                }
                ("address", Value::String(s)) => {
                    add(
                        "address",
                        x.whole(Kind::Address, Some(&base("address")), s),
                        &mut content,
                        &mut fields,
                    );
                }
                ("url", Value::String(s)) if kind == "location" => {
                    add(
                        "url",
                        x.whole(Kind::Gps, Some(&base("url")), s),
                        &mut content,
                        &mut fields,
                    );
                }
                ("new_wa_id", Value::String(s)) => {
                    add(
                        "new_wa_id",
                        x.phone(Some(&base("new_wa_id")), s),
                        &mut content,
                        &mut fields,
                    );
                }
                ("latitude" | "longitude", _) => {
                    // Shown together as one coordinate pair below.
                }
                ("cards", Value::Array(cards)) => {
                    let mut shown = Vec::new();
                    for (i, card) in cards.iter().enumerate() {
                        let name = card
                            .get("name")
                            .and_then(|n| n.get("formatted_name").or_else(|| n.get("first_name")))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let field = format!("contact.{i}");
                        let masked = x.whole(Kind::Person, Some(&base(&field)), name);
                        shown.push(serde_json::json!({ "name": masked.text() }));
                        fields.push((field, masked));
                    }
                    content.insert("cards".to_owned(), Value::Array(shown));
                }
                (_, Value::String(s)) => {
                    add(key, x.text(Some(&base(key)), s), &mut content, &mut fields);
                }
                (_, Value::Bool(_) | Value::Number(_)) => {
                    content.insert(key.clone(), value.clone());
                }
                // Nested data Veilbox does not know: not shown.
                _ => {}
            }
        }
        if kind == "location" {
            let lat = object.get("latitude").and_then(Value::as_f64);
            let lon = object.get("longitude").and_then(Value::as_f64);
            if let (Some(lat), Some(lon)) = (lat, lon) {
                let pair = format!("{lat:.5}, {lon:.5}");
                let masked = x.whole(Kind::Gps, Some(&base("coordinates")), &pair);
                content.insert("latitude".to_owned(), Value::Null);
                content.insert("longitude".to_owned(), Value::Null);
                content.insert("coordinates".to_owned(), Value::String(masked.text()));
                fields.push(("coordinates".to_owned(), masked));
            }
        }
        MaskedMessage {
            content: Value::Object(content),
            fields,
        }
    }

    /// What `m` said before each of its edits, masked with no reveal, oldest first.
    pub fn previous_versions(m: &MessageRecord, x: &Exposure) -> Vec<MaskedMessage> {
        let x = x.without_reveals();
        m.previous_versions
            .iter()
            .map(|version| {
                let before = MessageRecord {
                    content: version.content.clone(),
                    context: None,
                    raw: None,
                    previous_versions: Vec::new(),
                    ..m.clone()
                };
                MaskedMessage::of(&before, &x)
            })
            .collect()
    }

    /// A masked text field.
    pub fn field(&self, name: &str) -> Option<&Masked> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, masked)| masked)
            .filter(|masked| !masked.text().is_empty())
    }

    /// A masked text field as HTML (nothing when absent or empty).
    pub fn html(&self, name: &str) -> Option<Markup> {
        self.field(name).map(|masked| html! { (masked.html()) })
    }

    /// A non-personal field as text.
    pub fn descriptive(&self, name: &str) -> Option<&str> {
        self.content
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Every hidden value, by field.
    pub fn json(&self) -> Vec<MaskedFieldJson> {
        self.fields
            .iter()
            .flat_map(|(field, masked)| {
                masked.json().into_iter().map(move |value| MaskedFieldJson {
                    field: field.clone(),
                    value,
                })
            })
            .collect()
    }

    /// How many values are hidden.
    pub fn hidden_count(&self) -> usize {
        self.fields.iter().map(|(_, m)| m.spans().count()).sum()
    }

    /// Every hidden value with its kind: for measuring exposure on the server, never for
    /// rendering.
    pub(crate) fn hidden_values(&self) -> Vec<(Kind, String)> {
        self.fields
            .iter()
            .flat_map(|(_, masked)| {
                (0..masked.spans().count())
                    .filter_map(|n| masked.hidden(n).map(|(k, v)| (k, v.to_owned())))
            })
            .collect()
    }

    /// The `n`th hidden value of `field`, for a reveal.
    pub(super) fn hidden(&self, field: &str, n: usize) -> Option<(Kind, &str)> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .and_then(|(_, masked)| masked.hidden(n))
    }
}

/// The raw JSON of an unsupported message, with every string masked (no reveals: the
/// normalised content is what agents work with).
pub fn masked_raw(raw: &Value, x: &Exposure) -> Value {
    match raw {
        Value::String(s) => Value::String(x.text(None, s).text()),
        Value::Array(items) => Value::Array(items.iter().map(|v| masked_raw(v, x)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), masked_raw(v, x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use veilbox_mask::{Scanner, ScannerConfig};

    use super::*;

    fn message(content: Value) -> MessageRecord {
        MessageRecord {
            id: "msg1".into(),
            wa_message_id: None,
            direction: "inbound".into(),
            message_type: "x".into(),
            content,
            context: None,
            errors: None,
            raw: None,
            sent_at: 0,
            received_at: 0,
            delivery: None,
            author: None,
            outbox: None,
            media: None,
            edited_at: None,
            deleted_at: None,
            previous_versions: Vec::new(),
        }
    }

    fn exposure() -> Exposure {
        let scanner = Arc::new(Scanner::new(ScannerConfig::default()).unwrap());
        Exposure::with_reveals(scanner, None, [Kind::Address, Kind::Gps, Kind::Person])
    }

    #[test]
    fn locations_hide_address_and_coordinates() {
        let m = message(json!({
            "kind": "location", "latitude": 12.97194, "longitude": 77.59369,
            "name": "Home", "address": "14 MG Road, Bengaluru", "url": null
        }));
        let masked = MaskedMessage::of(&m, &exposure());
        let shown = masked.content.to_string();
        for secret in ["MG Road", "12.97", "77.59"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(masked.content["address"], "[ADDRESS]");
        assert_eq!(masked.content["coordinates"], "[GPS]");
        assert_eq!(
            masked.hidden("address", 0),
            Some((Kind::Address, "14 MG Road, Bengaluru"))
        );
        let refs: Vec<_> = masked
            .json()
            .into_iter()
            .map(|f| f.value.reference)
            .collect();
        assert!(
            refs.contains(&Some("m/msg1/coordinates/0".into())),
            "{refs:?}"
        );
    }

    #[test]
    fn contact_cards_keep_only_a_masked_name_and_unknown_fields_are_masked_or_dropped() {
        let m = message(json!({
            "kind": "contacts",
            "cards": [{"name": {"formatted_name": "Ravi Kumar"}, "phones": [{"phone": "+91 98450 12345"}]}],
            "surprise": "write to ravi.kumar@example.com",
            "nested": {"phone": "+91 98450 12345"}
        }));
        let masked = MaskedMessage::of(&m, &exposure());
        let shown = masked.content.to_string();
        for secret in ["Ravi", "98450", "ravi.kumar"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(masked.content["cards"][0]["name"], "[PERSON]");
        assert_eq!(masked.content["surprise"], "write to [EMAIL]");
        assert!(masked.content.get("nested").is_none());
    }
}
