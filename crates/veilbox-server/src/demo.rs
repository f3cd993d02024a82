//! `veilbox demo`: Veilbox and the WhatsApp simulator wired to each other on the embedded
//! SQLite database, with a demo courier company's customers and conversations.
//!
//! It honours the `VEILBOX_*` settings like `serve`; what is not set gets a demo value
//! (the database under `veilbox-data/demo/`, fresh random secrets, the simulator as the
//! Graph API). Rerunning keeps the data; `--reset` starts clean.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::distributions::Alphanumeric;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use tokio::net::TcpListener;
use veilbox_store::outbox::ReplyPayload;
use veilbox_store::Store;
use veilbox_whatsapp::simulator::{self, CustomerMessage, SimCustomer, Simulator, SimulatorConfig};

use veilbox_core::credentials::{password, totp::TotpSecret};
use veilbox_store::people::EVERY_INBOX;

use crate::config::{Config, TemplateConfig, DEFAULT_DATABASE_URL};

/// Where the demo keeps its database unless `VEILBOX_DATABASE_URL` says otherwise.
pub const DEMO_DATABASE_URL: &str = "sqlite://veilbox-data/demo/veilbox.db";
/// The demo's master key file, made on first run (`--reset` keeps it: it holds no data).
pub const DEMO_MASTER_KEY_FILE: &str = "veilbox-data/demo/master.key";

/// Options of `veilbox demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Delete the demo database first and seed it again.
    #[arg(long)]
    pub reset: bool,
}

/// The demo courier's customers: the spec's three plus two more locales.
fn demo_customers() -> Vec<SimCustomer> {
    let mut customers = simulator::demo_customers();
    customers.push(SimCustomer::new("919876543210", "Rahul Verma"));
    customers.push(SimCustomer::new("6281234567890", "Siti Rahmawati"));
    customers
}

/// What the demo customers wrote: realistic courier chat, with the data masking must hide
/// (addresses, phones, a card number, an OTP) next to what agents need (tracking numbers,
/// delivery slots).
const SCRIPT: &[(&str, &str)] = &[
    ("15555550142", "Hi, my parcel 1Z999AA10123456784 was due yesterday and still hasn't arrived. Can you check?"),
    ("15555550142", "I'm at 221B Baker Street, London NW1 6XE. Please deliver in the 14:00-16:00 slot, I'm working from home."),
    ("447700900461", "The driver is asking for the delivery code, it's 482913. Also I was charged twice on my card 4111 1111 1111 1111 for the COD fee?"),
    ("5511987650123", "Olá! Meu pedido BR123456785BR está parado. Endereço: Av. Paulista 1578, Bela Vista, São Paulo, CEP 01310-200."),
    ("919876543210", "Please call me on +91 98765 43210 before delivery. Flat 12B, Sea View Apartments, Hill Road, Bandra West, Mumbai 400050"),
    ("6281234567890", "Halo, paket saya JNE 8825091234567 belum sampai. Alamat: Jl. Sudirman No. 45, Jakarta Selatan 12190"),
];

/// Templates the demo business has "approved".
fn demo_templates() -> Vec<TemplateConfig> {
    vec![
        TemplateConfig {
            name: "delivery_update".into(),
            language: "en_GB".into(),
            text: "Hello, this is Veilbox Couriers with an update on your delivery. Reply to this message to continue.".into(),
        },
        TemplateConfig {
            name: "missed_delivery".into(),
            language: "en_GB".into(),
            text: "We tried to deliver your parcel today. Reply to choose a new delivery slot.".into(),
        },
    ]
}

