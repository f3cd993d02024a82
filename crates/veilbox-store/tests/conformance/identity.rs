//! Identities that move, and deliveries that cannot be normalised: the same bodies on both
//! backends, read back from what was stored.

use super::{Fixture, Open};
use veilbox_store::ingest::InboxPolicy;

const PHONE: &str = "5511987650001";
const USER: &str = "BR.70012345678901234567";
const ROTATED: &str = "BR.70012345678909999999";

/// A text from a customer known by `phone`, `user_id` or both.
fn from(wamid: &str, phone: Option<&str>, user_id: Option<&str>) -> serde_json::Value {
    let mut message = serde_json::json!({
        "id": wamid, "timestamp": "1780000000", "type": "text", "text": {"body": "onde está meu pedido?"}
    });
    let mut contact = serde_json::json!({"profile": {"name": "Ana"}});
    if let Some(phone) = phone {
        message["from"] = phone.into();
        contact["wa_id"] = phone.into();
    }
    if let Some(user_id) = user_id {
        message["from_user_id"] = user_id.into();
        contact["user_id"] = user_id.into();
    }
    serde_json::json!({"contact": contact, "message": message})
}

/// One body carrying `parts` (each from [`from`]) in one change.
fn body(parts: &[serde_json::Value]) -> Vec<u8> {
    let contacts: Vec<_> = parts.iter().map(|p| p["contact"].clone()).collect();
    let messages: Vec<_> = parts.iter().map(|p| p["message"].clone()).collect();
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": contacts,
            "messages": messages
        }}]}]
    })
    .to_string()
    .into_bytes()
}

/// A rotation notice naming only the old user id (no `from`, no contacts).
fn rotation(wamid: &str, old: &str, new: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "messages": [{"id": wamid, "timestamp": "1780000100", "type": "system",
                          "system": {"type": "user_changed_user_id", "body": "User changed",
                                     "previous_user_id": old, "user_id": new}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

impl Fixture {
    /// Live customers (not merged, not erased) the phone or one of the user ids leads to.
    async fn live_customers_of(&self, phone: &str, user_ids: &[&str]) -> i64 {
        let ids = user_ids
            .iter()
            .map(|u| format!("'{u}'"))
            .collect::<Vec<_>>()
            .join(", ");
        self.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE merged_into IS NULL AND erased_at IS NULL \
             AND (wa_id = '{}' OR user_id IN ({ids}))",
            self.wa(phone)
        ))
        .await
    }

    /// Customers owning the conversations of these messages.
    async fn owners_of_messages(&self) -> i64 {
        self.count(
            "SELECT COUNT(DISTINCT c.customer_id) FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id",
        )
        .await
    }
}

/// Posts the bodies in order; every one must be stored (never an error, never quarantined).
async fn post_all(f: &Fixture, bodies: &[Vec<u8>]) -> u32 {
    let mut conflicts = 0;
    for body in bodies {
        let report = f.post(body).await;
        assert!(!report.quarantined, "stored, not quarantined: {report:?}");
        conflicts += report.identity_conflicts;
    }
    conflicts
}

pub(super) async fn phone_then_user_id_then_both_is_one_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let conflicts = post_all(
        &f,
        &[
            body(&[from("wamid.p1", Some(PHONE), None)]),
            body(&[from("wamid.p2", None, Some(USER))]),
            body(&[from("wamid.p3", Some(PHONE), Some(USER))]),
        ],
    )
    .await;
    assert_eq!(conflicts, 1, "the third body names both customers");
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 3);
    assert_eq!(f.live_customers_of(PHONE, &[USER]).await, 1);
    assert_eq!(
        f.owners_of_messages().await,
        1,
        "every message is the one customer's"
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM identity_conflicts WHERE state = 'merged'")
            .await,
        1
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'customer.merged_by_identity'")
            .await,
        1,
        "the automatic merge is audited"
    );
    // The next message by user id alone follows the merge.
    post_all(&f, &[body(&[from("wamid.p4", None, Some(USER))])]).await;
    assert_eq!(f.owners_of_messages().await, 1);
    let backlog = f.store.ingest_backlog().await.expect("backlog");
    assert_eq!(backlog.open_identity_conflicts, 0);
}

