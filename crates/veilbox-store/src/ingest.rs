//! The ingest writer: one task owns every webhook write and group-commits them.
//!
//! HTTP handlers hand a verified, parsed delivery to [`Ingestor::ingest`] and wait for the
//! answer. The writer drains whatever has queued up while the previous transaction was
//! committing and writes it all in one transaction, so N concurrent webhooks cost one fsync
//! instead of N, and a handler only answers 200 once its rows are durable.
//!
//! Every job is idempotent: a byte-identical body is recognised by its sha256, a message by
//! its wamid, a status by (wamid, status). If a batch fails, its jobs are retried one by
//! one so that a single bad delivery cannot fail its neighbours.

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use veilbox_whatsapp::webhook::{
    BusinessNumber, CustomerIdentity, InboundMessage, MessageContent, StatusUpdate, Webhook,
};

use crate::ids::new_id;
use crate::{now_ms, Store, StoreError};

/// When a webhook names a phone number id that has no inbox yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxPolicy {
    /// Create an inbox on first sight only while there is none (a fresh install just
    /// works); later unknown numbers are stored unrouted until an admin adds them.
    #[default]
    FirstOnly,
    /// Create an inbox for every new number.
    Always,
    /// Only configured inboxes; everything else is stored unrouted.
    Never,
}

/// A verified delivery ready to be written.
#[derive(Debug)]
pub struct Delivery {
    /// The body exactly as received (kept as the raw event).
    pub body: Vec<u8>,
    /// Its normalised contents.
    pub webhook: Webhook,
    /// Arrival time, Unix milliseconds.
    pub received_at: i64,
}

/// What a delivery changed. All zero (and `duplicate_body`) for a redelivery.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// The same bytes were stored before: nothing changed.
    pub duplicate_body: bool,
    /// New customer messages stored.
    pub messages_stored: u32,
    /// Messages already stored under the same wamid.
    pub messages_duplicate: u32,
    /// New receipts stored.
    pub statuses_stored: u32,
    /// Receipts already stored under the same (wamid, status).
    pub statuses_duplicate: u32,
    /// Messages and receipts for numbers without an inbox (kept in the raw event).
    pub unrouted: u32,
    /// `value.errors` and unusable elements recorded for admins.
    pub platform_errors: u32,
}

enum Job {
    Webhook(Delivery),
    DeadLetter {
        body: Vec<u8>,
        reason: String,
        received_at: i64,
    },
}

struct Pending {
    job: Job,
    ack: oneshot::Sender<Result<IngestReport, StoreError>>,
}

/// Handle to the writer task. Cheap to clone; the task stops when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Ingestor {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// Upper bound of deliveries per transaction: bounds the latency of the first in a batch.
const MAX_BATCH: usize = 512;

