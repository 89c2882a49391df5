//! The Python plugin tool (`guest-py/` in the repository), carried inside
//! `warden` so `warden build` works wherever the binary is: its files are
//! written to a temporary directory and run with `python3`.

use std::path::Path;
use std::process::Command;

use super::Failure;

/// The tool's files, at their paths relative to the repository root (the
/// tool finds `wit/node.wit` beside its own directory).
const FILES: [(&str, &str); 5] = [
    (
        "guest-py/warden_py.py",
        include_str!("../../../guest-py/warden_py.py"),
    ),
    (
        "guest-py/warden_guest/__init__.py",
        include_str!("../../../guest-py/warden_guest/__init__.py"),
    ),
    (
        "guest-py/warden_guest/_glue.py",
        include_str!("../../../guest-py/warden_guest/_glue.py"),
    ),
    (
        "guest-py/warden_guest/msgpack.py",
        include_str!("../../../guest-py/warden_guest/msgpack.py"),
    ),
    ("wit/node.wit", include_str!("../../../wit/node.wit")),
];

/// Builds the Python module `module` (in project `dir`) into `out`.
pub(crate) fn build(dir: &Path, module: &Path, out: &Path) -> Result<(), Failure> {
    let tool = unpack()?;
    let mut cmd = Command::new(python());
    cmd.current_dir(dir)
        .arg(tool.path().join("guest-py/warden_py.py"))
        .arg("build")
        .arg(module)
        .arg("-o")
        .arg(std::path::absolute(out).unwrap_or_else(|_| out.to_owned()));
    super::build::run_tool(
        cmd,
        "the Python plugin tool",
        "install Python 3 and componentize-py (`pip install componentize-py`)",
    )
}

/// `python3`, or what `WARDEN_PYTHON` names.
fn python() -> std::ffi::OsString {
    std::env::var_os("WARDEN_PYTHON").unwrap_or_else(|| "python3".into())
}

/// A temporary directory holding the tool; removed when dropped.
struct Unpacked(std::path::PathBuf);

impl Unpacked {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unpack() -> Result<Unpacked, Failure> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("warden-guest-py-{}-{n}", std::process::id()));
    let unpacked = Unpacked(root.clone());
    for (path, text) in FILES {
        let file = root.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Failure::new(
                    "build",
                    format!("cannot create `{}`: {e}", parent.display()),
                )
            })?;
        }
        std::fs::write(&file, text).map_err(|e| {
            Failure::new("build", format!("cannot write `{}`: {e}", file.display()))
        })?;
    }
    Ok(unpacked)
}
