//! Importing shipments: an idempotent upsert by tracking number, in set-based statements.
//!
//! [`Store::import_shipments`] takes validated rows (the server parses CSV and JSON into
//! [`ShipmentRow`]s) and writes them in one transaction. Semantics are those of applying
//! the rows one after another: a tracking number seen twice is updated by its later row
//! (last wins), and each status change along the way is a timeline event. Re-importing the
//! same rows changes nothing: a row is compared with what is stored (opened) and written
//! only when it differs.
//!
//! Each row's customer is found by the blind index of `customer_phone` (their WhatsApp
//! number or a phone contact) or `customer_email`; an unknown customer is created with
//! their own data key in the same transaction, their phone as the WhatsApp number the
//! inbox will know them by when they write.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use std::future::Future;
use std::task::Poll;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::Arguments as _;
use sqlx::{Any, AnyConnection, Row};
use veilbox_vault::IndexedField;

use super::{write_tx, ShipmentStatus, TrackingNumber, SHIPMENTS};
use crate::ids::new_id;
use crate::keyring::{KeyRing, OwnerKey};
use crate::keys::StoredKey;
use crate::sql::values;
use crate::{now_ms, Store, StoreError};

/// Rows per multi-row statement (21 columns: 4,200 parameters).
const ROWS_PER_STATEMENT: usize = 200;

/// One shipment to import, validated at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentRow {
    /// The tracking number: the upsert key.
    pub tracking: TrackingNumber,
    /// Its status.
    pub status: ShipmentStatus,
    /// When it reached that status, Unix ms (default: the import's time).
    pub status_at: Option<i64>,
    /// The customer's phone with its country code.
    pub customer_phone: Option<String>,
    /// The customer's e-mail.
    pub customer_email: Option<String>,
    /// The customer's name (their display name, when they have none yet).
    pub customer_name: Option<String>,
    /// Sender's name.
    pub sender_name: Option<String>,
    /// Recipient's name.
    pub recipient_name: Option<String>,
    /// Recipient's phone.
    pub recipient_phone: Option<String>,
    /// Delivery address.
    pub address: Option<String>,
    /// Delivery instructions.
    pub instructions: Option<String>,
    /// Delivery slot start, Unix ms.
    pub slot_start: Option<i64>,
    /// Delivery slot end, Unix ms.
    pub slot_end: Option<i64>,
    /// Expected delivery, Unix ms.
    pub eta: Option<i64>,
    /// Cash on delivery in minor units.
    pub cod_amount_minor: Option<i64>,
    /// ISO 4217 currency.
    pub cod_currency: Option<String>,
}

/// What importing one row did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// A new shipment.
    Created,
    /// An existing shipment changed.
    Updated {
        /// Its status changed (a timeline event was added).
        status_changed: bool,
    },
    /// The shipment was already exactly so.
    Unchanged,
    /// Not imported.
    Rejected {
        /// The column at fault.
        column: &'static str,
        /// Why, without the value.
        reason: &'static str,
    },
}

/// The values of a shipment that an import can change, opened, for comparison.
#[derive(Debug, Clone, PartialEq)]
struct Values {
    customer_id: String,
    format: String,
    status: String,
    sender_name: Option<String>,
    recipient_name: Option<String>,
    recipient_phone: Option<String>,
    address: Option<String>,
    instructions: Option<String>,
    slot_start: Option<i64>,
    slot_end: Option<i64>,
    eta: Option<i64>,
    cod_amount_minor: Option<i64>,
    cod_currency: Option<String>,
}

impl Values {
    fn of(row: &ShipmentRow, customer_id: &str) -> Values {
        Values {
            customer_id: customer_id.to_owned(),
            format: row.tracking.format().to_owned(),
            status: row.status.as_str().to_owned(),
            sender_name: row.sender_name.clone(),
            recipient_name: row.recipient_name.clone(),
            recipient_phone: row.recipient_phone.clone(),
            address: row.address.clone(),
            instructions: row.instructions.clone(),
            slot_start: row.slot_start,
            slot_end: row.slot_end,
            eta: row.eta,
            cod_amount_minor: row.cod_amount_minor,
            cod_currency: row.cod_currency.clone(),
        }
    }
}

