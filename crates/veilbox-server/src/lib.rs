//! The Veilbox server: HTTP routes, configuration and the commands of the `veilbox` binary.
//!
//! [`launch`] takes a bound listener and a shutdown future, so tests and benchmarks run the
//! real server on port 0.

pub mod account;
pub mod admin;
pub mod api;
pub mod api_crm;
pub mod api_people;
pub mod audit_view;
pub mod auth;
pub mod bench;
pub mod config;
pub mod customers;
pub mod demo;
pub mod dlp;
pub mod erasure;
pub mod error;
pub mod exposure;
pub mod import;
pub mod inbox;
pub mod keyring;
pub mod layout;
pub mod media;
pub mod outbox;
pub mod quick_replies;
pub mod replay;
pub mod replies;
pub mod staff;
pub mod telemetry;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use veilbox_store::ingest::Ingestor;
use veilbox_store::Store;

use crate::config::Config;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The webhook writer.
    pub ingestor: Ingestor,
    /// The configuration.
    pub config: Arc<Config>,
    /// Wakes the reply sender.
    pub outbox: outbox::OutboxHandle,
    /// The one authorizer.
    pub access: auth::Access,
    /// The master key's data keys (staff secrets now, customers with the CRM).
    pub keys: keyring::KeyRing,
    /// The masking engine, built once from the configured tracking formats.
    pub scanner: Arc<veilbox_mask::Scanner>,
}

/// Builds the router: the webhook, the JSON API and health, sign-in and account pages,
/// the inbox, admin pages and the audit log.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .merge(account::routes())
        .merge(admin::routes())
        .merge(inbox::routes())
        .merge(customers::routes())
        .merge(media::routes::page_routes())
        .merge(quick_replies::routes())
        .route("/audit", axum::routing::get(audit_view::audit_page))
        .route("/audit.csv", axum::routing::get(audit_view::audit_csv))
        .layer(axum::middleware::map_response(layout::page_headers));
    Router::new()
        .merge(webhook::routes())
        .merge(api::routes())
        .merge(media::routes::api_routes())
        .merge(pages)
        .merge(inbox::assets::routes())
        .fallback(not_found)
        .with_state(state)
}

/// Any other path: a plain 404 with the pages' security headers (nothing to cache, frame
/// or sniff).
async fn not_found() -> axum::response::Response {
    use axum::response::IntoResponse;
    let response = (
        axum::http::StatusCode::NOT_FOUND,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        "Not found.",
    )
        .into_response();
    layout::page_headers(response).await
}

/// Opens the store, applies migrations and creates the configured inboxes.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    use anyhow::Context;
    let store = Store::connect(&config.database_url)
        .await
        .context("opening the database")?;
    store.migrate().await.context("applying migrations")?;
    for inbox in &config.whatsapp.inboxes {
        store
            .ensure_inbox(&inbox.phone_number_id, &inbox.name)
            .await
            .context("creating a configured inbox")?;
    }
    Ok(store)
}

/// How long a shutdown waits for open requests (live streams) before closing them.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs Veilbox on `listener` until `shutdown` completes, then drains the webhook writer:
/// every delivery that was acknowledged is already committed, and in-flight ones finish.
pub async fn launch(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Callers may pass a store they unlocked already; otherwise the configured master key
    // unlocks it here, before anything can write customer data.
    let store = match store.keyring() {
        Ok(_) => store,
        Err(_) => keyring::unlock(&config, store).await?,
    };
    let scanner = veilbox_mask::Scanner::new(veilbox_mask::ScannerConfig {
        tracking_formats: config.masking.tracking_formats.clone(),
        ..veilbox_mask::ScannerConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("VEILBOX_TRACKING_FORMATS: {e}"))?;
    let (ingestor, writer) = Ingestor::spawn(store.clone(), config.whatsapp.auto_inbox);
    // Bodies an earlier version could not normalise get a try with this one.
    let retry = ingestor.clone();
    tokio::spawn(async move {
        match retry.reprocess_quarantined(1000).await {
            Ok(report) if report.tried > 0 => tracing::info!(
                tried = report.tried,
                normalised = report.normalised,
                still_quarantined = report.still_quarantined,
                "quarantined webhook events normalised again at start"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not re-run quarantined webhook events"),
        }
    });
    let (outbox, sender) = start_sender(&config, &store).await?;
    let fetcher = start_media_fetcher(&config, &store).await?;
    let access = auth::Access::load(&store).await?;
    let keys = store.keyring()?.clone();
    let policy_watch = tokio::spawn(watch_custom_roles(store.clone(), access.clone()));
    let purge = tokio::spawn(veilbox_store::retention::run_daily(
        store.clone(),
        config.retention,
    ));
    let state = AppState {
        store: store.clone(),
        ingestor,
        config: Arc::new(config),
        outbox,
        access,
        keys,
        scanner: Arc::new(scanner),
    };
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let (closing, mut closed) = tokio::sync::watch::channel(false);
    // Responses go out at once: without TCP_NODELAY a response written in two parts can
    // wait for the client's delayed ACK (tens of milliseconds).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = closing.send(true);
    });
    // Live streams never end on their own: after the grace period, stop waiting for them.
    let grace = async move {
        let _ = closed.wait_for(|closing| *closing).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = serving => served?,
        () = grace => tracing::warn!("connections still open after the shutdown grace period; closing them"),
    }
    policy_watch.abort();
    purge.abort();
    if let Some(fetcher) = fetcher {
        // Fetches in flight are abandoned; the next start queues them again.
        fetcher.abort();
    }
    if let Some(sender) = sender {
        // Sends in flight are abandoned mid-request; the next start marks them unconfirmed.
        sender.abort();
    }
    // The router (and with it every Ingestor handle) is gone: the writer ends after its
    // last batch.
    let _ = writer.await;
    store.close().await;
    Ok(())
}

