//! `veilbox bench ingest`: how fast webhooks are acknowledged durably.
//!
//! Phase one posts N signed webhook bodies over real HTTP on loopback from C concurrent
//! clients into a fresh database and measures acknowledged messages per second and the
//! ack latency. Phase two pushes the same bodies, already parsed, straight into the store's
//! group-committing writer from C tasks: the store's own ceiling. The ratio says how much
//! the HTTP layer costs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use secrecy::SecretString;
use sqlx::Row;
use tokio::net::TcpListener;
use veilbox_store::ingest::{Delivery, InboxPolicy, Ingestor};
use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;
use veilbox_whatsapp::{signature, webhook};

use crate::config::Config;

const BENCH_SECRET: &str = "veilbox-bench-app-secret";

/// Options of `veilbox bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestBenchArgs {
    /// Messages to send in all.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Concurrent HTTP clients (and writer submitters in the raw phase).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Messages per webhook body.
    #[arg(long, default_value_t = 1)]
    pub per_post: usize,
    /// A PostgreSQL server URL: the bench creates (and drops) scratch databases on it.
    /// Without it, fresh SQLite files in a temporary directory.
    #[arg(long, env = "VEILBOX_BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
}

/// A fresh database for one phase, removed afterwards.
enum FreshDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres(ScratchDatabase),
}

impl FreshDatabase {
    async fn create(postgres: Option<&str>) -> anyhow::Result<FreshDatabase> {
        Ok(match postgres {
            Some(server) => FreshDatabase::Postgres(ScratchDatabase::create(server).await?),
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                FreshDatabase::Sqlite { _dir: dir, url }
            }
        })
    }

    fn url(&self) -> &str {
        match self {
            FreshDatabase::Sqlite { url, .. } => url,
            FreshDatabase::Postgres(scratch) => &scratch.url,
        }
    }

    async fn remove(self) -> anyhow::Result<()> {
        if let FreshDatabase::Postgres(scratch) = self {
            scratch.drop_database().await?;
        }
        Ok(())
    }
}

/// Runs both phases and prints the figures.
pub async fn ingest(args: IngestBenchArgs) -> anyhow::Result<()> {
    if args.messages == 0 || args.clients == 0 || args.per_post == 0 {
        bail!("--messages, --clients and --per-post must be positive");
    }
    let bodies = Arc::new(webhook_bodies(args.messages, args.per_post));
    let backend = if args.postgres.is_some() {
        "postgresql"
    } else {
        "sqlite (WAL, synchronous=FULL)"
    };
    println!(
        "ingest bench: {backend}; {} messages in {} posts of {}; {} clients",
        args.messages,
        bodies.len(),
        args.per_post,
        args.clients
    );

    let database = FreshDatabase::create(args.postgres.as_deref()).await?;
    let http = http_phase(database.url(), Arc::clone(&bodies), args.clients).await?;
    database.remove().await?;
    let http_rate = args.messages as f64 / http.elapsed.as_secs_f64();
    println!(
        "http: {} messages acked in {:.2} s = {:.0} msg/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.messages,
        http.elapsed.as_secs_f64(),
        http_rate,
        http.latency.value_at_quantile(0.50) as f64 / 1000.0,
        http.latency.value_at_quantile(0.99) as f64 / 1000.0,
        http.latency.max() as f64 / 1000.0,
    );

    let database = FreshDatabase::create(args.postgres.as_deref()).await?;
    let raw = raw_phase(database.url(), &bodies, args.clients).await?;
    database.remove().await?;
    let raw_rate = args.messages as f64 / raw.as_secs_f64();
    println!(
        "raw:  {} messages committed in {:.2} s = {:.0} msg/s (same writer, no HTTP)",
        args.messages,
        raw.as_secs_f64(),
        raw_rate
    );
    println!("ratio: http / raw = {:.0}%", 100.0 * http_rate / raw_rate);
    Ok(())
}

