//! The canary scan: the real `veilbox serve` ingests customer messages full of unique
//! canary strings (text, names, numbers, a location, a shared contact, a body it cannot
//! parse), logging everything it logs at `trace`. Then every byte Veilbox left behind is
//! searched for every canary in UTF-8, JSON-escaped and hex form: the SQLite file, its WAL
//! and shared memory, or a `pg_dump` of PostgreSQL, and the logs. After `veilbox erase
//! customer`, the erased customer's wrapped data key is gone from all of them too.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sqlx::Row;
use support::SECRET;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use veilbox_store::canary::hits;
use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;
use veilbox_vault::{MasterKey, Vault};
use veilbox_whatsapp::signature;

const PHONE: &str = "447700955101";
const NAME: &str = "Ottoline Canarywell";
const TEXT: &str = "deliver to Flat 3b Canarygate Mews, my code is QX-CANARY-771";
const CAPTION: &str = "photo of Canarysmith door";
const PLACE: &str = "Canaryfield Depot";
const CONTACT: &str = "Jóhanna Kanarí";
const CONTACT_PHONE: &str = "+44 7700 955 202";
const DEAD: &str = "half a body from Canaryvale Close";

/// Every canary, in the spellings a leak could take.
fn canaries() -> Vec<&'static str> {
    vec![
        PHONE,
        NAME,
        TEXT,
        "Canarygate",
        "QX-CANARY-771",
        CAPTION,
        PLACE,
        CONTACT,
        "Kanar",
        "7700 955 202",
        DEAD,
        "Canaryvale",
    ]
}

fn webhook(messages: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": NAME}, "wa_id": PHONE}],
            "messages": messages
        }}]}]
    })
    .to_string()
    .into_bytes()
}

/// What the customer sends: text, an image with a caption, a location, a contact card.
fn customer_bodies() -> Vec<Vec<u8>> {
    let at = "1780000000";
    vec![
        webhook(
            serde_json::json!([{"from": PHONE, "id": "wamid.CANARY1", "timestamp": at,
            "type": "text", "text": {"body": TEXT}}]),
        ),
        webhook(
            serde_json::json!([{"from": PHONE, "id": "wamid.CANARY2", "timestamp": at,
            "type": "image", "image": {"id": "1234567890", "mime_type": "image/jpeg",
            "sha256": "abc", "caption": CAPTION}}]),
        ),
        webhook(
            serde_json::json!([{"from": PHONE, "id": "wamid.CANARY3", "timestamp": at,
            "type": "location", "location": {"latitude": 51.50735, "longitude": -0.12776,
            "name": PLACE, "address": "1 Canarygate Road"}}]),
        ),
        webhook(
            serde_json::json!([{"from": PHONE, "id": "wamid.CANARY4", "timestamp": at,
            "type": "contacts", "contacts": [{"name": {"formatted_name": CONTACT, "first_name": "Jóhanna"},
            "phones": [{"phone": CONTACT_PHONE, "type": "CELL"}]}]}]),
        ),
    ]
}

struct Server {
    child: Child,
    address: String,
}

/// Starts `veilbox serve` with every log line at `trace` going to `log`.
async fn start(database_url: &str, log: &Path) -> Server {
    let log_file = std::fs::File::create(log).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_veilbox"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VEILBOX_DATABASE_URL", database_url)
        .env("VEILBOX_LISTEN", "127.0.0.1:0")
        .env("VEILBOX_WHATSAPP_APP_SECRET", SECRET)
        .env("VEILBOX_WHATSAPP_VERIFY_TOKEN", "canary-test")
        .env("VEILBOX_MASTER_KEY", support::MASTER_KEY)
        .env("VEILBOX_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn veilbox");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("veilbox printed its address in time")
        .expect("read stdout")
        .expect("a line");
    let address = line
        .strip_prefix("listening on http://")
        .expect("listening line")
        .to_owned();
    Server { child, address }
}

impl Server {
    async fn post(&self, body: &[u8]) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("http://{}/webhooks/whatsapp", self.address))
            .header(signature::HEADER, signature::sign(SECRET.as_bytes(), body))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .expect("post")
            .status()
    }

    /// SIGTERM, and wait for a clean exit.
    async fn stop(mut self) {
        let pid = self.child.id().expect("pid");
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("stops in time")
            .expect("wait");
        assert!(status.success(), "clean shutdown: {status:?}");
    }
}

async fn ingest_canaries(server: &Server) {
    for body in customer_bodies() {
        assert_eq!(server.post(&body).await, 200);
    }
    // Signed but not JSON: kept as a dead letter.
    assert_eq!(
        server
            .post(format!("{{\"object\": \"{DEAD}").as_bytes())
            .await,
        400
    );
}

