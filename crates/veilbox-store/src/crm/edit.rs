//! Changing a customer's card: display name, labels, contacts, addresses and notes.
//!
//! Each change is one transaction that first checks the customer is live (not erased, not
//! merged away), then seals what it writes with that customer's key.

use sqlx::Row;

use super::{check_live, owner_of, validate_labels, write_tx, Contact, ContactKind, CrmRefusal};
use crate::ids::new_id;
use crate::{now_ms, Store, StoreError};

/// The longest display name, address and note accepted (characters).
const MAX_NAME: usize = 200;
const MAX_ADDRESS: usize = 500;
const MAX_NOTE: usize = 4000;

/// A change to a customer's own fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CustomerEdit {
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<String>>,
    /// Replaces the labels.
    pub labels: Option<Vec<String>>,
}

/// What a change did, or why it did not happen.
pub type Change<T> = Result<Result<T, CrmRefusal>, StoreError>;

/// Trims `text` and checks it is 1 to `max` characters.
fn bounded(text: &str, max: usize, what: &'static str) -> Result<String, CrmRefusal> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(CrmRefusal::Invalid(what));
    }
    Ok(text.to_owned())
}

impl Store {
    /// Changes the display name and/or labels of `customer_id`.
    pub async fn edit_customer(&self, customer_id: &str, edit: &CustomerEdit) -> Change<()> {
        let name = match &edit.display_name {
            Some(Some(name)) => {
                match bounded(name, MAX_NAME, "a display name is 1 to 200 characters") {
                    Ok(name) => Some(Some(name)),
                    Err(refusal) => return Ok(Err(refusal)),
                }
            }
            other => other.clone(),
        };
        let labels = match edit.labels.as_deref().map(validate_labels).transpose() {
            Ok(labels) => labels,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let keyring = self.keyring()?;
        let mut tx = write_tx(self).await?;
        if let Err(refusal) = check_live(&mut tx, customer_id).await? {
            return Ok(Err(refusal));
        }
        let now = now_ms();
        if let Some(name) = name {
            let sealed = match name {
                Some(name) => {
                    let key = keyring
                        .customer_key(&mut tx, customer_id)
                        .await?
                        .ok_or(StoreError::Unreadable)?;
                    Some(key.seal("customers", "display_name", customer_id, &name))
                }
                None => None,
            };
            sqlx::query("UPDATE customers SET display_name = $2, updated_at = $3 WHERE id = $1")
                .bind(customer_id)
                .bind(sealed)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(labels) = labels {
            sqlx::query("UPDATE customers SET labels = $2, updated_at = $3 WHERE id = $1")
                .bind(customer_id)
                .bind(serde_json::to_string(&labels)?)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Adds a phone or e-mail to `customer_id`. Refused when it is not a full number /
    /// address, or when it belongs to another customer (naming them, so a supervisor can
    /// decide whether to merge). Adding one the customer already has changes nothing.
    pub async fn add_contact(
        &self,
        customer_id: &str,
        kind: ContactKind,
        value: &str,
    ) -> Change<Contact> {
        let Some(normalized) = kind.normalize(value) else {
            return Ok(Err(CrmRefusal::NotNormalised(match kind {
                ContactKind::Phone => "phone number with its country code",
                ContactKind::Email => "e-mail address",
            })));
        };
        let keyring = self.keyring()?;
        let index = keyring
            .blind(kind.field(), &normalized)
            .ok_or(StoreError::Unreadable)?;
        let mut tx = write_tx(self).await?;
        if let Err(refusal) = check_live(&mut tx, customer_id).await? {
            return Ok(Err(refusal));
        }
        let now = now_ms();
        match owner_of(&mut tx, kind, &index).await? {
            Some(owner) if owner != customer_id => {
                return Ok(Err(CrmRefusal::ContactTaken(owner)));
            }
            Some(_) => {
                // Theirs already (as a contact, or their WhatsApp number).
                let existing = sqlx::query(
                    "SELECT id, created_at FROM customer_contacts WHERE kind = $1 AND blind_index = $2",
                )
                .bind(kind.as_str())
                .bind(index.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let (id, created_at) = match existing {
                    Some(r) => (r.try_get("id")?, r.try_get("created_at")?),
                    None => (String::new(), now),
                };
                return Ok(Ok(Contact {
                    id,
                    kind,
                    value: normalized,
                    created_at,
                }));
            }
            None => {}
        }
        let key = keyring
            .customer_key(&mut tx, customer_id)
            .await?
            .ok_or(StoreError::Unreadable)?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO customer_contacts (id, customer_id, kind, blind_index, value, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(customer_id)
        .bind(kind.as_str())
        .bind(index.as_str())
        .bind(key.seal("customer_contacts", "value", &id, &normalized))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE customers SET updated_at = $2 WHERE id = $1")
            .bind(customer_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(Contact {
            id,
            kind,
            value: normalized,
            created_at: now,
        }))
    }

    /// Removes a contact of `customer_id`.
    pub async fn remove_contact(&self, customer_id: &str, contact_id: &str) -> Change<()> {
        let mut tx = write_tx(self).await?;
        if let Err(refusal) = check_live(&mut tx, customer_id).await? {
            return Ok(Err(refusal));
        }
        let done = sqlx::query("DELETE FROM customer_contacts WHERE id = $1 AND customer_id = $2")
            .bind(contact_id)
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(CrmRefusal::NoSuchContact)
        })
    }

    /// Adds an address (with an optional short label such as `home`) to `customer_id`.
    pub async fn add_address(
        &self,
        customer_id: &str,
        label: Option<&str>,
        value: &str,
    ) -> Change<String> {
        let value = match bounded(value, MAX_ADDRESS, "an address is 1 to 500 characters") {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let label = match label.map(|l| validate_labels(&[l.to_owned()])).transpose() {
            Ok(label) => label.and_then(|mut l| l.pop()),
            Err(_) => {
                return Ok(Err(CrmRefusal::Invalid(
                    "an address label is 1 to 24 characters of a-z, 0-9 and '-'",
                )))
            }
        };
        self.add_sealed_row(customer_id, "customer_addresses", label.as_deref(), &value)
            .await
    }

    /// Adds a staff note by `author` to `customer_id`; returns its id.
    pub async fn add_note(&self, customer_id: &str, author: &str, body: &str) -> Change<String> {
        let body = match bounded(body, MAX_NOTE, "a note is 1 to 4000 characters") {
            Ok(body) => body,
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.add_sealed_row(customer_id, "customer_notes", Some(author), &body)
            .await
    }

    /// Inserts an address (`label`, `value`) or a note (`author`, `body`).
    async fn add_sealed_row(
        &self,
        customer_id: &str,
        table: &'static str,
        clear: Option<&str>,
        text: &str,
    ) -> Change<String> {
        let keyring = self.keyring()?;
        let mut tx = write_tx(self).await?;
        if let Err(refusal) = check_live(&mut tx, customer_id).await? {
            return Ok(Err(refusal));
        }
        let key = keyring
            .customer_key(&mut tx, customer_id)
            .await?
            .ok_or(StoreError::Unreadable)?;
        let id = new_id();
        let (clear_column, sealed_column) = match table {
            "customer_notes" => ("author", "body"),
            _ => ("label", "value"),
        };
        let now = now_ms();
        sqlx::query(&format!(
            "INSERT INTO {table} (id, customer_id, {clear_column}, {sealed_column}, created_at) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(id.as_str())
        .bind(customer_id)
        .bind(clear)
        .bind(key.seal(table, sealed_column, &id, text))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if table == "customer_addresses" {
            let indexes = super::address_index::address_indexes(keyring, text);
            super::address_index::replace_indexes(&mut tx, customer_id, &id, &indexes).await?;
        }
        sqlx::query("UPDATE customers SET updated_at = $2 WHERE id = $1")
            .bind(customer_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(id))
    }
}
