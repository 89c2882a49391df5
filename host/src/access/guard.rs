//! Guards on incoming connections: IP allow and deny lists (CIDR ranges),
//! a maximum number of connections and a maximum per IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Connections open at once (counted once their handshake completes).
    /// Default: unlimited.
    pub max: Option<usize>,
    /// Connections open at once from one IP address. Default: unlimited.
    pub max_per_ip: Option<usize>,
    /// Addresses or CIDR ranges that may connect; empty means all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Addresses or CIDR ranges that may not connect, whatever `allow` says.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Handshakes in progress at once; more are refused. Default: 256.
    pub handshakes: Option<usize>,
    /// Handshakes in progress past which a client must first prove it owns
    /// its address (a QUIC Retry). Default: 16.
    pub validate_above: Option<usize>,
    /// How long a handshake may take. Default: 10 s.
    #[serde(default, deserialize_with = "crate::units::duration")]
    pub handshake_timeout: Option<Duration>,
    /// Streams a connection may have open before its caller has said who
    /// it is, on a host with `[access]`. Default: 16.
    pub streams_before_hello: Option<u32>,
    /// The largest frame before the caller has said who it is, on a host
    /// with `[access]`: a size. Default: 64 KiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub frame_before_hello: Option<usize>,
    /// Bytes of frames not yet complete the host holds across all
    /// connections: a size. Default: 256 MiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub buffered: Option<usize>,
    /// Bytes of frames not yet complete the host holds, across all
    /// connections, for callers that have not said who they are (on a host
    /// with `[access]`): a size. Default: 16 MiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub buffered_before_hello: Option<usize>,
    /// Bytes of frames not yet complete the host holds for one connection:
    /// a size. Default: 32 MiB.
    #[serde(default, deserialize_with = "crate::units::size")]
    pub buffered_per_connection: Option<usize>,
    /// How long a frame may take to arrive once it has started (and the
    /// first frame of a stream once the stream is open). Default: 10 s.
    #[serde(default, deserialize_with = "crate::units::duration")]
    pub frame_timeout: Option<Duration>,
    /// Blob uploads in progress on one connection. Default: 4.
    pub uploads_per_connection: Option<usize>,
    /// Connections open at once whose caller has not said who it is, on a
    /// host with `[access]`; each may hold about 30 KiB plus 4 frames
    /// before `hello` unread. Past it the oldest such connection is closed
    /// (code 6), so callers that present a token always get in.
    /// Default: 256.
    pub tokenless: Option<usize>,
}

impl ConnectionBudgets {
    /// What a connection may have sent that the host has not read yet,
    /// until its caller has said who it is: four of the largest frames
    /// allowed then.
    pub fn window_before_hello(&self) -> u32 {
        u32::try_from(self.frame_before_hello.saturating_mul(4)).unwrap_or(u32::MAX)
    }
}

/// [`ConnectionLimits`] with every default filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionBudgets {
    /// See [`ConnectionLimits::handshakes`].
    pub handshakes: usize,
    /// See [`ConnectionLimits::validate_above`].
    pub validate_above: usize,
    /// See [`ConnectionLimits::handshake_timeout`].
    pub handshake_timeout: Duration,
    /// See [`ConnectionLimits::streams_before_hello`].
    pub streams_before_hello: u32,
    /// See [`ConnectionLimits::frame_before_hello`].
    pub frame_before_hello: usize,
    /// See [`ConnectionLimits::buffered`].
    pub buffered: usize,
    /// See [`ConnectionLimits::buffered_before_hello`].
    pub buffered_before_hello: usize,
    /// See [`ConnectionLimits::buffered_per_connection`].
    pub buffered_per_connection: usize,
    /// See [`ConnectionLimits::frame_timeout`].
    pub frame_timeout: Duration,
    /// See [`ConnectionLimits::uploads_per_connection`].
    pub uploads_per_connection: usize,
    /// See [`ConnectionLimits::tokenless`].
    pub tokenless: usize,
}

fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("`{text}` is not an IP address or CIDR range (like `10.0.0.0/8` or `::1`)")
        })
}

impl ConnectionLimits {
    /// The limits with their defaults filled in.
    pub fn budgets(&self) -> ConnectionBudgets {
        ConnectionBudgets {
            handshakes: self.handshakes.unwrap_or(256),
            validate_above: self.validate_above.unwrap_or(16),
            handshake_timeout: self.handshake_timeout.unwrap_or(Duration::from_secs(10)),
            streams_before_hello: self.streams_before_hello.unwrap_or(16),
            frame_before_hello: self.frame_before_hello.unwrap_or(64 << 10),
            buffered: self.buffered.unwrap_or(256 << 20),
            buffered_before_hello: self.buffered_before_hello.unwrap_or(16 << 20),
            buffered_per_connection: self.buffered_per_connection.unwrap_or(32 << 20),
            frame_timeout: self.frame_timeout.unwrap_or(Duration::from_secs(10)),
            uploads_per_connection: self.uploads_per_connection.unwrap_or(4),
            tokenless: self.tokenless.unwrap_or(256),
        }
    }

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
        use crate::text::{bytes_text, duration_text};
        use crate::units::in_range;
        let count = |n: usize| n.to_string();
        in_range("connections.handshakes", self.handshakes, 1, 1 << 20, count)?;
        in_range(
            "connections.validate_above",
            self.validate_above,
            0,
            1 << 20,
            count,
        )?;
        let seconds = (Duration::from_millis(100), Duration::from_secs(600));
        in_range(
            "connections.handshake_timeout",
            self.handshake_timeout,
            seconds.0,
            seconds.1,
            duration_text,
        )?;
        in_range(
            "connections.frame_timeout",
            self.frame_timeout,
            seconds.0,
            seconds.1,
            duration_text,
        )?;
        in_range(
            "connections.streams_before_hello",
            self.streams_before_hello,
            1,
            1024,
            |n| n.to_string(),
        )?;
        in_range(
            "connections.frame_before_hello",
            self.frame_before_hello,
            1 << 10,
            16 << 20,
            bytes_text,
        )?;
        in_range(
            "connections.buffered",
            self.buffered,
            1 << 20,
            64 << 30,
            bytes_text,
        )?;
        in_range(
            "connections.buffered_before_hello",
            self.buffered_before_hello,
            1 << 20,
            64 << 30,
            bytes_text,
        )?;
        in_range(
            "connections.buffered_per_connection",
            self.buffered_per_connection,
            1 << 20,
            64 << 30,
            bytes_text,
        )?;
        in_range(
            "connections.uploads_per_connection",
            self.uploads_per_connection,
            1,
            1024,
            count,
        )?;
        in_range("connections.tokenless", self.tokenless, 1, 1 << 20, count)?;
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
            ..ConnectionLimits::default()
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