/// The customer's id and their wrapped data key, read with the key ring.
async fn customer_and_key(url: &str) -> (String, String) {
    let store = Store::connect(url)
        .await
        .expect("connect")
        .unlock(Vault::new(
            MasterKey::parse(support::MASTER_KEY).expect("key"),
        ))
        .await
        .expect("unlock");
    let index = store.keyring().expect("keys").wa_index(PHONE);
    let id: String = sqlx::query("SELECT id FROM customers WHERE wa_id = $1")
        .bind(index)
        .fetch_one(store.pool())
        .await
        .expect("the customer exists")
        .try_get("id")
        .expect("id");
    let wrapped: String = sqlx::query("SELECT wrapped FROM data_keys WHERE owner = $1")
        .bind(format!("customer:{id}"))
        .fetch_one(store.pool())
        .await
        .expect("their key")
        .try_get("wrapped")
        .expect("wrapped");
    // The sealed content opens: the scan below looks for values that are really there.
    let conversation = store.conversations(None, 5).await.expect("list").items;
    assert_eq!(conversation[0].customer.profile_name.as_deref(), Some(NAME));
    let thread = store
        .thread(&conversation[0].id, None, 10)
        .await
        .expect("thread")
        .expect("exists");
    assert_eq!(thread.items.len(), 4);
    assert_eq!(thread.items[0].content["body"], TEXT);
    store.close().await;
    (id, wrapped)
}

fn erase(url: &str, customer: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilbox"))
        .args([
            "erase",
            "customer",
            customer,
            "--reason",
            "GDPR art. 17 request #4471",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VEILBOX_DATABASE_URL", url)
        .env("VEILBOX_MASTER_KEY", support::MASTER_KEY)
        .env("VEILBOX_LOG", "warn")
        .output()
        .expect("run veilbox erase");
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("erased"), "{said}");
    assert!(hits(&out.stdout, &canaries()).is_empty());
}

fn read_all(paths: &[PathBuf]) -> Vec<u8> {
    let mut all = Vec::new();
    for path in paths {
        if let Ok(bytes) = std::fs::read(path) {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_and_logs_hold_no_canary_before_or_after_erasure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("veilbox.db");
    let url = format!("sqlite://{}", db.display());
    let log = dir.path().join("veilbox.log");
    let server = start(&url, &log).await;
    ingest_canaries(&server).await;
    // Scanned while running (the WAL holds the newest pages) and after a clean stop.
    let files = |db: &Path| {
        ["", "-wal", "-shm"]
            .iter()
            .map(|s| PathBuf::from(format!("{}{s}", db.display())))
            .collect::<Vec<_>>()
    };
    let running = read_all(&files(&db));
    assert!(running.len() > 10_000, "the database was read");
    assert_eq!(hits(&running, &canaries()), Vec::<String>::new());
    server.stop().await;
    let logs = read_all(std::slice::from_ref(&log));
    assert!(
        logs.len() > 1_000,
        "trace logging was on ({} bytes)",
        logs.len()
    );
    assert_eq!(hits(&logs, &canaries()), Vec::<String>::new(), "logs");
    assert_eq!(
        hits(&read_all(&files(&db)), &canaries()),
        Vec::<String>::new()
    );

    let (customer, wrapped) = customer_and_key(&url).await;
    assert!(
        !hits(&read_all(&files(&db)), &[wrapped.as_str()]).is_empty(),
        "the scan finds the wrapped key while it exists"
    );
    erase(&url, &customer);
    let after = read_all(&files(&db));
    assert_eq!(
        hits(&after, &[wrapped.as_str()]),
        Vec::<String>::new(),
        "the erased customer's key is gone from the file and WAL"
    );
    assert_eq!(hits(&after, &canaries()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_and_the_logs_hold_no_canary_before_or_after_erasure() {
    let Ok(server_url) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
        return;
    };
    let scratch = ScratchDatabase::create(&server_url)
        .await
        .expect("scratch database");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("veilbox.log");
    let server = start(&scratch.url, &log).await;
    ingest_canaries(&server).await;
    server.stop().await;
    let dump = || {
        let out = std::process::Command::new("pg_dump")
            .arg(format!("--dbname={}", scratch.url))
            .output()
            .expect("pg_dump runs");
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };
    let before = dump();
    assert!(
        String::from_utf8_lossy(&before).contains("COPY public.messages"),
        "a real dump"
    );
    assert_eq!(hits(&before, &canaries()), Vec::<String>::new(), "pg_dump");
    assert_eq!(
        hits(&read_all(&[log]), &canaries()),
        Vec::<String>::new(),
        "logs"
    );

    let (customer, wrapped) = customer_and_key(&scratch.url).await;
    assert!(!hits(&before, &[wrapped.as_str()]).is_empty());
    erase(&scratch.url, &customer);
    let after = dump();
    assert_eq!(hits(&after, &[wrapped.as_str()]), Vec::<String>::new());
    assert_eq!(hits(&after, &canaries()), Vec::<String>::new());
    scratch
        .drop_database()
        .await
        .expect("drop scratch database");
}
