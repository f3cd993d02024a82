//! The JSON API of the CRM: customer search by blind index, customer cards and their
//! edits (display name, labels, notes, contacts, merges), and shipments (import and lookup
//! by tracking number).
//!
//! Every customer route asks the authorizer about `Resource::Customer` (`view_customer` to
//! read, `edit_customer` to change): supervisors reach their teams' customers, agents the
//! customers of conversations assigned to them. A customer the caller may not see is a 404,
//! exactly like one that does not exist. Importing shipments is configuration (`configure`,
//! admins). Changes are audited with ids and counts, never values.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use veilbox_policy::{Action, Context, CustomerFacts, Resource};
use veilbox_store::crm::card::CustomerReach;
use veilbox_store::crm::edit::CustomerEdit;
use veilbox_store::crm::search::{SearchBy, SearchRefusal};
use veilbox_store::crm::{ContactKind, CrmRefusal, CustomerCard, Shipment, TrackingNumber};

use crate::api::{require, rfc3339};
use crate::auth::{Actor, ApiCaller};
use crate::error::WebError;
use crate::exposure::card::MaskedCard;
use crate::exposure::{handle, Exposure};
use crate::import::rows::{parse_row, Rejection, COLUMNS};
use crate::import::{ImportSummary, ParsedRows, BATCH_ROWS};
use crate::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers/search", post(search))
        .route(
            "/api/v1/customers/{id}",
            get(show_customer).patch(edit_customer),
        )
        .route("/api/v1/customers/{id}/notes", post(add_note))
        .route("/api/v1/customers/{id}/contacts", post(add_contact))
        .route("/api/v1/customers/{id}/merge", post(merge))
        .route("/api/v1/shipments/import", post(import_shipments))
        .route("/api/v1/shipments/{tracking}", get(show_shipment))
}

/// The customer `id` (its reach) if `actor` may do `action` to it: 404 when they may not
/// see it, 403 when they may see it but not do this.
pub(crate) async fn authorize_customer(
    state: &AppState,
    actor: &Actor,
    id: &str,
    action: Action,
) -> Result<CustomerReach, WebError> {
    let reach = state
        .store
        .customer_reach(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let resource = Resource::Customer(CustomerFacts {
        id: reach.id.clone(),
        teams: reach.teams.clone(),
        assignees: reach.assignees.clone(),
    });
    let context = Context::default();
    if !state
        .access
        .allowed(actor, Action::ViewCustomer, &resource, &context)
    {
        return Err(WebError::NotFound);
    }
    if action != Action::ViewCustomer && !state.access.allowed(actor, action, &resource, &context) {
        return Err(WebError::Forbidden);
    }
    Ok(reach)
}

/// A contact conflict names the other customer only to a caller who may see them: to
/// anyone else, that a given customer id exists is not theirs to learn.
pub(crate) async fn named_if_visible(
    state: &AppState,
    actor: &Actor,
    refusal: CrmRefusal,
) -> Result<CrmRefusal, WebError> {
    let CrmRefusal::ContactTaken(owner) = &refusal else {
        return Ok(refusal);
    };
    match authorize_customer(state, actor, owner, Action::ViewCustomer).await {
        Ok(_) => Ok(refusal),
        Err(WebError::NotFound) => Ok(CrmRefusal::ContactTakenElsewhere),
        Err(other) => Err(other),
    }
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_json::from_slice(body).map_err(|_| WebError::BadRequest("malformed JSON body"))
}

/// A refused change, with a status the client can act on. Messages hold ids only.
fn refused(refusal: &CrmRefusal) -> Response {
    let status = match refusal {
        CrmRefusal::NoSuchCustomer | CrmRefusal::NoSuchContact => StatusCode::NOT_FOUND,
        CrmRefusal::Erased
        | CrmRefusal::Merged(_)
        | CrmRefusal::ContactTaken(_)
        | CrmRefusal::ContactTakenElsewhere => StatusCode::CONFLICT,
        CrmRefusal::NotNormalised(_) | CrmRefusal::Invalid(_) | CrmRefusal::SameCustomer => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let mut body = json!({"error": refusal.to_string()});
    match refusal {
        CrmRefusal::ContactTaken(owner) => body["customer_id"] = json!(owner),
        CrmRefusal::Merged(into) => body["merged_into"] = json!(into),
        _ => {}
    }
    (status, Json(body)).into_response()
}

async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &str,
    target: &str,
    reason: Option<&str>,
) -> Result<(), WebError> {
    state
        .store
        .audit(&actor.audit(action, Some(target), reason))
        .await?;
    Ok(())
}

/// A masked value as JSON text (`null` when absent).
fn shown(masked: &MaskedCard, field: &str, present: bool) -> Value {
    if present {
        Value::String(masked.get(field).text())
    } else {
        Value::Null
    }
}

/// A shipment as the API shows it: tracking, status, slot and amounts as they are; names,
/// phones, addresses and instructions masked.
fn shipment_json(s: &Shipment, masked: &MaskedCard) -> Value {
    let f = |field: &str| format!("s/{}/{field}", s.id);
    json!({
        "id": s.id,
        "customer_id": s.customer_id,
        "tracking": s.tracking,
        "format": s.format,
        "status": s.status,
        "sender_name": shown(masked, &f("sender"), s.sender_name.is_some()),
        "recipient_name": shown(masked, &f("recipient"), s.recipient_name.is_some()),
        "recipient_phone": shown(masked, &f("phone"), s.recipient_phone.is_some()),
        "address": shown(masked, &f("address"), s.address.is_some()),
        "instructions": shown(masked, &f("instructions"), s.instructions.is_some()),
        "delivery_slot": s.slot_start.zip(s.slot_end).map(|(a, b)| json!({"start": rfc3339(a), "end": rfc3339(b)})),
        "eta": s.eta.map(rfc3339),
        "cod": s.cod_amount_minor.map(|m| json!({"amount_minor": m, "currency": s.cod_currency})),
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.updated_at),
        "closed_at": s.closed_at.map(rfc3339),
        "timeline": s.timeline.iter().map(|e| json!({"status": e.status, "at": rfc3339(e.at)})).collect::<Vec<_>>(),
    })
}

