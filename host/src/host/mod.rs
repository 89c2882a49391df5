//! The host service: what every front end (the QUIC server, the HTTP
//! gateway, a cluster peer, the CLI) turns its requests into.
//!
//! A [`Host`] owns the plugins (a watched directory or a given set), the
//! callers and their permissions, the jobs, the blob store and the call
//! permits. It offers, per caller [`Identity`]:
//!
//! - [`Host::catalog`], [`Host::describe`], [`Host::status`];
//! - [`Host::admit`]: the one admission path — resolve the node (not
//!   found, loading or failed), check the caller's patterns, the manifest's
//!   callers and private nodes, take the per-plugin and the host-wide call
//!   permits, set the deadline — giving an [`Admitted`] call or a typed
//!   refusal. Calls from outside, jobs, callbacks and `invoke` all pass
//!   here; [`Admitted::run`] runs the call with an event sink;
//! - nodes served by other hosts of a cluster ([`Host::set_remote`]):
//!   admission routes a call whose plugin is not served here to them;
//! - jobs ([`Host::submit`], [`Host::job`], [`Host::cancel`]) and blobs
//!   ([`Host::blob_put`], [`Host::blob_get`]).
//!
//! Front ends only translate: a wire request into one of these calls, and
//! its answer back. [`HostBuilder`] builds a host from the host config.

mod admit;
mod blobs;
mod builder;
mod catalog;
mod cluster;
mod config;
mod invoke;
mod jobs;
mod metrics;
mod remote;
mod webhooks;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::access::{AccessConfig, ConnectionLimits};
use crate::caps::{BlobStore, Invoker};
use crate::jobs::Jobs;
use crate::plugins::{PluginDir, Plugins};
use crate::proto::{CallError, ErrorKind};
use crate::runtime::Runtime;

pub use crate::access::{ConnectionBudgets, ConnectionGuard, GuardSlot, Identity, Refusal};
pub use crate::runtime::{Args, Reply, StreamIo};
pub use admit::{Admitted, Ahead, CallIo, LOAD_WAIT, Origin, Wait};
pub use blobs::{BlobDownload, BlobUpload};
pub use builder::{HostBuilder, HostError};
pub use cluster::{ClusterConfig, is_token};
pub use config::{BlobLimits, HostConfig, HttpSettings, JobLimits};
pub use remote::{Remote, RemoteCall, RemoteNode};
pub use webhooks::CallbackSettings;

/// The host service. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("access", &self.inner.access.is_some())
            .field("max_calls", &self.inner.max_calls)
            .finish_non_exhaustive()
    }
}

struct HostInner {
    runtime: Runtime,
    plugins: Plugins,
    dir: Option<Arc<PluginDir>>,
    access: Option<Arc<AccessConfig>>,
    connections: ConnectionLimits,
    /// Counts the connections of every front end against the limits.
    guard: Arc<ConnectionGuard>,
    jobs: Option<Jobs>,
    blobs: Option<BlobStore>,
    /// The plugins' key-value store, for the metrics.
    kv: Option<crate::caps::KvStore>,
    metrics: metrics::Metrics,
    /// Sends job outcomes to callback URLs.
    webhooks: webhooks::Webhooks,
    blob_limits: BlobLimits,
    /// Blob uploads in progress, by caller.
    uploads: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Calls from outside running at once, host-wide.
    calls: Arc<Semaphore>,
    max_calls: usize,
    /// Routes the nodes' `invoke` calls back through admission.
    invoker: Arc<dyn Invoker>,
    /// Stops the directory watcher.
    stop: tokio::sync::watch::Sender<bool>,
    /// The directory watcher's task.
    watcher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set by [`Host::shutdown`]: no new calls or jobs.
    closed: std::sync::atomic::AtomicBool,
    /// The nodes other hosts of a cluster serve, once joined.
    remote: std::sync::OnceLock<Arc<dyn Remote>>,
}

impl Host {
    /// A builder with the defaults: no plugins, no state directory, open
    /// access, 512 calls at once.
    pub fn builder() -> HostBuilder {
        HostBuilder::new()
    }

    /// The sandbox runtime the plugins run in.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The plugins served (and loading, and failed).
    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    /// The watched plugin directory, when the host has one.
    pub fn plugin_dir(&self) -> Option<&Arc<PluginDir>> {
        self.inner.dir.as_ref()
    }

    /// Whether the host checks who calls (it has an `[access]` table). A
    /// host without may only listen on loopback addresses.
    pub fn has_access_control(&self) -> bool {
        self.inner.access.is_some()
    }

