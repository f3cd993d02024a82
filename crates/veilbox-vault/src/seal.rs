//! Field encryption: XChaCha20-Poly1305 under a data key, with the field's place (table,
//! column, row id) and the key version bound into the associated data.
//!
//! Sealed text: `"vb1:"` + base64url(version u32 BE ‖ nonce 24 ‖ ciphertext ‖ tag 16),
//! without padding. The version travels in clear so the store can pick the key before
//! opening; it is also in the associated data, so changing it breaks the tag.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use data_encoding::BASE64URL_NOPAD;
use zeroize::{Zeroize, Zeroizing};

use crate::nonce::NONCE_LEN;
use crate::secret::Secret32;
use crate::{DataKey, VaultError};

/// Prefix of every sealed field; the `1` is the format version.
const SEALED_PREFIX: &str = "vb1:";
/// Domain separation of field ciphertexts from wrapped keys and future formats.
const FIELD_AAD_DOMAIN: &[u8] = b"veilbox-field-v1\0";
const VERSION_LEN: usize = 4;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = VERSION_LEN + NONCE_LEN;
/// Base64url characters of the shortest payload (empty plaintext): 44 bytes.
const MIN_PAYLOAD_CHARS: usize = ((HEADER_LEN + TAG_LEN) * 4).div_ceil(3);

/// Where a ciphertext lives. Bound into the associated data together with the key
/// version, so a ciphertext copied to another table, column or row does not open.
///
/// The parts are joined with NUL bytes, so they must not contain NUL themselves (table
/// and column names are constants of the store; row ids are ids we generate).
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The table, e.g. `"customers"`.
    pub table: &'a str,
    /// The column, e.g. `"phone"`.
    pub column: &'a str,
    /// The row's id.
    pub row_id: &'a str,
}

impl<'a> Field<'a> {
    /// The field at `table`.`column` of row `row_id`.
    pub const fn new(table: &'a str, column: &'a str, row_id: &'a str) -> Field<'a> {
        Field {
            table,
            column,
            row_id,
        }
    }

    /// `"veilbox-field-v1\0" table \0 column \0 row_id \0 version(BE)`.
    fn associated_data(self, version: u32) -> Vec<u8> {
        let mut aad = Vec::with_capacity(
            FIELD_AAD_DOMAIN.len() + self.table.len() + self.column.len() + self.row_id.len() + 7,
        );
        aad.extend_from_slice(FIELD_AAD_DOMAIN);
        for part in [self.table, self.column, self.row_id] {
            aad.extend_from_slice(part.as_bytes());
            aad.push(0);
        }
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }
}

impl DataKey {
    /// Seals `plaintext` for `field` with XChaCha20-Poly1305 and a random 24-byte nonce.
    ///
    /// `version` is this data key's version, which the caller stores next to the key and
    /// reads back from the ciphertext with [`sealed_version`] to pick the key again. Two
    /// seals of the same plaintext differ.
    ///
    /// # Panics
    ///
    /// When the OS random number generator fails (there is no safe nonce without it), or
    /// for a plaintext over 256 GiB, the cipher's limit.
    pub fn seal(&self, version: u32, field: Field<'_>, plaintext: &[u8]) -> String {
        let nonce = crate::nonce::fresh();
        // version ‖ nonce ‖ plaintext, encrypted in place, then the tag: the only copy of
        // the plaintext this function makes is overwritten by its ciphertext.
        let mut raw = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        raw.extend_from_slice(&version.to_be_bytes());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(plaintext);
        let aad = field.associated_data(version);
        let tag = match cipher(self.secret()).encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            &aad,
            &mut raw[HEADER_LEN..],
        ) {
            Ok(tag) => tag,
            Err(_) => panic!("veilbox-vault: plaintext longer than XChaCha20-Poly1305 allows"),
        };
        raw.extend_from_slice(&tag);
        let mut sealed =
            String::with_capacity(SEALED_PREFIX.len() + BASE64URL_NOPAD.encode_len(raw.len()));
        sealed.push_str(SEALED_PREFIX);
        BASE64URL_NOPAD.encode_append(&raw, &mut sealed);
        sealed
    }

