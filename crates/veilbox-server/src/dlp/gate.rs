//! The send-time decision: a text reply is filled in (placeholders), checked as written,
//! and refused, sent after confirmation, or sent on a supervisor's override. Every block,
//! warning and override is an audit event naming kinds only (analytics count them), never
//! a value.

use serde::Deserialize;
use veilbox_policy::{Action, Context};
use veilbox_store::reads::ConversationSummary;
use veilbox_store::StoreError;

use super::placeholders::{fill, FillError, PlaceholderValues};
use super::{check::inspect, Level};
use crate::auth::Actor;
use crate::AppState;

/// What the sender says about the checks, next to the reply itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SendChecks {
    /// The agent saw the warnings (their customer's own details) and sends anyway.
    #[serde(default)]
    pub confirm_warnings: bool,
    /// A supervisor overrides a block.
    #[serde(default)]
    pub override_block: bool,
    /// Why (required with [`SendChecks::override_block`]; audited).
    #[serde(default)]
    pub override_reason: String,
}

/// Why a reply was not sent. Names kinds and placeholders, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendRefusal {
    /// Leak prevention blocked these kinds.
    Blocked(Vec<&'static str>),
    /// These kinds need the agent's confirmation.
    Unconfirmed(Vec<&'static str>),
    /// An override without a reason.
    OverrideWithoutReason,
    /// The sender may not override a block here.
    OverrideForbidden(Vec<&'static str>),
    /// A placeholder could not be filled.
    Placeholder(FillError),
}

impl SendRefusal {
    /// What the sender is told.
    pub fn message(&self) -> String {
        match self {
            SendRefusal::Blocked(kinds) => format!(
                "blocked by leak prevention: the reply contains {}. Remove it, or ask a supervisor to override",
                kinds.join(", ")
            ),
            SendRefusal::Unconfirmed(kinds) => format!(
                "the reply contains {} (check it is meant for this customer), then confirm to send",
                kinds.join(", ")
            ),
            SendRefusal::OverrideWithoutReason => {
                "overriding a block needs a reason".to_owned()
            }
            SendRefusal::OverrideForbidden(kinds) => format!(
                "blocked by leak prevention ({}); you may not override it",
                kinds.join(", ")
            ),
            SendRefusal::Placeholder(error) => error.to_string(),
        }
    }

    /// The verdict this refusal reports (`block` or `warn`), if it is one.
    pub fn level(&self) -> Option<Level> {
        match self {
            SendRefusal::Blocked(_) | SendRefusal::OverrideForbidden(_) => Some(Level::Block),
            SendRefusal::Unconfirmed(_) => Some(Level::Warn),
            _ => None,
        }
    }

    /// The kinds it names.
    pub fn kinds(&self) -> &[&'static str] {
        match self {
            SendRefusal::Blocked(k)
            | SendRefusal::Unconfirmed(k)
            | SendRefusal::OverrideForbidden(k) => k,
            _ => &[],
        }
    }
}

/// Fills and checks `body` (a text reply in `conversation` by `actor`): the text to send,
/// or why not.
pub async fn guard(
    state: &AppState,
    actor: &Actor,
    conversation: &ConversationSummary,
    body: &str,
    checks: &SendChecks,
) -> Result<Result<String, SendRefusal>, StoreError> {
    let (verdict, card) = inspect(state, conversation, body).await?;
    let values = card.as_ref().map(PlaceholderValues::of).unwrap_or_default();
    let filled = match fill(body, &values) {
        Ok(filled) => filled,
        Err(error) => return Ok(Err(SendRefusal::Placeholder(error))),
    };
    let id = conversation.id.as_str();
    let audit = |action: &'static str, reason: String| async move {
        state
            .store
            .audit(&actor.audit(action, Some(id), Some(&reason)))
            .await
    };
    let blocked = verdict.kinds(Level::Block);
    let warned = verdict.kinds(Level::Warn);
    if !blocked.is_empty() {
        if !checks.override_block {
            audit("dlp.block", blocked.join(",")).await?;
            return Ok(Err(SendRefusal::Blocked(blocked)));
        }
        let reason = checks.override_reason.trim();
        if reason.is_empty() {
            audit("dlp.block", blocked.join(",")).await?;
            return Ok(Err(SendRefusal::OverrideWithoutReason));
        }
        let context = Context {
            reason: Some(reason.to_owned()),
            ..Context::default()
        };
        let allowed = state
            .access
            .allowed_on_conversation(
                &state.store,
                actor,
                Action::OverrideBlock,
                conversation,
                &context,
            )
            .await?;
        if !allowed {
            audit("dlp.block", blocked.join(",")).await?;
            return Ok(Err(SendRefusal::OverrideForbidden(blocked)));
        }
        // The kinds, then the supervisor's own justification (as reveals record theirs).
        let mut kinds = blocked;
        kinds.extend(warned);
        audit("dlp.override", format!("{}: {reason}", kinds.join(","))).await?;
        return Ok(Ok(filled));
    }
    if !warned.is_empty() {
        if !checks.confirm_warnings {
            audit("dlp.warn", warned.join(",")).await?;
            return Ok(Err(SendRefusal::Unconfirmed(warned)));
        }
        audit("dlp.warn.confirmed", warned.join(",")).await?;
    }
    Ok(Ok(filled))
}
