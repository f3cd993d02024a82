//! Reading the CRM: a customer's card, shipments by tracking number, and the facts the
//! authorizer needs about a customer.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use veilbox_vault::IndexedField;

use super::{
    Address, Contact, ContactKind, CustomerCard, Note, Shipment, ShipmentEvent, TrackingNumber,
    SHIPMENTS,
};
use crate::keyring::OwnerKey;
use crate::{Store, StoreError};

/// Who may be concerned with a customer: the teams serving an inbox where they have a
/// conversation (or every inbox), and the users assigned to their open conversations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerReach {
    /// The customer id (the surviving one, for a merged customer).
    pub id: String,
    /// Team ids.
    pub teams: Vec<String>,
    /// User ids.
    pub assignees: Vec<String>,
}

pub(crate) const SHIPMENT_COLUMNS: &str = "id, customer_id, tracking, format, status, sender_name, recipient_name, \
     recipient_phone, address, instructions, slot_start, slot_end, eta, cod_amount_minor, cod_currency, \
     created_at, updated_at, closed_at";

impl Store {
    /// The card of `customer_id`, opened; `None` when no customer has that id. An erased
    /// customer's card has nothing personal; a merged one names where the data went.
    pub async fn customer_card(
        &self,
        customer_id: &str,
    ) -> Result<Option<CustomerCard>, StoreError> {
        let keyring = self.keyring()?;
        let mut conn = self.pool().acquire().await?;
        let Some(row) = sqlx::query(
            "SELECT id, wa_number, profile_name, display_name, labels, merged_into, erased_at, created_at, \
             updated_at, marketing_opt_out_at FROM customers WHERE id = $1",
        )
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let labels: String = row.try_get("labels")?;
        let mut card = CustomerCard {
            id: customer_id.to_owned(),
            display_name: None,
            profile_name: None,
            wa_number: None,
            labels: serde_json::from_str(&labels)?,
            contacts: Vec::new(),
            addresses: Vec::new(),
            notes: Vec::new(),
            shipments: Vec::new(),
            merged_into: row.try_get("merged_into")?,
            erased: row.try_get::<Option<i64>, _>("erased_at")?.is_some(),
            marketing_opt_out_at: row.try_get("marketing_opt_out_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        };
        if card.erased || card.merged_into.is_some() {
            return Ok(Some(card));
        }
        // A customer whose key is lost shows nothing personal, like an erased one.
        let Some(key) = keyring.customer_key(&mut conn, customer_id).await? else {
            return Ok(Some(card));
        };
        let open = |column: &str| -> Result<Option<String>, StoreError> {
            key.open_opt(
                "customers",
                column,
                customer_id,
                row.try_get::<Option<String>, _>(column)?.as_deref(),
            )
        };
        card.display_name = open("display_name")?;
        card.profile_name = open("profile_name")?;
        card.wa_number = open("wa_number")?;
        for r in sqlx::query(
            "SELECT id, kind, value, created_at FROM customer_contacts WHERE customer_id = $1 ORDER BY created_at, id",
        )
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?
        {
            let id: String = r.try_get("id")?;
            let kind: String = r.try_get("kind")?;
            let value: String = r.try_get("value")?;
            card.contacts.push(Contact {
                kind: ContactKind::parse(&kind).ok_or(StoreError::Unreadable)?,
                value: key.open("customer_contacts", "value", &id, &value)?.to_string(),
                created_at: r.try_get("created_at")?,
                id,
            });
        }
        for r in sqlx::query(
            "SELECT id, label, value, created_at FROM customer_addresses WHERE customer_id = $1 ORDER BY created_at, id",
        )
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?
        {
            let id: String = r.try_get("id")?;
            let value: String = r.try_get("value")?;
            card.addresses.push(Address {
                label: r.try_get("label")?,
                value: key.open("customer_addresses", "value", &id, &value)?.to_string(),
                created_at: r.try_get("created_at")?,
                id,
            });
        }
        for r in sqlx::query(
            "SELECT id, author, body, created_at FROM customer_notes WHERE customer_id = $1 ORDER BY created_at, id",
        )
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?
        {
            let id: String = r.try_get("id")?;
            let body: String = r.try_get("body")?;
            card.notes.push(Note {
                author: r.try_get("author")?,
                body: key.open("customer_notes", "body", &id, &body)?.to_string(),
                created_at: r.try_get("created_at")?,
                id,
            });
        }
        let rows = sqlx::query(&format!(
            "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200"
        ))
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
        let keys = HashMap::from([(customer_id.to_owned(), key)]);
        card.shipments = shipments_of_rows(&mut conn, &rows, &keys).await?;
        Ok(Some(card))
    }

    /// The shipment with this tracking number, opened, if any.
    pub async fn shipment_by_tracking(
        &self,
        tracking: &TrackingNumber,
    ) -> Result<Option<Shipment>, StoreError> {
        let index = self
            .keyring()?
            .blind(IndexedField::Tracking, tracking.as_str())
            .ok_or(StoreError::Unreadable)?;
        Ok(self.shipments_by_tracking_index(&[index]).await?.pop())
    }

    /// The shipments whose tracking numbers have these blind indexes (for linking messages
    /// that mention a tracking number: the masking engine finds it, the key ring indexes
    /// it), opened. Unknown indexes are skipped; erased customers' shipments are gone.
    pub async fn shipments_by_tracking_index(
        &self,
        indexes: &[String],
    ) -> Result<Vec<Shipment>, StoreError> {
        let keyring = self.keyring()?;
        let mut conn = self.pool().acquire().await?;
        let numbered = crate::sql::numbered(&conn);
        let mut rows = Vec::new();
        for chunk in indexes.chunks(200) {
            let sql = format!(
                "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE tracking_index IN ({})",
                crate::sql::params(numbered, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for index in chunk {
                query = query.bind(index.as_str());
            }
            rows.extend(query.fetch_all(&mut *conn).await?);
        }
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String, _>("customer_id"))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let keys = keyring.customer_keys(&mut conn, &ids).await?;
        shipments_of_rows(&mut conn, &rows, &keys).await
    }

    /// The shipments whose tracking numbers `texts` (messages) mention, found by blind
    /// index; unknown numbers are skipped.
    pub async fn shipments_mentioned(&self, texts: &[&str]) -> Result<Vec<Shipment>, StoreError> {
        let keyring = self.keyring()?;
        let mut indexes: Vec<String> = Vec::new();
        for text in texts {
            for number in super::tracking::mentioned_in(text) {
                if let Some(index) = keyring.blind(IndexedField::Tracking, number.as_str()) {
                    if !indexes.contains(&index) {
                        indexes.push(index);
                    }
                }
            }
        }
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        self.shipments_by_tracking_index(&indexes).await
    }

    /// What the authorizer needs about `customer_id` (following a merge to the surviving
    /// customer); `None` when no customer has that id.
    pub async fn customer_reach(
        &self,
        customer_id: &str,
    ) -> Result<Option<CustomerReach>, StoreError> {
        let Some(row) = sqlx::query("SELECT id, merged_into FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let id: String = row
            .try_get::<Option<String>, _>("merged_into")?
            .unwrap_or(row.try_get("id")?);
        let teams = sqlx::query(
            "SELECT DISTINCT team_id FROM team_inboxes WHERE inbox_id = '*' OR inbox_id IN \
             (SELECT inbox_id FROM conversations WHERE customer_id = $1) ORDER BY team_id",
        )
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get("team_id"))
        .collect::<Result<Vec<String>, _>>()?;
        // "Serving right now": assignments of conversations still open or pending.
        let assignees = sqlx::query(
            "SELECT DISTINCT assignee FROM conversations WHERE customer_id = $1 AND assignee IS NOT NULL \
             AND state <> 'resolved' ORDER BY assignee",
        )
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get("assignee"))
        .collect::<Result<Vec<String>, _>>()?;
        Ok(Some(CustomerReach {
            id,
            teams,
            assignees,
        }))
    }
}

/// Opens shipment rows (selected with [`SHIPMENT_COLUMNS`]) and reads their timelines.
/// Rows whose customer has no key (erased, lost) are left out.
pub(crate) async fn shipments_of_rows(
    conn: &mut AnyConnection,
    rows: &[AnyRow],
    keys: &HashMap<String, Arc<OwnerKey>>,
) -> Result<Vec<Shipment>, StoreError> {
    let mut shipments = Vec::with_capacity(rows.len());
    for r in rows {
        let customer_id: String = r.try_get("customer_id")?;
        let Some(key) = keys.get(&customer_id) else {
            continue;
        };
        let id: String = r.try_get("id")?;
        let open = |column: &str| -> Result<Option<String>, StoreError> {
            key.open_opt(
                SHIPMENTS,
                column,
                &id,
                r.try_get::<Option<String>, _>(column)?.as_deref(),
            )
        };
        shipments.push(Shipment {
            tracking: open("tracking")?.unwrap_or_default(),
            sender_name: open("sender_name")?,
            recipient_name: open("recipient_name")?,
            recipient_phone: open("recipient_phone")?,
            address: open("address")?,
            instructions: open("instructions")?,
            format: r.try_get("format")?,
            status: r.try_get("status")?,
            slot_start: r.try_get("slot_start")?,
            slot_end: r.try_get("slot_end")?,
            eta: r.try_get("eta")?,
            cod_amount_minor: r.try_get("cod_amount_minor")?,
            cod_currency: r.try_get("cod_currency")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            closed_at: r.try_get("closed_at")?,
            timeline: Vec::new(),
            customer_id,
            id,
        });
    }
    let numbered = crate::sql::numbered(conn);
    let mut timelines: HashMap<String, Vec<ShipmentEvent>> = HashMap::new();
    let ids: Vec<&str> = shipments.iter().map(|s| s.id.as_str()).collect();
    for chunk in ids.chunks(200) {
        let sql = format!(
            "SELECT shipment_id, status, at FROM shipment_events WHERE shipment_id IN ({}) ORDER BY at, id",
            crate::sql::params(numbered, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for r in query.fetch_all(&mut *conn).await? {
            timelines
                .entry(r.try_get("shipment_id")?)
                .or_default()
                .push(ShipmentEvent {
                    status: r.try_get("status")?,
                    at: r.try_get("at")?,
                });
        }
    }
    for s in &mut shipments {
        s.timeline = timelines.remove(&s.id).unwrap_or_default();
    }
    Ok(shipments)
}
