//! The host as the router of `invoke` calls: a node's call of another node
//! is admitted like any other call, as [`Origin::Node`].

use std::sync::Weak;

use super::admit::{CallIo, Origin, Wait};
use super::{Host, HostInner};
use crate::caps::{Invocation, InvokeFuture, Invoker};

/// Routes `invoke` calls through a host's admission. It holds the host
/// weakly: calls carry it, and must not keep a host alive.
pub(super) struct HostInvoker(pub(super) Weak<HostInner>);

impl Invoker for HostInvoker {
    fn invoke(&self, call: Invocation) -> InvokeFuture {
        let host = self.0.upgrade().map(|inner| Host { inner });
        Box::pin(async move {
            let Some(host) = host else {
                return Err(super::admit::shutting_down());
            };
            let origin = Origin::Node { chain: &call.chain };
            let admitted = host
                .admit(origin, &call.node, Some(call.deadline), Wait::No)
                .await?
                .with_trace(call.trace);
            admitted.run(call.args, CallIo::default()).await
        })
    }
}
