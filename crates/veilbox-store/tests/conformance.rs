//! The storage conformance suite: one body per behaviour, run on SQLite and PostgreSQL.
//!
//! PostgreSQL runs when `VEILBOX_TEST_POSTGRES_URL` is set (CI sets it); each test gets its
//! own scratch database. Without it, the PostgreSQL half prints that it was skipped.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::PathBuf;

use sqlx::Row;
use veilbox_store::ingest::{Delivery, InboxPolicy, IngestReport, Ingestor};
use veilbox_store::reads::ConversationState;
use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;
use veilbox_vault::{MasterKey, Vault};
use veilbox_whatsapp::webhook;

#[path = "conformance/amendments.rs"]
mod amendments;
#[path = "conformance/echoes.rs"]
mod echoes;
#[path = "conformance/fixtures.rs"]
mod fixtures;
#[path = "conformance/identity.rs"]
mod identity;
#[path = "conformance/preferences.rs"]
mod preferences;
use amendments::*;
use echoes::*;
use fixtures::*;
use identity::*;
use preferences::*;

fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/whatsapp/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn all_samples() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/whatsapp/samples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("samples directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "expected the full sample catalogue, found {}",
        names.len()
    );
    names.into_iter().map(|n| (n.clone(), sample(&n))).collect()
}

/// A fresh database of one backend, with a running writer.
struct Fixture {
    store: Store,
    ingestor: Ingestor,
    /// The SQLite database file (None on PostgreSQL).
    file: Option<PathBuf>,
    /// The master key the store was unlocked with.
    master: String,
    /// The PostgreSQL scratch database's URL.
    pg_url: Option<String>,
    _keep: Keep,
}

enum Keep {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(Option<ScratchDatabase>),
}

impl Drop for Keep {
    fn drop(&mut self) {
        if let Keep::Postgres(scratch) = self {
            if let Some(scratch) = scratch.take() {
                // Best effort: a leftover scratch database is harmless.
                let _ = std::thread::spawn(move || {
                    tokio::runtime::Runtime::new().map(|rt| rt.block_on(scratch.drop_database()))
                })
                .join();
            }
        }
    }
}

impl Fixture {
    async fn sqlite(policy: InboxPolicy) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut fixture = Self::open(&url, policy, Keep::Sqlite(dir)).await;
        fixture.file = Some(PathBuf::from(url.trim_start_matches("sqlite://")));
        fixture
    }

    async fn postgres(policy: InboxPolicy) -> Option<Fixture> {
        let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
            return None;
        };
        let scratch = ScratchDatabase::create(&server)
            .await
            .expect("create a scratch PostgreSQL database");
        let url = scratch.url.clone();
        Some(Self::open(&url, policy, Keep::Postgres(Some(scratch))).await)
    }

    async fn open(url: &str, policy: InboxPolicy, keep: Keep) -> Fixture {
        let store = Store::connect(url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let master = MasterKey::generate().to_text().to_string();
        let store = store
            .unlock(Vault::new(MasterKey::parse(&master).expect("key")))
            .await
            .expect("unlock");
        let (ingestor, _writer) = Ingestor::spawn(store.clone(), policy);
        Fixture {
            store,
            ingestor,
            file: None,
            master,
            pg_url: url.starts_with("postgres").then(|| url.to_owned()),
            _keep: keep,
        }
    }

    async fn post(&self, body: &[u8]) -> IngestReport {
        let parsed = webhook::parse(body).expect("sample parses");
        self.ingestor
            .ingest(Delivery {
                body: body.to_vec(),
                webhook: parsed,
                received_at: veilbox_store::now_ms(),
            })
            .await
            .expect("ingest")
    }

    /// The blind index a WhatsApp id is stored under.
    fn wa(&self, wa_id: &str) -> String {
        self.store.keyring().expect("unlocked").wa_index(wa_id)
    }

    /// The database URL, to open more pools on it.
    async fn store_url(&self) -> String {
        match &self.file {
            Some(file) => format!("sqlite://{}", file.display()),
            None => self
                .pg_url
                .clone()
                .expect("a PostgreSQL fixture has its URL"),
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.store.pool())
            .await
            .expect("count")
            .try_get(0)
            .expect("count column")
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(|policy| Box::pin(async move { Some(super::Fixture::sqlite(policy).await) })).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(|policy| Box::pin(super::Fixture::postgres(policy))).await;
                }
            )*
        }
    };
}

