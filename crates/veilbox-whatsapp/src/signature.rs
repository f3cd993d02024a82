//! `X-Hub-Signature-256`: HMAC-SHA256 of the exact raw body, keyed with the app secret.
//!
//! The check runs on the bytes as received: Meta escapes non-ASCII as `\uXXXX`, so a body
//! that was parsed and re-serialised no longer verifies.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header Meta signs webhook deliveries with.
pub const HEADER: &str = "x-hub-signature-256";

/// Why a delivery's signature was refused. None of these say which byte differed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is absent.
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Hub-Signature-256 header")]
    Malformed,
    /// The header names an algorithm other than sha256.
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    /// The HMAC does not match the body.
    #[error("signature does not match the body")]
    Mismatch,
}

/// Verifies `header` (the value of `X-Hub-Signature-256`) against `body`.
///
/// The comparison is constant time ([`Mac::verify_slice`]).
pub fn verify(app_secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let (algorithm, hex_digest) = header.split_once('=').ok_or(SignatureError::Malformed)?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(SignatureError::UnsupportedAlgorithm);
    }
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = keyed(app_secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`: `sha256=<lowercase hex>`.
///
/// Used by the simulator and the tests to sign what they post.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(app_secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn keyed(app_secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail; an empty secret is refused by
    // configuration long before this point.
    match HmacSha256::new_from_slice(app_secret) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    unreachable!("HMAC-SHA256 accepts keys of every length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"wa_test_app_secret_9f8e7d6c5b4a";

    #[test]
    fn spec_vector_empty_entry() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = "sha256=99cbfeead6ac002af327242decec31136ee1049381341ca335d42087eaa921e2";
        assert_eq!(sign(SECRET, body), header);
        assert_eq!(verify(SECRET, body, Some(header)), Ok(()));
    }

    #[test]
    fn refuses_missing_malformed_and_other_algorithms() {
        let body = b"{}";
        let good = sign(SECRET, body);
        assert_eq!(verify(SECRET, body, None), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, body, Some("sha256")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, body, Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        let not_hex = format!("sha256={}", "g".repeat(64));
        assert_eq!(
            verify(SECRET, body, Some(&not_hex)),
            Err(SignatureError::Malformed)
        );
        let sha1 = good.replacen("sha256", "sha1", 1);
        assert_eq!(
            verify(SECRET, body, Some(&sha1)),
            Err(SignatureError::UnsupportedAlgorithm)
        );
        assert_eq!(
            verify(b"other secret", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, b"{} ", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        let upper = good.to_uppercase().replacen("SHA256", "sha256", 1);
        assert_eq!(
            verify(SECRET, body, Some(&upper)),
            Ok(()),
            "hex case does not matter"
        );
    }
}
