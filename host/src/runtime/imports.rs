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

/// The manifest line a `warden:node` or `wasi:http` import needs before it
/// does anything, e.g. `kv = true`.
pub(crate) fn grant_line(name: &str) -> Option<&'static str> {
    let path = name.split('@').next().unwrap_or(name);
    if path == "wasi:http/outgoing-handler" {
        return Some("http = [\"https://api.example.com\"]");
    }
    let iface = path.strip_prefix("warden:node/")?;
    crate::caps::INTERFACES
        .iter()
        .find(|(n, _)| *n == iface)
        .and_then(|(_, line)| *line)
}

/// What would make an import this host does not provide go away.
pub(crate) fn fix_hint(name: &str) -> String {
    let path = name.split('@').next().unwrap_or(name);
    let version = name.split_once('@').map(|(_, v)| v);
    let package = path.split('/').next().unwrap_or(path);
    if let Some((_, interfaces)) = WASI.iter().find(|(p, _)| *p == package) {
        let interface = path.split_once('/').map_or("", |(_, i)| i);
        if !version.is_some_and(|v| v.starts_with("0.2.")) {
            return format!(
                "this host provides {package} 0.2.x; build against WASI 0.2 (the wasm32-wasip2 target, \
                 componentize-py, componentize-js)"
            );
        }
        if !interfaces.contains(&interface) {
            return match path {
                "wasi:http/incoming-handler" => {
                    "plugins are functions, not HTTP servers: export functions instead \
                     (componentize-js: build with `-d fetch-event`)"
                        .into()
                }
                _ => format!(
                    "{package} here has {}; remove the use of `{interface}` from the plugin",
                    interfaces.join(", ")
                ),
            };
        }
    }
    if package.starts_with("wasi:") {
        return format!(
            "{package} is not linked; remove what uses it (componentize-js: `-d <feature>` disables \
             built-in features; componentize-py: `--stub-wasi` stubs WASI)"
        );
    }
    format!(
        "no host provides `{name}`: plugins may import only {PROVIDED}; \
         compose the component that exports it into this one (e.g. with `wac plug`)"
    )
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

    #[test]
    fn grants_and_fixes_are_named() {
        assert_eq!(grant_line("warden:node/kv@0.1.0"), Some("kv = true"));
        assert_eq!(grant_line("warden:node/log@0.1.0"), None);
        assert!(
            grant_line("wasi:http/outgoing-handler@0.2.3").is_some_and(|l| l.starts_with("http"))
        );
        assert!(fix_hint("wasi:http/incoming-handler@0.2.0").contains("fetch-event"));
        assert!(fix_hint("wasi:io/streams@0.3.0").contains("0.2"));
        assert!(fix_hint("wasi:keyvalue/store@0.2.0").contains("not linked"));
        assert!(fix_hint("acme:db/query").contains("wac plug"));
    }
}
