//! The key ring a store seals and opens customer data with.
//!
//! A [`Store`] is [unlocked](Store::unlock) with the master key (which the caller reads from
//! a file or the environment, never from the database). From then on:
//!
//! - each customer's data is sealed with **their own data key** (owner `customer:<id>` in
//!   `data_keys`), made in the same transaction as the customer, unwrapped on first use and
//!   kept in a bounded in-memory cache. Erasing a customer deletes that row: everything
//!   sealed under it, in this database and in every backup, can no longer be opened;
//! - data that belongs to no single customer (raw webhook bodies, dead letters) is sealed
//!   with the `system:events` key. Erasure clears the raw bodies that carried the customer's
//!   messages or receipts; retention clears every raw body and dead letter after its period
//!   (30 days by default), which is what reaches the ones erasure cannot attribute;
//! - phones, e-mails and tracking numbers get **blind indexes** from the `system:index`
//!   root key, so lookups and uniqueness work without plaintext;
//! - staff secrets (TOTP seeds) use the `system:staff` key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::{AnyConnection, Row};
use veilbox_vault::{
    BlindIndex, DataKey, Field, IndexedField, Vault, VaultError, WrappedKey, Zeroizing,
};

use crate::keys::StoredKey;
use crate::{now_ms, Store, StoreError};

/// The owner of the staff secrets' data key.
pub const STAFF_KEY: &str = "system:staff";
/// The owner of the key for data that is not one customer's (raw events, dead letters).
pub const EVENTS_KEY: &str = "system:events";
/// The owner of the blind index root key.
pub const INDEX_KEY: &str = "system:index";

/// Customer keys kept unwrapped at most; past this the cache starts again (a miss costs
/// one row read and about 4 µs of unwrapping). Sized for the customers of a large
/// shipment import: full, it holds about 50 MiB (measured as the import's resident
/// memory). A file that names a customer again only after more than this many others
/// still reloads every key, batch after batch.
const CACHE_LIMIT: usize = 262_144;

/// The owner name of a customer's data key.
pub fn customer_owner(customer_id: &str) -> String {
    format!("customer:{customer_id}")
}

/// One unwrapped data key and its version. `Debug` shows no key.
pub struct OwnerKey {
    key: DataKey,
    version: u32,
}

impl std::fmt::Debug for OwnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OwnerKey {{ version: {} }}", self.version)
    }
}

impl OwnerKey {
    /// Seals text for `table`.`column` of row `row_id`.
    pub fn seal(&self, table: &str, column: &str, row_id: &str, plaintext: &str) -> String {
        self.key
            .seal_str(self.version, Field::new(table, column, row_id), plaintext)
    }

    /// Seals bytes for `table`.`column` of row `row_id`.
    pub fn seal_bytes(&self, table: &str, column: &str, row_id: &str, plaintext: &[u8]) -> String {
        self.key
            .seal(self.version, Field::new(table, column, row_id), plaintext)
    }

    /// Opens text sealed for the same place.
    pub fn open(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        sealed: &str,
    ) -> Result<Zeroizing<String>, StoreError> {
        self.key
            .open_string(Field::new(table, column, row_id), sealed)
            .map_err(|_| StoreError::Unreadable)
    }

    /// Opens bytes sealed for the same place.
    pub fn open_bytes(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.key
            .open(Field::new(table, column, row_id), sealed)
            .map_err(|_| StoreError::Unreadable)
    }

    /// [`OwnerKey::seal`] for an optional value.
    pub fn seal_opt(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        plaintext: Option<&str>,
    ) -> Option<String> {
        plaintext.map(|p| self.seal(table, column, row_id, p))
    }

    /// [`OwnerKey::open`] for an optional value.
    pub fn open_opt(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        sealed: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        sealed
            .map(|s| self.open(table, column, row_id, s).map(|t| t.to_string()))
            .transpose()
    }
}

/// The master key, the system keys and a cache of customer keys. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    vault: Vault,
    index: BlindIndex,
    staff: Arc<OwnerKey>,
    events: Arc<OwnerKey>,
    customers: Mutex<HashMap<String, Arc<OwnerKey>>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing {{ master: {} }}", self.inner.vault.current_id())
    }
}

impl KeyRing {
    /// The id of the master key in use (public; names which key file is needed).
    pub fn master_key_id(&self) -> String {
        self.inner.vault.current_id()
    }

