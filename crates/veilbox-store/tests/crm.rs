//! The CRM on both backends: cards, edits, contact conflicts, merges, blind-index search,
//! shipment import (idempotency, timeline, rejections), sealing at rest and erasure.
//!
//! PostgreSQL runs when `VEILBOX_TEST_POSTGRES_URL` is set, as in `conformance.rs`.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::PathBuf;

use sqlx::Row;
use veilbox_store::crm::edit::CustomerEdit;
use veilbox_store::crm::import::{ImportOutcome, ShipmentRow};
use veilbox_store::crm::search::{SearchBy, SearchRefusal};
use veilbox_store::crm::{ContactKind, CrmRefusal, ShipmentStatus, TrackingNumber};
use veilbox_store::ingest::{Delivery, InboxPolicy, Ingestor};
use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;
use veilbox_vault::{MasterKey, Vault};
use veilbox_whatsapp::webhook;

struct Fixture {
    store: Store,
    ingestor: Ingestor,
    file: Option<PathBuf>,
    _keep: Keep,
}

enum Keep {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(Option<ScratchDatabase>),
}

impl Drop for Keep {
    fn drop(&mut self) {
        if let Keep::Postgres(scratch) = self {
            if let Some(scratch) = scratch.take() {
                let _ = std::thread::spawn(move || {
                    tokio::runtime::Runtime::new().map(|rt| rt.block_on(scratch.drop_database()))
                })
                .join();
            }
        }
    }
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut f = Self::open(&format!("sqlite://{}", path.display()), Keep::Sqlite(dir)).await;
        f.file = Some(path);
        f
    }

    async fn postgres() -> Option<Fixture> {
        let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
            return None;
        };
        let scratch = ScratchDatabase::create(&server)
            .await
            .expect("scratch database");
        let url = scratch.url.clone();
        Some(Self::open(&url, Keep::Postgres(Some(scratch))).await)
    }

    async fn open(url: &str, keep: Keep) -> Fixture {
        let store = Store::connect(url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let store = store
            .unlock(Vault::new(MasterKey::generate()))
            .await
            .expect("unlock");
        let (ingestor, _writer) = Ingestor::spawn(store.clone(), InboxPolicy::FirstOnly);
        Fixture {
            store,
            ingestor,
            file: None,
            _keep: keep,
        }
    }

    /// A text message from `wa_id`; returns the customer id it was stored under.
    async fn writes(&self, wa_id: &str, name: &str, wamid: &str, text: &str) -> String {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550123456", "phone_number_id": "118440581239876"},
                "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "id": wamid, "timestamp": "1760000000", "type": "text",
                              "text": {"body": text}}]
            }}]}]
        })
        .to_string()
        .into_bytes();
        let report = self
            .ingestor
            .ingest(Delivery {
                webhook: webhook::parse(&body).expect("parses"),
                body,
                received_at: veilbox_store::now_ms(),
            })
            .await
            .expect("ingest");
        assert_eq!(report.messages_stored, 1);
        self.string(
            "SELECT c.customer_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.wa_message_id = $1",
            wamid,
        )
        .await
    }

    async fn string(&self, sql: &str, bind: &str) -> String {
        sqlx::query(sql)
            .bind(bind)
            .fetch_one(self.store.pool())
            .await
            .expect("row")
            .try_get(0)
            .expect("column")
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.store.pool())
            .await
            .expect("count")
            .try_get(0)
            .expect("column")
    }

    async fn find(&self, by: SearchBy, value: &str) -> Vec<String> {
        self.store
            .find_customers(by, value)
            .await
            .expect("search")
            .expect("searchable")
    }

    /// Everything the store holds at rest (rows, and on SQLite the files).
    async fn everything_at_rest(&self) -> Vec<u8> {
        veilbox_store::canary::everything_at_rest(&self.store)
            .await
            .expect("read everything")
    }
}

use veilbox_store::canary::hits as find_any;

fn shipment(
    tracking: &str,
    status: ShipmentStatus,
    phone: Option<&str>,
    email: Option<&str>,
) -> ShipmentRow {
    ShipmentRow {
        tracking: TrackingNumber::parse(tracking).expect("tracking"),
        status,
        status_at: None,
        customer_phone: phone.map(|p| veilbox_vault::normalize::phone(p).expect("phone")),
        customer_email: email.map(str::to_owned),
        customer_name: None,
        sender_name: Some("Acme Shop".into()),
        recipient_name: None,
        recipient_phone: None,
        address: Some("1 Test Street".into()),
        instructions: None,
        slot_start: Some(1_741_942_800_000),
        slot_end: Some(1_741_950_000_000),
        eta: None,
        cod_amount_minor: Some(1250),
        cod_currency: Some("GBP".into()),
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(f) = super::Fixture::postgres().await {
                        super::$name(f).await;
                    }
                }
            )*
        }
    };
}

