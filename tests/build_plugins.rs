//! Building a wasm32-wasip2 plugin workspace from source, shared by the
//! integration tests (`tests/all/support.rs`) and the benchmarks
//! (`host/benches/*.rs`), which include this file with `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the parent of `host/`, whose manifest builds the
/// tests and benchmarks that include this file).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Where every wasm plugin is built, shared by the tests, the benchmarks and
/// the README's commands: `ROOT/target/wasm-plugins`.
pub(crate) fn wasm_target_dir(root: &Path) -> PathBuf {
    root.join("target").join("wasm-plugins")
}

/// Builds the workspace at `ROOT/workspace` for wasm32-wasip2 (release) and
/// returns the directory holding its `.wasm` files.
///
/// # Panics
///
/// When cargo cannot run or the build fails, with what to check.
pub(crate) fn build_wasm_workspace(root: &Path, workspace: &str) -> PathBuf {
    let manifest = root.join(workspace).join("Cargo.toml");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", wasm_target_dir(root))
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
    wasm_target_dir(root).join("wasm32-wasip2").join("release")
}
