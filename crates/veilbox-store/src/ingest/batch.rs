//! Writing one group-commit batch with set-based statements.
//!
//! A batch of deliveries costs a handful of multi-row statements (raw events, duplicate
//! check, customers, conversations, messages, receipts) instead of several statements per
//! message: on SQLite each statement is a round trip to the connection's thread, and that,
//! not the disk, is what bounds ingest once commits are grouped.
//!
//! Semantics are those of writing the deliveries one after another in batch order: the first
//! occurrence of a body, wamid or (wamid, status) wins, and later ones count as duplicates.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};
use veilbox_whatsapp::webhook::{
    BusinessNumber, CustomerIdentity, InboundMessage, MessageContent, StatusUpdate,
};

use super::{upsert_inbox, Delivery, InboxPolicy, IngestReport, RawEvent};
use crate::events::StoreEvent;
use crate::ids::new_id;
use crate::keyring::{KeyRing, OwnerKey};
use crate::{now_ms, Backend, StoreError};

/// Rows per multi-row statement: keeps parameters far below SQLite's 32,766 and
/// PostgreSQL's 65,535 limits.
const ROWS_PER_STATEMENT: usize = 200;

pub(super) struct BatchWrite<'a> {
    conn: &'a mut AnyConnection,
    /// `$1, $2` (PostgreSQL) or `?, ?` (SQLite). SQLite resolves a named parameter by a
    /// linear search of the statement's names, which makes a 1,000-parameter insert
    /// quadratic; positional `?` are bound by index.
    numbered: bool,
    policy: InboxPolicy,
    committed: &'a HashMap<String, String>,
    created: HashMap<String, String>,
    /// What changed, published once the batch is durable.
    pub(super) events: Vec<StoreEvent>,
    keyring: &'a KeyRing,
    /// The data key of every customer this batch writes for.
    customer_keys: HashMap<String, Arc<OwnerKey>>,
    /// Identities committed by earlier batches (see `Writer::identities`).
    identities: &'a HashMap<String, Identity>,
    /// Identities this batch wrote or opened, remembered once it commits.
    learned: HashMap<String, Identity>,
    wa_indexes: &'a mut HashMap<String, String>,
}

/// Two customers one sender turned out to be: (kept, other, kind).
type Conflict = (String, String, &'static str);

/// A customer's identity fields, opened: what ingest compares a sender with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    wa_number: Option<String>,
    profile_name: Option<String>,
    username: Option<String>,
    /// The row's `updated_at` these values are from: a row changed since (by another
    /// node) is opened again.
    updated_at: i64,
}

/// A message that survived deduplication, with where it goes.
struct NewMessage<'d> {
    id: String,
    job: usize,
    message: &'d InboundMessage,
    event_id: &'d str,
    received_at: i64,
    customer_id: String,
    conversation_id: String,
}

/// A customer as the batch sees them: `wa_id` is the blind index of their number, the
/// other personal fields are opened (and sealed again when they change).
struct KnownCustomer {
    id: String,
    /// The row's `updated_at` as read, or as this batch writes it.
    updated_at: i64,
    wa_id: Option<String>,
    wa_number: Option<String>,
    user_id: Option<String>,
    profile_name: Option<String>,
    username: Option<String>,
}

impl<'a> BatchWrite<'a> {
    pub(super) fn new(
        conn: &'a mut AnyConnection,
        backend: Backend,
        policy: InboxPolicy,
        committed: &'a HashMap<String, String>,
        keyring: &'a KeyRing,
        identities: &'a HashMap<String, Identity>,
        wa_indexes: &'a mut HashMap<String, String>,
    ) -> Self {
        BatchWrite {
            conn,
            numbered: backend == Backend::Postgres,
            policy,
            committed,
            created: HashMap::new(),
            events: Vec::new(),
            keyring,
            customer_keys: HashMap::new(),
            identities,
            learned: HashMap::new(),
            wa_indexes,
        }
    }

    /// The blind index of a WhatsApp id, computed once per id.
    fn wa_index(&mut self, wa_id: &str) -> String {
        if let Some(index) = self.wa_indexes.get(wa_id) {
            return index.clone();
        }
        let index = self.keyring.wa_index(wa_id);
        self.wa_indexes.insert(wa_id.to_owned(), index.clone());
        index
    }

    /// The data key of a customer this batch has read or created.
    fn key_of(&self, customer_id: &str) -> Result<&OwnerKey, StoreError> {
        self.customer_keys
            .get(customer_id)
            .map(|k| &**k)
            .ok_or(StoreError::Unreadable)
    }

    /// Inboxes created or first seen in this batch (valid only once it commits), and the
    /// events to publish once it is durable.
    pub(super) fn finish(
        self,
    ) -> (
        HashMap<String, String>,
        Vec<StoreEvent>,
        HashMap<String, Identity>,
    ) {
        (self.created, self.events, self.learned)
    }

