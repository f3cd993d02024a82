//! Live updates: the server-sent event stream and the HTML fragments the page script
//! fetches when an event names something it shows.
//!
//! Events carry ids only; the fragments are rendered by the same code as full pages, so a
//! live update shows exactly what a reload would.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use veilbox_store::events::StoreEvent;

use super::pages::{fragment, list_markup, message_markup};
use super::ListQuery;
use crate::error::WebError;
use crate::interim_auth::SignedIn;
use crate::AppState;

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a stream checks that its session is still signed in.
const SESSION_CHECK: Duration = Duration::from_secs(30);

/// `GET /inbox/events`: every store event, as `message` / `conversation` events with JSON
/// ids; `reload` when this stream fell behind and missed some.
pub async fn events(State(state): State<AppState>, user: SignedIn) -> Response {
    let receiver = state.store.events().subscribe();
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.reset();
    let mut response = Sse::new(event_stream(receiver, user, check))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies must pass events through as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn event_stream(
    receiver: tokio::sync::broadcast::Receiver<StoreEvent>,
    user: SignedIn,
    check: tokio::time::Interval,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(
        (receiver, user, check),
        |(mut receiver, user, mut check)| async move {
            loop {
                tokio::select! {
                    received = receiver.recv() => {
                        let event = match received {
                            Ok(StoreEvent::Message { conversation_id, message_id }) => Event::default()
                                .event("message")
                                .data(serde_json::json!({
                                    "conversation_id": conversation_id,
                                    "message_id": message_id,
                                }).to_string()),
                            Ok(StoreEvent::Conversation { conversation_id }) => Event::default()
                                .event("conversation")
                                .data(serde_json::json!({ "conversation_id": conversation_id }).to_string()),
                            Err(RecvError::Lagged(_)) => Event::default().event("reload").data("{}"),
                            Err(RecvError::Closed) => return None,
                        };
                        return Some((Ok(event), (receiver, user, check)));
                    }
                    _ = check.tick() => {
                        if !user.still_signed_in() {
                            return None;
                        }
                    }
                }
            }
        },
    )
}

/// `GET /inbox/c/{id}/m/{message_id}`: one message as it appears in the thread.
pub async fn message_fragment(
    State(state): State<AppState>,
    user: SignedIn,
    Path((id, message_id)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let Some(message) = state.store.message(&id, &message_id).await? else {
        return Err(WebError::NotFound);
    };
    Ok(fragment(message_markup(&id, &message, &user, query.view())))
}

/// `?state=..&who=..&c=..` of the list fragment (`c`: the conversation shown beside it).
#[derive(Debug, Deserialize)]
pub struct ListFragmentQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    c: Option<String>,
}

/// `GET /inbox/list`: the conversation list (`#list-body`).
pub async fn list_fragment(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<ListFragmentQuery>,
) -> Result<Response, WebError> {
    let view = ListQuery {
        state: query.state,
        who: query.who,
    }
    .view();
    let markup = list_markup(&state, &user, view, query.c.as_deref()).await?;
    Ok(fragment(markup))
}
