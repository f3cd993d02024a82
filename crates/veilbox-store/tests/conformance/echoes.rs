//! Messages the business sent from the WhatsApp Business app (`smb_message_echoes`): kept
//! as outbound messages of the customer's conversation, on both backends.

use super::Open;
use veilbox_store::ingest::InboxPolicy;

const PHONE: &str = "5511987650042";

fn envelope(field: &str, key: &str, item: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": field, "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            key: [item]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

fn echo(wamid: &str, at: &str, body: &str) -> Vec<u8> {
    envelope(
        "smb_message_echoes",
        "message_echoes",
        serde_json::json!({"from": "15550123456", "to": PHONE, "id": wamid, "timestamp": at,
                           "type": "text", "text": {"body": body}}),
    )
}

fn customer(wamid: &str, at: &str, body: &str) -> Vec<u8> {
    envelope(
        "messages",
        "messages",
        serde_json::json!({"from": PHONE, "id": wamid, "timestamp": at, "type": "text",
                           "text": {"body": body}}),
    )
}

pub(super) async fn echoes_are_the_business_speaking_not_the_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    const PENDING: &str =
        "SELECT COUNT(*) FROM conversations WHERE state = 'pending' AND last_inbound_at IS NULL";
    // The shop writes first, from its phone: a conversation waiting on the customer.
    let report = f
        .post(&echo("wamid.E1", "1780000000", "Your parcel left today"))
        .await;
    assert_eq!(report.echoes_stored, 1);
    assert_eq!(report.messages_stored, 0, "not a customer message");
    assert_eq!(f.count(PENDING).await, 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND author IS NULL")
            .await,
        1
    );
    // Redelivered: nothing changes.
    let again = f
        .post(&echo("wamid.E1", "1780000000", "Your parcel left today"))
        .await;
    assert_eq!(again.echoes_stored, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM messages").await, 1);
    // The customer answers: the same conversation, open, their window opened.
    f.post(&customer("wamid.C1", "1780000100", "thanks! when?"))
        .await;
    assert_eq!(f.count("SELECT COUNT(*) FROM conversations").await, 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM conversations WHERE state = 'open' AND last_inbound_at = 1780000100000")
            .await,
        1
    );
    // Another echo: same conversation, still open, the customer's last message unchanged.
    f.post(&echo("wamid.E2", "1780000200", "Tomorrow before noon"))
        .await;
    assert_eq!(f.count("SELECT COUNT(*) FROM conversations").await, 1);
    assert_eq!(
        f.count(
            "SELECT COUNT(*) FROM conversations WHERE state = 'open' \
             AND last_inbound_at = 1780000100000 AND last_message_at = 1780000200000"
        )
        .await,
        1
    );
    // An edit made in the app changes the echo; a customer cannot edit the shop's message.
    let edit = envelope(
        "smb_message_echoes",
        "message_echoes",
        serde_json::json!({"from": "15550123456", "to": PHONE, "id": "wamid.E3", "timestamp": "1780000300",
            "type": "edit", "edit": {"original_message_id": "wamid.E2",
            "message": {"type": "text", "text": {"body": "Tomorrow after noon"}}}}),
    );
    assert_eq!(f.post(&edit).await.amendments, 1);
    let forged = envelope(
        "messages",
        "messages",
        serde_json::json!({"from": PHONE, "id": "wamid.C2", "timestamp": "1780000400",
            "type": "revoke", "revoke": {"original_message_id": "wamid.E2"}}),
    );
    assert_eq!(f.post(&forged).await.amendments, 0);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE wa_message_id = 'wamid.E2' AND edited_at IS NOT NULL AND revoked_at IS NULL")
            .await,
        1
    );
}

/// A body with platform errors sent again re-serialised (other bytes, same content) is a
/// second raw event, but its errors are recorded once.
pub(super) async fn a_reserialised_redelivery_records_its_errors_once(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "errors": [{"code": 131000, "title": "Something went wrong",
                        "message": "Something went wrong", "error_data": {"details": "try again"}}]
        }}]}]
    });
    let compact = serde_json::to_vec(&body).expect("json");
    let pretty = serde_json::to_vec_pretty(&body).expect("json");
    assert_eq!(f.post(&compact).await.platform_errors, 1);
    assert_eq!(f.post(&pretty).await.platform_errors, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM webhook_events").await, 2);
    assert_eq!(f.count("SELECT COUNT(*) FROM platform_errors").await, 1);
}