type Open =
    fn(InboxPolicy) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Fixture>> + Send>>;

conformance!(
    every_sample_is_stored_and_read_back,
    every_fixture_is_kept_and_each_person_is_one_customer,
    echoes_are_the_business_speaking_not_the_customer,
    a_reserialised_redelivery_records_its_errors_once,
    marketing_stops_and_resumes_are_kept_on_the_customer,
    redelivery_changes_nothing,
    statuses_merge_and_never_go_backwards,
    failed_status_keeps_its_error,
    a_message_after_resolution_opens_a_new_conversation,
    unknown_numbers_are_stored_unrouted,
    customers_are_followed_across_number_changes_and_user_ids,
    concurrent_deliveries_are_each_stored_once,
    pagination_walks_every_row_once,
    dead_letters_keep_the_bytes,
    customer_data_is_sealed_at_rest,
    erasure_leaves_nothing_of_the_customer,
    key_rotation_under_concurrent_ingest_loses_nothing,
    retention_purges_each_kind_after_its_period,
    phone_then_user_id_then_both_is_one_customer,
    user_id_then_phone_then_both_is_one_customer,
    both_then_either_is_one_customer,
    three_identities_in_one_body_are_one_customer,
    a_rotated_user_id_moves_the_customer,
    a_body_that_cannot_be_normalised_is_kept_and_quarantined,
    retention_keeps_quarantined_bodies,
    an_edit_replaces_the_text_and_keeps_the_earlier_one,
    a_revoke_hides_the_message_and_keeps_it_sealed,
    amendments_of_messages_we_do_not_have_are_kept,
    erasure_and_retention_take_earlier_versions_too,
);

async fn every_sample_is_stored_and_read_back(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let mut messages = 0;
    let mut distinct = std::collections::HashSet::new();
    for (name, body) in all_samples() {
        for m in webhook::parse(&body).expect("every sample parses").messages {
            distinct.insert(m.wa_message_id);
        }
        let report = f.post(&body).await;
        assert!(
            report.unrouted == 0,
            "{name}: routed to the inbox made on first sight"
        );
        messages += report.messages_stored;
    }
    // Each distinct wamid once: the redelivery and re-encodings store nothing new.
    let expected = distinct.len() as i64;
    assert!(
        expected >= 27,
        "the catalogue has at least 27 distinct messages, found {expected}"
    );
    assert_eq!(i64::from(messages), expected, "stored messages");
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, expected);
    assert_eq!(f.count("SELECT COUNT(*) FROM inboxes").await, 1);
    let page = f.store.conversations(None, 50).await.expect("list");
    let mut seen_types = std::collections::BTreeSet::new();
    let mut total = 0;
    for conversation in &page.items {
        let thread = f
            .store
            .thread(&conversation.id, None, 500)
            .await
            .expect("thread")
            .expect("exists");
        for m in thread.items {
            total += 1;
            seen_types.insert(m.content["kind"].as_str().expect("kind").to_owned());
            if m.wa_message_id.as_deref()
                == Some("wamid.HBgLMTU1NTU1NTAxNDIVAgASGBQ5MDk4ODgxQTVFOTRGMDU2QTRFOQA=")
            {
                assert_eq!(
                    m.content["body"],
                    "Hi, my order #48213 hasn't arrived yet. Can you check?"
                );
                assert_eq!(m.direction, "inbound");
                assert_eq!(m.sent_at, 1_779_981_300_000);
            }
        }
    }
    assert_eq!(
        total, expected,
        "every stored message is reachable through a conversation"
    );
    for kind in [
        "text",
        "media",
        "location",
        "contacts",
        "interactive_reply",
        "flow_reply",
        "button",
        "reaction",
        "order",
        "system",
        "request_welcome",
        "unsupported",
    ] {
        assert!(
            seen_types.contains(kind),
            "missing {kind} in {seen_types:?}"
        );
    }
    // value.errors are kept for admins.
    let errors = f.store.platform_errors(50).await.expect("errors");
    assert!(
        errors.iter().any(|e| e.code == Some(130_429)),
        "errors-only webhook recorded"
    );
    assert!(
        errors.iter().any(|e| e.code == Some(131_000)),
        "value.errors beside a message recorded"
    );
    // The BSUID-only user is a customer without a phone.
    assert_eq!(f.count("SELECT COUNT(*) FROM customers WHERE wa_id IS NULL AND user_id = 'US.13491208655302741918'").await, 1);
}

