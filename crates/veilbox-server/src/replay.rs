//! `veilbox bench exposure`: how much personal data an agent is exposed to while doing
//! their work.
//!
//! It starts the demo (Veilbox, the simulator, the demo company's conversations and
//! shipments) on a throw-away SQLite database, signs in as the demo agent over HTTP and
//! works every open conversation the way an agent does: take it, read the thread and the
//! customer card, answer, confirm the delivery address with blind placeholders (the agent
//! never sees the address; the server fills it in at send time), read the customer's
//! answer, resolve. Every byte the agent's browser receives is kept. Then it scans every
//! message of those conversations on the server (with the CRM values as hints) and counts
//! the findings whose value appears in anything the agent received, and the reveals the
//! work needed.

use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use sqlx::Row;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::demo::{DemoPerson, World, DEMO_AGENT};
use crate::exposure::content::MaskedMessage;
use crate::exposure::Exposure;

mod agent;
pub mod corpus;

/// Options of `veilbox bench exposure`.
#[derive(Debug, clap::Args)]
pub struct ExposureArgs {
    /// Print each conversation's figures too.
    #[arg(long)]
    pub verbose: bool,
    /// Instead of the demo's conversations, post this labelled JSONL corpus through the
    /// webhook (one customer per line) and report how many of its sensitive values reached
    /// the agent's browser.
    #[arg(long, value_name = "FILE.jsonl")]
    pub corpus: Option<std::path::PathBuf>,
    /// With --corpus: at most this many lines.
    #[arg(long, default_value_t = usize::MAX, hide_default_value = true)]
    pub limit: usize,
}

/// What the agent writes when the customer has a shipment: everything personal in it is
/// a placeholder.
const CONFIRM: &str = "Hello {{customer.name}}, your parcel {{shipment.tracking}} is booked \
    for {{shipment.slot}} to {{shipment.address}}. Reply YES if that is right.";
/// What the agent writes otherwise.
const ANSWER: &str = "Thank you, we are checking with the depot and will update you shortly.";

/// Runs the replay and prints its figures.
pub async fn run(args: ExposureArgs) -> anyhow::Result<()> {
    match &args.corpus {
        Some(corpus) => measure_corpus(corpus, args.limit)
            .await?
            .print(corpus, args.verbose),
        None => measure(args.verbose).await?.print(),
    }
    Ok(())
}

/// Posts a labelled corpus through the webhook of a throw-away demo and reads it back as
/// the demo agent (see [`corpus`]).
pub async fn measure_corpus(
    corpus: &std::path::Path,
    limit: usize,
) -> anyhow::Result<corpus::CorpusFigures> {
    let (_dir, world) = throwaway_demo().await?;
    let outcome = async {
        let (agent, _) = demo_agent(&world).await?;
        corpus::replay(&world, &agent, corpus, limit).await
    }
    .await;
    world.stop().await?;
    outcome
}

/// Runs the replay on a throw-away demo and returns its figures.
pub async fn measure(verbose: bool) -> anyhow::Result<Figures> {
    let (_dir, world) = throwaway_demo().await?;
    let outcome = replay(&world, verbose).await;
    world.stop().await?;
    outcome
}

/// The demo on a throw-away SQLite database (kept while the directory lives).
async fn throwaway_demo() -> anyhow::Result<(tempfile::TempDir, World)> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let mut config = Config::from_sources(None, |_| None).map_err(|e| anyhow::anyhow!("{e}"))?;
    config.database_url = format!("sqlite://{}", dir.path().join("veilbox.db").display());
    config.master_key_file = dir.path().join("master.key");
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let world = World::start(config, listener).await?;
    Ok((dir, world))
}

/// The replay's result.
#[derive(Debug, Default)]
pub struct Figures {
    /// Conversations worked.
    pub conversations: usize,
    /// Personal-data findings in their messages.
    pub findings: usize,
    /// Findings whose value appeared in something the agent received.
    pub shown: usize,
    /// The kinds of those.
    pub shown_kinds: Vec<String>,
    /// Reveals the agent asked for.
    pub reveals: usize,
    /// Conversations worked without a reveal.
    pub without_reveal: usize,
    /// Replies that confirmed the address by placeholder.
    pub placeholder_sends: usize,
    /// Of those, how many reached the customer with the real address.
    pub placeholder_delivered: usize,
    /// Bytes the agent's browser received.
    pub bytes_seen: usize,
}

impl Figures {
    /// Prints the figures.
    pub fn print(&self) {
        let share = |n: usize, of: usize| {
            if of == 0 {
                0.0
            } else {
                100.0 * n as f64 / of as f64
            }
        };
        println!("exposure replay of the demo conversations (scripted agent: take, read, answer, confirm the address by placeholder, resolve)");
        println!("  conversations worked:           {}", self.conversations);
        println!(
            "  personal-data findings:         {} (in every message of those conversations, scanned with the CRM values as hints)",
            self.findings
        );
        println!(
            "  shown unmasked to the agent:    {} ({:.1}% of findings) in {} bytes the agent's browser received{}",
            self.shown,
            share(self.shown, self.findings),
            self.bytes_seen,
            if self.shown_kinds.is_empty() {
                String::new()
            } else {
                format!(" [{}]", self.shown_kinds.join(", "))
            }
        );
        println!("  reveals needed:                 {}", self.reveals);
        println!(
            "  conversations with no reveal:   {} of {} ({:.1}%; target 95%)",
            self.without_reveal,
            self.conversations,
            share(self.without_reveal, self.conversations)
        );
        println!(
            "  addresses confirmed blind:      {} of {} placeholder replies reached the customer with the real address",
            self.placeholder_delivered, self.placeholder_sends
        );
    }
}

