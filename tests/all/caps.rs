//! Capabilities: each grant works for a plugin that has it and is refused,
//! with a message naming the grant, for one that has not. The `caps` test
//! plugin tries every capability; each test gives copies of it different
//! manifests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rmpv::Value;
use warden_host::host::{CallIo, Origin, Wait};
use warden_host::{CallError, ErrorKind};

use crate::support::{example, mp, runtime, test_plugin};

/// A plugin directory and a state directory, loaded once by a real host
/// (not watched), whose nodes are called the way `invoke` calls them
/// (private nodes reachable).
pub(crate) struct Host {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) state: Arc<tempfile::TempDir>,
    host: OnceLock<warden_host::Host>,
}

impl Host {
    pub(crate) fn new() -> Host {
        Self::with_state(Arc::new(tempfile::tempdir().unwrap()))
    }

    /// A host on an existing state directory: a restart.
    pub(crate) fn with_state(state: Arc<tempfile::TempDir>) -> Host {
        Host {
            dir: tempfile::tempdir().unwrap(),
            state,
            host: OnceLock::new(),
        }
    }

    /// Adds `wasm` as plugin `name` with manifest text `manifest`.
    pub(crate) fn add(&self, name: &str, wasm: &Path, manifest: &str) -> &Self {
        std::fs::copy(wasm, self.dir.path().join(format!("{name}.wasm"))).unwrap();
        if !manifest.is_empty() {
            std::fs::write(self.dir.path().join(format!("{name}.toml")), manifest).unwrap();
        }
        self
    }

    /// Starts the host on the directory and waits until everything loaded.
    pub(crate) fn load(&self) {
        let host = warden_host::Host::builder()
            .runtime(runtime().clone())
            .state_dir(self.state.path())
            .plugin_dir(self.dir.path())
            .watch(false)
            .build()
            .unwrap();
        host.plugin_dir().unwrap().scan_settled().unwrap();
        assert!(self.host.set(host).is_ok(), "loaded once");
    }

    fn host(&self) -> &warden_host::Host {
        self.host.get().expect("Host::load first")
    }

    pub(crate) fn failure(&self, plugin: &str) -> Option<String> {
        let registry = self.host().plugins().snapshot();
        registry
            .failed()
            .find(|(n, _)| *n == plugin)
            .map(|(_, f)| f.reason.clone())
    }

    /// Calls `node` with JSON args as another node's `invoke` would.
    pub(crate) async fn call(&self, node: &str, args: &str) -> Result<Value, CallError> {
        let origin = Origin::Node { chain: &[] };
        let admitted = self.host().admit(origin, node, None, Wait::No).await?;
        admitted.run(mp(args), CallIo::default()).await
    }

    /// Stores `bytes` in the host's blob store; the reference.
    pub(crate) async fn put_blob(&self, bytes: &[u8]) -> String {
        let who = warden_host::access::Identity::Open;
        let mut upload = self.host().blob_put(&who, None).await.unwrap();
        upload.write(bytes.to_vec()).await.unwrap();
        upload.finish().await.unwrap().reference
    }

    /// The bytes of blob `reference` in the host's blob store.
    pub(crate) async fn get_blob(&self, reference: &str) -> Vec<u8> {
        let who = warden_host::access::Identity::Open;
        let mut download = self.host().blob_get(&who, reference).await.unwrap();
        let mut bytes = Vec::new();
        while let Some(chunk) = download.next_chunk().await.unwrap() {
            bytes.extend(chunk);
        }
        bytes
    }

    /// Calls `node` and expects it to succeed.
    pub(crate) async fn ok(&self, node: &str, args: &str) -> Value {
        self.call(node, args)
            .await
            .unwrap_or_else(|e| panic!("{node} {args}: {e}"))
    }

    /// Calls `node` and expects a node error; its message.
    pub(crate) async fn refused(&self, node: &str, args: &str) -> String {
        match self.call(node, args).await {
            Err(e) if e.kind == ErrorKind::NodeError => e.message,
            other => panic!("{node} {args}: expected a node error, got {other:?}"),
        }
    }
}