on_both!(
    cards_edits_and_contact_conflicts,
    merging_moves_everything_under_the_kept_key,
    search_is_exact_by_blind_index,
    import_is_idempotent_and_keeps_a_timeline,
    import_links_customers_by_phone_and_email,
    a_second_phone_in_the_same_import_becomes_a_contact,
    crm_data_is_sealed_at_rest,
    erasure_deletes_crm_rows,
    an_erasure_request_by_a_merged_number_reaches_the_survivor,
    closed_shipments_are_purged_after_their_period,
    a_reply_that_no_longer_opens_is_cancelled_not_blocking,
    addresses_are_found_by_blind_index,
    indexes_stored_in_hex_still_find_after_migrating,
);

/// The customers owning the address index of `text`.
async fn address_owners(f: &Fixture, text: &str) -> Vec<String> {
    let keyring = f.store.keyring().unwrap();
    let index = keyring
        .blind(veilbox_vault::IndexedField::Address, text)
        .expect("an address");
    let mut owners: Vec<String> = f
        .store
        .address_owners(std::slice::from_ref(&index))
        .await
        .unwrap()
        .remove(&index)
        .unwrap_or_default()
        .into_iter()
        .collect();
    owners.sort();
    owners
}

async fn addresses_are_found_by_blind_index(f: Fixture) {
    let s = &f.store;
    let a = f.writes("447700900801", "A", "wamid.ai1", "hello").await;
    let b = f.writes("447700900802", "B", "wamid.ai2", "hello").await;
    s.add_address(&a, Some("home"), "12 Elm Road, Leeds, LS1 4AB")
        .await
        .unwrap()
        .unwrap();
    let mut row = shipment(
        "EE123456785IN",
        ShipmentStatus::InTransit,
        Some("+447700900802"),
        None,
    );
    row.address = Some("9 Other Close, Hull HU1 1AA".into());
    row.recipient_phone = Some("+447700900555".into());
    s.import_shipments(std::slice::from_ref(&row))
        .await
        .unwrap();
    // A shipment's recipient's phone is found as that customer's too.
    assert_eq!(
        s.recipient_phone_owners("+44 7700 900555").await.unwrap(),
        [b.as_str()]
    );
    assert!(s
        .recipient_phone_owners("not a phone")
        .await
        .unwrap()
        .is_empty());

    // Whole, by its street line, and by its first two parts; in any spacing and case.
    assert_eq!(
        address_owners(&f, "12 elm road leeds ls1 4ab").await,
        [a.as_str()]
    );
    assert_eq!(address_owners(&f, "12 Elm Road").await, [a.as_str()]);
    assert_eq!(address_owners(&f, "12 Elm Road, Leeds").await, [a.as_str()]);
    assert_eq!(address_owners(&f, "9 OTHER CLOSE").await, [b.as_str()]);
    assert!(address_owners(&f, "10 Elm Road").await.is_empty());
    // Nothing readable is stored: only keyed hashes. (The probe holds a space, which the
    // base64url of a hash never does: a three-letter probe matched a random index now and
    // then, SQLite's LIKE being case-insensitive.)
    assert_eq!(
        f.count("SELECT COUNT(*) FROM address_indexes WHERE blind_index LIKE '%elm road%'")
            .await,
        0
    );

    // A changed delivery address replaces the shipment's indexes.
    row.address = Some("3 New Lane, Hull HU2 2BB".into());
    s.import_shipments(std::slice::from_ref(&row))
        .await
        .unwrap();
    assert!(address_owners(&f, "9 Other Close").await.is_empty());
    assert_eq!(address_owners(&f, "3 New Lane").await, [b.as_str()]);

    // Addresses from before the index: found once the customer is indexed, lazily, once.
    sqlx::query("DELETE FROM address_indexes WHERE customer_id = $1")
        .bind(&a)
        .execute(s.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE customers SET addresses_indexed_at = NULL WHERE id = $1")
        .bind(&a)
        .execute(s.pool())
        .await
        .unwrap();
    assert!(address_owners(&f, "12 Elm Road").await.is_empty());
    s.index_customer_addresses(&a).await.unwrap();
    assert_eq!(address_owners(&f, "12 Elm Road").await, [a.as_str()]);
    let indexed = f
        .count("SELECT COUNT(*) FROM customers WHERE addresses_indexed_at IS NOT NULL")
        .await;
    s.index_customer_addresses(&a).await.unwrap();
    assert_eq!(
        f.count("SELECT COUNT(*) FROM customers WHERE addresses_indexed_at IS NOT NULL")
            .await,
        indexed
    );

    // A merge moves the indexes and the timelines; an erasure drops them.
    let timeline_of = |customer: &str| {
        format!("SELECT COUNT(*) FROM shipment_events WHERE customer_id = '{customer}'")
    };
    assert!(f.count(&timeline_of(&b)).await > 0);
    s.merge_customers(&a, &b).await.unwrap().unwrap();
    assert_eq!(address_owners(&f, "3 New Lane").await, [a.as_str()]);
    assert_eq!(f.count(&timeline_of(&b)).await, 0, "the timeline moved");
    assert!(f.count(&timeline_of(&a)).await > 0);
    s.erase_customer(&a).await.unwrap().unwrap();
    assert!(address_owners(&f, "12 Elm Road").await.is_empty());
    assert_eq!(f.count("SELECT COUNT(*) FROM address_indexes").await, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM shipment_events").await, 0);
}

async fn an_erasure_request_by_a_merged_number_reaches_the_survivor(f: Fixture) {
    let keep = f.writes("447700900311", "Ines", "wamid.m1", "hello").await;
    let from = f
        .writes("447700900322", "Ines (work)", "wamid.m2", "from work")
        .await;
    let s = &f.store;
    s.merge_customers(&keep, &from).await.unwrap().unwrap();
    for asked in ["+44 7700 900322", "+447700900311", from.as_str()] {
        let subject = s.erasure_subject(asked).await.unwrap().expect("found");
        assert_eq!(
            subject.id, keep,
            "{asked} leads to the customer holding the data"
        );
        assert_eq!(subject.conversations, 2);
    }
    assert_eq!(
        s.erase_customer(&from).await.unwrap(),
        Err(veilbox_store::erasure::ErasureRefusal::MergedInto(
            keep.clone()
        )),
        "the alias itself is not what to erase"
    );
    s.erase_customer(&keep).await.unwrap().unwrap();
    assert!(s
        .erasure_subject("+44 7700 900322")
        .await
        .unwrap()
        .is_none());
}

async fn closed_shipments_are_purged_after_their_period(f: Fixture) {
    use veilbox_store::retention::RetentionPolicy;
    let s = &f.store;
    let now = veilbox_store::now_ms();
    let day = 86_400_000_i64;
    let mut delivered = shipment(
        "RR123456785GB",
        ShipmentStatus::Delivered,
        Some("+447700900411"),
        None,
    );
    delivered.status_at = Some(now - 400 * day);
    let open = shipment(
        "EE123456785IN",
        ShipmentStatus::InTransit,
        Some("+447700900411"),
        None,
    );
    s.import_shipments(&[delivered, open]).await.unwrap();
    let policy = RetentionPolicy::default();
    let dry = s.purge(&policy, now, true).await.unwrap();
    assert_eq!(dry.closed_shipments, 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM shipments").await,
        2,
        "a dry run changes nothing"
    );
    let done = s.purge(&policy, now, false).await.unwrap();
    assert_eq!(done.closed_shipments, 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM shipments").await,
        1,
        "the open one stays"
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM shipment_events WHERE shipment_id NOT IN (SELECT id FROM shipments)").await,
        0,
        "no timeline left behind"
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM address_indexes WHERE source_id NOT IN (SELECT id FROM shipments)").await,
        0,
        "the purged parcel's address no longer counts as anyone's"
    );
    assert!(
        f.count("SELECT COUNT(*) FROM address_indexes").await > 0,
        "the open parcel's address is still indexed"
    );
}

async fn a_reply_that_no_longer_opens_is_cancelled_not_blocking(f: Fixture) {
    let gone = f.writes("447700900511", "Gone", "wamid.r1", "hello").await;
    let stays = f.writes("447700900522", "Stays", "wamid.r2", "hello").await;
    let s = &f.store;
    let list = s.conversations(None, 10).await.unwrap().items;
    let reply = |customer: &str| {
        let c = list
            .iter()
            .find(|c| c.customer.id == customer)
            .expect("conversation");
        c.id.clone()
    };
    let payload = veilbox_store::outbox::ReplyPayload::Text {
        body: "on its way".into(),
        preview_url: false,
        reply_to: None,
    };
    for customer in [&gone, &stays] {
        s.queue_reply(&reply(customer), "agent-1", &payload)
            .await
            .unwrap()
            .unwrap();
    }
    // The key vanishes under a queued reply (what a lost race with an erasure leaves).
    sqlx::query("DELETE FROM data_keys WHERE owner = $1")
        .bind(format!("customer:{gone}"))
        .execute(s.pool())
        .await
        .unwrap();
    s.keyring().unwrap().forget(&gone);
    let due = s
        .due_sends(i64::MAX, 10)
        .await
        .expect("the other customer's reply still goes");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].conversation_id, reply(&stays));
    assert_eq!(
        f.count("SELECT COUNT(*) FROM outbox WHERE state = 'cancelled'")
            .await,
        1,
        "the unreadable one is cancelled"
    );
}

