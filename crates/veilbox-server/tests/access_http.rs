//! Access control over real HTTP (issue 5): the route inventory, team isolation in pages,
//! the JSON API and the live stream, an agent's reach inside their team, what each role
//! opens, API tokens and custom roles. Sessions, CSRF, throttling, the second factor and
//! set-password links are in `sessions_http.rs`.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::browser::{cookie_value, Browser, Person};
use support::{TestApp, API_TOKEN, SUPERVISOR_TOKEN};
use veilbox_store::ingest::InboxPolicy;

/// The phone number id of the first inbox (the spec samples' number).
const NORTH_NUMBER: &str = "118440581239876";
/// A second WhatsApp number: a second inbox.
const SOUTH_NUMBER: &str = "229551692340987";

/// The customer of the south inbox: nothing of this may reach North.
const SOUTH_WA: &str = "447700900987";
const SOUTH_NAME: &str = "Zebedee Quillfeather";
const SOUTH_TEXT: &str = "parcel code QX-7781 is under the blue mat";
const SOUTH_SECRETS: [&str; 4] = [SOUTH_WA, SOUTH_NAME, "Quillfeather", "QX-7781"];

const NORTH_WA: &str = "447700900101";
const NORTH_NAME: &str = "Nora Northcote";

// ------------------------------------------------------------------------------ helpers

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A text message webhook to the number `phone_number_id`.
fn text_webhook(
    phone_number_id: &str,
    wa_id: &str,
    name: &str,
    wamid: &str,
    body: &str,
) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "230811736742955",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": format!("1555{}", &phone_number_id[..7]), "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
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

/// A conversation and its (latest) inbound message.
#[derive(Debug, Clone)]
struct Conv {
    id: String,
    message: String,
    wamid: String,
}

/// Posts a signed text message; returns its conversation and message.
async fn customer_writes(
    app: &TestApp,
    number: &str,
    wa_id: &str,
    name: &str,
    wamid: &str,
    body: &str,
) -> Conv {
    let response = app
        .post_signed(&text_webhook(number, wa_id, name, wamid, body))
        .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["messages_stored"], 1, "routed and stored: {report}");
    let row = sql_strings(
        app,
        "SELECT conversation_id, id FROM messages WHERE wa_message_id = $1",
        &[wamid],
    )
    .await
    .expect("the message row");
    Conv {
        id: row[0].clone(),
        message: row[1].clone(),
        wamid: wamid.to_owned(),
    }
}

/// The text columns of the first row of `sql`.
async fn sql_strings(app: &TestApp, sql: &str, binds: &[&str]) -> Option<Vec<String>> {
    use sqlx::Row;
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let row = query.fetch_optional(app.store.pool()).await.unwrap()?;
    Some(
        (0..row.len())
            .map(|i| {
                row.try_get::<Option<String>, _>(i)
                    .unwrap()
                    .unwrap_or_default()
            })
            .collect(),
    )
}

/// `SELECT COUNT(*) ...` with binds.
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

/// The state, assignee, message and send counts of a conversation: "nothing changed".
async fn conversation_snapshot(app: &TestApp, id: &str) -> (Vec<String>, i64, i64) {
    let row = sql_strings(
        app,
        "SELECT state, assignee FROM conversations WHERE id = $1",
        &[id],
    )
    .await
    .expect("conversation");
    let messages = count(
        app,
        "SELECT COUNT(*) FROM messages WHERE conversation_id = $1",
        &[id],
    )
    .await;
    let sends = count(
        app,
        "SELECT COUNT(*) FROM outbox WHERE conversation_id = $1",
        &[id],
    )
    .await;
    (row, messages, sends)
}

async fn assignee_of(app: &TestApp, id: &str) -> Option<String> {
    let (row, _, _) = conversation_snapshot(app, id).await;
    Some(row[1].clone()).filter(|a| !a.is_empty())
}

