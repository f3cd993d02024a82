//! Form actions: replies, assignment, state changes, send decisions.
//!
//! Each checks the session's CSRF token first, then asks the authorizer (a conversation
//! the user may not see is a 404, one they may see but not change a 403), does one thing,
//! leaves a flash message and redirects back (POST, redirect, GET), so everything works
//! without JavaScript.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use sqlx::Row;
use veilbox_store::outbox::ReplyPayload;
use veilbox_store::reads::ConversationState;

use veilbox_policy::{Action, Context};
use veilbox_store::reads::ConversationSummary;

use super::ListQuery;
use crate::auth::{Refused, SignedIn};
use crate::dlp::SendChecks;
use crate::error::WebError;
use crate::replies::{send_reply, ReplyOutcome};
use crate::AppState;

fn back(id: &str, query: &ListQuery) -> Redirect {
    Redirect::to(&format!("/inbox/c/{id}?{}", query.view().query()))
}

/// Either a refusal (CSRF, policy) or a page error.
pub enum ActionError {
    /// Refused by sign-in, CSRF or the policy.
    Refused(Refused),
    /// A store failure.
    Web(WebError),
}

impl From<Refused> for ActionError {
    fn from(e: Refused) -> Self {
        ActionError::Refused(e)
    }
}

impl From<WebError> for ActionError {
    fn from(e: WebError) -> Self {
        ActionError::Web(e)
    }
}

impl From<veilbox_store::StoreError> for ActionError {
    fn from(e: veilbox_store::StoreError) -> Self {
        ActionError::Web(e.into())
    }
}

impl IntoResponse for ActionError {
    fn into_response(self) -> Response {
        match self {
            ActionError::Refused(r) => r.into_response(),
            ActionError::Web(w) => w.into_response(),
        }
    }
}

/// The conversation `id` if the user may do `action` to it: 404 when they may not even
/// see it (its existence is not theirs to know), 403 when they may see but not do this.
async fn authorize(
    state: &AppState,
    user: &SignedIn,
    id: &str,
    action: Action,
    context: &Context,
) -> Result<ConversationSummary, ActionError> {
    let Some(conversation) = state
        .access
        .visible_conversation(&state.store, &user.actor, id)
        .await?
    else {
        return Err(WebError::NotFound.into());
    };
    let allowed = state
        .access
        .allowed_on_conversation(&state.store, &user.actor, action, &conversation, context)
        .await?;
    if allowed {
        Ok(conversation)
    } else {
        Err(Refused::Forbidden.into())
    }
}

pub(crate) async fn flash_outcome(
    state: &AppState,
    user: &SignedIn,
    outcome: &ReplyOutcome,
) -> Result<(), WebError> {
    let (level, text) = match outcome {
        ReplyOutcome::Queued(_) => ("ok", "Sent: the reply is on its way.".to_owned()),
        ReplyOutcome::WindowClosed => (
            "warn",
            "Not sent: the 24-hour reply window is closed. Send an approved template instead."
                .to_owned(),
        ),
        ReplyOutcome::NotFound => return Err(WebError::NotFound),
        ReplyOutcome::NoRecipient => (
            "error",
            "Not sent: this customer is known only by a user id Veilbox cannot send to yet."
                .to_owned(),
        ),
        ReplyOutcome::Invalid(why) => ("error", format!("Not sent: {why}.")),
        ReplyOutcome::Refused(refusal) => {
            let level = match refusal.level() {
                Some(crate::dlp::Level::Warn) => "warn",
                _ => "error",
            };
            (level, format!("Not sent: {}.", refusal.message()))
        }
    };
    user.flash(state, level, text).await;
    Ok(())
}

/// The reply form.
#[derive(Debug, Deserialize)]
pub struct ReplyFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
    /// A checkbox: the agent confirms the warnings.
    #[serde(default)]
    confirm_warnings: Option<String>,
    /// A checkbox: a supervisor overrides a block.
    #[serde(default)]
    override_block: Option<String>,
    #[serde(default)]
    override_reason: String,
}

/// An HTML checkbox's value: present and not `false`.
fn ticked(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v, "" | "false" | "0" | "off"))
}

/// `POST /inbox/c/{id}/reply`
pub async fn reply(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    Form(form): Form<ReplyFields>,
) -> Result<Redirect, ActionError> {
    user.check_csrf(&form.csrf)?;
    authorize(&state, &user, &id, Action::Reply, &Context::default()).await?;
    let payload = ReplyPayload::Text {
        body: form.body,
        preview_url: false,
        reply_to: None,
    };
    let checks = SendChecks {
        confirm_warnings: ticked(form.confirm_warnings.as_deref()),
        override_block: ticked(form.override_block.as_deref()),
        override_reason: form.override_reason,
    };
    let outcome = send_reply(&state, &id, &user.actor, payload, &checks).await?;
    flash_outcome(&state, &user, &outcome).await?;
    Ok(back(&id, &query))
}

/// The template picker.
#[derive(Debug, Deserialize)]
pub struct TemplateFields {
    #[serde(default)]
    csrf: String,
    /// `name|language`.
    #[serde(default)]
    template: String,
}

/// `POST /inbox/c/{id}/template`
pub async fn template(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    Form(form): Form<TemplateFields>,
) -> Result<Redirect, ActionError> {
    user.check_csrf(&form.csrf)?;
    authorize(&state, &user, &id, Action::Reply, &Context::default()).await?;
    let Some((name, language)) = form.template.split_once('|') else {
        user.flash(&state, "error", "Not sent: pick a template.")
            .await;
        return Ok(back(&id, &query));
    };
    let payload = ReplyPayload::Template {
        name: name.to_owned(),
        language: language.to_owned(),
        preview: String::new(),
    };
    let outcome = send_reply(&state, &id, &user.actor, payload, &SendChecks::default()).await?;
    flash_outcome(&state, &user, &outcome).await?;
    Ok(back(&id, &query))
}

