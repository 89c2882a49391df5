//! The other hosts of the cluster, as their announcements describe them,
//! forgotten once they have been silent for [`EXPIRE_AFTER`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmpv::Value;

use super::EXPIRE_AFTER;
use super::wire::{Fields, WireError};
use crate::host::RemoteNode;
use crate::proto::{NodeInfo, PluginState, PluginStatus};

/// One host's announcement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Announcement {
    /// The host's id.
    pub(crate) host: String,
    /// The host is stopping: forget it now.
    pub(crate) leaving: bool,
    /// Its plugins.
    pub(crate) plugins: Vec<AnnouncedPlugin>,
}

/// One plugin of an announcement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnnouncedPlugin {
    /// Name, state, version, error (no hosts).
    pub(crate) status: PluginStatus,
    /// The plugin's timeout.
    pub(crate) timeout: Duration,
    /// The manifest's `access.callers`.
    pub(crate) callers: Option<Vec<String>>,
    /// Its callable nodes, each with whether it is private.
    pub(crate) nodes: Vec<(NodeInfo, bool)>,
}

impl Announcement {
    /// The announcement as a map.
    pub(crate) fn to_value(&self) -> Value {
        let plugins = self.plugins.iter().map(|p| {
            let mut map = vec![
                (Value::from("status"), p.status.to_value()),
                (
                    Value::from("timeout_ms"),
                    Value::from(u64::try_from(p.timeout.as_millis()).unwrap_or(u64::MAX)),
                ),
                (
                    Value::from("nodes"),
                    Value::Array(
                        p.nodes
                            .iter()
                            .map(|(info, private)| {
                                Value::Map(vec![
                                    (Value::from("info"), info.to_value()),
                                    (Value::from("private"), Value::from(*private)),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ];
            if let Some(callers) = &p.callers {
                map.push((Value::from("callers"), strings(callers)));
            }
            Value::Map(map)
        });
        Value::Map(vec![
            (Value::from("type"), Value::from("announce")),
            (Value::from("host"), Value::from(self.host.as_str())),
            (Value::from("leaving"), Value::from(self.leaving)),
            (Value::from("plugins"), Value::Array(plugins.collect())),
        ])
    }

    /// Reads an announcement.
    ///
    /// # Errors
    ///
    /// [`WireError::Malformed`] naming what is wrong.
    pub(crate) fn from_value(value: Value) -> Result<Announcement, WireError> {
        let mut map = Fields::new(value)?;
        let host = map
            .str("host")?
            .ok_or_else(|| WireError::Malformed("an announcement without `host`".into()))?;
        let leaving = matches!(map.take("leaving"), Some(Value::Boolean(true)));
        let plugins = match map.take("plugins") {
            None => Vec::new(),
            Some(Value::Array(plugins)) => plugins
                .into_iter()
                .map(AnnouncedPlugin::from_value)
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(WireError::Malformed("`plugins` is not an array".into())),
        };
        Ok(Announcement {
            host,
            leaving,
            plugins,
        })
    }
}

impl AnnouncedPlugin {
    fn from_value(value: Value) -> Result<AnnouncedPlugin, WireError> {
        let mut map = Fields::new(value)?;
        let status = PluginStatus::from_value(map.take("status").unwrap_or(Value::Nil))?;
        let timeout = Duration::from_millis(map.u64("timeout_ms")?.unwrap_or(0));
        let callers = match map.take("callers") {
            None | Some(Value::Nil) => None,
            Some(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            WireError::Malformed("`callers` holds a non-string".into())
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(WireError::Malformed("`callers` is not an array".into())),
        };
        let nodes = match map.take("nodes") {
            None => Vec::new(),
            Some(Value::Array(nodes)) => nodes
                .into_iter()
                .map(|n| {
                    let mut n = Fields::new(n)?;
                    let info = NodeInfo::from_value(n.take("info").unwrap_or(Value::Nil))?;
                    let private = matches!(n.take("private"), Some(Value::Boolean(true)));
                    Ok((info, private))
                })
                .collect::<Result<_, WireError>>()?,
            Some(_) => return Err(WireError::Malformed("`nodes` is not an array".into())),
        };
        Ok(AnnouncedPlugin {
            status,
            timeout,
            callers,
            nodes,
        })
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

/// One other host, as last heard.
struct Peer {
    seen: Instant,
    plugins: Vec<AnnouncedPlugin>,
}

/// The other hosts heard from.
pub(crate) struct Peers {
    hosts: Mutex<HashMap<String, Peer>>,
    expire: Duration,
}

impl Peers {
    pub(crate) fn new() -> Self {
        Peers {
            hosts: Mutex::new(HashMap::new()),
            expire: EXPIRE_AFTER,
        }
    }

    /// Takes an announcement heard at `now`; returns whether it came from a
    /// host not known before.
    pub(crate) fn heard(&self, announcement: Announcement, now: Instant) -> bool {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if announcement.leaving {
            if hosts.remove(&announcement.host).is_some() {
                tracing::info!(host = %announcement.host, "a host left the cluster");
            }
            return false;
        }
        let new = !hosts.contains_key(&announcement.host);
        hosts.insert(
            announcement.host.clone(),
            Peer {
                seen: now,
                plugins: announcement.plugins,
            },
        );
        if new {
            tracing::info!(host = %announcement.host, "a host joined the cluster");
        }
        new
    }

    /// Forgets the hosts silent for too long at `now`.
    pub(crate) fn expire(&self, now: Instant) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.retain(|host, peer| {
            let alive = now.saturating_duration_since(peer.seen) < self.expire;
            if !alive {
                tracing::warn!(%host, "a host stopped announcing itself; it left the cluster");
            }
            alive
        });
    }

    /// The ids of the hosts heard from recently, sorted.
    pub(crate) fn hosts(&self) -> Vec<String> {
        self.expire(Instant::now());
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = hosts.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every node of a ready plugin on a live host, once each, with the
    /// hosts serving it.
    pub(crate) fn nodes(&self) -> Vec<RemoteNode> {
        self.expire(Instant::now());
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<&String> = hosts.keys().collect();
        ids.sort();
        let mut by_name: Vec<RemoteNode> = Vec::new();
        for id in ids {
            let ready = hosts[id]
                .plugins
                .iter()
                .filter(|p| p.status.state == PluginState::Ready);
            for plugin in ready {
                for (info, private) in &plugin.nodes {
                    match by_name.iter_mut().find(|n| n.info.node == info.node) {
                        Some(known) => known.hosts.push(id.clone()),
                        None => by_name.push(RemoteNode {
                            info: info.clone(),
                            callers: plugin.callers.clone(),
                            private: *private,
                            timeout: plugin.timeout,
                            hosts: vec![id.clone()],
                        }),
                    }
                }
            }
        }
        by_name.sort_by(|a, b| a.info.node.cmp(&b.info.node));
        by_name
    }

    /// The node `full`, if a live host serves it.
    pub(crate) fn find(&self, full: &str) -> Option<RemoteNode> {
        self.nodes().into_iter().find(|n| n.info.node == full)
    }

    /// Every plugin a live host has, once each, with the hosts that have
    /// it (the state of the first one ready, else of the first).
    pub(crate) fn plugins(&self) -> Vec<PluginStatus> {
        self.expire(Instant::now());
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<&String> = hosts.keys().collect();
        ids.sort();
        let mut plugins: Vec<PluginStatus> = Vec::new();
        for id in ids {
            for plugin in &hosts[id].plugins {
                match plugins.iter_mut().find(|p| p.name == plugin.status.name) {
                    Some(known) => {
                        known.hosts.push(id.clone());
                        if known.state != PluginState::Ready
                            && plugin.status.state == PluginState::Ready
                        {
                            let hosts = std::mem::take(&mut known.hosts);
                            *known = PluginStatus {
                                hosts,
                                ..plugin.status.clone()
                            };
                        }
                    }
                    None => plugins.push(PluginStatus {
                        hosts: vec![id.clone()],
                        ..plugin.status.clone()
                    }),
                }
            }
        }
        plugins.sort_by(|a, b| a.name.cmp(&b.name));
        plugins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(full: &str) -> NodeInfo {
        let (plugin, _) = full.split_once('/').unwrap_or((full, ""));
        NodeInfo {
            node: full.into(),
            plugin: plugin.into(),
            params: Vec::new(),
            result: None,
            docs: None,
            params_schema: serde_json::Value::Bool(true),
            result_schema: serde_json::Value::Bool(true),
            kind: crate::proto::NodeKind::Call,
            item: None,
            item_schema: None,
            input: None,
            input_schema: None,
        }
    }

    fn announcement(host: &str, plugin: &str, leaving: bool) -> Announcement {
        Announcement {
            host: host.into(),
            leaving,
            plugins: vec![AnnouncedPlugin {
                status: PluginStatus {
                    name: plugin.into(),
                    state: PluginState::Ready,
                    version: Some("1".into()),
                    loaded_at: None,
                    nodes: 1,
                    error: None,
                    description: None,
                    hosts: Vec::new(),
                },
                timeout: Duration::from_secs(5),
                callers: Some(vec!["alice".into()]),
                nodes: vec![(node(&format!("{plugin}/f")), false)],
            }],
        }
    }

    #[test]
    fn announcements_round_trip() {
        let a = announcement("h1", "math", false);
        assert_eq!(Announcement::from_value(a.to_value()), Ok(a));
        assert!(Announcement::from_value(Value::from(3)).is_err());
    }

    #[test]
    fn hosts_merge_expire_and_leave() {
        let peers = Peers::new();
        let t0 = Instant::now();
        assert!(peers.heard(announcement("h1", "math", false), t0));
        assert!(peers.heard(announcement("h2", "math", false), t0));
        assert!(!peers.heard(announcement("h2", "text", false), t0));
        let math = peers.find("math/f").expect("served");
        assert_eq!(math.hosts, ["h1"]);
        // h2's second announcement replaced its first.
        assert_eq!(peers.find("text/f").expect("served").hosts, ["h2"]);
        assert!(!peers.heard(announcement("h2", "math", false), t0));
        assert_eq!(peers.find("math/f").expect("served").hosts, ["h1", "h2"]);
        assert_eq!(peers.plugins()[0].hosts, ["h1", "h2"]);
        assert!(!peers.heard(announcement("h1", "math", true), t0));
        assert_eq!(peers.hosts(), ["h2"]);
        peers.expire(t0 + EXPIRE_AFTER);
        assert!(peers.hosts().is_empty());
        assert!(peers.find("math/f").is_none());
    }
}
