//! Webhook bodies (`object: whatsapp_business_account`) turned into normalised events.
//!
//! Parsing is lenient by design (spec §3, §11): unknown fields are ignored, unknown message
//! types become [`MessageContent::Unsupported`] with their raw JSON, numbers may arrive as
//! strings, and an element that cannot be understood at all is reported in
//! [`Webhook::rejected`] instead of failing its siblings. Only a body that is not JSON, or
//! not a WhatsApp Business Account object, is an error.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A verified webhook body, normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Webhook {
    /// Customer messages, in body order.
    pub messages: Vec<InboundMessage>,
    /// Messages the business sent from the WhatsApp Business app on its phone
    /// (`smb_message_echoes`), in body order: `customer` is the recipient.
    pub echoes: Vec<InboundMessage>,
    /// Customers' messaging preferences (`user_preferences`): a marketing stop or resume.
    pub preferences: Vec<PreferenceUpdate>,
    /// What Meta says about the business's account, numbers and templates: for admins.
    pub account_updates: Vec<AccountUpdate>,
    /// Delivery receipts for messages the business sent.
    pub statuses: Vec<StatusUpdate>,
    /// Out-of-band platform errors (`value.errors`), for admins.
    pub errors: Vec<PlatformError>,
    /// Elements that could not be normalised; the raw body still holds them.
    pub rejected: Vec<RejectedElement>,
    /// Every `phone_number_id` the body addresses, deduplicated, in body order.
    pub phone_number_ids: Vec<String>,
}

/// Why a body as a whole cannot be accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not JSON.
    #[error("body is not valid JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// JSON, but not a webhook envelope.
    #[error("body is not a WhatsApp webhook envelope: {0}")]
    NotAnEnvelope(&'static str),
}

/// Which WhatsApp number a change was addressed to (`value.metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessNumber {
    /// The phone number id: the routing key to an inbox.
    pub phone_number_id: String,
    /// Digits without `+`, as Meta sends them.
    pub display_phone_number: Option<String>,
    /// The WhatsApp Business Account id (`entry.id`).
    pub waba_id: Option<String>,
}

/// Who wrote: a phone-based WhatsApp id, a business-scoped user id, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerIdentity {
    /// `wa_id`: the normalised phone number in digits, when Meta shares it.
    pub wa_id: Option<String>,
    /// `user_id` (BSUID), e.g. `US.13491208655302741918`.
    pub user_id: Option<String>,
    /// The WhatsApp display name, user-controlled.
    pub profile_name: Option<String>,
    /// The WhatsApp username, when the user adopted one.
    pub username: Option<String>,
}

impl CustomerIdentity {
    /// True when neither a phone id nor a user id is known.
    pub fn is_anonymous(&self) -> bool {
        self.wa_id.is_none() && self.user_id.is_none()
    }
}

/// One customer message, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The inbound wamid: the deduplication key.
    pub wa_message_id: String,
    /// The number it was sent to.
    pub business: BusinessNumber,
    /// The sender.
    pub customer: CustomerIdentity,
    /// When the customer sent it, Unix seconds.
    pub sent_at: i64,
    /// The declared `type` string, as received (e.g. `text`, `poll`).
    pub declared_type: String,
    /// What was said.
    pub content: MessageContent,
    /// Reply and forwarding flags.
    pub context: MessageContext,
    /// Click-to-WhatsApp referral, kept as received.
    pub referral: Option<Value>,
    /// Message-level errors (on `unsupported` messages), kept as received.
    pub errors: Vec<ApiError>,
    /// The message element as received, for types we do not understand yet.
    pub raw: Value,
}

/// Reply and forwarding context of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContext {
    /// The wamid this message replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Sender of the quoted message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_from: Option<String>,
    /// Forwarded at least once.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub forwarded: bool,
    /// Forwarded more than five times.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub frequently_forwarded: bool,
    /// Product enquiry reference, as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referred_product: Option<Value>,
}

