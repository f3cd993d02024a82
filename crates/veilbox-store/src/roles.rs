//! Custom roles as stored: a name and its Cedar policy text. Validation happens before a
//! role reaches the store (the authorizer refuses a bad policy and the old one stays).

use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// A custom role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRole {
    /// Role name.
    pub name: String,
    /// Cedar policy text.
    pub policy: String,
    /// Who saved it last.
    pub updated_by: String,
    /// When (Unix ms).
    pub updated_at: i64,
}

impl Store {
    /// Every custom role, by name.
    pub async fn custom_roles(&self) -> Result<Vec<StoredRole>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, policy, updated_by, updated_at FROM custom_roles ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredRole {
                    name: r.try_get("name")?,
                    policy: r.try_get("policy")?,
                    updated_by: r.try_get("updated_by")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Creates or replaces a custom role.
    pub async fn save_custom_role(
        &self,
        name: &str,
        policy: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO custom_roles (name, policy, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET policy = $2, updated_by = $3, updated_at = $4",
        )
        .bind(name)
        .bind(policy)
        .bind(by)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