/// A customer's card as the API shows it: masked like the pages (a handle, labels for
/// names, e-mails and addresses, phones by their last four digits, notes scanned).
fn card_json(state: &AppState, card: &CustomerCard) -> Value {
    let exposure = Exposure::masked_only(state.scanner.clone(), Some(card));
    let masked = MaskedCard::of(card, &exposure);
    let c = |field: &str| format!("c/{}/{field}", card.id);
    json!({
        "id": card.id,
        "handle": handle::of_card(card),
        "display_name": shown(&masked, &c("name"), card.display_name.is_some()),
        "profile_name": shown(&masked, &c(if card.display_name.is_some() { "profile" } else { "name" }), card.profile_name.is_some()),
        "wa_number": shown(&masked, &c("wa"), card.wa_number.is_some()),
        "labels": card.labels,
        "marketing_opt_out_at": card.marketing_opt_out_at.map(rfc3339),
        "contacts": card.contacts.iter().map(|x| json!({
            "id": x.id, "kind": x.kind.as_str(), "value": masked.get(&c(&format!("contact.{}", x.id))).text(), "created_at": rfc3339(x.created_at),
        })).collect::<Vec<_>>(),
        "addresses": card.addresses.iter().map(|a| json!({
            "id": a.id, "label": a.label, "value": masked.get(&c(&format!("address.{}", a.id))).text(), "created_at": rfc3339(a.created_at),
        })).collect::<Vec<_>>(),
        "notes": card.notes.iter().map(|n| json!({
            "id": n.id, "author": n.author, "body": masked.get(&c(&format!("note.{}", n.id))).text(), "created_at": rfc3339(n.created_at),
        })).collect::<Vec<_>>(),
        "shipments": card.shipments.iter().map(|s| shipment_json(s, &masked)).collect::<Vec<_>>(),
        "merged_into": card.merged_into,
        "erased": card.erased,
        "created_at": rfc3339(card.created_at),
        "updated_at": rfc3339(card.updated_at),
    })
}

/// `?phone=` | `?email=` | `?tracking=`
#[derive(Debug, Deserialize)]
struct SearchQuery {
    phone: Option<String>,
    email: Option<String>,
    tracking: Option<String>,
}

