//! What a caller may see: the catalog, one node's description and the
//! plugins' status, each filtered by who asks. In a cluster they include
//! what the other hosts serve (a plugin served here hides the same plugin
//! elsewhere: calls of it run here).

use super::Host;
use super::admit::Origin;
use crate::access::Identity;
use crate::proto::{CallError, ErrorKind, NodeInfo, ServerStatus};

impl Host {
    /// Every node `who` may call, sorted by full name. Private nodes and
    /// functions that cannot be called are never listed.
    pub fn catalog(&self, who: &Identity) -> Vec<NodeInfo> {
        let registry = self.inner.plugins.snapshot();
        let mut nodes: Vec<NodeInfo> = registry
            .public_nodes()
            .into_iter()
            .filter(|(served, info)| {
                who.authorize(&info.node, served.access.callers.as_deref())
                    .is_ok()
            })
            .map(|(_, info)| info.clone())
            .collect();
        if let Some(remote) = self.remote() {
            let remote_nodes = remote.nodes().into_iter().filter(|n| {
                !n.private
                    && registry.resolve(&n.info.node).is_err()
                    && who.authorize(&n.info.node, n.callers.as_deref()).is_ok()
            });
            nodes.extend(remote_nodes.map(|n| n.info));
            nodes.sort_by(|a, b| a.node.cmp(&b.node));
        }
        nodes
    }

    /// The description of `node`, answered as a call of it would be: a
    /// private node is `denied` like its call.
    ///
    /// # Errors
    ///
    /// As [`Host::check`]: `not-found`, `unavailable`, `denied`,
    /// `unauthenticated`.
    pub fn describe(&self, who: &Identity, node: &str) -> Result<NodeInfo, CallError> {
        let (served, name) = match (self.check(Origin::Caller(who), node), self.remote()) {
            (Ok(here), _) => here,
            (Err(e), Some(remote)) => {
                return match self.check_remote(remote.as_ref(), Origin::Caller(who), node)? {
                    Some(found) => Ok(found.info),
                    None => Err(e),
                };
            }
            (Err(e), None) => return Err(e),
        };
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
        let mut status = self.inner.plugins.status();
        if let Some(remote) = self.remote() {
            let me = remote.host_id().to_owned();
            let mut others = remote.plugins();
            for plugin in &mut status.plugins {
                plugin.hosts.push(me.clone());
                if let Some(i) = others.iter().position(|o| o.name == plugin.name) {
                    plugin.hosts.append(&mut others.remove(i).hosts);
                }
            }
            status.plugins.extend(others);
            status.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(status)
    }
}
