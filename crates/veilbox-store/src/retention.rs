//! Retention: how long each kind of data is kept, and the purge that enforces it.
//!
//! Keeping customer data only as long as it is needed is the other half of protecting it.
//! Each kind has its own period (or none: kept until erased). The purge deletes what is
//! older; a dry run counts the same rows without touching them, so an admin can see what
//! a new policy would remove before it does.

use std::time::Duration;

use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// Message types whose content is a media attachment.
const MEDIA_TYPES: &str = "('image', 'audio', 'video', 'document', 'sticker')";

/// How long each kind of data is kept; `None` keeps it until the customer is erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Every message, by when it was received.
    pub messages: Option<Duration>,
    /// Media messages (images, audio, video, documents, stickers): usually shorter.
    pub media: Option<Duration>,
    /// Shipments, counted from when they were closed (delivered, returned, cancelled).
    pub closed_shipments: Option<Duration>,
    /// Bodies that could not be parsed.
    pub dead_letters: Option<Duration>,
    /// Raw webhook bodies kept for reprocessing; the row (and its hash, which makes a
    /// redelivery a no-op) stays, the body goes.
    pub raw_events: Option<Duration>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        RetentionPolicy {
            messages: days(730),
            media: days(90),
            closed_shipments: days(365),
            dead_letters: days(30),
            raw_events: days(30),
        }
    }
}

/// What a purge removed (or, in a dry run, would remove). Counts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// Messages deleted (media included).
    pub messages: u64,
    /// Of which media messages past the media period.
    pub media: u64,
    /// Closed shipments deleted.
    pub closed_shipments: u64,
    /// Dead letters deleted.
    pub dead_letters: u64,
    /// Raw webhook bodies cleared.
    pub raw_events: u64,
}

impl PurgeReport {
    /// One line for logs and the audit log: counts, no data.
    pub fn summary(&self) -> String {
        format!(
            "messages={} media={} closed_shipments={} dead_letters={} raw_events={}{}",
            self.messages,
            self.media,
            self.closed_shipments,
            self.dead_letters,
            self.raw_events,
            if self.dry_run { " (dry run)" } else { "" }
        )
    }
}

/// A cut-off `period` before `now` (Unix ms).
fn cutoff(now: i64, period: Duration) -> i64 {
    now.saturating_sub(i64::try_from(period.as_millis()).unwrap_or(i64::MAX))
}