/// `webhook_message_text.json` with other bytes (re-serialised), same wamid.
fn reshaped_text_sample() -> Vec<u8> {
    let text: serde_json::Value =
        serde_json::from_slice(&sample("webhook_message_text.json")).expect("json");
    let mut reshaped = serde_json::to_vec(&text).expect("json");
    reshaped.push(b' ');
    reshaped
}

async fn redelivery_changes_nothing(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let first = f.post(&sample("webhook_message_text.json")).await;
    assert_eq!(first.messages_stored, 1);
    let again = f
        .post(&sample("webhook_message_text_duplicate_redelivery.json"))
        .await;
    assert!(again.duplicate_body, "byte-identical body is recognised");
    assert_eq!(again.messages_stored, 0);
    // The same message inside a different body (re-serialised) is a duplicate by wamid.
    let reshaped_report = f.post(&reshaped_text_sample()).await;
    assert!(!reshaped_report.duplicate_body);
    assert_eq!(reshaped_report.messages_duplicate, 1);
    assert_eq!(reshaped_report.messages_stored, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM conversations").await,
        1,
        "no extra conversation"
    );
    // Statuses: (wamid, status) is the key.
    f.post(&sample("webhook_status_sent.json")).await;
    let status_again = f
        .post(&{
            let mut b = sample("webhook_status_sent.json");
            b.push(b'\n');
            b
        })
        .await;
    assert_eq!(status_again.statuses_duplicate, 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM message_statuses").await, 1);
}

const OUTBOUND: &str = "wamid.HBgLMTU1NTU1NTAxNDIVAgARGBI3QkMyQzMzNkMwQ0VFMDVBNUMA";

async fn statuses_merge_and_never_go_backwards(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&sample("webhook_status_read.json")).await;
    f.post(&sample("webhook_status_delivered.json")).await;
    f.post(&sample("webhook_status_sent.json")).await;
    let delivery = f
        .store
        .delivery(OUTBOUND)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        delivery.state, "read",
        "read is never downgraded by late delivered/sent"
    );
    assert_eq!(delivery.receipts.len(), 3, "every receipt kept as history");
    // The out-of-order batch: read before delivered in one body.
    let report = f
        .post(&sample("webhook_status_batch_out_of_order.json"))
        .await;
    assert!(report.statuses_stored >= 1);
    let batch: serde_json::Value =
        serde_json::from_slice(&sample("webhook_status_batch_out_of_order.json")).expect("json");
    let statuses = batch["entry"][0]["changes"][0]["value"]["statuses"]
        .as_array()
        .expect("statuses");
    for s in statuses {
        let id = s["id"].as_str().expect("id");
        let best = statuses
            .iter()
            .filter(|o| o["id"] == s["id"])
            .map(|o| {
                veilbox_whatsapp::webhook::DeliveryState::parse(
                    o["status"].as_str().expect("status"),
                )
            })
            .max_by_key(|state| state.rank())
            .expect("one");
        let stored = f.store.delivery(id).await.expect("read").expect("exists");
        let expected = if id == OUTBOUND {
            "read"
        } else {
            best.as_str()
        };
        assert_eq!(stored.state, expected, "{id}");
    }
}

async fn failed_status_keeps_its_error(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let failed = sample("webhook_status_failed_131047_reengagement.json");
    let parsed = webhook::parse(&failed).expect("parse");
    let id = parsed.statuses[0].wa_message_id.clone();
    // sent, then failed: failed wins and keeps code and title.
    let sent = String::from_utf8(failed.clone())
        .expect("utf8")
        .replace("\"failed\"", "\"sent\"")
        .replace("1779982200", "1779982100");
    f.post(sent.as_bytes()).await;
    f.post(&failed).await;
    let d = f.store.delivery(&id).await.expect("read").expect("exists");
    assert_eq!(
        (d.state.as_str(), d.error_code, d.error_title.as_deref()),
        ("failed", Some(131_047), Some("Re-engagement message"))
    );
    // A later delivered proves the failure wrong (multi-device); the error stays on record.
    let delivered = String::from_utf8(failed)
        .expect("utf8")
        .replace("\"failed\"", "\"delivered\"");
    f.post(delivered.as_bytes()).await;
    let d = f.store.delivery(&id).await.expect("read").expect("exists");
    assert_eq!(d.state, "delivered");
    assert_eq!(
        d.receipts
            .iter()
            .find(|r| r.status == "failed")
            .and_then(|r| r.error_code),
        Some(131_047)
    );
}

