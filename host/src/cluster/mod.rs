//! Cluster mode: several hosts working as one over NATS.
//!
//! `warden serve --cluster nats://HOST:PORT` (or a `[cluster]` table in the
//! host config, [`ClusterConfig`]) joins the host to the other hosts using
//! the same NATS servers and the same cluster name. Without it nothing
//! changes: one host, its own stores.
//!
//! This module is one more front end over the host service
//! ([`crate::host::Host`]), beside the QUIC server and the HTTP gateway: it
//! turns calls forwarded by other hosts into [`Host::admit_here`] and
//! [`Admitted::run`](crate::host::Admitted::run), and it is the
//! [`Remote`] the host's admission and catalog ask about nodes served
//! elsewhere. Nothing below `host/` knows about NATS.
//!
//! # Subjects
//!
//! Every subject starts with `warden.<cluster>.`, so several clusters can
//! share one NATS (the name is `[A-Za-z0-9_-]+`, default `default`).
//!
//! | subject | who publishes | what |
//! |---|---|---|
//! | `warden.<c>.announce.<host>` | each host, every [`ANNOUNCE_EVERY`] | the host's announcement: its plugins (state, timeout, `access.callers`) and their nodes (descriptions, private or not); `leaving` when it stops |
//! | `warden.<c>.call.<plugin>` | the entry host | a call request, with the entry's per-call inbox as reply subject; every host serving `<plugin>` (ready) subscribes in queue group `warden.<plugin>`, so each request reaches one of them and calls spread across them |
//! | the entry's inbox (`_INBOX.…`) | the serving host | `accepted` (naming the serving host's control inbox), `progress`, `log`, `item`, input `credit`, `alive`, then exactly one `ok` or `err` |
//! | the serving host's control inbox | the entry host | `args` (when they did not fit the request), channel `input` and `end`, item `credit`, `alive`, `cancel` |
//!
//! # Encoding
//!
//! Each message is one MessagePack map with a `"type"` key. The events and
//! final frames are exactly the QUIC protocol's response frames
//! ([`crate::proto::Response`]: `progress`, `log`, `item`, `ok`, `err`, with
//! error kinds as strings), so an error keeps its kind and details across
//! hosts. Node descriptions in announcements are the catalog's records
//! ([`crate::proto::NodeInfo`]). See [`wire`] for the cluster's own frames.
//!
//! # Chunking
//!
//! NATS caps a message's payload (1 MiB by default; the server says how
//! much in its INFO). Every payload starts with one byte: `0` a whole
//! message follows, `1` a part of a message (more follow), `2` its last
//! part. A message larger than the chunk size (at most 256 KiB, less if the
//! server allows less) travels as parts on the same subject from the same
//! publisher, which NATS delivers in order; the receiver joins them within
//! a bound ([`wire::MAX_MESSAGE`]). Arguments too large for the request
//! itself follow it on the control inbox once the call is accepted (a
//! queue-group subject would spread parts across hosts). So no argument,
//! result or item ever fails because of the cap.
//!
//! # Back-pressure
//!
//! Items are credit-based: the request grants the serving host a window of
//! [`wire::WINDOW`] items, and the entry host grants one more for each item
//! its caller has taken. A slow caller therefore stops the node (it waits
//! for room, as it does locally), and nobody buffers without bound. Channel
//! input works the same way in the other direction. Progress and log events
//! are lossy past a bounded buffer, as on QUIC.
//!
//! # Liveness and failure
//!
//! - A host announces itself every [`ANNOUNCE_EVERY`] (1 s); a peer not
//!   heard for [`EXPIRE_AFTER`] (3 s) leaves the catalog, and one that stops
//!   cleanly says `leaving` and leaves at once.
//! - A call not yet accepted is not started anywhere: when no host answers
//!   within [`ACCEPT_WAIT`] or NATS says nobody subscribes (a host died and
//!   its queue subscription went with its connection), the request is sent
//!   again (to a fresh inbox), reaching another host serving the plugin,
//!   until the deadline; then it ends `unavailable`. A host that accepts
//!   only after [`ACCEPT_WAIT`] answers an inbox nobody reads any more, so
//!   its call hears nothing from the entry and is cancelled after
//!   [`SILENCE_LIMIT`]: such a call may have started twice (nodes that must
//!   not run twice should not rely on forwarding for exactly-once).
//! - A host too busy to take a call (`overloaded` at its admission;
//!   nothing started) is passed over: the request is offered again, a few
//!   times per host serving the plugin, so a free host takes it; when all
//!   are busy, `overloaded` is the answer. Any other refusal (`denied`,
//!   `not-found`, `bad-args`...) is the call's answer at once.
//! - During a call both sides send `alive` every [`ALIVE_EVERY`]; a side that
//!   hears nothing from the other for [`SILENCE_LIMIT`] ends the call: the
//!   entry with `unavailable` ("host … stopped answering"), the serving host
//!   by cancelling the node. So a call in flight on a host that dies ends
//!   within a few seconds, never at its deadline.
//! - The deadline travels as milliseconds left; the serving host enforces
//!   it (and its plugin's timeout). Dropping the call on the entry side (a
//!   client reset, a closed connection) sends `cancel`.
//!
//! # Who checks what
//!
//! The entry host authenticates the caller and checks its patterns, the
//! remote manifest's `access.callers` (announced) and private nodes, and
//! takes one of its own call permits. The serving host admits the forwarded
//! call with [`Host::admit_here`] (never forwarding it again) as a trusted
//! caller of the announced name: its manifest's `callers`, private nodes,
//! plugin permits, grants and limits apply there. Anyone who can publish on
//! the cluster's subjects is trusted as a host: protect NATS with
//! credentials (`token` or `credentials` in [`ClusterConfig`]).
//!
//! `invoke` from a plugin reaches other hosts through the same admission
//! (as [`Origin::Node`](crate::host::Origin::Node), its chain forwarded).
//!
//! # Shared state
//!
//! The plugins' key-value data lives in one JetStream KV bucket per
//! cluster (`warden_<cluster>_kv`; the module `kv` says how): a value
//! written by a plugin on one host is read by the same plugin on any other,
//! with the same key and value limits, isolation and quotas. The NATS
//! server must run with JetStream (`-js`); joining fails clearly otherwise.
//!
//! Jobs are shared too (the module `jobs` says how): a job submitted
//! through any host is queued in JetStream and run by one of the hosts
//! serving its node, at least once (a job whose host dies before it ends
//! runs again on another), and its result is read through any host.
//!
//! Plugins are distributed through the object store
//! `warden_<cluster>_plugins` (the module `deploy` says how): `warden
//! deploy` publishes one, and hosts with `deployments = true` (and the
//! labels it requires) write it into their plugin directory.
//!
//! Blobs are shared through the object store `warden_<cluster>_blobs`
//! (the module `blobs` says how): a reference handed out by one host reads
//! the same bytes through any other.

