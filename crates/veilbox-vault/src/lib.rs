//! # veilbox-vault
//!
//! Encryption at rest for Veilbox: every PII column and media blob is sealed, and the
//! phone, e-mail and tracking-number columns get a blind index for lookups.
//!
//! The crate is pure: no async, no SQL, no HTTP, no global state. Its only contacts with
//! the outside are the OS random number generator and, if asked, a master key file.
//!
//! ## Envelope encryption
//!
//! - The **master key** ([`MasterKey`], the key-encryption key) lives in a file or an
//!   environment variable, never in the database. A [`Vault`] holds the current one and,
//!   during a rotation, older ones still accepted for unwrapping.
//! - Each customer has a **data key** ([`DataKey`]). The store keeps it only
//!   [wrapped](Vault::wrap) by the master key, as a [`WrappedKey`] (master key id and
//!   `"vbw1:..."` text), bound to its owner.
//! - Each PII value is **sealed** ([`DataKey::seal`]) with XChaCha20-Poly1305 into a
//!   `"vb1:..."` text. The associated data binds the table, column, row id and data key
//!   version, so a ciphertext copied to another row or column does not open.
//! - **Erasure is crypto-shredding**: delete a customer's wrapped data key and everything
//!   sealed under it is unreadable, in every backup too. Keys in memory are wiped on drop.
//!
//! ```
//! use veilbox_vault::{DataKey, Field, MasterKey, Vault};
//!
//! // Once, at install: `MasterKey::create_file(path)`; at start: `MasterKey::load_file`.
//! let vault = Vault::new(MasterKey::generate());
//!
//! // A new customer gets a data key; the store keeps only the wrapped form.
//! let key = DataKey::generate();
//! let wrapped = vault.wrap(&key, "customer:c_7Qx2");
//!
//! // Sealing a field, e.g. the customer's address, with data key version 1.
//! let field = Field::new("customers", "address", "c_7Qx2");
//! let sealed = key.seal_str(1, field, "14 Mill Lane, Leeds LS1 4AB");
//! assert!(veilbox_vault::is_sealed(&sealed));
//! assert_eq!(veilbox_vault::sealed_version(&sealed), Some(1));
//!
//! // Later: unwrap the customer's key and open the field.
//! let key = vault.unwrap(&wrapped, "customer:c_7Qx2")?;
//! assert_eq!(key.open_string(field, &sealed)?.as_str(), "14 Mill Lane, Leeds LS1 4AB");
//!
//! // The same ciphertext copied to another customer's row does not open.
//! let elsewhere = Field::new("customers", "address", "c_9Zk4");
//! assert!(key.open(elsewhere, &sealed).is_err());
//! # Ok::<(), veilbox_vault::VaultError>(())
//! ```
//!
//! ## Rotating the master key
//!
//! Start with the new key current and the old one previous, re-wrap every data key (only
//! the small wrapped keys change; sealed fields are untouched), then drop the old key.
//!
//! ```
//! use veilbox_vault::{DataKey, MasterKey, Vault, VaultError};
//!
//! // Master keys are not `Clone`; each process reads its own copies from files.
//! let (old_file, new_file) = (MasterKey::generate().to_text(), MasterKey::generate().to_text());
//! let old = || MasterKey::parse(&old_file);
//! let new = || MasterKey::parse(&new_file);
//!
//! let wrapped = Vault::new(old()?).wrap(&DataKey::generate(), "customer:1");
//!
//! let rotating = Vault::new(new()?).with_previous(old()?);
//! let rewrapped = rotating.rewrap(&wrapped, "customer:1")?;
//! assert_eq!(rewrapped.kek_id, new()?.id());
//!
//! let after = Vault::new(new()?);
//! assert!(after.unwrap(&rewrapped, "customer:1").is_ok());
//! assert!(matches!(after.unwrap(&wrapped, "customer:1"), Err(VaultError::UnknownMasterKey(_))));
//! # Ok::<(), VaultError>(())
//! ```
//!
//! ## Blind indexes
//!
//! A [`BlindIndex`] hashes a normalised value (see [`normalize`]) with a key derived per
//! field from one index root key, so equal values find each other without plaintext:
//!
//! ```
//! use veilbox_vault::{BlindIndex, DataKey, IndexedField};
//!
//! let index = BlindIndex::new(&DataKey::generate());
//! let from_whatsapp = index.index(IndexedField::Phone, "447700900461");
//! let typed_by_agent = index.index(IndexedField::Phone, "+44 7700 900461");
//! assert!(from_whatsapp.is_some());
//! assert_eq!(from_whatsapp, typed_by_agent);
//! assert_eq!(index.index(IndexedField::Phone, "not a phone"), None);
//! ```

#![deny(missing_docs)]

mod blind;
mod error;
mod key_file;
mod keys;
mod nonce;
pub mod normalize;
mod seal;
mod secret;
mod vault;

pub use blind::{reencode_hex_index, BlindIndex, IndexedField, HEX_INDEX_CHARS, INDEX_CHARS};
pub use error::VaultError;
pub use keys::{DataKey, MasterKey};
pub use seal::{is_sealed, sealed_version, Field};
pub use vault::{Vault, WrappedKey};
pub use zeroize::Zeroizing;
