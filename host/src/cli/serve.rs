//! `warden serve DIR`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Failure;
use crate::Limits;
use crate::plugins::{Plugins, Registry};
use crate::rpc::{Server, ServerConfig, ServerIdentity};

/// Arguments of `warden serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The plugin directory: every `NAME.wasm` in it is served as plugin NAME.
    dir: PathBuf,
    /// Address to listen on (UDP, QUIC).
    #[arg(long, default_value = "127.0.0.1:7443")]
    listen: SocketAddr,
    /// Where the server keeps its certificate and state.
    #[arg(long, value_name = "DIR", default_value_os_t = crate::rpc::default_state_dir())]
    state_dir: PathBuf,
    /// A certificate chain (PEM) to use instead of the generated one.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of `--cert`.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Calls that may run at once; more are answered `overloaded`.
    #[arg(long, default_value_t = 512)]
    max_calls: usize,
    /// Seconds running calls get to finish after Ctrl-C.
    #[arg(long, default_value_t = 10.0)]
    grace: f64,
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    if !args.listen.ip().is_loopback() {
        return Err(Failure::new(
            "usage",
            format!(
                "refusing to listen on {}: callers are not authenticated yet, so Warden \
                 serves loopback addresses only (e.g. --listen 127.0.0.1:7443)",
                args.listen
            ),
        ));
    }
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            ServerIdentity::from_files(cert, key).map_err(|e| Failure::new("tls", e.to_string()))?
        }
        _ => {
            let (identity, generated) = ServerIdentity::load_or_generate(&args.state_dir)
                .map_err(|e| Failure::new("tls", e.to_string()))?;
            if generated {
                tracing::info!(dir = %args.state_dir.display(), "generated a self-signed certificate");
            }
            identity
        }
    };
    if !(args.grace.is_finite() && args.grace >= 0.0) {
        return Err(Failure::new(
            "usage",
            "--grace must be a non-negative number of seconds",
        ));
    }
    let runtime = super::runtime()?;
    let (registry, failed) =
        Registry::load_dir(&runtime, &args.dir, &Limits::default()).map_err(|e| {
            Failure::new(
                "usage",
                format!("cannot read plugin directory `{}`: {e}", args.dir.display()),
            )
        })?;
    for (path, error) in &failed {
        tracing::error!(file = %path.display(), "not serving: {error}");
    }
    let config = ServerConfig {
        listen: args.listen,
        max_concurrent_calls: args.max_calls,
        shutdown_grace: Duration::from_secs_f64(args.grace),
        ..ServerConfig::default()
    };
    let tokio = super::tokio()?;
    tokio.block_on(async move {
        let plugins: Vec<String> = registry.plugins().map(|p| p.name().to_owned()).collect();
        let nodes = registry.catalog().len();
        let server = Server::bind(&config, &identity, Plugins::new(registry))
            .map_err(|e| Failure::new("usage", e.to_string()))?;
        eprintln!(
            "warden: serving {nodes} node(s) from {} plugin(s) [{}] on {}",
            plugins.len(),
            plugins.join(", "),
            server.local_addr()
        );
        eprintln!(
            "warden: certificate fingerprint (SHA-256) {}",
            server.fingerprint()
        );
        if !failed.is_empty() {
            eprintln!(
                "warden: {} file(s) failed to load; see the log above",
                failed.len()
            );
        }
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("warden: shutting down (Ctrl-C again to force)");
                tokio::spawn(async {
                    let _ = tokio::signal::ctrl_c().await;
                    std::process::exit(130);
                });
            })
            .await;
        Ok(())
    })
}
