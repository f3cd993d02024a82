//! The webhook driver: builds Meta-shaped bodies (compact envelope, `\uXXXX` escapes),
//! signs them over the exact bytes, posts them to the callback URL and retries on anything
//! but 200 with jittered exponential backoff, a bounded number of times.

use std::time::Duration;

use bytes::Bytes;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{json, Value};

use super::faults::chance;
use super::state::{merge_outbound_state, ChatItem, Customer, Direction, WebhookDelivery};
use super::wire::{async_error, inbound_wamid, meta_bytes};
use super::{valid_wa_id, CustomerMessage, SimError, Simulator};
use crate::graph::Backoff;
use crate::signature;

#[derive(Serialize)]
struct Envelope<'a> {
    object: &'static str,
    entry: [Entry<'a>; 1],
}

#[derive(Serialize)]
struct Entry<'a> {
    id: &'a str,
    changes: [Change<'a>; 1],
}

#[derive(Serialize)]
struct Change<'a> {
    value: ChangeValue<'a>,
    field: &'static str,
}

#[derive(Serialize)]
struct ChangeValue<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<[Contact<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<[Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statuses: Option<[Value; 1]>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct Contact<'a> {
    profile: Profile<'a>,
    wa_id: &'a str,
}

#[derive(Serialize)]
struct Profile<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct InboundMessage<'a> {
    from: &'a str,
    id: &'a str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<Value>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Value>,
}

fn envelope<'a>(
    simulator: &'a Simulator,
    contacts: Option<[Contact<'a>; 1]>,
    messages: Option<[Value; 1]>,
    statuses: Option<[Value; 1]>,
) -> Vec<u8> {
    let config = simulator.config();
    meta_bytes(&Envelope {
        object: "whatsapp_business_account",
        entry: [Entry {
            id: &config.waba_id,
            changes: [Change {
                value: ChangeValue {
                    messaging_product: "whatsapp",
                    metadata: Metadata {
                        display_phone_number: &config.display_phone_number,
                        phone_number_id: &config.phone_number_id,
                    },
                    contacts,
                    messages,
                    statuses,
                },
                field: "messages",
            }],
        }],
    })
}

/// A small generated PNG of a parcel standing in for a customer's photo.
const PHOTO_PNG: &[u8] = include_bytes!("../../assets/simulator/parcel.png");

