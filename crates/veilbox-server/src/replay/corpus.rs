//! `veilbox bench exposure --corpus FILE.jsonl`: a labelled chat corpus posted through the
//! webhook, each message by a customer of its own, then read by the demo agent as they work
//! (the inbox list, the thread page, the messages API); how many of the corpus's sensitive
//! values reached the agent's browser.
//!
//! A line is `{"id", "text", "spans": [{"start", "end", "label"}]}` with offsets in code
//! points (the scorer's format, `../shared/peers/score_mask.py`). A value counts as reached
//! when it is written out, as it is or with its digits in a row, in what the agent received
//! for that message (its text in the thread, its content in the API, the list's preview).
//! Spans labelled TRACKING, ORDER or AMOUNT are meant to stay visible and are not counted.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;
use sqlx::Row;

use super::agent::Agent;
use crate::demo::World;

/// Labels an agent is meant to see.
const KEPT: &[&str] = &["TRACKING", "ORDER", "AMOUNT"];

#[derive(Debug, Deserialize)]
struct Line {
    text: String,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Debug, Deserialize)]
struct Span {
    start: usize,
    end: usize,
    label: String,
}

/// The corpus replay's figures.
#[derive(Debug, Default)]
pub struct CorpusFigures {
    /// Messages posted through the webhook.
    pub messages: usize,
    /// Of those, the ones the agent's thread showed.
    pub shown_messages: usize,
    /// Sensitive values in them (spans not meant to stay visible).
    pub values: usize,
    /// Values that reached the agent's browser.
    pub reached: usize,
    /// Per label: (values, reached).
    pub by_label: BTreeMap<String, (usize, usize)>,
    /// The corpus line (1-based) and label of each value that reached the browser.
    pub reached_at: Vec<(usize, String)>,
}

impl CorpusFigures {
    /// Prints the figures.
    /// `verbose` lists the corpus lines whose values reached the browser (line numbers
    /// and labels only, never the values).
    pub fn print(&self, corpus: &Path, verbose: bool) {
        let share = |n: usize, of: usize| {
            if of == 0 {
                0.0
            } else {
                100.0 * n as f64 / of as f64
            }
        };
        println!(
            "exposure replay of {} through the webhook (one customer per message; the demo agent takes each conversation and reads the list, the thread and the messages API)",
            corpus.display()
        );
        println!(
            "  messages posted:                {} ({} shown in the agent's thread)",
            self.messages, self.shown_messages
        );
        println!("  sensitive values in them:       {}", self.values);
        println!(
            "  reached the agent's browser:    {} ({:.2}%; target at most 2%)",
            self.reached,
            share(self.reached, self.values)
        );
        for (label, (n, reached)) in &self.by_label {
            if *reached > 0 {
                println!(
                    "    {label:<12} {reached} of {n} ({:.1}%)",
                    share(*reached, *n)
                );
            }
        }
        if verbose {
            for (line, label) in &self.reached_at {
                println!("    line {line}: a {label} reached the browser");
            }
        }
    }
}

/// Posts every line of `corpus` and reads it back as the demo agent.
pub(super) async fn replay(
    world: &World,
    agent: &Agent,
    corpus: &Path,
    limit: usize,
) -> anyhow::Result<CorpusFigures> {
    let text =
        std::fs::read_to_string(corpus).with_context(|| format!("reading {}", corpus.display()))?;
    let mut figures = CorpusFigures::default();
    for (n, raw) in text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(limit)
        .enumerate()
    {
        let line: Line = serde_json::from_str(raw).with_context(|| {
            format!(
                "line {} of {} is not a corpus line",
                n + 1,
                corpus.display()
            )
        })?;
        // A customer of its own per message, in a range no demo customer uses.
        let wa_id = format!("1555987{n:05}");
        let mut events = world.store.events().subscribe();
        let wamid = world
            .simulator
            .customer_says(&wa_id, &line.text)
            .await
            .map_err(|e| anyhow::anyhow!("simulated customer: {e}"))?;
        figures.messages += 1;
        let Some((conversation, message)) = stored(world, &wamid, &mut events).await? else {
            // Not stored (yet): counted as not shown, its values as not reached.
            count(&mut figures, n + 1, &line, "");
            continue;
        };
        agent
            .post_form(&format!("/inbox/c/{conversation}/assign"), &[("to", "me")])
            .await?;
        let mut seen = String::new();
        let thread = agent.get(&format!("/inbox/c/{conversation}")).await?;
        if let Some(item) = message_item(&thread, &message) {
            figures.shown_messages += 1;
            seen.push_str(&unescape_html(&strip_tags(item)));
            seen.push('\n');
        }
        let api = agent
            .get(&format!("/api/v1/conversations/{conversation}/messages"))
            .await?;
        if let Ok(json) = serde_json::from_str::<Value>(&api) {
            for item in json["items"].as_array().into_iter().flatten() {
                if item["id"].as_str() == Some(message.as_str()) {
                    strings(&item["content"], &mut seen);
                }
            }
        }
        let list = agent.get("/inbox").await?;
        if let Some(row) = list_row(&list, &conversation) {
            seen.push_str(&unescape_html(&strip_tags(row)));
        }
        count(&mut figures, n + 1, &line, &seen);
        // Resolved, so that the list stays short for the next message.
        agent
            .post_form(
                &format!("/inbox/c/{conversation}/state"),
                &[("state", "resolved")],
            )
            .await?;
    }
    Ok(figures)
}

