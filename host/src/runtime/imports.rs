//! Which imports this host provides, decided from the import's name before
//! linking, so an unsatisfiable component is refused naming its import (and
//! `warden check` can mark it) without reading wasmtime's error text.
//!
//! The linker has WASI 0.2 (`wasmtime_wasi::p2`: the interfaces below, any
//! 0.2.x version, which wasmtime matches by semver), `wasi:http` (outgoing
//! requests only as the plugin's `http` grant allows) and `warden:node` (which
//! interfaces a plugin may import is its grants' business, checked by
//! [`crate::caps::check`]).

/// WASI 0.2 packages and the interfaces of each that are linked.
const WASI: [(&str, &[&str]); 7] = [
    ("wasi:http", &["types", "outgoing-handler"]),
    ("wasi:io", &["error", "poll", "streams"]),
    ("wasi:clocks", &["monotonic-clock", "wall-clock"]),
    ("wasi:random", &["random", "insecure", "insecure-seed"]),
    ("wasi:filesystem", &["types", "preopens"]),
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    (
        "wasi:sockets",
        &[
            "network",
            "instance-network",
            "ip-name-lookup",
            "tcp",
            "tcp-create-socket",
            "udp",
            "udp-create-socket",
        ],
    ),
];

/// What this host provides, for messages.
pub(crate) const PROVIDED: &str =
    "WASI 0.2 (wasi:cli, clocks, filesystem, http, io, random, sockets) and `warden:node`";

/// Whether the linker has the interface imported as `name` (e.g.
/// `wasi:io/streams@0.2.6`).
pub(crate) fn is_provided(name: &str) -> bool {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let Some((package, interface)) = path.split_once('/') else {
        return false;
    };
    if package == "warden:node" {
        return true;
    }
    let Some((_, interfaces)) = WASI.iter().find(|(p, _)| *p == package) else {
        return false;
    };
    interfaces.contains(&interface) && version.is_some_and(|v| v.starts_with("0.2."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_02_and_warden_are_provided_and_nothing_else() {
        assert!(is_provided("wasi:io/streams@0.2.6"));
        assert!(is_provided("wasi:cli/terminal-stdout@0.2.0"));
        assert!(is_provided("warden:node/kv@0.1.0"));
        assert!(is_provided("wasi:http/types@0.2.10"));
        assert!(is_provided("wasi:http/outgoing-handler@0.2.0"));
        assert!(!is_provided("wasi:http/incoming-handler@0.2.0"));
        assert!(!is_provided("wasi:io/streams@0.3.0"));
        assert!(!is_provided("wasi:io/streams"));
        assert!(!is_provided("wasi:clocks/timezone@0.2.6"));
        assert!(!is_provided("my-function"));
    }
}
