//! The Graph API client against a local fake Graph server on 127.0.0.1:0: request shapes
//! (compared with `samples/graph_api/send_*_request.json`), success bodies, every error
//! class with the sample error bodies at the HTTP statuses the spec names, timeouts,
//! refused and dropped connections, media metadata and download.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use veilbox_whatsapp::graph::{
    Backoff, GraphClient, GraphConfig, MediaInfo, MediaRef, OutboundBody, OutboundMessage,
    SendError,
};

const TOKEN: &str = "test-access-token-0123456789";
const PHONE_NUMBER_ID: &str = "118440581239876";

fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/whatsapp/samples/graph_api")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample_json(name: &str) -> Value {
    serde_json::from_slice(&sample(name)).unwrap()
}

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Fake {
    status: StatusCode,
    body: Arc<Vec<u8>>,
    delay: Duration,
    headers: Vec<(&'static str, &'static str)>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct Running {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Running {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    fake.seen.lock().unwrap().push(Seen {
        method,
        path: uri.to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: body.to_vec(),
    });
    if !fake.delay.is_zero() {
        tokio::time::sleep(fake.delay).await;
    }
    let mut response = (fake.status, fake.body.as_ref().clone()).into_response();
    for (name, value) in &fake.headers {
        response.headers_mut().insert(*name, value.parse().unwrap());
    }
    response
}

async fn fake_graph(status: u16, body: Vec<u8>) -> Running {
    fake_graph_with(status, body, Duration::ZERO, Vec::new()).await
}

async fn fake_graph_with(
    status: u16,
    body: Vec<u8>,
    delay: Duration,
    headers: Vec<(&'static str, &'static str)>,
) -> Running {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        status: StatusCode::from_u16(status).unwrap(),
        body: Arc::new(body),
        delay,
        headers,
        seen: seen.clone(),
    };
    let app = Router::new().fallback(answer).with_state(fake);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Running {
        base_url: format!("http://{addr}"),
        seen,
    }
}

fn client(base_url: &str, timeout: Duration) -> GraphClient {
    GraphClient::new(GraphConfig {
        base_url: base_url.to_owned(),
        version: "v24.0".into(),
        access_token: TOKEN.into(),
        timeout,
    })
    .unwrap()
}

fn reply_wamid() -> String {
    "wamid.HBgLMTU1NTU1NTAxNDIVAgASGBQ5MDk4ODgxQTVFOTRGMDU2QTRFOQA=".into()
}

/// Every outbound kind next to the sample body it must produce.
fn shapes() -> Vec<(&'static str, OutboundMessage)> {
    vec![
        (
            "send_text_request.json",
            OutboundMessage {
                to: "15555550142".into(),
                reply_to: None,
                callback_data: None,
                body: OutboundBody::Text {
                    body: "Your tracking link: https://track.example.com/48213".into(),
                    preview_url: true,
                },
            },
        ),
        (
            "send_text_reply_request.json",
            OutboundMessage {
                to: "15555550142".into(),
                reply_to: Some(reply_wamid()),
                callback_data: None,
                body: OutboundBody::Text {
                    body: "Checking now, one moment please.".into(),
                    preview_url: false,
                },
            },
        ),
        (
            "send_template_request.json",
            OutboundMessage {
                to: "447700900461".into(),
                reply_to: None,
                callback_data: Some("campaign=spring26;ticket=T-5531".into()),
                body: OutboundBody::Template {
                    name: "order_shipped".into(),
                    language: "en_GB".into(),
                    components: sample_json("send_template_request.json")["template"]["components"]
                        .clone(),
                },
            },
        ),
        (
            "send_image_by_id_request.json",
            OutboundMessage {
                to: "15555550142".into(),
                reply_to: None,
                callback_data: None,
                body: OutboundBody::Image {
                    media: MediaRef::Id("1031635738169819".into()),
                    caption: Some("Return label".into()),
                },
            },
        ),
        (
            "send_document_by_link_request.json",
            OutboundMessage {
                to: "15555550142".into(),
                reply_to: None,
                callback_data: None,
                body: OutboundBody::Document {
                    media: MediaRef::Link("https://files.example.com/returns/RMA-48213.pdf".into()),
                    caption: Some("Your return authorisation".into()),
                    filename: Some("RMA-48213.pdf".into()),
                },
            },
        ),
        (
            "send_reaction_request.json",
            OutboundMessage {
                to: "15555550142".into(),
                reply_to: None,
                callback_data: None,
                body: OutboundBody::Reaction {
                    message_id: reply_wamid(),
                    emoji: "\u{2705}".into(),
                },
            },
        ),
        (
            "send_interactive_buttons_request.json",
            OutboundMessage {
                to: "15555550142".into(),
                reply_to: None,
                callback_data: None,
                body: OutboundBody::Interactive {
                    interactive: sample_json("send_interactive_buttons_request.json")
                        ["interactive"]
                        .clone(),
                },
            },
        ),
    ]
}

#[test]
fn bodies_serialise_to_the_sample_requests() {
    for (file, message) in shapes() {
        assert_eq!(message.to_json(), sample_json(file), "{file}");
    }
}

#[tokio::test]
async fn sends_the_sample_shapes_over_http_with_the_bearer_token() {
    let graph = fake_graph(200, sample("send_message_response.json")).await;
    let client = client(&graph.base_url, Duration::from_secs(5));
    for (_, message) in shapes() {
        client.send(PHONE_NUMBER_ID, &message).await.unwrap();
    }
    let seen = graph.seen();
    assert_eq!(seen.len(), shapes().len());
    for ((file, _), request) in shapes().into_iter().zip(seen) {
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, "/v24.0/118440581239876/messages");
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, sample_json(file), "{file}");
    }
}