async fn cards_edits_and_contact_conflicts(f: Fixture) {
    let ana = f.writes("447700900101", "Ana", "wamid.a1", "hi").await;
    let bob = f.writes("447700900202", "Bob", "wamid.b1", "hello").await;
    let s = &f.store;
    s.edit_customer(
        &ana,
        &CustomerEdit {
            display_name: Some(Some("Ana Lima".into())),
            labels: Some(vec!["VIP".into(), "fragile".into()]),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let refused = s
        .edit_customer(
            &ana,
            &CustomerEdit {
                display_name: None,
                labels: Some(vec!["not ok".into()]),
            },
        )
        .await
        .unwrap();
    assert!(matches!(refused, Err(CrmRefusal::Invalid(_))));
    let email = s
        .add_contact(&ana, ContactKind::Email, " Ana@Example.COM ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email.value, "ana@example.com");
    s.add_contact(&ana, ContactKind::Phone, "+44 7700 900303")
        .await
        .unwrap()
        .unwrap();
    // Adding one she has already changes nothing; her WhatsApp number is hers too.
    s.add_contact(&ana, ContactKind::Email, "ana@example.com")
        .await
        .unwrap()
        .unwrap();
    s.add_contact(&ana, ContactKind::Phone, "00447700900101")
        .await
        .unwrap()
        .unwrap();
    // Bob's number, or Ana's e-mail, cannot become someone else's: the owner is named.
    assert_eq!(
        s.add_contact(&ana, ContactKind::Phone, "+447700900202")
            .await
            .unwrap(),
        Err(CrmRefusal::ContactTaken(bob.clone()))
    );
    assert_eq!(
        s.add_contact(&bob, ContactKind::Email, "ANA@example.com")
            .await
            .unwrap(),
        Err(CrmRefusal::ContactTaken(ana.clone()))
    );
    assert!(matches!(
        s.add_contact(&bob, ContactKind::Phone, "07700 900999")
            .await
            .unwrap(),
        Err(CrmRefusal::NotNormalised(_))
    ));
    s.add_address(&ana, Some("home"), "12 Mill Lane, Leeds")
        .await
        .unwrap()
        .unwrap();
    s.add_note(&ana, "user-1", "prefers evening delivery")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        s.add_note(&ana, "user-1", "   ").await.unwrap(),
        Err(CrmRefusal::Invalid(_))
    ));
    assert_eq!(
        s.add_note("no-such", "user-1", "x").await.unwrap(),
        Err(CrmRefusal::NoSuchCustomer)
    );

    let card = s.customer_card(&ana).await.unwrap().expect("card");
    assert_eq!(card.display_name.as_deref(), Some("Ana Lima"));
    assert_eq!(card.profile_name.as_deref(), Some("Ana"));
    assert_eq!(card.wa_number.as_deref(), Some("447700900101"));
    assert_eq!(card.labels, ["vip", "fragile"]);
    let contacts: Vec<&str> = card.contacts.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(contacts, ["ana@example.com", "+447700900303"]);
    assert_eq!(card.addresses[0].value, "12 Mill Lane, Leeds");
    assert_eq!(card.addresses[0].label.as_deref(), Some("home"));
    assert_eq!(card.notes[0].body, "prefers evening delivery");
    assert_eq!(card.notes[0].author, "user-1");
    let phone_contact = card.contacts[1].id.clone();
    s.remove_contact(&ana, &phone_contact)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.remove_contact(&ana, &phone_contact).await.unwrap(),
        Err(CrmRefusal::NoSuchContact)
    );
    assert!(s.customer_card("no-such").await.unwrap().is_none());
    // Clearing the display name.
    s.edit_customer(
        &ana,
        &CustomerEdit {
            display_name: Some(None),
            labels: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        s.customer_card(&ana).await.unwrap().unwrap().display_name,
        None
    );
}

async fn merging_moves_everything_under_the_kept_key(f: Fixture) {
    let keep = f
        .writes("447700900111", "Maria", "wamid.k1", "where is my parcel")
        .await;
    let from = f
        .writes(
            "447700900222",
            "Maria (work)",
            "wamid.f1",
            "my work number: parcel RR123456785GB",
        )
        .await;
    let s = &f.store;
    s.add_note(&from, "user-1", "works nights")
        .await
        .unwrap()
        .unwrap();
    s.add_contact(&from, ContactKind::Email, "maria@work.example")
        .await
        .unwrap()
        .unwrap();
    s.edit_customer(
        &from,
        &CustomerEdit {
            display_name: None,
            labels: Some(vec!["vip".into()]),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let outcomes = s
        .import_shipments(&[shipment(
            "RR123456785GB",
            ShipmentStatus::InTransit,
            Some("+447700900222"),
            None,
        )])
        .await
        .unwrap();
    assert_eq!(outcomes, [ImportOutcome::Created]);
    let from_conversation = f
        .string(
            "SELECT conversation_id FROM messages WHERE wa_message_id = $1",
            "wamid.f1",
        )
        .await;

    assert_eq!(
        s.merge_customers(&keep, &keep).await.unwrap(),
        Err(CrmRefusal::SameCustomer)
    );
    let report = s.merge_customers(&keep, &from).await.unwrap().unwrap();
    assert_eq!(report.messages, 1);
    assert_eq!(report.conversations, 1);
    assert_eq!(
        report.conversations_resolved, 1,
        "both had an open conversation in the inbox"
    );
    assert_eq!(report.crm_rows, 3, "note, e-mail and shipment");

    // B's key is gone; B's message opens under A now.
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM data_keys WHERE owner = 'customer:{from}'"
        ))
        .await,
        0
    );
    let thread = s
        .thread(&from_conversation, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        thread.items[0].content["body"],
        "my work number: parcel RR123456785GB"
    );
    let card = s.customer_card(&keep).await.unwrap().unwrap();
    assert_eq!(card.notes[0].body, "works nights");
    assert_eq!(card.labels, ["vip"]);
    assert_eq!(card.display_name.as_deref(), Some("Maria (work)"));
    let contacts: Vec<&str> = card.contacts.iter().map(|c| c.value.as_str()).collect();
    assert!(
        contacts.contains(&"maria@work.example") && contacts.contains(&"+447700900222"),
        "{contacts:?}"
    );
    assert_eq!(card.shipments.len(), 1);
    assert_eq!(card.shipments[0].tracking, "RR123456785GB");
    assert_eq!(card.shipments[0].address.as_deref(), Some("1 Test Street"));
    let merged = s.customer_card(&from).await.unwrap().unwrap();
    assert_eq!(merged.merged_into.as_deref(), Some(keep.as_str()));
    assert_eq!(merged.profile_name, None);
    // Every way of finding B finds A; B cannot be changed any more.
    assert_eq!(
        f.find(SearchBy::Phone, "+44 7700 900222").await,
        vec![keep.clone()]
    );
    assert_eq!(
        f.find(SearchBy::Email, "maria@work.example").await,
        vec![keep.clone()]
    );
    assert_eq!(
        f.find(SearchBy::Tracking, "RR123456785GB").await,
        vec![keep.clone()]
    );
    assert_eq!(
        s.add_note(&from, "user-1", "x").await.unwrap(),
        Err(CrmRefusal::Merged(keep.clone()))
    );
    assert_eq!(s.customer_reach(&from).await.unwrap().unwrap().id, keep);
    // One open conversation per (inbox, customer) still holds.
    assert_eq!(
        f.count(&format!("SELECT COUNT(*) FROM conversations WHERE customer_id = '{keep}' AND state <> 'resolved'")).await,
        1
    );
    // A new WhatsApp message from B's number lands on A (ingest follows the merge) and
    // opens with A's key; B gets no new key.
    let landed = f
        .writes(
            "447700900222",
            "Maria (work)",
            "wamid.f2",
            "me again from work",
        )
        .await;
    assert_eq!(landed, keep, "ingest follows merged_into");
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM data_keys WHERE owner = 'customer:{from}'"
        ))
        .await,
        0
    );
    let open = s.conversations(None, 10).await.unwrap().items;
    let thread = open
        .iter()
        .find(|c| c.customer.id == keep && c.state != "resolved")
        .expect("A's open conversation");
    let messages = s.thread(&thread.id, None, 50).await.unwrap().unwrap().items;
    assert!(messages
        .iter()
        .any(|m| m.content["body"] == "me again from work"));
    // An import naming B's number lands on A.
    let outcomes = s
        .import_shipments(&[shipment(
            "1Z999AA10123456784",
            ShipmentStatus::Created,
            Some("+447700900222"),
            None,
        )])
        .await
        .unwrap();
    assert_eq!(outcomes, [ImportOutcome::Created]);
    assert_eq!(
        s.customer_card(&keep)
            .await
            .unwrap()
            .unwrap()
            .shipments
            .len(),
        2
    );
}