    /// Writes `deliveries` (new bodies) and `reprocessed` (quarantined raw events, already
    /// stored under their event id).
    pub(super) async fn apply<'d>(
        &mut self,
        deliveries: &[(usize, &'d Delivery, &'d RawEvent)],
        reprocessed: &[(usize, &'d Delivery, String)],
        reports: &mut [IngestReport],
    ) -> Result<(), StoreError> {
        let mut fresh = self.raw_events(deliveries, reports).await?;
        fresh.extend(reprocessed.iter().cloned());
        // phone_number_id → inbox id (None: unrouted).
        let mut inboxes: HashMap<String, Option<String>> = HashMap::new();
        for (_, delivery, _) in &fresh {
            let numbers = delivery
                .webhook
                .messages
                .iter()
                .map(|m| &m.business)
                .chain(delivery.webhook.echoes.iter().map(|m| &m.business))
                .chain(delivery.webhook.preferences.iter().map(|p| &p.business))
                .chain(delivery.webhook.statuses.iter().map(|s| &s.business));
            for business in numbers {
                if !inboxes.contains_key(&business.phone_number_id) {
                    let inbox = self.inbox_for(business).await?;
                    inboxes.insert(business.phone_number_id.clone(), inbox);
                }
            }
        }
        let routed = |pnid: &str| inboxes.get(pnid).cloned().flatten();

        self.messages(&fresh, &routed, reports).await?;
        self.echoes(&fresh, &routed, reports).await?;
        self.preferences(&fresh, &routed, reports).await?;
        self.statuses(&fresh, &routed, reports).await?;
        for (job, delivery, event_id) in &fresh {
            self.platform_errors(delivery, event_id, &mut reports[*job])
                .await?;
            self.account_alerts(delivery, &mut reports[*job]).await?;
            if reports[*job].unrouted > 0 {
                sqlx::query("UPDATE webhook_events SET routed = 0 WHERE id = $1")
                    .bind(event_id.as_str())
                    .execute(&mut *self.conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Stores each new body once; returns the deliveries whose body is new, with their
    /// event id. A body seen before (or earlier in this batch) is a duplicate: nothing more.
    async fn raw_events<'d>(
        &mut self,
        deliveries: &[(usize, &'d Delivery, &'d RawEvent)],
        reports: &mut [IngestReport],
    ) -> Result<Vec<(usize, &'d Delivery, String)>, StoreError> {
        let mut first_by_hash: HashSet<&str> = HashSet::new();
        let mut candidates = Vec::new();
        for (job, delivery, raw) in deliveries {
            if !first_by_hash.insert(raw.sha256.as_str()) {
                reports[*job].duplicate_body = true;
                continue;
            }
            candidates.push((*job, *delivery, *raw));
        }
        let mut stored: HashSet<String> = HashSet::new();
        for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO webhook_events (id, body_sha256, body, received_at, routed, phone_number_ids) VALUES {} \
                 ON CONFLICT (body_sha256) DO NOTHING RETURNING body_sha256",
                values(self.numbered, chunk.len(), 5, Some("1"))
            );
            let mut query = sqlx::query::<Any>(&sql);
            for (_, delivery, raw) in chunk {
                // Sealed by the caller (see `RawEvent`).
                query = query
                    .bind(raw.id.as_str())
                    .bind(raw.sha256.as_str())
                    .bind(raw.sealed.as_slice())
                    .bind(delivery.received_at)
                    .bind(delivery.webhook.phone_number_ids.join(","));
            }
            for row in query.fetch_all(&mut *self.conn).await? {
                stored.insert(row.try_get("body_sha256")?);
            }
        }
        let mut fresh = Vec::with_capacity(stored.len());
        for (job, delivery, raw) in candidates {
            if stored.contains(&raw.sha256) {
                fresh.push((job, delivery, raw.id.clone()));
            } else {
                reports[job].duplicate_body = true;
            }
        }
        Ok(fresh)
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

    /// The customer of each candidate (the sender of a message, the recipient of an echo),
    /// found or made; identity conflicts are counted on their jobs.
    async fn customers_of(
        &mut self,
        candidates: &[Candidate<'_>],
        reports: &mut [IngestReport],
    ) -> Result<Vec<String>, StoreError> {
        let people: Vec<_> = candidates.iter().map(|c| (&c.1.customer, c.3)).collect();
        let (customers, conflicted) = self.customers(&people).await?;
        for k in conflicted {
            reports[candidates[k].0].identity_conflicts += 1;
        }
        Ok(customers)
    }

    /// The candidates still to store: not stored by an earlier delivery, and not an edit or
    /// deletion that changed the `direction` message it names (one whose message is not
    /// ours to change, unknown or older than retention, is kept as a message of its own).
    async fn new_messages<'d>(
        &mut self,
        candidates: Vec<Candidate<'d>>,
        direction: &'static str,
        reports: &mut [IngestReport],
    ) -> Result<Vec<Candidate<'d>>, StoreError> {
        let known = self.stored_wamids(&candidates).await?;
        let mut survivors = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let (job, message, _, received_at, _) = candidate;
            if known.contains(&message.wa_message_id) {
                reports[job].messages_duplicate += 1;
            } else if amendment_of(message).is_some()
                && self
                    .amend(message, received_at, direction, &mut reports[job])
                    .await?
            {
                // applied to the message it names
            } else {
                survivors.push(candidate);
            }
        }
        Ok(survivors)
    }

    /// The wamids among `candidates` stored by an earlier delivery.
    async fn stored_wamids(
        &mut self,
        candidates: &[Candidate<'_>],
    ) -> Result<HashSet<String>, StoreError> {
        let ids: Vec<&str> = candidates
            .iter()
            .map(|c| c.1.wa_message_id.as_str())
            .collect();
        self.select_in(
            "SELECT wa_message_id FROM messages WHERE wa_message_id IN",
            &ids,
        )
        .await?
        .iter()
        .map(|row| row.try_get("wa_message_id").map_err(StoreError::from))
        .collect()
    }

    async fn messages(
        &mut self,
        fresh: &[(usize, &Delivery, String)],
        routed: &impl Fn(&str) -> Option<String>,
        reports: &mut [IngestReport],
    ) -> Result<(), StoreError> {
        let candidates = routed_candidates(fresh, routed, reports, |w| &w.messages);
        if candidates.is_empty() {
            return Ok(());
        }
        // Already stored by an earlier delivery: checked before any conversation is touched,
        // so a redelivery to a resolved conversation does not open an empty new one.
        let survivors = self.new_messages(candidates, "inbound", reports).await?;
        if survivors.is_empty() {
            return Ok(());
        }
        let customers = self.customers_of(&survivors, reports).await?;
        let pairs: Vec<(String, String)> = survivors
            .iter()
            .zip(&customers)
            .map(|(s, customer)| (s.4.clone(), customer.clone()))
            .collect();
        let conversations = self
            .conversations(&pairs, &survivors.iter().map(|s| s.1).collect::<Vec<_>>())
            .await?;
        let rows: Vec<NewMessage<'_>> = survivors
            .into_iter()
            .zip(customers)
            .zip(conversations)
            .map(
                |(((job, message, event_id, received_at, _), customer_id), conversation_id)| {
                    NewMessage {
                        id: new_id(),
                        job,
                        message,
                        event_id,
                        received_at,
                        customer_id,
                        conversation_id,
                    }
                },
            )
            .collect();
        self.insert_messages(&rows, "inbound").await?;
        self.queue_media_fetches(&rows).await?;
        let mut touched = HashSet::new();
        for row in &rows {
            reports[row.job].messages_stored += 1;
            self.events.push(StoreEvent::Message {
                conversation_id: row.conversation_id.clone(),
                message_id: row.id.clone(),
            });
            if touched.insert(row.conversation_id.as_str()) {
                self.events.push(StoreEvent::Conversation {
                    conversation_id: row.conversation_id.clone(),
                });
            }
            if let MessageContent::System {
                new_wa_id: Some(new_wa_id),
                ..
            } = &row.message.content
            {
                // The customer changed number: follow them, unless the new number is already
                // someone we know (merging two customers is a CRM decision, not ingest's).
                let index = self.keyring.wa_index(new_wa_id);
                let number = self.key_of(&row.customer_id)?.seal(
                    "customers",
                    "wa_number",
                    &row.customer_id,
                    new_wa_id,
                );
                let followed = sqlx::query(
                    "UPDATE customers SET wa_id = $1, wa_number = $4, updated_at = $2 WHERE id = $3 AND erased_at IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM customers WHERE wa_id = $1)",
                )
                .bind(index)
                .bind(row.received_at)
                .bind(row.customer_id.as_str())
                .bind(number)
                .execute(&mut *self.conn)
                .await?;
                if followed.rows_affected() == 1 {
                    if let Some(identity) = self.learned.get_mut(&row.customer_id) {
                        identity.wa_number = Some(new_wa_id.clone());
                    }
                }
            }
            if let MessageContent::System {
                new_user_id: Some(new_user_id),
                ..
            } = &row.message.content
            {
                self.follow_user_id(row, new_user_id, &mut reports[row.job])
                    .await?;
            }
        }
        Ok(())
    }

    /// Messages the business sent from the WhatsApp Business app (`smb_message_echoes`):
    /// stored as outbound messages of the recipient's conversation, with no author (no one
    /// in Veilbox wrote them) and no outbox row (Veilbox did not send them). They neither
    /// open the customer's window nor count as the customer writing; an edit or deletion
    /// made in the app changes the message it names.
    async fn echoes(
        &mut self,
        fresh: &[(usize, &Delivery, String)],
        routed: &impl Fn(&str) -> Option<String>,
        reports: &mut [IngestReport],
    ) -> Result<(), StoreError> {
        let candidates = routed_candidates(fresh, routed, reports, |w| &w.echoes);
        if candidates.is_empty() {
            return Ok(());
        }
        let survivors = self.new_messages(candidates, "outbound", reports).await?;
        if survivors.is_empty() {
            return Ok(());
        }
        let customers = self.customers_of(&survivors, reports).await?;
        let mut rows = Vec::with_capacity(survivors.len());
        for ((job, echo, event_id, received_at, inbox_id), customer_id) in
            survivors.into_iter().zip(customers)
        {
            let conversation_id = self
                .echo_conversation(&inbox_id, &customer_id, echo.sent_at.saturating_mul(1000))
                .await?;
            rows.push(NewMessage {
                id: new_id(),
                job,
                message: echo,
                event_id,
                received_at,
                customer_id,
                conversation_id,
            });
        }
        self.insert_messages(&rows, "outbound").await?;
        for row in &rows {
            reports[row.job].echoes_stored += 1;
            self.events.push(StoreEvent::Message {
                conversation_id: row.conversation_id.clone(),
                message_id: row.id.clone(),
            });
            self.events.push(StoreEvent::Conversation {
                conversation_id: row.conversation_id.clone(),
            });
        }
        Ok(())
    }

    /// A customer's marketing stop or resume (`user_preferences`), applied to their record
    /// unless a newer report was applied already (redeliveries and late reports change
    /// nothing). A report about someone Veilbox does not know yet makes their record.
    async fn preferences(
        &mut self,
        fresh: &[(usize, &Delivery, String)],
        routed: &impl Fn(&str) -> Option<String>,
        reports: &mut [IngestReport],
    ) -> Result<(), StoreError> {
        for (job, delivery, _) in fresh {
            for preference in &delivery.webhook.preferences {
                if routed(&preference.business.phone_number_id).is_none() {
                    reports[*job].unrouted += 1;
                    continue;
                }
                if preference.category != "marketing_messages" {
                    continue;
                }
                let at = preference.at.saturating_mul(1000);
                let (customers, _) = self
                    .customers(&[(&preference.customer, delivery.received_at)])
                    .await?;
                let Some(customer_id) = customers.first() else {
                    continue;
                };
                let applied = sqlx::query(
                    "UPDATE customers SET marketing_opt_out_at = $2, marketing_preference_at = $3 \
                     WHERE id = $1 AND erased_at IS NULL \
                     AND (marketing_preference_at IS NULL OR marketing_preference_at < $3)",
                )
                .bind(customer_id.as_str())
                .bind(preference.opted_out.then_some(at))
                .bind(at)
                .execute(&mut *self.conn)
                .await?;
                if applied.rows_affected() == 1 {
                    reports[*job].preferences_applied += 1;
                }
            }
        }
        Ok(())
    }

    /// The conversation an echo to `customer_id` belongs in: the open one, or a new one
    /// waiting on the customer (`pending`: the business wrote last), whose reply then
    /// reopens it.
    async fn echo_conversation(
        &mut self,
        inbox_id: &str,
        customer_id: &str,
        sent_at: i64,
    ) -> Result<String, StoreError> {
        let open = sqlx::query(
            "SELECT id FROM conversations WHERE inbox_id = $1 AND customer_id = $2 \
             AND state <> 'resolved' ORDER BY created_at DESC LIMIT 1",
        )
        .bind(inbox_id)
        .bind(customer_id)
        .fetch_optional(&mut *self.conn)
        .await?;
        if let Some(row) = open {
            let id: String = row.try_get("id")?;
            sqlx::query(
                "UPDATE conversations SET last_message_at = $2 \
                 WHERE id = $1 AND (last_message_at IS NULL OR last_message_at < $2)",
            )
            .bind(id.as_str())
            .bind(sent_at)
            .execute(&mut *self.conn)
            .await?;
            return Ok(id);
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO conversations (id, inbox_id, customer_id, state, created_at, last_message_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5)",
        )
        .bind(id.as_str())
        .bind(inbox_id)
        .bind(customer_id)
        .bind(now_ms())
        .bind(sent_at)
        .execute(&mut *self.conn)
        .await?;
        Ok(id)
    }

    /// Applies an edit or a revoke to the message it names, if that is an inbound message of
    /// the same customer (or of a customer merged into theirs); returns false when there is
    /// no such message. A redelivered amendment changes nothing.
    async fn amend(
        &mut self,
        message: &InboundMessage,
        received_at: i64,
        direction: &'static str,
        report: &mut IngestReport,
    ) -> Result<bool, StoreError> {
        let Some((original_id, new_content)) = amendment_of(message) else {
            return Ok(false);
        };
        // A customer amends what they wrote; the business (from its app) what it sent.
        let original = sqlx::query(
            "SELECT m.id, m.conversation_id, m.content, c.customer_id FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.wa_message_id = $1 AND m.direction = $2",
        )
        .bind(original_id)
        .bind(direction)
        .fetch_optional(&mut *self.conn)
        .await?;
        let Some(original) = original else {
            return Ok(false);
        };
        let message_id: String = original.try_get("id")?;
        let conversation_id: String = original.try_get("conversation_id")?;
        let customer_id: String = original.try_get("customer_id")?;
        // Only the customer who wrote a message (or to whom it was sent) may see it change.
        let index = message.customer.wa_id.as_deref().map(|w| self.wa_index(w));
        let same_sender = sqlx::query(
            "SELECT 1 AS yes FROM customers WHERE (id = $1 OR merged_into = $1) AND erased_at IS NULL \
             AND ((wa_id IS NOT NULL AND wa_id = $2) OR (user_id IS NOT NULL AND user_id = $3))",
        )
        .bind(customer_id.as_str())
        .bind(index.as_deref())
        .bind(message.customer.user_id.as_deref())
        .fetch_optional(&mut *self.conn)
        .await?
        .is_some();
        if !same_sender {
            return Ok(false);
        }
        let keys = self
            .keyring
            .customer_keys(self.conn, &[customer_id.as_str()])
            .await?;
        let Some(key) = keys.get(&customer_id) else {
            return Ok(false);
        };
        let revision_id = new_id();
        let amended_at = message.sent_at.saturating_mul(1000);
        let previous = match new_content {
            Some(_) => {
                let sealed: String = original.try_get("content")?;
                if sealed == crate::erasure::ERASED_CONTENT {
                    return Ok(false);
                }
                let text = key.open("messages", "content", &message_id, &sealed)?;
                Some(key.seal("message_revisions", "previous_content", &revision_id, &text))
            }
            None => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO message_revisions (id, message_id, amendment_wa_message_id, kind, previous_content, \
             amended_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (amendment_wa_message_id) DO NOTHING",
        )
        .bind(revision_id.as_str())
        .bind(message_id.as_str())
        .bind(message.wa_message_id.as_str())
        .bind(if new_content.is_some() { "edit" } else { "revoke" })
        .bind(previous)
        .bind(amended_at)
        .bind(received_at)
        .execute(&mut *self.conn)
        .await?;
        if inserted.rows_affected() == 0 {
            report.messages_duplicate += 1;
            return Ok(true);
        }
        match new_content {
            Some(content) => {
                let sealed = key.seal(
                    "messages",
                    "content",
                    &message_id,
                    &serde_json::to_string(content)?,
                );
                sqlx::query("UPDATE messages SET content = $2, edited_at = $3 WHERE id = $1")
                    .bind(message_id.as_str())
                    .bind(sealed)
                    .bind(amended_at)
                    .execute(&mut *self.conn)
                    .await?;
            }
            None => {
                sqlx::query("UPDATE messages SET revoked_at = $2 WHERE id = $1")
                    .bind(message_id.as_str())
                    .bind(amended_at)
                    .execute(&mut *self.conn)
                    .await?;
            }
        }
        report.amendments += 1;
        self.events.push(StoreEvent::Message {
            conversation_id,
            message_id,
        });
        Ok(true)
    }

    /// The customer's user id (BSUID) was rotated: their next messages come under the new
    /// one. When another customer already holds it (the new id wrote before this notice
    /// came), the two are one user: recorded as a conflict and merged after commit.
    async fn follow_user_id(
        &mut self,
        row: &NewMessage<'_>,
        new_user_id: &str,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        if row.message.customer.user_id.as_deref() == Some(new_user_id) {
            return Ok(());
        }
        let holder = sqlx::query(
            "SELECT id FROM customers WHERE user_id = $1 AND erased_at IS NULL AND merged_into IS NULL",
        )
        .bind(new_user_id)
        .fetch_optional(&mut *self.conn)
        .await?;
        match holder {
            None => {
                sqlx::query(
                    "UPDATE customers SET user_id = $1, updated_at = $2 WHERE id = $3 AND erased_at IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM customers WHERE user_id = $1)",
                )
                .bind(new_user_id)
                .bind(row.received_at)
                .bind(row.customer_id.as_str())
                .execute(&mut *self.conn)
                .await?;
            }
            Some(holder) => {
                let holder: String = holder.try_get("id")?;
                if holder != row.customer_id {
                    let conflict = (row.customer_id.clone(), holder, "user_id_rotation");
                    report.identity_conflicts +=
                        self.record_conflicts(&[conflict], row.received_at).await?;
                }
            }
        }
        Ok(())
    }

    /// The customer id of each sender, in order: found by WhatsApp id or user id (learning
    /// whichever was missing, and display-name changes), or created; and the positions of
    /// the senders whose phone and user id led to two customers (recorded as conflicts).
    async fn customers(
        &mut self,
        senders: &[(&CustomerIdentity, i64)],
    ) -> Result<(Vec<String>, Vec<usize>), StoreError> {
        let now = senders.first().map(|s| s.1).unwrap_or_else(now_ms);
        // Each sender's number by its blind index: the store never sees it in clear.
        let seen_indexes: Vec<Option<String>> = senders
            .iter()
            .map(|(c, _)| c.wa_id.as_deref().map(|w| self.wa_index(w)))
            .collect();
        let wa_indexes: Vec<&str> = seen_indexes.iter().flatten().map(String::as_str).collect();
        let user_ids: Vec<&str> = senders
            .iter()
            .filter_map(|(c, _)| c.user_id.as_deref())
            .collect();
        let mut rows = Vec::new();
        for (column, values) in [("wa_id", &wa_indexes), ("user_id", &user_ids)] {
            let sql = format!(
                "SELECT id, wa_id, wa_number, user_id, profile_name, username, merged_into, updated_at \
                 FROM customers WHERE erased_at IS NULL AND {column} IN"
            );
            rows.extend(self.select_in(&sql, &dedup(values)).await?);
        }
        // A customer merged into another is an alias: their number and user id now lead
        // to the customer they were merged into, who is read as well.
        let mut aliases: Vec<(Option<String>, Option<String>, String)> = Vec::new();
        for row in &rows {
            if let Some(target) = row.try_get::<Option<String>, _>("merged_into")? {
                aliases.push((row.try_get("wa_id")?, row.try_get("user_id")?, target));
            }
        }
        let targets: Vec<&str> = aliases.iter().map(|a| a.2.as_str()).collect();
        if !targets.is_empty() {
            let sql = "SELECT id, wa_id, wa_number, user_id, profile_name, username, merged_into, updated_at \
                 FROM customers WHERE erased_at IS NULL AND merged_into IS NULL AND id IN";
            rows.extend(self.select_in(sql, &dedup(&targets)).await?);
        }
        let mut known: Vec<KnownCustomer> = Vec::new();
        let mut sealed = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let alias = row.try_get::<Option<String>, _>("merged_into")?.is_some();
            if !alias && !known.iter().any(|k| k.id == id) {
                sealed.push(SealedCustomer::read(row)?);
                known.push(KnownCustomer {
                    id,
                    updated_at: row.try_get("updated_at")?,
                    wa_id: row.try_get("wa_id")?,
                    user_id: row.try_get("user_id")?,
                    wa_number: None,
                    profile_name: None,
                    username: None,
                });
            }
        }
        let ids: Vec<&str> = known.iter().map(|k| k.id.as_str()).collect();
        let keys = self.keyring.customer_keys(self.conn, &ids).await?;
        let mut inserts: Vec<usize> = Vec::new();
        let mut updates: HashSet<usize> = HashSet::new();
        let mut new_keys = Vec::new();
        for (i, (k, sealed)) in known.iter_mut().zip(&sealed).enumerate() {
            match keys.get(&k.id) {
                Some(key)
                    if self
                        .identities
                        .get(&k.id)
                        .is_some_and(|known| known.updated_at == k.updated_at) =>
                {
                    if let Some(known) = self.identities.get(&k.id) {
                        k.wa_number = known.wa_number.clone();
                        k.profile_name = known.profile_name.clone();
                        k.username = known.username.clone();
                    }
                    self.customer_keys.insert(k.id.clone(), key.clone());
                }
                Some(key) => {
                    k.wa_number =
                        key.open_opt("customers", "wa_number", &k.id, sealed.wa_number.as_deref())?;
                    k.profile_name = key.open_opt(
                        "customers",
                        "profile_name",
                        &k.id,
                        sealed.profile_name.as_deref(),
                    )?;
                    k.username =
                        key.open_opt("customers", "username", &k.id, sealed.username.as_deref())?;
                    self.customer_keys.insert(k.id.clone(), key.clone());
                }
                None => {
                    // Their key is gone (restored from a backup older than the key?): what
                    // was sealed under it cannot be read, so start them a new one and
                    // seal what this message tells us again, rather than drop the message.
                    tracing::warn!(customer = %k.id, "customer without a data key; making a new one");
                    let (key, stored) = self.keyring.new_customer_key(&k.id)?;
                    new_keys.push(stored);
                    self.customer_keys.insert(k.id.clone(), key);
                    updates.insert(i);
                }
            }
        }
        let mut ids = Vec::with_capacity(senders.len());
        let mut conflicts: Vec<Conflict> = Vec::new();
        let mut conflicted_senders = Vec::new();
        let no_user_id: Option<String> = None;
        for (sender, ((who, _), index)) in senders.iter().zip(&seen_indexes).enumerate() {
            let through_alias = aliases
                .iter()
                .find(|(wa, user, _)| {
                    (index.is_some() && wa == index)
                        || (who.user_id.is_some() && *user == who.user_id)
                })
                .and_then(|(_, _, target)| known.iter().position(|k| &k.id == target));
            if let Some(i) = through_alias {
                // The merged customer's own details stay as the merge left them.
                ids.push(known[i].id.clone());
                continue;
            }
            let found = index
                .as_ref()
                .and_then(|w| known.iter().position(|k| k.wa_id.as_ref() == Some(w)))
                .or_else(|| {
                    who.user_id
                        .as_ref()
                        .and_then(|u| known.iter().position(|k| k.user_id.as_ref() == Some(u)))
                });
            match found {
                Some(i) => {
                    // The phone leads to this customer and the user id to another: one
                    // WhatsApp user under two customers. The message stays with the phone's
                    // (WhatsApp keys users by number); the other is merged in after commit.
                    let holder = who
                        .user_id
                        .as_ref()
                        .and_then(|u| known.iter().position(|k| k.user_id.as_ref() == Some(u)))
                        .filter(|&j| j != i);
                    if let Some(j) = holder {
                        let pair = (known[i].id.clone(), known[j].id.clone(), "user_id");
                        if !conflicts.contains(&pair) {
                            conflicts.push(pair);
                        }
                        conflicted_senders.push(sender);
                    }
                    let seen_user_id = if holder.is_some() {
                        &no_user_id
                    } else {
                        &who.user_id
                    };
                    let k = &mut known[i];
                    let mut changed = false;
                    for (mine, seen, overwrite) in [
                        (&mut k.wa_id, index, false),
                        (&mut k.wa_number, &who.wa_id, false),
                        (&mut k.user_id, seen_user_id, false),
                        (&mut k.profile_name, &who.profile_name, true),
                        (&mut k.username, &who.username, true),
                    ] {
                        if seen.is_some() && *mine != *seen && (overwrite || mine.is_none()) {
                            *mine = seen.clone();
                            changed = true;
                        }
                    }
                    if changed && !inserts.contains(&i) {
                        updates.insert(i);
                    }
                    ids.push(k.id.clone());
                }
                None => {
                    let k = KnownCustomer {
                        id: new_id(),
                        updated_at: now,
                        wa_id: index.clone(),
                        wa_number: who.wa_id.clone(),
                        user_id: who.user_id.clone(),
                        profile_name: who.profile_name.clone(),
                        username: who.username.clone(),
                    };
                    let (key, stored) = self.keyring.new_customer_key(&k.id)?;
                    new_keys.push(stored);
                    self.customer_keys.insert(k.id.clone(), key);
                    ids.push(k.id.clone());
                    inserts.push(known.len());
                    known.push(k);
                }
            }
        }
        crate::keyring::insert_keys(self.conn, &new_keys).await?;
        for chunk in inserts.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO customers (id, wa_id, wa_number, user_id, profile_name, username, created_at, updated_at) \
                 VALUES {}",
                values(self.numbered, chunk.len(), 8, None)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for &i in chunk {
                let k = &known[i];
                let s = self.seal_customer(k)?;
                query = query
                    .bind(k.id.as_str())
                    .bind(k.wa_id.as_deref())
                    .bind(s.wa_number)
                    .bind(k.user_id.as_deref())
                    .bind(s.profile_name)
                    .bind(s.username)
                    .bind(now)
                    .bind(now);
            }
            query.execute(&mut *self.conn).await?;
        }
        for i in updates {
            known[i].updated_at = now;
            let k = &known[i];
            let s = self.seal_customer(k)?;
            sqlx::query(
                "UPDATE customers SET wa_id = $2, wa_number = $3, user_id = $4, profile_name = $5, username = $6, \
                 updated_at = $7 WHERE id = $1 AND erased_at IS NULL",
            )
            .bind(k.id.as_str())
            .bind(k.wa_id.as_deref())
            .bind(s.wa_number)
            .bind(k.user_id.as_deref())
            .bind(s.profile_name)
            .bind(s.username)
            .bind(now)
            .execute(&mut *self.conn)
            .await?;
        }
        self.record_conflicts(&conflicts, now).await?;
        for k in &known {
            self.learned.insert(
                k.id.clone(),
                Identity {
                    wa_number: k.wa_number.clone(),
                    profile_name: k.profile_name.clone(),
                    username: k.username.clone(),
                    updated_at: k.updated_at,
                },
            );
        }
        Ok((ids, conflicted_senders))
    }

    /// Writes identity conflicts for the writer to merge once the batch is durable.
    async fn record_conflicts(
        &mut self,
        conflicts: &[Conflict],
        now: i64,
    ) -> Result<u32, StoreError> {
        let mut recorded = 0;
        for (kept, other, kind) in conflicts {
            let done = sqlx::query(
                "INSERT INTO identity_conflicts (id, kept_customer_id, other_customer_id, kind, detected_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kept_customer_id, other_customer_id) \
                 DO UPDATE SET state = 'open', detected_at = excluded.detected_at",
            )
            .bind(new_id())
            .bind(kept.as_str())
            .bind(other.as_str())
            .bind(*kind)
            .bind(now)
            .execute(&mut *self.conn)
            .await?;
            recorded += u32::try_from(done.rows_affected()).unwrap_or(u32::MAX);
        }
        Ok(recorded)
    }

    /// A customer's personal fields sealed with their key, for their row.
    fn seal_customer(&self, k: &KnownCustomer) -> Result<SealedCustomer, StoreError> {
        let key = self.key_of(&k.id)?;
        Ok(SealedCustomer {
            wa_number: key.seal_opt("customers", "wa_number", &k.id, k.wa_number.as_deref()),
            profile_name: key.seal_opt(
                "customers",
                "profile_name",
                &k.id,
                k.profile_name.as_deref(),
            ),
            username: key.seal_opt("customers", "username", &k.id, k.username.as_deref()),
        })
    }

    /// The open conversation of each (inbox, customer) pair, created when there is none,
    /// with its activity moved forward. A message after a conversation was resolved starts a
    /// new conversation: resolved threads stay closed records, the new one is routed afresh.
    async fn conversations(
        &mut self,
        pairs: &[(String, String)],
        messages: &[&InboundMessage],
    ) -> Result<Vec<String>, StoreError> {
        let customer_ids: Vec<&str> = pairs.iter().map(|(_, c)| c.as_str()).collect();
        let mut open: HashMap<(String, String), String> = HashMap::new();
        let sql = "SELECT id, inbox_id, customer_id FROM conversations WHERE state <> 'resolved' AND customer_id IN";
        for row in self.select_in(sql, &dedup(&customer_ids)).await? {
            open.insert(
                (row.try_get("inbox_id")?, row.try_get("customer_id")?),
                row.try_get("id")?,
            );
        }
        // Per conversation: latest message time and the first referral seen.
        struct Activity<'p> {
            id: String,
            pair: &'p (String, String),
            new: bool,
            latest: i64,
            referral: Option<String>,
        }
        let mut activity: Vec<Activity> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut ids = Vec::with_capacity(pairs.len());
        for (pair, message) in pairs.iter().zip(messages) {
            let sent_at = message.sent_at.saturating_mul(1000);
            let referral = message.referral.as_ref().map(serde_json::Value::to_string);
            let i = match index.get(pair) {
                Some(&i) => i,
                None => {
                    let (id, new) = match open.get(pair) {
                        Some(id) => (id.clone(), false),
                        None => (new_id(), true),
                    };
                    activity.push(Activity {
                        id,
                        pair,
                        new,
                        latest: sent_at,
                        referral: None,
                    });
                    index.insert(pair.clone(), activity.len() - 1);
                    activity.len() - 1
                }
            };
            let a = &mut activity[i];
            a.latest = a.latest.max(sent_at);
            if a.referral.is_none() {
                a.referral = referral;
            }
            ids.push(a.id.clone());
        }
        let now = now_ms();
        let created: Vec<&Activity> = activity.iter().filter(|a| a.new).collect();
        for chunk in created.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO conversations (id, inbox_id, customer_id, state, created_at, last_message_at, \
                 last_inbound_at, referral) VALUES {}",
                values_with(self.numbered, chunk.len(), &["$", "$", "$", "'open'", "$", "$", "$", "$"])
            );
            let mut query = sqlx::query::<Any>(&sql);
            for a in chunk {
                let (inbox_id, customer_id) = a.pair;
                query = query
                    .bind(a.id.as_str())
                    .bind(inbox_id.as_str())
                    .bind(customer_id.as_str())
                    .bind(now)
                    .bind(a.latest)
                    .bind(a.latest)
                    .bind(a.referral.as_deref());
            }
            query.execute(&mut *self.conn).await?;
        }
        let touched: Vec<&Activity> = activity.iter().filter(|a| !a.new).collect();
        for chunk in touched.chunks(ROWS_PER_STATEMENT) {
            // A customer writing moves a pending conversation (waiting on them) back to open.
            let sql = format!(
                "UPDATE conversations SET \
                 last_message_at = CASE WHEN conversations.last_message_at < v.column2 THEN v.column2 ELSE conversations.last_message_at END, \
                 last_inbound_at = CASE WHEN conversations.last_inbound_at IS NULL OR conversations.last_inbound_at < v.column2 \
                   THEN v.column2 ELSE conversations.last_inbound_at END, \
                 state = CASE WHEN conversations.state = 'pending' THEN 'open' ELSE conversations.state END, \
                 referral = COALESCE(conversations.referral, v.column3) \
                 FROM (VALUES {}) AS v WHERE conversations.id = v.column1",
                values(self.numbered, chunk.len(), 3, None)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for a in chunk {
                query = query
                    .bind(a.id.as_str())
                    .bind(a.latest)
                    .bind(a.referral.as_deref());
            }
            query.execute(&mut *self.conn).await?;
        }
        Ok(ids)
    }

    async fn insert_messages(
        &mut self,
        rows: &[NewMessage<'_>],
        direction: &'static str,
    ) -> Result<(), StoreError> {
        // (a constant of ours, never input)
        let direction = if direction == "outbound" {
            "'outbound'"
        } else {
            "'inbound'"
        };
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO messages (id, wa_message_id, conversation_id, direction, message_type, content, \
                 context, errors, raw, sent_at, received_at, webhook_event_id) VALUES {}",
                values_with(self.numbered, chunk.len(), &["$", "$", "$", direction, "$", "$", "$", "$", "$", "$", "$", "$"])
            );
            let mut query = sqlx::query::<Any>(&sql);
            for row in chunk {
                let m = row.message;

                let errors = (!m.errors.is_empty())
                    .then(|| serde_json::to_string(&m.errors))
                    .transpose()?;
                let key = self.key_of(&row.customer_id)?;
                // The quoted message's sender can be the customer's own number.
                let context = (m.context != Default::default())
                    .then(|| serde_json::to_string(&m.context))
                    .transpose()?
                    .map(|c| key.seal("messages", "context", &row.id, &c));
                // The raw element is kept for what we cannot render yet; the raw event has the rest.
                let raw = matches!(m.content, MessageContent::Unsupported { .. })
                    .then(|| key.seal("messages", "raw", &row.id, &m.raw.to_string()));
                // An edit of a message we do not have is shown as what it says now.
                let shown = match &m.content {
                    MessageContent::Edit { content, .. } => &**content,
                    other => other,
                };
                let content = key.seal(
                    "messages",
                    "content",
                    &row.id,
                    &serde_json::to_string(shown)?,
                );
                query = query
                    .bind(row.id.as_str())
                    .bind(m.wa_message_id.as_str())
                    .bind(row.conversation_id.as_str())
                    .bind(m.declared_type.as_str())
                    .bind(content)
                    .bind(context)
                    .bind(errors)
                    .bind(raw)
                    .bind(m.sent_at.saturating_mul(1000))
                    .bind(row.received_at)
                    .bind(row.event_id);
            }
            query.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    /// One fetch job per media message, in the same transaction as the message: Meta keeps
    /// media for 7 days only, and a restart must find every fetch still to do.
    async fn queue_media_fetches(&mut self, rows: &[NewMessage<'_>]) -> Result<(), StoreError> {
        let media: Vec<&NewMessage<'_>> = rows
            .iter()
            .filter(|row| {
                matches!(
                    row.message.content,
                    MessageContent::Media {
                        media_id: Some(_),
                        ..
                    }
                )
            })
            .collect();
        for chunk in media.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO media_files (message_id, conversation_id, state, attempts, next_attempt_at, \
                 created_at, updated_at) VALUES {}",
                values_with(self.numbered, chunk.len(), &["$", "$", "'pending'", "0", "$", "$", "$"])
            );
            let mut query = sqlx::query::<Any>(&sql);
            for row in chunk {
                query = query
                    .bind(row.id.as_str())
                    .bind(row.conversation_id.as_str())
                    .bind(row.received_at)
                    .bind(row.received_at)
                    .bind(row.received_at);
            }
            query.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    /// Stores each (wamid, status) once and merges the new ones into the delivery state,
    /// which only moves up in rank: read never falls back to delivered.
    async fn statuses(
        &mut self,
        fresh: &[(usize, &Delivery, String)],
        routed: &impl Fn(&str) -> Option<String>,
        reports: &mut [IngestReport],
    ) -> Result<(), StoreError> {
        let mut seen = HashSet::new();
        let mut candidates: Vec<(usize, &StatusUpdate, &str, i64)> = Vec::new();
        for (job, delivery, event_id) in fresh {
            for status in &delivery.webhook.statuses {
                if routed(&status.business.phone_number_id).is_none() {
                    reports[*job].unrouted += 1;
                } else if seen.insert((status.wa_message_id.as_str(), status.status.as_str())) {
                    candidates.push((*job, status, event_id.as_str(), delivery.received_at));
                } else {
                    reports[*job].statuses_duplicate += 1;
                }
            }
        }
        let mut inserted: HashSet<(String, String)> = HashSet::new();
        for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO message_statuses (id, wa_message_id, status, occurred_at, recipient_id, error_code, \
                 error_title, error_details, billing, callback_data, webhook_event_id, received_at, \
                 error_message, error_href) VALUES {} \
                 ON CONFLICT (wa_message_id, status) DO NOTHING RETURNING wa_message_id, status",
                values(self.numbered, chunk.len(), 14, None)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for (_, s, event_id, received_at) in chunk {
                let error = s.error.as_ref();
                query = query
                    .bind(new_id())
                    .bind(s.wa_message_id.as_str())
                    .bind(s.status.as_str())
                    .bind(s.occurred_at.saturating_mul(1000))
                    // The customer's number only as its blind index.
                    .bind(
                        s.recipient_id
                            .as_deref()
                            .map(|r| self.keyring.wa_index(r))
                            .or_else(|| s.recipient_user_id.clone()),
                    )
                    .bind(error.and_then(|e| e.code))
                    .bind(error.and_then(|e| e.title.as_deref()))
                    .bind(error.and_then(|e| e.details.as_deref()))
                    .bind(s.billing.as_ref().map(serde_json::Value::to_string))
                    .bind(s.callback_data.as_deref())
                    .bind(*event_id)
                    .bind(*received_at)
                    .bind(error.and_then(|e| e.message.as_deref()))
                    .bind(error.and_then(|e| e.href.as_deref()));
            }
            for row in query.fetch_all(&mut *self.conn).await? {
                inserted.insert((row.try_get("wa_message_id")?, row.try_get("status")?));
            }
        }
        // The best new state per wamid; one row per key, as an upsert may touch a row once.
        let mut best: HashMap<&str, (&StatusUpdate, i64)> = HashMap::new();
        for (job, s, _, received_at) in &candidates {
            if !inserted.contains(&(s.wa_message_id.clone(), s.status.clone())) {
                reports[*job].statuses_duplicate += 1;
                continue;
            }
            reports[*job].statuses_stored += 1;
            if s.state.rank() == 0 {
                continue;
            }
            match best.get(s.wa_message_id.as_str()) {
                Some((b, _)) if b.state.rank() >= s.state.rank() => {}
                _ => {
                    best.insert(s.wa_message_id.as_str(), (s, *received_at));
                }
            }
        }
        self.reconcile_outbox(&candidates.iter().map(|c| c.1).collect::<Vec<_>>())
            .await?;
        let merges: Vec<(&StatusUpdate, i64)> = best.into_values().collect();
        for chunk in merges.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO message_delivery (wa_message_id, state, state_rank, occurred_at, error_code, \
                 error_title, updated_at) VALUES {} \
                 ON CONFLICT (wa_message_id) DO UPDATE SET state = excluded.state, \
                 state_rank = excluded.state_rank, occurred_at = excluded.occurred_at, \
                 error_code = excluded.error_code, error_title = excluded.error_title, \
                 updated_at = excluded.updated_at \
                 WHERE excluded.state_rank > message_delivery.state_rank",
                values(self.numbered, chunk.len(), 7, None)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for (s, received_at) in chunk {
                let error = s.error.as_ref();
                query = query
                    .bind(s.wa_message_id.as_str())
                    .bind(s.state.as_str())
                    .bind(s.state.rank())
                    .bind(s.occurred_at.saturating_mul(1000))
                    .bind(error.and_then(|e| e.code))
                    .bind(error.and_then(|e| e.title.as_deref()))
                    .bind(*received_at);
            }
            query.execute(&mut *self.conn).await?;
        }
        // Tell the open threads whose ticks moved.
        let wamids: Vec<&str> = merges
            .iter()
            .map(|(s, _)| s.wa_message_id.as_str())
            .collect();
        let sql = "SELECT id, conversation_id FROM messages WHERE wa_message_id IN";
        for row in self.select_in(sql, &wamids).await? {
            self.events.push(StoreEvent::Message {
                conversation_id: row.try_get("conversation_id")?,
                message_id: row.try_get("id")?,
            });
        }
        Ok(())
    }

    /// A receipt that names one of our outbox rows settles a send whose outcome was unknown
    /// (a timeout after the request left): Meta did accept it, under this wamid.
    async fn reconcile_outbox(&mut self, statuses: &[&StatusUpdate]) -> Result<(), StoreError> {
        for s in statuses.iter().filter(|s| s.callback_data.is_some()) {
            let outbox_id = s.callback_data.as_deref().unwrap_or_default();
            let settled = sqlx::query(
                "UPDATE outbox SET state = 'sent', error_code = NULL, error_reason = NULL, updated_at = $2 \
                 WHERE id = $1 AND state IN ('unconfirmed', 'sending', 'cancelled') RETURNING message_id, conversation_id",
            )
            .bind(outbox_id)
            .bind(now_ms())
            .fetch_optional(&mut *self.conn)
            .await?;
            if let Some(row) = settled {
                let message_id: String = row.try_get("message_id")?;
                sqlx::query(
                    "UPDATE messages SET wa_message_id = $1 WHERE id = $2 AND wa_message_id IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM messages WHERE wa_message_id = $1)",
                )
                .bind(s.wa_message_id.as_str())
                .bind(message_id.as_str())
                .execute(&mut *self.conn)
                .await?;
                self.events.push(StoreEvent::Message {
                    conversation_id: row.try_get("conversation_id")?,
                    message_id,
                });
            }
        }
        Ok(())
    }

    /// `value.errors` and elements we could not use, for admins.
    async fn platform_errors(
        &mut self,
        delivery: &Delivery,
        event_id: &str,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        let webhook = &delivery.webhook;
        let rows = webhook
            .errors
            .iter()
            .map(|e| {
                (
                    Some(e.business.phone_number_id.as_str()),
                    e.error.code,
                    e.error.title.clone(),
                    e.error.message.as_deref(),
                    e.error.details.as_deref(),
                )
            })
            .chain(webhook.rejected.iter().map(|r| {
                (
                    r.phone_number_id.as_deref(),
                    None,
                    Some(format!("unusable {} element", r.element)),
                    None,
                    Some(r.reason),
                )
            }));
        for (phone_number_id, code, title, message, details) in rows {
            // A body Meta sends again re-serialised is a new raw event with the same errors:
            // the same error on the same number within a day is recorded once.
            let seen = sqlx::query(
                "SELECT 1 AS seen FROM platform_errors WHERE received_at > $1 \
                 AND COALESCE(phone_number_id, '') = COALESCE($2, '') AND COALESCE(code, CAST(-1 AS BIGINT)) = COALESCE($3, CAST(-1 AS BIGINT)) \
                 AND COALESCE(title, '') = COALESCE($4, '') AND COALESCE(message, '') = COALESCE($5, '') \
                 AND COALESCE(details, '') = COALESCE($6, '') LIMIT 1",
            )
            .bind(delivery.received_at - 24 * 3600 * 1000)
            .bind(phone_number_id)
            .bind(code)
            .bind(title.as_deref())
            .bind(message)
            .bind(details)
            .fetch_optional(&mut *self.conn)
            .await?
            .is_some();
            if seen {
                continue;
            }
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
            .bind(delivery.received_at)
            .execute(&mut *self.conn)
            .await?;
            report.platform_errors += 1;
        }
        Ok(())
    }

    /// What Meta says about the account, numbers and templates, as admin alerts (shown to
    /// admins and supervisors until resolved). The same alert within a day is raised once.
    async fn account_alerts(
        &mut self,
        delivery: &Delivery,
        report: &mut IngestReport,
    ) -> Result<(), StoreError> {
        for update in &delivery.webhook.account_updates {
            let kind = format!("whatsapp.{}", update.field);
            let seen = sqlx::query(
                "SELECT 1 AS seen FROM admin_alerts WHERE kind = $1 AND COALESCE(subject, '') = COALESCE($2, '') \
                 AND detail = $3 AND created_at > $4 LIMIT 1",
            )
            .bind(kind.as_str())
            .bind(update.subject.as_deref())
            .bind(update.detail.as_str())
            .bind(delivery.received_at - 24 * 3600 * 1000)
            .fetch_optional(&mut *self.conn)
            .await?
            .is_some();
            if seen {
                continue;
            }
            sqlx::query(
                "INSERT INTO admin_alerts (id, kind, subject, detail, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new_id())
            .bind(kind.as_str())
            .bind(update.subject.as_deref())
            .bind(update.detail.as_str())
            .bind(delivery.received_at)
            .execute(&mut *self.conn)
            .await?;
            report.account_alerts += 1;
        }
        Ok(())
    }

    /// The rows of `sql` (a query ending with `IN`) for every value of `values`.
    async fn select_in(&mut self, sql: &str, values: &[&str]) -> Result<Vec<AnyRow>, StoreError> {
        crate::sql::select_in(self.conn, self.numbered, sql, values).await
    }
}

