//! Page templates (maud) and the GET handlers of full pages.
//!
//! All customer data reaches HTML through [`customer_label`] (the masked handle) and
//! [`message_body`] (content masked by [`crate::exposure`]). Titles never carry customer
//! data.

use axum::extract::{Path, Query, State};

use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::Value;
use veilbox_policy::{Action, Context};
use veilbox_store::now_ms;
use veilbox_store::reads::{
    ConversationFilter, ConversationState, ConversationSummary, CustomerSummary, MessageRecord,
};

use super::{ListQuery, ListView};
use crate::auth::{Flash, Refused, SignedIn};
use crate::config::TemplateConfig;
use crate::error::WebError;
use crate::exposure::content::MaskedMessage;
use crate::exposure::reveal::{conversation_exposure, REASONS};
use crate::exposure::Exposure;
use crate::layout::{flash_markup, html_response};
use crate::replies::{window_closes_at, window_open};
use crate::AppState;

/// Every page's title: nothing about the customer.
pub const TITLE: &str = "Veilbox · Inbox";

/// How many conversations the list shows.
const LIST_LIMIT: u32 = 100;
/// How many of the latest messages a thread shows.
const THREAD_LIMIT: usize = 300;

/// `GET /`: the first section the user's role opens, or sign-in.
pub async fn root(State(state): State<AppState>, user: Result<SignedIn, Refused>) -> Response {
    match user {
        Ok(user) => Redirect::to(crate::layout::home(&state, &user)).into_response(),
        Err(refused) => refused.into_response(),
    }
}

fn page(
    state: &AppState,
    title: &str,
    body_class: &str,
    signed_in: Option<&SignedIn>,
    content: Markup,
) -> Markup {
    crate::layout::page(state, title, body_class, signed_in, content)
}

/// Display names of staff, for assignees and reply authors.
#[derive(Debug, Default)]
pub struct StaffNames(std::collections::HashMap<String, String>);

impl StaffNames {
    /// Loads every user's display name.
    pub async fn load(state: &AppState) -> Result<StaffNames, WebError> {
        let users = state.store.users().await?;
        Ok(StaffNames(
            users.into_iter().map(|u| (u.id, u.display_name)).collect(),
        ))
    }

    /// The name of one user only (a single message's author), without reading everyone.
    pub async fn of_one(state: &AppState, id: Option<&str>) -> Result<StaffNames, WebError> {
        let mut names = std::collections::HashMap::new();
        if let Some(user) = match id {
            Some(id) => state.store.user(id).await?,
            None => None,
        } {
            names.insert(user.id, user.display_name);
        }
        Ok(StaffNames(names))
    }

    /// The name of `id`, or a neutral word for an id that is not a user (an API token).
    pub fn of<'a>(&'a self, id: &'a str) -> &'a str {
        self.0.get(id).map_or("an integration", String::as_str)
    }
}

/// `GET /inbox`
pub async fn inbox(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let view = query.view();
    let names = StaffNames::load(&state).await?;
    let list = list_markup(&state, &user, &names, view, None).await?;
    let flash = user.take_flash(&state).await;
    let alerts = crate::exposure::reveal::reveal_alerts(&state, &user.actor, &names).await?;
    let content = html! {
        main #inbox.inbox data-list=(view.query()) {
            section.list { (list) }
            section.thread.empty {
                (flash_markup(flash.as_ref()))
                @for alert in &alerts { p.banner.warn role="alert" { "Reveal alert: " (alert) "." } }
                p.hint { "Pick a conversation." }
            }
        }
    };
    Ok(html_response(page(&state, TITLE, "", Some(&user), content)))
}