    /// [`DataKey::seal`] for text.
    ///
    /// # Panics
    ///
    /// As [`DataKey::seal`].
    pub fn seal_str(&self, version: u32, field: Field<'_>, plaintext: &str) -> String {
        self.seal(version, field, plaintext.as_bytes())
    }

    /// Opens a value sealed by [`DataKey::seal`] for the same `field`.
    ///
    /// A ciphertext moved to another table, column or row, tampered with, truncated, with
    /// its version changed, sealed under another key, or not a ciphertext at all, is
    /// [`VaultError::Open`], with no detail about which. Never panics, whatever `sealed`
    /// holds. The plaintext is returned in a buffer wiped when dropped.
    pub fn open(&self, field: Field<'_>, sealed: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let payload = sealed.strip_prefix(SEALED_PREFIX).ok_or(VaultError::Open)?;
        // Strict decoding: non-canonical trailing bits are refused, so no two texts decode
        // to the same ciphertext and every character of a sealed text is authenticated.
        let raw = BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .map_err(|_| VaultError::Open)?;
        let (version, rest) = raw
            .split_first_chunk::<VERSION_LEN>()
            .ok_or(VaultError::Open)?;
        let (nonce, rest) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(VaultError::Open)?;
        let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(VaultError::Open)?;
        let aad = field.associated_data(u32::from_be_bytes(*version));
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        cipher(self.secret())
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &aad,
                &mut plaintext,
                Tag::from_slice(tag),
            )
            .map_err(|_| VaultError::Open)?;
        Ok(plaintext)
    }

    /// [`DataKey::open`] for text sealed with [`DataKey::seal_str`]; a plaintext that is
    /// not UTF-8 is [`VaultError::Open`] too.
    pub fn open_string(
        &self,
        field: Field<'_>,
        sealed: &str,
    ) -> Result<Zeroizing<String>, VaultError> {
        let mut bytes = self.open(field, sealed)?;
        // Take the bytes out of their zeroizing box; on failure they come back inside the
        // error and are wiped there.
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(VaultError::Open)
            }
        }
    }
}

fn cipher(key: &Secret32) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(Key::from_slice(key.bytes()))
}

/// The key version a sealed text says it was made with, read without opening it, so the
/// store can pick the data key. `None` when `sealed` is not a sealed text.
///
/// Only the prefix and the first bytes are checked; [`DataKey::open`] authenticates the
/// version along with everything else.
pub fn sealed_version(sealed: &str) -> Option<u32> {
    let payload = sealed.strip_prefix(SEALED_PREFIX)?;
    if payload.len() < MIN_PAYLOAD_CHARS {
        return None;
    }
    // 8 characters are 6 whole bytes, the first 4 of which are the version.
    let head = payload.get(..8)?;
    let mut bytes = [0u8; 6];
    BASE64URL_NOPAD
        .decode_mut(head.as_bytes(), &mut bytes)
        .ok()?;
    let (version, _) = bytes.split_first_chunk::<VERSION_LEN>()?;
    Some(u32::from_be_bytes(*version))
}

/// Whether a column value is a Veilbox ciphertext, i.e. starts with `"vb1:"`.
///
/// For telling sealed values from plaintext ones during a migration; it does not check
/// that the value opens.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn associated_data_has_the_documented_layout() {
        let aad = Field::new("customers", "phone", "c_1").associated_data(0x0102_0304);
        assert_eq!(
            aad,
            b"veilbox-field-v1\0customers\0phone\0c_1\0\x01\x02\x03\x04"
        );
    }

    #[test]
    fn minimum_payload_is_an_empty_plaintext() {
        let key = DataKey::generate();
        let sealed = key.seal(1, Field::new("t", "c", "r"), b"");
        assert_eq!(sealed.len(), SEALED_PREFIX.len() + MIN_PAYLOAD_CHARS);
        assert_eq!(sealed_version(&sealed), Some(1));
        let cut = &sealed[..sealed.len() - 1];
        assert_eq!(sealed_version(cut), None);
    }
}