/// A stored shipment as the import sees it.
struct Existing {
    id: String,
    status_at: i64,
    created_at: i64,
    closed_at: Option<i64>,
    /// `None` when its customer's key is gone: it is overwritten.
    values: Option<Values>,
}

/// A row's blind indexes, computed before the transaction.
struct Indexes {
    tracking: String,
    phone: Option<String>,
    email: Option<String>,
    recipient_phone: Option<String>,
    /// Blind indexes of the delivery address (see [`super::address_index`]).
    address: Vec<String>,
}

/// A customer created by this import.
struct NewCustomer {
    id: String,
    wa_id: String,
    wa_number: Option<String>,
    display_name: Option<String>,
}

/// A shipment to write.
struct Write<'r> {
    id: String,
    status_at: i64,
    customer_id: String,
    row: &'r ShipmentRow,
    indexes: &'r Indexes,
    created_at: i64,
    closed_at: Option<i64>,
    new: bool,
}

impl Store {
    /// Imports `rows` in one transaction; returns what happened to each, in order.
    pub async fn import_shipments(
        &self,
        rows: &[ShipmentRow],
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let (prepared, outcomes) = prepare(self.keyring()?, rows);
        let tx = write_tx(self).await?;
        self.import_in(tx, rows, &prepared, outcomes).await
    }

    /// A connection of its own for a large import, one transaction per
    /// [`ShipmentImporter::import`] call (see there).
    pub async fn shipment_importer(&self) -> Result<ShipmentImporter<'_>, StoreError> {
        // Out of the pool: the settings below stay with this connection and end with it.
        let mut conn = self.pool().acquire().await?.detach();
        if self.backend() == crate::Backend::Sqlite {
            // The import's random blind-index keys rewrite pages all over the indexes. A
            // page cache that holds those indexes saves re-reading them for every batch,
            // and checkpointing every ~256 MiB of WAL instead of ~4 MiB copies a page that
            // several batches rewrote to the database once. (A WAL left to grow without
            // checkpoints was measured too, and was slower: reads search the whole WAL.)
            // Commits still sync the WAL (`synchronous = FULL`).
            sqlx::raw_sql(IMPORT_PRAGMAS).execute(&mut conn).await?;
        }
        Ok(ShipmentImporter {
            store: self,
            conn,
            held: std::time::Duration::ZERO,
        })
    }

    /// Computes the blind indexes of `rows`: the part of an import that needs no database,
    /// which can run on another thread while an earlier batch is written.
    pub fn prepare_shipments(
        &self,
        rows: Vec<ShipmentRow>,
    ) -> Result<PreparedShipments, StoreError> {
        let (prepared, outcomes) = prepare(self.keyring()?, &rows);
        Ok(PreparedShipments {
            rows,
            prepared,
            outcomes,
        })
    }

    /// Imports `rows` (their `prepared` indexes, `outcomes` so far) in the transaction
    /// `tx`, which it commits.
    async fn import_in(
        &self,
        mut tx: sqlx::Transaction<'_, Any>,
        rows: &[ShipmentRow],
        prepared: &[(usize, Indexes)],
        mut outcomes: Vec<Option<ImportOutcome>>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let keyring = self.keyring()?;
        let mut start = 0;
        while start < prepared.len() {
            // A round holds each tracking number once; a repeat starts the next round, which
            // sees what this one wrote (rows apply in order: last wins).
            let mut seen = HashSet::new();
            let mut end = start;
            while end < prepared.len() && seen.insert(prepared[end].1.tracking.as_str()) {
                end += 1;
            }
            let mut round = Round {
                conn: &mut tx,
                numbered: self.backend() == crate::Backend::Postgres,
                keyring,
            };
            round
                .apply(rows, &prepared[start..end], &mut outcomes)
                .await?;
            start = end;
        }
        tx.commit().await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(ImportOutcome::Unchanged))
            .collect())
    }
}

/// SQLite settings of a [`ShipmentImporter`]'s connection.
const IMPORT_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 65536; PRAGMA cache_size = -262144;";

/// Rows to import with their blind indexes: [`Store::prepare_shipments`].
pub struct PreparedShipments {
    rows: Vec<ShipmentRow>,
    prepared: Vec<(usize, Indexes)>,
    outcomes: Vec<Option<ImportOutcome>>,
}

