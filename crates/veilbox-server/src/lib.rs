//! The Veilbox server: HTTP routes, configuration and the commands of the `veilbox` binary.
//!
//! [`launch`] takes a bound listener and a shutdown future, so tests and benchmarks run the
//! real server on port 0.

pub mod api;
pub mod bench;
pub mod config;
pub mod error;
pub mod telemetry;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

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
}

/// Builds the router: the webhook, the JSON API and health.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhook::routes())
        .merge(api::routes())
        .with_state(state)
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

/// Runs Veilbox on `listener` until `shutdown` completes, then drains the webhook writer:
/// every delivery that was acknowledged is already committed, and in-flight ones finish.
pub async fn launch(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (ingestor, writer) = Ingestor::spawn(store.clone(), config.whatsapp.auto_inbox);
    let state = AppState {
        store: store.clone(),
        ingestor,
        config: Arc::new(config),
    };
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    // The router (and with it every Ingestor handle) is gone: the writer ends after its
    // last batch.
    let _ = writer.await;
    store.close().await;
    Ok(())
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
