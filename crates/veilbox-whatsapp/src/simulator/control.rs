//! The simulator's own JSON API under `/simulator/api/`: faults, customers, what was sent,
//! counters, the webhook log and the clock. For tests, the demo and the phone page.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{CustomerMessage, Faults, SimError, Simulator};

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// `GET /simulator/api/faults`.
pub async fn get_faults(State(simulator): State<Simulator>) -> Json<Faults> {
    Json(simulator.faults())
}

/// `PUT /simulator/api/faults`: replaces every knob (missing ones fall back to off).
pub async fn put_faults(
    State(simulator): State<Simulator>,
    Json(faults): Json<Faults>,
) -> Response {
    match simulator.set_faults(faults) {
        Ok(()) => Json(simulator.faults()).into_response(),
        Err(e) => bad_request(e.to_string()),
    }
}

/// `GET /simulator/api/customers`.
pub async fn customers(State(simulator): State<Simulator>) -> Response {
    Json(simulator.customers()).into_response()
}

/// The body of `POST /simulator/api/customers/{wa_id}/messages`: one of `text`, `image`,
/// `location`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerPost {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image: Option<ImagePost>,
    #[serde(default)]
    location: Option<LocationPost>,
    #[serde(default)]
    reply_to: Option<String>,
    /// Profile name for a new customer.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ImagePost {
    #[serde(default)]
    caption: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LocationPost {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

impl CustomerPost {
    fn message(self) -> Result<(CustomerMessage, Option<String>, Option<String>), SimError> {
        let message = match (self.text, self.image, self.location) {
            (Some(text), None, None) => CustomerMessage::Text(text),
            (None, Some(image), None) => CustomerMessage::Image {
                caption: image.caption.filter(|c| !c.trim().is_empty()),
            },
            (None, None, Some(l)) => CustomerMessage::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
            },
            _ => {
                return Err(SimError::BadMessage(
                    "give exactly one of text, image, location",
                ))
            }
        };
        Ok((message, self.reply_to, self.name))
    }
}

/// `POST /simulator/api/customers/{wa_id}/messages`: the customer writes; answers
/// `{"wamid": ...}` once recorded (the webhook is posted in the background).
pub async fn customer_message(
    State(simulator): State<Simulator>,
    Path(wa_id): Path<String>,
    Json(post): Json<CustomerPost>,
) -> Response {
    let result = post.message().and_then(|(message, reply_to, name)| {
        super::webhooks::customer_message(&simulator, &wa_id, message, reply_to, name)
    });
    match result {
        Ok(wamid) => Json(json!({ "wamid": wamid })).into_response(),
        Err(e) => bad_request(e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct After {
    #[serde(default)]
    after: u64,
}

/// `GET /simulator/api/customers/{wa_id}/thread?after=N`: both sides, and the customer.
pub async fn thread(
    State(simulator): State<Simulator>,
    Path(wa_id): Path<String>,
    Query(after): Query<After>,
) -> Response {
    let customer = simulator.customers().into_iter().find(|c| c.wa_id == wa_id);
    let Some(customer) = customer else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown customer" })),
        )
            .into_response();
    };
    Json(json!({ "customer": customer, "items": simulator.thread(&wa_id, after.after) }))
        .into_response()
}

/// `GET /simulator/api/customers/{wa_id}/sent`: what the business sent, with states.
pub async fn sent(State(simulator): State<Simulator>, Path(wa_id): Path<String>) -> Response {
    Json(simulator.sent_to(&wa_id)).into_response()
}

/// `GET /simulator/api/counters`.
pub async fn counters(State(simulator): State<Simulator>) -> Response {
    let counters = simulator.counters();
    let sent_twice = counters.sent_twice();
    Json(json!({ "counters": counters, "sent_twice": sent_twice })).into_response()
}

/// `GET /simulator/api/webhooks`: the delivery log.
pub async fn deliveries(State(simulator): State<Simulator>) -> Response {
    Json(simulator.deliveries()).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct Advance {
    advance_secs: u64,
}

/// `POST /simulator/api/clock {"advance_secs": N}`: moves the simulator's clock forward.
pub async fn advance_clock(
    State(simulator): State<Simulator>,
    Json(by): Json<Advance>,
) -> Response {
    simulator.advance_clock(Duration::from_secs(by.advance_secs));
    Json(json!({ "now": simulator.now() })).into_response()
}