fn random_secret(len: usize) -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs, mut config: Config) -> anyhow::Result<()> {
    if config.database_url == DEFAULT_DATABASE_URL {
        config.database_url = DEMO_DATABASE_URL.to_owned();
    }
    if args.reset {
        reset(&config.database_url)?;
    }
    // The demo keeps its own master key beside its database, made on first run.
    if config.master_key.is_none()
        && config.master_key_file == std::path::Path::new(crate::config::DEFAULT_MASTER_KEY_FILE)
    {
        config.master_key_file = PathBuf::from(DEMO_MASTER_KEY_FILE);
    }
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        anyhow::anyhow!(
            "configuration error: VEILBOX_LISTEN: cannot bind {}: {e}",
            config.listen
        )
    })?;
    let world = World::start(config, listener).await?;

    println!("Veilbox demo: a courier company's WhatsApp inbox, with a simulated WhatsApp.");
    println!("  inbox:      http://{}/login", world.address);
    println!("  sign-ins (passwords are new at every start; TOTP keys stay):");
    for person in &world.people {
        print!(
            "    {:<11} {:<30} {}",
            person.role,
            person.email,
            person.password.expose_secret()
        );
        match &person.totp_key {
            Some(key) => println!("   TOTP key {key}  (oathtool --totp -b {key})"),
            None => println!(),
        }
    }
    println!(
        "  simulator:  http://{}/simulator   (chat as a demo customer)",
        world.simulator_address
    );
    println!(
        "  database:   {}{}",
        world.database_url,
        if world.seeded { " (seeded)" } else { "" }
    );
    println!("listening on http://{}", world.address);

    crate::shutdown_signal().await;
    world.stop().await
}

/// Veilbox and the simulator running with the demo company: what `veilbox demo` serves and
/// what the exposure replay works on.
pub struct World {
    /// Where Veilbox listens.
    pub address: SocketAddr,
    /// Where the simulator (the fake Graph API and the customers' phone page) listens.
    pub simulator_address: SocketAddr,
    /// The simulator, to make customers write and to read what they received.
    pub simulator: Simulator,
    /// The database.
    pub store: Store,
    /// The demo sign-ins.
    pub people: Vec<DemoPerson>,
    /// The database URL in use.
    pub database_url: String,
    /// Whether this start seeded the conversations (a fresh database).
    pub seeded: bool,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    sim_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl World {
    /// Starts Veilbox on `listener` and the simulator beside it, with demo secrets, people,
    /// templates, conversations and shipments (seeded when the database is new).
    pub async fn start(mut config: Config, listener: TcpListener) -> anyhow::Result<World> {
        if config.master_key.is_none() && !config.master_key_file.exists() {
            crate::keyring::create_master_key(&config.master_key_file)?;
        }
        let app_secret = config
            .whatsapp
            .app_secret
            .clone()
            .unwrap_or_else(|| SecretString::from(random_secret(32)));
        let access_token = config
            .whatsapp
            .access_token
            .clone()
            .unwrap_or_else(|| SecretString::from(random_secret(40)));
        config.whatsapp.app_secret = Some(app_secret.clone());
        config.whatsapp.access_token = Some(access_token.clone());
        if config.whatsapp.verify_token.is_none() {
            config.whatsapp.verify_token = Some(SecretString::from(random_secret(16)));
        }
        if config.whatsapp.templates.is_empty() {
            config.whatsapp.templates = demo_templates();
        }
        let address = listener.local_addr()?;
        let simulator_listener = bind_simulator(address).await?;
        let simulator_address = simulator_listener.local_addr()?;
        config.whatsapp.graph_url = format!("http://{simulator_address}");

        let store = crate::keyring::unlock(&config, crate::open_store(&config).await?).await?;
        let mut sim_config = SimulatorConfig::new(
            app_secret,
            access_token,
            format!("http://{address}/webhooks/whatsapp"),
        );
        sim_config.verify_token = config.whatsapp.verify_token.clone();
        sim_config.public_url = Some(format!("http://{simulator_address}"));
        sim_config.templates = config
            .whatsapp
            .templates
            .iter()
            .map(|t| t.name.clone())
            .collect();
        sim_config.customers = remembered_windows(&store, demo_customers()).await?;
        let simulator = Simulator::new(sim_config);

        let seeded = conversation_count(&store).await? == 0;
        let keys = store.keyring()?.clone();
        let people = demo_people(&store, &keys)
            .await
            .context("creating the demo users")?;
        let agent_id = people
            .iter()
            .find(|p| p.email == DEMO_AGENT)
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let sim_task = {
            let mut stopped = stopped.clone();
            tokio::spawn(simulator::serve(
                simulator.clone(),
                simulator_listener,
                async move {
                    let _ = stopped.changed().await;
                },
            ))
        };
        let database_url = config.database_url.clone();
        let server = {
            let mut stopped = stopped.clone();
            tokio::spawn(crate::launch(config, store.clone(), listener, async move {
                let _ = stopped.changed().await;
            }))
        };
        if seeded {
            seed(&simulator, &store, &agent_id)
                .await
                .context("seeding the demo")?;
        }
        Ok(World {
            address,
            simulator_address,
            simulator,
            store,
            people,
            database_url,
            seeded,
            stop,
            server,
            sim_task,
        })
    }

    /// Stops Veilbox (draining the webhook writer) and the simulator.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.server.await.context("server task")??;
        let _ = self.sim_task.await;
        Ok(())
    }
}

