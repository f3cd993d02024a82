//! The inbox in a real headless Chromium, driven through chromedriver: a customer writes
//! through the WhatsApp simulator, the agent signs in, sees the message arrive live, replies,
//! watches the ticks go to read without a reload, and resolves. Saves screenshots to
//! `target/screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium`,
//! `chromium-driver`). Without them it prints `SKIPPED` and passes, unless
//! `VEILBOX_REQUIRE_BROWSER=1` (CI), where it fails.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use veilbox_core::credentials::{password, totp::TotpSecret};
use veilbox_whatsapp::simulator::{serve, Simulator, SimulatorConfig};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ADMIN_EMAIL: &str = "dispatch@courier.test";
const ADMIN_PASSWORD: &str = "the night bus stops at depot seven";
const ACCESS_TOKEN: &str = "simulator-access-token-0001";
const CUSTOMER: &str = "447700900461"; // Oliver Bennett, one of the simulator's demo customers

/// Ends chromedriver (which ends its browsers) when the test ends, pass or fail.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn start_chromedriver() -> (Driver, String) {
    let port = free_port().await;
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = http.get(format!("{url}/status")).send().await {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if body["value"]["ready"] == true {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, url)
}

async fn browser(driver_url: &str, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1366,768",
            ],
        }),
    );
    // chromedriver is on loopback: plain HTTP, no TLS stack needed.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver_url)
        .await
        .expect("a browser session")
}

