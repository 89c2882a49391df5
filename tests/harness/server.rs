//! A real host behind a real QUIC server on 127.0.0.1:0, over a temporary
//! plugin directory (copies of built plugins, with manifests) and state
//! directory.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use warden_host::host::{Host, HostConfig};
use warden_host::http::{HttpConfig, HttpServer};
use warden_host::rpc::{
    Client, ClientError, ConnectOpts, Server, ServerConfig, ServerIdentity, ServerStats, Trust,
};
use warden_host::{Runtime, RuntimeConfig};

/// One runtime shared by everything in this process, as a host shares one:
/// each runtime reserves the pooling allocator's address space.
pub(crate) fn shared_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().expect("the engine starts"))
}

/// How a [`TestServer`] is set up.
pub(crate) struct Setup {
    plugins: Vec<(String, std::path::PathBuf, String)>,
    config: HostConfig,
    server: ServerConfig,
    max_calls: Option<usize>,
    state: Option<Arc<tempfile::TempDir>>,
    identity: Option<ServerIdentity>,
    runtime: Option<Runtime>,
    listen: std::net::SocketAddr,
    wait: bool,
    http: bool,
}

impl Setup {
    /// No plugins, open access, a fresh state directory.
    pub(crate) fn new() -> Self {
        Setup {
            plugins: Vec::new(),
            config: HostConfig::default(),
            server: ServerConfig::default(),
            max_calls: None,
            state: None,
            identity: None,
            runtime: None,
            listen: "127.0.0.1:0".parse().expect("an address"),
            wait: true,
            http: false,
        }
    }

    /// Also serves the HTTP gateway on 127.0.0.1 (see [`TestServer::http`]).
    pub(crate) fn http(mut self) -> Self {
        self.http = true;
        self
    }

    /// Serves `wasm` as plugin `name`, with `manifest` as its manifest
    /// (none when empty).
    pub(crate) fn plugin(mut self, name: &str, wasm: &Path, manifest: &str) -> Self {
        self.plugins
            .push((name.to_owned(), wasm.to_owned(), manifest.to_owned()));
        self
    }

    /// The host config (limits, access, connection guards).
    pub(crate) fn config(mut self, config: HostConfig) -> Self {
        self.config = config;
        self
    }

    /// The server's settings (its address is 127.0.0.1:0 unless
    /// [`Setup::listen`] says otherwise).
    pub(crate) fn server(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }

    /// Calls that may run at once.
    pub(crate) fn max_calls(mut self, max: usize) -> Self {
        self.max_calls = Some(max);
        self
    }

    /// The state directory, e.g. one a previous server used: a restart.
    pub(crate) fn state(mut self, state: Arc<tempfile::TempDir>) -> Self {
        self.state = Some(state);
        self
    }

    /// Listens on `addr` (a loopback address), e.g. a stopped server's.
    pub(crate) fn listen(mut self, addr: std::net::SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The server's certificate (to restart with the same one).
    pub(crate) fn identity(mut self, identity: ServerIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// A runtime of its own with `config` instead of the shared one.
    pub(crate) fn runtime_config(mut self, config: RuntimeConfig) -> Self {
        self.runtime = Some(Runtime::with_config(config).expect("the engine starts"));
        self
    }

    /// Starts serving once every plugin is loading, before they have loaded.
    pub(crate) fn no_wait(mut self) -> Self {
        self.wait = false;
        self
    }

    /// Starts the host and the server; unless [`Setup::no_wait`], waits
    /// until every plugin has loaded (or failed).
    pub(crate) async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("a temp dir");
        for (name, wasm, manifest) in &self.plugins {
            std::fs::copy(wasm, dir.path().join(format!("{name}.wasm"))).expect("copy a plugin");
            if !manifest.is_empty() {
                std::fs::write(dir.path().join(format!("{name}.toml")), manifest)
                    .expect("write a manifest");
            }
        }
        let state = self
            .state
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().expect("a temp dir")));
        let identity = match self.identity {
            Some(identity) => identity,
            None => {
                ServerIdentity::load_or_generate(state.path())
                    .expect("a certificate")
                    .0
            }
        };
        let mut builder = Host::builder()
            .config(self.config)
            .runtime(self.runtime.unwrap_or_else(|| shared_runtime().clone()))
            .state_dir(state.path())
            .plugin_dir(dir.path());
        if let Some(max) = self.max_calls {
            builder = builder.max_concurrent_calls(max);
        }
        let host = builder.build().expect("the host starts");
        if let Some(plugin_dir) = host.plugin_dir().cloned() {
            // Files copied just now wait out the quiet period first; then
            // all are loading, and unless told not to, loaded.
            let wait = self.wait;
            tokio::task::spawn_blocking(move || {
                if wait {
                    plugin_dir.scan_settled()
                } else {
                    plugin_dir.pick_up()
                }
            })
            .await
            .expect("the wait ends")
            .expect("the plugin directory can be read");
        }
        let config = ServerConfig {
            listen: self.listen,
            ..self.server
        };
        let server = Server::bind(&config, &identity, host.clone()).expect("the server binds");
        let addr = server.local_addr().to_string();
        let fingerprint = server.fingerprint().to_owned();
        let stats = server.stats();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let (http, http_task) = if self.http {
            let config = HttpConfig {
                listen: "127.0.0.1:0".parse().expect("an address"),
                ..HttpConfig::default()
            };
            let gateway = HttpServer::bind(&config, host.clone())
                .await
                .expect("the HTTP gateway binds");
            let base = format!("http://{}", gateway.local_addr());
            let task = tokio::spawn(gateway.run(until_stopped(stopped.clone())));
            (Some(base), Some(task))
        } else {
            (None, None)
        };
        let task = tokio::spawn(server.run(until_stopped(stopped)));
        TestServer {
            http,
            http_task,
            addr,
            fingerprint,
            host,
            stats,
            _state: state,
            _dir: dir,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// A host and its QUIC server, stopped by [`TestServer::stop`] (or when
/// dropped, without waiting).
pub(crate) struct TestServer {
    pub(crate) addr: String,
    /// The HTTP gateway's base URL (`http://127.0.0.1:PORT`), with
    /// [`Setup::http`].
    pub(crate) http: Option<String>,
    http_task: Option<JoinHandle<()>>,
    pub(crate) fingerprint: String,
    pub(crate) host: Host,
    pub(crate) stats: ServerStats,
    _state: Arc<tempfile::TempDir>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A client trusting this server, without a token.
    pub(crate) async fn client(&self) -> Client {
        self.client_with(None).await.expect("the client connects")
    }

    /// A client trusting this server, presenting `token`.
    pub(crate) async fn client_with(&self, token: Option<&str>) -> Result<Client, ClientError> {
        let opts = ConnectOpts {
            token: token.map(str::to_owned),
            ..ConnectOpts::default()
        };
        Client::connect_with(
            &self.addr,
            Trust::Fingerprint(self.fingerprint.clone()),
            opts,
        )
        .await
    }

    /// The watched plugin directory.
    pub(crate) fn plugin_dir(&self) -> &Path {
        self._dir.path()
    }

    /// The host's state directory.
    pub(crate) fn state_path(&self) -> &Path {
        self._state.path()
    }

    /// Shuts down gracefully and waits (at most 20 s) for the server to end.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for task in [self.task.take(), self.http_task.take()]
            .into_iter()
            .flatten()
        {
            let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
        }
        self.host.shutdown().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
            let host = self.host.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { host.shutdown().await });
            }
        }
    }
}