async fn a_message_after_resolution_opens_a_new_conversation(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&sample("webhook_message_text.json")).await;
    let first = f
        .store
        .conversations(None, 10)
        .await
        .expect("list")
        .items
        .remove(0);
    assert!(f
        .store
        .set_conversation_state(&first.id, ConversationState::Resolved)
        .await
        .expect("resolve"));
    // A redelivery of the old message must not open anything.
    let dup = f.post(&reshaped_text_sample()).await;
    assert_eq!(dup.messages_duplicate, 1);
    let after_dup = f.count("SELECT COUNT(*) FROM conversations").await;
    assert_eq!(after_dup, 1);
    f.post(&sample("webhook_message_text_reply_context.json"))
        .await;
    let list = f.store.conversations(None, 10).await.expect("list").items;
    let open_ones: Vec<_> = list.iter().filter(|c| c.state == "open").collect();
    assert_eq!(open_ones.len(), 1);
    assert_ne!(
        open_ones[0].id, first.id,
        "the resolved conversation stays resolved"
    );
    assert_eq!(list.len() as i64, after_dup + 1);
    // Two open conversations for one customer are impossible.
    let reopen = f
        .store
        .set_conversation_state(&first.id, ConversationState::Open)
        .await;
    assert!(reopen.is_err(), "the one-open-per-customer index holds");
}

async fn unknown_numbers_are_stored_unrouted(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&sample("webhook_message_text.json")).await;
    let other = String::from_utf8(sample("webhook_message_image.json"))
        .expect("utf8")
        .replace("118440581239876", "999000111222333");
    let report = f.post(other.as_bytes()).await;
    assert_eq!(report.unrouted, 1);
    assert_eq!(report.messages_stored, 0);
    assert_eq!(
        f.store
            .ingest_backlog()
            .await
            .expect("backlog")
            .unrouted_events,
        1
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM webhook_events WHERE routed = 0")
            .await,
        1,
        "raw body kept"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM inboxes").await, 1);
}

async fn customers_are_followed_across_number_changes_and_user_ids(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    // Oliver writes, then changes number; his next message from the new number is his.
    f.post(&sample("webhook_message_audio_voice.json")).await;
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE wa_id = '{}'",
            f.wa("447700900461")
        ))
        .await,
        1
    );
    f.post(&sample("webhook_message_system_user_changed_number.json"))
        .await;
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE wa_id = '{}'",
            f.wa("447700900987")
        ))
        .await,
        1,
        "followed"
    );
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE wa_id = '{}'",
            f.wa("447700900461")
        ))
        .await,
        0
    );
    // The BSUID user, then the same user id with a phone: one customer.
    f.post(&sample("webhook_message_text_bsuid_no_phone.json"))
        .await;
    let with_phone = String::from_utf8(sample("webhook_message_text_bsuid_no_phone.json"))
        .expect("utf8")
        .replace(
            "\"user_id\": \"US.13491208655302741918\"",
            "\"user_id\": \"US.13491208655302741918\", \"wa_id\": \"15555550177\"",
        )
        .replace(
            "\"from_user_id\"",
            "\"from\": \"15555550177\", \"from_user_id\"",
        )
        .replace(
            "wamid.HBgLMTU1NTU1NTAxNzcVAgASGBQyM0U1QzU3RkIwQTdFM0U4ODc0NwA=",
            "wamid.second",
        );
    let report = f.post(with_phone.as_bytes()).await;
    assert_eq!(report.messages_stored, 1);
    assert_eq!(
        f.count(&format!("SELECT COUNT(*) FROM customers WHERE user_id = 'US.13491208655302741918' AND wa_id = '{}'", f.wa("15555550177"))).await,
        1,
        "the phone is learnt for the known user id"
    );
    assert_eq!(f.count(&format!("SELECT COUNT(*) FROM customers WHERE user_id = 'US.13491208655302741918' OR wa_id = '{}'", f.wa("15555550177"))).await, 1);
}