    /// The staff secrets' key.
    pub fn staff(&self) -> &OwnerKey {
        &self.inner.staff
    }

    /// The key of raw webhook bodies and dead letters.
    pub fn events(&self) -> &OwnerKey {
        &self.inner.events
    }

    /// The blind index of `value` as a `field`; `None` when it does not normalise.
    pub fn blind(&self, field: IndexedField, value: &str) -> Option<String> {
        self.inner.index.index(field, value)
    }

    /// The blind index of a WhatsApp id (digits with the country code, no `+`): the same
    /// as the phone number's, so a supervisor searching "+44 7700 900461" finds the
    /// customer who wrote from 447700900461. An id that does not normalise as a phone
    /// number (test numbering plans) is indexed as `+` and its digits exactly.
    pub fn wa_index(&self, wa_id: &str) -> String {
        let e164 = format!("+{}", wa_id.trim_start_matches('+'));
        self.blind(IndexedField::Phone, &e164)
            .or_else(|| self.inner.index.index_exact(IndexedField::Phone, &e164))
            .unwrap_or_default()
    }

    /// A new data key for a new customer: the key, and the row to store in the same
    /// transaction as the customer (the key is cached once made).
    pub fn new_customer_key(
        &self,
        customer_id: &str,
    ) -> Result<(Arc<OwnerKey>, StoredKey), StoreError> {
        let owner = customer_owner(customer_id);
        let key = DataKey::try_generate().map_err(|_| StoreError::Unreadable)?;
        let wrapped = self.inner.vault.wrap(&key, &owner);
        let key = Arc::new(OwnerKey { key, version: 1 });
        self.remember(customer_id, key.clone());
        Ok((
            key,
            StoredKey {
                owner,
                version: 1,
                kek_id: wrapped.kek_id,
                wrapped: wrapped.wrapped,
            },
        ))
    }

