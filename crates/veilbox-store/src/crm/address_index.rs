//! Blind indexes of addresses, for leak checks on replies: which customers an address (or
//! the street line of one) pasted into a reply belongs to, without an address in clear.
//!
//! Each address is indexed whole and by its first one and first two comma- or
//! newline-separated parts, so "12 Elm Road" pasted alone still finds the customer whose
//! address is "12 Elm Road, Leeds LS1 4AB". Parts too vague to name anyone (see
//! [`veilbox_vault::normalize::address`]) are not indexed.
//!
//! Addresses written since the `0009` migration are indexed as they are written (card
//! edits and shipment imports). Older ones are sealed, so they are indexed lazily:
//! [`Store::index_customer_addresses`] opens one customer's card and indexes it once; the
//! reply check calls it for the conversation's customer.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};
use veilbox_vault::IndexedField;

use crate::keyring::KeyRing;
use crate::{now_ms, Store, StoreError};

/// The blind indexes of `address`: the whole, its first part and its first two parts.
pub fn address_indexes(keyring: &KeyRing, address: &str) -> Vec<String> {
    let parts: Vec<&str> = address
        .split([',', '\n', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let mut spellings = vec![address.to_owned()];
    if let Some(first) = parts.first() {
        spellings.push((*first).to_owned());
    }
    if parts.len() > 2 {
        spellings.push(parts[..2].join(" "));
    }
    let mut out: Vec<String> = Vec::with_capacity(spellings.len());
    for spelling in spellings {
        if let Some(index) = keyring.blind(IndexedField::Address, &spelling) {
            if !out.contains(&index) {
                out.push(index);
            }
        }
    }
    out
}

/// Replaces the indexes computed from `source_id` (an address or shipment row) with
/// `indexes`, owned by `customer_id`.
pub(crate) async fn replace_indexes(
    conn: &mut AnyConnection,
    customer_id: &str,
    source_id: &str,
    indexes: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM address_indexes WHERE source_id = $1")
        .bind(source_id)
        .execute(&mut *conn)
        .await?;
    for index in indexes {
        sqlx::query(
            "INSERT INTO address_indexes (source_id, blind_index, customer_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(source_id)
        .bind(index.as_str())
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// For each blind index of `indexes` that belongs to someone, the live customers it
    /// belongs to (a merged customer's as the one they were merged into).
    pub async fn address_owners(
        &self,
        indexes: &[String],
    ) -> Result<HashMap<String, HashSet<String>>, StoreError> {
        let mut found: HashMap<String, HashSet<String>> = HashMap::new();
        if indexes.is_empty() {
            return Ok(found);
        }
        let mut conn = self.pool().acquire().await?;
        let numbered = crate::sql::numbered(&conn);
        let values: Vec<&str> = indexes.iter().map(String::as_str).collect();
        let rows = crate::sql::select_in(
            &mut conn,
            numbered,
            "SELECT a.blind_index, COALESCE(c.merged_into, c.id) AS owner FROM address_indexes a \
             JOIN customers c ON c.id = a.customer_id WHERE c.erased_at IS NULL AND a.blind_index IN",
            &values,
        )
        .await?;
        for row in rows {
            found
                .entry(row.try_get("blind_index")?)
                .or_default()
                .insert(row.try_get("owner")?);
        }
        Ok(found)
    }

    /// Indexes the addresses `customer_id` had before addresses were indexed (their own
    /// and their shipments'), once; later calls do nothing. Idempotent.
    pub async fn index_customer_addresses(&self, customer_id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("SELECT addresses_indexed_at FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(self.pool())
            .await?;
        match done {
            Some(row)
                if row
                    .try_get::<Option<i64>, _>("addresses_indexed_at")?
                    .is_none() => {}
            _ => return Ok(()),
        }
        let Some(card) = self.customer_card(customer_id).await? else {
            return Ok(());
        };
        let keyring = self.keyring()?;
        let mut sources: Vec<(String, Vec<String>)> = Vec::new();
        for address in &card.addresses {
            sources.push((address.id.clone(), address_indexes(keyring, &address.value)));
        }
        for shipment in &card.shipments {
            if let Some(address) = &shipment.address {
                sources.push((shipment.id.clone(), address_indexes(keyring, address)));
            }
        }
        let mut tx = super::write_tx(self).await?;
        for (source, indexes) in &sources {
            replace_indexes(&mut tx, &card.id, source, indexes).await?;
        }
        sqlx::query("UPDATE customers SET addresses_indexed_at = $2 WHERE id = $1")
            .bind(customer_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
