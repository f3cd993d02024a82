//! A fake WhatsApp Cloud API, part of the product: tests, benchmarks and `veilbox demo` talk
//! to it instead of Meta, and a person can play a customer on its phone page.
//!
//! It is a real HTTP server (spec §9):
//!
//! * **Graph endpoints** (`/{v}/...`, any `v\d+\.\d+`): send messages (Bearer check,
//!   per-type validation, the 24-hour window, spec-shaped bodies and errors), mark as read,
//!   media metadata, download, upload and delete;
//! * a **webhook driver** that posts signed, Meta-shaped bodies to the callback URL:
//!   customer messages, and `sent` → `delivered` → `read` for every accepted send, retried
//!   with backoff on anything but 200;
//! * **fault injection** at runtime ([`Faults`]);
//! * a JSON **control API** under `/simulator/api/` and the **phone page** `/simulator`.
//!
//! State lives in memory; nothing here needs the internet.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use veilbox_whatsapp::simulator::{serve, Simulator, SimulatorConfig};
//! let config = SimulatorConfig::new(
//!     "app-secret".into(),
//!     "access-token".into(),
//!     "http://127.0.0.1:8080/webhooks/whatsapp",
//! );
//! let simulator = Simulator::new(config);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let handle = simulator.clone();
//! tokio::spawn(serve(simulator, listener, std::future::pending()));
//! handle.customer_says("15555550142", "Where is my parcel?").await.ok();
//! # Ok(()) }
//! ```

mod control;
mod faults;
mod graph_api;
mod phone;
mod state;
mod webhooks;
mod wire;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use faults::{Faults, InjectedError};
pub use state::{ChatItem, Counters, CustomerView, Direction, WebhookDelivery};
pub use wire::{inbound_wamid, meta_bytes, outbound_wamid};

use state::{Customer, State, StoredMedia};

/// The 24-hour customer-service window, as the simulator enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// A free-form send outside the window is refused at once: HTTP 400, code 131047.
    #[default]
    Sync,
    /// It is accepted (200), then fails by a `failed` status webhook with 131047.
    Async,
    /// No window (every send is allowed).
    Off,
}

/// A customer the simulator plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCustomer {
    /// WhatsApp id: the phone number's digits.
    pub wa_id: String,
    /// Profile name.
    pub name: String,
    /// Unix seconds of their last message before the simulator started (opens the window
    /// for seeded conversations); `None` if they never wrote.
    pub last_inbound_at: Option<i64>,
}

impl SimCustomer {
    /// A customer who has not written yet.
    pub fn new(wa_id: impl Into<String>, name: impl Into<String>) -> Self {
        SimCustomer {
            wa_id: wa_id.into(),
            name: name.into(),
            last_inbound_at: None,
        }
    }
}

/// The customers of the spec's samples (fictional numbering ranges).
pub fn demo_customers() -> Vec<SimCustomer> {
    vec![
        SimCustomer::new("15555550142", "Priya Raman"),
        SimCustomer::new("447700900461", "Oliver Bennett"),
        SimCustomer::new("5511987650123", "Ana Souza"),
    ]
}

/// Everything the simulator needs. Build with [`SimulatorConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Signs webhooks (`X-Hub-Signature-256`); Veilbox's app secret.
    pub app_secret: SecretString,
    /// The Bearer token the Graph endpoints accept; Veilbox's access token.
    pub access_token: SecretString,
    /// Used by [`Simulator::verify_callback`] to drive the GET handshake.
    pub verify_token: Option<SecretString>,
    /// Where webhooks go, e.g. `http://127.0.0.1:8080/webhooks/whatsapp`.
    pub callback_url: String,
    /// The business number's id (path of `/{v}/{phone_number_id}/messages`).
    pub phone_number_id: String,
    /// Digits, without `+`.
    pub display_phone_number: String,
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// The customers; more are added when someone writes as a new number.
    pub customers: Vec<SimCustomer>,
    /// How the 24-hour window is enforced.
    pub window_mode: WindowMode,
    /// How long a media download URL works (Meta: about 5 minutes).
    pub media_url_ttl: Duration,
    /// Gap between `sent`, `delivered` and `read` of a send.
    pub status_interval: Duration,
    /// Whether customers read every message (posting `read`); otherwise it stops at
    /// `delivered`.
    pub auto_read: bool,
    /// Attempts per webhook before giving up (Meta retries for days; we are bounded).
    pub webhook_max_attempts: u32,
    /// First retry delay of a webhook (doubling, jittered, capped at 30 s).
    pub webhook_retry_base: Duration,
    /// Approved template names; empty accepts any name.
    pub templates: Vec<String>,
    /// The URL the simulator is reached at, used in media download URLs; `None` takes the
    /// request's `Host`.
    pub public_url: Option<String>,
    /// Faults in force at start.
    pub faults: Faults,
}

