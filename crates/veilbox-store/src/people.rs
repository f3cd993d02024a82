//! Staff: users, teams and which inboxes each team serves.
//!
//! Roles are names checked by the authorizer, not enums here: custom roles are policies an
//! admin adds, so the store only records which role a user holds.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::ids::new_id;
use crate::{now_ms, Store, StoreError};

/// A member of staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: String,
    /// Lowercased e-mail, the sign-in name.
    pub email: String,
    /// How the user is shown to colleagues.
    pub display_name: String,
    /// Role name (built-in or custom).
    pub role: String,
    /// argon2id PHC string; `None` until a password was set.
    pub password_hash: Option<String>,
    /// TOTP secret (base32), once enrolment started.
    pub totp_secret: Option<String>,
    /// Enrolment confirmed: sign-in asks for a code.
    pub totp_enabled: bool,
    /// Last accepted TOTP step.
    pub totp_last_step: Option<i64>,
    /// When an admin disabled the user.
    pub disabled_at: Option<i64>,
    /// Created (Unix ms).
    pub created_at: i64,
}

impl User {
    /// Whether the user may sign in at all.
    pub fn active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// A team: a supervisor, agents, and the inboxes it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Id.
    pub id: String,
    /// Name, unique.
    pub name: String,
    /// The supervisor who leads it.
    pub supervisor_id: Option<String>,
    /// Inbox ids it serves; `*` means every inbox.
    pub inboxes: Vec<String>,
    /// Member user ids.
    pub members: Vec<String>,
}

/// The inbox wildcard in `team_inboxes`.
pub const EVERY_INBOX: &str = "*";

const USER_COLUMNS: &str = "SELECT id, email, display_name, role, password_hash, totp_secret, \
     totp_enabled, totp_last_step, disabled_at, created_at FROM users";

