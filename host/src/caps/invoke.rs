//! `warden:node/invoke`: a node calling another node by name.
//!
//! The runtime does not know which plugins are served; whoever serves them
//! (the plugin registry) implements [`Invoker`] and passes it in
//! [`CallOptions::invoker`]. Each hop checks the caller's `invoke` patterns,
//! adds itself to the chain (so a cycle ends at [`MAX_INVOKE_DEPTH`] with an
//! error) and passes the original deadline on.

use std::future::Future;
use std::pin::Pin;

use rmpv::Value;

use crate::{CallError, CallOptions};

/// The longest chain of nested `invoke` calls; the next one fails.
pub const MAX_INVOKE_DEPTH: usize = 8;

/// The future of one invoked call.
pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send>>;

/// Routes `invoke` calls to served nodes.
pub trait Invoker: Send + Sync {
    /// Calls the node with full name `node` (`plugin/node`) with `args` and
    /// `options` (which carry the chain and the shared deadline). Private
    /// nodes are callable here: this is the only way to reach them.
    fn invoke(&self, node: &str, args: Value, options: CallOptions) -> InvokeFuture;
}