/// The body of a message, by type. Serialised with a `kind` tag for storage and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageContent {
    /// Plain text.
    Text {
        /// The text.
        body: String,
    },
    /// Image, video, audio, document or sticker: a media id to download later.
    Media {
        /// `image`, `video`, `audio`, `document` or `sticker`.
        media_type: String,
        /// The media id (opaque string; expires after 7 days at Meta).
        media_id: Option<String>,
        /// MIME type.
        mime_type: Option<String>,
        /// Hash as Meta sent it (base64 or hex).
        sha256: Option<String>,
        /// Size in bytes, when known.
        file_size: Option<i64>,
        /// Caption (image, video, document).
        caption: Option<String>,
        /// File name (document).
        filename: Option<String>,
        /// A voice note (audio).
        voice: bool,
        /// An animated sticker.
        animated: bool,
    },
    /// A shared location.
    Location {
        /// Latitude in degrees.
        latitude: Option<f64>,
        /// Longitude in degrees.
        longitude: Option<f64>,
        /// Place name.
        name: Option<String>,
        /// Place address.
        address: Option<String>,
        /// Link.
        url: Option<String>,
    },
    /// Shared contact cards (vCard-like), kept as received.
    Contacts {
        /// The `contacts` array.
        cards: Vec<Value>,
    },
    /// A reply to an interactive message: a button or a list row.
    InteractiveReply {
        /// `button_reply` or `list_reply` (or another reply kind, as received).
        reply_type: String,
        /// The id the business gave the button or row.
        id: Option<String>,
        /// Its title.
        title: Option<String>,
        /// A list row's description.
        description: Option<String>,
    },
    /// A WhatsApp Flow completion.
    FlowReply {
        /// Flow name.
        name: Option<String>,
        /// Body text.
        body: Option<String>,
        /// The flow's answers: a JSON string.
        response_json: Option<String>,
    },
    /// A template quick-reply button tapped.
    Button {
        /// The payload the template defined.
        payload: Option<String>,
        /// The button text.
        text: Option<String>,
    },
    /// A reaction to a message; `emoji: None` means the reaction was removed.
    Reaction {
        /// The message reacted to.
        message_id: Option<String>,
        /// The emoji, or `None` when removed.
        emoji: Option<String>,
    },
    /// A catalog order.
    Order {
        /// Catalog id.
        catalog_id: Option<String>,
        /// Accompanying text.
        text: Option<String>,
        /// Items, kept as received.
        product_items: Vec<Value>,
    },
    /// A system notice, e.g. the customer changed number.
    System {
        /// `user_changed_number`, `customer_identity_changed`, ...
        system_type: Option<String>,
        /// Human-readable body.
        body: Option<String>,
        /// The customer's new WhatsApp id, when the number changed.
        new_wa_id: Option<String>,
        /// The customer's new user id, when it changed.
        new_user_id: Option<String>,
    },
    /// The customer edited one of their messages: `content` replaces what it said.
    Edit {
        /// The wamid of the message edited.
        original_id: Option<String>,
        /// What it says now.
        content: Box<MessageContent>,
    },
    /// The customer deleted one of their messages ("delete for everyone").
    Revoke {
        /// The wamid of the message deleted.
        original_id: Option<String>,
    },
    /// The customer answered a request to call them (`interactive.call_permission_reply`).
    CallPermissionReply {
        /// Whether they agreed to be called.
        accepted: bool,
        /// Whether the permission has no end.
        permanent: bool,
        /// Until when calls are allowed (Unix seconds), when it ends.
        expires_at: Option<i64>,
        /// `user_action` or `automatic`, as Meta says.
        response_source: Option<String>,
    },
    /// The customer opened the chat for the first time.
    RequestWelcome,
    /// A type we do not understand (or Meta could not deliver): shown as unsupported.
    Unsupported {
        /// The declared type, or the kind Meta names in `unsupported.type`.
        declared_type: String,
    },
}

impl MessageContent {
    /// The text a person wrote in this message, if any: bodies and captions.
    pub fn text(&self) -> Option<&str> {
        match self {
            MessageContent::Text { body } => Some(body),
            MessageContent::Media { caption, .. } => caption.as_deref(),
            MessageContent::Order { text, .. } => text.as_deref(),
            MessageContent::Edit { content, .. } => content.text(),
            _ => None,
        }
    }
}

