//! The CRM pages: a supervisor finds a customer by a full number or tracking number (never a
//! partial one), reads and edits their card, sees it beside the conversation with the
//! shipments; an agent sees the card only for a conversation assigned to them and has no
//! search; another team's supervisor gets a 404 like for a customer that does not exist.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use support::browser::Browser;
use support::{TestApp, API_TOKEN};

const PHONE: &str = "447700977001";
const ADDRESS: &str = "7 Lantern Yard, York YO1 7HH";

fn webhook(wamid: &str, text: &str) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": "Wren Holloway"}, "wa_id": PHONE}],
            "messages": [{"from": PHONE, "id": wamid, "timestamp": support::browser::now_s().to_string(),
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_find_and_edit_customers_and_see_their_shipments_beside_the_conversation() {
    let app = TestApp::spawn().await;
    // The shipment arrives by import (admin), the customer by WhatsApp: the same person.
    let (status, report) = app
        .api_post_as(
            API_TOKEN,
            "/api/v1/shipments/import",
            json!([{"tracking": "RR123456785GB", "status": "out_for_delivery",
                    "customer_phone": "+44 7700 977 001", "recipient_name": "Wren Holloway",
                    "address": ADDRESS, "instructions": "Blue door, ring twice"},
                   {"tracking": "EE123456785IN", "status": "in_transit",
                    "customer_phone": "+44 7700 977 999", "address": "9 Other Close, Hull HU1 1AA"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 2, "{report}");
    // The customer also quotes someone else's parcel.
    assert_eq!(
        app.post_signed(&webhook("wamid.CRM0", "and my neighbour's EE123456785IN"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_signed(&webhook("wamid.CRM1", "where is RR123456785GB?"))
            .await
            .status(),
        200
    );
    let customer: String = sqlx::query("SELECT id FROM customers WHERE wa_id = $1")
        .bind(app.store.keyring().unwrap().wa_index(PHONE))
        .fetch_one(app.store.pool())
        .await
        .expect("one customer for the import and the chat")
        .try_get("id")
        .unwrap();
    let conversation: String = sqlx::query("SELECT id FROM conversations WHERE customer_id = $1")
        .bind(&customer)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("id")
        .unwrap();

    let supervisor = app
        .add_person("sue@courier.test", "supervisor", Some(support::OPERATIONS))
        .await;
    let agent = app
        .add_person("art@courier.test", "agent", Some(support::OPERATIONS))
        .await;
    let outsider = app
        .add_person("oz@courier.test", "supervisor", Some("Returns"))
        .await;

    let mut sup = Browser::new(&app);
    sup.sign_in(&supervisor).await;
    assert!(
        sup.page("/inbox").await.contains("href=\"/customers\""),
        "in the menu"
    );
    let search = sup.page("/customers").await;
    assert!(search.contains("partial search over them is not offered"));

    // Found by the full number however written, and by the tracking number.
    for (by, value) in [
        ("phone", "+44 (0)7700 977001"),
        ("phone", "0044 7700 977 001"),
        ("tracking", "rr 1234 5678 5gb"),
    ] {
        let found = sup
            .act_response("/customers/search", &[("by", by), ("value", value)])
            .await;
        let html = found.text().await.unwrap();
        assert!(
            html.contains(&format!("/customers/{customer}")),
            "{by} {value}: {html}"
        );
    }
    // A partial number is refused, not searched.
    let partial = sup
        .act_response("/customers/search", &[("by", "phone"), ("value", "977001")])
        .await;
    assert_eq!(partial.status(), StatusCode::NOT_FOUND);
    assert!(partial
        .text()
        .await
        .unwrap()
        .contains("partial numbers are not searchable"));

    // The card, and the card beside the conversation.
    // Masked: what the courier needs (tracking, status, instructions) is shown; the
    // address, the name and all but four digits of the number are not.
    let card = sup.page(&format!("/customers/{customer}")).await;
    for shown in [
        "RR123456785GB",
        "[ADDRESS]",
        "[PERSON]",
        "Blue door, ring twice",
        "out for delivery",
        "•••• 7001",
    ] {
        assert!(card.contains(shown), "{shown} on the card");
    }
    for hidden in [ADDRESS, "Lantern", "Wren", "977001", "7700 977"] {
        assert!(!card.contains(hidden), "{hidden} on the card");
    }
    let thread = sup.page(&format!("/inbox/c/{conversation}")).await;
    assert!(thread.contains("aside class=\"customer-card\""));
    assert!(
        thread.contains("Mentioned in this conversation"),
        "linked by the tracking number in a message"
    );
    assert!(thread.contains("RR123456785GB") && thread.contains("[ADDRESS]"));
    assert!(!thread.contains("Lantern") && !thread.contains("Wren"));
    // Another customer's parcel is named as such, with none of its details.
    assert!(
        thread.contains("(EE123456785IN) is another customer"),
        "{thread}"
    );
    assert!(!thread.contains("Other Close"));

    // Edits: a note and labels, audited without their values.
    sup.act(
        &format!("/customers/{customer}/notes"),
        &[("body", "Prefers evening slots")],
    )
    .await;
    sup.act(
        &format!("/customers/{customer}/edit"),
        &[("display_name", "Wren H."), ("labels", "vip, fragile")],
    )
    .await;
    let card = sup.page(&format!("/customers/{customer}")).await;
    assert!(card.contains("Prefers evening slots") && card.contains("vip, fragile"));
    assert!(!card.contains("Wren H."), "the new name is masked too");
    let named: String = sqlx::query(
        "SELECT COUNT(*) AS n FROM customers WHERE id = $1 AND display_name IS NOT NULL",
    )
    .bind(&customer)
    .fetch_one(app.store.pool())
    .await
    .unwrap()
    .try_get::<i64, _>("n")
    .unwrap()
    .to_string();
    assert_eq!(named, "1", "the display name was saved");
    sup.act(
        &format!("/customers/{customer}/edit"),
        &[("labels", "Not A Label!")],
    )
    .await;
    assert!(sup
        .page(&format!("/customers/{customer}"))
        .await
        .contains("labels are 1 to 24 characters"));
    let audit: Vec<String> = sqlx::query(
        "SELECT action || ':' || COALESCE(reason, '') AS a FROM audit_log WHERE target = $1",
    )
    .bind(&customer)
    .fetch_all(app.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("a").unwrap())
    .collect();
    assert!(
        audit.iter().any(|a| a.starts_with("customer.note_added")),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .all(|a| !a.contains("evening") && !a.contains("Wren")),
        "{audit:?}"
    );

    // A contact added, then removed.
    sup.act(
        &format!("/customers/{customer}/contacts"),
        &[("kind", "email"), ("value", "Wren@Example.org")],
    )
    .await;
    let card = sup.page(&format!("/customers/{customer}")).await;
    assert!(card.contains("data-kind=\"EMAIL\""), "{card}");
    assert!(!card.to_lowercase().contains("wren@example.org"), "{card}");
    let contact_id: String = sqlx::query("SELECT id FROM customer_contacts WHERE customer_id = $1")
        .bind(&customer)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("id")
        .unwrap();
    sup.act(
        &format!("/customers/{customer}/contacts/{contact_id}/remove"),
        &[],
    )
    .await;
    assert!(!sup
        .page(&format!("/customers/{customer}"))
        .await
        .contains("wren@example.org"));

    // Another team's supervisor: no such customer, however asked.
    let mut oz = Browser::new(&app);
    oz.sign_in(&outsider).await;
    assert_eq!(
        oz.get(&format!("/customers/{customer}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let theirs = oz
        .act_response(
            "/customers/search",
            &[("by", "phone"), ("value", "+447700977001")],
        )
        .await;
    let html = theirs.text().await.unwrap();
    assert!(!html.contains(&customer) && !html.contains(ADDRESS));
    let poke = oz
        .act_response(&format!("/customers/{customer}/notes"), &[("body", "x")])
        .await;
    assert_eq!(poke.status(), StatusCode::NOT_FOUND);

    // The agent: no search; the card only once the conversation is theirs.
    let mut ag = Browser::new(&app);
    ag.sign_in(&agent).await;
    assert_eq!(ag.get("/customers").await.status(), StatusCode::FORBIDDEN);
    assert!(!ag.page("/inbox").await.contains("href=\"/customers\""));
    let queued = ag.page(&format!("/inbox/c/{conversation}")).await;
    assert!(
        !queued.contains("customer-card") && !queued.contains(ADDRESS),
        "not theirs yet"
    );
    ag.act(&format!("/inbox/c/{conversation}/assign"), &[("to", "me")])
        .await;
    let theirs = ag.page(&format!("/inbox/c/{conversation}")).await;
    assert!(theirs.contains("customer-card") && theirs.contains("RR123456785GB"));
    app.stop().await;
}
