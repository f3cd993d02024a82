//! Quick replies: canned responses with blind placeholders, written by supervisors for
//! their teams and picked by agents in the composer. The server fills the placeholders in
//! at send time, so the customer gets their real address while the agent only ever sees
//! `{{shipment.address}}`.
//!
//! [`rules`] decides what a quick reply may say (pure), [`manage`] who may write which and
//! the audited writes, [`pages`] the management page, [`api`] the JSON API, [`composer`]
//! the picker and its send.

pub mod api;
pub mod composer;
pub mod manage;
pub mod pages;
pub mod rules;

use axum::routing::{get, post, put};
use axum::Router;

use crate::AppState;

/// The page routes: management and the composer's send (security headers are added by the
/// caller).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/quick-replies", get(pages::list).post(pages::add))
        .route("/quick-replies/{id}", post(pages::edit))
        .route("/quick-replies/{id}/delete", post(pages::delete))
        .route("/inbox/c/{id}/quick-reply", post(composer::send))
}

/// The JSON API routes.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/quick-replies", get(api::list).post(api::create))
        .route(
            "/api/v1/quick-replies/{id}",
            put(api::update).delete(api::delete),
        )
}
