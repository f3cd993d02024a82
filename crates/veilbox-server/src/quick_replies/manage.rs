//! Who may write which quick replies, and the writes themselves: one path for the page and
//! the JSON API, so both check, scope and audit alike. Audit events carry ids only.

use veilbox_policy::Action;
use veilbox_store::quick_replies::QuickReply;
use veilbox_store::reads::ConversationSummary;
use veilbox_store::StoreError;

use super::rules::{self, Refusal};
use crate::auth::Actor;
use crate::AppState;

/// The teams whose quick replies an actor may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// None: agents, auditors, read-only tokens.
    Nothing,
    /// Their own teams (supervisors): the policy answers for the installation, the teams
    /// are checked here.
    Teams(Vec<String>),
    /// Every team: those who manage users and teams anyway (admins).
    Every,
}

impl Scope {
    /// The scope of `actor`.
    pub fn of(state: &AppState, actor: &Actor) -> Scope {
        if !state
            .access
            .allowed_system(actor, Action::ManageQuickReplies)
        {
            Scope::Nothing
        } else if state.access.allowed_system(actor, Action::ManageUsers) {
            Scope::Every
        } else {
            Scope::Teams(actor.principal.teams.clone())
        }
    }

    /// Whether `team_id` is in scope.
    pub fn covers(&self, team_id: &str) -> bool {
        match self {
            Scope::Nothing => false,
            Scope::Teams(teams) => teams.iter().any(|t| t == team_id),
            Scope::Every => true,
        }
    }

    /// Whether the actor may write any quick reply at all (the menu link, the page).
    pub fn any(&self) -> bool {
        !matches!(self, Scope::Nothing)
    }
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// No such quick reply, or one of a team out of scope (its existence is not theirs to
    /// know).
    #[error("not found")]
    NotFound,
    /// The actor may not write quick replies for that team.
    #[error("forbidden")]
    Forbidden,
    /// The text was refused; the message says why.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The quick replies an actor reads: their teams' (every team's for [`Scope::Every`]).
pub async fn visible(state: &AppState, actor: &Actor) -> Result<Vec<QuickReply>, StoreError> {
    if Scope::of(state, actor) == Scope::Every {
        return state.store.all_quick_replies().await;
    }
    state.store.quick_replies_of(&actor.principal.teams).await
}

/// The quick replies the composer offers in `conversation`: those of the teams that serve
/// it and that the actor belongs to.
pub async fn for_conversation(
    state: &AppState,
    actor: &Actor,
    conversation: &ConversationSummary,
) -> Result<Vec<QuickReply>, StoreError> {
    let serving = state.store.teams_serving(&conversation.inbox_id).await?;
    let teams: Vec<String> = serving
        .into_iter()
        .filter(|t| actor.principal.teams.contains(t))
        .collect();
    state.store.quick_replies_of(&teams).await
}

/// Adds a quick reply to `team_id`.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    team_id: &str,
    title: &str,
    body: &str,
) -> Result<QuickReply, ManageError> {
    let scope = Scope::of(state, actor);
    if !scope.covers(team_id) {
        return Err(ManageError::Forbidden);
    }
    // An admin's scope is every team: the team must still exist.
    if !state.store.teams().await?.iter().any(|t| t.id == team_id) {
        return Err(ManageError::Forbidden);
    }
    let checked = rules::check(&state.scanner, title, body)?;
    let created = state
        .store
        .create_quick_reply(team_id, &checked.title, &checked.body, &actor.id)
        .await?;
    state
        .store
        .audit(&actor.audit("quick_reply.created", Some(&created.id), Some(team_id)))
        .await?;
    Ok(created)
}

/// The quick reply `id` if the actor may write it.
async fn writable(state: &AppState, actor: &Actor, id: &str) -> Result<QuickReply, ManageError> {
    let scope = Scope::of(state, actor);
    if !scope.any() {
        return Err(ManageError::Forbidden);
    }
    match state.store.quick_reply(id).await? {
        Some(quick) if scope.covers(&quick.team_id) => Ok(quick),
        _ => Err(ManageError::NotFound),
    }
}

/// Rewrites a quick reply's title and body.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: &str,
    title: &str,
    body: &str,
) -> Result<QuickReply, ManageError> {
    let quick = writable(state, actor, id).await?;
    let checked = rules::check(&state.scanner, title, body)?;
    if !state
        .store
        .update_quick_reply(&quick.id, &checked.title, &checked.body)
        .await?
    {
        return Err(ManageError::NotFound);
    }
    state
        .store
        .audit(&actor.audit("quick_reply.updated", Some(&quick.id), Some(&quick.team_id)))
        .await?;
    state
        .store
        .quick_reply(&quick.id)
        .await?
        .ok_or(ManageError::NotFound)
}

/// Deletes a quick reply.
pub async fn delete(state: &AppState, actor: &Actor, id: &str) -> Result<(), ManageError> {
    let quick = writable(state, actor, id).await?;
    if !state.store.delete_quick_reply(&quick.id).await? {
        return Err(ManageError::NotFound);
    }
    state
        .store
        .audit(&actor.audit("quick_reply.deleted", Some(&quick.id), Some(&quick.team_id)))
        .await?;
    Ok(())
}
