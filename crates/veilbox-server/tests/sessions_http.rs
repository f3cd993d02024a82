//! Sessions over real HTTP (issue 5): fixation, CSRF on every form and on browser API
//! calls, idle and absolute expiry, signing out other devices, disabled users and "sign out
//! everywhere", sign-in throttling, the second factor (enrolment, replay, recovery codes)
//! and set-password links.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::time::{Duration, Instant};

use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::browser::{cookie_value, hidden_csrf, now_s, Browser, Person};
use support::{TestApp, API_TOKEN};
use veilbox_core::credentials::password;
use veilbox_core::credentials::secret_token;
use veilbox_core::credentials::totp::TotpSecret;

const NUMBER: &str = "118440581239876";
/// What the sign-in page says for every failed password.
const WRONG: &str = "That e-mail and password do not match.";

// ------------------------------------------------------------------------------ helpers

fn text_webhook(wa_id: &str, wamid: &str, body: &str) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "230811736742955",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550123456", "phone_number_id": NUMBER},
                    "contacts": [{"profile": {"name": "Casey Customer"}, "wa_id": wa_id}],
                    "messages": [{
                        "from": wa_id, "id": wamid, "timestamp": now_s().to_string(),
                        "type": "text", "text": {"body": body}
                    }]
                }
            }]
        }]
    })
    .to_string()
    .into_bytes()
}

/// Posts a customer message; returns its conversation id.
async fn customer_writes(app: &TestApp, wa_id: &str, wamid: &str, body: &str) -> String {
    let response = app.post_signed(&text_webhook(wa_id, wamid, body)).await;
    assert_eq!(response.status(), 200);
    one(
        app,
        "SELECT conversation_id FROM messages WHERE wa_message_id = $1",
        &[wamid],
    )
    .await
    .expect("the message")
}

/// The first text column of the first row.
async fn one(app: &TestApp, sql: &str, binds: &[&str]) -> Option<String> {
    use sqlx::Row;
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let row = query.fetch_optional(app.store.pool()).await.unwrap()?;
    row.try_get::<Option<String>, _>(0).unwrap()
}

async fn count(app: &TestApp, sql: &str, binds: &[&str]) -> i64 {
    use sqlx::Row;
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    query
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn audited(app: &TestApp, action: &str, actor: &str) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND actor = $2",
        &[action, actor],
    )
    .await
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    cookie_value(response.headers(), "veilbox_session")
        .map(|(value, _)| value)
        .filter(|v| !v.is_empty())
}

/// The message of the page's alert.
fn alert(html: &str) -> String {
    let at = html.find("role=\"alert\">").expect("an alert") + "role=\"alert\">".len();
    html[at..].split('<').next().unwrap().to_owned()
}

/// A browser whose session cookie is `session` (another device, or a stolen id).
fn with_session(app: &TestApp, session: &str) -> Browser {
    let mut browser = Browser::new(app);
    browser.session = Some(session.to_owned());
    browser
}

/// Asserts the browser is signed out: pages send it to /login, the API says 401.
async fn assert_signed_out(browser: &Browser, what: &str) {
    let page = browser.get("/inbox").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER, "{what}");
    assert_eq!(location(&page), "/login", "{what}");
    let api = browser.get("/api/v1/conversations").await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "{what}");
}

/// Posts the sign-in form with extra cookies (a planted session id).
async fn sign_in_with_cookies(
    browser: &Browser,
    email: &str,
    password: &str,
    extra_cookie: &str,
) -> reqwest::Response {
    let login = browser.get("/login").await;
    let (token, _) = cookie_value(login.headers(), "veilbox_login").unwrap();
    browser
        .http
        .post(format!("{}/login", browser.base))
        .header("cookie", format!("veilbox_login={token}; {extra_cookie}"))
        .header("user-agent", &browser.user_agent)
        .form(&[("email", email), ("password", password), ("csrf", &token)])
        .send()
        .await
        .unwrap()
}

/// A code of `secret` that is valid for none of the steps around now.
fn wrong_code(secret: &TotpSecret) -> String {
    let now = now_s();
    let valid: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| secret.code_at(*t))
        .collect();
    (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !valid.contains(c))
        .unwrap()
}

// ------------------------------------------------------------------- 5. session fixation

