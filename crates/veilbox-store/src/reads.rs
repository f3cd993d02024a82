//! Read models for the JSON API and admin views: conversations, threads, platform errors.
//!
//! Pagination is by keyset (a cursor naming the last row seen), so pages stay correct
//! while new messages arrive and cost the same on page 1 and page 1,000.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::keyring::OwnerKey;
use crate::{Store, StoreError};

/// A page of rows and the cursor for the next one (`None` on the last page).
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass back to get the next page.
    pub next_cursor: Option<String>,
}

/// A conversation in a list, newest activity first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// Inbox id.
    pub inbox_id: String,
    /// `open`, `pending` or `resolved`.
    pub state: String,
    /// Who the conversation is with.
    pub customer: CustomerSummary,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Latest message, Unix ms.
    pub last_message_at: i64,
    /// Latest customer message, Unix ms (opens the 24-hour window).
    pub last_inbound_at: Option<i64>,
    /// When resolved, Unix ms.
    pub resolved_at: Option<i64>,
    /// Who the conversation is assigned to.
    pub assignee: Option<String>,
}

/// The customer side of a conversation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CustomerSummary {
    /// Customer id.
    pub id: String,
    /// WhatsApp id (phone digits), when known.
    pub wa_id: Option<String>,
    /// Business-scoped user id, when known.
    pub user_id: Option<String>,
    /// WhatsApp display name.
    pub profile_name: Option<String>,
    /// The customer was erased: their personal data is gone for good.
    pub erased: bool,
}

/// One message of a thread.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageRecord {
    /// Our id.
    pub id: String,
    /// The WhatsApp message id (wamid); `None` for a reply Meta has not accepted yet.
    pub wa_message_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The declared WhatsApp type.
    pub message_type: String,
    /// Normalised content (see `veilbox_whatsapp::webhook::MessageContent`).
    pub content: Value,
    /// Reply and forwarding context, when any.
    pub context: Option<Value>,
    /// Message-level errors, when any.
    pub errors: Option<Value>,
    /// The raw element, kept for unsupported types.
    pub raw: Option<Value>,
    /// When the sender sent it, Unix ms.
    pub sent_at: i64,
    /// When we stored it, Unix ms.
    pub received_at: i64,
    /// Delivery state of an outbound message, when any receipt arrived.
    pub delivery: Option<DeliveryRecord>,
    /// Who wrote an outbound message.
    pub author: Option<String>,
    /// The send job of an outbound message.
    pub outbox: Option<OutboxRecord>,
    /// Where the fetch of an inbound media message stands.
    pub media: Option<crate::media::MediaRecord>,
    /// When the customer last edited it, Unix ms.
    pub edited_at: Option<i64>,
    /// When the customer deleted it, Unix ms: its content is not read at all then.
    pub deleted_at: Option<i64>,
    /// What it said before each edit, oldest first (read with the thread).
    pub previous_versions: Vec<PreviousVersion>,
}

/// What a message said before an edit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PreviousVersion {
    /// When the edit replaced it, Unix ms.
    pub replaced_at: i64,
    /// The content as it was (see `MessageContent`).
    pub content: Value,
}

/// Where a reply's send job stands.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxRecord {
    /// Job id.
    pub id: String,
    /// `queued`, `sending`, `sent`, `failed`, `unconfirmed` or `cancelled`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Graph error code of the last failure.
    pub error_code: Option<i64>,
    /// A reason an agent understands.
    pub error_reason: Option<String>,
}

/// The merged delivery state of an outbound message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliveryRecord {
    /// `sent`, `delivered`, `read`, `played` or `failed`.
    pub state: String,
    /// When that state was reached, Unix ms.
    pub at: i64,
    /// The error code of a failure.
    pub error_code: Option<i64>,
    /// Its title.
    pub error_title: Option<String>,
}

/// An out-of-band error or unusable element, for admins.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlatformErrorRecord {
    /// Row id.
    pub id: String,
    /// The raw event it came in.
    pub webhook_event_id: String,
    /// The business number concerned.
    pub phone_number_id: Option<String>,
    /// Meta's error code.
    pub code: Option<i64>,
    /// Title.
    pub title: Option<String>,
    /// Details.
    pub details: Option<String>,
    /// Arrival, Unix ms.
    pub received_at: i64,
}