fn assert_no_secrets(body: &str, what: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !body.contains(secret),
            "{what} leaks {secret:?}: {}",
            &body[..body.len().min(2000)]
        );
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// POSTs JSON with the browser's session cookie and, when given, an `X-CSRF-Token`.
async fn browser_api_post(
    browser: &Browser,
    path: &str,
    body: Value,
    csrf: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = browser
        .http
        .post(format!("{}{path}", browser.base))
        .header("cookie", browser.cookie())
        .json(&body);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn put_json(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .put(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates an API token; returns (id, secret). Tokens without content powers are made by
/// the bootstrap admin through the API; agent and supervisor tokens by a supervisor of the
/// first team (a token never has more content power than its creator), made here through
/// the store with that supervisor as creator.
async fn make_token(
    app: &TestApp,
    name: &str,
    role: &str,
    teams: &[&str],
    read_only: bool,
) -> (String, String) {
    if matches!(role, "agent" | "supervisor") && !teams.is_empty() {
        use veilbox_core::credentials::secret_token;
        let secret = secret_token::generate("vbt");
        let team_ids: Vec<String> = teams.iter().map(|t| (*t).to_owned()).collect();
        let id = app
            .store
            .create_api_token(&veilbox_store::tokens::NewApiToken {
                name,
                digest: &secret_token::digest(&secret),
                role,
                teams: &team_ids,
                read_only,
                created_by: "a team supervisor",
            })
            .await
            .unwrap();
        return (id, secret);
    }
    let (status, body) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/tokens",
            json!({"name": name, "role": role, "teams": teams, "read_only": read_only}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vbt_"), "{secret}");
    (body["id"].as_str().unwrap().to_owned(), secret)
}

/// Reads an SSE response until `needle` appears (or fails after 10 s).
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

/// Sets a password through a set-password URL (the browser flow); returns the password.
async fn set_password_via_link(app: &TestApp, url: &str, password: &str) {
    let path = &url[url.find("/set-password/").expect("a set-password path")..];
    let browser = Browser::new(app);
    let form = browser.get(path).await;
    assert_eq!(form.status(), StatusCode::OK);
    let (token, _) = cookie_value(form.headers(), "veilbox_login").expect("form cookie");
    let done = browser
        .http
        .post(format!("{}{path}", app.base))
        .header("cookie", format!("veilbox_login={token}"))
        .form(&[
            ("password", password),
            ("confirm", password),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/login");
}

/// Two inboxes, one conversation in each, team North serving the first and team South the
/// second.
struct World {
    north_team: String,
    south_team: String,
    north: Conv,
    south: Conv,
}

async fn two_teams(app: &TestApp) -> World {
    let north = customer_writes(
        app,
        NORTH_NUMBER,
        NORTH_WA,
        NORTH_NAME,
        "wamid.north.1",
        "when does the north van come?",
    )
    .await;
    let south = customer_writes(
        app,
        SOUTH_NUMBER,
        SOUTH_WA,
        SOUTH_NAME,
        "wamid.south.1",
        SOUTH_TEXT,
    )
    .await;
    let inbox_of = |number: &'static str| async move {
        sql_strings(
            app,
            "SELECT id FROM inboxes WHERE phone_number_id = $1",
            &[number],
        )
        .await
        .expect("inbox")[0]
            .clone()
    };
    let north_inbox = inbox_of(NORTH_NUMBER).await;
    let south_inbox = inbox_of(SOUTH_NUMBER).await;
    assert_ne!(north_inbox, south_inbox, "two inboxes");
    let north_team = app.store.ensure_team("North").await.unwrap();
    let south_team = app.store.ensure_team("South").await.unwrap();
    app.store
        .add_team_inbox(&north_team, &north_inbox)
        .await
        .unwrap();
    app.store
        .add_team_inbox(&south_team, &south_inbox)
        .await
        .unwrap();
    World {
        north_team,
        south_team,
        north,
        south,
    }
}

fn always_new_inboxes(config: &mut veilbox_server::config::Config) {
    config.whatsapp.auto_inbox = InboxPolicy::Always;
}

// ------------------------------------------------------------------- 1. route inventory

/// Whether a route is open without a session or token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Public by design (each says why it is safe).
    Public,
    /// Needs a session (pages) or a token (API).
    Authorised,
}

/// Every route of the server. A new route fails the inventory test until it is added here
/// with a decision.
const ROUTES: &[(&str, Reach)] = &[
    // Meta's handshake (verify token) and signed deliveries (X-Hub-Signature-256).
    ("/webhooks/whatsapp", Reach::Public),
    // Liveness for load balancers: says only "ok" or "unavailable".
    ("/healthz", Reach::Public),
    // Sign-in (double-submit form token, throttled).
    ("/login", Reach::Public),
    // Needs the half session a correct password starts.
    ("/login/second-factor", Reach::Public),
    // One-time links; the token in the path is the credential.
    ("/set-password/{token}", Reach::Public),
    // The stylesheet and script.
    ("/assets/inbox.v3.css", Reach::Public),
    ("/assets/inbox.v3.js", Reach::Public),
    // Ends the request's own session (full or half); needs its CSRF token.
    ("/logout", Reach::Public),
    ("/", Reach::Authorised),
    ("/inbox", Reach::Authorised),
    ("/inbox/list", Reach::Authorised),
    ("/inbox/events", Reach::Authorised),
    ("/inbox/c/{id}", Reach::Authorised),
    ("/inbox/c/{id}/m/{message_id}", Reach::Authorised),
    ("/inbox/c/{id}/m/{message_id}/preview", Reach::Authorised),
    ("/inbox/c/{id}/reply", Reach::Authorised),
    ("/inbox/c/{id}/check", Reach::Authorised),
    ("/inbox/c/{id}/template", Reach::Authorised),
    ("/inbox/c/{id}/assign", Reach::Authorised),
    ("/inbox/c/{id}/state", Reach::Authorised),
    ("/inbox/c/{id}/send/{outbox_id}", Reach::Authorised),
    ("/inbox/c/{id}/quick-reply", Reach::Authorised),
    ("/quick-replies", Reach::Authorised),
    ("/quick-replies/{id}", Reach::Authorised),
    ("/quick-replies/{id}/delete", Reach::Authorised),
    ("/account", Reach::Authorised),
    ("/account/devices/{id}/sign-out", Reach::Authorised),
    ("/account/two-factor", Reach::Authorised),
    ("/account/two-factor/recovery-codes", Reach::Authorised),
    ("/admin/users", Reach::Authorised),
    ("/admin/users/{id}", Reach::Authorised),
    ("/admin/teams", Reach::Authorised),
    ("/admin/teams/{id}", Reach::Authorised),
    ("/admin/tokens", Reach::Authorised),
    ("/admin/tokens/{id}/revoke", Reach::Authorised),
    ("/admin/roles", Reach::Authorised),
    ("/admin/erasure", Reach::Authorised),
    ("/admin/erasure/find", Reach::Authorised),
    ("/admin/erasure/{id}", Reach::Authorised),
    ("/customers", Reach::Authorised),
    ("/customers/search", Reach::Authorised),
    ("/customers/{id}", Reach::Authorised),
    ("/customers/{id}/edit", Reach::Authorised),
    ("/customers/{id}/notes", Reach::Authorised),
    ("/customers/{id}/contacts", Reach::Authorised),
    (
        "/customers/{id}/contacts/{contact_id}/remove",
        Reach::Authorised,
    ),
    ("/customers/{id}/addresses", Reach::Authorised),
    ("/customers/{id}/merge", Reach::Authorised),
    ("/audit", Reach::Authorised),
    ("/audit.csv", Reach::Authorised),
    ("/api/v1/conversations", Reach::Authorised),
    ("/api/v1/conversations/{id}", Reach::Authorised),
    ("/api/v1/conversations/{id}/messages", Reach::Authorised),
    ("/api/v1/conversations/{id}/replies", Reach::Authorised),
    ("/api/v1/conversations/{id}/reveals", Reach::Authorised),
    ("/api/v1/conversations/{id}/check", Reach::Authorised),
    (
        "/api/v1/conversations/{id}/media/{message_id}/reveals",
        Reach::Authorised,
    ),
    ("/api/v1/conversations/{id}/assign", Reach::Authorised),
    ("/api/v1/outbox/{id}/decision", Reach::Authorised),
    ("/api/v1/deliveries/{wa_message_id}", Reach::Authorised),
    ("/api/v1/admin/alerts", Reach::Authorised),
    ("/api/v1/admin/outbox", Reach::Authorised),
    ("/api/v1/admin/platform-errors", Reach::Authorised),
    ("/api/v1/admin/ingest-backlog", Reach::Authorised),
    ("/api/v1/admin/quarantine", Reach::Authorised),
    ("/api/v1/admin/quarantine/reprocess", Reach::Authorised),
    ("/api/v1/admin/identity-conflicts", Reach::Authorised),
    ("/api/v1/users", Reach::Authorised),
    ("/api/v1/users/{id}/{change}", Reach::Authorised),
    ("/api/v1/teams", Reach::Authorised),
    ("/api/v1/tokens", Reach::Authorised),
    ("/api/v1/tokens/{id}/revoke", Reach::Authorised),
    ("/api/v1/roles", Reach::Authorised),
    ("/api/v1/roles/{name}", Reach::Authorised),
    ("/api/v1/audit", Reach::Authorised),
    ("/api/v1/customers/search", Reach::Authorised),
    ("/api/v1/customers/{id}", Reach::Authorised),
    ("/api/v1/customers/{id}/notes", Reach::Authorised),
    ("/api/v1/customers/{id}/contacts", Reach::Authorised),
    ("/api/v1/customers/{id}/merge", Reach::Authorised),
    ("/api/v1/shipments/import", Reach::Authorised),
    ("/api/v1/shipments/{tracking}", Reach::Authorised),
    ("/api/v1/quick-replies", Reach::Authorised),
    ("/api/v1/quick-replies/{id}", Reach::Authorised),
];

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The text of the call whose `(` is at `open`, up to its matching `)`, skipping strings.
fn call_text(source: &str, open: usize) -> &str {
    let bytes = source.as_bytes();
    let mut depth = 0;
    let mut i = open;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return &source[open..=i];
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    panic!("unbalanced .route( call");
}

/// The value of `const NAME: &str = "...";` in `source`.
fn const_str(source: &str, name: &str) -> Option<String> {
    let marker = format!("const {name}: &str = \"");
    let at = source.find(&marker)? + marker.len();
    Some(source[at..].split('"').next()?.to_owned())
}

/// Every `.route(PATH, METHODS)` in `src/`, with the HTTP methods it serves.
fn declared_routes() -> BTreeMap<String, BTreeSet<&'static str>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut routes: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for (at, _) in source.match_indices(".route(") {
            let open = at + ".route".len();
            let call = call_text(&source, open);
            let first = call[1..].trim_start();
            let path = if let Some(rest) = first.strip_prefix('"') {
                rest.split('"').next().unwrap().to_owned()
            } else {
                let ident: String = first
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                const_str(&source, &ident).unwrap_or_else(|| {
                    panic!(
                        "{}: route path {ident} is not a literal or a const",
                        file.display()
                    )
                })
            };
            let mut methods = BTreeSet::new();
            for method in ["get", "post", "put", "patch", "delete"] {
                let needle = format!("{method}(");
                let found = call.match_indices(&needle).any(|(i, _)| {
                    i > 0 && {
                        let before = call.as_bytes()[i - 1];
                        !(before.is_ascii_alphanumeric() || before == b'_')
                    }
                });
                if found {
                    methods.insert(method);
                }
            }
            assert!(!methods.is_empty(), "{path}: no method found in {call}");
            assert!(
                routes.insert(path.clone(), methods).is_none(),
                "{path} is declared twice"
            );
        }
    }
    routes
}

#[test]
fn every_route_is_in_the_access_table() {
    let declared = declared_routes();
    let table: BTreeSet<String> = ROUTES.iter().map(|(p, _)| (*p).to_owned()).collect();
    assert_eq!(
        table.len(),
        ROUTES.len(),
        "a route is listed twice in ROUTES"
    );
    let found: BTreeSet<String> = declared.keys().cloned().collect();
    let missing: Vec<&String> = found.difference(&table).collect();
    let stale: Vec<&String> = table.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "routes without an access decision (add them to ROUTES): {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "ROUTES names routes that no longer exist: {stale:?}"
    );
    // The scan itself works: a few known shapes.
    assert_eq!(
        declared["/login"],
        BTreeSet::from(["get", "post"]),
        "GET and POST on one route"
    );
    assert_eq!(declared["/api/v1/roles/{name}"], BTreeSet::from(["put"]));
    assert_eq!(declared["/assets/inbox.v3.css"], BTreeSet::from(["get"]));
    assert_eq!(declared["/audit.csv"], BTreeSet::from(["get"]));
}

