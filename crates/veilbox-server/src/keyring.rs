//! The master key of a running Veilbox (from `VEILBOX_MASTER_KEY` or its file, never the
//! database), which unlocks the store's key ring (`veilbox_store::keyring`), and the staff
//! secrets (TOTP seeds) sealed with the `system:staff` data key, bound to their user row.

use std::path::Path;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use veilbox_core::credentials::totp::TotpSecret;
use veilbox_store::Store;
use veilbox_vault::{is_sealed, MasterKey, Vault};

use crate::config::Config;

pub use veilbox_store::keyring::{KeyRing, STAFF_KEY};

/// Reads the master key: `VEILBOX_MASTER_KEY` when set, else the key file.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.master_key {
        return MasterKey::parse(text.expose_secret()).map_err(|_| {
            anyhow::anyhow!(
                "configuration error: VEILBOX_MASTER_KEY: not a Veilbox master key (expected vbk1:...)"
            )
        });
    }
    let path = &config.master_key_file;
    if !path.exists() {
        anyhow::bail!(
            "configuration error: VEILBOX_MASTER_KEY_FILE: no master key at {}; create one with `veilbox keys init`",
            path.display()
        );
    }
    MasterKey::load_file(path).map_err(|e| {
        anyhow::anyhow!(
            "configuration error: VEILBOX_MASTER_KEY_FILE: {}: {e}",
            path.display()
        )
    })
}

/// Creates a master key file (mode 0600) at `path`; refuses to overwrite one.
pub fn create_master_key(path: &Path) -> anyhow::Result<MasterKey> {
    MasterKey::create_file(path).with_context(|| format!("creating {}", path.display()))
}

/// Seals a user's TOTP secret for their row, with the staff key.
pub fn seal_totp(keys: &KeyRing, user_id: &str, secret: &TotpSecret) -> String {
    keys.staff()
        .seal("users", "totp_secret", user_id, &secret.to_base32())
}

/// Opens a stored TOTP secret. A value written before secrets were sealed (plain base32)
/// is still read, and sealed again at the next enrolment.
pub fn open_totp(keys: &KeyRing, user_id: &str, stored: &str) -> Option<TotpSecret> {
    if !is_sealed(stored) {
        return TotpSecret::from_base32(stored);
    }
    let text = keys
        .staff()
        .open("users", "totp_secret", user_id, stored)
        .ok()?;
    TotpSecret::from_base32(&text)
}

/// Unlocks `store` with the configured master key. With a previous key configured (after
/// a rotation), the data keys still wrapped under it are re-wrapped first.
pub async fn unlock(config: &Config, store: Store) -> anyhow::Result<Store> {
    let mut vault = Vault::new(master_key(config)?);
    if let Some(path) = &config.master_key_previous_file {
        let previous = MasterKey::load_file(path).map_err(|e| {
            anyhow::anyhow!(
                "configuration error: VEILBOX_MASTER_KEY_PREVIOUS_FILE: {}: {e}",
                path.display()
            )
        })?;
        vault = vault.with_previous(previous);
        let count = veilbox_store::keyring::rewrap_all(&store, &vault).await?;
        if count > 0 {
            tracing::info!(
                count,
                "re-wrapped data keys left under the previous master key"
            );
        }
    }
    Ok(store.unlock(vault).await?)
}

/// Re-wraps every data key under `new` (read with `old`, or already under `new`); returns
/// how many were re-wrapped. A running Veilbox keeps serving meanwhile; keys it makes
/// under `old` before it is restarted are re-wrapped at that start, when `old` is given as
/// `VEILBOX_MASTER_KEY_PREVIOUS_FILE`.
pub async fn rotate(store: &Store, old: MasterKey, new: MasterKey) -> anyhow::Result<usize> {
    let vault = Vault::new(new).with_previous(old);
    Ok(veilbox_store::keyring::rewrap_all(store, &vault).await?)
}
