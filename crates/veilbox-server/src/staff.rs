//! Adding people and giving them a way in: used alike by `veilbox user add`, the admin
//! pages and the JSON API, so every path validates and audits the same way.

use veilbox_core::credentials::secret_token;
use veilbox_store::audit::AuditEntry;
use veilbox_store::people::User;
use veilbox_store::{Store, StoreError};

/// How long a set-password link works.
pub const LINK_VALID_MS: i64 = 72 * 60 * 60 * 1000;

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    /// The e-mail does not look like one.
    #[error("that is not an e-mail address")]
    BadEmail,
    /// Nobody has that role.
    #[error("unknown role {0:?}: use one of {1}")]
    UnknownRole(String, String),
    /// Someone already signs in with that e-mail.
    #[error("a user with that e-mail already exists")]
    Taken,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user just added, with the one-time link that lets them set a password.
#[derive(Debug)]
pub struct Invited {
    /// The user.
    pub user: User,
    /// The link's path (`/set-password/...`); shown once, stored only as a digest.
    pub link_path: String,
}

/// Who asks for a change, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    /// Actor id.
    pub actor: &'a str,
    /// Client address.
    pub address: Option<&'a str>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
}

impl<'a> By<'a> {
    /// An audit entry by this actor.
    pub fn entry(
        self,
        action: &'a str,
        target: Option<&'a str>,
        reason: Option<&'a str>,
    ) -> AuditEntry<'a> {
        AuditEntry {
            actor: self.actor,
            action,
            target,
            reason,
            address: self.address,
            user_agent: self.user_agent,
        }
    }
}

fn plausible_email(email: &str) -> bool {
    let email = email.trim();
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 254
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// Adds a user with `role` (one of `roles`), optionally to `team` (created when new), and
/// makes their set-password link.
pub async fn add_user(
    store: &Store,
    roles: &[String],
    email: &str,
    display_name: Option<&str>,
    role: &str,
    team: Option<&str>,
    by: By<'_>,
) -> Result<Invited, AddUserError> {
    if !plausible_email(email) {
        return Err(AddUserError::BadEmail);
    }
    if !roles.iter().any(|r| r == role) {
        return Err(AddUserError::UnknownRole(role.to_owned(), roles.join(", ")));
    }
    let name = display_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_owned());
    let user = store
        .create_user(email, &name, role)
        .await?
        .ok_or(AddUserError::Taken)?;
    store
        .audit(&by.entry("user.created", Some(&user.id), Some(role)))
        .await?;
    if let Some(team) = team.map(str::trim).filter(|t| !t.is_empty()) {
        let team_id = store.ensure_team(team).await?;
        join_team(store, &team_id, &user, by).await?;
    }
    let link_path = password_link(store, &user.id, by).await?;
    Ok(Invited { user, link_path })
}

/// Puts `user` in a team (a supervisor leads it), audited.
pub async fn join_team(
    store: &Store,
    team_id: &str,
    user: &User,
    by: By<'_>,
) -> Result<(), StoreError> {
    if user.role == "supervisor" {
        store.set_team_supervisor(team_id, &user.id).await?;
    } else {
        store.add_team_member(team_id, &user.id).await?;
    }
    let target = format!("{team_id} {}", user.id);
    store
        .audit(&by.entry("team.member_added", Some(&target), None))
        .await?;
    Ok(())
}

/// A fresh one-time set-password link for a user (new users, forgotten passwords).
pub async fn password_link(store: &Store, user_id: &str, by: By<'_>) -> Result<String, StoreError> {
    let token = secret_token::generate("vbl");
    store
        .create_password_link(user_id, &secret_token::digest(&token), LINK_VALID_MS)
        .await?;
    store
        .audit(&by.entry("user.password_link_created", Some(user_id), None))
        .await?;
    Ok(format!("/set-password/{token}"))
}

#[cfg(test)]
mod tests {
    use super::plausible_email;

    #[test]
    fn emails_are_checked_for_shape_only() {
        assert!(plausible_email("ana@courier.example"));
        assert!(!plausible_email("ana"));
        assert!(!plausible_email("ana@localhost"));
        assert!(!plausible_email("a na@courier.example"));
        assert!(!plausible_email("@courier.example"));
    }
}
