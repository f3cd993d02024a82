//! API tokens for integrations: created by an admin with a role, teams and a read-only
//! scope, shown once, stored as a digest, revocable. Creation and revocation are audited.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_core::credentials::secret_token;
use veilbox_policy::{Action, Context, ConversationFacts, CustomerFacts, Principal, Resource};
use veilbox_store::tokens::NewApiToken;

use crate::auth::{Refused, SignedIn};
use crate::layout::{flash_markup, html_response, page};
use crate::AppState;

const TITLE: &str = "Veilbox · API tokens";

async fn tokens_page(
    state: &AppState,
    user: &SignedIn,
    notice: Option<Markup>,
) -> Result<Response, Refused> {
    let all = user.may(state, Action::ManageUsers);
    let tokens: Vec<_> = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .filter(|t| all || t.created_by == user.actor.id)
        .collect();
    let teams = state.store.teams().await?;
    let roles = state.access.roles();
    let flash = user.take_flash(state).await;
    let team_name = |id: &String| {
        teams
            .iter()
            .find(|t| &t.id == id)
            .map_or_else(|| id.clone(), |t| t.name.clone())
    };
    let content = html! {
        main.admin {
            (flash_markup(flash.as_ref()))
            @if let Some(notice) = notice { (notice) }
            h1 { "API tokens" }
            table.tokens {
                thead { tr { th { "Name" } th { "Role" } th { "Teams" } th { "Scope" } th { "Created" } th { "Last used" } th {} } }
                tbody {
                    @for t in &tokens {
                        tr {
                            td { (t.name) }
                            td { (t.role) }
                            td { (t.teams.iter().map(&team_name).collect::<Vec<_>>().join(", ")) }
                            td { @if t.read_only { "read only" } @else { "read and write" } }
                            td { (crate::api::rfc3339(t.created_at)) }
                            td { (t.last_used_at.map(crate::api::rfc3339).unwrap_or_else(|| "never".into())) }
                            td {
                                @if t.revoked_at.is_some() { "revoked" } @else {
                                    form.inline method="post" action={ "/admin/tokens/" (t.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(user.csrf);
                                        button.link type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "New token" }
            form.stack method="post" action="/admin/tokens" {
                input type="hidden" name="csrf" value=(user.csrf);
                label { "Name (what it is for)" input type="text" name="name" required; }
                label { "Role" select name="role" { @for r in &roles { option value=(r) { (r) } } } }
                fieldset {
                    legend { "Teams it acts for" }
                    @for t in &teams { label { input type="checkbox" name="team" value=(t.id); " " (t.name) } }
                }
                label { input type="checkbox" name="read_only" value="1" checked; " Read only" }
                button.primary type="submit" { "Create token" }
            }
        }
    };
    Ok(html_response(page(state, TITLE, "", Some(user), content)))
}

/// `GET /admin/tokens`
pub async fn list(State(state): State<AppState>, user: SignedIn) -> Result<Response, Refused> {
    user.require(&state, Action::ManageTokens)?;
    tokens_page(&state, &user, None).await
}

/// The new-token form.
#[derive(Debug, Deserialize)]
pub struct NewTokenFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team: Vec<String>,
    #[serde(default)]
    read_only: Option<String>,
}

/// The first thing `token` could do that `creator` may not, if any. Content powers
/// (conversations, customers) never exceed the creator's: an admin cannot make a token that
/// reads conversations. System powers may be granted by those who manage people (admins
/// give roles anyway); anyone else is held to their own. Checked on the system, and on a
/// conversation and a customer of each of the token's teams.
pub fn escalation(
    state: &AppState,
    creator: &crate::auth::Actor,
    token: &Principal,
) -> Option<&'static str> {
    let mut resources = vec![Resource::System];
    for team in &token.teams {
        for assignee in [
            None,
            Some(token.id.clone()),
            Some(creator.principal.id.clone()),
        ] {
            resources.push(Resource::Conversation(ConversationFacts {
                id: "probe".to_owned(),
                teams: vec![team.clone()],
                assignee,
            }));
        }
        resources.push(Resource::Customer(CustomerFacts {
            id: "probe".to_owned(),
            teams: vec![team.clone()],
            assignees: vec![token.id.clone(), creator.principal.id.clone()],
        }));
    }
    let contexts = [
        Context::default(),
        Context {
            self_assign: true,
            reason: Some("probe".to_owned()),
            kind: Some("PHONE".to_owned()),
        },
    ];
    let grants_roles = state.access.allowed_system(creator, Action::ManageUsers);
    for resource in &resources {
        if grants_roles && matches!(resource, Resource::System) {
            continue;
        }
        for action in Action::ALL {
            for context in &contexts {
                if state.access.allows(token, action, resource, context)
                    && !state.access.allowed(creator, action, resource, context)
                {
                    return Some(action.name());
                }
            }
        }
    }
    None
}

/// Creates a token after checking its role and teams; returns (id, secret).
pub async fn create_token(
    state: &AppState,
    actor: &crate::auth::Actor,
    name: &str,
    role: &str,
    teams: &[String],
    read_only: bool,
) -> Result<Result<(String, String), &'static str>, veilbox_store::StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Ok(Err("a token needs a name of up to 100 characters"));
    }
    if !state.access.roles().iter().any(|r| r == role) {
        return Ok(Err("unknown role"));
    }
    let known = state.store.teams().await?;
    if !teams.iter().all(|t| known.iter().any(|k| &k.id == t)) {
        return Ok(Err("unknown team"));
    }
    let token = Principal {
        id: "token:new".to_owned(),
        role: role.to_owned(),
        teams: teams.to_vec(),
        read_only,
    };
    if let Some(action) = escalation(state, actor, &token) {
        tracing::info!(action, "token refused: more power than its creator");
        return Ok(Err(
            "a token may not do what its creator may not (an admin cannot make a token that reads conversations; a supervisor makes those for their teams)",
        ));
    }
    let secret = secret_token::generate("vbt");
    let id = state
        .store
        .create_api_token(&NewApiToken {
            name,
            digest: &secret_token::digest(&secret),
            role,
            teams,
            read_only,
            created_by: &actor.id,
        })
        .await?;
    let scope = if read_only {
        "read only"
    } else {
        "read and write"
    };
    let reason = format!("role {role}, {scope}");
    state
        .store
        .audit(&actor.audit("token.created", Some(&id), Some(&reason)))
        .await?;
    Ok(Ok((id, secret)))
}

/// `POST /admin/tokens`
pub async fn create(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<NewTokenFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManageTokens)?;
    let made = create_token(
        &state,
        &user.actor,
        &fields.name,
        fields.role.trim(),
        &fields.team,
        fields.read_only.is_some(),
    )
    .await?;
    match made {
        Ok((_, secret)) => {
            let notice = html! {
                section.flash.ok role="status" {
                    p { "The token (shown only now; Veilbox keeps only a digest of it):" }
                    p { code.token { (secret) } }
                }
            };
            tokens_page(&state, &user, Some(notice)).await
        }
        Err(why) => {
            user.flash(&state, "error", format!("Not created: {why}."))
                .await;
            Ok(Redirect::to("/admin/tokens").into_response())
        }
    }
}

/// Admins revoke any token; others only the tokens they made.
pub async fn may_revoke(
    state: &AppState,
    actor: &crate::auth::Actor,
    id: &str,
) -> Result<bool, veilbox_store::StoreError> {
    if state.access.allowed_system(actor, Action::ManageUsers) {
        return Ok(true);
    }
    Ok(state
        .store
        .api_tokens()
        .await?
        .iter()
        .any(|t| t.id == id && t.created_by == actor.id))
}

/// `POST /admin/tokens/{id}/revoke`
pub async fn revoke(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<crate::account::sign_in::CsrfOnly>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    user.require(&state, Action::ManageTokens)?;
    if !may_revoke(&state, &user.actor, &id).await? {
        return Err(Refused::Forbidden);
    }
    if state.store.revoke_api_token(&id).await? {
        state
            .store
            .audit(&user.actor.audit("token.revoked", Some(&id), None))
            .await?;
        user.flash(&state, "ok", "Token revoked: it stops working at once.")
            .await;
    } else {
        user.flash(&state, "warn", "That token was already revoked.")
            .await;
    }
    Ok(Redirect::to("/admin/tokens").into_response())
}
