//! The media fetcher: downloads inbound media from the Graph API and stores it sealed.
//!
//! Like the reply sender it works from a table, not from memory: ingest queues one row per
//! media message in the same transaction as the message, the fetcher claims due rows, and
//! a restart puts rows it had claimed back in the queue (a download changes nothing at
//! Meta, so doing one twice is harmless). At most [`MAX_IN_FLIGHT`] downloads run at once,
//! so a burst of photos never starves webhook acknowledgements or page loads. Failures are
//! retried with backoff up to [`MAX_ATTEMPTS`] times, then recorded with a reason the
//! thread shows ("could not be fetched: ..."), never silently dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use veilbox_store::media::{MediaJob, MediaOutcome};
use veilbox_store::{now_ms, Store, StoreError};
use veilbox_whatsapp::graph::{Backoff, GraphClient, SendError};
use veilbox_whatsapp::webhook::MessageContent;

use super::{accepted, essence, preview, previewed};

/// Downloads at once.
pub const MAX_IN_FLIGHT: usize = 4;
/// Attempts before a fetch is given up.
pub const MAX_ATTEMPTS: i64 = 5;

/// How the fetcher behaves.
#[derive(Debug, Clone, Copy)]
pub struct FetcherSettings {
    /// Backoff between attempts.
    pub backoff: Backoff,
    /// The largest file kept.
    pub max_bytes: usize,
}

/// Starts the fetcher. Rows claimed by a previous run go back to the queue first.
pub async fn spawn(
    store: Store,
    graph: GraphClient,
    settings: FetcherSettings,
) -> Result<JoinHandle<()>, StoreError> {
    let interrupted = store.recover_interrupted_media().await?;
    if interrupted > 0 {
        tracing::info!(
            count = interrupted,
            "media fetches interrupted by the last shutdown are queued again"
        );
    }
    Ok(tokio::spawn(run(store, graph, settings)))
}

async fn run(store: Store, graph: GraphClient, settings: FetcherSettings) {
    let mut events = store.events().subscribe();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let started = match dispatch_due(&store, &graph, settings, &in_flight).await {
            Ok(n) => n,
            Err(error) => {
                tracing::error!(%error, "media: cannot read due fetches");
                0
            }
        };
        if started > 0 {
            continue;
        }
        // Nothing due: wait for a new message, the next retry, or a second (another node
        // may have queued something).
        let wait = match store.next_media_due().await {
            Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(0, 1000) as u64),
            _ => Duration::from_secs(1),
        };
        let _ = tokio::time::timeout(wait, events.recv()).await;
    }
}

/// Claims and starts every due fetch there is room for; returns how many were started.
async fn dispatch_due(
    store: &Store,
    graph: &GraphClient,
    settings: FetcherSettings,
    in_flight: &Arc<Semaphore>,
) -> Result<usize, StoreError> {
    let due = store.due_media(now_ms(), 64).await?;
    let mut started = 0;
    for job in due {
        // Waiting for a permit here is the bound: claimed rows are started at once.
        let Ok(permit) = Arc::clone(in_flight).acquire_owned().await else {
            break;
        };
        if !store.claim_media(&job.message_id).await? {
            continue;
        }
        let job = MediaJob {
            attempts: job.attempts + 1,
            ..job
        };
        let (store, graph) = (store.clone(), graph.clone());
        tokio::spawn(async move {
            let outcome = fetch(&store, &graph, settings, &job).await;
            record(&store, &job, outcome).await;
            drop(permit);
        });
        started += 1;
    }
    Ok(started)
}

