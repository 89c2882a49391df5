//! Cluster mode against a real `nats-server` (started here with `-js` on a
//! free loopback port and a temporary store, and stopped at the end):
//! several hosts in one process, each behind its own QUIC server, joined
//! through NATS.
//!
//! `nats-server` must be installed (`apt-get install -y nats-server`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmpv::Value;
use warden_host::ErrorKind;
use warden_host::cluster::{Cluster, ClusterConfig};
use warden_host::rpc::{CallOpts, ClientError, Event};

use crate::harness::nats::Nats;
use crate::harness::plugins::example;
use crate::harness::server::{Setup, TestServer};
use crate::support::{eventually, mp};

pub(crate) fn cluster(nats: &Nats, host: &str) -> ClusterConfig {
    ClusterConfig {
        host: Some(host.to_owned()),
        name: Some("test".to_owned()),
        ..ClusterConfig::new(nats.url())
    }
}

/// A host serving `plugins` (name, example), joined to the cluster as
/// `id`.
pub(crate) async fn host(nats: &Nats, id: &str, plugins: &[(&str, &str)]) -> (TestServer, Cluster) {
    let setup = plugins.iter().fold(Setup::new(), |setup, (name, ex)| {
        setup.plugin(name, &example(ex), "")
    });
    join(nats, id, setup).await
}

/// Starts `setup` and joins it to the cluster as `id`.
pub(crate) async fn join(nats: &Nats, id: &str, setup: Setup) -> (TestServer, Cluster) {
    let server = setup.start().await;
    let joined = Cluster::join(&server.host, &cluster(nats, id))
        .await
        .expect("the host joins the cluster");
    (server, joined)
}

pub(crate) async fn stop_all(hosts: Vec<(TestServer, Cluster)>) {
    for (server, joined) in hosts {
        joined.leave().await;
        server.stop().await;
    }
}