fn text_body(i: usize) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"118440581239876"}},"contacts":[{{"wa_id":"44770{c:07}"}}],"messages":[{{"from":"44770{c:07}","id":"wamid.C{i}","timestamp":"{t}","type":"text","text":{{"body":"parcel {i}"}}}}]}}}}]}}]}}"#,
        c = i % 7,
        t = 1_780_000_000 + i
    )
    .into_bytes()
}

async fn concurrent_deliveries_are_each_stored_once(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let f = std::sync::Arc::new(f);
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let f = std::sync::Arc::clone(&f);
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                // Every body is posted twice, by two workers, to race duplicates.
                let n = (worker / 2) * 50 + i;
                f.post(&text_body(n)).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 400);
    assert_eq!(f.count("SELECT COUNT(*) FROM customers").await, 7);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM conversations").await,
        7,
        "one open conversation per customer"
    );
}

async fn pagination_walks_every_row_once(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    for i in 0..35 {
        f.post(&text_body(i)).await;
    }
    let mut cursor = None;
    let mut ids = Vec::new();
    loop {
        let page = f
            .store
            .conversations(cursor.as_deref(), 3)
            .await
            .expect("page");
        ids.extend(page.items.iter().map(|c| c.id.clone()));
        let activity: Vec<i64> = page.items.iter().map(|c| c.last_message_at).collect();
        assert!(
            activity.windows(2).all(|w| w[0] >= w[1]),
            "newest activity first"
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(ids.len(), 7);
    let conversation = ids[0].clone();
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = f
            .store
            .thread(&conversation, cursor.as_deref(), 2)
            .await
            .expect("page")
            .expect("exists");
        seen.extend(page.items.iter().map(|m| m.sent_at));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "35 messages over 7 customers");
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no repeats"
    );
    assert!(f
        .store
        .thread("no-such-id", None, 10)
        .await
        .expect("query")
        .is_none());
    assert!(matches!(
        f.store.conversations(Some("garbage"), 10).await,
        Err(veilbox_store::StoreError::InvalidCursor)
    ));
}

async fn dead_letters_keep_the_bytes(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let body = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    f.ingestor
        .dead_letter(body.clone(), "EOF while parsing".into())
        .await
        .expect("dead letter");
    let letters = f.store.dead_letters(10).await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].body, body, "kept byte for byte");
    assert_eq!(letters[0].reason, "EOF while parsing");
    // At rest, neither the body nor the reason is in clear.
    let row = sqlx::query("SELECT body, reason FROM dead_letters")
        .fetch_one(f.store.pool())
        .await
        .expect("row");
    let stored: Vec<u8> = row.try_get("body").expect("body");
    let reason: String = row.try_get("reason").expect("reason");
    assert!(stored.starts_with(b"vb1:"), "body sealed");
    assert!(reason.starts_with("vb1:"), "reason sealed");
    assert_eq!(
        f.store
            .ingest_backlog()
            .await
            .expect("backlog")
            .dead_letters,
        1
    );
}

/// Unique strings planted in customer data; none may appear at rest in any form.
const CANARY_TEXT: &str = "CANARY-7f3a9c Zoë Flat 9 Quarry Lane";
const CANARY_NAME: &str = "Canarya Ñandú-4411";
const CANARY_PHONE: &str = "447700933117";

