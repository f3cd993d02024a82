//! The JSON API: `GET /api/v1/quick-replies` (the caller's teams' quick replies) and, for
//! those who manage them, `POST /api/v1/quick-replies`, `PUT` and `DELETE
//! /api/v1/quick-replies/{id}`. A refused text is a 422 saying why.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use veilbox_store::quick_replies::QuickReply;

use super::manage::{self, ManageError};
use crate::auth::ApiCaller;
use crate::error::WebError;
use crate::AppState;

/// A quick reply as the API shows it: company text with placeholders, no customer data.
#[derive(Debug, Serialize)]
pub struct QuickReplyJson {
    id: String,
    team_id: String,
    title: String,
    body: String,
    created_by: String,
    updated_at: String,
}

impl From<QuickReply> for QuickReplyJson {
    fn from(q: QuickReply) -> Self {
        QuickReplyJson {
            id: q.id,
            team_id: q.team_id,
            title: q.title,
            body: q.body,
            created_by: q.created_by,
            updated_at: crate::inbox::pages::iso(q.updated_at),
        }
    }
}

/// `POST` body.
#[derive(Debug, Deserialize)]
pub struct NewQuickReply {
    team_id: String,
    title: String,
    body: String,
}

/// `PUT` body.
#[derive(Debug, Deserialize)]
pub struct QuickReplyText {
    title: String,
    body: String,
}

fn answer(error: ManageError) -> Response {
    match error {
        ManageError::NotFound => WebError::NotFound.into_response(),
        ManageError::Forbidden => WebError::Forbidden.into_response(),
        ManageError::Refused(refusal) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": refusal.to_string() })),
        )
            .into_response(),
        ManageError::Store(error) => WebError::from(error).into_response(),
    }
}

/// `GET /api/v1/quick-replies`
pub async fn list(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Vec<QuickReplyJson>>, WebError> {
    let all = manage::visible(&state, &actor).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// `POST /api/v1/quick-replies`
pub async fn create(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Json(new): Json<NewQuickReply>,
) -> Response {
    match manage::create(&state, &actor, &new.team_id, &new.title, &new.body).await {
        Ok(created) => (StatusCode::CREATED, Json(QuickReplyJson::from(created))).into_response(),
        Err(error) => answer(error),
    }
}

/// `PUT /api/v1/quick-replies/{id}`
pub async fn update(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(text): Json<QuickReplyText>,
) -> Response {
    match manage::update(&state, &actor, &id, &text.title, &text.body).await {
        Ok(changed) => Json(QuickReplyJson::from(changed)).into_response(),
        Err(error) => answer(error),
    }
}

/// `DELETE /api/v1/quick-replies/{id}`
pub async fn delete(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    match manage::delete(&state, &actor, &id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => answer(error),
    }
}
