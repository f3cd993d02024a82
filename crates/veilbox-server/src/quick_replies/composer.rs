//! Quick replies in the composer: a picker listing the titles of the conversation's team
//! quick replies. With JavaScript, "Insert" puts the body (placeholders included) into the
//! reply box to edit before sending; without it, the form posts the quick reply's id and
//! it is sent as the reply through the same path as a typed one (window, leak prevention,
//! placeholders filled in by the server, audit). The page carries placeholders only.

use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_policy::{Action, Context};
use veilbox_store::outbox::ReplyPayload;
use veilbox_store::quick_replies::QuickReply;

use super::manage;
use crate::api::authorize_conversation;
use crate::auth::SignedIn;
use crate::dlp::SendChecks;
use crate::inbox::actions::{flash_outcome, ActionError};
use crate::inbox::ListQuery;
use crate::replies::send_reply;
use crate::AppState;

/// The picker under the reply box; nothing when the conversation's teams have none.
pub fn picker(user: &SignedIn, offered: &[QuickReply], action: &str) -> Markup {
    html! {
        @if !offered.is_empty() {
            form.quick-replies method="post" action=(action) {
                input type="hidden" name="csrf" value=(user.csrf);
                label for="quick-reply" { "Quick reply " }
                select #quick-reply name="quick_reply" required {
                    @for q in offered {
                        option value=(q.id) data-body=(q.body) title=(q.body) { (q.title) }
                    }
                }
                // Shown by the page script, which inserts instead of sending.
                button.quick-insert type="button" hidden { "Insert into reply" }
                label.quick-confirm {
                    input type="checkbox" name="confirm_warnings" value="true";
                    " Send even if it repeats this customer's own details"
                }
                button.quick-send type="submit" { "Send quick reply" }
            }
        }
    }
}

/// The picker's form.
#[derive(Debug, Deserialize)]
pub struct QuickReplyFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    quick_reply: String,
    #[serde(default)]
    confirm_warnings: Option<String>,
}

/// `POST /inbox/c/{id}/quick-reply`: sends a quick reply as the reply.
pub async fn send(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    Form(form): Form<QuickReplyFields>,
) -> Result<Redirect, ActionError> {
    user.check_csrf(&form.csrf)?;
    let conversation =
        authorize_conversation(&state, &user.actor, &id, Action::Reply, &Context::default())
            .await?;
    let back = Redirect::to(&format!("/inbox/c/{id}?{}", query.view().query()));
    // Only a quick reply this conversation offers: another team's is not the sender's.
    let offered = manage::for_conversation(&state, &user.actor, &conversation).await?;
    let Some(quick) = offered.into_iter().find(|q| q.id == form.quick_reply) else {
        user.flash(
            &state,
            "error",
            "Not sent: pick one of this conversation's quick replies.",
        )
        .await;
        return Ok(back);
    };
    let payload = ReplyPayload::Text {
        body: quick.body,
        preview_url: false,
        reply_to: None,
    };
    let checks = SendChecks {
        confirm_warnings: form
            .confirm_warnings
            .as_deref()
            .is_some_and(|v| !matches!(v, "" | "false" | "0" | "off")),
        ..SendChecks::default()
    };
    let outcome = send_reply(&state, &id, &user.actor, payload, &checks).await?;
    flash_outcome(&state, &user, &outcome).await?;
    Ok(back)
}