impl PreparedShipments {
    /// The rows.
    pub fn rows(&self) -> &[ShipmentRow] {
        &self.rows
    }
}

/// Each row's blind indexes, or why it is rejected.
fn prepare(
    keyring: &KeyRing,
    rows: &[ShipmentRow],
) -> (Vec<(usize, Indexes)>, Vec<Option<ImportOutcome>>) {
    let mut outcomes: Vec<Option<ImportOutcome>> = vec![None; rows.len()];
    let mut prepared = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match indexes(keyring, row) {
            Ok(ix) => prepared.push((i, ix)),
            Err(rejected) => outcomes[i] = Some(rejected),
        }
    }
    (prepared, outcomes)
}

/// A large import's own connection: [`Store::shipment_importer`].
pub struct ShipmentImporter<'s> {
    store: &'s Store,
    conn: AnyConnection,
    /// How long this import has held SQLite's write lock since it last let it go for
    /// [`WRITER_GAP`].
    held: std::time::Duration,
}

/// The pause between two batches of a large import on SQLite, during which the write
/// lock is free. Other writers (webhook ingest, staff actions) wait for the lock in
/// SQLite's busy handler, which polls at most every 100 ms; a batch that began right after
/// the previous commit would keep them out for the whole import and fail them after their
/// busy timeout. (PostgreSQL queues lock waiters fairly: no pause.)
const WRITER_GAP: std::time::Duration = std::time::Duration::from_millis(100);

/// How long an import may hold the write lock, over consecutive batches, before it pauses
/// for [`WRITER_GAP`]. A waiting writer then waits at most this plus one batch (about 2 s),
/// well inside its 5 s busy timeout, and the import spends about 6% of its time paused
/// instead of 10-15% with a pause after every batch.
const LOCK_TURN: std::time::Duration = std::time::Duration::from_millis(1_500);

impl ShipmentImporter<'_> {
    /// [`Store::import_shipments`] of prepared rows on this connection: in one
    /// transaction, durable when this returns.
    pub async fn import(
        &mut self,
        rows: PreparedShipments,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        if self.held >= LOCK_TURN && self.store.backend() == crate::Backend::Sqlite {
            tokio::time::sleep(WRITER_GAP).await;
            self.held = std::time::Duration::ZERO;
        }
        let started = std::time::Instant::now();
        let tx = super::write_tx_on(&mut self.conn, self.store.backend()).await?;
        let outcomes = self
            .store
            .import_in(tx, &rows.rows, &rows.prepared, rows.outcomes)
            .await?;
        self.held += started.elapsed();
        Ok(outcomes)
    }

    /// Closes the connection (dropping the importer does too).
    pub async fn finish(self) -> Result<(), StoreError> {
        use sqlx::Connection as _;
        self.conn.close().await?;
        Ok(())
    }
}

fn indexes(keyring: &KeyRing, row: &ShipmentRow) -> Result<Indexes, ImportOutcome> {
    let reject = |column, reason| ImportOutcome::Rejected { column, reason };
    let tracking = keyring
        .blind(IndexedField::Tracking, row.tracking.as_str())
        .ok_or(reject("tracking", "not a tracking number"))?;
    let phone = row
        .customer_phone
        .as_deref()
        .map(|p| {
            keyring.blind(IndexedField::Phone, p).ok_or(reject(
                "customer_phone",
                "not a full phone number with its country code",
            ))
        })
        .transpose()?;
    let email = row
        .customer_email
        .as_deref()
        .map(|e| {
            keyring
                .blind(IndexedField::Email, e)
                .ok_or(reject("customer_email", "not an e-mail address"))
        })
        .transpose()?;
    if phone.is_none() && email.is_none() {
        return Err(reject(
            "customer_phone",
            "a customer_phone or customer_email is required",
        ));
    }
    Ok(Indexes {
        tracking,
        phone,
        email,
        recipient_phone: row
            .recipient_phone
            .as_deref()
            .and_then(|p| keyring.blind(IndexedField::Phone, p)),
        address: row
            .address
            .as_deref()
            .map(|a| super::address_index::address_indexes(keyring, a))
            .unwrap_or_default(),
    })
}