/// Writes an outcome; a failed write is retried, since the download happened.
async fn record(store: &Store, job: &MediaJob, outcome: MediaOutcome) {
    let what = match &outcome {
        MediaOutcome::Stored { .. } => "stored",
        MediaOutcome::RetryLater { .. } => "retry",
        MediaOutcome::Failed { .. } => "failed",
    };
    tracing::info!(message = %job.message_id, attempt = job.attempts, outcome = what, "media fetch");
    let mut delay = Duration::from_millis(100);
    for _ in 0..8 {
        match store.record_media(&job.message_id, &outcome).await {
            Ok(()) => return,
            Err(error) => {
                tracing::error!(%error, message = %job.message_id, "media: cannot record a fetch; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
    // Left `fetching`: the next start queues it again.
}

/// One attempt: metadata, checks, download, preview.
async fn fetch(
    store: &Store,
    graph: &GraphClient,
    settings: FetcherSettings,
    job: &MediaJob,
) -> MediaOutcome {
    let message = match store.message(&job.conversation_id, &job.message_id).await {
        Ok(Some(message)) => message,
        Ok(None) => return failed("the message is gone"),
        Err(error) => {
            // The reason is shown in the thread: people get a sentence, the log the cause.
            tracing::warn!(%error, message = %job.message_id, "media: cannot read the message");
            return retry(job, &settings, "the database did not answer".to_owned());
        }
    };
    let Ok(MessageContent::Media {
        media_type,
        media_id: Some(media_id),
        mime_type: declared,
        ..
    }) = serde_json::from_value::<MessageContent>(message.content)
    else {
        // Erased, unreadable, or not media after all.
        return failed("the message holds no media to fetch");
    };
    let info = match graph.media(&media_id).await {
        Ok(info) => info,
        Err(error) => return from_graph(job, &settings, &error, "Meta did not give the media"),
    };
    if info
        .file_size
        .is_some_and(|size| size > settings.max_bytes as u64)
    {
        return too_large(&settings);
    }
    let mime = essence(
        info.mime_type
            .as_deref()
            .or(declared.as_deref())
            .unwrap_or(""),
    );
    if !accepted(&media_type, &mime) {
        return failed(&format!("files of type {mime:?} are not kept"));
    }
    let bytes = match graph.download_at_most(&info, settings.max_bytes).await {
        Ok(bytes) => bytes,
        // An expired URL (or a hiccup): the next attempt asks Meta for a fresh one.
        Err(error) => return from_graph(job, &settings, &error, "the download failed"),
    };
    if bytes.len() > settings.max_bytes {
        return too_large(&settings);
    }
    let bytes = bytes.to_vec();
    let preview = if previewed(&mime) {
        // Decoding a large photo takes tens of milliseconds of CPU: not on the runtime.
        let copy = bytes.clone();
        tokio::task::spawn_blocking(move || preview::blurred_preview(&copy))
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    if previewed(&mime) && preview.is_none() {
        return failed("the image does not decode as its type says");
    }
    MediaOutcome::Stored {
        mime_type: mime,
        bytes,
        preview,
    }
}

fn failed(reason: &str) -> MediaOutcome {
    MediaOutcome::Failed {
        reason: reason.to_owned(),
    }
}

fn too_large(settings: &FetcherSettings) -> MediaOutcome {
    failed(&format!(
        "the file is larger than {} MiB",
        settings.max_bytes / (1024 * 1024)
    ))
}

/// Again later, unless this was the last attempt.
fn retry(job: &MediaJob, settings: &FetcherSettings, reason: String) -> MediaOutcome {
    if job.attempts >= MAX_ATTEMPTS {
        return MediaOutcome::Failed {
            reason: format!("gave up after {} attempts: {reason}", job.attempts),
        };
    }
    let attempt = u32::try_from(job.attempts.saturating_sub(1)).unwrap_or(0);
    let delay = settings.backoff.delay(attempt);
    MediaOutcome::RetryLater {
        at: now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
        reason,
    }
}

/// An error of the Graph client, as an outcome. Reasons from the client are redacted.
fn from_graph(
    job: &MediaJob,
    settings: &FetcherSettings,
    error: &SendError,
    what: &str,
) -> MediaOutcome {
    match error {
        // Meta answers a media id it no longer has (7 days) with a parameter error.
        SendError::Permanent {
            code: Some(100), ..
        } => failed("Meta no longer has this media (it keeps media for 7 days)"),
        SendError::Permanent { reason, .. } if reason.starts_with("media is larger") => {
            too_large(settings)
        }
        // Everything else may pass: a token being replaced, an expired URL, an outage.
        other => retry(job, settings, format!("{what}: {other}")),
    }
}
