//! Server-side sessions (so any node can serve them) and sign-in throttling.
//!
//! A session is found by the digest of its cookie value: a copy of this table does not
//! let anyone sign in. Ending a session sets `ended_at`; the row stays for the device list
//! and for investigations.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Digest of the cookie value; also the device's handle on the devices page.
    pub id_digest: String,
    /// Whose session.
    pub user_id: String,
    /// False while the second factor is still owed.
    pub complete: bool,
    /// The CSRF token of every form and browser API call in this session.
    pub csrf: String,
    /// Started (Unix ms).
    pub created_at: i64,
    /// Last request (Unix ms, updated at most once a minute).
    pub last_seen_at: i64,
    /// Client address at sign-in.
    pub address: Option<String>,
    /// Browser at sign-in.
    pub user_agent: Option<String>,
    /// When it ended, if it did.
    pub ended_at: Option<i64>,
    /// Why it ended: signed out, revoked, expired, disabled.
    pub end_reason: Option<String>,
}

/// A new session, as sign-in creates it.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Digest of the cookie value.
    pub id_digest: &'a str,
    /// Whose.
    pub user_id: &'a str,
    /// Whether the second factor is done (or not needed).
    pub complete: bool,
    /// CSRF token.
    pub csrf: &'a str,
    /// Client address.
    pub address: Option<&'a str>,
    /// Browser.
    pub user_agent: Option<&'a str>,
}

const SESSION_COLUMNS: &str =
    "SELECT id_digest, user_id, complete, csrf, created_at, last_seen_at, \
     address, user_agent, ended_at, end_reason FROM sessions";

fn session_row(r: &AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id_digest: r.try_get("id_digest")?,
        user_id: r.try_get("user_id")?,
        complete: r.try_get::<i64, _>("complete")? != 0,
        csrf: r.try_get("csrf")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        address: r.try_get("address")?,
        user_agent: r.try_get("user_agent")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
    })
}

/// How many failures are free before the delays start, and the cap on one delay.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    /// Failures before any delay.
    pub free_failures: i64,
    /// The longest single delay (ms).
    pub max_delay_ms: i64,
}

/// A key left alone this long (and not blocked) starts counting again from one: old
/// failures do not keep an account on long delays forever.
pub const QUIET_RESET_MS: i64 = 60 * 60 * 1000;

impl ThrottleRule {
    /// The delay after `failures` failures: nothing while free, then 1 s doubling.
    pub fn delay_ms(self, failures: i64) -> i64 {
        let over = failures - self.free_failures;
        if over <= 0 {
            return 0;
        }
        let doublings = u32::try_from(over - 1).unwrap_or(u32::MAX).min(30);
        (1000_i64 << doublings).min(self.max_delay_ms)
    }
}

