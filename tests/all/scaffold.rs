//! `warden new`, `warden build` and `warden dev` as an author uses them: a
//! project in each language, generated, built, checked, installed, called,
//! and rebuilt on change while it is served.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::plugins::{repo_root, wasm_target_dir};

/// `warden ARGS` in `cwd`, with the shared wasm target directory so Rust
/// projects reuse the dependencies the other tests built.
fn warden(cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args).output().expect("warden runs")
}

fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(cwd)
        .args(args)
        .env("CARGO_TARGET_DIR", wasm_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUST_LOG")
        .env_remove("WARDEN_LOG");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `warden run FILE NODE ARGS...`, the result as printed.
fn run(file: &Path, node: &str, args: &[&str]) -> String {
    let mut all = vec!["run", file.to_str().unwrap(), node];
    all.extend_from_slice(args);
    let out = warden(Path::new("."), &all);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `warden new NAME --lang LANG` in `dir`, then `warden build --into`.
fn new_and_build(dir: &Path, name: &str, lang: &str, prepare: impl FnOnce(&Path)) -> PathBuf {
    let out = warden(dir, &["new", name, "--lang", lang]);
    assert!(out.status.success(), "{}", text(&out));
    prepare(&dir.join(name));
    let plugins = dir.join("plugins");
    let out = warden(dir, &["build", name, "--into", plugins.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("{name}/hello: func(name: string)")),
        "{report}"
    );
    assert!(
        report.contains("/// Says hello to `name`."),
        "docs reach the check: {report}"
    );
    let wasm = plugins.join(format!("{name}.wasm"));
    assert!(wasm.is_file());
    wasm
}

#[test]
fn a_new_rust_project_builds_checks_installs_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = new_and_build(dir.path(), "greeter-rs", "rust", |_| {});
    assert_eq!(run(&wasm, "hello", &["Ann"]), "\"Hello, Ann!\"");
    assert_eq!(run(&wasm, "add", &["2", "40"]), "42");
}

#[test]
fn a_new_python_project_builds_checks_installs_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = new_and_build(dir.path(), "greeter-py", "python", |_| {});
    assert_eq!(run(&wasm, "hello", &["Ann"]), "\"Hello, Ann!\"");
    assert_eq!(run(&wasm, "add", &["2", "40"]), "42");
}

#[test]
fn a_new_javascript_project_builds_checks_installs_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = new_and_build(dir.path(), "greeter-js", "js", |project| {
        // The packages `npm ci` installed for the JavaScript test plugins
        // (the same componentize-js), instead of a download per test.
        let modules = repo_root().join("tests/plugins-js/node_modules");
        assert!(
            modules.is_dir(),
            "run `npm ci --prefix tests/plugins-js` (.ci/run does)"
        );
        std::os::unix::fs::symlink(modules, project.join("node_modules")).unwrap();
    });
    assert_eq!(run(&wasm, "hello", &["Ann"]), "\"Hello, Ann!\"");
    assert_eq!(run(&wasm, "add", &["2", "40"]), "42");
}

#[test]
fn new_refuses_bad_names_and_existing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path(), &["new", "Bad_Name"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not a plugin name"),
        "{}",
        text(&out)
    );
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let out = warden(dir.path(), &["new", "taken"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let out = warden(dir.path(), &["build", "taken"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not a plugin project"),
        "{}",
        text(&out)
    );
}

/// `warden dev` running, with its stderr lines readable as they come.
struct Dev {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: String,
    state: tempfile::TempDir,
}

impl Dev {
    fn start(project: &Path) -> Dev {
        let state = tempfile::tempdir().unwrap();
        let mut child = command(
            Path::new("."),
            &[
                "dev",
                project.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
            ],
        )
        .arg(state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                println!("dev: {line}");
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut dev = Dev {
            child,
            lines,
            addr: String::new(),
            state,
        };
        let listening = dev.wait_for("warden: listening on ");
        dev.addr = listening
            .split_once(" on ")
            .map(|(_, a)| a.trim().to_owned())
            .unwrap();
        // The first build is served once it has loaded.
        let ready = command(
            Path::new("."),
            &["nodes", "--wait", "300", "--addr", &dev.addr],
        )
        .arg("--state-dir")
        .arg(dev.state.path())
        .output()
        .unwrap();
        assert!(ready.status.success(), "{}", text(&ready));
        dev
    }

    /// The next line containing `needle` (bounded wait).
    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(300)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("`warden dev` never printed `{needle}`: {e}"),
            }
        }
    }

    /// Calls `node` on the dev server.
    fn call(&self, node: &str, args: &[&str]) -> String {
        let mut all = vec!["call", node];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--addr", &self.addr, "--state-dir"]);
        let out = command(Path::new("."), &all)
            .arg(self.state.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dev_rebuilds_on_change_and_keeps_the_last_good_version_when_a_build_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path(), &["new", "live", "--lang", "python"]);
    assert!(out.status.success(), "{}", text(&out));
    let project = dir.path().join("live");
    let app = project.join("app.py");
    let dev = Dev::start(&project);
    assert_eq!(dev.call("live/hello", &["Ann"]), "\"Hello, Ann!\"");

    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, source.replace("Hello, {name}!", "Hi again, {name}!")).unwrap();
    dev.wait_for("rebuilding");
    dev.wait_for("it is served as soon as it is compiled");
    // The server's own log says when new calls get the new version (an
    // 18 MB component takes seconds to compile on a slow machine).
    dev.wait_for("replaced plugin=live");
    assert_eq!(
        dev.call("live/hello", &["Ann"]),
        "\"Hi again, Ann!\"",
        "the new version is served"
    );

    std::fs::write(
        &app,
        source.replace("def hello(name: str)", "def hello(name: dict)"),
    )
    .unwrap();
    let failed = dev.wait_for("build failed");
    assert!(
        failed.contains("still serving the last good version"),
        "{failed}"
    );
    assert_eq!(dev.call("live/hello", &["Ann"]), "\"Hi again, Ann!\"");
}
