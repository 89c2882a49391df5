//! State shared by the hosts of a cluster, against a real `nats-server`:
//! jobs (submitted through any host, run where their node is, fetched and
//! cancelled through any host, run again elsewhere when their host dies)
//! and blobs (a reference from one host reads the same bytes on another).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rmpv::Value;
use warden_host::ErrorKind;
use warden_host::proto::JobState;
use warden_host::rpc::ClientError;

use crate::cluster::{cluster, host, join, sees, stop_all};
use crate::harness::nats::Nats;
use crate::harness::plugins::example;
use crate::harness::server::Setup;
use crate::support::{eventually, mp};

fn job_err<T: std::fmt::Debug>(result: Result<T, ClientError>) -> warden_host::CallError {
    match result {
        Err(ClientError::Call(e)) => e,
        other => panic!("expected a call error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_submitted_anywhere_runs_where_its_node_is_and_is_fetched_and_cancelled_anywhere() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    let (c, cc) = host(&nats, "c", &[("text", "text")]).await;
    assert!(sees(&ca, &["b", "c"]).await, "a sees {:?}", ca.peers());
    let through_a = a.client().await;
    let through_c = c.client().await;

    // Submitted through a, run on b (only b serves math), fetched through c.
    let job = through_a
        .submit("math/add", mp("[40, 2]"), None)
        .await
        .expect("a takes a job of a node only b serves");
    assert_eq!(job.state, JobState::Queued);
    let done = through_c
        .job(&job.id, Some(Duration::from_secs(20)), false)
        .await
        .expect("c reads the job");
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(done.result, Some(Value::from(42)));
    // Fetched once, it is gone everywhere.
    let gone = job_err(through_a.job(&job.id, None, false).await);
    assert_eq!(gone.kind, ErrorKind::NotFound);

    // A failing job keeps its error kind across hosts.
    let failing = through_c
        .submit("math/divide", mp("[1, 0]"), None)
        .await
        .unwrap();
    let failed = through_a
        .job(&failing.id, Some(Duration::from_secs(20)), true)
        .await
        .unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error_kind, Some(ErrorKind::NodeError));

    // Cancelled through c while it runs on b: the call stops there.
    let slow = through_a
        .submit("math/slow-sum", mp("[40, 100]"), None)
        .await
        .unwrap();
    assert!(
        eventually(20, || b.host.running_calls() == 1).await,
        "the job never started on b"
    );
    let cancelled = through_c.cancel(&slow.id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(
        eventually(10, || b.host.running_calls() == 0).await,
        "the cancelled job still runs on b"
    );
    let kept = through_a
        .job(&slow.id, Some(Duration::from_secs(5)), true)
        .await
        .unwrap();
    assert_eq!(
        kept.state,
        JobState::Cancelled,
        "the outcome must not overwrite the cancel"
    );

    // Another caller's id, a malformed id and an unknown node.
    assert_eq!(
        job_err(through_c.job("../../etc", None, false).await).kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        job_err(through_a.submit("nope/add", mp("[1, 2]"), None).await).kind,
        ErrorKind::NotFound
    );
    through_a.close().await;
    through_c.close().await;
    stop_all(vec![(a, ca), (b, cb), (c, cc)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_whose_host_is_killed_run_again_on_another_and_none_is_lost() {
    let nats = Nats::start();
    let (a, ca) = host(&nats, "a", &[("text", "text")]).await;
    let (b, cb) = host(&nats, "b", &[("math", "math")]).await;
    // Host c: a real `warden serve` process, killed with SIGKILL.
    let (mut c, _dir) = crate::cluster::warden_process_c(&nats, &a).await;
    let client = a.client().await;
    // Jobs of 2 s each, taken by b and c as they come.
    let mut ids = Vec::new();
    for _ in 0..8 {
        let job = client
            .submit("math/slow-sum", mp("[20, 100]"), None)
            .await
            .expect("the job is accepted");
        ids.push(job.id);
    }
    assert!(
        eventually(20, || b.host.running_calls() > 0).await,
        "b runs none of the jobs"
    );
    // Every job has started by now; b does not run them all.
    let mut running = 0;
    let until = Instant::now() + Duration::from_secs(20);
    while running < ids.len() {
        running = 0;
        for id in &ids {
            let job = client.job(id, None, true).await.unwrap();
            if job.state == JobState::Running {
                running += 1;
            }
        }
        assert!(Instant::now() < until, "only {running} jobs started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_b = b.host.running_calls();
    assert!(on_b < ids.len(), "b runs all {on_b} jobs");
    c.kill().expect("SIGKILL");
    let _ = c.wait();
    // Those c ran run again on b once JetStream gives up on c (its ack
    // wait); every job ends done, none is lost.
    for id in &ids {
        let job = client
            .job(id, Some(Duration::from_secs(40)), false)
            .await
            .unwrap();
        assert_eq!(job.state, JobState::Done, "{job:?}");
        assert_eq!(job.result, Some(Value::from(210)));
    }
    assert!(sees(&ca, &["b"]).await, "a still sees {:?}", ca.peers());
    client.close().await;
    stop_all(vec![(a, ca), (b, cb)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_stored_through_one_host_reads_the_same_through_another() {
    use crate::harness::plugins::test_plugin;
    let nats = Nats::start();
    let manifest = "[grants]\nkv = true\nblobs = \"read-write\"\ninvoke = [\"none/*\"]\n";
    let setup = || Setup::new().plugin("w", &test_plugin("caps"), manifest);
    let (one, c1) = join(&nats, "one", setup()).await;
    let (two, c2) = join(&nats, "two", setup()).await;
    let (on_one, on_two) = (one.client().await, two.client().await);

    // Uploaded through one (larger than a NATS message), downloaded
    // through two.
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let put = on_one
        .put_blob(data.as_slice(), Some(data.len() as u64))
        .await
        .expect("the upload is stored and shared");
    assert_eq!(
        put.reference,
        format!("blake3:{}", blake3::hash(&data).to_hex())
    );
    let mut back = Vec::new();
    let got = on_two
        .get_blob(&put.reference, &mut back)
        .await
        .expect("the other host reads it");
    assert_eq!(got.size, data.len() as u64);
    assert!(back == data, "the bytes differ");

    // Written by the plugin on one, read by the same plugin on two.
    let small: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
    let reference = on_one
        .call("w/blob-put", mp(&format!("[{small:?}]")))
        .await
        .unwrap();
    let reference = reference.as_str().unwrap().to_owned();
    assert_eq!(
        on_two
            .call("w/blob-size", mp(&format!(r#"["{reference}"]"#)))
            .await
            .unwrap(),
        Value::from(5000)
    );
    assert_eq!(
        on_two
            .call("w/blob-get", mp(&format!(r#"["{reference}"]"#)))
            .await
            .unwrap(),
        Value::Binary(small)
    );

    // A reference nobody stored is not found anywhere.
    let missing = format!("blake3:{}", "0".repeat(64));
    let e = job_err(on_two.get_blob(&missing, Vec::new()).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert_eq!(
        on_one
            .call("w/blob-size", mp(&format!(r#"["{missing}"]"#)))
            .await
            .unwrap(),
        Value::Nil
    );
    on_one.close().await;
    on_two.close().await;
    stop_all(vec![(one, c1), (two, c2)]).await;
}

/// Runs `warden deploy ARGS --cluster URL --cluster-name test`; its exit
/// status, stdout and stderr.
fn deploy(nats: &Nats, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("deploy")
        .args(args)
        .args(["--cluster", &nats.url(), "--cluster-name", "test"])
        .stdin(Stdio::null())
        .output()
        .expect("warden runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `server` serves plugin `name` itself (not through another host).
fn serves(server: &crate::harness::server::TestServer, name: &str) -> bool {
    server.host.plugins().snapshot().get(name).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_deploy_publishes_plugins_that_hosts_taking_deployments_load_and_unload() {
    let nats = Nats::start();
    let start = |id: &'static str, labels: &[&str], deployments: bool| {
        let config = warden_host::cluster::ClusterConfig {
            deployments,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            ..cluster(&nats, id)
        };
        async move {
            let server = Setup::new().start().await;
            let joined = warden_host::cluster::Cluster::join(&server.host, &config)
                .await
                .expect("the host joins the cluster");
            (server, joined)
        }
    };
    let (gpu, c1) = start("gpu", &["gpu", "eu"], true).await;
    let (plain, c2) = start("plain", &[], true).await;
    let (aloof, c3) = start("aloof", &[], false).await;

    // A component and its manifest, deployed from the command line.
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("math.wasm");
    std::fs::copy(example("math"), &wasm).unwrap();
    std::fs::write(dir.path().join("math.toml"), "[limits]\ntimeout = \"2s\"\n").unwrap();
    let (ok, _, err) = deploy(&nats, &[wasm.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        eventually(30, || serves(&gpu, "math") && serves(&plain, "math")).await,
        "the hosts taking deployments did not load it"
    );
    let client = plain.client().await;
    assert_eq!(
        client.call("math/add", mp("[40, 2]")).await.unwrap(),
        Value::from(42)
    );
    // The manifest came along.
    let manifest = std::fs::read_to_string(plain.plugin_dir().join("math.toml")).unwrap();
    assert!(manifest.contains("timeout = \"2s\""), "{manifest}");
    assert!(
        !serves(&aloof, "math"),
        "a host without deployments loaded it"
    );

    // Labels: only the host that has them loads it.
    let text = dir.path().join("text.wasm");
    std::fs::copy(example("text"), &text).unwrap();
    let (ok, _, err) = deploy(
        &nats,
        &[
            text.to_str().unwrap(),
            "--name",
            "words",
            "--require",
            "gpu",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        eventually(30, || serves(&gpu, "words")).await,
        "the labelled host did not load it"
    );
    let (ok, listed, err) = deploy(&nats, &["--list"]);
    assert!(ok, "{err}");
    assert!(
        listed.contains("math\t") && listed.contains("every host"),
        "{listed}"
    );
    assert!(
        listed.contains("words\t") && listed.contains("hosts labelled gpu"),
        "{listed}"
    );
    assert!(
        !serves(&plain, "words"),
        "a host without the label loaded it"
    );

    // Bad input is refused with a reason, before anything is published.
    let not_a_component = dir.path().join("junk.wasm");
    std::fs::write(&not_a_component, b"not wasm").unwrap();
    let (ok, _, err) = deploy(&nats, &[not_a_component.to_str().unwrap()]);
    assert!(
        !ok && err.contains("error[usage]") && err.contains("not a WebAssembly component"),
        "{err}"
    );
    let (ok, _, err) = deploy(&nats, &[wasm.to_str().unwrap(), "--name", "a.b"]);
    assert!(
        !ok && err.contains("cannot be a deployed plugin's name"),
        "{err}"
    );

    // Withdrawn: removed everywhere, files and all.
    let (ok, _, err) = deploy(&nats, &["--remove", "math"]);
    assert!(ok, "{err}");
    assert!(
        eventually(30, || !serves(&gpu, "math") && !serves(&plain, "math")).await,
        "the withdrawn plugin is still served"
    );
    assert!(!plain.plugin_dir().join("math.wasm").exists());
    assert!(!plain.plugin_dir().join("math.toml").exists());
    assert!(serves(&gpu, "words"), "withdrawing one took another");
    let (ok, _, err) = deploy(&nats, &["--remove", "math"]);
    assert!(!ok && err.contains("error[not-found]"), "{err}");
    client.close().await;
    stop_all(vec![(gpu, c1), (plain, c2), (aloof, c3)]).await;
}
