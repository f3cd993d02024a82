//! The Graph API client: what an inbox sends to the WhatsApp Cloud API.
//!
//! One [`GraphClient`] per access token (cheap to clone, shares its connection pool). Every
//! failure comes back as a [`SendError`] classified by Meta's `error.code`, so the outbox
//! decides from the class alone: retry, give up with a reason, pause the channel, or wait
//! for a status webhook because the outcome is unknown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use veilbox_whatsapp::graph::{GraphClient, GraphConfig, OutboundMessage};
//! let client = GraphClient::new(GraphConfig {
//!     base_url: "https://graph.facebook.com".into(),
//!     version: "v24.0".into(),
//!     access_token: "token".into(),
//!     timeout: Duration::from_secs(20),
//! })?;
//! let mut message = OutboundMessage::text("15555550142", "Your parcel is on its way");
//! message.callback_data = Some("outbox-0192".into());
//! match client.send("118440581239876", &message).await {
//!     Ok(accepted) => println!("accepted as {}", accepted.wa_message_id),
//!     Err(error) => println!("{}: {error}", error.class()),
//! }
//! # Ok(()) }
//! ```

mod error;
mod message;

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use error::{agent_reason, redact_digits, Backoff, SendError};
pub use message::{mark_read_json, MediaRef, OutboundBody, OutboundMessage};

use error::{classify, GraphErrorBody};

/// The largest media body [`GraphClient::download`] accepts (Meta's maximum is 100 MB).
pub const MAX_MEDIA_BYTES: usize = 100 * 1024 * 1024;

/// Where and how to reach the Graph API.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// `https://graph.facebook.com`, or the simulator's URL.
    pub base_url: String,
    /// The version path segment, e.g. `v24.0`.
    pub version: String,
    /// The system-user access token.
    pub access_token: SecretString,
    /// Whole-request timeout. Connecting is limited to the smaller of this and 10 s, so a
    /// connect failure is told apart from a timeout after the request was written.
    pub timeout: Duration,
}

/// Why a [`GraphClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A setting is unusable; names which.
    #[error("invalid Graph API setting: {0}")]
    InvalidConfig(&'static str),
    /// The HTTP client could not be initialised (TLS set-up).
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// The Graph API client. `Debug` shows the base URL and version, never the token.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    version: String,
    token: SecretString,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base_url", &self.base_url)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Meta accepted a message (HTTP 200). Accepted is not delivered: statuses follow by webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAccepted {
    /// The outbound wamid; status webhooks carry it.
    pub wa_message_id: String,
    /// The normalised customer id Meta resolved `to` into (`contacts[0].wa_id`); it can
    /// differ from what was sent.
    pub wa_id: Option<String>,
    /// `accepted` or `held_for_quality_assessment`, when Meta says.
    pub message_status: Option<String>,
}

/// Metadata of a media object (`GET /{v}/{media_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaInfo {
    /// The media id.
    pub id: String,
    /// A short-lived download URL (about 5 minutes); fetch it with [`GraphClient::download`].
    pub url: String,
    /// MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Opaque digest (hex here, base64 in webhooks).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size in bytes; Meta sends a number or a string.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub file_size: Option<u64>,
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    contacts: Vec<SendResponseContact>,
    #[serde(default)]
    messages: Vec<SendResponseMessage>,
}

#[derive(Deserialize)]
struct SendResponseContact {
    #[serde(default)]
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct SendResponseMessage {
    id: String,
    #[serde(default)]
    message_status: Option<String>,
}

/// Whether repeating a request can do harm: a send can reach the customer twice, a read
/// receipt or a download cannot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Harmful,
    Harmless,
}

