//! The Graph endpoints (spec §9.1–§9.4): send, mark as read, media metadata, download,
//! upload and delete, with Meta's error bodies and the faults in force.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::faults::{chance, InjectedError};
use super::state::{ChatItem, Customer, Direction};
use super::webhooks::{schedule_statuses, Fate};
use super::wire::{graph_error, invalid_token, outbound_wamid, token};
use super::{unix_now, valid_wa_id, window_open, Simulator, WindowMode};
use crate::graph::valid_version;

fn json_response(status: u16, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The Graph error answer for `code` (status as Meta uses it).
pub(crate) fn error_response(code: i64, details: Option<&str>) -> Response {
    let (status, body) = graph_error(code, details);
    json_response(status, &body)
}

fn bearer_ok(simulator: &Simulator, headers: &HeaderMap) -> bool {
    let Some(presented) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Compare digests so neither length nor content leaks through timing.
    let expected = Sha256::digest(simulator.config().access_token.expose_secret().as_bytes());
    let presented = Sha256::digest(presented.trim().as_bytes());
    expected
        .iter()
        .zip(presented.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Version, token and injected latency: what every Graph request goes through first.
async fn gate(simulator: &Simulator, version: &str, headers: &HeaderMap) -> Option<Response> {
    if !valid_version(version) {
        return Some(error_response(100, Some("Unknown path components")));
    }
    if !bearer_ok(simulator, headers) {
        return Some(json_response(401, &invalid_token()));
    }
    let latency = simulator.faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    None
}

#[derive(Serialize)]
struct SendResponse {
    messaging_product: &'static str,
    contacts: [SendContact; 1],
    messages: [SendMessage; 1],
}

#[derive(Serialize)]
struct SendContact {
    input: String,
    wa_id: String,
}

#[derive(Serialize)]
struct SendMessage {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_status: Option<&'static str>,
}

type Refusal = (i64, String);

fn refuse(code: i64, details: impl Into<String>) -> Refusal {
    (code, details.into())
}

fn reject(simulator: &Simulator, code: i64, details: Option<&str>) -> Response {
    simulator.lock().counters.rejected += 1;
    error_response(code, details.filter(|d| !d.is_empty()))
}

/// `POST /{v}/{phone_number_id}/messages`: a send, or a mark-as-read.
pub async fn messages(
    State(simulator): State<Simulator>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = gate(&simulator, &version, &headers).await {
        return refused;
    }
    if phone_number_id != simulator.config().phone_number_id {
        return reject(
            &simulator,
            100,
            Some("Unsupported post request. Object with this ID does not exist."),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return reject(&simulator, 100, Some("The request body is not valid JSON."));
    };
    if !request.is_object() {
        return reject(&simulator, 100, Some("The request body must be an object."));
    }
    if request.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return reject(
            &simulator,
            100,
            Some("The parameter messaging_product is required and must be whatsapp."),
        );
    }
    if request.get("status").is_some() {
        return mark_read(&simulator, &request);
    }
    match accept(&simulator, &request) {
        Ok((response, hang)) => {
            if let Some(hang) = hang {
                tokio::time::sleep(hang).await;
            }
            response
        }
        Err((code, details)) => reject(&simulator, code, Some(&details)),
    }
}

fn mark_read(simulator: &Simulator, request: &Value) -> Response {
    if request.get("status").and_then(Value::as_str) != Some("read") {
        return reject(simulator, 100, Some("Param status must be read."));
    }
    let Some(message_id) = request.get("message_id").and_then(Value::as_str) else {
        return reject(simulator, 131008, Some("Param message_id is required."));
    };
    let typing = match request.get("typing_indicator") {
        None => false,
        Some(t) if t.get("type").and_then(Value::as_str) == Some("text") => true,
        Some(_) => {
            return reject(
                simulator,
                100,
                Some("Param typing_indicator['type'] must be text."),
            )
        }
    };
    let mut state = simulator.lock();
    let now = unix_now() + state.clock_offset;
    let Some(target) = state
        .items
        .iter()
        .find(|i| i.wamid == message_id && i.direction == Direction::Inbound)
        .map(|i| (i.wa_id.clone(), i.seq))
    else {
        drop(state);
        return reject(simulator, 100, Some("Invalid message_id."));
    };
    // Reading a message also reads the customer's earlier ones.
    for item in state.items.iter_mut() {
        if item.wa_id == target.0 && item.direction == Direction::Inbound && item.seq <= target.1 {
            item.state = "read".into();
        }
    }
    if typing {
        if let Some(customer) = state.customers.get_mut(&target.0) {
            customer.typing_until = Some(now + 25);
        }
    }
    state.counters.read_receipts += 1;
    json_response(200, &json!({ "success": true }))
}

/// Validates and records an accepted send; returns the 200 answer and, when the send
/// hangs, how long to withhold it.
fn accept(simulator: &Simulator, request: &Value) -> Result<(Response, Option<Duration>), Refusal> {
    let to_input = match request.get("to") {
        Some(Value::String(to)) => to.clone(),
        Some(_) => return Err(refuse(100, "Param to must be a string.")),
        None => return Err(refuse(131008, "Param to is required.")),
    };
    let wa_id: String = to_input.chars().filter(char::is_ascii_digit).collect();
    if valid_wa_id(&wa_id).is_err() {
        return Err(refuse(100, "Param to is not a valid WhatsApp id."));
    }
    let kind = match request.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(refuse(100, "Param type must be a string.")),
        None => return Err(refuse(131008, "Param type is required.")),
    };
    if let Some(recipient_type) = request.get("recipient_type") {
        if recipient_type.as_str() != Some("individual") {
            return Err(refuse(100, "Param recipient_type must be individual."));
        }
    }
    let summary = validate_object(simulator, kind, request.get(kind))?;
    let reply_to = match request.get("context") {
        None => None,
        Some(context) => match context.get("message_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Some(id.to_owned()),
            _ => return Err(refuse(131008, "Param context['message_id'] is required.")),
        },
    };
    let callback_data = match request.get("biz_opaque_callback_data") {
        None => None,
        Some(Value::String(data)) if data.len() <= 512 => Some(data.clone()),
        Some(_) => {
            return Err(refuse(
                100,
                "Param biz_opaque_callback_data must be a string of at most 512 characters.",
            ))
        }
    };
    if kind == "template" {
        let templates = &simulator.config().templates;
        let name = request
            .pointer("/template/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !templates.is_empty() && !templates.iter().any(|t| t == name) {
            return Err(refuse(
                132001,
                "template name does not exist in the translation",
            ));
        }
    }

    let faults = simulator.faults();
    let mut fate = Fate::Delivered;
    let now = simulator.now();
    let last_inbound = simulator
        .lock()
        .customers
        .get(&wa_id)
        .and_then(|c| c.last_inbound_at);
    if kind != "template" && !window_open(last_inbound, now) {
        match simulator.config().window_mode {
            WindowMode::Sync => return Err(refuse_injected(InjectedError::WindowSync)),
            WindowMode::Async => fate = Fate::Fails(131047),
            WindowMode::Off => {}
        }
    }
    if let Some(injected) = faults.roll_error() {
        if injected.is_async() {
            fate = Fate::Fails(injected.code());
        } else {
            return Err(refuse_injected(injected));
        }
    }
    let hang = chance(faults.hang_rate).then(|| Duration::from_millis(faults.hang_ms.max(1)));

    let wamid = outbound_wamid(&wa_id);
    {
        let mut state = simulator.lock();
        let customer = state
            .customers
            .entry(wa_id.clone())
            .or_insert_with(|| Customer {
                name: format!("Customer {}", &wa_id[wa_id.len().saturating_sub(4)..]),
                last_inbound_at: None,
                typing_until: None,
            });
        customer.typing_until = None;
        state.push_item(ChatItem {
            seq: 0,
            wa_id: wa_id.clone(),
            direction: Direction::Outbound,
            wamid: wamid.clone(),
            kind: kind.to_owned(),
            text: Some(summary),
            timestamp: now,
            state: "accepted".into(),
            error_code: None,
            callback_data: callback_data.clone(),
            reply_to,
            request: Some(request.clone()),
        });
        let counters = &mut state.counters;
        counters.accepted += 1;
        *counters.accepted_by_wamid.entry(wamid.clone()).or_default() += 1;
        if let Some(data) = callback_data {
            *counters.accepted_by_callback_data.entry(data).or_default() += 1;
        }
    }
    tracing::debug!(kind, hang = hang.is_some(), "simulator accepted a send");
    schedule_statuses(simulator, wamid.clone(), fate);
    let response = SendResponse {
        messaging_product: "whatsapp",
        contacts: [SendContact {
            input: to_input,
            wa_id,
        }],
        messages: [SendMessage {
            id: wamid,
            message_status: (kind == "template").then_some("accepted"),
        }],
    };
    Ok((json_response(200, &response), hang))
}

fn refuse_injected(injected: InjectedError) -> Refusal {
    let (_, body) = graph_error(injected.code(), None);
    let details = body
        .error
        .error_data
        .and_then(|d| d.get("details").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    (injected.code(), details)
}

fn str_field<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Checks the per-type object; returns what the phone shows for it.
fn validate_object(
    simulator: &Simulator,
    kind: &str,
    object: Option<&Value>,
) -> Result<String, Refusal> {
    let known = matches!(
        kind,
        "text"
            | "template"
            | "image"
            | "video"
            | "audio"
            | "sticker"
            | "document"
            | "reaction"
            | "interactive"
            | "location"
            | "contacts"
    );
    if !known {
        return Err(refuse(100, "Param type is not a supported message type."));
    }
    if kind == "contacts" {
        // The one per-type value that is an array.
        return match object.and_then(Value::as_array) {
            Some(cards) if !cards.is_empty() => Ok("Contact card".into()),
            _ => Err(refuse(131008, "Param contacts is required.")),
        };
    }
    let Some(object) = object.filter(|o| o.is_object()) else {
        return Err(refuse(131008, format!("Param {kind} is required.")));
    };
    match kind {
        "text" => {
            let Some(body) = str_field(object, "body").filter(|b| !b.trim().is_empty()) else {
                return Err(refuse(131008, "Param text['body'] is required."));
            };
            if chars(body) > 4096 {
                return Err(refuse(
                    100,
                    "Param text['body'] must be at most 4096 characters long.",
                ));
            }
            if object.get("preview_url").is_some_and(|p| !p.is_boolean()) {
                return Err(refuse(100, "Param text['preview_url'] must be a boolean."));
            }
            Ok(body.to_owned())
        }
        "template" => {
            let Some(name) = str_field(object, "name").filter(|n| !n.is_empty()) else {
                return Err(refuse(131008, "Param template['name'] is required."));
            };
            if object
                .pointer("/language/code")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(refuse(
                    131008,
                    "Param template['language']['code'] is required.",
                ));
            }
            if object.get("components").is_some_and(|c| !c.is_array()) {
                return Err(refuse(
                    100,
                    "Param template['components'] must be an array.",
                ));
            }
            Ok(format!("Template: {name}"))
        }
        "image" | "video" | "audio" | "sticker" | "document" => {
            let id = str_field(object, "id");
            let link = str_field(object, "link");
            match (id, link) {
                (Some(_), Some(_)) => {
                    return Err(refuse(
                        100,
                        format!("Param {kind} takes either id or link, not both."),
                    ))
                }
                (None, None) => {
                    return Err(refuse(
                        131008,
                        format!("Param {kind}['id'] or {kind}['link'] is required."),
                    ))
                }
                (Some(id), None) => {
                    if !simulator.lock().media.contains_key(id) {
                        return Err(refuse(
                            131009,
                            format!("Param {kind}['id'] is not a valid media id."),
                        ));
                    }
                }
                (None, Some(link)) => {
                    if !(link.starts_with("https://") || link.starts_with("http://")) {
                        return Err(refuse(
                            131009,
                            format!("Param {kind}['link'] must be an HTTP(S) URL."),
                        ));
                    }
                }
            }
            let caption = str_field(object, "caption");
            if caption.is_some() && matches!(kind, "audio" | "sticker") {
                return Err(refuse(100, format!("Param {kind} takes no caption.")));
            }
            if caption.is_some_and(|c| chars(c) > 1024) {
                return Err(refuse(
                    100,
                    "Param caption must be at most 1024 characters long.",
                ));
            }
            let label = caption
                .or_else(|| str_field(object, "filename"))
                .map(str::to_owned)
                .unwrap_or_else(|| format!("[{kind}]"));
            Ok(label)
        }
        "reaction" => {
            let Some(message_id) = str_field(object, "message_id").filter(|m| !m.is_empty()) else {
                return Err(refuse(131008, "Param reaction['message_id'] is required."));
            };
            let Some(emoji) = str_field(object, "emoji") else {
                return Err(refuse(131008, "Param reaction['emoji'] is required."));
            };
            let _ = message_id;
            Ok(if emoji.is_empty() {
                "(reaction removed)".into()
            } else {
                format!("Reacted {emoji}")
            })
        }
        "interactive" => validate_interactive(object),
        "location" => {
            let lat = object.get("latitude").and_then(lenient_f64);
            let long = object.get("longitude").and_then(lenient_f64);
            if lat.is_none() || long.is_none() {
                return Err(refuse(
                    131008,
                    "Param location['latitude'] and ['longitude'] are required.",
                ));
            }
            Ok(str_field(object, "name").unwrap_or("Location").to_owned())
        }
        _ => Err(refuse(100, "Param type is not a supported message type.")),
    }
}

fn lenient_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn validate_interactive(object: &Value) -> Result<String, Refusal> {
    let Some(kind) = str_field(object, "type") else {
        return Err(refuse(131008, "Param interactive['type'] is required."));
    };
    let body = object.pointer("/body/text").and_then(Value::as_str);
    match kind {
        "button" => {
            let Some(body) = body else {
                return Err(refuse(
                    131008,
                    "Param interactive['body']['text'] is required.",
                ));
            };
            let buttons = object
                .pointer("/action/buttons")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    refuse(
                        131008,
                        "Param interactive['action']['buttons'] is required.",
                    )
                })?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(refuse(131009, "Reply buttons: between 1 and 3."));
            }
            for button in buttons {
                let title = button.pointer("/reply/title").and_then(Value::as_str);
                let id = button.pointer("/reply/id").and_then(Value::as_str);
                if !title.is_some_and(|t| (1..=20).contains(&chars(t)))
                    || !id.is_some_and(|i| (1..=256).contains(&i.len()))
                {
                    return Err(refuse(
                        131009,
                        "Reply button title 1 to 20 characters, id 1 to 256.",
                    ));
                }
            }
            Ok(body.to_owned())
        }
        "list" => {
            let Some(body) = body else {
                return Err(refuse(
                    131008,
                    "Param interactive['body']['text'] is required.",
                ));
            };
            let label = object.pointer("/action/button").and_then(Value::as_str);
            if !label.is_some_and(|l| (1..=20).contains(&chars(l))) {
                return Err(refuse(131009, "List button label 1 to 20 characters."));
            }
            let sections = object
                .pointer("/action/sections")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    refuse(
                        131008,
                        "Param interactive['action']['sections'] is required.",
                    )
                })?;
            let rows: Vec<&Value> = sections
                .iter()
                .filter_map(|s| s.get("rows").and_then(Value::as_array))
                .flatten()
                .collect();
            if sections.is_empty() || sections.len() > 10 || rows.is_empty() || rows.len() > 10 {
                return Err(refuse(
                    131009,
                    "List: 1 to 10 sections and 1 to 10 rows in total.",
                ));
            }
            for row in rows {
                let title_ok =
                    str_field(row, "title").is_some_and(|t| (1..=24).contains(&chars(t)));
                let description_ok = str_field(row, "description").is_none_or(|d| chars(d) <= 72);
                if !title_ok || !description_ok || str_field(row, "id").is_none() {
                    return Err(refuse(
                        131009,
                        "List row: id, title 1 to 24, description up to 72 characters.",
                    ));
                }
            }
            Ok(body.to_owned())
        }
        "cta_url"
        | "flow"
        | "product"
        | "product_list"
        | "catalog_message"
        | "location_request_message" => Ok(body.unwrap_or("[interactive]").to_owned()),
        _ => Err(refuse(100, "Param interactive['type'] is not supported.")),
    }
}

