//! Logging. Lines carry ids, counts and timings; never a phone number, name or message body.

use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `VEILBOX_LOG` (default `info`; sqlx statements stay quiet).
pub fn init() {
    let filter =
        EnvFilter::try_from_env("VEILBOX_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