#[tokio::test]
async fn a_planted_session_id_never_becomes_signed_in() {
    let app = TestApp::spawn().await;
    let lead = app
        .add_person("sam@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let planted = "vbs_planted-by-an-attacker-0123456789abcdef";
    let mut browser = Browser::new(&app);
    let response = sign_in_with_cookies(
        &browser,
        &lead.email,
        &lead.password,
        &format!("veilbox_session={planted}"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login/second-factor");
    let half = session_cookie(&response).expect("a new session id");
    assert_ne!(half, planted, "the planted id was adopted");
    let header = cookie_value(response.headers(), "veilbox_session")
        .unwrap()
        .1;
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE id_digest = $1",
            &[&secret_token::digest(planted)]
        )
        .await,
        0,
        "no session row for the planted id"
    );

    // The second factor: a new id again; the half one ends.
    browser.session = Some(half.clone());
    let html = browser.page("/login/second-factor").await;
    let csrf = hidden_csrf(&html);
    let code = lead.totp.as_ref().unwrap().code_at(now_s());
    let done = browser
        .post("/login/second-factor", &[("code", &code), ("csrf", &csrf)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let full = session_cookie(&done).expect("a fresh id after the second factor");
    assert_ne!(full, half);
    assert_ne!(full, planted);
    browser.session = Some(full.clone());
    browser.page("/inbox").await;

    assert_signed_out(&with_session(&app, planted), "the planted id").await;
    let stale = with_session(&app, &half);
    assert_signed_out(&stale, "the half id after the second factor").await;
    assert_eq!(
        stale.get("/login/second-factor").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        one(
            &app,
            "SELECT end_reason FROM sessions WHERE id_digest = $1",
            &[&secret_token::digest(&half)]
        )
        .await
        .as_deref(),
        Some("replaced")
    );

    // A new sign-in from a signed-in browser replaces its session too.
    let agent = app.add_person("ana@courier.test", "agent", None).await;
    let mut first = Browser::new(&app);
    first.sign_in(&agent).await;
    let old = first.session.clone().unwrap();
    let again = sign_in_with_cookies(&first, &agent.email, &agent.password, &first.cookie()).await;
    let new = session_cookie(&again).unwrap();
    assert_ne!(new, old);
    assert_signed_out(&with_session(&app, &old), "the replaced session").await;
    app.stop().await;
}

// -------------------------------------------------------------------------- 5. CSRF

/// What a forged form must not change.
async fn state_counts(app: &TestApp) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL",
        "SELECT COUNT(*) FROM users WHERE role = 'admin'",
        "SELECT COUNT(*) FROM teams",
        "SELECT COUNT(*) FROM team_members",
        "SELECT COUNT(*) FROM team_inboxes",
        "SELECT COUNT(*) FROM api_tokens",
        "SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NOT NULL",
        "SELECT COUNT(*) FROM custom_roles",
        "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL",
        "SELECT COUNT(*) FROM recovery_codes",
        "SELECT COUNT(*) FROM password_links",
        "SELECT COUNT(*) FROM conversations WHERE assignee IS NOT NULL",
        "SELECT COUNT(*) FROM conversations WHERE state <> 'open'",
        "SELECT COUNT(*) FROM messages",
        "SELECT COUNT(*) FROM outbox WHERE state <> 'queued'",
        "SELECT COUNT(*) FROM audit_log",
    ] {
        counts.push((sql.to_owned(), count(app, sql, &[]).await));
    }
    counts
}

/// A form post: who sends it, where, and its fields (without the CSRF token).
type Form<'a> = (&'a Browser, String, Vec<(&'a str, &'a str)>);

