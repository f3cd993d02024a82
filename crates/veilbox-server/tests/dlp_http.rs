//! Leak prevention on replies and blind placeholders over real HTTP, against the WhatsApp
//! simulator: tables of block, warn and allow through the live check and the send (JSON
//! API and the inbox form), supervisor overrides (with and without a reason, and an agent
//! trying one), the audit events they leave, and a placeholder send where the customer gets
//! the real address and nothing the sender got back contains it.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::Row;
use support::browser::Browser;
use support::{TestApp, API_TOKEN, SECRET};
use tokio::net::TcpListener;
use veilbox_whatsapp::simulator::{self, Simulator, SimulatorConfig};

const TOKEN: &str = "test-graph-access-token";
/// Customer A, whose conversation the replies are in.
const PRIYA: &str = "15555550142";
const PRIYA_ADDRESS: &str = "7 Lantern Yard, York YO1 7HH";
const PRIYA_TRACKING: &str = "RR123456785GB";
/// Customer B, whose details must not reach A.
const OTHER_PHONE: &str = "+447700977999";
const OTHER_ADDRESS: &str = "9 Other Close, Hull HU1 1AA";
const OTHER_TRACKING: &str = "EE123456785IN";
const HELPLINE: &str = "+44 800 123 4567";

struct Rig {
    app: TestApp,
    sim: Simulator,
    conversation: String,
}

