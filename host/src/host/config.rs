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
//!
//! [cluster]                      # absent: this host works alone
//! servers = ["nats://127.0.0.1:4222"]
//! name = "prod"
//! ```

use std::path::Path;
use std::time::Duration;

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
    /// Guards on incoming connections, and what a connection may make the
    /// host hold.
    #[serde(default)]
    pub connections: ConnectionLimits,
    /// Blob uploads.
    #[serde(default)]
    pub blobs: BlobLimits,
    /// Submitted jobs.
    #[serde(default)]
    pub jobs: JobLimits,
    /// The HTTP gateway.
    #[serde(default)]
    pub http: HttpSettings,
    /// Where job callbacks to URLs may go, and how they are signed.
    #[serde(default)]
    pub callbacks: super::webhooks::CallbackSettings,
    /// Cluster mode: the NATS servers and cluster name to join other hosts
    /// through. Absent: this host works alone (or `warden serve --cluster`).
    pub cluster: Option<super::cluster::ClusterConfig>,
}

/// The `[http]` table: the HTTP gateway `warden serve` runs beside QUIC.
///
/// ```toml
/// [http]
/// listen = "127.0.0.1:8080"   # absent: no HTTP (or `--http ADDR`)
/// tls = true                  # HTTPS with the server's certificate
/// max_body = "16 MiB"         # largest request body (uploads excepted)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Where to listen; absent means no gateway unless `--http` asks.
    pub listen: Option<std::net::SocketAddr>,
    /// Serve HTTPS with the QUIC server's certificate. Default: false.
    #[serde(default)]
    pub tls: bool,
    /// The largest request body: a size. Default: 16 MiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub max_body: Option<usize>,
}

impl HttpSettings {
    /// The largest request body.
    pub fn max_body(&self) -> usize {
        self.max_body.unwrap_or(16 << 20)
    }

    fn validate(&self) -> Result<(), String> {
        crate::units::in_range(
            "http.max_body",
            self.max_body,
            1 << 10,
            1 << 30,
            crate::text::bytes_text,
        )
    }
}

/// The `[blobs]` table: what uploads may hold.
///
/// ```toml
/// [blobs]
/// uploads_per_caller = 16   # uploads in progress at once per caller
/// upload_idle = "30s"       # an upload that sends nothing this long fails
/// max_blob = "1 GiB"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobLimits {
    /// Uploads in progress at once per caller (each holds a temporary file
    /// open). Default: 16.
    pub uploads_per_caller: Option<usize>,
    /// How long an upload may go without a chunk before it fails and its
    /// temporary file is removed. Default: 30 s.
    #[serde(default, deserialize_with = "crate::units::duration")]
    pub upload_idle: Option<Duration>,
    /// The largest blob: a size. Default: 1 GiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub max_blob: Option<usize>,
}

impl BlobLimits {
    /// Uploads in progress at once per caller.
    pub fn uploads_per_caller(&self) -> usize {
        self.uploads_per_caller.unwrap_or(16)
    }

    /// How long an upload may go without a chunk.
    pub fn upload_idle(&self) -> Duration {
        self.upload_idle.unwrap_or(Duration::from_secs(30))
    }

    /// The largest blob, in bytes.
    pub fn max_blob(&self) -> u64 {
        self.max_blob
            .map_or(crate::caps::DEFAULT_MAX_BLOB_BYTES, |n| n as u64)
    }

    fn validate(&self) -> Result<(), String> {
        use crate::text::{bytes_text, duration_text};
        use crate::units::in_range;
        in_range(
            "blobs.uploads_per_caller",
            self.uploads_per_caller,
            1,
            4096,
            |n| n.to_string(),
        )?;
        in_range(
            "blobs.upload_idle",
            self.upload_idle,
            Duration::from_secs(1),
            Duration::from_secs(3600),
            duration_text,
        )?;
        in_range("blobs.max_blob", self.max_blob, 1, 1 << 40, bytes_text)
    }
}

/// The `[jobs]` table: what a caller's jobs may hold.
///
/// ```toml
/// [jobs]
/// per_caller = 1000          # jobs kept per caller (queued, running, finished)
/// queued_per_caller = 100    # not yet finished
/// args_per_caller = "64 MiB" # their arguments together
/// store = "1 GiB"            # the whole job store
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobLimits {
    /// Jobs kept per caller, finished ones included. Default: 1,000.
    pub per_caller: Option<usize>,
    /// Jobs per caller not finished yet. Default: 100.
    pub queued_per_caller: Option<usize>,
    /// Bytes of arguments of one caller's jobs together: a size. Default:
    /// 64 MiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub args_per_caller: Option<usize>,
    /// Bytes of all job records together: a size. Default: 1 GiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub store: Option<usize>,
}

impl JobLimits {
    /// The limits with their defaults filled in.
    pub fn quotas(&self) -> crate::jobs::JobQuotas {
        crate::jobs::JobQuotas {
            per_caller: self.per_caller.unwrap_or(1000),
            queued_per_caller: self.queued_per_caller.unwrap_or(100),
            args_per_caller: self.args_per_caller.unwrap_or(64 << 20),
            store: self.store.unwrap_or(1 << 30),
        }
    }

    fn validate(&self) -> Result<(), String> {
        use crate::text::bytes_text;
        use crate::units::in_range;
        let count = |n: usize| n.to_string();
        in_range("jobs.per_caller", self.per_caller, 1, 1 << 24, count)?;
        in_range(
            "jobs.queued_per_caller",
            self.queued_per_caller,
            1,
            1 << 20,
            count,
        )?;
        in_range(
            "jobs.args_per_caller",
            self.args_per_caller,
            1 << 20,
            1 << 40,
            bytes_text,
        )?;
        in_range("jobs.store", self.store, 1 << 20, 1 << 42, bytes_text)
    }
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
        self.connections.validate()?;
        self.blobs.validate()?;
        self.http.validate()?;
        self.callbacks.validate()?;
        if let Some(cluster) = &self.cluster {
            cluster.validate()?;
        }
        self.jobs.validate()
    }
}
