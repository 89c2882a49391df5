//! The host config file (`warden serve --config warden.toml`), written by
//! the operator.
//!
//! ```toml
//! [limits]                       # defaults every plugin's manifest overrides
//! memory = "64 MiB"
//! timeout = "5s"
//!
//! [access]                       # absent: open to every connection, loopback only
//! anonymous = ["math/add"]
//! [[access.callers]]
//! name = "alice"
//! token_sha256 = "9f86d0…"
//! nodes = ["*"]
//!
//! [connections]
//! max = 1000
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::access::{AccessConfig, ConnectionLimits};
use crate::plugins::{LimitsConfig, ManifestError, toml_message};

/// The host config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Default limits of every plugin; a manifest's `[limits]` overrides them.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Callers and what they may call. Absent: the host is open to every
    /// connection and may listen on loopback addresses only.
    pub access: Option<AccessConfig>,
    /// Guards on incoming connections.
    #[serde(default)]
    pub connections: ConnectionLimits,
}

impl HostConfig {
    /// Parses host config text; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// [`ManifestError`] naming the file, the key and what is expected.
    pub fn parse(text: &str, file: &Path) -> Result<HostConfig, ManifestError> {
        let error = |message: String| ManifestError {
            file: file.to_owned(),
            message,
        };
        let config: HostConfig = toml::from_str(text).map_err(|e| error(toml_message(&e)))?;
        config.validate().map_err(error)?;
        Ok(config)
    }

    /// Reads and parses a host config file.
    ///
    /// # Errors
    ///
    /// As [`HostConfig::parse`], or when the file cannot be read.
    pub fn load(file: &Path) -> Result<HostConfig, ManifestError> {
        let text = std::fs::read_to_string(file).map_err(|e| ManifestError {
            file: file.to_owned(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, file)
    }

    /// Checks limits, callers and connection guards.
    ///
    /// # Errors
    ///
    /// A message naming the bad entry.
    pub fn validate(&self) -> Result<(), String> {
        self.limits.validate()?;
        if let Some(access) = &self.access {
            access.validate()?;
        }
        self.connections.validate()
    }
}
