//! Interim sign-in for the web inbox: one configured admin, server-side sessions in memory.
//!
//! Until accounts exist this module is the whole of web authentication, so replacing it
//! means replacing this file: pages only see [`SignedIn`] (who is signed in, the author id
//! of their replies) and [`Sessions`] (created by the inbox routes). Sessions live in the
//! process: a restart signs everyone out, which is acceptable for a single admin.
//!
//! - E-mail and password are compared in constant time, both always, so a response says
//!   nothing about which one was wrong; a failed attempt waits ~300 ms.
//! - Session ids are 256 random bits from the OS; a fresh one is issued at every sign-in.
//! - Sessions end after 30 minutes without a request or 12 hours after sign-in.
//! - Every POST form carries the session's CSRF token; the sign-in form uses a
//!   double-submit token in its own short-lived cookie.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "veilbox_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "veilbox_login";
/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// How long a failed sign-in waits before answering.
pub const FAILED_SIGN_IN_DELAY: Duration = Duration::from_millis(300);

/// A one-shot notice shown on the next page (the outcome of a form post).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// `ok`, `warn` or `error`: how it is styled.
    pub level: &'static str,
    /// What to say.
    pub text: String,
}

#[derive(Debug)]
struct Session {
    email: String,
    csrf: String,
    created: Instant,
    last_seen: Instant,
    flash: Option<Flash>,
}

impl Session {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) < IDLE_TIMEOUT
            && now.duration_since(self.created) < ABSOLUTE_TIMEOUT
    }
}

/// The signed-in sessions of one router.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave a session half-written (every
        // update is a single assignment), so a poisoned map is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session for `email`; returns its id. `previous` (the id the browser held
    /// before, if any) is ended so a planted id never becomes signed in.
    fn start(&self, email: &str, previous: Option<&str>) -> Result<String, getrandom::Error> {
        let id = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.live(now));
        if let Some(previous) = previous {
            sessions.remove(previous);
        }
        sessions.insert(
            id.clone(),
            Session {
                email: email.to_owned(),
                csrf,
                created: now,
                last_seen: now,
                flash: None,
            },
        );
        Ok(id)
    }

    fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The live session `id`, touched (idle timer restarted) when `touch`.
    fn find(&self, id: &str, touch: bool) -> Option<(String, String)> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let live = sessions.get(id).map(|s| s.live(now))?;
        if !live {
            sessions.remove(id);
            return None;
        }
        let session = sessions.get_mut(id)?;
        if touch {
            session.last_seen = now;
        }
        Some((session.email.clone(), session.csrf.clone()))
    }

    /// Whether session `id` is still signed in (without counting this as activity).
    pub fn is_live(&self, id: &str) -> bool {
        self.find(id, false).is_some()
    }

    /// Leaves a notice for the session's next page.
    pub fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(session) = self.lock().get_mut(id) {
            session.flash = Some(flash);
        }
    }

    /// Takes the pending notice, if any.
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.lock().get_mut(id).and_then(|s| s.flash.take())
    }
}

/// 256 bits from the OS, hex encoded.
fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
fn over_tls(parts_headers: &HeaderMap, scheme_https: bool) -> bool {
    scheme_https
        || parts_headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn cookie_header(
    name: &str,
    value: &str,
    max_age: Option<u64>,
    secure: bool,
) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).ok()
}

fn sessions_of(parts: &Parts) -> Option<Sessions> {
    parts.extensions.get::<Sessions>().cloned()
}

/// Constant-time equality of two strings (length leaks, content does not).
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The signed-in admin. Handlers that take it are authorised; pages without a session
/// redirect to `/login`.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The admin's e-mail: the author id of their replies and their assignee id.
    pub email: String,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    session_id: String,
    sessions: Sessions,
}

impl SignedIn {
    /// Who writes replies and is assigned conversations.
    pub fn author(&self) -> &str {
        &self.email
    }

    /// Checks a posted form's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Refused> {
        if !given.is_empty() && same(&self.csrf, given) {
            Ok(())
        } else {
            Err(Refused::Csrf)
        }
    }

    /// Leaves a notice for the next page.
    pub fn flash(&self, level: &'static str, text: impl Into<String>) {
        self.sessions.set_flash(
            &self.session_id,
            Flash {
                level,
                text: text.into(),
            },
        );
    }

    /// Takes the pending notice.
    pub fn take_flash(&self) -> Option<Flash> {
        self.sessions.take_flash(&self.session_id)
    }

    /// Whether the session is still live (for long-lived streams).
    pub fn still_signed_in(&self) -> bool {
        self.sessions.is_live(&self.session_id)
    }
}