/// A text message from `wa_id` (named `name`) saying `text`.
fn canary_body(wa_id: &str, name: &str, wamid: &str, text: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": "1760000000", "type": "text",
                          "text": {"body": text},
                          "context": {"from": wa_id, "id": "wamid.quoted"}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

use veilbox_store::canary::hits as find_any;

impl Fixture {
    /// Everything the store holds at rest (rows, and on SQLite the files).
    async fn everything_at_rest(&self) -> Vec<u8> {
        veilbox_store::canary::everything_at_rest(&self.store)
            .await
            .expect("read everything")
    }
}

async fn customer_data_is_sealed_at_rest(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let report = f
        .post(&canary_body(
            CANARY_PHONE,
            CANARY_NAME,
            "wamid.canary1",
            CANARY_TEXT,
        ))
        .await;
    assert_eq!(report.messages_stored, 1);
    let conversation = f
        .store
        .conversations(None, 10)
        .await
        .expect("list")
        .items
        .remove(0);
    // A reply that quotes the canary, and a dead letter that holds it.
    let queued = f
        .store
        .queue_reply(
            &conversation.id,
            "agent-1",
            &veilbox_store::outbox::ReplyPayload::Text {
                body: format!("Confirming: {CANARY_TEXT}"),
                preview_url: false,
                reply_to: None,
            },
        )
        .await
        .expect("queue")
        .expect("queued");
    f.ingestor
        .dead_letter(
            format!("{{\"broken\": \"{CANARY_TEXT}").into_bytes(),
            format!("unexpected end near {CANARY_NAME}"),
        )
        .await
        .expect("dead letter");

    // Read back through the store: everything opens.
    assert_eq!(conversation.customer.wa_id.as_deref(), Some(CANARY_PHONE));
    assert_eq!(
        conversation.customer.profile_name.as_deref(),
        Some(CANARY_NAME)
    );
    let thread = f
        .store
        .thread(&conversation.id, None, 10)
        .await
        .expect("thread")
        .expect("exists");
    assert_eq!(thread.items[0].content["body"], CANARY_TEXT);
    assert_eq!(
        thread.items[0].context.as_ref().expect("context")["reply_to_from"],
        CANARY_PHONE
    );
    assert_eq!(
        thread.items[1].content["body"],
        format!("Confirming: {CANARY_TEXT}")
    );
    let sends = f.store.due_sends(i64::MAX, 10).await.expect("due");
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].id, queued.outbox_id);
    assert_eq!(sends[0].recipient, CANARY_PHONE);
    // The customer is found by their number's blind index.
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE wa_id = '{}'",
            f.wa(CANARY_PHONE)
        ))
        .await,
        1
    );

    // At rest: not one spelling of any canary, in any row or file.
    let at_rest = f.everything_at_rest().await;
    let hits = find_any(
        &at_rest,
        &[
            CANARY_TEXT,
            "CANARY-7f3a9c",
            "Quarry Lane",
            CANARY_NAME,
            "Ñandú",
            CANARY_PHONE,
        ],
    );
    assert!(hits.is_empty(), "found at rest: {hits:?}");
    // The check itself can fail: the canary spelled the way the scan looks for it is found.
    assert!(!find_any(format!("x{CANARY_PHONE}y").as_bytes(), &[CANARY_PHONE]).is_empty());
    assert!(!find_any(b"\\u00d1and\\u00fa", &["Ñandú"]).is_empty());
}

