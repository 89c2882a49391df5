//! Admission: the one path every call takes before it runs, whoever asks
//! for it (a connection, a job, a callback, another node's `invoke`).
//!
//! In order: the caller's own node patterns (`unauthenticated` or
//! `denied`, before anything about the node is revealed), resolve the
//! plugin (`not-found`, or `unavailable` while it loads or after it failed
//! to), the manifest's `access.callers` (`denied`), the node itself
//! (`not-found`, also for a private node asked for from outside), then the
//! plugin's call permit and the host's (`overloaded`, or wait for one), and
//! the deadline.
//!
//! In a cluster, a node whose plugin is not served here (unknown, loading
//! or failed) is looked up among the other hosts' nodes ([`Remote`]): the
//! caller's patterns, the remote manifest's `access.callers` and private
//! nodes are checked here, the host's permit is taken here, and the call
//! runs on a peer (which checks its plugin's permit, grants and limits).

use std::sync::Arc;
use std::time::Instant;

use rmpv::Value;
use tokio::sync::{OwnedSemaphorePermit, TryAcquireError};

use super::Host;
use super::remote::{Remote, RemoteCall, RemoteNode};
use crate::access::Identity;
use crate::caps::EventSink;
use crate::plugins::{Served, Unresolved};
use crate::proto::{CallError, ErrorKind, NodeInfo, NodeKind, TraceContext};
use crate::runtime::{Args, CallOptions, Plugin, Reply, StreamIo};

/// Who asks for a call; it decides which rules apply.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A caller from outside (over a connection, or a job or callback it
    /// submitted): its node patterns, the plugin's `access.callers` and
    /// private nodes apply, and the call takes one of the host's permits.
    Caller(&'a Identity),
    /// Another node, through `invoke`; `chain` holds the full names of the
    /// calls that led here, the invoking node last. Its plugin's `invoke`
    /// grant was checked by the capability; private nodes are reachable;
    /// the call runs within the host permit of the call that started the
    /// chain.
    Node {
        /// The calls that led here.
        chain: &'a [String],
    },
}

/// What admission does when the plugin or the host is running its maximum
/// of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Refuse at once with `overloaded` (a caller waiting on a connection).
    No,
    /// Wait for a free slot (a queued job, a job's callback).
    Yes,
}

/// Where a running call's events and items go, and where a channel node's
/// input comes from.
#[derive(Default)]
pub struct CallIo {
    /// Progress and log events; `None` drops them.
    pub events: Option<EventSink>,
    /// Stream and channel items; `None` collects a stream's items into the
    /// result.
    pub stream: Option<StreamIo>,
}

/// A call that passed admission and holds its permits until it ends.
pub struct Admitted {
    host: Host,
    target: Target,
    deadline: Option<Instant>,
    chain: Vec<String>,
    /// The caller's place in its trace, if it sent one.
    trace: Option<TraceContext>,
    _host_permit: Option<OwnedSemaphorePermit>,
}

