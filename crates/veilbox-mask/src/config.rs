//! Scanner configuration.

use std::fmt;

use crate::Kind;

/// How to build a [`Scanner`](crate::Scanner).
#[derive(Clone, Debug, Default)]
pub struct ScannerConfig {
    /// The courier's own tracking formats, as regular expressions that must match a whole
    /// token (letters and digits with no spaces), e.g. `XB[0-9]{10}IN`. Matching tokens are
    /// reported as [`Kind::Tracking`] and kept visible. They run on a linear-time engine
    /// (`regex-automata`), never a backtracking one.
    pub tracking_formats: Vec<String>,
    /// Kinds never to report.
    pub disabled: Vec<Kind>,
}

/// A configuration that cannot be built.
#[derive(Debug)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
