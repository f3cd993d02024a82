//! Quick replies on both backends: add, list by team, edit, delete.
//!
//! PostgreSQL runs when `VEILBOX_TEST_POSTGRES_URL` is set, as in `conformance.rs`.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;

async fn quick_replies_are_kept_per_team(store: &Store) {
    let north = store.ensure_team("North").await.unwrap();
    let south = store.ensure_team("South").await.unwrap();
    let late = store
        .create_quick_reply(
            &north,
            "Running late",
            "Hi {{customer.name}}, your parcel arrives {{shipment.eta}}.",
            "sup-1",
        )
        .await
        .unwrap();
    let address = store
        .create_quick_reply(
            &north,
            "Address check",
            "Is it {{shipment.address}}?",
            "sup-1",
        )
        .await
        .unwrap();
    let theirs = store
        .create_quick_reply(&south, "Hello", "Hello from the south depot.", "sup-2")
        .await
        .unwrap();

    let read = store.quick_reply(&late.id).await.unwrap().unwrap();
    assert_eq!(read, late);
    assert_eq!(read.team_id, north);
    assert_eq!(read.created_by, "sup-1");

    let titles = |list: Vec<veilbox_store::quick_replies::QuickReply>| {
        list.into_iter().map(|q| q.title).collect::<Vec<_>>()
    };
    // By title, and only the asked teams'.
    assert_eq!(
        titles(
            store
                .quick_replies_of(std::slice::from_ref(&north))
                .await
                .unwrap()
        ),
        ["Address check", "Running late"]
    );
    assert_eq!(
        titles(
            store
                .quick_replies_of(&[south.clone(), north.clone(), north.clone()])
                .await
                .unwrap()
        ),
        ["Address check", "Hello", "Running late"]
    );
    assert!(store.quick_replies_of(&[]).await.unwrap().is_empty());
    assert_eq!(store.all_quick_replies().await.unwrap().len(), 3);

    assert!(store
        .update_quick_reply(&address.id, "Address", "Still {{shipment.address}}?")
        .await
        .unwrap());
    let changed = store.quick_reply(&address.id).await.unwrap().unwrap();
    assert_eq!(
        (changed.title.as_str(), changed.body.as_str()),
        ("Address", "Still {{shipment.address}}?")
    );
    assert!(changed.updated_at >= address.updated_at);
    assert!(!store.update_quick_reply("nope", "x", "y").await.unwrap());

    assert!(store.delete_quick_reply(&theirs.id).await.unwrap());
    assert!(!store.delete_quick_reply(&theirs.id).await.unwrap());
    assert!(store.quick_reply(&theirs.id).await.unwrap().is_none());
    assert!(store.quick_replies_of(&[south]).await.unwrap().is_empty());
}

#[tokio::test]
async fn quick_replies_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    quick_replies_are_kept_per_team(&store).await;
    store.close().await;
}

#[tokio::test]
async fn quick_replies_on_postgres() {
    let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
        return;
    };
    let scratch = ScratchDatabase::create(&server).await.unwrap();
    let store = Store::connect(&scratch.url).await.unwrap();
    store.migrate().await.unwrap();
    quick_replies_are_kept_per_team(&store).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
}
