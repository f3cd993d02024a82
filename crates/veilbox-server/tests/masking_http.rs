//! Masking on the server and reveals with a reason.
//!
//! The leak sweep plants canary personal data in a conversation (text, a location, a shared
//! contact) and in the CRM (the customer's name, a shipment's recipient, phone, address and
//! instructions), then fetches every route an agent and a supervisor can reach that carries
//! customer data — pages, fragments, the JSON API, the customer card, search results and
//! the live event stream — and asserts that no canary appears in any byte. The reveal
//! tests walk the flow: a value offered for reveal is revealed with a reason, audited
//! without the value, time-limited; kinds the policy forbids, missing reasons, another
//! team's and an unassigned agent's attempts are refused; many reveals alert.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use support::browser::{now_s, Browser};
use support::{TestApp, API_TOKEN, OPERATIONS};

const PHONE: &str = "447700966123";
const ADDRESS: &str = "19 Quenby Mews, Leeds LS6 2QT";

/// Everything planted, as it could leak: whole values and their telling parts.
const CANARIES: &[&str] = &[
    "Ottoline",
    "Brackwater",
    "Quenby",
    "LS6 2QT",
    "966123",
    "966 123",
    "966456",
    "966 456",
    "4111 1111",
    "4111111111111111",
    "604418",
    "ottoline.b",
    "53.8194",
    "1.5781",
    "Thaddeus",
    "Pemberton",
    "966789",
];

fn assert_clean(body: &str, route: &str) {
    for canary in CANARIES {
        assert!(
            !body.contains(canary),
            "{route} leaks {canary:?}: {}",
            excerpt(body, canary)
        );
        // JSON-escaped and HTML-escaped spellings are the same for these ASCII canaries;
        // a lower-cased copy is not.
        assert!(
            !body.to_lowercase().contains(&canary.to_lowercase()),
            "{route} leaks {canary:?} in another case"
        );
    }
}

fn excerpt(body: &str, canary: &str) -> String {
    let at = body.find(canary).unwrap_or(0);
    let start = body.floor_char_boundary(at.saturating_sub(80));
    let end = body.ceil_char_boundary((at + 80).min(body.len()));
    body[start..end].to_owned()
}

fn envelope(wamid: &str, message: Value) -> Vec<u8> {
    let mut message = message;
    message["from"] = json!(PHONE);
    message["id"] = json!(wamid);
    message["timestamp"] = json!(now_s().to_string());
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": "Ottoline Brackwater"}, "wa_id": PHONE}],
            "messages": [message]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

const PLANTED_TEXT: &str = "Hi, Ottoline here. Please deliver RR123456785GB to 19 Quenby Mews, \
    Leeds LS6 2QT, call +44 7700 966456. My card 4111 1111 1111 1111 cvv 737 and OTP 604418, \
    email ottoline.b@example.net";

/// A customer with canaries in the CRM and in three messages; returns (customer id,
/// conversation id, message ids).
async fn plant(app: &TestApp) -> (String, String, Vec<String>) {
    let (status, report) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/shipments/import",
            json!([{"tracking": "RR123456785GB", "status": "out_for_delivery",
                    "customer_phone": "+44 7700 966123", "recipient_name": "Ottoline Brackwater",
                    "recipient_phone": "+44 7700 966 456",
                    "address": ADDRESS, "instructions": "Leave with Thaddeus Pemberton at no. 21"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    for (wamid, message) in [
        (
            "wamid.LEAK1",
            json!({"type": "text", "text": {"body": PLANTED_TEXT},
                   "context": {"from": PHONE, "id": "wamid.EARLIER"}}),
        ),
        (
            "wamid.LEAK2",
            json!({"type": "location", "location": {"latitude": 53.8194, "longitude": -1.5781,
                   "name": "Home", "address": ADDRESS}}),
        ),
        (
            "wamid.LEAK3",
            json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Thaddeus Pemberton",
                   "first_name": "Thaddeus"}, "phones": [{"phone": "+44 7700 966789", "type": "CELL"}]}]}),
        ),
    ] {
        assert_eq!(
            app.post_signed(&envelope(wamid, message)).await.status(),
            200
        );
    }
    let conversation = app.open_conversation_of(PHONE).await.expect("conversation");
    let customer: String = sqlx::query("SELECT customer_id FROM conversations WHERE id = $1")
        .bind(&conversation)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("customer_id")
        .unwrap();
    let mut messages = Vec::new();
    for wamid in ["wamid.LEAK1", "wamid.LEAK2", "wamid.LEAK3"] {
        let id: String = sqlx::query("SELECT id FROM messages WHERE wa_message_id = $1")
            .bind(wamid)
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .try_get("id")
            .unwrap();
        messages.push(id);
    }
    assert_eq!(messages.len(), 3);
    (customer, conversation, messages)
}