/// Polls `script` (which returns a boolean) until true.
async fn wait_for(client: &Client, what: &str, script: &str, args: Vec<Value>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let value = client.execute(script, args.clone()).await.expect("script");
        if value == Value::Bool(true) {
            return;
        }
        if Instant::now() >= deadline {
            // What the page showed, to say why in the failure (no customer data here
            // beyond the test's own fixtures).
            let url = client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let text = client
                .execute(
                    "return document.body ? document.body.innerText : '';",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what}; page {url} shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn save_screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.expect("screenshot");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_round_trip_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("VEILBOX_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "VEILBOX_REQUIRE_BROWSER=1 but chromium/chromedriver is not installed"
        );
        println!("SKIPPED: chromium/chromedriver not installed");
        eprintln!("SKIPPED: chromium/chromedriver not installed");
        return;
    }

    // Veilbox and the simulator, wired to each other.
    let veilbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let veilbox = format!("http://{}", veilbox_listener.local_addr().unwrap());
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_base = format!("http://{}", sim_listener.local_addr().unwrap());

    let data = tempfile::tempdir().unwrap();
    let mut config = support::test_config(&format!(
        "sqlite://{}",
        data.path().join("veilbox.db").display()
    ));
    config.whatsapp.access_token = Some(SecretString::from(ACCESS_TOKEN));
    config.whatsapp.graph_url = sim_base.clone();
    // Short, so that the test sees a revealed value hidden again.
    config.masking.reveal_for = Duration::from_secs(3);
    let store = veilbox_server::open_store(&config).await.unwrap();
    let audit_store = store.clone();
    let quick_store = store.clone();
    // A supervisor of a team serving every inbox; supervisors sign in with a second factor.
    let team = store.ensure_team("Operations").await.unwrap();
    store
        .add_team_inbox(&team, veilbox_store::people::EVERY_INBOX)
        .await
        .unwrap();
    let supervisor = store
        .create_user(ADMIN_EMAIL, "Dispatch", "supervisor")
        .await
        .unwrap()
        .unwrap();
    store
        .set_team_supervisor(&team, &supervisor.id)
        .await
        .unwrap();
    store
        .set_password_hash(&supervisor.id, &password::hash(ADMIN_PASSWORD).unwrap())
        .await
        .unwrap();
    let totp = TotpSecret::generate();
    store
        .begin_totp(&supervisor.id, &totp.to_base32())
        .await
        .unwrap();
    store.accept_totp_step(&supervisor.id, 0).await.unwrap();
    let (stop_veilbox, veilbox_stopped) = oneshot::channel::<()>();
    let veilbox_task = tokio::spawn(veilbox_server::launch(
        config,
        store,
        veilbox_listener,
        async {
            let _ = veilbox_stopped.await;
        },
    ));

    let mut sim_config = SimulatorConfig::new(
        SecretString::from(support::SECRET),
        SecretString::from(ACCESS_TOKEN),
        format!("{veilbox}/webhooks/whatsapp"),
    );
    sim_config.status_interval = Duration::from_millis(600);
    sim_config.auto_read = true;
    let simulator = Simulator::new(sim_config);
    let (stop_sim, sim_stopped) = oneshot::channel::<()>();
    let sim_task = tokio::spawn(serve(simulator.clone(), sim_listener, async {
        let _ = sim_stopped.await;
    }));

    // The customer writes first, so there is a conversation to open.
    simulator
        .customer_says(CUSTOMER, "Hello, I have a question about my parcel.")
        .await
        .expect("first customer message");

    let (_driver, driver_url) = start_chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver_url, profile.path()).await;
    let long = Duration::from_secs(20);

    // Sign in.
    client.goto(&format!("{veilbox}/inbox")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "the inbox asks to sign in first");
    client
        .find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(ADMIN_EMAIL)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(ADMIN_PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("main.login button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the second-factor form",
        "return location.pathname === '/login/second-factor' && !!document.querySelector('input[name=code]');",
        vec![],
        long,
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    client
        .find(Locator::Css("input[name=code]"))
        .await
        .unwrap()
        .send_keys(&totp.code_at(now))
        .await
        .unwrap();
    client
        .find(Locator::Css("main.login button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the inbox",
        "return location.pathname === '/inbox' && !!document.getElementById('conversation-list');",
        vec![],
        long,
    )
    .await;

    // Open the conversation.
    client
        .find(Locator::Css("#conversation-list li a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&client, "the thread", "return location.pathname.startsWith('/inbox/c/') && !!document.getElementById('messages');", vec![], long).await;
    wait_for(
        &client,
        "the live stream",
        "return document.body.dataset.live === 'on';",
        vec![],
        long,
    )
    .await;
    let title: Value = client
        .execute("return document.title;", vec![])
        .await
        .unwrap();
    assert_eq!(title, "Veilbox · Inbox");
    // Marks this page load: if it is still there later, nothing reloaded the page.
    client
        .execute("window.veilboxTestMark = 'no reload';", vec![])
        .await
        .unwrap();

    // A message arrives while the page is open: it appears live.
    simulator
        .customer_says(CUSTOMER, "Is it arriving today? I leave at 5 pm.")
        .await
        .expect("second customer message");
    wait_for(
        &client,
        "the new message to appear live",
        "return document.getElementById('messages').innerText.includes(arguments[0]);",
        vec![json!("Is it arriving today?")],
        long,
    )
    .await;
    let mark: Value = client
        .execute("return window.veilboxTestMark || null;", vec![])
        .await
        .unwrap();
    assert_eq!(mark, "no reload", "the message arrived without a reload");

    // Reply.
    let reply = "Yes, it is on the van and arrives between 2 and 4 pm.";
    client
        .find(Locator::Id("reply-body"))
        .await
        .unwrap()
        .send_keys(reply)
        .await
        .unwrap();
    client
        .find(Locator::Css("form.composer button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the reply in the thread",
        "return !!document.querySelector('.flash.ok') && document.getElementById('messages').innerText.includes(arguments[0]);",
        vec![json!(reply)],
        long,
    )
    .await;
    wait_for(
        &client,
        "the live stream after the post",
        "return document.body.dataset.live === 'on';",
        vec![],
        long,
    )
    .await;
    client
        .execute("window.veilboxTestMark = 'no reload';", vec![])
        .await
        .unwrap();

    // The simulator delivers it and the customer reads it...
    let deadline = Instant::now() + long;
    loop {
        let sent = simulator.sent_to(CUSTOMER);
        if sent
            .iter()
            .any(|item| item.text.as_deref() == Some(reply) && item.state == "read")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the simulator never showed the reply read: {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...and the ticks on the page follow, without a reload.
    wait_for(
        &client,
        "the read ticks",
        "const last = Array.from(document.querySelectorAll('#messages li.msg.out')).pop(); \
         return !!last && last.innerText.includes(arguments[0]) && !!last.querySelector('.tick.read');",
        vec![json!(reply)],
        long,
    )
    .await;
    let mark: Value = client
        .execute("return window.veilboxTestMark || null;", vec![])
        .await
        .unwrap();
    assert_eq!(mark, "no reload", "the ticks updated without a reload");

    // Masked: the customer's number and address arrive as labels, not in the page at all.
    simulator
        .customer_says(
            CUSTOMER,
            "Call me on +44 7700 900 123, I am at 14 Birch Lane, York YO1 7HH",
        )
        .await
        .expect("a message with personal data");
    wait_for(
        &client,
        "the masked message",
        "return !!document.querySelector('#messages button.masked.revealable[data-kind=PHONE]');",
        vec![],
        long,
    )
    .await;
    let source: Value = client
        .execute("return document.documentElement.outerHTML;", vec![])
        .await
        .unwrap();
    let source = source.as_str().unwrap();
    for hidden in ["900 123", "900123", "Birch", "Bennett", "900461"] {
        assert!(!source.contains(hidden), "{hidden} is in the page");
    }
    // Reveal the phone with a reason: shown, then hidden again.
    client
        .find(Locator::Css(
            "#messages button.masked.revealable[data-kind=PHONE]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the reveal dialog",
        "return document.getElementById('reveal-dialog').open;",
        vec![],
        long,
    )
    .await;
    client
        .find(Locator::Css(
            "#reveal-dialog input[name=reason][value=customer_request]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("#reveal-dialog button[value=reveal]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the revealed number",
        "const b = document.querySelector('#messages button.masked.revealed');          return !!b && b.textContent.includes(arguments[0]);",
        vec![json!("+44 7700 900 123")],
        long,
    )
    .await;
    save_screenshot(&client, "inbox-revealed.png").await;
    wait_for(
        &client,
        "the number hidden again",
        "return !document.querySelector('#messages button.masked.revealed') &&          !document.getElementById('messages').innerText.includes('900 123');",
        vec![],
        Duration::from_secs(10),
    )
    .await;
    let audited = audit_store
        .audit_rows(
            &veilbox_store::audit::AuditFilter {
                action_prefix: Some("reveal".to_owned()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert!(
        audited.iter().any(|r| r.action == "reveal"
            && r.target.as_deref().is_some_and(|t| t.ends_with(" PHONE"))
            && r.reason.as_deref().is_some_and(|r| r.contains("asked me"))),
        "{audited:?}"
    );
    assert!(audited
        .iter()
        .all(|r| !format!("{:?}{:?}", r.target, r.reason).contains("900")));

    // A quick reply with a placeholder: inserted into the box by the picker, sent, and
    // filled in by the server; the agent's page never holds the name.
    quick_store
        .create_quick_reply(
            &team,
            "Thanks for waiting",
            "Hello {{customer.name}}, thank you for waiting.",
            &supervisor.id,
        )
        .await
        .unwrap();
    client
        .goto(client.current_url().await.unwrap().as_ref())
        .await
        .unwrap();
    wait_for(
        &client,
        "the quick-reply picker",
        "const b = document.querySelector('form.quick-replies button.quick-insert'); return !!b && !b.hidden;",
        vec![],
        long,
    )
    .await;
    client
        .find(Locator::Css("form.quick-replies button.quick-insert"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let drafted: Value = client
        .execute(
            "return document.getElementById('reply-body').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(drafted, "Hello {{customer.name}}, thank you for waiting.");
    client
        .find(Locator::Css("form.composer button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let filled = "Hello Oliver Bennett, thank you for waiting.";
    let deadline = Instant::now() + long;
    while !simulator
        .sent_to(CUSTOMER)
        .iter()
        .any(|item| item.text.as_deref() == Some(filled))
    {
        assert!(
            Instant::now() < deadline,
            "the filled-in quick reply never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let source: Value = client
        .execute("return document.documentElement.outerHTML;", vec![])
        .await
        .unwrap();
    assert!(!source.as_str().unwrap().contains("Bennett"));

    // Leak prevention as the agent types, and again on send: a card number is flagged in
    // the composer before sending and refused when sent anyway; nothing reaches WhatsApp.
    client
        .find(Locator::Id("reply-body"))
        .await
        .unwrap()
        .send_keys("Your refund goes to card 4111 1111 1111 1111")
        .await
        .unwrap();
    wait_for(
        &client,
        "the live check to block the draft",
        "const s = document.getElementById('dlp-status'); \
         return !!s && s.dataset.verdict === 'block' && s.innerText.includes('CARD');",
        vec![],
        long,
    )
    .await;
    save_screenshot(&client, "inbox-dlp-block.png").await;
    client
        .find(Locator::Css("form.composer button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the refusal",
        "return document.body.innerText.includes('blocked by leak prevention');",
        vec![],
        long,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        simulator.sent_to(CUSTOMER).iter().all(|item| !item
            .text
            .as_deref()
            .unwrap_or("")
            .contains("4111")),
        "a blocked reply reached WhatsApp"
    );

    save_screenshot(&client, "inbox-round-trip.png").await;
    client.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let thread_first: Value = client
        .execute(
            "const t = document.getElementById('thread-pane').getBoundingClientRect(); \
             const l = document.querySelector('section.list').getBoundingClientRect(); return t.top < l.top;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        thread_first, true,
        "at phone width the open thread comes first"
    );
    save_screenshot(&client, "inbox-phone.png").await;
    client.set_window_size(1366, 768).await.unwrap();

    // Resolve.
    client
        .find(Locator::Css("button[data-state=resolved]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "the conversation resolved",
        "return !!document.querySelector('.thread-head .state.resolved') && !!document.querySelector('button[data-state=open]');",
        vec![],
        long,
    )
    .await;
    save_screenshot(&client, "inbox-resolved.png").await;

    client.close().await.unwrap();
    let _ = stop_sim.send(());
    let _ = stop_veilbox.send(());
    let _ = sim_task.await;
    veilbox_task.await.unwrap().unwrap();
}
