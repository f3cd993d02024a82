//! The JSON API for people and access: users, teams, API tokens, custom roles, the audit
//! log and assignment. The same checks and audit entries as the admin pages.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use veilbox_policy::{Action, Context};
use veilbox_store::audit::AuditFilter;
use veilbox_store::people::EVERY_INBOX;

use crate::api::{authorize_conversation, require, rfc3339};
use crate::auth::{Actor, ApiCaller};
use crate::error::WebError;
use crate::staff::{self, AddUserError, By};
use crate::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{id}/{change}", post(change_user))
        .route("/api/v1/teams", post(add_team))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/roles", get(list_roles))
        .route("/api/v1/roles/{name}", axum::routing::put(save_role))
        .route("/api/v1/audit", get(audit_rows))
        .route("/api/v1/conversations/{id}/assign", post(assign))
}

fn by(actor: &Actor) -> By<'_> {
    By {
        actor: &actor.id,
        address: actor.address.as_deref(),
        user_agent: actor.user_agent.as_deref(),
    }
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_json::from_slice(body).map_err(|_| WebError::BadRequest("malformed JSON body"))
}

async fn list_users(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::ManageUsers)?;
    let users = state.store.users().await?;
    let teams = state.store.teams().await?;
    let items: Vec<Value> = users
        .iter()
        .map(|u| {
            let team_ids: Vec<&str> = teams
                .iter()
                .filter(|t| t.members.contains(&u.id))
                .map(|t| t.id.as_str())
                .collect();
            json!({
                "id": u.id, "email": u.email, "display_name": u.display_name, "role": u.role,
                "teams": team_ids, "two_factor": u.totp_enabled, "disabled": u.disabled_at.is_some(),
                "password_set": u.password_hash.is_some(), "created_at": rfc3339(u.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct NewUser {
    email: String,
    #[serde(default)]
    display_name: Option<String>,
    role: String,
    #[serde(default)]
    team: Option<String>,
}

/// `POST /api/v1/users`: 201 with the user id and a one-time set-password URL.
async fn add_user(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    require(&state, &actor, Action::ManageUsers)?;
    let new: NewUser = json_body(&body)?;
    let roles = state.access.roles();
    match staff::add_user(
        &state.store,
        &roles,
        &new.email,
        new.display_name.as_deref(),
        &new.role,
        new.team.as_deref(),
        by(&actor),
    )
    .await
    {
        Ok(invited) => Ok((
            StatusCode::CREATED,
            Json(json!({
                "id": invited.user.id,
                "set_password_url": format!("{}{}", state.config.base_url(), invited.link_path),
            })),
        )
            .into_response()),
        Err(AddUserError::Store(error)) => Err(error.into()),
        Err(AddUserError::Taken) => Ok((
            StatusCode::CONFLICT,
            Json(json!({"error": "a user with that e-mail already exists"})),
        )
            .into_response()),
        Err(other) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": other.to_string()})),
        )
            .into_response()),
    }
}

/// `POST /api/v1/users/{id}/{disable|enable|sign-out|password-link}`
async fn change_user(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path((id, change)): Path<(String, String)>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::ManageUsers)?;
    let target = state.store.user(&id).await?.ok_or(WebError::NotFound)?;
    if actor.user_id.as_deref() == Some(target.id.as_str()) && change != "password-link" {
        return Err(WebError::BadRequest(
            "ask another admin to change your own account",
        ));
    }
    let by = by(&actor);
    let result = match change.as_str() {
        "disable" | "enable" => {
            let disable = change == "disable";
            state.store.set_disabled(&target.id, disable).await?;
            let action = if disable {
                "user.disabled"
            } else {
                "user.enabled"
            };
            state
                .store
                .audit(&by.entry(action, Some(&target.id), None))
                .await?;
            json!({"id": target.id, "disabled": disable})
        }
        "sign-out" => {
            let ended = state
                .store
                .end_user_sessions(&target.id, "signed out by an admin")
                .await?;
            state
                .store
                .audit(&by.entry("user.signed_out_everywhere", Some(&target.id), None))
                .await?;
            json!({"id": target.id, "sessions_ended": ended})
        }
        "password-link" => {
            let path = staff::password_link(&state.store, &target.id, by).await?;
            json!({"id": target.id, "set_password_url": format!("{}{path}", state.config.base_url())})
        }
        _ => return Err(WebError::NotFound),
    };
    Ok(Json(result))
}

#[derive(Debug, Deserialize)]
struct NewTeam {
    name: String,
    #[serde(default)]
    serves: Vec<String>,
    #[serde(default)]
    members: Vec<String>,
}

/// `POST /api/v1/teams` with `{"name", "serves": ["*" | inbox id, ..], "members": [user id, ..]}`.
async fn add_team(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    require(&state, &actor, Action::ManageUsers)?;
    let new: NewTeam = json_body(&body)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(WebError::BadRequest(
            "a team needs a name of up to 80 characters",
        ));
    }
    // Everything is checked before anything changes: a bad id creates no half a team.
    let inboxes = state.store.inboxes().await?;
    if !new
        .serves
        .iter()
        .all(|inbox| inbox == EVERY_INBOX || inboxes.iter().any(|(id, _)| id == inbox))
    {
        return Err(WebError::BadRequest("unknown inbox id in serves"));
    }
    let mut members = Vec::with_capacity(new.members.len());
    for member in &new.members {
        members.push(
            state
                .store
                .user(member)
                .await?
                .ok_or(WebError::BadRequest("unknown user id in members"))?,
        );
    }
    let id = state.store.ensure_team(name).await?;
    let by = by(&actor);
    state
        .store
        .audit(&by.entry("team.created", Some(&id), None))
        .await?;
    for inbox in &new.serves {
        state.store.add_team_inbox(&id, inbox).await?;
        let target = format!("{id} {inbox}");
        state
            .store
            .audit(&by.entry("team.inbox_added", Some(&target), None))
            .await?;
    }
    for user in &members {
        staff::join_team(&state.store, &id, user, by).await?;
    }
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn list_tokens(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::ManageTokens)?;
    let all = state.access.allowed_system(&actor, Action::ManageUsers);
    let items: Vec<Value> = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .filter(|t| all || t.created_by == actor.id)
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "role": t.role, "teams": t.teams, "read_only": t.read_only,
                "created_by": t.created_by, "created_at": rfc3339(t.created_at),
                "last_used_at": t.last_used_at.map(rfc3339), "revoked_at": t.revoked_at.map(rfc3339),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct NewToken {
    name: String,
    role: String,
    #[serde(default)]
    teams: Vec<String>,
    #[serde(default = "yes")]
    read_only: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/tokens`: 201 with the secret, shown this once.
async fn create_token(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    require(&state, &actor, Action::ManageTokens)?;
    let new: NewToken = json_body(&body)?;
    match crate::admin::tokens::create_token(
        &state,
        &actor,
        &new.name,
        &new.role,
        &new.teams,
        new.read_only,
    )
    .await?
    {
        Ok((id, token)) => {
            Ok((StatusCode::CREATED, Json(json!({"id": id, "token": token}))).into_response())
        }
        Err(why) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": why})),
        )
            .into_response()),
    }
}

async fn revoke_token(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::ManageTokens)?;
    if !crate::admin::tokens::may_revoke(&state, &actor, &id).await? {
        return Err(WebError::NotFound);
    }
    if !state.store.revoke_api_token(&id).await? {
        return Err(WebError::NotFound);
    }
    state
        .store
        .audit(&actor.audit("token.revoked", Some(&id), None))
        .await?;
    Ok(Json(json!({"id": id, "revoked": true})))
}

async fn list_roles(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::ManagePolicies)?;
    let custom: Vec<Value> = state
        .store
        .custom_roles()
        .await?
        .into_iter()
        .map(|r| json!({"name": r.name, "policy": r.policy, "updated_by": r.updated_by, "updated_at": rfc3339(r.updated_at)}))
        .collect();
    Ok(Json(
        json!({"builtin": veilbox_policy::BUILTIN_ROLES, "custom": custom}),
    ))
}

#[derive(Debug, Deserialize)]
struct RoleBody {
    policy: String,
}

/// `PUT /api/v1/roles/{name}` with `{"policy": "..."}`: 422 with the validator's message
/// when the policy is refused (the old one stays).
async fn save_role(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    require(&state, &actor, Action::ManagePolicies)?;
    let role: RoleBody = json_body(&body)?;
    match crate::admin::roles::save_role(&state, &actor, &name, &role.policy).await? {
        Ok(()) => Ok(Json(json!({"name": name, "saved": true})).into_response()),
        Err(message) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "policy refused", "details": message})),
        )
            .into_response()),
    }
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

async fn audit_rows(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::ViewAuditLog)?;
    let filter = AuditFilter {
        actor: query.actor,
        action_prefix: query.action,
        before_seq: query.before,
        ..AuditFilter::default()
    };
    let rows = state
        .store
        .audit_rows(&filter, query.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "seq": r.seq, "id": r.id, "at": rfc3339(r.at), "actor": r.actor, "action": r.action,
                "target": r.target, "reason": r.reason, "address": r.address, "user_agent": r.user_agent,
                "hash": r.hash,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct AssignBody {
    /// A user id, `me`, or null to unassign.
    assignee: Option<String>,
}

/// `POST /api/v1/conversations/{id}/assign`
async fn assign(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let request: AssignBody = json_body(&body)?;
    let assignee = match request.assignee.as_deref() {
        Some("me") => Some(
            actor
                .user_id
                .clone()
                .ok_or(WebError::BadRequest("an API token cannot be assigned"))?,
        ),
        Some(other) => Some(other.to_owned()),
        None => None,
    };
    let context = Context {
        self_assign: assignee.is_some() && assignee == actor.user_id,
        ..Context::default()
    };
    // First whether the caller may assign this conversation at all (404 / 403), then
    // whether the assignee can take it: only an active user of a team serving its inbox,
    // or the conversation would show up for another team.
    let conversation =
        authorize_conversation(&state, &actor, &id, Action::Assign, &context).await?;
    if let Some(assignee) = &assignee {
        let user = state
            .store
            .user(assignee)
            .await?
            .filter(|u| u.active())
            .ok_or(WebError::BadRequest("unknown or disabled user"))?;
        let serving = crate::auth::Access::conversation_facts(&state.store, &conversation)
            .await?
            .teams;
        let teams = state.store.teams_of(&user.id).await?;
        if !teams.iter().any(|t| serving.contains(t)) {
            return Err(WebError::BadRequest(
                "that user is in no team serving this conversation's inbox",
            ));
        }
    }
    // Taking from the queue only succeeds while it is still unassigned: of two agents
    // taking it at once, one wins and the other hears so.
    let taking = context.self_assign && conversation.assignee.is_none();
    let done = match (&assignee, taking) {
        (Some(me), true) => state.store.take_conversation(&id, me).await?,
        _ => {
            state
                .store
                .assign_conversation(&id, assignee.as_deref())
                .await?
        }
    };
    if !done {
        return Ok((
            StatusCode::CONFLICT,
            Json(json!({"error": "someone else took this conversation first"})),
        )
            .into_response());
    }
    state
        .store
        .audit(&actor.audit(
            "conversation.assigned",
            Some(&id),
            Some(assignee.as_deref().unwrap_or("nobody")),
        ))
        .await?;
    Ok(Json(json!({"id": id, "assignee": assignee})).into_response())
}
