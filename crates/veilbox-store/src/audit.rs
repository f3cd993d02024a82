//! The audit log: append-only rows, each carrying the hash of the one before.
//!
//! A row's hash is SHA-256 over the previous row's hash and a JSON array of the row's own
//! fields (sequence number included), so changing a byte, deleting a row or swapping two
//! rows breaks the chain at the first row touched. Appends are serialised (a lock in the
//! process and, on PostgreSQL, a transaction-scoped advisory lock across nodes) because
//! each row needs the hash of the last one.
//!
//! A chain alone cannot show rows cut off its end, so every append also records the head
//! (last sequence number and hash) in `audit_head`, in the same transaction. Someone who
//! edits the database can still rewrite the head along with the rows; `verify` prints the
//! head so it can be compared with a copy kept outside the database.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::ids::new_id;
use crate::{now_ms, Backend, Store, StoreError};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as a caller records it. No customer data: ids, actions and reasons.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    /// Who: a user id, `token:<id>`, `bootstrap`, `cli` or `system`.
    pub actor: &'a str,
    /// What, dotted: `sign_in.success`, `reveal`, `user.disabled`, ...
    pub action: &'a str,
    /// The ids it was done to.
    pub target: Option<&'a str>,
    /// Why (a reveal's or erasure's reason, a failure's cause).
    pub reason: Option<&'a str>,
    /// Client address.
    pub address: Option<&'a str>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Id.
    pub id: String,
    /// When (Unix ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// From where.
    pub address: Option<String>,
    /// With what.
    pub user_agent: Option<String>,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

