//! The ingest writer: one task owns every webhook write and group-commits them.
//!
//! HTTP handlers hand a verified, parsed delivery to [`Ingestor::ingest`] and wait for the
//! answer. The writer drains whatever has queued up while the previous transaction was
//! committing and writes it all in one transaction, so N concurrent webhooks cost one fsync
//! instead of N, and a handler only answers 200 once its rows are durable.
//!
//! Every job is idempotent: a byte-identical body is recognised by its sha256, a message by
//! its wamid, a status by (wamid, status). If a batch fails, its jobs are retried one by
//! one so that a single bad delivery cannot fail its neighbours; a delivery that still
//! cannot be normalised is stored as its raw event alone and quarantined with its reason
//! (answered 200: nothing Meta signed is lost), until [`Ingestor::reprocess_quarantined`]
//! runs it again after an upgrade.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use veilbox_whatsapp::webhook::Webhook;

mod batch;

use crate::events::StoreEvent;
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

/// A delivery's raw body as stored: its row id, its sha256 (which makes a byte-identical
/// redelivery a no-op) and the body sealed with the events key. Made by the caller of
/// [`Ingestor::ingest`], in parallel, before the delivery joins the writer's queue.
#[derive(Debug)]
pub(crate) struct RawEvent {
    pub(crate) id: String,
    pub(crate) sha256: String,
    pub(crate) sealed: Vec<u8>,
}

impl RawEvent {
    fn seal(keys: &crate::keyring::KeyRing, body: &[u8]) -> RawEvent {
        use sha2::{Digest, Sha256};
        let id = new_id();
        // Several customers' messages can share one body: it is sealed with the events
        // key, and erasure and retention clear it.
        let sealed = keys
            .events()
            .seal_bytes("webhook_events", "body", &id, body)
            .into_bytes();
        RawEvent {
            sha256: hex::encode(Sha256::digest(body)),
            id,
            sealed,
        }
    }
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
    /// The body could not be normalised: its raw event is stored and quarantined.
    pub quarantined: bool,
    /// Senders whose phone number and user id led to two customers (recorded, then merged).
    pub identity_conflicts: u32,
    /// Edits and deletions applied to the messages they name.
    pub amendments: u32,
    /// Messages the business sent from the WhatsApp Business app, stored as outbound.
    pub echoes_stored: u32,
    /// Marketing stops and resumes applied to customers.
    pub preferences_applied: u32,
    /// Account, number and template updates raised as admin alerts.
    pub account_alerts: u32,
}

enum Job {
    Webhook(Delivery, RawEvent),
    /// A quarantined raw event (already stored under `event_id`), normalised again.
    Reprocess {
        event_id: String,
        delivery: Delivery,
    },
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
    /// Seals raw bodies on the caller's task, so that the one writer does not.
    keys: Option<crate::keyring::KeyRing>,
    /// Reads quarantined events back for [`Ingestor::reprocess_quarantined`].
    store: Store,
}

/// What a re-run of quarantined events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReprocessReport {
    /// Quarantined events tried.
    pub tried: u32,
    /// Normalised this time (and out of quarantine).
    pub normalised: u32,
    /// Still failing: left in quarantine with the new reason.
    pub still_quarantined: u32,
}

