//! What went wrong with a Graph API call, classified by `error.code` (spec §5.1, §5.2).
//!
//! The class decides what the outbox does: retry later, give up with a reason an agent
//! understands, pause the channel (token), or stop and wait for a status webhook because
//! the request may have reached Meta (the send endpoint has no idempotency key).
//!
//! Nothing in here carries the access token or a phone number: Meta's `error.message`
//! often names the recipient, so only codes, titles and our own wording are kept, and any
//! run of six or more digits in text we keep is replaced.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

/// Why a send (or media call) did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not sent; safe to try again after at least `retry_after` (see [`SendError::retry_delay`]).
    #[error("temporary failure, retry later: {reason}")]
    Retryable {
        /// Graph `error.code`, when the failure came with one.
        code: Option<i64>,
        /// The least time to wait before the next attempt.
        retry_after: Duration,
        /// Redacted, human-readable cause.
        reason: String,
    },
    /// Not sent and never will be as it is: show `reason` to the agent.
    #[error("{reason}")]
    Permanent {
        /// Graph `error.code`, when the failure came with one.
        code: Option<i64>,
        /// A reason an agent understands.
        reason: String,
    },
    /// The access token is expired or invalid (190, or 0): pause the channel and alert the
    /// admins; never retried.
    #[error("the WhatsApp access token is expired or invalid (code {code})")]
    TokenExpired {
        /// 190 or 0.
        code: i64,
    },
    /// The request may have reached Meta (timeout or connection lost after it was written):
    /// the message may or may not go out, so it must not be retried automatically. A later
    /// status webhook carrying the `biz_opaque_callback_data` settles it.
    #[error("outcome unknown, not retried: {reason}")]
    Unconfirmed {
        /// Redacted cause.
        reason: String,
    },
}

impl SendError {
    /// `"retryable"`, `"permanent"`, `"token_expired"` or `"unconfirmed"`: for logs, metrics
    /// and the outbox's state column.
    pub fn class(&self) -> &'static str {
        match self {
            SendError::Retryable { .. } => "retryable",
            SendError::Permanent { .. } => "permanent",
            SendError::TokenExpired { .. } => "token_expired",
            SendError::Unconfirmed { .. } => "unconfirmed",
        }
    }

    /// The Graph error code, if there was one.
    pub fn code(&self) -> Option<i64> {
        match self {
            SendError::Retryable { code, .. } | SendError::Permanent { code, .. } => *code,
            SendError::TokenExpired { code } => Some(*code),
            SendError::Unconfirmed { .. } => None,
        }
    }

    /// Whether the outbox may try again on its own.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable { .. })
    }

    /// How long to wait before attempt number `attempt` (0 for the first retry), or `None`
    /// when this error must not be retried. Pair-rate errors (131056) wait `4^attempt`
    /// seconds as Meta asks; others wait the larger of `retry_after` and the jittered
    /// backoff.
    pub fn retry_delay(&self, attempt: u32, backoff: &Backoff) -> Option<Duration> {
        match self {
            SendError::Retryable {
                code: Some(131056),
                retry_after,
                ..
            } => {
                let pair = 4u64.saturating_pow(attempt.min(16));
                Some(Duration::from_secs(pair).min(backoff.cap).max(*retry_after))
            }
            SendError::Retryable { retry_after, .. } => {
                Some(backoff.delay(attempt).max(*retry_after))
            }
            _ => None,
        }
    }
}

/// Exponential backoff with full jitter: attempt `n` waits a uniformly random time in
/// `[0, min(cap, base * 2^n)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first attempt.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

impl Default for Backoff {
    /// One second, doubling up to five minutes.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// The upper bound of attempt `attempt`'s delay (no jitter).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A jittered delay for attempt `attempt` (0-based): uniform in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
    }
}

