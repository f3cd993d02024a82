//! Configuration: defaults, then an optional TOML file, then `VEILBOX_*` environment
//! variables, into one typed [`Config`].
//!
//! Every failure names the setting it is about in one line, so an operator can fix it
//! without reading code. Secrets are [`SecretString`]s: their `Debug` is redacted and they
//! are never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use veilbox_store::ingest::InboxPolicy;

/// Meta's Graph API host.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
/// The Graph API version segment we build and test against.
pub const DEFAULT_GRAPH_VERSION: &str = "v24.0";
/// Where the embedded database lives by default.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://veilbox-data/veilbox.db";
/// Loopback only by default: exposing Veilbox is a deliberate choice.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where the master key file is looked for unless `VEILBOX_MASTER_KEY_FILE` says otherwise.
pub const DEFAULT_MASTER_KEY_FILE: &str = "veilbox-data/master.key";

/// Everything Veilbox needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Bootstrap bearer token: acts as an admin through the JSON API, for automating a
    /// fresh install (creating users and API tokens). Off unless set.
    pub api_token: Option<SecretString>,
    /// The WhatsApp Cloud API connection.
    pub whatsapp: WhatsAppConfig,
    /// The address people open Veilbox at (for links in set-password invitations);
    /// `http://<listen>` when unset.
    pub public_url: Option<String>,
    /// The master key file (key-encryption key), never stored in the database.
    pub master_key_file: PathBuf,
    /// The master key itself, as text (`vbk1:...`), instead of the file.
    pub master_key: Option<SecretString>,
    /// The master key before the last rotation, kept only until every data key it wrapped
    /// is re-wrapped: at start Veilbox re-wraps those still under it.
    pub master_key_previous_file: Option<PathBuf>,
    /// How long sessions last.
    pub sessions: SessionSettings,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// How long each kind of data is kept (the daily purge enforces it).
    pub retention: veilbox_store::retention::RetentionPolicy,
    /// Masking, reveals and reply checks.
    pub masking: MaskingConfig,
}

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session ends after this long without a request.
    pub idle: std::time::Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute: std::time::Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle: std::time::Duration::from_secs(30 * 60),
            absolute: std::time::Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// An approved WhatsApp template agents may send, e.g. outside the 24-hour window.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TemplateConfig {
    /// Template name as approved in WhatsApp Manager.
    pub name: String,
    /// Language code, e.g. `en_GB`.
    pub language: String,
    /// The template's text as the customer will read it, shown to the agent.
    pub text: String,
}

/// The WhatsApp Cloud API connection.
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    /// Meta App Secret: the key of `X-Hub-Signature-256`.
    pub app_secret: Option<SecretString>,
    /// The token typed into the App Dashboard for the GET handshake.
    pub verify_token: Option<SecretString>,
    /// System-user access token for the Graph API (sending).
    pub access_token: Option<SecretString>,
    /// Graph API base URL, without the version.
    pub graph_url: String,
    /// Graph API version segment, e.g. `v24.0`.
    pub graph_version: String,
    /// What to do with a phone number id that has no inbox.
    pub auto_inbox: InboxPolicy,
    /// Inboxes created at start.
    pub inboxes: Vec<InboxConfig>,
    /// Templates offered to agents.
    pub templates: Vec<TemplateConfig>,
    /// Sends per second per business number (Meta's default throughput is 80); `None` lifts
    /// the limit (benchmarks).
    pub send_rate: Option<u32>,
    /// First retry delay of a failed send (doubling, jittered, capped at 5 minutes).
    pub retry_base: std::time::Duration,
    /// How long a send may take before its outcome counts as unknown.
    pub send_timeout: std::time::Duration,
}

/// An inbox declared in configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct InboxConfig {
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// Shown to agents.
    pub name: String,
}

