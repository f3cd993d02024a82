//! The stylesheet and the page script, embedded in the binary and served with a long
//! cache lifetime (their URLs carry a version, so a new build is fetched fresh).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Bump with every change to the files, so browsers fetch the new ones.
const VERSION: &str = "3";

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/assets/inbox.v3.css";
/// Where the script is served.
pub const JS_PATH: &str = "/assets/inbox.v3.js";

const CSS: &str = include_str!("../../assets/inbox.css");
const JS: &str = include_str!("../../assets/inbox.js");

/// The asset routes.
pub fn routes() -> Router<AppState> {
    debug_assert!(CSS_PATH.contains(VERSION) && JS_PATH.contains(VERSION));
    Router::new()
        .route(
            CSS_PATH,
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            JS_PATH,
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
