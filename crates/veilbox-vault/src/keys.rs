//! The two kinds of key: the master key (key-encryption key, kept outside the database)
//! and data keys (one per customer, stored only wrapped by a master key).

use std::fmt;

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::Secret32;
use crate::VaultError;

/// Prefix of a master key's text form; the `1` is the format version.
pub(crate) const MASTER_KEY_PREFIX: &str = "vbk1:";
/// Base64url characters (no padding) of 32 bytes.
const KEY_TEXT_CHARS: usize = 43;
/// Domain separation for [`MasterKey::id`].
const KEK_ID_DOMAIN: &[u8] = b"veilbox-kek-id";

/// The key-encryption key (32 bytes), never stored in the database.
///
/// It wraps (encrypts) the data keys; the data keys encrypt the fields. It comes from a
/// key file ([`MasterKey::load_file`]) or the environment ([`MasterKey::parse`]). Its
/// bytes are zeroed when it is dropped, and `Debug` prints only its public [`id`].
///
/// [`id`]: MasterKey::id
pub struct MasterKey {
    secret: Secret32,
    id: String,
}

impl MasterKey {
    /// A new random master key.
    ///
    /// # Panics
    ///
    /// When the OS random number generator fails; [`MasterKey::try_generate`] returns
    /// [`VaultError::Randomness`] instead.
    pub fn generate() -> MasterKey {
        Self::from_secret(Secret32::random_or_panic())
    }

    /// A new random master key, or [`VaultError::Randomness`].
    pub fn try_generate() -> Result<MasterKey, VaultError> {
        Secret32::random().map(Self::from_secret)
    }

    /// Reads the text form `"vbk1:"` + base64url of the 32 bytes, without padding.
    /// Whitespace around it (a trailing newline in a file or variable) is ignored.
    ///
    /// Anything else, including padding or non-canonical base64, is
    /// [`VaultError::BadKey`]; the error never repeats the text.
    pub fn parse(text: &str) -> Result<MasterKey, VaultError> {
        let encoded = text
            .trim()
            .strip_prefix(MASTER_KEY_PREFIX)
            .filter(|rest| rest.len() == KEY_TEXT_CHARS)
            .ok_or(VaultError::BadKey)?;
        let mut secret = Secret32::zeroed();
        // Decoding straight into the zeroizing buffer leaves no stray copy of the key.
        match BASE64URL_NOPAD.decode_mut(encoded.as_bytes(), secret.bytes_mut()) {
            Ok(32) => Ok(Self::from_secret(secret)),
            _ => Err(VaultError::BadKey),
        }
    }

    /// The text form read by [`MasterKey::parse`], in a buffer wiped when dropped.
    pub fn to_text(&self) -> Zeroizing<String> {
        // Exact capacity: growing the string would leave a copy of the key behind.
        let mut text = Zeroizing::new(String::with_capacity(
            MASTER_KEY_PREFIX.len() + KEY_TEXT_CHARS,
        ));
        text.push_str(MASTER_KEY_PREFIX);
        BASE64URL_NOPAD.encode_append(self.secret.bytes(), &mut text);
        text
    }

    /// Short public fingerprint: the first 8 bytes of SHA-256("veilbox-kek-id" ‖ key), as
    /// 16 lowercase hex characters.
    ///
    /// Stored beside every wrapped key so that rotation knows which master key wrapped
    /// what. It reveals nothing usable about the key.
    pub fn id(&self) -> String {
        self.id.clone()
    }

