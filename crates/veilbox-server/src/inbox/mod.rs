//! The agent inbox web UI: server-rendered pages, form actions, live updates and assets.
//!
//! Pages are rendered with maud in [`pages`]; every piece of customer data goes through
//! [`pages::customer_label`] (and the message renderers next to it) so masking can be
//! applied in one place later. Forms work without JavaScript (POST, then redirect); the
//! small module in `assets/inbox.js` adds live updates over server-sent events ([`live`]).
//! Sign-in is [`crate::interim_auth`].

mod actions;
mod assets;
mod live;
mod pages;

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use crate::interim_auth::Sessions;
use crate::AppState;

pub use pages::customer_label;

/// The Content-Security-Policy of every inbox page: nothing inline, nothing foreign.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The inbox routes, with their own session store.
pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::root))
        .route("/login", get(pages::login_page).post(actions::login))
        .route("/logout", post(actions::logout))
        .route("/inbox", get(pages::inbox))
        .route("/inbox/list", get(live::list_fragment))
        .route("/inbox/events", get(live::events))
        .route("/inbox/c/{id}", get(pages::conversation))
        .route("/inbox/c/{id}/m/{message_id}", get(live::message_fragment))
        .route("/inbox/c/{id}/reply", post(actions::reply))
        .route("/inbox/c/{id}/template", post(actions::template))
        .route("/inbox/c/{id}/assign", post(actions::assign))
        .route("/inbox/c/{id}/state", post(actions::set_state))
        .route("/inbox/c/{id}/send/{outbox_id}", post(actions::decide_send))
        .layer(axum::middleware::map_response(page_headers));
    Router::new()
        .merge(pages)
        .merge(assets::routes())
        .layer(Extension(Sessions::default()))
}

/// Security headers of every page and fragment; nothing here may be cached.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
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