struct Round<'a> {
    conn: &'a mut AnyConnection,
    numbered: bool,
    keyring: &'a KeyRing,
}

impl Round<'_> {
    async fn apply(
        &mut self,
        rows: &[ShipmentRow],
        batch: &[(usize, Indexes)],
        outcomes: &mut [Option<ImportOutcome>],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        // Who owns each phone and e-mail index already.
        let phones: Vec<&str> = batch
            .iter()
            .filter_map(|(_, x)| x.phone.as_deref())
            .collect();
        let emails: Vec<&str> = batch
            .iter()
            .filter_map(|(_, x)| x.email.as_deref())
            .collect();
        let mut by_phone: HashMap<String, String> = HashMap::new();
        let mut by_email: HashMap<String, String> = HashMap::new();
        let sql = "SELECT COALESCE(merged_into, id) AS owner, wa_id FROM customers WHERE erased_at IS NULL AND wa_id IN";
        for r in self.select_in(sql, &phones).await? {
            by_phone.insert(r.try_get("wa_id")?, r.try_get("owner")?);
        }
        // By kind: the UNIQUE (kind, blind_index) index answers these. A phone that is
        // someone's WhatsApp number is theirs whatever the contacts say (the number wins
        // below), so only the others are looked up among phone contacts.
        let phones: Vec<&str> = phones
            .into_iter()
            .filter(|p| !by_phone.contains_key(*p))
            .collect();
        for (kind, indexes) in [("phone", &phones), ("email", &emails)] {
            let sql = format!(
                "SELECT customer_id, blind_index FROM customer_contacts WHERE kind = '{kind}' AND blind_index IN"
            );
            let map = if kind == "phone" {
                &mut by_phone
            } else {
                &mut by_email
            };
            for r in self.select_in(&sql, indexes).await? {
                map.entry(r.try_get("blind_index")?)
                    .or_insert(r.try_get("customer_id")?);
            }
        }
        // The shipments already stored.
        let trackings: Vec<&str> = batch.iter().map(|(_, x)| x.tracking.as_str()).collect();
        let sql = format!(
            "SELECT tracking_index, status_at, {} FROM shipments WHERE tracking_index IN",
            super::card::SHIPMENT_COLUMNS
        );
        let stored = self.select_in(&sql, &trackings).await?;
        let mut customer_ids: Vec<String> = by_phone
            .values()
            .chain(by_email.values())
            .cloned()
            .collect();
        for r in &stored {
            customer_ids.push(r.try_get("customer_id")?);
        }
        customer_ids.sort();
        customer_ids.dedup();
        let ids: Vec<&str> = customer_ids.iter().map(String::as_str).collect();
        let mut keys = self.keyring.customer_keys(self.conn, &ids).await?;
        let mut existing: HashMap<String, Existing> = HashMap::new();
        for r in &stored {
            existing.insert(r.try_get("tracking_index")?, open_existing(r, &keys)?);
        }

        let mut new_customers: Vec<NewCustomer> = Vec::new();
        let mut new_keys: Vec<StoredKey> = Vec::new();
        // (id, customer, kind, index, normalised value)
        let mut new_contacts: Vec<NewContact> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut writes: Vec<Write<'_>> = Vec::new();
        let mut events: Vec<(String, String, &'static str, i64)> = Vec::new();
        for (i, ix) in batch {
            let row = &rows[*i];
            let cp = ix.phone.as_ref().and_then(|p| by_phone.get(p)).cloned();
            let ce = ix.email.as_ref().and_then(|e| by_email.get(e)).cloned();
            // The customer, and whether this row created them (their WhatsApp id is then
            // this row's phone already).
            let (customer, created_here) = match (cp.clone(), ce.clone()) {
                (Some(p), Some(e)) if p != e => {
                    outcomes[*i] = Some(ImportOutcome::Rejected {
                        column: "customer_email",
                        reason: "belongs to a different customer than customer_phone",
                    });
                    continue;
                }
                (Some(id), _) | (None, Some(id)) => {
                    if let Some(name) = &row.customer_name {
                        names.entry(id.clone()).or_insert_with(|| name.clone());
                    }
                    (id, false)
                }
                (None, None) => {
                    let id = new_id();
                    let (key, stored) = self.keyring.new_customer_key(&id)?;
                    keys.insert(id.clone(), key);
                    new_keys.push(stored);
                    let number = row
                        .customer_phone
                        .as_deref()
                        .and_then(veilbox_vault::normalize::phone);
                    new_customers.push(NewCustomer {
                        // No number: a placeholder that indexes nothing (the column is
                        // UNIQUE and a customer needs a WhatsApp or user id).
                        wa_id: ix.phone.clone().unwrap_or_else(|| format!("crm:{id}")),
                        wa_number: number.map(|n| n.trim_start_matches('+').to_owned()),
                        display_name: row.customer_name.clone(),
                        id: id.clone(),
                    });
                    if let Some(p) = &ix.phone {
                        by_phone.insert(p.clone(), id.clone());
                    }
                    (id, true)
                }
            };
            // What the row tells us that the customer's record lacks.
            if let (Some(p), None, false) = (&ix.phone, &cp, created_here) {
                let value = row
                    .customer_phone
                    .as_deref()
                    .and_then(veilbox_vault::normalize::phone);
                new_contacts.push((
                    new_id(),
                    customer.clone(),
                    "phone",
                    p.clone(),
                    value.unwrap_or_default(),
                ));
                by_phone.insert(p.clone(), customer.clone());
            }
            if let (Some(e), None) = (&ix.email, &ce) {
                let value = row
                    .customer_email
                    .as_deref()
                    .and_then(veilbox_vault::normalize::email);
                new_contacts.push((
                    new_id(),
                    customer.clone(),
                    "email",
                    e.clone(),
                    value.unwrap_or_default(),
                ));
                by_email.insert(e.clone(), customer.clone());
            }
            let values = Values::of(row, &customer);
            let at = row.status_at.unwrap_or(now);
            match existing.get(&ix.tracking) {
                None => {
                    let id = new_id();
                    events.push((id.clone(), customer.clone(), row.status.as_str(), at));
                    writes.push(Write {
                        id,
                        status_at: at,
                        customer_id: customer,
                        row,
                        indexes: ix,
                        created_at: now,
                        closed_at: row.status.is_final().then_some(at),
                        new: true,
                    });
                    outcomes[*i] = Some(ImportOutcome::Created);
                }
                // A row about an earlier status than the stored one is an older snapshot
                // (a re-import of a file that lists a parcel twice): it changes nothing.
                Some(old)
                    if old.values.as_ref() == Some(&values)
                        || row.status_at.is_some_and(|t| t < old.status_at) =>
                {
                    outcomes[*i] = Some(ImportOutcome::Unchanged);
                }
                Some(old) => {
                    let status_changed = old
                        .values
                        .as_ref()
                        .is_none_or(|v| v.status != values.status);
                    if status_changed {
                        events.push((old.id.clone(), customer.clone(), row.status.as_str(), at));
                    }
                    writes.push(Write {
                        id: old.id.clone(),
                        status_at: if status_changed { at } else { old.status_at },
                        customer_id: customer,
                        row,
                        indexes: ix,
                        created_at: old.created_at,
                        closed_at: row.status.is_final().then(|| old.closed_at.unwrap_or(at)),
                        new: false,
                    });
                    outcomes[*i] = Some(ImportOutcome::Updated { status_changed });
                }
            }
        }

        crate::keyring::insert_keys(self.conn, &new_keys).await?;
        // Every write of the round, as statements built (and their fields sealed) one
        // at a time, each while SQLite runs the one before.
        let numbered = self.numbered;
        let keys = &keys;
        let (new, changed): (Vec<&Write>, Vec<&Write>) = writes.iter().partition(|w| w.new);
        let names: Vec<(&String, &String)> = names.iter().collect();
        let statements = insert_customers(numbered, &new_customers, keys, now)
            .chain(insert_contacts(numbered, &new_contacts, keys, now))
            .chain(fill_names(numbered, &names, keys, now))
            .chain(insert_shipments(numbered, &new, keys, now))
            .chain(update_shipments(&changed, keys, now))
            .chain(insert_events(numbered, &events))
            .chain(delete_address_indexes(numbered, &changed))
            .chain(insert_address_indexes(numbered, &writes));
        execute_pipelined(self.conn, statements).await
    }

    /// The rows of `sql` (a query ending with `IN`) for every value of `values`.
    async fn select_in(&mut self, sql: &str, values: &[&str]) -> Result<Vec<AnyRow>, StoreError> {
        crate::sql::select_in(self.conn, self.numbered, sql, values).await
    }
}

