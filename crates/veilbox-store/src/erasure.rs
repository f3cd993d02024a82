//! Erasing a customer: crypto-shredding plus clearing what is left.
//!
//! Everything personal of a customer is sealed with their own data key, so destroying that
//! key makes it unreadable wherever a copy sits. On top of that the live rows are cleared:
//! their sealed fields, their messages' content, their media files, the raw webhook bodies
//! that carried their messages or receipts, and their queued replies. Conversations stay as records ("erased
//! customer") so that counts and timings in reports still add up; they hold no content.

use sqlx::Row;

use crate::keyring::customer_owner;
use crate::{now_ms, Store, StoreError};

/// What an erasure did (counts only: nothing about the customer's data).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    /// Messages whose content was cleared.
    pub messages: u64,
    /// Raw webhook bodies cleared because they carried the customer's messages or receipts.
    pub raw_events: u64,
    /// Replies that were still waiting to be sent and are now cancelled.
    pub sends_cancelled: u64,
    /// CRM rows (contacts, shipments, notes) deleted.
    pub crm_rows: u64,
    /// Media files (fetched originals and previews, and fetches still to do) deleted.
    pub media: u64,
}

/// What an erased message's content column holds.
pub(crate) const ERASED_CONTENT: &str = r#"{"kind":"erased"}"#;

/// Why an erasure did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureRefusal {
    /// No customer has that id.
    NoSuchCustomer,
    /// The customer was erased before.
    AlreadyErased,
    /// The record was merged into this customer, who holds their data now: erase them.
    MergedInto(String),
}

/// Tables of the CRM that hold one customer's rows by `customer_id`, cleared on erasure.
/// Child tables come before their parents.
/// (The shipments' timelines go first, through the shipments: see [`Store::erase_customer`].)
pub(crate) const CUSTOMER_TABLES: &[&str] = &[
    "shipments",
    "customer_notes",
    "customer_addresses",
    "customer_contacts",
];

/// What an admin sees of a customer before erasing them: no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureSubject {
    /// Customer id.
    pub id: String,
    /// First seen, Unix ms.
    pub created_at: i64,
    /// Their conversations.
    pub conversations: i64,
    /// When they were erased, if they were.
    pub erased_at: Option<i64>,
}