/// Where an admitted call runs.
enum Target {
    /// In a plugin served here.
    Here {
        served: Arc<Served>,
        /// The node's name inside the plugin.
        name: String,
        _plugin_permit: Option<OwnedSemaphorePermit>,
    },
    /// On another host of the cluster.
    Peer {
        node: Box<RemoteNode>,
        /// The caller's name; `None` for a node's `invoke`.
        caller: Option<String>,
    },
}

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitted")
            .field("node", &self.node().node)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Admitted {
    /// Joins the call to the caller's trace (`traceparent`): its span gets
    /// the trace's id and a span id of its own below `parent`, and so do
    /// the nodes it invokes.
    pub fn with_trace(mut self, parent: Option<TraceContext>) -> Self {
        self.trace = parent;
        self
    }

    /// The node being called.
    pub fn node(&self) -> &NodeInfo {
        match &self.target {
            // Admission checked that the node exists in this plugin version.
            Target::Here { served, name, .. } => match served.plugin.node(name) {
                Some(desc) => &desc.info,
                None => unreachable!("admission checked `{name}` exists"),
            },
            Target::Peer { node, .. } => &node.info,
        }
    }

    /// Whether the call runs on another host of the cluster.
    pub fn is_remote(&self) -> bool {
        matches!(self.target, Target::Peer { .. })
    }

    /// How the node answers.
    pub fn kind(&self) -> NodeKind {
        self.node().kind
    }

    /// When the call must have ended, counting from now: the caller's
    /// deadline or the plugin's timeout, whichever comes first. A front end
    /// bounds what it waits for on the call's behalf (e.g. a client reading
    /// its items) by this.
    pub fn ends_by(&self) -> Instant {
        let limit = match &self.target {
            Target::Here { served, .. } => served.plugin.limits().timeout,
            Target::Peer { node, .. } => node.timeout,
        };
        let timeout = Instant::now() + limit;
        self.deadline.map_or(timeout, |d| d.min(timeout))
    }

    /// The plugin version the call runs in (a reload does not change it);
    /// `None` for a call that runs on another host.
    pub fn plugin(&self) -> Option<&Plugin> {
        match &self.target {
            Target::Here { served, .. } => Some(&served.plugin),
            Target::Peer { .. } => None,
        }
    }

    /// A handle to make the plugin's next instance once this call has been
    /// answered (see [`Ahead::make_ready`]).
    pub fn ahead(&self) -> Ahead {
        Ahead(self.plugin().cloned())
    }

    /// Runs the call with `args`, sending its events and items to `io`.
    /// Dropping the future cancels the call (the guest is interrupted) and
    /// gives its permits back.
    ///
    /// # Errors
    ///
    /// The call's [`CallError`]: `bad-args`, `trap`, `timeout`,
    /// `resource-limit`, `node-error`, `cancelled`, ...
    pub async fn run(self, args: Value, io: CallIo) -> Result<Value, CallError> {
        self.run_inner(Args::Value(args), io, false)
            .await?
            .into_value()
    }

    /// Runs the call like [`Admitted::run`], for a front end that speaks
    /// MessagePack: `args` may stay as they arrived, and a call node
    /// answers ready to write (see [`Plugin::call_encoded`]).
    ///
    /// # Errors
    ///
    /// As [`Admitted::run`].
    pub async fn run_encoded(self, args: Args, io: CallIo) -> Result<Reply, CallError> {
        self.run_inner(args, io, true).await
    }

    async fn run_inner(self, args: Args, io: CallIo, encoded: bool) -> Result<Reply, CallError> {
        let ends_by = self.ends_by();
        let (served, name) = match self.target {
            Target::Here { served, name, .. } => (served, name),
            Target::Peer { node, caller } => {
                let Some(remote) = self.host.remote().cloned() else {
                    return Err(CallError::new(
                        ErrorKind::Internal,
                        "a call was routed to another host without a cluster",
                    ));
                };
                let node = *node;
                let call = RemoteCall {
                    node: node.info.node.clone(),
                    info: node.info,
                    caller,
                    chain: self.chain,
                    deadline: ends_by,
                    trace: self.trace,
                };
                let full = call.node.clone();
                let started = Instant::now();
                let result = match args.into_value() {
                    Ok(args) => remote.call(call, args, io).await.map(Reply::Value),
                    Err(e) => Err(e),
                };
                let outcome = result.as_ref().map(|_| ());
                self.host
                    .inner
                    .metrics
                    .ran(&full, started.elapsed(), outcome);
                return result;
            }
        };
        let plugin = &served.plugin;
        let node = format!("{}/{}", plugin.name(), name);
        let own = self.trace.as_ref().map(TraceContext::child);
        let span = tracing::info_span!(
            "call",
            node = %node,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
            parent_span_id = tracing::field::Empty,
        );
        if let (Some(parent), Some(own)) = (&self.trace, &own) {
            span.record("trace_id", own.trace_id());
            span.record("span_id", own.span_id());
            span.record("parent_span_id", parent.span_id());
        }
        let options = CallOptions {
            events: io.events,
            deadline: self.deadline,
            invoker: Some(self.host.inner.invoker.clone()),
            chain: self.chain,
            trace: own,
        };
        let started = Instant::now();
        let call = plugin.call_with(&name, args, options, io.stream, encoded);
        let result = tracing::Instrument::instrument(call, span).await;
        let outcome = result.as_ref().map(|_| ());
        self.host
            .inner
            .metrics
            .ran(&node, started.elapsed(), outcome);
        result
    }
}

/// Makes a plugin's next instance ahead of its next call.
#[derive(Debug, Clone)]
pub struct Ahead(Option<Plugin>);

impl Ahead {
    /// Makes one instance ahead of the plugin's next call, when its calls
    /// come far enough apart for that to pay (see
    /// [`Plugin::make_ready`]); a front end calls this after sending an
    /// answer. Returns whether it made one.
    pub async fn make_ready(self) -> bool {
        match self.0 {
            Some(plugin) => plugin.make_ready().await,
            None => false,
        }
    }
}