/// The grants `caps` needs to load at all (it imports kv, blobs and invoke).
const GRANTS: &str = "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"none/*\"]\n";

fn caps() -> PathBuf {
    test_plugin("caps")
}

fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Binary(b) => b.clone(),
        Value::Array(items) => items.iter().map(|v| v.as_u64().unwrap() as u8).collect(),
        other => panic!("expected bytes, got {other}"),
    }
}

fn msgpack(value: &Value) -> String {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).unwrap();
    serde_json::to_string(&out).unwrap()
}

fn unpack(value: &Value) -> Value {
    rmpv::decode::read_value(&mut bytes(value).as_slice()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_is_private_to_each_plugin_has_a_quota_and_survives_a_restart() {
    let state = Arc::new(tempfile::tempdir().unwrap());
    {
        let host = Host::with_state(state.clone());
        host.add("a", &caps(), &format!("{GRANTS}[limits]\nkv_quota = 64\n"))
            .add("b", &caps(), GRANTS);
        host.load();
        host.ok("a/kv-set", r#"["colour", [98, 108, 117, 101]]"#)
            .await;
        host.ok("a/kv-set", r#"["count", [1]]"#).await;
        assert_eq!(bytes(&host.ok("a/kv-get", r#"["colour"]"#).await), b"blue");
        // Another plugin with the same key sees nothing and cannot list a's keys.
        assert_eq!(host.ok("b/kv-get", r#"["colour"]"#).await, Value::Nil);
        assert_eq!(host.ok("b/kv-list", r#"[""]"#).await, Value::Array(vec![]));
        host.ok("b/kv-set", r#"["colour", [114, 101, 100]]"#).await;
        assert_eq!(bytes(&host.ok("a/kv-get", r#"["colour"]"#).await), b"blue");
        assert_eq!(
            host.ok("a/kv-list", r#"["c"]"#).await,
            mp(r#"["colour", "count"]"#)
        );

        let over = host
            .refused("a/kv-set", &format!(r#"["big", {:?}]"#, vec![0u8; 100]))
            .await;
        assert!(
            over.contains("QuotaExceeded") && over.contains("kv_quota"),
            "{over}"
        );
        let empty = host.refused("a/kv-get", r#"[""]"#).await;
        assert!(empty.contains("Invalid"), "{empty}");
        assert_eq!(
            host.ok("a/kv-delete", r#"["count"]"#).await,
            Value::from(true)
        );
        assert_eq!(
            host.ok("a/kv-delete", r#"["count"]"#).await,
            Value::from(false)
        );
    }
    // A new host on the same state directory: the data is still there.
    let host = Host::with_state(state);
    host.add("a", &caps(), GRANTS).add("b", &caps(), GRANTS);
    host.load();
    assert_eq!(bytes(&host.ok("a/kv-get", r#"["colour"]"#).await), b"blue");
    assert_eq!(bytes(&host.ok("b/kv-get", r#"["colour"]"#).await), b"red");
    assert_eq!(host.ok("a/kv-get", r#"["count"]"#).await, Value::Nil);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_imports_fail_to_load_naming_the_grant_and_the_manifest_line() {
    let host = Host::new();
    host.add("nothing", &caps(), "")
        .add("kv-only", &caps(), "[grants]\nkv = true\n")
        .add(
            "everything",
            &caps(),
            "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"math/*\"]\n",
        )
        .add("counter", &test_plugin("uses_kv"), "[grants]\nkv = true\n")
        .add("no-kv", &test_plugin("uses_kv"), "");
    host.load();

    let nothing = host
        .failure("nothing")
        .expect("caps without grants does not load");
    assert!(
        nothing.contains("plugin `nothing` imports `warden:node/")
            && nothing.contains("is not granted")
            && nothing.contains("under `[grants]`")
            && nothing.contains("nothing.toml"),
        "{nothing}"
    );
    let no_kv = host.failure("no-kv").unwrap();
    assert!(
        no_kv.contains("warden:node/kv") && no_kv.contains("add `kv = true` under `[grants]`"),
        "{no_kv}"
    );
    let kv_only = host.failure("kv-only").unwrap();
    assert!(
        kv_only.contains("warden:node/blobs") || kv_only.contains("warden:node/invoke"),
        "{kv_only}"
    );
    assert!(host.failure("everything").is_none());
    assert_eq!(host.ok("counter/bump", "[]").await, Value::from(1));
    assert_eq!(host.ok("counter/bump", "[]").await, Value::from(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_content_addressed_read_only_grants_cannot_write_and_they_persist() {
    let state = Arc::new(tempfile::tempdir().unwrap());
    let all = "kv = true\ninvoke = [\"none/*\"]\n";
    let reference;
    {
        let host = Host::with_state(state.clone());
        host.add(
            "writer",
            &caps(),
            &format!("[grants]\n{all}blobs = \"read-write\"\n"),
        )
        .add(
            "reader",
            &caps(),
            &format!("[grants]\n{all}blobs = \"read\"\n"),
        );
        host.load();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let put = host.ok("writer/blob-put", &format!("[{data:?}]")).await;
        reference = put.as_str().unwrap().to_owned();
        assert_eq!(
            reference,
            format!("blake3:{}", blake3::hash(&data).to_hex())
        );
        // The reader gets it by reference but cannot write.
        assert_eq!(
            bytes(
                &host
                    .ok("reader/blob-get", &format!(r#"["{reference}"]"#))
                    .await
            ),
            data
        );
        assert_eq!(
            host.ok("reader/blob-size", &format!(r#"["{reference}"]"#))
                .await,
            Value::from(5000)
        );
        let denied = host.refused("reader/blob-put", "[[1, 2, 3]]").await;
        assert!(
            denied.contains("Denied") && denied.contains("blobs = \\\"read-write\\\""),
            "{denied}"
        );
        let bad = host.refused("reader/blob-get", r#"["sha1:abc"]"#).await;
        assert!(bad.contains("Invalid") && bad.contains("blake3:"), "{bad}");
        let missing = format!("blake3:{}", "0".repeat(64));
        assert_eq!(
            host.ok("reader/blob-size", &format!(r#"["{missing}"]"#))
                .await,
            Value::Nil
        );
        let gone = host
            .refused("reader/blob-get", &format!(r#"["{missing}"]"#))
            .await;
        assert!(gone.contains("NotFound"), "{gone}");
    }
    let host = Host::with_state(state);
    host.add(
        "reader",
        &caps(),
        &format!("[grants]\n{all}blobs = \"read\"\n"),
    );
    host.load();
    assert_eq!(
        host.ok("reader/blob-size", &format!(r#"["{reference}"]"#))
            .await,
        Value::from(5000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_follows_the_patterns_reaches_private_nodes_and_ends_cycles() {
    let host = Host::new();
    let grants = "kv = true\nblobs = \"read\"\n";
    host.add("math", &example("math"), "")
        .add("text", &example("text"), "")
        .add(
            "vault",
            &caps(),
            &format!("[grants]\n{grants}invoke = [\"none/*\"]\n[access]\nprivate = [\"secret\"]\n"),
        )
        .add(
            "caller",
            &caps(),
            &format!("[grants]\n{grants}invoke = [\"math/*\", \"vault/secret\"]\n"),
        )
        .add(
            "loop",
            &caps(),
            &format!("[grants]\n{grants}invoke = [\"loop/*\"]\n"),
        );
    host.load();

    let args = msgpack(&mp("[2, 3]"));
    let sum = host
        .ok("caller/call", &format!(r#"["math/add", {args}]"#))
        .await;
    assert_eq!(unpack(&sum), Value::from(5));

    let upper_args = msgpack(&mp(r#"["hi"]"#));
    let denied = host
        .refused("caller/call", &format!(r#"["text/upper", {upper_args}]"#))
        .await;
    assert!(
        denied.contains("Denied")
            && denied.contains("may not invoke `text/upper`")
            && denied.contains("grants.invoke"),
        "{denied}"
    );
    let secret = host
        .ok(
            "caller/call",
            &format!(r#"["vault/secret", {}]"#, msgpack(&mp("[]"))),
        )
        .await;
    assert_eq!(unpack(&secret), Value::from("the secret"));

    let missing = host
        .refused("caller/call", &format!(r#"["math/nope", {args}]"#))
        .await;
    assert!(missing.contains("NotFound"), "{missing}");
    let garbage = host.refused("caller/call", r#"["math/add", [193]]"#).await;
    assert!(garbage.contains("Invalid"), "{garbage}");

    // loop/cycle invokes itself until the chain is too deep; it ends with an error.
    let cycle = host.refused("loop/cycle", r#"["loop"]"#).await;
    assert!(cycle.contains("invoke chain too deep"), "{cycle}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_are_confined_read_only_unless_granted_and_env_is_only_what_is_given() {
    let host = Host::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let data = outside.path().join("data");
    let out = outside.path().join("out");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(data.join("hello.txt"), "hello from the host").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), data.join("link.txt")).unwrap();
    let manifest = format!(
        "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"none/*\"]\nenv = {{ GREETING = \"hi\" }}\n\
         dirs = [{{ host = \"{}\", guest = \"/data\" }}, {{ host = \"{}\", guest = \"/out\", write = true }}]\n",
        data.display(),
        out.display()
    );
    host.add("files", &caps(), &manifest);
    host.load();
    assert!(
        host.failure("files").is_none(),
        "{:?}",
        host.failure("files")
    );

    assert_eq!(
        host.ok("files/read-file", r#"["/data/hello.txt"]"#).await,
        Value::from("hello from the host")
    );
    for escape in [
        "/data/../secret.txt",
        "/data/link.txt",
        "/secret.txt",
        "/etc/passwd",
    ] {
        let refused = host
            .refused("files/read-file", &format!(r#"["{escape}"]"#))
            .await;
        assert!(!refused.contains("top secret"), "{escape}: {refused}");
    }
    let read_only = host
        .refused("files/write-file", r#"["/data/new.txt", "x"]"#)
        .await;
    assert!(!read_only.is_empty());
    assert!(
        !data.join("new.txt").exists(),
        "a read-only grant was written to"
    );
    host.ok("files/write-file", r#"["/out/new.txt", "written"]"#)
        .await;
    assert_eq!(
        std::fs::read_to_string(out.join("new.txt")).unwrap(),
        "written"
    );

    assert_eq!(
        host.ok("files/env", r#"["GREETING"]"#).await,
        Value::from("hi")
    );
    assert_eq!(host.ok("files/env", r#"["HOME"]"#).await, Value::Nil);
    assert_eq!(
        host.ok("files/env-names", "[]").await,
        mp(r#"["GREETING"]"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_cannot_open_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let host = Host::new();
    host.add("net", &caps(), GRANTS);
    host.load();
    let refused = host.refused("net/connect", &format!(r#"["{addr}"]"#)).await;
    assert!(!refused.is_empty());
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the plugin reached the listener"
    );
}

/// The manifest shipped beside an example plugin's crate.
fn example_manifest(name: &str) -> String {
    let path = crate::support::root().join(format!("examples/plugins/{name}/{name}.toml"));
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notes_and_pipeline_examples_work_with_their_manifests_and_not_without() {
    let host = Host::new();
    host.add("math", &example("math"), "")
        .add("text", &example("text"), "")
        .add("notes", &example("notes"), &example_manifest("notes"))
        .add(
            "pipeline",
            &example("pipeline"),
            &example_manifest("pipeline"),
        )
        .add("bare-pipeline", &example("pipeline"), "")
        .add(
            "read-only-notes",
            &example("notes"),
            "[grants]\nkv = true\nblobs = \"read\"\n",
        );
    host.load();
    assert!(
        host.failure("notes").is_none(),
        "{:?}",
        host.failure("notes")
    );
    let bare = host.failure("bare-pipeline").unwrap();
    assert!(
        bare.contains("warden:node/invoke") && bare.contains("invoke = "),
        "{bare}"
    );

    host.ok("notes/save", r#"["groceries", "eggs, milk"]"#)
        .await;
    host.ok("notes/save", r#"["ideas", "a plugin host"]"#).await;
    assert_eq!(
        host.ok("notes/get", r#"["groceries"]"#).await,
        Value::from("eggs, milk")
    );
    let picture = host.put_blob(b"a picture of eggs").await;
    assert_eq!(
        host.ok("notes/attach", &format!(r#"["groceries", "{picture}"]"#))
            .await,
        Value::from(17)
    );
    assert_eq!(
        host.ok("notes/index", "[]").await,
        mp(
            r#"[{"title": "groceries", "attachment-size": 17}, {"title": "ideas", "attachment-size": null}]"#
        )
    );
    let archive = host.ok("notes/archive", "[]").await;
    let archived = host.get_blob(archive.as_str().unwrap()).await;
    let text = String::from_utf8_lossy(&archived);
    assert!(
        text.contains("# groceries\n\neggs, milk") && text.contains("# ideas"),
        "{text}"
    );
    assert_eq!(
        host.ok("notes/delete", r#"["ideas"]"#).await,
        Value::from(true)
    );
    // Titles stay within the host's key limit: the longest one that fits
    // works end to end, a longer one is refused up front and harms nothing.
    let longest = "t".repeat(1024 - "attachment/".len());
    host.ok("notes/save", &format!(r#"["{longest}", "x"]"#))
        .await;
    let too_long = host
        .refused("notes/save", &format!(r#"["{}", "x"]"#, "t".repeat(1019)))
        .await;
    assert!(too_long.contains("at most 1013 bytes"), "{too_long}");
    let index = host.ok("notes/index", "[]").await;
    assert_eq!(index.as_array().map(Vec::len), Some(2), "{index}");
    assert_eq!(
        host.ok("notes/delete", &format!(r#"["{longest}"]"#)).await,
        Value::from(true)
    );
    let denied = host.refused("read-only-notes/archive", "[]").await;
    assert!(
        denied.contains("denied") && denied.contains("read-write"),
        "{denied}"
    );

    assert_eq!(
        host.ok("pipeline/headline", r#"["hello big world"]"#).await,
        mp(r#"{"title": "HELLO BIG WORLD", "words": 3}"#)
    );
    assert_eq!(
        host.ok("pipeline/total", "[[1, 2, 3, 4]]").await,
        Value::from(10)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoked_node_shares_the_callers_deadline_and_a_trap_comes_back_as_an_error() {
    let host = Host::new();
    host.add("hostile", &test_plugin("hostile"), "[limits]\ntimeout = \"60s\"\n")
        .add(
            "impatient",
            &caps(),
            "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"hostile/*\"]\n[limits]\ntimeout = \"300ms\"\n",
        );
    host.load();
    let none = msgpack(&mp("[]"));
    // hostile/spin would run for 60 s on its own; the chain's deadline is 300 ms.
    let spun = host
        .call("impatient/call", &format!(r#"["hostile/spin", {none}]"#))
        .await;
    let e = spun.expect_err("spinning forever cannot succeed");
    assert!(
        (e.kind == ErrorKind::Timeout)
            || (e.kind == ErrorKind::NodeError && e.message.contains("deadline")),
        "{e}"
    );
    // A callee that traps is an error value for the caller, which goes on.
    let boom = host
        .refused(
            "impatient/call",
            &format!(r#"["hostile/boom", {}]"#, msgpack(&mp(r#"["kaboom"]"#))),
        )
        .await;
    assert!(boom.contains("Failed") && boom.contains("kaboom"), "{boom}");
    let fine = host
        .ok("impatient/call", &format!(r#"["hostile/fine", {none}]"#))
        .await;
    assert!(unpack(&fine).as_str().is_some());
}
