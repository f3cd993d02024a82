//! What the simulator writes on the wire: wamids in Meta's layout, media ids, Graph error
//! bodies, and webhook envelopes serialised like Meta (compact, non-ASCII as `\uXXXX`).

use std::io;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::Rng;
use serde::Serialize;
use serde_json::Value;

/// An outbound wamid: `wamid.` + base64 of
/// `1c 18 <len> <digits> 15 02 00 11 18 12 <18 hex> 00`.
pub fn outbound_wamid(wa_id: &str) -> String {
    wamid(wa_id, 0x11, 18)
}

/// An inbound wamid: `wamid.` + base64 of
/// `1c 18 <len> <digits> 15 02 00 12 18 14 <20 hex> 00`.
pub fn inbound_wamid(wa_id: &str) -> String {
    wamid(wa_id, 0x12, 20)
}

fn wamid(wa_id: &str, marker: u8, hex_len: usize) -> String {
    let digits: Vec<u8> = wa_id.bytes().filter(u8::is_ascii_digit).take(60).collect();
    let mut raw = Vec::with_capacity(digits.len() + hex_len + 12);
    raw.extend_from_slice(&[0x1c, 0x18]);
    raw.push(u8::try_from(digits.len()).unwrap_or(0));
    raw.extend_from_slice(&digits);
    raw.extend_from_slice(&[0x15, 0x02, 0x00, marker, 0x18]);
    raw.push(u8::try_from(hex_len).unwrap_or(0));
    raw.extend_from_slice(random_hex(hex_len).as_bytes());
    raw.push(0x00);
    format!("wamid.{}", STANDARD.encode(raw))
}

fn random_hex(len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(HEX[rng.gen_range(0..16)]))
        .collect()
}

/// A fresh 16-digit media id (never starting with 0).
pub fn media_id() -> String {
    let mut rng = rand::thread_rng();
    let first = rng.gen_range(1..10u8);
    let mut id = first.to_string();
    for _ in 0..15 {
        id.push(char::from(b'0' + rng.gen_range(0..10u8)));
    }
    id
}

/// A random URL-safe token.
pub fn token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Serialises like Meta: compact, with every non-ASCII character escaped as `\uXXXX`
/// (lowercase hex, surrogate pairs for characters outside the BMP).
pub fn meta_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, MetaFormatter);
    if value.serialize(&mut serializer).is_err() {
        // Only our own plain structs go through here; they always serialise.
        return b"{}".to_vec();
    }
    out
}

struct MetaFormatter;

impl serde_json::ser::Formatter for MetaFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// A Graph error body in the shape of `samples/graph_api/error_*.json`.
#[derive(Debug, Clone, Serialize)]
pub struct GraphErrorBody {
    /// The error object.
    pub error: GraphErrorObject,
}

/// The inner error object.
#[derive(Debug, Clone, Serialize)]
pub struct GraphErrorObject {
    /// `(#code) Title`, as Meta writes it.
    pub message: String,
    /// Always `OAuthException` for these.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The code clients key off.
    pub code: i64,
    /// `{messaging_product, details}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_data: Option<Value>,
    /// Optional subcode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// A random trace id.
    pub fbtrace_id: String,
}

/// The HTTP status and body the simulator answers a Graph error `code` with. Messages and
/// details are those of the spec's samples where one exists; `details` overrides them.
pub fn graph_error(code: i64, details: Option<&str>) -> (u16, GraphErrorBody) {
    let (status, message, sample_details, subcode): (u16, &str, Option<&str>, Option<i64>) =
        match code {
            100 => (400, "(#100) Invalid parameter", Some("Invalid parameter"), Some(2494010)),
            131008 => (400, "(#131008) Required parameter is missing", Some("Required parameter is missing"), None),
            131009 => (400, "(#131009) Parameter value is not valid", Some("Please check the parameters you have provided."), Some(2494010)),
            130429 => (400, "(#130429) Rate limit hit", Some("Cloud API message throughput has been reached."), None),
            131056 => (400, "(#131056) (Business Account, Consumer Account) pair rate limit hit", Some("Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."), None),
            4 => (400, "(#4) Application request limit reached", None, None),
            80007 => (400, "(#80007) There have been too many calls to this WhatsApp Business account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.", None, None),
            131000 => (500, "(#131000) Something went wrong", Some("Something went wrong"), None),
            131016 => (503, "(#131016) Service unavailable", Some("A service is temporarily unavailable."), None),
            190 => (401, "Error validating access token: Session has expired.", None, Some(463)),
            131047 => (400, "(#131047) Re-engagement message", Some("Message failed to send because more than 24 hours have passed since the customer last replied to this number."), None),
            131030 => (400, "(#131030) Recipient phone number not in allowed list", Some("Recipient phone number not in allowed list: Add recipient phone number to recipient list and try again."), Some(2655007)),
            132001 => (404, "(#132001) Template name does not exist in the translation", Some("template name does not exist in the translation"), None),
            _ => (400, "(#1) An unknown error occurred", None, None),
        };
    let details = details.or(sample_details);
    let body = GraphErrorBody {
        error: GraphErrorObject {
            message: message.to_owned(),
            kind: "OAuthException",
            code,
            error_data: details
                .map(|d| serde_json::json!({ "messaging_product": "whatsapp", "details": d })),
            error_subcode: subcode,
            fbtrace_id: format!("A{}", token(22)),
        },
    };
    (status, body)
}

/// The 401 answer to a missing or wrong token.
pub fn invalid_token() -> GraphErrorBody {
    GraphErrorBody {
        error: GraphErrorObject {
            message: "Invalid OAuth access token - Cannot parse access token".into(),
            kind: "OAuthException",
            code: 190,
            error_data: None,
            error_subcode: None,
            fbtrace_id: format!("A{}", token(22)),
        },
    }
}

/// Title, message and details of an asynchronous error (a `failed` status's `errors[]`).
pub fn async_error(code: i64) -> Value {
    let (title, details) = match code {
        131047 => (
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        ),
        131026 => ("Message undeliverable", "Message Undeliverable."),
        _ => ("Something went wrong", "Something went wrong"),
    };
    serde_json::json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": { "details": details },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamids_follow_meta_layout() {
        let id = outbound_wamid("15555550142");
        let raw = STANDARD
            .decode(id.strip_prefix("wamid.").unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(&raw[..3], &[0x1c, 0x18, 11]);
        assert_eq!(&raw[3..14], b"15555550142");
        assert_eq!(&raw[14..20], &[0x15, 0x02, 0x00, 0x11, 0x18, 18]);
        assert_eq!(raw.len(), 20 + 18 + 1);
        assert_eq!(raw.last(), Some(&0));
        // Same prefix as the sample response's wamid.
        assert!(id.starts_with("wamid.HBgLMTU1NTU1NTAxNDIVAgARGB"));
        let inbound = inbound_wamid("5511987650123");
        assert!(inbound.starts_with("wamid.HBgNNTUxMTk4NzY1MDEyMxUCABIY"));
    }

    #[test]
    fn escapes_non_ascii_like_meta() {
        let bytes = meta_bytes(&serde_json::json!({ "body": "Olá! 😊 \"q\"" }));
        assert_eq!(
            String::from_utf8(bytes).unwrap_or_default(),
            r#"{"body":"Ol\u00e1! \ud83d\ude0a \"q\""}"#
        );
    }
}
