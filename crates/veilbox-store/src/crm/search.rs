//! Finding customers by a full phone number, e-mail address or tracking number, through
//! the blind indexes. There is no partial match: the value is normalised and indexed, and
//! the index is looked up exactly; input that is not a full value is refused.

use sqlx::Row;
use veilbox_vault::IndexedField;

use super::{owner_of, ContactKind, TrackingNumber};
use crate::{Store, StoreError};

/// What to search by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchBy {
    /// A phone number with its country code (`+44 7700 900461`, `00447700900461`).
    Phone,
    /// An e-mail address.
    Email,
    /// A tracking number.
    Tracking,
}

/// Why a search value was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchRefusal {
    /// Not a full phone number with its country code.
    #[error("give a full phone number with its country code (e.g. +44 7700 900461); partial numbers are not searchable")]
    Phone,
    /// Not a full e-mail address.
    #[error("give a full e-mail address; partial addresses are not searchable")]
    Email,
    /// Not a tracking number.
    #[error("give a full tracking number in a format Veilbox recognises; partial numbers are not searchable")]
    Tracking,
}

impl Store {
    /// The ids of the customers `value` finds (live ones; a merged customer is found as the
    /// one they were merged into), or why `value` cannot be searched for.
    pub async fn find_customers(
        &self,
        by: SearchBy,
        value: &str,
    ) -> Result<Result<Vec<String>, SearchRefusal>, StoreError> {
        let keyring = self.keyring()?;
        let (field, refusal) = match by {
            SearchBy::Phone => (IndexedField::Phone, SearchRefusal::Phone),
            SearchBy::Email => (IndexedField::Email, SearchRefusal::Email),
            SearchBy::Tracking => (IndexedField::Tracking, SearchRefusal::Tracking),
        };
        let normalized = match by {
            SearchBy::Tracking => TrackingNumber::parse(value)
                .ok()
                .map(|t| t.as_str().to_owned()),
            SearchBy::Phone => ContactKind::Phone.normalize(value),
            SearchBy::Email => ContactKind::Email.normalize(value),
        };
        let Some(index) = normalized.and_then(|n| keyring.blind(field, &n)) else {
            return Ok(Err(refusal));
        };
        let mut conn = self.pool().acquire().await?;
        let found = match by {
            SearchBy::Phone => owner_of(&mut conn, ContactKind::Phone, &index).await?,
            SearchBy::Email => owner_of(&mut conn, ContactKind::Email, &index).await?,
            SearchBy::Tracking => sqlx::query(
                "SELECT s.customer_id FROM shipments s JOIN customers c ON c.id = s.customer_id \
                 WHERE s.tracking_index = $1 AND c.erased_at IS NULL",
            )
            .bind(index.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get("customer_id"))
            .transpose()?,
        };
        Ok(Ok(found.into_iter().collect()))
    }
}

impl Store {
    /// The live customers with a shipment whose recipient's phone is `value` (a full
    /// number with its country code): a recipient's number is that customer's data too,
    /// and a reply to someone else must not carry it. Empty when `value` is not a phone.
    pub async fn recipient_phone_owners(&self, value: &str) -> Result<Vec<String>, StoreError> {
        let keyring = self.keyring()?;
        let Some(index) = ContactKind::Phone
            .normalize(value)
            .and_then(|n| keyring.blind(IndexedField::Phone, &n))
        else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT DISTINCT COALESCE(c.merged_into, c.id) AS owner FROM shipments s \
             JOIN customers c ON c.id = s.customer_id \
             WHERE s.recipient_phone_index = $1 AND c.erased_at IS NULL",
        )
        .bind(index.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("owner").map_err(StoreError::from))
            .collect()
    }
}