impl SimulatorConfig {
    /// The spec's sample business (WABA `230811736742955`, phone number id
    /// `118440581239876`, display number `15550123456`) with [`demo_customers`].
    pub fn new(
        app_secret: SecretString,
        access_token: SecretString,
        callback_url: impl Into<String>,
    ) -> Self {
        SimulatorConfig {
            app_secret,
            access_token,
            verify_token: None,
            callback_url: callback_url.into(),
            phone_number_id: "118440581239876".into(),
            display_phone_number: "15550123456".into(),
            waba_id: "230811736742955".into(),
            customers: demo_customers(),
            window_mode: WindowMode::Sync,
            media_url_ttl: Duration::from_secs(300),
            status_interval: Duration::from_millis(700),
            auto_read: true,
            webhook_max_attempts: 8,
            webhook_retry_base: Duration::from_millis(500),
            templates: Vec::new(),
            public_url: None,
            faults: Faults::default(),
        }
    }
}

/// Why a simulator call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The customer id is not 6 to 15 digits.
    #[error("a WhatsApp id is 6 to 15 digits")]
    BadWaId,
    /// The message is empty or malformed.
    #[error("invalid customer message: {0}")]
    BadMessage(&'static str),
    /// The faults do not validate.
    #[error("invalid faults: {0}")]
    BadFaults(&'static str),
    /// The callback could not be reached or did not echo the challenge.
    #[error("webhook handshake failed: {0}")]
    Handshake(String),
}

/// What a customer sends from the phone page or the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerMessage {
    /// Text.
    Text(String),
    /// A photo (a small generated PNG, served by the media endpoints).
    Image {
        /// Optional caption.
        caption: Option<String>,
    },
    /// A shared location.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
    },
}

/// The running simulator's handle: cheap to clone, shared by the server and its callers.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("phone_number_id", &self.inner.config.phone_number_id)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub config: SimulatorConfig,
    pub http: reqwest::Client,
    pub state: Mutex<State>,
}