/// A statement and its parameters, built before it runs.
struct Statement<'q> {
    sql: String,
    args: AnyArguments<'q>,
    error: Option<sqlx::error::BoxDynError>,
}

impl<'q> Statement<'q> {
    fn new(sql: String) -> Statement<'q> {
        Statement {
            sql,
            args: AnyArguments::default(),
            error: None,
        }
    }

    fn bind<T>(mut self, value: T) -> Statement<'q>
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        if self.error.is_none() {
            if let Err(error) = self.args.add(value) {
                self.error = Some(error);
            }
        }
        self
    }
}

type Statements<'q> = Box<dyn Iterator<Item = Result<Statement<'q>, StoreError>> + Send + 'q>;

/// Runs `statements` in order, building each (sealing its fields: the CPU-heavy part)
/// while SQLite's worker thread runs the one before, so the two overlap.
async fn execute_pipelined<'q>(
    conn: &mut AnyConnection,
    mut statements: impl Iterator<Item = Result<Statement<'q>, StoreError>>,
) -> Result<(), StoreError> {
    let mut next = statements.next().transpose()?;
    while let Some(statement) = next {
        if let Some(error) = statement.error {
            return Err(sqlx::Error::Encode(error).into());
        }
        let mut running =
            std::pin::pin!(
                sqlx::query_with::<Any, _>(&statement.sql, statement.args).execute(&mut *conn)
            );
        // The first poll hands the statement to the connection (SQLite: its worker thread).
        let first = std::future::poll_fn(|cx| Poll::Ready(running.as_mut().poll(cx))).await;
        next = statements.next().transpose()?;
        match first {
            Poll::Ready(result) => result?,
            Poll::Pending => running.await?,
        };
    }
    Ok(())
}

