//! The simulator over real HTTP on 127.0.0.1:0, with a fake "Veilbox" receiver that
//! verifies the signature of everything the simulator posts.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use veilbox_whatsapp::graph::{
    GraphClient, GraphConfig, MediaRef, OutboundBody, OutboundMessage, SendError,
};
use veilbox_whatsapp::simulator::{
    serve, CustomerMessage, Faults, InjectedError, Simulator, SimulatorConfig, WindowMode,
};
use veilbox_whatsapp::{signature, webhook};

const APP_SECRET: &str = "wa_test_app_secret_9f8e7d6c5b4a";
const TOKEN: &str = "sim-access-token-for-tests";
const VERIFY: &str = "s3cret";
const PNID: &str = "118440581239876";
const PRIYA: &str = "15555550142";
const OLIVER: &str = "447700900461";

fn sample(path: &str) -> Vec<u8> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/whatsapp/samples")
        .join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many posts before answering 200.
    fail_first: Arc<AtomicUsize>,
}

#[derive(Clone, Debug)]
struct Received {
    body: Vec<u8>,
    signed: bool,
}

impl Receiver {
    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every status (wamid, status, callback data, error code) in arrival order.
    fn statuses(&self) -> Vec<(String, String, Option<String>, Option<i64>)> {
        self.all()
            .iter()
            .flat_map(|r| webhook::parse(&r.body).unwrap().statuses)
            .map(|s| {
                (
                    s.wa_message_id,
                    s.status,
                    s.callback_data,
                    s.error.and_then(|e| e.code),
                )
            })
            .collect()
    }

