//! The sender: delivers queued replies to the Graph API.
//!
//! One dispatcher picks due jobs (at most one per conversation, so a conversation's
//! replies go out in order), paces them with a token bucket per business number, and sends
//! up to [`MAX_IN_FLIGHT`] at once. Outcomes follow the client's classification: retry
//! later with backoff, fail with a reason an agent understands, pause the number when the
//! token is no longer valid (instead of burning retries), or mark the send unconfirmed when
//! the request may have reached Meta, so that it is never repeated without a person.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use veilbox_store::outbox::{OutboxItem, ReplyPayload};
use veilbox_store::{now_ms, Store, StoreError};
use veilbox_whatsapp::graph::{Backoff, GraphClient, OutboundBody, OutboundMessage, SendError};

/// Sends in flight at once, across conversations.
pub const MAX_IN_FLIGHT: usize = 64;
/// Attempts before a retryable failure becomes a failure.
pub const MAX_ATTEMPTS: i64 = 6;

/// Wakes the sender when a reply was queued or a decision was made.
#[derive(Debug, Clone, Default)]
pub struct OutboxHandle {
    wake: Arc<Notify>,
}

impl OutboxHandle {
    /// Tells the sender to look for due jobs now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Sends per second per business number; `None` for no limit.
    pub rate_per_number: Option<u32>,
    /// Backoff between retries.
    pub backoff: Backoff,
}

/// Starts the sender. Jobs left in `sending` by a previous run become `unconfirmed` first.
pub async fn spawn(
    store: Store,
    graph: GraphClient,
    settings: SenderSettings,
) -> Result<(OutboxHandle, JoinHandle<()>), StoreError> {
    let interrupted = store.recover_interrupted_sends().await?;
    if interrupted > 0 {
        tracing::warn!(
            count = interrupted,
            "sends interrupted by the last shutdown are now unconfirmed"
        );
    }
    let handle = OutboxHandle::default();
    let sender = Sender {
        store,
        graph,
        settings,
        wake: Arc::clone(&handle.wake),
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        buckets: HashMap::new(),
    };
    let task = tokio::spawn(sender.run());
    Ok((handle, task))
}

struct Sender {
    store: Store,
    graph: GraphClient,
    settings: SenderSettings,
    wake: Arc<Notify>,
    in_flight: Arc<Semaphore>,
    buckets: HashMap<String, TokenBucket>,
}

impl Sender {
    async fn run(mut self) {
        loop {
            let dispatched = match self.dispatch_due().await {
                Ok(n) => n,
                Err(error) => {
                    tracing::error!(%error, "outbox: cannot read due sends");
                    0
                }
            };
            if dispatched > 0 {
                continue;
            }
            // Nothing to do: sleep until woken, the next retry is due, or a second passes
            // (another node may have queued something).
            let wait = match self.store.next_send_due().await {
                Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(0, 1000) as u64),
                _ => Duration::from_secs(1),
            };
            let _ = tokio::time::timeout(wait, self.wake.notified()).await;
        }
    }

    /// Claims and starts every due job; returns how many were started.
    async fn dispatch_due(&mut self) -> Result<usize, StoreError> {
        let due = self.store.due_sends(now_ms(), 256).await?;
        let mut started = 0;
        for item in due {
            let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
                break;
            };
            if !self.store.claim_send(&item.id).await? {
                continue;
            }
            if let Some(rate) = self.settings.rate_per_number {
                let bucket = self
                    .buckets
                    .entry(item.phone_number_id.clone())
                    .or_insert_with(|| TokenBucket::new(rate));
                bucket.take().await;
            }
            let (store, graph, backoff, wake) = (
                self.store.clone(),
                self.graph.clone(),
                self.settings.backoff,
                Arc::clone(&self.wake),
            );
            tokio::spawn(async move {
                if let Err(error) = deliver(&store, &graph, &backoff, &item).await {
                    tracing::error!(%error, outbox_id = %item.id, "outbox: cannot record a send's outcome");
                }
                drop(permit);
                // The conversation's next reply may go now.
                wake.notify_one();
            });
            started += 1;
        }
        Ok(started)
    }
}

/// Sends one job and records the outcome.
async fn deliver(
    store: &Store,
    graph: &GraphClient,
    backoff: &Backoff,
    item: &OutboxItem,
) -> Result<(), StoreError> {
    let message = outbound(item);
    match graph.send(&item.phone_number_id, &message).await {
        Ok(accepted) => store.send_accepted(item, &accepted.wa_message_id).await,
        Err(error @ SendError::Retryable { .. }) if item.attempts < MAX_ATTEMPTS => {
            let attempt = u32::try_from(item.attempts.saturating_sub(1)).unwrap_or(0);
            let delay = error.retry_delay(attempt, backoff).unwrap_or(backoff.cap);
            let next = now_ms() + delay.as_millis() as i64;
            tracing::info!(outbox_id = %item.id, code = ?error.code(), attempt = item.attempts, delay_ms = delay.as_millis() as u64, "outbox: retrying later");
            store
                .send_retry_later(item, next, error.code(), &error.to_string())
                .await
        }
        Err(error @ SendError::Retryable { .. }) => {
            let reason = format!("gave up after {} attempts: {error}", item.attempts);
            store.send_failed(item, error.code(), &reason).await
        }
        Err(SendError::Permanent { code, reason }) => store.send_failed(item, code, &reason).await,
        Err(SendError::TokenExpired { code }) => {
            tracing::error!(code, phone_number_id = %item.phone_number_id, "outbox: access token rejected; sending paused");
            store
                .pause_sending(
                    &item.phone_number_id,
                    "Meta rejected the access token (expired or invalid): replace VEILBOX_WHATSAPP_ACCESS_TOKEN and resume sending",
                )
                .await?;
            store.send_released(item).await
        }
        Err(SendError::Unconfirmed { reason }) => {
            tracing::warn!(outbox_id = %item.id, "outbox: outcome unknown, waiting for a status or a person");
            store.send_unconfirmed(item, &reason).await
        }
    }
}

/// The Graph request for a job; the outbox id travels as `biz_opaque_callback_data`.
fn outbound(item: &OutboxItem) -> OutboundMessage {
    let (body, reply_to) = match &item.payload {
        ReplyPayload::Text {
            body,
            preview_url,
            reply_to,
        } => (
            OutboundBody::Text {
                body: body.clone(),
                preview_url: *preview_url,
            },
            reply_to.clone(),
        ),
        ReplyPayload::Template { name, language, .. } => (
            OutboundBody::Template {
                name: name.clone(),
                language: language.clone(),
                components: serde_json::Value::Null,
            },
            None,
        ),
    };
    OutboundMessage {
        to: item.recipient.clone(),
        reply_to,
        callback_data: Some(item.id.clone()),
        body,
    }
}

/// Paces sends from one number: `rate` per second, bursts of at most one second's worth.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        TokenBucket {
            rate,
            tokens: rate,
            last: Instant::now(),
        }
    }

    async fn take(&mut self) {
        loop {
            let now = Instant::now();
            self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
                .min(self.rate);
            self.last = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                return;
            }
            tokio::time::sleep(Duration::from_secs_f64((1.0 - self.tokens) / self.rate)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_bucket_never_exceeds_its_rate() {
        let mut bucket = TokenBucket::new(50);
        let started = Instant::now();
        for _ in 0..100 {
            bucket.take().await;
        }
        // 50 from the initial burst, then 50 more at 50/s: at least a second.
        assert!(
            started.elapsed() >= Duration::from_millis(980),
            "{:?}",
            started.elapsed()
        );
    }
}