/// Signed-ready bodies: compact like Meta's, unique wamids, 1,000 customers.
fn webhook_bodies(messages: usize, per_post: usize) -> Vec<Vec<u8>> {
    let base_ts = 1_780_000_000_u64;
    (0..messages)
        .collect::<Vec<_>>()
        .chunks(per_post)
        .map(|chunk| {
            let customer = chunk[0] % 1000;
            let wa_id = format!("4477009{customer:05}");
            let items: Vec<String> = chunk
                .iter()
                .map(|i| {
                    format!(
                        r#"{{"from":"{wa_id}","id":"wamid.BENCH{i:012}","timestamp":"{}","type":"text","text":{{"body":"Where is my parcel? Order {i} was due today, please check."}}}}"#,
                        base_ts + *i as u64
                    )
                })
                .collect();
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"230811736742955","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550123456","phone_number_id":"118440581239876"}},"contacts":[{{"profile":{{"name":"Bench Customer {customer}"}},"wa_id":"{wa_id}"}}],"messages":[{}]}},"field":"messages"}}]}}]}}"#,
                items.join(",")
            )
            .into_bytes()
        })
        .collect()
}

struct HttpResult {
    elapsed: Duration,
    latency: Histogram<u64>,
}

async fn http_phase(
    url: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    clients: usize,
) -> anyhow::Result<HttpResult> {
    let mut config = Config::from_sources(None, |_| None)?;
    // A throwaway master key: bench databases are deleted afterwards.
    config.master_key = Some(SecretString::from(
        veilbox_vault::MasterKey::generate().to_text().as_str(),
    ));
    config.database_url = url.to_owned();
    config.whatsapp.app_secret = Some(SecretString::from(BENCH_SECRET));
    config.whatsapp.verify_token = Some(SecretString::from("bench"));
    let store = crate::keyring::unlock(&config, crate::open_store(&config).await?).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::launch(config, store.clone(), listener, async {
        let _ = stopped.await;
    }));

    let endpoint = format!("http://{address}/webhooks/whatsapp");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, endpoint, bodies, next) = (
            client.clone(),
            endpoint.clone(),
            Arc::clone(&bodies),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3)?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let header = signature::sign(BENCH_SECRET.as_bytes(), body);
                let sent = Instant::now();
                let response = client
                    .post(&endpoint)
                    .header(signature::HEADER, header)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!("webhook answered {}", response.status());
                }
                latency.record(sent.elapsed().as_micros() as u64)?;
            }
            anyhow::Ok(latency)
        }));
    }
    let mut latency = Histogram::<u64>::new(3)?;
    for task in tasks {
        latency.add(task.await??)?;
    }
    let elapsed = started.elapsed();
    let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages")
        .fetch_one(store.pool())
        .await?
        .try_get("n")?;
    let _ = stop.send(());
    server.await.context("server task")??;
    if stored as usize != count_messages(&bodies) {
        bail!(
            "stored {stored} messages, expected {}",
            count_messages(&bodies)
        );
    }
    Ok(HttpResult { elapsed, latency })
}

async fn raw_phase(url: &str, bodies: &[Vec<u8>], clients: usize) -> anyhow::Result<Duration> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let store = store
        .unlock(veilbox_vault::Vault::new(
            veilbox_vault::MasterKey::generate(),
        ))
        .await?;
    let (ingestor, writer) = Ingestor::spawn(store.clone(), InboxPolicy::FirstOnly);
    let mut deliveries = Vec::with_capacity(bodies.len());
    for body in bodies {
        deliveries.push(Delivery {
            body: body.clone(),
            webhook: webhook::parse(body)?,
            received_at: veilbox_store::now_ms(),
        });
    }
    let queue = Arc::new(std::sync::Mutex::new(deliveries));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (ingestor, queue) = (ingestor.clone(), Arc::clone(&queue));
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("queue poisoned"))?
                    .pop();
                let Some(delivery) = next else { break };
                ingestor.ingest(delivery).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    drop(ingestor);
    writer.await?;
    let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages")
        .fetch_one(store.pool())
        .await?
        .try_get("n")?;
    store.close().await;
    if stored as usize != count_messages(bodies) {
        bail!(
            "raw phase stored {stored} messages, expected {}",
            count_messages(bodies)
        );
    }
    Ok(elapsed)
}

