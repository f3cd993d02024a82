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

use super::pages::{fragment, list_markup, message_markup, StaffNames};
use super::ListQuery;
use crate::auth::SignedIn;
use crate::error::WebError;
use crate::AppState;

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a stream checks that its session is still signed in with the same role and
/// teams (a revoked session or a changed team stops the stream within this time).
const SESSION_CHECK: Duration = Duration::from_secs(10);

/// `GET /inbox/events`: the store events of conversations this user may see, as `message`
/// / `conversation` events with JSON ids; `reload` when this stream fell behind and missed
/// some. Events of other conversations are not sent at all: not even their ids.
pub async fn events(State(state): State<AppState>, user: SignedIn) -> Response {
    let receiver = state.store.events().subscribe();
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.reset();
    let mut response = Sse::new(event_stream(state, receiver, user, check))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies must pass events through as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Which conversations a stream may tell about, remembered per conversation; a
/// conversation event (assignment, state) asks again, as visibility may have changed.
#[derive(Default)]
struct Visibility(std::collections::HashMap<String, bool>);

impl Visibility {
    async fn may_see(
        &mut self,
        state: &AppState,
        user: &SignedIn,
        conversation_id: &str,
        fresh: bool,
    ) -> bool {
        if !fresh {
            if let Some(&known) = self.0.get(conversation_id) {
                return known;
            }
        }
        let visible = matches!(
            state
                .access
                .visible_conversation(&state.store, &user.actor, conversation_id)
                .await,
            Ok(Some(_))
        );
        if self.0.len() > 10_000 {
            self.0.clear();
        }
        self.0.insert(conversation_id.to_owned(), visible);
        visible
    }
}

fn event_stream(
    state: AppState,
    receiver: tokio::sync::broadcast::Receiver<StoreEvent>,
    user: SignedIn,
    check: tokio::time::Interval,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(
        (state, receiver, user, check, Visibility::default()),
        |(state, mut receiver, user, mut check, mut seen)| async move {
            loop {
                tokio::select! {
                    received = receiver.recv() => {
                        let relevant = match &received {
                            Ok(StoreEvent::Message { conversation_id, .. }) => seen.may_see(&state, &user, conversation_id, false).await,
                            Ok(StoreEvent::Conversation { conversation_id }) => seen.may_see(&state, &user, conversation_id, true).await,
                            Err(_) => true,
                        };
                        if !relevant {
                            continue;
                        }
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
                        return Some((Ok(event), (state, receiver, user, check, seen)));
                    }
                    _ = check.tick() => {
                        if !user.still_signed_in(&state).await {
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
    let Some(conversation) = state
        .access
        .visible_conversation(&state.store, &user.actor, &id)
        .await?
    else {
        return Err(WebError::NotFound);
    };
    let Some(message) = state.store.message(&id, &message_id).await? else {
        return Err(WebError::NotFound);
    };
    // Masked exactly as the page it joins.
    let (exposure, _) =
        crate::exposure::reveal::conversation_exposure(&state, &user.actor, &conversation).await?;
    // A live update renders one message: only its author's name is needed.
    let names = StaffNames::of_one(&state, message.author.as_deref()).await?;
    Ok(fragment(message_markup(
        &id,
        &message,
        &user,
        &names,
        query.view(),
        &exposure,
    )))
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
    let names = StaffNames::load(&state).await?;
    let markup = list_markup(&state, &user, &names, view, query.c.as_deref()).await?;
    Ok(fragment(markup))
}
