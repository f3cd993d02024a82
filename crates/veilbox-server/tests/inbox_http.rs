//! The agent inbox over real HTTP: sign-in, CSRF, rendering of every message type,
//! replies inside and outside the 24-hour window, conversation actions, the live stream
//! and the security headers.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::browser::{cookie_value, Browser, Person};
use support::TestApp;
use veilbox_server::config::{Config, TemplateConfig};

const ADMIN_EMAIL: &str = "dispatch@courier.test";
const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'self'; object-src 'none'";

fn with_templates(config: &mut Config) {
    config.whatsapp.templates = vec![TemplateConfig {
        name: "delivery_update".to_owned(),
        language: "en_GB".to_owned(),
        text: "Hello, we have news about your parcel. Reply to continue.".to_owned(),
    }];
}

/// An app and the supervisor of its Operations team (which serves every inbox).
async fn spawn() -> (TestApp, Person) {
    let app = TestApp::spawn_with(with_templates).await;
    let me = app
        .add_person(ADMIN_EMAIL, "supervisor", Some(support::OPERATIONS))
        .await;
    (app, me)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A text message webhook from `wa_id` sent at `timestamp` (Unix seconds).
fn text_webhook(wa_id: &str, name: &str, wamid: &str, body: &str, timestamp: i64) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "230811736742955",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                    "messages": [{
                        "from": wa_id, "id": wamid, "timestamp": timestamp.to_string(),
                        "type": "text", "text": {"body": body}
                    }]
                }
            }]
        }]
    })
    .to_string()
    .into_bytes()
}

