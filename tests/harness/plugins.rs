//! Building the example and test plugins from source, once per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The repository root (the parent of `host/`, whose manifest builds the
/// tests and benchmarks that include this harness).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Where every wasm plugin is built, shared by the tests, the benchmarks and
/// the README's commands: `ROOT/target/wasm-plugins`.
pub(crate) fn wasm_target_dir() -> PathBuf {
    repo_root().join("target").join("wasm-plugins")
}

/// Builds the workspace at `ROOT/workspace` for wasm32-wasip2 (release) and
/// returns the directory holding its `.wasm` files.
///
/// # Panics
///
/// When cargo cannot run or the build fails, with what to check.
fn build_wasm_workspace(workspace: &str) -> PathBuf {
    let manifest = repo_root().join(workspace).join("Cargo.toml");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", wasm_target_dir())
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building {} failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)",
        manifest.display()
    );
    wasm_target_dir().join("wasm32-wasip2").join("release")
}

/// Builds the wasm32-wasip2 workspace at `workspace` (relative to the root)
/// once per process and returns the directory holding its `.wasm` files.
fn built(workspace: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = built.get(workspace) {
        return dir.clone();
    }
    let dir = build_wasm_workspace(workspace);
    built.insert(workspace.to_owned(), dir.clone());
    dir
}

/// Whether `out` is missing or older than the newest of `sources`.
fn stale(out: &Path, sources: impl IntoIterator<Item = PathBuf>) -> bool {
    let modified = |f: &Path| std::fs::metadata(f).and_then(|m| m.modified()).ok();
    let newest_source = sources.into_iter().filter_map(|f| modified(&f)).max();
    let built = modified(out);
    built.is_none() || built < newest_source
}

/// The path of example plugin `name` (`math`, `text`, ...), built if needed.
pub(crate) fn example(name: &str) -> PathBuf {
    built("examples/plugins").join(format!("{name}.wasm"))
}

/// The path of test plugin `name` (`types`, `hostile`, ...), built if needed.
pub(crate) fn test_plugin(name: &str) -> PathBuf {
    built("tests/plugins").join(format!("{name}.wasm"))
}

/// `tests/plugins/python` built with componentize-py (CPython inside, about
/// 18 MB), unless the output is newer than its sources.
pub(crate) fn python_greeter() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _built = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let src = repo_root().join("tests/plugins/python");
    let out = wasm_target_dir().join("python").join("greeter.wasm");
    if stale(&out, ["app.py", "wit/greeter.wit"].map(|f| src.join(f))) {
        std::fs::create_dir_all(out.parent().expect("a parent")).expect("mkdir");
        let status = Command::new("componentize-py")
            .current_dir(&src)
            .args(["-d", "wit", "-w", "greeter", "componentize", "app", "-o"])
            .arg(&out)
            .status()
            .expect("componentize-py is installed (`pip install componentize-py`)");
        assert!(status.success(), "componentize-py failed");
    }
    out
}

/// `tests/plugins-py/NAME/app.py` built with `guest-py/warden_py.py` (which
/// runs componentize-py) into `target/wasm-plugins/python-tool/NAME.wasm`,
/// unless the output is newer than the plugin and the tool.
pub(crate) fn python_tool_plugin(name: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _built = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let app = root.join("tests/plugins-py").join(name).join("app.py");
    let out = wasm_target_dir()
        .join("python-tool")
        .join(format!("{name}.wasm"));
    let tool = root.join("guest-py");
    let sources = [
        app.clone(),
        tool.join("warden_py.py"),
        tool.join("warden_guest/__init__.py"),
        tool.join("warden_guest/_glue.py"),
        tool.join("warden_guest/msgpack.py"),
        root.join("wit/node.wit"),
    ];
    if stale(&out, sources) {
        let output = Command::new("python3")
            .arg(tool.join("warden_py.py"))
            .arg("build")
            .arg(&app)
            .arg("-o")
            .arg(&out)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "warden_py.py build {} failed (is componentize-py installed? `pip install componentize-py`):\n{}",
            app.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    out
}

/// `tests/plugins-js/NAME` built with componentize-js (default flags, so it
/// imports `wasi:http`), unless the output is newer than its sources.
pub(crate) fn js_plugin(name: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _built = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root().join("tests/plugins-js");
    let src = root.join(name);
    let out = wasm_target_dir().join("js").join(format!("{name}.wasm"));
    let script = format!("{name}.js");
    if stale(
        &out,
        [script.as_str(), "wit/world.wit"].map(|f| src.join(f)),
    ) {
        let tool = root.join("node_modules/.bin/componentize-js");
        assert!(
            tool.exists(),
            "componentize-js is missing: run `npm ci --prefix tests/plugins-js` (.ci/run does)"
        );
        std::fs::create_dir_all(out.parent().expect("a parent")).expect("mkdir");
        let status = Command::new(&tool)
            .current_dir(&src)
            .args(["--wit", "wit", "-o"])
            .arg(&out)
            .arg(&script)
            .status()
            .expect("componentize-js runs (node is installed)");
        assert!(status.success(), "componentize-js failed for {name}");
    }
    out
}