/// A setting that is missing or invalid. `Display` is the one line start-up prints.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {setting}: {reason}")]
pub struct ConfigError {
    /// The setting's name as the operator writes it (environment variable or file key).
    pub setting: String,
    /// What is wrong, without echoing secret values.
    pub reason: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

/// The file layer. Every key is optional; unknown keys are refused so typos are caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    api_token: Option<String>,
    public_url: Option<String>,
    master_key_file: Option<String>,
    master_key_previous_file: Option<String>,
    session_idle_minutes: Option<u64>,
    session_absolute_hours: Option<u64>,
    trust_forwarded_for: Option<bool>,
    #[serde(default)]
    whatsapp: FileWhatsApp,
    #[serde(default)]
    retention: FileRetention,
    #[serde(default)]
    masking: FileMasking,
}

/// `[masking]`: how customer data is hidden from staff, revealed, and checked in replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskingConfig {
    /// The courier's own tracking formats (whole-token regular expressions), kept visible.
    pub tracking_formats: Vec<String>,
    /// How long a revealed value stays on screen.
    pub reveal_for: std::time::Duration,
    /// Reveals by one person within an hour above which their supervisors are alerted.
    pub reveal_alert_per_hour: u32,
    /// The company's own phone numbers (helplines, depots): replies may carry them.
    pub company_phones: Vec<String>,
    /// The company's own web and e-mail domains: replies may carry links and addresses there.
    pub company_domains: Vec<String>,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            tracking_formats: Vec::new(),
            reveal_for: std::time::Duration::from_secs(60),
            reveal_alert_per_hour: 20,
            company_phones: Vec::new(),
            company_domains: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMasking {
    #[serde(default)]
    tracking_formats: Vec<String>,
    reveal_seconds: Option<u64>,
    reveal_alert_per_hour: Option<u64>,
    #[serde(default)]
    company_phones: Vec<String>,
    #[serde(default)]
    company_domains: Vec<String>,
}

/// `[retention]`: days to keep each kind of data; 0 keeps it until the customer is erased.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetention {
    messages_days: Option<u64>,
    media_days: Option<u64>,
    closed_shipments_days: Option<u64>,
    dead_letters_days: Option<u64>,
    raw_events_days: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWhatsApp {
    app_secret: Option<String>,
    verify_token: Option<String>,
    access_token: Option<String>,
    graph_url: Option<String>,
    graph_version: Option<String>,
    auto_inbox: Option<String>,
    send_rate: Option<u32>,
    #[serde(default)]
    inboxes: Vec<InboxConfig>,
    #[serde(default)]
    templates: Vec<TemplateConfig>,
}

