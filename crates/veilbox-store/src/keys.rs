//! Wrapped data keys as stored. The store never sees a master key or an unwrapped data
//! key: callers wrap and unwrap with `veilbox-vault`; this keeps the rows.

use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// One wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Whose key: `system:staff`, `customer:<id>`.
    pub owner: String,
    /// The key's version (bound into every ciphertext it seals).
    pub version: i64,
    /// The id of the master key that wrapped it.
    pub kek_id: String,
    /// The wrapped key text.
    pub wrapped: String,
}

impl Store {
    /// The wrapped key of `owner`, if any.
    pub async fn data_key(&self, owner: &str) -> Result<Option<StoredKey>, StoreError> {
        let row =
            sqlx::query("SELECT owner, version, kek_id, wrapped FROM data_keys WHERE owner = $1")
                .bind(owner)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| {
            Ok(StoredKey {
                owner: r.try_get("owner")?,
                version: r.try_get("version")?,
                kek_id: r.try_get("kek_id")?,
                wrapped: r.try_get("wrapped")?,
            })
        })
        .transpose()
    }

    /// Stores a new wrapped key; false when `owner` already has one (another node made it
    /// first: use theirs).
    pub async fn insert_data_key(&self, key: &StoredKey) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO data_keys (owner, version, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (owner) DO NOTHING",
        )
        .bind(key.owner.as_str())
        .bind(key.version)
        .bind(key.kek_id.as_str())
        .bind(key.wrapped.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every wrapped key (for rotation), by owner.
    pub async fn data_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows =
            sqlx::query("SELECT owner, version, kek_id, wrapped FROM data_keys ORDER BY owner")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    owner: r.try_get("owner")?,
                    version: r.try_get("version")?,
                    kek_id: r.try_get("kek_id")?,
                    wrapped: r.try_get("wrapped")?,
                })
            })
            .collect()
    }

    /// Replaces a wrapped key with the same key wrapped under another master key, only if
    /// it is still the one read (compare-and-swap): a concurrent change is never lost.
    pub async fn rewrap_data_key(
        &self,
        owner: &str,
        old_wrapped: &str,
        kek_id: &str,
        wrapped: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE data_keys SET kek_id = $3, wrapped = $4, rewrapped_at = $5 WHERE owner = $1 AND wrapped = $2",
        )
        .bind(owner)
        .bind(old_wrapped)
        .bind(kek_id)
        .bind(wrapped)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
