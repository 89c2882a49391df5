//! A component from another toolchain: a Python plugin built with
//! componentize-py (CPython inside, ~18 MB) runs with the default limits,
//! does not hold up smaller plugins while it compiles, and is compiled once
//! by `warden run` too.

use std::process::Command;

use rmpv::Value;
use warden_host::proto::PluginState;
use warden_host::rpc::ClientError;
use warden_host::{ErrorKind, Limits};

use crate::harness::server::Setup;
use crate::support::{example, load, mp, python_greeter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_componentize_py_plugin_runs_with_default_limits() {
    let plugin = load("greeter", &python_greeter(), Limits::default());
    let names: Vec<&str> = plugin.nodes().map(|n| n.name()).collect();
    assert!(
        names.contains(&"greet") && names.contains(&"total"),
        "{names:?}"
    );
    let hello = plugin
        .call("greet", mp(r#"["Ada"]"#), Default::default())
        .await
        .unwrap();
    assert_eq!(hello, Value::from("Hello, Ada, from Python!"));
    let total = plugin
        .call("total", mp("[[1, 2, 3, -10]]"), Default::default())
        .await
        .unwrap();
    assert_eq!(total, Value::from(-4));
    // Each call gets a fresh CPython; two in a row both work.
    let again = plugin
        .call("greet", mp(r#"{"name": "Grace"}"#), Default::default())
        .await
        .unwrap();
    assert_eq!(again, Value::from("Hello, Grace, from Python!"));
}

/// Plugins compile in parallel and each is served as soon as it is ready:
/// `math` answers while the 18 MB Python component still compiles, whose
/// calls are `unavailable` (not `not-found`) until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_plugin_answers_while_a_big_one_still_compiles() {
    let server = Setup::new()
        .plugin("greeter", &python_greeter(), "")
        .plugin("math", &example("math"), "")
        .no_wait()
        .start()
        .await;
    let client = server.client().await;
    // Wait for math (a few hundred ms when idle; bounded generously for a
    // busy machine), not for the Python plugin.
    let mut sum = None;
    for _ in 0..12_000 {
        match client.call("math/add", mp("[1, 2]")).await {
            Ok(v) => {
                sum = Some(v);
                break;
            }
            Err(ClientError::Call(e)) if e.kind == ErrorKind::Unavailable => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => panic!("math/add: {e}"),
        }
    }
    assert_eq!(sum, Some(Value::from(3)));
    let status = client.status().await.unwrap();
    let state = |name: &str| {
        status
            .plugins
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.state)
    };
    assert_eq!(state("math"), Some(PluginState::Ready));
    assert_eq!(
        state("greeter"),
        Some(PluginState::Loading),
        "the Python plugin compiles for seconds; math was served before it"
    );
    match client.call("greeter/greet", mp(r#"["Ada"]"#)).await {
        Err(ClientError::Call(e)) => {
            assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
            assert!(e.message.contains("still loading"), "{}", e.message);
        }
        other => panic!("expected unavailable while loading, got {other:?}"),
    }
    // Once it is ready it answers.
    let plugin_dir = server.host.plugin_dir().unwrap().clone();
    tokio::task::spawn_blocking(move || plugin_dir.scan_settled())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        client
            .call("greeter/greet", mp(r#"["Ada"]"#))
            .await
            .unwrap(),
        Value::from("Hello, Ada, from Python!")
    );
    client.close().await;
    server.stop().await;
}

/// `warden run` keeps compiled components in the state directory's cache,
/// as `warden serve` does: the second run of the same file does not compile.
#[test]
fn warden_run_compiles_a_component_once() {
    let state = tempfile::tempdir().unwrap();
    let greeter = python_greeter();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["run", greeter.to_str().unwrap(), "greet", "Ada"])
            .arg("--state-dir")
            .arg(state.path())
            .env("WARDEN_LOG", "warden_host=debug")
            .output()
            .expect("warden runs")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        "\"Hello, Ada, from Python!\""
    );
    let first_log = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first_log.contains("outcome=Miss"), "{first_log}");
    let cached = std::fs::read_dir(state.path().join("cache"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .count();
    assert_eq!(cached, 1, "one compiled artifact in STATE/cache");
    let second = run();
    assert!(second.status.success());
    let second_log = String::from_utf8_lossy(&second.stderr).into_owned();
    assert!(second_log.contains("outcome=Hit"), "{second_log}");
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "\"Hello, Ada, from Python!\""
    );
}
