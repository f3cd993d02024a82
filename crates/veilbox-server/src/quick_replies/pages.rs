//! The quick-replies page (`/quick-replies`): a supervisor lists, adds, edits and deletes
//! their teams' quick replies; an admin those of every team. CSRF forms, post then
//! redirect; a refused text comes back in the form with the reason.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::manage::{self, ManageError, Scope};
use super::rules::{BODY_MAX, TITLE_MAX};
use crate::auth::{Refused, SignedIn};
use crate::layout::{flash_markup, html_response, page};
use crate::AppState;

const TITLE: &str = "Veilbox · Quick replies";
const PATH: &str = "/quick-replies";

/// A draft the page shows again after a refusal: team, title, body, and why.
struct Draft<'a> {
    team_id: &'a str,
    title: &'a str,
    body: &'a str,
    error: String,
}

async fn quick_replies_page(
    state: &AppState,
    user: &SignedIn,
    draft: Option<Draft<'_>>,
) -> Result<Response, Refused> {
    let scope = Scope::of(state, &user.actor);
    if !scope.any() {
        return Err(Refused::Forbidden);
    }
    let teams: Vec<_> = state
        .store
        .teams()
        .await?
        .into_iter()
        .filter(|t| scope.covers(&t.id))
        .collect();
    let team_name = |id: &str| {
        teams
            .iter()
            .find(|t| t.id == id)
            .map_or("(another team)", |t| t.name.as_str())
    };
    let quick_replies: Vec<_> = manage::visible(state, &user.actor)
        .await?
        .into_iter()
        .filter(|q| scope.covers(&q.team_id))
        .collect();
    let flash = user.take_flash(state).await;
    let (team_id, title, body, error) = match &draft {
        Some(d) => (d.team_id, d.title, d.body, d.error.as_str()),
        None => ("", "", "", ""),
    };
    let content = html! {
        main.admin {
            (flash_markup(flash.as_ref()))
            h1 { "Quick replies" }
            p {
                "Canned replies your agents pick in the composer. Write placeholders such as "
                code { "{{shipment.address}}" }
                " where the customer's details go: agents see the placeholder, the customer gets the real value. Known placeholders: "
                @for (i, name) in crate::dlp::PLACEHOLDERS.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { "{{" (name) "}}" }
                }
                "."
            }
            @if quick_replies.is_empty() {
                p.hint { "No quick replies yet." }
            }
            @for q in &quick_replies {
                section.quick-reply {
                    h2 { (q.title) " · " span.hint { (team_name(&q.team_id)) } }
                    form.stack method="post" action={ (PATH) "/" (q.id) } {
                        input type="hidden" name="csrf" value=(user.csrf);
                        label { "Title" input type="text" name="title" value=(q.title) maxlength=(TITLE_MAX) required; }
                        label { "Text" textarea name="body" rows="4" maxlength=(BODY_MAX) required { (q.body) } }
                        button type="submit" { "Save" }
                    }
                    form.inline method="post" action={ (PATH) "/" (q.id) "/delete" } {
                        input type="hidden" name="csrf" value=(user.csrf);
                        button type="submit" { "Delete" }
                    }
                }
            }
            h2 { "Add a quick reply" }
            @if !error.is_empty() {
                p.flash.error role="alert" { "Refused: " (error) "." }
            }
            @if teams.is_empty() {
                p.hint { "You lead no team yet: quick replies belong to a team." }
            } @else {
                form.stack method="post" action=(PATH) {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Team"
                        select name="team_id" required {
                            @for t in &teams {
                                option value=(t.id) selected[t.id == team_id] { (t.name) }
                            }
                        }
                    }
                    label { "Title" input type="text" name="title" value=(title) maxlength=(TITLE_MAX) required; }
                    label { "Text" textarea name="body" rows="4" maxlength=(BODY_MAX) required { (body) } }
                    button.primary type="submit" { "Add" }
                }
            }
        }
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        html_response(page(state, TITLE, "", Some(user), content)),
    )
        .into_response())
}

/// `GET /quick-replies`
pub async fn list(State(state): State<AppState>, user: SignedIn) -> Result<Response, Refused> {
    quick_replies_page(&state, &user, None).await
}

/// The add form.
#[derive(Debug, Deserialize)]
pub struct AddFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

/// `POST /quick-replies`
pub async fn add(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<AddFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    match manage::create(
        &state,
        &user.actor,
        &fields.team_id,
        &fields.title,
        &fields.body,
    )
    .await
    {
        Ok(created) => {
            user.flash(
                &state,
                "ok",
                format!("Quick reply {} added.", created.title),
            )
            .await;
            Ok(Redirect::to(PATH).into_response())
        }
        Err(ManageError::Refused(refusal)) => {
            let draft = Draft {
                team_id: &fields.team_id,
                title: &fields.title,
                body: &fields.body,
                error: refusal.to_string(),
            };
            quick_replies_page(&state, &user, Some(draft)).await
        }
        Err(other) => Err(refused(other)),
    }
}

/// The edit form.
#[derive(Debug, Deserialize)]
pub struct EditFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

/// `POST /quick-replies/{id}`
pub async fn edit(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<EditFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    match manage::update(&state, &user.actor, &id, &fields.title, &fields.body).await {
        Ok(changed) => {
            user.flash(
                &state,
                "ok",
                format!("Quick reply {} saved.", changed.title),
            )
            .await;
        }
        Err(ManageError::Refused(refusal)) => {
            user.flash(&state, "error", format!("Not saved: {refusal}."))
                .await;
        }
        Err(other) => return Err(refused(other)),
    }
    Ok(Redirect::to(PATH).into_response())
}

/// The delete form.
#[derive(Debug, Deserialize)]
pub struct DeleteFields {
    #[serde(default)]
    csrf: String,
}

/// `POST /quick-replies/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<DeleteFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    manage::delete(&state, &user.actor, &id)
        .await
        .map_err(refused)?;
    user.flash(&state, "ok", "Quick reply deleted.").await;
    Ok(Redirect::to(PATH).into_response())
}

/// A write that did not happen, as a page answer. Another team's quick reply is refused
/// like one the user may not touch, without saying whether it exists.
fn refused(error: ManageError) -> Refused {
    match error {
        ManageError::Store(error) => Refused::Store(error),
        _ => Refused::Forbidden,
    }
}