/// Delivery states of an outbound message, as reported by status webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Accepted by our outbox, not yet reported by Meta.
    Pending,
    /// Sent to WhatsApp's servers.
    Sent,
    /// Failed: terminal unless a later delivered/read proves otherwise.
    Failed,
    /// On the customer's device.
    Delivered,
    /// Read by the customer.
    Read,
    /// A voice message was played.
    Played,
    /// A status we do not know (e.g. legacy `deleted`): stored, never changes the state.
    Other,
}

impl DeliveryState {
    /// Parses Meta's status string.
    pub fn parse(status: &str) -> Self {
        match status {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            _ => Self::Other,
        }
    }

    /// The merge rank: a status only replaces one of lower rank, so delivery state never
    /// goes backwards. `failed` outranks `sent` (it can follow it) but not `delivered`,
    /// which proves the message arrived after all (spec §3.6).
    pub fn rank(self) -> i64 {
        match self {
            Self::Other => 0,
            Self::Pending => 5,
            Self::Sent => 10,
            Self::Failed => 15,
            Self::Delivered => 20,
            Self::Read => 30,
            Self::Played => 40,
        }
    }

    /// The stable name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Other => "other",
        }
    }
}

/// A delivery receipt for a message the business sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The outbound wamid.
    pub wa_message_id: String,
    /// The number that sent it.
    pub business: BusinessNumber,
    /// The status string as received (`sent`, `delivered`, `read`, `failed`, ...).
    pub status: String,
    /// Parsed state.
    pub state: DeliveryState,
    /// When the transition happened, Unix seconds.
    pub occurred_at: i64,
    /// The recipient's WhatsApp id (may be absent for BSUID sends).
    pub recipient_id: Option<String>,
    /// The recipient's user id (BSUID).
    pub recipient_user_id: Option<String>,
    /// Echo of `biz_opaque_callback_data` (our outbox id).
    pub callback_data: Option<String>,
    /// The first error, on `failed`.
    pub error: Option<ApiError>,
    /// `conversation` and `pricing`, kept as received: pricing semantics keep changing.
    pub billing: Option<Value>,
}

/// An asynchronous error object: `{code, title, message, error_data{details}, href}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The code to build logic on.
    pub code: Option<i64>,
    /// Title (deprecated by Meta, kept for people).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error_data.details`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// `href`: Meta's page about the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// An out-of-band error (`value.errors[]`) addressed to a business number.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformError {
    /// The number the error concerns.
    pub business: BusinessNumber,
    /// The error.
    pub error: ApiError,
}

/// A customer's messaging preference as WhatsApp reports it (`user_preferences[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceUpdate {
    /// The number it was reported on.
    pub business: BusinessNumber,
    /// Whose preference it is.
    pub customer: CustomerIdentity,
    /// `marketing_messages`, as Meta names it.
    pub category: String,
    /// True for "stop", false for "resume".
    pub opted_out: bool,
    /// When the customer chose, Unix seconds.
    pub at: i64,
}

/// A change to the business's WhatsApp account, number, templates or flows that an admin
/// should know of (template approved or rejected, quality flagged, account restricted, PIN
/// changed...). Built from the fields Meta documents for these events only: they carry no
/// customer data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUpdate {
    /// The subscription field: `message_template_status_update`, `account_update`, ...
    pub field: String,
    /// The event, as Meta names it (`REJECTED`, `FLAGGED`, `ACCOUNT_RESTRICTION`...).
    pub event: Option<String>,
    /// What it is about: a template's name and language, a display number, the account.
    pub subject: Option<String>,
    /// One line for the admin: the event and its reason, category, limit or decision.
    pub detail: String,
}

/// The management fields an admin is alerted of.
const ACCOUNT_FIELDS: &[&str] = &[
    "message_template_status_update",
    "message_template_quality_update",
    "message_template_components_update",
    "template_category_update",
    "account_update",
    "account_review_update",
    "account_alerts",
    "business_capability_update",
    "phone_number_quality_update",
    "phone_number_name_update",
    "security",
    "flows",
];