/// The Graph error envelope (`{"error":{...}}`), as far as we use it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphErrorBody {
    pub error: GraphErrorObject,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphErrorObject {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// A reason an agent understands for a Graph error `code`, when we know the code.
///
/// Works for synchronous errors and for the `errors[]` of a `failed` status webhook alike.
pub fn agent_reason(code: i64) -> Option<&'static str> {
    Some(match code {
        131047 => "outside the 24-hour window, send a template",
        131026 => "undeliverable: the customer cannot receive WhatsApp messages",
        100 | 131008 | 131009 => "bad parameter",
        131030 => "the recipient is not in the allowed list of this test number",
        131049 => "WhatsApp chose not to deliver this message; try again after 24 hours",
        131050 => "the customer stopped marketing messages from this business",
        131051 => "unsupported message type",
        131052 | 131053 => "the media could not be downloaded or uploaded",
        131021 => "recipient cannot be the sender",
        131042 => "business payment issue: check the WhatsApp account's payment method",
        131045 => "the business phone number is not registered (certificate missing)",
        131031 | 368 => "the business account is locked or blocked for policy reasons",
        133010 => "the business phone number is not registered",
        130472 => {
            "the customer is part of a WhatsApp experiment; the marketing template was not sent"
        }
        131005 | 10 => "permission denied: check the access token's permissions",
        200..=299 => "permission denied: check the access token's permissions",
        132000 => "template: the number of parameters does not match",
        132001 => "template does not exist in this language",
        132005 => "template: text too long once the parameters are filled in",
        132007 => "template: content violates WhatsApp policy",
        132012 => "template: a parameter has the wrong format",
        132015 => "template is paused for low quality",
        132016 => "template is disabled",
        132068 | 132069 => "template: flow error",
        _ if (132_000..=132_999).contains(&code) => "template error",
        190 | 0 => "the WhatsApp access token is expired or invalid",
        130429 => "rate limit: too many messages per second from this number",
        131056 => "pair rate limit: too many messages to this customer in a short time",
        131048 => "spam rate limit: too many messages were blocked or reported",
        4 => "application request limit reached",
        80007 => "WhatsApp Business account rate limit reached",
        131000 | 131016 | 2 | 1 => "WhatsApp had a temporary problem",
        131057 => "the business number is in maintenance mode",
        _ => return None,
    })
}

/// Classifies a Graph error by `code` first, then by HTTP status when there is no code.
pub(crate) fn classify(
    status: u16,
    error: Option<&GraphErrorObject>,
    retry_after_header: Option<Duration>,
) -> SendError {
    let code = error.and_then(|e| e.code);
    let hint = |default: Duration| retry_after_header.unwrap_or(default).max(default);
    let Some(code) = code else {
        return match status {
            401 => SendError::TokenExpired { code: 0 },
            429 => SendError::Retryable {
                code: None,
                retry_after: hint(Duration::from_secs(1)),
                reason: "HTTP 429 from the Graph API".into(),
            },
            500..=599 => SendError::Retryable {
                code: None,
                retry_after: hint(Duration::from_secs(1)),
                reason: format!("HTTP {status} from the Graph API"),
            },
            _ => SendError::Permanent {
                code: None,
                reason: format!("the Graph API refused the request (HTTP {status})"),
            },
        };
    };
    let retryable = |after: Duration| SendError::Retryable {
        code: Some(code),
        retry_after: hint(after),
        reason: reason_text(code, error),
    };
    match code {
        190 | 0 => SendError::TokenExpired { code },
        130429 | 131056 | 131000 | 131016 | 2 | 1 => retryable(Duration::from_secs(1)),
        4 | 80007 | 131057 => retryable(Duration::from_secs(60)),
        131048 => retryable(Duration::from_secs(3600)),
        _ if agent_reason(code).is_none() && status >= 500 => retryable(Duration::from_secs(1)),
        _ => SendError::Permanent {
            code: Some(code),
            reason: reason_text(code, error),
        },
    }
}

fn reason_text(code: i64, error: Option<&GraphErrorObject>) -> String {
    if let Some(reason) = agent_reason(code) {
        return reason.to_owned();
    }
    let title = error
        .and_then(|e| e.message.as_deref())
        .map(title_of)
        .filter(|t| !t.is_empty());
    match title {
        Some(title) => format!("WhatsApp error {code}: {}", redact_digits(title)),
        None => format!("WhatsApp error {code}"),
    }
}