/// How often a node checks whether custom roles changed on another node.
const POLICY_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Reloads the authorizer when the stored custom roles change (another node, or the CLI).
async fn watch_custom_roles(store: Store, access: auth::Access) {
    let mut seen = None;
    loop {
        match store.custom_roles().await {
            Ok(roles) => {
                let stamp: Vec<(String, i64)> =
                    roles.into_iter().map(|r| (r.name, r.updated_at)).collect();
                if seen.as_ref().is_some_and(|s| *s != stamp) {
                    if let Err(error) = access.reload(&store).await {
                        tracing::error!(%error, "reloading policies failed");
                    }
                }
                seen = Some(stamp);
            }
            Err(error) => tracing::warn!(%error, "could not check custom roles"),
        }
        tokio::time::sleep(POLICY_CHECK).await;
    }
}

/// Starts the reply sender when an access token is configured; without one, replies wait
/// in the outbox (and say so) until it is.
async fn start_sender(
    config: &Config,
    store: &Store,
) -> anyhow::Result<(outbox::OutboxHandle, Option<tokio::task::JoinHandle<()>>)> {
    let Some(token) = config.whatsapp.access_token.clone() else {
        tracing::warn!("VEILBOX_WHATSAPP_ACCESS_TOKEN is not set: replies are queued but not sent");
        return Ok((outbox::OutboxHandle::default(), None));
    };
    let graph = veilbox_whatsapp::graph::GraphClient::new(veilbox_whatsapp::graph::GraphConfig {
        base_url: config.whatsapp.graph_url.clone(),
        version: config.whatsapp.graph_version.clone(),
        access_token: token,
        timeout: config.whatsapp.send_timeout,
    })?;
    // A restart is how a replaced token takes effect: let paused numbers send again.
    store.resume_sending().await?;
    let settings = outbox::SenderSettings {
        rate_per_number: config.whatsapp.send_rate,
        backoff: veilbox_whatsapp::graph::Backoff::new(
            config.whatsapp.retry_base,
            std::time::Duration::from_secs(300),
        ),
    };
    let (handle, task) = outbox::spawn(store.clone(), graph, settings).await?;
    Ok((handle, Some(task)))
}

/// Starts the media fetcher when an access token is configured; without one, media
/// messages wait in the fetch queue (the thread says "not fetched yet") until it is.
async fn start_media_fetcher(
    config: &Config,
    store: &Store,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(token) = config.whatsapp.access_token.clone() else {
        return Ok(None);
    };
    let graph = veilbox_whatsapp::graph::GraphClient::new(veilbox_whatsapp::graph::GraphConfig {
        base_url: config.whatsapp.graph_url.clone(),
        version: config.whatsapp.graph_version.clone(),
        access_token: token,
        // A download is bigger than a send: give it more time than the send timeout.
        timeout: config
            .whatsapp
            .send_timeout
            .max(std::time::Duration::from_secs(60)),
    })?;
    let settings = media::fetcher::FetcherSettings {
        backoff: veilbox_whatsapp::graph::Backoff::new(
            config.whatsapp.retry_base,
            std::time::Duration::from_secs(600),
        ),
        max_bytes: media::MAX_MEDIA_BYTES,
    };
    Ok(Some(
        media::fetcher::spawn(store.clone(), graph, settings).await?,
    ))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
