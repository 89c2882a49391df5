//! `warden serve DIR`: builds the host service from the config and the
//! directories, and puts the QUIC server in front of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Failure;
use crate::cluster::{Cluster, ClusterConfig};
use crate::host::{Host, HostConfig, HostError};
use crate::http::{HttpConfig, HttpError, HttpServer};
use crate::rpc::{Server, ServerConfig, ServerError, ServerIdentity};

/// Arguments of `warden serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The plugin directory: every `NAME.wasm` in it is served as plugin NAME,
    /// with `NAME.toml` as its manifest. It is watched: files dropped in,
    /// replaced or removed take effect while the server runs.
    dir: PathBuf,
    #[command(flatten)]
    options: ServeOptions,
}

/// How to serve a plugin directory (`warden serve` and `warden dev`).
#[derive(Debug, clap::Args)]
pub(crate) struct ServeOptions {
    /// The host config file (default limits, callers, connection guards).
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
    /// Seconds running calls get to finish after Ctrl-C or SIGTERM.
    #[arg(long, default_value_t = 10.0)]
    grace: f64,
    /// Also serve the HTTP gateway (JSON calls, SSE, jobs, blobs, OpenAPI,
    /// `/docs`, the dashboard at `/`, `/metrics`) on this TCP address.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve the HTTP gateway over TLS (HTTPS) with the server's
    /// certificate.
    #[arg(long)]
    http_tls: bool,
    /// Join the hosts using this NATS server (`nats://HOST:PORT`; repeat
    /// for several): one catalog, calls routed to whichever host serves a
    /// node. Overrides `[cluster] servers` of the config.
    #[arg(long, value_name = "URL")]
    cluster: Vec<String>,
    /// The cluster to join on that NATS (default `default`, or `[cluster]
    /// name`).
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,
    /// This host's id in the cluster (default: the host name and a random
    /// suffix, or `[cluster] host`).
    #[arg(long, value_name = "ID")]
    cluster_host: Option<String>,
    /// Load the plugins published with `warden deploy` into the plugin
    /// directory, and remove them when withdrawn (or `[cluster]
    /// deployments = true`).
    #[arg(long)]
    cluster_deployments: bool,
    /// A label of this host (repeat for several): deployments that require
    /// labels load only on hosts with all of them. Adds to `[cluster]
    /// labels`.
    #[arg(long, value_name = "LABEL")]
    cluster_label: Vec<String>,
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        let kind = match &e {
            HostError::Config(_) => "config",
            HostError::State(_) => "state",
            HostError::NoPluginDir(_) | HostError::PluginDir { .. } => "usage",
            HostError::Engine(_) | HostError::NoRuntime => "internal",
        };
        Failure::new(kind, e.to_string())
    }
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        Failure::new("usage", e.to_string())
    }
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Self {
        let kind = match &e {
            ServerError::Tls(_) => "tls",
            ServerError::PublicWithoutAccess(_) | ServerError::Bind { .. } => "usage",
        };
        Failure::new(kind, e.to_string())
    }
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    serve(&args.dir, args.options)
}

