//! API tokens for integrations: a role and a scope each, stored as a digest, revocable.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::ids::new_id;
use crate::{now_ms, Store, StoreError};

/// An API token as stored (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Id (also its audit target).
    pub id: String,
    /// What the token is for, as the admin named it.
    pub name: String,
    /// The role it acts with.
    pub role: String,
    /// Team ids it acts for.
    pub teams: Vec<String>,
    /// Scope: read-only tokens cannot change anything.
    pub read_only: bool,
    /// The admin who created it.
    pub created_by: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last used (Unix ms, at most once a minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    /// Name.
    pub name: &'a str,
    /// Digest of the secret.
    pub digest: &'a str,
    /// Role.
    pub role: &'a str,
    /// Team ids.
    pub teams: &'a [String],
    /// Read-only scope.
    pub read_only: bool,
    /// Creating admin.
    pub created_by: &'a str,
}

const TOKEN_COLUMNS: &str = "SELECT id, name, role, teams, read_only, created_by, created_at, \
     last_used_at, revoked_at FROM api_tokens";

fn token_row(r: &AnyRow) -> Result<ApiToken, StoreError> {
    let teams: String = r.try_get("teams")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        teams: serde_json::from_str(&teams)?,
        read_only: r.try_get::<i64, _>("read_only")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Stores a token; returns its id.
    pub async fn create_api_token(&self, token: &NewApiToken<'_>) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_digest, role, teams, read_only, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(token.name)
        .bind(token.digest)
        .bind(token.role)
        .bind(serde_json::to_string(token.teams)?)
        .bind(i64::from(token.read_only))
        .bind(token.created_by)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The live (unrevoked) token with this digest; records its use.
    pub async fn api_token_by_digest(&self, digest: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(&format!(
            "{TOKEN_COLUMNS} WHERE token_digest = $1 AND revoked_at IS NULL"
        ))
        .bind(digest)
        .fetch_optional(self.pool())
        .await?;
        let Some(token) = row.as_ref().map(token_row).transpose()? else {
            return Ok(None);
        };
        let now = now_ms();
        if token.last_used_at.is_none_or(|at| now - at > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(token.id.as_str())
                .bind(now)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(token))
    }

    /// Every token, newest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(&format!(
            "{TOKEN_COLUMNS} ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(token_row).collect()
    }

    /// Revokes a token; false when unknown or already revoked.
    pub async fn revoke_api_token(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
