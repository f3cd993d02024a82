//! Merging two customers who are one person (two numbers, or a number and an e-mail).
//!
//! `merge_customers(keep, from)` moves everything of `from` to `keep` in one transaction:
//! every sealed value of `from` (messages, queued replies, contacts, addresses, notes,
//! shipments) is opened with `from`'s key and sealed again with `keep`'s, conversations are
//! re-pointed, `from`'s WhatsApp number becomes a phone contact of `keep`, and `from`'s data
//! key is destroyed. `from` stays as a row with only the blind index of its number and
//! `merged_into`, so messages from that number can be followed to `keep`.

use std::collections::HashSet;

use sqlx::{AnyConnection, Row};

use super::{check_live, write_tx, CrmRefusal, SHIPMENTS};
use crate::ids::new_id;
use crate::keyring::{customer_owner, OwnerKey};
use crate::{now_ms, Store, StoreError};

/// What a merge moved (counts only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeReport {
    /// Conversations re-pointed.
    pub conversations: u64,
    /// Conversations resolved first, because `keep` had one open in the same inbox.
    pub conversations_resolved: u64,
    /// Messages sealed again under the surviving customer's key.
    pub messages: u64,
    /// Contacts, addresses, notes and shipments moved.
    pub crm_rows: u64,
}

/// Sealed columns of `from`'s CRM rows: (table, sealed columns).
const SEALED: &[(&str, &[&str])] = &[
    ("customer_contacts", &["value"]),
    ("customer_addresses", &["value"]),
    ("customer_notes", &["body"]),
    (
        SHIPMENTS,
        &[
            "tracking",
            "sender_name",
            "recipient_name",
            "recipient_phone",
            "address",
            "instructions",
        ],
    ),
];

