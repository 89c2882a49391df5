//! Submitted jobs over real QUIC: fetch from another connection, survive a
//! restart, cancel, callbacks.

use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;
use warden_host::ErrorKind;
use warden_host::proto::JobState;
use warden_host::rpc::ClientError;

use crate::access::plugins;
use crate::harness::server::Setup;
use crate::support::{example, mp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_fetched_from_another_connection_once() {
    let served = plugins().start().await;
    let submitter = served.client_with(None).await.unwrap();
    let job = submitter
        .submit("math/add", mp("[40, 2]"), None)
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.id.len(), 16);
    submitter.close().await;

    let fetcher = served.client_with(None).await.unwrap();
    let done = fetcher
        .job(&job.id, Some(Duration::from_secs(20)), false)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result, Some(Value::from(42)));
    let gone = fetcher.job(&job.id, None, false).await.unwrap_err();
    assert_eq!(gone.kind(), "not-found", "a fetched job is removed");

    let failing = fetcher
        .submit("math/divide", mp("[1, 0]"), None)
        .await
        .unwrap();
    let failed = fetcher
        .job(&failing.id, Some(Duration::from_secs(20)), false)
        .await
        .unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error_kind, Some(ErrorKind::NodeError));
    assert_eq!(failed.error.as_deref(), Some("cannot divide 1 by zero"));
    let unknown = fetcher
        .submit("math/nope", mp("[]"), None)
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), "not-found");
    fetcher.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_survives_a_restart_of_the_host() {
    let state = Arc::new(tempfile::tempdir().unwrap());
    let served = plugins().state(state.clone()).start().await;
    let client = served.client_with(None).await.unwrap();
    let job = client
        .submit("math/slow-sum", mp("[3, 10]"), None)
        .await
        .unwrap();
    let done = client
        .job(&job.id, Some(Duration::from_secs(20)), true)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Done);
    client.close().await;
    served.stop().await;

    let served = plugins().state(state).start().await;
    let client = served.client_with(None).await.unwrap();
    let again = client.job(&job.id, None, false).await.unwrap();
    assert_eq!(again.state, JobState::Done);
    assert_eq!(again.result, Some(Value::from(6)));
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_can_be_cancelled_and_stays_cancelled() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    // 200 steps of 100 ms: 20 s unless cancelled.
    let job = client
        .submit("math/slow-sum", mp("[200, 100]"), None)
        .await
        .unwrap();
    let mut state = job.state;
    for _ in 0..250 {
        state = client.job(&job.id, None, true).await.unwrap().state;
        if state == JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, JobState::Running);
    let cancelled = client.cancel(&job.id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let later = client
        .job(&job.id, Some(Duration::from_millis(300)), false)
        .await
        .unwrap();
    assert_eq!(later.state, JobState::Cancelled);
    assert_eq!(later.result, None);
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_node_gets_the_outcome() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let job = client
        .submit("math/add", mp("[2, 3]"), Some("recorder/record-job"))
        .await
        .unwrap();
    let done = client
        .job(&job.id, Some(Duration::from_secs(20)), false)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.callback_error, None);
    let recorded = client
        .call("recorder/kv-get", mp(&format!(r#"["job/{}"]"#, job.id)))
        .await
        .unwrap();
    assert_eq!(recorded, Value::Binary(b"done:5".to_vec()));

    // A callback whose parameters do not fit is refused when submitting.
    let bad = client
        .submit("math/add", mp("[1, 1]"), Some("recorder/kv-set"))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), "bad-args");
    assert!(bad.to_string().contains("parameter `key`"), "{bad}");
    client.close().await;
    served.stop().await;
}