async fn rig() -> Rig {
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim_address = sim_listener.local_addr().expect("address");
    let app = TestApp::spawn_with(|c| {
        c.whatsapp.graph_url = format!("http://{sim_address}");
        c.whatsapp.access_token = Some(SecretString::from(TOKEN));
        c.whatsapp.retry_base = Duration::from_millis(50);
        c.masking.company_phones = vec![HELPLINE.to_owned()];
        c.masking.company_domains = vec!["courier.example".to_owned()];
    })
    .await;
    let mut config = SimulatorConfig::new(
        SecretString::from(SECRET),
        SecretString::from(TOKEN),
        format!("{}/webhooks/whatsapp", app.base),
    );
    config.status_interval = Duration::from_millis(30);
    let sim = Simulator::new(config);
    tokio::spawn(simulator::serve(
        sim.clone(),
        sim_listener,
        std::future::pending(),
    ));
    // Both customers arrive by shipment import; A then writes in on WhatsApp.
    let (status, report) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/shipments/import",
            json!([{"tracking": PRIYA_TRACKING, "status": "out_for_delivery",
                    "customer_phone": format!("+{PRIYA}"), "customer_name": "Priya Nair",
                    "address": PRIYA_ADDRESS, "eta": "2027-01-15T08:00:00Z"},
                   {"tracking": OTHER_TRACKING, "status": "in_transit",
                    "customer_phone": OTHER_PHONE, "customer_name": "Odette Marsh",
                    "customer_email": "odette.marsh@mail.example",
                    "recipient_name": "Jon Marsh", "recipient_phone": "+447700900555",
                    "address": OTHER_ADDRESS}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 2, "{report}");
    sim.customer_says(PRIYA, "where is my parcel?")
        .await
        .expect("customer message");
    let conversation = eventually(10, "the conversation", || async {
        app.open_conversation_of(PRIYA).await
    })
    .await;
    Rig {
        app,
        sim,
        conversation,
    }
}

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

impl Rig {
    async fn check(&self, body: &str) -> Value {
        let (status, verdict) = self
            .app
            .api_post(
                &format!("/api/v1/conversations/{}/check", self.conversation),
                json!({ "body": body }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{verdict}");
        verdict
    }

    async fn send(&self, request: Value) -> (StatusCode, Value) {
        self.app
            .api_post(
                &format!("/api/v1/conversations/{}/replies", self.conversation),
                request,
            )
            .await
    }

    async fn audit(&self, action: &str) -> Vec<String> {
        sqlx::query("SELECT reason FROM audit_log WHERE action = $1 AND target = $2 ORDER BY seq")
            .bind(action)
            .bind(&self.conversation)
            .fetch_all(self.app.store.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                r.try_get::<Option<String>, _>(0)
                    .unwrap()
                    .unwrap_or_default()
            })
            .collect()
    }

    async fn queued(&self) -> i64 {
        self.app.count("SELECT COUNT(*) FROM outbox").await
    }
}

fn kinds_at(verdict: &Value, level: &str) -> Vec<String> {
    verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == level)
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_are_blocked_warned_or_allowed() {
    let rig = rig().await;
    // (draft, verdict, a kind flagged at that level or "" for none)
    let table: &[(&str, &str, &str)] = &[
        ("Your card 4111 1111 1111 1111 is on file", "block", "CARD"),
        ("card number 4111-1111-1111-1111", "block", "CARD"),
        ("card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "block", "CARD"),
        (
            "card four one one one one one one one one one one one one one one one",
            "block",
            "CARD",
        ),
        ("the cvv is 123", "block", "CVV"),
        (
            "Your OTP is 482913, share it with the driver",
            "block",
            "OTP",
        ),
        (
            "call four four seven seven zero zero nine seven seven nine nine nine",
            "block",
            "PHONE",
        ),
        (&format!("call {OTHER_PHONE}"), "block", "PHONE"),
        ("the recipient is on +44 7700 900555", "block", "PHONE"),
        (
            &format!("The parcel goes to {OTHER_ADDRESS}"),
            "block",
            "ADDRESS",
        ),
        ("please go to 9 Other Close, thanks", "block", "ADDRESS"),
        (
            &format!("Your parcel {OTHER_TRACKING} is late"),
            "block",
            "TRACKING",
        ),
        (
            &format!("We have {PRIYA_ADDRESS} on file"),
            "warn",
            "ADDRESS",
        ),
        (
            &format!("Your parcel {PRIYA_TRACKING} is out for delivery"),
            "allow",
            "",
        ),
        (&format!("Call our helpline on {HELPLINE}"), "allow", ""),
        (
            "Track it at https://track.courier.example/parcel",
            "allow",
            "",
        ),
        (
            "Hi {{customer.name}}, it goes to {{shipment.address}}",
            "allow",
            "",
        ),
        ("It is out for delivery today.", "allow", ""),
    ];
    let mut wrong = Vec::new();
    for (draft, verdict, kind) in table {
        let got = rig.check(draft).await;
        let flagged = kinds_at(&got, verdict);
        if got["verdict"] != *verdict || (!kind.is_empty() && !flagged.iter().any(|k| k == kind)) {
            wrong.push(format!("{draft:?}: expected {verdict} {kind}, got {got}"));
        }
        // Values never come back: only kinds, spans and reasons.
        for f in got["findings"].as_array().unwrap() {
            let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["end", "kind", "level", "reason", "start"], "{f}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The check wrote nothing to the audit log and queued nothing.
    assert!(rig.audit("dlp.block").await.is_empty());
    assert_eq!(rig.queued().await, 0);
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_refused_confirmed_or_overridden_and_audited() {
    let rig = rig().await;
    let text = |body: &str| json!({"type": "text", "body": body});

    // Block: another customer's address pasted into A's conversation.
    let (status, refused) = rig
        .send(text(&format!("Deliver to {OTHER_ADDRESS} please")))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["verdict"], "block");
    assert_eq!(refused["kinds"], json!(["ADDRESS"]));
    assert!(!refused.to_string().contains("Other Close"), "{refused}");
    // A card number, spaced.
    let (status, refused) = rig.send(text("card 4111 1111 1111 1111")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["kinds"], json!(["CARD"]));
    assert_eq!(rig.audit("dlp.block").await, ["ADDRESS", "CARD"]);

    // Warn: A's own address is sent only with confirmation.
    let own = format!("We will deliver to {PRIYA_ADDRESS} tomorrow");
    let (status, refused) = rig.send(text(&own)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["verdict"], "warn");
    let (status, queued) = rig
        .send(json!({"type": "text", "body": own, "confirm_warnings": true}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(rig.audit("dlp.warn").await.len(), 1);
    assert_eq!(rig.audit("dlp.warn.confirmed").await.len(), 1);

    // Allow: A's own tracking number and the helpline go straight out.
    let (status, _) = rig
        .send(text(&format!(
            "{PRIYA_TRACKING} is with the driver, helpline {HELPLINE}"
        )))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // A supervisor overrides a block with a reason: sent, audited with kinds and reason.
    let blocked = format!("Your neighbour's parcel {OTHER_TRACKING} was left with you");
    let (status, refused) = rig
        .send(json!({"type": "text", "body": blocked, "override_block": true, "override_reason": "  "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"], "overriding a block needs a reason");
    let (status, queued) = rig
        .send(
            json!({"type": "text", "body": blocked, "override_block": true,
                     "override_reason": "neighbour agreed to take it in"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(
        rig.audit("dlp.override").await,
        ["TRACKING: neighbour agreed to take it in"]
    );
    eventually(10, "the overridden reply", || async {
        rig.sim
            .sent_to(PRIYA)
            .iter()
            .any(|m| m.text.as_deref() == Some(blocked.as_str()))
            .then_some(())
    })
    .await;

    // An agent may not override, even on a conversation assigned to them.
    let agent = rig
        .app
        .add_person("asha@courier.example", "agent", Some("Operations"))
        .await;
    assert!(rig
        .app
        .store
        .assign_conversation(&rig.conversation, Some(&agent.id))
        .await
        .unwrap());
    let mut browser = Browser::new(&rig.app);
    browser.sign_in(&agent).await;
    let before = rig.queued().await;
    let path = format!("/inbox/c/{}/reply", rig.conversation);
    browser
        .act(
            &path,
            &[
                ("body", "card 4111 1111 1111 1111"),
                ("override_block", "true"),
                ("override_reason", "customer insisted"),
            ],
        )
        .await;
    let page = browser
        .page(&format!("/inbox/c/{}", rig.conversation))
        .await;
    assert!(page.contains("you may not override it"), "flash");
    assert_eq!(rig.queued().await, before);
    // The inbox's live check answers the agent too (CSRF header), with no override offered.
    let response = browser
        .http
        .post(format!(
            "{}/inbox/c/{}/check",
            rig.app.base, rig.conversation
        ))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .json(&json!({"body": "the cvv is 123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let verdict: Value = response.json().await.unwrap();
    assert_eq!(verdict["verdict"], "block");
    assert_eq!(verdict["can_override"], false);
    let forged = browser
        .http
        .post(format!(
            "{}/inbox/c/{}/check",
            rig.app.base, rig.conversation
        ))
        .header("cookie", browser.cookie())
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // No audit event carries a value.
    let reasons: Vec<String> =
        sqlx::query("SELECT COALESCE(reason, '') FROM audit_log WHERE action LIKE 'dlp.%'")
            .fetch_all(rig.app.store.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
    for reason in &reasons {
        for value in ["4111", "Lantern", "Other Close", OTHER_TRACKING, "123"] {
            assert!(!reason.contains(value), "{reason}");
        }
    }
    rig.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_placeholders_reach_the_customer_filled_in_and_the_agent_never_sees_them() {
    let rig = rig().await;
    let agent = rig
        .app
        .add_person("ravi@courier.example", "agent", Some("Operations"))
        .await;
    assert!(rig
        .app
        .store
        .assign_conversation(&rig.conversation, Some(&agent.id))
        .await
        .unwrap());
    let mut browser = Browser::new(&rig.app);
    browser.sign_in(&agent).await;
    let draft = "Hi {{customer.name}}, parcel {{shipment.tracking}} arrives at {{shipment.address}} by {{shipment.eta}}.";

    // What the agent's browser gets back: the live check and the send's redirect.
    let mut seen = String::new();
    let check = browser
        .http
        .post(format!(
            "{}/inbox/c/{}/check",
            rig.app.base, rig.conversation
        ))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .json(&json!({ "body": draft }))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::OK);
    let verdict: Value = check.json().await.unwrap();
    assert_eq!(verdict["verdict"], "allow", "{verdict}");
    seen.push_str(&verdict.to_string());
    let path = format!("/inbox/c/{}/reply", rig.conversation);
    let sent = browser.act_response(&path, &[("body", draft)]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    seen.push_str(&format!("{:?}", sent.headers()));
    seen.push_str(&sent.text().await.unwrap());

    let expected = format!(
        "Hi Priya Nair, parcel {PRIYA_TRACKING} arrives at {PRIYA_ADDRESS} by 2027-01-15 08:00 UTC."
    );
    let page = browser
        .page(&format!("/inbox/c/{}", rig.conversation))
        .await;
    assert!(
        page.contains("Sent: the reply is on its way."),
        "flash: {}",
        &page[page.find("flash").unwrap_or(0)..]
            [..600.min(page.len() - page.find("flash").unwrap_or(0))]
    );
    eventually(10, "the filled-in reply", || async {
        rig.sim
            .sent_to(PRIYA)
            .iter()
            .any(|m| m.text.as_deref() == Some(expected.as_str()))
            .then_some(())
    })
    .await;
    // The sent reply, as the agent sees it in the thread and the API afterwards: masked.
    seen.push_str(&page);
    let after = browser
        .page(&format!("/inbox/c/{}", rig.conversation))
        .await;
    assert!(
        after.contains("[ADDRESS]"),
        "the filled-in reply is in the thread, masked"
    );
    seen.push_str(&after);
    seen.push_str(
        &browser
            .page(&format!(
                "/api/v1/conversations/{}/messages",
                rig.conversation
            ))
            .await,
    );
    for secret in ["Lantern", "YO1", "Priya"] {
        assert!(
            !seen.contains(secret),
            "the agent was sent {secret}: {seen}"
        );
    }

    // An unknown placeholder, or one with no value, refuses the send and says which.
    for (draft, error) in [
        (
            "{{customer.iban}}",
            "{{customer.iban}} is not a placeholder Veilbox knows",
        ),
        (
            "{{shipment.slot}}",
            "{{shipment.slot}} has no value for this customer",
        ),
    ] {
        let (status, refused) = rig.send(json!({"type": "text", "body": draft})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().starts_with(error),
            "{refused}"
        );
    }
    rig.app.stop().await;
}