impl Simulator {
    /// A simulator with `config`; serve it with [`serve`] or [`router`].
    pub fn new(config: SimulatorConfig) -> Simulator {
        let mut state = State {
            faults: config.faults.clone(),
            ..State::default()
        };
        for customer in &config.customers {
            state.customers.insert(
                customer.wa_id.clone(),
                Customer {
                    name: customer.name.clone(),
                    last_inbound_at: customer.last_inbound_at,
                    typing_until: None,
                },
            );
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Simulator {
            inner: Arc::new(Inner {
                config,
                http,
                state: Mutex::new(state),
            }),
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimulatorConfig {
        &self.inner.config
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written in a way
        // that matters for a simulator: keep serving.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Unix seconds on the simulator's clock (real time plus [`Simulator::advance_clock`]).
    pub fn now(&self) -> i64 {
        let offset = self.lock().clock_offset;
        unix_now() + offset
    }

    /// Moves the simulator's clock forward (to close the 24-hour window or expire media
    /// URLs in tests).
    pub fn advance_clock(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 4);
        let mut state = self.lock();
        state.clock_offset = state.clock_offset.saturating_add(secs);
    }

    /// The customer writes `text` to the business: recorded, opens the window, and posted
    /// as a signed message webhook. Returns the inbound wamid.
    pub async fn customer_says(&self, wa_id: &str, text: &str) -> Result<String, SimError> {
        self.customer_sends(wa_id, CustomerMessage::Text(text.to_owned()), None)
            .await
    }

    /// The customer sends `message` (optionally replying to `reply_to`). An unknown
    /// `wa_id` becomes a new customer.
    pub async fn customer_sends(
        &self,
        wa_id: &str,
        message: CustomerMessage,
        reply_to: Option<String>,
    ) -> Result<String, SimError> {
        webhooks::customer_message(self, wa_id, message, reply_to, None)
    }

    /// Adds a customer (or renames one).
    pub fn add_customer(&self, customer: SimCustomer) -> Result<(), SimError> {
        valid_wa_id(&customer.wa_id)?;
        let mut state = self.lock();
        let entry = state
            .customers
            .entry(customer.wa_id)
            .or_insert_with(|| Customer {
                name: String::new(),
                last_inbound_at: None,
                typing_until: None,
            });
        entry.name = customer.name;
        if customer.last_inbound_at.is_some() {
            entry.last_inbound_at = customer.last_inbound_at;
        }
        Ok(())
    }

    /// Every customer, with their window state.
    pub fn customers(&self) -> Vec<CustomerView> {
        let state = self.lock();
        let now = unix_now() + state.clock_offset;
        state
            .customers
            .iter()
            .map(|(wa_id, c)| CustomerView {
                wa_id: wa_id.clone(),
                name: c.name.clone(),
                last_inbound_at: c.last_inbound_at,
                window_open: window_open(c.last_inbound_at, now),
                business_typing: c.typing_until.is_some_and(|t| t > now),
            })
            .collect()
    }

    /// What the business sent to `wa_id`, oldest first, each with its current state.
    pub fn sent_to(&self, wa_id: &str) -> Vec<ChatItem> {
        self.lock()
            .items
            .iter()
            .filter(|i| i.wa_id == wa_id && i.direction == Direction::Outbound)
            .cloned()
            .collect()
    }

    /// Both sides of the chat with `wa_id` after timeline position `after` (0 for all).
    pub fn thread(&self, wa_id: &str, after: u64) -> Vec<ChatItem> {
        self.lock()
            .items
            .iter()
            .filter(|i| i.wa_id == wa_id && i.seq > after)
            .cloned()
            .collect()
    }

    /// The message with this wamid, either way.
    pub fn message(&self, wamid: &str) -> Option<ChatItem> {
        self.lock().items.iter().find(|i| i.wamid == wamid).cloned()
    }

    /// Replaces the faults in force.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        faults.validate().map_err(SimError::BadFaults)?;
        self.lock().faults = faults;
        Ok(())
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Counters since start.
    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// The webhook delivery log (the last 2000).
    pub fn deliveries(&self) -> Vec<WebhookDelivery> {
        self.lock().deliveries.iter().cloned().collect()
    }

    /// Stores media as if uploaded; returns its id.
    pub fn put_media(&self, bytes: Bytes, mime_type: &str) -> String {
        let id = wire::media_id();
        let sha256_hex = hex::encode(Sha256::digest(&bytes));
        self.lock().media.insert(
            id.clone(),
            StoredMedia {
                bytes,
                mime_type: mime_type.to_owned(),
                sha256_hex,
                url: None,
            },
        );
        id
    }

    /// Signs and posts `body` byte for byte to the callback (e.g. a `samples/*.json` file),
    /// with the usual retries. Returns whether it was finally answered 200.
    pub async fn post_raw_webhook(&self, body: Vec<u8>) -> bool {
        webhooks::deliver(self, body, "raw".into(), None, false).await
    }

    /// Drives the GET verification handshake against the callback URL with the configured
    /// verify token; Ok when the callback echoes the challenge.
    pub async fn verify_callback(&self) -> Result<(), SimError> {
        webhooks::handshake(self).await
    }
}

/// The simulator's routes: Graph endpoints at `/{v}/...`, the phone page at `/simulator`,
/// its control API at `/simulator/api/...`.
pub fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/{v}/{phone_number_id}/messages", post(graph_api::messages))
        .route(
            "/{v}/{phone_number_id}/media",
            post(graph_api::upload).layer(DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
        .route(
            "/{v}/{media_id}",
            get(graph_api::media_info).delete(graph_api::media_delete),
        )
        .route("/simulator/media/{media_id}", get(graph_api::download))
        .route("/simulator", get(phone::index))
        .route("/simulator/chat", get(phone::new_chat))
        .route(
            "/simulator/chat/{wa_id}",
            get(phone::chat).post(phone::form_send),
        )
        .route("/simulator/assets/phone.js", get(phone::script))
        .route("/simulator/assets/phone.css", get(phone::stylesheet))
        .route(
            "/simulator/api/faults",
            get(control::get_faults).put(control::put_faults),
        )
        .route("/simulator/api/customers", get(control::customers))
        .route(
            "/simulator/api/customers/{wa_id}/messages",
            post(control::customer_message),
        )
        .route(
            "/simulator/api/customers/{wa_id}/thread",
            get(control::thread),
        )
        .route("/simulator/api/customers/{wa_id}/sent", get(control::sent))
        .route("/simulator/api/counters", get(control::counters))
        .route("/simulator/api/webhooks", get(control::deliveries))
        .route("/simulator/api/clock", post(control::advance_clock))
        .with_state(simulator)
}

/// Serves the simulator on `listener` until `shutdown` completes.
pub async fn serve(
    simulator: Simulator,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(simulator))
        .with_graceful_shutdown(shutdown)
        .await
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4))
        .unwrap_or(0)
}

pub(crate) fn window_open(last_inbound_at: Option<i64>, now: i64) -> bool {
    last_inbound_at.is_some_and(|at| now - at < 24 * 3600)
}

pub(crate) fn valid_wa_id(wa_id: &str) -> Result<(), SimError> {
    if (6..=15).contains(&wa_id.len()) && wa_id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(SimError::BadWaId)
    }
}