fn account_update(
    field: &str,
    value: Option<&Value>,
    waba_id: Option<&str>,
) -> Option<AccountUpdate> {
    if !ACCOUNT_FIELDS.contains(&field) {
        return None;
    }
    let value = value.and_then(Value::as_object);
    let text = |key: &str| value.and_then(|v| v.get(key)).and_then(lenient_string);
    // Only values shaped like codes, never free text Meta might quote from a chat.
    let code = |key: &str| text(key).filter(|v| code_like(v));
    let event = code("event")
        .or_else(|| code("decision"))
        .or_else(|| code("alert_type"));
    let template =
        code("message_template_name").map(|name| match code("message_template_language") {
            Some(language) => format!("template {name} ({language})"),
            None => format!("template {name}"),
        });
    let subject = template
        .or_else(|| text("display_phone_number").map(|n| format!("number +{n}")))
        .or_else(|| text("flow_id").map(|id| format!("flow {id}")))
        .or_else(|| waba_id.map(|id| format!("account {id}")));
    let mut parts: Vec<String> = Vec::new();
    for key in [
        "reason",
        "message_template_category",
        "previous_category",
        "new_category",
        "correct_category",
        "previous_quality_score",
        "new_quality_score",
        "current_limit",
        "old_limit",
        "new_limit",
        "max_daily_conversation_per_phone",
        "max_phone_numbers_per_business",
        "rejection_reason",
        "old_status",
        "new_status",
        "ban_state",
    ] {
        if let Some(v) = code(key) {
            parts.push(format!("{key}: {v}"));
        }
    }
    if let Some(info) = value
        .and_then(|v| v.get("restriction_info"))
        .and_then(Value::as_array)
    {
        for r in info {
            if let Some(kind) = r
                .get("restriction_type")
                .and_then(lenient_string)
                .filter(|v| code_like(v))
            {
                parts.push(format!("restriction: {kind}"));
            }
        }
    }
    let headline = match &event {
        Some(event) => format!("{field}: {event}"),
        None => field.to_owned(),
    };
    let detail = if parts.is_empty() {
        headline
    } else {
        format!("{headline} ({})", parts.join(", "))
    };
    Some(AccountUpdate {
        field: field.to_owned(),
        event,
        subject,
        detail,
    })
}

/// A value shaped like one of Meta's codes or names (`INVALID_FORMAT`, `TIER_10K`,
/// `spring_sale_2026`, `1000`): letters, digits and underscores, and too few digits to be a
/// phone or an account number. An admin alert quotes nothing else, so no free text (which
/// could quote a chat) reaches it.
fn code_like(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && value.bytes().filter(u8::is_ascii_digit).count() < 7
}

/// An element skipped because it lacked what makes it usable (e.g. a message without id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedElement {
    /// `message`, `echo`, `preference`, `status` or `change`.
    pub element: &'static str,
    /// Why, without any content from the element.
    pub reason: &'static str,
    /// The phone number id of the change, when known.
    pub phone_number_id: Option<String>,
}

/// Parses and normalises a verified webhook body.
pub fn parse(body: &[u8]) -> Result<Webhook, WebhookError> {
    let root: Value = serde_json::from_slice(body)?;
    let root = root
        .as_object()
        .ok_or(WebhookError::NotAnEnvelope("top level is not an object"))?;
    let entries = match root.get("entry") {
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(_) => return Err(WebhookError::NotAnEnvelope("entry is not an array")),
        None => return Err(WebhookError::NotAnEnvelope("no entry array")),
    };
    let mut webhook = Webhook::default();
    for entry in entries {
        let waba_id = entry.get("id").and_then(lenient_string);
        let changes = entry.get("changes").and_then(Value::as_array);
        for change in changes.into_iter().flatten() {
            normalise_change(change, waba_id.as_deref(), &mut webhook);
        }
    }
    Ok(webhook)
}

