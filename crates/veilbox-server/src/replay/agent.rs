//! The replay's agent: a browser-like HTTP client with a signed-in session (cookies and
//! the CSRF token handled by hand).

use anyhow::{bail, Context};
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

/// A signed-in agent.
pub struct Agent {
    base: String,
    http: reqwest::Client,
    session: String,
    csrf: String,
}

impl Agent {
    /// Signs in with e-mail and password (agents have no second factor unless enrolled).
    pub async fn sign_in(base: &str, email: &str, password: &str) -> anyhow::Result<Agent> {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()?;
        let login = http.get(format!("{base}/login")).send().await?;
        let login_token = cookie(login.headers(), "veilbox_login").context("the sign-in cookie")?;
        let page = login.text().await?;
        let form_token = hidden_csrf(&page).context("the sign-in form token")?;
        let signed = http
            .post(format!("{base}/login"))
            .header(COOKIE, format!("veilbox_login={login_token}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &form_token),
            ])
            .send()
            .await?;
        let Some(session) = cookie(signed.headers(), "veilbox_session") else {
            bail!("the demo agent could not sign in ({})", signed.status());
        };
        let mut agent = Agent {
            base: base.to_owned(),
            http,
            session,
            csrf: String::new(),
        };
        let account = agent.get("/account").await?;
        agent.csrf = hidden_csrf(&account).context("the session's CSRF token")?;
        Ok(agent)
    }

    /// GET a page or API path; its body, whatever the status.
    pub async fn get(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, format!("veilbox_session={}", self.session))
            .send()
            .await?;
        Ok(response.text().await?)
    }

    /// POST a form with the CSRF token; the body of the page it leads to (redirects are
    /// followed once, as a browser would show it).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<String> {
        let mut form = fields.to_vec();
        form.push(("csrf", &self.csrf));
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, format!("veilbox_session={}", self.session))
            .form(&form)
            .send()
            .await?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("/inbox")
                .to_owned();
            return self.get(&location).await;
        }
        let body = response.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status}");
        }
        Ok(body)
    }
}

/// The value of cookie `name` set by a response.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().find_map(|v| {
        let text = v.to_str().ok()?;
        let (pair, _) = text.split_once(';').unwrap_or((text, ""));
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// The `csrf` hidden field of a page.
fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_owned())
}
