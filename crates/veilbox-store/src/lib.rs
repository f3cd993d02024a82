//! Veilbox storage: one code path over SQLite and PostgreSQL.
//!
//! Queries are runtime SQL through sqlx's `Any` driver, written in the dialect both
//! backends accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`, partial indexes). The
//! backend is picked from the URL; each has its own append-only migrations folder.
//!
//! * [`Store`] opens the database, applies migrations and answers reads;
//! * [`ingest::Ingestor`] is the single writer that group-commits webhook deliveries.

pub mod audit;
pub mod canary;
pub mod crm;
mod data_migrations;
pub mod erasure;
pub mod events;
pub mod ids;
pub mod ingest;
pub mod keyring;
pub mod keys;
pub mod media;
pub mod outbox;
pub mod people;
pub mod quarantine;
pub mod quick_replies;
pub mod reads;
pub mod retention;
pub mod roles;
pub mod scratch;
pub mod sessions;
mod sql;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

/// The two supported databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one node; the default.
    Sqlite,
    /// Several app nodes on one server.
    Postgres,
}

/// Errors from the store. Messages never contain row contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL scheme (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// Creating the SQLite file's directory failed.
    #[error("cannot create the database directory: {0}")]
    Directory(#[source] std::io::Error),
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The ingest writer has stopped (shutdown or a fatal error).
    #[error("the ingest writer is not running")]
    WriterGone,
    /// A committed batch could not be flushed to disk.
    #[error("could not flush the database to disk: {0}")]
    Sync(#[source] std::io::Error),
    /// A pagination cursor that this store did not make.
    #[error("invalid pagination cursor")]
    InvalidCursor,
    /// Stored JSON could not be read back.
    #[error("stored JSON is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    /// Customer data was asked of a store that has no key ring ([`Store::unlock`]).
    #[error("the store is locked: customer data needs the master key")]
    Locked,
    /// A sealed value did not open: tampered with, moved, or its key is gone.
    #[error("a sealed value could not be opened")]
    Unreadable,
    /// A data key was wrapped by a master key other than the one given.
    #[error("the data key of {0} does not open with this master key; is it the key this database was made with?")]
    WrongMasterKey(String),
}

/// A connection pool and the backend it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file, when the database is one (not in memory).
    sqlite_file: Option<PathBuf>,
    /// Live events of this process.
    events: events::EventBus,
    /// Serialises audit appends in this process (each row needs the last row's hash).
    audit_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The key ring, once unlocked.
    keys: Option<keyring::KeyRing>,
}

/// How SQLite commits. `FULL` fsyncs the WAL at every commit, so an acknowledged webhook
/// survives power loss, not only a crash of the process; group commit makes that one fsync
/// per batch instead of one per request.
///
/// `secure_delete` zeroes the space of deleted rows, so an erased customer's wrapped key
/// does not linger in free pages of the file.
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
     PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;";

/// PostgreSQL session settings. Statements are prepared once per connection and, after five
/// runs, PostgreSQL may keep a generic plan for them. A generic plan for `wa_message_id IN
/// (...)` made while a table was new and tiny is a sequential scan, and it stays one as the
/// table grows: ingest then slowed to half speed in about half of the benchmark runs (the
/// backend busy in `texteq` over the IN list). Planning each execution with its parameters
/// keeps the index lookups; planning these statements costs far less than a scan.
const POSTGRES_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan";

impl Store {
    /// Opens a pool on `url` (`sqlite://path/to.db` or `postgres://...`). For SQLite the
    /// file and its directory are created when missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let (url, sqlite_file) = match backend {
            Backend::Sqlite => (prepare_sqlite_url(url)?, sqlite_file(url)),
            Backend::Postgres => (url.to_owned(), None),
        };
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                // Each connection to `:memory:` is its own database: keep exactly one.
                let connections = if url.contains(":memory:") { 1 } else { 8 };
                pool_options
                    .max_connections(connections)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                pool_options
                    .max_connections(16)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(POSTGRES_SETTINGS).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Store {
            pool,
            backend,
            sqlite_file,
            events: events::EventBus::default(),
            audit_lock: std::sync::Arc::default(),
            keys: None,
        })
    }

    /// Applies the backend's migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        data_migrations::finish(self).await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The write-ahead log of a SQLite file database, which the ingest writer syncs itself.
    pub fn sqlite_wal_path(&self) -> Option<PathBuf> {
        self.sqlite_file.as_ref().map(|file| {
            let mut wal = file.clone().into_os_string();
            wal.push("-wal");
            PathBuf::from(wal)
        })
    }

    /// The live event channel.
    pub fn events(&self) -> &events::EventBus {
        &self.events
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the crate's own query modules and for tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; pending writes must have been acknowledged before.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates the inbox for `phone_number_id` if it does not exist (configuration), and
    /// returns its id.
    pub async fn ensure_inbox(
        &self,
        phone_number_id: &str,
        name: &str,
    ) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        ingest::upsert_inbox(&mut conn, phone_number_id, None, None, name).await
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// The file of a `sqlite://` URL; `None` for in-memory databases.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Creates the database directory and asks SQLite to create the file (`mode=rwc`).
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(StoreError::Directory)?;
        }
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_made_creatable() {
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").ok().as_deref(),
            Some("sqlite://:memory:?mode=rwc")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/dir/v.db");
        let url = format!("sqlite://{}", path.display());
        assert_eq!(
            prepare_sqlite_url(&url).ok(),
            Some(format!("{url}?mode=rwc"))
        );
        assert!(path.parent().is_some_and(Path::exists));
        assert!(matches!(
            backend_of("mysql://x"),
            Err(StoreError::UnsupportedUrl)
        ));
    }
}
