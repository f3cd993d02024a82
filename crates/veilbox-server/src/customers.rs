//! The CRM pages: finding a customer by a full phone number, e-mail or tracking number, a
//! customer's card (details, contacts, addresses, notes, labels, shipments with their
//! timeline) with its edit forms and merge, and the card beside a conversation.
//!
//! Every value is opened on the server for this viewer only, after the authorizer said yes
//! (`view_customer`, and `edit_customer` for the forms), and rendered masked
//! ([`crate::exposure`]): the customer is a handle, names, phones, e-mails and addresses are
//! labels. The card beside a conversation offers reveals (authorised per conversation);
//! the customer page does not. A customer the viewer may not see is a 404 like one that
//! does not exist. Searches are POSTs, so numbers and e-mails never
//! sit in a URL, a history or an access log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_policy::{Action, Context, CustomerFacts, Resource};
use veilbox_store::crm::edit::CustomerEdit;
use veilbox_store::crm::search::SearchBy;
use veilbox_store::crm::{ContactKind, CustomerCard, Shipment};
use veilbox_store::reads::MessageRecord;

use crate::auth::{Refused, SignedIn};
use crate::error::WebError;
use crate::exposure::card::MaskedCard;
use crate::exposure::{handle, Exposure};
use crate::inbox::actions::ActionError;
use crate::inbox::pages::iso;
use crate::layout::{flash_markup, html_response, page};
use crate::AppState;

const TITLE: &str = "Veilbox · Customers";

/// The CRM pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(search_page))
        .route("/customers/search", post(search))
        .route("/customers/{id}", get(card_page))
        .route("/customers/{id}/edit", post(edit))
        .route("/customers/{id}/notes", post(add_note))
        .route("/customers/{id}/contacts", post(add_contact))
        .route(
            "/customers/{id}/contacts/{contact_id}/remove",
            post(remove_contact),
        )
        .route("/customers/{id}/addresses", post(add_address))
        .route("/customers/{id}/merge", post(merge))
}

/// Whether the search page is in this user's menu: it is for those who may see the
/// customers of their teams (supervisors), not for agents, who see only the customers of
/// their own conversations, from those conversations.
pub fn may_search(state: &AppState, user: &SignedIn) -> bool {
    state.access.allowed(
        &user.actor,
        Action::ViewCustomer,
        &Resource::Customer(CustomerFacts {
            id: String::new(),
            teams: user.actor.principal.teams.clone(),
            assignees: Vec::new(),
        }),
        &Context::default(),
    ) && !user.actor.principal.teams.is_empty()
}

/// The customer `id` (after a merge, the one it went into) if `user` may do `action` to
/// them: 404 when they may not even see them, 403 when they may see but not do this.
async fn authorize(
    state: &AppState,
    user: &SignedIn,
    id: &str,
    action: Action,
) -> Result<String, WebError> {
    Ok(
        crate::api_crm::authorize_customer(state, &user.actor, id, action)
            .await?
            .id,
    )
}

fn search_form(user: &SignedIn, by: &str, value: &str) -> Markup {
    html! {
        form.stack method="post" action="/customers/search" {
            input type="hidden" name="csrf" value=(user.csrf);
            label { "Find by"
                select name="by" {
                    @for (key, label) in [("phone", "Phone number"), ("email", "E-mail"), ("tracking", "Tracking number")] {
                        option value=(key) selected[by == key] { (label) }
                    }
                }
            }
            label { "Value" input type="text" name="value" value=(value) autocomplete="off" required; }
            p.hint {
                "Exact matches only. Phone numbers, e-mails and tracking numbers are stored encrypted and "
                "found through keyed hashes, so partial search over them is not offered: type the full "
                "number with its country code, the whole e-mail or the whole tracking number."
            }
            button.primary type="submit" { "Find" }
        }
    }
}

/// `GET /customers`
pub async fn search_page(
    State(state): State<AppState>,
    user: SignedIn,
) -> Result<Response, Refused> {
    if !may_search(&state, &user) {
        return Err(Refused::Forbidden);
    }
    let flash = user.take_flash(&state).await;
    let content = html! {
        main.admin {
            (flash_markup(flash.as_ref()))
            h1 { "Customers" }
            (search_form(&user, "phone", ""))
        }
    };
    Ok(html_response(page(&state, TITLE, "", Some(&user), content)).into_response())
}