#[tokio::test]
async fn every_form_needs_the_sessions_csrf_token() {
    let app = TestApp::spawn().await;
    let conv = customer_writes(&app, "447700900301", "wamid.csrf.1", "hello").await;
    let (status, queued) = app
        .api_post(
            &format!("/api/v1/conversations/{conv}/replies"),
            json!({"type": "text", "body": "queued reply"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let outbox = queued["outbox_id"].as_str().unwrap().to_owned();
    let lead = app
        .add_person("sam@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let admin = app.add_person("adam@courier.test", "admin", None).await;
    let agent = app.add_person("ana@courier.test", "agent", None).await;
    let (status, token) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/tokens",
            json!({"name": "t", "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token_id = token["id"].as_str().unwrap().to_owned();
    let team = app.store.ensure_team(support::OPERATIONS).await.unwrap();
    let mut sup = Browser::new(&app);
    sup.sign_in(&lead).await;
    let mut adm = Browser::new(&app);
    adm.sign_in(&admin).await;
    // Another device of the supervisor, to sign out from the devices list.
    let other_device = secret_token::digest("vbs_other-device-of-sam");
    app.store
        .create_session(&veilbox_store::sessions::NewSession {
            id_digest: &other_device,
            user_id: &lead.id,
            complete: true,
            csrf: "csrf_other",
            address: None,
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0) Firefox/121.0"),
        })
        .await
        .unwrap();

    let policy = "permit (principal in Veilbox::Role::\"mole\", action == Veilbox::Action::\"view_conversation\", resource);";
    let forms: Vec<Form> = vec![
        (
            &sup,
            format!("/inbox/c/{conv}/reply"),
            vec![("body", "forged reply")],
        ),
        (
            &sup,
            format!("/inbox/c/{conv}/template"),
            vec![("template", "delivery_update|en_GB")],
        ),
        (&sup, format!("/inbox/c/{conv}/assign"), vec![("to", "me")]),
        (
            &sup,
            format!("/inbox/c/{conv}/state"),
            vec![("state", "resolved")],
        ),
        (
            &sup,
            format!("/inbox/c/{conv}/send/{outbox}"),
            vec![("decision", "discard")],
        ),
        (
            &sup,
            format!("/account/devices/{other_device}/sign-out"),
            vec![],
        ),
        (
            &sup,
            "/account/two-factor/recovery-codes".to_owned(),
            vec![],
        ),
        (
            &sup,
            "/account/two-factor".to_owned(),
            vec![("code", "123456")],
        ),
        (
            &adm,
            "/admin/users".to_owned(),
            vec![("email", "mole@courier.test"), ("role", "admin")],
        ),
        (
            &adm,
            format!("/admin/users/{}", agent.id),
            vec![("do", "disable")],
        ),
        (
            &adm,
            format!("/admin/users/{}", agent.id),
            vec![("do", "role"), ("role", "admin")],
        ),
        (
            &adm,
            format!("/admin/users/{}", agent.id),
            vec![("do", "sign_out")],
        ),
        (
            &adm,
            format!("/admin/users/{}", agent.id),
            vec![("do", "password_link")],
        ),
        (
            &adm,
            format!("/admin/users/{}", lead.id),
            vec![("do", "reset_two_factor")],
        ),
        (&adm, "/admin/teams".to_owned(), vec![("name", "Moles")]),
        (
            &adm,
            format!("/admin/teams/{team}"),
            vec![("do", "member"), ("user", agent.id.as_str())],
        ),
        (
            &adm,
            format!("/admin/teams/{team}"),
            vec![("do", "serve"), ("inbox", "*")],
        ),
        (
            &adm,
            "/admin/tokens".to_owned(),
            vec![("name", "mole"), ("role", "admin")],
        ),
        (&adm, format!("/admin/tokens/{token_id}/revoke"), vec![]),
        (
            &adm,
            "/admin/roles".to_owned(),
            vec![("name", "mole"), ("policy", policy)],
        ),
        (&sup, "/logout".to_owned(), vec![]),
        (&adm, "/logout".to_owned(), vec![]),
    ];
    let before = state_counts(&app).await;
    for (browser, path, form) in &forms {
        for csrf in [None, Some(""), Some("csrf_wrong-token"), Some("csrf_other")] {
            let mut fields = form.clone();
            if let Some(csrf) = csrf {
                fields.push(("csrf", csrf));
            }
            let response = browser.post(path, &fields).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "POST {path} csrf={csrf:?}"
            );
            let body = response.text().await.unwrap();
            assert!(
                body.contains("This form has expired"),
                "POST {path}: {body}"
            );
        }
        assert_eq!(
            state_counts(&app).await,
            before,
            "a forged POST {path} changed something"
        );
    }
    // The other device's own token is not this session's: it stays signed in.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE id_digest = $1 AND ended_at IS NULL",
            &[&other_device]
        )
        .await,
        1
    );

    // The same forms with the right token do act (so the checks above could see a change).
    let admin_rows = count(&app, "SELECT COUNT(*) FROM users WHERE role = 'admin'", &[]).await;
    let response = adm
        .act_response(
            &format!("/admin/users/{}", agent.id),
            &[("do", "role"), ("role", "admin")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users WHERE role = 'admin'", &[]).await,
        admin_rows + 1
    );
    sup.act(&format!("/inbox/c/{conv}/state"), &[("state", "resolved")])
        .await;
    assert_eq!(
        one(
            &app,
            "SELECT state FROM conversations WHERE id = $1",
            &[&conv]
        )
        .await
        .as_deref(),
        Some("resolved")
    );
    sup.act(&format!("/account/devices/{other_device}/sign-out"), &[])
        .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE id_digest = $1 AND ended_at IS NULL",
            &[&other_device]
        )
        .await,
        0
    );
    adm.act("/admin/teams", &[("name", "Moles")]).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM teams WHERE name = 'Moles'", &[]).await,
        1
    );

    // The public forms: sign-in and set-password carry a double-submit token.
    let public = Browser::new(&app);
    for token in [None, Some(""), Some("form_forged")] {
        let mut fields = vec![
            ("email", agent.email.as_str()),
            ("password", agent.password.as_str()),
        ];
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        let response = public.post("/login", &fields).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "login token {token:?}"
        );
        assert!(session_cookie(&response).is_none());
    }
    let (_, made) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/users",
            json!({"email": "pat@courier.test", "role": "agent"}),
        )
        .await;
    let url = made["set_password_url"].as_str().unwrap();
    let link = &url[url.find("/set-password/").unwrap()..];
    let good = "pat drives the blue van past the harbour";
    for token in [None, Some(""), Some("form_forged")] {
        let mut fields = vec![("password", good), ("confirm", good)];
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        let response = public.post(link, &fields).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "set-password token {token:?}"
        );
        assert!(response.text().await.unwrap().contains("expired"));
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users WHERE email = 'pat@courier.test' AND password_hash IS NOT NULL", &[]).await,
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn browser_api_calls_need_the_csrf_header_to_change_anything() {
    let app = TestApp::spawn().await;
    let conv = customer_writes(&app, "447700900302", "wamid.csrf.api", "hello").await;
    let lead = app
        .add_person("sam@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&lead).await;
    let post = |path: String, body: Value, csrf: Option<String>| {
        let http = browser.http.clone();
        let url = format!("{}{path}", app.base);
        let cookie = browser.cookie();
        async move {
            let mut request = http.post(url).header("cookie", cookie).json(&body);
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let assign = format!("/api/v1/conversations/{conv}/assign");
    let reply = format!("/api/v1/conversations/{conv}/replies");
    // Reading needs no header.
    let shown = browser.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(shown.status(), StatusCode::OK);
    for csrf in [None, Some(String::new()), Some("csrf_wrong".to_owned())] {
        let (status, _) = post(assign.clone(), json!({"assignee": "me"}), csrf.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "assign with {csrf:?}");
        let (status, _) = post(
            reply.clone(),
            json!({"type": "text", "body": "x"}),
            csrf.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "reply with {csrf:?}");
    }
    assert_eq!(
        one(
            &app,
            "SELECT assignee FROM conversations WHERE id = $1",
            &[&conv]
        )
        .await,
        None
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox", &[]).await, 0);
    let (status, body) = post(
        assign.clone(),
        json!({"assignee": "me"}),
        Some(browser.csrf.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["assignee"], lead.id.as_str());
    assert_eq!(
        one(
            &app,
            "SELECT assignee FROM conversations WHERE id = $1",
            &[&conv]
        )
        .await
        .as_deref(),
        Some(lead.id.as_str())
    );
    let (status, _) = post(
        reply,
        json!({"type": "text", "body": "hi"}),
        Some(browser.csrf.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The bearer path does not take a cookie's CSRF token as a credential.
    let bogus = app
        .client
        .get(format!("{}/api/v1/conversations", app.base))
        .header("x-csrf-token", &browser.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

// ------------------------------------------------------------------------ 5. expiry

#[tokio::test]
async fn an_idle_session_expires() {
    let app = TestApp::spawn_with(|c| c.sessions.idle = Duration::from_secs(2)).await;
    let agent = app
        .add_person("ana@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&agent).await;
    browser.page("/inbox").await;
    let digest = secret_token::digest(browser.session.as_ref().unwrap());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let api = browser.get("/api/v1/conversations").await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "the API too");
    let page = browser.get("/inbox").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&page), "/login");
    assert_eq!(
        one(
            &app,
            "SELECT end_reason FROM sessions WHERE id_digest = $1",
            &[&digest]
        )
        .await
        .as_deref(),
        Some("idle")
    );
    assert_signed_out(&browser, "after idling").await;
    // Signing in again works.
    browser.sign_in(&agent).await;
    browser.page("/inbox").await;
    app.stop().await;
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_limit_even_when_active() {
    let app = TestApp::spawn_with(|c| c.sessions.absolute = Duration::from_secs(3)).await;
    let agent = app
        .add_person("ana@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let mut browser = Browser::new(&app);
    let started = Instant::now();
    browser.sign_in(&agent).await;
    let digest = secret_token::digest(browser.session.as_ref().unwrap());
    let mut served = 0;
    let ended_after = loop {
        let response = browser.get("/inbox").await;
        if response.status() == StatusCode::SEE_OTHER {
            assert_eq!(location(&response), "/login");
            break started.elapsed();
        }
        assert_eq!(response.status(), StatusCode::OK);
        served += 1;
        assert!(started.elapsed() < Duration::from_secs(10), "never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        served >= 3,
        "the session was in use ({served} pages) before it ended"
    );
    assert!(
        ended_after >= Duration::from_secs(2),
        "ended too early: {ended_after:?}"
    );
    assert_eq!(
        one(
            &app,
            "SELECT end_reason FROM sessions WHERE id_digest = $1",
            &[&digest]
        )
        .await
        .as_deref(),
        Some("expired")
    );
    assert_signed_out(&browser, "after the absolute limit").await;
    app.stop().await;
}

// -------------------------------------------------------------- 5. devices and admins

#[tokio::test]
async fn a_user_signs_out_another_of_their_devices() {
    let app = TestApp::spawn().await;
    let agent = app
        .add_person("ana@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let stranger = app.add_person("sid@courier.test", "agent", None).await;
    let mut laptop = Browser::new(&app);
    laptop.sign_in(&agent).await;
    let mut phone = Browser::new(&app);
    phone.user_agent =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
            .to_owned();
    phone.sign_in(&agent).await;
    let mut other = Browser::new(&app);
    other.sign_in(&stranger).await;

    let devices = laptop.page("/account").await;
    assert!(devices.contains("Chrome on Linux (this one)"), "{devices}");
    assert!(devices.contains("Firefox on Windows"), "{devices}");
    let phone_digest = secret_token::digest(phone.session.as_ref().unwrap());
    let action = format!("/account/devices/{phone_digest}/sign-out");
    assert!(
        devices.contains(&action),
        "a sign-out form for the other device"
    );
    let stranger_digest = secret_token::digest(other.session.as_ref().unwrap());
    assert!(
        !devices.contains(&stranger_digest),
        "only their own devices"
    );

    // Someone else's session id: not found, nothing ends.
    laptop
        .act(&format!("/account/devices/{stranger_digest}/sign-out"), &[])
        .await;
    assert!(laptop.page("/account").await.contains("already signed out"));
    other.page("/inbox").await;

    laptop.act(&action, &[]).await;
    assert!(laptop
        .page("/account")
        .await
        .contains("That device is signed out."));
    assert_signed_out(&phone, "the signed-out device").await;
    laptop.page("/inbox").await;
    let devices = laptop.page("/account").await;
    assert!(
        !devices.contains("Firefox on Windows"),
        "gone from the list"
    );
    assert_eq!(audited(&app, "session.revoked", &agent.id).await, 1);

    // Signing out this device from the list ends it.
    let own = secret_token::digest(laptop.session.as_ref().unwrap());
    let response = laptop
        .act_response(&format!("/account/devices/{own}/sign-out"), &[])
        .await;
    assert_eq!(location(&response), "/login");
    assert_signed_out(&laptop, "this device").await;
    app.stop().await;
}

#[tokio::test]
async fn disabling_a_user_and_signing_them_out_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.add_person("adam@courier.test", "admin", None).await;
    let agent = app
        .add_person("ana@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let mut adm = Browser::new(&app);
    adm.sign_in(&admin).await;
    let mut desk = Browser::new(&app);
    desk.sign_in(&agent).await;
    let users = adm.page("/admin/users").await;
    assert!(users.contains(&format!("data-user=\"{}\"", agent.id)));

    adm.act(&format!("/admin/users/{}", agent.id), &[("do", "disable")])
        .await;
    assert!(adm
        .page("/admin/users")
        .await
        .contains("disabled and signed out"));
    assert_signed_out(&desk, "a disabled user").await;
    let refused = desk.try_sign_in(&agent.email, &agent.password).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&refused).is_none());
    let disabled_message = alert(&refused.text().await.unwrap());
    assert_eq!(disabled_message, WRONG, "the generic message");
    let unknown = desk
        .try_sign_in("nobody@courier.test", &agent.password)
        .await;
    assert_eq!(
        alert(&unknown.text().await.unwrap()),
        disabled_message,
        "no tell"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'sign_in.failure' AND reason = 'disabled' AND target = $1", &[&agent.id]).await,
        1
    );

    // Enabled again: they sign in; then "sign out everywhere" ends both of their sessions.
    adm.act(&format!("/admin/users/{}", agent.id), &[("do", "enable")])
        .await;
    desk.sign_in(&agent).await;
    let mut phone = Browser::new(&app);
    phone.sign_in(&agent).await;
    desk.page("/inbox").await;
    phone.page("/inbox").await;
    adm.act(&format!("/admin/users/{}", agent.id), &[("do", "sign_out")])
        .await;
    assert!(adm
        .page("/admin/users")
        .await
        .contains("signed out on 2 devices"));
    assert_signed_out(&desk, "signed out everywhere (desk)").await;
    assert_signed_out(&phone, "signed out everywhere (phone)").await;
    adm.page("/admin/users").await;
    // An admin cannot disable or sign out themselves from the page.
    adm.act(&format!("/admin/users/{}", admin.id), &[("do", "disable")])
        .await;
    adm.page("/admin/users").await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL",
            &[]
        )
        .await,
        0
    );

    // The same through the API.
    desk.sign_in(&agent).await;
    let (status, body) = app
        .api_post_as(
            API_TOKEN,
            &format!("/api/v1/users/{}/disable", agent.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_signed_out(&desk, "disabled through the API").await;
    let (status, _) = app
        .api_post_as(
            API_TOKEN,
            &format!("/api/v1/users/{}/enable", agent.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    desk.sign_in(&agent).await;
    let (status, body) = app
        .api_post_as(
            API_TOKEN,
            &format!("/api/v1/users/{}/sign-out", agent.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions_ended"], 1);
    assert_signed_out(&desk, "signed out through the API").await;

    for action in [
        "user.disabled",
        "user.enabled",
        "user.signed_out_everywhere",
    ] {
        assert_eq!(
            audited(&app, action, &admin.id).await,
            1,
            "{action} by the admin"
        );
        assert_eq!(
            audited(&app, action, "bootstrap").await,
            1,
            "{action} by the API"
        );
    }
    app.stop().await;
}

// ----------------------------------------------------------------------- 6. throttling

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_without_telling_who_exists() {
    let app = TestApp::spawn().await;
    let ana = app.add_person("ana@courier.test", "agent", None).await;
    let ben = app.add_person("ben@courier.test", "agent", None).await;
    let browser = Browser::new(&app);

    for attempt in 1..=4 {
        let response = browser
            .try_sign_in(&ana.email, "not her password at all")
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let blocked = browser.try_sign_in(&ana.email, &ana.password).await;
    assert_eq!(
        blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password"
    );
    assert!(session_cookie(&blocked).is_none());
    let known_message = alert(&blocked.text().await.unwrap());
    assert!(
        known_message.starts_with("Too many failed attempts."),
        "{known_message}"
    );
    // Another account from the same address is not held up.
    let other = browser.try_sign_in(&ben.email, &ben.password).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie(&other).is_some());

    // An unknown e-mail is throttled the same way.
    for attempt in 1..=4 {
        let response = browser
            .try_sign_in("ghost@courier.test", "not anyone's password")
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
        assert_eq!(alert(&response.text().await.unwrap()), WRONG);
    }
    let ghost = browser
        .try_sign_in("ghost@courier.test", "not anyone's password")
        .await;
    assert_eq!(ghost.status(), StatusCode::TOO_MANY_REQUESTS);
    let unknown_message = alert(&ghost.text().await.unwrap());
    let shape = |m: &str| m.split("Wait").next().unwrap().to_owned();
    assert_eq!(
        shape(&unknown_message),
        shape(&known_message),
        "no enumeration"
    );

    // Once the delay is over, the right password works again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = browser.try_sign_in(&ana.email, &ana.password).await;
    assert_eq!(later.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'sign_in.failure' AND actor = 'unknown'",
            &[]
        )
        .await,
        4
    );
    app.stop().await;
}

// ------------------------------------------------------------------- 7. second factor

/// The pages a half-signed-in session must not open (GET), and where it may go instead.
const SECOND_FACTOR_PLACES: [&str; 2] = ["/login/second-factor", "/account/two-factor"];

#[tokio::test]
async fn a_supervisor_enrols_a_second_factor_before_anything_opens() {
    let app = TestApp::spawn().await;
    let conv = customer_writes(&app, "447700900401", "wamid.totp.1", "secret parcel talk").await;
    let user = app
        .store
        .create_user("nia@courier.test", "Nia", "supervisor")
        .await
        .unwrap()
        .unwrap();
    let secret = "nia checks every manifest twice at dawn";
    app.store
        .set_password_hash(&user.id, &password::hash(secret).unwrap())
        .await
        .unwrap();
    let team = app.store.ensure_team(support::OPERATIONS).await.unwrap();
    app.store
        .set_team_supervisor(&team, &user.id)
        .await
        .unwrap();
    let nia = Person {
        id: user.id.clone(),
        email: "nia@courier.test".to_owned(),
        password: secret.to_owned(),
        totp: None,
    };

    let mut browser = Browser::new(&app);
    let response = browser.try_sign_in(&nia.email, &nia.password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account/two-factor");
    let half = session_cookie(&response).unwrap();
    browser.session = Some(half.clone());

    // The half session opens nothing else.
    for path in [
        "/".to_owned(),
        "/inbox".to_owned(),
        "/inbox/list".to_owned(),
        "/inbox/events".to_owned(),
        format!("/inbox/c/{conv}"),
        "/account".to_owned(),
        "/admin/users".to_owned(),
        "/audit".to_owned(),
        "/audit.csv".to_owned(),
    ] {
        let response = browser.get(&path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            SECOND_FACTOR_PLACES.contains(&location(&response).as_str()),
            "{path}: {}",
            location(&response)
        );
        assert!(!response
            .text()
            .await
            .unwrap()
            .contains("secret parcel talk"));
    }
    for path in [
        "/api/v1/conversations".to_owned(),
        format!("/api/v1/conversations/{conv}"),
    ] {
        assert_eq!(
            browser.get(&path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let to_enrol = browser.get("/login/second-factor").await;
    assert_eq!(location(&to_enrol), "/account/two-factor");

    let page = browser.page("/account/two-factor").await;
    let csrf = hidden_csrf(&page);
    let marker = "src=\"data:image/svg+xml;base64,";
    let at = page.find(marker).expect("a QR image") + marker.len();
    assert!(page[..at].rfind("<img").is_some());
    let encoded = page[at..].split('"').next().unwrap();
    use base64::Engine;
    let svg = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    let key_marker = "class=\"totp-key\">";
    let at = page.find(key_marker).expect("the key") + key_marker.len();
    let key = page[at..].split('<').next().unwrap().to_owned();
    let totp = TotpSecret::from_base32(&key).expect("a base32 key");
    assert!(
        browser.page("/account/two-factor").await.contains(&key),
        "the same key on reload"
    );
    // At rest the secret is sealed under the master key, bound to the user's row.
    let stored = one(
        &app,
        "SELECT totp_secret FROM users WHERE id = $1",
        &[&user.id],
    )
    .await
    .expect("a stored secret");
    assert!(stored.starts_with("vb1:"), "sealed: {stored}");
    assert!(!stored.contains(&key) && !stored.contains(&key.to_lowercase()));
    // Replacing recovery codes needs a complete session.
    let codes = browser
        .post(
            "/account/two-factor/recovery-codes",
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(codes.status(), StatusCode::FORBIDDEN);

    // A wrong code is refused.
    let wrong = wrong_code(&totp);
    let refused = browser
        .post(
            "/account/two-factor",
            &[("code", wrong.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert!(session_cookie(&refused).is_none());
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("That code is not valid"));
    assert!(!app.store.user(&nia.id).await.unwrap().unwrap().totp_enabled);
    assert_eq!(browser.get("/inbox").await.status(), StatusCode::SEE_OTHER);

    // The right code: on, a new session, ten recovery codes.
    let code = totp.code_at(now_s());
    let done = browser
        .post(
            "/account/two-factor",
            &[("code", code.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let full = session_cookie(&done).expect("a new session id");
    assert_ne!(full, half);
    let shown = done.text().await.unwrap();
    assert!(shown.contains("Two-factor sign-in is on"));
    let recovery: Vec<String> = shown
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10, "{shown}");
    assert_signed_out(
        &with_session(&app, &half),
        "the half session after enrolment",
    )
    .await;
    browser.session = Some(full);
    assert!(browser.page("/inbox").await.contains("Veilbox · Inbox"));
    browser.csrf = hidden_csrf(&browser.page("/account").await);
    browser.act("/logout", &[]).await;

    // The same code cannot sign in again.
    let again = browser.try_sign_in(&nia.email, &nia.password).await;
    assert_eq!(location(&again), "/login/second-factor");
    browser.session = session_cookie(&again);
    let form = browser.page("/login/second-factor").await;
    let csrf = hidden_csrf(&form);
    let replay = browser
        .post(
            "/login/second-factor",
            &[("code", code.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED, "a replayed code");
    assert!(session_cookie(&replay).is_none());
    assert_eq!(browser.get("/inbox").await.status(), StatusCode::SEE_OTHER);

    // A recovery code works once.
    let used = browser
        .post(
            "/login/second-factor",
            &[("code", recovery[0].as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    browser.session = session_cookie(&used);
    browser.page("/inbox").await;
    browser.csrf = hidden_csrf(&browser.page("/account").await);
    browser.act("/logout", &[]).await;
    let again = browser.try_sign_in(&nia.email, &nia.password).await;
    browser.session = session_cookie(&again);
    let csrf = hidden_csrf(&browser.page("/login/second-factor").await);
    let twice = browser
        .post(
            "/login/second-factor",
            &[("code", recovery[0].as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(
        twice.status(),
        StatusCode::UNAUTHORIZED,
        "a recovery code twice"
    );
    assert_eq!(browser.get("/inbox").await.status(), StatusCode::SEE_OTHER);
    let other = browser
        .post(
            "/login/second-factor",
            &[("code", recovery[1].as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(
        other.status(),
        StatusCode::SEE_OTHER,
        "another recovery code"
    );
    assert_eq!(app.store.recovery_codes_left(&nia.id).await.unwrap(), 8);

    for (action, at_least) in [
        ("second_factor.enrolled", 1),
        ("sign_in.success", 3),
        ("second_factor.failure", 2),
        ("second_factor.recovery_code_used", 2),
        ("sign_in.password_accepted", 3),
    ] {
        let n = audited(&app, action, &nia.id).await;
        assert!(n >= at_least, "{action}: {n} rows");
    }
    app.stop().await;
}

// ----------------------------------------------------------------- 10. set-password link

#[tokio::test]
async fn a_set_password_link_works_once_and_refuses_weak_passwords() {
    let app = TestApp::spawn().await;
    let (status, made) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/users",
            json!({"email": "Pat@Courier.test", "display_name": "Pat Driver", "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let url = made["set_password_url"].as_str().unwrap();
    let link = url[url.find("/set-password/").unwrap()..].to_owned();
    let browser = Browser::new(&app);
    // Before a password is set, signing in fails like any wrong password.
    let early = browser
        .try_sign_in("pat@courier.test", "anything at all here")
        .await;
    assert_eq!(early.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(alert(&early.text().await.unwrap()), WRONG);

    let submit = |password: &'static str, confirm: &'static str| {
        let browser = &browser;
        let link = link.clone();
        async move {
            let form = browser.get(&link).await;
            assert_eq!(form.status(), StatusCode::OK);
            let (token, _) = cookie_value(form.headers(), "veilbox_login").unwrap();
            let html = form.text().await.unwrap();
            assert_eq!(hidden_csrf(&html), token);
            assert!(html.contains("Choose your password"));
            browser
                .http
                .post(format!("{}{link}", browser.base))
                .header("cookie", format!("veilbox_login={token}"))
                .form(&[
                    ("password", password),
                    ("confirm", confirm),
                    ("csrf", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let weak = submit("password1234", "password1234").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text().await.unwrap().contains("too easy to guess"));
    let short = submit("short one", "short one").await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short
        .text()
        .await
        .unwrap()
        .contains("at least 12 characters"));
    let own_name = submit("pat@courier.test", "pat@courier.test").await;
    assert_eq!(own_name.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mismatch = submit(
        "a lighthouse keeper's long sentence",
        "a different long sentence",
    )
    .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.text().await.unwrap().contains("not the same"));
    assert!(app
        .store
        .user(&id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .is_none());

    let good = "a lighthouse keeper's long sentence";
    let set = submit(good, good).await;
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&set), "/login");
    assert!(cookie_value(set.headers(), "veilbox_notice").is_some());
    assert_eq!(audited(&app, "user.password_set", &id).await, 1);

    // The link is spent.
    let gone = browser.get(&link).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert!(gone.text().await.unwrap().contains("no longer works"));
    let hijack = browser
        .http
        .post(format!("{}{link}", app.base))
        .form(&[
            ("password", "an attacker's replacement phrase"),
            ("confirm", "an attacker's replacement phrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(hijack.status(), StatusCode::NOT_FOUND);

    // The password signs in; the attacker's does not.
    let pat = Person {
        id: id.clone(),
        email: "pat@courier.test".to_owned(),
        password: good.to_owned(),
        totp: None,
    };
    let wrong = browser
        .try_sign_in(&pat.email, "an attacker's replacement phrase")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let mut signed = Browser::new(&app);
    signed.sign_in(&pat).await;
    assert!(signed.page("/account").await.contains("pat@courier.test"));
    app.stop().await;
}

/// The sign-in second-factor form is for users who enrolled: an unenrolled user whose
/// enrolment page has begun a secret finishes on the enrolment page (which shows the
/// recovery codes and audits the enrolment), not by typing a code at sign-in.
#[tokio::test]
async fn enrolment_cannot_be_skipped_through_the_sign_in_code_form() {
    let app = TestApp::spawn().await;
    let user = app
        .store
        .create_user("nia@courier.test", "Nia", "supervisor")
        .await
        .unwrap()
        .unwrap();
    let secret = "nia checks every manifest twice at dawn";
    app.store
        .set_password_hash(&user.id, &password::hash(secret).unwrap())
        .await
        .unwrap();
    let mut browser = Browser::new(&app);
    let response = browser.try_sign_in("nia@courier.test", secret).await;
    assert_eq!(location(&response), "/account/two-factor");
    let half = session_cookie(&response).unwrap();
    browser.session = Some(half.clone());
    let page = browser.page("/account/two-factor").await;
    let csrf = hidden_csrf(&page);
    let key_marker = "class=\"totp-key\">";
    let at = page.find(key_marker).unwrap() + key_marker.len();
    let totp = TotpSecret::from_base32(page[at..].split('<').next().unwrap()).unwrap();
    let code = totp.code_at(now_s());

    let skipped = browser
        .post(
            "/login/second-factor",
            &[("code", code.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert!(
        session_cookie(&skipped).is_none(),
        "signed in without finishing enrolment"
    );
    assert_eq!(location(&skipped), "/account/two-factor");
    assert!(
        !app.store
            .user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .totp_enabled
    );
    assert_eq!(browser.get("/inbox").await.status(), StatusCode::SEE_OTHER);

    // The enrolment page takes the same code, with recovery codes and the audit row.
    let done = browser
        .post(
            "/account/two-factor",
            &[("code", code.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(session_cookie(&done).is_some());
    assert!(done.text().await.unwrap().contains("Your recovery codes"));
    assert_eq!(app.store.recovery_codes_left(&user.id).await.unwrap(), 10);
    assert_eq!(audited(&app, "second_factor.enrolled", &user.id).await, 1);
    app.stop().await;
}

/// A role that needs a second factor is not held on the strength of a password-only
/// session: promoting an unenrolled agent ends their sessions, and they enrol at the next
/// sign-in.
#[tokio::test]
async fn promotion_to_a_second_factor_role_ends_password_only_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.add_person("adam@courier.test", "admin", None).await;
    let agent = app
        .add_person("ana@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let mut adm = Browser::new(&app);
    adm.sign_in(&admin).await;
    let mut desk = Browser::new(&app);
    desk.sign_in(&agent).await;
    let conv = customer_writes(&app, "447700900501", "wamid.promote", "hello").await;

    adm.act(
        &format!("/admin/users/{}", agent.id),
        &[("do", "role"), ("role", "supervisor")],
    )
    .await;
    assert_eq!(
        one(&app, "SELECT role FROM users WHERE id = $1", &[&agent.id])
            .await
            .as_deref(),
        Some("supervisor")
    );
    // Without a second factor the old session does not act as a supervisor.
    let shown = desk.get(&format!("/inbox/c/{conv}")).await;
    assert_ne!(
        shown.status(),
        StatusCode::OK,
        "a supervisor's page on a password-only session"
    );
    assert_signed_out(&desk, "promoted without a second factor").await;
    let again = desk.try_sign_in(&agent.email, &agent.password).await;
    assert_eq!(location(&again), "/account/two-factor");

    // A change that needs no second factor leaves sessions alone.
    let other = app.add_person("ben@courier.test", "agent", None).await;
    let mut bench = Browser::new(&app);
    bench.sign_in(&other).await;
    adm.act(
        &format!("/admin/users/{}", other.id),
        &[("do", "role"), ("role", "auditor")],
    )
    .await;
    assert_eq!(
        bench.get("/audit").await.status(),
        StatusCode::OK,
        "the new role applies at once"
    );
    app.stop().await;
}

/// Many guesses sent at once cannot outrun the throttle: attempts are counted before they
/// are checked, so only the free ones (and one per delay) are ever evaluated.
#[tokio::test]
async fn parallel_guesses_are_counted_before_they_are_checked() {
    let app = TestApp::spawn().await;
    let supervisor = app
        .add_person("sam@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let browser = Browser::new(&app);

    // 20 wrong passwords at once for one account.
    let login = browser.get("/login").await;
    let (token, _) = cookie_value(login.headers(), "veilbox_login").unwrap();
    let attempts = (0..20).map(|n| {
        let http = browser.http.clone();
        let url = format!("{}/login", browser.base);
        let token = token.clone();
        async move {
            http.post(url)
                .header("cookie", format!("veilbox_login={token}"))
                .form(&[
                    ("email", "sam@courier.test"),
                    ("password", format!("wrong guess number {n}").as_str()),
                    ("csrf", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    assert!(
        checked <= 4,
        "3 free attempts and one claim: {checked} were checked"
    );
    assert_eq!(
        audited(&app, "sign_in.failure", &supervisor.id).await,
        checked as i64
    );

    // 20 wrong second-factor codes at once from a half-signed-in session.
    let other = TestApp::spawn().await;
    let sam = other
        .add_person("sam@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let browser = Browser::new(&other);
    let response = browser.try_sign_in(&sam.email, &sam.password).await;
    let session = session_cookie(&response).unwrap();
    let pending = with_session(&other, &session);
    let html = pending.page("/login/second-factor").await;
    let csrf = hidden_csrf(&html);
    let code = wrong_code(sam.totp.as_ref().unwrap());
    let guesses = (0..20).map(|_| {
        let http = pending.http.clone();
        let url = format!("{}/login/second-factor", pending.base);
        let cookie = pending.cookie();
        let (code, csrf) = (code.clone(), csrf.clone());
        async move {
            http.post(url)
                .header("cookie", cookie)
                .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        checked <= 6,
        "5 free codes and one claim: {checked} were checked"
    );
    assert_eq!(
        audited(&other, "second_factor.failure", &sam.id).await,
        checked as i64
    );
    app.stop().await;
    other.stop().await;
}

/// Team access can be taken away: a removed member loses the team's queue on their next
/// request, and a team that stops serving an inbox loses its conversations. Both audited.
#[tokio::test]
async fn removing_a_member_or_an_inbox_takes_access_away() {
    let app = TestApp::spawn().await;
    let admin = app.add_person("ade@courier.test", "admin", None).await;
    let agent = app
        .add_person("asha@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let id = customer_writes(&app, "447700900777", "wamid.team1", "where is my parcel").await;
    let mut asha = Browser::new(&app);
    asha.sign_in(&agent).await;
    assert_eq!(
        asha.get(&format!("/inbox/c/{id}")).await.status(),
        StatusCode::OK,
        "in the team queue"
    );

    let mut ade = Browser::new(&app);
    ade.sign_in(&admin).await;
    let operations = app
        .store
        .teams()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == support::OPERATIONS)
        .unwrap()
        .id;
    let page = ade.page("/admin/users").await;
    assert!(
        page.contains("remove_member"),
        "the teams table offers removal"
    );
    ade.act(
        &format!("/admin/teams/{operations}"),
        &[("do", "remove_member"), ("user", &agent.id)],
    )
    .await;
    assert_eq!(
        asha.get(&format!("/inbox/c/{id}")).await.status(),
        StatusCode::NOT_FOUND,
        "no longer in the team"
    );
    assert_eq!(audited(&app, "team.member_removed", &admin.id).await, 1);

    // The supervisor token of Operations sees the conversation until the team stops
    // serving every inbox.
    let (status, _) = app.api(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    ade.act(
        &format!("/admin/teams/{operations}"),
        &[("do", "unserve"), ("inbox", "*")],
    )
    .await;
    let (status, _) = app.api(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(audited(&app, "team.inbox_removed", &admin.id).await, 1);
    app.stop().await;
}

/// Agents pressing "Assign to me" on the same queue conversation at once: exactly one
/// takes it, nobody overwrites them, and one assignment is audited.
#[tokio::test]
async fn of_agents_taking_one_conversation_at_once_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let id = customer_writes(&app, "447700900888", "wamid.race1", "hello?").await;
    let mut agents = Vec::new();
    for n in 0..5 {
        let person = app
            .add_person(
                &format!("agent{n}@courier.test"),
                "agent",
                Some(support::OPERATIONS),
            )
            .await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&person).await;
        agents.push((person, browser));
    }
    let path = format!("/inbox/c/{id}/assign");
    let takes = agents
        .iter()
        .map(|(_, browser)| browser.act_response(&path, &[("to", "me")]));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(takes)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    let assignee = one(
        &app,
        "SELECT assignee FROM conversations WHERE id = $1",
        &[&id],
    )
    .await
    .expect("assigned");
    assert!(agents.iter().any(|(p, _)| p.id == assignee));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.assigned' AND target = $1",
            &[&id],
        )
        .await,
        1,
        "one winner, one audit row"
    );
    app.stop().await;
}

/// A new set-password link retires the previous one, and disabling a user retires theirs.
#[tokio::test]
async fn only_the_newest_set_password_link_works() {
    let app = TestApp::spawn().await;
    let make = |body: Value| app.api_post_as(API_TOKEN, "/api/v1/users", body);
    let (status, created) = make(json!({"email": "nia@courier.test", "role": "agent"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let path_of = |url: &str| url[url.find("/set-password/").unwrap()..].to_owned();
    let first = path_of(created["set_password_url"].as_str().unwrap());
    let (status, again) = app
        .api_post_as(
            API_TOKEN,
            &format!("/api/v1/users/{id}/password-link"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = path_of(again["set_password_url"].as_str().unwrap());
    let browser = Browser::new(&app);
    assert_eq!(
        browser.get(&first).await.status(),
        StatusCode::NOT_FOUND,
        "retired"
    );
    assert_eq!(browser.get(&second).await.status(), StatusCode::OK);
    let (status, _) = app
        .api_post_as(API_TOKEN, &format!("/api/v1/users/{id}/disable"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        browser.get(&second).await.status(),
        StatusCode::NOT_FOUND,
        "disabling retires the link"
    );
    app.stop().await;
}

/// A live stream does not outlive a change of the user's teams: it ends within the stream's
/// check interval, and the page's reconnect gets the new permissions.
#[tokio::test]
async fn a_live_stream_ends_when_the_users_teams_change() {
    let app = TestApp::spawn().await;
    let agent = app
        .add_person("lee@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&agent).await;
    let mut stream = browser.get("/inbox/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    let operations = app
        .store
        .teams()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == support::OPERATIONS)
        .unwrap()
        .id;
    app.store
        .remove_team_member(&operations, &agent.id)
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        // Keep-alive comments may arrive first; the stream must then end.
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream kept running after the team change"
    );
    app.stop().await;
}
