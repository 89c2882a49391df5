//! Hostile plugins end with typed errors while a normal call beside them,
//! on the same runtime and plugin, succeeds.

use std::time::Duration;

use rmpv::Value;
use warden_host::{CallError, ErrorKind, Limits, Plugin};

use crate::support::{load, mp, test_plugin};

fn hostile() -> Plugin {
    let limits = Limits::default()
        .with_timeout(Duration::from_millis(1500))
        .with_memory_bytes(48 << 20);
    load("hostile", &test_plugin("hostile"), limits)
}

/// Runs `node(args)` and a well-behaved call side by side; returns the
/// hostile call's error after checking the normal call succeeded.
async fn misbehave(plugin: &Plugin, node: &str, args: Value) -> CallError {
    let bad = plugin.call(node, args, Default::default());
    let good = async {
        // Start the good call while the bad one runs.
        tokio::time::sleep(Duration::from_millis(20)).await;
        plugin.call("fine", mp("[]"), Default::default()).await
    };
    let (bad, good) = tokio::join!(bad, good);
    assert_eq!(good.expect("the normal call succeeds"), Value::from("fine"));
    let err = bad.expect_err("the hostile call fails");
    // The plugin keeps working after the failure.
    let again = plugin.call("fine", mp("[]"), Default::default()).await;
    assert_eq!(again.expect("the plugin still works"), Value::from("fine"));
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_times_out() {
    let err = misbehave(&hostile(), "spin", mp("[]")).await;
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(err.message.contains("hostile/spin"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_hits_the_memory_limit() {
    let err = misbehave(&hostile(), "hog", mp("[4]")).await;
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{err}");
    assert!(
        err.message.contains("memory limit of 48 MiB"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_recursion_overflows_the_stack() {
    let err = misbehave(&hostile(), "recurse", mp("[0]")).await;
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{err}");
    assert!(
        err.message.contains("overflowed its stack"),
        "{}",
        err.message
    );

    // Overflowing the shadow stack in linear memory is a trap.
    let err = misbehave(&hostile(), "smash", mp("[0]")).await;
    assert_eq!(err.kind, ErrorKind::Trap, "{err}");
    assert!(err.message.contains("out of bounds"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_with_the_panic_message() {
    let err = misbehave(&hostile(), "boom", mp(r#"["the reactor is on fire"]"#)).await;
    assert_eq!(err.kind, ErrorKind::Trap, "{err}");
    assert!(
        err.message.contains("panicked: the reactor is on fire"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("hostile/src/lib.rs"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_is_a_trap() {
    let err = misbehave(&hostile(), "crash", mp("[]")).await;
    assert_eq!(err.kind, ErrorKind::Trap, "{err}");
    assert!(err.message.contains("unreachable"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_past_the_cap_are_refused() {
    let plugin = load(
        "hostile",
        &test_plugin("hostile"),
        Limits::default().with_max_result_bytes(1 << 20),
    );
    // Just under the cap passes.
    let ok = plugin
        .call("big", mp("[1000000]"), Default::default())
        .await
        .unwrap();
    assert_eq!(ok.as_str().map(str::len), Some(1_000_000));
    let err = misbehave(&plugin, "big", mp("[2000000]")).await;
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{err}");
    assert!(
        err.message.contains("result cap of 1 MiB"),
        "{}",
        err.message
    );

    // Past the hostcall fuel, the copy itself is refused.
    let small_fuel = load(
        "hostile",
        &test_plugin("hostile"),
        Limits::default().with_hostcall_fuel(1 << 20),
    );
    let err = misbehave(&small_fuel, "big", mp("[4000000]")).await;
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{err}");
    assert!(err.message.contains("hostcall fuel"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_output_is_captured_not_printed_and_bounded() {
    let plugin = load("hostile", &test_plugin("hostile"), Limits::default());
    // 20,000 lines on each stream is far past the 64 KiB capture; the call
    // still succeeds.
    let n = plugin
        .call("chatty", mp("[20000]"), Default::default())
        .await
        .unwrap();
    assert_eq!(n, Value::from(20_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_call_stops_the_guest_and_the_plugin_goes_on() {
    let plugin = load("hostile", &test_plugin("hostile"), Limits::default());
    // The default timeout is 10 s; the caller gives up after 200 ms.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(200),
        plugin.call("spin", mp("[]"), Default::default()),
    )
    .await;
    assert!(gave_up.is_err(), "spin never finishes on its own");
    let ok = plugin
        .call("fine", mp("[]"), Default::default())
        .await
        .unwrap();
    assert_eq!(ok, Value::from("fine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_deadline_shorter_than_the_timeout_wins() {
    let plugin = load("hostile", &test_plugin("hostile"), Limits::default());
    let options = warden_host::CallOptions {
        deadline: Some(std::time::Instant::now() + Duration::from_millis(300)),
        ..Default::default()
    };
    let err = plugin.call("spin", mp("[]"), options).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
}