/// A new agent of the Operations team, assigned `conversation` and signed in.
async fn assigned_agent(app: &TestApp, conversation: &str, email: &str) -> Browser {
    let agent = app.add_person(email, "agent", Some(OPERATIONS)).await;
    assert!(app
        .store
        .assign_conversation(conversation, Some(&agent.id))
        .await
        .unwrap());
    let mut browser = Browser::new(app);
    browser.sign_in(&agent).await;
    browser
}

/// The data-ref of the first revealable value of `kind` on a page.
fn reference(page: &str, kind: &str) -> Option<String> {
    page.match_indices("data-ref=\"").find_map(|(at, m)| {
        let rest = &page[at + m.len()..];
        let end = rest.find('"')?;
        let after = &rest[end..];
        after
            .starts_with(&format!("\" data-kind=\"{kind}\""))
            .then(|| rest[..end].to_owned())
    })
}

async fn reveal(browser: &Browser, conversation: &str, body: Value) -> (StatusCode, Value) {
    let response = browser
        .http
        .post(format!(
            "{}/api/v1/conversations/{conversation}/reveals",
            browser.base
        ))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reads the live stream for `wait`, after `trigger` ran.
async fn live_bytes(
    browser: &Browser,
    wait: Duration,
    trigger: impl std::future::Future<Output = ()>,
) -> String {
    let response = browser.get("/inbox/events").await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    trigger.await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await {
        seen.extend_from_slice(&chunk);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_planted_value_reaches_an_agent_or_a_supervisor_on_any_route() {
    let app = TestApp::spawn().await;
    let (customer, conversation, messages) = plant(&app).await;
    let agent = app
        .add_person("ada@courier.test", "agent", Some(OPERATIONS))
        .await;
    let queue_agent = app
        .add_person("quin@courier.test", "agent", Some(OPERATIONS))
        .await;
    let supervisor = app
        .add_person("sol@courier.test", "supervisor", Some(OPERATIONS))
        .await;

    let mut routes = vec![
        "/inbox".to_owned(),
        "/inbox?state=open&who=all".to_owned(),
        "/inbox?state=open&who=mine".to_owned(),
        format!("/inbox/c/{conversation}"),
        format!("/inbox/list?state=open&who=all&c={conversation}"),
        format!("/customers/{customer}"),
        "/api/v1/conversations".to_owned(),
        format!("/api/v1/conversations/{conversation}"),
        format!("/api/v1/conversations/{conversation}/messages"),
        format!("/api/v1/customers/{customer}"),
        "/api/v1/shipments/RR123456785GB".to_owned(),
    ];
    routes.extend(
        messages
            .iter()
            .map(|m| format!("/inbox/c/{conversation}/m/{m}")),
    );

    let mut a = Browser::new(&app);
    a.sign_in(&agent).await;
    let mut q = Browser::new(&app);
    q.sign_in(&queue_agent).await;
    let mut s = Browser::new(&app);
    s.sign_in(&supervisor).await;
    let mut reached = 0;
    // First while the conversation waits in the team's queue (every agent of the team sees
    // it, none may reveal), then once it is assigned.
    let queued = q.page(&format!("/inbox/c/{conversation}")).await;
    assert!(queued.contains("[ADDRESS]") && !queued.contains("data-ref="));
    for route in &routes {
        let response = q.get(route).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_clean(&body, &format!("queue agent GET {route} ({status})"));
        if status == StatusCode::OK {
            reached += 1;
        }
    }
    assert!(app
        .store
        .assign_conversation(&conversation, Some(&agent.id))
        .await
        .unwrap());
    for (who, browser) in [("agent", &a), ("supervisor", &s)] {
        for route in &routes {
            let response = browser.get(route).await;
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_clean(&body, &format!("{who} GET {route} ({status})"));
            if status == StatusCode::OK {
                reached += 1;
            }
        }
    }
    // Positive control: the sweep read real pages, with the data masked in them.
    assert!(reached >= 30, "only {reached} routes answered");
    let thread = a.page(&format!("/inbox/c/{conversation}")).await;
    for label in [
        "[PERSON]",
        "[ADDRESS]",
        "[PHONE]",
        "[CARD]",
        "[OTP]",
        "[EMAIL]",
        "[GPS]",
    ] {
        assert!(thread.contains(label), "{label} missing from the thread");
    }
    assert!(
        thread.contains("RR123456785GB"),
        "tracking numbers stay visible"
    );
    assert!(thread.contains("class=\"watermark\"") && thread.contains("ada · "));
    // The assigned agent is offered reveals of delivery details, never of payment data.
    assert!(
        reference(&thread, "ADDRESS").is_some(),
        "address revealable"
    );
    assert!(
        reference(&thread, "CARD").is_none(),
        "card never revealable"
    );
    assert!(reference(&thread, "OTP").is_none(), "OTP never revealable");

    // A supervisor's search result names the customer by their handle only.
    let found = s
        .act_response(
            "/customers/search",
            &[("by", "tracking"), ("value", "RR123456785GB")],
        )
        .await;
    assert_eq!(found.status(), StatusCode::OK);
    assert_clean(&found.text().await.unwrap(), "supervisor search");

    // The live stream: a new message with canaries arrives while the agent listens.
    let stream = live_bytes(&a, Duration::from_secs(3), async {
        let body = envelope(
            "wamid.LEAK4",
            json!({"type": "text", "text": {"body": "Ottoline again: 19 Quenby Mews, card 4111 1111 1111 1111"}}),
        );
        assert_eq!(app.post_signed(&body).await.status(), 200);
    })
    .await;
    assert!(
        stream.contains("event: message"),
        "the event arrived: {stream}"
    );
    assert_clean(&stream, "agent live stream");
    let newest: String = sqlx::query("SELECT id FROM messages WHERE wa_message_id = 'wamid.LEAK4'")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("id")
        .unwrap();
    let fragment = a.page(&format!("/inbox/c/{conversation}/m/{newest}")).await;
    assert!(fragment.contains("[ADDRESS]") || fragment.contains("[CARD]"));
    assert_clean(&fragment, "live fragment");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reveal_needs_the_right_a_reason_and_is_audited_without_the_value() {
    let app = TestApp::spawn_with(|c| c.masking.reveal_alert_per_hour = 2).await;
    let (_, conversation, messages) = plant(&app).await;
    let agent = app
        .add_person("ada@courier.test", "agent", Some(OPERATIONS))
        .await;
    let other = app
        .add_person("oli@courier.test", "agent", Some(OPERATIONS))
        .await;
    let outsider = app
        .add_person("rex@courier.test", "supervisor", Some("Returns"))
        .await;
    let supervisor = app
        .add_person("sol@courier.test", "supervisor", Some(OPERATIONS))
        .await;
    assert!(app
        .store
        .assign_conversation(&conversation, Some(&agent.id))
        .await
        .unwrap());
    let mut a = Browser::new(&app);
    a.sign_in(&agent).await;
    let thread = a.page(&format!("/inbox/c/{conversation}")).await;
    let address = reference(&thread, "ADDRESS").expect("an address to reveal");
    // The agent may reply but not override the reply check: no override fields for them.
    assert!(thread.contains("id=\"reply-body\""));
    assert!(!thread.contains("name=\"override_block\""));

    // No reason, an unknown reason, "other" without a note: refused before anything.
    for body in [
        json!({"ref": address}),
        json!({"ref": address, "reason": "curious"}),
        json!({"ref": address, "reason": "other", "note": "  "}),
    ] {
        let (status, answer) = reveal(&a, &conversation, body.clone()).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {status} {answer}"
        );
    }
    // Without the CSRF header a browser cannot reveal.
    let forged = a
        .http
        .post(format!(
            "{}/api/v1/conversations/{conversation}/reveals",
            a.base
        ))
        .header("cookie", a.cookie())
        .json(&json!({"ref": address, "reason": "delivery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // With a reason: the value, for the configured time.
    let (status, answer) = reveal(
        &a,
        &conversation,
        json!({"ref": address, "reason": "delivery", "note": "rider at the gate"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["kind"], "ADDRESS");
    assert_eq!(answer["value"], ADDRESS);
    assert_eq!(answer["expires_in_seconds"], 60);

    // The card number is never offered; a forged reference to it is refused and audited.
    // Its reference, forged from its position among the message's hidden values.
    let item = &thread[thread.find(&format!("id=\"m-{}\"", messages[0])).unwrap()..];
    let item = &item[..item.find("</li>").unwrap()];
    let position = item
        .match_indices("data-kind=\"")
        .map(|(at, m)| &item[at + m.len()..])
        .position(|rest| rest.starts_with("CARD\""))
        .expect("the card is hidden in the message");
    let card_ref = format!("m/{}/body/{position}", messages[0]);
    assert!(!thread.contains(&card_ref));
    let (status, _) = reveal(
        &a,
        &conversation,
        json!({"ref": card_ref, "reason": "escalation"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{card_ref}");
    // A reference to nothing, and one into another conversation's message, are 404.
    for bogus in ["m/nope/body/0", "c/someone-else/name/0", "x/y", ""] {
        let (status, _) = reveal(
            &a,
            &conversation,
            json!({"ref": bogus, "reason": "delivery"}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bogus:?}");
    }

    // A colleague's conversation and another team's do not exist for them.
    let mut o = Browser::new(&app);
    o.sign_in(&other).await;
    let (status, _) = reveal(
        &o,
        &conversation,
        json!({"ref": address, "reason": "delivery"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a colleague's conversation");
    let mut x = Browser::new(&app);
    x.sign_in(&outsider).await;
    let (status, _) = reveal(
        &x,
        &conversation,
        json!({"ref": address, "reason": "delivery"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another team's conversation does not exist"
    );

    // The team's supervisor may reveal more (an e-mail), never a card.
    let mut s = Browser::new(&app);
    s.sign_in(&supervisor).await;
    let sup_thread = s.page(&format!("/inbox/c/{conversation}")).await;
    let email = reference(&sup_thread, "EMAIL").expect("supervisors may reveal e-mails");
    assert!(
        sup_thread.contains("name=\"override_block\""),
        "the team's supervisor may override a block"
    );
    assert!(reference(&sup_thread, "CARD").is_none());
    let (status, answer) = reveal(
        &s,
        &conversation,
        json!({"ref": email, "reason": "escalation"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["value"], "ottoline.b@example.net");
    let (status, _) = reveal(
        &s,
        &conversation,
        json!({"ref": card_ref, "reason": "escalation"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The CRM card beside the thread: the shipment's address, by its own reference.
    let crm_address = sup_thread
        .match_indices("data-ref=\"s/")
        .map(|(at, _)| {
            let rest = &sup_thread[at + 10..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .find(|r| r.contains("/address/"))
        .expect("the shipment address is revealable");
    let (status, answer) = reveal(
        &s,
        &conversation,
        json!({"ref": crm_address, "reason": "failed_delivery"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["value"], ADDRESS);

    // The audit log: who, which value (by reference and kind) and why; never the value.
    let rows: Vec<(String, String, String, String)> = sqlx::query(
        "SELECT actor, action, COALESCE(target, '') AS target, COALESCE(reason, '') AS reason \
         FROM audit_log WHERE action LIKE 'reveal%' ORDER BY seq",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get("actor").unwrap(),
            r.try_get("action").unwrap(),
            r.try_get("target").unwrap(),
            r.try_get("reason").unwrap(),
        )
    })
    .collect();
    assert!(rows
        .iter()
        .any(|(actor, action, target, reason)| actor == &agent.id
            && action == "reveal"
            && target == &format!("{conversation} {address} ADDRESS")
            && reason.ends_with("rider at the gate")));
    assert!(rows
        .iter()
        .any(|(actor, action, target, _)| actor == &agent.id
            && action == "reveal.denied"
            && target.ends_with(" CARD")));
    for (_, _, target, reason) in &rows {
        assert_clean(&format!("{target} {reason}"), "audit log");
    }

    // More than two reveals within the hour alert the supervisors, once.
    for _ in 0..2 {
        let (status, _) = reveal(
            &a,
            &conversation,
            json!({"ref": address, "reason": "delivery"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let alerts: Vec<String> = sqlx::query(
        "SELECT COALESCE(subject, '') AS s FROM admin_alerts WHERE kind = 'reveal_rate'",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("s").unwrap())
    .collect();
    assert_eq!(alerts, std::slice::from_ref(&agent.id));
    let inbox = s.page("/inbox").await;
    assert!(
        inbox.contains("revealed more than 2 values"),
        "the supervisor is told"
    );
    assert!(
        !x.page("/inbox").await.contains("revealed more than"),
        "another team's supervisor is not"
    );

    // Back in the queue, the team's agents see it but may reveal nothing until they take it.
    assert!(app
        .store
        .assign_conversation(&conversation, None)
        .await
        .unwrap());
    let (status, _) = reveal(
        &o,
        &conversation,
        json!({"ref": address, "reason": "delivery"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an unassigned agent");
    app.stop().await;
}

#[tokio::test]
async fn edits_show_their_earlier_text_masked_and_deleted_messages_show_nothing() {
    let app = TestApp::spawn().await;
    let text = |body: &str| json!({"type": "text", "text": {"body": body}});
    for (wamid, message) in [
        (
            "wamid.ED1",
            text("Ring Quenbybell, call +44 7700 966456 before noon"),
        ),
        (
            "wamid.ED2",
            text("my secret word is Zanzibarwort, OTP 604418"),
        ),
        (
            "wamid.ED3",
            json!({"type": "edit", "edit": {"original_message_id": "wamid.ED1",
                   "message": {"type": "text", "text": {"body": "Ring the side door after noon"}}}}),
        ),
        (
            "wamid.ED4",
            json!({"type": "revoke", "revoke": {"original_message_id": "wamid.ED2"}}),
        ),
    ] {
        assert_eq!(
            app.post_signed(&envelope(wamid, message)).await.status(),
            200
        );
    }
    let conversation = app.open_conversation_of(PHONE).await.expect("conversation");
    let a = assigned_agent(&app, &conversation, "ede@courier.test").await;
    let page = a.page(&format!("/inbox/c/{conversation}")).await;
    let api = a
        .get(&format!("/api/v1/conversations/{conversation}/messages"))
        .await
        .text()
        .await
        .unwrap();
    for body in [&page, &api] {
        assert!(!body.contains("Zanzibarwort"), "deleted text shown");
        assert!(!body.contains("604418"));
        assert!(
            !body.contains("966456"),
            "the earlier text's phone is masked"
        );
    }
    assert!(page.contains("The customer deleted this message."));
    assert!(page.contains("Edited by the customer"));
    assert!(page.contains("Ring the side door after noon"));
    assert!(
        page.contains("before noon"),
        "the earlier text is there, masked"
    );
    let messages: Value = serde_json::from_str(&api).unwrap();
    let items = messages["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "amendments are not bubbles of their own");
    let edited = items
        .iter()
        .find(|m| m["edited_at"].is_string())
        .expect("edited message");
    assert_eq!(edited["previous_versions"].as_array().unwrap().len(), 1);
    let deleted = items
        .iter()
        .find(|m| m["deleted_at"].is_string())
        .expect("deleted message");
    assert_eq!(deleted["content"], json!({"kind": "deleted"}));
    app.stop().await;
}

#[tokio::test]
async fn a_field_hidden_whole_takes_the_most_sensitive_kind_inside_it() {
    let app = TestApp::spawn().await;
    for (wamid, message) in [
        (
            "wamid.WH1",
            json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "4111 1111 1111 1111"},
                   "phones": [{"phone": "+44 7700 966789", "type": "CELL"}]}]}),
        ),
        (
            "wamid.WH2",
            json!({"type": "location", "location": {"latitude": 53.8194, "longitude": -1.5781,
                   "address": "19 Quenby Mews, Leeds, OTP 604418"}}),
        ),
    ] {
        assert_eq!(
            app.post_signed(&envelope(wamid, message)).await.status(),
            200
        );
    }
    let conversation = app.open_conversation_of(PHONE).await.expect("conversation");
    let id_of = |wamid: &'static str| {
        let pool = app.store.pool().clone();
        async move {
            sqlx::query("SELECT id FROM messages WHERE wa_message_id = $1")
                .bind(wamid)
                .fetch_one(&pool)
                .await
                .unwrap()
                .try_get::<String, _>("id")
                .unwrap()
        }
    };
    let (contact, location) = (id_of("wamid.WH1").await, id_of("wamid.WH2").await);
    let a = assigned_agent(&app, &conversation, "wes@courier.test").await;
    let thread = a.page(&format!("/inbox/c/{conversation}")).await;
    assert!(!thread.contains("4111 1111"), "the card is hidden");
    assert!(!thread.contains("604418"), "the code is hidden");
    // Labelled by what is inside, and not offered for reveal: an agent may reveal a PERSON
    // or an ADDRESS, never a CARD or an OTP.
    let contact_ref = format!("m/{contact}/contact.0/0");
    let address_ref = format!("m/{location}/address/0");
    for forged in [&contact_ref, &address_ref] {
        assert!(!thread.contains(forged.as_str()), "{forged} offered");
    }
    assert!(thread.contains("[CARD]"));
    assert!(thread.contains("[OTP]"));
    for (forged, kind) in [(&contact_ref, "CARD"), (&address_ref, "OTP")] {
        let (status, answer) = reveal(
            &a,
            &conversation,
            json!({"ref": forged, "reason": "delivery"}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{forged}: {answer}");
        let denied: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'reveal.denied' AND target LIKE $1",
        )
        .bind(format!("% {forged} {kind}"))
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        assert_eq!(denied, 1, "{forged} audited as {kind}");
    }
    app.stop().await;
}

/// Meta's error texts can quote what the customer sent: a message's `errors` in the API
/// and the platform errors admins read are masked like message content.
#[tokio::test]
async fn error_details_are_masked_for_agents_and_admins() {
    let app = TestApp::spawn().await;
    let message = json!({"type": "unsupported", "errors": [{"code": 131051,
        "title": "Message type unknown",
        "error_data": {"details": "could not read: call +44 7700 966456, card 4111 1111 1111 1111"}}]});
    assert_eq!(
        app.post_signed(&envelope("wamid.ERR1", message))
            .await
            .status(),
        200
    );
    let platform = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "errors": [{"code": 131000, "title": "Something went wrong for +44 7700 966456",
                        "error_data": {"details": "recipient Ottoline Brackwater, 19 Quenby Mews, Leeds LS6 2QT, +44 7700 966456"}}]
        }}]}]
    });
    assert_eq!(
        app.post_signed(platform.to_string().as_bytes())
            .await
            .status(),
        200
    );
    let conversation = app.open_conversation_of(PHONE).await.expect("conversation");
    let (status, messages) = app
        .api(&format!("/api/v1/conversations/{conversation}/messages"))
        .await;
    assert_eq!(status, StatusCode::OK, "{messages}");
    let text = messages.to_string();
    assert!(text.contains("131051"), "the error is there: {text}");
    assert!(
        !text.contains("966456") && !text.contains("4111 1111"),
        "{text}"
    );
    let (status, errors) = app.admin_api("/api/v1/admin/platform-errors").await;
    assert_eq!(status, StatusCode::OK, "{errors}");
    let text = errors.to_string();
    assert!(
        text.contains("131000"),
        "the platform error is there: {text}"
    );
    assert!(!text.contains("966456"), "{text}");
    assert!(!text.contains("Quenby"), "{text}");
    app.stop().await;
}

/// A customer's new security code is a warning in the thread: a new phone may be someone
/// else's.
#[tokio::test]
async fn a_changed_security_code_warns_the_agent() {
    let app = TestApp::spawn().await;
    for (wamid, message) in [
        (
            "wamid.ID1",
            json!({"type": "text", "text": {"body": "where is my parcel?"}}),
        ),
        (
            "wamid.ID2",
            json!({"type": "system", "system": {"body": "Ottoline's security code changed.",
                   "customer": PHONE, "type": "customer_identity_changed"},
                   "identity": {"acknowledged": false, "created_timestamp": "1780000229", "hash": "Sm9SX3YzOlpq"}}),
        ),
    ] {
        assert_eq!(
            app.post_signed(&envelope(wamid, message)).await.status(),
            200
        );
    }
    let conversation = app.open_conversation_of(PHONE).await.expect("conversation");
    let a = assigned_agent(&app, &conversation, "ida@courier.test").await;
    let thread = a.page(&format!("/inbox/c/{conversation}")).await;
    assert!(
        thread.contains("security code changed: they may be on a new phone"),
        "{thread}"
    );
    app.stop().await;
}