/// The search form.
#[derive(Debug, Deserialize)]
pub struct SearchFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    value: String,
}

/// `POST /customers/search`
pub async fn search(
    State(state): State<AppState>,
    user: SignedIn,
    Form(fields): Form<SearchFields>,
) -> Result<Response, ActionError> {
    user.check_csrf(&fields.csrf)?;
    if !may_search(&state, &user) {
        return Err(Refused::Forbidden.into());
    }
    let by = match fields.by.as_str() {
        "email" => SearchBy::Email,
        "tracking" => SearchBy::Tracking,
        _ => SearchBy::Phone,
    };
    let (found, refusal) = match state.store.find_customers(by, &fields.value).await? {
        Ok(ids) => (ids, None),
        Err(refusal) => (Vec::new(), Some(refusal.to_string())),
    };
    let mut visible = Vec::new();
    for id in found {
        if let Ok(id) = authorize(&state, &user, &id, Action::ViewCustomer).await {
            if let Some(card) = state.store.customer_card(&id).await? {
                visible.push(card);
            }
        }
    }
    let status = if visible.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let content = html! {
        main.admin {
            h1 { "Customers" }
            (search_form(&user, &fields.by, &fields.value))
            @if let Some(refusal) = &refusal {
                div.flash.error role="alert" { p { (refusal) } }
            } @else if visible.is_empty() {
                p { "No customer you may see has that " (fields.by.replace("tracking", "tracking number")) "." }
            } @else {
                ul.results {
                    @for card in &visible {
                        li { a href={ "/customers/" (card.id) } { (handle::of_card(card)) } " · " (card.shipments.len()) " shipment(s)" }
                    }
                }
            }
        }
    };
    Ok((
        status,
        html_response(page(&state, TITLE, "", Some(&user), content)),
    )
        .into_response())
}

fn money(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, (minor % 100).abs())
}

fn shipment_markup(s: &Shipment, masked: &MaskedCard) -> Markup {
    let field = |name: &str| masked.get(&format!("s/{}/{name}", s.id));
    html! {
        li.shipment {
            p { strong { (s.tracking) } " · " (s.format) " · " span class={ "status " (s.status) } { (s.status.replace('_', " ")) } }
            @if s.recipient_name.is_some() { p { "To " (field("recipient").html()) } }
            @if s.recipient_phone.is_some() { p { "Phone " (field("phone").html()) } }
            @if s.address.is_some() { p.address { (field("address").html()) } }
            @if let (Some(from), Some(to)) = (s.slot_start, s.slot_end) { p { "Slot " (iso(from)) " – " (iso(to)) } }
            @if s.instructions.is_some() { p { "Instructions: " (field("instructions").html()) } }
            @if let (Some(amount), Some(currency)) = (s.cod_amount_minor, &s.cod_currency) { p { "Cash on delivery " (money(amount, currency)) } }
            @if !s.timeline.is_empty() {
                ol.timeline {
                    @for step in &s.timeline { li { (step.status.replace('_', " ")) " " time datetime=(iso(step.at)) { (iso(step.at)) } } }
                }
            }
        }
    }
}

/// The texts of a thread that can mention a tracking number: bodies and captions.
fn thread_texts(messages: &[MessageRecord]) -> Vec<&str> {
    messages
        .iter()
        .flat_map(|m| {
            ["body", "caption"].map(|field| m.content.get(field).and_then(|v| v.as_str()))
        })
        .flatten()
        .collect()
}