impl Config {
    /// Loads defaults, then `file` (or `./veilbox.toml` when it exists and no file is named),
    /// then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match file {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from("veilbox.toml")).filter(|p| p.exists()),
        };
        let text = match &path {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    "config file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?),
            None => None,
        };
        Config::from_sources(text.as_deref(), |name| std::env::var(name).ok())
    }

    /// Builds the configuration from a TOML text and an environment lookup (tests pass
    /// their own instead of the process environment).
    pub fn from_sources(
        toml_text: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file: FileConfig = match toml_text {
            Some(text) => toml::from_str(text)
                .map_err(|e| ConfigError::new("config file", e.message().replace('\n', " ")))?,
            None => FileConfig::default(),
        };
        // An empty environment variable counts as unset, as shells make that easy by mistake.
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let layer = |name: &str, file_value: Option<String>| env(name).or(file_value);

        let database_url = layer("VEILBOX_DATABASE_URL", file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(ConfigError::new(
                "VEILBOX_DATABASE_URL",
                "must start with sqlite:// or postgres://",
            ));
        }
        let listen_text =
            layer("VEILBOX_LISTEN", file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
            ConfigError::new(
                "VEILBOX_LISTEN",
                "must be an address and port such as 127.0.0.1:8080",
            )
        })?;

        let graph_url = layer("VEILBOX_WHATSAPP_GRAPH_URL", file.whatsapp.graph_url)
            .unwrap_or_else(|| DEFAULT_GRAPH_URL.into())
            .trim_end_matches('/')
            .to_owned();
        if !(graph_url.starts_with("https://") || graph_url.starts_with("http://")) {
            return Err(ConfigError::new(
                "VEILBOX_WHATSAPP_GRAPH_URL",
                "must be an http(s) URL",
            ));
        }
        let graph_version = layer(
            "VEILBOX_WHATSAPP_GRAPH_VERSION",
            file.whatsapp.graph_version,
        )
        .unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into());
        if !veilbox_whatsapp::graph::valid_version(&graph_version) {
            return Err(ConfigError::new(
                "VEILBOX_WHATSAPP_GRAPH_VERSION",
                "must look like v24.0",
            ));
        }
        let auto_inbox =
            match layer("VEILBOX_WHATSAPP_AUTO_INBOX", file.whatsapp.auto_inbox).as_deref() {
                None | Some("first") => InboxPolicy::FirstOnly,
                Some("always") => InboxPolicy::Always,
                Some("never") => InboxPolicy::Never,
                Some(_) => {
                    return Err(ConfigError::new(
                        "VEILBOX_WHATSAPP_AUTO_INBOX",
                        "must be first, always or never",
                    ))
                }
            };
        for inbox in &file.whatsapp.inboxes {
            if inbox.phone_number_id.trim().is_empty() || inbox.name.trim().is_empty() {
                return Err(ConfigError::new(
                    "whatsapp.inboxes",
                    "each inbox needs a phone_number_id and a name",
                ));
            }
        }

        let send_rate = match env("VEILBOX_WHATSAPP_SEND_RATE") {
            Some(text) => Some(text.trim().parse::<u32>().map_err(|_| {
                ConfigError::new(
                    "VEILBOX_WHATSAPP_SEND_RATE",
                    "must be a whole number of messages per second (0 = no limit)",
                )
            })?),
            None => file.whatsapp.send_rate,
        };
        let retry_base = match env("VEILBOX_WHATSAPP_RETRY_BASE_MS") {
            Some(text) => {
                std::time::Duration::from_millis(text.trim().parse::<u64>().map_err(|_| {
                    ConfigError::new(
                        "VEILBOX_WHATSAPP_RETRY_BASE_MS",
                        "must be a whole number of milliseconds",
                    )
                })?)
            }
            None => std::time::Duration::from_secs(1),
        };
        let send_timeout = match env("VEILBOX_WHATSAPP_SEND_TIMEOUT_MS") {
            Some(text) => match text.trim().parse::<u64>() {
                Ok(ms) if ms >= 100 => std::time::Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError::new(
                        "VEILBOX_WHATSAPP_SEND_TIMEOUT_MS",
                        "must be a whole number of milliseconds, at least 100",
                    ))
                }
            },
            None => std::time::Duration::from_secs(20),
        };
        let send_rate = match send_rate {
            None => Some(80),
            Some(0) => None,
            Some(rate) => Some(rate),
        };
        for template in &file.whatsapp.templates {
            if template.name.trim().is_empty() || template.language.trim().is_empty() {
                return Err(ConfigError::new(
                    "whatsapp.templates",
                    "each template needs a name and a language",
                ));
            }
        }
        let secret = |name: &str, file_value: Option<String>, min_len: usize| match layer(
            name, file_value,
        ) {
            Some(value) if value.len() < min_len => Err(ConfigError::new(
                name,
                format!("is too short (at least {min_len} characters)"),
            )),
            Some(value) => Ok(Some(SecretString::from(value))),
            None => Ok(None),
        };
        Ok(Config {
            database_url,
            listen,
            api_token: secret("VEILBOX_API_TOKEN", file.api_token, 16)?,
            whatsapp: WhatsAppConfig {
                app_secret: secret("VEILBOX_WHATSAPP_APP_SECRET", file.whatsapp.app_secret, 8)?,
                verify_token: secret(
                    "VEILBOX_WHATSAPP_VERIFY_TOKEN",
                    file.whatsapp.verify_token,
                    1,
                )?,
                access_token: secret(
                    "VEILBOX_WHATSAPP_ACCESS_TOKEN",
                    file.whatsapp.access_token,
                    1,
                )?,
                graph_url,
                graph_version,
                auto_inbox,
                inboxes: file.whatsapp.inboxes,
                templates: file.whatsapp.templates,
                send_rate,
                retry_base,
                send_timeout,
            },
            public_url: match layer("VEILBOX_PUBLIC_URL", file.public_url) {
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                    Some(url.trim_end_matches('/').to_owned())
                }
                Some(_) => {
                    return Err(ConfigError::new(
                        "VEILBOX_PUBLIC_URL",
                        "must be an http(s) URL such as https://inbox.example.com",
                    ))
                }
                None => None,
            },
            master_key_file: PathBuf::from(
                layer("VEILBOX_MASTER_KEY_FILE", file.master_key_file)
                    .unwrap_or_else(|| DEFAULT_MASTER_KEY_FILE.to_owned()),
            ),
            // Only from the environment: a key in the config file would sit beside the data.
            master_key: env("VEILBOX_MASTER_KEY").map(SecretString::from),
            master_key_previous_file: layer(
                "VEILBOX_MASTER_KEY_PREVIOUS_FILE",
                file.master_key_previous_file,
            )
            .map(PathBuf::from),
            sessions: SessionSettings {
                idle: std::time::Duration::from_secs(
                    60 * whole_number(
                        "VEILBOX_SESSION_IDLE_MINUTES",
                        env("VEILBOX_SESSION_IDLE_MINUTES"),
                        file.session_idle_minutes,
                        30,
                    )?,
                ),
                absolute: std::time::Duration::from_secs(
                    3600 * whole_number(
                        "VEILBOX_SESSION_ABSOLUTE_HOURS",
                        env("VEILBOX_SESSION_ABSOLUTE_HOURS"),
                        file.session_absolute_hours,
                        12,
                    )?,
                ),
            },
            retention: {
                let defaults = veilbox_store::retention::RetentionPolicy::default();
                let r = &file.retention;
                let days =
                    |name: &str, from_file: Option<u64>, default: Option<std::time::Duration>| {
                        retention_days(name, env(name), from_file, default)
                    };
                veilbox_store::retention::RetentionPolicy {
                    messages: days(
                        "VEILBOX_RETENTION_MESSAGES_DAYS",
                        r.messages_days,
                        defaults.messages,
                    )?,
                    media: days("VEILBOX_RETENTION_MEDIA_DAYS", r.media_days, defaults.media)?,
                    closed_shipments: days(
                        "VEILBOX_RETENTION_CLOSED_SHIPMENTS_DAYS",
                        r.closed_shipments_days,
                        defaults.closed_shipments,
                    )?,
                    dead_letters: days(
                        "VEILBOX_RETENTION_DEAD_LETTERS_DAYS",
                        r.dead_letters_days,
                        defaults.dead_letters,
                    )?,
                    raw_events: days(
                        "VEILBOX_RETENTION_RAW_EVENTS_DAYS",
                        r.raw_events_days,
                        defaults.raw_events,
                    )?,
                }
            },
            masking: {
                let m = file.masking;
                let list = |name: &str, from_file: Vec<String>| match env(name) {
                    Some(text) => text
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    None => from_file,
                };
                let reveal_seconds = whole_number(
                    "VEILBOX_REVEAL_SECONDS",
                    env("VEILBOX_REVEAL_SECONDS"),
                    m.reveal_seconds,
                    60,
                )?;
                if !(5..=3600).contains(&reveal_seconds) {
                    return Err(ConfigError::new(
                        "VEILBOX_REVEAL_SECONDS",
                        "must be between 5 and 3600 seconds",
                    ));
                }
                let alert = whole_number(
                    "VEILBOX_REVEAL_ALERT_PER_HOUR",
                    env("VEILBOX_REVEAL_ALERT_PER_HOUR"),
                    m.reveal_alert_per_hour,
                    20,
                )?;
                let company_phones = list("VEILBOX_COMPANY_PHONES", m.company_phones);
                if let Some(bad) = company_phones
                    .iter()
                    .find(|p| veilbox_vault::normalize::phone(p).is_none())
                {
                    return Err(ConfigError::new(
                        "VEILBOX_COMPANY_PHONES",
                        format!("{bad:?} is not a full phone number with its country code"),
                    ));
                }
                MaskingConfig {
                    tracking_formats: list("VEILBOX_TRACKING_FORMATS", m.tracking_formats),
                    reveal_for: std::time::Duration::from_secs(reveal_seconds),
                    reveal_alert_per_hour: u32::try_from(alert).unwrap_or(u32::MAX),
                    company_phones,
                    company_domains: list("VEILBOX_COMPANY_DOMAINS", m.company_domains)
                        .into_iter()
                        .map(|d| d.to_ascii_lowercase())
                        .collect(),
                }
            },
            trust_forwarded_for: match env("VEILBOX_TRUST_FORWARDED_FOR").as_deref() {
                None => file.trust_forwarded_for.unwrap_or(false),
                Some("true" | "1" | "yes") => true,
                Some("false" | "0" | "no") => false,
                Some(_) => {
                    return Err(ConfigError::new(
                        "VEILBOX_TRUST_FORWARDED_FOR",
                        "must be true or false",
                    ))
                }
            },
        })
    }

    /// Where people open Veilbox: the configured public URL, else the listen address.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// Checks what `serve` cannot run without: a webhook cannot be verified without the
    /// app secret, nor the handshake answered without the verify token.
    pub fn require_for_serve(&self) -> Result<(), ConfigError> {
        if self.whatsapp.app_secret.is_none() {
            return Err(ConfigError::new(
                "VEILBOX_WHATSAPP_APP_SECRET",
                "is required to verify webhook signatures (Meta App Dashboard > Settings > Basic)",
            ));
        }
        if self.whatsapp.verify_token.is_none() {
            return Err(ConfigError::new(
                "VEILBOX_WHATSAPP_VERIFY_TOKEN",
                "is required to answer Meta's webhook handshake (any string you also type in the dashboard)",
            ));
        }
        Ok(())
    }

    /// The app secret's bytes, when configured.
    pub fn app_secret(&self) -> Option<&[u8]> {
        self.whatsapp
            .app_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
    }
}