/// `GET /inbox/c/{id}`
pub async fn conversation(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let view = query.view();
    // A conversation the user may not see is answered exactly like one that does not exist.
    let Some(conversation) = state
        .access
        .visible_conversation(&state.store, &user.actor, &id)
        .await?
    else {
        return Err(WebError::NotFound);
    };
    let messages = latest_messages(&state, &id).await?;
    let names = StaffNames::load(&state).await?;
    let list = list_markup(&state, &user, &names, view, Some(&id)).await?;
    let flash = user.take_flash(&state).await;
    let may = Permissions::of(&state, &user, &conversation).await?;
    let (exposure, card) = conversation_exposure(&state, &user.actor, &conversation).await?;
    let card =
        crate::customers::conversation_card(&state, &user, card.as_ref(), &exposure, &messages)
            .await?;
    let quick_replies =
        crate::quick_replies::manage::for_conversation(&state, &user.actor, &conversation).await?;
    let thread = Thread {
        quick_replies: &quick_replies,
        names: &names,
        may,
        conversation: &conversation,
        messages: &messages,
        view,
        exposure: &exposure,
    };
    let content = html! {
        main #inbox.inbox.has-thread data-list=(view.query()) data-conversation=(conversation.id)
            data-reveal-seconds=(state.config.masking.reveal_for.as_secs()) {
            section.list { (list) }
            (thread_markup(&state, &user, &thread, flash.as_ref()))
            (card)
            (watermark(&user))
            (reveal_dialog())
        }
    };
    Ok(html_response(page(&state, TITLE, "", Some(&user), content)))
}