/// Lowercases and trims an e-mail so look-ups do not depend on how it was typed.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn user_row(r: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        display_name: r.try_get("display_name")?,
        role: r.try_get("role")?,
        password_hash: r.try_get("password_hash")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
        totp_last_step: r.try_get("totp_last_step")?,
        disabled_at: r.try_get("disabled_at")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Adds a user without a password; returns it. `None` when the e-mail is taken.
    pub async fn create_user(
        &self,
        email: &str,
        display_name: &str,
        role: &str,
    ) -> Result<Option<User>, StoreError> {
        let id = new_id();
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO users (id, email, display_name, role, totp_enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5) ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(normalize_email(email))
        .bind(display_name)
        .bind(role)
        .bind(now)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.user(&id).await
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("{USER_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    /// A user by e-mail (any case).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("{USER_COLUMNS} WHERE email = $1"))
            .bind(normalize_email(email))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    /// Every user, by e-mail.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("{USER_COLUMNS} ORDER BY email"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// Sets a user's password hash. Returns false for an unknown user.
    pub async fn set_password_hash(&self, user_id: &str, phc: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(user_id)
                .bind(phc)
                .bind(now_ms())
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Changes a user's role.
    pub async fn set_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(role)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Disables (or enables again) a user. Disabling also ends every session and retires
    /// any unused set-password link, so it takes effect on the user's next request.
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<bool, StoreError> {
        let at = disabled.then(now_ms);
        let done = sqlx::query("UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(at)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        if disabled {
            self.end_user_sessions(user_id, "disabled").await?;
            sqlx::query(
                "UPDATE password_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(user_id)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// Starts TOTP enrolment with a new secret (not yet required at sign-in).
    pub async fn begin_totp(&self, user_id: &str, secret_base32: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET totp_secret = $2, totp_enabled = 0, totp_last_step = NULL, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(user_id)
        .bind(secret_base32)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets a user's second factor (lost phone): they enrol again at next sign-in.
    pub async fn reset_totp(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL, \
             updated_at = $2 WHERE id = $1",
        )
        .bind(user_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records an accepted TOTP step (and confirms enrolment). Refuses, returning false, a
    /// step that is not newer than the last one: two requests racing with one code cannot
    /// both win.
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET totp_enabled = 1, totp_last_step = $2, updated_at = $3 \
             WHERE id = $1 AND totp_secret IS NOT NULL \
             AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a user's recovery codes (digests).
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for digest in digests {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_digest) VALUES ($1, $2)")
                .bind(user_id)
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Uses up one recovery code; false when it is unknown or was used before.
    pub async fn use_recovery_code(&self, user_id: &str, digest: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_digest = $2 \
             AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(digest)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many unused recovery codes a user has left.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// A one-time set-password link for `user_id`, valid for `valid_ms`. The caller keeps the
    /// token; only its digest is stored.
    pub async fn create_password_link(
        &self,
        user_id: &str,
        token_digest: &str,
        valid_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        // One live link per user: a new one retires the old (a link sent to the wrong
        // place is undone by sending a new one).
        sqlx::query(
            "UPDATE password_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        sqlx::query(
            "INSERT INTO password_links (token_digest, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest)
        .bind(user_id)
        .bind(now)
        .bind(now + valid_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The user a set-password link is for, if it is unused and unexpired.
    pub async fn password_link_user(
        &self,
        token_digest: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id FROM password_links WHERE token_digest = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(token_digest)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("user_id"))
            .transpose()
            .map_err(Into::into)
    }

    /// Uses a set-password link and sets the password in one transaction; the user's other
    /// sessions end (a reset must lock out whoever knew the old password). Returns the user
    /// id, or `None` when the link is unknown, used or expired.
    pub async fn redeem_password_link(
        &self,
        token_digest: &str,
        phc: &str,
    ) -> Result<Option<String>, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE password_links SET used_at = $2 WHERE token_digest = $1 AND used_at IS NULL \
             AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_digest)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user_id: String = row.try_get("user_id")?;
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id.as_str())
            .bind(phc)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sessions SET ended_at = $2, end_reason = 'password set' \
             WHERE user_id = $1 AND ended_at IS NULL",
        )
        .bind(user_id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }

    /// Creates a team (or finds it by name); returns its id.
    pub async fn ensure_team(&self, name: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(new_id())
        .bind(name)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        let row = sqlx::query("SELECT id FROM teams WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("id")?)
    }

    /// Makes `user_id` a member of `team_id` (idempotent).
    pub async fn add_team_member(&self, team_id: &str, user_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(team_id)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a member from a team (and as its supervisor, if they led it).
    pub async fn remove_team_member(&self, team_id: &str, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE teams SET supervisor_id = NULL WHERE id = $1 AND supervisor_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Sets who leads a team (they become a member too).
    pub async fn set_team_supervisor(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE teams SET supervisor_id = $2 WHERE id = $1")
            .bind(team_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        self.add_team_member(team_id, user_id).await
    }

    /// Lets a team serve an inbox (an inbox id, or [`EVERY_INBOX`]).
    pub async fn add_team_inbox(&self, team_id: &str, inbox_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO team_inboxes (team_id, inbox_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(team_id)
        .bind(inbox_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stops a team serving an inbox (an inbox id, or [`EVERY_INBOX`]).
    pub async fn remove_team_inbox(
        &self,
        team_id: &str,
        inbox_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM team_inboxes WHERE team_id = $1 AND inbox_id = $2")
            .bind(team_id)
            .bind(inbox_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every inbox as (id, name), by name.
    pub async fn inboxes(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, name FROM inboxes ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect()
    }

    /// Every team with its members and inboxes.
    pub async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        let rows = sqlx::query("SELECT id, name, supervisor_id FROM teams ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        let mut teams = Vec::with_capacity(rows.len());
        for r in &rows {
            teams.push(Team {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                supervisor_id: r.try_get("supervisor_id")?,
                inboxes: Vec::new(),
                members: Vec::new(),
            });
        }
        let members = sqlx::query("SELECT team_id, user_id FROM team_members ORDER BY user_id")
            .fetch_all(self.pool())
            .await?;
        let inboxes = sqlx::query("SELECT team_id, inbox_id FROM team_inboxes ORDER BY inbox_id")
            .fetch_all(self.pool())
            .await?;
        for team in &mut teams {
            for r in &members {
                if r.try_get::<String, _>("team_id")? == team.id {
                    team.members.push(r.try_get("user_id")?);
                }
            }
            for r in &inboxes {
                if r.try_get::<String, _>("team_id")? == team.id {
                    team.inboxes.push(r.try_get("inbox_id")?);
                }
            }
        }
        Ok(teams)
    }

    /// The ids of the teams a user belongs to.
    pub async fn teams_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| r.try_get("team_id").map_err(Into::into))
            .collect()
    }

    /// The ids of the teams that serve an inbox (directly or through [`EVERY_INBOX`]).
    pub async fn teams_serving(&self, inbox_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT team_id FROM team_inboxes WHERE inbox_id = $1 OR inbox_id = '*' \
             ORDER BY team_id",
        )
        .bind(inbox_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("team_id").map_err(Into::into))
            .collect()
    }

    /// The inbox ids served by any of `team_ids`; `None` means every inbox.
    pub async fn inboxes_served_by(
        &self,
        team_ids: &[String],
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut inboxes = Vec::new();
        for team in team_ids {
            let rows = sqlx::query("SELECT inbox_id FROM team_inboxes WHERE team_id = $1")
                .bind(team.as_str())
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                let inbox: String = r.try_get("inbox_id")?;
                if inbox == EVERY_INBOX {
                    return Ok(None);
                }
                if !inboxes.contains(&inbox) {
                    inboxes.push(inbox);
                }
            }
        }
        Ok(Some(inboxes))
    }
}
