//! Replies through the outbox to the WhatsApp simulator over real HTTP: the round trip,
//! ordering, every error class, unknown outcomes, and a restart.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{json, Value};
use support::{TestApp, SECRET};
use tokio::net::TcpListener;
use veilbox_whatsapp::simulator::{self, Faults, InjectedError, Simulator, SimulatorConfig};

const TOKEN: &str = "test-graph-access-token";
const PRIYA: &str = "15555550142";

struct Rig {
    app: TestApp,
    sim: Simulator,
}

async fn rig_with(adjust: impl FnOnce(&mut veilbox_server::config::Config)) -> Rig {
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim_address = sim_listener.local_addr().expect("address");
    let app = TestApp::spawn_with(|c| {
        c.whatsapp.graph_url = format!("http://{sim_address}");
        c.whatsapp.access_token = Some(SecretString::from(TOKEN));
        c.whatsapp.retry_base = Duration::from_millis(50);
        c.whatsapp.send_timeout = Duration::from_millis(1500);
        adjust(c);
    })
    .await;
    let sim = start_simulator(sim_listener, &app.base);
    Rig { app, sim }
}

fn start_simulator(listener: TcpListener, veilbox: &str) -> Simulator {
    let mut config = SimulatorConfig::new(
        SecretString::from(SECRET),
        SecretString::from(TOKEN),
        format!("{veilbox}/webhooks/whatsapp"),
    );
    config.status_interval = Duration::from_millis(30);
    let sim = Simulator::new(config);
    tokio::spawn(simulator::serve(
        sim.clone(),
        listener,
        std::future::pending(),
    ));
    sim
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

/// The customer writes; returns the conversation id once Veilbox stored it.
async fn customer_writes(rig: &Rig, text: &str) -> String {
    rig.sim
        .customer_says(PRIYA, text)
        .await
        .expect("customer message");
    eventually(10, "the conversation", || async {
        rig.app.open_conversation_of(PRIYA).await
    })
    .await
}

async fn reply(rig: &Rig, conversation: &str, text: &str) -> Value {
    let (status, body) = rig
        .app
        .api_post(
            &format!("/api/v1/conversations/{conversation}/replies"),
            json!({"type": "text", "body": text}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body
}

/// The reply's message as the API shows it.
async fn reply_state(rig: &Rig, conversation: &str, message_id: &str) -> Value {
    let (_, thread) = rig
        .app
        .api(&format!("/api/v1/conversations/{conversation}/messages"))
        .await;
    thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message_id)
        .cloned()
        .expect("reply in thread")
}

fn assert_nothing_sent_twice(sim: &Simulator) {
    let counters = sim.counters();
    let twice: Vec<_> = counters
        .accepted_by_callback_data
        .iter()
        .filter(|(_, n)| **n > 1)
        .collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_goes_out_and_its_ticks_come_back() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "where is my parcel?").await;
    let queued = reply(&rig, &conversation, "It is out for delivery today.").await;
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    let message = eventually(10, "the read receipt", || async {
        let m = reply_state(&rig, &conversation, &message_id).await;
        (m["delivery"]["state"] == "read").then_some(m)
    })
    .await;
    assert_eq!(message["send"]["state"], "sent");
    assert_eq!(message["direction"], "outbound");
    assert!(message["wa_message_id"]
        .as_str()
        .unwrap()
        .starts_with("wamid."));
    let sent = rig.sim.sent_to(PRIYA);
    assert_eq!(
        sent.iter()
            .filter(|m| m.text.as_deref() == Some("It is out for delivery today."))
            .count(),
        1
    );
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_one_customer_go_out_in_order() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    // Latency makes a race between sends visible if ordering were not enforced.
    rig.sim
        .set_faults(Faults {
            latency_ms: 20,
            ..Faults::default()
        })
        .unwrap();
    for i in 0..6 {
        reply(&rig, &conversation, &format!("part {i}")).await;
    }
    let texts = eventually(15, "six sends", || async {
        let texts: Vec<String> = rig
            .sim
            .sent_to(PRIYA)
            .into_iter()
            .filter_map(|m| m.text)
            .filter(|t| t.starts_with("part"))
            .collect();
        (texts.len() == 6).then_some(texts)
    })
    .await;
    assert_eq!(
        texts,
        (0..6).map(|i| format!("part {i}")).collect::<Vec<_>>()
    );
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_errors_are_retried_until_sent() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    rig.sim
        .set_faults(Faults {
            error_rate: 1.0,
            errors: vec![InjectedError::Throughput],
            ..Faults::default()
        })
        .unwrap();
    let queued = reply(&rig, &conversation, "retry me").await;
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    let retried = eventually(10, "a retry", || async {
        let m = reply_state(&rig, &conversation, &message_id).await;
        (m["send"]["attempts"].as_i64() >= Some(1) && m["send"]["state"] == "queued").then_some(m)
    })
    .await;
    assert_eq!(retried["send"]["error"]["code"], 130_429);
    rig.sim.set_faults(Faults::default()).unwrap();
    eventually(15, "the send after the fault cleared", || async {
        let m = reply_state(&rig, &conversation, &message_id).await;
        (m["send"]["state"] == "sent").then_some(())
    })
    .await;
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_at_meta_fails_with_a_reason_an_agent_understands() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    // Meta's clock says the window closed (Veilbox's still thinks it open): 131047.
    rig.sim.advance_clock(Duration::from_secs(25 * 3600));
    let queued = reply(&rig, &conversation, "too late").await;
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    let failed = eventually(10, "the failure", || async {
        let m = reply_state(&rig, &conversation, &message_id).await;
        (m["send"]["state"] == "failed").then_some(m)
    })
    .await;
    assert_eq!(failed["send"]["error"]["code"], 131_047);
    let reason = failed["send"]["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("24-hour window") && reason.contains("template"),
        "{reason}"
    );
    assert_eq!(
        failed["send"]["attempts"], 1,
        "a permanent error is not retried"
    );
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_pauses_sending_and_alerts_instead_of_burning_retries() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    rig.sim
        .set_faults(Faults {
            error_rate: 1.0,
            errors: vec![InjectedError::TokenExpired],
            ..Faults::default()
        })
        .unwrap();
    let queued = reply(&rig, &conversation, "paused").await;
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    let alert = eventually(10, "the admin alert", || async {
        let (_, alerts) = rig.app.admin_api("/api/v1/admin/alerts").await;
        alerts["items"]
            .as_array()?
            .iter()
            .find(|a| a["kind"] == "sending_paused")
            .cloned()
    })
    .await;
    assert!(alert["detail"].as_str().unwrap().contains("access token"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let m = reply_state(&rig, &conversation, &message_id).await;
    assert_eq!(
        m["send"]["state"], "queued",
        "kept for when the token is replaced"
    );
    assert_eq!(m["send"]["attempts"], 0, "the attempt was given back");
    assert_eq!(rig.sim.counters().rejected, 1, "no retries while paused");
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_never_repeated_and_a_status_settles_it() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    // The simulator holds the request past Veilbox's 1.5 s timeout, then accepts it; its
    // statuses come later still.
    rig.sim
        .set_faults(Faults {
            hang_rate: 1.0,
            hang_ms: 2500,
            status_delay_ms: 4000,
            ..Faults::default()
        })
        .unwrap();
    let queued = reply(&rig, &conversation, "did this arrive?").await;
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    eventually(10, "unconfirmed", || async {
        let m = reply_state(&rig, &conversation, &message_id).await;
        (m["send"]["state"] == "unconfirmed").then_some(())
    })
    .await;
    // Meta did accept it: its status webhooks carry our outbox id and settle it.
    let settled = eventually(15, "the status to settle it", || async {
        let m = reply_state(&rig, &conversation, &message_id).await;
        (m["send"]["state"] == "sent" && !m["delivery"].is_null()).then_some(m)
    })
    .await;
    assert!(settled["wa_message_id"].as_str().is_some());
    assert_eq!(
        rig.sim
            .sent_to(PRIYA)
            .iter()
            .filter(|m| m.text.as_deref() == Some("did this arrive?"))
            .count(),
        1
    );
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_resends_a_failed_reply_once_the_window_reopens() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    rig.sim.advance_clock(Duration::from_secs(25 * 3600));
    let queued = reply(&rig, &conversation, "second try").await;
    let (message_id, outbox_id) = (
        queued["message_id"].as_str().unwrap().to_owned(),
        queued["outbox_id"].as_str().unwrap().to_owned(),
    );
    eventually(10, "the failure", || async {
        (reply_state(&rig, &conversation, &message_id).await["send"]["state"] == "failed")
            .then_some(())
    })
    .await;
    // The customer writes again: the window is open, and a person resends.
    rig.sim
        .customer_says(PRIYA, "I'm back")
        .await
        .expect("customer message");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = rig
        .app
        .api_post(
            &format!("/api/v1/outbox/{outbox_id}/decision"),
            json!({"resend": true}),
        )
        .await;
    assert_eq!(status, 200);
    eventually(10, "the resend", || async {
        (reply_state(&rig, &conversation, &message_id).await["send"]["state"] == "sent")
            .then_some(())
    })
    .await;
    let (status, _) = rig
        .app
        .api_post(
            &format!("/api/v1/outbox/{outbox_id}/decision"),
            json!({"resend": true}),
        )
        .await;
    assert_eq!(status, 404, "a sent reply cannot be resent");
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discarded_unconfirmed_reply_that_did_go_out_is_recorded_as_sent() {
    let rig = rig_with(|_| {}).await;
    let conversation = customer_writes(&rig, "hello").await;
    rig.sim
        .set_faults(Faults {
            hang_rate: 1.0,
            hang_ms: 2500,
            status_delay_ms: 4000,
            ..Faults::default()
        })
        .unwrap();
    let queued = reply(&rig, &conversation, "maybe").await;
    let (message_id, outbox_id) = (
        queued["message_id"].as_str().unwrap().to_owned(),
        queued["outbox_id"].as_str().unwrap().to_owned(),
    );
    eventually(10, "unconfirmed", || async {
        (reply_state(&rig, &conversation, &message_id).await["send"]["state"] == "unconfirmed")
            .then_some(())
    })
    .await;
    let (status, _) = rig
        .app
        .api_post(
            &format!("/api/v1/outbox/{outbox_id}/decision"),
            json!({"resend": false}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        reply_state(&rig, &conversation, &message_id).await["send"]["state"],
        "cancelled"
    );
    // Meta had accepted it after all: the truth wins over the discard.
    eventually(15, "the status to settle it", || async {
        (reply_state(&rig, &conversation, &message_id).await["send"]["state"] == "sent")
            .then_some(())
    })
    .await;
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_replies_survive_a_restart() {
    // First run: no access token, so nothing is sent; the reply waits in the outbox.
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim_address = sim_listener.local_addr().expect("address");
    let first =
        TestApp::spawn_with(|c| c.whatsapp.graph_url = format!("http://{sim_address}")).await;
    let sim = start_simulator(sim_listener, &first.base);
    sim.customer_says(PRIYA, "hello")
        .await
        .expect("customer message");
    let rig = Rig { app: first, sim };
    let conversation = eventually(10, "the conversation", || async {
        let (_, page) = rig.app.api("/api/v1/conversations").await;
        page["items"]
            .as_array()?
            .first()
            .map(|c| c["id"].as_str().unwrap().to_owned())
    })
    .await;
    let queued = reply(&rig, &conversation, "after the restart").await;
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reply_state(&rig, &conversation, &message_id).await["send"]["state"],
        "queued"
    );
    let Rig { app, sim } = rig;
    let database = app.stop_keeping_database().await;
    let support::TestDatabase::Sqlite(dir) = database else {
        panic!("sqlite")
    };
    let url = format!("sqlite://{}", dir.path().join("veilbox.db").display());
    let second = TestApp::start(&url, support::TestDatabase::Sqlite(dir), |c| {
        c.whatsapp.graph_url = format!("http://{sim_address}");
        c.whatsapp.access_token = Some(SecretString::from(TOKEN));
    })
    .await;
    let rig = Rig { app: second, sim };
    eventually(10, "the send after the restart", || async {
        (reply_state(&rig, &conversation, &message_id).await["send"]["state"] == "sent")
            .then_some(())
    })
    .await;
    assert_nothing_sent_twice(&rig.sim);
    rig.app.stop().await;
}