impl Store {
    /// Deletes what `policy` no longer keeps as of `now` (Unix ms), in one transaction;
    /// with `dry_run`, only counts.
    pub async fn purge(
        &self,
        policy: &RetentionPolicy,
        now: i64,
        dry_run: bool,
    ) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport {
            dry_run,
            ..PurgeReport::default()
        };
        let mut tx = match self.backend() {
            // Counting first and deleting after would fail to upgrade a deferred SQLite
            // transaction if the ingest writer committed in between: take the lock first.
            crate::Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => self.pool().begin().await?,
        };
        // Media messages follow the media period when there is one, every other message
        // the message period.
        let mut doomed = Vec::new();
        if let Some(period) = policy.media {
            doomed.push((
                format!("received_at < $1 AND message_type IN {MEDIA_TYPES}"),
                cutoff(now, period),
                true,
            ));
        }
        if let Some(period) = policy.messages {
            let condition = match policy.media {
                Some(_) => format!("received_at < $1 AND message_type NOT IN {MEDIA_TYPES}"),
                None => "received_at < $1".to_owned(),
            };
            doomed.push((condition, cutoff(now, period), false));
        }
        for (condition, before, media) in doomed {
            let selection = format!("SELECT id FROM messages WHERE {condition}");
            let count: i64 = sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM messages WHERE {condition}"
            ))
            .bind(before)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            let count = u64::try_from(count).unwrap_or(0);
            if media {
                report.media += count;
            }
            report.messages += count;
            if dry_run || count == 0 {
                continue;
            }
            // Children first: receipts and delivery state by wamid, then send jobs and the
            // fetched media files (originals and previews go with their message).
            for child in [
                "DELETE FROM message_statuses WHERE wa_message_id IN (SELECT wa_message_id FROM messages WHERE {c})",
                "DELETE FROM message_delivery WHERE wa_message_id IN (SELECT wa_message_id FROM messages WHERE {c})",
                "DELETE FROM outbox WHERE message_id IN ({s})",
                "DELETE FROM media_files WHERE message_id IN ({s})",
                "DELETE FROM message_revisions WHERE message_id IN ({s})",
                "DELETE FROM messages WHERE {c}",
            ] {
                let sql = child.replace("{c}", &condition).replace("{s}", &selection);
                sqlx::query(&sql).bind(before).execute(&mut *tx).await?;
            }
        }
        if let Some(period) = policy.closed_shipments {
            report.closed_shipments = self
                .purge_closed_shipments(&mut tx, cutoff(now, period), dry_run)
                .await?;
        }
        if let Some(period) = policy.dead_letters {
            report.dead_letters = count_or_run(
                &mut tx,
                "dead_letters WHERE received_at < $1",
                "DELETE FROM dead_letters WHERE received_at < $1",
                cutoff(now, period),
                dry_run,
            )
            .await?;
        }
        if let Some(period) = policy.raw_events {
            report.raw_events = count_or_run(
                &mut tx,
                // A quarantined event keeps its body: it is the only copy of what was sent.
                "webhook_events WHERE received_at < $1 AND length(body) > 0 \
                 AND id NOT IN (SELECT event_id FROM quarantined_events)",
                "UPDATE webhook_events SET body = $2 WHERE received_at < $1 AND length(body) > 0 \
                 AND id NOT IN (SELECT event_id FROM quarantined_events)",
                cutoff(now, period),
                dry_run,
            )
            .await?;
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(report)
    }

    /// Shipments closed before `before`, with their timelines.
    async fn purge_closed_shipments(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        before: i64,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM shipments WHERE closed_at IS NOT NULL AND closed_at < $1",
        )
        .bind(before)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
        if !dry_run && count > 0 {
            // Their timelines go with them, and so do their delivery addresses' blind
            // indexes: a purged parcel's address no longer counts as anyone's in reply checks.
            for (table, key) in [
                ("shipment_events", "shipment_id"),
                ("address_indexes", "source_id"),
            ] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE {key} IN \
                     (SELECT id FROM shipments WHERE closed_at IS NOT NULL AND closed_at < $1)"
                ))
                .bind(before)
                .execute(&mut **tx)
                .await?;
            }
            sqlx::query("DELETE FROM shipments WHERE closed_at IS NOT NULL AND closed_at < $1")
                .bind(before)
                .execute(&mut **tx)
                .await?;
        }
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// Counts the rows of `from` (a table and condition on `$1`), and unless `dry_run` runs
/// `change` (which may use `$2`, an empty body) on them.
async fn count_or_run(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    from: &str,
    change: &str,
    before: i64,
    dry_run: bool,
) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {from}"))
        .bind(before)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if !dry_run && count > 0 {
        let mut query = sqlx::query(change).bind(before);
        if change.contains("$2") {
            query = query.bind(Vec::<u8>::new());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The purge as a background job: first a minute after start, then every day.
pub async fn run_daily(store: Store, policy: RetentionPolicy) {
    tokio::time::sleep(Duration::from_secs(60)).await;
    loop {
        match store.purge(&policy, now_ms(), false).await {
            Ok(report) => {
                tracing::info!(summary = %report.summary(), "retention purge");
                let summary = report.summary();
                let entry = crate::audit::AuditEntry {
                    actor: "system",
                    action: "retention.purged",
                    target: None,
                    reason: Some(&summary),
                    address: None,
                    user_agent: None,
                };
                if let Err(error) = store.audit(&entry).await {
                    tracing::error!(%error, "could not audit the retention purge");
                }
            }
            Err(error) => tracing::error!(%error, "retention purge failed; retrying tomorrow"),
        }
        tokio::time::sleep(Duration::from_secs(86_400)).await;
    }
}
