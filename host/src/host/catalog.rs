//! What a caller may see: the catalog, one node's description and the
//! plugins' status, each filtered by who asks.

use super::Host;
use super::admit::Origin;
use crate::access::Identity;
use crate::proto::{CallError, ErrorKind, NodeInfo, ServerStatus};

impl Host {
    /// Every node `who` may call, sorted by full name. Private nodes and
    /// functions that cannot be called are never listed.
    pub fn catalog(&self, who: &Identity) -> Vec<NodeInfo> {
        let registry = self.inner.plugins.snapshot();
        registry
            .public_nodes()
            .into_iter()
            .filter(|(served, info)| {
                who.authorize(&info.node, served.access.callers.as_deref())
                    .is_ok()
            })
            .map(|(_, info)| info.clone())
            .collect()
    }

    /// The description of `node`, answered as a call of it would be: a
    /// private node is `denied` like its call.
    ///
    /// # Errors
    ///
    /// As [`Host::check`]: `not-found`, `unavailable`, `denied`,
    /// `unauthenticated`.
    pub fn describe(&self, who: &Identity, node: &str) -> Result<NodeInfo, CallError> {
        let (served, name) = self.check(Origin::Caller(who), node)?;
        served
            .plugin
            .node(&name)
            .map(|desc| desc.info.clone())
            .ok_or_else(|| CallError::new(ErrorKind::NotFound, format!("no node `{node}`")))
    }

    /// Every plugin's state (loading, ready or failed, with the reason) and
    /// the compiled cache's counters.
    ///
    /// # Errors
    ///
    /// `unauthenticated` for an anonymous caller of a host with access
    /// control: what is installed is for known callers only.
    pub fn status(&self, who: &Identity) -> Result<ServerStatus, CallError> {
        if matches!(who, Identity::Anonymous(_)) {
            return Err(CallError::new(
                ErrorKind::Unauthenticated,
                "the server's status needs a caller token",
            ));
        }
        Ok(self.inner.plugins.status())
    }
}
