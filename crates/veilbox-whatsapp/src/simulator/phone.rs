//! The phone page: pick a demo customer and chat as them. Server-rendered (works without
//! JavaScript through a plain form post); `phone.js` polls the thread and posts without a
//! reload. No inline script or style, so it runs under a strict CSP.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::state::{ChatItem, Direction};
use super::{CustomerMessage, Simulator};

const SCRIPT: &str = include_str!("../../assets/simulator/phone.js");
const STYLESHEET: &str = include_str!("../../assets/simulator/phone.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn page(title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · WhatsApp simulator" }
                link rel="stylesheet" href="/simulator/assets/phone.css";
                script src="/simulator/assets/phone.js" defer {}
            }
            body { (body) }
        }
    };
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, CSP),
            (CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// `GET /simulator`: the customers to play.
pub async fn index(State(simulator): State<Simulator>) -> Response {
    let customers = simulator.customers();
    page(
        "Customers",
        html! {
            main.phone {
                header.bar { h1 { "WhatsApp simulator" } }
                p.hint { "Pick a customer and chat with the business as them." }
                ul.customers {
                    @for customer in &customers {
                        li {
                            a href={ "/simulator/chat/" (customer.wa_id) } {
                                span.avatar { (initials(&customer.name)) }
                                span.who {
                                    strong { (customer.name) }
                                    small { "+" (customer.wa_id)
                                        @if customer.window_open { " · window open" } }
                                }
                            }
                        }
                    }
                }
                form.new-chat method="get" action="/simulator/chat" {
                    label for="wa" { "Another number" }
                    input #wa name="wa_id" inputmode="numeric" pattern="[0-9]{6,15}" placeholder="447700900123" required;
                    button type="submit" { "Chat" }
                }
                p.links {
                    a href="/simulator/api/faults" { "faults" } " · "
                    a href="/simulator/api/counters" { "counters" } " · "
                    a href="/simulator/api/webhooks" { "webhook log" }
                }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewChat {
    wa_id: String,
}

/// `GET /simulator/chat?wa_id=...`: opens a chat as any number.
pub async fn new_chat(axum::extract::Query(query): axum::extract::Query<NewChat>) -> Response {
    let digits: String = query.wa_id.chars().filter(char::is_ascii_digit).collect();
    if super::valid_wa_id(&digits).is_err() {
        return (StatusCode::BAD_REQUEST, "a WhatsApp id is 6 to 15 digits").into_response();
    }
    Redirect::to(&format!("/simulator/chat/{digits}")).into_response()
}

/// `GET /simulator/chat/{wa_id}`: the chat as that customer.
pub async fn chat(State(simulator): State<Simulator>, Path(wa_id): Path<String>) -> Response {
    if super::valid_wa_id(&wa_id).is_err() {
        return (StatusCode::NOT_FOUND, "unknown customer").into_response();
    }
    let customer = simulator.customers().into_iter().find(|c| c.wa_id == wa_id);
    let name = customer
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| format!("+{wa_id}"));
    let items = simulator.thread(&wa_id, 0);
    let business = simulator.config().display_phone_number.clone();
    page(
        &name,
        html! {
            main.phone #chat data-wa-id=(wa_id) {
                header.bar {
                    a.back href="/simulator" aria-label="All customers" { "‹" }
                    div.who {
                        strong { "Courier business" }
                        small #presence { "+" (business) " · you are " (name) }
                    }
                }
                ol.thread #thread aria-live="polite" {
                    @for item in &items { (bubble(item)) }
                }
                form.compose #compose method="post" action={ "/simulator/chat/" (wa_id) } {
                    button.tool type="submit" name="action" value="photo" title="Send a photo" { "📷" }
                    button.tool type="submit" name="action" value="location" title="Share location" { "📍" }
                    input #text name="text" autocomplete="off" maxlength="4096" placeholder="Message" aria-label="Message";
                    button.send type="submit" name="action" value="text" { "Send" }
                }
            }
        },
    )
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect()
}

/// One message bubble; `phone.js` renders the same structure from JSON.
fn bubble(item: &ChatItem) -> Markup {
    let mine = item.direction == Direction::Inbound;
    let time = clock(item.timestamp);
    html! {
        li class={ "msg " (if mine { "mine" } else { "theirs" }) } data-seq=(item.seq) {
            @if item.kind != "text" { span.kind { (item.kind) } }
            span.text { (item.text.clone().unwrap_or_default()) }
            span.meta {
                (time) " "
                span class={ "tick " (item.state) } title=(item.state) { (tick(&item.state)) }
                @if let Some(code) = item.error_code { " " span.err { "error " (code) } }
            }
        }
    }
}

fn tick(state: &str) -> &'static str {
    match state {
        "pending" | "accepted" => "🕓",
        "sent" => "✓",
        "delivered" | "read" => "✓✓",
        "failed" => "⚠",
        _ => "",
    }
}

/// `HH:MM` UTC of a Unix time.
fn clock(unix: i64) -> String {
    let day_secs = unix.rem_euclid(86_400);
    format!("{:02}:{:02}", day_secs / 3600, (day_secs % 3600) / 60)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SendForm {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    action: Option<String>,
}

/// The demo depot customers share as their location.
fn demo_location() -> CustomerMessage {
    CustomerMessage::Location {
        latitude: 51.507_351,
        longitude: -0.127_758,
        name: Some("Home".into()),
        address: Some("Delivery address pin".into()),
    }
}

/// `POST /simulator/chat/{wa_id}`: the no-JavaScript way to write as the customer.
pub async fn form_send(
    State(simulator): State<Simulator>,
    Path(wa_id): Path<String>,
    Form(form): Form<SendForm>,
) -> Response {
    let message = match form.action.as_deref() {
        Some("photo") => CustomerMessage::Image {
            caption: form.text.filter(|t| !t.trim().is_empty()),
        },
        Some("location") => demo_location(),
        _ => CustomerMessage::Text(form.text.unwrap_or_default()),
    };
    match super::webhooks::customer_message(&simulator, &wa_id, message, None, None) {
        Ok(_) => Redirect::to(&format!("/simulator/chat/{wa_id}")).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// `GET /simulator/assets/phone.js`.
pub async fn script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `GET /simulator/assets/phone.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
        .into_response()
}