    /// The data keys of `customer_ids` that exist (an erased customer has none), from the
    /// cache or read on `conn`.
    pub async fn customer_keys(
        &self,
        conn: &mut AnyConnection,
        customer_ids: &[&str],
    ) -> Result<HashMap<String, Arc<OwnerKey>>, StoreError> {
        let mut found = HashMap::with_capacity(customer_ids.len());
        let mut missing: Vec<String> = Vec::new();
        {
            let cache = self.cache();
            for id in customer_ids {
                match cache.get(*id) {
                    Some(key) => {
                        found.insert((*id).to_owned(), key.clone());
                    }
                    None if !found.contains_key(*id) => missing.push(customer_owner(id)),
                    None => {}
                }
            }
        }
        missing.sort();
        missing.dedup();
        for chunk in missing.chunks(200) {
            let sql = format!(
                "SELECT owner, version, kek_id, wrapped FROM data_keys WHERE owner IN ({})",
                crate::sql::params(crate::sql::numbered(conn), chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for owner in chunk {
                query = query.bind(owner.as_str());
            }
            for row in query.fetch_all(&mut *conn).await? {
                let owner: String = row.try_get("owner")?;
                let key = self.unwrap_row(
                    &owner,
                    row.try_get("version")?,
                    row.try_get("kek_id")?,
                    row.try_get("wrapped")?,
                )?;
                let id = owner.trim_start_matches("customer:").to_owned();
                self.remember(&id, key.clone());
                found.insert(id, key);
            }
        }
        Ok(found)
    }

    /// The data key of one customer, if they have one.
    pub async fn customer_key(
        &self,
        conn: &mut AnyConnection,
        customer_id: &str,
    ) -> Result<Option<Arc<OwnerKey>>, StoreError> {
        Ok(self
            .customer_keys(conn, &[customer_id])
            .await?
            .remove(customer_id))
    }

    /// Drops a customer's key from the cache (after erasure).
    pub fn forget(&self, customer_id: &str) {
        self.cache().remove(customer_id);
    }

    fn remember(&self, customer_id: &str, key: Arc<OwnerKey>) {
        let mut cache = self.cache();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(customer_id.to_owned(), key);
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OwnerKey>>> {
        // A panic while holding the lock cannot leave the map half-updated: recover it.
        self.inner
            .customers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn unwrap_row(
        &self,
        owner: &str,
        version: i64,
        kek_id: String,
        wrapped: String,
    ) -> Result<Arc<OwnerKey>, StoreError> {
        let key = self
            .inner
            .vault
            .unwrap(&WrappedKey { kek_id, wrapped }, owner)
            .map_err(|e| match e {
                VaultError::UnknownMasterKey(_) => StoreError::WrongMasterKey(owner.to_owned()),
                _ => StoreError::Unreadable,
            })?;
        Ok(Arc::new(OwnerKey {
            key,
            version: u32::try_from(version).unwrap_or(1),
        }))
    }
}

impl Store {
    /// Unlocks the store with the master key: loads (or, on a new database, makes) the
    /// system keys. Customer data can only be written or read by an unlocked store.
    pub async fn unlock(mut self, vault: Vault) -> Result<Store, StoreError> {
        let staff = system_key(&self, &vault, STAFF_KEY).await?;
        let events = system_key(&self, &vault, EVENTS_KEY).await?;
        let index_root = system_key(&self, &vault, INDEX_KEY).await?;
        let index = BlindIndex::new(&index_root.key);
        self.keys = Some(KeyRing {
            inner: Arc::new(Inner {
                vault,
                index,
                staff,
                events,
                customers: Mutex::default(),
            }),
        });
        Ok(self)
    }

    /// The key ring; [`StoreError::Locked`] before [`Store::unlock`].
    pub fn keyring(&self) -> Result<&KeyRing, StoreError> {
        self.keys.as_ref().ok_or(StoreError::Locked)
    }
}

/// Re-wraps every data key that is not under `vault`'s current master key (read with one
/// of its previous keys); returns how many were re-wrapped. Each row is swapped only if it
/// is unchanged since it was read (compare-and-swap), so a key another node adds or
/// changes meanwhile is never lost. Keys made meanwhile by a node still running on the
/// old master key are caught by the next pass, which every start with
/// `VEILBOX_MASTER_KEY_PREVIOUS_FILE` set runs.
pub async fn rewrap_all(store: &Store, vault: &Vault) -> Result<usize, StoreError> {
    let current = vault.current_id();
    let mut rewrapped = 0;
    for stored in store.data_keys().await? {
        if stored.kek_id == current {
            continue;
        }
        let wrapped = WrappedKey {
            kek_id: stored.kek_id.clone(),
            wrapped: stored.wrapped.clone(),
        };
        let fresh = vault
            .rewrap(&wrapped, &stored.owner)
            .map_err(|_| StoreError::WrongMasterKey(stored.owner.clone()))?;
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

/// The data key of a system `owner`, made and stored wrapped on first use.
async fn system_key(
    store: &Store,
    vault: &Vault,
    owner: &str,
) -> Result<Arc<OwnerKey>, StoreError> {
    for _ in 0..2 {
        if let Some(stored) = store.data_key(owner).await? {
            let key = vault
                .unwrap(
                    &WrappedKey {
                        kek_id: stored.kek_id.clone(),
                        wrapped: stored.wrapped.clone(),
                    },
                    owner,
                )
                .map_err(|_| StoreError::WrongMasterKey(owner.to_owned()))?;
            return Ok(Arc::new(OwnerKey {
                key,
                version: u32::try_from(stored.version).unwrap_or(1),
            }));
        }
        let key = DataKey::try_generate().map_err(|_| StoreError::Unreadable)?;
        let wrapped = vault.wrap(&key, owner);
        let row = StoredKey {
            owner: owner.to_owned(),
            version: 1,
            kek_id: wrapped.kek_id,
            wrapped: wrapped.wrapped,
        };
        if store.insert_data_key(&row).await? {
            return Ok(Arc::new(OwnerKey { key, version: 1 }));
        }
        // Another node made it first: read theirs.
    }
    Err(StoreError::WrongMasterKey(owner.to_owned()))
}

/// Stores new customers' wrapped keys on `conn` (inside the caller's transaction).
pub(crate) async fn insert_keys(
    conn: &mut AnyConnection,
    keys: &[StoredKey],
) -> Result<(), StoreError> {
    let numbered = crate::sql::numbered(conn);
    let now = now_ms();
    for chunk in keys.chunks(200) {
        let sql = format!(
            "INSERT INTO data_keys (owner, version, kek_id, wrapped, created_at) VALUES {}",
            crate::sql::values(numbered, chunk.len(), 5, None)
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query
                .bind(key.owner.as_str())
                .bind(key.version)
                .bind(key.kek_id.as_str())
                .bind(key.wrapped.as_str())
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
