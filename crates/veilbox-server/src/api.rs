//! The JSON API under `/api/v1` and `GET /healthz`.
//!
//! Callers are API tokens (made by an admin with a role and scope), the bootstrap token
//! (an admin, for automating a fresh install) or a signed-in browser with its CSRF token
//! ([`ApiCaller`]). Every handler asks the authorizer; a conversation the caller may not
//! see is a 404 like one that does not exist. Field names are stable and documented in
//! `docs/api.md`. Times are RFC 3339 in UTC.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use veilbox_policy::{Action, Context};
use veilbox_store::outbox::ReplyPayload;
use veilbox_store::reads::{ConversationFilter, ConversationSummary, MessageRecord};

use crate::auth::{Actor, ApiCaller};

use crate::dlp::{SendChecks, SendRefusal};
use crate::replies::{send_reply, ReplyOutcome};

use crate::error::WebError;
use crate::AppState;

/// The API routes and health.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/v1/conversations", get(list_conversations))
        .route("/api/v1/conversations/{id}", get(show_conversation))
        .route("/api/v1/conversations/{id}/messages", get(list_messages))
        .route("/api/v1/conversations/{id}/replies", post(create_reply))
        .route(
            "/api/v1/conversations/{id}/reveals",
            post(crate::exposure::reveal::reveal),
        )
        .route(
            "/api/v1/conversations/{id}/check",
            post(crate::dlp::http::check_in_api),
        )
        .route("/api/v1/outbox/{id}/decision", post(decide_send))
        .route("/api/v1/admin/alerts", get(list_alerts))
        .route("/api/v1/admin/outbox", get(outbox_counts))
        .route("/api/v1/deliveries/{wa_message_id}", get(show_delivery))
        .route("/api/v1/admin/platform-errors", get(list_platform_errors))
        .route("/api/v1/admin/ingest-backlog", get(ingest_backlog))
        .route("/api/v1/admin/quarantine", get(list_quarantine))
        .route(
            "/api/v1/admin/quarantine/reprocess",
            post(reprocess_quarantine),
        )
        .route(
            "/api/v1/admin/identity-conflicts",
            get(list_identity_conflicts),
        )
        .merge(crate::api_people::routes())
        .merge(crate::api_crm::routes())
        .merge(crate::quick_replies::api_routes())
        .layer(axum::middleware::map_response(no_store))
}

/// API answers carry customer data: never cached by a browser or a proxy.
async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The conversation `id` if `actor` may do `action` to it: 404 when they may not see it,
/// 403 when they may see it but not do this.
pub(crate) async fn authorize_conversation(
    state: &AppState,
    actor: &Actor,
    id: &str,
    action: Action,
    context: &Context,
) -> Result<ConversationSummary, WebError> {
    let conversation = state
        .access
        .visible_conversation(&state.store, actor, id)
        .await?
        .ok_or(WebError::NotFound)?;
    if action != Action::ViewConversation
        && !state
            .access
            .allowed_on_conversation(&state.store, actor, action, &conversation, context)
            .await?
    {
        return Err(WebError::Forbidden);
    }
    Ok(conversation)
}

