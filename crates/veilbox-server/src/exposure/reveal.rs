//! Revealing one hidden value: authorised for its kind, justified, audited, counted, and
//! shown for a limited time.
//!
//! The browser (with its session and CSRF header) and API tokens use the same endpoint,
//! `POST /api/v1/conversations/{id}/reveals` with `{"ref", "reason", "note"}`. The value is
//! found again on the server from its reference, with the same hints the page was rendered
//! with; the policy decides by the value's kind; the audit log records who, which
//! reference, which kind and why (never the value); the answer says how long the value may
//! stay on screen.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use veilbox_mask::Kind;
use veilbox_policy::{Action, Context, Resource};
use veilbox_store::audit::AuditFilter;
use veilbox_store::crm::CustomerCard;
use veilbox_store::now_ms;
use veilbox_store::reads::ConversationSummary;

use super::card::MaskedCard;
use super::content::MaskedMessage;
use super::Exposure;
use crate::auth::{Access, Actor, ApiCaller};
use crate::error::WebError;
use crate::AppState;

/// The reasons a reveal may give, as (code, label). `other` needs a note.
pub const REASONS: &[(&str, &str)] = &[
    ("delivery", "Arrange or confirm a delivery with the rider"),
    (
        "customer_request",
        "The customer asked me to check their details",
    ),
    ("failed_delivery", "Resolve a failed or late delivery"),
    ("escalation", "Escalation or complaint review"),
    ("other", "Other (explain)"),
];

/// The longest free-text note.
const MAX_NOTE: usize = 200;

/// What a reveal asks for.
#[derive(Debug, Deserialize)]
pub struct RevealRequest {
    /// The reference of the hidden value, as rendered.
    #[serde(rename = "ref")]
    pub reference: String,
    /// A code from [`REASONS`].
    pub reason: String,
    /// Free text; required for `other`.
    #[serde(default)]
    pub note: String,
}

/// What a reveal answers. (No `Debug`: it holds the value.)
#[derive(Serialize)]
pub struct RevealResponse {
    /// The kind of the value.
    pub kind: String,
    /// The value.
    pub value: String,
    /// How long it may stay on screen.
    pub expires_in_seconds: u64,
}

/// The audit log's reason of a reveal: the listed label, and the note when there is one;
/// refused when the code is not listed, the note too long, or `other` has no note.
pub(crate) fn reason_text(code: &str, note: &str) -> Result<String, WebError> {
    let Some((_, label)) = REASONS.iter().find(|(listed, _)| *listed == code) else {
        return Err(WebError::BadRequest(
            "reason must be one of the listed reasons",
        ));
    };
    let note = note.trim();
    if note.chars().count() > MAX_NOTE {
        return Err(WebError::BadRequest(
            "the note is longer than 200 characters",
        ));
    }
    if code == "other" && note.is_empty() {
        return Err(WebError::BadRequest("explain the reason in the note"));
    }
    Ok(if note.is_empty() {
        (*label).to_owned()
    } else {
        format!("{label}: {note}")
    })
}

/// The exposure of one conversation for `actor`: its customer's CRM values as hints and
/// the kinds the policy lets them reveal there; and the customer's card, when there is one.
pub async fn conversation_exposure(
    state: &AppState,
    actor: &Actor,
    conversation: &ConversationSummary,
) -> Result<(Exposure, Option<CustomerCard>), WebError> {
    let card = customer_card(state, conversation).await?;
    let facts = Access::conversation_facts(&state.store, conversation).await?;
    let resource = Resource::Conversation(facts);
    // Whether a reveal of each kind would be allowed with a reason: the reason itself is
    // asked for, and checked again, when the reveal is made.
    let revealable: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|kind| !kind.is_kept())
        .filter(|kind| {
            state.access.allowed(
                actor,
                Action::Reveal,
                &resource,
                &Context {
                    kind: Some(kind.as_str().to_owned()),
                    reason: Some("(asked when revealing)".to_owned()),
                    self_assign: false,
                },
            )
        })
        .collect();
    let media = state.access.allowed(
        actor,
        Action::Reveal,
        &resource,
        &Context {
            kind: Some(crate::media::routes::MEDIA_KIND.to_owned()),
            reason: Some("(asked when revealing)".to_owned()),
            self_assign: false,
        },
    );
    let exposure = Exposure::with_reveals(state.scanner.clone(), card.as_ref(), revealable)
        .with_media_reveals(media);
    Ok((exposure, card))
}

/// The card of the conversation's customer, unless they were erased.
async fn customer_card(
    state: &AppState,
    conversation: &ConversationSummary,
) -> Result<Option<CustomerCard>, WebError> {
    if conversation.customer.erased {
        return Ok(None);
    }
    Ok(state.store.customer_card(&conversation.customer.id).await?)
}

