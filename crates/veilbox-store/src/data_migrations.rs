//! Data changes that a migration's SQL cannot make on both backends, finished by the store
//! right after the migrations ran. A migration records each as a row of
//! `pending_data_migrations`; the change and the row's deletion commit together, so a
//! crash in between leaves it pending for the next start.

use sqlx::Row;

use crate::{Store, StoreError};

/// Migration 0013: blind indexes written in hex become base64url.
const BLIND_INDEXES_BASE64URL: &str = "blind_indexes_base64url";

/// Every column that holds a blind index, with the condition that lets an equality on it
/// use an index (`customer_contacts` is unique on (kind, blind_index)).
const BLIND_INDEX_COLUMNS: [(&str, &str, &str); 5] = [
    ("customers", "wa_id", ""),
    (
        "customer_contacts",
        "blind_index",
        "customer_contacts.kind IN ('phone', 'email') AND ",
    ),
    ("shipments", "tracking_index", ""),
    ("shipments", "recipient_phone_index", ""),
    ("address_indexes", "blind_index", ""),
];

/// Old and new values per statement.
const PAIRS_PER_STATEMENT: usize = 200;

/// Finishes the data migrations that are pending.
pub(crate) async fn finish(store: &Store) -> Result<(), StoreError> {
    const PENDING: &str = "SELECT name FROM pending_data_migrations WHERE name = $1";
    // A plain read first: every start passes here, and only the first after the migration
    // needs the write lock (which a running import or ingest may be holding).
    let pending = sqlx::query(PENDING)
        .bind(BLIND_INDEXES_BASE64URL)
        .fetch_optional(store.pool())
        .await?;
    if pending.is_none() {
        return Ok(());
    }
    let mut tx = crate::crm::write_tx(store).await?;
    // Again under the lock: another process starting at the same time may have finished it.
    let pending = sqlx::query(PENDING)
        .bind(BLIND_INDEXES_BASE64URL)
        .fetch_optional(&mut *tx)
        .await?;
    if pending.is_none() {
        return Ok(());
    }
    let numbered = store.backend() == crate::Backend::Postgres;
    let mut reencoded = 0usize;
    for (table, column, index_hint) in BLIND_INDEX_COLUMNS {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT {column} AS stored FROM {table} WHERE length({column}) = {}",
            veilbox_vault::HEX_INDEX_CHARS
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut pairs = Vec::with_capacity(rows.len());
        for row in &rows {
            let stored: String = row.try_get("stored")?;
            // Only hex is rewritten; a placeholder (`crm:…`, `erased:…`) is left alone.
            if let Some(new) = veilbox_vault::reencode_hex_index(&stored) {
                pairs.push((stored, new));
            }
        }
        for chunk in pairs.chunks(PAIRS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE {table} SET {column} = v.column2 FROM (VALUES {}) AS v \
                 WHERE {index_hint}{table}.{column} = v.column1",
                crate::sql::values(numbered, chunk.len(), 2, None)
            );
            let mut query = sqlx::query(&sql);
            for (old, new) in chunk {
                query = query.bind(old.as_str()).bind(new.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        reencoded += pairs.len();
    }
    sqlx::query("DELETE FROM pending_data_migrations WHERE name = $1")
        .bind(BLIND_INDEXES_BASE64URL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(reencoded, "blind indexes re-encoded as base64url");
    Ok(())
}
