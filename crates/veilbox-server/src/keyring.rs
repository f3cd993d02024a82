//! The key ring of a running Veilbox: the master key (from `VEILBOX_MASTER_KEY` or its file,
//! never the database) and the data keys it unwraps. Staff secrets (TOTP seeds) are sealed
//! with the `system:staff` data key, bound to their user row; customer keys join with the
//! encrypted CRM.

use std::path::Path;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use veilbox_core::credentials::totp::TotpSecret;
use veilbox_store::keys::StoredKey;
use veilbox_store::Store;
use veilbox_vault::{is_sealed, DataKey, Field, MasterKey, Vault, WrappedKey};

use crate::config::Config;

/// The owner of the staff secrets' data key.
pub const STAFF_KEY: &str = "system:staff";

/// The unwrapped keys a process works with. Debug shows ids only.
#[derive(Clone)]
pub struct KeyRing {
    vault: Vault,
    staff: std::sync::Arc<(DataKey, u32)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing {{ master: {} }}", self.vault.current_id())
    }
}

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

impl KeyRing {
    /// Loads the master key and the staff data key (made and stored wrapped on first start).
    pub async fn load(config: &Config, store: &Store) -> anyhow::Result<KeyRing> {
        let vault = Vault::new(master_key(config)?);
        let staff = data_key(&vault, store, STAFF_KEY).await?;
        Ok(KeyRing {
            vault,
            staff: std::sync::Arc::new(staff),
        })
    }

    /// Seals a user's TOTP secret for their row.
    pub fn seal_totp(&self, user_id: &str, secret: &TotpSecret) -> String {
        let (key, version) = &*self.staff;
        key.seal_str(
            *version,
            Field::new("users", "totp_secret", user_id),
            &secret.to_base32(),
        )
    }

    /// Opens a stored TOTP secret. A value written before secrets were sealed (plain
    /// base32) is still read, and sealed again at the next enrolment.
    pub fn open_totp(&self, user_id: &str, stored: &str) -> Option<TotpSecret> {
        if !is_sealed(stored) {
            return TotpSecret::from_base32(stored);
        }
        let (key, _) = &*self.staff;
        let text = key
            .open_string(Field::new("users", "totp_secret", user_id), stored)
            .ok()?;
        TotpSecret::from_base32(&text)
    }
}

/// The data key of `owner`, unwrapped; created (and stored wrapped) when it has none.
async fn data_key(vault: &Vault, store: &Store, owner: &str) -> anyhow::Result<(DataKey, u32)> {
    for _ in 0..2 {
        if let Some(stored) = store.data_key(owner).await? {
            let wrapped = WrappedKey {
                kek_id: stored.kek_id.clone(),
                wrapped: stored.wrapped.clone(),
            };
            let key = vault.unwrap(&wrapped, owner).map_err(|e| {
                anyhow::anyhow!(
                    "the data key of {owner} does not open with this master key ({e}); is VEILBOX_MASTER_KEY_FILE the key this database was made with?"
                )
            })?;
            let version = u32::try_from(stored.version).unwrap_or(1);
            return Ok((key, version));
        }
        let key = DataKey::try_generate()?;
        let wrapped = vault.wrap(&key, owner);
        let row = StoredKey {
            owner: owner.to_owned(),
            version: 1,
            kek_id: wrapped.kek_id,
            wrapped: wrapped.wrapped,
        };
        if store.insert_data_key(&row).await? {
            return Ok((key, 1));
        }
        // Another node made it first: read theirs.
    }
    anyhow::bail!("could not create the data key of {owner}")
}

/// Re-wraps every data key under `new` (read with `old`, or already under `new`); returns
/// how many were re-wrapped. Each row is swapped only if unchanged since it was read, so
/// keys added meanwhile by a running Veilbox are not lost: run it again to catch them.
pub async fn rotate(store: &Store, old: MasterKey, new: MasterKey) -> anyhow::Result<usize> {
    let new_id = new.id();
    let vault = Vault::new(new).with_previous(old);
    let mut rewrapped = 0;
    for stored in store.data_keys().await? {
        if stored.kek_id == new_id {
            continue;
        }
        let wrapped = WrappedKey {
            kek_id: stored.kek_id.clone(),
            wrapped: stored.wrapped.clone(),
        };
        let fresh = vault
            .rewrap(&wrapped, &stored.owner)
            .map_err(|e| anyhow::anyhow!("the data key of {} does not open: {e}", stored.owner))?;
        if store
            .rewrap_data_key(
                &stored.owner,
                &stored.wrapped,
                &fresh.kek_id,
                &fresh.wrapped,
            )
            .await?
        {
            rewrapped += 1;
        }
    }
    Ok(rewrapped)
}
