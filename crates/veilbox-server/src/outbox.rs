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

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinHandle;
use veilbox_store::outbox::{OutboxItem, ReplyPayload, SendOutcome};
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
    let (outcomes, outcome_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(store.clone(), outcome_rx, Arc::clone(&handle.wake)));
    let sender = Sender {
        store,
        graph,
        settings,
        wake: Arc::clone(&handle.wake),
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        buckets: HashMap::new(),
        outcomes,
    };
    let task = tokio::spawn(async move {
        sender.run().await;
        let _ = recorder.await;
    });
    Ok((handle, task))
}

struct Sender {
    store: Store,
    graph: GraphClient,
    settings: SenderSettings,
    wake: Arc<Notify>,
    in_flight: Arc<Semaphore>,
    buckets: HashMap<String, TokenBucket>,
    outcomes: mpsc::UnboundedSender<(OutboxItem, SendOutcome)>,
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
        let ids: Vec<&str> = due.iter().map(|item| item.id.as_str()).collect();
        let claimed: std::collections::HashSet<String> =
            self.store.claim_sends(&ids).await?.into_iter().collect();
        let mut started = 0;
        for item in due.into_iter().filter(|item| claimed.contains(&item.id)) {
            let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
                break;
            };
            if let Some(rate) = self.settings.rate_per_number {
                let bucket = self
                    .buckets
                    .entry(item.phone_number_id.clone())
                    .or_insert_with(|| TokenBucket::new(rate));
                bucket.take().await;
            }
            let (store, graph, backoff, outcomes) = (
                self.store.clone(),
                self.graph.clone(),
                self.settings.backoff,
                self.outcomes.clone(),
            );
            tokio::spawn(async move {
                let outcome = deliver(&store, &graph, &backoff, &item).await;
                drop(permit);
                let _ = outcomes.send((item, outcome));
            });
            started += 1;
        }
        Ok(started)
    }
}

/// Writes outcomes as they come, many per transaction, then lets the dispatcher look for
/// the conversations' next replies.
async fn record(
    store: Store,
    mut outcomes: mpsc::UnboundedReceiver<(OutboxItem, SendOutcome)>,
    wake: Arc<Notify>,
) {
    let mut batch = Vec::new();
    while outcomes.recv_many(&mut batch, 512).await > 0 {
        // A failed write is retried: the sends happened and their outcome must be kept.
        let mut delay = Duration::from_millis(100);
        while let Err(error) = store.record_send_outcomes(&batch).await {
            tracing::error!(%error, count = batch.len(), "outbox: cannot record send outcomes; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
        batch.clear();
        wake.notify_one();
    }
}

/// Sends one job and decides its outcome.
async fn deliver(
    store: &Store,
    graph: &GraphClient,
    backoff: &Backoff,
    item: &OutboxItem,
) -> SendOutcome {
    let message = outbound(item);
    match graph.send(&item.phone_number_id, &message).await {
        Ok(accepted) => SendOutcome::Accepted {
            wa_message_id: accepted.wa_message_id,
        },
        Err(error @ SendError::Retryable { .. }) if item.attempts < MAX_ATTEMPTS => {
            let attempt = u32::try_from(item.attempts.saturating_sub(1)).unwrap_or(0);
            let delay = error.retry_delay(attempt, backoff).unwrap_or(backoff.cap);
            tracing::info!(outbox_id = %item.id, code = ?error.code(), attempt = item.attempts, delay_ms = delay.as_millis() as u64, "outbox: retrying later");
            SendOutcome::RetryLater {
                at: now_ms() + delay.as_millis() as i64,
                code: error.code(),
                reason: error.to_string(),
            }
        }
        Err(error @ SendError::Retryable { .. }) => SendOutcome::Failed {
            code: error.code(),
            reason: format!("gave up after {} attempts: {error}", item.attempts),
        },
        Err(SendError::Permanent { code, reason }) => SendOutcome::Failed { code, reason },
        Err(SendError::TokenExpired { code }) => {
            tracing::error!(code, phone_number_id = %item.phone_number_id, "outbox: access token rejected; sending paused");
            let paused = store
                .pause_sending(
                    &item.phone_number_id,
                    "Meta rejected the access token (expired or invalid): replace VEILBOX_WHATSAPP_ACCESS_TOKEN and resume sending",
                )
                .await;
            if let Err(error) = paused {
                tracing::error!(%error, "outbox: cannot record the pause");
            }
            SendOutcome::Released
        }
        Err(SendError::Unconfirmed { reason }) => {
            tracing::warn!(outbox_id = %item.id, "outbox: outcome unknown, waiting for a status or a person");
            SendOutcome::Unconfirmed { reason }
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

/// Paces sends from one number: one every `1/rate` seconds, no bursts, so that no
/// one-second window ever holds more than `rate` sends (Meta counts per second).
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
            tokens: 1.0,
            last: Instant::now(),
        }
    }

    async fn take(&mut self) {
        loop {
            let now = Instant::now();
            self.tokens =
                (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(1.0);
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
        let mut bucket = TokenBucket::new(100);
        let started = Instant::now();
        for _ in 0..21 {
            bucket.take().await;
        }
        // One at once, then one every 10 ms: 21 sends take at least 200 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(195),
            "{:?}",
            started.elapsed()
        );
    }
}
