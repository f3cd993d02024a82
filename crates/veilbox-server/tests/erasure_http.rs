//! Erasure from the admin's page: found by the full number only, refused without a reason
//! or confirmation, refused to every other role, audited with who and why but never what;
//! afterwards the conversation shows an erased customer and nothing of theirs.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use reqwest::StatusCode;
use sqlx::Row;
use support::browser::Browser;
use support::TestApp;

const PHONE: &str = "447700966301";
const NAME: &str = "Persephone Erasewell";
const TEXT: &str = "leave it at 12 Forgetme Row please";

fn webhook() -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": NAME}, "wa_id": PHONE}],
            "messages": [{"from": PHONE, "id": "wamid.ERASE1", "timestamp": support::browser::now_s().to_string(),
                          "type": "text", "text": {"body": TEXT}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

async fn customer_id(app: &TestApp) -> String {
    let index = app.store.keyring().expect("unlocked").wa_index(PHONE);
    sqlx::query("SELECT id FROM customers WHERE wa_id = $1")
        .bind(index)
        .fetch_one(app.store.pool())
        .await
        .expect("customer")
        .try_get("id")
        .expect("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_erases_a_customer_with_a_reason_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_signed(&webhook()).await.status(), 200);
    let customer = customer_id(&app).await;
    let conversation: String = sqlx::query("SELECT id FROM conversations WHERE customer_id = $1")
        .bind(&customer)
        .fetch_one(app.store.pool())
        .await
        .expect("conversation")
        .try_get("id")
        .expect("id");

    let admin = app.add_person("ada@courier.test", "admin", None).await;
    let supervisor = app
        .add_person("sam@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let agent = app
        .add_person("abe@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let auditor = app.add_person("aud@courier.test", "auditor", None).await;

    // Nobody but the admin reaches the page or its forms. (Each person signs in once: a
    // TOTP code is accepted once, so a second sign-in in the same 30 s would be refused.)
    let mut browsers = Vec::new();
    for person in [&supervisor, &agent, &auditor] {
        let mut b = Browser::new(&app);
        b.sign_in(person).await;
        assert_eq!(
            b.get("/admin/erasure").await.status(),
            StatusCode::FORBIDDEN
        );
        let tried = b
            .act_response(
                &format!("/admin/erasure/{customer}"),
                &[("reason", "I would like to erase"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(tried.status(), StatusCode::FORBIDDEN, "{}", person.email);
        browsers.push(b);
    }

    let mut adm = Browser::new(&app);
    adm.sign_in(&admin).await;
    assert!(
        adm.page("/admin/users").await.contains("/admin/erasure"),
        "in the admin's menu"
    );
    let page = adm.page("/admin/erasure").await;
    assert!(page.contains("cannot be undone"));
    // Found by the full number however it is written; partial numbers find nothing.
    let found = adm
        .act_response("/admin/erasure/find", &[("query", "+44 7700 966 301")])
        .await;
    assert_eq!(found.status(), StatusCode::OK);
    let html = found.text().await.unwrap();
    assert!(html.contains(&customer), "shows the customer id");
    assert!(
        !html.contains(NAME) && !html.contains(TEXT),
        "and nothing personal"
    );
    let partial = adm
        .act_response("/admin/erasure/find", &[("query", "7700 966")])
        .await;
    assert_eq!(partial.status(), StatusCode::NOT_FOUND);

    // No reason or no confirmation: nothing happens.
    for form in [
        vec![("reason", ""), ("confirm", "yes")],
        vec![("reason", "GDPR request 77"), ("confirm", "")],
        vec![("reason", "short"), ("confirm", "yes")],
    ] {
        adm.act(&format!("/admin/erasure/{customer}"), &form).await;
    }
    let erased_rows: i64 =
        sqlx::query("SELECT COUNT(*) FROM customers WHERE erased_at IS NOT NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
    assert_eq!(erased_rows, 0, "refused forms erase nothing");

    adm.act(
        &format!("/admin/erasure/{customer}"),
        &[("reason", "GDPR art. 17 request #991"), ("confirm", "yes")],
    )
    .await;
    let flash = adm.page("/admin/erasure").await;
    assert!(flash.contains("erased"), "{flash}");

    // The audit log says who, when and why; never what.
    let audit =
        sqlx::query("SELECT actor, target, reason FROM audit_log WHERE action = 'customer.erased'")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].try_get::<String, _>("actor").unwrap(), admin.id);
    assert_eq!(audit[0].try_get::<String, _>("target").unwrap(), customer);
    assert_eq!(
        audit[0].try_get::<String, _>("reason").unwrap(),
        "GDPR art. 17 request #991"
    );
    let whole_log: Vec<String> = sqlx::query("SELECT CAST(COALESCE(reason, '') AS TEXT) || CAST(COALESCE(target, '') AS TEXT) AS t FROM audit_log")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("t").unwrap())
        .collect();
    assert!(whole_log
        .iter()
        .all(|t| !t.contains(NAME) && !t.contains(PHONE) && !t.contains("Forgetme")));

    // A second erasure is refused and audited nowhere.
    adm.act(
        &format!("/admin/erasure/{customer}"),
        &[("reason", "GDPR art. 17 request #991"), ("confirm", "yes")],
    )
    .await;
    assert!(adm.page("/admin/erasure").await.contains("already erased"));

    // The supervisor sees an erased customer, and none of what they said.
    let sup = &browsers[0];
    let thread = sup.page(&format!("/inbox/c/{conversation}")).await;
    assert!(thread.contains("Erased customer"));
    for secret in [NAME, PHONE, TEXT, "Forgetme"] {
        assert!(!thread.contains(secret), "{secret} after erasure");
    }
    let (status, api) = app
        .api_as(
            support::SUPERVISOR_TOKEN,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api["items"][0]["content"]["kind"], "erased");
    app.stop().await;
}
