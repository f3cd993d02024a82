//! A browser-like client for the page tests (no automatic redirects, cookies by hand) and
//! the people it signs in as.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use veilbox_core::credentials::password;
use veilbox_core::credentials::totp::TotpSecret;

use super::TestApp;

/// A user made for a test, with what it takes to sign in as them.
pub struct Person {
    pub id: String,
    pub email: String,
    pub password: String,
    pub totp: Option<TotpSecret>,
}

impl TestApp {
    /// Adds a user with a password (and, for supervisors and admins, an enrolled TOTP
    /// secret), in `team` when given (the team is created when new).
    pub async fn add_person(&self, email: &str, role: &str, team: Option<&str>) -> Person {
        let name = email.split('@').next().unwrap_or(email);
        let user = self
            .store
            .create_user(email, name, role)
            .await
            .expect("create user")
            .expect("a new e-mail");
        let secret = format!("{name} rides the night bus to depot seven");
        let hash = password::hash(&secret).expect("hash");
        self.store
            .set_password_hash(&user.id, &hash)
            .await
            .expect("set password");
        if let Some(team) = team {
            let team_id = self.store.ensure_team(team).await.expect("team");
            if role == "supervisor" {
                self.store
                    .set_team_supervisor(&team_id, &user.id)
                    .await
                    .expect("lead team");
            } else {
                self.store
                    .add_team_member(&team_id, &user.id)
                    .await
                    .expect("join team");
            }
        }
        let totp = if matches!(role, "supervisor" | "admin") {
            let totp = TotpSecret::generate();
            self.store
                .begin_totp(&user.id, &totp.to_base32())
                .await
                .expect("totp");
            self.store
                .accept_totp_step(&user.id, 0)
                .await
                .expect("enrol");
            Some(totp)
        } else {
            None
        };
        Person {
            id: user.id,
            email: email.to_owned(),
            password: secret,
            totp,
        }
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<(String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v.split(';').next().unwrap_or("")[name.len() + 1..].to_owned();
            (value, v.to_owned())
        })
}

pub fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a csrf field") + marker.len();
    html[at..].split('"').next().unwrap_or("").to_owned()
}

pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A browser: no automatic redirects, the session cookie kept by hand.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub session: Option<String>,
    pub csrf: String,
    pub user_agent: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            session: None,
            csrf: String::new(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36".to_owned(),
        }
    }

    pub fn cookie(&self) -> String {
        self.session
            .as_ref()
            .map(|s| format!("veilbox_session={s}"))
            .unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie())
            .header("user-agent", &self.user_agent)
            .send()
            .await
            .expect("request")
    }

    /// GET that must answer 200; returns the body.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("body")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie())
            .header("user-agent", &self.user_agent)
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// Posts with the session's CSRF token and expects the redirect back.
    pub async fn act(&self, path: &str, form: &[(&str, &str)]) {
        let response = self.act_response(path, form).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
    }

    /// Posts with the session's CSRF token; returns the response.
    pub async fn act_response(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = form.to_vec();
        fields.push(("csrf", &self.csrf));
        self.post(path, &fields).await
    }

    /// Posts the sign-in form (with its double-submit token); returns the response.
    pub async fn try_sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        let login = self.get("/login").await;
        assert_eq!(login.status(), StatusCode::OK);
        let (token, _) = cookie_value(login.headers(), "veilbox_login").expect("login cookie");
        let html = login.text().await.expect("body");
        assert_eq!(hidden_csrf(&html), token);
        self.http
            .post(format!("{}/login", self.base))
            .header("cookie", format!("veilbox_login={token}"))
            .header("user-agent", &self.user_agent)
            .form(&[("email", email), ("password", password), ("csrf", &token)])
            .send()
            .await
            .expect("request")
    }

    /// Signs in as `person` (password, then the TOTP code when they have one) and loads
    /// the CSRF token of their first page.
    pub async fn sign_in(&mut self, person: &Person) {
        let response = self.try_sign_in(&person.email, &person.password).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign-in of {}",
            person.email
        );
        let (session, _) =
            cookie_value(response.headers(), "veilbox_session").expect("session cookie");
        self.session = Some(session);
        if let Some(totp) = &person.totp {
            assert_eq!(response.headers()[LOCATION], "/login/second-factor");
            let html = self.page("/login/second-factor").await;
            self.csrf = hidden_csrf(&html);
            let code = totp.code_at(now_s());
            let done = self
                .post(
                    "/login/second-factor",
                    &[("code", &code), ("csrf", &self.csrf.clone())],
                )
                .await;
            assert_eq!(done.status(), StatusCode::SEE_OTHER, "second factor");
            let (session, _) =
                cookie_value(done.headers(), "veilbox_session").expect("a new session id");
            self.session = Some(session);
        }
        let html = self.page("/account").await;
        self.csrf = hidden_csrf(&html);
    }
}