/// Serves the plugins in `dir` until Ctrl-C or SIGTERM.
pub(crate) fn serve(dir: &std::path::Path, args: ServeOptions) -> Result<(), Failure> {
    if !(args.grace.is_finite() && args.grace >= 0.0) {
        return Err(Failure::new(
            "usage",
            "--grace must be a non-negative number of seconds",
        ));
    }
    let mut config = match &args.config {
        Some(file) => HostConfig::load(file).map_err(|e| Failure::new("config", e.to_string()))?,
        None => HostConfig::default(),
    };
    let cluster = cluster_config(&mut config, &args)?;
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
    let access_line = match &config.access {
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
    let http_scheme_tls = args.http_tls || config.http.tls;
    let http = match args.http.or(config.http.listen) {
        None => None,
        Some(listen) => {
            let tls = if http_scheme_tls {
                let tls = identity
                    .http_server_config()
                    .map_err(|e| Failure::new("tls", e.to_string()))?;
                Some(std::sync::Arc::new(tls))
            } else {
                None
            };
            Some(HttpConfig {
                listen,
                max_body: config.http.max_body(),
                max_decoded_args: ServerConfig::default().max_decoded_args,
                tls,
                shutdown_grace: Duration::from_secs_f64(args.grace),
            })
        }
    };
    let server_config = ServerConfig {
        listen: args.listen,
        shutdown_grace: Duration::from_secs_f64(args.grace),
        ..ServerConfig::default()
    };
    super::tokio()?.block_on(async move {
        let host = Host::builder()
            .config(config)
            .state_dir(&args.state_dir)
            .plugin_dir(dir)
            .max_concurrent_calls(args.max_calls)
            .build()?;
        let cluster = match &cluster {
            Some(config) => Some(
                Cluster::join(&host, config)
                    .await
                    .map_err(|e| Failure::new("cluster", e.to_string()))?,
            ),
            None => None,
        };
        let server = Server::bind(&server_config, &identity, host.clone())?;
        let http = match &http {
            Some(config) => Some(HttpServer::bind(config, host.clone()).await?),
            None => None,
        };
        let loading: Vec<String> = host
            .plugins()
            .snapshot()
            .loading()
            .map(|(name, _)| name.to_owned())
            .collect();
        eprintln!("warden: listening on {}", server.local_addr());
        eprintln!(
            "warden: certificate fingerprint (SHA-256) {}",
            server.fingerprint()
        );
        eprintln!(
            "warden: loading {} plugin(s) from {} [{}]: each is served as soon as it is ready; \
             `warden nodes` shows their states, and the directory is watched",
            loading.len(),
            dir.display(),
            loading.join(", ")
        );
        eprintln!("warden: access: {access_line}");
        if let Some(cluster) = &cluster {
            eprintln!(
                "warden: cluster `{}` as host `{}`: `warden nodes` shows every host's plugins",
                cluster.name(),
                cluster.host_id()
            );
        }
        if let Some(http) = &http {
            let scheme = if http_scheme_tls { "https" } else { "http" };
            let base = format!("{scheme}://{}", http.local_addr());
            eprintln!(
                "warden: HTTP on {base}: dashboard {base}/, API docs {base}/docs, OpenAPI \
                 {base}/v1/openapi.json, metrics {base}/metrics"
            );
        }
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let signal = stop_signal().await;
            eprintln!("warden: {signal}: shutting down (Ctrl-C again to force)");
            let _ = stop.send(true);
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        });
        let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        let quic = server.run(stopped(stopping.clone()));
        match http {
            Some(http) => {
                tokio::join!(quic, http.run(stopped(stopping)));
            }
            None => quic.await,
        }
        if let Some(cluster) = &cluster {
            cluster.leave().await;
        }
        host.shutdown().await;
        Ok(())
    })
}

/// The cluster to join: `--cluster` and its options over `[cluster]`.
fn cluster_config(
    config: &mut HostConfig,
    args: &ServeOptions,
) -> Result<Option<ClusterConfig>, Failure> {
    let mut cluster = config.cluster.take();
    if !args.cluster.is_empty() {
        let table = cluster.get_or_insert_with(ClusterConfig::default);
        table.servers = args.cluster.clone();
    }
    let Some(mut cluster) = cluster else {
        if args.cluster_name.is_some()
            || args.cluster_host.is_some()
            || args.cluster_deployments
            || !args.cluster_label.is_empty()
        {
            return Err(Failure::new(
                "usage",
                "--cluster-name, --cluster-host, --cluster-deployments and --cluster-label need \
                 --cluster URL (or `[cluster]` in the config)",
            ));
        }
        return Ok(None);
    };
    if let Some(name) = &args.cluster_name {
        cluster.name = Some(name.clone());
    }
    if let Some(host) = &args.cluster_host {
        cluster.host = Some(host.clone());
    }
    cluster.deployments |= args.cluster_deployments;
    cluster.labels.extend(args.cluster_label.iter().cloned());
    cluster
        .validate()
        .map_err(|e| Failure::new("usage", format!("invalid cluster config: {e}")))?;
    Ok(Some(cluster))
}

/// Waits for Ctrl-C (SIGINT) or, where there is one, SIGTERM (what service
/// managers send): both get the same graceful shutdown. Names the signal.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupted",
                _ = term.recv() => "terminated",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "interrupted"
}
