//! Erasure requests (right to be forgotten), carried out by an admin. The admin finds the
//! customer by the number or customer id the request names, sees only what proves it is
//! the right record (first seen, how many conversations), and erases with a reason. The
//! store destroys the customer's data key; the audit log records who, when and why.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_policy::{Action, Context, CustomerFacts, Resource};
use veilbox_store::erasure::ErasureSubject;

use crate::auth::{Refused, SignedIn};
use crate::erasure::{erase_customer, EraseError};
use crate::layout::{flash_markup, html_response, page};
use crate::staff::By;
use crate::AppState;

const TITLE: &str = "Veilbox · Erasure";

/// May this user erase customers at all (the page and its menu entry)?
pub fn may_erase(state: &AppState, user: &SignedIn) -> bool {
    may_erase_with(state, user, "a reason")
}

fn may_erase_with(state: &AppState, user: &SignedIn, reason: &str) -> bool {
    state.access.allowed(
        &user.actor,
        Action::EraseCustomer,
        // Erasure does not depend on which teams serve the customer: any will do.
        &Resource::Customer(CustomerFacts {
            id: String::new(),
            teams: Vec::new(),
            assignees: Vec::new(),
        }),
        &Context {
            reason: Some(reason.to_owned()),
            ..Context::default()
        },
    )
}

fn require(state: &AppState, user: &SignedIn) -> Result<(), Refused> {
    if may_erase(state, user) {
        Ok(())
    } else {
        Err(Refused::Forbidden)
    }
}

async fn erasure_page(
    state: &AppState,
    user: &SignedIn,
    query: &str,
    found: Option<Result<ErasureSubject, &str>>,
    status: StatusCode,
) -> Result<Response, Refused> {
    let flash = user.take_flash(state).await;
    let content = html! {
        main.admin {
            (flash_markup(flash.as_ref()))
            h1 { "Erase a customer" }
            p {
                "Erasure destroys the customer's encryption key: their messages, name, numbers, "
                "addresses, notes and shipments can never be read again, in this database or in "
                "any backup. Their conversations stay as records of an \u{201c}erased customer\u{201d}. "
                "This cannot be undone."
            }
            form.stack method="post" action="/admin/erasure/find" {
                input type="hidden" name="csrf" value=(user.csrf);
                label { "The customer's full WhatsApp number (with country code) or customer id"
                    input type="text" name="query" value=(query) autocomplete="off" required; }
                p.hint { "Only exact matches: numbers are stored as keyed hashes, so partial search is not possible." }
                button type="submit" { "Find" }
            }
            @if let Some(found) = found { (subject(user, found)) }
        }
    };
    Ok((
        status,
        html_response(page(state, TITLE, "", Some(user), content)),
    )
        .into_response())
}

fn subject(user: &SignedIn, found: Result<ErasureSubject, &str>) -> Markup {
    match found {
        Err(message) => html! { div.flash.error role="alert" { p { (message) } } },
        Ok(s) if s.erased_at.is_some() => html! {
            section.subject { p { "Customer " code { (s.id) } " was already erased." } }
        },
        Ok(s) => html! {
            section.subject {
                h2 { "Customer " code { (s.id) } }
                p { "First seen " (crate::inbox::pages::iso(s.created_at)) "; " (s.conversations) " conversation(s)." }
                form.stack method="post" action=(format!("/admin/erasure/{}", s.id)) {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Reason (recorded in the audit log, e.g. the request's reference)"
                        input type="text" name="reason" minlength="8" maxlength="500" required; }
                    label.check { input type="checkbox" name="confirm" value="yes" required; " I understand this cannot be undone." }
                    button.danger type="submit" { "Erase this customer" }
                }
            }
        },
    }
}

/// `GET /admin/erasure`
pub async fn show(State(state): State<AppState>, user: SignedIn) -> Result<Response, Refused> {
    require(&state, &user)?;
    erasure_page(&state, &user, "", None, StatusCode::OK).await
}

/// The search form.
#[derive(Debug, Deserialize)]
pub struct FindFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    query: String,
}

/// `POST /admin/erasure/find`: a POST so the number never sits in a URL or a log.
pub async fn find(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<FindFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    require(&state, &user)?;
    let found = state.store.erasure_subject(&fields.query).await?;
    let (found, status) = match found {
        Some(s) => (Ok(s), StatusCode::OK),
        None => (
            Err("No customer has that number or id. Check the country code: the number must be complete."),
            StatusCode::NOT_FOUND,
        ),
    };
    erasure_page(&state, &user, &fields.query, Some(found), status).await
}

/// The erasure form.
#[derive(Debug, Deserialize)]
pub struct EraseFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/erasure/{id}`
pub async fn erase(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<EraseFields>,
) -> Result<Response, Refused> {
    user.check_csrf(&fields.csrf)?;
    require(&state, &user)?;
    if fields.confirm != "yes" || !may_erase_with(&state, &user, fields.reason.trim()) {
        user.flash(
            &state,
            "error",
            "Nothing was erased: give a reason and confirm.".to_owned(),
        )
        .await;
        return Ok(Redirect::to("/admin/erasure").into_response());
    }
    let by = By {
        actor: &user.actor.id,
        address: user.actor.address.as_deref(),
        user_agent: user.actor.user_agent.as_deref(),
    };
    let message = match erase_customer(&state.store, &id, &fields.reason, by).await {
        Ok(report) => (
            "ok",
            format!(
                "Customer {id} erased: key destroyed, {} messages cleared, {} queued replies cancelled.",
                report.messages, report.sends_cancelled
            ),
        ),
        Err(EraseError::Store(error)) => return Err(error.into()),
        Err(refused) => ("error", format!("Nothing was erased: {refused}.")),
    };
    user.flash(&state, message.0, message.1).await;
    Ok(Redirect::to("/admin/erasure").into_response())
}