/// Drops the address indexes of changed shipments: their address may have changed.
fn delete_address_indexes<'q>(numbered: bool, changed: &'q [&'q Write<'q>]) -> Statements<'q> {
    Box::new(changed.chunks(ROWS_PER_STATEMENT).map(move |chunk| {
        let sql = format!(
            "DELETE FROM address_indexes WHERE source_id IN ({})",
            crate::sql::params(numbered, chunk.len())
        );
        let mut query = Statement::new(sql);
        for w in chunk {
            query = query.bind(w.id.as_str());
        }
        Ok(query)
    }))
}

/// Indexes each written shipment's delivery address.
fn insert_address_indexes<'q>(numbered: bool, writes: &'q [Write<'q>]) -> Statements<'q> {
    let rows: Vec<(&'q str, &'q str, &'q str)> = writes
        .iter()
        .flat_map(|w| {
            w.indexes
                .address
                .iter()
                .map(move |i| (w.id.as_str(), i.as_str(), w.customer_id.as_str()))
        })
        .collect();
    let chunks: Vec<Vec<(&'q str, &'q str, &'q str)>> =
        rows.chunks(ROWS_PER_STATEMENT).map(<[_]>::to_vec).collect();
    Box::new(chunks.into_iter().map(move |chunk| {
        let sql = format!(
            "INSERT INTO address_indexes (source_id, blind_index, customer_id) VALUES {} \
             ON CONFLICT DO NOTHING",
            values(numbered, chunk.len(), 3, None)
        );
        let mut query = Statement::new(sql);
        for (source, index, customer) in chunk {
            query = query.bind(source).bind(index).bind(customer);
        }
        Ok(query)
    }))
}

fn insert_customers<'q>(
    numbered: bool,
    customers: &'q [NewCustomer],
    keys: &'q HashMap<String, Arc<OwnerKey>>,
    now: i64,
) -> Statements<'q> {
    Box::new(customers.chunks(ROWS_PER_STATEMENT).map(move |chunk| {
        let sql = format!(
            "INSERT INTO customers (id, wa_id, wa_number, display_name, created_at, updated_at) VALUES {}",
            values(numbered, chunk.len(), 6, None)
        );
        let mut query = Statement::new(sql);
        for c in chunk {
            let key = keys.get(&c.id).ok_or(StoreError::Unreadable)?;
            query = query
                .bind(c.id.as_str())
                .bind(c.wa_id.as_str())
                .bind(key.seal_opt("customers", "wa_number", &c.id, c.wa_number.as_deref()))
                .bind(key.seal_opt(
                    "customers",
                    "display_name",
                    &c.id,
                    c.display_name.as_deref(),
                ))
                .bind(now)
                .bind(now);
        }
        Ok(query)
    }))
}

type NewContact = (String, String, &'static str, String, String);

fn insert_contacts<'q>(
    numbered: bool,
    contacts: &'q [NewContact],
    keys: &'q HashMap<String, Arc<OwnerKey>>,
    now: i64,
) -> Statements<'q> {
    Box::new(contacts.chunks(ROWS_PER_STATEMENT).map(move |chunk| {
        let sql = format!(
            "INSERT INTO customer_contacts (id, customer_id, kind, blind_index, value, created_at) VALUES {}",
            values(numbered, chunk.len(), 6, None)
        );
        let mut query = Statement::new(sql);
        for (id, customer, kind, index, value) in chunk {
            let key = keys.get(customer).ok_or(StoreError::Unreadable)?;
            query = query
                .bind(id.as_str())
                .bind(customer.as_str())
                .bind(*kind)
                .bind(index.as_str())
                .bind(key.seal("customer_contacts", "value", id, value))
                .bind(now);
        }
        Ok(query)
    }))
}