mod announce;
mod blobs;
mod config;
mod deploy;
mod forward;
mod jobs;
mod kv;
mod peers;
mod serve;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use config::{ClusterConfig, ClusterError};
pub use deploy::{
    Deployed, Deployment, FOLLOW_EVERY, MAX_DEPLOYMENT_BYTES, MAX_DEPLOYMENTS, RECORD_FILE, deploy,
    deployments, withdraw,
};
pub use jobs::{ACK_WAIT, MAX_DELIVERIES, PROGRESS_EVERY, QUEUE_MAX};

use crate::host::Host;
#[cfg(doc)]
use crate::host::Remote;
use crate::proto::{CallError, ErrorKind};
use peers::Peers;

/// How often a host announces itself.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// A peer not heard from for this long has left the cluster.
pub const EXPIRE_AFTER: Duration = Duration::from_secs(3);
/// How long the entry host waits for a host to accept a call before it
/// sends the request again.
pub const ACCEPT_WAIT: Duration = Duration::from_secs(2);
/// How often each side of a forwarded call says it is still there.
pub const ALIVE_EVERY: Duration = Duration::from_secs(1);
/// A side of a forwarded call silent for this long is gone.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(3);

/// A host's membership of a cluster. Dropping it does not leave: call
/// [`Cluster::leave`] (the host then disappears from the others' catalogs
/// at once instead of after [`EXPIRE_AFTER`]).
#[derive(Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.shared.name)
            .field("host", &self.shared.host_id)
            .finish_non_exhaustive()
    }
}

/// What the cluster's tasks share.
pub(crate) struct Shared {
    client: async_nats::Client,
    name: String,
    host_id: String,
    peers: Peers,
    /// Set when a host not known before is heard: announce at once.
    newcomer: tokio::sync::Notify,
    /// Stops the tasks.
    stop: tokio::sync::watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    /// `warden.<cluster>.<rest>`.
    fn subject(&self, rest: &str) -> String {
        format!("warden.{}.{rest}", self.name)
    }

    /// The largest chunk a payload may carry on this connection.
    fn chunk(&self) -> usize {
        let max = self.client.server_info().max_payload;
        // One byte for the envelope, and room for the protocol's headers.
        wire::CHUNK.min(max.saturating_sub(1024).max(1024))
    }