#[tokio::test]
async fn success_bodies_become_send_accepted() {
    let graph = fake_graph(200, sample("send_message_response.json")).await;
    let accepted = client(&graph.base_url, Duration::from_secs(5))
        .send(
            PHONE_NUMBER_ID,
            &OutboundMessage::text("+1 555-555-0142", "hi"),
        )
        .await
        .unwrap();
    assert_eq!(
        accepted.wa_message_id,
        "wamid.HBgLMTU1NTU1NTAxNDIVAgARGBI3QkMyQzMzNkMwQ0VFMDVBNUMA"
    );
    assert_eq!(accepted.wa_id.as_deref(), Some("15555550142"));
    assert_eq!(accepted.message_status, None);

    let graph = fake_graph(200, sample("send_template_response.json")).await;
    let accepted = client(&graph.base_url, Duration::from_secs(5))
        .send(
            PHONE_NUMBER_ID,
            &OutboundMessage::text("447700900461", "hi"),
        )
        .await
        .unwrap();
    assert_eq!(accepted.message_status.as_deref(), Some("accepted"));
    assert_eq!(accepted.wa_id.as_deref(), Some("447700900461"));
}

#[tokio::test]
async fn every_error_class_from_the_sample_bodies() {
    // (file, HTTP status the spec names, class, code)
    let cases = [
        ("error_100_invalid_parameter.json", 400, "permanent", 100),
        (
            "error_131009_parameter_value_invalid.json",
            400,
            "permanent",
            131009,
        ),
        (
            "error_131030_not_in_allowed_list.json",
            400,
            "permanent",
            131030,
        ),
        ("error_131047_reengagement.json", 400, "permanent", 131047),
        ("error_190_token_expired.json", 401, "token_expired", 190),
        ("error_130429_throughput.json", 400, "retryable", 130429),
        (
            "error_131056_pair_rate_limit.json",
            400,
            "retryable",
            131056,
        ),
        ("error_4_app_rate_limit.json", 400, "retryable", 4),
        ("error_80007_waba_rate_limit.json", 400, "retryable", 80007),
        ("error_131000_generic.json", 500, "retryable", 131000),
    ];
    for (file, status, class, code) in cases {
        let graph = fake_graph(status, sample(file)).await;
        let error = client(&graph.base_url, Duration::from_secs(5))
            .send(
                PHONE_NUMBER_ID,
                &OutboundMessage::text("447700900461", "hello"),
            )
            .await
            .unwrap_err();
        assert_eq!(error.class(), class, "{file}: {error:?}");
        assert_eq!(error.code(), Some(code), "{file}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(TOKEN), "{file}: token leaked");
        assert!(!shown.contains("447700900461"), "{file}: phone leaked");
    }
}

#[tokio::test]
async fn permanent_errors_carry_reasons_an_agent_understands() {
    let expect = [
        (
            "error_131047_reengagement.json",
            "outside the 24-hour window, send a template",
        ),
        ("error_100_invalid_parameter.json", "bad parameter"),
        ("error_131009_parameter_value_invalid.json", "bad parameter"),
    ];
    for (file, reason) in expect {
        let graph = fake_graph(400, sample(file)).await;
        let error = client(&graph.base_url, Duration::from_secs(5))
            .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
            .await
            .unwrap_err();
        match error {
            SendError::Permanent { reason: got, .. } => assert_eq!(got, reason, "{file}"),
            other => panic!("{file}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn rate_limits_wait_and_pair_rate_waits_four_to_the_attempt() {
    let graph = fake_graph(400, sample("error_4_app_rate_limit.json")).await;
    let error = client(&graph.base_url, Duration::from_secs(5))
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    match &error {
        SendError::Retryable { retry_after, .. } => {
            assert!(*retry_after >= Duration::from_secs(60))
        }
        other => panic!("{other:?}"),
    }
    let graph = fake_graph(400, sample("error_131056_pair_rate_limit.json")).await;
    let error = client(&graph.base_url, Duration::from_secs(5))
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(600));
    assert_eq!(error.retry_delay(0, &backoff), Some(Duration::from_secs(1)));
    assert_eq!(error.retry_delay(1, &backoff), Some(Duration::from_secs(4)));
    assert_eq!(
        error.retry_delay(3, &backoff),
        Some(Duration::from_secs(64))
    );
}

#[tokio::test]
async fn retry_after_header_is_honoured() {
    let graph = fake_graph_with(
        400,
        sample("error_130429_throughput.json"),
        Duration::ZERO,
        vec![("retry-after", "7")],
    )
    .await;
    let error = client(&graph.base_url, Duration::from_secs(5))
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SendError::Retryable { retry_after, .. } if retry_after == Duration::from_secs(7)
    ));
}

#[tokio::test]
async fn server_errors_without_a_graph_body_are_retryable() {
    let graph = fake_graph(502, b"<html>Bad gateway</html>".to_vec()).await;
    let error = client(&graph.base_url, Duration::from_secs(5))
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), "retryable");
    assert_eq!(error.code(), None);
}