impl Store {
    /// Stores a new session.
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (id_digest, user_id, complete, csrf, created_at, last_seen_at, \
             address, user_agent) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(session.id_digest)
        .bind(session.user_id)
        .bind(i64::from(session.complete))
        .bind(session.csrf)
        .bind(now)
        .bind(session.address)
        .bind(session.user_agent)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A session by digest, live or ended.
    pub async fn session(&self, id_digest: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!("{SESSION_COLUMNS} WHERE id_digest = $1"))
            .bind(id_digest)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_row).transpose()
    }

    /// Records activity, at most once per `every_ms` per session (a write per request would
    /// be the busiest statement in the product for no gain in precision). Callers pass a
    /// fraction of the idle timeout, so a busy session never looks idle.
    pub async fn touch_session(
        &self,
        id_digest: &str,
        last_seen_at: i64,
        every_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        if now - last_seen_at < every_ms {
            return Ok(());
        }
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE id_digest = $1 AND ended_at IS NULL",
        )
        .bind(id_digest)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks the second factor done.
    pub async fn complete_session(&self, id_digest: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET complete = 1 WHERE id_digest = $1 AND ended_at IS NULL")
            .bind(id_digest)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends one session; false when it was not live.
    pub async fn end_session(&self, id_digest: &str, reason: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id_digest = $1 AND ended_at IS NULL",
        )
        .bind(id_digest)
        .bind(now_ms())
        .bind(reason)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every live session of a user; returns how many.
    pub async fn end_user_sessions(&self, user_id: &str, reason: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE user_id = $1 AND ended_at IS NULL",
        )
        .bind(user_id)
        .bind(now_ms())
        .bind(reason)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A user's live sessions, newest first.
    pub async fn live_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SESSION_COLUMNS} WHERE user_id = $1 AND ended_at IS NULL ORDER BY last_seen_at DESC"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(session_row).collect()
    }

    /// Leaves a one-shot notice for the session's next page.
    pub async fn set_flash(&self, id_digest: &str, flash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET flash = $2 WHERE id_digest = $1")
            .bind(id_digest)
            .bind(flash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the session's notice, if any. Read, then cleared only if unchanged: two
    /// autocommit statements rather than a read-then-write transaction, which SQLite would
    /// refuse ("database is locked") whenever another connection commits in between.
    pub async fn take_flash(&self, id_digest: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT flash FROM sessions WHERE id_digest = $1")
            .bind(id_digest)
            .fetch_optional(self.pool())
            .await?;
        let flash: Option<String> = match row {
            Some(r) => r.try_get("flash")?,
            None => None,
        };
        let Some(flash) = flash else {
            return Ok(None);
        };
        let taken =
            sqlx::query("UPDATE sessions SET flash = NULL WHERE id_digest = $1 AND flash = $2")
                .bind(id_digest)
                .bind(flash.as_str())
                .execute(self.pool())
                .await?;
        // Another request of the same session took it first: it is shown there.
        Ok((taken.rows_affected() == 1).then_some(flash))
    }

    /// Counts an attempt against `key` before it is checked, and says whether it may go
    /// ahead: `Err(until)` while blocked. The first `free_failures` attempts go through;
    /// after that each attempt must claim the key (set its next block) with a conditional
    /// update, so of many attempts sent at once only one gets through per delay: counting
    /// first closes the race a check-then-count would leave open. A success resets the
    /// key (or refunds the attempt, for shared keys such as an office's address).
    pub async fn throttle_attempt(
        &self,
        key: &str,
        rule: ThrottleRule,
    ) -> Result<Result<(), i64>, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO sign_in_throttle (key, failures, blocked_until, updated_at) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN sign_in_throttle.updated_at < $3 \
             AND sign_in_throttle.blocked_until < $2 THEN 1 ELSE sign_in_throttle.failures + 1 END, \
             updated_at = $2 RETURNING failures, blocked_until",
        )
        .bind(key)
        .bind(now)
        .bind(now - QUIET_RESET_MS)
        .fetch_one(self.pool())
        .await?;
        let attempts: i64 = row.try_get("failures")?;
        if attempts <= rule.free_failures {
            return Ok(Ok(()));
        }
        let until = now + rule.delay_ms(attempts);
        let claimed = sqlx::query(
            "UPDATE sign_in_throttle SET blocked_until = $2 WHERE key = $1 AND blocked_until <= $3",
        )
        .bind(key)
        .bind(until)
        .bind(now)
        .execute(self.pool())
        .await?;
        if claimed.rows_affected() == 1 {
            return Ok(Ok(()));
        }
        let blocked: i64 = sqlx::query("SELECT blocked_until FROM sign_in_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get("blocked_until"))
            .transpose()?
            .unwrap_or(now);
        Ok(Err(blocked.max(now + 1000)))
    }

    /// Gives back one counted attempt (a success on a shared key).
    pub async fn throttle_refund(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sign_in_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
        )
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    pub async fn throttle_reset(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ThrottleRule;

    #[test]
    fn delays_grow_and_are_capped() {
        let rule = ThrottleRule {
            free_failures: 3,
            max_delay_ms: 15 * 60_000,
        };
        let delays: Vec<i64> = (1..=6).map(|f| rule.delay_ms(f)).collect();
        assert_eq!(delays, vec![0, 0, 0, 1000, 2000, 4000]);
        assert_eq!(rule.delay_ms(40), 15 * 60_000);
        assert_eq!(rule.delay_ms(i64::MAX), 15 * 60_000);
    }
}
