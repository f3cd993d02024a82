//! Fault injection: what can go wrong on purpose, settable at runtime through
//! `GET/PUT /simulator/api/faults` or [`super::Simulator::set_faults`].

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The knobs. Every rate is a probability in `0..=1` drawn per send (or per webhook).
/// A `PUT` replaces all of them: fields left out fall back to their defaults (off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of sends answered with one of `errors` (picked uniformly).
    pub error_rate: f64,
    /// Which errors to inject; empty means `["130429"]`.
    pub errors: Vec<InjectedError>,
    /// Added to every Graph request, in milliseconds.
    pub latency_ms: u64,
    /// Share of sends that are accepted (the message goes out and its statuses follow) but
    /// answered only after `hang_ms`: longer than the client's timeout, they become
    /// "unconfirmed" on the client's side.
    pub hang_rate: f64,
    /// How long a hanging send withholds its answer, in milliseconds.
    pub hang_ms: u64,
    /// Share of webhook posts delivered twice (byte-identical).
    pub duplicate_rate: f64,
    /// Share of accepted sends whose `read` status is posted before `delivered`.
    pub out_of_order_rate: f64,
    /// Extra delay before each status webhook, in milliseconds.
    pub status_delay_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            errors: Vec::new(),
            latency_ms: 0,
            hang_rate: 0.0,
            hang_ms: 60_000,
            duplicate_rate: 0.0,
            out_of_order_rate: 0.0,
            status_delay_ms: 0,
        }
    }
}

/// An error the simulator can inject, named by its code (and `_sync`/`_async` where Meta
/// reports it either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InjectedError {
    /// 130429 throughput limit, HTTP 400.
    #[serde(rename = "130429")]
    Throughput,
    /// 131056 pair rate limit, HTTP 400.
    #[serde(rename = "131056")]
    PairRate,
    /// 4 application request limit, HTTP 400.
    #[serde(rename = "4")]
    AppRate,
    /// 80007 WABA rate limit, HTTP 400.
    #[serde(rename = "80007")]
    WabaRate,
    /// 131000 something went wrong, HTTP 500.
    #[serde(rename = "131000")]
    Generic,
    /// 131016 service unavailable, HTTP 503.
    #[serde(rename = "131016")]
    Unavailable,
    /// 190 access token expired, HTTP 401.
    #[serde(rename = "190")]
    TokenExpired,
    /// 131047 re-engagement, synchronously (HTTP 400).
    #[serde(rename = "131047_sync")]
    WindowSync,
    /// 131047 re-engagement, asynchronously (HTTP 200, then a `failed` status webhook).
    #[serde(rename = "131047_async")]
    WindowAsync,
    /// 131026 undeliverable, asynchronously (HTTP 200, then a `failed` status webhook).
    #[serde(rename = "131026_async")]
    UndeliverableAsync,
    /// 131030 recipient not in the allowed list, HTTP 400.
    #[serde(rename = "131030")]
    NotAllowed,
}

impl InjectedError {
    /// The Graph error code.
    pub fn code(self) -> i64 {
        match self {
            InjectedError::Throughput => 130429,
            InjectedError::PairRate => 131056,
            InjectedError::AppRate => 4,
            InjectedError::WabaRate => 80007,
            InjectedError::Generic => 131000,
            InjectedError::Unavailable => 131016,
            InjectedError::TokenExpired => 190,
            InjectedError::WindowSync | InjectedError::WindowAsync => 131047,
            InjectedError::UndeliverableAsync => 131026,
            InjectedError::NotAllowed => 131030,
        }
    }

    /// Whether it is reported after a 200, by a `failed` status webhook.
    pub fn is_async(self) -> bool {
        matches!(
            self,
            InjectedError::WindowAsync | InjectedError::UndeliverableAsync
        )
    }
}

impl Faults {
    /// Refuses rates outside `0..=1`.
    pub fn validate(&self) -> Result<(), &'static str> {
        let rates = [
            self.error_rate,
            self.hang_rate,
            self.duplicate_rate,
            self.out_of_order_rate,
        ];
        if rates
            .iter()
            .all(|r| r.is_finite() && (0.0..=1.0).contains(r))
        {
            Ok(())
        } else {
            Err("rates must be between 0 and 1")
        }
    }

    pub(crate) fn roll_error(&self) -> Option<InjectedError> {
        if !chance(self.error_rate) {
            return None;
        }
        if self.errors.is_empty() {
            return Some(InjectedError::Throughput);
        }
        let pick = rand::thread_rng().gen_range(0..self.errors.len());
        self.errors.get(pick).copied()
    }
}

/// True with probability `rate`.
pub(crate) fn chance(rate: f64) -> bool {
    rate > 0.0 && (rate >= 1.0 || rand::thread_rng().gen_bool(rate.clamp(0.0, 1.0)))
}