/// Waits until `cluster` hears from exactly `peers`.
pub(crate) async fn sees(cluster: &Cluster, peers: &[&str]) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if cluster.peers() == peers {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn call_err(result: Result<Value, ClientError>) -> warden_host::CallError {
    match result {
        Err(ClientError::Call(e)) => e,
        other => panic!("expected a call error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_one_catalog_and_calls_through_a_reach_nodes_only_c_serves() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    let (c, cc) = host(&nats, "c", &[("streams", "streams")]).await;
    assert!(sees(&ca, &["b", "c"]).await, "a sees {:?}", ca.peers());
    let client = a.client().await;

    // One catalog, with the hosts serving each plugin.
    let catalog = client.catalog().await.unwrap();
    let names: Vec<&str> = catalog.iter().map(|n| n.node.as_str()).collect();
    for node in ["math/add", "streams/counter/count", "text/strings/upper"] {
        assert!(names.contains(&node), "{node} missing from {names:?}");
    }
    let status = client.status().await.unwrap();
    let hosts = |plugin: &str| {
        status
            .plugins
            .iter()
            .find(|p| p.name == plugin)
            .map(|p| p.hosts.clone())
    };
    assert_eq!(hosts("text"), Some(vec!["a".to_owned()]));
    assert_eq!(hosts("math"), Some(vec!["b".to_owned()]));
    assert_eq!(hosts("streams"), Some(vec!["c".to_owned()]));
    // `warden nodes` on A shows which host serves each plugin.
    let (addr, fingerprint) = (a.addr.clone(), a.fingerprint.clone());
    let table = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["nodes", "--addr", &addr, "--fingerprint", &fingerprint])
            .output()
            .expect("warden runs")
    })
    .await
    .unwrap();
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.lines().next().is_some_and(|h| h.ends_with("HOSTS")),
        "{table}"
    );
    for (plugin, host) in [("math", "b"), ("streams", "c"), ("text", "a")] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(plugin) && l.contains("ready") && l.ends_with(host)),
            "{plugin} on {host}: {table}"
        );
    }
    assert!(table.contains("streams/counter/count"), "{table}");
    let described = client.describe("streams/counter/count").await.unwrap();
    assert_eq!(described.kind.as_str(), "stream");

    // A value, from B.
    assert_eq!(
        client.call("math/add", mp("[2, 3]")).await.unwrap(),
        Value::from(5)
    );
    // Errors keep their kind and details.
    let e = call_err(client.call("math/divide", mp("[1, 0]")).await);
    assert_eq!(e.kind, ErrorKind::NodeError, "{e}");
    assert!(e.details.is_some());
    let e = call_err(client.call("math/add", mp(r#"["x", 1]"#)).await);
    assert_eq!(e.kind, ErrorKind::BadArgs, "{e}");
    let e = call_err(client.call("math/nope", mp("[]")).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    // Progress and log events, from B.
    let mut call = client
        .call_with("math/slow-sum", mp("[5, 10]"), CallOpts::default())
        .await
        .unwrap();
    let mut progress = Vec::new();
    let mut logs = 0;
    while let Some(event) = call.next().await {
        match event {
            Event::Progress { fraction, .. } => progress.push(fraction),
            Event::Log { .. } => logs += 1,
            _ => {}
        }
    }
    assert_eq!(call.result().await.unwrap(), Value::from(15));
    assert_eq!(progress, [0.2, 0.4, 0.6, 0.8, 1.0]);
    assert_eq!(logs, 1);

    // The deadline travels: the serving host ends the call with `timeout`.
    let started = Instant::now();
    let opts = CallOpts {
        deadline: Some(Duration::from_millis(300)),
        ..CallOpts::default()
    };
    let slow = client
        .call_with("math/slow-sum", mp("[100, 100]"), opts)
        .await
        .unwrap();
    let e = slow.result().await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Call(e) if e.kind == ErrorKind::Timeout),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A stream of 2,000 items from C, complete and in order.
    let items: Vec<Result<Value, ClientError>> = client
        .stream("streams/counter/count", mp("[2000, 0]"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2000);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(
            item.as_ref().unwrap(),
            &Value::from(i as u64 + 1),
            "item {i}"
        );
    }

    // A channel to C: input one way, answers the other.
    let (mut sender, mut answers) = client
        .channel("streams/chat/echo", mp(r#"["> "]"#), CallOpts::default())
        .await
        .unwrap();
    let feeding = tokio::spawn(async move {
        for i in 0..200 {
            sender.send(Value::from(format!("m{i}"))).await.unwrap();
        }
        sender.finish();
    });
    let mut got = Vec::new();
    while let Some(event) = answers.next().await {
        if let Event::Item(v) = event {
            got.push(v.as_str().unwrap_or_default().to_owned());
        }
    }
    answers.result().await.unwrap();
    feeding.await.unwrap();
    assert_eq!(got.len(), 201);
    for (i, line) in got[..200].iter().enumerate() {
        assert_eq!(line, &format!("> m{i}"));
    }

    // Arguments and results far over NATS's 1 MiB message cap.
    let big = "ab".repeat(1_500_000);
    assert!(sees(&cc, &["a", "b"]).await, "c sees {:?}", cc.peers());
    let c_client = c.client().await;
    let on_c: Vec<String> = c_client
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert!(
        on_c.iter().any(|n| n == "text/strings/upper"),
        "c's catalog: {on_c:?}"
    );
    // Through C (which has no text plugin) to A.
    let shouted = c_client
        .call(
            "text/strings/upper",
            Value::Array(vec![Value::from(big.as_str())]),
        )
        .await
        .unwrap();
    assert_eq!(shouted.as_str().map(str::len), Some(3_000_000));
    assert!(shouted.as_str().unwrap_or_default().starts_with("ABAB"));
    c_client.close().await;

    client.close().await;
    for (server, joined) in [(a, ca), (b, cb), (c, cc)] {
        joined.leave().await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_with_the_same_plugin_share_the_load() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    let (c, cc) = host(&nats, "c", &[("math", "math")]).await;
    assert!(sees(&ca, &["b", "c"]).await, "a sees {:?}", ca.peers());
    let status = a.client().await.status().await.unwrap();
    let math = status.plugins.iter().find(|p| p.name == "math").unwrap();
    assert_eq!(math.hosts, ["b", "c"]);

    let client = a.client().await;
    // 16 calls of 1 s each at once: both hosts run some.
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.call("math/slow-sum", mp("[10, 100]")).await })
        })
        .collect();
    let (mut on_b, mut on_c) = (0, 0);
    let both = eventually(10, || {
        on_b = on_b.max(b.host.running_calls());
        on_c = on_c.max(c.host.running_calls());
        on_b > 0 && on_c > 0
    })
    .await;
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), Value::from(55));
    }
    assert!(both, "the calls did not spread: b ran {on_b}, c ran {on_c}");
    client.close().await;
    for (server, joined) in [(a, ca), (b, cb), (c, cc)] {
        joined.leave().await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_lost_under_load_ends_its_calls_fast_and_the_others_take_over() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    let (c, cc) = host(&nats, "c", &[("math", "math")]).await;
    assert!(sees(&ca, &["b", "c"]).await, "a sees {:?}", ca.peers());
    let client = a.client().await;
    // Calls of 4 s each: the host is lost while they run.
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = client.call("math/slow-sum", mp("[40, 100]")).await;
                (result, started.elapsed())
            })
        })
        .collect();
    assert!(
        eventually(10, || c.host.running_calls() > 0
            && b.host.running_calls() > 0)
        .await,
        "both hosts should be running calls"
    );
    cc.vanish().await;
    let (mut ok, mut lost) = (0, 0);
    for call in calls {
        let (result, took) = call.await.unwrap();
        // Nothing waits for its deadline (the plugin's 5 s timeout, or the
        // client's): a lost call ends within the silence limit.
        assert!(took < Duration::from_secs(9), "a call took {took:?}");
        match result {
            Ok(v) => {
                assert_eq!(v, Value::from(820));
                ok += 1;
            }
            Err(ClientError::Call(e)) => {
                assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
                lost += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(ok > 0 && lost > 0, "ok {ok}, lost {lost}");
    // C leaves the catalog; later calls all succeed on B.
    assert!(sees(&ca, &["b"]).await, "a still sees {:?}", ca.peers());
    for _ in 0..10 {
        assert_eq!(
            client.call("math/add", mp("[1, 2]")).await.unwrap(),
            Value::from(3)
        );
    }
    client.close().await;
    c.stop().await;
    for (server, joined) in [(a, ca), (b, cb)] {
        joined.leave().await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_leaves_is_gone_at_once_and_its_nodes_are_not_found() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    assert!(sees(&ca, &["b"]).await);
    cb.leave().await;
    assert!(
        eventually(1, || ca.peers().is_empty()).await,
        "a left host stays in the catalog"
    );
    let client = a.client().await;
    let e = call_err(client.call("math/add", mp("[1, 2]")).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    client.close().await;
    b.stop().await;
    ca.leave().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_is_survived() {
    let mut nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    assert!(sees(&ca, &["b"]).await);
    let client = a.client().await;
    assert_eq!(
        client.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    nats.restart();
    // The hosts reconnect, announce again and calls route again.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        match client.call("math/add", mp("[2, 2]")).await {
            Ok(v) => {
                assert_eq!(v, Value::from(4));
                break;
            }
            Err(e) => assert!(Instant::now() < until, "still failing after 20 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sees(&ca, &["b"]).await);
    client.close().await;
    for (server, joined) in [(a, ca), (b, cb)] {
        joined.leave().await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_forwarded_call_cancels_it_on_the_serving_host() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    assert!(sees(&ca, &["b"]).await);
    let client = a.client().await;
    // 10 s of work, with a 60 s deadline.
    let opts = CallOpts {
        deadline: Some(Duration::from_secs(60)),
        ..CallOpts::default()
    };
    let mut call = client
        .call_with("math/slow-sum", mp("[100, 100]"), opts)
        .await
        .unwrap();
    // The first progress event came from B: the call runs there.
    assert!(matches!(
        call.next().await,
        Some(Event::Log { .. } | Event::Progress { .. })
    ));
    assert_eq!(b.host.running_calls(), 1);
    drop(call);
    assert!(
        eventually(3, || b.host.running_calls() == 0).await,
        "the call still runs on b"
    );
    assert!(eventually(3, || a.host.running_calls() == 0).await);
    client.close().await;
    stop_all(vec![(a, ca), (b, cb)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_from_a_plugin_reaches_nodes_on_other_hosts() {
    let nats = Nats::start();
    let manifest = "[grants]\ninvoke = [\"text/*\", \"math/add\"]\n";
    let (a, ca) = join(
        &nats,
        "a",
        Setup::new().plugin("pipeline", &example("pipeline"), manifest),
    )
    .await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    let (c, cc) = host(&nats, "c", &[("text", "text")]).await;
    assert!(sees(&ca, &["b", "c"]).await);
    let client = a.client().await;
    assert_eq!(
        client
            .call("pipeline/total", mp("[[1, 2, 3, 4]]"))
            .await
            .unwrap(),
        Value::from(10)
    );
    let headline = client
        .call("pipeline/headline", mp(r#"["two words"]"#))
        .await
        .unwrap();
    let title = headline
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("title")))
        .map(|(_, v)| v.clone());
    assert_eq!(title, Some(Value::from("TWO WORDS")));
    client.close().await;
    stop_all(vec![(a, ca), (b, cb), (c, cc)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entry_host_checks_callers_and_the_serving_host_its_manifest() {
    use warden_host::access::{AccessConfig, CallerConfig, hash_token};
    use warden_host::host::HostConfig;
    let nats = Nats::start();
    let caller = |name: &str, nodes: &[&str]| CallerConfig {
        name: name.into(),
        token_sha256: hash_token(&format!("wdn_{name}")),
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        blobs: None,
    };
    let config = HostConfig {
        access: Some(AccessConfig {
            anonymous: Vec::new(),
            callers: vec![
                caller("alice", &["*"]),
                caller("bob", &["text/*"]),
                caller("carol", &["*"]),
            ],
        }),
        ..HostConfig::default()
    };
    let (a, ca) = join(
        &nats,
        "a",
        Setup::new()
            .config(config)
            .plugin("text", &example("text"), ""),
    )
    .await;
    let (b, cb) = join(
        &nats,
        "b",
        Setup::new().plugin("math", &example("math"), "").plugin(
            "carols",
            &example("math"),
            "[access]\ncallers = [\"carol\"]\n",
        ),
    )
    .await;
    assert!(sees(&ca, &["b"]).await);
    let as_caller = |name: &'static str| {
        let a = &a;
        async move { a.client_with(Some(&format!("wdn_{name}"))).await.unwrap() }
    };
    let alice = as_caller("alice").await;
    assert_eq!(
        alice.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    // The remote manifest's callers apply, in the catalog and in calls.
    let catalog: Vec<String> = alice
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert!(catalog.contains(&"math/add".to_owned()), "{catalog:?}");
    assert!(
        !catalog.iter().any(|n| n.starts_with("carols/")),
        "{catalog:?}"
    );
    let e = call_err(alice.call("carols/add", mp("[1, 1]")).await);
    assert_eq!(e.kind, ErrorKind::Denied, "{e}");
    let carol = as_caller("carol").await;
    assert_eq!(
        carol.call("carols/add", mp("[2, 2]")).await.unwrap(),
        Value::from(4)
    );
    // The caller's own patterns, on the entry host.
    let bob = as_caller("bob").await;
    let e = call_err(bob.call("math/add", mp("[1, 1]")).await);
    assert_eq!(e.kind, ErrorKind::Denied, "{e}");
    let anonymous = a.client().await;
    let e = call_err(anonymous.call("math/add", mp("[1, 1]")).await);
    assert_eq!(e.kind, ErrorKind::Unauthenticated, "{e}");
    for client in [alice, carol, bob, anonymous] {
        client.close().await;
    }
    stop_all(vec![(a, ca), (b, cb)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_gateway_of_one_host_calls_nodes_of_another() {
    let nats = Nats::start();
    let (a, ca) = join(
        &nats,
        "a",
        Setup::new().http().plugin("text", &example("text"), ""),
    )
    .await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    assert!(sees(&ca, &["b"]).await);
    let base = a.http.clone().expect("the gateway runs");
    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .post(format!("{base}/v1/call/math/add"))
        .body("[20, 22]")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer, serde_json::json!(42));
    let problem = http
        .post(format!("{base}/v1/call/math/divide"))
        .body("[1, 0]")
        .send()
        .await
        .unwrap();
    assert_eq!(problem.status().as_u16(), 422);
    let problem: serde_json::Value = problem.json().await.unwrap();
    assert_eq!(problem["kind"], "node-error");
    stop_all(vec![(a, ca), (b, cb)]).await;
}

/// Serving hosts of plugin `math/add` as host `a` sees them.
/// Host `c`: a real `warden serve` process serving `math`, joined to the
/// cluster; returns once host `a` (`entry`) sees it serve math beside `b`.
/// Kill it with SIGKILL to see what a dying host does.
pub(crate) async fn warden_process_c(
    nats: &Nats,
    entry: &TestServer,
) -> (std::process::Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(example("math"), plugins.join("math.wasm")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("serve")
        .arg(&plugins)
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .args(["--cluster", &nats.url(), "--cluster-name", "test"])
        .args(["--cluster-host", "c"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden starts");
    let until = Instant::now() + Duration::from_secs(60);
    while math_hosts(entry) != ["b", "c"] {
        assert!(
            Instant::now() < until,
            "c never served math: {:?}",
            math_hosts(entry)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, dir)
}

pub(crate) fn math_hosts(a: &TestServer) -> Vec<String> {
    a.host
        .remote()
        .and_then(|r| r.find("math/add"))
        .map(|n| n.hosts)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warden_process_killed_with_sigkill_under_load_hangs_no_call() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    // Host c: a real `warden serve` process, killed with SIGKILL.
    let (mut c, _dir) = crate::cluster::warden_process_c(&nats, &a).await;
    let client = a.client().await;
    // Calls of 4 s each; c is killed while they run.
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let result = client.call("math/slow-sum", mp("[40, 100]")).await;
                (result, Instant::now())
            })
        })
        .collect();
    assert!(
        eventually(10, || a.host.running_calls() == 12).await,
        "the calls did not start"
    );
    // Every call is on b or c by now; b has not all of them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let on_b = b.host.running_calls();
    assert!(on_b < 12, "all calls went to b");
    c.kill().expect("SIGKILL");
    let killed = Instant::now();
    let _ = c.wait();
    let (mut ok, mut lost) = (0, 0);
    for call in calls {
        let (result, ended) = call.await.unwrap();
        assert!(
            ended.saturating_duration_since(killed) < Duration::from_secs(6),
            "a call ended {:?} after the kill",
            ended.saturating_duration_since(killed)
        );
        match result {
            Ok(v) => {
                assert_eq!(v, Value::from(820));
                ok += 1;
            }
            Err(ClientError::Call(e)) => {
                assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
                assert!(e.message.contains("host `c`"), "{}", e.message);
                lost += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((ok, lost), (on_b, 12 - on_b));
    // c leaves the catalog within a few seconds; calls go to b.
    assert!(sees(&ca, &["b"]).await, "a still sees {:?}", ca.peers());
    for _ in 0..10 {
        assert_eq!(
            client.call("math/add", mp("[1, 2]")).await.unwrap(),
            Value::from(3)
        );
    }
    client.close().await;
    stop_all(vec![(a, ca), (b, cb)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_written_through_one_host_is_read_through_another_with_one_quota() {
    use crate::harness::plugins::test_plugin;
    let nats = Nats::start();
    let manifest = "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"none/*\"]\n\
                    [limits]\nkv_quota = 64\n";
    let setup = || {
        Setup::new()
            .plugin("a", &test_plugin("caps"), manifest)
            .plugin("b", &test_plugin("caps"), manifest)
    };
    let (one, c1) = join(&nats, "one", setup()).await;
    let (two, c2) = join(&nats, "two", setup()).await;
    let (on_one, on_two) = (one.client().await, two.client().await);
    // Each host runs its own copy of the plugins: the data is shared.
    on_one
        .call("a/kv-set", mp(r#"["colour", [98, 108, 117, 101]]"#))
        .await
        .unwrap();
    assert_eq!(
        on_two.call("a/kv-get", mp(r#"["colour"]"#)).await.unwrap(),
        Value::Binary(b"blue".to_vec())
    );
    // Plugins stay apart.
    assert_eq!(
        on_two.call("b/kv-get", mp(r#"["colour"]"#)).await.unwrap(),
        Value::Nil
    );
    on_two
        .call("b/kv-set", mp(r#"["colour", [114, 101, 100]]"#))
        .await
        .unwrap();
    assert_eq!(
        on_one.call("a/kv-get", mp(r#"["colour"]"#)).await.unwrap(),
        Value::Binary(b"blue".to_vec())
    );
    let listed = on_two.call("a/kv-list", mp(r#"["co"]"#)).await.unwrap();
    assert_eq!(listed, Value::Array(vec![Value::from("colour")]));
    // One quota across hosts: 10 bytes stored, 42 more through one host,
    // then 22 more through the other would pass 64.
    let forty = format!(r#"["k1", {:?}]"#, vec![1u8; 40]);
    on_one.call("a/kv-set", mp(&forty)).await.unwrap();
    let twenty = format!(r#"["k2", {:?}]"#, vec![1u8; 20]);
    let e = call_err(on_two.call("a/kv-set", mp(&twenty)).await);
    assert_eq!(e.kind, ErrorKind::NodeError, "{e}");
    assert!(e.message.contains("QuotaExceeded"), "{}", e.message);
    // A delete through one host frees the quota for the other.
    assert_eq!(
        on_two.call("a/kv-delete", mp(r#"["k1"]"#)).await.unwrap(),
        Value::from(true)
    );
    on_one.call("a/kv-set", mp(&twenty)).await.unwrap();
    assert_eq!(
        on_two.call("a/kv-get", mp(r#"["k1"]"#)).await.unwrap(),
        Value::Nil
    );
    on_one.close().await;
    on_two.close().await;
    stop_all(vec![(one, c1), (two, c2)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_items_over_the_message_cap_arrive_whole_and_a_slow_reader_holds_the_node_back() {
    use crate::harness::plugins::test_plugin;
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = join(
        &nats,
        "b",
        Setup::new().plugin("streamy", &test_plugin("streamy"), ""),
    )
    .await;
    assert!(sees(&ca, &["b"]).await);
    let client = a.client().await;
    // Items of 2 MiB each, twice NATS's 1 MiB cap.
    let items: Vec<Result<Value, ClientError>> = client
        .stream("streamy/items/blocks", mp("[3, 2097152]"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    for item in &items {
        let item = item.as_ref().unwrap();
        assert_eq!(item.as_str().map(str::len), Some(2 << 20));
    }
    // 10,000 blocks of 64 KiB (640 MiB) read slowly: the node waits for
    // credit instead of the hosts buffering, and dropping the stream stops
    // it on b.
    let mut stream = client
        .call_with(
            "streamy/items/blocks",
            mp("[10000, 65536]"),
            CallOpts::default(),
        )
        .await
        .unwrap();
    let mut read = 0;
    while read < 5 {
        match stream.next().await {
            Some(Event::Item(_)) => read += 1,
            Some(_) => {}
            None => panic!("the stream ended early"),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.host.running_calls(), 1, "the node still runs, held back");
    drop(stream);
    assert!(
        eventually(3, || b.host.running_calls() == 0).await,
        "the stream still runs on b"
    );
    client.close().await;
    stop_all(vec![(a, ca), (b, cb)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_too_busy_for_a_call_passes_it_to_another_serving_the_plugin() {
    let nats = Nats::start();
    let one_at_a_time = "[limits]\nmax_concurrent_calls = 1\n";
    let busy = |id: &'static str| {
        join(
            &nats,
            id,
            Setup::new().plugin("math", &example("math"), one_at_a_time),
        )
    };
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = busy("b").await;
    let (c, cc) = busy("c").await;
    assert!(sees(&ca, &["b", "c"]).await, "a sees {:?}", ca.peers());
    let client = a.client().await;
    // One host's only slot is taken by a slow call...
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.call("math/slow-sum", mp("[30, 100]")).await })
    };
    assert!(
        eventually(10, || b.host.running_calls() + c.host.running_calls() == 1).await,
        "the slow call did not start"
    );
    // ...so calls the queue group hands to it go to the other one.
    for i in 0..20 {
        assert_eq!(
            client
                .call("math/add", mp(&format!("[{i}, 1]")))
                .await
                .unwrap(),
            Value::from(i + 1)
        );
    }
    assert_eq!(slow.await.unwrap().unwrap(), Value::from(465));
    // Both busy: the refusal is the answer, with its kind.
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.call("math/slow-sum", mp("[30, 100]")).await })
        })
        .collect();
    assert!(
        eventually(10, || b.host.running_calls() == 1
            && c.host.running_calls() == 1)
        .await,
        "the slow calls did not take both hosts"
    );
    let e = call_err(client.call("math/add", mp("[1, 2]")).await);
    assert_eq!(e.kind, ErrorKind::Overloaded, "{e}");
    for call in slow {
        assert_eq!(call.await.unwrap().unwrap(), Value::from(465));
    }
    // A node no host serves: the answer speaks of the cluster.
    let e = call_err(client.call("nope/add", mp("[1, 2]")).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(
        e.message.contains("served in this cluster"),
        "{}",
        e.message
    );
    client.close().await;
    stop_all(vec![(a, ca), (b, cb), (c, cc)]).await;
}
