//! Quick replies over real HTTP, against the WhatsApp simulator: a supervisor writes one
//! with `{{shipment.address}}`, their team's agent picks it in the composer and sends it
//! (no JavaScript: the picker's own form), the customer gets the real address and nothing
//! the agent loaded contains it. Agents cannot write quick replies, another team's
//! supervisor can neither see nor change them, and a text with a card number or an
//! unknown placeholder is refused with the reason.
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
use support::browser::Browser;
use support::{TestApp, API_TOKEN, SECRET};
use tokio::net::TcpListener;
use veilbox_store::people::EVERY_INBOX;
use veilbox_whatsapp::simulator::{self, Simulator, SimulatorConfig};

const TOKEN: &str = "test-graph-access-token";
const PRIYA: &str = "15555550142";
const PRIYA_ADDRESS: &str = "7 Lantern Yard, York YO1 7HH";
const BODY: &str = "Hi {{customer.name}}, we deliver to {{shipment.address}} by {{shipment.eta}}.";

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

async fn quick_reply_titles(app: &TestApp) -> Vec<(String, String, String)> {
    app.store
        .all_quick_replies()
        .await
        .unwrap()
        .into_iter()
        .map(|q| (q.id, q.title, q.body))
        .collect()
}

/// A browser's JSON call with its CSRF token.
async fn browser_json(
    browser: &Browser,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> StatusCode {
    browser
        .http
        .request(method, format!("{}{path}", browser.base))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_write_quick_replies_agents_send_them_blind() {
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_address = sim_listener.local_addr().unwrap();
    let app = TestApp::spawn_with(|c| {
        c.whatsapp.graph_url = format!("http://{sim_address}");
        c.whatsapp.access_token = Some(SecretString::from(TOKEN));
        c.whatsapp.retry_base = Duration::from_millis(50);
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
    let (status, report) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/shipments/import",
            json!([{"tracking": "RR123456785GB", "status": "out_for_delivery",
                    "customer_phone": format!("+{PRIYA}"), "customer_name": "Priya Nair",
                    "address": PRIYA_ADDRESS, "eta": "2027-01-15T08:00:00Z"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    sim.customer_says(PRIYA, "where is my parcel?")
        .await
        .unwrap();
    let conversation = eventually(10, "the conversation", || async {
        app.open_conversation_of(PRIYA).await
    })
    .await;

    // North and South both serve every inbox; each has a supervisor, North an agent.
    let north_lead = app
        .add_person("nadia@courier.example", "supervisor", Some("North"))
        .await;
    let south_lead = app
        .add_person("sol@courier.example", "supervisor", Some("South"))
        .await;
    let agent = app
        .add_person("ravi@courier.example", "agent", Some("North"))
        .await;
    let north = app.store.ensure_team("North").await.unwrap();
    let south = app.store.ensure_team("South").await.unwrap();
    for team in [&north, &south] {
        app.store.add_team_inbox(team, EVERY_INBOX).await.unwrap();
    }
    assert!(app
        .store
        .assign_conversation(&conversation, Some(&agent.id))
        .await
        .unwrap());

    // The supervisor writes one; the menu links the page.
    let mut lead = Browser::new(&app);
    lead.sign_in(&north_lead).await;
    let page = lead.page("/quick-replies").await;
    assert!(page.contains("href=\"/quick-replies\""), "menu link");
    lead.act(
        "/quick-replies",
        &[
            ("team_id", &north),
            ("title", "Address check"),
            ("body", BODY),
        ],
    )
    .await;
    let stored = quick_reply_titles(&app).await;
    assert_eq!(stored.len(), 1);
    let (quick_id, _, body) = stored[0].clone();
    assert_eq!(body, BODY);
    let audited: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT target, reason FROM audit_log WHERE action = 'quick_reply.created'")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(audited, [(quick_id.clone(), Some(north.clone()))]);

    // Refused with the reason, and nothing stored.
    for (body, reason) in [
        (
            "Pay with card 4111 1111 1111 1111 today",
            "refused by leak prevention: the text contains CARD",
        ),
        (
            "Your IBAN is {{customer.iban}}",
            "{{customer.iban}} is not a placeholder Veilbox knows",
        ),
    ] {
        let refused = lead
            .act_response(
                "/quick-replies",
                &[("team_id", &north), ("title", "Bad"), ("body", body)],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(html.contains(reason), "{reason}: {html}");
        let status = browser_json(
            &lead,
            reqwest::Method::POST,
            "/api/v1/quick-replies",
            json!({"team_id": north, "title": "Bad", "body": body}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert_eq!(quick_reply_titles(&app).await.len(), 1);

    // The agent sees the title and the placeholders in the composer, never the values.
    let mut ravi = Browser::new(&app);
    ravi.sign_in(&agent).await;
    let mut seen = String::new();
    let thread = ravi.page(&format!("/inbox/c/{conversation}")).await;
    assert!(thread.contains("Address check"), "the picker lists it");
    assert!(thread.contains("{{shipment.address}}"), "placeholders only");
    assert!(!thread.contains("href=\"/quick-replies\""), "no menu link");
    seen.push_str(&thread);
    let listed = ravi.page("/api/v1/quick-replies").await;
    assert!(listed.contains(&quick_id), "{listed}");
    seen.push_str(&listed);

    // An agent cannot write quick replies, on the page or through the API.
    assert_eq!(
        ravi.get("/quick-replies").await.status(),
        StatusCode::FORBIDDEN
    );
    for (path, form) in [
        (
            "/quick-replies".to_owned(),
            vec![
                ("team_id", north.as_str()),
                ("title", "Mine"),
                ("body", "hi"),
            ],
        ),
        (
            format!("/quick-replies/{quick_id}"),
            vec![("title", "Mine"), ("body", "hi")],
        ),
        (format!("/quick-replies/{quick_id}/delete"), vec![]),
    ] {
        let refused = ravi.act_response(&path, &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/quick-replies".to_owned()),
        (
            reqwest::Method::PUT,
            format!("/api/v1/quick-replies/{quick_id}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/quick-replies/{quick_id}"),
        ),
    ] {
        let status = browser_json(
            &ravi,
            method,
            &path,
            json!({"team_id": north, "title": "Mine", "body": "hi"}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        quick_reply_titles(&app).await,
        [(
            quick_id.clone(),
            "Address check".to_owned(),
            BODY.to_owned()
        )]
    );

    // The agent sends it without JavaScript: the customer gets the real address.
    let sent = ravi
        .act_response(
            &format!("/inbox/c/{conversation}/quick-reply"),
            &[("quick_reply", &quick_id)],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    seen.push_str(&format!("{:?}", sent.headers()));
    seen.push_str(&sent.text().await.unwrap());
    let expected = format!("Hi Priya Nair, we deliver to {PRIYA_ADDRESS} by 2027-01-15 08:00 UTC.");
    eventually(10, "the filled-in quick reply", || async {
        sim.sent_to(PRIYA)
            .iter()
            .any(|m| m.text.as_deref() == Some(expected.as_str()))
            .then_some(())
    })
    .await;
    let after = ravi.page(&format!("/inbox/c/{conversation}")).await;
    assert!(after.contains("Sent: the reply is on its way."), "flash");
    assert!(after.contains("[ADDRESS]"), "the sent reply, masked");
    seen.push_str(&after);
    seen.push_str(
        &ravi
            .page(&format!("/api/v1/conversations/{conversation}/messages"))
            .await,
    );
    for secret in ["Lantern", "YO1"] {
        assert!(
            !seen.contains(secret),
            "the agent was sent {secret}: {seen}"
        );
    }
    // An id the conversation does not offer sends nothing.
    let before = app.count("SELECT COUNT(*) FROM outbox").await;
    ravi.act(
        &format!("/inbox/c/{conversation}/quick-reply"),
        &[("quick_reply", "not-a-quick-reply")],
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, before);

    // Another team's supervisor neither sees nor changes it.
    let mut sol = Browser::new(&app);
    sol.sign_in(&south_lead).await;
    let theirs = sol.page("/quick-replies").await;
    assert!(!theirs.contains("Address check") && !theirs.contains(&quick_id));
    let listed = sol.page("/api/v1/quick-replies").await;
    assert!(!listed.contains(&quick_id), "{listed}");
    let composer = sol.page(&format!("/inbox/c/{conversation}")).await;
    assert!(!composer.contains("Address check"));
    for (path, form) in [
        (
            format!("/quick-replies/{quick_id}"),
            vec![("title", "Taken"), ("body", "hi")],
        ),
        (format!("/quick-replies/{quick_id}/delete"), vec![]),
        (
            "/quick-replies".to_owned(),
            vec![
                ("team_id", north.as_str()),
                ("title", "Theirs"),
                ("body", "hi"),
            ],
        ),
    ] {
        let refused = sol.act_response(&path, &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let status = browser_json(
        &sol,
        reqwest::Method::PUT,
        &format!("/api/v1/quick-replies/{quick_id}"),
        json!({"title": "Taken", "body": "hi"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        quick_reply_titles(&app).await,
        [(
            quick_id.clone(),
            "Address check".to_owned(),
            BODY.to_owned()
        )]
    );

    // Its own supervisor edits and deletes it, audited by id.
    lead.act(
        &format!("/quick-replies/{quick_id}"),
        &[("title", "Where we deliver"), ("body", BODY)],
    )
    .await;
    assert_eq!(quick_reply_titles(&app).await[0].1, "Where we deliver");
    lead.act(&format!("/quick-replies/{quick_id}/delete"), &[])
        .await;
    assert!(quick_reply_titles(&app).await.is_empty());
    for action in ["quick_reply.updated", "quick_reply.deleted"] {
        let targets: Vec<(String,)> =
            sqlx::query_as("SELECT target FROM audit_log WHERE action = $1")
                .bind(action)
                .fetch_all(app.store.pool())
                .await
                .unwrap();
        assert_eq!(targets, [(quick_id.clone(),)], "{action}");
    }
    app.stop().await;
}
