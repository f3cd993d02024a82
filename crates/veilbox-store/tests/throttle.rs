//! Sign-in throttling in the store, on SQLite and (when configured) PostgreSQL: free
//! attempts, then one claim per delay, and old failures forgotten after a quiet hour.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::sessions::{ThrottleRule, QUIET_RESET_MS};
use veilbox_store::Store;

const RULE: ThrottleRule = ThrottleRule {
    free_failures: 3,
    max_delay_ms: 60_000,
};

async fn attempts_are_counted_claimed_and_forgotten(store: &Store) {
    for n in 1..=3 {
        assert!(
            store
                .throttle_attempt("account:a", RULE)
                .await
                .unwrap()
                .is_ok(),
            "free attempt {n}"
        );
    }
    // The fourth claims the key (and sets a delay); the fifth at once is refused.
    assert!(store
        .throttle_attempt("account:a", RULE)
        .await
        .unwrap()
        .is_ok());
    let refused = store.throttle_attempt("account:a", RULE).await.unwrap();
    assert!(refused.is_err(), "blocked during the delay");
    // Another key is not affected.
    assert!(store
        .throttle_attempt("account:b", RULE)
        .await
        .unwrap()
        .is_ok());

    // A quiet hour later (and the block over), counting starts again from one.
    sqlx::query("UPDATE sign_in_throttle SET updated_at = updated_at - $1, blocked_until = 0 WHERE key = 'account:a'")
        .bind(QUIET_RESET_MS + 1000)
        .execute(store.pool())
        .await
        .unwrap();
    for n in 1..=3 {
        assert!(
            store
                .throttle_attempt("account:a", RULE)
                .await
                .unwrap()
                .is_ok(),
            "free again {n}"
        );
    }
    // A success resets; a refund gives one attempt back.
    store.throttle_reset("account:a").await.unwrap();
    assert!(store
        .throttle_attempt("account:a", RULE)
        .await
        .unwrap()
        .is_ok());
    store.throttle_refund("account:a").await.unwrap();
    let row: i64 =
        sqlx::query_scalar("SELECT failures FROM sign_in_throttle WHERE key = 'account:a'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(row, 0);
}

#[tokio::test]
async fn throttling_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    attempts_are_counted_claimed_and_forgotten(&store).await;
}

#[tokio::test]
async fn throttling_on_postgres() {
    let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
        return;
    };
    let scratch = ScratchDatabase::create(&server).await.unwrap();
    let store = Store::connect(&scratch.url).await.unwrap();
    store.migrate().await.unwrap();
    attempts_are_counted_claimed_and_forgotten(&store).await;
    store.close().await;
    let _ = scratch.drop_database().await;
}
