//! Form actions: sign-in and out, replies, assignment, state changes, send decisions.
//!
//! Each checks the session's CSRF token first, does one thing, leaves a flash message and
//! redirects back (POST, redirect, GET), so everything works without JavaScript.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use sqlx::Row;
use veilbox_store::outbox::ReplyPayload;
use veilbox_store::reads::ConversationState;

use super::{pages, ListQuery};
use crate::error::WebError;
use crate::interim_auth::{self, SessionStore, SignIn, SignedIn};
use crate::replies::{send_reply, ReplyOutcome};
use crate::AppState;

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`
pub async fn login(
    State(state): State<AppState>,
    SessionStore(sessions): SessionStore,
    headers: HeaderMap,
    Form(fields): Form<LoginFields>,
) -> Response {
    match interim_auth::sign_in(
        &state,
        &sessions,
        &headers,
        &fields.email,
        &fields.password,
        &fields.csrf,
    )
    .await
    {
        SignIn::Accepted(cookies) => {
            let mut response = Redirect::to("/inbox").into_response();
            for cookie in cookies {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        SignIn::Wrong => pages::login_response(
            &state,
            &headers,
            Some("That e-mail and password do not match."),
            StatusCode::UNAUTHORIZED,
        ),
        SignIn::Csrf => pages::login_response(
            &state,
            &headers,
            Some("The sign-in form expired; please try again."),
            StatusCode::FORBIDDEN,
        ),
        SignIn::NotConfigured => {
            pages::login_response(&state, &headers, None, StatusCode::SERVICE_UNAVAILABLE)
        }
        SignIn::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
    }
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`
pub async fn logout(
    user: SignedIn,
    SessionStore(sessions): SessionStore,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, interim_auth::Refused> {
    user.check_csrf(&form.csrf)?;
    let mut response = Redirect::to("/login").into_response();
    if let Some(cookie) = interim_auth::sign_out(&sessions, &headers) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn back(id: &str, query: &ListQuery) -> Redirect {
    Redirect::to(&format!("/inbox/c/{id}?{}", query.view().query()))
}

/// Either a refusal (CSRF) or a page error.
pub enum ActionError {
    /// Refused by sign-in or CSRF.
    Refused(interim_auth::Refused),
    /// A store failure.
    Web(WebError),
}

impl From<interim_auth::Refused> for ActionError {
    fn from(e: interim_auth::Refused) -> Self {
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

fn flash_outcome(user: &SignedIn, outcome: &ReplyOutcome) -> Result<(), WebError> {
    match outcome {
        ReplyOutcome::Queued(_) => user.flash("ok", "Sent: the reply is on its way."),
        ReplyOutcome::WindowClosed => user.flash(
            "warn",
            "Not sent: the 24-hour reply window is closed. Send an approved template instead.",
        ),
        ReplyOutcome::NotFound => return Err(WebError::NotFound),
        ReplyOutcome::NoRecipient => user.flash(
            "error",
            "Not sent: this customer is known only by a user id Veilbox cannot send to yet.",
        ),
        ReplyOutcome::Invalid(why) => user.flash("error", format!("Not sent: {why}.")),
    }
    Ok(())
}

/// The reply form.
#[derive(Debug, Deserialize)]
pub struct ReplyFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
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
    let payload = ReplyPayload::Text {
        body: form.body,
        preview_url: false,
        reply_to: None,
    };
    let outcome = send_reply(&state, &id, user.author(), payload).await?;
    flash_outcome(&user, &outcome)?;
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
    let Some((name, language)) = form.template.split_once('|') else {
        user.flash("error", "Not sent: pick a template.");
        return Ok(back(&id, &query));
    };
    let payload = ReplyPayload::Template {
        name: name.to_owned(),
        language: language.to_owned(),
        preview: String::new(),
    };
    let outcome = send_reply(&state, &id, user.author(), payload).await?;
    flash_outcome(&user, &outcome)?;
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
    if !state.store.assign_conversation(&id, assignee).await? {
        return Err(WebError::NotFound.into());
    }
    user.flash(
        "ok",
        if assignee.is_some() {
            "Assigned to you."
        } else {
            "Unassigned."
        },
    );
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
    let Some(conversation) = state.store.conversation(&id).await? else {
        return Err(WebError::NotFound.into());
    };
    if conversation.state == "resolved" && target != ConversationState::Resolved {
        // One unresolved conversation per customer and inbox: say so instead of failing.
        if let Some(other) = other_unresolved(&state, &id).await? {
            user.flash(
                "warn",
                "Not reopened: this customer already has another conversation that is not resolved. \
                 Continue there, or resolve it first.",
            );
            tracing::info!(conversation = %id, other = %other, "reopen refused: another conversation is open");
            return Ok(back(&id, &query));
        }
    }
    // The store tells live pages about the change.
    if !state.store.set_conversation_state(&id, target).await? {
        return Err(WebError::NotFound.into());
    }
    user.flash(
        "ok",
        match target {
            ConversationState::Open => "Reopened.",
            ConversationState::Pending => "Marked pending: waiting on the customer.",
            ConversationState::Resolved => "Resolved.",
        },
    );
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
    // Scoped to this conversation, so an outbox id from elsewhere changes nothing.
    match state
        .store
        .decide_send(Some(&id), &outbox_id, resend)
        .await?
    {
        Some(_) => {
            if resend {
                state.outbox.wake();
                user.flash("ok", "Sending again.");
            } else {
                user.flash("ok", "Discarded: it will not be sent.");
            }
        }
        None => user.flash("warn", "Nothing to decide: that send already moved on."),
    }
    Ok(back(&id, &query))
}
