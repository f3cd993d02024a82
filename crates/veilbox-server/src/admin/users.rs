//! Users and teams, for admins: add people, change roles, disable, sign out everywhere,
//! new password links, reset a lost second factor; create teams and say which inboxes they
//! serve. Every change is audited; none shows customer data.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_policy::Action;
use veilbox_store::people::{Team, User, EVERY_INBOX};

use crate::account::sign_in::needs_second_factor;
use crate::auth::{Refused, SignedIn};
use crate::layout::{flash_markup, html_response, page};
use crate::staff::{self, AddUserError, By};
use crate::AppState;

const TITLE: &str = "Veilbox · Users";

fn by(user: &SignedIn) -> By<'_> {
    By {
        actor: &user.actor.id,
        address: user.actor.address.as_deref(),
        user_agent: user.actor.user_agent.as_deref(),
    }
}

fn team_names(teams: &[Team], user_id: &str) -> String {
    let names: Vec<&str> = teams
        .iter()
        .filter(|t| t.members.iter().any(|m| m == user_id))
        .map(|t| t.name.as_str())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

async fn users_page(
    state: &AppState,
    user: &SignedIn,
    notice: Option<Markup>,
) -> Result<Response, Refused> {
    let users = state.store.users().await?;
    let teams = state.store.teams().await?;
    let inboxes = state.store.inboxes().await?;
    let roles = state.access.roles();
    let flash = user.take_flash(state).await;
    let name_of = |id: &str| {
        users
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_owned(), |u| u.display_name.clone())
    };
    let inbox_label = |id: &str| {
        if id == EVERY_INBOX {
            "every inbox".to_owned()
        } else {
            inboxes
                .iter()
                .find(|(i, _)| i == id)
                .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
        }
    };
    let content = html! {
        main.admin {
            (flash_markup(flash.as_ref()))
            @if let Some(notice) = notice { (notice) }
            h1 { "Users" }
            table.users {
                thead { tr { th { "Name" } th { "E-mail" } th { "Role" } th { "Teams" } th { "2FA" } th { "Status" } th { "Change" } } }
                tbody {
                    @for u in &users {
                        tr data-user=(u.id) {
                            td { (u.display_name) }
                            td { (u.email) }
                            td { (u.role) }
                            td { (team_names(&teams, &u.id)) }
                            td { @if u.totp_enabled { "on" } @else { "off" } }
                            td { @if u.active() { @if u.password_hash.is_some() { "active" } @else { "invited" } } @else { "disabled" } }
                            td { (user_actions(user, u, &roles)) }
                        }
                    }
                }
            }
            h2 { "Add a user" }
            form.stack method="post" action="/admin/users" {
                input type="hidden" name="csrf" value=(user.csrf);
                label { "E-mail" input type="email" name="email" required; }
                label { "Name" input type="text" name="display_name"; }
                label { "Role" select name="role" { @for r in &roles { option value=(r) { (r) } } } }
                label { "Team (optional; created if new)" input type="text" name="team"; }
                button.primary type="submit" { "Add and make a set-password link" }
            }
            h2 { "Teams" }
            table.teams {
                thead { tr { th { "Team" } th { "Supervisor" } th { "Members" } th { "Serves" } th { "Change" } } }
                tbody {
                    @for t in &teams {
                        tr {
                            td { (t.name) }
                            td { (t.supervisor_id.as_deref().map(&name_of).unwrap_or_else(|| "none".to_owned())) }
                            td {
                                @for m in &t.members {
                                    form.inline.chip method="post" action={ "/admin/teams/" (t.id) } {
                                        input type="hidden" name="csrf" value=(user.csrf);
                                        input type="hidden" name="do" value="remove_member";
                                        input type="hidden" name="user" value=(m);
                                        (name_of(m)) " "
                                        button.link type="submit" aria-label={ "Remove " (name_of(m)) } { "×" }
                                    }
                                }
                            }
                            td {
                                @for i in &t.inboxes {
                                    form.inline.chip method="post" action={ "/admin/teams/" (t.id) } {
                                        input type="hidden" name="csrf" value=(user.csrf);
                                        input type="hidden" name="do" value="unserve";
                                        input type="hidden" name="inbox" value=(i);
                                        (inbox_label(i)) " "
                                        button.link type="submit" aria-label={ "Stop serving " (inbox_label(i)) } { "×" }
                                    }
                                }
                            }
                            td {
                                form.inline method="post" action={ "/admin/teams/" (t.id) } {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    input type="hidden" name="do" value="serve";
                                    select name="inbox" aria-label="Inbox" {
                                        option value=(EVERY_INBOX) { "every inbox" }
                                        @for (id, name) in &inboxes { option value=(id) { (name) } }
                                    }
                                    button type="submit" { "Serve" }
                                }
                                form.inline method="post" action={ "/admin/teams/" (t.id) } {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    input type="hidden" name="do" value="member";
                                    select name="user" aria-label="User" {
                                        @for u in &users { option value=(u.id) { (u.display_name) } }
                                    }
                                    button type="submit" { "Add member" }
                                }
                            }
                        }
                    }
                }
            }
            form.stack method="post" action="/admin/teams" {
                input type="hidden" name="csrf" value=(user.csrf);
                label { "New team" input type="text" name="name" required; }
                button type="submit" { "Create team" }
            }
        }
    };
    Ok(html_response(page(state, TITLE, "", Some(user), content)))
}

