//! Who is calling the JSON API: an API token, the bootstrap token, or a signed-in browser.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use secrecy::ExposeSecret;
use veilbox_core::credentials::secret_token;
use veilbox_policy::Principal;

use super::access::Actor;
use super::client::Client;
use super::session::{cookie, csrf_matches, live_session, touch_every, user_actor, SESSION_COOKIE};
use crate::error::WebError;
use crate::AppState;

/// The header a browser's API calls carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The actor behind an API call. Handlers that take it are authenticated; each asks the
/// authorizer about what it does.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Actor);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let client = Client::of(parts, state.config.trust_forwarded_for);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(given) = bearer {
            return bearer_actor(state, given, client).await.map(ApiCaller);
        }
        // A browser: its session cookie, and for anything that changes state the CSRF
        // token too (a cookie alone is what a forged cross-site request would carry).
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(WebError::Unauthorized)?;
        let digest = secret_token::digest(token);
        // The same liveness rules as pages: timeouts end the session, disabled users are out.
        let (session, user) = live_session(state, &digest)
            .await?
            .filter(|(session, _)| session.complete)
            .ok_or(WebError::Unauthorized)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD);
        if !safe {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !csrf_matches(&session.csrf, given) {
                return Err(WebError::Forbidden);
            }
        }
        state
            .store
            .touch_session(&digest, session.last_seen_at, touch_every(state))
            .await?;
        Ok(ApiCaller(user_actor(state, &user, client).await?))
    }
}

async fn bearer_actor(state: &AppState, given: &str, client: Client) -> Result<Actor, WebError> {
    if let Some(bootstrap) = &state.config.api_token {
        if secret_token::same(bootstrap.expose_secret(), given) {
            // The bootstrap token automates a fresh install: it acts as an admin (users,
            // tokens, policies), which is not a reader of conversations.
            return Ok(Actor {
                id: "bootstrap".to_owned(),
                user_id: None,
                principal: Principal {
                    id: "bootstrap".to_owned(),
                    role: "admin".to_owned(),
                    teams: Vec::new(),
                    read_only: false,
                },
                address: client.address,
                user_agent: client.user_agent,
            });
        }
    }
    let token = state
        .store
        .api_token_by_digest(&secret_token::digest(given))
        .await?
        .ok_or(WebError::Unauthorized)?;
    let id = format!("token:{}", token.id);
    Ok(Actor {
        principal: Principal {
            id: id.clone(),
            role: token.role,
            teams: token.teams,
            read_only: token.read_only,
        },
        id,
        user_id: None,
        address: client.address,
        user_agent: client.user_agent,
    })
}