/// `POST /api/v1/conversations/{id}/reveals`
pub async fn reveal(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<RevealRequest>,
) -> Result<Json<RevealResponse>, WebError> {
    let conversation = state
        .access
        .visible_conversation(&state.store, &actor, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let reason = reason_text(&request.reason, &request.note)?;
    // Finding the value needs the same hints as the page, not the viewer's rights: those
    // are asked once, for the value's kind, below.
    let card = customer_card(&state, &conversation).await?;
    let exposure = Exposure::masked_only(state.scanner.clone(), card.as_ref());
    let Some((kind, value)) = find_hidden(
        &state,
        &conversation,
        card.as_ref(),
        &exposure,
        &request.reference,
    )
    .await?
    else {
        // Unknown, or the text changed since it was shown (a new CRM value hides more).
        return Err(WebError::NotFound);
    };
    authorize_reveal(
        &state,
        &actor,
        &conversation,
        kind.as_str(),
        &request.reference,
        &reason,
    )
    .await?;
    Ok(Json(RevealResponse {
        kind: kind.as_str().to_owned(),
        value,
        expires_in_seconds: state.config.masking.reveal_for.as_secs(),
    }))
}

/// Asks the policy whether `actor` may reveal a value of `kind` in `conversation` for
/// `reason`, and writes the answer to the audit log (`reveal` or `reveal.denied`, target
/// `<conversation> <reference> <KIND>`, never the value); a reveal counts towards the
/// hourly alert. The one gate of value and media reveals.
pub(crate) async fn authorize_reveal(
    state: &AppState,
    actor: &Actor,
    conversation: &ConversationSummary,
    kind: &str,
    reference: &str,
    reason: &str,
) -> Result<(), WebError> {
    let context = Context {
        kind: Some(kind.to_owned()),
        reason: Some(reason.to_owned()),
        self_assign: false,
    };
    let allowed = state
        .access
        .allowed_on_conversation(&state.store, actor, Action::Reveal, conversation, &context)
        .await?;
    let target = format!("{} {reference} {kind}", conversation.id);
    let action = if allowed { "reveal" } else { "reveal.denied" };
    state
        .store
        .audit(&actor.audit(action, Some(&target), Some(reason)))
        .await?;
    if !allowed {
        return Err(WebError::Forbidden);
    }
    alert_on_many_reveals(state, actor).await
}

/// The hidden value a reference names, if it still names one.
async fn find_hidden(
    state: &AppState,
    conversation: &ConversationSummary,
    card: Option<&CustomerCard>,
    exposure: &Exposure,
    reference: &str,
) -> Result<Option<(Kind, String)>, WebError> {
    let Some((base, n)) = reference.rsplit_once('/') else {
        return Ok(None);
    };
    let Ok(n) = n.parse::<usize>() else {
        return Ok(None);
    };
    let mut parts = base.splitn(3, '/');
    let (Some(scope), Some(id), Some(field)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    match scope {
        "m" => {
            let Some(message) = state.store.message(&conversation.id, id).await? else {
                return Ok(None);
            };
            let masked = MaskedMessage::of(&message, exposure);
            Ok(masked.hidden(field, n).map(|(k, v)| (k, v.to_owned())))
        }
        // The card of this conversation's customer only; their shipments only.
        "c" | "s" => {
            let Some(card) = card else { return Ok(None) };
            let belongs = match scope {
                "c" => card.id == id,
                _ => card.shipments.iter().any(|s| s.id == id),
            };
            if !belongs {
                return Ok(None);
            }
            Ok(MaskedCard::of(card, exposure).hidden(base, n))
        }
        _ => Ok(None),
    }
}

/// Tells the supervisors when one person reveals more than the configured number of
/// values within an hour: once, as the threshold is crossed.
async fn alert_on_many_reveals(state: &AppState, actor: &Actor) -> Result<(), WebError> {
    let threshold = state.config.masking.reveal_alert_per_hour;
    let hour_ago = now_ms() - 3_600_000;
    let filter = AuditFilter {
        actor: Some(actor.id.clone()),
        action_prefix: Some("reveal".to_owned()),
        from: Some(hour_ago),
        ..AuditFilter::default()
    };
    let rows = state
        .store
        .audit_rows(&filter, 3 * i64::from(threshold) + 10)
        .await?;
    let reveals = rows.iter().filter(|r| r.action == "reveal").count();
    if reveals == threshold as usize + 1 {
        state
            .store
            .raise_alert(
                "reveal_rate",
                Some(&actor.id),
                &format!("revealed more than {threshold} values within an hour"),
            )
            .await?;
    }
    Ok(())
}

/// The open reveal alerts, as "<name> revealed more than N values within an hour", for
/// those who watch over agents: supervisors (about their teams' people) and auditors.
pub async fn reveal_alerts(
    state: &AppState,
    actor: &Actor,
    names: &crate::inbox::pages::StaffNames,
) -> Result<Vec<String>, WebError> {
    if !state.access.allowed_system(actor, Action::ViewAnalytics) {
        return Ok(Vec::new());
    }
    let mine = &actor.principal.teams;
    let mut shown = Vec::new();
    for (kind, subject, detail, _) in state.store.open_alerts().await? {
        let Some(subject) = subject.filter(|_| kind == "reveal_rate") else {
            continue;
        };
        // A supervisor hears about the people of their own teams; those who watch without
        // a team (auditors) about everyone.
        let theirs = state.store.teams_of(&subject).await?;
        if mine.is_empty() || theirs.iter().any(|team| mine.contains(team)) {
            shown.push(format!("{} {detail}", names.of(&subject)));
        }
    }
    Ok(shown)
}