/// The simulator listens on the next port after Veilbox's (any free port when Veilbox's
/// was chosen by the system or the next one is taken).
async fn bind_simulator(veilbox: SocketAddr) -> anyhow::Result<TcpListener> {
    let mut address = veilbox;
    if let Some(next) = veilbox.port().checked_add(1) {
        address.set_port(next);
        if let Ok(listener) = TcpListener::bind(address).await {
            return Ok(listener);
        }
    }
    address.set_port(0);
    Ok(TcpListener::bind(address).await?)
}

/// Deletes a SQLite demo database and its WAL.
fn reset(database_url: &str) -> anyhow::Result<()> {
    let Some(path) = database_url.strip_prefix("sqlite://") else {
        bail!("--reset only works on a SQLite database; empty the PostgreSQL database yourself");
    };
    let path = PathBuf::from(path.split('?').next().unwrap_or(path));
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("removing the demo database"),
        }
    }
    Ok(())
}

async fn conversation_count(store: &Store) -> anyhow::Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM conversations")
        .fetch_one(store.pool())
        .await?
        .try_get("n")?)
}

/// The simulator plays Meta, which remembers when each customer last wrote: on a rerun,
/// take that from the stored conversations so the 24-hour windows agree.
async fn remembered_windows(
    store: &Store,
    mut customers: Vec<SimCustomer>,
) -> anyhow::Result<Vec<SimCustomer>> {
    for customer in &mut customers {
        let row = sqlx::query(
            "SELECT MAX(c.last_inbound_at) AS at FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             WHERE cu.wa_id = $1",
        )
        .bind(store.keyring()?.wa_index(&customer.wa_id))
        .fetch_one(store.pool())
        .await?;
        let at: Option<i64> = row.try_get("at")?;
        customer.last_inbound_at = at.map(|ms| ms / 1000);
    }
    Ok(customers)
}

/// The demo agent of the Dispatch team.
pub const DEMO_AGENT: &str = "agent@veilbox.local";

/// One demo sign-in.
pub struct DemoPerson {
    /// User id.
    pub id: String,
    /// Sign-in e-mail.
    pub email: String,
    /// Role.
    pub role: &'static str,
    /// This start's password.
    pub password: SecretString,
    /// The TOTP key of those who need a second factor.
    pub totp_key: Option<String>,
}