async fn search_is_exact_by_blind_index(f: Fixture) {
    let ana = f.writes("447700900461", "Ana", "wamid.s1", "hi").await;
    let s = &f.store;
    s.add_contact(&ana, ContactKind::Email, "ana@example.com")
        .await
        .unwrap()
        .unwrap();
    s.import_shipments(&[shipment(
        "EE123456785IN",
        ShipmentStatus::Created,
        Some("+447700900461"),
        None,
    )])
    .await
    .unwrap();
    for spelling in [
        "+44 7700 900461",
        "00447700900461",
        "447700900461",
        "+44 (0)7700-900-461",
    ] {
        assert_eq!(
            f.find(SearchBy::Phone, spelling).await,
            vec![ana.clone()],
            "{spelling}"
        );
    }
    assert_eq!(
        f.find(SearchBy::Email, "ANA@Example.com").await,
        vec![ana.clone()]
    );
    assert_eq!(
        f.find(SearchBy::Tracking, "ee 123 456 785 in").await,
        vec![ana.clone()]
    );
    // Full values that belong to no one find nothing.
    assert!(f.find(SearchBy::Phone, "+447700900462").await.is_empty());
    assert!(f.find(SearchBy::Email, "ana@example.org").await.is_empty());
    assert!(f.find(SearchBy::Tracking, "RR123456785GB").await.is_empty());
    // Partial input is refused, not matched.
    for (by, partial, refusal) in [
        (SearchBy::Phone, "900461", SearchRefusal::Phone),
        (SearchBy::Phone, "07700 900461", SearchRefusal::Phone),
        (SearchBy::Email, "ana@", SearchRefusal::Email),
        (SearchBy::Email, "example.com", SearchRefusal::Email),
        // (nine digits or more would be a courier reference of its own, looked up
        // exactly like any full number)
        (SearchBy::Tracking, "1234567", SearchRefusal::Tracking),
        (SearchBy::Tracking, "EE1234", SearchRefusal::Tracking),
    ] {
        assert_eq!(
            s.find_customers(by, partial).await.unwrap(),
            Err(refusal),
            "{partial}"
        );
    }
    // A digit-suffix of the number is a different (unknown) full number, never a match.
    assert!(f.find(SearchBy::Phone, "7700900461").await.is_empty());
}