/// A signed body that could not be parsed, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Row id.
    pub id: String,
    /// Arrival, Unix ms.
    pub received_at: i64,
    /// Why it could not be parsed.
    pub reason: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// Counts of what ingestion kept aside, for the admin view and health checks.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct IngestBacklog {
    /// Raw events with at least one element for a number without an inbox.
    pub unrouted_events: i64,
    /// Signed bodies that could not be parsed.
    pub dead_letters: i64,
    /// Raw events stored but not normalised yet (see `quarantine`).
    pub quarantined_events: i64,
    /// Identity conflicts no merge has settled.
    pub open_identity_conflicts: i64,
}

const CONVERSATION_COLUMNS: &str =
    "SELECT c.id, c.inbox_id, c.state, c.created_at, c.last_message_at, \
     c.last_inbound_at, c.resolved_at, c.assignee, cu.id AS customer_id, cu.wa_number, cu.user_id, cu.profile_name, cu.erased_at \
     FROM conversations c JOIN customers cu ON cu.id = c.customer_id";

const MESSAGE_COLUMNS: &str =
    "SELECT m.id, m.wa_message_id, m.direction, m.message_type, m.content, \
     m.context, m.errors, m.raw, m.sent_at, m.received_at, d.state AS delivery_state, \
     d.occurred_at AS delivery_at, d.error_code, d.error_title, m.author, o.id AS outbox_id, \
     o.state AS outbox_state, o.attempts AS outbox_attempts, o.error_code AS outbox_error_code, \
     o.error_reason AS outbox_error_reason, m.edited_at, m.revoked_at \
     , c.customer_id, f.conversation_id AS media_conversation_id, \
     f.state AS media_state, f.attempts AS media_attempts, f.mime_type AS media_mime_type, \
     f.size AS media_size, (f.preview IS NOT NULL) AS media_has_preview, f.error AS media_error \
     FROM messages m JOIN conversations c ON c.id = m.conversation_id \
     LEFT JOIN message_delivery d ON d.wa_message_id = m.wa_message_id \
     LEFT JOIN outbox o ON o.message_id = m.id \
     LEFT JOIN media_files f ON f.message_id = m.id";

/// Which conversations a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// Only this state (`open`, `pending`, `resolved`).
    pub state: Option<ConversationState>,
    /// Only those assigned to this person, or (`Some(None)`) only unassigned ones.
    pub assignee: Option<Option<String>>,
    /// Only those a person could see at all: a bound the authorizer then checks row by row.
    pub scope: Option<ConversationScope>,
}

/// The conversations within a person's reach: those in the inboxes their teams serve, and
/// those assigned to them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationScope {
    /// Inbox ids; `None` for every inbox.
    pub inboxes: Option<Vec<String>>,
    /// Also those assigned to this user.
    pub assignee: Option<String>,
}

