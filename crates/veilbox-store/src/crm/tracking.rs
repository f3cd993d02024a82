//! `TrackingNumber`: a parcel reference in one of the formats the masking engine knows.
//!
//! The same recogniser decides what the inbox keeps visible as a tracking number and what
//! the CRM accepts as one, so a shipment imported here is the one an agent sees mentioned
//! in a chat. The number is stored in its normalised spelling (`veilbox_vault::normalize`),
//! which is also what its blind index is computed from.

use std::sync::OnceLock;

use veilbox_mask::{Finding, Hints, Kind, Scanner, ScannerConfig, Why};

/// A validated, normalised tracking number (`RR123456785GB`, `1Z999AA10123456784`, ...).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TrackingNumber {
    normalized: String,
    format: &'static str,
}

/// Why a value is not a tracking number. Messages never repeat the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    /// Nothing given.
    #[error("tracking number is empty")]
    Empty,
    /// Not a carrier format the masking engine recognises, nor a courier reference (8 to
    /// 40 letters and digits with at least 8 digits, and nothing sensitive in it).
    #[error("not a tracking number Veilbox recognises (UPU S10, UPS 1Z, USPS, SSCC, IATA AWB, a known carrier's format, or a reference of 8 to 40 letters and digits with at least 8 digits that is not a card, phone or id number)")]
    Unrecognised,
    /// A UPU S10 number (`RR123456785GB`) whose check digit is wrong: most likely a typo.
    #[error("UPU S10 tracking number with a wrong check digit")]
    CheckDigit,
}

/// What the masking engine finds in `text` (no hints).
fn findings_in(text: &str) -> Result<Vec<Finding>, TrackingError> {
    let scanner = scanner().ok_or(TrackingError::Unrecognised)?;
    Ok(scanner.scan(text, &Hints::new()))
}

/// The format name of `text` when its `findings` are exactly one tracking number.
fn recognise(text: &str, findings: &[Finding]) -> Result<&'static str, TrackingError> {
    let [finding] = findings else {
        return Err(TrackingError::Unrecognised);
    };
    if finding.kind != Kind::Tracking || finding.start != 0 || finding.end != text.len() {
        return Err(TrackingError::Unrecognised);
    }
    match finding.why {
        // (an S10 with a wrong check digit is no tracking number to the engine: `reference`
        // names it as the typo it is)
        Why::Checksum(name) | Why::Format(name) | Why::Cue(name) => Ok(name),
        Why::Configured => Ok("configured"),
        Why::Lexicon | Why::Hint => Err(TrackingError::Unrecognised),
    }
}

/// A courier's own reference in no public format (a FedEx or DHL number, a local
/// carrier's waybill): accepted from the courier's import, never from a chat. The masking
/// engine hides such a number in messages (it cannot prove it safe), so the inbox keeps it
/// visible only as a CRM hint, for the customer whose shipment it is. Refused when it is
/// S10-shaped with a wrong check digit (a typo), or reads as anything sensitive (a card, a
/// phone, an id number).
fn reference(compact: &str, findings: &[Finding]) -> Result<&'static str, TrackingError> {
    let digits = compact.bytes().filter(u8::is_ascii_digit).count();
    let b = compact.as_bytes();
    let s10_shaped = b.len() == 13
        && b[..2].iter().all(u8::is_ascii_alphabetic)
        && b[2..11].iter().all(u8::is_ascii_digit)
        && b[11..].iter().all(u8::is_ascii_alphabetic);
    if s10_shaped {
        return Err(TrackingError::CheckDigit);
    }
    if !(8..=40).contains(&compact.len()) || digits < 8 || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return Err(TrackingError::Unrecognised);
    }
    let sensitive = findings
        .iter()
        .any(|f| !matches!(f.kind, Kind::Number | Kind::Tracking | Kind::Order));
    if sensitive {
        return Err(TrackingError::Unrecognised);
    }
    Ok("reference")
}

/// Every tracking number the masking engine finds in `text` (a message), in order, once
/// each: what links a message to the shipments it mentions.
pub fn mentioned_in(text: &str) -> Vec<TrackingNumber> {
    let Some(scanner) = scanner() else {
        return Vec::new();
    };
    let mut found: Vec<TrackingNumber> = Vec::new();
    for finding in scanner.scan(text, &Hints::new()) {
        if finding.kind != Kind::Tracking {
            continue;
        }
        let Some(value) = text.get(finding.start..finding.end) else {
            continue;
        };
        if let Ok(number) = TrackingNumber::parse(value) {
            if !found.contains(&number) {
                found.push(number);
            }
        }
    }
    found
}

