//! The agent inbox web UI: server-rendered pages, form actions, live updates and assets.
//!
//! Pages are rendered with maud in [`pages`]; every piece of customer data goes through
//! [`pages::customer_label`] (and the message renderers next to it) so masking can be
//! applied in one place later. Forms work without JavaScript (POST, then redirect); the
//! small module in `assets/inbox.js` adds live updates over server-sent events ([`live`]).
//! Sign-in is [`crate::account`]; every handler asks [`crate::auth::Access`].

pub(crate) mod actions;
pub mod assets;
mod live;
pub(crate) mod pages;

use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::AppState;

pub use pages::customer_label;

/// The inbox routes (security headers are added by the caller).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::root))
        .route("/inbox", get(pages::inbox))
        .route("/inbox/list", get(live::list_fragment))
        .route("/inbox/events", get(live::events))
        .route("/inbox/c/{id}", get(pages::conversation))
        .route("/inbox/c/{id}/m/{message_id}", get(live::message_fragment))
        .route("/inbox/c/{id}/reply", post(actions::reply))
        .route(
            "/inbox/c/{id}/check",
            post(crate::dlp::http::check_in_inbox),
        )
        .route("/inbox/c/{id}/template", post(actions::template))
        .route("/inbox/c/{id}/assign", post(actions::assign))
        .route("/inbox/c/{id}/state", post(actions::set_state))
        .route("/inbox/c/{id}/send/{outbox_id}", post(actions::decide_send))
}

/// Which conversations the list shows: `?state=open|pending|resolved&who=mine|unassigned|all`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// Conversation state; open by default.
    #[serde(default)]
    pub state: Option<String>,
    /// Whose; everyone's by default.
    #[serde(default)]
    pub who: Option<String>,
}

/// A parsed [`ListQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListView {
    /// `open`, `pending` or `resolved`.
    pub state: &'static str,
    /// `mine`, `unassigned` or `all`.
    pub who: &'static str,
}

impl ListQuery {
    /// Unknown values fall back to the defaults rather than failing the page.
    pub fn view(&self) -> ListView {
        let state = match self.state.as_deref() {
            Some("pending") => "pending",
            Some("resolved") => "resolved",
            _ => "open",
        };
        let who = match self.who.as_deref() {
            Some("mine") => "mine",
            Some("unassigned") => "unassigned",
            _ => "all",
        };
        ListView { state, who }
    }
}

impl ListView {
    /// The query string that selects this view (no customer data).
    pub fn query(&self) -> String {
        format!("state={}&who={}", self.state, self.who)
    }
}