    /// Publishes `message` on `subject`, in parts if it is large.
    ///
    /// # Errors
    ///
    /// `unavailable` when NATS does not take it.
    async fn send(&self, subject: String, message: &rmpv::Value) -> Result<(), CallError> {
        let bytes = wire::encode(message);
        for part in wire::split(&bytes, self.chunk()) {
            self.client
                .publish(subject.clone(), part)
                .await
                .map_err(|e| {
                    CallError::new(
                        ErrorKind::Unavailable,
                        format!("cannot publish to NATS: {e}"),
                    )
                })?;
        }
        Ok(())
    }

    /// Publishes one frame of a forwarded call on `subject`.
    ///
    /// # Errors
    ///
    /// `unavailable` when NATS does not take it.
    async fn send_frame(&self, subject: String, frame: wire::Frame) -> Result<(), CallError> {
        self.send(subject, &frame.into_value()).await
    }
}

impl Cluster {
    /// Connects to NATS as `config` says, starts announcing `host`'s plugins
    /// and listening to the other hosts', serves calls they forward here,
    /// and routes calls of their nodes from this host to them.
    ///
    /// # Errors
    ///
    /// [`ClusterError`] when the config is invalid, NATS cannot be reached
    /// or the host already belongs to a cluster.
    pub async fn join(host: &Host, config: &ClusterConfig) -> Result<Cluster, ClusterError> {
        config.validate().map_err(ClusterError::Config)?;
        let client = config::connect(config).await?;
        let host_id = config.host_id();
        let (stop, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            client,
            name: config.name().to_owned(),
            host_id,
            peers: Peers::new(),
            newcomer: tokio::sync::Notify::new(),
            stop,
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        // Opened first: a NATS without JetStream fails the join cleanly.
        let kv = match host.kv_store() {
            Some(_) => Some(kv::JetStreamKv::open(&shared.client, &shared.name).await?),
            None => None,
        };
        let blobs = match host.blobs() {
            Some(_) => Some(blobs::JetStreamBlobs::open(&shared).await?),
            None => None,
        };
        let jobs = match host.jobs() {
            Some(_) => Some(Arc::new(jobs::ClusterJobs::open(&shared).await?)),
            None => None,
        };
        let remote = Arc::new(forward::Router::new(shared.clone()));
        if !host.set_remote(remote) {
            return Err(ClusterError::AlreadyJoined);
        }
        if let (Some(local), Some(kv)) = (host.kv_store(), kv) {
            local.share(Arc::new(kv));
        }
        if let (Some(local), Some(blobs)) = (host.blobs(), blobs) {
            local.share(Arc::new(blobs));
        }
        let listener = announce::listen(shared.clone()).await?;
        let announcer = announce::announce(shared.clone(), host.clone());
        let server = serve::serve(shared.clone(), host.clone());
        let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.push(tokio::spawn(listener));
        tasks.push(tokio::spawn(announcer));
        tasks.push(tokio::spawn(server));
        if config.deployments {
            match host.plugin_dir() {
                Some(dir) => {
                    let follow = deploy::follow(
                        shared.clone(),
                        dir.path().to_owned(),
                        config.labels.clone(),
                    );
                    tasks.push(tokio::spawn(follow));
                }
                None => tracing::warn!(
                    "`[cluster] deployments` needs a plugin directory to write deployed plugins \
                     into; this host takes none"
                ),
            }
        }
        if let (Some(local), Some(jobs)) = (host.jobs(), jobs) {
            local.share(jobs.clone());
            tasks.push(tokio::spawn(jobs::run(jobs, host.clone())));
        }
        drop(tasks);
        tracing::info!(cluster = %shared.name, host = %shared.host_id, "joined the cluster");
        Ok(Cluster { shared })
    }

    /// This host's id in the cluster.
    pub fn host_id(&self) -> &str {
        &self.shared.host_id
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The other hosts heard from, by id.
    pub fn peers(&self) -> Vec<String> {
        self.shared.peers.hosts()
    }

    /// Leaves the cluster: says so to the other hosts, stops taking
    /// forwarded calls and stops announcing (calls running here finish on
    /// their own). Returns within a few seconds.
    pub async fn leave(&self) {
        let _ = self.shared.stop.send(true);
        let tasks: Vec<_> = self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        announce::say_leaving(&self.shared).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.shared.client.flush()).await;
    }

    /// Drops this host's connection to NATS at once, without a word: what
    /// the other hosts see when a host dies (tests use it).
    pub async fn vanish(&self) {
        let _ = self.shared.stop.send(true);
        for task in self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.shared.client.drain()).await;
    }
}