async fn import_is_idempotent_and_keeps_a_timeline(f: Fixture) {
    let s = &f.store;
    let mut rows = vec![
        shipment(
            "RR123456785GB",
            ShipmentStatus::Created,
            Some("+447700900501"),
            None,
        ),
        shipment(
            "1Z999AA10123456784",
            ShipmentStatus::InTransit,
            None,
            Some("b@example.com"),
        ),
    ];
    rows[0].status_at = Some(1_000);
    assert_eq!(
        s.import_shipments(&rows).await.unwrap(),
        [ImportOutcome::Created, ImportOutcome::Created]
    );
    let at_rest = f.count("SELECT COUNT(*) FROM shipments").await;
    let sealed_before = f
        .string("SELECT tracking FROM shipments WHERE format = $1", "s10")
        .await;
    // The same rows again: nothing changes, not even the ciphertexts.
    assert_eq!(
        s.import_shipments(&rows).await.unwrap(),
        [ImportOutcome::Unchanged, ImportOutcome::Unchanged]
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM shipments").await, at_rest);
    assert_eq!(f.count("SELECT COUNT(*) FROM shipment_events").await, 2);
    assert_eq!(f.count("SELECT COUNT(*) FROM customers").await, 2);
    assert_eq!(
        f.string("SELECT tracking FROM shipments WHERE format = $1", "s10")
            .await,
        sealed_before
    );

    // A new status appends to the timeline; another field changes without an event.
    rows[0].status = ShipmentStatus::OutForDelivery;
    rows[0].status_at = Some(2_000);
    rows[1].instructions = Some("ring twice".into());
    assert_eq!(
        s.import_shipments(&rows).await.unwrap(),
        [
            ImportOutcome::Updated {
                status_changed: true
            },
            ImportOutcome::Updated {
                status_changed: false
            }
        ]
    );
    // The same tracking number twice in one batch: rows apply in order, the last wins.
    let mut delivered = rows[0].clone();
    delivered.status = ShipmentStatus::Delivered;
    delivered.status_at = Some(3_000);
    delivered.instructions = Some("left with neighbour".into());
    let mut back = rows[0].clone();
    back.status_at = Some(2_000);
    let mut newer = rows[0].clone();
    newer.status = ShipmentStatus::AtDepot;
    newer.status_at = Some(2_500);
    let outcomes = s
        .import_shipments(&[newer, delivered.clone(), back.clone(), delivered.clone()])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ImportOutcome::Updated {
                status_changed: true
            },
            ImportOutcome::Updated {
                status_changed: true
            },
            // Older than the stored status: a stale snapshot changes nothing.
            ImportOutcome::Unchanged,
            ImportOutcome::Unchanged,
        ]
    );
    let stored = s
        .shipment_by_tracking(&TrackingNumber::parse("rr 123456785 gb").unwrap())
        .await
        .unwrap()
        .expect("shipment");
    assert_eq!(stored.status, "delivered");
    assert_eq!(stored.instructions.as_deref(), Some("left with neighbour"));
    assert_eq!(stored.closed_at, Some(3_000));
    assert_eq!(stored.cod_amount_minor, Some(1250));
    let timeline: Vec<(&str, i64)> = stored
        .timeline
        .iter()
        .map(|e| (e.status.as_str(), e.at))
        .collect();
    assert_eq!(
        timeline,
        [
            ("created", 1_000),
            ("out_for_delivery", 2_000),
            ("at_depot", 2_500),
            ("delivered", 3_000)
        ]
    );

    // Store-level rejections: an e-mail that belongs to someone else than the phone.
    let conflict = shipment(
        "EE123456785IN",
        ShipmentStatus::Created,
        Some("+447700900501"),
        Some("b@example.com"),
    );
    assert_eq!(
        s.import_shipments(&[conflict]).await.unwrap(),
        [ImportOutcome::Rejected {
            column: "customer_email",
            reason: "belongs to a different customer than customer_phone"
        }]
    );
    let mut nobody = shipment("EE123456785IN", ShipmentStatus::Created, None, None);
    nobody.customer_phone = None;
    assert!(matches!(
        s.import_shipments(&[nobody]).await.unwrap()[0],
        ImportOutcome::Rejected {
            column: "customer_phone",
            ..
        }
    ));
    // Linking messages: shipments by the blind index of a mentioned tracking number.
    let index = s
        .keyring()
        .unwrap()
        .blind(veilbox_vault::IndexedField::Tracking, "1Z999AA10123456784")
        .unwrap();
    let linked = s
        .shipments_by_tracking_index(&[index, "unknown".into()])
        .await
        .unwrap();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].instructions.as_deref(), Some("ring twice"));
}