pub(super) async fn user_id_then_phone_then_both_is_one_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    post_all(
        &f,
        &[
            body(&[from("wamid.u1", None, Some(USER))]),
            body(&[from("wamid.u2", Some(PHONE), None)]),
            body(&[from("wamid.u3", Some(PHONE), Some(USER))]),
            body(&[from("wamid.u4", Some(PHONE), None)]),
        ],
    )
    .await;
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 4);
    assert_eq!(f.live_customers_of(PHONE, &[USER]).await, 1);
    assert_eq!(f.owners_of_messages().await, 1);
}

pub(super) async fn both_then_either_is_one_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let conflicts = post_all(
        &f,
        &[
            body(&[from("wamid.b1", Some(PHONE), Some(USER))]),
            body(&[from("wamid.b2", Some(PHONE), None)]),
            body(&[from("wamid.b3", None, Some(USER))]),
        ],
    )
    .await;
    assert_eq!(conflicts, 0, "nothing to reconcile");
    assert_eq!(f.live_customers_of(PHONE, &[USER]).await, 1);
    assert_eq!(f.owners_of_messages().await, 1);
}

pub(super) async fn three_identities_in_one_body_are_one_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let report = f
        .post(&body(&[
            from("wamid.o1", Some(PHONE), None),
            from("wamid.o2", None, Some(USER)),
            from("wamid.o3", Some(PHONE), Some(USER)),
        ]))
        .await;
    assert!(!report.quarantined);
    assert_eq!(report.messages_stored, 3, "{report:?}");
    assert_eq!(f.live_customers_of(PHONE, &[USER]).await, 1);
    assert_eq!(f.owners_of_messages().await, 1);
}

pub(super) async fn a_rotated_user_id_moves_the_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    // Known by user id; the notice names only the old id; then the new id writes.
    post_all(
        &f,
        &[
            body(&[from("wamid.r1", None, Some(USER))]),
            rotation("wamid.r2", USER, ROTATED),
            body(&[from("wamid.r3", None, Some(ROTATED))]),
        ],
    )
    .await;
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages").await,
        3,
        "the notice is kept too"
    );
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM customers WHERE user_id = '{ROTATED}' AND merged_into IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(f.owners_of_messages().await, 1);

    // The other order: the new id writes before the notice arrives. Two customers for a
    // moment, one after the notice.
    let Some(g) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let conflicts = post_all(
        &g,
        &[
            body(&[from("wamid.s1", None, Some(USER))]),
            body(&[from("wamid.s2", None, Some(ROTATED))]),
            rotation("wamid.s3", USER, ROTATED),
        ],
    )
    .await;
    assert_eq!(conflicts, 1);
    assert_eq!(g.owners_of_messages().await, 1);
}

