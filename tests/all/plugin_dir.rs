//! The watched plugin directory: drop in, replace, remove, slow copies,
//! renames, broken files, manifests and the compiled cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;
use tokio::sync::oneshot;
use warden_host::ErrorKind;
use warden_host::plugins::{CompiledCache, DirConfig, Manifest, PluginDir, Plugins};
use warden_host::proto::PluginState;

use crate::support::{eventually, example, mp, root, runtime, test_plugin};

/// A watched directory in a temp dir, with its own state dir for the cache.
struct Watched {
    dir: tempfile::TempDir,
    _state: tempfile::TempDir,
    plugins: Plugins,
    handle: Arc<PluginDir>,
    stop: Option<oneshot::Sender<()>>,
}

impl Watched {
    fn new() -> Watched {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        Self::with(dir, state)
    }

    fn with(dir: tempfile::TempDir, state: tempfile::TempDir) -> Watched {
        Self::configured(dir, state, DirConfig::default())
    }

    fn configured(dir: tempfile::TempDir, state: tempfile::TempDir, config: DirConfig) -> Watched {
        let plugins = Plugins::default();
        let cache = CompiledCache::new(state.path().join("cache"), runtime().engine());
        let handle = Arc::new(PluginDir::new(
            dir.path(),
            runtime().clone(),
            Some(cache),
            config,
            plugins.clone(),
        ));
        Watched {
            dir,
            _state: state,
            plugins,
            handle,
            stop: None,
        }
    }