impl GraphClient {
    /// Builds a client (rustls, no system OpenSSL).
    pub fn new(config: GraphConfig) -> Result<GraphClient, GraphError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(GraphError::InvalidConfig(
                "base_url must start with http:// or https://",
            ));
        }
        if !valid_version(&config.version) {
            return Err(GraphError::InvalidConfig("version must look like v24.0"));
        }
        if config.access_token.expose_secret().trim().is_empty() {
            return Err(GraphError::InvalidConfig("access_token is empty"));
        }
        if config.timeout.is_zero() {
            return Err(GraphError::InvalidConfig("timeout must be above zero"));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("veilbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Client(e.to_string()))?;
        Ok(GraphClient {
            http,
            base_url,
            version: config.version,
            token: config.access_token,
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.version, tail)
    }

    /// Sends one message from the business number `phone_number_id`.
    pub async fn send(
        &self,
        phone_number_id: &str,
        message: &OutboundMessage,
    ) -> Result<SendAccepted, SendError> {
        let url = self.url(&format!("{}/messages", path_segment(phone_number_id)?));
        let body = message.to_json();
        let kind = message.body.type_name();
        let (status, headers, bytes) = self
            .call(self.http.post(url).json(&body), Repeat::Harmful)
            .await?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &headers, &bytes, kind));
        }
        let parsed: SendResponse =
            serde_json::from_slice(&bytes).map_err(|_| SendError::Unconfirmed {
                reason: "Meta answered 200 with an unreadable body".into(),
            })?;
        let first = parsed
            .messages
            .into_iter()
            .next()
            .ok_or_else(|| SendError::Unconfirmed {
                reason: "Meta answered 200 without a message id".into(),
            })?;
        Ok(SendAccepted {
            wa_message_id: first.id,
            wa_id: parsed.contacts.into_iter().next().and_then(|c| c.wa_id),
            message_status: first.message_status,
        })
    }

    /// Marks an inbound message (and those before it) read, optionally showing the typing
    /// indicator. Best effort: a failure here should be logged, not retried hard.
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        wa_message_id: &str,
        typing: bool,
    ) -> Result<(), SendError> {
        let url = self.url(&format!("{}/messages", path_segment(phone_number_id)?));
        let body = mark_read_json(wa_message_id, typing);
        let (status, headers, bytes) = self
            .call(self.http.post(url).json(&body), Repeat::Harmless)
            .await?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &headers, &bytes, "read"));
        }
        Ok(())
    }

    /// The metadata and short-lived download URL of a media id.
    pub async fn media(&self, media_id: &str) -> Result<MediaInfo, SendError> {
        let url = self.url(path_segment(media_id)?);
        let (status, headers, bytes) = self.call(self.http.get(url), Repeat::Harmless).await?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &headers, &bytes, "media"));
        }
        serde_json::from_slice(&bytes).map_err(|_| SendError::Retryable {
            code: None,
            retry_after: Duration::from_secs(1),
            reason: "unreadable media metadata".into(),
        })
    }

    /// Downloads the bytes behind [`MediaInfo::url`] (with the Bearer token, as Meta
    /// requires). An expired URL (401/403/404) is a `Permanent` error: ask
    /// [`GraphClient::media`] for a fresh URL once and try again.
    pub async fn download(&self, info: &MediaInfo) -> Result<Bytes, SendError> {
        self.download_at_most(info, MAX_MEDIA_BYTES).await
    }

    /// [`GraphClient::download`] with a smaller cap: a body over `limit` bytes is refused
    /// (as a `Permanent` error) without being read past the limit, so a hostile or broken
    /// answer cannot fill the memory of the server.
    pub async fn download_at_most(
        &self,
        info: &MediaInfo,
        limit: usize,
    ) -> Result<Bytes, SendError> {
        let limit = limit.min(MAX_MEDIA_BYTES);
        if !(info.url.starts_with("https://") || info.url.starts_with("http://")) {
            return Err(SendError::Permanent {
                code: None,
                reason: "media URL is not HTTP(S)".into(),
            });
        }
        let request = self
            .http
            .get(&info.url)
            .bearer_auth(self.token.expose_secret());
        let mut response = request
            .send()
            .await
            .map_err(|e| transport(&e, Repeat::Harmless))?;
        let status = response.status().as_u16();
        if matches!(status, 401 | 403 | 404 | 410) {
            return Err(SendError::Permanent {
                code: None,
                reason: format!(
                    "media URL expired or refused (HTTP {status}); fetch the media again"
                ),
            });
        }
        if !(200..300).contains(&status) {
            return Err(classify(status, None, retry_after(response.headers())));
        }
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport(&e, Repeat::Harmless))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }

    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        repeat: Repeat,
    ) -> Result<(u16, HeaderMap, Bytes), SendError> {
        let response = request
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| transport(&e, repeat))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(bytes) => Ok((status, headers, bytes)),
            // Meta answered; for a refusal the status alone classifies it.
            Err(_) if !(200..300).contains(&status) => Ok((status, headers, Bytes::new())),
            Err(e) => Err(transport(&e, repeat)),
        }
    }
}

fn too_large(limit: usize) -> SendError {
    SendError::Permanent {
        code: None,
        reason: format!("media is larger than {} MiB", limit / (1024 * 1024)),
    }
}

/// A non-2xx answer: classify by `error.code`, and log what Meta support needs.
fn refused(status: u16, headers: &HeaderMap, body: &[u8], kind: &str) -> SendError {
    let parsed = serde_json::from_slice::<GraphErrorBody>(body).ok();
    let object = parsed.as_ref().map(|b| &b.error);
    let error = classify(status, object, retry_after(headers));
    tracing::warn!(
        http_status = status,
        code = object.and_then(|e| e.code),
        subcode = object.and_then(|e| e.error_subcode),
        fbtrace_id = object.and_then(|e| e.fbtrace_id.as_deref()),
        class = error.class(),
        kind,
        "graph api refused a request"
    );
    error
}

/// Maps a transport failure. Only a failure to connect proves nothing was written; after
/// that a send's fate is unknown.
fn transport(error: &reqwest::Error, repeat: Repeat) -> SendError {
    // reqwest's Display includes the URL (which holds ids, not secrets); keep only the kind.
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "connection lost while reading the response"
    } else {
        "connection failed"
    };
    if error.is_connect() || repeat == Repeat::Harmless {
        let reason = format!("Graph API {what}");
        tracing::warn!(class = "retryable", reason = %reason, "graph api unreachable");
        return SendError::Retryable {
            code: None,
            retry_after: Duration::from_secs(1),
            reason,
        };
    }
    let reason = format!("Graph API {what} after the request was sent");
    tracing::warn!(class = "unconfirmed", reason = %reason, "graph api send outcome unknown");
    SendError::Unconfirmed { reason }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| Duration::from_secs(secs.min(24 * 3600)))
}

/// An id used as a URL path segment: refuse anything that could change the path.
fn path_segment(id: &str) -> Result<&str, SendError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && id != "."
        && id != "..";
    if ok {
        Ok(id)
    } else {
        Err(SendError::Permanent {
            code: None,
            reason: "bad parameter: malformed id".into(),
        })
    }
}

/// Whether `version` looks like a Graph API version segment (`v` digits `.` digits).
pub fn valid_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    !major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.bytes().all(|b| b.is_ascii_digit())
}