/// Gives customers who have no display name the name an import row gave them.
fn fill_names<'q>(
    numbered: bool,
    names: &'q [(&'q String, &'q String)],
    keys: &'q HashMap<String, Arc<OwnerKey>>,
    now: i64,
) -> Statements<'q> {
    Box::new(names.chunks(ROWS_PER_STATEMENT).map(move |chunk| {
        let sql = format!(
            "UPDATE customers SET display_name = v.column2, updated_at = v.column3 \
             FROM (VALUES {}) AS v WHERE customers.id = v.column1 AND customers.display_name IS NULL",
            values(numbered, chunk.len(), 3, None)
        );
        let mut query = Statement::new(sql);
        for (id, name) in chunk {
            let key = keys.get(*id).ok_or(StoreError::Unreadable)?;
            query = query
                .bind(id.as_str())
                .bind(key.seal("customers", "display_name", id, name))
                .bind(now);
        }
        Ok(query)
    }))
}

fn insert_shipments<'q>(
    numbered: bool,
    new: &'q [&'q Write<'q>],
    keys: &'q HashMap<String, Arc<OwnerKey>>,
    now: i64,
) -> Statements<'q> {
    Box::new(new.chunks(ROWS_PER_STATEMENT).map(move |chunk| {
        let sql = format!(
            "INSERT INTO shipments (id, customer_id, tracking_index, tracking, format, status, sender_name, \
             recipient_name, recipient_phone, recipient_phone_index, address, instructions, slot_start, \
             slot_end, eta, cod_amount_minor, cod_currency, created_at, updated_at, closed_at, status_at) VALUES {}",
            values(numbered, chunk.len(), 21, None)
        );
        let mut query = Statement::new(sql);
        for w in chunk {
            let key = keys.get(&w.customer_id).ok_or(StoreError::Unreadable)?;
            query = bind_fields(
                query
                    .bind(w.id.as_str())
                    .bind(w.customer_id.as_str())
                    .bind(w.indexes.tracking.as_str()),
                w,
                key,
            )
            .bind(w.created_at)
                .bind(now)
                .bind(w.closed_at)
                .bind(w.status_at);
        }
        Ok(query)
    }))
}