/// Refuses unless `actor` may do a system-wide `action`.
pub(crate) fn require(state: &AppState, actor: &Actor, action: Action) -> Result<(), WebError> {
    if state.access.allowed_system(actor, action) {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

/// `?cursor=..&limit=..`
#[derive(Debug, Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
struct PageJson<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConversationJson {
    id: String,
    inbox_id: String,
    state: String,
    customer: CustomerJson,
    created_at: String,
    last_message_at: String,
    last_inbound_at: Option<String>,
    resolved_at: Option<String>,
    assignee: Option<String>,
}

/// The customer of a conversation, masked: a handle, the number by its last four digits,
/// the profile name as a label (reveals go through the reveal endpoint).
#[derive(Debug, Serialize)]
struct CustomerJson {
    id: String,
    handle: String,
    wa_id: Option<String>,
    user_id: Option<String>,
    profile_name: Option<String>,
    erased: bool,
}

#[derive(Debug, Serialize)]
struct MessageJson {
    id: String,
    wa_message_id: Option<String>,
    #[serde(rename = "type")]
    message_type: String,
    direction: String,
    timestamp: String,
    received_at: String,
    content: Value,
    context: Option<Value>,
    errors: Option<Value>,
    raw: Option<Value>,
    /// The values hidden in `content`, by field, with their reveal references.
    masked: Vec<crate::exposure::content::MaskedFieldJson>,
    delivery: Option<DeliveryJson>,
    author: Option<String>,
    send: Option<SendJson>,
    /// When the customer last edited it.
    #[serde(skip_serializing_if = "Option::is_none")]
    edited_at: Option<String>,
    /// What it said before each edit, masked (no reveal), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    previous_versions: Vec<Value>,
    /// When the customer deleted it (its content is then `{"kind": "deleted"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<String>,
}

/// Where a reply's send job stands.
#[derive(Debug, Serialize)]
struct SendJson {
    state: String,
    attempts: i64,
    error: Option<SendErrorJson>,
}

#[derive(Debug, Serialize)]
struct SendErrorJson {
    code: Option<i64>,
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct DeliveryJson {
    state: String,
    at: String,
    error: Option<ErrorJson>,
}

#[derive(Debug, Serialize)]
struct ErrorJson {
    code: Option<i64>,
    title: Option<String>,
}

/// RFC 3339 from Unix milliseconds (the API's and the pages' one time format).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

impl From<ConversationSummary> for ConversationJson {
    fn from(c: ConversationSummary) -> Self {
        ConversationJson {
            id: c.id,
            inbox_id: c.inbox_id,
            state: c.state,
            customer: CustomerJson {
                handle: crate::exposure::handle::text(&c.customer),
                wa_id: c
                    .customer
                    .wa_id
                    .as_deref()
                    .map(crate::exposure::phone_label),
                user_id: c.customer.user_id.as_ref().map(|_| "••••".to_owned()),
                profile_name: c
                    .customer
                    .profile_name
                    .as_deref()
                    .map(|name| crate::exposure::label(crate::exposure::name_kind(name))),
                erased: c.customer.erased,
                id: c.customer.id,
            },
            created_at: rfc3339(c.created_at),
            last_message_at: rfc3339(c.last_message_at),
            last_inbound_at: c.last_inbound_at.map(rfc3339),
            resolved_at: c.resolved_at.map(rfc3339),
            assignee: c.assignee,
        }
    }
}

/// Reply and forwarding context without the quoted sender's number (a phone number, shown
/// by its last four digits like every other).
fn masked_context(mut context: Value) -> Value {
    if let Some(from) = context.get_mut("reply_to_from") {
        if let Some(number) = from.as_str() {
            *from = Value::String(crate::exposure::phone_label(number));
        }
    }
    context
}

impl MessageJson {
    /// `m` as the viewer of `exposure` may see it.
    fn masked(m: MessageRecord, exposure: &crate::exposure::Exposure) -> Self {
        let masked = crate::exposure::content::MaskedMessage::of(&m, exposure);
        let previous_versions = crate::exposure::content::MaskedMessage::previous_versions(&m, exposure)
            .into_iter()
            .zip(&m.previous_versions)
            .map(|(before, version)| {
                serde_json::json!({"replaced_at": rfc3339(version.replaced_at), "content": before.content})
            })
            .collect();
        let raw = m
            .raw
            .as_ref()
            .map(|raw| crate::exposure::content::masked_raw(raw, exposure));
        MessageJson {
            id: m.id,
            wa_message_id: m.wa_message_id,
            message_type: m.message_type,
            direction: m.direction,
            timestamp: rfc3339(m.sent_at),
            received_at: rfc3339(m.received_at),
            masked: masked.json(),
            content: masked.content,
            context: m.context.map(masked_context),
            // Meta's error details can quote what the customer sent: masked like the rest.
            errors: m
                .errors
                .as_ref()
                .map(|errors| crate::exposure::content::masked_raw(errors, exposure)),
            raw,
            delivery: m.delivery.map(|d| DeliveryJson {
                state: d.state,
                at: rfc3339(d.at),
                error: (d.error_code.is_some() || d.error_title.is_some()).then_some(ErrorJson {
                    code: d.error_code,
                    title: d.error_title,
                }),
            }),
            author: m.author,
            edited_at: m.edited_at.map(rfc3339),
            previous_versions,
            deleted_at: m.deleted_at.map(rfc3339),
            send: m.outbox.map(|o| SendJson {
                state: o.state,
                attempts: o.attempts,
                error: (o.error_code.is_some() || o.error_reason.is_some()).then_some(
                    SendErrorJson {
                        code: o.error_code,
                        reason: o.error_reason,
                    },
                ),
            }),
        }
    }
}

async fn health(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await;
    match ping {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "database": "ok"})),
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "health check: database unreachable");
            unhealthy()
        }
        Err(_) => {
            tracing::error!("health check: database did not answer within 2 s");
            unhealthy()
        }
    }
}