#[tokio::test]
async fn a_timeout_after_the_request_was_sent_is_unconfirmed() {
    let graph = fake_graph_with(
        200,
        sample("send_message_response.json"),
        Duration::from_secs(3),
        Vec::new(),
    )
    .await;
    let client = client(&graph.base_url, Duration::from_millis(300));
    let error = client
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Unconfirmed { .. }), "{error:?}");
    assert_eq!(error.class(), "unconfirmed");
    assert_eq!(error.retry_delay(0, &Backoff::default()), None);
    assert_eq!(graph.seen().len(), 1, "the request did reach the server");

    // Repeating a read receipt is harmless, so the same timeout is retryable there.
    let error = client
        .mark_read(PHONE_NUMBER_ID, &reply_wamid(), false)
        .await
        .unwrap_err();
    assert_eq!(error.class(), "retryable");
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_is_unconfirmed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = vec![0u8; 16 * 1024];
            let _ = socket.read(&mut buffer).await;
            drop(socket);
        }
    });
    let error = client(&format!("http://{addr}"), Duration::from_secs(5))
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), "unconfirmed", "{error:?}");
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = client(&format!("http://{addr}"), Duration::from_secs(5))
        .send(PHONE_NUMBER_ID, &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SendError::Retryable { code: None, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn mark_read_posts_the_sample_body() {
    let graph = fake_graph(200, sample("mark_as_read_response.json")).await;
    client(&graph.base_url, Duration::from_secs(5))
        .mark_read(PHONE_NUMBER_ID, &reply_wamid(), true)
        .await
        .unwrap();
    let seen = graph.seen();
    assert_eq!(seen[0].path, "/v24.0/118440581239876/messages");
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body, sample_json("mark_as_read_request.json"));

    let graph = fake_graph(200, sample("mark_as_read_response.json")).await;
    client(&graph.base_url, Duration::from_secs(5))
        .mark_read(PHONE_NUMBER_ID, &reply_wamid(), false)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&graph.seen()[0].body).unwrap();
    assert!(body.get("typing_indicator").is_none());
    assert_eq!(body["status"], json!("read"));
}