/// Why a request was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not signed in: go to the sign-in page.
    NotSignedIn,
    /// A form without the right CSRF token.
    Csrf,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotSignedIn => Redirect::to("/login").into_response(),
            Refused::Csrf => (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This form has expired. Go back, reload the page and try again.",
            )
                .into_response(),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let admin = state.config.admin.as_ref().ok_or(Refused::NotSignedIn)?;
        let sessions = sessions_of(parts).ok_or(Refused::NotSignedIn)?;
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or(Refused::NotSignedIn)?;
        let (email, csrf) = sessions.find(id, true).ok_or(Refused::NotSignedIn)?;
        // The admin may have been reconfigured since sign-in (a restart ends sessions
        // anyway; this keeps a replaced admin out when routers are rebuilt).
        if email != admin.email {
            return Err(Refused::NotSignedIn);
        }
        Ok(SignedIn {
            email,
            csrf,
            session_id: id.to_owned(),
            sessions,
        })
    }
}

/// What the sign-in form needs: its double-submit token and whether sign-in is
/// configured at all.
#[derive(Debug)]
pub struct LoginForm {
    /// The token to put in the form's hidden field.
    pub token: String,
    /// A `Set-Cookie` for it.
    pub set_cookie: Option<HeaderValue>,
}

/// Issues the sign-in form's token (and its cookie).
pub fn login_form(parts_headers: &HeaderMap) -> Result<LoginForm, getrandom::Error> {
    let token = random_token()?;
    let secure = over_tls(parts_headers, false);
    Ok(LoginForm {
        set_cookie: cookie_header(LOGIN_COOKIE, &token, Some(3600), secure),
        token,
    })
}

/// The outcome of a sign-in attempt.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: send these cookies and go to the inbox.
    Accepted(Vec<HeaderValue>),
    /// Wrong e-mail or password (after the delay).
    Wrong,
    /// The form's token did not match its cookie.
    Csrf,
    /// No admin is configured.
    NotConfigured,
    /// The OS gave no randomness.
    Unavailable,
}

/// Checks a sign-in attempt and starts a session.
pub async fn sign_in(
    state: &AppState,
    sessions: &Sessions,
    headers: &HeaderMap,
    email: &str,
    password: &str,
    token: &str,
) -> SignIn {
    let Some(admin) = state.config.admin.as_ref() else {
        return SignIn::NotConfigured;
    };
    let cookie_token = cookie(headers, LOGIN_COOKIE).unwrap_or("");
    if token.is_empty() || !same(cookie_token, token) {
        return SignIn::Csrf;
    }
    let email_ok = same(
        &admin.email.trim().to_lowercase(),
        &email.trim().to_lowercase(),
    );
    let password_ok = same(admin.password.expose_secret(), password);
    if !(email_ok & password_ok) {
        tracing::info!("failed inbox sign-in");
        tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
        return SignIn::Wrong;
    }
    let previous = cookie(headers, SESSION_COOKIE);
    let Ok(id) = sessions.start(&admin.email, previous) else {
        return SignIn::Unavailable;
    };
    tracing::info!("inbox sign-in");
    let secure = over_tls(headers, false);
    let cookies = [
        cookie_header(SESSION_COOKIE, &id, None, secure),
        cookie_header(LOGIN_COOKIE, "", Some(0), secure),
    ];
    SignIn::Accepted(cookies.into_iter().flatten().collect())
}

/// Ends the session the request carries; returns the `Set-Cookie` that clears it.
pub fn sign_out(sessions: &Sessions, headers: &HeaderMap) -> Option<HeaderValue> {
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        sessions.end(id);
    }
    cookie_header(SESSION_COOKIE, "", Some(0), over_tls(headers, false))
}

/// The sessions of the router a request came through.
#[derive(Debug, Clone)]
pub struct SessionStore(pub Sessions);

impl<S: Send + Sync> FromRequestParts<S> for SessionStore {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, StatusCode> {
        sessions_of(parts)
            .map(SessionStore)
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}
