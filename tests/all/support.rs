//! Building the example and test plugins from source, once per test run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use warden_host::{Limits, Plugin, Runtime};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    build_plugins::repo_root()
}

#[path = "../build_plugins.rs"]
mod build_plugins;

/// Where all wasm plugins are built, shared by the tests and the README's commands.
pub(crate) fn wasm_target_dir() -> PathBuf {
    build_plugins::wasm_target_dir(&root())
}

/// Builds the wasm32-wasip2 workspace at `workspace` (relative to the root)
/// once and returns the directory holding its `.wasm` files.
fn build_workspace(workspace: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = built.get(workspace) {
        return dir.clone();
    }
    let dir = build_plugins::build_wasm_workspace(&root(), workspace);
    built.insert(workspace.to_owned(), dir.clone());
    dir
}

/// The path of example plugin `name` (`math`, `text`), built if needed.
pub(crate) fn example(name: &str) -> PathBuf {
    build_workspace("examples/plugins").join(format!("{name}.wasm"))
}

/// The path of test plugin `name` (`types`, `hostile`), built if needed.
pub(crate) fn test_plugin(name: &str) -> PathBuf {
    build_workspace("tests/plugins").join(format!("{name}.wasm"))
}

/// One runtime shared by the tests of this binary, as a host would share it.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().expect("the engine starts"))
}

/// Loads `path` as plugin `name` with `limits` on the shared runtime.
pub(crate) fn load(name: &str, path: &Path, limits: Limits) -> Plugin {
    runtime()
        .load_file(name, path, limits)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
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
