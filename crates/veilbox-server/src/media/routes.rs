//! The two ways media leave the server: the preview (anyone who may view the
//! conversation) and the reveal of the original (authorised for the kind `MEDIA`, with a
//! reason, audited).
//!
//! - `GET /inbox/c/{id}/m/{message_id}/preview`: the tiny PNG of an image, for a signed-in
//!   viewer of the conversation; 404 for anyone else, exactly as for a conversation that
//!   does not exist.
//! - `POST /api/v1/conversations/{id}/media/{message_id}/reveals` with
//!   `{"reason", "note"}` (the reasons of [`crate::exposure::reveal::REASONS`]): the original bytes with their type.
//!   Browsers send their session's CSRF header, like every API call they make.
//!
//! Neither answer may be cached or sniffed, and the original is served as a sandboxed
//! attachment: whatever a customer sent is never a page of our origin.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::{ApiCaller, SignedIn};
use crate::error::WebError;
use crate::exposure::reveal::{authorize_reveal, reason_text};
use crate::AppState;

/// The kind a media reveal is authorised and audited as.
pub const MEDIA_KIND: &str = "MEDIA";

/// The preview route (a page route: the caller adds the pages' security headers).
pub fn page_routes() -> Router<AppState> {
    Router::new().route("/inbox/c/{id}/m/{message_id}/preview", get(preview))
}

/// The reveal route (an API route).
pub fn api_routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/conversations/{id}/media/{message_id}/reveals",
        post(reveal),
    )
}

/// What a media reveal asks for.
#[derive(Debug, Deserialize)]
pub struct MediaRevealRequest {
    /// A code from [`crate::exposure::reveal::REASONS`].
    #[serde(default)]
    pub reason: String,
    /// Free text; required for `other`.
    #[serde(default)]
    pub note: String,
}

/// `GET /inbox/c/{id}/m/{message_id}/preview`
pub async fn preview(
    State(state): State<AppState>,
    user: SignedIn,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let Some(conversation) = state
        .access
        .visible_conversation(&state.store, &user.actor, &id)
        .await?
    else {
        return Err(WebError::NotFound);
    };
    let png = state
        .store
        .media_preview(&conversation.id, &message_id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(private_bytes("image/png", png.to_vec(), false))
}

/// `POST /api/v1/conversations/{id}/media/{message_id}/reveals`
pub async fn reveal(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
    Json(request): Json<MediaRevealRequest>,
) -> Result<Response, WebError> {
    let conversation = state
        .access
        .visible_conversation(&state.store, &actor, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let reason = reason_text(&request.reason, &request.note)?;
    let file = state
        .store
        .media_original(&conversation.id, &message_id)
        .await?
        .ok_or(WebError::NotFound)?;
    authorize_reveal(
        &state,
        &actor,
        &conversation,
        MEDIA_KIND,
        &format!("media/{message_id}"),
        &reason,
    )
    .await?;
    let mut response = private_bytes(&file.mime_type, file.bytes.to_vec(), true);
    if let Ok(seconds) =
        HeaderValue::from_str(&state.config.masking.reveal_for.as_secs().to_string())
    {
        response
            .headers_mut()
            .insert("x-reveal-expires-in", seconds);
    }
    Ok(response)
}

/// Bytes that must not be cached, sniffed or run: `attachment` for originals.
fn private_bytes(mime: &str, bytes: Vec<u8>, attachment: bool) -> Response {
    let content_type = HeaderValue::from_str(mime)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if attachment {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    response
}
