//! Media held back from agents, over real HTTP with the simulator as the Graph API: the
//! fetch, sealed storage (no clear bytes in the database files), the tiny preview, the
//! reveal (reason, policy, audit), failures that are recorded and given up, and erasure.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::io::Cursor;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use support::browser::{Browser, Person};
use support::{TestApp, TestDatabase, OPERATIONS, SECRET};
use tokio::net::TcpListener;
use veilbox_store::audit::AuditFilter;
use veilbox_whatsapp::simulator::{self, CustomerMessage, Simulator, SimulatorConfig};

const TOKEN: &str = "test-graph-access-token";
const PRIYA: &str = "15555550142";

struct Rig {
    app: TestApp,
    sim: Simulator,
}

async fn rig() -> Rig {
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim_address = sim_listener.local_addr().expect("address");
    let app = TestApp::spawn_with(|c| {
        c.whatsapp.graph_url = format!("http://{sim_address}");
        c.whatsapp.access_token = Some(SecretString::from(TOKEN));
        c.whatsapp.retry_base = Duration::from_millis(50);
    })
    .await;
    let config = SimulatorConfig::new(
        SecretString::from(SECRET),
        SecretString::from(TOKEN),
        format!("{}/webhooks/whatsapp", app.base),
    );
    let sim = Simulator::new(config);
    tokio::spawn(simulator::serve(
        sim.clone(),
        sim_listener,
        std::future::pending(),
    ));
    Rig { app, sim }
}

/// Polls `check` until it returns Some, for up to `seconds`.
async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A 96×64 PNG of noise: its compressed bytes are a marker no other data contains.
fn noise_png() -> Vec<u8> {
    let mut seed: u32 = 0x9e37_79b9;
    let image = image::RgbImage::from_fn(96, 64, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [a, b, c, _] = seed.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// A message webhook from Priya carrying media `media_id` of `kind`.
fn media_webhook(wamid: &str, kind: &str, media_id: &str, mime: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut media = json!({"id": media_id, "mime_type": mime, "sha256": "opaque"});
    if kind == "document" {
        media["filename"] = json!("waybill.pdf");
    }
    let mut message = json!({"from": PRIYA, "id": wamid, "timestamp": now, "type": kind});
    message[kind] = media;
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "230811736742955", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": "Priya Raman"}, "wa_id": PRIYA}],
            "messages": [message]
        }}]}]
    }))
    .unwrap()
}

/// Posts a media webhook; returns (conversation, message id) once stored.
async fn customer_sends_media(app: &TestApp, wamid: &str, body: Vec<u8>) -> (String, String) {
    assert_eq!(app.post_signed(&body).await.status(), 200);
    eventually(10, "the media message", || async {
        let row = sqlx::query("SELECT id, conversation_id FROM messages WHERE wa_message_id = $1")
            .bind(wamid)
            .fetch_optional(app.store.pool())
            .await
            .unwrap()?;
        use sqlx::Row;
        Some((row.get("conversation_id"), row.get("id")))
    })
    .await
}

async fn media_state(app: &TestApp, message_id: &str) -> Option<(String, i64, Option<String>)> {
    use sqlx::Row;
    sqlx::query("SELECT state, attempts, error FROM media_files WHERE message_id = $1")
        .bind(message_id)
        .fetch_optional(app.store.pool())
        .await
        .unwrap()
        .map(|r| (r.get("state"), r.get("attempts"), r.get("error")))
}