fn unhealthy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
    )
        .into_response()
}

async fn list_conversations(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Query(page): Query<PageQuery>,
) -> Result<Json<PageJson<ConversationJson>>, WebError> {
    let page = state
        .access
        .visible_conversations(
            &state.store,
            &actor,
            &ConversationFilter::default(),
            page.cursor.as_deref(),
            page.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(PageJson {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn show_conversation(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConversationJson>, WebError> {
    let conversation = authorize_conversation(
        &state,
        &actor,
        &id,
        Action::ViewConversation,
        &Context::default(),
    )
    .await?;
    Ok(Json(conversation.into()))
}

async fn list_messages(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<PageJson<MessageJson>>, WebError> {
    let conversation = authorize_conversation(
        &state,
        &actor,
        &id,
        Action::ViewConversation,
        &Context::default(),
    )
    .await?;
    let (exposure, _) =
        crate::exposure::reveal::conversation_exposure(&state, &actor, &conversation).await?;
    let page = state
        .store
        .thread(&id, page.cursor.as_deref(), page.limit.unwrap_or(100))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(PageJson {
        items: page
            .items
            .into_iter()
            .map(|m| MessageJson::masked(m, &exposure))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The merged delivery state of an outbound wamid, with every receipt received.
async fn show_delivery(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(wa_message_id): Path<String>,
) -> Result<Json<Value>, WebError> {
    match state.store.conversation_of_wamid(&wa_message_id).await? {
        Some(conversation) => {
            authorize_conversation(
                &state,
                &actor,
                &conversation,
                Action::ViewConversation,
                &Context::default(),
            )
            .await?;
        }
        // Receipts of a message Veilbox did not send (from another tool on the same
        // number) belong to no conversation: platform data, for those who configure.
        // Answered 404 like another team's message, so the answer does not tell which.
        None => {
            if !state.access.allowed_system(&actor, Action::Configure) {
                return Err(WebError::NotFound);
            }
        }
    }
    let delivery = state
        .store
        .delivery(&wa_message_id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(serde_json::json!({
        "wa_message_id": delivery.wa_message_id,
        "state": delivery.state,
        "at": rfc3339(delivery.at),
        "error": delivery.error_code.map(|code| serde_json::json!({"code": code, "title": delivery.error_title})),
        "receipts": delivery.receipts.into_iter().map(|r| serde_json::json!({
            "status": r.status,
            "at": rfc3339(r.at),
            "error": r.error_code.map(|code| serde_json::json!({"code": code, "title": r.error_title})),
        })).collect::<Vec<_>>(),
    })))
}

/// `POST /api/v1/conversations/{id}/replies` with `{"type":"text","body":..}` or
/// `{"type":"template","name":..,"language":..}`: 202 with the queued ids; 409 when free
/// text is outside the 24-hour window. A text reply may also carry `confirm_warnings`,
/// `override_block` and `override_reason` (see [`SendChecks`]); one that leak prevention
/// refuses is a 422 with `verdict` (`block` or `warn`) and the `kinds` it found, an
/// override the caller may not make a 403.
async fn create_reply(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    authorize_conversation(&state, &actor, &id, Action::Reply, &Context::default()).await?;
    let payload: ReplyPayload = serde_json::from_slice(&body).map_err(|_| {
        WebError::BadRequest("expected {\"type\":\"text\",\"body\":...} or a template")
    })?;
    let checks: SendChecks = serde_json::from_slice(&body).map_err(|_| {
        WebError::BadRequest(
            "confirm_warnings and override_block are true or false, override_reason text",
        )
    })?;
    match send_reply(&state, &id, &actor, payload, &checks).await? {
        ReplyOutcome::Queued(queued) => Ok((
            StatusCode::ACCEPTED,
            Json(
                serde_json::json!({"message_id": queued.message_id, "outbox_id": queued.outbox_id}),
            ),
        )
            .into_response()),
        ReplyOutcome::WindowClosed => Ok((
            StatusCode::CONFLICT,
            Json(serde_json::json!({"error": "outside the 24-hour window, send a template"})),
        )
            .into_response()),
        ReplyOutcome::NotFound => Err(WebError::NotFound),
        ReplyOutcome::NoRecipient => Err(WebError::BadRequest(
            "the customer has no WhatsApp number to send to",
        )),
        ReplyOutcome::Invalid(why) => Err(WebError::BadRequest(why)),
        ReplyOutcome::Refused(refusal) => {
            let status = match refusal {
                SendRefusal::OverrideForbidden(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Ok((
                status,
                Json(serde_json::json!({
                    "error": refusal.message(),
                    "verdict": refusal.level(),
                    "kinds": refusal.kinds(),
                })),
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct Decision {
    resend: bool,
}

/// `POST /api/v1/outbox/{id}/decision` with `{"resend": true|false}`: a person's decision
/// about an unconfirmed or failed send.
async fn decide_send(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(decision): Json<Decision>,
) -> Result<Json<Value>, WebError> {
    let conversation = state
        .store
        .conversation_of_send(&id)
        .await?
        .ok_or(WebError::NotFound)?;
    authorize_conversation(
        &state,
        &actor,
        &conversation,
        Action::Reply,
        &Context::default(),
    )
    .await?;
    let conversation = state
        .store
        .decide_send(Some(&conversation), &id, decision.resend)
        .await?
        .ok_or(WebError::NotFound)?;
    state.outbox.wake();
    Ok(Json(
        serde_json::json!({"conversation_id": conversation, "resend": decision.resend}),
    ))
}

async fn list_alerts(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let alerts = state.store.open_alerts().await?;
    let items: Vec<Value> = alerts
        .into_iter()
        .map(|(kind, subject, detail, at)| serde_json::json!({"kind": kind, "subject": subject, "detail": detail, "at": rfc3339(at)}))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn outbox_counts(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let counts: serde_json::Map<String, Value> = state
        .store
        .outbox_counts()
        .await?
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    Ok(Json(Value::Object(counts)))
}

async fn list_platform_errors(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let errors = state.store.platform_errors(200).await?;
    // An error's title and details can quote a customer's message: admins see them masked.
    let exposure = crate::exposure::Exposure::masked_only(state.scanner.clone(), None);
    let masked = |text: Option<String>| text.map(|t| exposure.text(None, &t).text());
    let items: Vec<Value> = errors
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "webhook_event_id": e.webhook_event_id,
                "phone_number_id": e.phone_number_id,
                "code": e.code,
                "title": masked(e.title),
                "details": masked(e.details),
                "received_at": rfc3339(e.received_at),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn ingest_backlog(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let backlog = state.store.ingest_backlog().await?;
    Ok(Json(
        serde_json::to_value(backlog).map_err(|e| WebError::Internal(e.into()))?,
    ))
}

/// `GET /api/v1/admin/quarantine`: signed bodies stored but not normalised, oldest first.
/// The reason is a database or parser error; it is masked like any text, because an error
/// can quote the value that broke a rule.
async fn list_quarantine(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let events = state.store.quarantined_events(500).await?;
    let hints = veilbox_mask::Hints::new();
    let items: Vec<Value> = events
        .iter()
        .map(|q| {
            let findings = state.scanner.scan(&q.reason, &hints);
            serde_json::json!({
                "event_id": q.event_id,
                "received_at": rfc3339(q.received_at),
                "last_attempt_at": rfc3339(q.last_attempt_at),
                "attempts": q.attempts,
                "reason": veilbox_mask::mask(&q.reason, &findings, &veilbox_mask::Policy::full()),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `POST /api/v1/admin/quarantine/reprocess`: normalises the quarantined events again (after
/// an upgrade, or once what refused them is put right). Audited.
async fn reprocess_quarantine(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let report = state.ingestor.reprocess_quarantined(1000).await?;
    let summary = format!(
        "{} tried, {} normalised, {} still quarantined",
        report.tried, report.normalised, report.still_quarantined
    );
    state
        .store
        .audit(&actor.audit("webhooks.reprocessed", None, Some(&summary)))
        .await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| WebError::Internal(e.into()))?,
    ))
}

/// `GET /api/v1/admin/identity-conflicts`: senders whose phone and user id led to two
/// customers, and whether the automatic merge settled them.
async fn list_identity_conflicts(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
) -> Result<Json<Value>, WebError> {
    require(&state, &actor, Action::Configure)?;
    let items: Vec<Value> = state
        .store
        .identity_conflicts(500)
        .await?
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "kept_customer_id": c.kept_customer_id,
                "other_customer_id": c.other_customer_id,
                "kind": c.kind,
                "state": c.state,
                "detected_at": rfc3339(c.detected_at),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}