async fn import_links_customers_by_phone_and_email(f: Fixture) {
    let s = &f.store;
    let mut first = shipment(
        "RR123456785GB",
        ShipmentStatus::Created,
        Some("+44 7700 900601"),
        None,
    );
    first.customer_name = Some("Imported Name".into());
    let mut second = shipment(
        "EE123456785IN",
        ShipmentStatus::Created,
        Some("+447700900601"),
        Some("c@example.com"),
    );
    second.customer_name = Some("Other Spelling".into());
    let by_email = shipment(
        "1Z999AA10123456784",
        ShipmentStatus::Created,
        None,
        Some("C@example.com"),
    );
    let outcomes = s
        .import_shipments(&[first, second, by_email])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ImportOutcome::Created,
            ImportOutcome::Created,
            ImportOutcome::Created
        ]
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM customers").await,
        1,
        "one person, three rows"
    );
    let id = f.find(SearchBy::Email, "c@example.com").await.remove(0);
    let card = s.customer_card(&id).await.unwrap().unwrap();
    assert_eq!(card.display_name.as_deref(), Some("Imported Name"));
    assert_eq!(card.wa_number.as_deref(), Some("447700900601"));
    assert_eq!(card.shipments.len(), 3);
    // When they write on WhatsApp, the inbox knows them: the same customer.
    let writer = f
        .writes("447700900601", "C on WhatsApp", "wamid.c1", "hello")
        .await;
    assert_eq!(writer, id);
    // A customer known only by e-mail gets a phone contact from a later row.
    let mut later = shipment(
        "JJD0002249823934",
        ShipmentStatus::Created,
        Some("+447700900602"),
        Some("d@example.com"),
    );
    later.customer_phone = None;
    s.import_shipments(&[later]).await.unwrap();
    let d = f.find(SearchBy::Email, "d@example.com").await.remove(0);
    s.import_shipments(&[shipment(
        "DHL1234567890",
        ShipmentStatus::Created,
        Some("+447700900602"),
        Some("d@example.com"),
    )])
    .await
    .unwrap();
    assert_eq!(f.find(SearchBy::Phone, "+447700900602").await, [d]);
}

