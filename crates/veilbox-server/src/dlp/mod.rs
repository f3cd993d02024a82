//! Leak prevention on replies (DLP): an agent's draft is checked as they type and again
//! on send, and each piece of sensitive data in it gets a verdict.
//!
//! * **block**: payment data, one-time codes, passwords, national ids and secrets, and any
//!   phone, e-mail, tracking number or address whose blind index belongs to a customer
//!   other than this conversation's;
//! * **warn**: this customer's own details echoed back, and personal data that belongs to
//!   nobody Veilbox knows (the agent confirms);
//! * **allow**: this customer's tracking numbers and order ids, the company's own phones,
//!   domains and links, and blind placeholders.
//!
//! The rules are pure ([`rules`], [`candidates`], [`evasion`], [`placeholders`]); [`check`] gathers the
//! facts they need (the customer's CRM values, blind-index owners), [`gate`] decides a
//! send and writes the audit events, [`http`] serves the live check. A [`Verdict`] holds
//! kinds, spans and reasons only, never values, so it can go to the browser as it is.

pub mod candidates;
pub mod check;
pub mod evasion;
pub mod gate;
pub mod http;
pub mod placeholders;
pub mod rules;

use serde::Serialize;

pub use check::check;
pub use gate::{SendChecks, SendRefusal};
pub use placeholders::PLACEHOLDERS;

/// What a finding (or the whole draft) deserves, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine to send.
    Allow,
    /// Sent only once the agent confirms.
    Warn,
    /// Not sent (a supervisor may override, with a reason).
    Block,
}

/// One flagged span of the draft. Offsets are in characters (Unicode code points), as a
/// browser's `textarea.value` indexes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// The kind, upper case (`CARD`, `PHONE`, ...).
    pub kind: &'static str,
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// The verdict for this span.
    pub level: Level,
    /// Why, in words an agent understands; never the value.
    pub reason: &'static str,
}

/// The verdict on a draft: the most severe of its flags, and the flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The draft's verdict.
    pub verdict: Level,
    /// Every flagged span, in order.
    pub findings: Vec<Flag>,
}

impl Verdict {
    /// A verdict from its flags.
    pub fn of(mut findings: Vec<Flag>) -> Verdict {
        findings.sort_by_key(|f| (f.start, f.end));
        let verdict = findings
            .iter()
            .map(|f| f.level)
            .max()
            .unwrap_or(Level::Allow);
        Verdict { verdict, findings }
    }

    /// The distinct kinds flagged at `level`, sorted: what audit events and messages name.
    pub fn kinds(&self, level: Level) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self
            .findings
            .iter()
            .filter(|f| f.level == level)
            .map(|f| f.kind)
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }
}