/// Counts the line's sensitive values and those found in `seen`.
fn count(figures: &mut CorpusFigures, at: usize, line: &Line, seen: &str) {
    let chars: Vec<char> = line.text.chars().collect();
    // the digits of each number written in what was seen (digits with the separators a
    // number is written with), so that "98765 43210" is found as "9876543210"
    let numbers: Vec<String> = seen
        .split(|c: char| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '/')))
        .map(|run| run.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|d| d.len() >= 5)
        .collect();
    for span in &line.spans {
        if KEPT.contains(&span.label.as_str()) || span.start >= span.end || span.end > chars.len() {
            continue;
        }
        let value: String = chars[span.start..span.end].iter().collect();
        let value = value.trim();
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        let reached = (value.chars().filter(|c| c.is_alphanumeric()).count() >= 2
            && seen.contains(value))
            || (digits.len() >= 5 && numbers.iter().any(|n| n.contains(&digits)));
        figures.values += 1;
        let entry = figures.by_label.entry(span.label.clone()).or_default();
        entry.0 += 1;
        if reached {
            figures.reached += 1;
            entry.1 += 1;
            figures.reached_at.push((at, span.label.clone()));
        }
    }
}

/// The conversation and message ids of a stored wamid, once the ingest wrote it: looked up
/// again at each live event (the subscription was opened before the message was sent, so
/// none is missed), for at most 30 s.
async fn stored(
    world: &World,
    wamid: &str,
    events: &mut tokio::sync::broadcast::Receiver<veilbox_store::events::StoreEvent>,
) -> anyhow::Result<Option<(String, String)>> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = sqlx::query(
            "SELECT id, conversation_id FROM messages WHERE wa_message_id = $1 \
             AND conversation_id IS NOT NULL",
        )
        .bind(wamid)
        .fetch_optional(world.store.pool())
        .await?;
        if let Some(row) = row {
            return Ok(Some((row.try_get("conversation_id")?, row.try_get("id")?)));
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            // something was written (or we fell behind): look again
            Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => return Ok(None),
        }
    }
}

/// The `<li id="m-…">` of one message on a thread page, from its opening `<`.
fn message_item<'a>(page: &'a str, message: &str) -> Option<&'a str> {
    element_around(page, &format!("id=\"m-{message}\""))
}

/// The list row of one conversation on the inbox page.
fn list_row<'a>(page: &'a str, conversation: &str) -> Option<&'a str> {
    element_around(page, &format!("/inbox/c/{conversation}\""))
}

/// From the tag holding `marker` to the next `</li>`: the tag itself included, so that
/// its attributes are stripped with it and not read as text.
fn element_around<'a>(page: &'a str, marker: &str) -> Option<&'a str> {
    let at = page.find(marker)?;
    let open = page[..at].rfind('<')?;
    let rest = &page[open..];
    Some(&rest[..rest.find("</li>").unwrap_or(rest.len()).min(8192)])
}

/// Every string inside a JSON value, one per line.
fn strings(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The text of an HTML fragment, tags removed (attributes with it: a value in an attribute
/// is counted by the API's copy of the same content).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_reached_when_written_out_or_its_digits_in_a_row() {
        let line = Line {
            text: "call 98765 43210, Flat 12 MG Road, OTP 604418, parcel EE123456785IN".into(),
            spans: vec![
                Span {
                    start: 5,
                    end: 16,
                    label: "PHONE".into(),
                },
                Span {
                    start: 18,
                    end: 33,
                    label: "ADDRESS".into(),
                },
                Span {
                    start: 39,
                    end: 45,
                    label: "OTP".into(),
                },
                Span {
                    start: 54,
                    end: 67,
                    label: "TRACKING".into(),
                },
            ],
        };
        let mut figures = CorpusFigures::default();
        count(
            &mut figures,
            1,
            &line,
            "call 9876543210, [ADDRESS], OTP [OTP], parcel EE123456785IN",
        );
        assert_eq!(figures.values, 3, "the tracking number is meant to be seen");
        assert_eq!(figures.reached, 1, "the phone's digits are there in a row");
        assert_eq!(figures.by_label["PHONE"], (1, 1));
        assert_eq!(figures.by_label["ADDRESS"], (1, 0));
    }

    #[test]
    fn attributes_of_the_message_are_not_read_as_its_text() {
        let page = "<ul><li id=\"m-7\" data-sent-at=\"1796690758000\">OTP [OTP]</li></ul>";
        let item = message_item(page, "7").unwrap_or_default();
        assert_eq!(unescape_html(&strip_tags(item)), "OTP [OTP]");
    }

    #[test]
    fn tags_and_entities_do_not_hide_a_value() {
        let html =
            "<li id=\"m-1\"><p class=\"body\">Ring O&#39;Brien at <b>12</b> Main St</p></li>";
        assert_eq!(
            unescape_html(&strip_tags(html)),
            "Ring O'Brien at 12 Main St"
        );
    }
}
