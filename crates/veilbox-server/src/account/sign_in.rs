//! Signing in and out: password, second factor, set-password links.
//!
//! - One answer for every failed password, whatever the reason (unknown e-mail, wrong
//!   password, disabled, no password yet), and the same argon2 work for an unknown e-mail
//!   as for a known one: neither the message nor the timing tells whether an account exists.
//! - Failures are counted per account and per client address with growing delays; a
//!   blocked attempt is refused before any password is checked.
//! - Supervisors and admins (and anyone who enrolled) owe a TOTP code or a recovery code
//!   before the session is complete; until then it opens nothing but the second-factor
//!   and enrolment pages.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_core::credentials::{password, recovery, secret_token};
use veilbox_store::people::User;
use veilbox_store::sessions::ThrottleRule;

use crate::auth::session::{self, cookie, cookie_header, over_tls, LOGIN_COOKIE};
use crate::auth::{Client, PendingSignIn, Refused};
use crate::error::WebError;
use crate::layout::{html_response, page};
use crate::AppState;

/// Failures allowed per account before delays start, and the longest delay.
pub const ACCOUNT_RULE: ThrottleRule = ThrottleRule {
    free_failures: 3,
    max_delay_ms: 15 * 60 * 1000,
};
/// Per client address: more room (an office shares one address), same growth.
pub const ADDRESS_RULE: ThrottleRule = ThrottleRule {
    free_failures: 20,
    max_delay_ms: 15 * 60 * 1000,
};
/// Second-factor codes per account.
pub const SECOND_FACTOR_RULE: ThrottleRule = ThrottleRule {
    free_failures: 5,
    max_delay_ms: 15 * 60 * 1000,
};

/// The one message for every failed password.
pub const WRONG_CREDENTIALS: &str = "That e-mail and password do not match.";

