//! `warden serve DIR`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Failure;
use crate::caps::Stores;
use crate::jobs::Jobs;
use crate::plugins::{CompiledCache, DirConfig, HostConfig, PluginDir, Plugins};
use crate::rpc::{Server, ServerConfig, ServerIdentity};

/// Arguments of `warden serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The plugin directory: every `NAME.wasm` in it is served as plugin NAME,
    /// with `NAME.toml` as its manifest. It is watched: files dropped in,
    /// replaced or removed take effect while the server runs.
    dir: PathBuf,
    /// The host config file (default limits for every plugin).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
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
    let host = match &args.config {
        Some(file) => HostConfig::load(file).map_err(|e| Failure::new("config", e.to_string()))?,
        None => HostConfig::default(),
    };
    if !args.listen.ip().is_loopback() && host.access.is_none() {
        return Err(Failure::new(
            "usage",
            format!(
                "refusing to listen on {}: without an `[access]` table in the host config \
                 (--config) every caller could call every node, so Warden then serves loopback \
                 addresses only (e.g. --listen 127.0.0.1:7443). `warden token NAME` makes a \
                 caller token and prints the config lines",
                args.listen
            ),
        ));
    }
    if !args.dir.is_dir() {
        return Err(Failure::new(
            "usage",
            format!(
                "plugin directory `{}` does not exist or is not a directory",
                args.dir.display()
            ),
        ));
    }
    let stores = Stores::open(&args.state_dir).map_err(|e| Failure::new("state", e))?;
    let runtime = super::runtime()?;
    let cache = CompiledCache::new(args.state_dir.join("cache"), runtime.engine());
    let plugins = Plugins::default();
    let access = host.access.clone();
    let access_line = match &access {
        None => "open to every local connection (no `[access]` in the host config)".to_owned(),
        Some(a) => format!(
            "{} caller(s) with tokens; anonymous callers may call {}",
            a.callers.len(),
            if a.anonymous.is_empty() {
                "nothing".to_owned()
            } else {
                a.anonymous.join(", ")
            }
        ),
    };
    let connections = host.connections.clone();
    let blobs = stores.blobs.clone();
    let dir = Arc::new(PluginDir::new(
        &args.dir,
        runtime,
        Some(cache),
        DirConfig {
            host,
            stores: Some(stores),
            ..DirConfig::default()
        },
        plugins.clone(),
    ));
    // The first scan loads everything before the server accepts calls.
    dir.scan_settled().map_err(|e| {
        Failure::new(
            "usage",
            format!("cannot read plugin directory `{}`: {e}", args.dir.display()),
        )
    })?;
    let config = ServerConfig {
        listen: args.listen,
        max_concurrent_calls: args.max_calls,
        shutdown_grace: Duration::from_secs_f64(args.grace),
        access,
        connections,
        blobs: Some(blobs),
        ..ServerConfig::default()
    };
    let tokio = super::tokio()?;
    tokio.block_on(async move {
        let status = plugins.status();
        let ready: Vec<&str> = status.plugins.iter().filter(|p| p.state == "ready").map(|p| p.name.as_str()).collect();
        let failed = status.plugins.iter().filter(|p| p.error.is_some()).count();
        let nodes = plugins.snapshot().catalog().len();
        // Jobs start (re-queued ones at once) inside the async runtime.
        let jobs = Jobs::open(&args.state_dir.join("jobs.redb"), plugins.clone())
            .map_err(|e| Failure::new("state", e))?;
        let config = ServerConfig {
            jobs: Some(jobs.clone()),
            ..config
        };
        let server = Server::bind(&config, &identity, plugins)
            .map_err(|e| Failure::new("usage", e.to_string()))?;
        eprintln!(
            "warden: serving {nodes} node(s) from {} plugin(s) [{}] on {}",
            ready.len(),
            ready.join(", "),
            server.local_addr()
        );
        eprintln!("warden: certificate fingerprint (SHA-256) {}", server.fingerprint());
        eprintln!("warden: watching {} for plugins", args.dir.display());
        eprintln!("warden: access: {access_line}");
        if failed > 0 {
            eprintln!("warden: {failed} plugin file(s) failed to load; see the log above or `warden nodes`");
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(dir.watch(async move {
            let mut stop_rx = stop_rx;
            let _ = stop_rx.wait_for(|s| *s).await;
        }));
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
        jobs.shutdown();
        let _ = stop_tx.send(true);
        match watcher.await {
            Ok(Err(e)) => tracing::error!("watching the plugin directory failed: {e}"),
            Err(e) => tracing::error!("the directory watcher failed: {e}"),
            Ok(Ok(())) => {}
        }
        Ok(())
    })
}
