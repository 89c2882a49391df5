//! Connecting to NATS as the `[cluster]` table says, and what can go
//! wrong joining.

use std::time::Duration;

pub use crate::host::ClusterConfig;

/// Why joining a cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The `[cluster]` table (or `--cluster`) is not valid.
    #[error("invalid cluster config: {0}")]
    Config(String),
    /// NATS could not be reached.
    #[error("cannot connect to NATS at {servers}: {reason}")]
    Connect {
        /// The servers tried.
        servers: String,
        /// Why not.
        reason: String,
    },
    /// A subscription NATS refused.
    #[error("NATS refused a subscription: {0}")]
    Subscribe(String),
    /// A JetStream store could not be opened or created (is the NATS
    /// server running with JetStream, `-js`?).
    #[error("{0} (does the NATS server run with JetStream, `nats-server -js`?)")]
    Store(String),
    /// A deployment that cannot be published (its name, labels, component
    /// or manifest).
    #[error("{0}")]
    Deployment(String),
    /// The host already belongs to a cluster.
    #[error("this host already belongs to a cluster")]
    AlreadyJoined,
}

/// Connects to NATS as `config` says (waiting at most 5 s per server).
pub(super) async fn connect(this: &ClusterConfig) -> Result<async_nats::Client, ClusterError> {
    {
        let servers = this.servers.join(", ");
        let fail = |reason: String| ClusterError::Connect {
            servers: servers.clone(),
            reason,
        };
        let mut options = match &this.credentials {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|e| fail(format!("cannot read `{}`: {e}", path.display())))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(token) = &this.token {
            options = options.token(token.clone());
        }
        let options = options
            .name(format!("warden {}", this.name()))
            .connection_timeout(Duration::from_secs(5))
            .ping_interval(Duration::from_secs(5))
            // Calls are bounded by their own deadlines; requests need no
            // client-side timeout of their own.
            .request_timeout(None);
        options
            .connect(this.servers.clone())
            .await
            .map_err(|e| fail(e.to_string()))
    }
}