/// `"(#131030) Recipient phone number not in allowed list"` → the text after the code.
fn title_of(message: &str) -> &str {
    let trimmed = message.trim();
    if let Some(rest) = trimmed.strip_prefix("(#") {
        if let Some((_, title)) = rest.split_once(')') {
            return title.trim();
        }
    }
    trimmed
}

/// Replaces every run of six or more digits (allowing the separators of a written phone
/// number: space, `-`, `.`, `(`, `)`, `+`) by `[redacted]`.
pub fn redact_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // Longest stretch of digits and phone separators that ends on a digit.
            let mut j = i;
            let mut last_digit = i;
            let mut digits = 0;
            while j < chars.len() && is_phone_char(chars[j]) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                }
                j += 1;
            }
            if digits >= 6 {
                out.push_str("[redacted]");
                i = last_digit + 1;
                continue;
            }
            // Short number: keep its first digit run as is.
            let mut k = i;
            while k < chars.len() && (chars[k].is_ascii_digit() || (k == i && chars[k] == '+')) {
                out.push(chars[k]);
                k += 1;
            }
            i = k;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64, message: &str) -> GraphErrorObject {
        GraphErrorObject {
            code: Some(code),
            message: Some(message.into()),
            error_subcode: None,
            fbtrace_id: None,
        }
    }

    #[test]
    fn redacts_phone_like_runs_only() {
        assert_eq!(
            redact_digits("Recipient +1 555-555-0142 not allowed"),
            "Recipient [redacted] not allowed"
        );
        assert_eq!(redact_digits("to 15555550142."), "to [redacted].");
        assert_eq!(redact_digits("code 4 at 08:15:12"), "code 4 at 08:15:12");
        assert_eq!(redact_digits("12345 items"), "12345 items");
        assert_eq!(redact_digits("né 123456"), "né [redacted]");
    }

    #[test]
    fn classifies_by_code_not_text() {
        let e = error(131047, "(#131047) anything at all");
        assert_eq!(
            classify(400, Some(&e), None),
            SendError::Permanent {
                code: Some(131047),
                reason: "outside the 24-hour window, send a template".into()
            }
        );
        assert_eq!(
            classify(401, Some(&error(190, "x")), None).class(),
            "token_expired"
        );
        assert_eq!(
            classify(500, Some(&error(131000, "x")), None).class(),
            "retryable"
        );
        assert_eq!(
            classify(400, Some(&error(130429, "x")), None).class(),
            "retryable"
        );
        assert_eq!(classify(503, None, None).class(), "retryable");
        assert_eq!(classify(401, None, None).class(), "token_expired");
        assert_eq!(classify(404, None, None).class(), "permanent");
        let unknown = classify(
            400,
            Some(&error(999_999, "(#999999) Odd for 447700900461")),
            None,
        );
        assert_eq!(
            unknown,
            SendError::Permanent {
                code: Some(999_999),
                reason: "WhatsApp error 999999: Odd for [redacted]".into()
            }
        );
    }

    #[test]
    fn backoff_is_bounded_and_pair_rate_is_four_to_the_attempt() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(backoff.ceiling(0), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(3), Duration::from_millis(800));
        assert_eq!(backoff.ceiling(40), Duration::from_secs(10));
        for attempt in 0..50 {
            assert!(backoff.delay(attempt) <= backoff.ceiling(attempt));
        }
        let pair = classify(400, Some(&error(131056, "x")), None);
        let big = Backoff::new(Duration::from_secs(1), Duration::from_secs(3600));
        assert_eq!(pair.retry_delay(0, &big), Some(Duration::from_secs(1)));
        assert_eq!(pair.retry_delay(2, &big), Some(Duration::from_secs(16)));
        assert_eq!(
            SendError::TokenExpired { code: 190 }.retry_delay(0, &big),
            None
        );
    }
}
