//! The user's own account: who they are, their second factor, and the devices signed in
//! as them, each of which they can sign out.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;

use super::sign_in::CsrfOnly;
use crate::auth::client::describe_browser;
use crate::auth::{Refused, SignedIn};
use crate::layout::{flash_markup, html_response, page};
use crate::AppState;

/// `GET /account`
pub async fn account(State(state): State<AppState>, user: SignedIn) -> Result<Response, Refused> {
    let sessions = state.store.live_sessions(&user.user.id).await?;
    let teams = state.store.teams().await?;
    let my_teams: Vec<&str> = teams
        .iter()
        .filter(|t| t.members.contains(&user.user.id))
        .map(|t| t.name.as_str())
        .collect();
    let flash = user.take_flash(&state).await;
    let content = html! {
        main.account {
            (flash_markup(flash.as_ref()))
            h1 { "Your account" }
            dl {
                dt { "E-mail" } dd { (user.user.email) }
                dt { "Role" } dd { (user.user.role) }
                dt { "Teams" } dd { @if my_teams.is_empty() { "none" } @else { (my_teams.join(", ")) } }
                dt { "Two-factor sign-in" } dd {
                    @if user.user.totp_enabled { "on · " } @else { "off · " }
                    a href="/account/two-factor" { @if user.user.totp_enabled { "recovery codes" } @else { "set up" } }
                }
            }
            h2 { "Signed-in devices" }
            table.devices {
                thead { tr { th { "Browser" } th { "Address" } th { "Signed in" } th { "Last seen" } th {} } }
                tbody {
                    @for s in &sessions {
                        tr {
                            td { (describe_browser(s.user_agent.as_deref())) @if s.id_digest == user.session { " (this one)" } }
                            td { (s.address.as_deref().unwrap_or("unknown")) }
                            td { time { (crate::api::rfc3339(s.created_at)) } }
                            td { time { (crate::api::rfc3339(s.last_seen_at)) } }
                            td {
                                form.inline method="post" action={ "/account/devices/" (s.id_digest) "/sign-out" } {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(page(
        &state,
        "Veilbox · Account",
        "",
        Some(&user),
        content,
    )))
}

/// `POST /account/devices/{id}/sign-out`: ends one of the user's own sessions.
pub async fn sign_out_device(
    State(state): State<AppState>,
    user: SignedIn,
    Path(device): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Refused> {
    user.check_csrf(&form.csrf)?;
    // Only the user's own sessions: someone else's id is simply not found.
    let own = state
        .store
        .session(&device)
        .await?
        .filter(|s| s.user_id == user.user.id && s.ended_at.is_none());
    if own.is_some()
        && state
            .store
            .end_session(&device, "signed out from another device")
            .await?
    {
        state
            .store
            .audit(
                &user
                    .actor
                    .audit("session.revoked", Some(&user.user.id), None),
            )
            .await?;
        if device == user.session {
            return Ok(Redirect::to("/login").into_response());
        }
        user.flash(&state, "ok", "That device is signed out.").await;
    } else {
        user.flash(&state, "warn", "That device was already signed out.")
            .await;
    }
    Ok(Redirect::to("/account").into_response())
}