impl Store {
    /// Conversations, newest activity first.
    pub async fn conversations(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ConversationSummary>, StoreError> {
        self.conversations_where(&ConversationFilter::default(), cursor, limit)
            .await
    }

    /// Conversations matching `filter`, newest activity first.
    pub async fn conversations_where(
        &self,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ConversationSummary>, StoreError> {
        let cursor = cursor.map(Cursor::parse).transpose()?;
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.state.is_some() {
            conditions.push(format!("c.state = {}", next()));
        }
        match &filter.assignee {
            Some(Some(_)) => conditions.push(format!("c.assignee = {}", next())),
            Some(None) => conditions.push("c.assignee IS NULL".to_owned()),
            None => {}
        }
        if let Some(scope) = &filter.scope {
            let mut reach = Vec::new();
            match &scope.inboxes {
                None => reach.push("1 = 1".to_owned()),
                Some(inboxes) if inboxes.is_empty() => {}
                Some(inboxes) => {
                    let params: Vec<String> = inboxes.iter().map(|_| next()).collect();
                    reach.push(format!("c.inbox_id IN ({})", params.join(", ")));
                }
            }
            if scope.assignee.is_some() {
                reach.push(format!("c.assignee = {}", next()));
            }
            if reach.is_empty() {
                reach.push("1 = 0".to_owned());
            }
            conditions.push(format!("({})", reach.join(" OR ")));
        }
        if cursor.is_some() {
            let (a, b) = (next(), next());
            conditions.push(format!(
                "(c.last_message_at < {a} OR (c.last_message_at = {a} AND c.id < {b}))"
            ));
        }
        let limit_param = next();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "{CONVERSATION_COLUMNS}{where_clause} ORDER BY c.last_message_at DESC, c.id DESC LIMIT {limit_param}"
        );
        let limit = limit.clamp(1, 200);
        let mut query = sqlx::query(&sql);
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(Some(assignee)) = &filter.assignee {
            query = query.bind(assignee.as_str());
        }
        if let Some(scope) = &filter.scope {
            for inbox in scope.inboxes.iter().flatten() {
                query = query.bind(inbox.as_str());
            }
            if let Some(assignee) = &scope.assignee {
                query = query.bind(assignee.as_str());
            }
        }
        if let Some(after) = &cursor {
            query = query.bind(after.at).bind(after.id.as_str());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        let keys = self.keys_of_rows(&rows).await?;
        let items = rows
            .iter()
            .map(|r| conversation_row(r, &keys))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = (items.len() == limit as usize)
            .then(|| {
                items
                    .last()
                    .map(|c| Cursor::format(c.last_message_at, &c.id))
            })
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// The conversation a message (by wamid) belongs to.
    pub async fn conversation_of_wamid(
        &self,
        wa_message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT conversation_id FROM messages WHERE wa_message_id = $1")
            .bind(wa_message_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("conversation_id")).transpose()?)
    }

    /// The conversation a send job belongs to.
    pub async fn conversation_of_send(
        &self,
        outbox_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT conversation_id FROM outbox WHERE id = $1")
            .bind(outbox_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("conversation_id")).transpose()?)
    }

    /// One conversation, or `None` when there is no such id.
    pub async fn conversation(&self, id: &str) -> Result<Option<ConversationSummary>, StoreError> {
        let row = sqlx::query(&format!("{CONVERSATION_COLUMNS} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let keys = self.keys_of_rows(std::slice::from_ref(&row)).await?;
        conversation_row(&row, &keys).map(Some)
    }

    /// A conversation's messages, oldest first; `None` when the conversation does not exist.
    pub async fn thread(
        &self,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Option<Page<MessageRecord>>, StoreError> {
        if self.conversation(conversation_id).await?.is_none() {
            return Ok(None);
        }
        let limit = limit.clamp(1, 500);
        let rows = match cursor.map(Cursor::parse).transpose()? {
            Some(after) => {
                sqlx::query(&format!(
                    "{MESSAGE_COLUMNS} WHERE m.conversation_id = $1 AND (m.sent_at > $2 OR (m.sent_at = $2 AND m.id > $3)) \
                     ORDER BY m.sent_at, m.id LIMIT $4"
                ))
                .bind(conversation_id)
                .bind(after.at)
                .bind(after.id)
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("{MESSAGE_COLUMNS} WHERE m.conversation_id = $1 ORDER BY m.sent_at, m.id LIMIT $2"))
                    .bind(conversation_id)
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let keys = self.keys_of_rows(&rows).await?;
        let mut items = rows
            .iter()
            .map(|r| message_row(r, &keys))
            .collect::<Result<Vec<_>, _>>()?;
        self.attach_previous_versions(&mut items, &rows, &keys)
            .await?;
        let next_cursor = (items.len() == limit as usize)
            .then(|| items.last().map(|m| Cursor::format(m.sent_at, &m.id)))
            .flatten();
        Ok(Some(Page { items, next_cursor }))
    }

    /// One message of a conversation.
    pub async fn message(
        &self,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "{MESSAGE_COLUMNS} WHERE m.conversation_id = $1 AND m.id = $2"
        ))
        .bind(conversation_id)
        .bind(message_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let rows = std::slice::from_ref(&row);
        let keys = self.keys_of_rows(rows).await?;
        let mut items = vec![message_row(&row, &keys)?];
        self.attach_previous_versions(&mut items, rows, &keys)
            .await?;
        Ok(items.pop())
    }

    /// Reads what each edited (and not deleted) message of `items` said before, opened with
    /// its customer's key; `rows` are the rows `items` were made from.
    async fn attach_previous_versions(
        &self,
        items: &mut [MessageRecord],
        rows: &[AnyRow],
        keys: &CustomerKeys,
    ) -> Result<(), StoreError> {
        let edited: Vec<&str> = items
            .iter()
            .filter(|m| m.edited_at.is_some() && m.deleted_at.is_none())
            .map(|m| m.id.as_str())
            .collect();
        if edited.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool().acquire().await?;
        let found = crate::sql::select_in(
            &mut conn,
            self.backend() == crate::Backend::Postgres,
            "SELECT id, message_id, previous_content, amended_at FROM message_revisions \
             WHERE kind = 'edit' AND message_id IN",
            &edited,
        )
        .await?;
        let customer_of: HashMap<String, String> = rows
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("customer_id")?)))
            .collect::<Result<_, StoreError>>()?;
        for r in &found {
            let id: String = r.try_get("id")?;
            let message_id: String = r.try_get("message_id")?;
            let sealed: Option<String> = r.try_get("previous_content")?;
            let key = customer_of.get(&message_id).and_then(|c| keys.get(c));
            let content = match (key, sealed) {
                (Some(key), Some(sealed)) => {
                    match key.open("message_revisions", "previous_content", &id, &sealed) {
                        Ok(text) => serde_json::from_str(&text)?,
                        Err(_) => serde_json::json!({"kind": "unreadable"}),
                    }
                }
                _ => serde_json::json!({"kind": "erased"}),
            };
            if let Some(item) = items.iter_mut().find(|m| m.id == message_id) {
                item.previous_versions.push(PreviousVersion {
                    replaced_at: r.try_get("amended_at")?,
                    content,
                });
            }
        }
        for item in items.iter_mut() {
            item.previous_versions.sort_by_key(|v| v.replaced_at);
        }
        Ok(())
    }

    /// The most recent platform errors, newest first.
    pub async fn platform_errors(
        &self,
        limit: u32,
    ) -> Result<Vec<PlatformErrorRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, webhook_event_id, phone_number_id, code, title, details, received_at \
             FROM platform_errors ORDER BY received_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PlatformErrorRecord {
                    id: r.try_get("id")?,
                    webhook_event_id: r.try_get("webhook_event_id")?,
                    phone_number_id: r.try_get("phone_number_id")?,
                    code: r.try_get("code")?,
                    title: r.try_get("title")?,
                    details: r.try_get("details")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect()
    }

    /// The newest dead letters, opened (for admins putting right what could not be read).
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, StoreError> {
        let events = self.keyring()?.events();
        let rows = sqlx::query(
            "SELECT id, received_at, reason, body FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let reason: String = r.try_get("reason")?;
                let body: Vec<u8> = r.try_get("body")?;
                let body = String::from_utf8(body).map_err(|_| StoreError::Unreadable)?;
                Ok(DeadLetter {
                    received_at: r.try_get("received_at")?,
                    reason: events
                        .open("dead_letters", "reason", &id, &reason)?
                        .to_string(),
                    body: events
                        .open_bytes("dead_letters", "body", &id, &body)?
                        .to_vec(),
                    id,
                })
            })
            .collect()
    }

