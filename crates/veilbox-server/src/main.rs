//! `veilbox`: the one binary. Parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use veilbox_server::config::Config;
use veilbox_server::{bench, launch, open_store, shutdown_signal, telemetry};

/// mimalloc: the import and ingest paths allocate many small short-lived values (bind
/// parameters, sealed strings), where glibc malloc showed ~18% of an import's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod mask_cli;

/// Veilbox: a self-hosted secure shared WhatsApp inbox for courier companies.
#[derive(Debug, Parser)]
#[command(name = "veilbox", version, about)]
struct Cli {
    /// Configuration file (default: ./veilbox.toml when it exists). Environment variables
    /// (VEILBOX_*) override it.
    #[arg(long, global = true, env = "VEILBOX_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: webhook, JSON API, agent inbox.
    Serve,
    /// Run Veilbox with the WhatsApp simulator and a demo courier company (embedded SQLite).
    Demo(veilbox_server::demo::DemoArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Find and mask sensitive data in JSONL messages (stdin or FILE).
    Mask(mask_cli::MaskArgs),
    /// People: add a user and print their one-time set-password link.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The master key that wraps every data key (never stored in the database).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Apply the retention policy now: delete what is older than each kind's period
    /// (Veilbox also does this daily while it runs).
    Purge {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Erase a customer for good (right to be forgotten): their data key is destroyed.
    #[command(subcommand)]
    Erase(EraseCommand),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Import data into the CRM.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Webhook bodies kept aside: quarantined (stored, not normalised yet).
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// Lists the quarantined events: when each arrived, how often it was tried, why it failed.
    Quarantine,
    /// Normalises the quarantined events again (after an upgrade, or once what refused them
    /// is put right); each that fails again stays quarantined. Audited.
    Reprocess {
        /// At most this many events, oldest first.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Upserts shipments from a CSV file by tracking number (docs/shipments-import.md);
    /// reports every rejected row as (row, column, reason).
    Shipments(veilbox_server::import::ImportShipmentsArgs),
}

#[derive(Debug, Subcommand)]
enum EraseCommand {
    /// Destroys the customer's data key and clears their messages, raw events, queued
    /// replies and CRM rows; their conversations remain as "erased customer". Audited.
    Customer {
        /// The customer's id (as shown on their card and in the API).
        id: String,
        /// Why: recorded in the audit log (for example the request's reference).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Adds a user (agent, supervisor, admin, auditor or a custom role) and prints a
    /// one-time link to set their password.
    Add {
        /// Their e-mail: the sign-in name.
        #[arg(long)]
        email: String,
        /// Their role.
        #[arg(long)]
        role: String,
        /// A team to put them in (created when new; a supervisor leads it).
        #[arg(long)]
        team: Option<String>,
        /// How colleagues see them (default: the e-mail's local part).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Creates the master key file (VEILBOX_MASTER_KEY_FILE, mode 0600); never overwrites.
    Init,
    /// Re-wraps every data key under a new master key, created at NEW_FILE. Veilbox may keep
    /// serving meanwhile; point VEILBOX_MASTER_KEY_FILE at NEW_FILE before its next start.
    Rotate {
        /// Where to create the new master key file.
        #[arg(long)]
        new_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recomputes the hash chain from the first row; names the first row that was
    /// changed, deleted or reordered and exits non-zero.
    Verify,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Signed webhook posts over real HTTP into a fresh database, then the store's own
    /// ceiling without HTTP.
    Ingest(bench::IngestBenchArgs),
    /// Queued replies delivered to the simulator's Graph API: sends per second.
    Outbox(bench::OutboxBenchArgs),
    /// Customer message to the event on an agent's live stream, under background load.
    Live(bench::LiveBenchArgs),
    /// A generated shipments CSV imported into a fresh SQLite database: rows per second.
    Import(veilbox_server::import::bench::ImportBenchArgs),
    /// Replays the demo conversations as a scripted agent and reports how much personal
    /// data reached the agent and how many reveals the work needed.
    Exposure(veilbox_server::replay::ExposureArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Mask(args) => report(mask_cli::run(args)),
        command => {
            telemetry::init();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => return report(Err(error.into())),
            };
            report(runtime.block_on(run(command, cli.config)))
        }
    }
}

async fn run(command: Command, config_file: Option<PathBuf>) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let config = Config::load(config_file.as_deref())?;
            config.require_for_serve()?;
            // The master key is checked before anything is opened: a missing key is a
            // configuration error, named as one.
            veilbox_server::keyring::master_key(&config)?;
            let store =
                veilbox_server::keyring::unlock(&config, open_store(&config).await?).await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "configuration error: VEILBOX_LISTEN: cannot bind {}: {e}",
                        config.listen
                    )
                })?;
            println!("listening on http://{}", listener.local_addr()?);
            launch(config, store, listener, shutdown_signal()).await
        }
        Command::Migrate => {
            let config = Config::load(config_file.as_deref())?;
            open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo(args) => {
            let config = Config::load(config_file.as_deref())?;
            veilbox_server::demo::run(args, config).await
        }
        Command::User(UserCommand::Add {
            email,
            role,
            team,
            name,
        }) => {
            let config = Config::load(config_file.as_deref())?;
            let store = open_store(&config).await?;
            let access = veilbox_server::auth::Access::load(&store).await?;
            let by = veilbox_server::staff::By {
                actor: "cli",
                address: None,
                user_agent: None,
            };
            let invited = veilbox_server::staff::add_user(
                &store,
                &access.roles(),
                &email,
                name.as_deref(),
                &role,
                team.as_deref(),
                by,
            )
            .await?;
            println!(
                "added {} ({role}); send them this one-time link to set a password (valid 72 hours):",
                invited.user.email
            );
            println!("{}{}", config.base_url(), invited.link_path);
            store.close().await;
            Ok(())
        }
        Command::Keys(KeysCommand::Init) => {
            let config = Config::load(config_file.as_deref())?;
            let key = veilbox_server::keyring::create_master_key(&config.master_key_file)?;
            println!(
                "master key {} written to {} (mode 0600). Back it up apart from the database: without it nothing encrypted can be read.",
                key.id(),
                config.master_key_file.display()
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { new_file }) => {
            let config = Config::load(config_file.as_deref())?;
            let old = veilbox_server::keyring::master_key(&config)?;
            let store = open_store(&config).await?;
            let new = veilbox_server::keyring::create_master_key(&new_file)?;
            let new_id = new.id();
            let count = veilbox_server::keyring::rotate(&store, old, new).await?;
            store.close().await;
            println!(
                "{count} data keys re-wrapped under master key {new_id} ({}).\nAt the next start set VEILBOX_MASTER_KEY_FILE={} and VEILBOX_MASTER_KEY_PREVIOUS_FILE=<the old key file>: keys made by Veilbox meanwhile are re-wrapped then. Destroy the old key only after that start.",
                new_file.display(),
                new_file.display()
            );
            Ok(())
        }
        Command::Purge { dry_run } => {
            let config = Config::load(config_file.as_deref())?;
            let store = open_store(&config).await?;
            let report = store
                .purge(&config.retention, veilbox_store::now_ms(), dry_run)
                .await?;
            if !dry_run {
                let summary = report.summary();
                let by = veilbox_server::staff::By {
                    actor: "cli",
                    address: None,
                    user_agent: None,
                };
                store
                    .audit(&by.entry("retention.purged", None, Some(&summary)))
                    .await?;
            }
            store.close().await;
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!(
                "retention {verb}: {} messages (of which {} media), {} closed shipments, {} dead letters; {} raw webhook bodies {}",
                report.messages,
                report.media,
                report.closed_shipments,
                report.dead_letters,
                report.raw_events,
                if dry_run { "would be cleared" } else { "cleared" }
            );
            Ok(())
        }
        Command::Webhooks(WebhooksCommand::Quarantine) => {
            let config = Config::load(config_file.as_deref())?;
            let store =
                veilbox_server::keyring::unlock(&config, open_store(&config).await?).await?;
            let events = store.quarantined_events(1000).await?;
            store.close().await;
            let scanner = veilbox_mask::Scanner::new(veilbox_mask::ScannerConfig::default())?;
            println!("{} quarantined webhook events", events.len());
            for q in events {
                // An error text can quote a value: printed masked.
                let findings = scanner.scan(&q.reason, &veilbox_mask::Hints::new());
                println!(
                    "{}  received {}  attempts {}  {}",
                    q.event_id,
                    veilbox_server::api::rfc3339(q.received_at),
                    q.attempts,
                    veilbox_mask::mask(&q.reason, &findings, &veilbox_mask::Policy::full())
                );
            }
            Ok(())
        }
        Command::Webhooks(WebhooksCommand::Reprocess { limit }) => {
            let config = Config::load(config_file.as_deref())?;
            let store =
                veilbox_server::keyring::unlock(&config, open_store(&config).await?).await?;
            let (ingestor, writer) =
                veilbox_store::ingest::Ingestor::spawn(store.clone(), config.whatsapp.auto_inbox);
            let report = ingestor.reprocess_quarantined(limit).await?;
            drop(ingestor);
            let _ = writer.await;
            let summary = format!(
                "{} tried, {} normalised, {} still quarantined",
                report.tried, report.normalised, report.still_quarantined
            );
            let by = veilbox_server::staff::By {
                actor: "cli",
                address: None,
                user_agent: None,
            };
            store
                .audit(&by.entry("webhooks.reprocessed", None, Some(&summary)))
                .await?;
            store.close().await;
            println!("quarantined webhook events: {summary}");
            Ok(())
        }
        Command::Erase(EraseCommand::Customer { id, reason }) => {
            let config = Config::load(config_file.as_deref())?;
            let store =
                veilbox_server::keyring::unlock(&config, open_store(&config).await?).await?;
            let by = veilbox_server::staff::By {
                actor: "cli",
                address: None,
                user_agent: None,
            };
            let report = veilbox_server::erasure::erase_customer(&store, &id, &reason, by).await;
            store.close().await;
            let report = report?;
            println!(
                "customer {id} erased: data key destroyed; {} messages, {} raw events and {} CRM rows cleared; {} queued replies cancelled",
                report.messages, report.raw_events, report.crm_rows, report.sends_cancelled
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let config = Config::load(config_file.as_deref())?;
            // Offline: the database as it is, without migrating or starting anything.
            let store = veilbox_store::Store::connect(&config.database_url).await?;
            let verdict = store.verify_audit_chain().await?;
            store.close().await;
            match verdict {
                Ok(head) => {
                    println!("audit log intact: {} rows, head {}", head.rows, head.hash);
                    Ok(())
                }
                Err(broken) => anyhow::bail!("audit log broken: {broken}"),
            }
        }
        Command::Bench(BenchCommand::Ingest(args)) => bench::ingest(args).await,
        Command::Bench(BenchCommand::Outbox(args)) => bench::outbox(args).await,
        Command::Bench(BenchCommand::Live(args)) => bench::live(args).await,
        Command::Bench(BenchCommand::Exposure(args)) => veilbox_server::replay::run(args).await,
        Command::Bench(BenchCommand::Import(args)) => {
            veilbox_server::import::bench::run(args).await
        }
        Command::Import(ImportCommand::Shipments(args)) => {
            let config = Config::load(config_file.as_deref())?;
            veilbox_server::import::run(&config, args).await
        }
        Command::Mask(_) => Ok(()),
    }
}

/// Errors end the process with one line on stderr and a non-zero status.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("veilbox: {error:#}");
            ExitCode::FAILURE
        }
    }
}
