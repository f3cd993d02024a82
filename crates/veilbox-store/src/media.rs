//! Inbound media kept on our side: the fetch queue and the sealed files.
//!
//! Meta forgets a media id after 7 days, so every inbound media message gets a row in
//! `media_files` when it is stored (by ingest, in the same transaction): the fetcher claims
//! due rows, downloads the bytes and stores them here sealed with the customer's data key,
//! with a tiny preview for images. Erasing the customer destroys that key (and clears the
//! rows); retention deletes them with their messages; a merge seals them again under the
//! surviving customer's key.
//!
//! Nothing here logs or returns the bytes except [`Store::media_original`] and
//! [`Store::media_preview`], which the server only calls after authorising the viewer.

use sqlx::Row;
use veilbox_vault::Zeroizing;

use crate::{now_ms, Store, StoreError};

/// A fetch to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaJob {
    /// The media message.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Attempts so far, this one included once claimed.
    pub attempts: i64,
}

/// What a fetch came to.
#[derive(Debug)]
pub enum MediaOutcome {
    /// The bytes, as served, and a preview for images.
    Stored {
        /// MIME type (checked by the fetcher).
        mime_type: String,
        /// The original.
        bytes: Vec<u8>,
        /// A tiny PNG, for images.
        preview: Option<Vec<u8>>,
    },
    /// Try again at `at` (Unix ms).
    RetryLater {
        /// When.
        at: i64,
        /// Why, for admins.
        reason: String,
    },
    /// Given up: Meta no longer has it, it is too large, or of a type we do not keep.
    Failed {
        /// Why, for admins and agents.
        reason: String,
    },
}

/// Where a message's media stands, as the thread shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MediaRecord {
    /// The conversation (the preview and reveal routes are under it).
    pub conversation_id: String,
    /// `pending`, `fetching`, `stored`, `failed` or `erased`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// MIME type as served, once stored.
    pub mime_type: Option<String>,
    /// Size in bytes, once stored.
    pub size: Option<i64>,
    /// Whether a preview exists (images).
    pub has_preview: bool,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl MediaRecord {
    /// Reads the `media_*` columns of a message row joined with `media_files` (see the
    /// thread query); `None` without a row.
    pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> Result<Option<MediaRecord>, StoreError> {
        let Some(state) = r.try_get::<Option<String>, _>("media_state")? else {
            return Ok(None);
        };
        // A boolean expression is an integer on SQLite and a bool on PostgreSQL.
        let has_preview = r
            .try_get::<bool, _>("media_has_preview")
            .or_else(|_| r.try_get::<i64, _>("media_has_preview").map(|n| n != 0))?;
        Ok(Some(MediaRecord {
            conversation_id: r.try_get("media_conversation_id")?,
            state,
            attempts: r.try_get("media_attempts")?,
            mime_type: r.try_get("media_mime_type")?,
            size: r.try_get("media_size")?,
            has_preview,
            error: r.try_get("media_error")?,
        }))
    }
}