/// A customer's sealed fields, as stored.
struct SealedCustomer {
    wa_number: Option<String>,
    profile_name: Option<String>,
    username: Option<String>,
}

impl SealedCustomer {
    fn read(row: &AnyRow) -> Result<SealedCustomer, StoreError> {
        Ok(SealedCustomer {
            wa_number: row.try_get("wa_number")?,
            profile_name: row.try_get("profile_name")?,
            username: row.try_get("username")?,
        })
    }
}

/// The message an edit or a revoke names, and for an edit what it says now.
fn amendment_of(message: &InboundMessage) -> Option<(&str, Option<&MessageContent>)> {
    match &message.content {
        MessageContent::Edit {
            original_id: Some(id),
            content,
        } => Some((id, Some(&**content))),
        MessageContent::Revoke {
            original_id: Some(id),
        } => Some((id, None)),
        _ => None,
    }
}

/// A message (or echo) of the batch to store: its job, the message, its raw event id, when
/// it was received, and the inbox its number routes to.
type Candidate<'d> = (usize, &'d InboundMessage, &'d str, i64, String);

/// The routed messages (or echoes: `pick` says which) of the batch, the first occurrence of
/// each wamid in batch order; the others are counted as duplicates, the unrouted as such.
fn routed_candidates<'d>(
    fresh: &'d [(usize, &'d Delivery, String)],
    routed: &impl Fn(&str) -> Option<String>,
    reports: &mut [IngestReport],
    pick: impl Fn(&'d veilbox_whatsapp::webhook::Webhook) -> &'d [InboundMessage],
) -> Vec<Candidate<'d>> {
    let mut seen = HashSet::new();
    let mut candidates = Vec::new();
    for (job, delivery, event_id) in fresh {
        for message in pick(&delivery.webhook) {
            match routed(&message.business.phone_number_id) {
                None => reports[*job].unrouted += 1,
                Some(inbox_id) => {
                    if seen.insert(message.wa_message_id.as_str()) {
                        candidates.push((
                            *job,
                            message,
                            event_id.as_str(),
                            delivery.received_at,
                            inbox_id,
                        ));
                    } else {
                        reports[*job].messages_duplicate += 1;
                    }
                }
            }
        }
    }
    candidates
}

fn dedup<'s>(values: &[&'s str]) -> Vec<&'s str> {
    let mut seen = HashSet::new();
    values.iter().copied().filter(|v| seen.insert(*v)).collect()
}

use crate::sql::{values, values_with};
