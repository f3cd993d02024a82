//! Custom roles: an admin adds a role as a Cedar policy. It is validated against the
//! schema before it takes effect; a bad policy is refused with the validator's message and
//! the role's previous policy stays.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use veilbox_policy::{Action, CustomRole, BUILTIN_ROLES};

use crate::auth::{Actor, Refused, SignedIn};
use crate::layout::{flash_markup, html_response, page};
use crate::AppState;

const TITLE: &str = "Veilbox · Roles";

const EXAMPLE: &str = r#"// A dispatcher sees and assigns the conversations of their teams.
permit (
    principal in Veilbox::Role::"dispatcher",
    action in [Veilbox::Action::"view_conversation", Veilbox::Action::"assign"],
    resource is Veilbox::Conversation
) when { resource.teams.containsAny(principal.teams) };"#;

async fn roles_page(
    state: &AppState,
    user: &SignedIn,
    draft: Option<(&str, &str, &str)>,
) -> Result<Response, Refused> {
    let custom = state.store.custom_roles().await?;
    let flash = user.take_flash(state).await;
    let (name, policy, error) = draft.unwrap_or(("", EXAMPLE, ""));
    let content = html! {
        main.admin {
            (flash_markup(flash.as_ref()))
            h1 { "Roles" }
            p { "Built in: " (BUILTIN_ROLES.join(", ")) ". Their policies ship with Veilbox." }
            @for role in &custom {
                section.role {
                    h2 { (role.name) }
                    pre { code { (role.policy) } }
                }
            }
            h2 { "Add or replace a custom role" }
            @if !error.is_empty() {
                div.flash.error role="alert" { p { "Refused; the role was not changed:" } pre { (error) } }
            }
            form.stack method="post" action="/admin/roles" {
                input type="hidden" name="csrf" value=(user.csrf);
                label { "Role name" input type="text" name="name" value=(name) pattern="[a-z][a-z0-9_\\-]{1,31}" required; }
                label { "Policy (Cedar)" textarea name="policy" rows="12" spellcheck="false" { (policy) } }
                button.primary type="submit" { "Validate and save" }
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

/// `GET /admin/roles`
pub async fn list(State(state): State<AppState>, user: SignedIn) -> Result<Response, Refused> {
    user.require(&state, Action::ManagePolicies)?;
    roles_page(&state, &user, None).await
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    policy: String,
}

/// Validates and stores a custom role, then reloads the authorizer. `Ok(Err(message))`
/// is a refusal with the validator's words.
pub async fn save_role(
    state: &AppState,
    actor: &Actor,
    name: &str,
    policy: &str,
) -> Result<Result<(), String>, veilbox_store::StoreError> {
    let role = CustomRole {
        name: name.trim().to_owned(),
        policy: policy.to_owned(),
    };
    if let Err(error) = veilbox_policy::validate_custom_role(&role) {
        state
            .store
            .audit(&actor.audit("policy.role_refused", Some(&role.name), None))
            .await?;
        return Ok(Err(error.message));
    }
    state
        .store
        .save_custom_role(&role.name, &role.policy, &actor.id)
        .await?;
    if let Err(error) = state.access.reload(&state.store).await {
        tracing::error!(%error, "reloading policies after a role change failed");
    }
    state
        .store
        .audit(&actor.audit("policy.role_saved", Some(&role.name), None))
        .await?;
    Ok(Ok(()))
}

/// `POST /admin/roles`
pub async fn save(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<RoleFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManagePolicies)?;
    match save_role(&state, &user.actor, &fields.name, &fields.policy).await? {
        Ok(()) => {
            user.flash(
                &state,
                "ok",
                format!(
                    "Role {} saved; it applies from the next request.",
                    fields.name.trim()
                ),
            )
            .await;
            Ok(Redirect::to("/admin/roles").into_response())
        }
        Err(message) => {
            roles_page(
                &state,
                &user,
                Some((&fields.name, &fields.policy, &message)),
            )
            .await
        }
    }
}
