//! Blind indexes: a keyed hash of a normalised phone, e-mail, tracking number or address, so the
//! store can find a customer by phone, or notice that a reply names another customer's
//! parcel, without keeping the value in clear.

use std::fmt;
use std::sync::Arc;

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::normalize;
use crate::secret::Secret32;
use crate::DataKey;

/// HKDF info prefix; the field name follows.
const INFO_PREFIX: &str = "veilbox-blind-index-v1:";
/// Bytes of HMAC output kept: 128 bits keeps accidental collisions out of reach while
/// halving the column.
const INDEX_BYTES: usize = 16;
/// Characters of an index as stored: the 16 bytes in unpadded base64url (six bits a
/// character, 22). Hex (32 characters) made every index B-tree half as large again; the
/// import writes several of them at random places per shipment, so their size is what
/// SQLite spends its time on.
pub const INDEX_CHARS: usize = (INDEX_BYTES * 8).div_ceil(6);

/// A value kind that has a blind index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexedField {
    /// A phone number (normalised by [`normalize::phone`]).
    Phone,
    /// An e-mail address (normalised by [`normalize::email`]).
    Email,
    /// A parcel tracking number (normalised by [`normalize::tracking`]).
    Tracking,
    /// A postal address, or a leading part of one (normalised by [`normalize::address`]),
    /// so a reply that pastes another customer's street can be caught.
    Address,
}

impl IndexedField {
    /// Every indexed field.
    pub const ALL: [IndexedField; 4] = [
        IndexedField::Phone,
        IndexedField::Email,
        IndexedField::Tracking,
        IndexedField::Address,
    ];

    /// The field's name, as used in the key derivation: `phone`, `email`, `tracking`,
    /// `address`.
    pub fn name(self) -> &'static str {
        match self {
            IndexedField::Phone => "phone",
            IndexedField::Email => "email",
            IndexedField::Tracking => "tracking",
            IndexedField::Address => "address",
        }
    }

    fn slot(self) -> usize {
        match self {
            IndexedField::Phone => 0,
            IndexedField::Email => 1,
            IndexedField::Tracking => 2,
            IndexedField::Address => 3,
        }
    }

    fn normalize(self, value: &str) -> Option<String> {
        match self {
            IndexedField::Phone => normalize::phone(value),
            IndexedField::Email => normalize::email(value),
            IndexedField::Tracking => normalize::tracking(value),
            IndexedField::Address => normalize::address(value),
        }
    }
}

/// Computes blind indexes: HMAC-SHA256 of the normalised value, truncated to 16 bytes,
/// as 22 unpadded base64url characters ([`INDEX_CHARS`]).
///
/// Each field has its own key, derived with HKDF-SHA256 from one index root key (a
/// [`DataKey`] the store keeps wrapped), info = `"veilbox-blind-index-v1:"` + field name:
/// the same digits as a phone and as a tracking number index differently, and a leaked
/// index of one field says nothing about another. Cheap to clone; `Debug` shows no key.
#[derive(Clone)]
pub struct BlindIndex {
    keys: Arc<[Secret32; 4]>,
}

impl BlindIndex {
    /// Derives the per-field keys from the index root key.
    pub fn new(root: &DataKey) -> BlindIndex {
        let hkdf = Hkdf::<Sha256>::new(None, root.secret().bytes());
        let keys = IndexedField::ALL.map(|field| {
            let mut key = Secret32::zeroed();
            let info = format!("{INFO_PREFIX}{}", field.name());
            if hkdf.expand(info.as_bytes(), key.bytes_mut()).is_err() {
                unreachable!("32 bytes is within HKDF-SHA256's output limit");
            }
            key
        });
        BlindIndex {
            keys: Arc::new(keys),
        }
    }

    /// The blind index of `value` as a `field`, or `None` when the value does not
    /// normalise (not a phone, e-mail or tracking number).
    pub fn index(&self, field: IndexedField, value: &str) -> Option<String> {
        let normalized = Zeroizing::new(field.normalize(value)?);
        self.index_exact(field, &normalized)
    }

    /// The blind index of `value` exactly as given, without normalising it: for values
    /// that are already in their one spelling but that the normaliser would refuse (a
    /// WhatsApp id too short to be a phone number, in test numbering plans). `None` only
    /// if the field has no key, which cannot happen.
    pub fn index_exact(&self, field: IndexedField, value: &str) -> Option<String> {
        let key = self.keys.get(field.slot())?;
        let mut mac = match Hmac::<Sha256>::new_from_slice(key.bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(BASE64URL_NOPAD.encode(&digest[..INDEX_BYTES]))
    }
}

/// Characters of an index as databases written before base64url indexes stored it: 16
/// bytes in lowercase hex. Fixed by what was written then, whatever [`INDEX_BYTES`] becomes.
pub const HEX_INDEX_CHARS: usize = 32;

/// The index that databases written before base64url indexes stored as
/// [`HEX_INDEX_CHARS`] lowercase hex characters, in today's encoding (the same 16 bytes);
/// `None` for anything else.
pub fn reencode_hex_index(stored: &str) -> Option<String> {
    if stored.len() != HEX_INDEX_CHARS {
        return None;
    }
    let bytes = HEXLOWER.decode(stored.as_bytes()).ok()?;
    Some(BASE64URL_NOPAD.encode(&bytes))
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndex(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::assert_no_key_material;

    #[test]
    fn index_is_hmac_under_the_hkdf_derived_field_key() {
        let root = DataKey::generate();
        let index = BlindIndex::new(&root);
        let hkdf = Hkdf::<Sha256>::new(None, root.secret().bytes());
        let mut key = [0u8; 32];
        hkdf.expand(b"veilbox-blind-index-v1:email", &mut key)
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"priya@example.com");
        let digest = mac.finalize().into_bytes();
        let expected = BASE64URL_NOPAD.encode(&digest[..16]);
        let stored = index.index(IndexedField::Email, "Priya@Example.com");
        assert_eq!(stored.as_deref(), Some(expected.as_str()));
        assert_eq!(expected.len(), INDEX_CHARS);
        // An index an older version stored in hex becomes the same index.
        assert_eq!(
            reencode_hex_index(&HEXLOWER.encode(&digest[..16])),
            Some(expected)
        );
    }

    #[test]
    fn only_old_hex_indexes_are_reencoded() {
        assert_eq!(reencode_hex_index("crm:0192"), None);
        assert_eq!(reencode_hex_index("Zm9vYmFyYmF6cXV4cXV1dXV1"), None);
        assert_eq!(reencode_hex_index(&"g".repeat(32)), None);
        assert_eq!(reencode_hex_index(&"0".repeat(31)), None);
        assert_eq!(
            reencode_hex_index(&"00".repeat(16)).as_deref(),
            Some("AAAAAAAAAAAAAAAAAAAAAA")
        );
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let root = DataKey::generate();
        let index = BlindIndex::new(&root);
        let shown = format!("{index:?} {index:#?}");
        assert_eq!(format!("{index:?}"), "BlindIndex(redacted)");
        assert_no_key_material(&shown, root.secret().bytes());
        for key in index.keys.iter() {
            assert_no_key_material(&shown, key.bytes());
        }
    }
}
