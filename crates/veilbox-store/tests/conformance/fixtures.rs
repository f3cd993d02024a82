//! The webhook bodies in `veilbox-whatsapp/tests/fixtures` (written from Meta's reference,
//! one case per file, with what an inbox must keep in `MANIFEST.json`), posted in order on
//! both backends: what the parser reads from each, and what the store keeps of all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use veilbox_store::ingest::InboxPolicy;
use veilbox_whatsapp::webhook;

use super::Open;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../veilbox-whatsapp/tests/fixtures")
}

/// `(file, field, expect, body)` in manifest order.
fn manifest() -> Vec<(String, String, Value, Vec<u8>)> {
    let dir = fixtures_dir();
    let manifest: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join("MANIFEST.json")).expect("MANIFEST.json"))
            .expect("manifest is JSON");
    assert!(manifest.len() >= 100, "the full fixture set");
    manifest
        .into_iter()
        .map(|entry| {
            let file = entry["file"].as_str().expect("file").to_owned();
            let body = std::fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            (
                file,
                entry["field"].as_str().unwrap_or("").to_owned(),
                entry["expect"].clone(),
                body,
            )
        })
        .collect()
}

fn count(expect: &Value, key: &str) -> usize {
    expect[key]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// The content kind the parser gave each message, in body order.
fn kinds(parsed: &webhook::Webhook) -> Vec<String> {
    parsed
        .messages
        .iter()
        .map(|m| {
            serde_json::to_value(&m.content).expect("content serialises")["kind"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// What the parser reads from every fixture of the `messages` field: the messages,
/// receipts and platform errors the manifest counts, of the kinds it names, and nothing
/// rejected. (Needs no database: run once, on the SQLite half.)
fn parser_reads_every_messages_fixture() {
    let mut read = 0;
    for (file, field, expect, body) in manifest() {
        let parsed = webhook::parse(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            parsed.echoes.len(),
            count(&expect, "echoes"),
            "{file}: echoes"
        );
        if field == "smb_message_echoes" {
            if let (Some(kind), Some(echo)) = (expect["kind"].as_str(), parsed.echoes.first()) {
                let got = serde_json::to_value(&echo.content).expect("content")["kind"].clone();
                assert_eq!(got, kind, "{file}: echo kind");
            }
            assert!(parsed.rejected.is_empty(), "{file}: {:?}", parsed.rejected);
            continue;
        }
        if field != "messages" {
            // Other fields are acknowledged and kept as raw events only.
            assert!(parsed.rejected.is_empty(), "{file}: {:?}", parsed.rejected);
            continue;
        }
        let wamids: BTreeSet<&str> = parsed
            .messages
            .iter()
            .map(|m| m.wa_message_id.as_str())
            .collect();
        assert_eq!(wamids.len(), count(&expect, "messages"), "{file}: messages");
        assert_eq!(
            parsed.statuses.len(),
            count(&expect, "statuses"),
            "{file}: statuses"
        );
        assert_eq!(
            parsed.errors.len(),
            count(&expect, "errors"),
            "{file}: errors"
        );
        assert!(parsed.rejected.is_empty(), "{file}: {:?}", parsed.rejected);
        let got = kinds(&parsed);
        if let Some(kind) = expect["kind"].as_str() {
            assert_eq!(got.first().map(String::as_str), Some(kind), "{file}: kind");
        }
        if let Some(want) = expect["kinds"].as_array() {
            let want: Vec<&str> = want.iter().filter_map(Value::as_str).collect();
            assert_eq!(got, want, "{file}: kinds");
        }
        read += 1;
    }
    assert!(read >= 60, "the messages fixtures were read: {read}");
}

pub(super) async fn every_fixture_is_kept_and_each_person_is_one_customer(open: Open) {
    // The fixtures use two business numbers of one company: both are its inboxes (with
    // the default policy the second is stored unrouted, which has its own test).
    let Some(f) = open(InboxPolicy::Always).await else {
        return;
    };
    if f.file.is_some() {
        parser_reads_every_messages_fixture();
    }
    // The files are cases, not one history: a number change or user id rotation goes
    // last, as nothing comes from the old identity after it (a message from an old number
    // afterwards is a new person's: numbers are recycled, so it must not reach the
    // customer who left it).
    let mut fixtures = manifest();
    fixtures.sort_by_key(|(_, _, expect, _)| expect["system_type"].is_string());
    // Each body twice, as Meta redelivers: the second changes nothing.
    for round in 0..2 {
        for (file, _, _, body) in &fixtures {
            let report = f.post(body).await;
            assert!(!report.quarantined, "{file} (round {round}): quarantined");
        }
    }
    let bodies: BTreeSet<&[u8]> = fixtures.iter().map(|(_, _, _, b)| b.as_slice()).collect();
    assert_eq!(
        f.count("SELECT COUNT(*) FROM webhook_events").await,
        i64::try_from(bodies.len()).expect("count"),
        "every body is kept once as its raw event"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM quarantined_events").await, 0);
    // Echoes are outbound messages nobody in Veilbox wrote; the edit and the deletion made
    // in the app changed the echoes they name (the text, the photo) instead of adding one.
    let echoes: usize = fixtures
        .iter()
        .filter(|(_, field, expect, _)| {
            field == "smb_message_echoes" && expect["kind"] != "edit" && expect["kind"] != "revoke"
        })
        .count();
    assert_eq!(
        f.count("SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND author IS NULL")
            .await,
        i64::try_from(echoes).expect("count"),
        "every echo is stored once"
    );
    assert_eq!(
        f.count(
            "SELECT COUNT(*) FROM message_revisions r JOIN messages m ON m.id = r.message_id \
             WHERE m.direction = 'outbound'"
        )
        .await,
        2,
        "the echoes' edit and deletion"
    );
    assert_eq!(
        f.count(
            "SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND revoked_at IS NOT NULL"
        )
        .await,
        1,
        "the photo deleted in the app"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM dead_letters").await, 0);

    // Every account, number and template update the manifest marks is an admin alert.
    let alerted: Vec<&str> = fixtures
        .iter()
        .filter(|(_, field, expect, _)| expect["admin_alert"].is_string() && field != "history")
        .map(|(_, field, _, _)| field.as_str())
        .collect();
    assert!(
        alerted.len() >= 20,
        "the fixtures' admin alerts: {alerted:?}"
    );
    for field in &alerted {
        let raised = f
            .count(&format!(
                "SELECT COUNT(*) FROM admin_alerts WHERE kind = 'whatsapp.{field}'"
            ))
            .await;
        assert!(raised >= 1, "{field} raised no alert");
    }
    assert_eq!(
        f.count("SELECT COUNT(*) FROM admin_alerts WHERE kind LIKE 'whatsapp.%'")
            .await,
        i64::try_from(alerted.len()).expect("count"),
        "one alert per update, none again for the second delivery"
    );

    // The newest marketing preference reported for each person (by its time, whatever the
    // order the bodies came in) is what their record says.
    let mut newest: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for (_, _, _, body) in &fixtures {
        for p in webhook::parse(body).expect("parses").preferences {
            if let Some(wa_id) = p.customer.wa_id {
                let entry = newest.entry(wa_id).or_insert((p.at, p.opted_out));
                if p.at > entry.0 {
                    *entry = (p.at, p.opted_out);
                }
            }
        }
    }
    assert!(!newest.is_empty(), "the fixtures report preferences");
    for (wa_id, (_, opted_out)) in &newest {
        let stopped = f
            .count(&format!(
                "SELECT COUNT(*) FROM customers WHERE wa_id = '{}' AND marketing_opt_out_at IS NOT NULL",
                f.wa(wa_id)
            ))
            .await;
        assert_eq!(
            stopped == 1,
            *opted_out,
            "marketing preference of a fixture customer"
        );
    }

    // All files naming one person resolve to one customer record.
    let mut people: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for (_, _, expect, _) in &fixtures {
        let Some(person) = expect["customer_ref"].as_str() else {
            continue;
        };
        let (phones, users) = people.entry(person.to_owned()).or_default();
        for key in ["customer_wa_id", "new_wa_id"] {
            if let Some(wa) = expect[key].as_str() {
                phones.insert(wa.to_owned());
            }
        }
        for key in ["customer_user_id", "new_user_id"] {
            if let Some(user) = expect[key].as_str() {
                users.insert(user.to_owned());
            }
        }
    }
    assert!(people.len() >= 3, "several people in the fixtures");
    for (person, (phones, users)) in &people {
        let phones: Vec<String> = phones.iter().map(|p| format!("'{}'", f.wa(p))).collect();
        let users: Vec<String> = users.iter().map(|u| format!("'{u}'")).collect();
        let mut clauses = Vec::new();
        if !phones.is_empty() {
            clauses.push(format!("wa_id IN ({})", phones.join(", ")));
        }
        if !users.is_empty() {
            clauses.push(format!("user_id IN ({})", users.join(", ")));
        }
        let live = f
            .count(&format!(
                "SELECT COUNT(*) FROM customers WHERE merged_into IS NULL AND erased_at IS NULL \
                 AND ({})",
                clauses.join(" OR ")
            ))
            .await;
        assert_eq!(live, 1, "{person} is one customer");
    }
}