fn normalise_change(change: &Value, waba_id: Option<&str>, out: &mut Webhook) {
    let field = change
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or("messages");
    if let Some(update) = account_update(field, change.get("value"), waba_id) {
        out.account_updates.push(update);
        return;
    }
    if !matches!(
        field,
        "messages" | "smb_message_echoes" | "user_preferences"
    ) {
        // Other subscription fields (calls, history, app state) are acknowledged and kept
        // in the raw event only.
        return;
    }
    let Some(value) = change.get("value").and_then(Value::as_object) else {
        out.rejected.push(RejectedElement {
            element: "change",
            reason: "change without a value object",
            phone_number_id: None,
        });
        return;
    };
    let metadata = value.get("metadata");
    let Some(phone_number_id) = metadata
        .and_then(|m| m.get("phone_number_id"))
        .and_then(lenient_string)
    else {
        out.rejected.push(RejectedElement {
            element: "change",
            reason: "change without metadata.phone_number_id",
            phone_number_id: None,
        });
        return;
    };
    let business = BusinessNumber {
        phone_number_id: phone_number_id.clone(),
        display_phone_number: metadata
            .and_then(|m| m.get("display_phone_number"))
            .and_then(lenient_string),
        waba_id: waba_id.map(str::to_owned),
    };
    if !out.phone_number_ids.contains(&phone_number_id) {
        out.phone_number_ids.push(phone_number_id.clone());
    }
    let profiles = contact_profiles(value);
    for message in array(value, "messages") {
        match normalise_message(message, &business, &profiles) {
            Ok(m) => out.messages.push(m),
            Err(reason) => out.rejected.push(RejectedElement {
                element: "message",
                reason,
                phone_number_id: Some(phone_number_id.clone()),
            }),
        }
    }
    for echo in array(value, "message_echoes") {
        // The same shape as a message, addressed `to` the customer: read as one from them,
        // then kept apart as what the business said.
        let mut addressed = echo.clone();
        if let Some(object) = addressed.as_object_mut() {
            let to = object.get("to").cloned();
            let to_user_id = object.get("to_user_id").cloned();
            object.remove("from");
            object.remove("from_user_id");
            if let Some(to) = to {
                object.insert("from".to_owned(), to);
            }
            if let Some(to_user_id) = to_user_id {
                object.insert("from_user_id".to_owned(), to_user_id);
            }
        }
        match normalise_message(&addressed, &business, &profiles) {
            Ok(mut m) => {
                m.raw = echo.clone();
                out.echoes.push(m);
            }
            Err(reason) => out.rejected.push(RejectedElement {
                element: "echo",
                reason,
                phone_number_id: Some(phone_number_id.clone()),
            }),
        }
    }
    for preference in array(value, "user_preferences") {
        let field = |key: &str| preference.get(key).and_then(lenient_string);
        let opted_out = match field("value").as_deref() {
            Some("stop") => true,
            Some("resume") => false,
            _ => {
                out.rejected.push(RejectedElement {
                    element: "preference",
                    reason: "user preference that is neither stop nor resume",
                    phone_number_id: Some(phone_number_id.clone()),
                });
                continue;
            }
        };
        let customer = identify(field("wa_id"), field("user_id"), &profiles);
        let at = preference.get("timestamp").and_then(lenient_i64);
        let (Some(at), false) = (at, customer.is_anonymous()) else {
            out.rejected.push(RejectedElement {
                element: "preference",
                reason: "user preference without a customer or a timestamp",
                phone_number_id: Some(phone_number_id.clone()),
            });
            continue;
        };
        out.preferences.push(PreferenceUpdate {
            business: business.clone(),
            customer,
            category: field("category").unwrap_or_else(|| "marketing_messages".to_owned()),
            opted_out,
            at,
        });
    }
    for status in array(value, "statuses") {
        match normalise_status(status, &business) {
            Ok(s) => out.statuses.push(s),
            Err(reason) => out.rejected.push(RejectedElement {
                element: "status",
                reason,
                phone_number_id: Some(phone_number_id.clone()),
            }),
        }
    }
    for error in array(value, "errors") {
        out.errors.push(PlatformError {
            business: business.clone(),
            error: api_error(error),
        });
    }
}

fn array<'a>(value: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `value.contacts[]`: display names by wa_id and by user id.
fn contact_profiles(value: &Map<String, Value>) -> Vec<CustomerIdentity> {
    array(value, "contacts")
        .map(|c| CustomerIdentity {
            wa_id: c.get("wa_id").and_then(lenient_string),
            user_id: c.get("user_id").and_then(lenient_string),
            profile_name: c.pointer("/profile/name").and_then(lenient_string),
            username: c.pointer("/profile/username").and_then(lenient_string),
        })
        .collect()
}