    /// The callers and what they may call, if the host checks them.
    pub fn access(&self) -> Option<&AccessConfig> {
        self.inner.access.as_deref()
    }

    /// The limits on incoming connections, from the host config.
    pub fn connection_limits(&self) -> &ConnectionLimits {
        &self.inner.connections
    }

    /// The guard every front end admits its connections through, so the
    /// limits count connections of all of them together.
    pub fn connection_guard(&self) -> &Arc<ConnectionGuard> {
        &self.inner.guard
    }

    /// What blob uploads may hold.
    pub fn blob_limits(&self) -> &BlobLimits {
        &self.inner.blob_limits
    }

    /// The blob store, when the host has one (it has a state directory).
    pub fn blobs(&self) -> Option<&BlobStore> {
        self.inner.blobs.as_ref()
    }

    /// The jobs, when the host keeps them (it has a state directory).
    pub fn jobs(&self) -> Option<&Jobs> {
        self.inner.jobs.as_ref()
    }

    /// The plugins' key-value store, when the host has a state directory
    /// (a cluster shares it through [`crate::caps::KvStore::share`]).
    pub fn kv_store(&self) -> Option<&crate::caps::KvStore> {
        self.inner.kv.as_ref()
    }

    /// Calls from outside running now, host-wide.
    pub fn running_calls(&self) -> usize {
        self.inner.max_calls - self.inner.calls.available_permits()
    }

    /// The most calls from outside that may run at once.
    pub fn max_calls(&self) -> usize {
        self.inner.max_calls
    }

    /// The identity of a new connection: [`Identity::Open`] on a host
    /// without access control, else anonymous until it says who it is.
    pub fn anonymous(&self) -> Identity {
        match &self.inner.access {
            None => Identity::Open,
            Some(access) => Identity::Anonymous(Arc::new(access.anonymous.clone())),
        }
    }

    /// The caller whose token is `token` (`hello`). On a host without access
    /// control every token is [`Identity::Open`].
    ///
    /// # Errors
    ///
    /// `unauthenticated` when no caller has that token.
    pub fn identify(&self, token: &str) -> Result<Identity, CallError> {
        let Some(access) = &self.inner.access else {
            return Ok(Identity::Open);
        };
        match access.caller_for(token) {
            Some(caller) => {
                tracing::debug!(caller = %caller.name, "caller authenticated");
                Ok(Identity::Caller(Arc::new(caller)))
            }
            None => {
                tracing::warn!("a connection presented a token that matches no caller");
                Err(CallError::new(
                    ErrorKind::Unauthenticated,
                    "the token matches no caller in this server's config; check it, or ask the \
                     operator for one (`warden token NAME` makes one)",
                ))
            }
        }
    }

    /// The identity of the caller named `name` (as jobs record it).
    ///
    /// # Errors
    ///
    /// `denied` when no such caller is configured any more.
    pub fn identity_named(&self, name: &str) -> Result<Identity, CallError> {
        let Some(access) = &self.inner.access else {
            return Ok(Identity::Open);
        };
        if name == Identity::ANONYMOUS {
            return Ok(self.anonymous());
        }
        access
            .caller_named(name)
            .map(|c| Identity::Caller(Arc::new(c)))
            .ok_or_else(|| {
                CallError::new(
                    ErrorKind::Denied,
                    format!("caller `{name}` is no longer in the host config"),
                )
            })
    }

    /// Whether [`Host::shutdown`] has begun.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Shuts the host down: no new calls or jobs are admitted (they get
    /// `cancelled`), the plugin directory is no longer watched, running
    /// jobs are stopped (recorded as failed; queued ones wait for the next
    /// start) and the plugins are let go. Returns once that is done (a few
    /// seconds at most), so another host can open the same state directory
    /// once this one's last clone is dropped. Calls already admitted finish
    /// on their own.
    pub async fn shutdown(&self) {
        use std::time::Duration;
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.inner.calls.close();
        let _ = self.inner.stop.send(true);
        let watcher = self
            .inner
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(watcher) = watcher {
            let abort = watcher.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), watcher)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(jobs) = &self.inner.jobs {
            jobs.shutdown().await;
        }
        // A plugin being compiled is dropped when it is done.
        if let Some(dir) = self.inner.dir.clone() {
            let _ =
                tokio::task::spawn_blocking(move || dir.wait_loaded(Duration::from_secs(60))).await;
        }
        self.inner.plugins.clear();
    }
}
