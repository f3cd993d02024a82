//! One shipment row, from CSV or JSON, checked field by field into a
//! [`veilbox_store::crm::import::ShipmentRow`]: the format of `docs/shipments-import.md`.
//!
//! Every problem is reported as (row, column, reason); reasons never repeat the value, so
//! a report can be shared without leaking what the file held.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use veilbox_store::crm::import::ShipmentRow;
use veilbox_store::crm::{ShipmentStatus, TrackingNumber};

/// The columns, in the documented order. `tracking`, `status` and one of
/// `customer_phone` / `customer_email` are required; the others may be absent or empty.
pub const COLUMNS: [&str; 16] = [
    "tracking",
    "status",
    "status_at",
    "customer_phone",
    "customer_email",
    "customer_name",
    "sender_name",
    "recipient_name",
    "recipient_phone",
    "address",
    "delivery_slot_start",
    "delivery_slot_end",
    "eta",
    "instructions",
    "cod_amount",
    "cod_currency",
];

/// Longest accepted texts, in characters.
const MAX_NAME: usize = 200;
const MAX_ADDRESS: usize = 500;
const MAX_INSTRUCTIONS: usize = 1000;
/// The largest cash-on-delivery amount in minor units (ten billion in major units).
const MAX_COD_MINOR: i64 = 1_000_000_000_000;

/// A problem with one row (or, at row 1, with the header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The line the record starts on (the header is line 1); for JSON, the element's
    /// position counting from 1.
    pub row: u64,
    /// The column at fault (`*` for the whole record).
    pub column: String,
    /// Why, without the value.
    pub reason: String,
}

impl Rejection {
    /// A rejection of `column` in `row`.
    pub fn new(row: u64, column: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            row,
            column: column.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Where each known column is in the file's records.
#[derive(Debug, Clone)]
pub struct Header {
    positions: [Option<usize>; COLUMNS.len()],
}

impl Header {
    /// Reads the header; unknown, duplicate or missing required columns are refused (a
    /// misspelt `adress` would otherwise drop every address silently).
    pub fn parse<'h>(names: impl Iterator<Item = &'h str>) -> Result<Header, Vec<Rejection>> {
        let mut positions = [None; COLUMNS.len()];
        let mut problems = Vec::new();
        for (i, name) in names.enumerate() {
            let name = name
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase();
            match COLUMNS.iter().position(|c| *c == name) {
                Some(c) if positions[c].is_some() => {
                    problems.push(Rejection::new(1, &name, "column appears twice"))
                }
                Some(c) => positions[c] = Some(i),
                None => problems.push(Rejection::new(
                    1,
                    &name,
                    "unknown column (see docs/shipments-import.md)",
                )),
            }
        }
        for required in ["tracking", "status"] {
            if column(required).and_then(|c| positions[c]).is_none() {
                problems.push(Rejection::new(1, required, "required column is missing"));
            }
        }
        if problems.is_empty() {
            Ok(Header { positions })
        } else {
            Err(problems)
        }
    }

    /// The position of `name` in a record.
    pub fn position(&self, name: &str) -> Option<usize> {
        column(name).and_then(|c| self.positions[c])
    }
}

fn column(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| *c == name)
}

