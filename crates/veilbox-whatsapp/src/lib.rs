//! WhatsApp Cloud API edge types for Veilbox.
//!
//! This crate knows the wire format and nothing of HTTP servers or SQL:
//!
//! * [`signature`] checks `X-Hub-Signature-256` on the raw body, in constant time, before
//!   anything is parsed;
//! * [`webhook`] turns a verified body into normalised [`webhook::InboundMessage`]s,
//!   [`webhook::StatusUpdate`]s and [`webhook::PlatformError`]s, leniently: an element it
//!   cannot understand is reported, never allowed to fail the whole batch;
//! * [`graph`] is the Graph API client an inbox sends with, its errors classified by code
//!   into retry, give up, pause the channel, or outcome unknown;
//! * [`simulator`] is a fake WhatsApp Cloud API (Graph endpoints, signed webhooks, fault
//!   injection and a phone page) for tests, benchmarks and `veilbox demo`.
//!
//! ```
//! use veilbox_whatsapp::signature::{sign, verify};
//! let secret = b"wa_test_app_secret_9f8e7d6c5b4a";
//! let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
//! let header = sign(secret, body);
//! assert!(verify(secret, body, Some(&header)).is_ok());
//! ```
#![deny(missing_docs)]

pub mod graph;
pub mod signature;
pub mod simulator;
pub mod webhook;