/// `POST /api/v1/customers/search` `{"phone"|"email"|"tracking": ".."}`: exact match through
/// the blind indexes; the customers found that the caller may see. A POST, so numbers and
/// e-mails never sit in URLs, proxy access logs or traces.
async fn search(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, WebError> {
    let query: SearchQuery = json_body(&body)?;
    let (by, value) = match (query.phone, query.email, query.tracking) {
        (Some(v), None, None) => (SearchBy::Phone, v),
        (None, Some(v), None) => (SearchBy::Email, v),
        (None, None, Some(v)) => (SearchBy::Tracking, v),
        _ => {
            return Err(WebError::BadRequest(
                "give exactly one of phone, email or tracking",
            ))
        }
    };
    let ids = match state.store.find_customers(by, &value).await? {
        Ok(ids) => ids,
        Err(SearchRefusal::Phone) => return Err(WebError::BadRequest("give a full phone number with its country code (e.g. +44 7700 900461); partial numbers are not searchable")),
        Err(SearchRefusal::Email) => return Err(WebError::BadRequest("give a full e-mail address; partial addresses are not searchable")),
        Err(SearchRefusal::Tracking) => return Err(WebError::BadRequest("give a full tracking number in a format Veilbox recognises; partial numbers are not searchable")),
    };
    let mut items = Vec::new();
    for id in ids {
        if authorize_customer(&state, &actor, &id, Action::ViewCustomer)
            .await
            .is_ok()
        {
            if let Some(card) = state.store.customer_card(&id).await? {
                items.push(json!({
                    "id": card.id,
                    "handle": handle::of_card(&card),
                    "labels": card.labels,
                }));
            }
        }
    }
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/customers/{id}`
async fn show_customer(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    authorize_customer(&state, &actor, &id, Action::ViewCustomer).await?;
    let card = state
        .store
        .customer_card(&id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(card_json(&state, &card)))
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(default, deserialize_with = "present")]
    display_name: Option<Option<String>>,
    #[serde(default)]
    labels: Option<Vec<String>>,
}

/// `PATCH /api/v1/customers/{id}`: `display_name` (null clears it) and/or `labels`.
async fn edit_customer(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    authorize_customer(&state, &actor, &id, Action::EditCustomer).await?;
    let edit: EditBody = json_body(&body)?;
    let mut fields = Vec::new();
    if edit.display_name.is_some() {
        fields.push("display_name");
    }
    if edit.labels.is_some() {
        fields.push("labels");
    }
    let change = CustomerEdit {
        display_name: edit.display_name,
        labels: edit.labels,
    };
    if let Err(refusal) = state.store.edit_customer(&id, &change).await? {
        return Ok(refused(&refusal));
    }
    audit(
        &state,
        &actor,
        "customer.edited",
        &id,
        Some(&fields.join(",")),
    )
    .await?;
    let card = state
        .store
        .customer_card(&id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Json(card_json(&state, &card)).into_response())
}

#[derive(Debug, Deserialize)]
struct NoteBody {
    body: String,
}

/// `POST /api/v1/customers/{id}/notes`: 201 with the note's id.
async fn add_note(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    authorize_customer(&state, &actor, &id, Action::EditCustomer).await?;
    let note: NoteBody = json_body(&body)?;
    match state
        .store
        .add_note(&id, actor.author(), &note.body)
        .await?
    {
        Err(refusal) => Ok(refused(&refusal)),
        Ok(note_id) => {
            audit(&state, &actor, "customer.note_added", &id, None).await?;
            Ok((StatusCode::CREATED, Json(json!({ "id": note_id }))).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ContactBody {
    kind: ContactKind,
    value: String,
}

/// `POST /api/v1/customers/{id}/contacts`: 201 with the contact; 409 naming the customer
/// who has it already.
async fn add_contact(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    authorize_customer(&state, &actor, &id, Action::EditCustomer).await?;
    let contact: ContactBody = json_body(&body)?;
    match state
        .store
        .add_contact(&id, contact.kind, &contact.value)
        .await?
    {
        Err(refusal) => Ok(refused(&named_if_visible(&state, &actor, refusal).await?)),
        Ok(added) => {
            audit(
                &state,
                &actor,
                "customer.contact_added",
                &id,
                Some(added.kind.as_str()),
            )
            .await?;
            Ok((
                StatusCode::CREATED,
                Json(json!({
                    "id": added.id, "kind": added.kind.as_str(), "value": added.value,
                    "created_at": rfc3339(added.created_at),
                })),
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct MergeBody {
    from: String,
}

/// `POST /api/v1/customers/{id}/merge` `{"from": id}`: keeps `{id}`; needs `edit_customer`
/// on both.
async fn merge(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    authorize_customer(&state, &actor, &id, Action::EditCustomer).await?;
    let body: MergeBody = json_body(&body)?;
    authorize_customer(&state, &actor, &body.from, Action::EditCustomer).await?;
    match state.store.merge_customers(&id, &body.from).await? {
        Err(refusal) => Ok(refused(&refusal)),
        Ok(report) => {
            audit(
                &state,
                &actor,
                "customer.merged",
                &id,
                Some(&format!(
                    "from {}: {} conversations, {} messages, {} CRM rows",
                    body.from, report.conversations, report.messages, report.crm_rows
                )),
            )
            .await?;
            Ok(Json(json!({
                "id": id,
                "merged": body.from,
                "conversations": report.conversations,
                "conversations_resolved": report.conversations_resolved,
                "messages": report.messages,
                "crm_rows": report.crm_rows,
            }))
            .into_response())
        }
    }
}

/// `POST /api/v1/shipments/import`: a JSON array of rows, or a `text/csv` body; answers with
/// the counts and every rejection (row, column, reason).
async fn import_shipments(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    require(&state, &actor, Action::Configure)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/csv"));
    let parsed = if is_csv {
        crate::import::parse_csv_text(&body)
    } else {
        parse_json_rows(&body)
    };
    let (rows, lines, mut rejections, rejected_rows) = match parsed {
        Ok(parsed) => parsed,
        Err(problems) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": "the rows do not fit the format; nothing was imported",
                    "rejections": problems,
                })),
            )
                .into_response())
        }
    };
    let mut summary = ImportSummary {
        rows: rows.len() as u64 + rejected_rows,
        rejected: rejected_rows,
        ..ImportSummary::default()
    };
    for (chunk, chunk_lines) in rows.chunks(BATCH_ROWS).zip(lines.chunks(BATCH_ROWS)) {
        let outcomes = state.store.import_shipments(chunk).await?;
        rejections.extend(summary.count(&outcomes, chunk_lines));
    }
    rejections.sort_by_key(|r| r.row);
    let counts = format!(
        "rows={} created={} updated={} unchanged={} rejected={}",
        summary.rows, summary.created, summary.updated, summary.unchanged, summary.rejected
    );
    audit(
        &state,
        &actor,
        "shipments.imported",
        "shipments",
        Some(&counts),
    )
    .await?;
    let mut report = serde_json::to_value(&summary).map_err(|_| WebError::BadRequest("report"))?;
    report["rejections"] = json!(rejections);
    Ok(Json(report).into_response())
}

/// A JSON array of objects keyed by the CSV column names; values are strings, numbers or
/// null. Rows are numbered from 1 in array order.
fn parse_json_rows(body: &[u8]) -> Result<ParsedRows, Vec<Rejection>> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(vec![Rejection::new(
            0,
            "*",
            "expected a JSON array of rows (or a text/csv body)",
        )]);
    };
    let (mut rows, mut lines, mut rejections, mut rejected) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    for (i, item) in items.iter().enumerate() {
        let row = i as u64 + 1;
        let Value::Object(object) = item else {
            rejections.push(Rejection::new(row, "*", "a row is a JSON object"));
            rejected += 1;
            continue;
        };
        let mut fields: Vec<(&str, String)> = Vec::new();
        let mut problems = Vec::new();
        for (key, value) in object {
            if !COLUMNS.contains(&key.as_str()) {
                problems.push(Rejection::new(
                    row,
                    key,
                    "unknown column (see docs/shipments-import.md)",
                ));
                continue;
            }
            match value {
                Value::Null => {}
                Value::String(s) => fields.push((key, s.clone())),
                Value::Number(n) => fields.push((key, n.to_string())),
                _ => problems.push(Rejection::new(
                    row,
                    key,
                    "must be a string, a number or null",
                )),
            }
        }
        if !problems.is_empty() {
            rejections.extend(problems);
            rejected += 1;
            continue;
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        };
        match parse_row(row, field) {
            Ok(parsed) => {
                rows.push(parsed);
                lines.push(row);
            }
            Err(problems) => {
                rejections.extend(problems);
                rejected += 1;
            }
        }
    }
    Ok((rows, lines, rejections, rejected))
}

/// `GET /api/v1/shipments/{tracking}`: the shipment, if the caller may see its customer.
async fn show_shipment(
    ApiCaller(actor): ApiCaller,
    State(state): State<AppState>,
    Path(tracking): Path<String>,
) -> Result<Json<Value>, WebError> {
    let tracking = TrackingNumber::parse(&tracking).map_err(|_| {
        WebError::BadRequest("not a tracking number in a format Veilbox recognises")
    })?;
    let shipment = state
        .store
        .shipment_by_tracking(&tracking)
        .await?
        .ok_or(WebError::NotFound)?;
    authorize_customer(&state, &actor, &shipment.customer_id, Action::ViewCustomer).await?;
    let exposure = Exposure::masked_only(state.scanner.clone(), None);
    let masked = MaskedCard::of_shipment(&shipment, &exposure);
    Ok(Json(shipment_json(&shipment, &masked)))
}
