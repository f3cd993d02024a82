//! TOTP enrolment and recovery codes.
//!
//! A supervisor or admin who has not enrolled yet is sent here right after their password
//! is accepted: the session stays half signed in until a first code is confirmed. Someone
//! who already enrolled cannot re-enrol from a half signed-in session (that would let a
//! stolen password replace the second factor); they must sign in fully first.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use maud::{html, Markup};
use serde::Deserialize;
use veilbox_core::credentials::{recovery, totp};

use crate::auth::session;
use crate::auth::{Client, PendingSignIn, Refused};
use crate::layout::{html_response, page};
use crate::AppState;

const TITLE: &str = "Veilbox · Two-factor sign-in";
/// The issuer shown in authenticator apps.
const ISSUER: &str = "Veilbox";

fn qr_image(uri: &str) -> Markup {
    // As an <img> with a data: URL: the page's CSP allows images from data:, and no
    // inline SVG or style is needed.
    let svg = totp::qr_svg(uri);
    let encoded = base64::engine::general_purpose::STANDARD.encode(svg.as_bytes());
    html! {
        img.qr src={ "data:image/svg+xml;base64," (encoded) } alt="QR code for your authenticator app" width="220" height="220";
    }
}

fn codes_markup(codes: &[String]) -> Markup {
    html! {
        section.recovery-codes {
            h2 { "Your recovery codes" }
            p { "Each works once, instead of a code from your app. Keep them somewhere safe: this is the only time they are shown." }
            ul.codes { @for code in codes { li { code { (code) } } } }
            p { a.button href="/" { "Continue" } }
        }
    }
}

/// `GET /account/two-factor`
pub async fn page_get(
    State(state): State<AppState>,
    pending: PendingSignIn,
) -> Result<Response, Refused> {
    let user = &pending.user;
    if user.totp_enabled {
        if !pending.complete {
            return Ok(Redirect::to("/login/second-factor").into_response());
        }
        let left = state.store.recovery_codes_left(&user.id).await?;
        let content = html! {
            main.account {
                h1 { "Two-factor sign-in" }
                p.flash.ok { "On: sign-in asks for a code from your authenticator app." }
                p { (left) " unused recovery codes left." }
                form method="post" action="/account/two-factor/recovery-codes" {
                    input type="hidden" name="csrf" value=(pending.csrf);
                    button type="submit" { "Make new recovery codes" }
                }
                p { a href="/account" { "Back to your account" } }
            }
        };
        return Ok(html_response(page(&state, TITLE, "", None, content)));
    }
    // Keep an unconfirmed secret across reloads, so a code scanned a moment ago still works.
    let secret = match user
        .totp_secret
        .as_deref()
        .and_then(|stored| crate::keyring::open_totp(&state.keys, &user.id, stored))
    {
        Some(secret) => secret,
        None => {
            let secret = totp::TotpSecret::generate();
            state
                .store
                .begin_totp(
                    &user.id,
                    &crate::keyring::seal_totp(&state.keys, &user.id, &secret),
                )
                .await?;
            secret
        }
    };
    Ok(html_response(page(
        &state,
        TITLE,
        "",
        None,
        enrol_markup(&pending, &secret, None),
    )))
}

fn enrol_markup(pending: &PendingSignIn, secret: &totp::TotpSecret, error: Option<&str>) -> Markup {
    let uri = secret.provisioning_uri(ISSUER, &pending.user.email);
    html! {
        main.account {
            h1 { "Set up two-factor sign-in" }
            @if !pending.complete {
                p { "Your role needs a second factor. Set it up now to finish signing in." }
            }
            ol {
                li { "Scan this code with an authenticator app (any TOTP app)." }
                li { "Or type this key: " code.totp-key { (secret.to_base32()) } }
                li { "Enter the 6-digit code the app shows." }
            }
            (qr_image(&uri))
            @if let Some(error) = error {
                p.flash.error role="alert" { (error) }
            }
            form method="post" action="/account/two-factor" {
                input type="hidden" name="csrf" value=(pending.csrf);
                label { "Code" input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus; }
                button.primary type="submit" { "Turn on" }
            }
            form.inline method="post" action="/logout" {
                input type="hidden" name="csrf" value=(pending.csrf);
                button.link type="submit" { "Sign out" }
            }
        }
    }
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmFields {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /account/two-factor`: confirms enrolment with a first code.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    pending: PendingSignIn,
    Form(fields): Form<ConfirmFields>,
) -> Result<Response, Refused> {
    pending.check_csrf(&fields.csrf)?;
    let user = &pending.user;
    if user.totp_enabled {
        return Ok(Redirect::to("/account/two-factor").into_response());
    }
    let Some(secret) = user
        .totp_secret
        .as_deref()
        .and_then(|stored| crate::keyring::open_totp(&state.keys, &user.id, stored))
    else {
        return Ok(Redirect::to("/account/two-factor").into_response());
    };
    let now = u64::try_from(veilbox_store::now_ms() / 1000).unwrap_or(0);
    let step = secret
        .verify(fields.code.trim(), now, None)
        .and_then(|s| i64::try_from(s).ok());
    let accepted = match step {
        Some(step) => state.store.accept_totp_step(&user.id, step).await?,
        None => false,
    };
    if !accepted {
        return Ok(html_response(page(
            &state,
            TITLE,
            "",
            None,
            enrol_markup(
                &pending,
                &secret,
                Some("That code is not valid. Check the time on your phone and try the next code."),
            ),
        )));
    }
    let codes = fresh_recovery_codes(&state, &user.id).await?;
    let entry = |action| client.audit(&user.id, action, Some(&user.id), None);
    state.store.audit(&entry("second_factor.enrolled")).await?;
    let mut cookie = None;
    if !pending.complete {
        state.store.audit(&entry("sign_in.success")).await?;
        cookie = session::start_session(&state, &headers, user, true, &client)
            .await?
            .cookie;
    }
    let content = html! {
        main.account {
            h1 { "Two-factor sign-in is on" }
            (codes_markup(&codes))
        }
    };
    let mut response = html_response(page(&state, TITLE, "", None, content));
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn fresh_recovery_codes(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<String>, veilbox_store::StoreError> {
    let codes = recovery::generate();
    let digests: Vec<String> = codes.iter().map(|c| recovery::digest(c)).collect();
    state
        .store
        .replace_recovery_codes(user_id, &digests)
        .await?;
    Ok(codes)
}

/// `POST /account/two-factor/recovery-codes`: replaces the recovery codes (fully signed in
/// only).
pub async fn new_recovery_codes(
    State(state): State<AppState>,
    client: Client,
    pending: PendingSignIn,
    Form(fields): Form<ConfirmFields>,
) -> Result<Response, Refused> {
    pending.check_csrf(&fields.csrf)?;
    if !pending.complete || !pending.user.totp_enabled {
        return Err(Refused::Forbidden);
    }
    let codes = fresh_recovery_codes(&state, &pending.user.id).await?;
    state
        .store
        .audit(&client.audit(
            &pending.user.id,
            "second_factor.recovery_codes_replaced",
            Some(&pending.user.id),
            None,
        ))
        .await?;
    let content = html! { main.account { h1 { "New recovery codes" } (codes_markup(&codes)) } };
    Ok(html_response(page(&state, TITLE, "", None, content)))
}