fn user_actions(me: &SignedIn, u: &User, roles: &[String]) -> Markup {
    let action = format!("/admin/users/{}", u.id);
    let button = |what: &str, label: &str| {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="csrf" value=(me.csrf);
                input type="hidden" name="do" value=(what);
                button.link type="submit" { (label) }
            }
        }
    };
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(me.csrf);
            input type="hidden" name="do" value="role";
            select name="role" aria-label="Role" {
                @for r in roles { option value=(r) selected[*r == u.role] { (r) } }
            }
            button.link type="submit" { "Set role" }
        }
        @if u.id != me.user.id {
            @if u.active() { (button("disable", "Disable")) } @else { (button("enable", "Enable")) }
            (button("sign_out", "Sign out everywhere"))
        }
        (button("password_link", "New password link"))
        @if u.totp_enabled && u.id != me.user.id { (button("reset_two_factor", "Reset 2FA")) }
    }
}

/// `GET /admin/users`
pub async fn list(State(state): State<AppState>, user: SignedIn) -> Result<Response, Refused> {
    user.require(&state, Action::ManageUsers)?;
    users_page(&state, &user, None).await
}

/// The add-user form.
#[derive(Debug, Deserialize)]
pub struct AddFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team: String,
}

fn link_notice(state: &AppState, who: &str, path: &str) -> Markup {
    let url = format!("{}{}", state.config.base_url(), path);
    html! {
        section.flash.ok role="status" {
            p { "Send this one-time link to " (who) " (it works for 72 hours and is shown only now):" }
            p { code.link { (url) } }
        }
    }
}

/// `POST /admin/users`
pub async fn add(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<AddFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManageUsers)?;
    let roles = state.access.roles();
    let added = staff::add_user(
        &state.store,
        &roles,
        &fields.email,
        Some(&fields.display_name),
        fields.role.trim(),
        Some(&fields.team),
        by(&user),
    )
    .await;
    match added {
        Ok(invited) => {
            let notice = link_notice(&state, &invited.user.email, &invited.link_path);
            users_page(&state, &user, Some(notice)).await
        }
        Err(AddUserError::Store(error)) => Err(Refused::Store(error)),
        Err(other) => {
            user.flash(&state, "error", format!("Not added: {other}."))
                .await;
            Ok(Redirect::to("/admin/users").into_response())
        }
    }
}

