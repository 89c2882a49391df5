//! The `[cluster]` table of the host config: which NATS to join and as
//! what (`crate::cluster` does the joining).

use std::path::PathBuf;

use serde::Deserialize;

/// The `[cluster]` table: which NATS to join and as what.
///
/// ```toml
/// [cluster]
/// servers = ["nats://127.0.0.1:4222"]   # or `warden serve --cluster URL`
/// name = "prod"                         # default "default"
/// host = "edge-1"                       # default: hostname and a random suffix
/// token = "s3cret"                      # or credentials = "/etc/warden/nats.creds"
/// deployments = true                    # load plugins `warden deploy` publishes
/// labels = ["gpu", "eu"]                # what deployments may require
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// NATS server URLs (`nats://HOST:PORT`); the client fails over between
    /// them. Required.
    #[serde(default)]
    pub servers: Vec<String>,
    /// The cluster's name: hosts join the cluster of the same name, and
    /// several clusters can share one NATS. Letters, digits, `-` and `_`.
    /// Default: `default`.
    pub name: Option<String>,
    /// This host's id among its peers (shown by `warden nodes`). Letters,
    /// digits, `-` and `_`; unique in the cluster. Default: the machine's
    /// host name and a random suffix, new at each start.
    pub host: Option<String>,
    /// A NATS authentication token. Default: none.
    pub token: Option<String>,
    /// A NATS credentials file (JWT and NKey seed). Default: none.
    pub credentials: Option<PathBuf>,
    /// Whether this host loads the plugins published with `warden deploy`
    /// (into its plugin directory) and removes them when they are
    /// withdrawn. Default: false.
    #[serde(default)]
    pub deployments: bool,
    /// This host's labels: a deployment that requires labels is loaded
    /// only by hosts that have all of them. Default: none.
    #[serde(default)]
    pub labels: Vec<String>,
}

impl ClusterConfig {
    /// A config for the NATS server at `url`, with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterConfig {
            servers: vec![url.into()],
            ..ClusterConfig::default()
        }
    }

    /// The cluster's name (default `default`).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("default")
    }

    /// This host's id: the configured one, or the host name and a random
    /// suffix.
    pub fn host_id(&self) -> String {
        if let Some(host) = &self.host {
            return host.clone();
        }
        let name = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|n| {
                n.trim()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .take(32)
                    .collect::<String>()
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        let mut suffix = [0u8; 3];
        // Without randomness the suffix stays zero; the name is still valid.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix);
        format!("{name}-{:02x}{:02x}{:02x}", suffix[0], suffix[1], suffix[2])
    }

    /// Checks the names and that the servers are given.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("`cluster.servers` is empty: name at least one NATS server \
                 (`nats://HOST:PORT`)"
                .into());
        }
        if !is_token(self.name()) {
            return Err(format!(
                "`cluster.name` `{}` may hold only letters, digits, `-` and `_`",
                self.name()
            ));
        }
        if let Some(host) = &self.host
            && !is_token(host)
        {
            return Err(format!(
                "`cluster.host` `{host}` may hold only letters, digits, `-` and `_`"
            ));
        }
        if let Some(label) = self.labels.iter().find(|l| !is_token(l)) {
            return Err(format!(
                "`cluster.labels` holds `{label}`: a label may hold only letters, digits, `-` \
                 and `_`"
            ));
        }
        if self.token.is_some() && self.credentials.is_some() {
            return Err("give `cluster.token` or `cluster.credentials`, not both".into());
        }
        Ok(())
    }
}

/// Whether `name` is usable as one token of a NATS subject (and so as a
/// cluster, host or plugin name in cluster mode).
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_subject_tokens() {
        let mut config = ClusterConfig::new("nats://127.0.0.1:4222");
        assert!(config.validate().is_ok());
        assert_eq!(config.name(), "default");
        config.name = Some("a.b".into());
        assert!(config.validate().is_err());
        config.name = Some("prod-1".into());
        config.host = Some("h*".into());
        assert!(config.validate().is_err());
        config.host = None;
        assert!(is_token(&config.host_id()));
        assert!(ClusterConfig::default().validate().is_err());
    }

    #[test]
    fn the_table_parses_and_rejects_unknown_keys() {
        let config: ClusterConfig =
            toml::from_str("servers = [\"nats://h:4222\"]\nname = \"x\"\nhost = \"a\"\n")
                .expect("a valid table");
        assert_eq!(config.name(), "x");
        assert_eq!(config.host_id(), "a");
        assert!(toml::from_str::<ClusterConfig>("nope = 1").is_err());
    }
}