async fn wait_for_state(app: &TestApp, message_id: &str, state: &str) -> (i64, Option<String>) {
    eventually(20, state, || async {
        media_state(app, message_id)
            .await
            .filter(|(s, _, _)| s == state)
            .map(|(_, attempts, error)| (attempts, error))
    })
    .await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file of the SQLite database (main file and WAL).
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let TestDatabase::Sqlite(dir) = &app.database else {
        panic!("a SQLite test app")
    };
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

async fn signed_in(app: &TestApp, person: &Person) -> Browser {
    let mut browser = Browser::new(app);
    browser.sign_in(person).await;
    browser
}

/// A browser's media reveal (session cookie and CSRF header, as the page script does).
async fn reveal(
    browser: &Browser,
    conversation: &str,
    message: &str,
    body: Value,
) -> reqwest::Response {
    browser
        .http
        .post(format!(
            "{}/api/v1/conversations/{conversation}/media/{message}/reveals",
            browser.base
        ))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .header("user-agent", &browser.user_agent)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_kept_sealed_previewed_tiny_and_revealed_only_with_a_reason() {
    let rig = rig().await;
    let app = &rig.app;
    let photo = noise_png();
    let marker = &photo[photo.len() / 2..photo.len() / 2 + 48];
    let media_id = rig.sim.put_media(photo.clone().into(), "image/png");
    let (conversation, message) = customer_sends_media(
        app,
        "wamid.media-photo-1",
        media_webhook("wamid.media-photo-1", "image", &media_id, "image/png"),
    )
    .await;
    let (attempts, _) = wait_for_state(app, &message, "stored").await;
    assert_eq!(attempts, 1);

    // Sealed at rest: the photo's bytes are nowhere in the database files.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(app.store.pool())
        .await
        .unwrap();
    assert!(
        !contains(&database_bytes(app), marker),
        "the photo is in the database in clear"
    );

    let alice = app
        .add_person("alice@example.com", "agent", Some(OPERATIONS))
        .await;
    let bob = app
        .add_person("bob@example.com", "agent", Some(OPERATIONS))
        .await;
    let a = signed_in(app, &alice).await;
    let b = signed_in(app, &bob).await;

    // In the queue: Alice sees the thread and the preview, but may not reveal yet.
    let page = a.page(&format!("/inbox/c/{conversation}")).await;
    let preview_path = format!("/inbox/c/{conversation}/m/{message}/preview");
    assert!(page.contains(&preview_path), "the thread shows the preview");
    assert!(
        !page.contains("Reveal original"),
        "no reveal button for someone the policy would refuse"
    );
    let preview = a.get(&preview_path).await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(preview.headers()["content-type"], "image/png");
    assert_eq!(preview.headers()["cache-control"], "no-store");
    let preview = preview.bytes().await.unwrap();
    let tiny = image::load_from_memory(&preview).unwrap();
    assert!(
        tiny.width() <= 16 && tiny.height() <= 16,
        "{}x{}",
        tiny.width(),
        tiny.height()
    );
    assert!(!contains(&preview, marker));

    // No route an agent loads carries the original before a reveal.
    let (_, thread) = app
        .api(&format!("/api/v1/conversations/{conversation}/messages"))
        .await;
    for body in [
        page.into_bytes(),
        a.get(&format!("/inbox/c/{conversation}/m/{message}"))
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        serde_json::to_vec(&thread).unwrap(),
        preview.to_vec(),
    ] {
        assert!(!contains(&body, marker));
    }

    let reason = json!({"reason": "delivery", "note": "is the parcel damaged?"});
    let refused = reveal(&a, &conversation, &message, reason.clone()).await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a queue conversation is not hers yet"
    );

    app.store
        .assign_conversation(&conversation, Some(&alice.id))
        .await
        .unwrap();
    assert!(
        a.page(&format!("/inbox/c/{conversation}"))
            .await
            .contains("Reveal original"),
        "the assigned agent is offered the original"
    );
    // Bob is not assigned: the conversation (and its media) is not his to know.
    assert_eq!(
        reveal(&b, &conversation, &message, reason.clone())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(b.get(&preview_path).await.status(), StatusCode::NOT_FOUND);
    // No reason, no reveal.
    for missing in [
        json!({}),
        json!({"reason": ""}),
        json!({"reason": "other", "note": " "}),
    ] {
        assert_eq!(
            reveal(&a, &conversation, &message, missing).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    // Without a CSRF header a browser's call is refused.
    let forged = a
        .http
        .post(format!(
            "{}/api/v1/conversations/{conversation}/media/{message}/reveals",
            a.base
        ))
        .header("cookie", a.cookie())
        .json(&reason)
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error());

    let revealed = reveal(&a, &conversation, &message, reason).await;
    assert_eq!(revealed.status(), StatusCode::OK);
    assert_eq!(revealed.headers()["content-type"], "image/png");
    assert_eq!(revealed.headers()["cache-control"], "no-store");
    assert!(revealed.headers().contains_key("x-reveal-expires-in"));
    assert_eq!(revealed.bytes().await.unwrap().as_ref(), photo.as_slice());

    let rows = app
        .store
        .audit_rows(
            &AuditFilter {
                action_prefix: Some("reveal".to_owned()),
                ..AuditFilter::default()
            },
            50,
        )
        .await
        .unwrap();
    let target = format!("{conversation} media/{message} MEDIA");
    let done: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "reveal" && r.target.as_deref() == Some(target.as_str()))
        .collect();
    assert_eq!(done.len(), 1, "one audited reveal");
    assert_eq!(done[0].actor, alice.id);
    assert!(rows
        .iter()
        .any(|r| r.action == "reveal.denied" && r.target.as_deref() == Some(target.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_failures_are_recorded_and_shown() {
    let rig = rig().await;
    let app = &rig.app;
    // A media id Meta no longer has (ids expire after 7 days): given up at once.
    let (conversation, gone) = customer_sends_media(
        app,
        "wamid.media-gone",
        media_webhook(
            "wamid.media-gone",
            "image",
            "1234567890123456",
            "image/jpeg",
        ),
    )
    .await;
    let (attempts, error) = wait_for_state(app, &gone, "failed").await;
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("no longer has"));

    // Larger than the cap: refused without being stored.
    let big = vec![0x42_u8; veilbox_server::media::MAX_MEDIA_BYTES + 1];
    let big_id = rig.sim.put_media(big.into(), "application/pdf");
    let (_, oversize) = customer_sends_media(
        app,
        "wamid.media-big",
        media_webhook("wamid.media-big", "document", &big_id, "application/pdf"),
    )
    .await;
    let (_, error) = wait_for_state(app, &oversize, "failed").await;
    assert!(error.unwrap().contains("larger than 16 MiB"));

    // A type that is never kept (it could run as a page of our origin).
    let html_id = rig
        .sim
        .put_media(b"<script>alert(1)</script>".to_vec().into(), "text/html");
    let (_, html) = customer_sends_media(
        app,
        "wamid.media-html",
        media_webhook("wamid.media-html", "document", &html_id, "text/html"),
    )
    .await;
    let (_, error) = wait_for_state(app, &html, "failed").await;
    assert!(error.unwrap().contains("not kept"));

    // The thread says so, instead of showing nothing.
    let supervisor = app
        .add_person("sam@example.com", "supervisor", Some(OPERATIONS))
        .await;
    let s = signed_in(app, &supervisor).await;
    let page = s.page(&format!("/inbox/c/{conversation}")).await;
    assert!(page.contains("Media could not be fetched"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_graph_api_is_retried_with_backoff_then_given_up() {
    // Nothing listens on the Graph address: every attempt fails and is retried.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_address = dead.local_addr().unwrap();
    drop(dead);
    let app = TestApp::spawn_with(|c| {
        c.whatsapp.graph_url = format!("http://{dead_address}");
        c.whatsapp.access_token = Some(SecretString::from(TOKEN));
        c.whatsapp.retry_base = Duration::from_millis(20);
    })
    .await;
    let (_, message) = customer_sends_media(
        &app,
        "wamid.media-unreachable",
        media_webhook(
            "wamid.media-unreachable",
            "image",
            "1234567890123457",
            "image/png",
        ),
    )
    .await;
    let (attempts, error) = wait_for_state(&app, &message, "failed").await;
    assert_eq!(attempts, veilbox_server::media::fetcher::MAX_ATTEMPTS);
    assert!(error.unwrap().starts_with("gave up after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_and_retention_delete_the_media() {
    let rig = rig().await;
    let app = &rig.app;
    rig.sim
        .customer_sends(PRIYA, CustomerMessage::Image { caption: None }, None)
        .await
        .unwrap();
    let conversation = eventually(10, "the conversation", || async {
        app.open_conversation_of(PRIYA).await
    })
    .await;
    eventually(10, "the fetched photo", || async {
        (app.count("SELECT COUNT(*) FROM media_files WHERE state = 'stored'")
            .await
            == 1)
            .then_some(())
    })
    .await;
    let customer = app
        .store
        .conversation(&conversation)
        .await
        .unwrap()
        .unwrap()
        .customer
        .id;
    let report = app.store.erase_customer(&customer).await.unwrap().unwrap();
    assert_eq!(report.media, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM media_files").await, 0);

    // Retention: media past the media period go with their messages.
    let other = "447700900123";
    rig.sim
        .customer_sends(other, CustomerMessage::Image { caption: None }, None)
        .await
        .unwrap();
    eventually(10, "the second photo", || async {
        (app.count("SELECT COUNT(*) FROM media_files WHERE state = 'stored'")
            .await
            == 1)
            .then_some(())
    })
    .await;
    let policy = veilbox_store::retention::RetentionPolicy {
        media: Some(Duration::ZERO),
        ..veilbox_store::retention::RetentionPolicy::default()
    };
    let purged = app
        .store
        .purge(&policy, veilbox_store::now_ms() + 1, false)
        .await
        .unwrap();
    assert!(purged.media >= 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM media_files").await, 0);
}