impl AuditRow {
    /// The hash this row should carry, from its fields and `prev_hash`.
    pub fn expected_hash(&self, prev_hash: &str) -> String {
        let fields = serde_json::json!([
            self.seq,
            self.id,
            self.at,
            self.actor,
            self.action,
            self.target,
            self.reason,
            self.address,
            self.user_agent,
        ]);
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(fields.to_string().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// Which rows to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only actions starting with this (e.g. `sign_in`).
    pub action_prefix: Option<String>,
    /// Only rows at or after (Unix ms).
    pub from: Option<i64>,
    /// Only rows before (Unix ms).
    pub to: Option<i64>,
    /// Only rows before this sequence number (paging backwards).
    pub before_seq: Option<i64>,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A row's contents do not match its hash: it was changed.
    #[error("row {seq} (id {id}) was changed: its hash does not match its contents")]
    Changed {
        /// Sequence number.
        seq: i64,
        /// Row id.
        id: String,
    },
    /// A sequence number is missing: rows were deleted.
    #[error("row {expected} is missing (the next row is {found}): rows were deleted")]
    Missing {
        /// The sequence number that should come next.
        expected: i64,
        /// The one that does.
        found: i64,
    },
    /// A row does not point at the row before it: rows were reordered or replaced.
    #[error("row {seq} (id {id}) does not follow row {previous}: rows were reordered or replaced")]
    Unlinked {
        /// Sequence number.
        seq: i64,
        /// Row id.
        id: String,
        /// The row before it.
        previous: i64,
    },
    /// The chain ends before (or differs from) the head recorded with the last append: rows
    /// were cut off the end, or the head was edited.
    #[error("the log ends at row {last} but its head says row {head}: rows at the end were deleted or the head was edited")]
    Truncated {
        /// The last row found.
        last: i64,
        /// The last row the head records.
        head: i64,
    },
}

/// An intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Rows checked.
    pub rows: i64,
    /// The last row's hash ([`GENESIS`] when empty).
    pub hash: String,
}

const AUDIT_COLUMNS: &str = "SELECT seq, id, at, actor, action, target, reason, address, \
     user_agent, prev_hash, hash FROM audit_log";

fn audit_row(r: &AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        reason: r.try_get("reason")?,
        address: r.try_get("address")?,
        user_agent: r.try_get("user_agent")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Rows read per query while verifying: memory stays flat however long the log is.
const VERIFY_PAGE: i64 = 1000;

impl Store {
    /// Appends a row to the chain; returns it.
    pub async fn audit(&self, entry: &AuditEntry<'_>) -> Result<AuditRow, StoreError> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = match self.backend() {
            // Take the write lock before reading the last row (waiting out other writers
            // under busy_timeout). A deferred transaction would read first and then fail
            // with SQLITE_BUSY when upgrading, if any other connection or process had
            // committed in between.
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                // Other nodes append too: one at a time, released at commit.
                sqlx::query("SELECT pg_advisory_xact_lock(7612201)")
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (seq, prev_hash) = match last {
            Some(r) => (
                r.try_get::<i64, _>("seq")? + 1,
                r.try_get::<String, _>("hash")?,
            ),
            None => (1, GENESIS.to_owned()),
        };
        let mut row = AuditRow {
            seq,
            id: new_id(),
            at: now_ms(),
            actor: entry.actor.to_owned(),
            action: entry.action.to_owned(),
            target: entry.target.map(str::to_owned),
            reason: entry.reason.map(str::to_owned),
            address: entry.address.map(str::to_owned),
            user_agent: entry.user_agent.map(str::to_owned),
            prev_hash,
            hash: String::new(),
        };
        row.hash = row.expected_hash(&row.prev_hash);
        sqlx::query(
            "INSERT INTO audit_log (seq, id, at, actor, action, target, reason, address, user_agent, \
             prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(row.seq)
        .bind(row.id.as_str())
        .bind(row.at)
        .bind(row.actor.as_str())
        .bind(row.action.as_str())
        .bind(row.target.as_deref())
        .bind(row.reason.as_deref())
        .bind(row.address.as_deref())
        .bind(row.user_agent.as_deref())
        .bind(row.prev_hash.as_str())
        .bind(row.hash.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET seq = $1, hash = $2",
        )
        .bind(row.seq)
        .bind(row.hash.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Rows matching `filter`, newest first, at most `limit`.
    pub async fn audit_rows(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.actor.is_some() {
            conditions.push(format!("actor = {}", next()));
        }
        if filter.action_prefix.is_some() {
            conditions.push(format!("substr(action, 1, {}) = {}", next(), next()));
        }
        if filter.from.is_some() {
            conditions.push(format!("at >= {}", next()));
        }
        if filter.to.is_some() {
            conditions.push(format!("at < {}", next()));
        }
        if filter.before_seq.is_some() {
            conditions.push(format!("seq < {}", next()));
        }
        let limit_param = next();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!("{AUDIT_COLUMNS}{where_clause} ORDER BY seq DESC LIMIT {limit_param}");
        let mut query = sqlx::query(&sql);
        if let Some(actor) = &filter.actor {
            query = query.bind(actor.as_str());
        }
        if let Some(prefix) = &filter.action_prefix {
            // An INTEGER (int4): PostgreSQL has no substr(text, integer, bigint).
            query = query
                .bind(i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX))
                .bind(prefix.as_str());
        }
        if let Some(from) = filter.from {
            query = query.bind(from);
        }
        if let Some(to) = filter.to {
            query = query.bind(to);
        }
        if let Some(before) = filter.before_seq {
            query = query.bind(before);
        }
        let rows = query.bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(audit_row).collect()
    }

    /// Recomputes the whole chain from the first row. `Ok(Err(..))` names the first row
    /// that was changed, deleted or reordered.
    pub async fn verify_audit_chain(&self) -> Result<Result<ChainHead, ChainBreak>, StoreError> {
        let mut expected_seq = 1;
        let mut prev_hash = GENESIS.to_owned();
        loop {
            let rows = sqlx::query(&format!(
                "{AUDIT_COLUMNS} WHERE seq >= $1 ORDER BY seq LIMIT $2"
            ))
            .bind(expected_seq)
            .bind(VERIFY_PAGE)
            .fetch_all(self.pool())
            .await?;
            if rows.is_empty() {
                let last = expected_seq - 1;
                let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_optional(self.pool())
                    .await?;
                let (head_seq, head_hash) = match head {
                    Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
                    None => (0, GENESIS.to_owned()),
                };
                if head_seq != last || head_hash != prev_hash {
                    return Ok(Err(ChainBreak::Truncated {
                        last,
                        head: head_seq,
                    }));
                }
                return Ok(Ok(ChainHead {
                    rows: last,
                    hash: prev_hash,
                }));
            }
            for r in &rows {
                let row = audit_row(r)?;
                if row.seq != expected_seq {
                    return Ok(Err(ChainBreak::Missing {
                        expected: expected_seq,
                        found: row.seq,
                    }));
                }
                // A row whose fields do not match its hash was edited, unless they match
                // at another position: then it is intact but was moved here. One whose own
                // fields hash correctly but that points elsewhere was rewritten wholesale
                // (or follows such a row).
                if row.hash != row.expected_hash(&row.prev_hash) {
                    let previous = expected_seq - 1;
                    return Ok(Err(if self.audit_row_was_moved(&row).await? {
                        ChainBreak::Unlinked {
                            seq: row.seq,
                            id: row.id,
                            previous,
                        }
                    } else {
                        ChainBreak::Changed {
                            seq: row.seq,
                            id: row.id,
                        }
                    }));
                }
                if row.prev_hash != prev_hash {
                    return Ok(Err(ChainBreak::Unlinked {
                        seq: row.seq,
                        id: row.id,
                        previous: expected_seq - 1,
                    }));
                }
                prev_hash = row.hash;
                expected_seq += 1;
            }
        }
    }

    /// Whether `row`, whose hash does not match its fields, is intact apart from its
    /// sequence number, i.e. it was moved from another position. Its original position is
    /// guessed from its neighbours in the chain: 1 after genesis, one after the row that
    /// carries its `prev_hash`, one before the row whose `prev_hash` is its hash. Only an
    /// exact hash match counts, so an edited row is never reported as moved.
    async fn audit_row_was_moved(&self, row: &AuditRow) -> Result<bool, StoreError> {
        let mut candidates = Vec::new();
        if row.prev_hash == GENESIS {
            candidates.push(1);
        }
        let before = sqlx::query("SELECT seq FROM audit_log WHERE hash = $1 LIMIT 1")
            .bind(row.prev_hash.as_str())
            .fetch_optional(self.pool())
            .await?;
        if let Some(before) = before {
            candidates.push(before.try_get::<i64, _>("seq")?.saturating_add(1));
        }
        let after = sqlx::query("SELECT seq FROM audit_log WHERE prev_hash = $1 LIMIT 1")
            .bind(row.hash.as_str())
            .fetch_optional(self.pool())
            .await?;
        if let Some(after) = after {
            candidates.push(after.try_get::<i64, _>("seq")?.saturating_sub(1));
        }
        Ok(candidates.into_iter().any(|seq| {
            seq != row.seq
                && AuditRow { seq, ..row.clone() }.expected_hash(&row.prev_hash) == row.hash
        }))
    }
}