impl Store {
    /// The customer an erasure request names, by their customer id or a full phone number
    /// (their WhatsApp number or a phone contact, found by blind index, so the number is
    /// never looked up in clear). A customer merged into another leads to the one they were
    /// merged into: that is where their data went.
    pub async fn erasure_subject(
        &self,
        id_or_phone: &str,
    ) -> Result<Option<ErasureSubject>, StoreError> {
        let keyring = self.keyring()?;
        let wanted = id_or_phone.trim();
        let mut conn = self.pool().acquire().await?;
        let by_phone = match veilbox_vault::normalize::phone(wanted) {
            Some(e164) => {
                let index = keyring.wa_index(e164.trim_start_matches('+'));
                crate::crm::owner_of(&mut conn, crate::crm::ContactKind::Phone, &index).await?
            }
            None => None,
        };
        let id = match by_phone {
            Some(owner) => owner,
            None => match sqlx::query(
                "SELECT COALESCE(merged_into, id) AS owner FROM customers WHERE id = $1",
            )
            .bind(wanted)
            .fetch_optional(&mut *conn)
            .await?
            {
                Some(row) => row.try_get("owner")?,
                None => return Ok(None),
            },
        };
        let row = sqlx::query(
            "SELECT cu.id, cu.created_at, cu.erased_at, \
             (SELECT COUNT(*) FROM conversations c WHERE c.customer_id = cu.id) AS conversations \
             FROM customers cu WHERE cu.id = $1",
        )
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(ErasureSubject {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                conversations: r.try_get("conversations")?,
                erased_at: r.try_get("erased_at")?,
            })
        })
        .transpose()
    }

    /// Erases a customer (see the module docs). Idempotent in effect: a second call is
    /// refused as [`ErasureRefusal::AlreadyErased`] and changes nothing.
    pub async fn erase_customer(
        &self,
        customer_id: &str,
    ) -> Result<Result<ErasureReport, ErasureRefusal>, StoreError> {
        let keyring = self.keyring()?;
        // The same lock as ingest and CRM writes: on PostgreSQL nothing re-creates or
        // re-seals this customer's data between our reads and our commit.
        let mut tx = crate::crm::write_tx(self).await?;
        let now = now_ms();
        let merged: Option<Option<String>> =
            sqlx::query("SELECT merged_into FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("merged_into"))
                .transpose()?;
        if let Some(Some(into)) = merged {
            tx.rollback().await?;
            return Ok(Err(ErasureRefusal::MergedInto(into)));
        }
        // Writing first takes SQLite's write lock at once (a read-then-write transaction
        // could not wait for the ingest writer).
        let marked = sqlx::query(
            "UPDATE customers SET erased_at = $2, updated_at = $2 WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(customer_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            let exists = sqlx::query("SELECT erased_at FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(Err(match exists {
                Some(_) => ErasureRefusal::AlreadyErased,
                None => ErasureRefusal::NoSuchCustomer,
            }));
        }
        sqlx::query("DELETE FROM data_keys WHERE owner = $1")
            .bind(customer_owner(customer_id))
            .execute(&mut *tx)
            .await?;
        // The blind index goes too: a new message from the same number starts a new,
        // unrelated customer. The UNIQUE column gets a tombstone that indexes nothing.
        sqlx::query(
            "UPDATE customers SET wa_id = $2, wa_number = NULL, user_id = NULL, profile_name = NULL, \
             username = NULL, display_name = NULL, labels = '[]' WHERE id = $1",
        )
        .bind(customer_id)
        .bind(format!("erased:{customer_id}"))
        .execute(&mut *tx)
        .await?;
        // Customers merged into this one are the same person: the blind index of their
        // number (all that is left of them) goes too, so that number no longer finds anyone.
        sqlx::query(
            "UPDATE customers SET erased_at = $2, updated_at = $2, wa_id = 'erased:' || id, user_id = NULL, \
             wa_number = NULL, profile_name = NULL, username = NULL WHERE merged_into = $1 AND erased_at IS NULL",
        )
        .bind(customer_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut report = ErasureReport::default();
        let theirs = "SELECT id FROM conversations WHERE customer_id = $1";
        report.raw_events = sqlx::query(&format!(
            "UPDATE webhook_events SET body = $2 WHERE id IN ( \
               SELECT webhook_event_id FROM messages WHERE conversation_id IN ({theirs}) \
               UNION SELECT s.webhook_event_id FROM message_statuses s JOIN messages m \
                 ON m.wa_message_id = s.wa_message_id WHERE m.conversation_id IN ({theirs}))"
        ))
        .bind(customer_id)
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "UPDATE message_statuses SET recipient_id = NULL WHERE wa_message_id IN ( \
               SELECT wa_message_id FROM messages WHERE conversation_id IN ({theirs}))"
        ))
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        // What edited messages said before goes with what they say now.
        sqlx::query(&format!(
            "DELETE FROM message_revisions WHERE message_id IN \
             (SELECT id FROM messages WHERE conversation_id IN ({theirs}))"
        ))
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        report.messages = sqlx::query(&format!(
            "UPDATE messages SET content = $2, raw = NULL, context = NULL WHERE conversation_id IN ({theirs})"
        ))
        .bind(customer_id)
        .bind(ERASED_CONTENT)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // The sealed originals and previews, and fetches not done yet: the key is gone
        // already, the rows go too (and nothing fetches this customer's media again).
        report.media = sqlx::query(&format!(
            "DELETE FROM media_files WHERE conversation_id IN ({theirs})"
        ))
        .bind(customer_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        report.sends_cancelled = sqlx::query(&format!(
            "UPDATE outbox SET state = 'cancelled', updated_at = $2 WHERE conversation_id IN ({theirs}) \
             AND state IN ('queued', 'sending')"
        ))
        .bind(customer_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "UPDATE outbox SET recipient = '', payload = '' WHERE conversation_id IN ({theirs})"
        ))
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE conversations SET state = 'resolved', resolved_at = COALESCE(resolved_at, $2) \
             WHERE customer_id = $1 AND state <> 'resolved'",
        )
        .bind(customer_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Indexes, not data: gone with the addresses they were computed from, not counted.
        sqlx::query(&format!(
            "DELETE FROM address_indexes WHERE source_id IN ({})",
            crate::crm::ADDRESS_SOURCES_OF
        ))
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        // The timeline, through the shipments it belongs to (it is keyed by shipment).
        report.crm_rows += sqlx::query(
            "DELETE FROM shipment_events WHERE shipment_id IN \
             (SELECT id FROM shipments WHERE customer_id = $1)",
        )
        .bind(customer_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for table in CUSTOMER_TABLES {
            report.crm_rows += sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1"))
                .bind(customer_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        keyring.forget(customer_id);
        self.scrub_freed_pages().await?;
        Ok(Ok(report))
    }

    /// Makes deleted rows unrecoverable from the database files, as far as the backend
    /// allows: SQLite runs with `secure_delete` (freed pages are zeroed) and the WAL is
    /// checkpointed and truncated, so the old pages leave it too; PostgreSQL vacuums the
    /// key table so the dead key row's space is reclaimed.
    pub(crate) async fn scrub_freed_pages(&self) -> Result<(), StoreError> {
        match self.backend() {
            crate::Backend::Sqlite => {
                // Busy readers can keep a checkpoint from finishing; the next one will.
                let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(self.pool())
                    .await?;
                let busy: i64 = row.try_get(0).unwrap_or(0);
                if busy != 0 {
                    tracing::warn!("WAL checkpoint after an erasure was blocked by readers; it will finish later");
                }
            }
            crate::Backend::Postgres => {
                sqlx::query("VACUUM data_keys").execute(self.pool()).await?;
            }
        }
        Ok(())
    }
}
