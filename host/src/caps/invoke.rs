//! `warden:node/invoke`: a node calling another node by name.
//!
//! The capability layer does not know which plugins are served; whoever
//! serves them (the host service) implements [`Invoker`] and puts it in the
//! call's [`CallCaps`](super::CallCaps). Each hop checks the calling
//! plugin's `invoke` patterns, adds itself to the chain (so a cycle ends at
//! [`MAX_INVOKE_DEPTH`] with an error) and passes the original deadline on.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use rmpv::Value;

use crate::proto::CallError;

/// The longest chain of nested `invoke` calls; the next one fails.
pub const MAX_INVOKE_DEPTH: usize = 8;

/// The future of one invoked call.
pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send>>;

/// One `invoke` call, as the guest asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The callee's full name (`plugin/node`).
    pub node: String,
    /// Its arguments.
    pub args: Value,
    /// The deadline of the whole chain (the first call's).
    pub deadline: Instant,
    /// Full names of the nodes whose calls led here, outermost first; the
    /// invoking node is last.
    pub chain: Vec<String>,
    /// The invoking call's place in its trace: the callee's span is below.
    pub trace: Option<crate::proto::TraceContext>,
}

/// Routes `invoke` calls to served nodes.
pub trait Invoker: Send + Sync {
    /// Calls `call.node`. Private nodes are callable here: this is the only
    /// way to reach them.
    fn invoke(&self, call: Invocation) -> InvokeFuture;
}
