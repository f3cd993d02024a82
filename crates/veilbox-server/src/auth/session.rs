//! Browser sessions: the cookie, the rows behind it, and the extractors pages use.
//!
//! - The cookie holds 256 random bits; the database holds only their SHA-256, so a copy
//!   of the sessions table signs nobody in.
//! - A new id at every sign-in and again when the second factor is done; an id the browser
//!   held before is ended, so a planted id never becomes signed in (session fixation).
//! - Idle and absolute timeouts are checked on every request against the database, as is
//!   the user's state: a revoked session or a disabled user is out on the next request,
//!   whichever node serves it.
//! - Every state-changing form carries the session's CSRF token; browser calls to the JSON
//!   API send it as `X-CSRF-Token`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use veilbox_core::credentials::secret_token;
use veilbox_policy::{Action, Principal};
use veilbox_store::now_ms;
use veilbox_store::people::User;
use veilbox_store::sessions::{NewSession, SessionRecord};
use veilbox_store::StoreError;

use super::access::Actor;
use super::client::Client;
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "veilbox_session";
/// The sign-in form's double-submit cookie (there is no session yet to hold its token).
pub const LOGIN_COOKIE: &str = "veilbox_login";

/// A one-shot notice shown on the next page (the outcome of a form post).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// `ok`, `warn` or `error`: how it is styled.
    pub level: String,
    /// What to say.
    pub text: String,
}

/// Why a page request was not let through.
#[derive(Debug)]
pub enum Refused {
    /// Not signed in: go to the sign-in page.
    NotSignedIn,
    /// Password accepted, second factor still owed.
    SecondFactorOwed,
    /// A form without the right CSRF token.
    Csrf,
    /// Signed in, but the policy says no.
    Forbidden,
    /// The database failed.
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Refused::Store(error)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let text = |status: StatusCode, text: &'static str| {
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response()
        };
        match self {
            Refused::NotSignedIn => Redirect::to("/login").into_response(),
            Refused::SecondFactorOwed => Redirect::to("/login/second-factor").into_response(),
            Refused::Csrf => text(
                StatusCode::FORBIDDEN,
                "This form has expired. Go back, reload the page and try again.",
            ),
            Refused::Forbidden => text(
                StatusCode::FORBIDDEN,
                "Your role does not allow this. Ask an admin if you need it.",
            ),
            Refused::Store(error) => crate::error::WebError::from(error).into_response(),
        }
    }
}

/// A signed-in user (second factor done when required). Handlers that take it are
/// authenticated; what they may do is asked of [`crate::auth::Access`].
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: User,
    /// The user as the authorizer and the audit log see them.
    pub actor: Actor,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// The session's digest (its handle on the devices page).
    pub session: String,
}

impl SignedIn {
    /// Who writes replies and is assigned conversations.
    pub fn author(&self) -> &str {
        &self.user.id
    }

    /// Checks a posted form's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Refused> {
        if csrf_matches(&self.csrf, given) {
            Ok(())
        } else {
            Err(Refused::Csrf)
        }
    }

    /// Whether the policy lets this user do a system-wide action.
    pub fn may(&self, state: &AppState, action: Action) -> bool {
        state.access.allowed_system(&self.actor, action)
    }

    /// Refuses unless the policy lets this user do a system-wide action.
    pub fn require(&self, state: &AppState, action: Action) -> Result<(), Refused> {
        if self.may(state, action) {
            Ok(())
        } else {
            Err(Refused::Forbidden)
        }
    }

    /// Leaves a notice for the next page. A notice that cannot be stored is only logged:
    /// the action it reports has already happened.
    pub async fn flash(&self, state: &AppState, level: &str, text: impl Into<String>) {
        let flash = Flash {
            level: level.to_owned(),
            text: text.into(),
        };
        let Ok(json) = serde_json::to_string(&flash) else {
            return;
        };
        if let Err(error) = state.store.set_flash(&self.session, &json).await {
            tracing::warn!(%error, "could not store a flash notice");
        }
    }

    /// Takes the pending notice.
    pub async fn take_flash(&self, state: &AppState) -> Option<Flash> {
        match state.store.take_flash(&self.session).await {
            Ok(Some(json)) => serde_json::from_str(&json).ok(),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "could not read a flash notice");
                None
            }
        }
    }

    /// Whether the session is still live, the user still active, and their role and teams
    /// what they were when this request began: a long-lived stream ends when any of that
    /// changes, and the page reconnects with the new permissions.
    pub async fn still_signed_in(&self, state: &AppState) -> bool {
        let Ok(Some((session, user))) = live_session(state, &self.session).await else {
            return false;
        };
        if !session.complete || user.role != self.user.role {
            return false;
        }
        matches!(state.store.teams_of(&user.id).await, Ok(teams) if teams == self.actor.principal.teams)
    }
}

/// A session whose password step is done but whose second factor is still owed.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// The user.
    pub user: User,
    /// The session digest.
    pub session: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Whether the second factor is in fact already done.
    pub complete: bool,
}