const CANARIES: [&str; 9] = [
    "Canarya Ñandú-7731",
    "Quillon Vexmoor-5502",
    "Rhubarb Row 77 Zoë Court",
    "CANARY-gate-code 4471 behind the bins",
    "+447700933551",
    "447700933551",
    "+447700933662",
    "canary.7731@example.org",
    "Sendero Plc 9901",
];

async fn crm_data_is_sealed_at_rest(f: Fixture) {
    let s = &f.store;
    let mut row = shipment(
        "RR123456785GB",
        ShipmentStatus::Created,
        Some(CANARIES[4]),
        Some(CANARIES[7]),
    );
    row.customer_name = Some(CANARIES[0].into());
    row.recipient_name = Some(CANARIES[1].into());
    row.address = Some(CANARIES[2].into());
    row.instructions = Some(CANARIES[3].into());
    row.recipient_phone = Some(CANARIES[6].into());
    row.sender_name = Some(CANARIES[8].into());
    s.import_shipments(&[row]).await.unwrap();
    let id = f.find(SearchBy::Phone, CANARIES[4]).await.remove(0);
    s.add_note(&id, "user-1", CANARIES[3])
        .await
        .unwrap()
        .unwrap();
    s.add_address(&id, Some("home"), CANARIES[2])
        .await
        .unwrap()
        .unwrap();
    s.edit_customer(
        &id,
        &CustomerEdit {
            display_name: Some(Some(CANARIES[1].into())),
            labels: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    // Everything opens through the store...
    let card = s.customer_card(&id).await.unwrap().unwrap();
    assert_eq!(
        card.shipments[0].recipient_name.as_deref(),
        Some(CANARIES[1])
    );
    assert_eq!(
        card.shipments[0].recipient_phone.as_deref(),
        Some(CANARIES[6])
    );
    assert_eq!(card.notes[0].body, CANARIES[3]);
    // ...and nothing is readable at rest.
    let at_rest = f.everything_at_rest().await;
    let mut needles: Vec<&str> = CANARIES.to_vec();
    needles.extend([
        "Ñandú",
        "Vexmoor",
        "Rhubarb Row",
        "RR123456785GB",
        "900933551",
    ]);
    let hits = find_any(&at_rest, &needles);
    assert!(hits.is_empty(), "found at rest: {hits:?}");
    assert!(
        !find_any(b"x\\u00d1and\\u00fay", &["Ñandú"]).is_empty(),
        "the scan itself works"
    );
}

async fn erasure_deletes_crm_rows(f: Fixture) {
    let s = &f.store;
    let gone = f.writes("447700900701", "Gone", "wamid.e1", "hello").await;
    let kept = f.writes("447700900702", "Kept", "wamid.e2", "hello").await;
    let merged = f
        .writes("447700900703", "Gone too", "wamid.e3", "hello")
        .await;
    s.import_shipments(&[
        shipment(
            "RR123456785GB",
            ShipmentStatus::Created,
            Some("+447700900701"),
            Some("gone@example.com"),
        ),
        shipment(
            "EE123456785IN",
            ShipmentStatus::Created,
            Some("+447700900702"),
            None,
        ),
    ])
    .await
    .unwrap();
    s.add_note(&gone, "user-1", "note").await.unwrap().unwrap();
    s.add_address(&gone, None, "somewhere")
        .await
        .unwrap()
        .unwrap();
    s.merge_customers(&gone, &merged).await.unwrap().unwrap();
    let report = s.erase_customer(&gone).await.unwrap().unwrap();
    // shipment + event + note + address + e-mail contact + the merged customer's number
    assert_eq!(report.crm_rows, 6);
    for table in [
        "shipments",
        "shipment_events",
        "customer_notes",
        "customer_addresses",
        "customer_contacts",
    ] {
        assert_eq!(
            f.count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE customer_id = '{gone}'"
            ))
            .await,
            0,
            "{table}"
        );
    }
    assert!(f.find(SearchBy::Phone, "+447700900701").await.is_empty());
    assert!(
        f.find(SearchBy::Phone, "+447700900703").await.is_empty(),
        "the merged number goes too"
    );
    assert!(f.find(SearchBy::Email, "gone@example.com").await.is_empty());
    assert!(f.find(SearchBy::Tracking, "RR123456785GB").await.is_empty());
    let card = s.customer_card(&gone).await.unwrap().unwrap();
    assert!(card.erased && card.shipments.is_empty() && card.labels.is_empty());
    // The other customer is untouched.
    assert_eq!(
        s.customer_card(&kept)
            .await
            .unwrap()
            .unwrap()
            .shipments
            .len(),
        1
    );
}

