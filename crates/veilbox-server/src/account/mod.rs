//! Signing in and the user's own account: password, second factor, devices.

pub mod devices;
pub mod sign_in;
pub mod two_factor;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Sign-in and account routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(sign_in::login_page).post(sign_in::login))
        .route(
            "/login/second-factor",
            get(sign_in::second_factor_page).post(sign_in::second_factor),
        )
        .route("/logout", post(sign_in::logout))
        .route(
            "/set-password/{token}",
            get(sign_in::set_password_page).post(sign_in::set_password),
        )
        .route("/account", get(devices::account))
        .route(
            "/account/devices/{id}/sign-out",
            post(devices::sign_out_device),
        )
        .route(
            "/account/two-factor",
            get(two_factor::page_get).post(two_factor::confirm),
        )
        .route(
            "/account/two-factor/recovery-codes",
            post(two_factor::new_recovery_codes),
        )
}
