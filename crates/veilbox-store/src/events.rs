//! Live events: what changed, by id, for the agents' live streams.
//!
//! Events name rows, never carry their content: a subscriber loads what it may show through
//! the same reads (and, later, the same masking) as a page load. Within one process they
//! travel on a broadcast channel; a slow subscriber that falls behind is told it lagged and
//! reloads. (Across PostgreSQL nodes, LISTEN/NOTIFY will be the wake-up; readers catch up
//! by id.)

use serde::Serialize;
use tokio::sync::broadcast;

/// Something an open inbox page may want to redraw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreEvent {
    /// A message was added to a conversation, or its delivery state changed.
    Message {
        /// The conversation.
        conversation_id: String,
        /// The message.
        message_id: String,
    },
    /// A conversation's state, assignment or activity changed.
    Conversation {
        /// The conversation.
        conversation_id: String,
    },
}

/// Capacity of the in-process channel; a subscriber further behind than this lags.
const CAPACITY: usize = 4096;

/// The in-process event channel of one [`crate::Store`].
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<StoreEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    /// Publishes; nobody listening is fine.
    pub fn publish(&self, event: StoreEvent) {
        let _ = self.sender.send(event);
    }

    /// A new subscription, starting now.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.sender.subscribe()
    }
}