    /// Scans once, then keeps watching in the background.
    fn start(&mut self) {
        self.handle.scan_settled().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(self.handle.clone().watch(async {
            let _ = stopped.await;
        }));
        self.stop = Some(stop);
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    async fn call(&self, node: &str, args: &str) -> Result<Value, warden_host::CallError> {
        let registry = self.plugins.snapshot();
        let Ok((served, name)) = registry.resolve(node) else {
            return Err(warden_host::CallError::new(ErrorKind::NotFound, node));
        };
        served.plugin.call(name, mp(args), Default::default()).await
    }

    fn serves(&self, node: &str) -> bool {
        let registry = self.plugins.snapshot();
        registry
            .resolve(node)
            .is_ok_and(|(s, n)| s.plugin.node(n).is_some())
    }

    fn failure(&self, plugin: &str) -> Option<String> {
        let registry = self.plugins.snapshot();
        registry
            .failed()
            .find(|(n, _)| *n == plugin)
            .map(|(_, f)| f.reason.clone())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_in_plugin_is_served_and_a_removed_one_is_not() {
    let mut w = Watched::new();
    w.start();
    assert!(!w.serves("math/add"));
    copy(&example("math"), &w.path("math.wasm"));
    assert!(
        eventually(30, || w.serves("math/add")).await,
        "math was picked up"
    );
    assert_eq!(w.call("math/add", "[2, 3]").await.unwrap(), Value::from(5));
    let status = w.plugins.status();
    assert_eq!(status.plugins[0].name, "math");
    assert_eq!(status.plugins[0].state, PluginState::Ready);
    assert!(
        status.plugins[0]
            .version
            .as_deref()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(status.plugins[0].loaded_at.is_some());

    std::fs::remove_file(w.path("math.wasm")).unwrap();
    assert!(
        eventually(30, || !w.serves("math/add")).await,
        "math was removed"
    );
    assert!(w.plugins.status().plugins.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_plugin_lets_running_calls_finish_on_the_old_version() {
    let mut w = Watched::new();
    copy(&example("math"), &w.path("calc.wasm"));
    w.start();
    assert!(w.serves("calc/slow-sum"));
    // A call that takes about half a second, on the old version.
    let old = w.plugins.snapshot().get("calc").unwrap().clone();
    let running = tokio::spawn(async move {
        old.plugin
            .call("slow-sum", mp("[5, 100]"), Default::default())
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Replace calc with different code, atomically (write elsewhere, rename).
    copy(&example("text"), &w.path("calc.tmp"));
    std::fs::rename(w.path("calc.tmp"), w.path("calc.wasm")).unwrap();
    assert!(
        eventually(30, || w.serves("calc/strings/upper")).await,
        "the new version is served"
    );
    assert!(!w.serves("calc/slow-sum"), "the old nodes are gone");
    assert_eq!(
        w.call("calc/strings/upper", r#"["new"]"#).await.unwrap(),
        Value::from("NEW")
    );
    assert_eq!(
        running.await.unwrap().unwrap(),
        Value::from(15),
        "the old call finished on the old version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_copied_file_is_not_loaded_half_way() {
    let mut w = Watched::new();
    w.start();
    let bytes = std::fs::read(example("math")).unwrap();
    let target = w.path("slow.wasm");
    let mut file = std::fs::File::create(&target).unwrap();
    // Write in pieces with short pauses (shorter than the quiet period).
    let pieces = bytes.chunks(bytes.len() / 20 + 1).collect::<Vec<_>>();
    for piece in pieces {
        std::io::Write::write_all(&mut file, piece).unwrap();
        std::io::Write::flush(&mut file).unwrap();
        assert!(
            w.failure("slow").is_none(),
            "a half-written file was loaded and failed"
        );
        assert!(!w.serves("slow/add"), "a half-written file was served");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    drop(file);
    assert!(
        eventually(30, || w.serves("slow/add")).await,
        "the finished file is served"
    );
    assert!(w.failure("slow").is_none());
    assert_eq!(w.call("slow/add", "[1, 1]").await.unwrap(), Value::from(2));
}

/// `bytes` with a custom section appended that makes them `len` bytes long
/// (still a valid component).
fn padded(bytes: &[u8], len: usize) -> Vec<u8> {
    let name = b"padding";
    let leb = |mut n: usize| {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    };
    for size_len in 1..=5 {
        let Some(payload) = len.checked_sub(bytes.len() + 1 + size_len + 1 + name.len()) else {
            continue;
        };
        let size = leb(1 + name.len() + payload);
        if size.len() == size_len {
            let mut out = bytes.to_vec();
            out.push(0);
            out.extend(size);
            out.push(name.len() as u8);
            out.extend_from_slice(name);
            out.resize(len, 0);
            return out;
        }
    }
    panic!("cannot pad {} bytes to {len}", bytes.len());
}

/// Compiling starts before a file has settled; if the file then changes
/// without changing its size or modification time, what was compiled is
/// not served: the file is read again once settled, and that is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_while_it_settles_is_served_as_it_ends() {
    // A quiet period far longer than compiling `math` takes, so the rewrite
    // below lands before the file has settled.
    let config = DirConfig {
        quiet: Duration::from_secs(5),
        ..DirConfig::default()
    };
    let mut w = Watched::configured(
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        config,
    );
    w.start();
    let math = std::fs::read(example("math")).unwrap();
    let text = std::fs::read(example("text")).unwrap();
    let len = math.len().max(text.len()) + 100;
    let target = w.path("swap.wasm");
    std::fs::write(&target, padded(&math, len)).unwrap();
    let modified = std::fs::metadata(&target).unwrap().modified().unwrap();
    // Compiled (and cached) already, long before the file settles.
    assert!(
        eventually(30, || w.handle.cache_stats().misses == 1).await,
        "the file was compiled before it settled"
    );
    assert!(!w.serves("swap/add"), "served before it settled");
    // The same size and time, other bytes: put in place by a rename, so
    // no scan ever sees a different size or time.
    let staged = w.path("swap.part");
    std::fs::write(&staged, padded(&text, len)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&staged)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::rename(&staged, &target).unwrap();
    assert!(
        eventually(30, || {
            assert!(
                !w.serves("swap/add"),
                "the bytes compiled early were served"
            );
            w.serves("swap/strings/upper")
        })
        .await,
        "the file as it ended is served"
    );
    assert!(w.failure("swap").is_none());
    assert_eq!(w.handle.cache_stats().misses, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_files_are_reported_and_harmless_and_fixing_them_works() {
    let mut w = Watched::new();
    copy(&example("math"), &w.path("math.wasm"));
    std::fs::write(w.path("garbage.wasm"), b"this is not wasm").unwrap();
    std::fs::write(w.path("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    copy(&test_plugin("uses_kv"), &w.path("needs-kv.wasm"));
    copy(&example("text"), &w.path("badmanifest.wasm"));
    std::fs::write(w.path("badmanifest.toml"), "memroy = 1\n").unwrap();
    copy(&example("text"), &w.path("bad name.wasm"));
    w.start();

    assert!(
        w.serves("math/add"),
        "the good plugin is served next to the broken ones"
    );
    let garbage = w.failure("garbage").unwrap();
    assert!(
        garbage.contains("garbage.wasm") && garbage.contains("magic bytes"),
        "{garbage}"
    );
    let core = w.failure("core").unwrap();
    assert!(
        core.contains("core WebAssembly module") && core.contains("wasm32-wasip2"),
        "{core}"
    );
    let kv = w.failure("needs-kv").unwrap();
    assert!(
        kv.contains("warden:node/kv") && kv.contains("kv = true"),
        "{kv}"
    );
    let manifest = w.failure("badmanifest").unwrap();
    assert!(
        manifest.contains("badmanifest.toml") && manifest.contains("unknown field `memroy`"),
        "{manifest}"
    );
    let name = w.failure("bad name").unwrap();
    assert!(name.contains("not a plugin name"), "{name}");
    let status = w.plugins.status();
    let failed: Vec<&str> = status
        .plugins
        .iter()
        .filter(|p| p.state == PluginState::Failed)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        failed,
        ["bad name", "badmanifest", "core", "garbage", "needs-kv"]
    );
    assert_eq!(w.call("math/add", "[1, 2]").await.unwrap(), Value::from(3));

    // Fixing a file makes it load.
    std::fs::write(w.path("badmanifest.toml"), "version = \"fixed\"\n").unwrap();
    copy(&example("text"), &w.path("garbage.tmp"));
    std::fs::rename(w.path("garbage.tmp"), w.path("garbage.wasm")).unwrap();
    assert!(
        eventually(30, || w.serves("badmanifest/strings/upper")
            && w.serves("garbage/strings/upper"))
        .await
    );
    assert!(w.failure("badmanifest").is_none() && w.failure("garbage").is_none());
    let status = w.plugins.status();
    let fixed = status
        .plugins
        .iter()
        .find(|p| p.name == "badmanifest")
        .unwrap();
    assert_eq!(fixed.version.as_deref(), Some("fixed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_replacement_keeps_the_previous_version_serving() {
    let mut w = Watched::new();
    copy(&example("math"), &w.path("math.wasm"));
    w.start();
    std::fs::write(w.path("math.tmp"), b"\0asm\x0d\0\x01\0broken").unwrap();
    std::fs::rename(w.path("math.tmp"), w.path("math.wasm")).unwrap();
    assert!(eventually(30, || w.failure("math").is_some()).await);
    assert!(w.failure("math").unwrap().contains("failed to compile"));
    assert_eq!(
        w.call("math/add", "[1, 2]").await.unwrap(),
        Value::from(3),
        "the old version still serves"
    );
    assert_eq!(w.plugins.status().plugins[0].state, PluginState::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_set_limits_version_and_private_nodes() {
    let mut w = Watched::new();
    copy(&example("math"), &w.path("math.wasm"));
    std::fs::write(
        w.path("math.toml"),
        "version = \"1.2.3\"\ndescription = \"sums\"\n[limits]\ntimeout = \"200ms\"\nmax_concurrent_calls = 1\n[access]\nprivate = [\"divide\"]\n",
    )
    .unwrap();
    w.start();
    let registry = w.plugins.snapshot();
    let served = registry.get("math").unwrap();
    assert_eq!(served.version, "1.2.3");
    assert_eq!(served.description.as_deref(), Some("sums"));
    assert_eq!(served.plugin.limits().timeout, Duration::from_millis(200));
    assert!(served.access.is_private("divide"));
    let names: Vec<String> = registry
        .public_nodes()
        .into_iter()
        .map(|(_, n)| n.node.clone())
        .collect();
    assert_eq!(
        names,
        ["math/add", "math/slow-sum"],
        "private nodes are not in the catalog"
    );
    let permit = served.try_start_call().unwrap();
    assert_eq!(
        served.try_start_call().unwrap_err(),
        1,
        "one call at a time"
    );
    drop(permit);
    let err = w.call("math/slow-sum", "[100, 100]").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_uses_the_compiled_cache_and_rebuilds_corrupt_entries() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    copy(&example("math"), &dir.path().join("math.wasm"));
    copy(&example("text"), &dir.path().join("text.wasm"));
    let (dir_path, state_path) = (dir.path().to_owned(), state.path().to_owned());
    // Each call is a (re)start: a new directory watcher and cache over the same state.
    let again = |label| {
        let cache = CompiledCache::new(state_path.join("cache"), runtime().engine());
        let plugins = Plugins::default();
        let handle = PluginDir::new(
            &dir_path,
            runtime().clone(),
            Some(cache),
            DirConfig::default(),
            plugins.clone(),
        );
        handle.scan_settled().unwrap();
        assert!(
            plugins.snapshot().get("math").is_some(),
            "{label}: math is served"
        );
        (handle, plugins)
    };
    let (cold, plugins) = again("cold");
    let stats = cold.cache_stats();
    assert_eq!((stats.hits, stats.misses), (0, 2), "a cold start compiles");
    assert!(!plugins.snapshot().get("math").unwrap().from_cache);

    let (warm, plugins) = again("warm");
    let stats = warm.cache_stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (2, 0),
        "a warm start uses the cache"
    );
    assert!(plugins.snapshot().get("math").unwrap().from_cache);
    assert_eq!(plugins.status().cache.hits, 2);

    // Corrupt every artifact: each is detected, discarded and rebuilt.
    for entry in std::fs::read_dir(state_path.join("cache")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&path).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let (rebuilt, plugins) = again("corrupt");
    let stats = rebuilt.cache_stats();
    assert_eq!(
        (stats.hits, stats.rejected),
        (0, 2),
        "corrupt entries are rejected"
    );
    let registry = plugins.snapshot();
    let (served, name) = registry.resolve("math/add").unwrap();
    assert_eq!(
        served
            .plugin
            .call(name, mp("[1, 1]"), Default::default())
            .await
            .unwrap(),
        Value::from(2)
    );
    let (healed, _) = again("healed");
    assert_eq!(healed.cache_stats().hits, 2, "the rebuilt entries are good");
}

/// Golden files: each `tests/manifests/bad_*.toml` fails with exactly the
/// message in the `.err` beside it. `BLESS=1` rewrites the `.err` files.
#[test]
fn manifest_errors_match_their_golden_files() {
    let dir = root().join("tests/manifests");
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let result = Manifest::parse(&text, Path::new(&name));
        if !name.starts_with("bad_") {
            result.unwrap_or_else(|e| panic!("{name} should parse: {e}"));
            continue;
        }
        let message = result
            .expect_err(&format!("{name} should fail"))
            .to_string();
        let golden = path.with_extension("err");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&golden, format!("{message}\n")).unwrap();
        }
        let expected = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("{} is missing (run with BLESS=1)", golden.display()));
        assert_eq!(message.trim_end(), expected.trim_end(), "{name}");
        assert!(
            message.starts_with(&name),
            "{name}: the message names the file"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbolic_links_are_followed_and_a_dangling_manifest_fails_closed() {
    use std::os::unix::fs::symlink;
    let elsewhere = tempfile::tempdir().unwrap();
    copy(&example("math"), &elsewhere.path().join("math.wasm"));
    std::fs::write(
        elsewhere.path().join("sym.toml"),
        "[access]\nprivate = [\"add\"]\n",
    )
    .unwrap();
    let mut w = Watched::new();
    symlink(elsewhere.path().join("math.wasm"), w.path("sym.wasm")).unwrap();
    symlink(elsewhere.path().join("sym.toml"), w.path("sym.toml")).unwrap();
    copy(&example("math"), &w.path("lone.wasm"));
    symlink(elsewhere.path().join("missing.toml"), w.path("lone.toml")).unwrap();
    symlink(elsewhere.path().join("missing.wasm"), w.path("ghost.wasm")).unwrap();
    w.start();

    // A linked component with a linked manifest: both apply.
    let registry = w.plugins.snapshot();
    let sym = registry.get("sym").expect("a linked component is served");
    assert!(
        sym.access.is_private("add"),
        "the linked manifest's restrictions apply"
    );
    // A manifest link that leads nowhere: the plugin does not load.
    assert!(!w.serves("lone/add"), "fail closed");
    let lone = w.failure("lone").unwrap();
    assert!(lone.contains("lone.toml"), "{lone}");
    // A component link that leads nowhere: reported, not ignored.
    let ghost = w.failure("ghost").unwrap();
    assert!(ghost.contains("ghost.wasm"), "{ghost}");

    // Turning a regular manifest into a link keeps its rules.
    copy(&example("math"), &w.path("plain.wasm"));
    std::fs::write(w.path("plain.toml"), "version = \"1\"\n").unwrap();
    assert!(eventually(30, || w.serves("plain/add")).await);
    std::fs::write(
        elsewhere.path().join("plain.toml"),
        "version = \"2\"\n[access]\nprivate = [\"add\"]\n",
    )
    .unwrap();
    std::fs::remove_file(w.path("plain.toml")).unwrap();
    symlink(elsewhere.path().join("plain.toml"), w.path("plain.toml")).unwrap();
    assert!(
        eventually(30, || w
            .plugins
            .snapshot()
            .get("plain")
            .is_some_and(|p| p.version == "2"))
        .await
    );
    assert!(
        w.plugins
            .snapshot()
            .get("plain")
            .unwrap()
            .access
            .is_private("add")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_range_manifest_is_reported_and_never_panics_the_scanner() {
    let mut w = Watched::new();
    copy(&example("math"), &w.path("math.wasm"));
    std::fs::write(w.path("math.toml"), "version = \"1\"\n").unwrap();
    copy(&example("math"), &w.path("huge.wasm"));
    std::fs::write(w.path("huge.toml"), "[limits]\ntimeout = 1e30\n").unwrap();
    w.start();
    let huge = w.failure("huge").unwrap();
    assert!(
        huge.contains("huge.toml") && huge.contains("limits.timeout") && huge.contains("86400 s"),
        "{huge}"
    );

    // The same value arriving while serving: reported beside the version
    // still served, and the scanner keeps working afterwards.
    std::fs::write(
        w.path("math.toml"),
        "version = \"2\"\n[limits]\ntimeout = 1e30\n",
    )
    .unwrap();
    assert!(eventually(30, || w.failure("math").is_some()).await);
    let status = w.plugins.status();
    let math = status.plugins.iter().find(|p| p.name == "math").unwrap();
    assert_eq!(math.state, PluginState::Ready);
    assert_eq!(math.version.as_deref(), Some("1"));
    assert!(math.error.as_deref().unwrap().contains("limits.timeout"));
    std::fs::write(w.path("math.toml"), "version = \"3\"\n").unwrap();
    assert!(
        eventually(30, || w
            .plugins
            .snapshot()
            .get("math")
            .is_some_and(|p| p.version == "3"))
        .await,
        "the scanner still picks up changes"
    );
    assert!(w.failure("math").is_none());
}
