//! The frame of every page: head, the top bar with what the signed-in user may open, and
//! the security headers that every HTML response carries.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use veilbox_policy::Action;

use crate::auth::{Flash, SignedIn};
use crate::inbox::assets::{CSS_PATH, JS_PATH};
use crate::AppState;

/// The Content-Security-Policy of every page: nothing inline, nothing foreign.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

/// A page: `title` carries no customer data, ever.
pub fn page(
    state: &AppState,
    title: &str,
    body_class: &str,
    signed_in: Option<&SignedIn>,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                link rel="stylesheet" href=(CSS_PATH);
                script type="module" src=(JS_PATH) {}
            }
            body class=(body_class) {
                header.top {
                    a.brand href="/" { "Veilbox" }
                    @if let Some(user) = signed_in {
                        nav.sections aria-label="Sections" {
                            @for (href, label) in sections(state, user) {
                                a href=(href) { (label) }
                            }
                        }
                        span.who { (user.user.display_name) " · " (user.user.role) }
                        a href="/account" { "Account" }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                (content)
            }
        }
    }
}

/// The sections the user's role opens, in the order of the top bar.
pub fn sections(state: &AppState, user: &SignedIn) -> Vec<(&'static str, &'static str)> {
    let mut links = Vec::new();
    // The inbox is for roles that work conversations (auditors and admins do not); the
    // list itself is filtered row by row.
    if !user.may(state, Action::ViewAuditLog) && !user.may(state, Action::ManageUsers) {
        links.push(("/inbox", "Inbox"));
    }
    if crate::customers::may_search(state, user) {
        links.push(("/customers", "Customers"));
    }
    if user.may(state, Action::ManageUsers) {
        links.push(("/admin/users", "Users"));
    }
    if user.may(state, Action::ManageTokens) {
        links.push(("/admin/tokens", "API tokens"));
    }
    if user.may(state, Action::ManagePolicies) {
        links.push(("/admin/roles", "Roles"));
    }
    if crate::admin::erasure::may_erase(state, user) {
        links.push(("/admin/erasure", "Erasure"));
    }
    // After the admin sections, so an admin still lands on Users.
    if crate::quick_replies::manage::Scope::of(state, &user.actor).any() {
        links.push(("/quick-replies", "Quick replies"));
    }
    if user.may(state, Action::ViewAuditLog) {
        links.push(("/audit", "Audit log"));
    }
    links
}

/// Where a user lands after signing in: the first section their role opens.
pub fn home(state: &AppState, user: &SignedIn) -> &'static str {
    sections(state, user)
        .first()
        .map_or("/account", |(href, _)| href)
}

/// An HTML response.
pub fn html_response(markup: Markup) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// A flash notice, if any.
pub fn flash_markup(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(flash) = flash {
            p class={ "flash " (flash.level) } role="status" { (flash.text) }
        }
    }
}

/// Security headers of every page, fragment and form answer; nothing may be cached.
pub async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}