impl Store {
    /// Merges `from` into `keep` (see the module docs).
    pub async fn merge_customers(
        &self,
        keep: &str,
        from: &str,
    ) -> Result<Result<MergeReport, CrmRefusal>, StoreError> {
        if keep == from {
            return Ok(Err(CrmRefusal::SameCustomer));
        }
        let keyring = self.keyring()?;
        let mut tx = write_tx(self).await?;
        for id in [keep, from] {
            if let Err(refusal) = check_live(&mut tx, id).await? {
                return Ok(Err(refusal));
            }
        }
        let keys = keyring.customer_keys(&mut tx, &[keep, from]).await?;
        let (Some(to_key), Some(from_key)) = (keys.get(keep), keys.get(from)) else {
            return Err(StoreError::Unreadable);
        };
        let now = now_ms();
        let mut report = MergeReport::default();
        let theirs = "SELECT id FROM conversations WHERE customer_id = $1";

        // Messages and queued replies of `from`'s conversations.
        let rows = sqlx::query(&format!(
            "SELECT id, content, context, raw FROM messages WHERE conversation_id IN ({theirs})"
        ))
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let mut sealed = Vec::new();
            for column in ["content", "context", "raw"] {
                let old: Option<String> = r.try_get(column)?;
                sealed.push(reseal(from_key, to_key, "messages", column, &id, old)?);
            }
            sqlx::query("UPDATE messages SET content = $2, context = $3, raw = $4 WHERE id = $1")
                .bind(id.as_str())
                .bind(sealed[0].clone().unwrap_or_default())
                .bind(sealed[1].clone())
                .bind(sealed[2].clone())
                .execute(&mut *tx)
                .await?;
            report.messages += 1;
        }
        // What edited messages said before, sealed with the same key.
        let rows = sqlx::query(&format!(
            "SELECT id, previous_content FROM message_revisions WHERE previous_content IS NOT NULL \
             AND message_id IN (SELECT id FROM messages WHERE conversation_id IN ({theirs}))"
        ))
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let old: Option<String> = r.try_get("previous_content")?;
            let sealed = reseal(
                from_key,
                to_key,
                "message_revisions",
                "previous_content",
                &id,
                old,
            )?;
            sqlx::query("UPDATE message_revisions SET previous_content = $2 WHERE id = $1")
                .bind(id.as_str())
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
        }
        // Fetched media (originals and previews) of those messages.
        let rows = sqlx::query(&format!(
            "SELECT message_id, content, preview FROM media_files WHERE conversation_id IN ({theirs}) \
             AND (content IS NOT NULL OR preview IS NOT NULL)"
        ))
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: String = r.try_get("message_id")?;
            let content = reseal(
                from_key,
                to_key,
                "media_files",
                "content",
                &id,
                r.try_get("content")?,
            )?;
            let preview = reseal(
                from_key,
                to_key,
                "media_files",
                "preview",
                &id,
                r.try_get("preview")?,
            )?;
            sqlx::query("UPDATE media_files SET content = $2, preview = $3 WHERE message_id = $1")
                .bind(id.as_str())
                .bind(content)
                .bind(preview)
                .execute(&mut *tx)
                .await?;
        }
        let rows = sqlx::query(&format!(
            "SELECT id, recipient, payload FROM outbox WHERE conversation_id IN ({theirs})"
        ))
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let recipient = reseal(
                from_key,
                to_key,
                "outbox",
                "recipient",
                &id,
                r.try_get("recipient")?,
            )?;
            let payload = reseal(
                from_key,
                to_key,
                "outbox",
                "payload",
                &id,
                r.try_get("payload")?,
            )?;
            sqlx::query("UPDATE outbox SET recipient = $2, payload = $3 WHERE id = $1")
                .bind(id.as_str())
                .bind(recipient.unwrap_or_default())
                .bind(payload.unwrap_or_default())
                .execute(&mut *tx)
                .await?;
        }

        // Conversations: one open per (inbox, customer) must still hold afterwards.
        let open_of_keep: HashSet<String> = sqlx::query(
            "SELECT inbox_id FROM conversations WHERE customer_id = $1 AND state <> 'resolved'",
        )
        .bind(keep)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("inbox_id"))
        .collect::<Result<_, _>>()?;
        for r in sqlx::query(
            "SELECT id, inbox_id FROM conversations WHERE customer_id = $1 AND state <> 'resolved'",
        )
        .bind(from)
        .fetch_all(&mut *tx)
        .await?
        {
            let inbox: String = r.try_get("inbox_id")?;
            if open_of_keep.contains(&inbox) {
                let id: String = r.try_get("id")?;
                sqlx::query(
                    "UPDATE conversations SET state = 'resolved', resolved_at = $2 WHERE id = $1",
                )
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                report.conversations_resolved += 1;
            }
        }
        report.conversations =
            sqlx::query("UPDATE conversations SET customer_id = $2 WHERE customer_id = $1")
                .bind(from)
                .bind(keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();

        // CRM rows.
        for (table, columns) in SEALED {
            let sql = format!(
                "SELECT id, {} FROM {table} WHERE customer_id = $1",
                columns.join(", ")
            );
            for r in sqlx::query(&sql).bind(from).fetch_all(&mut *tx).await? {
                let id: String = r.try_get("id")?;
                let sets: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c} = ${}", i + 3))
                    .collect();
                let update = format!(
                    "UPDATE {table} SET customer_id = $2, {} WHERE id = $1",
                    sets.join(", ")
                );
                let mut query = sqlx::query(&update).bind(id.as_str()).bind(keep);
                for column in *columns {
                    query = query.bind(reseal(
                        from_key,
                        to_key,
                        table,
                        column,
                        &id,
                        r.try_get(*column)?,
                    )?);
                }
                query.execute(&mut *tx).await?;
                report.crm_rows += 1;
            }
        }
        // The shipments and addresses moved (above); their timelines and address indexes
        // (keyed hashes, not sealed) follow, found through them.
        sqlx::query(
            "UPDATE shipment_events SET customer_id = $2 WHERE customer_id = $1 AND shipment_id IN \
             (SELECT id FROM shipments WHERE customer_id = $2)",
        )
        .bind(from)
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE address_indexes SET customer_id = $1 WHERE customer_id = $2 AND source_id IN ({})",
            super::ADDRESS_SOURCES_OF
        ))
        .bind(keep)
        .bind(from)
        .execute(&mut *tx)
        .await?;

        merge_customer_rows(&mut tx, keep, from, from_key, to_key, now).await?;
        sqlx::query("DELETE FROM data_keys WHERE owner = $1")
            .bind(customer_owner(from))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        keyring.forget(from);
        Ok(Ok(report))
    }
}

