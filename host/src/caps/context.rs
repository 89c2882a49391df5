//! What one call may reach through `warden:node`, and how the host
//! functions find it in whatever store data holds it.

use std::sync::Arc;
use std::time::Instant;

use super::grants::Capabilities;
use super::invoke::Invoker;
use crate::proto::{CallEvent, LogLevel};

/// Receives a call's progress and log events, on the thread running the
/// call. It must not block for long: the guest waits for it.
pub type EventSink = Arc<dyn Fn(CallEvent) + Send + Sync>;

/// The `warden:node` side of one call: whose call it is, what the plugin
/// was granted, where its events go and how far it may reach.
pub struct CallCaps {
    /// The plugin's name.
    pub plugin: Arc<str>,
    /// The node's name inside the plugin (empty before the call starts).
    pub node: Arc<str>,
    /// What the plugin was granted, and the stores the grants refer to.
    pub caps: Arc<Capabilities>,
    /// Where progress and log events go; `None` drops them (log lines still
    /// reach the host's log).
    pub events: Option<EventSink>,
    /// Routes `invoke` calls; `None` where no host serves other nodes.
    pub invoker: Option<Arc<dyn Invoker>>,
    /// Full names of the calls that led here, this one last.
    pub chain: Vec<String>,
    /// This call's place in the caller's trace, if it has one.
    pub trace: Option<crate::proto::TraceContext>,
    /// When the call (and everything it invokes) must end.
    pub deadline: Instant,
    /// Bytes the plugin may keep in its key-value store.
    pub kv_quota: u64,
    /// The largest blob `blobs.get` returns into this call.
    pub max_blob_get: usize,
}

impl CallCaps {
    /// Sends a log line to the host's tracing output and to the caller.
    pub fn log(&self, level: LogLevel, message: &str) {
        let (plugin, node) = (&*self.plugin, &*self.node);
        match level {
            LogLevel::Trace => tracing::trace!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Info => tracing::info!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "warden::guest", plugin, node, "{message}"),
            LogLevel::Error => tracing::error!(target: "warden::guest", plugin, node, "{message}"),
        }
        self.emit(CallEvent::Log {
            level,
            message: message.to_owned(),
        });
    }

    /// Hands an event to the caller, if anyone listens.
    pub fn emit(&self, event: CallEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    /// Where the grants came from, for messages: `in FILE`.
    pub(crate) fn manifest_hint(&self) -> String {
        match &self.caps.manifest {
            Some(path) => format!("in {}", path.display()),
            None => format!("in {}.toml", self.plugin),
        }
    }
}

/// Store data that holds a [`CallCaps`]: how the `warden:node` host
/// functions reach the call they serve.
pub trait CapsView {
    /// The call's capabilities.
    fn caps(&mut self) -> &mut CallCaps;
}