impl Ingestor {
    /// Starts the writer on `store`.
    pub fn spawn(store: Store, policy: InboxPolicy) -> (Ingestor, JoinHandle<()>) {
        // The queue is bounded: when the disk cannot keep up, handlers wait (and Meta
        // retries) instead of memory growing without limit.
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            store,
            policy,
            inboxes: HashMap::new(),
        };
        let task = tokio::spawn(writer.run(rx));
        (Ingestor { queue }, task)
    }

    /// Writes a delivery and returns once it is committed.
    pub async fn ingest(&self, delivery: Delivery) -> Result<IngestReport, StoreError> {
        self.submit(Job::Webhook(delivery)).await
    }

    /// Keeps a signed body that could not be parsed, so that nothing Meta sent is lost.
    pub async fn dead_letter(&self, body: Vec<u8>, reason: String) -> Result<(), StoreError> {
        self.submit(Job::DeadLetter {
            body,
            reason,
            received_at: now_ms(),
        })
        .await
        .map(|_| ())
    }

    async fn submit(&self, job: Job) -> Result<IngestReport, StoreError> {
        let (ack, answer) = oneshot::channel();
        self.queue
            .send(Pending { job, ack })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

struct Writer {
    store: Store,
    policy: InboxPolicy,
    /// phone_number_id → inbox id, only for committed inboxes (inboxes are never deleted).
    inboxes: HashMap<String, String>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch).await;
        }
    }

    /// Commits a batch in one transaction; on failure, retries each job alone so that one
    /// poisoned delivery only fails itself.
    async fn commit(&mut self, batch: &mut Vec<Pending>) {
        let jobs: Vec<&Job> = batch.iter().map(|p| &p.job).collect();
        match self.apply_all(&jobs).await {
            Ok(reports) => {
                for (pending, report) in batch.drain(..).zip(reports) {
                    let _ = pending.ack.send(Ok(report));
                }
            }
            Err(error) if batch.len() == 1 => {
                tracing::error!(%error, "ingest transaction failed");
                if let Some(pending) = batch.pop() {
                    let _ = pending.ack.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, size = batch.len(), "batch failed; retrying deliveries one by one");
                for pending in batch.drain(..) {
                    let result = self.apply_all(&[&pending.job]).await;
                    if let Err(error) = &result {
                        tracing::error!(%error, "ingest transaction failed");
                    }
                    let _ = pending
                        .ack
                        .send(result.map(|mut r| r.pop().unwrap_or_default()));
                }
            }
        }
    }

    async fn apply_all(&mut self, jobs: &[&Job]) -> Result<Vec<IngestReport>, StoreError> {
        let mut new_inboxes = HashMap::new();
        let mut tx = self.store.pool().begin().await?;
        let mut reports = Vec::with_capacity(jobs.len());
        for job in jobs {
            let report = match job {
                Job::Webhook(delivery) => {
                    let mut ctx = WriteContext {
                        conn: &mut tx,
                        policy: self.policy,
                        committed: &self.inboxes,
                        created: &mut new_inboxes,
                    };
                    ctx.webhook(delivery).await?
                }
                Job::DeadLetter {
                    body,
                    reason,
                    received_at,
                } => {
                    sqlx::query("INSERT INTO dead_letters (id, received_at, reason, body) VALUES ($1, $2, $3, $4)")
                        .bind(new_id())
                        .bind(*received_at)
                        .bind(reason.as_str())
                        .bind(body.as_slice())
                        .execute(&mut *tx)
                        .await?;
                    IngestReport::default()
                }
            };
            reports.push(report);
        }
        tx.commit().await?;
        self.inboxes.extend(new_inboxes);
        Ok(reports)
    }
}

/// One transaction's view while writing a delivery.
struct WriteContext<'a> {
    conn: &'a mut AnyConnection,
    policy: InboxPolicy,
    committed: &'a HashMap<String, String>,
    created: &'a mut HashMap<String, String>,
}

