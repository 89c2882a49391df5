//! Nodes served by other hosts (a cluster's peers), as admission, the
//! catalog and the status see them.
//!
//! The host knows nothing of how peers are reached: a [`Remote`] (the
//! cluster front end, `crate::cluster`) is handed to [`Host::set_remote`]
//! and answers two questions — which nodes do the other hosts serve, and
//! how is a call of one of them run. Admission asks it only when the
//! node's plugin is not served here (unknown, loading or failed), so a
//! plugin served locally is always called locally.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rmpv::Value;

use super::Host;
use super::admit::CallIo;
use crate::proto::{CallError, NodeInfo, PluginStatus, TraceContext};

/// One node another host serves, as its announcement describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteNode {
    /// The node's description (full name, kind, schemas).
    pub info: NodeInfo,
    /// The plugin manifest's `access.callers`, if it has one.
    pub callers: Option<Vec<String>>,
    /// Whether the manifest marks the node private (reachable only from
    /// other nodes' `invoke`).
    pub private: bool,
    /// The plugin's timeout: a call ends by then at the latest.
    pub timeout: Duration,
    /// The hosts that serve it, by cluster host id.
    pub hosts: Vec<String>,
}

/// A call to run on another host; it passed the entry host's admission.
#[derive(Debug, Clone)]
pub struct RemoteCall {
    /// The node's full name.
    pub node: String,
    /// The node as announced.
    pub info: NodeInfo,
    /// The caller's name, for a call from outside; `None` for a node's
    /// `invoke`.
    pub caller: Option<String>,
    /// The calls that led here, for `invoke` (the invoking node last).
    pub chain: Vec<String>,
    /// When the call must have ended.
    pub deadline: Instant,
    /// The caller's place in its trace.
    pub trace: Option<TraceContext>,
}

/// Where nodes served by other hosts come from, and how they are called.
pub trait Remote: Send + Sync {
    /// This host's id among its peers.
    fn host_id(&self) -> &str;

    /// Every node (private ones included) that another host serves, once
    /// each, with the hosts serving it.
    fn nodes(&self) -> Vec<RemoteNode>;

    /// The node `full` (`plugin/node`) if another host serves it.
    fn find(&self, full: &str) -> Option<RemoteNode>;

    /// The plugins other hosts have (any state), each with the hosts that
    /// have it in [`PluginStatus::hosts`].
    fn plugins(&self) -> Vec<PluginStatus>;

    /// Runs `call` on a host that serves it, sending its events and items
    /// to `io` (and a channel's input from it). Dropping the future cancels
    /// the call there.
    fn call(
        &self,
        call: RemoteCall,
        args: Value,
        io: CallIo,
    ) -> BoxFuture<'static, Result<Value, CallError>>;
}

impl Host {
    /// Joins this host to other hosts: admission routes calls of nodes not
    /// served here to `remote`, and the catalog and status list its nodes.
    /// Set once; a second call returns `false` and changes nothing.
    pub fn set_remote(&self, remote: std::sync::Arc<dyn Remote>) -> bool {
        self.inner.remote.set(remote).is_ok()
    }

    /// The other hosts' nodes, if this host is part of a cluster.
    pub fn remote(&self) -> Option<&std::sync::Arc<dyn Remote>> {
        self.inner.remote.get()
    }
}