/// One user per role in a "Dispatch" team that serves every inbox, and one agent of a
/// "Returns" team that serves none (it shows what another team's agent cannot see). The
/// passwords are set fresh at every start and printed; supervisors and admins get a TOTP
/// key (kept across starts) because their role requires a second factor.
async fn demo_people(
    store: &Store,
    keys: &crate::keyring::KeyRing,
) -> anyhow::Result<Vec<DemoPerson>> {
    let dispatch = store.ensure_team("Dispatch").await?;
    store.add_team_inbox(&dispatch, EVERY_INBOX).await?;
    let returns = store.ensure_team("Returns").await?;
    let cast: [(&str, &str, &'static str, Option<&str>); 5] = [
        (DEMO_AGENT, "Asha (agent)", "agent", Some(dispatch.as_str())),
        (
            "agent.returns@veilbox.local",
            "Rui (returns agent)",
            "agent",
            Some(returns.as_str()),
        ),
        (
            "supervisor@veilbox.local",
            "Sam (supervisor)",
            "supervisor",
            Some(dispatch.as_str()),
        ),
        ("admin@veilbox.local", "Ade (admin)", "admin", None),
        ("auditor@veilbox.local", "Aud (auditor)", "auditor", None),
    ];
    let mut people = Vec::new();
    for (email, name, role, team) in cast {
        let user = match store.user_by_email(email).await? {
            Some(user) => user,
            None => store
                .create_user(email, name, role)
                .await?
                .context("demo user vanished")?,
        };
        if let Some(team) = team {
            if role == "supervisor" {
                store.set_team_supervisor(team, &user.id).await?;
            } else {
                store.add_team_member(team, &user.id).await?;
            }
        }
        // Four random words' worth of letters: long, and not in any list of common ones.
        let secret = format!(
            "{}-{}-{}",
            random_secret(6),
            random_secret(6),
            random_secret(6)
        );
        let typed = secret.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&typed)).await??;
        store.set_password_hash(&user.id, &hash).await?;
        let totp_key = if matches!(role, "supervisor" | "admin") {
            match user
                .totp_secret
                .as_deref()
                .and_then(|stored| crate::keyring::open_totp(keys, &user.id, stored))
            {
                Some(existing) if user.totp_enabled => Some(existing.to_base32()),
                _ => {
                    let fresh = TotpSecret::generate();
                    store
                        .begin_totp(&user.id, &crate::keyring::seal_totp(keys, &user.id, &fresh))
                        .await?;
                    store.accept_totp_step(&user.id, 0).await?;
                    Some(fresh.to_base32())
                }
            }
        } else {
            None
        };
        people.push(DemoPerson {
            id: user.id,
            email: email.to_owned(),
            role,
            password: SecretString::from(secret),
            totp_key,
        });
    }
    Ok(people)
}

