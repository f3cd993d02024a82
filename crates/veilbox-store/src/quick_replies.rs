//! Quick replies: a team's canned responses, written by its supervisor, picked by its
//! agents in the composer.
//!
//! Stored in the clear: a quick reply is company text with blind placeholders
//! (`{{shipment.address}}`), never a customer's values, which the server fills in at send
//! time. The server validates a body (known placeholders, no payment data or codes) before
//! it gets here; the store only keeps rows.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::ids::new_id;
use crate::{now_ms, Store, StoreError};

/// One quick reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReply {
    /// Id (also its audit target).
    pub id: String,
    /// The team whose agents see it.
    pub team_id: String,
    /// What the picker shows.
    pub title: String,
    /// The text, placeholders unfilled.
    pub body: String,
    /// The actor who wrote it (a user id or `token:<id>`).
    pub created_by: String,
    /// Last written (Unix ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "SELECT id, team_id, title, body, created_by, updated_at FROM quick_replies";

fn quick_reply_row(r: &AnyRow) -> Result<QuickReply, StoreError> {
    Ok(QuickReply {
        id: r.try_get("id")?,
        team_id: r.try_get("team_id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Adds a quick reply to `team_id`; returns it.
    pub async fn create_quick_reply(
        &self,
        team_id: &str,
        title: &str,
        body: &str,
        created_by: &str,
    ) -> Result<QuickReply, StoreError> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO quick_replies (id, team_id, title, body, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id.as_str())
        .bind(team_id)
        .bind(title)
        .bind(body)
        .bind(created_by)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(QuickReply {
            id,
            team_id: team_id.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            created_by: created_by.to_owned(),
            updated_at: now,
        })
    }

    /// A quick reply by id.
    pub async fn quick_reply(&self, id: &str) -> Result<Option<QuickReply>, StoreError> {
        let row = sqlx::query(&format!("{COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(quick_reply_row).transpose()
    }

    /// The quick replies of `team_ids`, by title (then id, so the order is stable).
    pub async fn quick_replies_of(
        &self,
        team_ids: &[String],
    ) -> Result<Vec<QuickReply>, StoreError> {
        let mut all = Vec::new();
        // One query per team: teams per user are few, and the SQL stays portable.
        for team in team_ids {
            let rows = sqlx::query(&format!("{COLUMNS} WHERE team_id = $1"))
                .bind(team.as_str())
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                all.push(quick_reply_row(r)?);
            }
        }
        all.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
        all.dedup_by(|a, b| a.id == b.id);
        Ok(all)
    }

    /// Every quick reply of every team, by title.
    pub async fn all_quick_replies(&self) -> Result<Vec<QuickReply>, StoreError> {
        let rows = sqlx::query(&format!("{COLUMNS} ORDER BY title, id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(quick_reply_row).collect()
    }

    /// Rewrites a quick reply's title and body. False when there is no such quick reply.
    pub async fn update_quick_reply(
        &self,
        id: &str,
        title: &str,
        body: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE quick_replies SET title = $2, body = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(title)
        .bind(body)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a quick reply. False when there was none.
    pub async fn delete_quick_reply(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM quick_replies WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