/// Assign to me / unassign.
#[derive(Debug, Deserialize)]
pub struct AssignFields {
    #[serde(default)]
    csrf: String,
    /// `me` or `none`.
    #[serde(default)]
    to: String,
}

/// `POST /inbox/c/{id}/assign`
pub async fn assign(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    Form(form): Form<AssignFields>,
) -> Result<Redirect, ActionError> {
    user.check_csrf(&form.csrf)?;
    let assignee = match form.to.as_str() {
        "me" => Some(user.author()),
        "none" => None,
        _ => return Err(WebError::BadRequest("assign to `me` or `none`").into()),
    };
    let context = Context {
        self_assign: assignee.is_some(),
        ..Context::default()
    };
    let conversation = authorize(&state, &user, &id, Action::Assign, &context).await?;
    // Taking from the queue only succeeds while it is still unassigned: of two agents
    // taking it at once, one wins and the other is told.
    let done = match assignee {
        Some(me) if conversation.assignee.is_none() => {
            state.store.take_conversation(&id, me).await?
        }
        _ => state.store.assign_conversation(&id, assignee).await?,
    };
    if !done {
        user.flash(&state, "warn", "A colleague took this conversation first.")
            .await;
        return Ok(back(&id, &query));
    }
    state
        .store
        .audit(&user.actor.audit(
            "conversation.assigned",
            Some(&id),
            Some(assignee.unwrap_or("nobody")),
        ))
        .await?;
    let text = if assignee.is_some() {
        "Assigned to you."
    } else {
        "Unassigned."
    };
    user.flash(&state, "ok", text).await;
    Ok(back(&id, &query))
}

/// Resolve / reopen / mark pending.
#[derive(Debug, Deserialize)]
pub struct StateFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    state: String,
}

/// `POST /inbox/c/{id}/state`
pub async fn set_state(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    Form(form): Form<StateFields>,
) -> Result<Redirect, ActionError> {
    user.check_csrf(&form.csrf)?;
    let target = match form.state.as_str() {
        "open" => ConversationState::Open,
        "pending" => ConversationState::Pending,
        "resolved" => ConversationState::Resolved,
        _ => return Err(WebError::BadRequest("state must be open, pending or resolved").into()),
    };
    let conversation = authorize(&state, &user, &id, Action::Resolve, &Context::default()).await?;
    if conversation.state == "resolved" && target != ConversationState::Resolved {
        // One unresolved conversation per customer and inbox: say so instead of failing.
        if let Some(other) = other_unresolved(&state, &id).await? {
            user.flash(
                &state,
                "warn",
                "Not reopened: this customer already has another conversation that is not resolved. \
                 Continue there, or resolve it first.",
            )
            .await;
            tracing::info!(conversation = %id, other = %other, "reopen refused: another conversation is open");
            return Ok(back(&id, &query));
        }
    }
    // The store tells live pages about the change.
    if !state.store.set_conversation_state(&id, target).await? {
        return Err(WebError::NotFound.into());
    }
    let text = match target {
        ConversationState::Open => "Reopened.",
        ConversationState::Pending => "Marked pending: waiting on the customer.",
        ConversationState::Resolved => "Resolved.",
    };
    user.flash(&state, "ok", text).await;
    Ok(back(&id, &query))
}

/// Another conversation of the same customer and inbox that is not resolved, if any.
async fn other_unresolved(
    state: &AppState,
    id: &str,
) -> Result<Option<String>, veilbox_store::StoreError> {
    let row = sqlx::query(
        "SELECT o.id FROM conversations c JOIN conversations o \
         ON o.inbox_id = c.inbox_id AND o.customer_id = c.customer_id AND o.id <> c.id \
         WHERE c.id = $1 AND o.state <> 'resolved' LIMIT 1",
    )
    .bind(id)
    .fetch_optional(state.store.pool())
    .await
    .map_err(veilbox_store::StoreError::from)?;
    match row {
        Some(row) => Ok(Some(
            row.try_get::<String, _>("id")
                .map_err(veilbox_store::StoreError::from)?,
        )),
        None => Ok(None),
    }
}

/// Resend or discard an unconfirmed or failed send.
#[derive(Debug, Deserialize)]
pub struct DecisionFields {
    #[serde(default)]
    csrf: String,
    /// `resend` or `discard`.
    #[serde(default)]
    decision: String,
}

/// `POST /inbox/c/{id}/send/{outbox_id}`
pub async fn decide_send(
    State(state): State<AppState>,
    user: SignedIn,
    Path((id, outbox_id)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
    Form(form): Form<DecisionFields>,
) -> Result<Redirect, ActionError> {
    user.check_csrf(&form.csrf)?;
    let resend = match form.decision.as_str() {
        "resend" => true,
        "discard" => false,
        _ => return Err(WebError::BadRequest("decide `resend` or `discard`").into()),
    };
    authorize(&state, &user, &id, Action::Reply, &Context::default()).await?;
    // Scoped to this conversation, so an outbox id from elsewhere changes nothing.
    match state
        .store
        .decide_send(Some(&id), &outbox_id, resend)
        .await?
    {
        Some(_) => {
            if resend {
                state.outbox.wake();
                user.flash(&state, "ok", "Sending again.").await;
            } else {
                user.flash(&state, "ok", "Discarded: it will not be sent.")
                    .await;
            }
        }
        None => {
            user.flash(
                &state,
                "warn",
                "Nothing to decide: that send already moved on.",
            )
            .await
        }
    }
    Ok(back(&id, &query))
}