/// `from`'s own row: its number becomes a contact of `keep`, its name and labels fill in
/// what `keep` lacks, and what is left of it is its number's blind index and `merged_into`.
async fn merge_customer_rows(
    conn: &mut AnyConnection,
    keep: &str,
    from: &str,
    from_key: &OwnerKey,
    to_key: &OwnerKey,
    now: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT wa_id, wa_number, display_name, profile_name, labels FROM customers WHERE id = $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let kept = sqlx::query("SELECT display_name, labels FROM customers WHERE id = $1")
        .bind(keep)
        .fetch_one(&mut *conn)
        .await?;
    let wa_id: Option<String> = row.try_get("wa_id")?;
    let number = from_key.open_opt(
        "customers",
        "wa_number",
        from,
        row.try_get::<Option<String>, _>("wa_number")?.as_deref(),
    )?;
    if let (Some(index), Some(number)) = (wa_id, number) {
        let e164 = format!("+{}", number.trim_start_matches('+'));
        let id = new_id();
        sqlx::query(
            "INSERT INTO customer_contacts (id, customer_id, kind, blind_index, value, created_at) \
             VALUES ($1, $2, 'phone', $3, $4, $5) ON CONFLICT (kind, blind_index) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(keep)
        .bind(index)
        .bind(to_key.seal("customer_contacts", "value", &id, &e164))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    // The name the company knew them by, if the kept customer has none.
    if kept.try_get::<Option<String>, _>("display_name")?.is_none() {
        let name = from_key
            .open_opt(
                "customers",
                "display_name",
                from,
                row.try_get::<Option<String>, _>("display_name")?.as_deref(),
            )?
            .or(from_key.open_opt(
                "customers",
                "profile_name",
                from,
                row.try_get::<Option<String>, _>("profile_name")?.as_deref(),
            )?);
        if let Some(name) = name {
            sqlx::query("UPDATE customers SET display_name = $2 WHERE id = $1")
                .bind(keep)
                .bind(to_key.seal("customers", "display_name", keep, &name))
                .execute(&mut *conn)
                .await?;
        }
    }
    // Both customers' labels, the kept one's first, up to the limit.
    let mut labels: Vec<String> = serde_json::from_str(&kept.try_get::<String, _>("labels")?)?;
    for label in serde_json::from_str::<Vec<String>>(&row.try_get::<String, _>("labels")?)? {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels.truncate(super::MAX_LABELS);
    sqlx::query("UPDATE customers SET labels = $2, updated_at = $3 WHERE id = $1")
        .bind(keep)
        .bind(serde_json::to_string(&labels)?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE customers SET merged_into = $2, wa_number = NULL, profile_name = NULL, username = NULL, \
         display_name = NULL, labels = '[]', updated_at = $3 WHERE id = $1",
    )
    .bind(from)
    .bind(keep)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Customers merged into `from` before now point at `keep`: chains stay one step long.
    sqlx::query("UPDATE customers SET merged_into = $2 WHERE merged_into = $1")
        .bind(from)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Opens a value sealed with `from` for `table`.`column` of row `id` and seals it with `to`.
fn reseal(
    from: &OwnerKey,
    to: &OwnerKey,
    table: &str,
    column: &str,
    id: &str,
    sealed: Option<String>,
) -> Result<Option<String>, StoreError> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    if sealed.is_empty() {
        return Ok(Some(sealed));
    }
    let plain = from.open_bytes(table, column, id, &sealed)?;
    Ok(Some(to.seal_bytes(table, column, id, &plain)))
}
