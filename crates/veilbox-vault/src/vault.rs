//! The key ring: the current master key, older ones still accepted during a rotation, and
//! wrapping (encrypting) data keys under them.
//!
//! Wrapped text: `"vbw1:"` + base64url(nonce 24 ‖ encrypted key 32 ‖ tag 16), without
//! padding. The associated data binds the owner and the master key id.

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use data_encoding::BASE64URL_NOPAD;
use subtle::ConstantTimeEq;

use crate::nonce::NONCE_LEN;
use crate::secret::Secret32;
use crate::{DataKey, MasterKey, VaultError};

const WRAPPED_PREFIX: &str = "vbw1:";
const WRAP_AAD_DOMAIN: &[u8] = b"veilbox-wrap-v1\0";
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// A data key wrapped by a master key, as the store keeps it: two text columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The [`MasterKey::id`] of the master key that wrapped it.
    pub kek_id: String,
    /// `"vbw1:..."`: the encrypted data key.
    pub wrapped: String,
}

/// The vault: the current master key, plus older ones still accepted for unwrapping
/// while a rotation re-wraps data keys.
///
/// Cheap to clone (an `Arc` inside), `Send` and `Sync`; `Debug` shows master key ids only.
#[derive(Clone)]
pub struct Vault {
    ring: Arc<Ring>,
}

struct Ring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Vault {
    /// A vault that wraps and unwraps with `current` only.
    pub fn new(current: MasterKey) -> Vault {
        Vault {
            ring: Arc::new(Ring {
                current,
                previous: Vec::new(),
            }),
        }
    }

    /// Also accepts `older` for unwrapping (never for wrapping). Adding a key the vault
    /// already holds changes nothing.
    pub fn with_previous(self, older: MasterKey) -> Vault {
        let mut ring = Arc::try_unwrap(self.ring).unwrap_or_else(|shared| Ring {
            current: shared.current.duplicate(),
            previous: shared.previous.iter().map(MasterKey::duplicate).collect(),
        });
        let known = ring
            .keys()
            .any(|key| bool::from(key.secret().bytes().ct_eq(older.secret().bytes())));
        if !known {
            ring.previous.push(older);
        }
        Vault {
            ring: Arc::new(ring),
        }
    }

    /// The id of the master key new wraps are made with.
    pub fn current_id(&self) -> String {
        self.ring.current.id()
    }