async fn erasure_leaves_nothing_of_the_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&canary_body(
        CANARY_PHONE,
        CANARY_NAME,
        "wamid.erase1",
        CANARY_TEXT,
    ))
    .await;
    f.post(&canary_body(
        "447700900222",
        "Other Person",
        "wamid.keep1",
        "where is my parcel?",
    ))
    .await;
    let list = f.store.conversations(None, 10).await.expect("list").items;
    let erased = list
        .iter()
        .find(|c| c.customer.wa_id.as_deref() == Some(CANARY_PHONE))
        .expect("canary customer")
        .clone();
    let kept = list
        .iter()
        .find(|c| c.customer.wa_id.as_deref() == Some("447700900222"))
        .expect("other")
        .clone();
    let wrapped: String = sqlx::query("SELECT wrapped FROM data_keys WHERE owner = $1")
        .bind(format!("customer:{}", erased.customer.id))
        .fetch_one(f.store.pool())
        .await
        .expect("their key")
        .try_get("wrapped")
        .expect("wrapped");
    let sealed_before: String =
        sqlx::query("SELECT content FROM messages WHERE wa_message_id = 'wamid.erase1'")
            .fetch_one(f.store.pool())
            .await
            .expect("message")
            .try_get("content")
            .expect("content");

    let report = f
        .store
        .erase_customer(&erased.customer.id)
        .await
        .expect("erase")
        .expect("erased");
    assert_eq!(report.messages, 1);
    assert_eq!(report.raw_events, 1);
    assert_eq!(
        f.store
            .erase_customer(&erased.customer.id)
            .await
            .expect("again"),
        Err(veilbox_store::erasure::ErasureRefusal::AlreadyErased)
    );
    assert_eq!(
        f.store
            .erase_customer("no-such-customer")
            .await
            .expect("unknown"),
        Err(veilbox_store::erasure::ErasureRefusal::NoSuchCustomer)
    );

    // What the store shows: an erased customer with no content; the other customer intact.
    let after = f
        .store
        .conversation(&erased.id)
        .await
        .expect("read")
        .expect("kept as a record");
    assert!(after.customer.erased);
    assert_eq!(after.customer.wa_id, None);
    assert_eq!(after.customer.profile_name, None);
    assert_eq!(after.state, "resolved");
    let thread = f
        .store
        .thread(&erased.id, None, 10)
        .await
        .expect("thread")
        .expect("exists");
    assert_eq!(thread.items[0].content["kind"], "erased");
    let other = f
        .store
        .thread(&kept.id, None, 10)
        .await
        .expect("thread")
        .expect("exists");
    assert_eq!(other.items[0].content["body"], "where is my parcel?");

    // At rest: no canary, no wrapped key, no ciphertext of theirs, with the key ring present.
    let at_rest = f.everything_at_rest().await;
    let hits = find_any(
        &at_rest,
        &[
            CANARY_TEXT,
            CANARY_NAME,
            CANARY_PHONE,
            &wrapped,
            &sealed_before,
        ],
    );
    assert!(
        hits.is_empty(),
        "found at rest after erasure: {} hits",
        hits.len()
    );
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM data_keys WHERE owner = 'customer:{}'",
            erased.customer.id
        ))
        .await,
        0
    );
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE wa_id = '{}'",
            f.wa(CANARY_PHONE)
        ))
        .await,
        0,
        "their number no longer finds them"
    );

    // The same number writing again is a new, unrelated customer.
    f.post(&canary_body(
        CANARY_PHONE,
        "Back Again",
        "wamid.erase2",
        "hello again",
    ))
    .await;
    let again = f
        .store
        .conversations(None, 10)
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|c| c.customer.wa_id.as_deref() == Some(CANARY_PHONE))
        .expect("new customer");
    assert_ne!(again.customer.id, erased.customer.id);
    assert_eq!(again.customer.profile_name.as_deref(), Some("Back Again"));
}

