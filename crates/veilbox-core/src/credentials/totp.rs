//! The TOTP second factor (RFC 6238 with SHA-1, 6 digits and 30-second steps): the
//! parameters every authenticator app supports.
//!
//! The server keeps the secret and the last step a user signed in with; the user's app
//! gets the secret once, through [`TotpSecret::provisioning_uri`] shown as [`qr_svg`].

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Secret length in bytes: the 160 bits RFC 4226 recommends for HMAC-SHA-1.
const SECRET_LEN: usize = 20;
/// Digits in a code.
const DIGITS: usize = 6;
/// 10^DIGITS.
const MODULUS: u32 = 1_000_000;
/// Seconds in a step.
const STEP_SECONDS: u64 = 30;

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A user's TOTP secret: 20 random bytes, wiped from memory on drop. `Debug` does not show
/// it.
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// A fresh secret from OS randomness.
    ///
    /// # Panics
    ///
    /// If the OS random number generator fails.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; SECRET_LEN];
        super::fill_random(&mut bytes);
        Self(bytes)
    }

    /// Parses a base32 secret (RFC 4648), tolerating lowercase, spaces and `=` padding, as
    /// people copy secrets by hand. `None` unless it decodes to exactly 20 bytes.
    pub fn from_base32(s: &str) -> Option<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            s.chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let decoded = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(cleaned.as_bytes())
                .ok()?,
        );
        let bytes: [u8; SECRET_LEN] = decoded.as_slice().try_into().ok()?;
        Some(Self(bytes))
    }

    /// The secret as unpadded uppercase base32 (RFC 4648), the form authenticator apps and
    /// [`TotpSecret::from_base32`] take.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI that authenticator apps import (usually as a QR code):
    /// `otpauth://totp/Issuer:account?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`,
    /// with issuer and account percent-encoded.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
        let account = utf8_percent_encode(account, URI_COMPONENT);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            secret = self.to_base32(),
        )
    }

    /// The 6-digit code (zero-padded) for the step containing `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        format_code(self.hotp(unix_seconds / STEP_SECONDS))
    }

    /// Checks a code the user typed at `unix_seconds`.
    ///
    /// Accepts the code of the current step or of one step either side (clock drift and
    /// typing time), but never of a step at or before `last_used_step`, so a code cannot
    /// be replayed. Returns the matched step, which the caller stores as the new
    /// `last_used_step`. Anything but exactly 6 ASCII digits gives `None`; the caller trims
    /// input if it wants to. The comparison runs in constant time.
    pub fn verify(
        &self,
        code: &str,
        unix_seconds: u64,
        last_used_step: Option<u64>,
    ) -> Option<u64> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = unix_seconds / STEP_SECONDS;
        let candidates = [
            current.checked_sub(1),
            Some(current),
            current.checked_add(1),
        ];
        let mut matched = None;
        // Every candidate is computed and compared, match or not, so timing tells nothing.
        for step in candidates.into_iter().flatten() {
            let expected = format_code(self.hotp(step));
            let same: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            let fresh = last_used_step.is_none_or(|last| step > last);
            if same && fresh {
                matched = Some(step);
            }
        }
        matched
    }

    /// HOTP (RFC 4226) of `counter`, truncated to [`DIGITS`] digits.
    fn hotp(&self, counter: u64) -> u32 {
        let mut mac = match Hmac::<Sha1>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(&counter.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let truncated = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        truncated % MODULUS
    }
}

fn format_code(code: u32) -> String {
    format!("{code:0width$}", width = DIGITS)
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecret").finish_non_exhaustive()
    }
}

/// An empty placeholder for data too long for any QR code.
const EMPTY_SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1" role="img" aria-label="QR code unavailable"></svg>"#;