    /// Wraps `key` for `owner` (e.g. `"customer:<id>"`) under the current master key.
    ///
    /// The associated data binds `owner` and the master key id, so a wrapped key copied to
    /// another owner's row, or relabelled with another master key id, does not unwrap.
    ///
    /// # Panics
    ///
    /// When the OS random number generator fails (there is no safe nonce without it).
    pub fn wrap(&self, key: &DataKey, owner: &str) -> WrappedKey {
        let master = &self.ring.current;
        let nonce = crate::nonce::fresh();
        let mut raw = [0u8; NONCE_LEN + KEY_LEN + TAG_LEN];
        let (nonce_part, rest) = raw.split_at_mut(NONCE_LEN);
        let (body, tag_part) = rest.split_at_mut(KEY_LEN);
        nonce_part.copy_from_slice(&nonce);
        body.copy_from_slice(key.secret().bytes());
        let aad = wrap_aad(owner, master.id_str());
        let tag = match cipher(master.secret()).encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            &aad,
            body,
        ) {
            Ok(tag) => tag,
            Err(_) => unreachable!("a 32-byte key is within XChaCha20-Poly1305's limits"),
        };
        tag_part.copy_from_slice(&tag);
        let mut wrapped =
            String::with_capacity(WRAPPED_PREFIX.len() + BASE64URL_NOPAD.encode_len(raw.len()));
        wrapped.push_str(WRAPPED_PREFIX);
        BASE64URL_NOPAD.encode_append(&raw, &mut wrapped);
        WrappedKey {
            kek_id: master.id(),
            wrapped,
        }
    }

    /// Unwraps with whichever known master key has id `wrapped.kek_id`.
    ///
    /// [`VaultError::UnknownMasterKey`] (naming the id) when the vault holds no such key;
    /// [`VaultError::Open`] when the wrapped text is damaged or belongs to another owner.
    pub fn unwrap(&self, wrapped: &WrappedKey, owner: &str) -> Result<DataKey, VaultError> {
        let mut candidates = self
            .ring
            .keys()
            .filter(|key| key.id_str() == wrapped.kek_id)
            .peekable();
        if candidates.peek().is_none() {
            return Err(VaultError::UnknownMasterKey(wrapped.kek_id.clone()));
        }
        let mut raw = [0u8; NONCE_LEN + KEY_LEN + TAG_LEN];
        let encoded = wrapped
            .wrapped
            .strip_prefix(WRAPPED_PREFIX)
            .ok_or(VaultError::Open)?;
        match BASE64URL_NOPAD.decode_len(encoded.len()) {
            Ok(len) if len == raw.len() => {}
            _ => return Err(VaultError::Open),
        }
        BASE64URL_NOPAD
            .decode_mut(encoded.as_bytes(), &mut raw)
            .map_err(|_| VaultError::Open)?;
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(KEY_LEN);
        let aad = wrap_aad(owner, &wrapped.kek_id);
        // Ids are 64 bits of a hash, so two keys sharing one is all but impossible; trying
        // each costs nothing and keeps that case correct.
        for master in candidates {
            let mut secret = Secret32::zeroed();
            secret.bytes_mut().copy_from_slice(body);
            let opened = cipher(master.secret()).decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &aad,
                secret.bytes_mut(),
                Tag::from_slice(tag),
            );
            if opened.is_ok() {
                return Ok(DataKey::from_secret(secret));
            }
        }
        Err(VaultError::Open)
    }

    /// Unwraps `wrapped` with whichever known master key made it and wraps it again under
    /// the current one: one step of a master key rotation.
    pub fn rewrap(&self, wrapped: &WrappedKey, owner: &str) -> Result<WrappedKey, VaultError> {
        let key = self.unwrap(wrapped, owner)?;
        Ok(self.wrap(&key, owner))
    }
}

impl Ring {
    fn keys(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let previous: Vec<&str> = self.ring.previous.iter().map(MasterKey::id_str).collect();
        f.debug_struct("Vault")
            .field("current", &self.ring.current.id_str())
            .field("previous", &previous)
            .finish()
    }
}

/// `"veilbox-wrap-v1\0" owner \0 kek_id`.
fn wrap_aad(owner: &str, kek_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_AAD_DOMAIN.len() + owner.len() + 1 + kek_id.len());
    aad.extend_from_slice(WRAP_AAD_DOMAIN);
    aad.extend_from_slice(owner.as_bytes());
    aad.push(0);
    aad.extend_from_slice(kek_id.as_bytes());
    aad
}

fn cipher(key: &Secret32) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(Key::from_slice(key.bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrapped_key_has_the_same_bytes() {
        let vault = Vault::new(MasterKey::generate());
        let key = DataKey::generate();
        let wrapped = vault.wrap(&key, "customer:1");
        assert!(wrapped.wrapped.starts_with("vbw1:"));
        assert_eq!(wrapped.wrapped.len(), 5 + 96);
        let back = vault.unwrap(&wrapped, "customer:1").unwrap();
        assert_eq!(back.secret().bytes(), key.secret().bytes());
    }

    #[test]
    fn adding_a_known_key_again_changes_nothing() {
        let current = MasterKey::generate();
        let older = MasterKey::generate();
        let vault = Vault::new(current.duplicate())
            .with_previous(older.duplicate())
            .with_previous(older.duplicate())
            .with_previous(current.duplicate());
        assert_eq!(vault.ring.previous.len(), 1);
        // A clone shares the ring; extending it must not touch the original.
        let shared = vault.clone();
        let extended = shared.with_previous(MasterKey::generate());
        assert_eq!(extended.ring.previous.len(), 2);
        assert_eq!(vault.ring.previous.len(), 1);
    }
}