/// The scanner, built once: it is `Send + Sync` and costly to build.
fn scanner() -> Option<&'static Scanner> {
    static SCANNER: OnceLock<Option<Scanner>> = OnceLock::new();
    SCANNER
        .get_or_init(|| Scanner::new(ScannerConfig::default()).ok())
        .as_ref()
}

impl TrackingNumber {
    /// Parses `value`: valid when the masking engine finds exactly one tracking number in it
    /// and that finding covers the whole trimmed value. A number typed with spaces or dashes
    /// the engine reads as something else (`ee 123 456 785 in`) is tried once more in its
    /// compact spelling.
    pub fn parse(value: &str) -> Result<TrackingNumber, TrackingError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(TrackingError::Empty);
        }
        // Longer than any carrier's format: refuse before scanning arbitrary text.
        if trimmed.len() > 64 {
            return Err(TrackingError::Unrecognised);
        }
        let normalized =
            veilbox_vault::normalize::tracking(trimmed).ok_or(TrackingError::Unrecognised)?;
        let found = findings_in(trimmed)?;
        let format = match recognise(trimmed, &found) {
            // Only a value in which the engine saw no tracking number at all is tried again
            // compacted: two numbers side by side must not fuse into one "reference".
            Err(TrackingError::Unrecognised) if !found.iter().any(|f| f.kind == Kind::Tracking) => {
                let compact = if normalized == trimmed {
                    found
                } else {
                    findings_in(&normalized)?
                };
                match recognise(&normalized, &compact) {
                    Err(TrackingError::Unrecognised) => reference(&normalized, &compact)?,
                    other => other?,
                }
            }
            other => other?,
        };
        Ok(TrackingNumber { normalized, format })
    }

    /// The normalised spelling: uppercase letters and digits, no spaces or dashes.
    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    /// The format it was recognised as (`s10`, `ups`, `usps`, `sscc`, `awb`, a carrier's
    /// format, `reference`): not personal, kept in clear.
    pub fn format(&self) -> &'static str {
        self.format
    }
}

/// Shows the format only: a tracking number links a parcel to a person.
impl std::fmt::Debug for TrackingNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackingNumber({})", self.format)
    }
}

impl std::fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(value: &str) -> (String, &'static str) {
        let t = TrackingNumber::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
        (t.to_string(), t.format())
    }

    #[test]
    fn the_formats_veilbox_mask_knows_are_accepted_and_normalised() {
        assert_eq!(ok("RR123456785GB"), ("RR123456785GB".into(), "s10"));
        assert_eq!(ok(" ee123456785in "), ("EE123456785IN".into(), "s10"));
        assert_eq!(ok("ee 123 456 785 in"), ("EE123456785IN".into(), "s10"));
        assert_eq!(
            ok("1z999aa10123456784"),
            ("1Z999AA10123456784".into(), "ups")
        );
        assert_eq!(
            ok("9400111899223100000000"),
            ("9400111899223100000000".into(), "usps")
        );
        assert_eq!(
            ok("00340434161094015902"),
            ("00340434161094015902".into(), "sscc")
        );
        assert_eq!(ok("618-12345675"), ("61812345675".into(), "awb"));
        // FedEx (12 digits) and DHL / courier references (letters then >= 8 digits).
        assert_eq!(ok("123456789012"), ("123456789012".into(), "reference"));
        assert_eq!(
            ok("JJD0002249823934"),
            ("JJD0002249823934".into(), "reference")
        );
        assert_eq!(ok("DHL1234567890").1, "reference");
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(TrackingNumber::parse("  "), Err(TrackingError::Empty));
        assert_eq!(
            TrackingNumber::parse("RR123456786GB"),
            Err(TrackingError::CheckDigit)
        );
        for bad in [
            "12345",
            "hello world",
            "DELIVERED",
            "+447700900461",
            "4111111111111111",
            "RR123456785GB RR123456785GB",
            "AWB 618-12345675",
            "RR123456785GB\u{0}",
            &"9".repeat(100),
        ] {
            assert_eq!(
                TrackingNumber::parse(bad),
                Err(TrackingError::Unrecognised),
                "{bad}"
            );
        }
        // Debug never shows the number.
        let t = TrackingNumber::parse("RR123456785GB").unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{t:?}").contains("123456785"));
    }
}