/// The newest [`THREAD_LIMIT`] messages, oldest first.
async fn latest_messages(state: &AppState, id: &str) -> Result<Vec<MessageRecord>, WebError> {
    let mut messages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let Some(page) = state.store.thread(id, cursor.as_deref(), 500).await? else {
            return Err(WebError::NotFound);
        };
        messages.extend(page.items);
        if messages.len() > THREAD_LIMIT {
            let excess = messages.len() - THREAD_LIMIT;
            messages.drain(..excess);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(messages)
}

/// The conversation list with its tabs (`#list-body`, also served as a fragment).
pub async fn list_markup(
    state: &AppState,
    user: &SignedIn,
    names: &StaffNames,
    view: ListView,
    active: Option<&str>,
) -> Result<Markup, WebError> {
    let filter = ConversationFilter {
        state: Some(match view.state {
            "pending" => ConversationState::Pending,
            "resolved" => ConversationState::Resolved,
            _ => ConversationState::Open,
        }),
        assignee: match view.who {
            "mine" => Some(Some(user.author().to_owned())),
            "unassigned" => Some(None),
            _ => None,
        },
        scope: None,
    };
    let page = state
        .access
        .visible_conversations(&state.store, &user.actor, &filter, None, LIST_LIMIT)
        .await?;
    let now = now_ms();
    let tab = |label: &str, target: ListView, current: bool| {
        html! {
            a.tab.current[current] href={ "/inbox?" (target.query()) } aria-current=[current.then_some("page")] { (label) }
        }
    };
    Ok(html! {
        div #list-body {
            nav.tabs aria-label="State" {
                @for (label, s) in [("Open", "open"), ("Pending", "pending"), ("Resolved", "resolved")] {
                    (tab(label, ListView { state: s, who: view.who }, view.state == s))
                }
            }
            nav.tabs.who aria-label="Assignee" {
                @for (label, w) in [("Mine", "mine"), ("Unassigned", "unassigned"), ("All", "all")] {
                    (tab(label, ListView { state: view.state, who: w }, view.who == w))
                }
            }
            @if page.items.is_empty() {
                p.hint { "No conversations here." }
            }
            ul #conversation-list.conversations {
                @for c in &page.items {
                    @let current = active == Some(c.id.as_str());
                    li.current[current] {
                        a href={ "/inbox/c/" (c.id) "?" (view.query()) } {
                            span.customer { (customer_label(&c.customer)) }
                            span.meta {
                                time datetime=(iso(c.last_message_at)) { (short_time(c.last_message_at, now)) }
                                span class={ "state " (c.state) } { (c.state) }
                                @if let Some(a) = &c.assignee {
                                    span.assignee { (if a == user.author() { "you" } else { names.of(a) }) }
                                } @else {
                                    span.assignee.none { "unassigned" }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// How a customer is shown: their masked handle. Every page renders customer identity
/// through here.
pub fn customer_label(customer: &CustomerSummary) -> Markup {
    crate::exposure::handle::markup(customer)
}

/// What the viewer may do in one conversation, asked of the authorizer once per page.
#[derive(Debug, Clone, Copy)]
pub struct Permissions {
    /// Write replies and templates.
    pub reply: bool,
    /// Take it from the queue.
    pub take: bool,
    /// Assign or unassign anyone.
    pub assign: bool,
    /// Resolve, reopen, mark pending.
    pub resolve: bool,
    /// Override a leak-prevention block (with a reason, asked when overriding).
    pub override_block: bool,
}

impl Permissions {
    /// Asks the authorizer about each action on `c`.
    pub async fn of(
        state: &AppState,
        user: &SignedIn,
        c: &ConversationSummary,
    ) -> Result<Permissions, WebError> {
        let facts = crate::auth::Access::conversation_facts(&state.store, c).await?;
        let resource = veilbox_policy::Resource::Conversation(facts);
        let ask = |action, context: &Context| {
            state
                .access
                .allowed(&user.actor, action, &resource, context)
        };
        let plain = Context::default();
        let take = Context {
            self_assign: true,
            ..Context::default()
        };
        Ok(Permissions {
            reply: ask(Action::Reply, &plain),
            take: ask(Action::Assign, &take),
            assign: ask(Action::Assign, &plain),
            resolve: ask(Action::Resolve, &plain),
            override_block: ask(
                Action::OverrideBlock,
                &Context {
                    reason: Some("(asked when overriding)".to_owned()),
                    ..Context::default()
                },
            ),
        })
    }
}

/// What a thread shows.
struct Thread<'a> {
    names: &'a StaffNames,
    may: Permissions,
    conversation: &'a ConversationSummary,
    messages: &'a [MessageRecord],
    view: ListView,
    exposure: &'a Exposure,
    quick_replies: &'a [veilbox_store::quick_replies::QuickReply],
}

/// A faint, repeated mark of who is looking and when, over the conversation: a photo of
/// the screen names its taker.
fn watermark(user: &SignedIn) -> Markup {
    let mark = format!(
        "{} · {}",
        user.user.display_name,
        short_time(now_ms(), now_ms())
    );
    html! {
        div.watermark aria-hidden="true" {
            @for _ in 0..24 { span { (mark) } }
        }
    }
}

/// The dialog a reveal asks its reason in (filled and opened by the page script).
fn reveal_dialog() -> Markup {
    html! {
        dialog #reveal-dialog {
            form method="dialog" {
                h3 { "Reveal a hidden value" }
                p.hint { "Revealing is recorded in the audit log with your reason. The value is shown for a short time, then hidden again." }
                fieldset {
                    legend { "Why do you need to see it?" }
                    @for (i, (code, label)) in REASONS.iter().enumerate() {
                        label.reason {
                            input type="radio" name="reason" value=(code) required checked[i == 0];
                            " " (label)
                        }
                    }
                }
                label { "Note (required for Other)" input type="text" name="note" maxlength="200" autocomplete="off"; }
                p.error hidden {}
                div.dialog-foot {
                    button type="submit" value="cancel" formnovalidate { "Cancel" }
                    button.primary type="submit" value="reveal" { "Reveal" }
                }
            }
        }
    }
}

fn thread_markup(
    state: &AppState,
    user: &SignedIn,
    t: &Thread<'_>,
    flash: Option<&Flash>,
) -> Markup {
    let (names, may, c, messages, view) = (t.names, t.may, t.conversation, t.messages, t.view);
    let base = format!("/inbox/c/{}", c.id);
    let q = view.query();
    let now = now_ms();
    let assigned_to_me = c.assignee.as_deref() == Some(user.author());
    let action = |path: &str| format!("{base}/{path}?{q}");
    html! {
        section.thread #thread-pane {
            header.thread-head {
                a.back href={ "/inbox?" (q) } { "← All conversations" }
                h2 { (customer_label(&c.customer)) }
                p.status {
                    span class={ "state " (c.state) } { (c.state) }
                    " · "
                    @match &c.assignee {
                        Some(a) if a == user.author() => { "assigned to you" }
                        Some(a) => { "assigned to " (names.of(a)) }
                        None => { "unassigned" }
                    }
                }
                div.actions {
                    @if may.assign || (may.take && c.assignee.is_none()) {
                        form.inline method="post" action=(action("assign")) {
                            input type="hidden" name="csrf" value=(user.csrf);
                            @if assigned_to_me {
                                input type="hidden" name="to" value="none";
                                button type="submit" { "Unassign" }
                            } @else {
                                input type="hidden" name="to" value="me";
                                button type="submit" { "Assign to me" }
                            }
                        }
                    }
                    @if may.resolve {
                        @if c.state != "pending" && c.state != "resolved" {
                            (state_button(&action("state"), &user.csrf, "pending", "Mark pending"))
                        }
                        @if c.state == "resolved" {
                            (state_button(&action("state"), &user.csrf, "open", "Reopen"))
                        } @else {
                            (state_button(&action("state"), &user.csrf, "resolved", "Resolve"))
                        }
                    }
                }
            }
            (flash_markup(flash))
            ol #messages.messages {
                @for m in messages {
                    (message_markup(&c.id, m, user, names, view, t.exposure))
                }
            }
            @if may.reply {
                (composer(state, user, t, &action, now))
            } @else {
                p.hint { "Take this conversation to reply." }
            }
        }
    }
}

fn state_button(action: &str, csrf: &str, state: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="state" value=(state);
            button type="submit" data-state=(state) { (label) }
        }
    }
}

/// The reply box (or the templates when the 24-hour window is closed). `action` makes a
/// form's path from its last segment (`reply`, `template`, `quick-reply`).
fn composer(
    state: &AppState,
    user: &SignedIn,
    t: &Thread<'_>,
    action: &dyn Fn(&str) -> String,
    now: i64,
) -> Markup {
    let c = t.conversation;
    let (reply_action, template_action) = (action("reply"), action("template"));
    let (quick_replies, quick_action) = (t.quick_replies, action("quick-reply"));
    let may_override = t.may.override_block;
    let templates: &[TemplateConfig] = &state.config.whatsapp.templates;
    html! {
        @if c.customer.erased {
            p.banner.warn { "This customer was erased at their request: their messages and details are gone, and nothing can be sent to them." }
        } @else if c.customer.wa_id.is_none() {
            p.banner.warn { "This customer is known only by a WhatsApp user id; Veilbox cannot reply to them yet." }
        } @else if window_open(c.last_inbound_at, now) {
            form.composer method="post" action=(reply_action) {
                input type="hidden" name="csrf" value=(user.csrf);
                label.visually-hidden for="reply-body" { "Reply" }
                textarea #reply-body name="body" rows="3" maxlength="4096" placeholder="Write a reply…" required {}
                // Blind placeholders: the server fills them in at send time, so the agent
                // never sees the values. Leak prevention's verdict shows in #dlp-status.
                div.placeholder-picker role="group" aria-label="Insert a placeholder" {
                    span.hint { "Insert:" }
                    @for name in crate::dlp::PLACEHOLDERS {
                        button.placeholder type="button" data-placeholder={ "{{" (name) "}}" } { (name) }
                    }
                }
                div #dlp-status .dlp-status aria-live="polite" data-check={ "/inbox/c/" (c.id) "/check" } {}
                label.dlp-confirm {
                    input type="checkbox" name="confirm_warnings" value="true";
                    " Send even though it repeats this customer's own details"
                }
                // Only for those the policy lets override (supervisors on their teams).
                @if may_override {
                    details.dlp-override {
                        summary { "Supervisor: override a leak-prevention block" }
                        label {
                            input type="checkbox" name="override_block" value="true";
                            " Override the block"
                        }
                        label {
                            "Reason (audited) "
                            input type="text" name="override_reason" maxlength="200";
                        }
                    }
                }
                div.composer-foot {
                    @if let Some(closes) = window_closes_at(c.last_inbound_at, now) {
                        span.window { "Reply window closes " time datetime=(iso(closes)) { (short_time(closes, now)) } " (" (remaining(closes - now)) " left)" }
                    }
                    button.primary type="submit" { "Send" }
                }
            }
            // Quick replies: a separate form (forms do not nest), placeholders only.
            (crate::quick_replies::composer::picker(user, quick_replies, &quick_action))
        } @else {
            div.templates {
                p.banner.warn {
                    "The 24-hour reply window is closed: the customer has not written in the last 24 hours. "
                    "Only an approved template can be sent."
                }
                @if templates.is_empty() {
                    p.hint { "No templates are configured (add [[whatsapp.templates]] to the configuration)." }
                } @else {
                    form.template-picker method="post" action=(template_action) {
                        input type="hidden" name="csrf" value=(user.csrf);
                        fieldset {
                            legend { "Send a template" }
                            @for (i, t) in templates.iter().enumerate() {
                                label.template {
                                    input type="radio" name="template" value={ (t.name) "|" (t.language) } required checked[i == 0];
                                    span.template-name { (t.name) " (" (t.language) ")" }
                                    span.template-text { (t.text) }
                                }
                            }
                        }
                        button.primary type="submit" { "Send template" }
                    }
                }
            }
        }
    }
}

/// One message as a list item `#m-{id}` (also served alone for live updates).
pub fn message_markup(
    conversation_id: &str,
    m: &MessageRecord,
    user: &SignedIn,
    names: &StaffNames,
    view: ListView,
    exposure: &Exposure,
) -> Markup {
    let direction = if m.direction == "outbound" {
        "out"
    } else {
        "in"
    };
    let now = now_ms();
    html! {
        li id={ "m-" (m.id) } class={ "msg " (direction) } data-sent-at=(m.sent_at) {
            div.bubble {
                (context_marks(m))
                (message_body(m, exposure))
                @if m.edited_at.is_some() && m.deleted_at.is_none() {
                    details.edited {
                        summary { (if direction == "out" { "Edited in the WhatsApp Business app" } else { "Edited by the customer" }) }
                        @for before in MaskedMessage::previous_versions(m, exposure) {
                            div.previous { (body_of(&before, m, &exposure.without_reveals())) }
                        }
                    }
                }
                div.meta {
                    @if direction == "out" {
                        span.author { (match m.author.as_deref() {
                            Some(a) if a == user.author() => "you",
                            Some(a) => names.of(a),
                            // sent from the company's phone, not through Veilbox
                            None if m.outbox.is_none() && m.wa_message_id.is_some() => "WhatsApp Business app",
                            None => "business",
                        }) }
                    }
                    time datetime=(iso(m.sent_at)) { (short_time(m.sent_at, now)) }
                    @if direction == "out" {
                        (ticks(conversation_id, m, user, view))
                    }
                }
            }
        }
    }
}

fn context_marks(m: &MessageRecord) -> Markup {
    let Some(context) = &m.context else {
        return html! {};
    };
    let flag = |key: &str| context.get(key).and_then(Value::as_bool).unwrap_or(false);
    html! {
        @if flag("frequently_forwarded") {
            p.mark.forwarded { "↪ Forwarded many times" }
        } @else if flag("forwarded") {
            p.mark.forwarded { "↪ Forwarded" }
        }
        @if context.get("reply_to").is_some_and(|v| !v.is_null()) {
            p.mark.reply { "↩ Reply to an earlier message" }
        }
        @if context.get("referred_product").is_some_and(|v| !v.is_null()) {
            p.mark.reply { "About a product in the catalog" }
        }
    }
}

/// The body of a message by its normalised kind, from its masked content only: the
/// renderer never sees a hidden value.
pub fn message_body(m: &MessageRecord, x: &Exposure) -> Markup {
    body_of(&MaskedMessage::of(m, x), m, x)
}

/// The body of masked content of `m` (the message itself or one of its earlier versions,
/// with `x` offering no reveal then).
fn body_of(masked: &MaskedMessage, m: &MessageRecord, x: &Exposure) -> Markup {
    let c = &masked.content;
    let field = |name: &str| masked.html(name);
    let kind = c.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => html! { p.body { @if let Some(b) = field("body") { (b) } } },
        "media" => {
            let media_type = masked.descriptive("media_type").unwrap_or("file");
            let mut label = capitalise(media_type);
            if c.get("voice").and_then(Value::as_bool).unwrap_or(false) {
                label = "Voice message".to_owned();
            }
            if c.get("animated").and_then(Value::as_bool).unwrap_or(false) {
                label.push_str(" (animated)");
            }
            let mut parts = vec![label];
            if let Some(mime) = masked.descriptive("mime_type") {
                parts.push(mime.to_owned());
            }
            let fetched = m.media.as_ref();
            let size = fetched
                .and_then(|f| f.size)
                .or_else(|| c.get("file_size").and_then(Value::as_i64));
            if let Some(size) = size {
                parts.push(human_size(size));
            }
            // The original stays sealed on the server; only a reveal sends it (see
            // crate::media). An image's preview is a few pixels, scaled up and blurred.
            let state = fetched.map_or("", |f| f.state.as_str());
            let base = fetched.map(|f| format!("/inbox/c/{}/m/{}", f.conversation_id, m.id));
            html! {
                div.media data-media-state=(state) {
                    p.media-line { span.icon aria-hidden="true" { (media_icon(media_type)) } " " (parts.join(" · ")) }
                    @match (state, &base) {
                        ("stored", Some(base)) => {
                            @if fetched.is_some_and(|f| f.has_preview) {
                                img.media-preview src={ (base) "/preview" } alt="Blurred preview" width="16" height="16";
                            }
                            p.hint.media-held { "Kept sealed on the server: media can carry personal data." }
                            @if x.may_reveal_media() {
                                button.media-reveal type="button" data-message=(m.id) data-mime=(fetched.and_then(|f| f.mime_type.as_deref()).unwrap_or("")) { "Reveal original" }
                            }
                        }
                        ("pending" | "fetching", _) => p.hint.media-held { "Being fetched from WhatsApp; it will stay sealed here." }
                        ("failed", _) => p.error.media-failed {
                            "Media could not be fetched"
                            @if let Some(why) = fetched.and_then(|f| f.error.as_deref()) { ": " (why) }
                        }
                        _ => p.hint.media-held { "Not downloaded to agents: media can carry personal data." }
                    }
                    @if let Some(name) = field("filename") { p.filename { (name) } }
                    @if let Some(caption) = field("caption") { p.body { (caption) } }
                }
            }
        }
        "location" => html! {
            div.location {
                p.kind { "📍 Location" }
                @if let Some(name) = field("name") { p.body { strong { (name) } } }
                @if let Some(address) = field("address") { p.body { (address) } }
                @if let Some(coords) = field("coordinates") { p.coords { (coords) } }
            }
        },
        "contacts" => {
            let cards = c.get("cards").and_then(Value::as_array).map_or(0, Vec::len);
            html! {
                div.contacts {
                    p.kind { "👤 " (cards) (if cards == 1 { " contact" } else { " contacts" }) }
                    p.body {
                        @for i in 0..cards {
                            @if i > 0 { ", " }
                            @if let Some(name) = field(&format!("contact.{i}")) { (name) } @else { "(no name)" }
                        }
                    }
                }
            }
        }
        "interactive_reply" => {
            let label = match masked.descriptive("reply_type").unwrap_or("reply") {
                "button_reply" => "Tapped button",
                "list_reply" => "Chose from list",
                _ => "Replied",
            };
            html! {
                div.choice {
                    p.kind { (label) }
                    p.body { strong { @if let Some(t) = field("title") { (t) } @else { "(no title)" } } }
                    @if let Some(d) = field("description") { p.detail { (d) } }
                }
            }
        }
        "button" => html! {
            div.choice {
                p.kind { "Tapped template button" }
                p.body { strong { @if let Some(t) = field("text").or_else(|| field("payload")) { (t) } @else { "(no text)" } } }
            }
        },
        "flow_reply" => html! {
            div.choice {
                p.kind { "Completed a form" @if let Some(n) = masked.descriptive("name") { " (" (n) ")" } }
                @if let Some(b) = field("body") { p.body { (b) } }
                @if let Some(json) = field("response_json") { p.detail { code { (json) } } }
            }
        },
        "reaction" => match masked.descriptive("emoji") {
            Some(emoji) => {
                html! { p.reaction { "Reacted " span.emoji { (emoji) } " to a message" } }
            }
            None => html! { p.reaction.removed { "Removed a reaction" } },
        },
        "order" => {
            let items = c
                .get("product_items")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            html! {
                div.order {
                    p.kind { "🛒 Order · " (items) (if items == 1 { " item" } else { " items" }) }
                    @if let Some(t) = field("text") { p.body { (t) } }
                }
            }
        }
        "system" => html! {
            p.system {
                "System notice"
                @if let Some(t) = masked.descriptive("system_type") { " (" (t.replace('_', " ")) ")" }
                @if let Some(b) = field("body") { ": " (b) }
            }
            // A new security code means a new phone, which may be someone else's: the agent
            // is told before sharing anything about a parcel.
            @if masked.descriptive("system_type") == Some("customer_identity_changed") {
                p.warn.identity-changed role="alert" {
                    "⚠ This customer's security code changed: they may be on a new phone, or someone else. "
                    "Confirm who you are talking to (for example, the order number and the delivery postcode) before sharing delivery details or codes."
                }
            }
        },
        "call_permission_reply" => {
            let accepted = c.get("accepted").and_then(Value::as_bool) == Some(true);
            let permanent = c.get("permanent").and_then(Value::as_bool) == Some(true);
            let until = c
                .get("expires_at")
                .and_then(Value::as_i64)
                .and_then(|s| s.checked_mul(1000))
                .map(iso);
            html! {
                p.system.call-permission {
                    @if !accepted {
                        "📞 The customer declined to be called."
                    } @else if permanent {
                        "📞 The customer agreed to be called, with no end date."
                    } @else if let Some(until) = until {
                        "📞 The customer agreed to be called until " time datetime=(until) { (until) } "."
                    } @else {
                        "📞 The customer agreed to be called."
                    }
                }
            }
        }
        "request_welcome" => {
            html! { p.system { "The customer opened the chat for the first time." } }
        }
        "erased" => html! { p.system { "Erased: this customer asked to be forgotten." } },
        "deleted" if m.direction == "outbound" => {
            html! { p.system { "🚫 Deleted in the WhatsApp Business app." } }
        }
        "deleted" => html! { p.system { "🚫 The customer deleted this message." } },
        "revoke" => {
            html! { p.system { "🚫 The customer deleted a message Veilbox does not have." } }
        }
        "unreadable" => html! { p.system { "This message cannot be opened (its key is gone)." } },
        "unsupported" => html! {
            p.system { "Unsupported message (" (masked.descriptive("declared_type").unwrap_or("unknown")) "): open WhatsApp to see it." }
        },
        "template" => html! {
            div.template-msg {
                p.kind { "Template " (masked.descriptive("name").unwrap_or("")) }
                p.body { @if let Some(p) = field("preview") { (p) } }
            }
        },
        _ => html! { p.system { "Message of type " (m.message_type) } },
    }
}

fn ticks(conversation_id: &str, m: &MessageRecord, user: &SignedIn, view: ListView) -> Markup {
    let failed_reason = |code: Option<i64>, title: Option<&str>| -> String {
        code.and_then(veilbox_whatsapp::graph::agent_reason)
            .map(str::to_owned)
            .or_else(|| title.map(str::to_owned))
            .unwrap_or_else(|| "WhatsApp did not deliver it".to_owned())
    };
    if let Some(d) = &m.delivery {
        return match d.state.as_str() {
            "sent" => html! { span.tick.sent title="Sent" data-tick="sent" { "✓" } },
            "delivered" => {
                html! { span.tick.delivered title="Delivered" data-tick="delivered" { "✓✓" } }
            }
            "read" | "played" => html! { span.tick.read title="Read" data-tick="read" { "✓✓" } },
            "failed" => html! {
                span.tick.failed data-tick="failed" { "⚠ Not delivered: " (failed_reason(d.error_code, d.error_title.as_deref())) }
            },
            _ => html! { span.tick.sent title="Sent" data-tick="sent" { "✓" } },
        };
    }
    let Some(o) = &m.outbox else {
        return html! { span.tick.sent title="Sent" data-tick="sent" { "✓" } };
    };
    let decide = |label: &str, decision: &str| {
        html! {
            form.inline method="post" action={ "/inbox/c/" (conversation_id) "/send/" (o.id) "?" (view.query()) } {
                input type="hidden" name="csrf" value=(user.csrf);
                input type="hidden" name="decision" value=(decision);
                button.small type="submit" { (label) }
            }
        }
    };
    match o.state.as_str() {
        "queued" | "sending" => html! {
            span.tick.pending title=(if o.state == "queued" { "Queued" } else { "Sending" }) data-tick=(o.state) { "🕓" }
        },
        "sent" => html! { span.tick.sent title="Sent" data-tick="sent" { "✓" } },
        "failed" => html! {
            span.tick.failed data-tick="failed" {
                "⚠ Not sent: "
                (o.error_reason.clone().unwrap_or_else(|| failed_reason(o.error_code, None)))
            }
            (decide("Resend", "resend"))
        },
        "unconfirmed" => html! {
            span.tick.unconfirmed data-tick="unconfirmed" title="WhatsApp did not confirm this send: it may or may not have arrived" {
                "? Unconfirmed"
                @if let Some(r) = &o.error_reason { ": " (r) }
            }
            (decide("Resend", "resend"))
            (decide("Discard", "discard"))
        },
        "cancelled" => {
            html! { span.tick.cancelled data-tick="cancelled" { "Discarded, not sent" } }
        }
        other => html! { span.tick data-tick=(other) { (other) } },
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn media_icon(media_type: &str) -> &'static str {
    match media_type {
        "image" => "🖼",
        "video" => "🎞",
        "audio" => "🔊",
        "document" => "📄",
        "sticker" => "🏷",
        _ => "📎",
    }
}

/// `12 KB`, `1.4 MB`.
pub fn human_size(bytes: i64) -> String {
    const KB: i64 = 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < KB * KB {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        // Display only: precision beyond a tenth of a megabyte does not matter.
        let mb = bytes as f64 / (KB * KB) as f64;
        format!("{mb:.1} MB")
    }
}

fn datetime(ms: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// RFC 3339 for `datetime` attributes.
/// A Unix-ms time as RFC 3339 (UTC).
pub fn iso(ms: i64) -> String {
    crate::api::rfc3339(ms)
}

/// `14:03` today, `3 Mar 14:03` otherwise (UTC).
fn short_time(ms: i64, now: i64) -> String {
    let (Some(t), Some(today)) = (datetime(ms), datetime(now)) else {
        return String::new();
    };
    if t.date() == today.date() {
        format!("{:02}:{:02} UTC", t.hour(), t.minute())
    } else {
        let month = format!("{:?}", t.month());
        let month: String = month.chars().take(3).collect();
        format!(
            "{} {} {:02}:{:02} UTC",
            t.day(),
            month,
            t.hour(),
            t.minute()
        )
    }
}

/// `5 h 12 min`.
fn remaining(ms: i64) -> String {
    let minutes = (ms / 60_000).max(0);
    if minutes >= 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

/// Raw HTML of a fragment, with the page headers applied by the router.
pub fn fragment(markup: Markup) -> Response {
    html_response(markup)
}