/// A stored original, opened.
pub struct MediaFile {
    /// MIME type as served.
    pub mime_type: String,
    /// The bytes (zeroed when dropped).
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for MediaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFile")
            .field("mime_type", &self.mime_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

impl Store {
    /// Due fetches, oldest first.
    pub async fn due_media(&self, now: i64, limit: u32) -> Result<Vec<MediaJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, conversation_id, attempts FROM media_files \
             WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, message_id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MediaJob {
                    message_id: r.try_get("message_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// When the next pending fetch is due, if any.
    pub async fn next_media_due(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(next_attempt_at) AS due FROM media_files WHERE state = 'pending'",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("due")?)
    }

    /// Claims a job for this fetcher (pending → fetching, one more attempt); `false` when
    /// another fetcher (another node) claimed it first.
    pub async fn claim_media(&self, message_id: &str) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE media_files SET state = 'fetching', attempts = attempts + 1, updated_at = $2 \
             WHERE message_id = $1 AND state = 'pending'",
        )
        .bind(message_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Fetches cut short by the last shutdown go back to the queue (a download has no
    /// effect at Meta: repeating it is harmless).
    pub async fn recover_interrupted_media(&self) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE media_files SET state = 'pending', next_attempt_at = $1, updated_at = $1 \
             WHERE state = 'fetching'",
        )
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Records what a fetch came to. The bytes are sealed with the data key of the
    /// conversation's customer as it is at commit time (under the CRM write lock, so a
    /// merge or an erasure cannot slip in between); an erased customer's media is dropped.
    pub async fn record_media(
        &self,
        message_id: &str,
        outcome: &MediaOutcome,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        match outcome {
            MediaOutcome::RetryLater { at, reason } => {
                sqlx::query(
                    "UPDATE media_files SET state = 'pending', next_attempt_at = $2, error = $3, updated_at = $4 \
                     WHERE message_id = $1 AND state = 'fetching'",
                )
                .bind(message_id)
                .bind(*at)
                .bind(reason.as_str())
                .bind(now)
                .execute(self.pool())
                .await?;
            }
            MediaOutcome::Failed { reason } => {
                sqlx::query(
                    "UPDATE media_files SET state = 'failed', error = $2, updated_at = $3 \
                     WHERE message_id = $1 AND state = 'fetching'",
                )
                .bind(message_id)
                .bind(reason.as_str())
                .bind(now)
                .execute(self.pool())
                .await?;
            }
            MediaOutcome::Stored {
                mime_type,
                bytes,
                preview,
            } => {
                let keyring = self.keyring()?;
                let mut tx = crate::crm::write_tx(self).await?;
                let customer: Option<String> = sqlx::query(
                    "SELECT c.customer_id FROM media_files f JOIN conversations c ON c.id = f.conversation_id \
                     WHERE f.message_id = $1 AND f.state = 'fetching'",
                )
                .bind(message_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("customer_id"))
                .transpose()?;
                let Some(customer) = customer else {
                    // Deleted by retention or erased meanwhile.
                    tx.rollback().await?;
                    return Ok(());
                };
                let Some(key) = keyring.customer_key(&mut tx, &customer).await? else {
                    sqlx::query(
                        "UPDATE media_files SET state = 'erased', updated_at = $2 WHERE message_id = $1",
                    )
                    .bind(message_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Ok(());
                };
                let content = key.seal_bytes("media_files", "content", message_id, bytes);
                let preview = preview
                    .as_ref()
                    .map(|p| key.seal_bytes("media_files", "preview", message_id, p));
                sqlx::query(
                    "UPDATE media_files SET state = 'stored', mime_type = $2, size = $3, content = $4, \
                     preview = $5, error = NULL, fetched_at = $6, updated_at = $6 WHERE message_id = $1",
                )
                .bind(message_id)
                .bind(mime_type.as_str())
                .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
                .bind(content)
                .bind(preview)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// The stored original of a message of `conversation_id`, opened; `None` when there is
    /// none (not fetched, failed, erased) or it does not open.
    pub async fn media_original(
        &self,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<Option<MediaFile>, StoreError> {
        let Some((customer, mime, sealed)) = self
            .sealed_media(conversation_id, message_id, "content")
            .await?
        else {
            return Ok(None);
        };
        let Some(bytes) = self
            .open_media(&customer, message_id, "content", &sealed)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(MediaFile {
            mime_type: mime,
            bytes,
        }))
    }

    /// The preview PNG of an image of `conversation_id`, opened.
    pub async fn media_preview(
        &self,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let Some((customer, _, sealed)) = self
            .sealed_media(conversation_id, message_id, "preview")
            .await?
        else {
            return Ok(None);
        };
        self.open_media(&customer, message_id, "preview", &sealed)
            .await
    }

    /// (customer id, mime type, sealed `column`) of a stored media row.
    async fn sealed_media(
        &self,
        conversation_id: &str,
        message_id: &str,
        column: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        // `column` is one of two constants of this module, never input.
        let column = if column == "preview" {
            "preview"
        } else {
            "content"
        };
        let row = sqlx::query(&format!(
            "SELECT c.customer_id, f.mime_type, f.{column} AS sealed FROM media_files f \
             JOIN conversations c ON c.id = f.conversation_id \
             WHERE f.message_id = $1 AND f.conversation_id = $2 AND f.state = 'stored'"
        ))
        .bind(message_id)
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Option<String> = row.try_get("sealed")?;
        let mime: Option<String> = row.try_get("mime_type")?;
        Ok(sealed.map(|s| {
            (
                row.try_get("customer_id").unwrap_or_default(),
                mime.unwrap_or_else(|| "application/octet-stream".to_owned()),
                s,
            )
        }))
    }

    async fn open_media(
        &self,
        customer: &str,
        message_id: &str,
        column: &str,
        sealed: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let keyring = self.keyring()?;
        let mut conn = self.pool().acquire().await?;
        let Some(key) = keyring.customer_key(&mut conn, customer).await? else {
            return Ok(None);
        };
        match key.open_bytes("media_files", column, message_id, sealed) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(_) => {
                tracing::warn!(message = %message_id, "stored media does not open");
                Ok(None)
            }
        }
    }

    /// How many media rows are in each state (for admins; counts only).
    pub async fn media_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM media_files GROUP BY state ORDER BY state",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }
}