impl PendingSignIn {
    /// Checks a posted form's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Refused> {
        if csrf_matches(&self.csrf, given) {
            Ok(())
        } else {
            Err(Refused::Csrf)
        }
    }
}

/// Whether `given` is the session's CSRF token (constant time; empty never matches).
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    !given.is_empty() && secret_token::same(expected, given)
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser reached us over TLS (through a proxy that says so).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Secure` behind TLS.
pub fn cookie_header(
    name: &str,
    value: &str,
    max_age: Option<u64>,
    secure: bool,
) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).ok()
}

/// How often a session's activity is written: a tenth of the idle timeout, at most once a
/// minute, so activity always lands well before the session would look idle.
pub fn touch_every(state: &AppState) -> i64 {
    let idle_ms = i64::try_from(state.config.sessions.idle.as_millis()).unwrap_or(i64::MAX);
    (idle_ms / 10).min(60_000)
}

/// The live session with this digest and its user, ending it on the way if it has timed
/// out or its user was disabled.
pub(crate) async fn live_session(
    state: &AppState,
    digest: &str,
) -> Result<Option<(SessionRecord, User)>, StoreError> {
    let Some(session) = state.store.session(digest).await? else {
        return Ok(None);
    };
    if session.ended_at.is_some() {
        return Ok(None);
    }
    let now = now_ms();
    let limits = state.config.sessions;
    let idle_ms = i64::try_from(limits.idle.as_millis()).unwrap_or(i64::MAX);
    let absolute_ms = i64::try_from(limits.absolute.as_millis()).unwrap_or(i64::MAX);
    if now - session.created_at >= absolute_ms {
        state.store.end_session(digest, "expired").await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= idle_ms {
        state.store.end_session(digest, "idle").await?;
        return Ok(None);
    }
    let Some(user) = state.store.user(&session.user_id).await? else {
        state.store.end_session(digest, "user gone").await?;
        return Ok(None);
    };
    if !user.active() {
        state.store.end_session(digest, "disabled").await?;
        return Ok(None);
    }
    Ok(Some((session, user)))
}

/// The session the request's cookie names, if it is live.
async fn session_of(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<(SessionRecord, User)>, StoreError> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    live_session(state, &secret_token::digest(token)).await
}

/// The actor a user is, with their teams.
pub async fn user_actor(
    state: &AppState,
    user: &User,
    client: Client,
) -> Result<Actor, StoreError> {
    Ok(Actor {
        id: user.id.clone(),
        user_id: Some(user.id.clone()),
        principal: Principal {
            id: user.id.clone(),
            role: user.role.clone(),
            teams: state.store.teams_of(&user.id).await?,
            read_only: false,
        },
        address: client.address,
        user_agent: client.user_agent,
    })
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let Some((session, user)) = session_of(parts, state).await? else {
            return Err(Refused::NotSignedIn);
        };
        if !session.complete {
            return Err(Refused::SecondFactorOwed);
        }
        state
            .store
            .touch_session(&session.id_digest, session.last_seen_at, touch_every(state))
            .await?;
        let client = Client::of(parts, state.config.trust_forwarded_for);
        let actor = user_actor(state, &user, client).await?;
        Ok(SignedIn {
            user,
            actor,
            csrf: session.csrf,
            session: session.id_digest,
        })
    }
}

impl FromRequestParts<AppState> for PendingSignIn {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let Some((session, user)) = session_of(parts, state).await? else {
            return Err(Refused::NotSignedIn);
        };
        Ok(PendingSignIn {
            user,
            session: session.id_digest,
            csrf: session.csrf,
            complete: session.complete,
        })
    }
}

/// A session just started: the cookie to send.
#[derive(Debug)]
pub struct Started {
    /// `Set-Cookie` for the session.
    pub cookie: Option<HeaderValue>,
}

/// Starts a session for `user`, ending the one the browser held before (if any).
pub async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    complete: bool,
    client: &Client,
) -> Result<Started, StoreError> {
    if let Some(previous) = cookie(headers, SESSION_COOKIE) {
        state
            .store
            .end_session(&secret_token::digest(previous), "replaced")
            .await?;
    }
    let token = secret_token::generate("vbs");
    let csrf = secret_token::generate("csrf");
    let digest = secret_token::digest(&token);
    state
        .store
        .create_session(&NewSession {
            id_digest: &digest,
            user_id: &user.id,
            complete,
            csrf: &csrf,
            address: client.address.as_deref(),
            user_agent: client.user_agent.as_deref(),
        })
        .await?;
    Ok(Started {
        cookie: cookie_header(SESSION_COOKIE, &token, None, over_tls(headers)),
    })
}

/// Ends the request's session; returns the `Set-Cookie` that clears it.
pub async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    reason: &str,
) -> Result<Option<HeaderValue>, StoreError> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        state
            .store
            .end_session(&secret_token::digest(token), reason)
            .await?;
    }
    Ok(cookie_header(
        SESSION_COOKIE,
        "",
        Some(0),
        over_tls(headers),
    ))
}