/// Checks one row. `field(name)` gives the column's text (absent and empty are the same).
pub fn parse_row<'v>(
    row: u64,
    field: impl Fn(&str) -> Option<&'v str>,
) -> Result<ShipmentRow, Vec<Rejection>> {
    let mut problems = Vec::new();
    let text = |name: &str| field(name).map(str::trim).filter(|v| !v.is_empty());
    let mut reject =
        |column: &str, reason: &str| problems.push(Rejection::new(row, column, reason));

    let tracking = match text("tracking").map(TrackingNumber::parse) {
        None => {
            reject("tracking", "required");
            None
        }
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            reject("tracking", &e.to_string());
            None
        }
    };
    let status = match text("status") {
        None => {
            reject("status", "required");
            None
        }
        Some(s) => match ShipmentStatus::parse(s) {
            Some(s) => Some(s),
            None => {
                let known: Vec<&str> = ShipmentStatus::ALL.iter().map(|s| s.as_str()).collect();
                reject(
                    "status",
                    &format!("unknown status; expected one of {}", known.join(", ")),
                );
                None
            }
        },
    };
    let mut time_of = |name: &str| match text(name) {
        None => None,
        Some(t) => match OffsetDateTime::parse(t, &Rfc3339) {
            Ok(at) => Some((at.unix_timestamp_nanos() / 1_000_000) as i64),
            Err(_) => {
                reject(name, "not an RFC 3339 time (e.g. 2025-03-14T09:00:00Z)");
                None
            }
        },
    };
    let status_at = time_of("status_at");
    let slot_start = time_of("delivery_slot_start");
    let slot_end = time_of("delivery_slot_end");
    let eta = time_of("eta");
    let phone_of = |name: &str, reject: &mut dyn FnMut(&str, &str)| match text(name) {
        None => None,
        Some(p) => match veilbox_vault::normalize::phone(p) {
            Some(p) => Some(p),
            None => {
                reject(
                    name,
                    "not a full phone number with its country code (e.g. +44 7700 900461)",
                );
                None
            }
        },
    };
    let customer_phone = phone_of("customer_phone", &mut reject);
    let recipient_phone = phone_of("recipient_phone", &mut reject);
    let customer_email = match text("customer_email") {
        None => None,
        Some(e) => match veilbox_vault::normalize::email(e) {
            Some(e) => Some(e),
            None => {
                reject("customer_email", "not an e-mail address");
                None
            }
        },
    };
    if text("customer_phone").is_none() && text("customer_email").is_none() {
        reject(
            "customer_phone",
            "a customer_phone or customer_email is required",
        );
    }
    let mut bounded = |name: &str, max: usize| match text(name) {
        Some(t) if t.chars().count() > max => {
            reject(name, &format!("longer than {max} characters"));
            None
        }
        Some(t) if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            reject(name, "contains control characters");
            None
        }
        other => other.map(str::to_owned),
    };
    let customer_name = bounded("customer_name", MAX_NAME);
    let sender_name = bounded("sender_name", MAX_NAME);
    let recipient_name = bounded("recipient_name", MAX_NAME);
    let address = bounded("address", MAX_ADDRESS);
    let instructions = bounded("instructions", MAX_INSTRUCTIONS);
    match (text("delivery_slot_start"), text("delivery_slot_end")) {
        (Some(_), None) => reject(
            "delivery_slot_end",
            "a delivery slot needs both its start and end",
        ),
        (None, Some(_)) => reject(
            "delivery_slot_start",
            "a delivery slot needs both its start and end",
        ),
        _ => {}
    }
    if let (Some(start), Some(end)) = (slot_start, slot_end) {
        if end <= start {
            reject("delivery_slot_end", "the slot ends before it starts");
        }
    }
    let cod_currency = text("cod_currency").map(str::to_ascii_uppercase);
    let cod_amount_minor = match (text("cod_amount"), &cod_currency) {
        (None, None) => None,
        (Some(_), None) => {
            reject(
                "cod_currency",
                "required with cod_amount (ISO 4217, e.g. GBP)",
            );
            None
        }
        (None, Some(_)) => {
            reject("cod_amount", "required with cod_currency");
            None
        }
        (Some(amount), Some(currency)) => {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                reject(
                    "cod_currency",
                    "not an ISO 4217 currency code (three letters, e.g. GBP)",
                );
                None
            } else {
                match minor_units(amount, currency) {
                    Ok(minor) => Some(minor),
                    Err(why) => {
                        reject("cod_amount", why);
                        None
                    }
                }
            }
        }
    };
    match (tracking, status) {
        (Some(tracking), Some(status)) if problems.is_empty() => Ok(ShipmentRow {
            tracking,
            status,
            status_at,
            customer_phone,
            customer_email,
            customer_name,
            sender_name,
            recipient_name,
            recipient_phone,
            address,
            instructions,
            slot_start,
            slot_end,
            eta,
            cod_amount_minor,
            cod_currency,
        }),
        _ => Err(problems),
    }
}