    /// What ingestion kept aside.
    pub async fn ingest_backlog(&self) -> Result<IngestBacklog, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM webhook_events WHERE routed = 0) AS unrouted, \
             (SELECT COUNT(*) FROM dead_letters) AS dead, \
             (SELECT COUNT(*) FROM quarantined_events) AS quarantined, \
             (SELECT COUNT(*) FROM identity_conflicts WHERE state = 'open') AS conflicts",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(IngestBacklog {
            unrouted_events: row.try_get("unrouted")?,
            dead_letters: row.try_get("dead")?,
            quarantined_events: row.try_get("quarantined")?,
            open_identity_conflicts: row.try_get("conflicts")?,
        })
    }
}

/// The data keys of the customers of `rows` (a `customer_id` column), by customer id.
pub(crate) type CustomerKeys = HashMap<String, Arc<OwnerKey>>;

impl Store {
    pub(crate) async fn keys_of_rows(&self, rows: &[AnyRow]) -> Result<CustomerKeys, StoreError> {
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String, _>("customer_id"))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut conn = self.pool().acquire().await?;
        self.keyring()?.customer_keys(&mut conn, &ids).await
    }
}

fn conversation_row(r: &AnyRow, keys: &CustomerKeys) -> Result<ConversationSummary, StoreError> {
    let customer_id: String = r.try_get("customer_id")?;
    let erased_at: Option<i64> = r.try_get("erased_at")?;
    let open = |column: &str| -> Result<Option<String>, StoreError> {
        match keys.get(&customer_id) {
            Some(key) => key.open_opt(
                "customers",
                column,
                &customer_id,
                r.try_get::<Option<String>, _>(column)?.as_deref(),
            ),
            // An erased customer (or one whose key is lost) shows nothing personal.
            None => Ok(None),
        }
    };
    Ok(ConversationSummary {
        id: r.try_get("id")?,
        inbox_id: r.try_get("inbox_id")?,
        state: r.try_get("state")?,
        customer: CustomerSummary {
            wa_id: open("wa_number")?,
            profile_name: open("profile_name")?,
            user_id: r.try_get("user_id")?,
            erased: erased_at.is_some(),
            id: customer_id,
        },
        created_at: r.try_get("created_at")?,
        last_message_at: r.try_get("last_message_at")?,
        last_inbound_at: r.try_get("last_inbound_at")?,
        resolved_at: r.try_get("resolved_at")?,
        assignee: r.try_get("assignee")?,
    })
}