/// Makes every insert of the message `wamid` fail inside the database, as a constraint or a
/// bug in normalisation would: a real failure of the real transaction, no hook in the code.
async fn inject_fault(f: &Fixture, wamid: &str) {
    let pool = f.store.pool();
    if f.pg_url.is_some() {
        sqlx::query(&format!(
            "CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.wa_message_id = '{wamid}' THEN RAISE EXCEPTION 'injected fault'; END IF; \
             RETURN NEW; END $$"
        ))
        .execute(pool)
        .await
        .expect("function");
        sqlx::query(
            "CREATE TRIGGER inject_fault BEFORE INSERT ON messages FOR EACH ROW \
             EXECUTE FUNCTION inject_fault()",
        )
        .execute(pool)
        .await
        .expect("trigger");
    } else {
        sqlx::query(&format!(
            "CREATE TRIGGER inject_fault BEFORE INSERT ON messages WHEN NEW.wa_message_id = '{wamid}' \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        ))
        .execute(pool)
        .await
        .expect("trigger");
    }
}

async fn remove_fault(f: &Fixture) {
    let sql = if f.pg_url.is_some() {
        "DROP TRIGGER inject_fault ON messages"
    } else {
        "DROP TRIGGER inject_fault"
    };
    sqlx::query(sql)
        .execute(f.store.pool())
        .await
        .expect("drop trigger");
}

pub(super) async fn a_body_that_cannot_be_normalised_is_kept_and_quarantined(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    inject_fault(&f, "wamid.poison").await;
    let poison = body(&[from("wamid.poison", Some(PHONE), None)]);
    let report = f.post(&poison).await;
    assert!(report.quarantined, "answered as stored: {report:?}");
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM webhook_events").await,
        1,
        "raw event kept"
    );
    let quarantined = f.store.quarantined_events(10).await.expect("list");
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].reason.contains("injected fault"),
        "the reason is kept for the admin: {}",
        quarantined[0].reason
    );
    // Sealed at rest: the reason may quote a value.
    assert_eq!(
        f.count("SELECT COUNT(*) FROM quarantined_events WHERE reason LIKE 'vb1:%'")
            .await,
        1
    );
    // A redelivery is a duplicate of what is stored, not a second quarantine.
    assert!(f.post(&poison).await.duplicate_body);

    // A poisoned body among good ones fails only itself.
    let f = std::sync::Arc::new(f);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let f = std::sync::Arc::clone(&f);
        tasks.push(tokio::spawn(async move {
            let wamid = if i == 5 {
                "wamid.poison".to_owned()
            } else {
                format!("wamid.good{i}")
            };
            let mut parts = vec![from(&wamid, Some(PHONE), None)];
            // Distinct bytes from the first poison body.
            parts[0]["message"]["text"]["body"] = format!("pedido {i}").into();
            f.post(&body(&parts)).await
        }));
    }
    let mut quarantined = 0;
    for t in tasks {
        quarantined += u32::from(t.await.expect("task").quarantined);
    }
    assert_eq!(quarantined, 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 11);
    assert_eq!(
        f.store
            .ingest_backlog()
            .await
            .expect("backlog")
            .quarantined_events,
        2
    );

    // Still failing: stays quarantined, with the attempt counted.
    let again = f
        .ingestor
        .reprocess_quarantined(100)
        .await
        .expect("reprocess");
    assert_eq!(
        (again.tried, again.normalised, again.still_quarantined),
        (2, 0, 2)
    );
    assert!(f
        .store
        .quarantined_events(10)
        .await
        .expect("list")
        .iter()
        .all(|q| q.attempts == 2));

    // Put right (an upgrade, a fixed constraint): re-running stores both.
    remove_fault(&f).await;
    let fixed = f
        .ingestor
        .reprocess_quarantined(100)
        .await
        .expect("reprocess");
    assert_eq!(
        (fixed.tried, fixed.normalised, fixed.still_quarantined),
        (2, 2, 0)
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE wa_message_id = 'wamid.poison'")
            .await,
        1,
        "the two bodies carry one message id: stored once"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 12);
    assert_eq!(f.count("SELECT COUNT(*) FROM quarantined_events").await, 0);
    let rerun = f
        .ingestor
        .reprocess_quarantined(100)
        .await
        .expect("reprocess");
    assert_eq!(rerun.tried, 0, "nothing left");
}

pub(super) async fn retention_keeps_quarantined_bodies(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    inject_fault(&f, "wamid.kept").await;
    assert!(
        f.post(&body(&[from("wamid.kept", Some(PHONE), None)]))
            .await
            .quarantined
    );
    assert!(
        !f.post(&body(&[from("wamid.other", Some(PHONE), None)]))
            .await
            .quarantined
    );
    let policy = veilbox_store::retention::RetentionPolicy {
        raw_events: Some(std::time::Duration::ZERO),
        ..veilbox_store::retention::RetentionPolicy::default()
    };
    let now = veilbox_store::now_ms() + 1000;
    f.store.purge(&policy, now, false).await.expect("purge");
    assert_eq!(
        f.count("SELECT COUNT(*) FROM webhook_events WHERE length(body) > 0")
            .await,
        1,
        "only the quarantined body is left"
    );
    remove_fault(&f).await;
    let fixed = f
        .ingestor
        .reprocess_quarantined(10)
        .await
        .expect("reprocess");
    assert_eq!(fixed.normalised, 1);
}