/// Sends each delivery its answer: its own result, unless the batch could not be made
/// durable, in which case nobody is told "stored" (Meta will redeliver; ingest is idempotent).
fn acknowledge(outcomes: Vec<Outcome>, durable: Result<(), StoreError>) -> bool {
    let failed = durable.err().map(|e| e.to_string());
    if let Some(why) = &failed {
        tracing::error!(error = %why, "could not make an ingest batch durable");
    }
    for (ack, result) in outcomes {
        let answer = match (&failed, result) {
            (Some(why), Ok(_)) => Err(StoreError::Sync(std::io::Error::other(why.clone()))),
            (_, result) => result,
        };
        let _ = ack.send(answer);
    }
    failed.is_none()
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// Customers and numbers the writer remembers at most (about 200 bytes each).
const MEMO_LIMIT: usize = 100_000;

/// Upper bound of deliveries per transaction: bounds the latency of the first in a batch.
const MAX_BATCH: usize = 512;

impl Ingestor {
    /// Starts the writer on `store`.
    pub fn spawn(store: Store, policy: InboxPolicy) -> (Ingestor, JoinHandle<()>) {
        // The queue is bounded: when the disk cannot keep up, handlers wait (and Meta
        // retries) instead of memory growing without limit.
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let keys = store.keyring().ok().cloned();
        let writer = Writer {
            store,
            policy,
            inboxes: HashMap::new(),
            identities: HashMap::new(),
            wa_indexes: HashMap::new(),
            conn: None,
        };
        let ingestor = Ingestor {
            queue,
            keys,
            store: writer.store.clone(),
        };
        let task = tokio::spawn(writer.run(rx));
        (ingestor, task)
    }

    /// Writes a delivery and returns once it is committed.
    pub async fn ingest(&self, delivery: Delivery) -> Result<IngestReport, StoreError> {
        let raw = RawEvent::seal(
            self.keys.as_ref().ok_or(StoreError::Locked)?,
            &delivery.body,
        );
        self.submit(Job::Webhook(delivery, raw)).await
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

    /// Runs normalisation again on up to `limit` quarantined events, oldest first (after an
    /// upgrade that understands them, or once what refused them is put right). Each goes
    /// through the writer like a new delivery; one that fails again stays quarantined.
    pub async fn reprocess_quarantined(&self, limit: u32) -> Result<ReprocessReport, StoreError> {
        let mut report = ReprocessReport::default();
        for event in self.store.quarantined_bodies(limit).await? {
            report.tried += 1;
            let webhook = match veilbox_whatsapp::webhook::parse(&event.body) {
                Ok(webhook) => webhook,
                Err(why) => {
                    self.store
                        .requarantine(&event.event_id, &format!("not a valid envelope: {why}"))
                        .await?;
                    report.still_quarantined += 1;
                    continue;
                }
            };
            let outcome = self
                .submit(Job::Reprocess {
                    event_id: event.event_id,
                    delivery: Delivery {
                        body: event.body,
                        webhook,
                        received_at: event.received_at,
                    },
                })
                .await?;
            if outcome.quarantined {
                report.still_quarantined += 1;
            } else {
                report.normalised += 1;
            }
        }
        Ok(report)
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
    /// customer id → their identity as last committed by this writer, opened: most
    /// messages come from customers seen moments ago, and comparing with this spares
    /// opening their sealed fields again. Only this writer changes these fields (erased
    /// customers are not read at all), so a stale entry costs at most a redundant update.
    identities: HashMap<String, batch::Identity>,
    /// WhatsApp id → its blind index (a keyed hash: deterministic, so never stale).
    wa_indexes: HashMap<String, String>,
    /// The writer's own connection, reopened after a failure.
    conn: Option<AnyConnection>,
}

type Ack = oneshot::Sender<Result<IngestReport, StoreError>>;
type Outcome = (Ack, Result<IngestReport, StoreError>);
/// A committed batch waiting for its WAL sync before it is acknowledged.
type Syncing = (
    JoinHandle<Result<(), StoreError>>,
    Vec<Outcome>,
    Vec<StoreEvent>,
);

/// What woke the writer up.
enum Wake {
    Synced(Result<(), StoreError>),
    /// (boxed: a delivery is large, and this is one allocation per batch's first job)
    Next(Option<Box<Pending>>),
}

impl Writer {
    /// The group-commit loop.
    ///
    /// On SQLite the writer commits with `synchronous = NORMAL` and makes each batch durable
    /// itself with an fdatasync of the WAL, which it runs while the next batch is being
    /// written: acknowledgements still wait for the sync, but the disk flush and the next
    /// batch's work overlap instead of taking turns. On PostgreSQL the commit is durable.
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut syncing: Option<Syncing> = None;
        loop {
            let wake = match syncing.as_mut() {
                Some((sync, _, _)) => tokio::select! {
                    biased;
                    done = sync => Wake::Synced(done.unwrap_or(Err(StoreError::WriterGone))),
                    next = rx.recv() => Wake::Next(next.map(Box::new)),
                },
                None => Wake::Next(rx.recv().await.map(Box::new)),
            };
            let first = match wake {
                Wake::Synced(result) => {
                    if let Some((_, outcomes, events)) = syncing.take() {
                        self.acknowledge(outcomes, events, result);
                    }
                    continue;
                }
                Wake::Next(None) => break,
                Wake::Next(Some(first)) => *first,
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (outcomes, events) = self.commit(&mut batch).await;
            if let Some((sync, previous, previous_events)) = syncing.take() {
                let synced = sync.await.unwrap_or(Err(StoreError::WriterGone));
                self.acknowledge(previous, previous_events, synced);
            }
            syncing = self.start_sync(outcomes, events);
        }
        if let Some((sync, previous, events)) = syncing.take() {
            let synced = sync.await.unwrap_or(Err(StoreError::WriterGone));
            self.acknowledge(previous, events, synced);
        }
    }

    /// Answers the deliveries of a batch and, once it is durable, tells live pages.
    fn acknowledge(
        &self,
        outcomes: Vec<Outcome>,
        events: Vec<StoreEvent>,
        durable: Result<(), StoreError>,
    ) {
        if acknowledge(outcomes, durable) {
            for event in events {
                self.store.events().publish(event);
            }
        }
    }

    /// Starts making a committed batch durable; `None` when it already is (PostgreSQL, an
    /// in-memory database) or nothing was committed, in which case it is acknowledged now.
    fn start_sync(&self, outcomes: Vec<Outcome>, events: Vec<StoreEvent>) -> Option<Syncing> {
        let wal = self
            .store
            .sqlite_wal_path()
            .filter(|_| outcomes.iter().any(|(_, r)| r.is_ok()));
        let Some(wal) = wal else {
            self.acknowledge(outcomes, events, Ok(()));
            return None;
        };
        let sync = tokio::task::spawn_blocking(move || {
            // Opened afresh each time: the WAL file may be truncated or recreated between
            // batches, and an old descriptor would then flush the wrong inode.
            std::fs::File::open(&wal)
                .and_then(|file| file.sync_data())
                .map_err(StoreError::Sync)
        });
        Some((sync, outcomes, events))
    }

    /// Commits a batch in one transaction; on failure, retries each job alone so that one
    /// poisoned delivery only fails itself, and quarantines a delivery that fails alone.
    async fn commit(&mut self, batch: &mut Vec<Pending>) -> (Vec<Outcome>, Vec<StoreEvent>) {
        let jobs: Vec<&Job> = batch.iter().map(|p| &p.job).collect();
        let mut events = Vec::new();
        let outcomes = match self.apply_all(&jobs, &mut events).await {
            Ok(reports) => batch
                .drain(..)
                .map(|p| p.ack)
                .zip(reports.into_iter().map(Ok))
                .collect(),
            Err(error) if batch.len() == 1 => {
                let mut outcomes = Vec::with_capacity(1);
                for pending in batch.drain(..) {
                    let result = self.quarantine(&pending.job, &error).await;
                    outcomes.push((pending.ack, result));
                }
                outcomes
            }
            Err(error) => {
                tracing::warn!(%error, size = batch.len(), "batch failed; retrying deliveries one by one");
                let mut outcomes = Vec::with_capacity(batch.len());
                for pending in batch.drain(..) {
                    let result = match self.apply_all(&[&pending.job], &mut events).await {
                        Ok(mut reports) => Ok(reports.pop().unwrap_or_default()),
                        Err(error) => self.quarantine(&pending.job, &error).await,
                    };
                    outcomes.push((pending.ack, result));
                }
                outcomes
            }
        };
        (outcomes, events)
    }

    /// A delivery that could not be normalised: its raw event is committed on its own and
    /// quarantined with the reason, so the answer is still "stored". Only when even that
    /// fails (the database is down) does the delivery get an error, and Meta redelivers.
    async fn quarantine(
        &mut self,
        job: &Job,
        error: &StoreError,
    ) -> Result<IngestReport, StoreError> {
        tracing::error!(%error, "could not normalise a delivery; quarantining its raw event");
        let reason = error.to_string();
        let result = match job {
            Job::Webhook(delivery, raw) => self.quarantine_new(delivery, raw, &reason).await,
            Job::Reprocess { event_id, .. } => self.store.requarantine(event_id, &reason).await,
            // Nothing to normalise: a dead letter that cannot be written is a storage failure.
            Job::DeadLetter { .. } => Err(StoreError::Sync(std::io::Error::other(reason))),
        };
        match result {
            Ok(()) => Ok(IngestReport {
                quarantined: true,
                ..IngestReport::default()
            }),
            Err(again) => {
                tracing::error!(error = %again, "could not store the raw event either");
                self.conn = None;
                Err(again)
            }
        }
    }

    async fn quarantine_new(
        &mut self,
        delivery: &Delivery,
        raw: &RawEvent,
        reason: &str,
    ) -> Result<(), StoreError> {
        let keyring = self.store.keyring()?.clone();
        let conn = self.connection().await?;
        let mut tx = sqlx::Connection::begin(conn).await?;
        sqlx::query(
            "INSERT INTO webhook_events (id, body_sha256, body, received_at, routed, phone_number_ids) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (body_sha256) DO NOTHING",
        )
        .bind(raw.id.as_str())
        .bind(raw.sha256.as_str())
        .bind(raw.sealed.as_slice())
        .bind(delivery.received_at)
        .bind(delivery.webhook.phone_number_ids.join(","))
        .execute(&mut *tx)
        .await?;
        let event_id: String = sqlx::query("SELECT id FROM webhook_events WHERE body_sha256 = $1")
            .bind(raw.sha256.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        crate::quarantine::insert(&mut tx, &keyring, &event_id, reason, delivery.received_at)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The writer's connection: on SQLite with per-commit fsync turned off, because
    /// [`Writer::start_sync`] does it for the whole batch.
    async fn connection(&mut self) -> Result<&mut AnyConnection, StoreError> {
        if self.conn.is_none() {
            let mut conn = self.store.pool().acquire().await?.detach();
            if self.store.sqlite_wal_path().is_some() {
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut conn)
                    .await?;
            }
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(StoreError::WriterGone)
    }

    async fn apply_all(
        &mut self,
        jobs: &[&Job],
        events: &mut Vec<StoreEvent>,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let result = self.try_apply_all(jobs, events).await;
        if result.is_err() {
            // The connection may be what failed (a dead database): start afresh next time.
            self.conn = None;
        }
        result
    }

    async fn try_apply_all(
        &mut self,
        jobs: &[&Job],
        events: &mut Vec<StoreEvent>,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let backend = self.store.backend();
        let policy = self.policy;
        let keyring = self.store.keyring()?.clone();
        self.connection().await?;
        let Writer {
            conn,
            inboxes,
            identities,
            wa_indexes,
            ..
        } = self;
        // Bounded memory: past this many entries, start again.
        for memo_len in [identities.len(), wa_indexes.len()] {
            if memo_len > MEMO_LIMIT {
                identities.clear();
                wa_indexes.clear();
            }
        }
        let conn = conn.as_mut().ok_or(StoreError::WriterGone)?;
        let mut tx = sqlx::Connection::begin(conn).await?;
        if backend == crate::Backend::Postgres {
            // The lock erasure, merges and CRM writes take: several nodes share this
            // database, and none may erase or re-seal a customer this batch is writing for.
            sqlx::query("SELECT pg_advisory_xact_lock(7612202)")
                .execute(&mut *tx)
                .await?;
        }
        let mut reports = vec![IngestReport::default(); jobs.len()];
        let mut deliveries = Vec::with_capacity(jobs.len());
        let mut reprocessed = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            match job {
                Job::Webhook(delivery, raw) => deliveries.push((i, delivery, raw)),
                Job::Reprocess { event_id, delivery } => {
                    sqlx::query("DELETE FROM quarantined_events WHERE event_id = $1")
                        .bind(event_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    reprocessed.push((i, delivery, event_id.clone()));
                }
                Job::DeadLetter {
                    body,
                    reason,
                    received_at,
                } => {
                    // The body is unreadable but may hold anything a customer wrote, and
                    // the parser's reason may quote it: both are sealed.
                    let id = new_id();
                    let events = keyring.events();
                    sqlx::query("INSERT INTO dead_letters (id, received_at, reason, body) VALUES ($1, $2, $3, $4)")
                        .bind(id.as_str())
                        .bind(*received_at)
                        .bind(events.seal("dead_letters", "reason", &id, reason))
                        .bind(events.seal_bytes("dead_letters", "body", &id, body).into_bytes())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let mut batch = batch::BatchWrite::new(
            &mut tx, backend, policy, inboxes, &keyring, identities, wa_indexes,
        );
        batch.apply(&deliveries, &reprocessed, &mut reports).await?;
        let (new_inboxes, new_events, learned) = batch.finish();
        tx.commit().await?;
        inboxes.extend(new_inboxes);
        identities.extend(learned);
        events.extend(new_events);
        if reports.iter().any(|r| r.identity_conflicts > 0) {
            // The messages are stored either way; the merge is a second step, and one the
            // CRM refuses stays open for an admin.
            if let Err(error) = self.store.merge_identity_conflicts().await {
                tracing::error!(%error, "could not merge customers of an identity conflict");
            }
        }
        Ok(reports)
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
