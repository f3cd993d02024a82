//! What an inbox sends, and the exact JSON body the Cloud API expects for it.
//!
//! The bodies follow `samples/graph_api/send_*_request.json` field for field: the tests
//! compare the serialised value with those files.

use serde_json::{json, Map, Value};

/// One message for the `POST /{v}/{phone_number_id}/messages` endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// The customer's `wa_id` (digits; `+` and formatting are tolerated by Meta).
    pub to: String,
    /// The wamid this message quotes (`context.message_id`), if it is a reply.
    pub reply_to: Option<String>,
    /// Echoed back as `biz_opaque_callback_data` on every status webhook of this message:
    /// put the outbox id here (at most 512 bytes).
    pub callback_data: Option<String>,
    /// What is sent.
    pub body: OutboundBody,
}

/// The content of an [`OutboundMessage`].
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundBody {
    /// Free-form text (only inside the 24-hour window). `preview_url` renders a preview of
    /// the first URL; it is left out of the body when false.
    Text {
        /// At most 4096 characters.
        body: String,
        /// Ask WhatsApp to render a link preview.
        preview_url: bool,
    },
    /// An approved template (the only thing allowed outside the 24-hour window).
    Template {
        /// Template name as approved in the WhatsApp Manager.
        name: String,
        /// Language code, e.g. `en_GB`; sent with `policy: "deterministic"`.
        language: String,
        /// The `components` array as Meta defines it; `Value::Null` leaves it out.
        components: Value,
    },
    /// An image by uploaded media id or public link.
    Image {
        /// Which media.
        media: MediaRef,
        /// Optional caption (at most 1024 characters).
        caption: Option<String>,
    },
    /// A document by uploaded media id or public link.
    Document {
        /// Which media.
        media: MediaRef,
        /// Optional caption (at most 1024 characters).
        caption: Option<String>,
        /// File name shown to the customer.
        filename: Option<String>,
    },
    /// A reaction to a message; an empty `emoji` removes an earlier reaction.
    Reaction {
        /// The wamid reacted to.
        message_id: String,
        /// The emoji, or `""` to remove.
        emoji: String,
    },
    /// An interactive message (reply buttons, list, ...): the `interactive` object as Meta
    /// defines it, passed through unchanged.
    Interactive {
        /// The `interactive` object.
        interactive: Value,
    },
}

/// Media by the id returned from an upload, or by a public HTTPS link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaRef {
    /// A media id (from `POST /{v}/{phone_number_id}/media`).
    Id(String),
    /// A public HTTPS URL Meta downloads from.
    Link(String),
}

impl OutboundBody {
    /// The Cloud API `type` of this body.
    pub fn type_name(&self) -> &'static str {
        match self {
            OutboundBody::Text { .. } => "text",
            OutboundBody::Template { .. } => "template",
            OutboundBody::Image { .. } => "image",
            OutboundBody::Document { .. } => "document",
            OutboundBody::Reaction { .. } => "reaction",
            OutboundBody::Interactive { .. } => "interactive",
        }
    }

    /// Whether this may be sent outside the 24-hour customer-service window.
    pub fn allowed_outside_window(&self) -> bool {
        matches!(self, OutboundBody::Template { .. })
    }

    fn object(&self) -> Value {
        match self {
            OutboundBody::Text { body, preview_url } => {
                let mut text = Map::new();
                if *preview_url {
                    text.insert("preview_url".into(), Value::Bool(true));
                }
                text.insert("body".into(), Value::String(body.clone()));
                Value::Object(text)
            }
            OutboundBody::Template {
                name,
                language,
                components,
            } => {
                let mut template = Map::new();
                template.insert("name".into(), Value::String(name.clone()));
                template.insert(
                    "language".into(),
                    json!({ "policy": "deterministic", "code": language }),
                );
                if !components.is_null() {
                    template.insert("components".into(), components.clone());
                }
                Value::Object(template)
            }
            OutboundBody::Image { media, caption } => media_object(media, caption, &None),
            OutboundBody::Document {
                media,
                caption,
                filename,
            } => media_object(media, caption, filename),
            OutboundBody::Reaction { message_id, emoji } => {
                json!({ "message_id": message_id, "emoji": emoji })
            }
            OutboundBody::Interactive { interactive } => interactive.clone(),
        }
    }
}

fn media_object(media: &MediaRef, caption: &Option<String>, filename: &Option<String>) -> Value {
    let mut object = Map::new();
    match media {
        MediaRef::Id(id) => object.insert("id".into(), Value::String(id.clone())),
        MediaRef::Link(link) => object.insert("link".into(), Value::String(link.clone())),
    };
    if let Some(caption) = caption {
        object.insert("caption".into(), Value::String(caption.clone()));
    }
    if let Some(filename) = filename {
        object.insert("filename".into(), Value::String(filename.clone()));
    }
    Value::Object(object)
}

impl OutboundMessage {
    /// A plain text message without link preview.
    pub fn text(to: impl Into<String>, body: impl Into<String>) -> Self {
        OutboundMessage {
            to: to.into(),
            reply_to: None,
            callback_data: None,
            body: OutboundBody::Text {
                body: body.into(),
                preview_url: false,
            },
        }
    }

    /// The request body, exactly as posted.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        root.insert("messaging_product".into(), Value::String("whatsapp".into()));
        root.insert("recipient_type".into(), Value::String("individual".into()));
        root.insert("to".into(), Value::String(self.to.clone()));
        if let Some(reply_to) = &self.reply_to {
            root.insert("context".into(), json!({ "message_id": reply_to }));
        }
        let kind = self.body.type_name();
        root.insert("type".into(), Value::String(kind.into()));
        if let Some(data) = &self.callback_data {
            root.insert(
                "biz_opaque_callback_data".into(),
                Value::String(data.clone()),
            );
        }
        root.insert(kind.into(), self.body.object());
        Value::Object(root)
    }
}

/// The mark-as-read body (with the optional typing indicator).
pub fn mark_read_json(wa_message_id: &str, typing: bool) -> Value {
    let mut root = Map::new();
    root.insert("messaging_product".into(), Value::String("whatsapp".into()));
    root.insert("status".into(), Value::String("read".into()));
    root.insert("message_id".into(), Value::String(wa_message_id.into()));
    if typing {
        root.insert("typing_indicator".into(), json!({ "type": "text" }));
    }
    Value::Object(root)
}
