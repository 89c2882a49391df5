//! Guards on incoming connections: IP allow and deny lists (CIDR ranges),
//! a maximum number of connections and a maximum per IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use serde::Deserialize;

/// The `[connections]` table of the host config.
///
/// ```toml
/// [connections]
/// max = 1000
/// max_per_ip = 32
/// allow = ["10.0.0.0/8", "127.0.0.1"]   # empty: every address
/// deny = ["10.6.0.0/16"]                # checked first
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Connections open at once. Default: unlimited.
    pub max: Option<usize>,
    /// Connections open at once from one IP address. Default: unlimited.
    pub max_per_ip: Option<usize>,
    /// Addresses or CIDR ranges that may connect; empty means all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Addresses or CIDR ranges that may not connect, whatever `allow` says.
    #[serde(default)]
    pub deny: Vec<String>,
}

fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("`{text}` is not an IP address or CIDR range (like `10.0.0.0/8` or `::1`)")
        })
}

impl ConnectionLimits {
    /// Checks the lists and limits.
    ///
    /// # Errors
    ///
    /// A message naming the bad entry.
    pub fn validate(&self) -> Result<(), String> {
        for (key, list) in [("allow", &self.allow), ("deny", &self.deny)] {
            for entry in list {
                parse_net(entry).map_err(|e| format!("`connections.{key}`: {e}"))?;
            }
        }
        if self.max == Some(0) || self.max_per_ip == Some(0) {
            return Err("`connections.max` and `max_per_ip` must be at least 1".into());
        }
        Ok(())
    }
}

/// Why a connection was refused: a code for the QUIC close frame and a
/// reason for the peer and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The application close code (see [`crate::proto::codes`]).
    pub code: u32,
    /// What rule refused it.
    pub reason: String,
}

/// Applies [`ConnectionLimits`] and counts open connections.
#[derive(Debug)]
pub struct ConnectionGuard {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    max: Option<usize>,
    max_per_ip: Option<usize>,
    open: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

impl ConnectionGuard {
    /// A guard applying `limits`.
    ///
    /// # Errors
    ///
    /// As [`ConnectionLimits::validate`].
    pub fn new(limits: &ConnectionLimits) -> Result<Arc<ConnectionGuard>, String> {
        limits.validate()?;
        let parse = |list: &[String]| {
            list.iter()
                .map(|e| parse_net(e))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Arc::new(ConnectionGuard {
            allow: parse(&limits.allow)?,
            deny: parse(&limits.deny)?,
            max: limits.max,
            max_per_ip: limits.max_per_ip,
            open: Mutex::default(),
        }))
    }

    /// Admits a connection from `ip`, or says why not. The connection counts
    /// until the returned slot is dropped.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming the rule.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<GuardSlot, Refusal> {
        use crate::proto::codes::{CONNECTION_LIMIT, IP_REFUSED};
        let ip = canonical(ip);
        if let Some(net) = self.deny.iter().find(|n| n.contains(&ip)) {
            return Err(Refusal {
                code: IP_REFUSED,
                reason: format!("connections from {ip} are refused (deny {net})"),
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(&ip)) {
            return Err(Refusal {
                code: IP_REFUSED,
                reason: format!("connections from {ip} are refused (not in the allow list)"),
            });
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(max) = self.max.filter(|&m| open.total >= m) {
            return Err(Refusal {
                code: CONNECTION_LIMIT,
                reason: format!("the server has its maximum of {max} connections open"),
            });
        }
        let from_ip = open.by_ip.get(&ip).copied().unwrap_or(0);
        if let Some(max) = self.max_per_ip.filter(|&m| from_ip >= m) {
            return Err(Refusal {
                code: CONNECTION_LIMIT,
                reason: format!("{ip} has its maximum of {max} connections open"),
            });
        }
        open.total += 1;
        *open.by_ip.entry(ip).or_default() += 1;
        Ok(GuardSlot {
            guard: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

/// IPv4 addresses mapped into IPv6 (from a dual-stack socket) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct GuardSlot {
    guard: Arc<ConnectionGuard>,
    ip: IpAddr,
}

impl Drop for GuardSlot {
    fn drop(&mut self) {
        let mut open = self.guard.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn lists_and_limits_decide_and_slots_free_their_place() {
        let guard = ConnectionGuard::new(&ConnectionLimits {
            max: Some(3),
            max_per_ip: Some(2),
            allow: vec!["10.0.0.0/8".into(), "127.0.0.1".into()],
            deny: vec!["10.6.0.0/16".into()],
        })
        .unwrap();
        assert!(
            guard
                .admit(ip("192.168.1.1"))
                .unwrap_err()
                .reason
                .contains("allow list")
        );
        assert!(
            guard
                .admit(ip("10.6.1.1"))
                .unwrap_err()
                .reason
                .contains("deny 10.6.0.0/16")
        );
        let a = guard.admit(ip("10.1.1.1")).unwrap();
        let _b = guard.admit(ip("10.1.1.1")).unwrap();
        assert!(
            guard
                .admit(ip("10.1.1.1"))
                .unwrap_err()
                .reason
                .contains("maximum of 2")
        );
        let _c = guard.admit(ip("::ffff:127.0.0.1")).unwrap();
        assert!(
            guard
                .admit(ip("10.2.2.2"))
                .unwrap_err()
                .reason
                .contains("maximum of 3")
        );
        drop(a);
        assert_eq!(guard.open_connections(), 2);
        assert!(guard.admit(ip("10.1.1.1")).is_ok());
        assert!(
            ConnectionGuard::new(&ConnectionLimits {
                allow: vec!["10.0.0.0/33".into()],
                ..ConnectionLimits::default()
            })
            .unwrap_err()
            .contains("10.0.0.0/33")
        );
    }
}
