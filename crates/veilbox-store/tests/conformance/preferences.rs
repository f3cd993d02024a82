//! A customer's marketing stop and resume (`user_preferences`), kept on their record on
//! both backends; a late report older than the one applied changes nothing.

use super::Open;
use veilbox_store::ingest::InboxPolicy;

const PHONE: &str = "5511987650077";

fn preference(value: &str, at: i64) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "user_preferences", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": PHONE}],
            "user_preferences": [{"wa_id": PHONE, "detail": "User requested to stop marketing messages",
                                  "category": "marketing_messages", "value": value, "timestamp": at}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

pub(super) async fn marketing_stops_and_resumes_are_kept_on_the_customer(open: Open) {
    let Some(f) = open(InboxPolicy::FirstOnly).await else {
        return;
    };
    const STOPPED: &str =
        "SELECT COUNT(*) FROM customers WHERE marketing_opt_out_at = 1780005000000";
    const RESUMED: &str = "SELECT COUNT(*) FROM customers WHERE marketing_opt_out_at IS NULL \
        AND marketing_preference_at = 1780006000000";
    let report = f.post(&preference("stop", 1_780_005_000)).await;
    assert_eq!(report.preferences_applied, 1);
    assert!(!report.quarantined);
    assert_eq!(
        f.count(STOPPED).await,
        1,
        "the stop is on the customer's record"
    );
    let customer: String = sqlx::query("SELECT id FROM customers")
        .fetch_one(f.store.pool())
        .await
        .map(|row| sqlx::Row::get(&row, "id"))
        .expect("the customer");
    let card = f
        .store
        .customer_card(&customer)
        .await
        .expect("card")
        .expect("a card");
    assert_eq!(card.marketing_opt_out_at, Some(1_780_005_000_000));
    // Redelivered: nothing more.
    assert_eq!(
        f.post(&preference("stop", 1_780_005_000))
            .await
            .preferences_applied,
        0
    );
    // Resumed later: the stop is lifted.
    assert_eq!(
        f.post(&preference("resume", 1_780_006_000))
            .await
            .preferences_applied,
        1
    );
    assert_eq!(f.count(RESUMED).await, 1);
    // A stop reported late, older than the resume: changes nothing.
    assert_eq!(
        f.post(&preference("stop", 1_780_005_500))
            .await
            .preferences_applied,
        0
    );
    assert_eq!(f.count(RESUMED).await, 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM customers").await, 1);
}
