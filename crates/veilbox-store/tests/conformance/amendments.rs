//! A customer's edits and deletions, on both backends.

use super::{Fixture, Open};
use veilbox_store::ingest::InboxPolicy;

const PHONE: &str = "4915112345678";

fn envelope(message: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": "Jonas"}, "wa_id": PHONE}],
            "messages": [message]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

fn text(wamid: &str, from: &str, body: &str) -> Vec<u8> {
    envelope(serde_json::json!({
        "from": from, "id": wamid, "timestamp": "1780000000", "type": "text", "text": {"body": body}
    }))
}

fn edit(wamid: &str, original: &str, body: &str) -> Vec<u8> {
    envelope(serde_json::json!({
        "from": PHONE, "id": wamid, "timestamp": "1780000060", "type": "edit",
        "edit": {"original_message_id": original, "message": {"type": "text", "text": {"body": body}}}
    }))
}

fn revoke(wamid: &str, original: &str) -> Vec<u8> {
    envelope(serde_json::json!({
        "from": PHONE, "id": wamid, "timestamp": "1780000120", "type": "revoke",
        "revoke": {"original_message_id": original}
    }))
}

impl Fixture {
    async fn only_conversation(&self) -> String {
        let page = self.store.conversations(None, 10).await.expect("list");
        assert_eq!(page.items.len(), 1);
        page.items[0].id.clone()
    }

    async fn thread_of(&self, conversation: &str) -> Vec<veilbox_store::reads::MessageRecord> {
        self.store
            .thread(conversation, None, 100)
            .await
            .expect("thread")
            .expect("exists")
            .items
    }
}

pub(super) async fn an_edit_replaces_the_text_and_keeps_the_earlier_one(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&text("wamid.e1", PHONE, "Klingel: Meier, Hauptstr. 5"))
        .await;
    let report = f
        .post(&edit(
            "wamid.e2",
            "wamid.e1",
            "Klingel: Schulz, Hauptstr. 7",
        ))
        .await;
    assert_eq!(report.amendments, 1, "{report:?}");
    assert_eq!(report.messages_stored, 0, "no second bubble");
    // A redelivery, byte-identical or re-serialised, changes nothing.
    assert!(
        f.post(&edit(
            "wamid.e2",
            "wamid.e1",
            "Klingel: Schulz, Hauptstr. 7"
        ))
        .await
        .duplicate_body
    );
    let again = String::from_utf8(edit("wamid.e2", "wamid.e1", "Klingel: Schulz, Hauptstr. 7"))
        .expect("utf8")
        .replace("\"entry\"", " \"entry\"");
    let report = f.post(again.as_bytes()).await;
    assert_eq!((report.amendments, report.messages_duplicate), (0, 1));

    let conversation = f.only_conversation().await;
    let thread = f.thread_of(&conversation).await;
    assert_eq!(thread.len(), 1);
    let m = &thread[0];
    assert_eq!(m.content["body"], "Klingel: Schulz, Hauptstr. 7");
    assert_eq!(m.edited_at, Some(1_780_000_060_000));
    assert_eq!(m.previous_versions.len(), 1);
    assert_eq!(
        m.previous_versions[0].content["body"],
        "Klingel: Meier, Hauptstr. 5"
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM message_revisions WHERE previous_content LIKE 'vb1:%'")
            .await,
        1,
        "the earlier text is sealed at rest"
    );
}

pub(super) async fn a_revoke_hides_the_message_and_keeps_it_sealed(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&text("wamid.d1", PHONE, "mein PIN ist 4821")).await;
    f.post(&text("wamid.d2", PHONE, "danke")).await;
    let report = f.post(&revoke("wamid.d3", "wamid.d1")).await;
    assert_eq!(report.amendments, 1);
    let conversation = f.only_conversation().await;
    let thread = f.thread_of(&conversation).await;
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[0].content, serde_json::json!({"kind": "deleted"}));
    assert!(thread[0].deleted_at.is_some());
    assert!(thread[0].context.is_none() && thread[0].raw.is_none());
    assert_eq!(thread[1].content["body"], "danke", "the rest is untouched");
    let single = f
        .store
        .message(&conversation, &thread[0].id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(single.content["kind"], "deleted");
    // Kept sealed, not deleted: the audit and retention rules still reach it.
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE wa_message_id = 'wamid.d1' AND revoked_at IS NOT NULL")
            .await,
        1
    );
    // An edit after the deletion does not bring the text back.
    f.post(&edit("wamid.d4", "wamid.d1", "mein PIN ist 9999"))
        .await;
    let thread = f.thread_of(&conversation).await;
    assert_eq!(thread[0].content["kind"], "deleted");
    assert!(thread[0].previous_versions.is_empty());
}

pub(super) async fn amendments_of_messages_we_do_not_have_are_kept(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    // Unknown originals: nothing is lost, each is a message of its own.
    let report = f
        .post(&edit("wamid.x1", "wamid.unknown", "neue Adresse"))
        .await;
    assert_eq!((report.messages_stored, report.amendments), (1, 0));
    let report = f.post(&revoke("wamid.x2", "wamid.unknown2")).await;
    assert_eq!(report.messages_stored, 1);
    let conversation = f.only_conversation().await;
    let thread = f.thread_of(&conversation).await;
    assert_eq!(
        thread[0].content["body"], "neue Adresse",
        "shown as what it says now"
    );
    assert_eq!(thread[1].content["kind"], "revoke");

    // Another customer cannot change this customer's message.
    f.post(&text("wamid.x3", PHONE, "Tor 3")).await;
    let forged = String::from_utf8(revoke("wamid.x4", "wamid.x3"))
        .expect("utf8")
        .replace(PHONE, "4915199999999");
    let report = f.post(forged.as_bytes()).await;
    assert_eq!(report.amendments, 0);
    assert_eq!(
        f.count(
            "SELECT COUNT(*) FROM messages WHERE wa_message_id = 'wamid.x3' AND revoked_at IS NULL"
        )
        .await,
        1
    );
}

pub(super) async fn erasure_and_retention_take_earlier_versions_too(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    f.post(&text("wamid.r1", PHONE, "Flat 2, 9 Mill Road"))
        .await;
    f.post(&edit("wamid.r2", "wamid.r1", "Flat 3, 9 Mill Road"))
        .await;
    assert_eq!(f.count("SELECT COUNT(*) FROM message_revisions").await, 1);
    let conversation = f.only_conversation().await;
    let customer = f
        .store
        .conversation(&conversation)
        .await
        .expect("read")
        .expect("exists")
        .customer
        .id;
    f.store
        .erase_customer(&customer)
        .await
        .expect("erase")
        .expect("erased");
    assert_eq!(f.count("SELECT COUNT(*) FROM message_revisions").await, 0);
}