/// A customer created by one row, reached by e-mail from a later row of the same import
/// with another phone: that phone becomes theirs, as it would in a later import.
async fn a_second_phone_in_the_same_import_becomes_a_contact(f: Fixture) {
    let s = &f.store;
    let first = shipment(
        "RR123456785GB",
        ShipmentStatus::Created,
        Some("+44 7700 900701"),
        Some("two@example.com"),
    );
    let second = shipment(
        "EE123456785IN",
        ShipmentStatus::Created,
        Some("+44 7700 900702"),
        Some("two@example.com"),
    );
    let outcomes = s.import_shipments(&[first, second]).await.unwrap();
    assert_eq!(outcomes, [ImportOutcome::Created, ImportOutcome::Created]);
    assert_eq!(f.count("SELECT COUNT(*) FROM customers").await, 1);
    let by_first = f.find(SearchBy::Phone, "+447700900701").await;
    assert_eq!(by_first.len(), 1);
    assert_eq!(f.find(SearchBy::Phone, "+447700900702").await, by_first);
}

/// Every stored blind index of a database written before migration 0013 (hex) is
/// re-encoded when the store migrates, and every lookup by them finds what it found before.
async fn indexes_stored_in_hex_still_find_after_migrating(f: Fixture) {
    let s = &f.store;
    let ana = f.writes("447700900471", "Ana", "wamid.hx1", "hi").await;
    s.add_contact(&ana, ContactKind::Email, "ana.hex@example.com")
        .await
        .unwrap()
        .unwrap();
    let mut row = shipment(
        "EE123456785IN",
        ShipmentStatus::Created,
        Some("+447700900471"),
        None,
    );
    row.recipient_phone = Some("+447700900472".into());
    row.address = Some("5 Hex Road, Leeds LS1 4AB".into());
    s.import_shipments(&[row]).await.unwrap();
    let columns = [
        ("customers", "wa_id"),
        ("customer_contacts", "blind_index"),
        ("shipments", "tracking_index"),
        ("shipments", "recipient_phone_index"),
        ("address_indexes", "blind_index"),
    ];
    // Back to what an older version wrote: the same bytes in hex.
    for (table, column) in columns {
        let values: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
        ))
        .fetch_all(s.pool())
        .await
        .unwrap();
        assert!(!values.is_empty(), "{table}.{column}");
        for value in values {
            assert_eq!(value.len(), veilbox_vault::INDEX_CHARS, "{table}.{column}");
            let bytes = data_encoding::BASE64URL_NOPAD
                .decode(value.as_bytes())
                .unwrap();
            sqlx::query(&format!(
                "UPDATE {table} SET {column} = $1 WHERE {column} = $2"
            ))
            .bind(data_encoding::HEXLOWER.encode(&bytes))
            .bind(&value)
            .execute(s.pool())
            .await
            .unwrap();
        }
    }
    // Stored in hex, nothing is found any more.
    assert!(f.find(SearchBy::Tracking, "EE123456785IN").await.is_empty());
    sqlx::query("INSERT INTO pending_data_migrations (name) VALUES ('blind_indexes_base64url')")
        .execute(s.pool())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    for (table, column) in columns {
        let hex = f
            .count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE length({column}) = {}",
                veilbox_vault::HEX_INDEX_CHARS
            ))
            .await;
        assert_eq!(hex, 0, "{table}.{column} still holds hex");
    }
    assert_eq!(
        f.count("SELECT COUNT(*) FROM pending_data_migrations")
            .await,
        0
    );
    assert_eq!(
        f.find(SearchBy::Phone, "+44 7700 900471").await,
        vec![ana.clone()]
    );
    assert_eq!(
        f.find(SearchBy::Email, "ana.hex@example.com").await,
        vec![ana.clone()]
    );
    assert_eq!(
        f.find(SearchBy::Tracking, "EE123456785IN").await,
        vec![ana.clone()]
    );
    assert_eq!(address_owners(&f, "5 Hex Road").await, vec![ana.clone()]);
    let keyring = s.keyring().unwrap();
    let recipient = keyring
        .blind(veilbox_vault::IndexedField::Phone, "+447700900472")
        .unwrap();
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM shipments WHERE recipient_phone_index = '{recipient}'"
        ))
        .await,
        1
    );
    // Migrating again changes nothing.
    s.migrate().await.unwrap();
    assert_eq!(f.find(SearchBy::Tracking, "EE123456785IN").await, vec![ana]);
}