#[tokio::test]
async fn media_metadata_and_download() {
    let graph = fake_graph(200, sample("media_retrieve_url_response.json")).await;
    let client_a = client(&graph.base_url, Duration::from_secs(5));
    let info = client_a.media("1211660832648327").await.unwrap();
    assert_eq!(info.id, "1211660832648327");
    assert_eq!(info.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(info.file_size, Some(303_833));
    assert!(info.url.starts_with("https://lookaside.fbsbx.com/"));
    assert_eq!(graph.seen()[0].method, Method::GET);
    assert_eq!(graph.seen()[0].path, "/v24.0/1211660832648327");

    let files = fake_graph(200, b"\x89PNG fake bytes".to_vec()).await;
    let local = MediaInfo {
        url: format!("{}/attachments/?mid=1211660832648327", files.base_url),
        ..info.clone()
    };
    let bytes = client_a.download(&local).await.unwrap();
    assert_eq!(&bytes[..], b"\x89PNG fake bytes");
    assert_eq!(
        files.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the download URL needs the Bearer token too"
    );

    let expired = fake_graph(404, Vec::new()).await;
    let gone = MediaInfo {
        url: format!("{}/attachments/?mid=1", expired.base_url),
        ..info
    };
    assert_eq!(
        client_a.download(&gone).await.unwrap_err().class(),
        "permanent"
    );

    let unknown = fake_graph(400, sample("error_100_invalid_parameter.json")).await;
    let error = client(&unknown.base_url, Duration::from_secs(5))
        .media("999")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(100));
}

#[test]
fn debug_never_shows_the_token_and_bad_config_is_refused() {
    let client = client("http://127.0.0.1:9", Duration::from_secs(1));
    assert!(!format!("{client:?}").contains(TOKEN));
    let bad = GraphClient::new(GraphConfig {
        base_url: "graph.facebook.com".into(),
        version: "v24.0".into(),
        access_token: TOKEN.into(),
        timeout: Duration::from_secs(1),
    });
    assert!(bad.is_err());
    let bad = GraphClient::new(GraphConfig {
        base_url: "https://graph.facebook.com".into(),
        version: "24".into(),
        access_token: TOKEN.into(),
        timeout: Duration::from_secs(1),
    });
    assert!(bad.is_err());
}

#[tokio::test]
async fn ids_that_would_change_the_path_are_refused_before_sending() {
    let graph = fake_graph(200, sample("send_message_response.json")).await;
    let error = client(&graph.base_url, Duration::from_secs(5))
        .send("../me", &OutboundMessage::text("15555550142", "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), "permanent");
    assert!(graph.seen().is_empty());
}