/// The demo agent, signed in over HTTP, and their demo sign-in.
async fn demo_agent(world: &World) -> anyhow::Result<(agent::Agent, &DemoPerson)> {
    let person = world
        .people
        .iter()
        .find(|p| p.email == DEMO_AGENT)
        .context("the demo agent")?;
    let base = format!("http://{}", world.address);
    let agent = agent::Agent::sign_in(&base, DEMO_AGENT, person.password.expose_secret()).await?;
    Ok((agent, person))
}

async fn replay(world: &World, verbose: bool) -> anyhow::Result<Figures> {
    let (agent, person) = demo_agent(world).await?;
    let scanner = std::sync::Arc::new(
        veilbox_mask::Scanner::new(veilbox_mask::ScannerConfig::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let open: Vec<(String, String, Option<String>)> = sqlx::query(
        "SELECT id, customer_id, assignee FROM conversations WHERE state <> 'resolved' \
         ORDER BY created_at",
    )
    .fetch_all(world.store.pool())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("customer_id")?,
            r.try_get("assignee")?,
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    if open.is_empty() {
        bail!("the demo has no open conversations");
    }
    let mut figures = Figures::default();
    let mut seen = String::new();
    seen.push_str(&agent.get("/inbox").await?);
    for (conversation, customer, assignee) in &open {
        let card = world
            .store
            .customer_card(customer)
            .await?
            .context("the customer's card")?;
        let wa_id = card.wa_number.clone().context("a WhatsApp number")?;
        // Take it from the queue (the demo already gave the agent some).
        if assignee.as_deref() != Some(person.id.as_str()) {
            agent
                .post_form(&format!("/inbox/c/{conversation}/assign"), &[("to", "me")])
                .await?;
        }
        seen.push_str(&agent.get(&format!("/inbox/c/{conversation}")).await?);
        seen.push_str(
            &agent
                .get(&format!("/api/v1/conversations/{conversation}/messages"))
                .await?,
        );
        let before = world.simulator.sent_to(&wa_id).len();
        let shipment = card.shipments.first();
        let text = if shipment.is_some_and(|s| s.address.is_some() && s.slot_start.is_some()) {
            figures.placeholder_sends += 1;
            CONFIRM
        } else {
            ANSWER
        };
        seen.push_str(
            &agent
                .post_form(
                    &format!("/inbox/c/{conversation}/reply"),
                    &[("body", text), ("confirm_warnings", "true")],
                )
                .await?,
        );
        // The customer receives the reply (with the real address when it had placeholders).
        // Other replies may reach them meanwhile (the demo's own, sent by the outbox): look
        // for this one among everything sent since.
        let address = shipment.and_then(|s| s.address.clone()).unwrap_or_default();
        let marker = if text == CONFIRM {
            address.clone()
        } else {
            ANSWER.to_owned()
        };
        let arrived = wait_for(|| {
            world
                .simulator
                .sent_to(&wa_id)
                .iter()
                .skip(before)
                .any(|m| {
                    !marker.is_empty() && m.text.as_deref().is_some_and(|t| t.contains(&marker))
                })
                .then_some(())
        })
        .await
        .is_some();
        if text == CONFIRM && arrived {
            figures.placeholder_delivered += 1;
        }
        world
            .simulator
            .customer_says(&wa_id, "YES, that's right. Thank you!")
            .await
            .map_err(|e| anyhow::anyhow!("simulated customer: {e}"))?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen.push_str(&agent.get(&format!("/inbox/c/{conversation}")).await?);
        agent
            .post_form(
                &format!("/inbox/c/{conversation}/state"),
                &[("state", "resolved")],
            )
            .await?;
        figures.conversations += 1;
        // Reveals as the server recorded them (the script confirms the address by
        // placeholder instead, so it should need none).
        let reveals: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'reveal' AND target LIKE $1",
        )
        .bind(format!("{conversation} %"))
        .fetch_one(world.store.pool())
        .await?
        .try_get("n")?;
        let reveals = usize::try_from(reveals).unwrap_or(0);
        figures.reveals += reveals;
        if reveals == 0 {
            figures.without_reveal += 1;
        }

        // Every finding in every message of the conversation, as the server sees it.
        let exposure = Exposure::masked_only(scanner.clone(), Some(&card));
        let messages = world
            .store
            .thread(conversation, None, 500)
            .await?
            .map(|page| page.items)
            .unwrap_or_default();
        let mut found = 0;
        let mut shown = 0;
        for message in &messages {
            let masked = MaskedMessage::of(message, &exposure);
            for (kind, value) in masked.hidden_values() {
                found += 1;
                if value.trim().chars().count() >= 3 && seen.contains(value.trim()) {
                    shown += 1;
                    figures.shown_kinds.push(kind.as_str().to_owned());
                }
            }
        }
        figures.findings += found;
        figures.shown += shown;
        if verbose {
            println!("  {conversation}: {found} findings, {shown} shown, {reveals} reveals");
        }
    }
    figures.bytes_seen = seen.len();
    Ok(figures)
}

/// Polls `check` every 50 ms for up to 30 s (a loaded machine sends slowly).
async fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..600 {
        if let Some(value) = check() {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