impl Host {
    /// Admits a call of `node` (a full name, `plugin/node`) asked for by
    /// `origin`, to end by `deadline` at the latest.
    ///
    /// # Errors
    ///
    /// `not-found`, `unavailable` (loading or failed plugin), `denied`,
    /// `unauthenticated`, or with [`Wait::No`] `overloaded`.
    pub async fn admit(
        &self,
        origin: Origin<'_>,
        node: &str,
        deadline: Option<Instant>,
        wait: Wait,
    ) -> Result<Admitted, CallError> {
        let admitted = self.admit_inner(origin, node, deadline, wait, true).await;
        if let Err(e) = &admitted {
            self.inner.metrics.refused(e);
        }
        admitted
    }

    /// [`Host::admit`] for nodes served by this host only, never routed to
    /// another host: a call another host of the cluster forwarded here.
    ///
    /// # Errors
    ///
    /// As [`Host::admit`].
    pub async fn admit_here(
        &self,
        origin: Origin<'_>,
        node: &str,
        deadline: Option<Instant>,
        wait: Wait,
    ) -> Result<Admitted, CallError> {
        let admitted = self.admit_inner(origin, node, deadline, wait, false).await;
        if let Err(e) = &admitted {
            self.inner.metrics.refused(e);
        }
        admitted
    }

    async fn admit_inner(
        &self,
        origin: Origin<'_>,
        node: &str,
        deadline: Option<Instant>,
        wait: Wait,
        route: bool,
    ) -> Result<Admitted, CallError> {
        if self.is_closed() {
            return Err(shutting_down());
        }
        let checked = match wait {
            Wait::No => self.check(origin, node),
            Wait::Yes => self.check_once_loaded(origin, node).await,
        };
        let here = match checked {
            Ok(here) => Ok(here),
            Err(e) => match self.remote().filter(|_| route) {
                Some(remote) => match self.check_remote(remote.as_ref(), origin, node)? {
                    Some(peer) => Err(peer),
                    None => return Err(e),
                },
                None => return Err(e),
            },
        };
        // The host's permit first: waiting for it holds nothing of the
        // plugin's.
        let (host_permit, chain) = match origin {
            Origin::Node { chain } => (None, chain.to_vec()),
            Origin::Caller(_) => {
                let calls = self.inner.calls.clone();
                let permit = match wait {
                    Wait::No => calls.try_acquire_owned().map_err(|e| match e {
                        TryAcquireError::Closed => shutting_down(),
                        TryAcquireError::NoPermits => CallError::new(
                            ErrorKind::Overloaded,
                            format!(
                                "the server is running its maximum of {} calls; retry later",
                                self.inner.max_calls
                            ),
                        ),
                    })?,
                    // Closed when the host shuts down.
                    Wait::Yes => calls.acquire_owned().await.map_err(|_| shutting_down())?,
                };
                (Some(permit), Vec::new())
            }
        };
        let (served, name) = match here {
            Ok(here) => here,
            Err(node) => {
                let caller = match origin {
                    Origin::Caller(identity) => Some(identity.name().to_owned()),
                    Origin::Node { .. } => None,
                };
                return Ok(Admitted {
                    host: self.clone(),
                    target: Target::Peer {
                        node: Box::new(node),
                        caller,
                    },
                    deadline,
                    chain,
                    trace: None,
                    _host_permit: host_permit,
                });
            }
        };
        let plugin_permit = match wait {
            Wait::No => served.try_start_call().map_err(|max| {
                CallError::new(
                    ErrorKind::Overloaded,
                    format!(
                        "plugin `{}` is running its maximum of {max} concurrent calls; retry \
                         later",
                        served.plugin.name()
                    ),
                )
            })?,
            Wait::Yes => served.start_call().await,
        };
        Ok(Admitted {
            host: self.clone(),
            target: Target::Here {
                served,
                name,
                _plugin_permit: plugin_permit,
            },
            deadline,
            chain,
            trace: None,
            _host_permit: host_permit,
        })
    }