/// Fills the `{params}` of a route with real ids, so a refusal is not a 404 by accident.
fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        out.push_str(ids.get(name).map_or("dummy-param", String::as_str));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What nothing unauthenticated may change.
async fn world_counts(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL",
        "SELECT COUNT(*) FROM teams",
        "SELECT COUNT(*) FROM team_inboxes",
        "SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL",
        "SELECT COUNT(*) FROM custom_roles",
        "SELECT COUNT(*) FROM quick_replies",
        "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL",
        "SELECT COUNT(*) FROM password_links",
        "SELECT COUNT(*) FROM messages",
        "SELECT COUNT(*) FROM outbox",
        "SELECT COUNT(*) FROM conversations WHERE assignee IS NOT NULL",
        "SELECT COUNT(*) FROM conversations WHERE state <> 'open'",
        "SELECT COUNT(*) FROM audit_log",
    ] {
        counts.push(count(app, sql, &[]).await);
    }
    counts
}

#[tokio::test]
async fn authorised_routes_refuse_unauthenticated_requests() {
    let app = TestApp::spawn().await;
    let conv = customer_writes(
        &app,
        NORTH_NUMBER,
        SOUTH_WA,
        SOUTH_NAME,
        "wamid.inventory.1",
        SOUTH_TEXT,
    )
    .await;
    let (status, queued) = app
        .api_post(
            &format!("/api/v1/conversations/{}/replies", conv.id),
            json!({"type": "text", "body": "on its way"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let staff = app
        .add_person("staff@courier.test", "agent", Some("North"))
        .await;
    let (token_id, _) = make_token(&app, "inventory", "supervisor", &[], true).await;
    let team = app.store.ensure_team("North").await.unwrap();
    let ids: BTreeMap<&str, String> = BTreeMap::from([
        ("message_id", conv.message.clone()),
        (
            "outbox_id",
            queued["outbox_id"].as_str().unwrap().to_owned(),
        ),
        ("wa_message_id", conv.wamid.clone()),
        ("token", "vbl_not-a-link".to_owned()),
        ("change", "disable".to_owned()),
        ("name", "dispatcher".to_owned()),
    ]);
    // `{id}` is a conversation, user, team, token or outbox id depending on the route.
    let id_for = |path: &str| -> String {
        if path.starts_with("/admin/users/") || path.starts_with("/api/v1/users/") {
            staff.id.clone()
        } else if path.starts_with("/admin/teams/") {
            team.clone()
        } else if path.contains("/tokens/") {
            token_id.clone()
        } else if path.starts_with("/api/v1/outbox/") {
            ids["outbox_id"].clone()
        } else {
            conv.id.clone()
        }
    };
    let before = world_counts(&app).await;
    let declared = declared_routes();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut checked = 0;
    for (route, reach) in ROUTES {
        if *reach != Reach::Authorised {
            continue;
        }
        let mut ids = ids.clone();
        ids.insert("id", id_for(route));
        let path = fill(route, &ids);
        for method in &declared[*route] {
            // No credentials, a forged session cookie, and (API) a forged bearer token.
            let mut variants: Vec<(&str, Option<(&str, &str)>)> = vec![
                ("no credentials", None),
                (
                    "forged cookie",
                    Some(("cookie", "veilbox_session=vbs_forged0123456789")),
                ),
            ];
            if route.starts_with("/api/") {
                variants.push((
                    "forged bearer",
                    Some(("authorization", "Bearer vbt_forged")),
                ));
                variants.push(("empty bearer", Some(("authorization", "Bearer "))));
            }
            for (what, header) in variants {
                let url = format!("{}{path}", app.base);
                let mut request = match *method {
                    "get" => http.get(&url),
                    "post" => http.post(&url),
                    "put" => http.put(&url),
                    "patch" => http.patch(&url),
                    "delete" => http.delete(&url),
                    other => unreachable!("{other}"),
                };
                if route.starts_with("/api/") {
                    request = request.json(&json!({
                        "type": "text", "body": "x", "assignee": null, "resend": true,
                        "email": "intruder@evil.test", "role": "admin", "name": "x",
                        "policy": "permit (principal, action, resource);", "teams": [],
                    }));
                } else if *method != "get" {
                    request = request.form(&[
                        ("body", "x"),
                        ("to", "me"),
                        ("state", "resolved"),
                        ("do", "disable"),
                        ("email", "intruder@evil.test"),
                        ("role", "admin"),
                        ("name", "x"),
                    ]);
                }
                if let Some((name, value)) = header {
                    request = request.header(name, value);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let where_to = location(&response);
                let body = response.text().await.unwrap();
                let label = format!("{method} {path} ({what})");
                if route.starts_with("/api/") {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: {body}");
                    assert_eq!(
                        serde_json::from_str::<Value>(&body).unwrap(),
                        json!({"error": "unauthorized"}),
                        "{label}"
                    );
                } else {
                    assert_eq!(status, StatusCode::SEE_OTHER, "{label}: {body}");
                    assert_eq!(where_to, "/login", "{label}");
                    assert!(
                        body.is_empty(),
                        "{label}: a redirect carries no page: {body}"
                    );
                }
                assert_no_secrets(&body, &label, &SOUTH_SECRETS);
                assert!(!body.contains(&conv.id), "{label} names the conversation");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} requests checked");
    assert_eq!(
        world_counts(&app).await,
        before,
        "an unauthenticated request changed something"
    );

    // The public routes behave as public routes should without a session.
    let get = |path: &'static str| {
        let http = http.clone();
        let base = app.base.clone();
        async move { http.get(format!("{base}{path}")).send().await.unwrap() }
    };
    assert_eq!(get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(get("/login").await.status(), StatusCode::OK);
    assert_eq!(get("/assets/inbox.v3.css").await.status(), StatusCode::OK);
    assert_eq!(get("/assets/inbox.v3.js").await.status(), StatusCode::OK);
    assert_eq!(
        get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let unsigned = http
        .post(format!("{}/webhooks/whatsapp", app.base))
        .body(text_webhook(
            NORTH_NUMBER,
            "447700900000",
            "X",
            "wamid.unsigned",
            "x",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let second = get("/login/second-factor").await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&second), "/login");
    let logout = http
        .post(format!("{}/logout", app.base))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/login");
    let link = get("/set-password/vbl_not-a-link").await;
    assert_eq!(link.status(), StatusCode::NOT_FOUND);
    assert!(link.text().await.unwrap().contains("no longer works"));
    assert_eq!(world_counts(&app).await, before);
    app.stop().await;
}

// --------------------------------------------------------------- 2. cross-team isolation

/// Everything North may not see of South, through pages, fragments, form actions, the live
/// stream and the JSON API.
async fn cross_team_isolation(app: &TestApp) {
    let world = two_teams(app).await;
    let (north, south) = (world.north.clone(), world.south.clone());
    // A reply in the south conversation (by the Operations token), so there is a send to
    // aim at.
    let (status, queued) = app
        .api_post(
            &format!("/api/v1/conversations/{}/replies", south.id),
            json!({"type": "text", "body": "We will pick it up from the blue mat."}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let south_send = queued["outbox_id"].as_str().unwrap().to_owned();

    let agent_a = app
        .add_person("ana@courier.test", "agent", Some("North"))
        .await;
    let agent_b = app
        .add_person("ben@courier.test", "agent", Some("South"))
        .await;
    let lead = app
        .add_person("sam@courier.test", "supervisor", Some("North"))
        .await;
    let mut a = Browser::new(app);
    a.sign_in(&agent_a).await;
    let mut b = Browser::new(app);
    b.sign_in(&agent_b).await;
    let mut s = Browser::new(app);
    s.sign_in(&lead).await;
    let before = conversation_snapshot(app, &south.id).await;

    // Positive controls: each team sees its own.
    let own = b.page(&format!("/inbox/c/{}", south.id)).await;
    // Names are masked for everyone: the conversation itself and its order id show it.
    assert!(
        own.contains(&format!("data-conversation=\"{}\"", south.id)) && own.contains("QX-7781")
    );
    let shown = format!("data-conversation=\"{}\"", north.id);
    assert!(a
        .page(&format!("/inbox/c/{}", north.id))
        .await
        .contains(&shown));
    assert!(s
        .page(&format!("/inbox/c/{}", north.id))
        .await
        .contains(&shown));

    for (who, browser) in [("agent A", &a), ("supervisor S", &s)] {
        let thread = browser.get(&format!("/inbox/c/{}", south.id)).await;
        assert_eq!(thread.status(), StatusCode::NOT_FOUND, "{who}");
        let body = thread.text().await.unwrap();
        assert_no_secrets(&body, who, &SOUTH_SECRETS);
        for path in [
            "/inbox".to_owned(),
            "/inbox?state=open&who=all".to_owned(),
            "/inbox?state=open&who=unassigned".to_owned(),
            "/inbox?state=pending&who=all".to_owned(),
            "/inbox/list?state=open&who=all".to_owned(),
            format!("/inbox/list?state=open&who=all&c={}", south.id),
            format!("/inbox/c/{}", north.id),
        ] {
            let html = browser.page(&path).await;
            assert_no_secrets(&html, &format!("{who} {path}"), &SOUTH_SECRETS);
            assert!(
                !html.contains(&south.id),
                "{who} {path} names the conversation"
            );
        }
        assert!(
            browser
                .page("/inbox?state=open&who=all")
                .await
                .contains(&format!("/inbox/c/{}", north.id)),
            "{who}"
        );
        for path in [
            format!("/inbox/c/{}/m/{}", south.id, south.message),
            // A south message through a conversation the viewer may see.
            format!("/inbox/c/{}/m/{}", north.id, south.message),
        ] {
            let fragment = browser.get(&path).await;
            assert_eq!(fragment.status(), StatusCode::NOT_FOUND, "{who} {path}");
            assert_no_secrets(&fragment.text().await.unwrap(), &path, &SOUTH_SECRETS);
        }
        // Form actions with a valid CSRF token: 404, nothing changes.
        for (action, form) in [
            ("reply", vec![("body", "hello from the wrong team")]),
            ("template", vec![("template", "delivery_update|en_GB")]),
            ("assign", vec![("to", "me")]),
            ("assign", vec![("to", "none")]),
            ("state", vec![("state", "resolved")]),
            ("state", vec![("state", "pending")]),
        ] {
            let response = browser
                .act_response(&format!("/inbox/c/{}/{action}", south.id), &form)
                .await;
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{who} {action} {form:?}"
            );
            assert_no_secrets(&response.text().await.unwrap(), action, &SOUTH_SECRETS);
        }
        let decide = browser
            .act_response(
                &format!("/inbox/c/{}/send/{south_send}", south.id),
                &[("decision", "discard")],
            )
            .await;
        assert_eq!(
            decide.status(),
            StatusCode::NOT_FOUND,
            "{who} send decision"
        );
        // The south send through a conversation the viewer may act on: scoped, no effect.
        let sideways = browser
            .act_response(
                &format!("/inbox/c/{}/send/{south_send}", north.id),
                &[("decision", "discard")],
            )
            .await;
        assert_ne!(sideways.status(), StatusCode::OK, "{who}");
        assert_eq!(
            conversation_snapshot(app, &south.id).await,
            before,
            "{who} changed South"
        );
        // The JSON API with the browser's session: 404 like a missing conversation.
        for (path, body) in [
            (
                format!("/api/v1/conversations/{}/assign", south.id),
                json!({"assignee": "me"}),
            ),
            (
                format!("/api/v1/conversations/{}/replies", south.id),
                json!({"type": "text", "body": "x"}),
            ),
            (
                format!("/api/v1/outbox/{south_send}/decision"),
                json!({"resend": false}),
            ),
        ] {
            let (status, answer) =
                browser_api_post(browser, &path, body, Some(&browser.csrf)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} {path}: {answer}");
        }
        let shown = browser
            .get(&format!("/api/v1/conversations/{}", south.id))
            .await;
        assert_eq!(shown.status(), StatusCode::NOT_FOUND, "{who}");
    }
    let outbox_state = sql_strings(
        app,
        "SELECT state FROM outbox WHERE id = $1",
        &[&south_send],
    )
    .await
    .unwrap();
    assert_ne!(
        outbox_state[0], "cancelled",
        "the south send was not discarded"
    );
    assert_eq!(conversation_snapshot(app, &south.id).await, before);

    // The live stream: A hears nothing of South, B does; both hear their own.
    let mut stream_a = a.get("/inbox/events").await;
    assert_eq!(stream_a.status(), StatusCode::OK);
    let mut stream_b = b.get("/inbox/events").await;
    assert_eq!(stream_b.status(), StatusCode::OK);
    let south_again = customer_writes(
        app,
        SOUTH_NUMBER,
        SOUTH_WA,
        SOUTH_NAME,
        "wamid.south.2",
        "QX-7781 again: did you find it?",
    )
    .await;
    assert_eq!(south_again.id, south.id);
    let north_again = customer_writes(
        app,
        NORTH_NUMBER,
        NORTH_WA,
        NORTH_NAME,
        "wamid.north.2",
        "still waiting up north",
    )
    .await;
    // Events are sent in order: had the south one been sent to A, it would come first.
    let seen_a = read_until(&mut stream_a, &north_again.message).await;
    assert!(seen_a.contains("event: message"), "{seen_a}");
    assert!(
        !seen_a.contains(&south.id),
        "A's stream named South's conversation: {seen_a}"
    );
    assert!(!seen_a.contains(&south_again.message), "{seen_a}");
    assert_no_secrets(&seen_a, "A's stream", &SOUTH_SECRETS);
    let seen_b = read_until(&mut stream_b, &south_again.message).await;
    assert!(seen_b.contains(&south.id), "B hears South: {seen_b}");
    drop(stream_a);
    drop(stream_b);

    // The JSON API with an agent token for North.
    let (_, north_token) =
        make_token(app, "north agent", "agent", &[&world.north_team], false).await;
    let (status, list) = app.api_as(&north_token, "/api/v1/conversations").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&north.id.as_str()), "{list}");
    assert!(!ids.contains(&south.id.as_str()), "{list}");
    assert_no_secrets(&list.to_string(), "token list", &SOUTH_SECRETS);
    for path in [
        format!("/api/v1/conversations/{}", south.id),
        format!("/api/v1/conversations/{}/messages", south.id),
        format!("/api/v1/deliveries/{}", south.wamid),
    ] {
        let (status, body) = app.api_as(&north_token, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_no_secrets(&body.to_string(), &path, &SOUTH_SECRETS);
    }
    for (path, body) in [
        (
            format!("/api/v1/conversations/{}/replies", south.id),
            json!({"type": "text", "body": "wrong team"}),
        ),
        (
            format!("/api/v1/conversations/{}/assign", south.id),
            json!({"assignee": null}),
        ),
        (
            format!("/api/v1/conversations/{}/assign", south.id),
            json!({"assignee": agent_a.id}),
        ),
        (
            format!("/api/v1/outbox/{south_send}/decision"),
            json!({"resend": false}),
        ),
    ] {
        let (status, answer) = app.api_post_as(&north_token, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
    }
    let (status, _) = app
        .api_as(&north_token, &format!("/api/v1/conversations/{}", north.id))
        .await;
    assert_eq!(status, StatusCode::OK, "the token reads its own team's");
    // And the South agent token sees South but not North.
    let (_, south_token) =
        make_token(app, "south agent", "agent", &[&world.south_team], true).await;
    let (status, _) = app
        .api_as(&south_token, &format!("/api/v1/conversations/{}", north.id))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .api_as(&south_token, &format!("/api/v1/conversations/{}", south.id))
        .await;
    assert_eq!(status, StatusCode::OK);

    let after = conversation_snapshot(app, &south.id).await;
    assert_eq!(
        after.0, before.0,
        "South's state and assignee are unchanged"
    );
    assert_eq!(after.2, before.2, "no send was queued in South");
    assert_eq!(
        after.1,
        before.1 + 1,
        "only the customer's second message was added"
    );
}

#[tokio::test]
async fn teams_do_not_see_each_others_conversations() {
    let app = TestApp::spawn_with(always_new_inboxes).await;
    cross_team_isolation(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn teams_do_not_see_each_others_conversations_on_postgres() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    // spawn_postgres keeps the default inbox policy (first number only): both inboxes
    // exist up front, as configured inboxes would.
    app.store
        .ensure_inbox(NORTH_NUMBER, "North desk")
        .await
        .unwrap();
    app.store
        .ensure_inbox(SOUTH_NUMBER, "South desk")
        .await
        .unwrap();
    cross_team_isolation(&app).await;
    app.stop().await;
}

// ------------------------------------------------------------- 3. an agent inside a team

/// One inbox served by North: a queue conversation, one assigned to each of two agents.
struct Team {
    queue: Conv,
    mine: Conv,
    mate: Conv,
    agent: Person,
    colleague: Person,
    lead: Person,
}

async fn one_team(app: &TestApp) -> Team {
    let queue = customer_writes(
        app,
        NORTH_NUMBER,
        "447700900201",
        "Quinn Queue",
        "wamid.q",
        "queue?",
    )
    .await;
    let mine = customer_writes(
        app,
        NORTH_NUMBER,
        "447700900202",
        "Mina Mine",
        "wamid.m",
        "mine?",
    )
    .await;
    let mate = customer_writes(
        app,
        NORTH_NUMBER,
        "447700900203",
        "Matt Mate",
        "wamid.t",
        "mate?",
    )
    .await;
    let inbox = sql_strings(
        app,
        "SELECT id FROM inboxes WHERE phone_number_id = $1",
        &[NORTH_NUMBER],
    )
    .await
    .unwrap()[0]
        .clone();
    let team = app.store.ensure_team("North").await.unwrap();
    app.store.add_team_inbox(&team, &inbox).await.unwrap();
    let agent = app
        .add_person("ana@courier.test", "agent", Some("North"))
        .await;
    let colleague = app
        .add_person("cole@courier.test", "agent", Some("North"))
        .await;
    let lead = app
        .add_person("sam@courier.test", "supervisor", Some("North"))
        .await;
    assert!(app
        .store
        .assign_conversation(&mine.id, Some(&agent.id))
        .await
        .unwrap());
    assert!(app
        .store
        .assign_conversation(&mate.id, Some(&colleague.id))
        .await
        .unwrap());
    Team {
        queue,
        mine,
        mate,
        agent,
        colleague,
        lead,
    }
}

#[tokio::test]
async fn an_agent_works_their_own_and_the_queue_but_not_a_colleagues() {
    let app = TestApp::spawn().await;
    let team = one_team(&app).await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&team.agent).await;

    let list = agent.page("/inbox?state=open&who=all").await;
    assert!(
        list.contains(&team.queue.id) && !list.contains("Quinn Queue"),
        "the queue"
    );
    assert!(
        list.contains(&team.mine.id) && !list.contains("Mina Mine"),
        "their own"
    );
    assert!(
        !list.contains(&team.mate.id) && !list.contains("Matt Mate"),
        "not a colleague's"
    );
    let unassigned = agent.page("/inbox?state=open&who=unassigned").await;
    assert!(unassigned.contains(&team.queue.id) && !unassigned.contains(&team.mine.id));
    let mine = agent.page("/inbox?state=open&who=mine").await;
    assert!(mine.contains(&team.mine.id) && !mine.contains(&team.queue.id));

    // A colleague's conversation does not exist for them.
    let mate = agent.get(&format!("/inbox/c/{}", team.mate.id)).await;
    assert_eq!(mate.status(), StatusCode::NOT_FOUND);
    assert!(!mate.text().await.unwrap().contains("Matt Mate"));
    let fragment = agent
        .get(&format!(
            "/inbox/c/{}/m/{}",
            team.mate.id, team.mate.message
        ))
        .await;
    assert_eq!(fragment.status(), StatusCode::NOT_FOUND);
    let before = conversation_snapshot(&app, &team.mate.id).await;
    for form in [[("to", "none")], [("to", "me")]] {
        let response = agent
            .act_response(&format!("/inbox/c/{}/assign", team.mate.id), &form)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{form:?}");
    }
    let reply = agent
        .act_response(
            &format!("/inbox/c/{}/reply", team.mate.id),
            &[("body", "hi")],
        )
        .await;
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    let (status, _) = browser_api_post(
        &agent,
        &format!("/api/v1/conversations/{}/assign", team.mate.id),
        json!({"assignee": null}),
        Some(&agent.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "cannot unassign a colleague");
    assert_eq!(conversation_snapshot(&app, &team.mate.id).await, before);
    assert_eq!(
        assignee_of(&app, &team.mate.id).await.as_deref(),
        Some(team.colleague.id.as_str())
    );

    // The queue: they may take it for themselves, not hand it to someone else.
    let page = agent.page(&format!("/inbox/c/{}", team.queue.id)).await;
    assert!(page.contains("Assign to me"), "the take button");
    let (status, _) = browser_api_post(
        &agent,
        &format!("/api/v1/conversations/{}/assign", team.queue.id),
        json!({"assignee": team.colleague.id}),
        Some(&agent.csrf),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an agent does not hand work out"
    );
    assert_eq!(assignee_of(&app, &team.queue.id).await, None);
    agent
        .act(
            &format!("/inbox/c/{}/assign", team.queue.id),
            &[("to", "me")],
        )
        .await;
    assert_eq!(
        assignee_of(&app, &team.queue.id).await.as_deref(),
        Some(team.agent.id.as_str())
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.assigned' AND actor = $1 AND target = $2",
            &[&team.agent.id, &team.queue.id],
        )
        .await,
        1,
        "the take is audited"
    );
    // Taken: now they reply.
    agent
        .act(
            &format!("/inbox/c/{}/reply", team.queue.id),
            &[("body", "On it.")],
        )
        .await;
    assert_eq!(
        conversation_snapshot(&app, &team.queue.id).await.2,
        1,
        "one send queued"
    );

    // The colleague no longer sees it, and cannot take it.
    let mut colleague = Browser::new(&app);
    colleague.sign_in(&team.colleague).await;
    let taken = colleague.get(&format!("/inbox/c/{}", team.queue.id)).await;
    assert_eq!(taken.status(), StatusCode::NOT_FOUND);
    let grab = colleague
        .act_response(
            &format!("/inbox/c/{}/assign", team.queue.id),
            &[("to", "me")],
        )
        .await;
    assert_eq!(grab.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        assignee_of(&app, &team.queue.id).await.as_deref(),
        Some(team.agent.id.as_str())
    );

    // The supervisor sees all of the team's and may unassign anyone.
    let mut lead = Browser::new(&app);
    lead.sign_in(&team.lead).await;
    let all = lead.page("/inbox?state=open&who=all").await;
    for conv in [&team.queue, &team.mine, &team.mate] {
        assert!(all.contains(&conv.id), "supervisor list");
        lead.page(&format!("/inbox/c/{}", conv.id)).await;
    }
    lead.act(
        &format!("/inbox/c/{}/assign", team.mate.id),
        &[("to", "none")],
    )
    .await;
    assert_eq!(assignee_of(&app, &team.mate.id).await, None);
    let (status, _) = browser_api_post(
        &lead,
        &format!("/api/v1/conversations/{}/assign", team.mate.id),
        json!({"assignee": team.agent.id}),
        Some(&lead.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a supervisor hands work out");
    assert_eq!(
        assignee_of(&app, &team.mate.id).await.as_deref(),
        Some(team.agent.id.as_str())
    );
    app.stop().await;
}

/// The queue is for taking: replying needs the conversation assigned first (issue 5, and
/// the README's role table: agents reply to conversations assigned to them).
#[tokio::test]
async fn an_agent_cannot_reply_to_the_queue_before_taking_it() {
    let app = TestApp::spawn().await;
    let team = one_team(&app).await;
    let mut agent = Browser::new(&app);
    agent.sign_in(&team.agent).await;
    let before = conversation_snapshot(&app, &team.queue.id).await;
    let reply = agent
        .act_response(
            &format!("/inbox/c/{}/reply", team.queue.id),
            &[("body", "replying without taking it")],
        )
        .await;
    let status = reply.status();
    assert_eq!(
        conversation_snapshot(&app, &team.queue.id).await,
        before,
        "a reply to the queue was queued (status {status})"
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = browser_api_post(
        &agent,
        &format!("/api/v1/conversations/{}/replies", team.queue.id),
        json!({"type": "text", "body": "via the API"}),
        Some(&agent.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(agent
        .page(&format!("/inbox/c/{}", team.queue.id))
        .await
        .contains("Take this conversation to reply."));
    app.stop().await;
}

// ---------------------------------------------------------------------------- 4. roles

#[tokio::test]
async fn each_role_opens_its_own_sections_only() {
    let app = TestApp::spawn().await;
    let conv = customer_writes(
        &app,
        NORTH_NUMBER,
        SOUTH_WA,
        SOUTH_NAME,
        "wamid.roles",
        SOUTH_TEXT,
    )
    .await;
    let auditor = app.add_person("audrey@courier.test", "auditor", None).await;
    let admin = app.add_person("adam@courier.test", "admin", None).await;
    let agent = app
        .add_person("ana@courier.test", "agent", Some(support::OPERATIONS))
        .await;

    // Formula payloads that reach the audit log through the User-Agent of failed sign-ins.
    let formulas = [
        (
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")",
        ),
        ("+SUM(1;2)", "'+SUM(1;2)"),
        ("@SUM(1)", "'@SUM(1)"),
        ("-1+2", "'-1+2"),
    ];
    for (i, (agent_header, _)) in formulas.iter().enumerate() {
        let mut probe = Browser::new(&app);
        probe.user_agent = (*agent_header).to_owned();
        let response = probe
            .try_sign_in(&format!("nobody{i}@courier.test"), "not a password at all")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    // Auditor: the audit log and its export; no conversation, no admin page.
    let mut audit = Browser::new(&app);
    audit.sign_in(&auditor).await;
    let home = audit.get("/").await;
    assert_eq!(location(&home), "/audit");
    let log = audit.page("/audit").await;
    assert!(log.contains("sign_in.failure"));
    assert!(
        !log.contains("href=\"/inbox\""),
        "no inbox link for auditors"
    );
    let filtered = audit.page("/audit?action=sign_in.failure").await;
    assert!(!filtered.contains("user.created") && filtered.contains("sign_in.failure"));
    let csv = audit.get("/audit.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("seq,time,actor,action,target,reason,address,user_agent,hash\r\n"));
    for (_, defused) in formulas {
        let cell = format!("\"{defused}\"");
        assert!(csv.contains(&cell), "{cell} in {csv}");
    }
    for line in csv.lines().skip(1) {
        for dangerous in ["\"=", "\"+", "\"@", "\"-", "\"\t"] {
            assert!(
                !line.starts_with(dangerous) && !line.contains(&format!(",{dangerous}")),
                "an undefused cell in {line:?}"
            );
        }
    }
    assert_no_secrets(&csv, "audit export", &SOUTH_SECRETS);
    assert!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'audit.exported' AND actor = $1",
            &[&auditor.id]
        )
        .await
            == 1
    );
    let inbox = audit.page("/inbox").await;
    assert!(inbox.contains("No conversations here."));
    assert_no_secrets(&inbox, "auditor inbox", &SOUTH_SECRETS);
    let thread = audit.get(&format!("/inbox/c/{}", conv.id)).await;
    assert_eq!(thread.status(), StatusCode::NOT_FOUND);
    assert_no_secrets(
        &thread.text().await.unwrap(),
        "auditor thread",
        &SOUTH_SECRETS,
    );
    for path in ["/admin/users", "/admin/tokens", "/admin/roles"] {
        assert_eq!(
            audit.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "auditor {path}"
        );
    }
    let shown = audit
        .get(&format!("/api/v1/conversations/{}", conv.id))
        .await;
    assert_eq!(shown.status(), StatusCode::NOT_FOUND);

    // Admin: users, tokens, roles; no conversation, no audit log.
    let mut adm = Browser::new(&app);
    adm.sign_in(&admin).await;
    assert_eq!(location(&adm.get("/").await), "/admin/users");
    for path in ["/admin/users", "/admin/tokens", "/admin/roles"] {
        let html = adm.page(path).await;
        assert_no_secrets(&html, path, &SOUTH_SECRETS);
    }
    let thread = adm.get(&format!("/inbox/c/{}", conv.id)).await;
    assert_eq!(thread.status(), StatusCode::NOT_FOUND);
    assert_no_secrets(
        &thread.text().await.unwrap(),
        "admin thread",
        &SOUTH_SECRETS,
    );
    let inbox = adm.page("/inbox").await;
    assert!(inbox.contains("No conversations here."));
    assert_no_secrets(&inbox, "admin inbox", &SOUTH_SECRETS);
    assert_eq!(adm.get("/audit").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(adm.get("/audit.csv").await.status(), StatusCode::FORBIDDEN);
    let (status, _) = browser_api_post(
        &adm,
        &format!("/api/v1/conversations/{}/replies", conv.id),
        json!({"type": "text", "body": "admin writing"}),
        Some(&adm.csrf),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "admins do not read or write conversations"
    );

    // Agent: no admin page, no audit log, not even by posting.
    let mut ag = Browser::new(&app);
    ag.sign_in(&agent).await;
    for path in [
        "/admin/users",
        "/admin/tokens",
        "/admin/roles",
        "/audit",
        "/audit.csv",
    ] {
        let response = ag.get(path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "agent {path}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("Your role does not allow this"));
    }
    let users_before = count(&app, "SELECT COUNT(*) FROM users", &[]).await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/users".to_owned(),
            vec![("email", "mole@courier.test"), ("role", "admin")],
        ),
        (
            format!("/admin/users/{}", agent.id),
            vec![("do", "role"), ("role", "admin")],
        ),
        ("/admin/teams".to_owned(), vec![("name", "Moles")]),
        (
            "/admin/tokens".to_owned(),
            vec![("name", "mole"), ("role", "admin")],
        ),
        (
            "/admin/roles".to_owned(),
            vec![
                ("name", "mole"),
                ("policy", "permit (principal, action, resource);"),
            ],
        ),
    ];
    for (path, form) in forms {
        let response = ag.act_response(&path, &form).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "agent POST {path}"
        );
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users", &[]).await,
        users_before
    );
    assert_eq!(
        sql_strings(&app, "SELECT role FROM users WHERE id = $1", &[&agent.id])
            .await
            .unwrap()[0],
        "agent",
        "no self-promotion"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM teams WHERE name = 'Moles'", &[]).await,
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM custom_roles", &[]).await,
        0
    );

    // API: the bootstrap admin manages people but reads neither audit nor conversations.
    let (status, made) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/users",
            json!({"email": "newbie@courier.test", "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(
        made["set_password_url"]
            .as_str()
            .unwrap()
            .contains("/set-password/vbl_"),
        "{made}"
    );
    let (status, _) = app.admin_api("/api/v1/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = app.admin_api("/api/v1/conversations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([]));
    let (status, _) = app
        .admin_api(&format!("/api/v1/conversations/{}", conv.id))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An auditor token reads the audit log, and nothing else.
    let (_, auditor_token) = make_token(&app, "compliance", "auditor", &[], true).await;
    let (status, rows) = app
        .api_as(&auditor_token, "/api/v1/audit?action=user.")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "user.created"));
    let (status, _) = app
        .api_as(
            &auditor_token,
            &format!("/api/v1/conversations/{}", conv.id),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.api_as(&auditor_token, "/api/v1/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A supervisor token reads conversations, not the audit log, and grants nothing.
    let (status, _) = app.api("/api/v1/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .api_post(
            "/api/v1/tokens",
            json!({"name": "escalate", "role": "admin", "read_only": false}),
        )
        .await;
    // Supervisors make tokens for their teams, never one with powers they lack.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .api_post(
            "/api/v1/users",
            json!({"email": "mole@courier.test", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put_json(
        &app,
        SUPERVISOR_TOKEN,
        "/api/v1/roles/mole",
        json!({"policy": "permit (principal in Veilbox::Role::\"mole\", action, resource);"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

// ----------------------------------------------------------------------- 8. API tokens

#[tokio::test]
async fn api_tokens_carry_role_team_and_scope_and_revocation_is_immediate() {
    let app = TestApp::spawn_with(always_new_inboxes).await;
    let world = two_teams(&app).await;
    let north_agent = app
        .add_person("ana@courier.test", "agent", Some("North"))
        .await;

    let (read_id, read_only) =
        make_token(&app, "wallboard", "supervisor", &[&world.north_team], true).await;
    let (write_id, read_write) = make_token(
        &app,
        "dispatch board",
        "supervisor",
        &[&world.north_team],
        false,
    )
    .await;
    let before = conversation_snapshot(&app, &world.north.id).await;

    // Read only: reads, never writes.
    for path in [
        "/api/v1/conversations".to_owned(),
        format!("/api/v1/conversations/{}", world.north.id),
        format!("/api/v1/conversations/{}/messages", world.north.id),
    ] {
        let (status, body) = app.api_as(&read_only, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    for (path, body) in [
        (
            format!("/api/v1/conversations/{}/replies", world.north.id),
            json!({"type": "text", "body": "from a read-only token"}),
        ),
        (
            format!("/api/v1/conversations/{}/assign", world.north.id),
            json!({"assignee": north_agent.id}),
        ),
        (
            format!("/api/v1/conversations/{}/assign", world.north.id),
            json!({"assignee": null}),
        ),
    ] {
        let (status, answer) = app.api_post_as(&read_only, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
    }
    assert_eq!(conversation_snapshot(&app, &world.north.id).await, before);
    // Its team only.
    let (status, _) = app
        .api_as(
            &read_only,
            &format!("/api/v1/conversations/{}", world.south.id),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Read and write.
    let (status, answer) = app
        .api_post_as(
            &read_write,
            &format!("/api/v1/conversations/{}/replies", world.north.id),
            json!({"type": "text", "body": "from the dispatch board"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, answer) = app
        .api_post_as(
            &read_write,
            &format!("/api/v1/conversations/{}/assign", world.north.id),
            json!({"assignee": north_agent.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        assignee_of(&app, &world.north.id).await.as_deref(),
        Some(north_agent.id.as_str())
    );
    let (status, _) = app
        .api_post_as(
            &read_write,
            &format!("/api/v1/conversations/{}/assign", world.north.id),
            json!({"assignee": "me"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a token is not a person to assign"
    );

    // The list never shows a secret.
    let response = app
        .client
        .get(format!("{}/api/v1/tokens", app.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for secret in [&read_only, &read_write] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the token list"
        );
        let digest = veilbox_core::credentials::secret_token::digest(secret);
        assert!(!text.contains(&digest), "a digest in the token list");
        assert!(
            !text.contains(&secret[4..20]),
            "part of a secret in the token list"
        );
    }
    let listed: Value = serde_json::from_str(&text).unwrap();
    let items = listed["items"].as_array().unwrap();
    let wallboard = items.iter().find(|t| t["id"] == read_id.as_str()).unwrap();
    assert_eq!(wallboard["role"], "supervisor");
    assert_eq!(wallboard["read_only"], true);
    assert_eq!(wallboard["teams"], json!([world.north_team]));
    assert!(wallboard.get("token").is_none());

    // Bad requests are refused, and only admins make tokens.
    for body in [
        json!({"name": "x", "role": "overlord", "teams": []}),
        json!({"name": "x", "role": "agent", "teams": ["no-such-team"]}),
        json!({"name": " ", "role": "agent", "teams": []}),
    ] {
        let (status, answer) = app.api_post_as(API_TOKEN, "/api/v1/tokens", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    }
    let (status, _) = app
        .api_post_as(
            &read_write,
            "/api/v1/tokens",
            json!({"name": "x", "role": "admin", "read_only": false}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no admin powers from a supervisor"
    );
    let (_, read_only_admin) = make_token(&app, "admin reader", "admin", &[], true).await;
    let (status, _) = app
        .api_post_as(
            &read_only_admin,
            "/api/v1/tokens",
            json!({"name": "x", "role": "admin", "read_only": false}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a read-only admin token changes nothing"
    );
    let (status, _) = app
        .api_post_as(
            &read_only_admin,
            "/api/v1/users",
            json!({"email": "x@courier.test", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revocation: at once, once.
    let (status, answer) = app
        .api_post_as(
            API_TOKEN,
            &format!("/api/v1/tokens/{write_id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, body) = app.api_as(&read_write, "/api/v1/conversations").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = app
        .api_post_as(
            &read_write,
            &format!("/api/v1/conversations/{}/replies", world.north.id),
            json!({"type": "text", "body": "after revocation"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .api_post_as(
            API_TOKEN,
            &format!("/api/v1/tokens/{write_id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already revoked");
    let (_, listed) = app.admin_api("/api/v1/tokens").await;
    let revoked = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == write_id.as_str())
        .unwrap()
        .clone();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let (status, _) = app.api_as(&read_only, "/api/v1/conversations").await;
    assert_eq!(status, StatusCode::OK, "the other token still works");

    // Audited (the two supervisor tokens were made through the store by the test; a token
    // made through the API is audited as created, below).
    let _ = &read_id;
    let (compliance_id, _) = make_token(&app, "compliance audit", "auditor", &[], true).await;
    for (action, target) in [
        ("token.created", &compliance_id),
        ("token.revoked", &write_id),
    ] {
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND target = $2 AND actor = 'bootstrap'",
                &[action, target],
            )
            .await,
            1,
            "{action} {target}"
        );
    }
    let (_, auditor_token) = make_token(&app, "compliance", "auditor", &[], true).await;
    let (_, rows) = app
        .api_as(&auditor_token, "/api/v1/audit?action=token.")
        .await;
    assert!(rows["items"].as_array().unwrap().len() >= 4, "{rows}");
    assert!(
        !rows.to_string().contains(read_write.as_str()),
        "no secret in the audit log"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------- 9. custom roles

const DISPATCHER: &str = r#"// A dispatcher sees and assigns the conversations of their teams.
permit (
    principal in Veilbox::Role::"dispatcher",
    action in [Veilbox::Action::"view_conversation", Veilbox::Action::"assign"],
    resource is Veilbox::Conversation
) when { resource.teams.containsAny(principal.teams) };"#;

#[tokio::test]
async fn custom_roles_are_validated_and_then_enforced() {
    let app = TestApp::spawn_with(always_new_inboxes).await;
    let world = two_teams(&app).await;

    // Refused with the validator's words; the role does not come to exist.
    let nosy = DISPATCHER.replace("resource.teams.containsAny", "resource.colour.containsAny");
    let (status, refused) = put_json(
        &app,
        API_TOKEN,
        "/api/v1/roles/dispatcher",
        json!({"policy": nosy}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"], "policy refused");
    let details = refused["details"].as_str().unwrap();
    assert!(details.contains("colour"), "{details}");
    assert!(
        details.contains("line "),
        "the message points at the policy: {details}"
    );
    let (status, roles) = app.admin_api("/api/v1/roles").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(roles["custom"], json!([]), "{roles}");
    let (status, _) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/users",
            json!({"email": "dee@courier.test", "role": "dispatcher"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no such role yet");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'policy.role_refused' AND target = 'dispatcher'", &[]).await,
        1
    );
    // A role may only speak for itself.
    let meddling = DISPATCHER.replace("Role::\"dispatcher\"", "Role::\"agent\"");
    let (status, refused) = put_json(
        &app,
        API_TOKEN,
        "/api/v1/roles/dispatcher",
        json!({"policy": meddling}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused["details"].as_str().unwrap().contains("scoped"),
        "{refused}"
    );
    // Built-in roles are not replaced.
    let (status, _) = put_json(
        &app,
        API_TOKEN,
        "/api/v1/roles/agent",
        json!({"policy": DISPATCHER}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A valid dispatcher role.
    let (status, saved) = put_json(
        &app,
        API_TOKEN,
        "/api/v1/roles/dispatcher",
        json!({"policy": DISPATCHER}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (_, roles) = app.admin_api("/api/v1/roles").await;
    assert_eq!(roles["custom"][0]["name"], "dispatcher");
    let (status, made) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/users",
            json!({"email": "dee@courier.test", "role": "dispatcher", "team": "North"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let password = "dee sorts the vans before the sun comes up";
    set_password_via_link(&app, made["set_password_url"].as_str().unwrap(), password).await;
    let dee = Person {
        id: made["id"].as_str().unwrap().to_owned(),
        email: "dee@courier.test".to_owned(),
        password: password.to_owned(),
        totp: None,
    };
    let mut browser = Browser::new(&app);
    browser.sign_in(&dee).await;

    // Views the team's conversation; may not reply; may assign.
    let page = browser.page(&format!("/inbox/c/{}", world.north.id)).await;
    assert!(page.contains(&format!("data-conversation=\"{}\"", world.north.id)));
    assert!(!page.contains(NORTH_NAME), "names are masked");
    assert!(!page.contains("id=\"reply-body\""), "no reply box");
    let before = conversation_snapshot(&app, &world.north.id).await;
    let reply = browser
        .act_response(
            &format!("/inbox/c/{}/reply", world.north.id),
            &[("body", "dispatcher typing")],
        )
        .await;
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    let (status, _) = browser_api_post(
        &browser,
        &format!("/api/v1/conversations/{}/replies", world.north.id),
        json!({"type": "text", "body": "dispatcher typing"}),
        Some(&browser.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let resolve = browser
        .act_response(
            &format!("/inbox/c/{}/state", world.north.id),
            &[("state", "resolved")],
        )
        .await;
    assert_eq!(resolve.status(), StatusCode::FORBIDDEN);
    assert_eq!(conversation_snapshot(&app, &world.north.id).await, before);
    browser
        .act(
            &format!("/inbox/c/{}/assign", world.north.id),
            &[("to", "me")],
        )
        .await;
    assert_eq!(
        assignee_of(&app, &world.north.id).await.as_deref(),
        Some(dee.id.as_str())
    );
    // Not another team's.
    let south = browser.get(&format!("/inbox/c/{}", world.south.id)).await;
    assert_eq!(south.status(), StatusCode::NOT_FOUND);
    assert_no_secrets(&south.text().await.unwrap(), "dispatcher", &SOUTH_SECRETS);
    assert_no_secrets(
        &browser.page("/inbox").await,
        "dispatcher list",
        &SOUTH_SECRETS,
    );
    // Not the admin pages either.
    assert_eq!(
        browser.get("/admin/roles").await.status(),
        StatusCode::FORBIDDEN
    );

    // A refused change leaves the old policy in force.
    let (status, _) = put_json(
        &app,
        API_TOKEN,
        "/api/v1/roles/dispatcher",
        json!({"policy": nosy}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, roles) = app.admin_api("/api/v1/roles").await;
    assert_eq!(roles["custom"][0]["policy"], DISPATCHER);
    browser.page(&format!("/inbox/c/{}", world.north.id)).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'policy.role_saved' AND target = 'dispatcher'", &[]).await,
        1
    );
    app.stop().await;
}

/// "Supervisors assign anyone in their teams" (docs/api.md): handing a conversation to
/// someone who serves none of the teams of its inbox would show it to another team.
#[tokio::test]
async fn a_conversation_is_only_assigned_to_someone_serving_its_inbox() {
    let app = TestApp::spawn_with(always_new_inboxes).await;
    let world = two_teams(&app).await;
    let lead = app
        .add_person("sam@courier.test", "supervisor", Some("North"))
        .await;
    let north_agent = app
        .add_person("ana@courier.test", "agent", Some("North"))
        .await;
    let south_agent = app
        .add_person("ben@courier.test", "agent", Some("South"))
        .await;
    let auditor = app.add_person("audrey@courier.test", "auditor", None).await;
    let mut s = Browser::new(&app);
    s.sign_in(&lead).await;
    let mut b = Browser::new(&app);
    b.sign_in(&south_agent).await;
    let (_, north_token) = make_token(
        &app,
        "north board",
        "supervisor",
        &[&world.north_team],
        false,
    )
    .await;

    let assign = format!("/api/v1/conversations/{}/assign", world.north.id);
    for outsider in [&south_agent.id, &auditor.id] {
        let (status, body) =
            browser_api_post(&s, &assign, json!({"assignee": outsider}), Some(&s.csrf)).await;
        assert!(
            status.is_client_error(),
            "supervisor handed North to {outsider}: {status} {body}"
        );
        let (status, body) = app
            .api_post_as(&north_token, &assign, json!({"assignee": outsider}))
            .await;
        assert!(
            status.is_client_error(),
            "token handed North to {outsider}: {status} {body}"
        );
        assert_eq!(assignee_of(&app, &world.north.id).await, None);
    }
    let leak = b.get(&format!("/inbox/c/{}", world.north.id)).await;
    assert_eq!(leak.status(), StatusCode::NOT_FOUND);
    assert!(!b
        .page("/inbox?state=open&who=all")
        .await
        .contains(&format!("/inbox/c/{}", world.north.id)));
    // Within the team it works.
    let (status, body) = browser_api_post(
        &s,
        &assign,
        json!({"assignee": north_agent.id}),
        Some(&s.csrf),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        assignee_of(&app, &world.north.id).await.as_deref(),
        Some(north_agent.id.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_never_has_more_content_power_than_its_creator() {
    let app = TestApp::spawn_with(always_new_inboxes).await;
    let world = two_teams(&app).await;
    let create = |name: &str, role: &str, teams: Vec<&str>| json!({"name": name, "role": role, "teams": teams, "read_only": false});

    // The bootstrap admin manages people, but cannot mint a token that reads conversations.
    for role in ["supervisor", "agent"] {
        let (status, body) = app
            .api_post_as(
                API_TOKEN,
                "/api/v1/tokens",
                create("reader", role, vec![&world.north_team]),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{role}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("creator"),
            "{body}"
        );
    }
    // It can still make tokens without content power.
    let (status, _) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/tokens",
            create("compliance", "auditor", vec![]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A supervisor (the Operations token serves every inbox) makes tokens for their team,
    // never for a team they are not in, and never with admin powers.
    let operations = app
        .store
        .teams()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == support::OPERATIONS)
        .unwrap()
        .id;
    let (status, made) = app
        .api_post(
            "/api/v1/tokens",
            create("ops board", "agent", vec![&operations]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, _) = app
        .api_post(
            "/api/v1/tokens",
            create("north board", "agent", vec![&world.north_team]),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not the supervisor's team"
    );
    let (status, _) = app
        .api_post("/api/v1/tokens", create("takeover", "admin", vec![]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no admin powers");
    // The supervisor sees and revokes only the tokens they made.
    let (status, listed) = app.api("/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ops board"]);
    let (_, all) = app.admin_api("/api/v1/tokens").await;
    let compliance = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "compliance")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .api_post(&format!("/api/v1/tokens/{compliance}/revoke"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not theirs to revoke");
    let own = made["id"].as_str().unwrap();
    let (status, _) = app
        .api_post(&format!("/api/v1/tokens/{own}/revoke"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
