//! The webhook and the JSON API over real HTTP on loopback, on a fresh SQLite file.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::collections::HashSet;

use support::{sample, sample_names, TestApp, API_TOKEN, SECRET, VERIFY_TOKEN};
use veilbox_whatsapp::{signature, webhook};

#[tokio::test]
async fn spec_signature_vectors_verify_over_http() {
    let app = TestApp::spawn().await;
    let vectors = [
        (
            "webhook_message_text_wire_compact.json",
            "sha256=d735fda1aaf1d0fa983987c3a226407efb1360c244ea7ca956a7f231aa273ec9",
        ),
        (
            "webhook_message_text.json",
            "sha256=fd8ab212d70f5de6543a5c5b25cc4153b4bad28670a7e8ef35fd04d90b91955c",
        ),
        (
            "webhook_status_failed_131047_reengagement.json",
            "sha256=245bf78664f8823de14f34bd45348c4c85b7c5b88dc0918debf9cf6c6c4b932a",
        ),
    ];
    for (name, header) in vectors {
        let body = sample(name);
        assert_eq!(
            signature::sign(SECRET.as_bytes(), &body),
            header,
            "{name}: vector"
        );
        let response = app.post_with_signature(&body, Some(header)).await;
        assert_eq!(response.status(), 200, "{name}");
    }
    // The compact sample re-serialised as raw UTF-8 must not verify with its header.
    let compact = sample("webhook_message_text_wire_compact.json");
    let reencoded =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&compact).expect("json"))
            .expect("json");
    assert_ne!(reencoded, compact);
    let response = app
        .post_with_signature(
            &reencoded,
            Some("sha256=d735fda1aaf1d0fa983987c3a226407efb1360c244ea7ca956a7f231aa273ec9"),
        )
        .await;
    assert_eq!(response.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn every_sample_is_acknowledged_and_read_back_through_the_api() {
    let app = TestApp::spawn().await;
    let mut expected_ids = HashSet::new();
    let mut outbound_ids = HashSet::new();
    for name in sample_names() {
        let body = sample(&name);
        let parsed = webhook::parse(&body).expect("sample parses");
        expected_ids.extend(parsed.messages.iter().map(|m| m.wa_message_id.clone()));
        outbound_ids.extend(parsed.statuses.iter().map(|s| s.wa_message_id.clone()));
        let response = app.post_signed(&body).await;
        assert_eq!(response.status(), 200, "{name}");
    }
    let messages = app.all_messages().await;
    let read_back: HashSet<String> = messages
        .iter()
        .map(|m| m["wa_message_id"].as_str().expect("wamid").to_owned())
        .collect();
    assert_eq!(read_back, expected_ids, "every message once, nothing else");
    assert_eq!(messages.len(), expected_ids.len(), "no duplicates");
    for m in &messages {
        for field in [
            "id",
            "wa_message_id",
            "type",
            "direction",
            "timestamp",
            "content",
        ] {
            assert!(!m[field].is_null(), "{field} missing in {m}");
        }
    }
    let by_id = |id: &str| {
        messages
            .iter()
            .find(|m| m["wa_message_id"] == id)
            .cloned()
            .expect("message present")
    };
    let text = by_id("wamid.HBgLMTU1NTU1NTAxNDIVAgASGBQ5MDk4ODgxQTVFOTRGMDU2QTRFOQA=");
    assert_eq!(
        text["content"]["body"],
        "Hi, my order #48213 hasn't arrived yet. Can you check?"
    );
    assert_eq!(text["timestamp"], "2026-05-28T15:15:00Z");
    // The compact body's \u escapes come back as the characters they encode.
    let compact = by_id("wamid.HBgNNTUxMTk4NzY1MDEyMxUCABIYFDRGMUMyQjlBN0UzRDVDOEI2QTAxAA==");
    assert_eq!(
        compact["content"]["body"],
        "Olá! Vocês entregam em São Paulo? 😊"
    );
    let kinds: HashSet<&str> = messages
        .iter()
        .filter_map(|m| m["content"]["kind"].as_str())
        .collect();
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
        assert!(kinds.contains(kind), "{kind} not rendered: {kinds:?}");
    }
    assert!(messages.iter().any(|m| m["context"]["forwarded"] == true));
    assert!(messages
        .iter()
        .any(|m| m["context"]["frequently_forwarded"] == true));
    assert!(
        messages
            .iter()
            .any(|m| m["content"]["kind"] == "reaction" && m["content"]["emoji"].is_null()),
        "removed reaction"
    );
    // Receipts are readable per outbound wamid, merged. These messages were not sent by
    // Veilbox (no conversation holds them): platform data, for the admin.
    for id in &outbound_ids {
        let (status, delivery) = app.admin_api(&format!("/api/v1/deliveries/{id}")).await;
        assert_eq!(status, 200, "{id}");
        assert!(delivery["state"].is_string());
    }
    let (_, errors) = app.admin_api("/api/v1/admin/platform-errors").await;
    let codes: HashSet<i64> = errors["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["code"].as_i64())
        .collect();
    assert!(
        codes.contains(&130_429) && codes.contains(&131_000),
        "value.errors recorded: {codes:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_changed_byte_or_a_bad_signature_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let body = sample("webhook_message_text.json");
    let header = signature::sign(SECRET.as_bytes(), &body);
    let mut tampered = body.clone();
    let at = tampered
        .iter()
        .position(|b| *b == b'#')
        .expect("order number");
    tampered[at + 1] = b'9';
    let sha1 = header.replacen("sha256", "sha1", 1);
    let other_secret = signature::sign(b"someone else's secret", &body);
    let cases: [(&[u8], Option<&str>); 6] = [
        (&tampered, Some(&header)),
        (&body, None),
        (&body, Some("sha256=")),
        (&body, Some("not a signature")),
        (&body, Some(&sha1)),
        (&body, Some(&other_secret)),
    ];
    for (i, (body, header)) in cases.iter().enumerate() {
        let response = app.post_with_signature(body, *header).await;
        assert_eq!(response.status(), 401, "case {i}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_events").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM dead_letters").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_dead_lettered_and_oversize_is_refused() {
    let app = TestApp::spawn().await;
    let broken = b"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":".to_vec();
    let response = app.post_signed(&broken).await;
    assert_eq!(response.status(), 400);
    let not_envelope = b"[1,2,3]".to_vec();
    assert_eq!(app.post_signed(&not_envelope).await.status(), 400);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM dead_letters").await,
        2,
        "both bodies kept"
    );
    let (_, backlog) = app.admin_api("/api/v1/admin/ingest-backlog").await;
    assert_eq!(backlog["dead_letters"], 2);

    let mut huge = br#"{"object":"whatsapp_business_account","entry":[],"pad":""#.to_vec();
    huge.resize(1024 * 1024 + 1, b'x');
    huge.extend_from_slice(b"\"}");
    let response = app.post_signed(&huge).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_events").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM dead_letters").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn redeliveries_and_duplicates_change_nothing() {
    let app = TestApp::spawn().await;
    for name in [
        "webhook_message_text.json",
        "webhook_message_text_duplicate_redelivery.json",
        "webhook_message_text.json",
    ] {
        assert_eq!(app.post_signed(&sample(name)).await.status(), 200);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_events").await, 1);
    assert_eq!(app.all_messages().await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn out_of_order_statuses_end_in_the_highest_state() {
    let app = TestApp::spawn().await;
    let id = "wamid.HBgLMTU1NTU1NTAxNDIVAgARGBI3QkMyQzMzNkMwQ0VFMDVBNUMA";
    for name in [
        "webhook_status_read.json",
        "webhook_status_sent.json",
        "webhook_status_delivered.json",
        "webhook_status_read.json",
    ] {
        assert_eq!(app.post_signed(&sample(name)).await.status(), 200);
    }
    let (status, _) = app.api(&format!("/api/v1/deliveries/{id}")).await;
    assert_eq!(
        status, 404,
        "not a conversation's message: not the supervisor's to read"
    );
    let (status, delivery) = app.admin_api(&format!("/api/v1/deliveries/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(delivery["state"], "read");
    assert_eq!(delivery["receipts"].as_array().expect("receipts").len(), 3);

    assert_eq!(
        app.post_signed(&sample("webhook_status_failed_131026_undeliverable.json"))
            .await
            .status(),
        200
    );
    let failed =
        webhook::parse(&sample("webhook_status_failed_131026_undeliverable.json")).expect("parse");
    let (_, delivery) = app
        .admin_api(&format!(
            "/api/v1/deliveries/{}",
            failed.statuses[0].wa_message_id
        ))
        .await;
    assert_eq!(delivery["state"], "failed");
    assert_eq!(delivery["error"]["code"], 131_026);
    assert!(delivery["error"]["title"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn unknown_numbers_are_acknowledged_and_kept_unrouted() {
    let app =
        TestApp::spawn_with(|c| c.whatsapp.auto_inbox = veilbox_store::ingest::InboxPolicy::Never)
            .await;
    let response = app.post_signed(&sample("webhook_message_text.json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 0);
    let (_, backlog) = app.admin_api("/api/v1/admin/ingest-backlog").await;
    assert_eq!(backlog["unrouted_events"], 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_events WHERE routed = 0")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = TestApp::spawn().await;
    let get = |query: String| {
        let client = app.client.clone();
        let url = format!("{}/webhooks/whatsapp?{query}", app.base);
        async move { client.get(url).send().await.expect("request") }
    };
    let ok = get(format!(
        "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
    ))
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("body"), "42");
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42".to_owned(),
        format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"),
        format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
        "hub.challenge=42".to_owned(),
    ] {
        assert_eq!(get(query.clone()).await.status(), 403, "{query}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_api_needs_the_token_and_pages_are_bounded() {
    let app = TestApp::spawn().await;
    let url = format!("{}/api/v1/conversations", app.base);
    assert_eq!(
        app.client.get(&url).send().await.expect("req").status(),
        401
    );
    assert_eq!(
        app.client
            .get(&url)
            .bearer_auth("wrong-token-wrong-token")
            .send()
            .await
            .expect("req")
            .status(),
        401
    );
    assert_eq!(
        app.post_signed(&sample("webhook_message_text.json"))
            .await
            .status(),
        200
    );
    let (status, listed) = app.api("/api/v1/conversations").await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
    // The bootstrap token is an admin: admins configure and are not readers of
    // conversations, so the list answers but holds nothing.
    let (status, listed) = app.admin_api("/api/v1/conversations").await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"], serde_json::json!([]));
    let (status, _) = app
        .api("/api/v1/conversations/does-not-exist/messages")
        .await;
    assert_eq!(status, 404);
    let (status, body) = app.api("/api/v1/conversations?cursor=nonsense").await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid cursor"))
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("req");
    assert_eq!(health.status(), 200);
    app.stop().await;

    let closed = TestApp::spawn_with(|c| c.api_token = None).await;
    let response = closed
        .client
        .get(format!("{}/api/v1/conversations", closed.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await;
    assert_eq!(
        response.expect("req").status(),
        401,
        "no token configured: the API is closed"
    );
    closed.stop().await;
}

#[tokio::test]
async fn a_dead_database_answers_503_so_meta_retries() {
    let Some(mut app) = TestApp::spawn_postgres().await else {
        return;
    };
    assert_eq!(
        app.post_signed(&sample("webhook_message_text.json"))
            .await
            .status(),
        200
    );
    if let support::TestDatabase::Postgres(scratch) = &mut app.database {
        let scratch = scratch.take().expect("scratch");
        scratch
            .drop_database()
            .await
            .expect("drop the database under the server");
    }
    let response = app.post_signed(&sample("webhook_message_image.json")).await;
    assert_eq!(
        response.status(),
        503,
        "not acknowledged: Meta will redeliver"
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body["error"], "storage unavailable, retry later",
        "no internal detail leaks"
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("req");
    assert_eq!(health.status(), 503);
    app.stop().await;
}

#[tokio::test]
async fn postgres_serves_the_same_api() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    for name in sample_names() {
        assert_eq!(
            app.post_signed(&sample(&name)).await.status(),
            200,
            "{name}"
        );
    }
    let messages = app.all_messages().await;
    let distinct: HashSet<&str> = messages
        .iter()
        .filter_map(|m| m["wa_message_id"].as_str())
        .collect();
    assert_eq!(distinct.len(), messages.len());
    assert!(messages.len() >= 27);
    app.stop().await;
}

#[tokio::test]
async fn a_body_the_store_refuses_is_answered_200_quarantined_and_reprocessed() {
    let app = TestApp::spawn().await;
    let body = sample("webhook_message_text.json");
    let wamid = webhook::parse(&body).expect("parse").messages[0]
        .wa_message_id
        .clone();
    // A real failure inside the database's transaction, as a constraint or a bug would be.
    sqlx::query(&format!(
        "CREATE TRIGGER inject_fault BEFORE INSERT ON messages WHEN NEW.wa_message_id = '{wamid}' \
         BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
    ))
    .execute(app.store.pool())
    .await
    .expect("trigger");
    let response = app.post_signed(&body).await;
    assert_eq!(response.status(), 200, "stored, so Meta must not retry");
    let report: serde_json::Value = response.json().await.expect("json");
    assert_eq!(report["quarantined"], true);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_events").await, 1);
    let (_, backlog) = app.admin_api("/api/v1/admin/ingest-backlog").await;
    assert_eq!(backlog["quarantined_events"], 1);
    let (status, list) = app.admin_api("/api/v1/admin/quarantine").await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert!(items[0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("injected fault")));
    // An agent may not see or re-run it.
    let (status, _) = app.api("/api/v1/admin/quarantine").await;
    assert!(status == 403 || status == 404, "{status}");

    sqlx::query("DROP TRIGGER inject_fault")
        .execute(app.store.pool())
        .await
        .expect("drop");
    let (status, rerun) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/admin/quarantine/reprocess",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rerun}");
    assert_eq!(rerun["normalised"], 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM messages").await, 1);
    assert_eq!(app.all_messages().await.len(), 1, "in the inbox now");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'webhooks.reprocessed'")
            .await,
        1
    );
    app.stop().await;
}

/// A customer's marketing stop reaches their record: the customer API and the card beside
/// the thread say so; a resume lifts it.
#[tokio::test]
async fn a_marketing_stop_is_shown_on_the_customer() {
    let app = TestApp::spawn().await;
    let phone = "447700900333";
    let body = |field: &str, key: &str, item: serde_json::Value| {
        serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": field, "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
                "contacts": [{"profile": {"name": "Nia"}, "wa_id": phone}],
                key: [item]
            }}]}]
        })
        .to_string()
        .into_bytes()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let text = body(
        "messages",
        "messages",
        serde_json::json!({"from": phone, "id": "wamid.PREF1",
        "timestamp": now.to_string(), "type": "text", "text": {"body": "where is my parcel?"}}),
    );
    assert_eq!(app.post_signed(&text).await.status(), 200);
    let preference = |value: &str, at: u64| {
        body(
            "user_preferences",
            "user_preferences",
            serde_json::json!({"wa_id": phone,
            "category": "marketing_messages", "value": value, "timestamp": at}),
        )
    };
    assert_eq!(
        app.post_signed(&preference("stop", now)).await.status(),
        200
    );
    let conversation = app.open_conversation_of(phone).await.expect("conversation");
    let customer: String = sqlx::Row::get(
        &sqlx::query("SELECT customer_id FROM conversations WHERE id = $1")
            .bind(&conversation)
            .fetch_one(app.store.pool())
            .await
            .unwrap(),
        "customer_id",
    );
    let (status, card) = app.api(&format!("/api/v1/customers/{customer}")).await;
    assert_eq!(status, 200, "{card}");
    assert!(card["marketing_opt_out_at"].is_string(), "{card}");
    assert_eq!(
        app.post_signed(&preference("resume", now + 60))
            .await
            .status(),
        200
    );
    let (_, card) = app.api(&format!("/api/v1/customers/{customer}")).await;
    assert!(card["marketing_opt_out_at"].is_null(), "{card}");
    app.stop().await;
}