/// Customers write through the simulator (signed webhooks, as in production); an agent
/// answers two of them.
async fn seed(simulator: &Simulator, store: &Store, agent: &str) -> anyhow::Result<()> {
    for (wa_id, text) in SCRIPT {
        simulator
            .customer_says(wa_id, text)
            .await
            .map_err(|e| anyhow::anyhow!("simulated customer: {e}"))?;
    }
    simulator
        .customer_sends(
            "6281234567890",
            CustomerMessage::Location {
                latitude: -6.2253,
                longitude: 106.8022,
                name: Some("Rumah".into()),
                address: Some("Jl. Sudirman No. 45, Jakarta Selatan".into()),
            },
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("simulated customer: {e}"))?;
    // Webhooks are acknowledged asynchronously by the running server: wait for them.
    let expected = SCRIPT.len() as i64 + 1;
    for _ in 0..100 {
        let stored: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE direction = 'inbound'")
                .fetch_one(store.pool())
                .await?
                .try_get("n")?;
        if stored >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replies = [
        (
            "15555550142",
            "Thanks Priya, your parcel is out for delivery today in the 14:00-16:00 slot.",
        ),
        (
            "5511987650123",
            "Olá Ana, seu pedido sai para entrega amanhã de manhã.",
        ),
    ];
    for (wa_id, text) in replies {
        let row = sqlx::query(
            "SELECT c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             WHERE cu.wa_id = $1 AND c.state <> 'resolved'",
        )
        .bind(store.keyring()?.wa_index(wa_id))
        .fetch_optional(store.pool())
        .await?;
        if let Some(row) = row {
            let id: String = row.try_get("id")?;
            let payload = ReplyPayload::Text {
                body: text.into(),
                preview_url: false,
                reply_to: None,
            };
            store.assign_conversation(&id, Some(agent)).await?;
            store
                .queue_reply(&id, agent, &payload)
                .await?
                .map_err(|e| anyhow::anyhow!("seed reply: {e:?}"))?;
        }
    }
    seed_shipments(store).await
}

/// One of the demo courier's shipments.
struct DemoShipment {
    tracking: &'static str,
    status: veilbox_store::crm::ShipmentStatus,
    phone: &'static str,
    name: &'static str,
    address: &'static str,
    /// Today's delivery slot, from and to the hour (UTC).
    slot_hours: Option<(i64, i64)>,
    instructions: Option<&'static str>,
    /// Cash on delivery: minor units and currency.
    cod: Option<(i64, &'static str)>,
}

/// The demo courier's shipments for its customers, as an import would bring them: the
/// cards beside the conversations show them.
async fn seed_shipments(store: &Store) -> anyhow::Result<()> {
    use veilbox_store::crm::import::ShipmentRow;
    use veilbox_store::crm::{ShipmentStatus, TrackingNumber};
    let hour = 3_600_000;
    let today = veilbox_store::now_ms() / (24 * hour) * (24 * hour);
    let shipments = [
        DemoShipment {
            tracking: "1Z999AA10123456784",
            status: ShipmentStatus::OutForDelivery,
            phone: "+15555550142",
            name: "Priya Nair",
            address: "221B Baker Street, London NW1 6XE",
            slot_hours: Some((14, 16)),
            instructions: Some("Working from home; ring the bell"),
            cod: None,
        },
        DemoShipment {
            tracking: "RR123456785GB",
            status: ShipmentStatus::InTransit,
            phone: "+447700900461",
            name: "Oliver Bennett",
            address: "14 Mill Lane, Leeds LS1 4AB",
            slot_hours: None,
            instructions: Some("Leave with the neighbour at 16"),
            cod: Some((1250, "GBP")),
        },
        DemoShipment {
            tracking: "BR123456785BR",
            status: ShipmentStatus::InTransit,
            phone: "+5511987650123",
            name: "Ana Souza",
            address: "Av. Paulista 1578, Bela Vista, São Paulo, CEP 01310-200",
            slot_hours: Some((9, 12)),
            instructions: None,
            cod: None,
        },
        DemoShipment {
            tracking: "EE123456785IN",
            status: ShipmentStatus::OutForDelivery,
            phone: "+919876543210",
            name: "Rahul Verma",
            address: "Flat 12B, Sea View Apartments, Hill Road, Bandra West, Mumbai 400050",
            slot_hours: Some((10, 13)),
            instructions: Some("Call before delivery"),
            cod: Some((49900, "INR")),
        },
    ];
    let mut rows = Vec::new();
    for s in shipments {
        let slot = s.slot_hours;
        rows.push(ShipmentRow {
            tracking: TrackingNumber::parse(s.tracking)
                .map_err(|e| anyhow::anyhow!("demo tracking number: {e}"))?,
            status: s.status,
            status_at: None,
            customer_phone: Some(s.phone.to_owned()),
            customer_email: None,
            customer_name: Some(s.name.to_owned()),
            sender_name: Some("Veilbox Couriers".to_owned()),
            recipient_name: Some(s.name.to_owned()),
            recipient_phone: Some(s.phone.to_owned()),
            address: Some(s.address.to_owned()),
            instructions: s.instructions.map(str::to_owned),
            slot_start: slot.map(|(from, _)| today + from * hour),
            slot_end: slot.map(|(_, to)| today + to * hour),
            eta: slot.map(|(from, _)| today + from * hour),
            cod_amount_minor: s.cod.map(|(amount, _)| amount),
            cod_currency: s.cod.map(|(_, currency)| currency.to_owned()),
        });
    }
    store.import_shipments(&rows).await?;
    Ok(())
}