    /// The remote node `node`, when its plugin cannot be called here (not
    /// served, loading or failed) and another host serves it, checked as
    /// [`Host::check`] checks a local one. `Ok(None)`: no other host serves
    /// it either (the local refusal stands).
    ///
    /// # Errors
    ///
    /// `denied`, `unauthenticated` or `not-found` (a private node asked for
    /// from outside).
    pub(super) fn check_remote(
        &self,
        remote: &dyn Remote,
        origin: Origin<'_>,
        node: &str,
    ) -> Result<Option<RemoteNode>, CallError> {
        if self.inner.plugins.snapshot().resolve(node).is_ok() {
            // Served here: the local refusal (a missing node, a denial)
            // is the answer.
            return Ok(None);
        }
        let Some(found) = remote.find(node) else {
            return Ok(None);
        };
        if let Origin::Caller(identity) = origin {
            identity.authorize(node, found.callers.as_deref())?;
            if found.private {
                return Err(CallError::new(
                    ErrorKind::NotFound,
                    format!("no node `{node}` is served in this cluster"),
                ));
            }
        }
        Ok(Some(found))
    }

    /// [`Host::check`], waiting (at most [`LOAD_WAIT`]) while the node's
    /// plugin is still loading: a queued job of a plugin that is being
    /// compiled after a restart runs once it is ready.
    async fn check_once_loaded(
        &self,
        origin: Origin<'_>,
        node: &str,
    ) -> Result<(Arc<Served>, String), CallError> {
        let until = tokio::time::Instant::now() + LOAD_WAIT;
        loop {
            let mut changes = self.inner.plugins.subscribe();
            let checked = self.check(origin, node);
            let loading = checked.is_err()
                && matches!(
                    self.inner.plugins.snapshot().resolve(node),
                    Err(Unresolved::Loading(_))
                );
            if !loading || self.is_closed() {
                return checked;
            }
            if tokio::time::timeout_at(until, changes.changed())
                .await
                .is_err()
            {
                return checked;
            }
        }
    }

    /// The checks of admission that take nothing: resolving `node` and who
    /// may call it. Returns the plugin and the node's name inside it.
    ///
    /// # Errors
    ///
    /// `not-found`, `unavailable`, `denied` or `unauthenticated`.
    pub fn check(
        &self,
        origin: Origin<'_>,
        node: &str,
    ) -> Result<(Arc<Served>, String), CallError> {
        // A caller's own patterns come first, so a caller learns nothing
        // about nodes it may not call, not even whether they exist.
        if let Origin::Caller(identity) = origin {
            identity.authorize(node, None)?;
        }
        let registry = self.inner.plugins.snapshot();
        let in_cluster = self.remote().is_some();
        let (served, name) = registry
            .resolve(node)
            .map_err(|e| unresolved(node, e, in_cluster))?;
        if let Origin::Caller(identity) = origin {
            identity.authorize(node, served.access.callers.as_deref())?;
        }
        let no_such_node = || {
            CallError::new(
                ErrorKind::NotFound,
                format!(
                    "plugin `{}` has no node `{name}`; `warden nodes` lists the nodes you may \
                     call",
                    served.plugin.name()
                ),
            )
        };
        // A private node looks to a caller from outside exactly like one
        // that does not exist: its name cannot be probed.
        if matches!(origin, Origin::Caller(_)) && served.is_private(name) {
            return Err(no_such_node());
        }
        let Some(desc) = served.plugin.node(name) else {
            return Err(no_such_node());
        };
        if let Some(why) = &desc.not_callable {
            return Err(CallError::new(
                ErrorKind::NotFound,
                format!("`{node}` is not callable: {why}"),
            ));
        }
        Ok((served.clone(), name.to_owned()))
    }
}

/// How long a waiting call (a job) waits for its plugin to finish loading.
pub const LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The error for any call once the host is shutting down.
pub(super) fn shutting_down() -> CallError {
    CallError::new(
        ErrorKind::Cancelled,
        "the host is shutting down and takes no new calls",
    )
}

/// The error for a node name that leads to no served plugin.
fn unresolved(node: &str, why: Unresolved, in_cluster: bool) -> CallError {
    let plugin = node.split_once('/').map_or(node, |(p, _)| p);
    let place = if in_cluster {
        "in this cluster"
    } else {
        "here"
    };
    match why {
        Unresolved::Unknown => CallError::new(
            ErrorKind::NotFound,
            format!("no node `{node}` is served {place}; `warden nodes` lists them"),
        ),
        Unresolved::Loading(loading) => CallError::new(
            ErrorKind::Unavailable,
            format!(
                "plugin `{plugin}` is still loading (for {:.1} s); retry in a moment",
                loading.since.elapsed().as_secs_f64()
            ),
        ),
        Unresolved::Failed(failed) => CallError::new(
            ErrorKind::Unavailable,
            format!("plugin `{plugin}` failed to load: {}", failed.reason),
        ),
    }
}
