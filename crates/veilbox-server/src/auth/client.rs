//! Where a request comes from: the client address and browser, for sessions and the audit
//! log. Both are staff metadata, never customer data.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::AppState;

/// The longest user agent kept (some are kilobytes of noise).
const USER_AGENT_LIMIT: usize = 200;

/// The client of a request.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// IP address: the peer's, or the proxy's `X-Forwarded-For` entry when configured to trust it.
    pub address: Option<String>,
    /// The `User-Agent` header, shortened.
    pub user_agent: Option<String>,
}

impl Client {
    /// Reads the client of a request.
    pub fn of(parts: &Parts, trust_forwarded_for: bool) -> Client {
        let forwarded = trust_forwarded_for
            .then(|| forwarded_for(&parts.headers))
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(USER_AGENT_LIMIT).collect());
        Client {
            address: forwarded.or(peer),
            user_agent,
        }
    }
}

/// The address the trusted proxy saw: the last `X-Forwarded-For` entry (the proxy appends
/// it; entries before it are whatever the client sent, and could be forged).
impl Client {
    /// An audit entry by `actor` from this client.
    pub fn audit<'a>(
        &'a self,
        actor: &'a str,
        action: &'a str,
        target: Option<&'a str>,
        reason: Option<&'a str>,
    ) -> veilbox_store::audit::AuditEntry<'a> {
        veilbox_store::audit::AuditEntry {
            actor,
            action,
            target,
            reason,
            address: self.address.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}

fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .next_back()?;
    let last = value.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client::of(parts, state.config.trust_forwarded_for))
    }
}

/// A short description of a browser for the devices page ("Chrome on Linux").
pub fn describe_browser(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return "Unknown browser".to_owned();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map_or("Unknown browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_described_briefly() {
        assert_eq!(
            describe_browser(Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")),
            "Chrome on Linux"
        );
        assert_eq!(
            describe_browser(Some(
                "Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0"
            )),
            "Firefox on Windows"
        );
        assert_eq!(describe_browser(None), "Unknown browser");
    }

    #[test]
    fn forwarded_for_takes_the_address_the_proxy_added() {
        let mut headers = HeaderMap::new();
        // The client forged the first entry; the proxy appended the real peer.
        headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("203.0.113.7, 198.51.100.9"),
        );
        assert_eq!(forwarded_for(&headers).as_deref(), Some("198.51.100.9"));
        headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("<script>"),
        );
        assert_eq!(forwarded_for(&headers), None);
    }
}
