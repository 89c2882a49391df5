//! Instances made ahead of calls: every call still gets a fresh instance,
//! the budget holds across plugins, and a plugin that cannot be
//! instantiated ahead still reports its failure to the caller.

use rmpv::Value;
use warden_host::{ErrorKind, Limits, Plugin, Runtime, RuntimeConfig};

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

async fn remember(plugin: &Plugin) -> Value {
    plugin
        .call("remember", Value::Array(vec![]), Default::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn calls_take_instances_made_ahead_and_each_is_fresh() {
    let runtime = runtime(8);
    let hostile = runtime
        .load_file("hostile", test_plugin("hostile"), Limits::default())
        .unwrap();
    assert_eq!(
        hostile.ready_instances(),
        0,
        "nothing is made before a call"
    );
    // The first call makes its instance itself and starts the pool.
    assert_eq!(remember(&hostile).await, Value::from(1));
    assert!(eventually(10, || hostile.ready_instances() == 2).await);
    assert_eq!(hostile.instances_made_ahead(), 2);
    for made in 3..8 {
        // A global counter in the guest: 1 means nothing of an earlier call
        // (or of the making ahead) is left in the instance.
        assert_eq!(remember(&hostile).await, Value::from(1));
        // Each call took a ready instance, which was replaced.
        assert!(
            eventually(10, || hostile.instances_made_ahead() == made
                && hostile.ready_instances() == 2)
            .await,
            "made {} ahead, {} ready",
            hostile.instances_made_ahead(),
            hostile.ready_instances()
        );
    }
}

#[tokio::test]
async fn the_budget_is_shared_and_zero_turns_it_off() {
    let runtime = runtime(3);
    let math = runtime
        .load_file("math", example("math"), Limits::default())
        .unwrap();
    let hostile = runtime
        .load_file("hostile", test_plugin("hostile"), Limits::default())
        .unwrap();
    math.call(
        "add",
        Value::Array(vec![1.into(), 2.into()]),
        Default::default(),
    )
    .await
    .unwrap();
    assert!(eventually(10, || math.ready_instances() == 2).await);
    remember(&hostile).await;
    assert!(eventually(10, || hostile.ready_instances() == 1).await);
    // The budget of 3 is used up: no more are made.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(math.ready_instances() + hostile.ready_instances(), 3);

    let off = self::runtime(0);
    let math = off
        .load_file("math", example("math"), Limits::default())
        .unwrap();
    for _ in 0..3 {
        let sum = math
            .call(
                "add",
                Value::Array(vec![1.into(), 2.into()]),
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(sum, Value::from(3));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(math.ready_instances(), 0);
    assert_eq!(math.instances_made_ahead(), 0);
}

#[tokio::test]
async fn a_plugin_that_cannot_be_instantiated_ahead_still_reports_why() {
    let runtime = runtime(8);
    // Too little memory for the guest's initial memory: instantiation fails.
    let small = runtime
        .load_file(
            "hostile",
            test_plugin("hostile"),
            Limits::default().with_memory_bytes(64 << 10),
        )
        .unwrap();
    for _ in 0..3 {
        let err = small
            .call("fine", Value::Array(vec![]), Default::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::ResourceLimit, "{}", err.message);
        assert!(err.message.contains("memory limit"), "{}", err.message);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(small.ready_instances(), 0);
    assert_eq!(small.instances_made_ahead(), 0);
}
