//! Admin pages: users and teams, API tokens, custom roles, erasure requests. Each handler asks the
//! authorizer for its `manage_*` action; admins configure and see no conversation content.

pub mod erasure;
pub mod roles;
pub mod tokens;
pub mod users;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users::list).post(users::add))
        .route("/admin/users/{id}", post(users::change))
        .route("/admin/teams", post(users::add_team))
        .route("/admin/teams/{id}", post(users::change_team))
        .route("/admin/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/tokens/{id}/revoke", post(tokens::revoke))
        .route("/admin/roles", get(roles::list).post(roles::save))
        .route("/admin/erasure", get(erasure::show))
        .route("/admin/erasure/find", post(erasure::find))
        .route("/admin/erasure/{id}", post(erasure::erase))
}