fn message_row(r: &AnyRow, keys: &CustomerKeys) -> Result<MessageRecord, StoreError> {
    let json = |column: &str| -> Result<Option<Value>, StoreError> {
        let text: Option<String> = r.try_get(column)?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    };
    let id: String = r.try_get("id")?;
    let customer_id: String = r.try_get("customer_id")?;
    let key = keys.get(&customer_id);
    // Sealed with the customer's key; without it (erased) the content is gone.
    let sealed_json = |column: &str| -> Result<Option<Value>, StoreError> {
        let Some(sealed) = r.try_get::<Option<String>, _>(column)? else {
            return Ok(None);
        };
        match key {
            // Erasure leaves this marker (and no key).
            _ if sealed == crate::erasure::ERASED_CONTENT => {
                Ok(Some(serde_json::json!({"kind": "erased"})))
            }
            Some(key) => match key.open("messages", column, &id, &sealed) {
                Ok(text) => Ok(Some(serde_json::from_str(&text)?)),
                // Sealed under another key (a merge or erasure raced it) or tampered with:
                // this one message is unreadable; the rest of the thread still shows.
                Err(_) => {
                    tracing::warn!(message = %id, "a stored message does not open");
                    Ok(Some(serde_json::json!({"kind": "unreadable"})))
                }
            },
            None => Ok(Some(serde_json::json!({"kind": "erased"}))),
        }
    };
    let delivery_state: Option<String> = r.try_get("delivery_state")?;
    let deleted_at: Option<i64> = r.try_get("revoked_at")?;
    // A message the customer deleted is not opened: what it said stays sealed at rest (for
    // the audit and retention rules) and reaches no view.
    let (content, context, raw) = match deleted_at {
        Some(_) => (serde_json::json!({"kind": "deleted"}), None, None),
        None => (
            sealed_json("content")?.unwrap_or(Value::Null),
            sealed_json("context")?,
            sealed_json("raw")?,
        ),
    };
    Ok(MessageRecord {
        id: id.clone(),
        wa_message_id: r.try_get("wa_message_id")?,
        direction: r.try_get("direction")?,
        message_type: r.try_get("message_type")?,
        content,
        context,
        errors: json("errors")?,
        raw,
        sent_at: r.try_get("sent_at")?,
        received_at: r.try_get("received_at")?,
        delivery: match delivery_state {
            Some(state) => Some(DeliveryRecord {
                state,
                at: r.try_get("delivery_at")?,
                error_code: r.try_get("error_code")?,
                error_title: r.try_get("error_title")?,
            }),
            None => None,
        },
        author: r.try_get("author")?,
        outbox: match r.try_get::<Option<String>, _>("outbox_id")? {
            Some(id) => Some(OutboxRecord {
                id,
                state: r.try_get("outbox_state")?,
                attempts: r.try_get("outbox_attempts")?,
                error_code: r.try_get("outbox_error_code")?,
                error_reason: r.try_get("outbox_error_reason")?,
            }),
            None => None,
        },
        media: crate::media::MediaRecord::from_row(r)?,
        edited_at: r.try_get("edited_at")?,
        deleted_at,
        previous_versions: Vec::new(),
    })
}

