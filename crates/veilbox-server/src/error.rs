//! The one web error type.
//!
//! Handlers return `Result<_, WebError>`. The response carries a short, fixed message for
//! the client; the cause (which may name tables or constraint values) goes to the log only,
//! and never includes request bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use veilbox_store::StoreError;

/// An error a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No or wrong credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// Authenticated, but the policy does not allow it (or a browser call lacked its CSRF
    /// token).
    #[error("forbidden")]
    Forbidden,
    /// Nothing there, or nothing the caller may know exists.
    #[error("not found")]
    NotFound,
    /// The request is wrong in a way the client can fix.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The database is unreachable or the writer stopped: the client should retry.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] StoreError),
    /// A bug or an unexpected failure.
    #[error("internal error: {0}")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor => WebError::BadRequest("invalid cursor"),
            StoreError::Database(_) | StoreError::WriterGone | StoreError::Sync(_) => {
                WebError::Unavailable(error)
            }
            other => WebError::Internal(other),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            WebError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            WebError::NotFound => (StatusCode::NOT_FOUND, "not found"),
            WebError::BadRequest(why) => (StatusCode::BAD_REQUEST, *why),
            WebError::Unavailable(cause) => {
                tracing::error!(error = %cause, "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable, retry later",
                )
            }
            WebError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
