//! Instances made ahead of calls: every call still gets a fresh instance,
//! the budget holds across plugins, a plugin that cannot be instantiated
//! ahead still reports its failure to the caller, and the server makes the
//! next instance after each answer.

use std::time::Duration;

use rmpv::Value;
use warden_host::{ErrorKind, Limits, Plugin, Runtime, RuntimeConfig};

use crate::harness::server::Setup;
use crate::support::{eventually, example, test_plugin};

/// A small runtime of its own, so the budget is this test's alone.
fn runtime(warm_instances: u32) -> Runtime {
    Runtime::with_config(RuntimeConfig {
        max_instances: 16,
        warm_instances,
        ..RuntimeConfig::default()
    })
    .expect("the engine starts")
}

fn load(runtime: &Runtime, name: &str, path: std::path::PathBuf, limits: Limits) -> Plugin {
    runtime.load_file(name, path, limits).unwrap()
}

/// Calls `hostile/remember` after a pause: instances are made ahead only
/// for calls that come apart.
async fn remember(plugin: &Plugin) -> Value {
    tokio::time::sleep(Duration::from_millis(50)).await;
    plugin
        .call("remember", Value::Array(vec![]), Default::default())
        .await
        .unwrap()
}

async fn add(math: &Plugin) -> Value {
    math.call(
        "add",
        Value::Array(vec![1.into(), 2.into()]),
        Default::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn calls_take_instances_made_ahead_and_each_is_fresh() {
    let runtime = runtime(8);
    let hostile = load(
        &runtime,
        "hostile",
        test_plugin("hostile"),
        Limits::default(),
    );
    assert_eq!(remember(&hostile).await, Value::from(1));
    assert_eq!(hostile.ready_instances(), 0, "nothing is made unasked");
    assert!(hostile.make_ready().await);
    assert!(hostile.make_ready().await);
    assert!(!hostile.make_ready().await, "a plugin keeps two at most");
    assert_eq!(hostile.ready_instances(), 2);
    for made in 3..8 {
        // A global counter in the guest: 1 means nothing of an earlier call
        // (or of the making ahead) is left in the instance.
        assert_eq!(remember(&hostile).await, Value::from(1));
        assert_eq!(hostile.ready_instances(), 1, "the call took one");
        assert!(hostile.make_ready().await);
        assert_eq!(hostile.instances_made_ahead(), made);
    }
}

#[tokio::test]
async fn the_budget_is_shared_and_zero_turns_it_off() {
    let runtime = runtime(3);
    let math = load(&runtime, "math", example("math"), Limits::default());
    let hostile = load(
        &runtime,
        "hostile",
        test_plugin("hostile"),
        Limits::default(),
    );
    add(&math).await;
    assert!(math.make_ready().await && math.make_ready().await);
    remember(&hostile).await;
    assert!(hostile.make_ready().await);
    assert!(!hostile.make_ready().await, "the budget of 3 is used up");
    assert_eq!(math.ready_instances() + hostile.ready_instances(), 3);
    // Dropping a plugin gives its instances' budget back.
    drop(math);
    assert!(hostile.make_ready().await);

    let off = self::runtime(0);
    let math = load(&off, "math", example("math"), Limits::default());
    assert_eq!(add(&math).await, Value::from(3));
    assert!(!math.make_ready().await);
    assert_eq!(math.ready_instances(), 0);
}

#[tokio::test]
async fn a_plugin_that_cannot_be_instantiated_ahead_still_reports_why() {
    let runtime = runtime(8);
    // Too little memory for the guest's initial memory: instantiation fails.
    let small = load(
        &runtime,
        "hostile",
        test_plugin("hostile"),
        Limits::default().with_memory_bytes(64 << 10),
    );
    for _ in 0..3 {
        let err = small
            .call("fine", Value::Array(vec![]), Default::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::ResourceLimit, "{}", err.message);
        assert!(err.message.contains("memory limit"), "{}", err.message);
        assert!(!small.make_ready().await);
    }
    assert_eq!(small.instances_made_ahead(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_makes_the_next_instance_after_each_answer() {
    let server = Setup::new()
        .plugin("hostile", &test_plugin("hostile"), "")
        .runtime_config(RuntimeConfig {
            max_instances: 16,
            warm_instances: 8,
            ..RuntimeConfig::default()
        })
        .start()
        .await;
    let hostile = server
        .host
        .plugins()
        .snapshot()
        .get("hostile")
        .unwrap()
        .plugin
        .clone();
    let client = server.client().await;
    for calls in 1..=4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let count = client.call("hostile/remember", Value::Nil).await.unwrap();
        assert_eq!(count, Value::from(1), "a fresh instance every call");
        // One made after each answer; the next call takes it.
        assert!(
            eventually(10, || hostile.instances_made_ahead() == calls).await,
            "{} made after {calls} calls",
            hostile.instances_made_ahead()
        );
        assert_eq!(hostile.ready_instances(), 1);
    }
    client.close().await;
    server.stop().await;
}
