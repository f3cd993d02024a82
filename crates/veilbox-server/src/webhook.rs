//! `/webhooks/whatsapp`: Meta's handshake and event deliveries.
//!
//! A delivery is checked against `X-Hub-Signature-256` on the raw bytes before anything
//! else, parsed, and handed to the group-committing writer; the 200 goes out only after
//! the commit. Public by design: Meta authenticates with the signature, not a session.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use veilbox_store::ingest::Delivery;
use veilbox_whatsapp::{signature, webhook};

use crate::error::WebError;
use crate::AppState;

/// Meta batches up to about a thousand updates per POST; 1 MiB is far above a real body
/// and bounds what one request can make us hold in memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The webhook routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/whatsapp", get(handshake).post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`:
/// echoes the challenge as plain text when the token matches, 403 otherwise.
async fn handshake(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = state.config.whatsapp.verify_token.as_ref();
    let mode_ok = query.get("hub.mode").map(String::as_str) == Some("subscribe");
    let token_ok = match (expected, query.get("hub.verify_token")) {
        (Some(expected), Some(given)) => {
            bool::from(expected.expose_secret().as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    };
    match query.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

/// `POST /webhooks/whatsapp`: verify, parse, commit, then acknowledge.
async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let received_at = veilbox_store::now_ms();
    let Some(secret) = state.config.app_secret() else {
        return Err(WebError::Unauthorized);
    };
    let header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    if let Err(why) = signature::verify(secret, &body, header) {
        tracing::warn!(reason = %why, bytes = body.len(), "webhook refused: bad signature");
        return Err(WebError::Unauthorized);
    }
    let parsed = match webhook::parse(&body) {
        Ok(parsed) => parsed,
        Err(why) => {
            // Signed by Meta but unreadable: keep the bytes for an admin, answer 400. The
            // reason names the JSON position only, never content.
            let reason = why.to_string();
            tracing::warn!(%reason, bytes = body.len(), "signed webhook is not a valid envelope");
            state.ingestor.dead_letter(body.to_vec(), reason).await?;
            return Err(WebError::BadRequest("malformed webhook body"));
        }
    };
    let report = state
        .ingestor
        .ingest(Delivery {
            body: body.to_vec(),
            webhook: parsed,
            received_at,
        })
        .await?;
    tracing::debug!(
        messages = report.messages_stored,
        statuses = report.statuses_stored,
        duplicates = report.messages_duplicate + report.statuses_duplicate,
        unrouted = report.unrouted,
        "webhook stored"
    );
    Ok((StatusCode::OK, Json(report)).into_response())
}
