//! The outbox: replies written with their send job in one transaction, and the state
//! machine the sender drives.
//!
//! `queued` → `sending` → `sent`, or back to `queued` with a later `next_attempt_at` after
//! a retryable error, or `failed` with a reason. A send whose outcome is unknown (the
//! request may have reached Meta) becomes `unconfirmed`: it is never repeated on its own; a
//! status webhook carrying its id settles it as `sent`, or a person decides to resend or
//! discard it. A row left in `sending` by a crash is `unconfirmed` for the same reason.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::events::StoreEvent;
use crate::ids::new_id;
use crate::{now_ms, Store, StoreError};

/// What an agent sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyPayload {
    /// Free-form text: only inside the customer's 24-hour window.
    Text {
        /// The text.
        body: String,
        /// Ask WhatsApp for a link preview.
        #[serde(default)]
        preview_url: bool,
        /// The wamid this quotes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// An approved template: allowed outside the window.
    Template {
        /// Template name.
        name: String,
        /// Language code.
        language: String,
        /// What the agent saw as the template's text, for the thread.
        #[serde(default)]
        preview: String,
    },
}

/// A reply written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedReply {
    /// The outbound message.
    pub message_id: String,
    /// Its send job (also sent to Meta as `biz_opaque_callback_data`).
    pub outbox_id: String,
}

/// A send job, as the sender needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Job id.
    pub id: String,
    /// The outbound message.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// The business number that sends it.
    pub phone_number_id: String,
    /// The customer's WhatsApp id.
    pub recipient: String,
    /// What to send.
    pub payload: ReplyPayload,
    /// Attempts so far, including the one being made.
    pub attempts: i64,
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Meta accepted it under this wamid.
    Accepted {
        /// The outbound wamid.
        wa_message_id: String,
    },
    /// Not sent; try again at `at` (Unix ms).
    RetryLater {
        /// When.
        at: i64,
        /// Graph error code.
        code: Option<i64>,
        /// Why, in words.
        reason: String,
    },
    /// Not sent and never will be as it is.
    Failed {
        /// Graph error code.
        code: Option<i64>,
        /// A reason an agent understands.
        reason: String,
    },
    /// The request may have reached Meta: wait for a status webhook or a person.
    Unconfirmed {
        /// Why the outcome is unknown.
        reason: String,
    },
    /// Given back untouched (sending was paused under it).
    Released,
}

/// Why a reply cannot be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum QueueRefusal {
    /// No such conversation.
    NoConversation,
    /// The customer has no phone-based WhatsApp id to send to.
    NoRecipient,
}

const ITEM_COLUMNS: &str =
    "o.id, o.message_id, o.conversation_id, o.phone_number_id, o.recipient, o.payload, o.attempts, \
     c.customer_id";