#[derive(Deserialize)]
pub(crate) struct DownloadQuery {
    #[serde(default)]
    hash: Option<String>,
}

fn origin(simulator: &Simulator, headers: &HeaderMap) -> String {
    if let Some(url) = &simulator.config().public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'[' | b']'))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `GET /{v}/{media_id}`: metadata and a fresh short-lived download URL.
pub async fn media_info(
    State(simulator): State<Simulator>,
    Path((version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = gate(&simulator, &version, &headers).await {
        return refused;
    }
    let url_token = token(24);
    let mut state = simulator.lock();
    let now = unix_now() + state.clock_offset;
    let Some(media) = state.media.get_mut(&media_id) else {
        drop(state);
        return error_response(
            100,
            Some("Unsupported get request. Object with this ID does not exist."),
        );
    };
    media.url = Some((url_token.clone(), now));
    let body = json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/simulator/media/{media_id}?hash={url_token}&ext={now}", origin(&simulator, &headers)),
        "mime_type": media.mime_type,
        "sha256": media.sha256_hex,
        "file_size": media.bytes.len(),
        "id": media_id,
    });
    drop(state);
    json_response(200, &body)
}

/// `GET /simulator/media/{media_id}?hash=...`: the bytes, with the Bearer token, until the
/// URL expires.
pub async fn download(
    State(simulator): State<Simulator>,
    Path(media_id): Path<String>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&simulator, &headers) {
        return json_response(401, &invalid_token());
    }
    let ttl = i64::try_from(simulator.config().media_url_ttl.as_secs()).unwrap_or(i64::MAX / 4);
    let state = simulator.lock();
    let now = unix_now() + state.clock_offset;
    let found = state.media.get(&media_id).and_then(|media| {
        let (current, issued) = media.url.as_ref()?;
        let fresh = now - issued < ttl;
        (query.hash.as_deref() == Some(current.as_str()) && fresh)
            .then(|| (media.bytes.clone(), media.mime_type.clone()))
    });
    drop(state);
    match found {
        Some((bytes, mime)) => {
            let mut response = Response::new(Body::from(bytes));
            if let Ok(value) = HeaderValue::from_str(&mime) {
                response.headers_mut().insert(CONTENT_TYPE, value);
            }
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /{v}/{phone_number_id}/media` (multipart `file`, `type`, `messaging_product`).
pub async fn upload(
    State(simulator): State<Simulator>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    if let Some(refused) = gate(&simulator, &version, &headers).await {
        return refused;
    }
    if phone_number_id != simulator.config().phone_number_id {
        return error_response(
            100,
            Some("Unsupported post request. Object with this ID does not exist."),
        );
    }
    let mut file: Option<(Bytes, Option<String>)> = None;
    let mut declared_type = None;
    let mut product = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return error_response(100, Some("The multipart body is malformed.")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let content_type = field.content_type().map(str::to_owned);
        let Ok(data) = field.bytes().await else {
            return error_response(100, Some("The multipart body is malformed."));
        };
        match name.as_str() {
            "file" => file = Some((data, content_type)),
            "type" => declared_type = Some(String::from_utf8_lossy(&data).trim().to_owned()),
            "messaging_product" => product = Some(String::from_utf8_lossy(&data).trim().to_owned()),
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return error_response(
            100,
            Some("The parameter messaging_product is required and must be whatsapp."),
        );
    }
    let Some((bytes, content_type)) = file else {
        return error_response(131008, Some("Param file is required."));
    };
    let mime = declared_type
        .filter(|t| !t.is_empty())
        .or(content_type)
        .unwrap_or_else(|| "application/octet-stream".into());
    let id = simulator.put_media(bytes, &mime);
    json_response(200, &json!({ "id": id }))
}

/// `DELETE /{v}/{media_id}`.
pub async fn media_delete(
    State(simulator): State<Simulator>,
    Path((version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = gate(&simulator, &version, &headers).await {
        return refused;
    }
    if simulator.lock().media.remove(&media_id).is_some() {
        json_response(200, &json!({ "success": true }))
    } else {
        error_response(
            100,
            Some("Unsupported delete request. Object with this ID does not exist."),
        )
    }
}