/// The QR code of `data` as a standalone inline `<svg>` element, rendered on the server:
/// black modules on a white square with the standard quiet zone, no script, no external
/// references, and a `viewBox` so CSS can size it (its `width`/`height` attributes are only
/// a 200-pixel default).
///
/// Data too long for a QR code (about 2 KB at the error correction used; a provisioning
/// URI is under 300 bytes) gives an empty `<svg>` rather than an error.
pub fn qr_svg(data: &str) -> String {
    let Ok(code) = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M) else {
        return EMPTY_SVG.to_owned();
    };
    let document = code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    // The renderer writes a whole XML document; inline HTML wants the element alone.
    match document.find("<svg ") {
        Some(start) => format!(
            r#"<svg role="img" aria-label="QR code" {}"#,
            &document[start + "<svg ".len()..]
        ),
        None => EMPTY_SVG.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6238 appendix B SHA-1 key.
    fn rfc_secret() -> TotpSecret {
        TotpSecret(*b"12345678901234567890")
    }

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        // The RFC's 8-digit codes, last 6 digits.
        let vectors = [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ];
        let secret = rfc_secret();
        for (time, code) in vectors {
            assert_eq!(secret.code_at(time), code, "T = {time}");
            assert_eq!(
                secret.verify(code, time, None),
                Some(time / 30),
                "T = {time}"
            );
        }
    }

    #[test]
    fn one_step_either_side_is_accepted_two_are_not() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = now / 30;
        let code_at_step = |s: u64| secret.code_at(s * 30);
        assert_eq!(secret.verify(&code_at_step(step), now, None), Some(step));
        assert_eq!(
            secret.verify(&code_at_step(step - 1), now, None),
            Some(step - 1)
        );
        assert_eq!(
            secret.verify(&code_at_step(step + 1), now, None),
            Some(step + 1)
        );
        // Codes of other steps could collide by chance (1 in 10^6); skip such a draw.
        for far in [step - 2, step + 2] {
            let code = code_at_step(far);
            if (step - 1..=step + 1).all(|s| code_at_step(s) != code) {
                assert_eq!(secret.verify(&code, now, None), None, "step {far}");
            }
        }
    }

    #[test]
    fn the_window_holds_at_the_epoch() {
        let secret = rfc_secret();
        assert_eq!(secret.verify(&secret.code_at(0), 0, None), Some(0));
        assert_eq!(secret.verify(&secret.code_at(30), 0, None), Some(1));
    }

    #[test]
    fn a_used_step_cannot_be_replayed() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        let step = secret.verify("050471", now, None).unwrap();
        assert_eq!(secret.verify("050471", now, Some(step)), None);
        assert_eq!(secret.verify("050471", now + 5, Some(step)), None);
        // A later step's code still works after the used one...
        let next = secret.code_at(now + 30);
        assert_eq!(secret.verify(&next, now + 30, Some(step)), Some(step + 1));
        // ...but not an earlier step's, even inside the window.
        let previous = secret.code_at(now - 30);
        assert_eq!(secret.verify(&previous, now, Some(step)), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        for code in [
            "",
            "05047",
            "0504711",
            "05047a",
            " 050471",
            "050471 ",
            "050 471",
            "-50471",
            "+50471",
            "٠٥٠٤٧١",
        ] {
            assert_eq!(secret.verify(code, now, None), None, "{code:?}");
        }
    }

    #[test]
    fn base32_round_trips() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert!(!text.contains('='));
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        let parsed = TotpSecret::from_base32(&text).unwrap();
        assert_eq!(parsed.to_base32(), text);
        assert_eq!(parsed.code_at(1_700_000_000), secret.code_at(1_700_000_000));
        assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn base32_parsing_tolerates_case_spaces_and_padding() {
        let canonical = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        for input in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            " gezd gnbv gy3t qojq\tgezd gnbv gy3t qojq \n",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
        ] {
            let parsed = TotpSecret::from_base32(input).unwrap();
            assert_eq!(parsed.to_base32(), canonical, "{input:?}");
        }
    }

    #[test]
    fn base32_parsing_refuses_garbage_and_wrong_lengths() {
        for input in [
            "",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            "GEZDGNBVGY3TQOJQ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ!",
        ] {
            assert!(TotpSecret::from_base32(input).is_none(), "{input:?}");
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = rfc_secret();
        let debug = format!("{secret:?}");
        assert!(!debug.contains("GEZD"), "{debug}");
        assert!(!debug.contains("49"), "{debug}");
        assert!(!debug.contains("1234"), "{debug}");
        assert_eq!(debug, "TotpSecret { .. }");
    }

    #[test]
    fn provisioning_uri_has_the_otpauth_format() {
        let uri = rfc_secret().provisioning_uri("Swift Parcel", "mariana@swiftparcel.example");
        assert_eq!(
            uri,
            "otpauth://totp/Swift%20Parcel:mariana%40swiftparcel.example\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Swift%20Parcel\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn provisioning_uri_encodes_separators_in_names() {
        let uri = rfc_secret().provisioning_uri("A&B:C", "x?y#z/ü");
        assert!(
            uri.starts_with("otpauth://totp/A%26B%3AC:x%3Fy%23z%2F%C3%BC?secret="),
            "{uri}"
        );
        assert!(uri.contains("&issuer=A%26B%3AC&"), "{uri}");
    }

    #[test]
    fn qr_svg_is_an_inline_svg_element() {
        let uri = TotpSecret::generate().provisioning_uri("Veilbox", "mariana@swiftparcel.example");
        let svg = qr_svg(&uri);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("viewBox=\"0 0 "));
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("<path"));
        assert!(!svg.contains("<?xml"));
        assert!(!svg.to_lowercase().contains("<script"));
        assert!(!svg.contains("href"));
        assert!(!svg.contains("url("));
        // The data is drawn, not embedded as text.
        assert!(!svg.contains("otpauth"));
    }

    #[test]
    fn qr_svg_of_oversized_data_is_an_empty_svg() {
        let svg = qr_svg(&"x".repeat(10_000));
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<path"));
    }
}
