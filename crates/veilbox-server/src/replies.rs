//! Replying to a customer: the 24-hour window, then the outbox.
//!
//! Every path that sends (the inbox page, the JSON API) goes through [`send_reply`], so the
//! window rule, leak prevention and blind placeholders ([`crate::dlp`]) live in one place. Meta enforces it too (error 131047), but refusing early
//! tells the agent at once and offers the templates instead.

use veilbox_store::outbox::{QueueRefusal, QueuedReply, ReplyPayload};
use veilbox_store::{now_ms, StoreError};

use crate::auth::Actor;
use crate::dlp::gate::guard;
use crate::dlp::{SendChecks, SendRefusal};
use crate::AppState;

/// The customer-service window: free-form replies only within 24 hours of the customer's
/// last message.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// What became of a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// Written to the outbox; the sender takes it from there.
    Queued(QueuedReply),
    /// Free-form text outside the 24-hour window: send a template instead.
    WindowClosed,
    /// No such conversation.
    NotFound,
    /// The customer is known only by a user id Veilbox cannot send to yet.
    NoRecipient,
    /// Nothing to send (empty text, unknown template).
    Invalid(&'static str),
    /// Refused by leak prevention, or a placeholder could not be filled.
    Refused(SendRefusal),
}

/// Whether free-form replies are allowed now, given the customer's last message time.
pub fn window_open(last_inbound_at: Option<i64>, now: i64) -> bool {
    last_inbound_at.is_some_and(|at| now - at < WINDOW_MS)
}

/// When the window closes (Unix ms), if it is open.
pub fn window_closes_at(last_inbound_at: Option<i64>, now: i64) -> Option<i64> {
    last_inbound_at
        .filter(|_| window_open(last_inbound_at, now))
        .map(|at| at + WINDOW_MS)
}

/// Queues a reply after checking it against the window and the configured templates; a
/// text reply is also checked by leak prevention as written (`checks` carries the agent's
/// confirmation or a supervisor's override) and its placeholders filled in.
pub async fn send_reply(
    state: &AppState,
    conversation_id: &str,
    actor: &Actor,
    payload: ReplyPayload,
    checks: &SendChecks,
) -> Result<ReplyOutcome, StoreError> {
    let author = actor.author();
    let Some(conversation) = state.store.conversation(conversation_id).await? else {
        return Ok(ReplyOutcome::NotFound);
    };
    let payload = match payload {
        ReplyPayload::Text {
            body,
            preview_url,
            reply_to,
        } => {
            let body = body.trim().to_owned();
            if body.is_empty() {
                return Ok(ReplyOutcome::Invalid("the reply is empty"));
            }
            if body.chars().count() > 4096 {
                return Ok(ReplyOutcome::Invalid(
                    "the reply is longer than WhatsApp's 4096 characters",
                ));
            }
            if !window_open(conversation.last_inbound_at, now_ms()) {
                return Ok(ReplyOutcome::WindowClosed);
            }
            let body = match guard(state, actor, &conversation, &body, checks).await? {
                Ok(filled) => filled,
                Err(refusal) => return Ok(ReplyOutcome::Refused(refusal)),
            };
            if body.chars().count() > 4096 {
                return Ok(ReplyOutcome::Invalid(
                    "the reply is longer than WhatsApp's 4096 characters once filled in",
                ));
            }
            ReplyPayload::Text {
                body,
                preview_url,
                reply_to,
            }
        }
        ReplyPayload::Template { name, language, .. } => {
            let Some(template) = state
                .config
                .whatsapp
                .templates
                .iter()
                .find(|t| t.name == name && t.language == language)
            else {
                return Ok(ReplyOutcome::Invalid("no such template is configured"));
            };
            ReplyPayload::Template {
                name,
                language,
                preview: template.text.clone(),
            }
        }
    };
    match state
        .store
        .queue_reply(conversation_id, author, &payload)
        .await?
    {
        Ok(queued) => {
            state.outbox.wake();
            Ok(ReplyOutcome::Queued(queued))
        }
        Err(QueueRefusal::NoConversation) => Ok(ReplyOutcome::NotFound),
        Err(QueueRefusal::NoRecipient) => Ok(ReplyOutcome::NoRecipient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_24_hours_from_the_last_customer_message() {
        let now = 1_800_000_000_000;
        assert!(window_open(Some(now - WINDOW_MS + 1), now));
        assert!(!window_open(Some(now - WINDOW_MS), now));
        assert!(!window_open(None, now));
        assert_eq!(
            window_closes_at(Some(now - 1000), now),
            Some(now - 1000 + WINDOW_MS)
        );
        assert_eq!(window_closes_at(Some(now - WINDOW_MS), now), None);
    }
}