/// Records a customer's message, opens their window and posts the message webhook in the
/// background. Returns the inbound wamid.
pub(crate) fn customer_message(
    simulator: &Simulator,
    wa_id: &str,
    message: CustomerMessage,
    reply_to: Option<String>,
    new_name: Option<String>,
) -> Result<String, SimError> {
    valid_wa_id(wa_id)?;
    let (kind, text, object) = match &message {
        CustomerMessage::Text(body) => {
            let body = body.trim();
            if body.is_empty() || body.chars().count() > 4096 {
                return Err(SimError::BadMessage("text must be 1 to 4096 characters"));
            }
            ("text", Some(body.to_owned()), json!({ "body": body }))
        }
        CustomerMessage::Image { caption } => {
            let media_id = simulator.put_media(Bytes::from_static(PHOTO_PNG), "image/png");
            let sha256 = {
                use base64::Engine as _;
                use sha2::Digest as _;
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(PHOTO_PNG))
            };
            let mut image = json!({ "mime_type": "image/png", "sha256": sha256, "id": media_id });
            if let (Some(caption), Some(obj)) = (caption, image.as_object_mut()) {
                obj.insert("caption".into(), Value::String(caption.clone()));
            }
            ("image", caption.clone().or(Some("Photo".into())), image)
        }
        CustomerMessage::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            if !(latitude.is_finite() && longitude.is_finite()) {
                return Err(SimError::BadMessage(
                    "latitude and longitude must be numbers",
                ));
            }
            let mut location = json!({ "latitude": latitude, "longitude": longitude });
            if let Some(obj) = location.as_object_mut() {
                if let Some(name) = name {
                    obj.insert("name".into(), Value::String(name.clone()));
                }
                if let Some(address) = address {
                    obj.insert("address".into(), Value::String(address.clone()));
                }
            }
            let label = name
                .clone()
                .unwrap_or_else(|| format!("Location {latitude:.5}, {longitude:.5}"));
            ("location", Some(label), location)
        }
    };
    let wamid = inbound_wamid(wa_id);
    let (name, now) = {
        let mut state = simulator.lock();
        let now = super::unix_now() + state.clock_offset;
        let customer = state
            .customers
            .entry(wa_id.to_owned())
            .or_insert_with(|| Customer {
                name: String::new(),
                last_inbound_at: None,
                typing_until: None,
            });
        if let Some(name) = new_name.filter(|n| !n.trim().is_empty()) {
            customer.name = name.trim().to_owned();
        }
        if customer.name.is_empty() {
            let tail = &wa_id[wa_id.len().saturating_sub(4)..];
            customer.name = format!("Customer {tail}");
        }
        customer.last_inbound_at = Some(now);
        let name = customer.name.clone();
        state.push_item(ChatItem {
            seq: 0,
            wa_id: wa_id.to_owned(),
            direction: Direction::Inbound,
            wamid: wamid.clone(),
            kind: kind.to_owned(),
            text,
            timestamp: now,
            state: "pending".into(),
            error_code: None,
            callback_data: None,
            reply_to: reply_to.clone(),
            request: None,
        });
        (name, now)
    };
    let message = InboundMessage {
        from: wa_id,
        id: &wamid,
        timestamp: now.to_string(),
        context: reply_to
            .map(|id| json!({ "from": simulator.config().display_phone_number, "id": id })),
        kind,
        text: (kind == "text").then(|| object.clone()),
        image: (kind == "image").then(|| object.clone()),
        location: (kind == "location").then_some(object),
    };
    let body = envelope(
        simulator,
        Some([Contact {
            profile: Profile { name: &name },
            wa_id,
        }]),
        Some([json!(message)]),
        None,
    );
    let task_sim = simulator.clone();
    let task_wamid = wamid.clone();
    tokio::spawn(async move {
        let duplicate = chance(task_sim.faults().duplicate_rate);
        let ok = deliver(
            &task_sim,
            body.clone(),
            "message".into(),
            Some(task_wamid.clone()),
            false,
        )
        .await;
        {
            let mut state = task_sim.lock();
            if let Some(item) = state.item_mut(&task_wamid) {
                if item.state == "pending" {
                    item.state = if ok { "delivered" } else { "failed" }.into();
                }
            }
        }
        if duplicate {
            deliver(&task_sim, body, "message".into(), Some(task_wamid), true).await;
        }
    });
    Ok(wamid)
}

/// What happens to an accepted send after the 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// `sent`, `delivered`, then `read` (if customers read).
    Delivered,
    /// One `failed` status with this code.
    Fails(i64),
}

/// Posts the statuses of an accepted send in the background.
pub(crate) fn schedule_statuses(simulator: &Simulator, wamid: String, fate: Fate) {
    let simulator = simulator.clone();
    tokio::spawn(async move {
        let faults = simulator.faults();
        let interval = simulator.config().status_interval;
        let extra = Duration::from_millis(faults.status_delay_ms);
        let plan: Vec<&'static str> = match fate {
            Fate::Fails(_) => vec!["failed"],
            Fate::Delivered => {
                let mut plan = vec!["sent", "delivered"];
                if simulator.config().auto_read {
                    plan.push("read");
                    if chance(faults.out_of_order_rate) {
                        plan.swap(1, 2);
                    }
                }
                plan
            }
        };
        for (step, status) in plan.into_iter().enumerate() {
            let gap = if step == 0 { interval / 4 } else { interval };
            tokio::time::sleep(gap + extra).await;
            let code = match fate {
                Fate::Fails(code) => Some(code),
                Fate::Delivered => None,
            };
            let Some(body) = status_body(&simulator, &wamid, status, code) else {
                return;
            };
            let duplicate = chance(simulator.faults().duplicate_rate);
            let kind = format!("status:{status}");
            deliver(
                &simulator,
                body.clone(),
                kind.clone(),
                Some(wamid.clone()),
                false,
            )
            .await;
            if duplicate {
                deliver(&simulator, body, kind, Some(wamid.clone()), true).await;
            }
        }
    });
}