    pub(crate) fn from_secret(secret: Secret32) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(KEK_ID_DOMAIN)
            .chain_update(secret.bytes())
            .finalize();
        let id = HEXLOWER.encode(&digest[..8]);
        MasterKey { secret, id }
    }

    pub(crate) fn secret(&self) -> &Secret32 {
        &self.secret
    }

    pub(crate) fn id_str(&self) -> &str {
        &self.id
    }

    pub(crate) fn duplicate(&self) -> MasterKey {
        MasterKey {
            secret: self.secret.duplicate(),
            id: self.id.clone(),
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

/// A data key: 32 random bytes that seal fields (see [`DataKey::seal`]) or, for the one
/// shared index key, derive blind index keys (see [`crate::BlindIndex`]).
///
/// There is one per customer. It is stored only wrapped by the master key
/// ([`crate::Vault::wrap`]); deleting the wrapped copy makes everything sealed under it
/// unreadable for good, backups included (crypto-shredding). Zeroed when dropped;
/// `Debug` shows no bytes.
pub struct DataKey {
    secret: Secret32,
}

impl DataKey {
    /// A new random data key.
    ///
    /// # Panics
    ///
    /// When the OS random number generator fails; [`DataKey::try_generate`] returns
    /// [`VaultError::Randomness`] instead.
    pub fn generate() -> DataKey {
        DataKey {
            secret: Secret32::random_or_panic(),
        }
    }

    /// A new random data key, or [`VaultError::Randomness`].
    pub fn try_generate() -> Result<DataKey, VaultError> {
        Secret32::random().map(|secret| DataKey { secret })
    }

    pub(crate) fn from_secret(secret: Secret32) -> DataKey {
        DataKey { secret }
    }

    pub(crate) fn secret(&self) -> &Secret32 {
        &self.secret
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_tolerates_surrounding_whitespace() {
        let key = MasterKey::generate();
        let text = key.to_text();
        assert!(text.starts_with("vbk1:"));
        assert_eq!(text.len(), 48);
        let again = MasterKey::parse(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(again.secret().bytes(), key.secret().bytes());
        assert_eq!(again.id(), key.id());
    }

    #[test]
    fn bad_texts_are_refused() {
        let good = MasterKey::generate().to_text();
        let body = &good[5..];
        let cases = [
            String::new(),
            "vbk1:".to_owned(),
            body.to_owned(),
            format!("vbk2:{body}"),
            format!("VBK1:{body}"),
            format!("vbk1:{body}="),
            format!("vbk1:{}", &body[..42]),
            format!("vbk1:{body}A"),
            format!("vbk1:{}+", &body[..42]),
            format!("vbk1:{} {}", &body[..20], &body[20..]),
            // Last character changed only in the unused trailing bits: not canonical.
            format!("vbk1:{}", canonical_twin(body)),
            format!("vbk1:{}é", &body[..41]),
        ];
        for case in cases {
            assert!(
                matches!(MasterKey::parse(&case), Err(VaultError::BadKey)),
                "accepted {case:?}"
            );
        }
    }

    /// The same 32 bytes with different (non-zero) unused trailing bits.
    fn canonical_twin(body: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = body.as_bytes()[42];
        let index = ALPHABET.iter().position(|&c| c == last).unwrap();
        // 43 chars carry 258 bits; the low 2 bits of the last char are padding.
        let twin = ALPHABET[index ^ 0b01] as char;
        format!("{}{twin}", &body[..42])
    }

    #[test]
    fn id_is_the_documented_fingerprint() {
        let key = MasterKey::parse("vbk1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let mut expected = Sha256::new();
        expected.update(b"veilbox-kek-id");
        expected.update([0u8; 32]);
        let expected = HEXLOWER.encode(&expected.finalize()[..8]);
        assert_eq!(key.id(), expected);
        assert_eq!(key.id().len(), 16);
        assert_ne!(MasterKey::generate().id(), key.id());
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let master = MasterKey::generate();
        let shown = format!("{master:?} {master:#?}");
        assert!(shown.contains(&master.id()));
        assert_no_key_material(&shown, master.secret().bytes());

        let data = DataKey::generate();
        let shown = format!("{data:?} {data:#?}");
        assert_eq!(format!("{data:?}"), "DataKey(redacted)");
        assert_no_key_material(&shown, data.secret().bytes());
    }

    /// Fails if `shown` contains the key in any encoding a careless `Debug` would use.
    pub(crate) fn assert_no_key_material(shown: &str, key: &[u8; 32]) {
        let encodings = [
            BASE64URL_NOPAD.encode(key),
            data_encoding::BASE64.encode(key),
            HEXLOWER.encode(key),
            data_encoding::HEXUPPER.encode(key),
            format!("{key:?}"),
            // A prefix of the array form catches a partial dump too.
            format!("{:?}", &key[..4]).trim_end_matches(']').to_owned(),
        ];
        for encoded in encodings {
            assert!(!shown.contains(&encoded), "{shown:?} contains {encoded:?}");
        }
    }
}