/// The short card beside a conversation: who they are, the shipments this conversation
/// mentions by tracking number, then their other shipments, with a link to the full card.
/// Empty when the viewer may not see the customer's card. A tracking number of another
/// customer's parcel is named as such, with none of its details.
pub async fn conversation_card(
    state: &AppState,
    user: &SignedIn,
    card: Option<&CustomerCard>,
    exposure: &Exposure,
    messages: &[MessageRecord],
) -> Result<Markup, WebError> {
    let Some(card) = card.filter(|card| !card.erased) else {
        return Ok(html! {});
    };
    if authorize(state, user, &card.id, Action::ViewCustomer)
        .await
        .is_err()
    {
        return Ok(html! {});
    }
    let masked = MaskedCard::of(card, exposure);
    let c = |field: &str| masked.get(&format!("c/{}/{field}", card.id));
    // Server-side only: what is rendered of a mentioned shipment is masked below.
    let texts = thread_texts(messages);
    let mentioned = state.store.shipments_mentioned(&texts).await?;
    let (theirs, others): (Vec<&Shipment>, Vec<&Shipment>) =
        mentioned.iter().partition(|s| s.customer_id == card.id);
    let rest: Vec<&Shipment> = card
        .shipments
        .iter()
        .filter(|s| !theirs.iter().any(|t| t.id == s.id))
        .take(5)
        .collect();
    Ok(html! {
        aside.customer-card aria-label="Customer" {
            h3 { a href={ "/customers/" (card.id) } { (handle::of_card(card)) } }
            @if card.display_name.is_some() || card.profile_name.is_some() { p.name { "Name " (c("name").html()) } }
            @if card.wa_number.is_some() { p.handle { "WhatsApp " (c("wa").html()) } }
            @if !card.labels.is_empty() { p.labels { @for l in &card.labels { span.label { (l) } " " } } }
            @if card.marketing_opt_out_at.is_some() {
                p.opt-out { "Asked WhatsApp to stop marketing messages: send no promotions." }
            }
            @if !theirs.is_empty() {
                h4 { "Mentioned in this conversation" }
                ul.shipments.mentioned { @for s in &theirs { (shipment_markup(s, &masked)) } }
            }
            @for s in &others {
                p.banner.warn { "A tracking number in this conversation (" (s.tracking) ") is another customer's shipment." }
            }
            @if rest.is_empty() && theirs.is_empty() {
                p.hint { "No shipments." }
            } @else if !rest.is_empty() {
                h4 { "Shipments" }
                ul.shipments { @for s in &rest { (shipment_markup(s, &masked)) } }
            }
        }
    })
}

