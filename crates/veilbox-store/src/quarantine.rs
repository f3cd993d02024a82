//! Raw events that could not be normalised, and identity conflicts ingest recorded.
//!
//! A quarantined event's body stays in `webhook_events` (retention does not empty it while
//! it waits: it is the only copy of what a customer sent). Its reason is sealed with the
//! events key, because a database error can quote the value that broke a constraint.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::keyring::KeyRing;
use crate::{now_ms, Store, StoreError};

/// A quarantined event as an admin sees it: no body, the reason opened.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuarantinedEvent {
    /// The raw event's id.
    pub event_id: String,
    /// When the body arrived, Unix milliseconds.
    pub received_at: i64,
    /// When normalisation last failed, Unix milliseconds.
    pub last_attempt_at: i64,
    /// How many times normalisation was tried.
    pub attempts: i64,
    /// Why the last try failed (an error text, never shown to agents).
    pub reason: String,
}

/// A quarantined event's body, opened, for normalising again.
pub(crate) struct QuarantinedBody {
    pub(crate) event_id: String,
    pub(crate) received_at: i64,
    pub(crate) body: Vec<u8>,
}

/// An identity conflict: one WhatsApp user seen under two customers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IdentityConflict {
    /// Its id.
    pub id: String,
    /// The customer the phone number leads to (messages are stored there).
    pub kept_customer_id: String,
    /// The customer holding the same user id.
    pub other_customer_id: String,
    /// `user_id` or `user_id_rotation`.
    pub kind: String,
    /// `open` or `merged`.
    pub state: String,
    /// When ingest saw it, Unix milliseconds.
    pub detected_at: i64,
}

/// Records (or records again) that `event_id` could not be normalised.
pub(crate) async fn insert(
    tx: &mut Transaction<'_, Any>,
    keyring: &KeyRing,
    event_id: &str,
    reason: &str,
    at: i64,
) -> Result<(), StoreError> {
    let sealed = keyring
        .events()
        .seal("quarantined_events", "reason", event_id, reason);
    sqlx::query(
        "INSERT INTO quarantined_events (event_id, quarantined_at, reason, attempts, last_attempt_at) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT (event_id) DO UPDATE SET \
         reason = excluded.reason, attempts = quarantined_events.attempts + 1, \
         last_attempt_at = excluded.last_attempt_at",
    )
    .bind(event_id)
    .bind(at)
    .bind(sealed)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records a new failed attempt at normalising a quarantined event.
    pub async fn requarantine(&self, event_id: &str, reason: &str) -> Result<(), StoreError> {
        let keyring = self.keyring()?.clone();
        let mut tx = self.pool().begin().await?;
        insert(&mut tx, &keyring, event_id, reason, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The quarantined events, oldest first, at most `limit`.
    pub async fn quarantined_events(
        &self,
        limit: u32,
    ) -> Result<Vec<QuarantinedEvent>, StoreError> {
        let events = self.keyring()?.events();
        let rows = sqlx::query(
            "SELECT q.event_id, w.received_at, q.last_attempt_at, q.attempts, q.reason \
             FROM quarantined_events q JOIN webhook_events w ON w.id = q.event_id \
             ORDER BY w.received_at, q.event_id LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let event_id: String = r.try_get("event_id")?;
                let reason: String = r.try_get("reason")?;
                Ok(QuarantinedEvent {
                    reason: events
                        .open("quarantined_events", "reason", &event_id, &reason)?
                        .to_string(),
                    received_at: r.try_get("received_at")?,
                    last_attempt_at: r.try_get("last_attempt_at")?,
                    attempts: r.try_get("attempts")?,
                    event_id,
                })
            })
            .collect()
    }

    /// Bodies of quarantined events, oldest first, opened.
    pub(crate) async fn quarantined_bodies(
        &self,
        limit: u32,
    ) -> Result<Vec<QuarantinedBody>, StoreError> {
        let events = self.keyring()?.events();
        let rows = sqlx::query(
            "SELECT w.id, w.received_at, w.body FROM quarantined_events q \
             JOIN webhook_events w ON w.id = q.event_id ORDER BY w.received_at, w.id LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.pool())
        .await?;
        let mut bodies = Vec::with_capacity(rows.len());
        for r in &rows {
            let event_id: String = r.try_get("id")?;
            let sealed: Vec<u8> = r.try_get("body")?;
            let sealed = String::from_utf8(sealed).map_err(|_| StoreError::Unreadable)?;
            if sealed.is_empty() {
                // Emptied by an erasure: nothing left to normalise.
                self.requarantine(&event_id, "the body was erased").await?;
                continue;
            }
            let body = events
                .open_bytes("webhook_events", "body", &event_id, &sealed)?
                .to_vec();
            bodies.push(QuarantinedBody {
                event_id,
                received_at: r.try_get("received_at")?,
                body,
            });
        }
        Ok(bodies)
    }

    /// Identity conflicts, newest first, at most `limit`.
    pub async fn identity_conflicts(
        &self,
        limit: u32,
    ) -> Result<Vec<IdentityConflict>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kept_customer_id, other_customer_id, kind, state, detected_at \
             FROM identity_conflicts ORDER BY detected_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(IdentityConflict {
                    id: r.try_get("id")?,
                    kept_customer_id: r.try_get("kept_customer_id")?,
                    other_customer_id: r.try_get("other_customer_id")?,
                    kind: r.try_get("kind")?,
                    state: r.try_get("state")?,
                    detected_at: r.try_get("detected_at")?,
                })
            })
            .collect()
    }

    /// Merges the customers of each open identity conflict (the other into the kept one) and
    /// audits it as the system's doing; a merge the CRM refuses leaves the conflict open.
    /// Returns how many were merged.
    pub async fn merge_identity_conflicts(&self) -> Result<u32, StoreError> {
        let open = sqlx::query(
            "SELECT id, kept_customer_id, other_customer_id FROM identity_conflicts WHERE state = 'open' \
             ORDER BY detected_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut merged = 0;
        for row in &open {
            let id: String = row.try_get("id")?;
            let keep: String = row.try_get("kept_customer_id")?;
            let other: String = row.try_get("other_customer_id")?;
            match self.merge_customers(&keep, &other).await? {
                Ok(report) => {
                    sqlx::query(
                        "UPDATE identity_conflicts SET state = 'merged', resolved_at = $2 WHERE id = $1",
                    )
                    .bind(id.as_str())
                    .bind(now_ms())
                    .execute(self.pool())
                    .await?;
                    self.audit(&crate::audit::AuditEntry {
                        actor: "system",
                        action: "customer.merged_by_identity",
                        target: Some(&keep),
                        reason: Some(&format!(
                            "WhatsApp named one user by the phone of {keep} and the user id of {other}: \
                             {other} merged ({} conversations, {} messages, {} CRM rows)",
                            report.conversations, report.messages, report.crm_rows
                        )),
                        address: None,
                        user_agent: None,
                    })
                    .await?;
                    merged += 1;
                }
                Err(refusal) => {
                    tracing::warn!(conflict = %id, ?refusal, "identity conflict left for an admin");
                }
            }
        }
        Ok(merged)
    }
}