/// Whether a user owes a second factor at sign-in: required for supervisors and admins,
/// for custom roles that may configure, manage people or export, and for anyone who
/// enrolled; optional for agents and auditors.
pub fn needs_second_factor(state: &AppState, user: &User) -> bool {
    if user.totp_enabled || matches!(user.role.as_str(), "supervisor" | "admin") {
        return true;
    }
    if veilbox_policy::BUILTIN_ROLES.contains(&user.role.as_str()) {
        return false;
    }
    // A custom role that configures, manages people or exports is as powerful as an admin
    // there: it gets the same requirement.
    let principal = veilbox_policy::Principal {
        id: user.id.clone(),
        role: user.role.clone(),
        teams: Vec::new(),
        read_only: false,
    };
    use veilbox_policy::Action;
    [
        Action::ManageUsers,
        Action::ManagePolicies,
        Action::ManageTokens,
        Action::Configure,
        Action::EraseCustomer,
        Action::Export,
    ]
    .into_iter()
    .any(|action| {
        state.access.allows(
            &principal,
            action,
            &veilbox_policy::Resource::System,
            &veilbox_policy::Context::default(),
        )
    })
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A page before sign-in, with a double-submit form token in its own cookie.
fn public_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    render: impl FnOnce(&str) -> Markup,
) -> Response {
    let token = secret_token::generate("form");
    let mut response = (
        status,
        html_response(page(
            state,
            "Veilbox · Sign in",
            "login-page",
            None,
            render(&token),
        )),
    )
        .into_response();
    if let Some(cookie) = cookie_header(LOGIN_COOKIE, &token, Some(3600), over_tls(headers)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn form_token_ok(headers: &HeaderMap, given: &str) -> bool {
    let expected = cookie(headers, LOGIN_COOKIE).unwrap_or("");
    session::csrf_matches(expected, given)
}

fn login_markup(token: &str, notice: Option<(&str, &str)>) -> Markup {
    html! {
        main.login {
            h1 { "Sign in" }
            @if let Some((level, text)) = notice {
                p class={ "flash " (level) } role=(if level == "error" { "alert" } else { "status" }) { (text) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                label { "E-mail" input type="email" name="email" autocomplete="username" required autofocus; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button.primary type="submit" { "Sign in" }
            }
        }
    }
}

/// `GET /login`
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let notice = match cookie(&headers, "veilbox_notice") {
        Some("password-set") => Some(("ok", "Your password is set. Sign in with it.")),
        _ => None,
    };
    public_form(&state, &headers, StatusCode::OK, |token| {
        login_markup(token, notice)
    })
}

fn login_error(state: &AppState, headers: &HeaderMap, status: StatusCode, text: &str) -> Response {
    public_form(state, headers, status, |token| {
        login_markup(token, Some(("error", text)))
    })
}

/// `POST /login`
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Form<LoginFields>,
) -> Result<Response, WebError> {
    if !form_token_ok(&headers, &fields.csrf) {
        return Ok(login_error(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            "The sign-in form expired; please try again.",
        ));
    }
    let account_key = format!(
        "account:{}",
        secret_token::digest(&veilbox_store::people::normalize_email(&fields.email))
    );
    let address_key = format!("address:{}", client.address.as_deref().unwrap_or("unknown"));
    // Counted before the password is checked: parallel guesses cannot outrun the count.
    let blocked = [
        state
            .store
            .throttle_attempt(&account_key, ACCOUNT_RULE)
            .await?
            .err(),
        state
            .store
            .throttle_attempt(&address_key, ADDRESS_RULE)
            .await?
            .err(),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(until) = blocked {
        let seconds = (until - veilbox_store::now_ms()).max(1000) / 1000;
        return Ok(login_error(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed attempts. Wait {seconds} seconds and try again."),
        ));
    }
    let user = state.store.user_by_email(&fields.email).await?;
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let typed = fields.password.clone();
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let password_ok = tokio::task::spawn_blocking(move || match stored_hash {
        Some(hash) => password::verify(&typed, &hash),
        None => password::verify_unknown(&typed),
    })
    .await
    .unwrap_or(false);
    let user = match user {
        Some(user) if password_ok && user.active() => user,
        other => {
            // The attempt was counted before the check.
            let (actor, reason) = match &other {
                None => ("unknown", "unknown account"),
                Some(u) if !u.active() => (u.id.as_str(), "disabled"),
                Some(u) if u.password_hash.is_none() => (u.id.as_str(), "no password set"),
                Some(u) => (u.id.as_str(), "wrong password"),
            };
            state
                .store
                .audit(&client.audit(
                    actor,
                    "sign_in.failure",
                    other.as_ref().map(|u| u.id.as_str()),
                    Some(reason),
                ))
                .await?;
            return Ok(login_error(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                WRONG_CREDENTIALS,
            ));
        }
    };
    state.store.throttle_reset(&account_key).await?;
    // An office shares one address: a success gives its attempt back.
    state.store.throttle_refund(&address_key).await?;
    let complete = !needs_second_factor(&state, &user);
    let started = session::start_session(&state, &headers, &user, complete, &client).await?;
    let action = if complete {
        "sign_in.success"
    } else {
        "sign_in.password_accepted"
    };
    state
        .store
        .audit(&client.audit(&user.id, action, Some(&user.id), None))
        .await?;
    let next = if complete {
        "/"
    } else if user.totp_enabled {
        "/login/second-factor"
    } else {
        "/account/two-factor"
    };
    let mut response = Redirect::to(next).into_response();
    if let Some(cookie) = started.cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if let Some(clear) = cookie_header(LOGIN_COOKIE, "", Some(0), over_tls(&headers)) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

fn second_factor_markup(csrf: &str, error: Option<&str>) -> Markup {
    html! {
        main.login {
            h1 { "Second factor" }
            p { "Enter the 6-digit code from your authenticator app, or one of your recovery codes." }
            @if let Some(error) = error {
                p.flash.error role="alert" { (error) }
            }
            form method="post" action="/login/second-factor" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Code" input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus; }
                button.primary type="submit" { "Continue" }
            }
            form.inline method="post" action="/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button.link type="submit" { "Cancel and sign out" }
            }
        }
    }
}

/// `GET /login/second-factor`
pub async fn second_factor_page(State(state): State<AppState>, pending: PendingSignIn) -> Response {
    if pending.complete {
        return Redirect::to("/").into_response();
    }
    if !pending.user.totp_enabled {
        return Redirect::to("/account/two-factor").into_response();
    }
    html_response(page(
        &state,
        "Veilbox · Sign in",
        "login-page",
        None,
        second_factor_markup(&pending.csrf, None),
    ))
}

/// The second-factor form.
#[derive(Debug, Deserialize)]
pub struct CodeFields {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login/second-factor`
pub async fn second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    pending: PendingSignIn,
    Form(fields): Form<CodeFields>,
) -> Result<Response, Refused> {
    pending.check_csrf(&fields.csrf)?;
    if pending.complete {
        return Ok(Redirect::to("/").into_response());
    }
    if !pending.user.totp_enabled {
        // Not enrolled yet: a code for a secret the enrolment page only began must be
        // confirmed there (recovery codes, audit), not accepted here as a sign-in.
        return Ok(Redirect::to("/account/two-factor").into_response());
    }
    let user = &pending.user;
    let key = format!("second-factor:{}", user.id);
    let audit = |action: &'static str, reason: Option<&'static str>| {
        client.audit(&user.id, action, Some(&user.id), reason)
    };
    let page_with = |status: StatusCode, error: &str| {
        (
            status,
            html_response(page(
                &state,
                "Veilbox · Sign in",
                "login-page",
                None,
                second_factor_markup(&pending.csrf, Some(error)),
            )),
        )
            .into_response()
    };
    // Counted before the code is checked: parallel guesses cannot outrun the count.
    if state
        .store
        .throttle_attempt(&key, SECOND_FACTOR_RULE)
        .await?
        .is_err()
    {
        return Ok(page_with(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes. Wait a little and try again.",
        ));
    }
    let accepted = check_second_factor(&state, user, &fields.code).await?;
    let Some(how) = accepted else {
        state
            .store
            .audit(&audit("second_factor.failure", Some("wrong code")))
            .await?;
        return Ok(page_with(
            StatusCode::UNAUTHORIZED,
            "That code is not valid.",
        ));
    };
    state.store.throttle_reset(&key).await?;
    state.store.audit(&audit(how, None)).await?;
    state.store.audit(&audit("sign_in.success", None)).await?;
    // The privilege changed: a new session id, the half-signed-in one ends.
    let started = session::start_session(&state, &headers, user, true, &client).await?;
    let mut response = Redirect::to("/").into_response();
    if let Some(cookie) = started.cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Checks a TOTP code or a recovery code; returns the audit action that describes it.
pub async fn check_second_factor(
    state: &AppState,
    user: &User,
    code: &str,
) -> Result<Option<&'static str>, veilbox_store::StoreError> {
    let trimmed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let Some(secret) = user
            .totp_secret
            .as_deref()
            .and_then(|stored| crate::keyring::open_totp(&state.keys, &user.id, stored))
        else {
            return Ok(None);
        };
        let now = u64::try_from(veilbox_store::now_ms() / 1000).unwrap_or(0);
        let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
        let Some(step) = secret.verify(&trimmed, now, last) else {
            return Ok(None);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        // The store refuses a step that is not newer: a code is good once.
        return Ok(state
            .store
            .accept_totp_step(&user.id, step)
            .await?
            .then_some("second_factor.success"));
    }
    let digest = recovery::digest(code);
    Ok(state
        .store
        .use_recovery_code(&user.id, &digest)
        .await?
        .then_some("second_factor.recovery_code_used"))
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`: for complete and half-signed-in sessions alike.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    pending: PendingSignIn,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Refused> {
    pending.check_csrf(&form.csrf)?;
    let clear = session::end_session(&state, &headers, "signed out").await?;
    state
        .store
        .audit(&client.audit(
            &pending.user.id,
            "session.signed_out",
            Some(&pending.user.id),
            None,
        ))
        .await?;
    let mut response = Redirect::to("/login").into_response();
    if let Some(cookie) = clear {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn set_password_markup(token: &str, link: &str, error: Option<&str>) -> Markup {
    html! {
        main.login {
            h1 { "Choose your password" }
            p { "At least " (password::MIN_LENGTH) " characters. A sentence of several words is easy to remember and hard to guess." }
            @if let Some(error) = error {
                p.flash.error role="alert" { (error) }
            }
            form method="post" action={ "/set-password/" (link) } {
                input type="hidden" name="csrf" value=(token);
                label { "New password" input type="password" name="password" autocomplete="new-password" required autofocus; }
                label { "Again" input type="password" name="confirm" autocomplete="new-password" required; }
                button.primary type="submit" { "Set password" }
            }
        }
    }
}

fn link_gone(state: &AppState) -> Response {
    (
        StatusCode::NOT_FOUND,
        html_response(page(
            state,
            "Veilbox · Set password",
            "login-page",
            None,
            html! { main.login { h1 { "This link no longer works" } p { "It was used already or it expired. Ask an admin for a new one." } } },
        )),
    )
        .into_response()
}

/// `GET /set-password/{token}`
pub async fn set_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Result<Response, WebError> {
    if state
        .store
        .password_link_user(&secret_token::digest(&link))
        .await?
        .is_none()
    {
        return Ok(link_gone(&state));
    }
    Ok(public_form(&state, &headers, StatusCode::OK, |token| {
        set_password_markup(token, &link, None)
    }))
}

/// The set-password form.
#[derive(Debug, Deserialize)]
pub struct SetPasswordFields {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /set-password/{token}`
pub async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Path(link): Path<String>,
    Form(fields): Form<SetPasswordFields>,
) -> Result<Response, WebError> {
    let digest = secret_token::digest(&link);
    let Some(user_id) = state.store.password_link_user(&digest).await? else {
        return Ok(link_gone(&state));
    };
    let again_with = |status: StatusCode, error: &str| {
        public_form(&state, &headers, status, |token| {
            set_password_markup(token, &link, Some(error))
        })
    };
    let again = |error: &str| again_with(StatusCode::UNPROCESSABLE_ENTITY, error);
    if !form_token_ok(&headers, &fields.csrf) {
        // A forged or stale form: refused like every other form without its token.
        return Ok(again_with(
            StatusCode::FORBIDDEN,
            "The form expired; please try again.",
        ));
    }
    if fields.password != fields.confirm {
        return Ok(again("The two passwords are not the same."));
    }
    let user = state
        .store
        .user(&user_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let local_part = user.email.split('@').next().unwrap_or("").to_owned();
    if let Err(weak) = password::check_strength(
        &fields.password,
        &[&user.email, &local_part, &user.display_name],
    ) {
        return Ok(again(&weak.to_string()));
    }
    let typed = fields.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&typed))
        .await
        .map_err(|_| WebError::BadRequest("could not set the password"))?
        .map_err(|_| WebError::BadRequest("could not set the password"))?;
    if state
        .store
        .redeem_password_link(&digest, &hash)
        .await?
        .is_none()
    {
        return Ok(link_gone(&state));
    }
    state
        .store
        .audit(&client.audit(&user.id, "user.password_set", Some(&user.id), None))
        .await?;
    let mut response = Redirect::to("/login").into_response();
    if let Some(notice) = cookie_header(
        "veilbox_notice",
        "password-set",
        Some(60),
        over_tls(&headers),
    ) {
        response.headers_mut().append(header::SET_COOKIE, notice);
    }
    Ok(response)
}