/// `GET /customers/{id}`
pub async fn card_page(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = authorize(&state, &user, &id, Action::ViewCustomer).await?;
    let card = state
        .store
        .customer_card(&id)
        .await?
        .ok_or(WebError::NotFound)?;
    let may_edit = authorize(&state, &user, &id, Action::EditCustomer)
        .await
        .is_ok()
        && !card.erased;
    let flash = user.take_flash(&state).await;
    let form = |path: &str| format!("/customers/{}/{path}", card.id);
    // The full card masks everything and offers no reveal: reveals are made, and
    // justified, in the conversation they are needed for.
    let exposure = Exposure::masked_only(state.scanner.clone(), Some(&card));
    let masked = MaskedCard::of(&card, &exposure);
    let c = |field: &str| masked.get(&format!("c/{}/{field}", card.id));
    let content = html! {
        main.admin.customer {
            (flash_markup(flash.as_ref()))
            h1 { (handle::of_card(&card)) }
            @if card.erased {
                p.banner.warn { "This customer was erased at their request; nothing personal is left." }
            } @else {
                dl {
                    dt { "Name" } dd { @if card.display_name.is_some() || card.profile_name.is_some() { (c("name").html()) } @else { "—" } }
                    dt { "WhatsApp" } dd { @if card.wa_number.is_some() { (c("wa").html()) } @else { "—" } }
                    dt { "Labels" } dd { (card.labels.join(", ")) }
                    dt { "Marketing" } dd { @match card.marketing_opt_out_at {
                        Some(at) => { "stopped on WhatsApp since " time datetime=(iso(at)) { (iso(at)) } }
                        None => "not stopped",
                    } }
                    dt { "Customer id" } dd { code { (card.id) } }
                }
                h2 { "Contacts" }
                ul.contacts {
                    @for contact in &card.contacts {
                        li {
                            (contact.kind.as_str()) ": " (c(&format!("contact.{}", contact.id)).html())
                            @if may_edit {
                                " "
                                form.inline method="post" action=(form(&format!("contacts/{}/remove", contact.id))) {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    button type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
                h2 { "Addresses" }
                ul { @for a in &card.addresses { li { @if let Some(l) = &a.label { (l) ": " } (c(&format!("address.{}", a.id)).html()) } } }
                h2 { "Shipments" }
                @if card.shipments.is_empty() { p.hint { "No shipments." } }
                ul.shipments { @for s in &card.shipments { (shipment_markup(s, &masked)) } }
                h2 { "Notes" }
                ul.notes { @for n in &card.notes { li { (c(&format!("note.{}", n.id)).html()) " " small { time datetime=(iso(n.created_at)) { (iso(n.created_at)) } } } } }
                @if may_edit {
                    h2 { "Edit" }
                    form.stack method="post" action=(form("edit")) {
                        input type="hidden" name="csrf" value=(user.csrf);
                        // Never pre-filled: the current name is masked. Blank keeps it.
                        label { "New display name (blank keeps the current one)" input type="text" name="display_name" maxlength="200" autocomplete="off"; }
                        label { "Labels (comma-separated: a-z, 0-9, -)" input type="text" name="labels" value=(card.labels.join(", ")); }
                        button type="submit" { "Save" }
                    }
                    form.stack method="post" action=(form("notes")) {
                        input type="hidden" name="csrf" value=(user.csrf);
                        label { "Add a note" textarea name="body" rows="3" maxlength="4000" required {} }
                        button type="submit" { "Add note" }
                    }
                    form.stack method="post" action=(form("contacts")) {
                        input type="hidden" name="csrf" value=(user.csrf);
                        label { "Add a contact"
                            select name="kind" { option value="phone" { "Phone" } option value="email" { "E-mail" } } }
                        input type="text" name="value" required autocomplete="off";
                        button type="submit" { "Add contact" }
                    }
                    form.stack method="post" action=(form("addresses")) {
                        input type="hidden" name="csrf" value=(user.csrf);
                        label { "Add an address" input type="text" name="value" maxlength="500" required; }
                        label { "Label (optional)" input type="text" name="label" maxlength="24"; }
                        button type="submit" { "Add address" }
                    }
                    form.stack method="post" action=(form("merge")) {
                        input type="hidden" name="csrf" value=(user.csrf);
                        label { "Merge another customer into this one (the same person on another number): their customer id"
                            input type="text" name="from" required autocomplete="off"; }
                        button type="submit" { "Merge" }
                    }
                }
            }
        }
    };
    Ok(html_response(page(&state, TITLE, "", Some(&user), content)).into_response())
}

/// The forms of the card.
#[derive(Debug, Deserialize)]
pub struct CardFields {
    #[serde(default)]
    csrf: String,
    display_name: Option<String>,
    labels: Option<String>,
    body: Option<String>,
    kind: Option<String>,
    value: Option<String>,
    label: Option<String>,
    from: Option<String>,
}

/// Authorises a card form and answers with a flash and a redirect to the card.
async fn card_change<F, Fut>(
    state: AppState,
    user: SignedIn,
    id: String,
    fields: CardFields,
    audit_action: &str,
    change: F,
) -> Result<Response, ActionError>
where
    F: FnOnce(AppState, String, CardFields) -> Fut,
    Fut: std::future::Future<Output = Result<Result<String, String>, WebError>>,
{
    user.check_csrf(&fields.csrf)?;
    let id = authorize(&state, &user, &id, Action::EditCustomer).await?;
    let outcome = change(state.clone(), id.clone(), fields).await?;
    match outcome {
        Ok(done) => {
            state
                .store
                .audit(&user.actor.audit(audit_action, Some(&id), None))
                .await?;
            user.flash(&state, "ok", done).await;
        }
        Err(refused) => user.flash(&state, "error", refused).await,
    }
    Ok(Redirect::to(&format!("/customers/{id}")).into_response())
}

/// `POST /customers/{id}/edit`
pub async fn edit(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<CardFields>,
) -> Result<Response, ActionError> {
    card_change(
        state,
        user,
        id,
        fields,
        "customer.edited",
        |state, id, fields| async move {
            let labels = fields.labels.map(|l| {
                l.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            });
            // Blank keeps the name: the form cannot show the current one (it is masked).
            let display_name = fields
                .display_name
                .filter(|n| !n.trim().is_empty())
                .map(Some);
            let edit = CustomerEdit {
                display_name,
                labels,
            };
            Ok(state
                .store
                .edit_customer(&id, &edit)
                .await?
                .map(|()| "Saved.".to_owned())
                .map_err(|r| r.to_string()))
        },
    )
    .await
}

/// `POST /customers/{id}/notes`
pub async fn add_note(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<CardFields>,
) -> Result<Response, ActionError> {
    let author = user.actor.id.clone();
    card_change(
        state,
        user,
        id,
        fields,
        "customer.note_added",
        |state, id, fields| async move {
            let body = fields.body.unwrap_or_default();
            Ok(state
                .store
                .add_note(&id, &author, &body)
                .await?
                .map(|_| "Note added.".to_owned())
                .map_err(|r| r.to_string()))
        },
    )
    .await
}

/// `POST /customers/{id}/contacts`
pub async fn add_contact(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<CardFields>,
) -> Result<Response, ActionError> {
    let actor = user.actor.clone();
    card_change(
        state,
        user,
        id,
        fields,
        "customer.contact_added",
        |state, id, fields| async move {
            let kind = match fields.kind.as_deref() {
                Some("email") => ContactKind::Email,
                _ => ContactKind::Phone,
            };
            let value = fields.value.unwrap_or_default();
            Ok(match state.store.add_contact(&id, kind, &value).await? {
                Ok(_) => Ok("Contact added.".to_owned()),
                Err(refusal) => Err(crate::api_crm::named_if_visible(&state, &actor, refusal)
                    .await?
                    .to_string()),
            })
        },
    )
    .await
}

/// `POST /customers/{id}/contacts/{contact_id}/remove`
pub async fn remove_contact(
    State(state): State<AppState>,
    user: SignedIn,
    Path((id, contact_id)): Path<(String, String)>,
    Form(fields): Form<CardFields>,
) -> Result<Response, ActionError> {
    card_change(
        state,
        user,
        id,
        fields,
        "customer.contact_removed",
        |state, id, _fields| async move {
            Ok(state
                .store
                .remove_contact(&id, &contact_id)
                .await?
                .map(|()| "Contact removed.".to_owned())
                .map_err(|r| r.to_string()))
        },
    )
    .await
}

/// `POST /customers/{id}/addresses`
pub async fn add_address(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<CardFields>,
) -> Result<Response, ActionError> {
    card_change(
        state,
        user,
        id,
        fields,
        "customer.address_added",
        |state, id, fields| async move {
            let value = fields.value.unwrap_or_default();
            let label = fields.label.filter(|l| !l.trim().is_empty());
            Ok(state
                .store
                .add_address(&id, label.as_deref(), &value)
                .await?
                .map(|_| "Address added.".to_owned())
                .map_err(|r| r.to_string()))
        },
    )
    .await
}

/// `POST /customers/{id}/merge`: the other customer must be one the user may edit too.
pub async fn merge(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<CardFields>,
) -> Result<Response, ActionError> {
    let from = fields.from.clone().unwrap_or_default();
    let from = from.trim().to_owned();
    // Both customers must be the user's to edit: merging moves the other's data here.
    if authorize(&state, &user, &from, Action::EditCustomer)
        .await
        .is_err()
    {
        user.check_csrf(&fields.csrf)?;
        user.flash(
            &state,
            "error",
            "No customer you may edit has that id.".to_owned(),
        )
        .await;
        return Ok(Redirect::to(&format!("/customers/{id}")).into_response());
    }
    card_change(
        state,
        user,
        id,
        fields,
        "customer.merged",
        |state, id, _fields| async move {
            Ok(state
                .store
                .merge_customers(&id, &from)
                .await?
                .map(|report| format!("Merged: {} conversation(s) moved.", report.conversations))
                .map_err(|r| r.to_string()))
        },
    )
    .await
}