/// A change to one user.
#[derive(Debug, Deserialize)]
pub struct ChangeFields {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "do")]
    what: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users/{id}`
pub async fn change(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<ChangeFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManageUsers)?;
    let Some(target) = state.store.user(&id).await? else {
        user.flash(&state, "error", "No such user.").await;
        return Ok(Redirect::to("/admin/users").into_response());
    };
    let own = target.id == user.user.id;
    let by = by(&user);
    let target_id = target.id.as_str();
    match fields.what.as_str() {
        "role" => {
            let role = fields.role.trim();
            if !state.access.roles().iter().any(|r| r == role) {
                user.flash(&state, "error", "Unknown role.").await;
            } else if own && role != target.role {
                // An admin demoting themselves could leave nobody to manage users.
                user.flash(
                    &state,
                    "error",
                    "Ask another admin to change your own role.",
                )
                .await;
            } else {
                state.store.set_role(target_id, role).await?;
                // The new role applies from the next request; sessions carry no role. A
                // role that needs a second factor is not held on a session signed in with
                // a password alone: the user signs in again and enrols.
                let promoted = User {
                    role: role.to_owned(),
                    ..target.clone()
                };
                if !target.totp_enabled
                    && !needs_second_factor(&state, &target)
                    && needs_second_factor(&state, &promoted)
                {
                    state
                        .store
                        .end_user_sessions(target_id, "role needs a second factor")
                        .await?;
                }
                state
                    .store
                    .audit(&by.entry("user.role_changed", Some(target_id), Some(role)))
                    .await?;
                user.flash(
                    &state,
                    "ok",
                    format!("{} is now {role}.", target.display_name),
                )
                .await;
            }
        }
        "disable" | "enable" if !own => {
            let disable = fields.what == "disable";
            state.store.set_disabled(target_id, disable).await?;
            let action = if disable {
                "user.disabled"
            } else {
                "user.enabled"
            };
            state
                .store
                .audit(&by.entry(action, Some(target_id), None))
                .await?;
            user.flash(
                &state,
                "ok",
                format!(
                    "{} is {}.",
                    target.display_name,
                    if disable {
                        "disabled and signed out"
                    } else {
                        "enabled"
                    }
                ),
            )
            .await;
        }
        "sign_out" if !own => {
            let ended = state
                .store
                .end_user_sessions(target_id, "signed out by an admin")
                .await?;
            state
                .store
                .audit(&by.entry("user.signed_out_everywhere", Some(target_id), None))
                .await?;
            user.flash(
                &state,
                "ok",
                format!("{} signed out on {ended} devices.", target.display_name),
            )
            .await;
        }
        "password_link" => {
            let path = staff::password_link(&state.store, target_id, by).await?;
            let notice = link_notice(&state, &target.email, &path);
            return users_page(&state, &user, Some(notice)).await;
        }
        "reset_two_factor" if !own => {
            state.store.reset_totp(target_id).await?;
            state
                .store
                .end_user_sessions(target_id, "second factor reset")
                .await?;
            state
                .store
                .audit(&by.entry("second_factor.reset", Some(target_id), None))
                .await?;
            user.flash(
                &state,
                "ok",
                format!(
                    "{} sets up two-factor sign-in again at their next sign-in.",
                    target.display_name
                ),
            )
            .await;
        }
        _ => {
            user.flash(&state, "error", "That change is not possible.")
                .await
        }
    }
    Ok(Redirect::to("/admin/users").into_response())
}

/// The new-team form.
#[derive(Debug, Deserialize)]
pub struct TeamFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /admin/teams`
pub async fn add_team(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<TeamFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManageUsers)?;
    let name = fields.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        user.flash(
            &state,
            "error",
            "A team needs a name of up to 80 characters.",
        )
        .await;
    } else {
        let id = state.store.ensure_team(name).await?;
        state
            .store
            .audit(&by(&user).entry("team.created", Some(&id), None))
            .await?;
        user.flash(&state, "ok", "Team created.").await;
    }
    Ok(Redirect::to("/admin/users").into_response())
}

/// A change to one team.
#[derive(Debug, Deserialize)]
pub struct TeamChange {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "do")]
    what: String,
    #[serde(default)]
    inbox: String,
    #[serde(default)]
    user: String,
}

/// `POST /admin/teams/{id}`
pub async fn change_team(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<TeamChange>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManageUsers)?;
    if !state.store.teams().await?.iter().any(|t| t.id == id) {
        user.flash(&state, "error", "No such team.").await;
        return Ok(Redirect::to("/admin/users").into_response());
    }
    let by = by(&user);
    match fields.what.as_str() {
        "serve" => {
            let known = fields.inbox == EVERY_INBOX
                || state
                    .store
                    .inboxes()
                    .await?
                    .iter()
                    .any(|(i, _)| *i == fields.inbox);
            if known {
                state.store.add_team_inbox(&id, &fields.inbox).await?;
                let target = format!("{id} {}", fields.inbox);
                state
                    .store
                    .audit(&by.entry("team.inbox_added", Some(&target), None))
                    .await?;
                user.flash(&state, "ok", "The team serves that inbox now.")
                    .await;
            } else {
                user.flash(&state, "error", "No such inbox.").await;
            }
        }
        "member" => match state.store.user(&fields.user).await? {
            Some(member) => {
                staff::join_team(&state.store, &id, &member, by).await?;
                user.flash(
                    &state,
                    "ok",
                    format!("{} joined the team.", member.display_name),
                )
                .await;
            }
            None => user.flash(&state, "error", "No such user.").await,
        },
        "remove_member" => {
            state.store.remove_team_member(&id, &fields.user).await?;
            let target = format!("{id} {}", fields.user);
            state
                .store
                .audit(&by.entry("team.member_removed", Some(&target), None))
                .await?;
            user.flash(
                &state,
                "ok",
                "Removed from the team: they no longer see its queue.",
            )
            .await;
        }
        "unserve" => {
            if state.store.remove_team_inbox(&id, &fields.inbox).await? {
                let target = format!("{id} {}", fields.inbox);
                state
                    .store
                    .audit(&by.entry("team.inbox_removed", Some(&target), None))
                    .await?;
                user.flash(&state, "ok", "The team no longer serves that inbox.")
                    .await;
            } else {
                user.flash(&state, "warn", "The team did not serve that inbox.")
                    .await;
            }
        }
        _ => {
            user.flash(&state, "error", "That change is not possible.")
                .await
        }
    }
    Ok(Redirect::to("/admin/users").into_response())
}