/// Records the new state of the send and builds its status webhook body.
fn status_body(
    simulator: &Simulator,
    wamid: &str,
    status: &str,
    error_code: Option<i64>,
) -> Option<Vec<u8>> {
    let (recipient, callback_data, template, now) = {
        let mut state = simulator.lock();
        let now = super::unix_now() + state.clock_offset;
        let item = state.item_mut(wamid)?;
        if merge_outbound_state(&item.state, status) {
            item.state = status.to_owned();
            if status == "failed" {
                item.error_code = error_code;
            }
        }
        (
            item.wa_id.clone(),
            item.callback_data.clone(),
            item.kind == "template",
            now,
        )
    };
    let mut object = serde_json::Map::new();
    object.insert("id".into(), json!(wamid));
    object.insert("status".into(), json!(status));
    object.insert("timestamp".into(), json!(now.to_string()));
    object.insert("recipient_id".into(), json!(recipient));
    if let Some(data) = callback_data {
        object.insert("biz_opaque_callback_data".into(), json!(data));
    }
    if status == "failed" {
        object.insert(
            "errors".into(),
            json!([async_error(error_code.unwrap_or(131000))]),
        );
    } else {
        let (origin, category, kind, billable) = if template {
            ("utility", "utility", "regular", true)
        } else {
            ("service", "service", "free_customer_service", false)
        };
        let mut conversation =
            json!({ "id": conversation_id(&recipient), "origin": { "type": origin } });
        if status == "sent" {
            if let Some(obj) = conversation.as_object_mut() {
                obj.insert(
                    "expiration_timestamp".into(),
                    json!((now + 24 * 3600).to_string()),
                );
            }
        }
        object.insert("conversation".into(), conversation);
        object.insert(
            "pricing".into(),
            json!({ "billable": billable, "pricing_model": "PMP", "category": category, "type": kind }),
        );
    }
    Some(envelope(
        simulator,
        None,
        None,
        Some([Value::Object(object)]),
    ))
}

/// A stable 32-hex conversation id per customer.
fn conversation_id(wa_id: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("veilbox-simulator-conversation:{wa_id}"));
    hex::encode(&digest[..16])
}

/// Posts `body` signed to the callback, retrying on anything but 200. Logs no content.
pub(crate) async fn deliver(
    simulator: &Simulator,
    body: Vec<u8>,
    kind: String,
    wamid: Option<String>,
    duplicate: bool,
) -> bool {
    let config = simulator.config();
    let signature = signature::sign(config.app_secret.expose_secret().as_bytes(), &body);
    let backoff = Backoff::new(config.webhook_retry_base, Duration::from_secs(30));
    let attempts = config.webhook_max_attempts.max(1);
    let mut record = WebhookDelivery {
        kind,
        wamid,
        attempts: 0,
        last_status: None,
        delivered: false,
        duplicate,
    };
    let body = Bytes::from(body);
    for attempt in 0..attempts {
        record.attempts = attempt + 1;
        let result = simulator
            .inner
            .http
            .post(&config.callback_url)
            .header("content-type", "application/json")
            .header(signature::HEADER, &signature)
            .body(body.clone())
            .send()
            .await;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        record.last_status = status;
        if status == Some(200) {
            record.delivered = true;
            break;
        }
        tracing::debug!(kind = %record.kind, attempt, http_status = status, "simulator webhook not acknowledged");
        if attempt + 1 < attempts {
            simulator.lock().counters.webhook_retries += 1;
            let wait = backoff.delay(attempt).max(config.webhook_retry_base / 2);
            tokio::time::sleep(wait).await;
        }
    }
    let delivered = record.delivered;
    {
        let mut state = simulator.lock();
        if delivered {
            state.counters.webhooks_delivered += 1;
        } else {
            state.counters.webhooks_abandoned += 1;
            tracing::warn!(kind = %record.kind, attempts = record.attempts, "simulator gave up a webhook");
        }
        if duplicate {
            state.counters.webhook_duplicates += 1;
        }
        state.log_delivery(record);
    }
    delivered
}

/// The GET handshake Meta makes when the callback URL is saved.
pub(crate) async fn handshake(simulator: &Simulator) -> Result<(), SimError> {
    let config = simulator.config();
    let token = config
        .verify_token
        .as_ref()
        .ok_or_else(|| SimError::Handshake("no verify token configured".into()))?;
    let challenge = super::wire::media_id();
    let response = simulator
        .inner
        .http
        .get(&config.callback_url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", challenge.as_str()),
            ("hub.verify_token", token.expose_secret()),
        ])
        .send()
        .await
        .map_err(|_| SimError::Handshake("callback unreachable".into()))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|_| SimError::Handshake("unreadable answer".into()))?;
    if status == 200 && body == challenge {
        Ok(())
    } else {
        Err(SimError::Handshake(format!(
            "callback answered HTTP {status} without the challenge"
        )))
    }
}