async fn conversation_ids(app: &TestApp) -> Vec<String> {
    let (status, page) = app.api("/api/v1/conversations?limit=200").await;
    assert_eq!(status, 200);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Posts a text message and returns its conversation id.
async fn customer_writes(
    app: &TestApp,
    wa_id: &str,
    wamid: &str,
    body: &str,
    timestamp: i64,
) -> String {
    let response = app
        .post_signed(&text_webhook(
            wa_id,
            "Test Customer",
            wamid,
            body,
            timestamp,
        ))
        .await;
    assert_eq!(response.status(), 200);
    app.open_conversation_of(wa_id)
        .await
        .expect("the customer's conversation")
}

fn assert_security_headers(headers: &HeaderMap, what: &str) {
    assert_eq!(headers["content-security-policy"], CSP, "{what}");
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
}

#[tokio::test]
async fn pages_need_sign_in_and_a_wrong_password_is_refused() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);

    for path in [
        "/inbox",
        "/inbox/c/nothing",
        "/inbox/events",
        "/inbox/list",
        "/",
    ] {
        let response = agent.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/login", "{path}");
    }

    let wrong = agent
        .try_sign_in(ADMIN_EMAIL, "not the password at all")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_value(wrong.headers(), "veilbox_session").is_none());
    let wrong_body = wrong.text().await.unwrap();
    assert!(wrong_body.contains("do not match"), "{wrong_body}");
    // The same answer for an unknown e-mail: no user enumeration.
    let unknown = agent
        .try_sign_in("someone@else.test", "not the password at all")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_body = unknown.text().await.unwrap();
    let message = |html: &str| {
        let at = html.find("role=\"alert\">").expect("an alert");
        html[at..].split('<').next().unwrap().to_owned()
    };
    assert_eq!(message(&wrong_body), message(&unknown_body));

    // A sign-in form without its token is refused.
    let no_token = agent
        .http
        .post(format!("{}/login", app.base))
        .form(&[("email", ADMIN_EMAIL), ("password", me.password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);

    // A forged session id is not signed in.
    agent.session = Some("vbs_forged".to_owned());
    assert_eq!(agent.get("/inbox").await.status(), StatusCode::SEE_OTHER);

    agent.sign_in(&me).await;
    let root = agent.get("/").await;
    assert_eq!(
        root.headers()[LOCATION],
        "/inbox",
        "a supervisor lands in the inbox"
    );
    let html = agent.page("/inbox").await;
    assert!(html.contains("<title>Veilbox · Inbox</title>"));
    assert!(html.contains("dispatch · supervisor"), "who is signed in");

    // Signing out ends the session on the server.
    let old = agent.session.clone();
    agent.act("/logout", &[]).await;
    agent.session = old;
    assert_eq!(agent.get("/inbox").await.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_forbidden() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&me).await;
    let id = customer_writes(&app, "447700900111", "wamid.csrf1", "hello", now_s()).await;

    for (path, form) in [
        (format!("/inbox/c/{id}/state"), vec![("state", "resolved")]),
        (
            format!("/inbox/c/{id}/state"),
            vec![("state", "resolved"), ("csrf", "wrong")],
        ),
        (format!("/inbox/c/{id}/assign"), vec![("to", "me")]),
        (format!("/inbox/c/{id}/reply"), vec![("body", "hi")]),
        ("/logout".to_owned(), vec![]),
    ] {
        let response = agent.post(&path, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} {form:?}");
    }
    let (_, conversation) = app.api(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(conversation["state"], "open");
    assert_eq!(conversation["assignee"], Value::Null);
    let (_, thread) = app
        .api(&format!("/api/v1/conversations/{id}/messages"))
        .await;
    assert_eq!(
        thread["items"].as_array().unwrap().len(),
        1,
        "no reply was queued"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_message_type_renders() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&me).await;
    for name in support::sample_names() {
        let response = app.post_signed(&support::sample(&name)).await;
        assert_eq!(response.status(), 200, "{name}");
    }
    let ids = conversation_ids(&app).await;
    assert!(!ids.is_empty());
    let mut all = String::new();
    for id in &ids {
        let response = agent
            .get(&format!("/inbox/c/{id}?state=open&who=all"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_security_headers(response.headers(), "thread page");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("<title>Veilbox · Inbox</title>"),
            "no customer data in titles"
        );
        all.push_str(&html);
    }
    for expected in [
        "Hi, my order #48213",                // text
        "Image · image/jpeg",                 // media placeholder with mime
        "Video",                              // video
        "Voice message",                      // audio voice note
        "Document",                           // document
        "Sticker",                            // sticker
        "📍 Location",                        // location
        " contact",                           // contacts
        "Tapped button",                      // interactive button reply
        "Chose from list",                    // interactive list reply
        "Completed a form",                   // flow reply
        "Tapped template button",             // template quick reply
        "Reacted ",                           // reaction
        "Removed a reaction",                 // reaction removed
        "🛒 Order · ",                        // order
        "System notice",                      // system
        "opened the chat for the first time", // request_welcome
        "Unsupported message (",              // unsupported
        "↪ Forwarded",                        // forwarded
        "Forwarded many times",               // frequently forwarded
        "↩ Reply to an earlier message",      // reply context
        "Customer ",                          // customer handle
    ] {
        assert!(all.contains(expected), "missing {expected:?}");
    }
    assert!(
        !all.contains("Message of type"),
        "a message kind fell through to the fallback"
    );

    // The list shows the conversations, newest first, with their labels.
    let list = agent.page("/inbox?state=open&who=all").await;
    assert!(list.contains("conversation-list"));
    // Customers are masked handles: the last four digits of the number, never the rest.
    assert!(list.contains("•••• 0142"));
    assert!(!list.contains("5555550142"));
    app.stop().await;
}

#[tokio::test]
async fn a_reply_inside_the_window_is_queued_and_outside_only_templates_go() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&me).await;

    // Inside the window: the reply box, then a queued reply.
    let open = customer_writes(
        &app,
        "447700900222",
        "wamid.win1",
        "where is my parcel?",
        now_s(),
    )
    .await;
    let html = agent.page(&format!("/inbox/c/{open}")).await;
    assert!(
        html.contains("id=\"reply-body\""),
        "reply box inside the window"
    );
    assert!(html.contains("Reply window closes"));
    agent
        .act(
            &format!("/inbox/c/{open}/reply"),
            &[("body", "It is out for delivery today.")],
        )
        .await;
    let html = agent.page(&format!("/inbox/c/{open}")).await;
    assert!(html.contains("Sent: the reply is on its way."), "flash");
    assert!(html.contains("It is out for delivery today."));
    assert!(
        html.contains("data-tick=\"queued\"") || html.contains("data-tick=\"sending\""),
        "the reply shows as queued or sending"
    );
    // The flash is shown once.
    assert!(!agent
        .page(&format!("/inbox/c/{open}"))
        .await
        .contains("Sent: the reply"));
    // An empty reply is refused with a reason.
    agent
        .act(&format!("/inbox/c/{open}/reply"), &[("body", "   ")])
        .await;
    assert!(agent
        .page(&format!("/inbox/c/{open}"))
        .await
        .contains("Not sent: the reply is empty"));

    // Outside the window: a banner and the templates instead of free text.
    let closed = customer_writes(
        &app,
        "447700900333",
        "wamid.win2",
        "hello?",
        now_s() - 25 * 3600,
    )
    .await;
    let html = agent.page(&format!("/inbox/c/{closed}")).await;
    assert!(html.contains("24-hour reply window is closed"));
    assert!(
        !html.contains("id=\"reply-body\""),
        "no free text outside the window"
    );
    assert!(
        html.contains("Hello, we have news about your parcel."),
        "the template's text"
    );
    assert!(html.contains("value=\"delivery_update|en_GB\""));
    agent
        .act(
            &format!("/inbox/c/{closed}/reply"),
            &[("body", "sneaky free text")],
        )
        .await;
    let html = agent.page(&format!("/inbox/c/{closed}")).await;
    assert!(html.contains("Not sent: the 24-hour reply window is closed"));
    assert!(!html.contains("sneaky free text"));
    agent
        .act(
            &format!("/inbox/c/{closed}/template"),
            &[("template", "delivery_update|en_GB")],
        )
        .await;
    let html = agent.page(&format!("/inbox/c/{closed}")).await;
    assert!(html.contains("Template delivery_update"));
    assert!(html.contains("data-tick=\"queued\"") || html.contains("data-tick=\"sending\""));
    let (_, thread) = app
        .api(&format!("/api/v1/conversations/{closed}/messages"))
        .await;
    assert_eq!(
        thread["items"].as_array().unwrap().len(),
        2,
        "the customer's message and the template"
    );
    app.stop().await;
}

#[tokio::test]
async fn assign_resolve_and_reopen() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&me).await;
    let id = customer_writes(&app, "447700900444", "wamid.st1", "hi", now_s()).await;

    assert!(agent.page("/inbox?who=unassigned").await.contains(&id));
    agent
        .act(&format!("/inbox/c/{id}/assign"), &[("to", "me")])
        .await;
    let html = agent.page(&format!("/inbox/c/{id}")).await;
    assert!(html.contains("assigned to you"));
    assert!(html.contains("Unassign"));
    assert!(agent.page("/inbox?who=mine").await.contains(&id));
    assert!(!agent
        .page("/inbox?who=unassigned")
        .await
        .contains(&format!("/inbox/c/{id}")));
    agent
        .act(&format!("/inbox/c/{id}/assign"), &[("to", "none")])
        .await;
    assert!(agent
        .page(&format!("/inbox/c/{id}"))
        .await
        .contains("Assign to me"));

    agent
        .act(&format!("/inbox/c/{id}/state"), &[("state", "pending")])
        .await;
    assert!(agent
        .page("/inbox?state=pending")
        .await
        .contains(&format!("/inbox/c/{id}")));
    agent
        .act(&format!("/inbox/c/{id}/state"), &[("state", "resolved")])
        .await;
    let html = agent.page(&format!("/inbox/c/{id}")).await;
    assert!(html.contains("Resolved."));
    assert!(html.contains("Reopen"));
    assert!(agent
        .page("/inbox?state=resolved")
        .await
        .contains(&format!("/inbox/c/{id}")));
    agent
        .act(&format!("/inbox/c/{id}/state"), &[("state", "open")])
        .await;
    assert!(agent
        .page(&format!("/inbox/c/{id}"))
        .await
        .contains("Reopened."));

    // Resolved, then the customer writes again: a new conversation; reopening the old one
    // is refused with a clear message.
    agent
        .act(&format!("/inbox/c/{id}/state"), &[("state", "resolved")])
        .await;
    let newer = customer_writes(&app, "447700900444", "wamid.st2", "me again", now_s()).await;
    assert_ne!(newer, id);
    agent
        .act(&format!("/inbox/c/{id}/state"), &[("state", "open")])
        .await;
    let html = agent.page(&format!("/inbox/c/{id}")).await;
    assert!(
        html.contains("already has another conversation"),
        "clear refusal"
    );
    let (_, old) = app.api(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(old["state"], "resolved");
    app.stop().await;
}