/// Decimal places of a currency's minor unit (ISO 4217); 2 unless listed.
fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `12.50` GBP is 1250 pence. A plain decimal: digits, one optional `.`, no sign, no
/// thousands separators, no more decimals than the currency has.
fn minor_units(amount: &str, currency: &str) -> Result<i64, &'static str> {
    let digits = exponent(currency) as usize;
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !plain(whole)
        || !plain(fraction)
        || (amount.contains('.') && fraction.is_empty())
    {
        return Err(
            "not a decimal amount (e.g. 12.50; no sign, currency symbol or thousands separator)",
        );
    }
    if fraction.len() > digits {
        return Err("more decimal places than the currency has");
    }
    let mut minor: i64 = 0;
    for b in whole
        .bytes()
        .chain(fraction.bytes())
        .chain(std::iter::repeat_n(b'0', digits - fraction.len()))
    {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or("amount too large")?;
    }
    if minor > MAX_COD_MINOR {
        return Err("amount too large");
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn row(fields: &[(&str, &str)]) -> Result<ShipmentRow, Vec<Rejection>> {
        let map: HashMap<&str, &str> = fields.iter().copied().collect();
        parse_row(7, |name| map.get(name).copied())
    }

    fn columns(result: Result<ShipmentRow, Vec<Rejection>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.column)
            .collect()
    }

    #[test]
    fn a_full_row_parses() {
        let parsed = row(&[
            ("tracking", "rr123456785gb"),
            ("status", "Out for delivery"),
            ("customer_phone", "+44 7700 900461"),
            ("customer_email", "A@Example.com"),
            ("delivery_slot_start", "2025-03-14T09:00:00Z"),
            ("delivery_slot_end", "2025-03-14T11:00:00+00:00"),
            ("cod_amount", "12.5"),
            ("cod_currency", "gbp"),
            ("recipient_phone", "00447700900462"),
        ])
        .unwrap();
        assert_eq!(parsed.tracking.as_str(), "RR123456785GB");
        assert_eq!(parsed.status, ShipmentStatus::OutForDelivery);
        assert_eq!(parsed.customer_phone.as_deref(), Some("+447700900461"));
        assert_eq!(parsed.customer_email.as_deref(), Some("a@example.com"));
        assert_eq!(parsed.slot_start, Some(1_741_942_800_000));
        assert_eq!(parsed.slot_end, Some(1_741_950_000_000));
        assert_eq!(parsed.cod_amount_minor, Some(1250));
        assert_eq!(parsed.cod_currency.as_deref(), Some("GBP"));
        assert_eq!(parsed.recipient_phone.as_deref(), Some("+447700900462"));
    }

    #[test]
    fn every_problem_is_named_by_column() {
        assert_eq!(
            columns(row(&[("tracking", "12345"), ("status", "lost")])),
            ["tracking", "status", "customer_phone"]
        );
        assert_eq!(
            columns(row(&[
                ("tracking", "RR123456785GB"),
                ("status", "created"),
                ("customer_phone", "07700 900461"),
                ("eta", "tomorrow"),
                ("delivery_slot_start", "2025-03-14T11:00:00Z"),
                ("delivery_slot_end", "2025-03-14T09:00:00Z"),
                ("cod_amount", "1,000.00"),
                ("cod_currency", "GBP"),
            ])),
            ["eta", "customer_phone", "delivery_slot_end", "cod_amount"]
        );
        let reasons = row(&[
            ("tracking", "RR123456785GB"),
            ("status", "created"),
            ("customer_email", "x"),
        ])
        .err()
        .unwrap();
        assert_eq!(reasons[0].row, 7);
        assert!(
            !reasons[0].reason.contains('x'),
            "reasons do not echo values"
        );
    }

    #[test]
    fn amounts_follow_the_currency() {
        assert_eq!(minor_units("12.50", "GBP"), Ok(1250));
        assert_eq!(minor_units("12", "GBP"), Ok(1200));
        assert_eq!(minor_units("1500", "JPY"), Ok(1500));
        assert_eq!(minor_units("1.234", "KWD"), Ok(1234));
        assert!(minor_units("1.5", "JPY").is_err());
        assert!(minor_units("-1", "GBP").is_err());
        assert!(minor_units("1.", "GBP").is_err());
        assert!(minor_units(".5", "GBP").is_err());
        assert!(minor_units("£5", "GBP").is_err());
        assert!(minor_units("99999999999999999999", "GBP").is_err());
    }

    #[test]
    fn headers_are_checked() {
        assert!(Header::parse(["tracking", "status", "customer_phone"].into_iter()).is_ok());
        let problems =
            Header::parse(["Tracking", "status", "adress", "status"].into_iter()).unwrap_err();
        let columns: Vec<&str> = problems.iter().map(|p| p.column.as_str()).collect();
        assert_eq!(columns, ["adress", "status"]);
        let problems = Header::parse(["customer_phone"].into_iter()).unwrap_err();
        assert_eq!(problems.len(), 2);
    }
}