impl WriteContext<'_> {
    async fn webhook(&mut self, delivery: &Delivery) -> Result<IngestReport, StoreError> {
        let webhook = &delivery.webhook;
        let mut report = IngestReport::default();
        let body_sha256 = hex::encode(Sha256::digest(&delivery.body));
        let event_id = new_id();
        // The raw event goes first: a byte-identical redelivery stops here, and the first
        // statement of the transaction being a write takes SQLite's write lock at once.
        let stored = sqlx::query(
            "INSERT INTO webhook_events (id, body_sha256, body, received_at, routed, phone_number_ids) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (body_sha256) DO NOTHING RETURNING id",
        )
        .bind(&event_id)
        .bind(&body_sha256)
        .bind(delivery.body.as_slice())
        .bind(delivery.received_at)
        .bind(webhook.phone_number_ids.join(","))
        .fetch_optional(&mut *self.conn)
        .await?;
        if stored.is_none() {
            report.duplicate_body = true;
            return Ok(report);
        }

        let mut inboxes: HashMap<&str, Option<String>> = HashMap::new();
        for message in &webhook.messages {
            let pnid = message.business.phone_number_id.as_str();
            if !inboxes.contains_key(pnid) {
                let inbox = self.inbox_for(&message.business).await?;
                inboxes.insert(pnid, inbox);
            }
        }
        for status in &webhook.statuses {
            let pnid = status.business.phone_number_id.as_str();
            if !inboxes.contains_key(pnid) {
                let inbox = self.inbox_for(&status.business).await?;
                inboxes.insert(pnid, inbox);
            }
        }

        for message in &webhook.messages {
            match inboxes
                .get(message.business.phone_number_id.as_str())
                .cloned()
                .flatten()
            {
                Some(inbox_id) => {
                    if self
                        .message(&inbox_id, message, &event_id, delivery.received_at)
                        .await?
                    {
                        report.messages_stored += 1;
                    } else {
                        report.messages_duplicate += 1;
                    }
                }
                None => report.unrouted += 1,
            }
        }
        for status in &webhook.statuses {
            match inboxes
                .get(status.business.phone_number_id.as_str())
                .cloned()
                .flatten()
            {
                Some(_) => {
                    if self.status(status, &event_id, delivery.received_at).await? {
                        report.statuses_stored += 1;
                    } else {
                        report.statuses_duplicate += 1;
                    }
                }
                None => report.unrouted += 1,
            }
        }
        for error in &webhook.errors {
            self.platform_error(
                &event_id,
                Some(&error.business.phone_number_id),
                error.error.code,
                error.error.title.as_deref(),
                error.error.message.as_deref(),
                error.error.details.as_deref(),
                delivery.received_at,
            )
            .await?;
            report.platform_errors += 1;
        }
        for rejected in &webhook.rejected {
            let title = format!("unusable {} element", rejected.element);
            self.platform_error(
                &event_id,
                rejected.phone_number_id.as_deref(),
                None,
                Some(&title),
                None,
                Some(rejected.reason),
                delivery.received_at,
            )
            .await?;
            report.platform_errors += 1;
        }
        if report.unrouted > 0 {
            sqlx::query("UPDATE webhook_events SET routed = 0 WHERE id = $1")
                .bind(&event_id)
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(report)
    }

    async fn inbox_for(&mut self, business: &BusinessNumber) -> Result<Option<String>, StoreError> {
        let pnid = business.phone_number_id.as_str();
        if let Some(id) = self.committed.get(pnid).or_else(|| self.created.get(pnid)) {
            return Ok(Some(id.clone()));
        }
        let existing = sqlx::query("SELECT id FROM inboxes WHERE phone_number_id = $1")
            .bind(pnid)
            .fetch_optional(&mut *self.conn)
            .await?;
        if let Some(row) = existing {
            let id: String = row.try_get("id")?;
            self.created.insert(pnid.to_owned(), id.clone());
            return Ok(Some(id));
        }
        let create = match self.policy {
            InboxPolicy::Always => true,
            InboxPolicy::Never => false,
            InboxPolicy::FirstOnly => sqlx::query("SELECT id FROM inboxes LIMIT 1")
                .fetch_optional(&mut *self.conn)
                .await?
                .is_none(),
        };
        if !create {
            return Ok(None);
        }
        let name = match &business.display_phone_number {
            Some(display) => format!("WhatsApp +{display}"),
            None => format!("WhatsApp {pnid}"),
        };
        let id = upsert_inbox(
            self.conn,
            pnid,
            business.display_phone_number.as_deref(),
            business.waba_id.as_deref(),
            &name,
        )
        .await?;
        self.created.insert(pnid.to_owned(), id.clone());
        Ok(Some(id))
    }

    /// Stores one customer message; false when its wamid was already stored.
    async fn message(
        &mut self,
        inbox_id: &str,
        message: &InboundMessage,
        event_id: &str,
        received_at: i64,
    ) -> Result<bool, StoreError> {
        // Checked before the conversation is touched, so a redelivery to a resolved
        // conversation does not open an empty new one.
        let known = sqlx::query("SELECT id FROM messages WHERE wa_message_id = $1")
            .bind(&message.wa_message_id)
            .fetch_optional(&mut *self.conn)
            .await?;
        if known.is_some() {
            return Ok(false);
        }
        let sent_at = message.sent_at.saturating_mul(1000);
        let customer_id = self.customer(&message.customer, received_at).await?;
        let referral = message.referral.as_ref().map(serde_json::Value::to_string);
        let conversation_id = self
            .open_conversation(inbox_id, &customer_id, sent_at, referral.as_deref())
            .await?;
        let content = serde_json::to_string(&message.content)?;
        let context = (message.context != Default::default())
            .then(|| serde_json::to_string(&message.context))
            .transpose()?;
        let errors = (!message.errors.is_empty())
            .then(|| serde_json::to_string(&message.errors))
            .transpose()?;
        // The raw element is kept for what we cannot render yet; the raw event has the rest.
        let raw = matches!(message.content, MessageContent::Unsupported { .. })
            .then(|| message.raw.to_string());
        sqlx::query(
            "INSERT INTO messages (id, wa_message_id, conversation_id, direction, message_type, content, \
             context, errors, raw, sent_at, received_at, webhook_event_id) \
             VALUES ($1, $2, $3, 'inbound', $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(new_id())
        .bind(&message.wa_message_id)
        .bind(&conversation_id)
        .bind(&message.declared_type)
        .bind(content)
        .bind(context)
        .bind(errors)
        .bind(raw)
        .bind(sent_at)
        .bind(received_at)
        .bind(event_id)
        .execute(&mut *self.conn)
        .await?;
        if let MessageContent::System {
            new_wa_id: Some(new_wa_id),
            ..
        } = &message.content
        {
            // The customer changed number: follow them, unless the new number is already
            // someone we know (merging two customers is a CRM decision, not ingest's).
            sqlx::query(
                "UPDATE customers SET wa_id = $1, updated_at = $2 WHERE id = $3 \
                 AND NOT EXISTS (SELECT 1 FROM customers WHERE wa_id = $1)",
            )
            .bind(new_wa_id)
            .bind(received_at)
            .bind(&customer_id)
            .execute(&mut *self.conn)
            .await?;
        }
        Ok(true)
    }

    /// Finds the customer by WhatsApp id or user id, filling in what was missing.
    async fn customer(&mut self, who: &CustomerIdentity, now: i64) -> Result<String, StoreError> {
        let row = sqlx::query(
            "SELECT id, wa_id, user_id, profile_name, username FROM customers \
             WHERE wa_id = $1 OR user_id = $2 ORDER BY CASE WHEN wa_id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(who.wa_id.as_deref())
        .bind(who.user_id.as_deref())
        .fetch_optional(&mut *self.conn)
        .await?;
        let Some(row) = row else {
            let id = new_id();
            sqlx::query(
                "INSERT INTO customers (id, wa_id, user_id, profile_name, username, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&id)
            .bind(who.wa_id.as_deref())
            .bind(who.user_id.as_deref())
            .bind(who.profile_name.as_deref())
            .bind(who.username.as_deref())
            .bind(now)
            .execute(&mut *self.conn)
            .await?;
            return Ok(id);
        };
        let id: String = row.try_get("id")?;
        let wa_id: Option<String> = row.try_get("wa_id")?;
        let user_id: Option<String> = row.try_get("user_id")?;
        let profile_name: Option<String> = row.try_get("profile_name")?;
        let username: Option<String> = row.try_get("username")?;
        let learns =
            |known: &Option<String>, seen: &Option<String>| known.is_none() && seen.is_some();
        let changes =
            |known: &Option<String>, seen: &Option<String>| seen.is_some() && known != seen;
        if learns(&wa_id, &who.wa_id)
            || learns(&user_id, &who.user_id)
            || changes(&profile_name, &who.profile_name)
            || changes(&username, &who.username)
        {
            sqlx::query(
                "UPDATE customers SET wa_id = COALESCE(wa_id, $2), user_id = COALESCE(user_id, $3), \
                 profile_name = COALESCE($4, profile_name), username = COALESCE($5, username), updated_at = $6 \
                 WHERE id = $1",
            )
            .bind(&id)
            .bind(who.wa_id.as_deref().filter(|_| learns(&wa_id, &who.wa_id)))
            .bind(who.user_id.as_deref().filter(|_| learns(&user_id, &who.user_id)))
            .bind(who.profile_name.as_deref())
            .bind(who.username.as_deref())
            .bind(now)
            .execute(&mut *self.conn)
            .await?;
        }
        Ok(id)
    }

    /// The open conversation of (inbox, customer), created when there is none. A message
    /// after a conversation was resolved starts a new conversation: resolved threads stay
    /// closed records, and the new one goes back through routing.
    async fn open_conversation(
        &mut self,
        inbox_id: &str,
        customer_id: &str,
        sent_at: i64,
        referral: Option<&str>,
    ) -> Result<String, StoreError> {
        let open = sqlx::query(
            "SELECT id FROM conversations WHERE inbox_id = $1 AND customer_id = $2 AND state <> 'resolved'",
        )
        .bind(inbox_id)
        .bind(customer_id)
        .fetch_optional(&mut *self.conn)
        .await?;
        if let Some(row) = open {
            let id: String = row.try_get("id")?;
            // A customer writing moves a pending conversation (waiting on them) back to open.
            sqlx::query(
                "UPDATE conversations SET \
                 last_message_at = CASE WHEN last_message_at < $2 THEN $2 ELSE last_message_at END, \
                 last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $2 THEN $2 ELSE last_inbound_at END, \
                 state = CASE WHEN state = 'pending' THEN 'open' ELSE state END, \
                 referral = COALESCE(referral, $3) WHERE id = $1",
            )
            .bind(&id)
            .bind(sent_at)
            .bind(referral)
            .execute(&mut *self.conn)
            .await?;
            return Ok(id);
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO conversations (id, inbox_id, customer_id, state, created_at, last_message_at, \
             last_inbound_at, referral) VALUES ($1, $2, $3, 'open', $4, $5, $5, $6)",
        )
        .bind(&id)
        .bind(inbox_id)
        .bind(customer_id)
        .bind(now_ms())
        .bind(sent_at)
        .bind(referral)
        .execute(&mut *self.conn)
        .await?;
        Ok(id)
    }

    /// Stores a receipt once and merges it into the message's delivery state; false when
    /// this (wamid, status) was already stored.
    async fn status(
        &mut self,
        status: &StatusUpdate,
        event_id: &str,
        received_at: i64,
    ) -> Result<bool, StoreError> {
        let occurred_at = status.occurred_at.saturating_mul(1000);
        let error = status.error.as_ref();
        let stored = sqlx::query(
            "INSERT INTO message_statuses (id, wa_message_id, status, occurred_at, recipient_id, error_code, \
             error_title, error_details, billing, callback_data, webhook_event_id, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (wa_message_id, status) DO NOTHING RETURNING id",
        )
        .bind(new_id())
        .bind(&status.wa_message_id)
        .bind(&status.status)
        .bind(occurred_at)
        .bind(status.recipient_id.as_deref().or(status.recipient_user_id.as_deref()))
        .bind(error.and_then(|e| e.code))
        .bind(error.and_then(|e| e.title.as_deref()))
        .bind(error.and_then(|e| e.details.as_deref()))
        .bind(status.billing.as_ref().map(serde_json::Value::to_string))
        .bind(status.callback_data.as_deref())
        .bind(event_id)
        .bind(received_at)
        .fetch_optional(&mut *self.conn)
        .await?;
        if stored.is_none() {
            return Ok(false);
        }
        if status.state.rank() > 0 {
            // Only a higher rank replaces the state: read never falls back to delivered.
            sqlx::query(
                "INSERT INTO message_delivery (wa_message_id, state, state_rank, occurred_at, error_code, \
                 error_title, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (wa_message_id) DO UPDATE SET state = excluded.state, \
                 state_rank = excluded.state_rank, occurred_at = excluded.occurred_at, \
                 error_code = COALESCE(excluded.error_code, message_delivery.error_code), \
                 error_title = COALESCE(excluded.error_title, message_delivery.error_title), \
                 updated_at = excluded.updated_at \
                 WHERE excluded.state_rank > message_delivery.state_rank",
            )
            .bind(&status.wa_message_id)
            .bind(status.state.as_str())
            .bind(status.state.rank())
            .bind(occurred_at)
            .bind(error.and_then(|e| e.code))
            .bind(error.and_then(|e| e.title.as_deref()))
            .bind(received_at)
            .execute(&mut *self.conn)
            .await?;
        }
        Ok(true)
    }

    #[expect(clippy::too_many_arguments, reason = "one row's columns, written once")]
    async fn platform_error(
        &mut self,
        event_id: &str,
        phone_number_id: Option<&str>,
        code: Option<i64>,
        title: Option<&str>,
        message: Option<&str>,
        details: Option<&str>,
        received_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO platform_errors (id, webhook_event_id, phone_number_id, code, title, message, details, \
             received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id())
        .bind(event_id)
        .bind(phone_number_id)
        .bind(code)
        .bind(title)
        .bind(message)
        .bind(details)
        .bind(received_at)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }
}

/// Inserts the inbox if its number is new; returns the inbox id either way.
pub(crate) async fn upsert_inbox(
    conn: &mut AnyConnection,
    phone_number_id: &str,
    display_phone_number: Option<&str>,
    waba_id: Option<&str>,
    name: &str,
) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO inboxes (id, phone_number_id, display_phone_number, waba_id, name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (phone_number_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(phone_number_id)
    .bind(display_phone_number)
    .bind(waba_id)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query("SELECT id FROM inboxes WHERE phone_number_id = $1")
        .bind(phone_number_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("id")?)
}
