//! Helpers the tests share besides the harness: loading plugins in process
//! and turning JSON into call arguments.

use std::path::{Path, PathBuf};

use warden_host::{Limits, Plugin, Runtime};

pub(crate) use crate::harness::plugins::{example, python_greeter, test_plugin};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    crate::harness::plugins::repo_root()
}

/// One runtime shared by the tests of this binary, as a host would share it.
pub(crate) fn runtime() -> &'static Runtime {
    crate::harness::server::shared_runtime()
}

/// Loads `path` as plugin `name` with `limits` on the shared runtime.
pub(crate) fn load(name: &str, path: &Path, limits: Limits) -> Plugin {
    runtime()
        .load_file(name, path, limits)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// Runs the `warden` binary with `args` (no log settings from the
/// environment) and waits for it.
pub(crate) fn warden(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("WARDEN_LOG")
        .output()
        .expect("warden runs")
}

/// A map with string keys, in order (as records arrive).
pub(crate) fn map(entries: &[(&str, rmpv::Value)]) -> rmpv::Value {
    rmpv::Value::Map(
        entries
            .iter()
            .map(|(k, v)| (rmpv::Value::from(*k), v.clone()))
            .collect(),
    )
}

/// A record `{x, y}` of two `f64`s.
pub(crate) fn point(x: f64, y: f64) -> rmpv::Value {
    map(&[("x", rmpv::Value::F64(x)), ("y", rmpv::Value::F64(y))])
}

/// An array of strings.
pub(crate) fn strings(items: &[&str]) -> rmpv::Value {
    rmpv::Value::Array(items.iter().map(|s| rmpv::Value::from(*s)).collect())
}

/// Parses JSON text into msgpack the way the CLI does.
pub(crate) fn mp(json: &str) -> rmpv::Value {
    warden_host::json::to_msgpack(&serde_json::from_str(json).expect("valid JSON in test"))
}

/// Polls `condition` every 20 ms for up to `secs` seconds (generous bounds:
/// the whole suite shares 2 cores); whether it became true.
pub(crate) async fn eventually(secs: u64, mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 50 {
        if condition() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    condition()
}