    fn statuses_of(&self, wamid: &str) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter(|s| s.0 == wamid)
            .map(|s| s.1)
            .collect()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    let signed = signature::verify(APP_SECRET.as_bytes(), &body, header).is_ok();
    receiver.received.lock().unwrap().push(Received {
        body: body.to_vec(),
        signed,
    });
    if !signed {
        return StatusCode::UNAUTHORIZED;
    }
    let failing = receiver.fail_first.load(Ordering::SeqCst);
    if failing > 0 {
        receiver.fail_first.store(failing - 1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn handshake(
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, String) {
    if query.get("hub.mode").map(String::as_str) == Some("subscribe")
        && query.get("hub.verify_token").map(String::as_str) == Some(VERIFY)
    {
        (
            StatusCode::OK,
            query.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

struct Harness {
    simulator: Simulator,
    base_url: String,
    receiver: Receiver,
    http: reqwest::Client,
}

impl Harness {
    fn client(&self, timeout: Duration) -> GraphClient {
        GraphClient::new(GraphConfig {
            base_url: self.base_url.clone(),
            version: "v24.0".into(),
            access_token: TOKEN.into(),
            timeout,
        })
        .unwrap()
    }

    async fn post_graph(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn start(adjust: impl FnOnce(&mut SimulatorConfig)) -> Harness {
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/webhooks/whatsapp", post(receive).get(handshake))
        .with_state(receiver.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://{}/webhooks/whatsapp",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let mut config = SimulatorConfig::new(APP_SECRET.into(), TOKEN.into(), callback);
    config.verify_token = Some(VERIFY.into());
    config.status_interval = Duration::from_millis(40);
    config.webhook_retry_base = Duration::from_millis(20);
    adjust(&mut config);
    let simulator = Simulator::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(simulator.clone(), listener, std::future::pending()));
    Harness {
        simulator,
        base_url,
        receiver,
        http: reqwest::Client::new(),
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_to(to: &str, body: &str, outbox: &str) -> OutboundMessage {
    let mut message = OutboundMessage::text(to, body);
    message.callback_data = Some(outbox.into());
    message
}

#[tokio::test]
async fn customer_messages_are_signed_compact_and_escaped_like_meta() {
    let h = start(|_| {}).await;
    let wamid = h
        .simulator
        .customer_says(PRIYA, "Olá! Is my parcel 😊 on its way?")
        .await
        .unwrap();
    eventually("the message webhook", || !h.receiver.all().is_empty()).await;
    let received = &h.receiver.all()[0];
    assert!(received.signed);
    assert!(received.body.is_ascii(), "non-ASCII must be \\u-escaped");
    let text = String::from_utf8(received.body.clone()).unwrap();
    assert!(text.contains(r"Ol\u00e1!"));
    assert!(text.contains(r"\ud83d\ude0a"));
    assert!(!text.contains('\n'));
    let parsed = webhook::parse(&received.body).unwrap();
    assert_eq!(parsed.messages.len(), 1);
    let message = &parsed.messages[0];
    assert_eq!(message.wa_message_id, wamid);
    assert_eq!(message.customer.wa_id.as_deref(), Some(PRIYA));
    assert_eq!(
        message.customer.profile_name.as_deref(),
        Some("Priya Raman")
    );
    assert_eq!(
        message.content.text(),
        Some("Olá! Is my parcel 😊 on its way?")
    );
    assert_eq!(message.business.phone_number_id, PNID);
    assert_eq!(message.business.waba_id.as_deref(), Some("230811736742955"));
    eventually("inbound marked delivered", || {
        h.simulator.message(&wamid).unwrap().state == "delivered"
    })
    .await;
}

#[tokio::test]
async fn image_and_location_messages() {
    let h = start(|_| {}).await;
    h.simulator
        .customer_sends(
            PRIYA,
            CustomerMessage::Image {
                caption: Some("The box is damaged".into()),
            },
            None,
        )
        .await
        .unwrap();
    h.simulator
        .customer_sends(
            OLIVER,
            CustomerMessage::Location {
                latitude: 51.5,
                longitude: -0.12,
                name: Some("Home".into()),
                address: None,
            },
            None,
        )
        .await
        .unwrap();
    eventually("two webhooks", || h.receiver.all().len() == 2).await;
    let mut kinds: Vec<String> = h
        .receiver
        .all()
        .iter()
        .flat_map(|r| webhook::parse(&r.body).unwrap().messages)
        .map(|m| m.declared_type)
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["image", "location"]);

    // The image's media id downloads through the Graph client.
    let image = h
        .receiver
        .all()
        .iter()
        .flat_map(|r| webhook::parse(&r.body).unwrap().messages)
        .find(|m| m.declared_type == "image")
        .unwrap();
    let media_id = image.raw["image"]["id"].as_str().unwrap().to_owned();
    let client = h.client(Duration::from_secs(5));
    let info = client.media(&media_id).await.unwrap();
    let bytes = client.download(&info).await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    assert_eq!(info.file_size, Some(bytes.len() as u64));
}

#[tokio::test]
async fn an_accepted_send_goes_sent_delivered_read_with_the_callback_data() {
    let h = start(|_| {}).await;
    h.simulator.customer_says(PRIYA, "hello").await.unwrap();
    let client = h.client(Duration::from_secs(5));
    let accepted = client
        .send(PNID, &text_to("+1 555-555-0142", "On its way", "outbox-1"))
        .await
        .unwrap();
    assert_eq!(accepted.wa_id.as_deref(), Some(PRIYA));
    assert!(accepted
        .wa_message_id
        .starts_with("wamid.HBgLMTU1NTU1NTAxNDIVAgARGB"));
    let wamid = accepted.wa_message_id.clone();
    eventually("three statuses", || {
        h.receiver.statuses_of(&wamid).len() == 3
    })
    .await;
    assert_eq!(
        h.receiver.statuses_of(&wamid),
        ["sent", "delivered", "read"]
    );
    for status in h.receiver.statuses().iter().filter(|s| s.0 == wamid) {
        assert_eq!(status.2.as_deref(), Some("outbox-1"));
    }
    assert!(h.receiver.all().iter().all(|r| r.signed));
    let sent = h.simulator.sent_to(PRIYA);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].state, "read");
    assert_eq!(sent[0].text.as_deref(), Some("On its way"));
    let counters = h.simulator.counters();
    assert_eq!(counters.accepted, 1);
    assert_eq!(counters.accepted_by_callback_data.get("outbox-1"), Some(&1));
    assert!(counters.sent_twice().is_empty());
}

#[tokio::test]
async fn the_24_hour_window_sync_and_async() {
    let h = start(|_| {}).await;
    let client = h.client(Duration::from_secs(5));
    // Never wrote: free-form refused at once, a template goes through.
    let error = client
        .send(PNID, &text_to(OLIVER, "hi", "outbox-a"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(131047));
    assert_eq!(
        error.to_string(),
        "outside the 24-hour window, send a template"
    );
    let template = OutboundMessage {
        to: OLIVER.into(),
        reply_to: None,
        callback_data: Some("outbox-b".into()),
        body: OutboundBody::Template {
            name: "order_shipped".into(),
            language: "en_GB".into(),
            components: json!([]),
        },
    };
    let accepted = client.send(PNID, &template).await.unwrap();
    assert_eq!(accepted.message_status.as_deref(), Some("accepted"));

    // Writing opens the window; 25 hours later it is closed again.
    h.simulator.customer_says(OLIVER, "ok").await.unwrap();
    client
        .send(PNID, &text_to(OLIVER, "thanks", "outbox-c"))
        .await
        .unwrap();
    h.simulator.advance_clock(Duration::from_secs(25 * 3600));
    let error = client
        .send(PNID, &text_to(OLIVER, "late", "outbox-d"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(131047));

    // Asynchronous mode: 200, then a failed status with 131047.
    let h = start(|c| c.window_mode = WindowMode::Async).await;
    let client = h.client(Duration::from_secs(5));
    let accepted = client
        .send(PNID, &text_to(OLIVER, "hi", "outbox-e"))
        .await
        .unwrap();
    eventually("failed status", || {
        h.receiver.statuses_of(&accepted.wa_message_id) == ["failed"]
    })
    .await;
    let failed = h.receiver.statuses();
    assert_eq!(failed[0].3, Some(131047));
    assert_eq!(failed[0].2.as_deref(), Some("outbox-e"));
    eventually("failed recorded", || {
        h.simulator.sent_to(OLIVER)[0].state == "failed"
    })
    .await;
    assert_eq!(h.simulator.sent_to(OLIVER)[0].error_code, Some(131047));
}

#[tokio::test]
async fn a_wrong_token_is_190_at_401() {
    let h = start(|_| {}).await;
    let client = GraphClient::new(GraphConfig {
        base_url: h.base_url.clone(),
        version: "v25.0".into(),
        access_token: "not-the-token".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let error = client
        .send(PNID, &OutboundMessage::text(PRIYA, "hi"))
        .await
        .unwrap_err();
    assert_eq!(error, SendError::TokenExpired { code: 190 });
    let response = h
        .http
        .post(format!("{}/v24.0/{PNID}/messages", h.base_url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 190);
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(body["error"]["fbtrace_id"].is_string());
}

#[tokio::test]
async fn invalid_requests_get_graph_error_bodies() {
    let h = start(|c| c.window_mode = WindowMode::Off).await;
    let path = format!("/v24.0/{PNID}/messages");
    let cases = [
        (
            json!({ "to": PRIYA, "type": "text", "text": { "body": "x" } }),
            100,
        ),
        (
            json!({ "messaging_product": "whatsapp", "type": "text", "text": { "body": "x" } }),
            131008,
        ),
        (
            json!({ "messaging_product": "whatsapp", "to": PRIYA, "text": { "body": "x" } }),
            131008,
        ),
        (
            json!({ "messaging_product": "whatsapp", "to": PRIYA, "type": "text", "text": {} }),
            131008,
        ),
        (
            json!({ "messaging_product": "whatsapp", "to": PRIYA, "type": "hologram", "hologram": {} }),
            100,
        ),
        (
            json!({ "messaging_product": "whatsapp", "to": "12", "type": "text", "text": { "body": "x" } }),
            100,
        ),
        (
            json!({ "messaging_product": "whatsapp", "to": PRIYA, "type": "image", "image": { "id": "404" } }),
            131009,
        ),
        (
            json!({ "messaging_product": "whatsapp", "to": PRIYA, "type": "interactive", "interactive": {
            "type": "button", "body": { "text": "Pick" },
            "action": { "buttons": [ { "type": "reply", "reply": { "id": "a", "title": "A title far longer than twenty" } } ] } } }),
            131009,
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = h.post_graph(&path, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert_eq!(answer["error"]["type"], "OAuthException");
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("(#{code})")));
    }
    let (_, answer) = h
        .post_graph(
            &path,
            json!({ "messaging_product": "whatsapp", "to": PRIYA, "type": "text", "text": {} }),
        )
        .await;
    assert_eq!(
        answer["error"]["error_data"]["details"],
        "Param text['body'] is required."
    );
    // Versions must look like v24.0.
    let (status, _) = h
        .post_graph(&format!("/v24/{PNID}/messages"), json!({}))
        .await;
    assert_eq!(status, 400);
    // The sample request bodies are all valid.
    for file in [
        "send_text_request.json",
        "send_text_reply_request.json",
        "send_template_request.json",
        "send_document_by_link_request.json",
        "send_interactive_buttons_request.json",
        "send_interactive_list_request.json",
        "send_reaction_request.json",
    ] {
        let response = h
            .http
            .post(format!("{}{path}", h.base_url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(sample(&format!("graph_api/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{file}");
        let body: Value = response.json().await.unwrap();
        assert!(body["messages"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("wamid."));
    }
    assert_eq!(h.simulator.counters().accepted, 7);
}

fn without_trace(mut body: Value) -> Value {
    body["error"].as_object_mut().unwrap().remove("fbtrace_id");
    body
}

#[tokio::test]
async fn injected_faults_answer_like_the_samples() {
    let h = start(|c| c.window_mode = WindowMode::Off).await;
    let path = format!("/v24.0/{PNID}/messages");
    let cases = [
        (
            InjectedError::Throughput,
            400,
            Some("error_130429_throughput.json"),
            "retryable",
        ),
        (
            InjectedError::PairRate,
            400,
            Some("error_131056_pair_rate_limit.json"),
            "retryable",
        ),
        (
            InjectedError::AppRate,
            400,
            Some("error_4_app_rate_limit.json"),
            "retryable",
        ),
        (
            InjectedError::WabaRate,
            400,
            Some("error_80007_waba_rate_limit.json"),
            "retryable",
        ),
        (
            InjectedError::Generic,
            500,
            Some("error_131000_generic.json"),
            "retryable",
        ),
        (
            InjectedError::WindowSync,
            400,
            Some("error_131047_reengagement.json"),
            "permanent",
        ),
        (
            InjectedError::NotAllowed,
            400,
            Some("error_131030_not_in_allowed_list.json"),
            "permanent",
        ),
        (InjectedError::Unavailable, 503, None, "retryable"),
        (InjectedError::TokenExpired, 401, None, "token_expired"),
    ];
    let client = h.client(Duration::from_secs(5));
    for (injected, status, file, class) in cases {
        h.simulator
            .set_faults(Faults {
                error_rate: 1.0,
                errors: vec![injected],
                ..Faults::default()
            })
            .unwrap();
        let (got_status, body) = h
            .post_graph(&path, json!({ "messaging_product": "whatsapp", "to": PRIYA, "type": "text", "text": { "body": "x" } }))
            .await;
        assert_eq!(got_status, status, "{injected:?}");
        assert_eq!(body["error"]["code"], injected.code(), "{injected:?}");
        if let Some(file) = file {
            let expected: Value =
                serde_json::from_slice(&sample(&format!("graph_api/{file}"))).unwrap();
            assert_eq!(without_trace(body), without_trace(expected), "{file}");
        }
        let error = client
            .send(PNID, &OutboundMessage::text(PRIYA, "x"))
            .await
            .unwrap_err();
        assert_eq!(error.class(), class, "{injected:?}");
    }
    assert_eq!(h.simulator.counters().accepted, 0);
}

#[tokio::test]
async fn async_undeliverable_fails_by_webhook() {
    let h = start(|c| c.window_mode = WindowMode::Off).await;
    h.simulator
        .set_faults(Faults {
            error_rate: 1.0,
            errors: vec![InjectedError::UndeliverableAsync],
            ..Faults::default()
        })
        .unwrap();
    let accepted = h
        .client(Duration::from_secs(5))
        .send(PNID, &text_to(PRIYA, "hi", "outbox-u"))
        .await
        .unwrap();
    eventually("failed status", || {
        h.receiver.statuses_of(&accepted.wa_message_id) == ["failed"]
    })
    .await;
    assert_eq!(h.receiver.statuses()[0].3, Some(131026));
}

#[tokio::test]
async fn a_hanging_send_is_unconfirmed_yet_goes_out_once() {
    let h = start(|c| c.window_mode = WindowMode::Off).await;
    h.simulator
        .set_faults(Faults {
            hang_rate: 1.0,
            hang_ms: 3_000,
            ..Faults::default()
        })
        .unwrap();
    let client = h.client(Duration::from_millis(400));
    let error = client
        .send(PNID, &text_to(PRIYA, "maybe", "outbox-h"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), "unconfirmed", "{error:?}");
    // It did go out: the statuses reconcile it by the callback data.
    eventually("statuses of the hung send", || {
        h.receiver
            .statuses()
            .iter()
            .any(|s| s.2.as_deref() == Some("outbox-h") && s.1 == "read")
    })
    .await;
    assert_eq!(
        h.simulator
            .counters()
            .accepted_by_callback_data
            .get("outbox-h"),
        Some(&1)
    );

    // Latency is added to every call.
    h.simulator
        .set_faults(Faults {
            latency_ms: 300,
            ..Faults::default()
        })
        .unwrap();
    let started = Instant::now();
    h.client(Duration::from_secs(5))
        .send(PNID, &text_to(PRIYA, "slow", "outbox-l"))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn duplicates_and_out_of_order_statuses_when_set() {
    let h = start(|c| c.window_mode = WindowMode::Off).await;
    h.simulator
        .set_faults(Faults {
            duplicate_rate: 1.0,
            out_of_order_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let accepted = h
        .client(Duration::from_secs(5))
        .send(PNID, &text_to(PRIYA, "twice", "outbox-x"))
        .await
        .unwrap();
    let wamid = accepted.wa_message_id;
    eventually("six status posts", || {
        h.receiver.statuses_of(&wamid).len() == 6
    })
    .await;
    assert_eq!(
        h.receiver.statuses_of(&wamid),
        ["sent", "sent", "read", "read", "delivered", "delivered"]
    );
    // Duplicates are byte-identical.
    let bodies: Vec<Vec<u8>> = h.receiver.all().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(h.simulator.counters().webhook_duplicates, 3);
    // The simulator's own record never moves backwards.
    assert_eq!(h.simulator.sent_to(PRIYA)[0].state, "read");
}

#[tokio::test]
async fn webhooks_are_retried_until_acknowledged() {
    let h = start(|_| {}).await;
    h.receiver.fail_first.store(2, Ordering::SeqCst);
    let wamid = h.simulator.customer_says(PRIYA, "retry me").await.unwrap();
    eventually("a delivered webhook", || {
        h.simulator.deliveries().iter().any(|d| d.delivered)
    })
    .await;
    let delivery = &h.simulator.deliveries()[0];
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.wamid.as_deref(), Some(wamid.as_str()));
    let bodies: Vec<Vec<u8>> = h.receiver.all().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "retries resend the same bytes"
    );
    assert_eq!(h.simulator.counters().webhook_retries, 2);

    // A receiver that never answers 200 is given up after the bounded attempts.
    let h = start(|c| c.webhook_max_attempts = 3).await;
    h.receiver.fail_first.store(100, Ordering::SeqCst);
    h.simulator.customer_says(PRIYA, "lost").await.unwrap();
    eventually("abandoned", || {
        h.simulator.counters().webhooks_abandoned == 1
    })
    .await;
    assert_eq!(h.receiver.all().len(), 3);
}

fn multipart(boundary: &str, bytes: &[u8], mime: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n").as_bytes());
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"label.pdf\"\r\nContent-Type: {mime}\r\n\r\n").as_bytes());
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn media_upload_metadata_download_expiry_and_delete() {
    let h = start(|c| c.window_mode = WindowMode::Off).await;
    let file = b"%PDF-1.4 return label".to_vec();
    let response = h
        .http
        .post(format!("{}/v24.0/{PNID}/media", h.base_url))
        .bearer_auth(TOKEN)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(multipart("XyZ", &file, "application/pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    let media_id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(media_id.len(), 16);

    let client = h.client(Duration::from_secs(5));
    let info = client.media(&media_id).await.unwrap();
    assert_eq!(info.mime_type.as_deref(), Some("application/pdf"));
    assert!(info
        .url
        .starts_with(&format!("{}/simulator/media/", h.base_url)));
    assert_eq!(
        client.download(&info).await.unwrap().as_ref(),
        file.as_slice()
    );

    // The download URL needs the Bearer token.
    let anonymous = h.http.get(&info.url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // An uploaded media id can be sent.
    let image = OutboundMessage {
        to: PRIYA.into(),
        reply_to: None,
        callback_data: None,
        body: OutboundBody::Document {
            media: MediaRef::Id(media_id.clone()),
            caption: None,
            filename: Some("label.pdf".into()),
        },
    };
    client.send(PNID, &image).await.unwrap();

    // URLs expire after the configured time.
    h.simulator.advance_clock(Duration::from_secs(6 * 60));
    let error = client.download(&info).await.unwrap_err();
    assert_eq!(error.class(), "permanent");
    let fresh = client.media(&media_id).await.unwrap();
    assert_eq!(
        client.download(&fresh).await.unwrap().as_ref(),
        file.as_slice()
    );

    // Delete, then it is unknown.
    let deleted = h
        .http
        .delete(format!("{}/v24.0/{media_id}", h.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    assert_eq!(
        deleted.json::<Value>().await.unwrap(),
        json!({ "success": true })
    );
    let error = client.media(&media_id).await.unwrap_err();
    assert_eq!(error.code(), Some(100));
}

#[tokio::test]
async fn mark_as_read_with_typing_indicator() {
    let h = start(|_| {}).await;
    let first = h.simulator.customer_says(PRIYA, "one").await.unwrap();
    let second = h.simulator.customer_says(PRIYA, "two").await.unwrap();
    let client = h.client(Duration::from_secs(5));
    client.mark_read(PNID, &second, true).await.unwrap();
    assert_eq!(h.simulator.message(&first).unwrap().state, "read");
    assert_eq!(h.simulator.message(&second).unwrap().state, "read");
    let priya = h
        .simulator
        .customers()
        .into_iter()
        .find(|c| c.wa_id == PRIYA)
        .unwrap();
    assert!(priya.business_typing);
    assert!(priya.window_open);
    let error = client
        .mark_read(PNID, "wamid.unknown", false)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(100));
    assert_eq!(h.simulator.counters().read_receipts, 1);
}

#[tokio::test]
async fn control_api_over_http() {
    let h = start(|_| {}).await;
    let faults =
        json!({ "error_rate": 0.5, "errors": ["130429", "131047_async"], "duplicate_rate": 0.1 });
    let response = h
        .http
        .put(format!("{}/simulator/api/faults", h.base_url))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        h.simulator.faults().errors,
        [InjectedError::Throughput, InjectedError::WindowAsync]
    );
    let got: Value = h
        .http
        .get(format!("{}/simulator/api/faults", h.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["error_rate"], 0.5);
    let bad = h
        .http
        .put(format!("{}/simulator/api/faults", h.base_url))
        .json(&json!({ "error_rate": 2.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    h.simulator.set_faults(Faults::default()).unwrap();

    let posted: Value = h
        .http
        .post(format!(
            "{}/simulator/api/customers/{PRIYA}/messages",
            h.base_url
        ))
        .json(&json!({ "text": "Where is parcel 99120?" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wamid = posted["wamid"].as_str().unwrap().to_owned();
    eventually("the webhook", || !h.receiver.all().is_empty()).await;
    assert_eq!(
        webhook::parse(&h.receiver.all()[0].body).unwrap().messages[0].wa_message_id,
        wamid
    );

    h.client(Duration::from_secs(5))
        .send(PNID, &text_to(PRIYA, "Tomorrow 10:00", "outbox-9"))
        .await
        .unwrap();
    let sent: Value = h
        .http
        .get(format!(
            "{}/simulator/api/customers/{PRIYA}/sent",
            h.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent[0]["callback_data"], "outbox-9");
    let customers: Value = h
        .http
        .get(format!("{}/simulator/api/customers", h.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customers.as_array().unwrap().len(), 3);
    let counters: Value = h
        .http
        .get(format!("{}/simulator/api/counters", h.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counters["counters"]["accepted_by_callback_data"]["outbox-9"],
        1
    );
    assert_eq!(counters["sent_twice"], json!([]));
    let clock: Value = h
        .http
        .post(format!("{}/simulator/api/clock", h.base_url))
        .json(&json!({ "advance_secs": 90000 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clock["now"].as_i64().unwrap() > 0);
    assert!(!h.simulator.customers()[0].window_open);
}

#[tokio::test]
async fn the_phone_page_renders_and_posts() {
    let h = start(|_| {}).await;
    let index = h
        .http
        .get(format!("{}/simulator", h.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status().as_u16(), 200);
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = index.text().await.unwrap();
    assert!(html.contains("Priya Raman"));
    assert!(html.contains("/simulator/chat/15555550142"));
    assert!(!html.contains("<script>"), "no inline script");

    h.simulator
        .customer_says(PRIYA, "hello there")
        .await
        .unwrap();
    h.client(Duration::from_secs(5))
        .send(PNID, &text_to(PRIYA, "Hi Priya, checking now", "outbox-p"))
        .await
        .unwrap();
    let chat = h
        .http
        .get(format!("{}/simulator/chat/{PRIYA}", h.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status().as_u16(), 200);
    let html = chat.text().await.unwrap();
    assert!(html.contains("Hi Priya, checking now"));
    assert!(html.contains("hello there"));
    assert!(html.contains("name=\"viewport\""));
    // The hooks phone.js needs.
    for hook in [
        r#"id="chat""#,
        r#"id="thread""#,
        r#"id="compose""#,
        r#"id="text""#,
        r#"data-wa-id="15555550142""#,
    ] {
        assert!(html.contains(hook), "{hook} missing");
    }

    let script = h
        .http
        .get(format!("{}/simulator/assets/phone.js", h.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status().as_u16(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let css = h
        .http
        .get(format!("{}/simulator/assets/phone.css", h.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status().as_u16(), 200);

    // The no-JavaScript form posts as the customer and redirects back.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let posted = no_redirect
        .post(format!("{}/simulator/chat/{PRIYA}", h.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("text=sent+from+the+form&action=text")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 303);
    assert!(h
        .simulator
        .thread(PRIYA, 0)
        .iter()
        .any(|i| i.text.as_deref() == Some("sent from the form")));
    let thread: Value = h
        .http
        .get(format!(
            "{}/simulator/api/customers/{PRIYA}/thread?after=0",
            h.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(thread["customer"]["name"], "Priya Raman");
    assert_eq!(thread["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn sample_bodies_are_posted_byte_for_byte_and_the_handshake_is_driven() {
    let h = start(|_| {}).await;
    let body = sample("webhook_message_text_wire_compact.json");
    assert!(h.simulator.post_raw_webhook(body.clone()).await);
    let received = h.receiver.all();
    assert_eq!(received[0].body, body);
    assert!(received[0].signed);
    h.simulator.verify_callback().await.unwrap();
}