async fn key_rotation_under_concurrent_ingest_loses_nothing(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    // The writer keeps making customer keys under the first master key while the keys are
    // re-wrapped under a second one, again and again.
    let first = f.master.clone();
    let second = MasterKey::generate().to_text();
    let key = |text: &str| MasterKey::parse(text).expect("key");
    let url = f.store_url().await;
    let store = Store::connect(&url).await.expect("connect");
    let store = store.unlock(Vault::new(key(&first))).await.expect("unlock");
    let (ingestor, writer) = Ingestor::spawn(store.clone(), InboxPolicy::FirstOnly);
    let rotating = Vault::new(key(&second)).with_previous(key(&first));
    // Five waves: in each, four clients post 10 messages from new customers (new keys,
    // wrapped under the first master key) while a rotation pass runs at the same time.
    let mut rewrapped = 0;
    for wave in 0..5 {
        let mut posters = Vec::new();
        for client in 0..4 {
            let ingestor = ingestor.clone();
            posters.push(tokio::spawn(async move {
                for n in 0..10 {
                    let i = wave * 40 + client * 10 + n;
                    let body = canary_body(
                        &format!("4477009{i:05}"),
                        "Rota",
                        &format!("wamid.rot{i}"),
                        &format!("msg {i}"),
                    );
                    let parsed = webhook::parse(&body).expect("parses");
                    ingestor
                        .ingest(Delivery {
                            body,
                            webhook: parsed,
                            received_at: veilbox_store::now_ms(),
                        })
                        .await
                        .expect("ingest");
                }
            }));
        }
        rewrapped += veilbox_store::keyring::rewrap_all(&store, &rotating)
            .await
            .expect("rotate pass");
        for poster in posters {
            poster.await.expect("poster");
        }
    }
    drop(ingestor);
    writer.await.expect("writer");
    // The catch-up pass a restart with the previous key runs.
    rewrapped += veilbox_store::keyring::rewrap_all(&store, &rotating)
        .await
        .expect("last pass");
    // The fixture's three system keys and one key per customer, each re-wrapped once.
    assert_eq!(rewrapped, 3 + 200, "every key re-wrapped exactly once");

    // With only the second key, every customer's data opens.
    let reopened = Store::connect(&url)
        .await
        .expect("connect")
        .unlock(Vault::new(key(&second)))
        .await
        .expect("unlock with the new key");
    let mut messages = 0;
    let mut cursor = None;
    loop {
        let page = reopened
            .conversations(cursor.as_deref(), 200)
            .await
            .expect("list");
        for c in &page.items {
            assert_eq!(c.customer.profile_name.as_deref(), Some("Rota"));
            let thread = reopened
                .thread(&c.id, None, 500)
                .await
                .expect("thread opens")
                .expect("exists");
            messages += thread.items.len();
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(messages, 200);
    // And the first key opens nothing any more.
    let old_only = Store::connect(&url)
        .await
        .expect("connect")
        .unlock(Vault::new(key(&first)))
        .await;
    assert!(
        old_only.is_err(),
        "the old master key no longer unlocks the store"
    );
}

async fn retention_purges_each_kind_after_its_period(open: Open) {
    use veilbox_store::retention::RetentionPolicy;
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let text = sample("webhook_message_text.json");
    f.post(&text).await;
    f.post(&sample("webhook_message_image.json")).await;
    f.ingestor
        .dead_letter(b"{broken".to_vec(), "EOF".into())
        .await
        .expect("dead letter");
    let day = 86_400_000_i64;
    let policy = RetentionPolicy::default();
    let now = veilbox_store::now_ms();

    // Today nothing is old enough.
    let today = f.store.purge(&policy, now, false).await.expect("purge");
    assert_eq!(
        today.summary(),
        "messages=0 media=0 closed_shipments=0 dead_letters=0 raw_events=0"
    );

    // In 100 days: the image (90-day media period), the dead letter and raw bodies (30).
    let dry = f
        .store
        .purge(&policy, now + 100 * day, true)
        .await
        .expect("dry run");
    assert_eq!(
        (dry.messages, dry.media, dry.dead_letters, dry.raw_events),
        (1, 1, 1, 2)
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages").await,
        2,
        "a dry run changes nothing"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM dead_letters").await, 1);
    let done = f
        .store
        .purge(&policy, now + 100 * day, false)
        .await
        .expect("purge");
    assert_eq!(done.messages, dry.messages);
    assert_eq!(done.raw_events, dry.raw_events);
    assert!(!done.dry_run && dry.dry_run);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE message_type = 'image'")
            .await,
        0
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE message_type = 'text'")
            .await,
        1
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM dead_letters").await, 0);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM webhook_events WHERE length(body) > 0")
            .await,
        0
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM webhook_events").await,
        2,
        "rows stay for idempotency"
    );
    // A redelivery of a purged body is still recognised and changes nothing.
    assert!(f.post(&text).await.duplicate_body);
    // A second run finds nothing more.
    let again = f
        .store
        .purge(&policy, now + 100 * day, false)
        .await
        .expect("purge");
    assert_eq!(
        (again.messages, again.raw_events, again.dead_letters),
        (0, 0, 0)
    );

    // Past the message period the text goes too; with every period off, nothing would.
    let keep_all = RetentionPolicy {
        messages: None,
        media: None,
        closed_shipments: None,
        dead_letters: None,
        raw_events: None,
    };
    assert_eq!(
        f.store
            .purge(&keep_all, now + 800 * day, true)
            .await
            .expect("dry")
            .messages,
        0
    );
    let late = f
        .store
        .purge(&policy, now + 800 * day, false)
        .await
        .expect("purge");
    assert_eq!(late.messages, 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 0);
}

/// Every PostgreSQL connection of the pool plans each execution with its parameters: a
/// generic plan made while a table was new is a sequential scan, which ingest then kept
/// as the table grew (half-speed ingest in about half of the benchmark runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_plan_each_execution() {
    let Some(f) = Fixture::postgres(InboxPolicy::FirstOnly).await else {
        return;
    };
    let mut connections = Vec::new();
    for _ in 0..3 {
        connections.push(f.store.pool().acquire().await.expect("connection"));
    }
    for mut connection in connections {
        let mode: String = sqlx::query("SHOW plan_cache_mode")
            .fetch_one(&mut *connection)
            .await
            .expect("show")
            .try_get(0)
            .expect("setting");
        assert_eq!(mode, "force_custom_plan");
    }
}