fn normalise_message(
    message: &Value,
    business: &BusinessNumber,
    profiles: &[CustomerIdentity],
) -> Result<InboundMessage, &'static str> {
    let wa_message_id = message
        .get("id")
        .and_then(lenient_string)
        .filter(|id| !id.is_empty())
        .ok_or("message without id")?;
    let from = message.get("from").and_then(lenient_string);
    let from_user_id = message.get("from_user_id").and_then(lenient_string);
    let mut customer = identify(from, from_user_id, profiles);
    if customer.is_anonymous() {
        // A user id rotation notice can come with neither `from` nor contacts: the notice
        // names the old user id, which is who it is about.
        customer.user_id = message
            .pointer("/system/previous_user_id")
            .and_then(lenient_string);
    }
    if customer.is_anonymous() {
        return Err("message without from, from_user_id or contact");
    }
    let sent_at = message
        .get("timestamp")
        .and_then(lenient_i64)
        .ok_or("message without timestamp")?;
    let declared_type = message
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let content = content(&declared_type, message);
    let context = message.get("context").map(context).unwrap_or_default();
    Ok(InboundMessage {
        wa_message_id,
        business: business.clone(),
        customer,
        sent_at,
        declared_type,
        content,
        context,
        referral: message.get("referral").cloned(),
        errors: message
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| errors.iter().map(api_error).collect())
            .unwrap_or_default(),
        raw: message.clone(),
    })
}

/// Matches the sender to its `value.contacts` profile. A system message may come without
/// contacts, and a BSUID user without `from`.
fn identify(
    from: Option<String>,
    from_user_id: Option<String>,
    profiles: &[CustomerIdentity],
) -> CustomerIdentity {
    let profile = profiles
        .iter()
        .find(|p| {
            (from.is_some() && p.wa_id == from)
                || (from_user_id.is_some() && p.user_id == from_user_id)
        })
        .or(
            if profiles.len() == 1 && from.is_none() && from_user_id.is_none() {
                profiles.first()
            } else {
                None
            },
        );
    if profile.is_none() && profiles.len() == 1 {
        // One contact whose `wa_id` is not the message's `from` (Meta normalises numbers,
        // e.g. Brazil's ninth digit): the contact is the sender, and WhatsApp keys users by
        // its `wa_id`, so the profile name and user id are kept under that.
        if let Some(only) = profiles.first().filter(|p| p.wa_id.is_some()) {
            let mut identity = only.clone();
            if identity.user_id.is_none() {
                identity.user_id = from_user_id;
            }
            return identity;
        }
    }
    let mut identity = profile.cloned().unwrap_or_default();
    if identity.wa_id.is_none() {
        identity.wa_id = from;
    }
    if identity.user_id.is_none() {
        identity.user_id = from_user_id;
    }
    identity
}