fn count_messages(bodies: &[Vec<u8>]) -> usize {
    bodies
        .iter()
        .map(|b| b.windows(8).filter(|w| w == b"\"wamid.B").count())
        .sum()
}

/// Options of `veilbox bench outbox`.
#[derive(Debug, clap::Args)]
pub struct OutboxBenchArgs {
    /// Replies to send.
    #[arg(long, default_value_t = 5_000)]
    pub replies: usize,
    /// Customers (conversations) they are spread over.
    #[arg(long, default_value_t = 200)]
    pub customers: usize,
    /// Sends per second per number; 0 lifts the limit.
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
}

/// Replies queued while sending is off, then delivered to the simulator's Graph API as fast
/// as the sender goes: sends per second, and the most sends seen in any one-second window.
pub async fn outbox(args: OutboxBenchArgs) -> anyhow::Result<()> {
    use veilbox_store::outbox::ReplyPayload;
    use veilbox_whatsapp::simulator::{self, SimCustomer, Simulator, SimulatorConfig};

    if args.replies == 0 || args.customers == 0 {
        bail!("--replies and --customers must be positive");
    }
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sim_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sim_address = sim_listener.local_addr()?;
    let veilbox_listener = TcpListener::bind("127.0.0.1:0").await?;
    let veilbox_address = veilbox_listener.local_addr()?;
    let token = "veilbox-bench-access-token";

    let mut config = Config::from_sources(None, |_| None)?;
    // A throwaway master key: bench databases are deleted afterwards.
    config.master_key = Some(SecretString::from(
        veilbox_vault::MasterKey::generate().to_text().as_str(),
    ));
    config.database_url = url;
    config.whatsapp.app_secret = Some(SecretString::from(BENCH_SECRET));
    config.whatsapp.verify_token = Some(SecretString::from("bench"));
    config.whatsapp.graph_url = format!("http://{sim_address}");
    config.whatsapp.send_rate = (args.rate > 0).then_some(args.rate);

    let mut sim_config = SimulatorConfig::new(
        SecretString::from(BENCH_SECRET),
        SecretString::from(token),
        format!("http://{veilbox_address}/webhooks/whatsapp"),
    );
    sim_config.customers = (0..args.customers)
        .map(|i| SimCustomer::new(format!("4477009{i:05}"), format!("Customer {i}")))
        .collect();
    sim_config.status_interval = Duration::from_millis(500);
    let sim = Simulator::new(sim_config);
    tokio::spawn(simulator::serve(
        sim.clone(),
        sim_listener,
        std::future::pending(),
    ));

    // Phase one: sending off (no token); customers write, replies are queued.
    let store = crate::keyring::unlock(&config, crate::open_store(&config).await?).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::launch(
        config.clone(),
        store.clone(),
        veilbox_listener,
        async {
            let _ = stopped.await;
        },
    ));
    for i in 0..args.customers {
        sim.customer_says(&format!("4477009{i:05}"), "hello")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut conversations = Vec::new();
    for _ in 0..400 {
        conversations = store.conversations(None, 200).await?.items;
        if conversations.len() >= args.customers.min(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if conversations.is_empty() {
        bail!("no conversation was stored");
    }
    for i in 0..args.replies {
        let conversation = &conversations[i % conversations.len()];
        let payload = ReplyPayload::Text {
            body: format!("Your parcel update {i}"),
            preview_url: false,
            reply_to: None,
        };
        store
            .queue_reply(&conversation.id, "bench", &payload)
            .await?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let _ = stop.send(());
    server.await.context("server task")??;

    // Phase two: the same database with sending on.
    config.whatsapp.access_token = Some(SecretString::from(token));
    let store = crate::keyring::unlock(&config, crate::open_store(&config).await?).await?;
    let listener = TcpListener::bind(veilbox_address).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let server = tokio::spawn(crate::launch(
        config.clone(),
        store.clone(),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = started + Duration::from_secs(600);
    loop {
        let counts = store.outbox_counts().await?;
        let sent = counts
            .iter()
            .find(|(state, _)| state == "sent")
            .map_or(0, |(_, n)| *n);
        if sent as usize >= args.replies {
            break;
        }
        if Instant::now() > deadline {
            bail!("not all replies were sent within 10 minutes: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server.await.context("server task")??;

    // What the Graph API saw: accepted sends per second of its clock.
    let mut per_second: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for i in 0..args.customers {
        for item in sim.sent_to(&format!("4477009{i:05}")) {
            *per_second.entry(item.timestamp).or_default() += 1;
        }
    }
    let busiest = per_second.values().copied().max().unwrap_or(0);
    let twice = sim
        .counters()
        .accepted_by_callback_data
        .values()
        .filter(|n| **n > 1)
        .count();
    println!(
        "outbox bench: {} replies over {} conversations, rate limit {}",
        args.replies,
        conversations.len(),
        if args.rate == 0 {
            "lifted".to_owned()
        } else {
            format!("{}/s per number", args.rate)
        }
    );
    println!(
        "sent {} in {:.2} s = {:.0} sends/s; busiest second at the Graph API: {} sends; sent twice: {}",
        args.replies,
        elapsed.as_secs_f64(),
        args.replies as f64 / elapsed.as_secs_f64(),
        busiest,
        twice
    );
    Ok(())
}

/// Options of `veilbox bench live`.
#[derive(Debug, clap::Args)]
pub struct LiveBenchArgs {
    /// Probe messages to time.
    #[arg(long, default_value_t = 300)]
    pub probes: usize,
    /// Background customer messages per second while probing.
    #[arg(long, default_value_t = 200)]
    pub load: u32,
}

/// Customer message → event on a signed-in agent's live stream (`/inbox/events`), timed
/// from the moment the webhook is posted, while other customers write at `--load` per second.
pub async fn live(args: LiveBenchArgs) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    use std::sync::atomic::AtomicBool;

    let dir = tempfile::tempdir()?;
    let mut config = Config::from_sources(None, |_| None)?;
    // A throwaway master key: bench databases are deleted afterwards.
    config.master_key = Some(SecretString::from(
        veilbox_vault::MasterKey::generate().to_text().as_str(),
    ));
    config.database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.whatsapp.app_secret = Some(SecretString::from(BENCH_SECRET));
    config.whatsapp.verify_token = Some(SecretString::from("bench"));
    let password = "bench agent password, long enough";
    let store = crate::keyring::unlock(&config, crate::open_store(&config).await?).await?;
    // An agent of a team serving every inbox: they see the unassigned queue, as agents do.
    let team = store.ensure_team("Bench").await?;
    store
        .add_team_inbox(&team, veilbox_store::people::EVERY_INBOX)
        .await?;
    let agent_user = store
        .create_user("agent@bench.local", "Bench agent", "agent")
        .await?
        .context("a fresh database has no users")?;
    store.add_team_member(&team, &agent_user.id).await?;
    let hash = veilbox_core::credentials::password::hash(password)?;
    store.set_password_hash(&agent_user.id, &hash).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::launch(config, store.clone(), listener, async {
        let _ = stopped.await;
    }));

    // Sign in like a browser and open the live stream.
    let agent = reqwest::Client::builder().cookie_store(true).build()?;
    let login = agent
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = login
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the sign-in form has a csrf field")?
        .to_owned();
    let signed_in = agent
        .post(format!("{base}/login"))
        .form(&[
            ("email", "agent@bench.local"),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await?;
    if !signed_in.url().path().starts_with("/inbox") {
        bail!("sign-in failed ({})", signed_in.status());
    }
    let (events, mut event_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let events_url = format!("{base}/inbox/events");
    // The stream is opened in its own task: its response headers may only arrive with the
    // first event.
    let reader = tokio::spawn(async move {
        let stream = match agent.get(events_url).send().await {
            Ok(stream) if stream.status().is_success() => stream,
            Ok(refused) => {
                eprintln!("live stream refused: {}", refused.status());
                return;
            }
            Err(error) => {
                eprintln!("live stream failed: {error}");
                return;
            }
        };
        let mut body = stream.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: message") {
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                        let value: serde_json::Value =
                            serde_json::from_str(data).unwrap_or_default();
                        if let Some(id) = value["conversation_id"].as_str() {
                            let _ = events.send((id.to_owned(), Instant::now()));
                        }
                    }
                }
            }
        }
    });

    // Background load: other customers writing at a steady rate.
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let (running, url, client) = (
            Arc::clone(&running),
            format!("{base}/webhooks/whatsapp"),
            reqwest::Client::new(),
        );
        let period = Duration::from_secs_f64(1.0 / f64::from(args.load.max(1)));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            let mut n = 0usize;
            let mut sent = 0usize;
            while running.load(Ordering::Relaxed) {
                tick.tick().await;
                let body = customer_message(
                    &format!("4477008{:05}", n % 500),
                    &format!("wamid.LOAD{n:09}"),
                    "is my parcel out for delivery?",
                );
                n += 1;
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let header = signature::sign(BENCH_SECRET.as_bytes(), &body);
                    let _ = client
                        .post(&url)
                        .header(signature::HEADER, header)
                        .body(body)
                        .send()
                        .await;
                });
                sent += 1;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let poster = reqwest::Client::new();
    let url = format!("{base}/webhooks/whatsapp");
    let mut latency = Histogram::<u64>::new(3)?;
    let mut probe_conversation: Option<String> = None;
    for i in 0..args.probes {
        let body = customer_message(
            "447700999999",
            &format!("wamid.PROBE{i:09}"),
            "probe: where is my parcel?",
        );
        let header = signature::sign(BENCH_SECRET.as_bytes(), &body);
        let sent = Instant::now();
        let response = poster
            .post(&url)
            .header(signature::HEADER, header)
            .body(body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("probe webhook answered {}", response.status());
        }
        if probe_conversation.is_none() {
            let row = sqlx::query(
                "SELECT c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id WHERE cu.wa_id = $1",
            )
            .bind(store.keyring()?.wa_index("447700999999"))
            .fetch_one(store.pool())
            .await?;
            probe_conversation = Some(row.try_get("id")?);
        }
        let wanted = probe_conversation.as_deref().unwrap_or_default();
        let arrived = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some((conversation, at)) = event_rx.recv().await {
                if conversation == wanted {
                    return Some(at);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("the probe's event never reached the live stream")?;
        latency.record(arrived.saturating_duration_since(sent).as_micros() as u64)?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.store(false, Ordering::Relaxed);
    let background = load.await?;
    // Close the live stream, or the server's graceful shutdown would wait for it.
    reader.abort();
    let _ = stop.send(());
    server.await.context("server task")??;
    println!(
        "live bench: {} probes while {} background messages arrived at {}/s",
        args.probes, background, args.load
    );
    println!(
        "customer message -> agent's live stream: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latency.value_at_quantile(0.50) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.max() as f64 / 1000.0
    );
    Ok(())
}

fn customer_message(wa_id: &str, wamid: &str, text: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"230811736742955","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550123456","phone_number_id":"118440581239876"}},"contacts":[{{"profile":{{"name":"Bench"}},"wa_id":"{wa_id}"}}],"messages":[{{"from":"{wa_id}","id":"{wamid}","timestamp":"1780000000","type":"text","text":{{"body":"{text}"}}}}]}},"field":"messages"}}]}}]}}"#
    )
    .into_bytes()
}
