//! A real Veilbox on port 0 with a fresh database, for the HTTP tests.
#![allow(dead_code, reason = "each test file uses part of the support")]

pub mod browser;

use std::path::PathBuf;

use secrecy::SecretString;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use veilbox_server::config::Config;
use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;
use veilbox_whatsapp::signature;

/// The app secret of the spec's signature vectors.
pub const SECRET: &str = "wa_test_app_secret_9f8e7d6c5b4a";
pub const VERIFY_TOKEN: &str = "s3cret";
/// The bootstrap token: an admin (users, tokens, policies, configuration).
pub const API_TOKEN: &str = "test-api-token-0123456789";
/// An API token with the supervisor role for the "Operations" team, which serves every
/// inbox: what reads conversations in the tests.
pub const SUPERVISOR_TOKEN: &str = "vbt_test-supervisor-token-0123456789";
/// The master key of every test app (fixed, so a restart on the same database opens its
/// data keys). A test key: it protects nothing real.
pub const MASTER_KEY: &str = "vbk1:QtJS4zYkVSr-yKwweFtYgW1jNGIb3UrJkXX3BHqDGHM";
/// The team every test app starts with.
pub const OPERATIONS: &str = "Operations";

pub fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/whatsapp/samples")
}

pub fn sample(name: &str) -> Vec<u8> {
    let path = samples_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("samples directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::from_sources(None, |_| None).expect("defaults");
    config.database_url = database_url.to_owned();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.api_token = Some(SecretString::from(API_TOKEN));
    config.master_key = Some(SecretString::from(MASTER_KEY));
    config.whatsapp.app_secret = Some(SecretString::from(SECRET));
    config.whatsapp.verify_token = Some(SecretString::from(VERIFY_TOKEN));
    config
}

/// The "Operations" team serving every inbox, and the supervisor API token of it.
async fn provision_access(store: &Store) {
    use veilbox_core::credentials::secret_token;
    let team = store.ensure_team(OPERATIONS).await.expect("team");
    store
        .add_team_inbox(&team, veilbox_store::people::EVERY_INBOX)
        .await
        .expect("serve every inbox");
    let digest = secret_token::digest(SUPERVISOR_TOKEN);
    if store
        .api_token_by_digest(&digest)
        .await
        .expect("token lookup")
        .is_none()
    {
        store
            .create_api_token(&veilbox_store::tokens::NewApiToken {
                name: "tests",
                digest: &digest,
                role: "supervisor",
                teams: &[team],
                read_only: false,
                created_by: "tests",
            })
            .await
            .expect("token");
    }
}

pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres(Option<ScratchDatabase>),
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub database: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("veilbox.db").display());
        Self::start(&url, TestDatabase::Sqlite(dir), adjust).await
    }

    /// On a scratch PostgreSQL database, or `None` (and a loud skip) without one.
    pub async fn spawn_postgres() -> Option<TestApp> {
        let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
            return None;
        };
        let scratch = ScratchDatabase::create(&server)
            .await
            .expect("scratch database");
        let url = scratch.url.clone();
        Some(Self::start(&url, TestDatabase::Postgres(Some(scratch)), |_| {}).await)
    }

    /// On an existing database (e.g. to restart on the same SQLite file).
    pub async fn start(
        url: &str,
        database: TestDatabase,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = test_config(url);
        adjust(&mut config);
        let store = veilbox_server::open_store(&config)
            .await
            .expect("open store");
        let store = veilbox_server::keyring::unlock(&config, store)
            .await
            .expect("unlock the store");
        provision_access(&store).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(veilbox_server::launch(
            config,
            store.clone(),
            listener,
            async {
                let _ = stopped.await;
            },
        ));
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            database,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Posts `body` signed with the test secret.
    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        let header = signature::sign(SECRET.as_bytes(), body);
        self.post_with_signature(body, Some(&header)).await
    }

    pub async fn post_with_signature(
        &self,
        body: &[u8],
        header: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/webhooks/whatsapp", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(header) = header {
            request = request.header("X-Hub-Signature-256", header);
        }
        request.send().await.expect("request")
    }

    /// GET an API path as the Operations supervisor token; returns status and JSON.
    pub async fn api(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.api_as(SUPERVISOR_TOKEN, path).await
    }

    /// GET an API path as the bootstrap admin; returns status and JSON.
    pub async fn admin_api(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.api_as(API_TOKEN, path).await
    }

    /// GET an API path with `token`; returns status and JSON.
    pub async fn api_as(&self, token: &str, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// The open (not resolved) conversation of the customer with WhatsApp id `wa_id`, read
    /// from the database: the API shows customers masked, so it cannot be searched by number.
    pub async fn open_conversation_of(&self, wa_id: &str) -> Option<String> {
        use sqlx::Row;
        let index = self.store.keyring().expect("unlocked").wa_index(wa_id);
        sqlx::query(
            "SELECT c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             WHERE cu.wa_id = $1 AND c.state <> 'resolved' ORDER BY c.created_at DESC",
        )
        .bind(index)
        .fetch_optional(self.store.pool())
        .await
        .expect("query")
        .map(|row| row.try_get("id").expect("id"))
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.store.pool())
            .await
            .expect("count")
            .try_get(0)
            .expect("column")
    }

    /// Every message of every conversation, through the API.
    pub async fn all_messages(&self) -> Vec<Value> {
        let mut messages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/conversations?limit=5&cursor={c}"),
                None => "/api/v1/conversations?limit=5".to_owned(),
            };
            let (status, page) = self.api(&path).await;
            assert_eq!(status, 200, "{page}");
            for conversation in page["items"].as_array().expect("items") {
                let id = conversation["id"].as_str().expect("id");
                let (status, thread) = self
                    .api(&format!("/api/v1/conversations/{id}/messages?limit=500"))
                    .await;
                assert_eq!(status, 200);
                messages.extend(thread["items"].as_array().expect("items").iter().cloned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        messages
    }

    /// POST JSON to an API path as the Operations supervisor token.
    pub async fn api_post(&self, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        self.api_post_as(SUPERVISOR_TOKEN, path, body).await
    }

    /// POST JSON to an API path with `token`.
    pub async fn api_post_as(
        &self,
        token: &str,
        path: &str,
        body: Value,
    ) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Stops the server but keeps the database (returns it for a restart).
    pub async fn stop_keeping_database(mut self) -> TestDatabase {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
        self.store.close().await;
        std::mem::replace(&mut self.database, TestDatabase::Postgres(None))
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
        if let TestDatabase::Postgres(scratch) = &mut self.database {
            if let Some(scratch) = scratch.take() {
                let _ = scratch.drop_database().await;
            }
        }
    }
}
