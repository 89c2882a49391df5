//! The served plugins as the router of `invoke` calls.

use rmpv::Value;

use super::Plugins;
use crate::caps::{InvokeFuture, Invoker};
use crate::{CallError, CallOptions, ErrorKind};

impl Invoker for Plugins {
    fn invoke(&self, node: &str, args: Value, options: CallOptions) -> InvokeFuture {
        let registry = self.snapshot();
        let node = node.to_owned();
        Box::pin(async move {
            let Some((served, name)) = registry.resolve(&node) else {
                return Err(CallError::new(
                    ErrorKind::NotFound,
                    format!("no node `{node}` is served here"),
                ));
            };
            // Private nodes are reachable here on purpose: only through invoke.
            let _permit = served.try_start_call().map_err(|max| {
                CallError::new(
                    ErrorKind::Overloaded,
                    format!(
                        "plugin `{}` is running its maximum of {max} concurrent calls",
                        served.plugin.name()
                    ),
                )
            })?;
            served.plugin.call(name, args, options).await
        })
    }
}