/// A keyset position: `<ms>.<id>`, opaque to clients.
#[derive(Debug)]
pub struct Cursor {
    at: i64,
    id: String,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, StoreError> {
        let (at, id) = text.split_once('.').ok_or(StoreError::InvalidCursor)?;
        let at = at.parse().map_err(|_| StoreError::InvalidCursor)?;
        Ok(Cursor {
            at,
            id: id.to_owned(),
        })
    }

    /// The cursor after the conversation last active at `at` with id `id`.
    pub fn format(at: i64, id: &str) -> String {
        format!("{at}.{id}")
    }
}

/// The merged delivery state of one outbound wamid and every receipt that built it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliveryHistory {
    /// The outbound wamid.
    pub wa_message_id: String,
    /// Merged state.
    pub state: String,
    /// When it was reached, Unix ms.
    pub at: i64,
    /// Error code of a failure.
    pub error_code: Option<i64>,
    /// Its title.
    pub error_title: Option<String>,
    /// Receipts in the order they happened.
    pub receipts: Vec<Receipt>,
}

/// One stored receipt.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Receipt {
    /// The status string as received.
    pub status: String,
    /// When it happened, Unix ms.
    pub at: i64,
    /// Error code, on failures.
    pub error_code: Option<i64>,
    /// Error title, on failures.
    pub error_title: Option<String>,
}

impl Store {
    /// The delivery state of an outbound wamid; `None` when no receipt names it.
    pub async fn delivery(
        &self,
        wa_message_id: &str,
    ) -> Result<Option<DeliveryHistory>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT state, occurred_at, error_code, error_title FROM message_delivery WHERE wa_message_id = $1",
        )
        .bind(wa_message_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let receipts = sqlx::query(
            "SELECT status, occurred_at, error_code, error_title FROM message_statuses \
             WHERE wa_message_id = $1 ORDER BY occurred_at, received_at",
        )
        .bind(wa_message_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Receipt {
                status: r.try_get("status")?,
                at: r.try_get("occurred_at")?,
                error_code: r.try_get("error_code")?,
                error_title: r.try_get("error_title")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(DeliveryHistory {
            wa_message_id: wa_message_id.to_owned(),
            state: row.try_get("state")?,
            at: row.try_get("occurred_at")?,
            error_code: row.try_get("error_code")?,
            error_title: row.try_get("error_title")?,
            receipts,
        }))
    }
}

impl Store {
    /// Assigns a conversation to someone (or nobody); false when there is no such conversation.
    pub async fn assign_conversation(
        &self,
        id: &str,
        assignee: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE conversations SET assignee = $2 WHERE id = $1")
            .bind(id)
            .bind(assignee)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 1 {
            self.events()
                .publish(crate::events::StoreEvent::Conversation {
                    conversation_id: id.to_owned(),
                });
        }
        Ok(done.rows_affected() == 1)
    }

    /// Takes an unassigned conversation for `assignee`; false when someone took it first
    /// (two agents pressing "Assign to me" at once: exactly one wins).
    pub async fn take_conversation(&self, id: &str, assignee: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE conversations SET assignee = $2 WHERE id = $1 AND assignee IS NULL",
        )
        .bind(id)
        .bind(assignee)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            self.events()
                .publish(crate::events::StoreEvent::Conversation {
                    conversation_id: id.to_owned(),
                });
        }
        Ok(done.rows_affected() == 1)
    }

    /// Moves a conversation to `open`, `pending` or `resolved`; false when there is no such
    /// conversation. Reopening fails with a database error when the customer already has
    /// another open conversation in the inbox (one open per inbox and customer).
    pub async fn set_conversation_state(
        &self,
        id: &str,
        state: ConversationState,
    ) -> Result<bool, StoreError> {
        let resolved_at = (state == ConversationState::Resolved).then(crate::now_ms);
        let done =
            sqlx::query("UPDATE conversations SET state = $2, resolved_at = $3 WHERE id = $1")
                .bind(id)
                .bind(state.as_str())
                .bind(resolved_at)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Waiting on the business.
    Open,
    /// Waiting on the customer.
    Pending,
    /// Done; a new customer message starts a new conversation.
    Resolved,
}

impl ConversationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Open => "open",
            ConversationState::Pending => "pending",
            ConversationState::Resolved => "resolved",
        }
    }
}
