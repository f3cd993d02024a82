//! The CRM's JSON API over real HTTP: search, cards, edits, notes, contacts, merges and
//! shipment import, with team isolation (another team's customer is a 404), roles (admins
//! import but do not read customers; read-only tokens do not write) and unauthenticated
//! calls.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{TestApp, API_TOKEN, SUPERVISOR_TOKEN};
use veilbox_core::credentials::secret_token;
use veilbox_store::ingest::InboxPolicy;

const NORTH_NUMBER: &str = "118440581239876";
const SOUTH_NUMBER: &str = "229551692340987";
const NORTH_WA: &str = "447700900101";
const SOUTH_WA: &str = "447700900987";

fn text_webhook(phone_number_id: &str, wa_id: &str, name: &str, wamid: &str) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "230811736742955", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": format!("1555{}", &phone_number_id[..7]), "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": "1760000000", "type": "text", "text": {"body": "hi"}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

async fn customer_of(app: &TestApp, number: &str, wa_id: &str, wamid: &str) -> String {
    let response = app
        .post_signed(&text_webhook(number, wa_id, "Someone", wamid))
        .await;
    assert_eq!(response.status(), 200);
    use sqlx::Row;
    sqlx::query("SELECT c.customer_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.wa_message_id = $1")
        .bind(wamid)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// A token with `role` for the team serving only the North inbox.
async fn north_token(app: &TestApp, role: &str, read_only: bool) -> String {
    use sqlx::Row;
    let inbox: String = sqlx::query("SELECT id FROM inboxes WHERE phone_number_id = $1")
        .bind(NORTH_NUMBER)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let team = app.store.ensure_team("North").await.unwrap();
    app.store.add_team_inbox(&team, &inbox).await.unwrap();
    let secret = secret_token::generate("vbt");
    app.store
        .create_api_token(&veilbox_store::tokens::NewApiToken {
            name: "north",
            digest: &secret_token::digest(&secret),
            role,
            teams: &[team],
            read_only,
            created_by: "tests",
        })
        .await
        .unwrap();
    secret
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn import_csv(app: &TestApp, token: &str, csv: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/shipments/import", app.base))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_crm_api_keeps_teams_apart() {
    let app = TestApp::spawn_with(|c| c.whatsapp.auto_inbox = InboxPolicy::Always).await;
    let north = customer_of(&app, NORTH_NUMBER, NORTH_WA, "wamid.crm.n1").await;
    let south = customer_of(&app, SOUTH_NUMBER, SOUTH_WA, "wamid.crm.s1").await;
    let supervisor = north_token(&app, "supervisor", false).await;
    let reader = north_token(&app, "supervisor", true).await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let patch = reqwest::Method::PATCH;

    // Import: admins only. JSON rows, then a CSV body with deliberate errors.
    let rows = json!([
        {"tracking": "RR123456785GB", "status": "in_transit", "customer_phone": "+44 7700 900101",
         "recipient_name": "Nora North", "address": "1 North Road", "cod_amount": 12.5, "cod_currency": "GBP"},
        {"tracking": "EE123456785IN", "status": "created", "customer_phone": "+447700900987"},
        {"tracking": "12345", "status": "created", "customer_phone": "+447700900987"},
        {"tracking": "1Z999AA10123456784", "status": "created", "customer_phone": "+447700900987", "colour": "red"}
    ]);
    let (status, _) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        "/api/v1/shipments/import",
        Some(rows.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, report) = send(
        &app,
        post.clone(),
        Some(API_TOKEN),
        "/api/v1/shipments/import",
        Some(rows.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["rejections"][0]["row"], 3);
    assert_eq!(report["rejections"][0]["column"], "tracking");
    assert_eq!(report["rejections"][1]["column"], "colour");
    // Idempotent: the same rows again change nothing.
    let (_, again) = send(
        &app,
        post.clone(),
        Some(API_TOKEN),
        "/api/v1/shipments/import",
        Some(rows),
    )
    .await;
    assert_eq!(again["unchanged"], 2, "{again}");
    let csv = "tracking,status,customer_phone,eta,cod_amount,cod_currency\n\
               RR123456785GB,out_for_delivery,+447700900101,2025-03-14T09:00:00Z,12.50,GBP\n\
               RR123456785GB,out_for_delivery,+447700900101,next tuesday,,\n\
               only,two\n";
    let (status, report) = import_csv(&app, API_TOKEN, csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["updated"].as_u64(),
            report["status_changes"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["rejections"][0]["row"], 3);
    assert_eq!(report["rejections"][0]["column"], "eta");
    assert_eq!(report["rejections"][1]["row"], 4);
    let (status, report) = import_csv(&app, API_TOKEN, "tracking,adress\nRR123456785GB,x\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{report}");
    let (status, _) = send(
        &app,
        post.clone(),
        Some(API_TOKEN),
        "/api/v1/shipments/import",
        Some(json!({"not": "an array"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Reading: the North supervisor sees North's customer, never South's.
    let (status, card) = send(
        &app,
        get.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    // Masked like every view: the number by its last four digits only.
    assert_eq!(
        card["wa_number"],
        format!("•••• {}", &NORTH_WA[NORTH_WA.len() - 4..])
    );
    assert_eq!(card["shipments"][0]["tracking"], "RR123456785GB");
    // A row is the whole shipment: the CSV row had no recipient, so it has none now.
    assert_eq!(card["shipments"][0]["recipient_name"], Value::Null);
    assert_eq!(card["shipments"][0]["cod"]["amount_minor"], 1250);
    assert_eq!(
        card["shipments"][0]["timeline"].as_array().unwrap().len(),
        2
    );
    for path in [
        format!("/api/v1/customers/{south}"),
        "/api/v1/customers/no-such-customer".to_owned(),
        "/api/v1/shipments/EE123456785IN".to_owned(),
    ] {
        let (status, body) = send(&app, get.clone(), Some(&supervisor), &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.to_string().contains(SOUTH_WA));
    }
    let (status, shipment) = send(
        &app,
        get.clone(),
        Some(&supervisor),
        "/api/v1/shipments/rr123456785gb",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shipment["status"], "out_for_delivery");
    let (status, _) = send(
        &app,
        get.clone(),
        Some(&supervisor),
        "/api/v1/shipments/123",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Search: exact only; other teams' customers are not found.
    let (status, found) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        "/api/v1/customers/search",
        Some(json!({"phone": "+44 7700 900101"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["items"][0]["id"], north.as_str());
    let (_, found) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        "/api/v1/customers/search",
        Some(json!({"phone": "00447700900987"})),
    )
    .await;
    assert_eq!(found["items"], json!([]));
    let (_, found) = send(
        &app,
        post.clone(),
        Some(SUPERVISOR_TOKEN),
        "/api/v1/customers/search",
        Some(json!({"tracking": "EE123456785IN"})),
    )
    .await;
    assert_eq!(found["items"][0]["id"], south.as_str());
    for partial in [
        json!({"phone": "900101"}),
        json!({"email": "nora@"}),
        json!({"tracking": "RR1234"}),
        json!({"phone": "1", "email": "a@b.com"}),
        json!({}),
    ] {
        let (status, body) = send(
            &app,
            post.clone(),
            Some(&supervisor),
            "/api/v1/customers/search",
            Some(partial.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{partial}: {body}");
    }

    // Editing: labels, notes, contacts; another team's customer is a 404.
    let (status, card) = send(
        &app,
        patch.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}"),
        Some(json!({"display_name": "Nora N.", "labels": ["vip"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["labels"], json!(["vip"]));
    let (status, _) = send(
        &app,
        patch.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}"),
        Some(json!({"labels": ["Not Valid!"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = send(
        &app,
        patch.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{south}"),
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        patch.clone(),
        Some(&reader),
        &format!("/api/v1/customers/{north}"),
        Some(json!({"labels": []})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "read-only tokens do not write"
    );
    let (status, _) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}/notes"),
        Some(json!({"body": "call after 6pm"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, contact) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}/contacts"),
        Some(json!({"kind": "email", "value": "Nora@Example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(contact["value"], "nora@example.com");
    let (status, conflict) = send(
        &app,
        post.clone(),
        Some(SUPERVISOR_TOKEN),
        &format!("/api/v1/customers/{south}/contacts"),
        Some(json!({"kind": "email", "value": "nora@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["customer_id"], north.as_str());
    // A conflict with a customer the caller may not see does not name them.
    let (status, _) = send(
        &app,
        post.clone(),
        Some(SUPERVISOR_TOKEN),
        &format!("/api/v1/customers/{south}/contacts"),
        Some(json!({"kind": "email", "value": "sam@south.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, hidden) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}/contacts"),
        Some(json!({"kind": "email", "value": "sam@south.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(hidden.get("customer_id").is_none(), "{hidden}");
    assert!(!hidden.to_string().contains(south.as_str()), "{hidden}");
    assert_eq!(hidden["error"], "that contact belongs to another customer");

    // Admins configure; they are not readers of customers.
    let (status, _) = send(
        &app,
        get.clone(),
        Some(API_TOKEN),
        &format!("/api/v1/customers/{north}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Merging needs both customers: North's supervisor cannot reach South's.
    let (status, _) = send(
        &app,
        post.clone(),
        Some(&supervisor),
        &format!("/api/v1/customers/{north}/merge"),
        Some(json!({"from": south})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, merged) = send(
        &app,
        post.clone(),
        Some(SUPERVISOR_TOKEN),
        &format!("/api/v1/customers/{north}/merge"),
        Some(json!({"from": south})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["conversations"], 1);
    let (_, card) = send(
        &app,
        get.clone(),
        Some(SUPERVISOR_TOKEN),
        &format!("/api/v1/customers/{north}"),
        None,
    )
    .await;
    assert_eq!(card["shipments"].as_array().unwrap().len(), 2);
    let (status, _) = send(
        &app,
        post.clone(),
        Some(SUPERVISOR_TOKEN),
        &format!("/api/v1/customers/{south}/notes"),
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a merged customer is changed through the kept one"
    );

    // Audited, without values.
    use sqlx::Row;
    let audit: Vec<String> =
        sqlx::query("SELECT action || ' ' || COALESCE(reason, '') FROM audit_log ORDER BY seq")
            .fetch_all(app.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
    let text = audit.join("\n");
    for action in [
        "shipments.imported",
        "customer.edited",
        "customer.note_added",
        "customer.contact_added",
        "customer.merged",
    ] {
        assert!(text.contains(action), "{action} in {text}");
    }
    for value in [
        "nora@example.com",
        "call after 6pm",
        "Nora N.",
        "RR123456785GB",
        NORTH_WA,
    ] {
        assert!(!text.contains(value), "the audit log holds {value}");
    }

    // Without credentials: 401.
    let (status, _) = send(
        &app,
        post.clone(),
        None,
        "/api/v1/customers/search",
        Some(json!({"phone": "+447700900101"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &app,
        post,
        None,
        "/api/v1/shipments/import",
        Some(json!([])),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