/// A positive whole number from the environment (text) or the file, else `default`.
fn whole_number(
    name: &str,
    from_env: Option<String>,
    from_file: Option<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let value = match from_env {
        Some(text) => text.trim().parse::<u64>().ok(),
        None => Some(from_file.unwrap_or(default)),
    };
    value
        .filter(|&n| n > 0 && n <= 100_000)
        .ok_or_else(|| ConfigError::new(name, "must be a positive whole number"))
}

/// A retention period in days: 0 keeps the data until the customer is erased.
fn retention_days(
    name: &str,
    from_env: Option<String>,
    from_file: Option<u64>,
    default: Option<std::time::Duration>,
) -> Result<Option<std::time::Duration>, ConfigError> {
    let days = match from_env {
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            ConfigError::new(name, "must be a whole number of days (0 keeps forever)")
        })?,
        None => match from_file {
            Some(days) => days,
            None => return Ok(default),
        },
    };
    if days > 36_500 {
        return Err(ConfigError::new(
            name,
            "must be at most 36500 days (0 keeps forever)",
        ));
    }
    Ok((days > 0).then(|| std::time::Duration::from_secs(days * 86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_sources(toml, |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let config = load(None, &[]).expect("defaults are valid");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.whatsapp.graph_version, DEFAULT_GRAPH_VERSION);
        assert!(config.api_token.is_none());

        let file = "listen = \"127.0.0.1:9000\"\n[whatsapp]\ngraph_version = \"v25.0\"\nauto_inbox = \"never\"\n";
        let config = load(Some(file), &[]).expect("file is valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.whatsapp.graph_version, "v25.0");
        assert_eq!(config.whatsapp.auto_inbox, InboxPolicy::Never);

        let config = load(Some(file), &[("VEILBOX_LISTEN", "127.0.0.1:0")]).expect("env wins");
        assert_eq!(config.listen.port(), 0);
    }

    #[test]
    fn the_shipped_example_file_is_valid() {
        let example = include_str!("../../../veilbox.example.toml");
        let config = load(Some(example), &[]).expect("veilbox.example.toml loads");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.whatsapp.auto_inbox, InboxPolicy::FirstOnly);
    }

    #[test]
    fn each_error_names_its_setting_in_one_line() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("VEILBOX_LISTEN", "localhost")], "VEILBOX_LISTEN"),
            (
                &[("VEILBOX_DATABASE_URL", "mysql://x")],
                "VEILBOX_DATABASE_URL",
            ),
            (
                &[("VEILBOX_WHATSAPP_GRAPH_URL", "ftp://x")],
                "VEILBOX_WHATSAPP_GRAPH_URL",
            ),
            (
                &[("VEILBOX_WHATSAPP_GRAPH_VERSION", "24")],
                "VEILBOX_WHATSAPP_GRAPH_VERSION",
            ),
            (&[("VEILBOX_API_TOKEN", "short")], "VEILBOX_API_TOKEN"),
            (
                &[("VEILBOX_WHATSAPP_AUTO_INBOX", "sometimes")],
                "VEILBOX_WHATSAPP_AUTO_INBOX",
            ),
        ];
        for (vars, setting) in cases {
            let error = load(None, vars).expect_err(setting);
            assert_eq!(error.setting, *setting);
            assert!(!error.to_string().contains('\n'));
        }
        let error = load(Some("listne = 1"), &[]).expect_err("typo in file");
        assert_eq!(error.setting, "config file");
        assert!(error.reason.contains("listne"), "{}", error.reason);
    }

    #[test]
    fn serve_needs_the_webhook_secrets_and_never_prints_them() {
        let config = load(None, &[]).expect("defaults");
        assert_eq!(
            config.require_for_serve().expect_err("no secret").setting,
            "VEILBOX_WHATSAPP_APP_SECRET"
        );
        let config = load(
            None,
            &[("VEILBOX_WHATSAPP_APP_SECRET", "super-secret-value")],
        )
        .expect("valid");
        assert_eq!(
            config.require_for_serve().expect_err("no token").setting,
            "VEILBOX_WHATSAPP_VERIFY_TOKEN"
        );
        assert!(!format!("{config:?}").contains("super-secret-value"));
    }

    #[test]
    fn retention_periods_come_from_file_and_environment() {
        let config = load(
            Some("[retention]\nmedia_days = 7\ndead_letters_days = 0\n"),
            &[("VEILBOX_RETENTION_MESSAGES_DAYS", "365")],
        )
        .expect("valid");
        let days = |d: u64| Some(std::time::Duration::from_secs(d * 86_400));
        assert_eq!(config.retention.media, days(7));
        assert_eq!(config.retention.messages, days(365));
        assert_eq!(config.retention.dead_letters, None, "0 keeps forever");
        assert_eq!(config.retention.raw_events, days(30), "the default");
        let bad = load(None, &[("VEILBOX_RETENTION_MEDIA_DAYS", "ninety")]).expect_err("refused");
        assert!(
            bad.to_string().contains("VEILBOX_RETENTION_MEDIA_DAYS"),
            "{bad}"
        );
        let too_long =
            load(Some("[retention]\nmessages_days = 99999\n"), &[]).expect_err("refused");
        assert!(
            too_long
                .to_string()
                .contains("VEILBOX_RETENTION_MESSAGES_DAYS"),
            "{too_long}"
        );
    }
}