/// Arguments are checked when a job is submitted: a bad one is `bad-args`
/// at once, not a failed job later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_checks_the_arguments_at_once() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let err = client
        .submit("math/add", mp(r#"["x", 1]"#), None)
        .await
        .unwrap_err();
    match err {
        ClientError::Call(e) => {
            assert_eq!(e.kind, ErrorKind::BadArgs);
            assert!(e.message.contains("parameter `a`"), "{}", e.message);
        }
        other => panic!("expected bad-args, got {other:?}"),
    }
    let err = client
        .submit("math/add", mp("[1]"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "bad-args");
    client.close().await;
    served.stop().await;
}

/// A job is admitted like a call: it holds one of its plugin's
/// `max_concurrent_calls` slots while it runs (a call meanwhile is
/// `overloaded`), and jobs wait for a slot instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_respect_the_plugins_concurrency_limit() {
    let served = Setup::new()
        .plugin(
            "slow",
            &example("math"),
            "[limits]\nmax_concurrent_calls = 1\n",
        )
        .start()
        .await;
    let client = served.client().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        // 5 steps of 100 ms each.
        let job = client.submit("slow/slow-sum", mp("[5, 100]"), None).await;
        ids.push(job.unwrap().id);
    }
    let slow = served
        .host
        .plugins()
        .snapshot()
        .get("slow")
        .unwrap()
        .clone();
    let mut overloaded = false;
    let mut most = 0;
    let mut finished = 0;
    for _ in 0..1000 {
        most = most.max(slow.running_calls());
        if !overloaded && slow.running_calls() == 1 {
            let err = client.call("slow/add", mp("[1, 1]")).await;
            if let Err(ClientError::Call(e)) = err {
                assert_eq!(e.kind, ErrorKind::Overloaded, "{e}");
                assert!(
                    e.message.contains("maximum of 1 concurrent"),
                    "{}",
                    e.message
                );
                overloaded = true;
            }
        }
        finished = 0;
        for id in &ids {
            let job = client.job(id, None, true).await.unwrap();
            if job.state.is_finished() {
                assert_eq!(job.state, JobState::Done, "{job:?}");
                assert_eq!(job.result, Some(Value::from(15)));
                finished += 1;
            }
        }
        if finished == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(finished, 3, "every job ran, one after another");
    assert_eq!(most, 1, "never more than max_concurrent_calls at once");
    assert!(overloaded, "a call while a job held the slot was refused");
    client.close().await;
    served.stop().await;
}

/// A job still queued when the host stops runs after the restart, once its
/// plugin has loaded (plugins load in the background, so the job waits for
/// it instead of failing `unavailable`); the job that was running is
/// reported failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_runs_after_a_restart_once_its_plugin_has_loaded() {
    let state = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let manifest = "[limits]\nmax_concurrent_calls = 1\n";
    let served = Setup::new()
        .plugin("slow", &example("math"), manifest)
        .state(state.clone())
        .start()
        .await;
    let client = served.client().await;
    // 100 steps of 100 ms: still running when the host stops.
    let running = client
        .submit("slow/slow-sum", mp("[100, 100]"), None)
        .await
        .unwrap();
    let mut state_of_first = JobState::Queued;
    for _ in 0..500 {
        state_of_first = client.job(&running.id, None, true).await.unwrap().state;
        if state_of_first == JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state_of_first, JobState::Running);
    // The plugin's only slot is taken: this one waits, `queued`.
    let queued = client
        .submit("slow/add", mp("[20, 22]"), None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        client.job(&queued.id, None, true).await.unwrap().state,
        JobState::Queued
    );
    client.close().await;
    served.stop().await;

    let served = Setup::new()
        .plugin("slow", &example("math"), manifest)
        .state(state)
        .no_wait()
        .start()
        .await;
    let client = served.client().await;
    let done = client
        .job(&queued.id, Some(Duration::from_secs(60)), false)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(done.result, Some(Value::from(42)));
    let failed = client.job(&running.id, None, false).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error_kind, Some(ErrorKind::Cancelled));
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_submits_is_refused_past_the_callers_quotas_also_after_a_restart() {
    let config = warden_host::HostConfig::parse(
        "[jobs]\nper_caller = 5\nqueued_per_caller = 3\nargs_per_caller = \"1 MiB\"\n",
        std::path::Path::new("warden.toml"),
    )
    .unwrap();
    let state = Arc::new(tempfile::tempdir().unwrap());
    let setup = || plugins().config(config.clone()).state(state.clone());
    let served = setup().start().await;
    let client = served.client_with(None).await.unwrap();
    // 20 s each unless cancelled: they stay unfinished.
    let mut slow = Vec::new();
    for _ in 0..3 {
        let job = client.submit("math/slow-sum", mp("[200, 100]"), None).await;
        slow.push(job.unwrap().id);
    }
    let refused = client
        .submit("math/slow-sum", mp("[200, 100]"), None)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), "resource-limit");
    assert!(refused.to_string().contains("3 unfinished"), "{refused}");
    for id in &slow {
        client.cancel(id).await.unwrap();
    }
    // Cancelled jobs are finished but still kept: 2 more fit, then none.
    let mut kept = Vec::new();
    for n in 0..2 {
        let job = client
            .submit("math/add", mp(&format!("[{n}, 1]")), None)
            .await;
        kept.push(job.unwrap().id);
    }
    let full = client
        .submit("math/add", mp("[1, 1]"), None)
        .await
        .unwrap_err();
    assert_eq!(full.kind(), "resource-limit");
    assert!(full.to_string().contains("5 jobs"), "{full}");
    client.close().await;
    served.stop().await;

    // After a restart the quotas are counted from the store.
    let served = setup().start().await;
    let client = served.client_with(None).await.unwrap();
    let still = client
        .submit("math/add", mp("[1, 1]"), None)
        .await
        .unwrap_err();
    assert_eq!(still.kind(), "resource-limit", "{still}");
    // Fetching a finished job frees its place.
    let done = client
        .job(&kept[0], Some(Duration::from_secs(20)), false)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Done);
    for id in slow.iter().chain(&kept[1..]) {
        client
            .job(id, Some(Duration::from_secs(20)), false)
            .await
            .unwrap();
    }
    // Arguments count: 400 KiB twice fits 1 MiB, a third does not.
    let big = format!(r#"["{}"]"#, "a".repeat(400 << 10));
    for _ in 0..2 {
        client
            .submit("text/strings/upper", mp(&big), None)
            .await
            .unwrap();
    }
    let heavy = client
        .submit("text/strings/upper", mp(&big), None)
        .await
        .unwrap_err();
    assert_eq!(heavy.kind(), "resource-limit");
    assert!(heavy.to_string().contains("1 MiB"), "{heavy}");
    client.close().await;
    served.stop().await;
}
