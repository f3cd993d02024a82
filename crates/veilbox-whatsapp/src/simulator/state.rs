//! The simulator's memory: customers, both sides of every chat, media, counters.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::faults::Faults;

/// Who wrote a chat item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer wrote to the business (a message webhook to Veilbox).
    Inbound,
    /// The business sent it through the Graph API.
    Outbound,
}

/// One message in a simulated chat, either way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatItem {
    /// Position in the simulator's global timeline (for polling with `after`).
    pub seq: u64,
    /// The customer.
    pub wa_id: String,
    /// Who wrote it.
    pub direction: Direction,
    /// Its wamid.
    pub wamid: String,
    /// Message type (`text`, `image`, `template`, `reaction`, ...).
    pub kind: String,
    /// What a person sees: body, caption, template name, emoji, place name.
    pub text: Option<String>,
    /// Unix seconds, on the simulator's clock.
    pub timestamp: i64,
    /// Outbound: `accepted`, `sent`, `delivered`, `read` or `failed`. Inbound: `pending`
    /// (webhook not yet acknowledged), `delivered` (Veilbox answered 200), `failed` (gave up
    /// retrying) or `read` (the business marked it read).
    pub state: String,
    /// The error code of a `failed` outbound message.
    pub error_code: Option<i64>,
    /// Outbound: the `biz_opaque_callback_data` it was sent with.
    pub callback_data: Option<String>,
    /// The wamid this message replies to.
    pub reply_to: Option<String>,
    /// Outbound: the request body as received.
    pub request: Option<Value>,
}

/// A customer the simulator plays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerView {
    /// WhatsApp id (digits).
    pub wa_id: String,
    /// Profile name.
    pub name: String,
    /// Unix seconds of the customer's last message, if any.
    pub last_inbound_at: Option<i64>,
    /// Whether the 24-hour window is open now.
    pub window_open: bool,
    /// Whether the business shows the typing indicator now.
    pub business_typing: bool,
}

/// What went through the simulator, for tests and the "nothing went out twice" check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Sends answered 200 (including hung and async-failed ones).
    pub accepted: u64,
    /// Sends refused with a Graph error (validation, window, auth or injected).
    pub rejected: u64,
    /// Mark-as-read calls answered `{"success":true}`.
    pub read_receipts: u64,
    /// Accepted sends per wamid (each should be 1).
    pub accepted_by_wamid: BTreeMap<String, u32>,
    /// Accepted sends per `biz_opaque_callback_data`: above 1 means the same outbox row
    /// went out more than once.
    pub accepted_by_callback_data: BTreeMap<String, u32>,
    /// Webhook posts answered 200 (duplicates included).
    pub webhooks_delivered: u64,
    /// Webhook attempts that got no 200 and were retried.
    pub webhook_retries: u64,
    /// Webhooks given up after the last attempt.
    pub webhooks_abandoned: u64,
    /// Deliberate duplicate posts.
    pub webhook_duplicates: u64,
}

impl Counters {
    /// Callback data that were accepted more than once.
    pub fn sent_twice(&self) -> Vec<String> {
        self.accepted_by_callback_data
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// One webhook the driver posted (or tried to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDelivery {
    /// `message`, `status:sent`, `status:delivered`, `status:read`, `status:failed`, `raw`.
    pub kind: String,
    /// The wamid it is about.
    pub wamid: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status received, if any.
    pub last_status: Option<u16>,
    /// Whether it was finally answered 200.
    pub delivered: bool,
    /// Whether this was a deliberate duplicate.
    pub duplicate: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub name: String,
    pub last_inbound_at: Option<i64>,
    pub typing_until: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredMedia {
    pub bytes: Bytes,
    pub mime_type: String,
    pub sha256_hex: String,
    /// The token of the last URL handed out and when (simulated Unix seconds).
    pub url: Option<(String, i64)>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub clock_offset: i64,
    pub customers: BTreeMap<String, Customer>,
    pub items: Vec<ChatItem>,
    pub next_seq: u64,
    pub media: HashMap<String, StoredMedia>,
    pub faults: Faults,
    pub counters: Counters,
    pub deliveries: VecDeque<WebhookDelivery>,
}

/// How many webhook deliveries the log keeps.
pub(crate) const DELIVERY_LOG: usize = 2000;

impl State {
    pub fn push_item(&mut self, mut item: ChatItem) -> u64 {
        self.next_seq += 1;
        item.seq = self.next_seq;
        self.items.push(item);
        self.next_seq
    }

    pub fn item_mut(&mut self, wamid: &str) -> Option<&mut ChatItem> {
        self.items.iter_mut().rev().find(|i| i.wamid == wamid)
    }

    pub fn log_delivery(&mut self, delivery: WebhookDelivery) -> usize {
        if self.deliveries.len() >= DELIVERY_LOG {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(delivery);
        self.deliveries.len() - 1
    }
}

/// Merges an outbound status the way receipts merge: never backwards, `failed` final
/// unless a later delivery proves otherwise.
pub(crate) fn merge_outbound_state(current: &str, new: &str) -> bool {
    fn rank(s: &str) -> i32 {
        match s {
            "accepted" => 0,
            "sent" => 1,
            "delivered" => 2,
            "read" => 3,
            "failed" => 4,
            _ => -1,
        }
    }
    rank(new) > rank(current)
}