/// Reads an SSE response until `needle` appears (or times out).
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within 10 s; got {seen:?}"))
            .unwrap()
            .expect("stream still open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn the_live_stream_delivers_an_event_when_a_webhook_arrives() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&me).await;
    let mut stream = agent.get("/inbox/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert_eq!(stream.headers()["cache-control"], "no-store");

    let id = customer_writes(&app, "447700900555", "wamid.live1", "is it today?", now_s()).await;
    let seen = read_until(&mut stream, "event: message").await;
    assert!(
        seen.contains(&id),
        "the event names the conversation: {seen}"
    );
    assert!(!seen.contains("is it today?"), "events carry ids only");
    assert!(!seen.contains("447700900555"), "events carry ids only");

    // The fragment the page script fetches for that event.
    let (_, thread) = app
        .api(&format!("/api/v1/conversations/{id}/messages"))
        .await;
    let message_id = thread["items"][0]["id"].as_str().unwrap().to_owned();
    let fragment = agent.get(&format!("/inbox/c/{id}/m/{message_id}")).await;
    assert_eq!(fragment.status(), StatusCode::OK);
    assert_security_headers(fragment.headers(), "message fragment");
    let html = fragment.text().await.unwrap();
    assert!(
        html.starts_with(&format!("<li id=\"m-{message_id}\"")),
        "{html}"
    );
    assert!(html.contains("is it today?"));
    let list = agent
        .page(&format!("/inbox/list?state=open&who=all&c={id}"))
        .await;
    assert!(list.starts_with("<div id=\"list-body\""), "{list}");
    assert!(list.contains("class=\"current\""));

    // A state change is a conversation event.
    agent
        .act(&format!("/inbox/c/{id}/state"), &[("state", "pending")])
        .await;
    let seen = read_until(&mut stream, "event: conversation").await;
    assert!(seen.contains(&id));
    // An open event stream holds graceful shutdown (see the report): close it first.
    drop(stream);
    app.stop().await;
}

#[tokio::test]
async fn security_headers_and_assets() {
    let (app, me) = spawn().await;
    let mut agent = Browser::new(&app);
    let login = agent.get("/login").await;
    assert_security_headers(login.headers(), "login");
    agent.sign_in(&me).await;
    let id = customer_writes(&app, "447700900666", "wamid.h1", "hi", now_s()).await;
    for path in [
        "/inbox".to_owned(),
        format!("/inbox/c/{id}"),
        "/inbox/list".to_owned(),
    ] {
        let response = agent.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_security_headers(response.headers(), &path);
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "nothing inline: {path}"
        );
    }
    // Even a path that does not exist answers with the headers.
    let missing = agent.get("/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(missing.headers(), "unknown path");
    let page = agent.page("/inbox").await;
    for (needle, content_type) in [
        ("/assets/inbox.v3.css", "text/css"),
        ("/assets/inbox.v3.js", "text/javascript"),
    ] {
        assert!(page.contains(needle));
        let asset = agent.get(needle).await;
        assert_eq!(asset.status(), StatusCode::OK);
        assert!(asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(content_type));
        assert!(asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000"));
        assert_eq!(asset.headers()["x-content-type-options"], "nosniff");
    }
    // Behind a TLS proxy the session cookie is Secure.
    let login = agent.get("/login").await;
    let (token, _) = cookie_value(login.headers(), "veilbox_login").unwrap();
    let response = agent
        .http
        .post(format!("{}/login", app.base))
        .header("cookie", format!("veilbox_login={token}"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", me.password.as_str()),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (_, header) = cookie_value(response.headers(), "veilbox_session").unwrap();
    assert!(header.contains("Secure"), "{header}");
    app.stop().await;
}
