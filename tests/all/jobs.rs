//! Submitted jobs over real QUIC: fetch from another connection, survive a
//! restart, cancel, callbacks.

use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;
use warden_host::proto::JobState;
use warden_host::rpc::ServerConfig;

use crate::access::Served;
use crate::support::mp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_fetched_from_another_connection_once() {
    let served = Served::start(ServerConfig::default()).await;
    let submitter = served.client(None).await.unwrap();
    let job = submitter
        .submit("math/add", mp("[40, 2]"), None)
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.id.len(), 16);
    submitter.close().await;

    let fetcher = served.client(None).await.unwrap();
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
    assert_eq!(failed.error_kind.as_deref(), Some("node-error"));
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
    let served = Served::start_in(state.clone(), ServerConfig::default()).await;
    let client = served.client(None).await.unwrap();
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

    let served = Served::start_in(state, ServerConfig::default()).await;
    let client = served.client(None).await.unwrap();
    let again = client.job(&job.id, None, false).await.unwrap();
    assert_eq!(again.state, JobState::Done);
    assert_eq!(again.result, Some(Value::from(6)));
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_can_be_cancelled_and_stays_cancelled() {
    let served = Served::start(ServerConfig::default()).await;
    let client = served.client(None).await.unwrap();
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
    let served = Served::start(ServerConfig::default()).await;
    let client = served.client(None).await.unwrap();
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

    // A callback whose parameters do not fit is reported on the job.
    let bad = client
        .submit("math/add", mp("[1, 1]"), Some("recorder/kv-set"))
        .await
        .unwrap();
    let done = client
        .job(&bad.id, Some(Duration::from_secs(20)), false)
        .await
        .unwrap();
    assert_eq!(done.result, Some(Value::from(2)));
    assert!(
        done.callback_error
            .as_deref()
            .is_some_and(|e| e.contains("parameter `key`")),
        "{:?}",
        done.callback_error
    );
    client.close().await;
    served.stop().await;
}
