//! Crash safety: the real `veilbox serve` process is killed with SIGKILL while several
//! clients post signed webhooks; after a restart on the same database, every message that
//! got a 200 is stored exactly once.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::SECRET;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use veilbox_whatsapp::signature;

/// Starts `veilbox serve` on port 0 and returns it with the address it printed.
async fn start(database_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veilbox"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VEILBOX_DATABASE_URL", database_url)
        .env("VEILBOX_LISTEN", "127.0.0.1:0")
        .env("VEILBOX_WHATSAPP_APP_SECRET", SECRET)
        .env("VEILBOX_WHATSAPP_VERIFY_TOKEN", "crash-test")
        .env("VEILBOX_MASTER_KEY", support::MASTER_KEY)
        .env("VEILBOX_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn veilbox");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("veilbox printed its address in time")
        .expect("read stdout")
        .expect("a line");
    let address = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    assert!(
        !address.ends_with(":0"),
        "the real bound port is printed: {address}"
    );
    (child, address.to_owned())
}

fn body(client: usize, n: usize) -> (String, Vec<u8>) {
    let wamid = format!("wamid.CRASH{client:02}x{n:06}");
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"metadata":{{"display_phone_number":"15550123456","phone_number_id":"118440581239876"}},"contacts":[{{"profile":{{"name":"C{client}"}},"wa_id":"4477009{client:05}"}}],"messages":[{{"from":"4477009{client:05}","id":"{wamid}","timestamp":"{}","type":"text","text":{{"body":"where is parcel {n}?"}}}}]}}}}]}}]}}"#,
        1_780_000_000 + n
    );
    (wamid, body.into_bytes())
}

async fn kill_during_ingest_loses_nothing_acknowledged(database_url: &str) {
    let (mut server, address) = start(database_url).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut posters = Vec::new();
    for c in 0..8 {
        let (client, acked, url) = (
            client.clone(),
            Arc::clone(&acked),
            format!("http://{address}/webhooks/whatsapp"),
        );
        posters.push(tokio::spawn(async move {
            for n in 0..100_000 {
                let (wamid, body) = body(c, n);
                let header = signature::sign(SECRET.as_bytes(), &body);
                match client
                    .post(&url)
                    .header("X-Hub-Signature-256", header)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => acked.lock().expect("lock").push(wamid),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server died
                }
            }
        }));
    }
    // Let a few hundred acknowledgements happen, then kill without warning.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked.lock().expect("lock").len() < 400 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("reaped");
    for p in posters {
        p.await.expect("poster");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 400,
        "ingestion was under way when killed ({} acks)",
        acked.len()
    );

    // Restart on the same database and read back.
    let (mut server, address) = start(database_url).await;
    let store = veilbox_store::Store::connect(database_url)
        .await
        .expect("connect");
    let stored: Vec<String> = {
        use sqlx::Row;
        sqlx::query("SELECT wa_message_id FROM messages")
            .fetch_all(store.pool())
            .await
            .expect("query")
            .iter()
            .map(|r| r.try_get("wa_message_id").expect("column"))
            .collect()
    };
    let stored_set: std::collections::HashSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "nothing stored twice");
    let lost: Vec<&String> = acked.iter().filter(|w| !stored_set.contains(w)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    // The restarted server takes new deliveries.
    let (_, body) = body(99, 0);
    let header = signature::sign(SECRET.as_bytes(), &body);
    let response = client
        .post(format!("http://{address}/webhooks/whatsapp"))
        .header("X-Hub-Signature-256", header)
        .body(body)
        .send()
        .await
        .expect("post after restart");
    assert_eq!(response.status(), 200);
    store.close().await;
    server.start_kill().expect("kill");
    let _ = server.wait().await;
    eprintln!(
        "crash test: {} acked before SIGKILL, {} stored, 0 lost",
        acked.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    kill_during_ingest_loses_nothing_acknowledged(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_on_postgres() {
    let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
        return;
    };
    let scratch = veilbox_store::scratch::ScratchDatabase::create(&server)
        .await
        .expect("scratch");
    kill_during_ingest_loses_nothing_acknowledged(&scratch.url).await;
    let _ = scratch.drop_database().await;
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let cases = [
        (vec![("VEILBOX_LISTEN", "nowhere")], "VEILBOX_LISTEN"),
        (
            vec![("VEILBOX_WHATSAPP_APP_SECRET", "")],
            "VEILBOX_WHATSAPP_APP_SECRET",
        ),
        (
            vec![("VEILBOX_DATABASE_URL", "mysql://db")],
            "VEILBOX_DATABASE_URL",
        ),
        (
            vec![("VEILBOX_MASTER_KEY_FILE", "/nonexistent/veilbox/master.key")],
            "VEILBOX_MASTER_KEY_FILE",
        ),
        (
            vec![("VEILBOX_MASTER_KEY", "not-a-key")],
            "VEILBOX_MASTER_KEY",
        ),
    ];
    for (vars, setting) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_veilbox"));
        command
            .arg("serve")
            .env_clear()
            .env("VEILBOX_WHATSAPP_APP_SECRET", SECRET)
            .env("VEILBOX_WHATSAPP_VERIFY_TOKEN", "t")
            .env("VEILBOX_DATABASE_URL", "sqlite::memory:");
        for (k, v) in vars {
            command.env(k, v);
        }
        let output = command.output().await.expect("run veilbox");
        assert!(!output.status.success(), "{setting}: must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{setting}: one line, got {stderr}");
        assert!(
            lines[0].contains(setting),
            "{setting} named in: {}",
            lines[0]
        );
        assert!(!stderr.contains(SECRET), "secrets are never printed");
    }
}
