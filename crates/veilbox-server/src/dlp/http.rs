//! The live check the composer calls as the agent types: `POST /inbox/c/{id}/check` (a
//! signed-in browser, CSRF token in `X-CSRF-Token`) and `POST /api/v1/conversations/{id}/check`
//! (API callers). Same authorization as replying. Writes no audit event: drafts are not
//! sends.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use veilbox_policy::{Action, Context};

use super::{Level, Verdict};
use crate::api::authorize_conversation;
use crate::auth::caller::CSRF_HEADER;
use crate::auth::{Actor, ApiCaller, SignedIn};
use crate::error::WebError;
use crate::AppState;

/// The draft to check.
#[derive(Debug, Deserialize)]
pub struct Draft {
    /// The reply as written so far.
    #[serde(default)]
    body: String,
}

/// The verdict, and whether the caller could override a block here (so the composer
/// offers the override only to those who may use it).
#[derive(Debug, Serialize)]
pub struct Checked {
    #[serde(flatten)]
    verdict: Verdict,
    can_override: bool,
}

/// `POST /inbox/c/{id}/check` with `{body}` → `{verdict, findings: [{kind, start, end,
/// level, reason}], can_override}`, offsets in characters.
pub async fn check_in_inbox(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(draft): Json<Draft>,
) -> Response {
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(refused) = user.check_csrf(given) {
        return refused.into_response();
    }
    match checked(&state, &user.actor, &id, &draft).await {
        Ok(checked) => Json(checked).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `POST /api/v1/conversations/{id}/check`: as [`check_in_inbox`], for API callers.
pub async fn check_in_api(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(draft): Json<Draft>,
) -> Result<Json<Checked>, WebError> {
    checked(&state, &actor, &id, &draft).await.map(Json)
}

async fn checked(
    state: &AppState,
    actor: &Actor,
    id: &str,
    draft: &Draft,
) -> Result<Checked, WebError> {
    let conversation =
        authorize_conversation(state, actor, id, Action::Reply, &Context::default()).await?;
    if draft.body.chars().count() > 4096 {
        return Err(WebError::BadRequest(
            "the reply is longer than WhatsApp's 4096 characters",
        ));
    }
    let verdict = super::check(state, &conversation, &draft.body).await?;
    let can_override = verdict.verdict == Level::Block && {
        // Asked with a stand-in reason: the real one is given on send.
        let context = Context {
            reason: Some("check".to_owned()),
            ..Context::default()
        };
        state
            .access
            .allowed_on_conversation(
                &state.store,
                actor,
                Action::OverrideBlock,
                &conversation,
                &context,
            )
            .await?
    };
    Ok(Checked {
        verdict,
        can_override,
    })
}