impl Store {
    /// Writes an outbound message and its send job in one transaction.
    pub async fn queue_reply(
        &self,
        conversation_id: &str,
        author: &str,
        payload: &ReplyPayload,
    ) -> Result<Result<QueuedReply, QueueRefusal>, StoreError> {
        // Read before the transaction: on SQLite a transaction that reads and then writes
        // cannot wait for the ingest writer's lock; one that starts by writing can.
        let Some(row) = sqlx::query(
            "SELECT i.phone_number_id, cu.id AS customer_id, cu.wa_number FROM conversations c \
             JOIN inboxes i ON i.id = c.inbox_id JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1",
        )
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(Err(QueueRefusal::NoConversation));
        };
        let phone_number_id: String = row.try_get("phone_number_id")?;
        let customer_id: String = row.try_get("customer_id")?;
        let sealed_number: Option<String> = row.try_get("wa_number")?;
        let key = {
            let mut conn = self.pool().acquire().await?;
            self.keyring()?
                .customer_key(&mut conn, &customer_id)
                .await?
        };
        // An erased customer has no key and no number: there is nobody to send to.
        let (Some(key), Some(sealed_number)) = (key, sealed_number) else {
            return Ok(Err(QueueRefusal::NoRecipient));
        };
        let recipient = key.open("customers", "wa_number", &customer_id, &sealed_number)?;
        let now = now_ms();
        let message_id = new_id();
        let outbox_id = new_id();
        // Under the customer lock (the one erasure, merges and ingest take), check that the
        // customer and the conversation are still as read above: an erasure or a merge in
        // between would leave this reply sealed under a key that no longer opens it.
        let mut tx = crate::crm::write_tx(self).await?;
        let still = sqlx::query(
            "SELECT 1 AS ok FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             WHERE c.id = $1 AND cu.id = $2 AND cu.erased_at IS NULL AND cu.merged_into IS NULL",
        )
        .bind(conversation_id)
        .bind(&customer_id)
        .fetch_optional(&mut *tx)
        .await?;
        if still.is_none() {
            tx.rollback().await?;
            return Ok(Err(QueueRefusal::NoRecipient));
        }
        let (message_type, content, context) = match payload {
            ReplyPayload::Text { body, reply_to, .. } => (
                "text",
                serde_json::json!({"kind": "text", "body": body}),
                reply_to
                    .as_ref()
                    .map(|id| serde_json::json!({"reply_to": id}).to_string()),
            ),
            ReplyPayload::Template {
                name,
                language,
                preview,
            } => (
                "template",
                serde_json::json!({"kind": "template", "name": name, "language": language, "preview": preview}),
                None,
            ),
        };
        sqlx::query(
            "INSERT INTO messages (id, wa_message_id, conversation_id, direction, message_type, content, context, \
             sent_at, received_at, author) VALUES ($1, NULL, $2, 'outbound', $3, $4, $5, $6, $6, $7)",
        )
        .bind(&message_id)
        .bind(conversation_id)
        .bind(message_type)
        .bind(key.seal("messages", "content", &message_id, &content.to_string()))
        .bind(key.seal_opt("messages", "context", &message_id, context.as_deref()))
        .bind(now)
        .bind(author)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO outbox (id, message_id, conversation_id, phone_number_id, recipient, payload, state, \
             attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7, $7)",
        )
        .bind(&outbox_id)
        .bind(&message_id)
        .bind(conversation_id)
        .bind(&phone_number_id)
        .bind(key.seal("outbox", "recipient", &outbox_id, &recipient))
        .bind(key.seal("outbox", "payload", &outbox_id, &serde_json::to_string(payload)?))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE conversations SET last_message_at = CASE WHEN last_message_at < $2 THEN $2 ELSE last_message_at END \
             WHERE id = $1",
        )
        .bind(conversation_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.events().publish(StoreEvent::Message {
            conversation_id: conversation_id.to_owned(),
            message_id: message_id.clone(),
        });
        Ok(Ok(QueuedReply {
            message_id,
            outbox_id,
        }))
    }

    /// Jobs due now, oldest first, at most one per conversation (the head of its queue), and
    /// none for numbers whose sending is paused.
    pub async fn due_sends(&self, now: i64, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS} FROM outbox o JOIN inboxes i ON i.phone_number_id = o.phone_number_id \
             JOIN conversations c ON c.id = o.conversation_id \
             WHERE o.state = 'queued' AND o.next_attempt_at <= $1 AND i.sending_paused_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = o.conversation_id \
               AND p.state IN ('queued', 'sending') \
               AND (p.created_at < o.created_at OR (p.created_at = o.created_at AND p.id < o.id))) \
             ORDER BY o.created_at, o.id LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let keys = self.keys_of_rows(&rows).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            match outbox_item(row, &keys) {
                Ok(item) => items.push(item),
                // Its customer was erased (or merged) after the reply was queued: it can
                // never be opened, so it can never be sent. Cancel it rather than let it
                // block every other customer's replies.
                Err(StoreError::Unreadable) => {
                    let id: String = row.try_get("id")?;
                    tracing::warn!(outbox = %id, "a queued reply cannot be opened any more; cancelled");
                    sqlx::query(
                        "UPDATE outbox SET state = 'cancelled', error_reason = $2, updated_at = $3 \
                         WHERE id = $1 AND state = 'queued'",
                    )
                    .bind(&id)
                    .bind("the customer was erased or merged before it was sent")
                    .bind(now_ms())
                    .execute(self.pool())
                    .await?;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(items)
    }

    /// The earliest time a queued job becomes due, if any.
    pub async fn next_send_due(&self) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT MIN(next_attempt_at) AS due FROM outbox WHERE state = 'queued'")
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("due")?)
    }

    /// Takes jobs for sending; returns the ids this sender won (another node may have taken
    /// some first).
    pub async fn claim_sends(&self, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = $1 \
             WHERE state = 'queued' AND id IN ({}) RETURNING id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now_ms());
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Records what became of many sends in one transaction (one disk flush for all).
    pub async fn record_send_outcomes(
        &self,
        outcomes: &[(OutboxItem, SendOutcome)],
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        for (item, outcome) in outcomes {
            match outcome {
                SendOutcome::Accepted { wa_message_id } => {
                    sqlx::query(
                        "UPDATE outbox SET state = 'sent', error_code = NULL, error_reason = NULL, updated_at = $2 \
                         WHERE id = $1 AND state IN ('sending', 'unconfirmed')",
                    )
                    .bind(&item.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE messages SET wa_message_id = $1 WHERE id = $2 AND wa_message_id IS NULL")
                        .bind(wa_message_id)
                        .bind(&item.message_id)
                        .execute(&mut *tx)
                        .await?;
                }
                SendOutcome::RetryLater { at, code, reason } => {
                    set_send_state(&mut tx, item, "queued", Some(*at), *code, Some(reason), now)
                        .await?;
                }
                SendOutcome::Failed { code, reason } => {
                    set_send_state(&mut tx, item, "failed", None, *code, Some(reason), now).await?;
                }
                SendOutcome::Unconfirmed { reason } => {
                    set_send_state(&mut tx, item, "unconfirmed", None, None, Some(reason), now)
                        .await?;
                }
                SendOutcome::Released => {
                    sqlx::query(
                        "UPDATE outbox SET state = 'queued', attempts = attempts - 1, updated_at = $2 \
                         WHERE id = $1 AND state = 'sending'",
                    )
                    .bind(&item.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        for (item, _) in outcomes {
            self.events().publish(StoreEvent::Message {
                conversation_id: item.conversation_id.clone(),
                message_id: item.message_id.clone(),
            });
        }
        Ok(())
    }

    /// After a restart: a job left in `sending` may or may not have reached Meta, so it is
    /// `unconfirmed`, never silently repeated. Returns how many.
    pub async fn recover_interrupted_sends(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'unconfirmed', error_reason = $1, updated_at = $2 WHERE state = 'sending'",
        )
        .bind("interrupted by a restart while sending; it may or may not have been delivered")
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A person's decision about an unconfirmed or failed send: send it again (`resend`) or
    /// drop it, optionally only if it belongs to `conversation_id`. Returns the conversation id
    /// when the job was in a state (and conversation) that allows it.
    pub async fn decide_send(
        &self,
        conversation_id: Option<&str>,
        outbox_id: &str,
        resend: bool,
    ) -> Result<Option<String>, StoreError> {
        let (state, attempts) = if resend {
            ("queued", "0")
        } else {
            ("cancelled", "attempts")
        };
        // A page acting on one conversation may only decide for its own replies.
        let scope = if conversation_id.is_some() {
            " AND conversation_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE outbox SET state = '{state}', attempts = {attempts}, next_attempt_at = $2, updated_at = $2 \
             WHERE id = $1 AND state IN ('unconfirmed', 'failed'){scope} RETURNING conversation_id, message_id"
        );
        let mut query = sqlx::query(&sql).bind(outbox_id).bind(now_ms());
        if let Some(conversation_id) = conversation_id {
            query = query.bind(conversation_id);
        }
        let Some(row) = query.fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let conversation_id: String = row.try_get("conversation_id")?;
        self.events().publish(StoreEvent::Message {
            conversation_id: conversation_id.clone(),
            message_id: row.try_get("message_id")?,
        });
        Ok(Some(conversation_id))
    }

    /// Stops sending from a number (e.g. its access token expired) and alerts the admins.
    pub async fn pause_sending(
        &self,
        phone_number_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let paused = sqlx::query(
            "UPDATE inboxes SET sending_paused_at = $2, sending_paused_reason = $3 \
             WHERE phone_number_id = $1 AND sending_paused_at IS NULL",
        )
        .bind(phone_number_id)
        .bind(now)
        .bind(reason)
        .execute(self.pool())
        .await?;
        if paused.rows_affected() > 0 {
            self.raise_alert("sending_paused", Some(phone_number_id), reason)
                .await?;
        }
        Ok(())
    }

    /// Resumes sending from every paused number (e.g. after the token was replaced).
    pub async fn resume_sending(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE inboxes SET sending_paused_at = NULL, sending_paused_reason = NULL WHERE sending_paused_at IS NOT NULL",
        )
        .execute(self.pool())
        .await?;
        sqlx::query("UPDATE admin_alerts SET resolved_at = $1 WHERE kind = 'sending_paused' AND resolved_at IS NULL")
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Records something an admin must act on. `detail` must not contain customer data.
    pub async fn raise_alert(
        &self,
        kind: &str,
        subject: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO admin_alerts (id, kind, subject, detail, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(new_id())
            .bind(kind)
            .bind(subject)
            .bind(detail)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Unresolved admin alerts, newest first: (kind, subject, detail, created_at).
    pub async fn open_alerts(
        &self,
    ) -> Result<Vec<(String, Option<String>, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, subject, detail, created_at FROM admin_alerts WHERE resolved_at IS NULL \
             ORDER BY created_at DESC LIMIT 100",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("kind")?,
                    r.try_get("subject")?,
                    r.try_get("detail")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect()
    }

    /// Counts of jobs per state, for tests, benchmarks and the admin view.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state ORDER BY state")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }
}

async fn set_send_state(
    conn: &mut sqlx::AnyConnection,
    item: &OutboxItem,
    state: &str,
    next_attempt_at: Option<i64>,
    code: Option<i64>,
    reason: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET state = $2, next_attempt_at = COALESCE($3, next_attempt_at), error_code = $4, \
         error_reason = $5, updated_at = $6 WHERE id = $1 AND state = 'sending'",
    )
    .bind(&item.id)
    .bind(state)
    .bind(next_attempt_at)
    .bind(code)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn outbox_item(row: &AnyRow, keys: &crate::reads::CustomerKeys) -> Result<OutboxItem, StoreError> {
    let id: String = row.try_get("id")?;
    let customer_id: String = row.try_get("customer_id")?;
    // A send for a customer erased meanwhile cannot be opened, and must not go out.
    let key = keys.get(&customer_id).ok_or(StoreError::Unreadable)?;
    let recipient: String = row.try_get("recipient")?;
    let payload: String = row.try_get("payload")?;
    let payload = key.open("outbox", "payload", &id, &payload)?;
    Ok(OutboxItem {
        recipient: key
            .open("outbox", "recipient", &id, &recipient)?
            .to_string(),
        payload: serde_json::from_str(&payload)?,
        message_id: row.try_get("message_id")?,
        conversation_id: row.try_get("conversation_id")?,
        phone_number_id: row.try_get("phone_number_id")?,
        attempts: row.try_get("attempts")?,
        id,
    })
}
