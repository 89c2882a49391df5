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

use std::sync::Arc;
use std::time::Instant;

use rmpv::Value;
use tokio::sync::{OwnedSemaphorePermit, TryAcquireError};

use super::Host;
use crate::access::Identity;
use crate::caps::EventSink;
use crate::plugins::{Served, Unresolved};
use crate::proto::{CallError, ErrorKind, NodeInfo, NodeKind, TraceContext};
use crate::runtime::{CallOptions, Plugin, StreamIo};

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
    served: Arc<Served>,
    name: String,
    deadline: Option<Instant>,
    chain: Vec<String>,
    /// The caller's place in its trace, if it sent one.
    trace: Option<TraceContext>,
    _plugin_permit: Option<OwnedSemaphorePermit>,
    _host_permit: Option<OwnedSemaphorePermit>,
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
        // Admission checked that the node exists in this plugin version.
        match self.served.plugin.node(&self.name) {
            Some(desc) => &desc.info,
            None => unreachable!("admission checked `{}` exists", self.name),
        }
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
        let timeout = Instant::now() + self.served.plugin.limits().timeout;
        self.deadline.map_or(timeout, |d| d.min(timeout))
    }

    /// The plugin version the call runs in (a reload does not change it).
    pub fn plugin(&self) -> &Plugin {
        &self.served.plugin
    }

    /// A handle to make the plugin's next instance once this call has been
    /// answered (see [`Ahead::make_ready`]).
    pub fn ahead(&self) -> Ahead {
        Ahead(self.served.plugin.clone())
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
        let plugin = &self.served.plugin;
        let node = format!("{}/{}", plugin.name(), self.name);
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
        let call = async {
            match io.stream {
                Some(stream) => plugin.call_stream(&self.name, args, options, stream).await,
                None => plugin.call(&self.name, args, options).await,
            }
        };
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
pub struct Ahead(Plugin);

impl Ahead {
    /// Makes one instance ahead of the plugin's next call, when its calls
    /// come far enough apart for that to pay (see
    /// [`Plugin::make_ready`]); a front end calls this after sending an
    /// answer. Returns whether it made one.
    pub async fn make_ready(self) -> bool {
        self.0.make_ready().await
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
        let admitted = self.admit_inner(origin, node, deadline, wait).await;
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
    ) -> Result<Admitted, CallError> {
        if self.is_closed() {
            return Err(shutting_down());
        }
        let (served, name) = match wait {
            Wait::No => self.check(origin, node)?,
            Wait::Yes => self.check_once_loaded(origin, node).await?,
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
            served,
            name,
            deadline,
            chain,
            trace: None,
            _plugin_permit: plugin_permit,
            _host_permit: host_permit,
        })
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
        let (served, name) = registry.resolve(node).map_err(|e| unresolved(node, e))?;
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
fn unresolved(node: &str, why: Unresolved) -> CallError {
    let plugin = node.split_once('/').map_or(node, |(p, _)| p);
    match why {
        Unresolved::Unknown => CallError::new(
            ErrorKind::NotFound,
            format!("no node `{node}` is served here; `warden nodes` lists them"),
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