/// Binds a shipment's own fields, in the column order both statements use: from the
/// sealed tracking number to the cash-on-delivery currency, sealing what is personal.
fn bind_fields<'q>(query: Statement<'q>, w: &'q Write<'q>, key: &OwnerKey) -> Statement<'q> {
    let seal = |column: &str, text: Option<&str>| key.seal_opt(SHIPMENTS, column, &w.id, text);
    let r = w.row;
    query
        .bind(seal("tracking", Some(r.tracking.as_str())))
        .bind(r.tracking.format())
        .bind(r.status.as_str())
        .bind(seal("sender_name", r.sender_name.as_deref()))
        .bind(seal("recipient_name", r.recipient_name.as_deref()))
        .bind(seal("recipient_phone", r.recipient_phone.as_deref()))
        .bind(w.indexes.recipient_phone.as_deref())
        .bind(seal("address", r.address.as_deref()))
        .bind(seal("instructions", r.instructions.as_deref()))
        .bind(r.slot_start)
        .bind(r.slot_end)
        .bind(r.eta)
        .bind(r.cod_amount_minor)
        .bind(r.cod_currency.as_deref())
}

fn update_shipments<'q>(
    changed: &'q [&'q Write<'q>],
    keys: &'q HashMap<String, Arc<OwnerKey>>,
    now: i64,
) -> Statements<'q> {
    Box::new(changed.iter().flat_map(move |w| {
        let update = keys
            .get(&w.customer_id)
            .ok_or(StoreError::Unreadable)
            .map(|key| {
                let update = Statement::new(
                    "UPDATE shipments SET customer_id = $2, tracking = $3, format = $4, status = $5, sender_name = $6, \
                     recipient_name = $7, recipient_phone = $8, recipient_phone_index = $9, address = $10, \
                     instructions = $11, slot_start = $12, slot_end = $13, eta = $14, cod_amount_minor = $15, \
                     cod_currency = $16, updated_at = $17, closed_at = $18, status_at = $19 WHERE id = $1"
                        .to_owned(),
                )
                .bind(w.id.as_str())
                .bind(w.customer_id.as_str());
                bind_fields(update, w, key).bind(now)
                .bind(w.closed_at)
                .bind(w.status_at)
            });
        // A shipment that moved to another customer takes its timeline along.
        let events = Statement::new(
            "UPDATE shipment_events SET customer_id = $2 WHERE shipment_id = $1 AND customer_id <> $2"
                .to_owned(),
        )
        .bind(w.id.as_str())
        .bind(w.customer_id.as_str());
        [update, Ok(events)]
    }))
}

fn insert_events<'q>(
    numbered: bool,
    events: &'q [(String, String, &'static str, i64)],
) -> Statements<'q> {
    Box::new(events.chunks(ROWS_PER_STATEMENT).map(move |chunk| {
        let sql = format!(
            "INSERT INTO shipment_events (id, shipment_id, customer_id, status, at) VALUES {} \
             ON CONFLICT (shipment_id, status, at) DO NOTHING",
            values(numbered, chunk.len(), 5, None)
        );
        let mut query = Statement::new(sql);
        for (shipment, customer, status, at) in chunk {
            query = query
                .bind(new_id())
                .bind(shipment.as_str())
                .bind(customer.as_str())
                .bind(*status)
                .bind(*at);
        }
        Ok(query)
    }))
}

/// A stored shipment row, opened with its customer's key when there is one.
fn open_existing(
    r: &AnyRow,
    keys: &HashMap<String, Arc<OwnerKey>>,
) -> Result<Existing, StoreError> {
    let id: String = r.try_get("id")?;
    let customer_id: String = r.try_get("customer_id")?;
    let values = match keys.get(&customer_id) {
        None => None,
        Some(key) => {
            let open = |column: &str| -> Result<Option<String>, StoreError> {
                key.open_opt(
                    SHIPMENTS,
                    column,
                    &id,
                    r.try_get::<Option<String>, _>(column)?.as_deref(),
                )
            };
            Some(Values {
                format: r.try_get("format")?,
                status: r.try_get("status")?,
                sender_name: open("sender_name")?,
                recipient_name: open("recipient_name")?,
                recipient_phone: open("recipient_phone")?,
                address: open("address")?,
                instructions: open("instructions")?,
                slot_start: r.try_get("slot_start")?,
                slot_end: r.try_get("slot_end")?,
                eta: r.try_get("eta")?,
                cod_amount_minor: r.try_get("cod_amount_minor")?,
                cod_currency: r.try_get("cod_currency")?,
                customer_id,
            })
        }
    };
    Ok(Existing {
        status_at: r.try_get("status_at")?,
        created_at: r.try_get("created_at")?,
        closed_at: r.try_get("closed_at")?,
        values,
        id,
    })
}