fn content(declared_type: &str, message: &Value) -> MessageContent {
    let body = message.get(declared_type);
    let text = |key: &str| body.and_then(|b| b.get(key)).and_then(lenient_string);
    let flag = |key: &str| {
        body.and_then(|b| b.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    match declared_type {
        "text" => match text("body") {
            Some(body) => MessageContent::Text { body },
            None => unsupported(declared_type),
        },
        "image" | "video" | "audio" | "document" | "sticker" if body.is_some() => {
            MessageContent::Media {
                media_type: declared_type.to_owned(),
                media_id: text("id"),
                mime_type: text("mime_type"),
                sha256: text("sha256"),
                file_size: body.and_then(|b| b.get("file_size")).and_then(lenient_i64),
                caption: text("caption"),
                filename: text("filename"),
                voice: flag("voice"),
                animated: flag("animated"),
            }
        }
        "location" if body.is_some() => MessageContent::Location {
            latitude: body.and_then(|b| b.get("latitude")).and_then(lenient_f64),
            longitude: body.and_then(|b| b.get("longitude")).and_then(lenient_f64),
            name: text("name"),
            address: text("address"),
            url: text("url"),
        },
        "contacts" => match body.and_then(Value::as_array) {
            Some(cards) => MessageContent::Contacts {
                cards: cards.clone(),
            },
            None => unsupported(declared_type),
        },
        "interactive" => interactive(body),
        "button" if body.is_some() => MessageContent::Button {
            payload: text("payload"),
            text: text("text"),
        },
        "reaction" if body.is_some() => MessageContent::Reaction {
            message_id: text("message_id"),
            emoji: text("emoji").filter(|e| !e.is_empty()),
        },
        "order" if body.is_some() => MessageContent::Order {
            catalog_id: text("catalog_id"),
            text: text("text"),
            product_items: body
                .and_then(|b| b.get("product_items"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        },
        "system" if body.is_some() => MessageContent::System {
            system_type: text("type"),
            body: text("body"),
            new_wa_id: text("wa_id").or_else(|| text("new_wa_id")),
            new_user_id: text("user_id"),
        },
        "edit" if body.is_some() => MessageContent::Edit {
            original_id: original_id(body),
            content: Box::new(match body.and_then(|b| b.get("message")) {
                // The new version is a message of its own type (`{type, text: {body}}`).
                Some(inner) => {
                    let inner_type = inner.get("type").and_then(Value::as_str).unwrap_or("text");
                    content(inner_type, inner)
                }
                // Older shapes carry the new text beside the id.
                None => match text("text").or_else(|| text("body")) {
                    Some(body) => MessageContent::Text { body },
                    None => unsupported("edit"),
                },
            }),
        },
        "revoke" if body.is_some() => MessageContent::Revoke {
            original_id: original_id(body),
        },
        "request_welcome" => MessageContent::RequestWelcome,
        "unsupported" | "unknown" => MessageContent::Unsupported {
            declared_type: message
                .pointer("/unsupported/type")
                .and_then(lenient_string)
                .unwrap_or_else(|| declared_type.to_owned()),
        },
        other => unsupported(other),
    }
}

/// The message an edit or a revoke is about: `original_message_id` in Meta's reference,
/// `message_id` or `id` in other shapes seen.
fn original_id(body: Option<&Value>) -> Option<String> {
    let body = body?;
    ["original_message_id", "message_id", "id"]
        .iter()
        .find_map(|key| body.get(*key).and_then(lenient_string))
        .filter(|id| !id.is_empty())
}

fn interactive(body: Option<&Value>) -> MessageContent {
    let Some(body) = body else {
        // A body-less interactive arrives with value.errors (spec §3.7): nothing to show.
        return unsupported("interactive");
    };
    let reply_type = body.get("type").and_then(Value::as_str).unwrap_or_default();
    let reply = body.get(reply_type);
    let field = |key: &str| reply.and_then(|r| r.get(key)).and_then(lenient_string);
    match reply_type {
        "call_permission_reply" => {
            let reply = reply.unwrap_or(&Value::Null);
            MessageContent::CallPermissionReply {
                accepted: reply.get("response").and_then(Value::as_str) == Some("accept"),
                permanent: reply
                    .get("is_permanent")
                    .is_some_and(|p| p.as_bool() == Some(true) || p.as_str() == Some("true")),
                expires_at: reply.get("expiration_timestamp").and_then(lenient_i64),
                response_source: field("response_source"),
            }
        }
        "nfm_reply" => MessageContent::FlowReply {
            name: field("name"),
            body: field("body"),
            response_json: field("response_json"),
        },
        "" => unsupported("interactive"),
        _ if reply.is_some() => MessageContent::InteractiveReply {
            reply_type: reply_type.to_owned(),
            id: field("id"),
            title: field("title"),
            description: field("description"),
        },
        _ => unsupported("interactive"),
    }
}

fn unsupported(declared_type: &str) -> MessageContent {
    MessageContent::Unsupported {
        declared_type: declared_type.to_owned(),
    }
}

fn context(context: &Value) -> MessageContext {
    MessageContext {
        reply_to: context.get("id").and_then(lenient_string),
        reply_to_from: context.get("from").and_then(lenient_string),
        forwarded: context
            .get("forwarded")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        frequently_forwarded: context
            .get("frequently_forwarded")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        referred_product: context.get("referred_product").cloned(),
    }
}

fn normalise_status(
    status: &Value,
    business: &BusinessNumber,
) -> Result<StatusUpdate, &'static str> {
    let wa_message_id = status
        .get("id")
        .and_then(lenient_string)
        .filter(|id| !id.is_empty())
        .ok_or("status without id")?;
    let status_name = status
        .get("status")
        .and_then(lenient_string)
        .ok_or("status without status")?;
    let occurred_at = status
        .get("timestamp")
        .and_then(lenient_i64)
        .ok_or("status without timestamp")?;
    let mut billing = Map::new();
    for key in ["conversation", "pricing"] {
        if let Some(v) = status.get(key) {
            billing.insert(key.to_owned(), v.clone());
        }
    }
    Ok(StatusUpdate {
        wa_message_id,
        business: business.clone(),
        state: DeliveryState::parse(&status_name),
        status: status_name,
        occurred_at,
        recipient_id: status.get("recipient_id").and_then(lenient_string),
        recipient_user_id: status.get("recipient_user_id").and_then(lenient_string),
        callback_data: status
            .get("biz_opaque_callback_data")
            .and_then(lenient_string),
        error: status
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|errors| errors.first())
            .map(api_error),
        billing: (!billing.is_empty()).then_some(Value::Object(billing)),
    })
}

fn api_error(error: &Value) -> ApiError {
    ApiError {
        code: error.get("code").and_then(lenient_i64),
        title: error.get("title").and_then(lenient_string),
        message: error.get("message").and_then(lenient_string),
        details: error
            .pointer("/error_data/details")
            .and_then(lenient_string),
        href: error.get("href").and_then(lenient_string),
    }
}

/// Ids and timestamps are strings on the wire, but numbers appear in the wild.
fn lenient_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn lenient_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lenient_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_json_and_non_envelopes() {
        assert!(matches!(
            parse(b"{not json"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(parse(b"[]"), Err(WebhookError::NotAnEnvelope(_))));
        assert!(matches!(
            parse(br#"{"entry":{}}"#),
            Err(WebhookError::NotAnEnvelope(_))
        ));
    }

    #[test]
    fn a_bad_element_does_not_sink_its_siblings() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"99"},
            "messages":[{"from":"1555","timestamp":"1","type":"text","text":{"body":"no id"}},
                        {"from":"1555","id":"wamid.ok","timestamp":1700000000,"type":"poll","poll":{}}]}}]}]}"#;
        let webhook = parse(body).expect("valid envelope");
        assert_eq!(webhook.messages.len(), 1);
        assert_eq!(webhook.rejected.len(), 1);
        assert_eq!(webhook.rejected[0].reason, "message without id");
        let m = &webhook.messages[0];
        assert_eq!(m.sent_at, 1_700_000_000, "numeric timestamps are accepted");
        assert_eq!(
            m.content,
            MessageContent::Unsupported {
                declared_type: "poll".into()
            }
        );
        assert_eq!(
            m.raw["poll"],
            serde_json::json!({}),
            "raw JSON of unknown types is kept"
        );
    }

    #[test]
    fn delivery_state_never_goes_backwards() {
        use DeliveryState::*;
        assert!(Read.rank() > Delivered.rank());
        assert!(
            Delivered.rank() > Failed.rank(),
            "a later delivered proves a failure wrong"
        );
        assert!(Failed.rank() > Sent.rank());
        assert!(Other.rank() < Sent.rank());
    }

    #[test]
    fn an_account_alert_quotes_codes_only() {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "time": 1780000000, "changes": [{
                "field": "message_template_status_update",
                "value": {"event": "REJECTED", "message_template_name": "spring_sale_2026",
                          "message_template_language": "pt_BR", "reason": "INVALID_FORMAT",
                          "message_template_category": "call Ana on +44 7700 900461",
                          "new_limit": "447700900461"}}]}]
        });
        let parsed = parse(body.to_string().as_bytes()).expect("parses");
        let [update] = parsed.account_updates.as_slice() else {
            panic!("one update: {:?}", parsed.account_updates);
        };
        assert_eq!(update.event.as_deref(), Some("REJECTED"));
        assert_eq!(
            update.subject.as_deref(),
            Some("template spring_sale_2026 (pt_BR)")
        );
        assert_eq!(
            update.detail,
            "message_template_status_update: REJECTED (reason: INVALID_FORMAT)"
        );
    }
}
