//! Plugins written as plain Python modules and built by
//! `guest-py/warden_py.py` (type hints → WIT, generators → stream nodes,
//! exceptions → errors), served by a real host and called over QUIC.

use std::process::Command;

use futures::StreamExt;
use rmpv::Value;
use warden_host::proto::PluginState;
use warden_host::rpc::{CallOpts, Client, ClientError, Event};
use warden_host::{ErrorKind, LogLevel, NodeKind};

use crate::harness::plugins::python_tool_plugin;
use crate::harness::server::Setup;
use crate::support::{example, map, mp, point, root, strings};

/// The error of a call that must fail, with its kind.
async fn failure(client: &Client, node: &str, args: Value) -> (ErrorKind, String) {
    match client.call(node, args).await {
        Err(ClientError::Call(e)) => (e.kind, e.message),
        other => panic!("{node} should fail, got {other:?}"),
    }
}

/// Every item of a stream node, then how it ended.
async fn items(
    client: &Client,
    node: &str,
    args: Value,
) -> (Vec<Value>, Option<(ErrorKind, String)>) {
    let mut stream = client.stream(node, args).await.unwrap();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(v) => out.push(v),
            Err(ClientError::Call(e)) => return (out, Some((e.kind, e.message))),
            Err(e) => panic!("{node}: {e}"),
        }
    }
    (out, None)
}

/// A call's events (log lines and progress) and its result.
async fn with_events(client: &Client, node: &str, args: Value) -> (Vec<Event>, Value) {
    let mut call = client
        .call_with(node, args, CallOpts::default())
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(event) = call.next().await {
        events.push(event);
    }
    (events, call.result().await.unwrap())
}

fn log(level: LogLevel, message: &str) -> Event {
    Event::Log {
        level,
        message: message.into(),
    }
}

fn progress(fraction: f32, message: &str) -> Event {
    Event::Progress {
        fraction,
        message: message.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_hint_round_trips_through_a_python_plugin() {
    let zoo = python_tool_plugin("zoo");
    // No manifest: it loads only because it imports nothing needing a grant.
    let server = Setup::new().plugin("zoo", &zoo, "").start().await;
    let client = server.client().await;
    let status = client.status().await.unwrap();
    let zoo_status = status.plugins.iter().find(|p| p.name == "zoo").unwrap();
    assert_eq!(
        (zoo_status.state, zoo_status.error.as_deref()),
        (PluginState::Ready, None)
    );
    let call = |node: &'static str, args: Value| {
        let client = client.clone();
        async move {
            client
                .call(node, args)
                .await
                .unwrap_or_else(|e| panic!("{node}: {e}"))
        }
    };

    // int, float, a dataclass.
    assert_eq!(call("zoo/add", mp("[40, 2]")).await, Value::from(42));
    assert_eq!(
        call(
            "zoo/scale",
            mp(r#"{"p": {"x": 1.5, "y": -2}, "factor": 2}"#)
        )
        .await,
        point(3.0, -4.0)
    );
    // A dataclass inside a dataclass, an Enum, Optional and list fields; the
    // record's keys come back in field order, the enum as its case name.
    let seg = map(&[
        ("start", point(0.0, 0.0)),
        ("end", point(3.0, 4.0)),
        ("color", Value::from("blue")),
        ("label", Value::from("l")),
        ("tags", strings(&["b", "a"])),
    ]);
    assert_eq!(
        call("zoo/reverse", Value::Array(vec![seg.clone()])).await,
        map(&[
            ("start", point(3.0, 4.0)),
            ("end", point(0.0, 0.0)),
            ("color", Value::from("red")),
            ("label", Value::from("l (reversed)")),
            ("tags", strings(&["a", "b"])),
        ])
    );
    let unlabelled = mp(
        r#"[{"start": {"x": 1, "y": 1}, "end": {"x": 1, "y": 2}, "color": "dark-green",
             "label": null, "tags": []}]"#,
    );
    let reversed = call("zoo/reverse", unlabelled.clone()).await;
    let field = |v: &Value, key: &str| {
        v.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(field(&reversed, "color"), Value::from("blue"));
    assert_eq!(field(&reversed, "label"), Value::Nil);
    assert_eq!(
        call("zoo/length", Value::Array(vec![seg])).await,
        Value::F64(5.0)
    );
    assert_eq!(call("zoo/length", unlabelled).await, Value::F64(1.0));
    // Enum cases are kebab-cased member names; the Python value stays inside.
    assert_eq!(
        call("zoo/color-value", mp(r#"["dark-green"]"#)).await,
        Value::from("dark green")
    );
    let (kind, message) = failure(&client, "zoo/color-value", mp(r#"["purple"]"#)).await;
    assert_eq!(kind, ErrorKind::BadArgs, "{message}");
    // Optional results, lists, keyword-only parameters, `str | None`.
    assert_eq!(
        call("zoo/find", mp(r#"[["a", "b"], "b"]"#)).await,
        Value::from(1)
    );
    assert_eq!(
        call("zoo/find", mp(r#"[["a", "b"], "z"]"#)).await,
        Value::Nil
    );
    assert_eq!(
        call("zoo/shout", mp(r#"{"text": "hi", "times": 2}"#)).await,
        Value::from("HI HI")
    );
    assert_eq!(call("zoo/shout", mp(r#"[null, 3]"#)).await, Value::Nil);
    // bytes travel as bin.
    assert_eq!(
        call(
            "zoo/flip-bytes",
            Value::Array(vec![Value::Binary(vec![1, 2, 255])])
        )
        .await,
        Value::Binary(vec![255, 2, 1])
    );
    // Tuples are arrays; Python's floor division shows it is Python.
    assert_eq!(
        call("zoo/div-mod", mp("[-7, 2]")).await,
        Value::Array(vec![Value::from(-4), Value::from(1)])
    );
    assert_eq!(
        call("zoo/stats", mp("[[3, 1.5, 2]]")).await,
        Value::Array(vec![Value::F64(1.5), Value::F64(3.0), Value::from(false)])
    );
    // Sized numbers from warden_guest.
    assert_eq!(
        call("zoo/checked-byte", mp("[255]")).await,
        Value::from(255)
    );
    assert_eq!(
        call("zoo/total-length", mp(r#"[["ab", "cde"]]"#)).await,
        Value::from(5)
    );

    // Exceptions are node errors with the exception's type and message;
    // NodeError's message is taken as it is.
    let (kind, message) = failure(&client, "zoo/div-mod", mp("[7, 0]")).await;
    assert_eq!(kind, ErrorKind::NodeError);
    assert!(message.starts_with("ZeroDivisionError: "), "{message}");
    assert_eq!(
        failure(&client, "zoo/stats", mp("[[]]")).await,
        (ErrorKind::NodeError, "no values".to_owned())
    );
    assert_eq!(
        failure(&client, "zoo/checked-byte", mp("[256]")).await,
        (
            ErrorKind::NodeError,
            "ValueError: the result of `checked_byte` is 256, out of range for u8 (0 to 255)"
                .to_owned()
        )
    );
    let (kind, message) = failure(&client, "zoo/add", mp("[9223372036854775807, 1]")).await;
    assert_eq!(kind, ErrorKind::NodeError);
    assert!(message.contains("out of range for s64"), "{message}");
    // The instance that failed is gone; the next call gets a fresh one.
    assert_eq!(call("zoo/add", mp("[1, 1]")).await, Value::from(2));

    // log and progress reach the caller in order; `None` is no result.
    let (events, result) = with_events(&client, "zoo/note", mp(r#"["hi"]"#)).await;
    assert_eq!(result, Value::Nil);
    assert_eq!(
        events,
        [
            log(LogLevel::Debug, "debug: hi"),
            progress(0.5, "half way"),
            log(LogLevel::Info, "info: hi"),
            log(LogLevel::Warn, "warn: hi"),
            progress(1.0, "done"),
        ]
    );

    // Generators are stream nodes in the interface named after the module.
    let mut count = client
        .call_with("zoo/app/count", mp("[3, 10]"), CallOpts::default())
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(event) = count.next().await {
        events.push(event);
    }
    assert_eq!(count.result().await.unwrap(), Value::Nil);
    // The host pulls items ahead of the caller, so items and events are each
    // in order but not interleaved one for one.
    let (got, events): (Vec<Event>, Vec<Event>) = events
        .into_iter()
        .partition(|e| matches!(e, Event::Item(_)));
    assert_eq!(
        got,
        [0, 1, 2].map(|i| Event::Item(Value::from(i))),
        "the items in order"
    );
    assert_eq!(
        events,
        [
            log(LogLevel::Info, "counting to 3"),
            progress(1.0 / 3.0, "item 0"),
            progress(2.0 / 3.0, "item 1"),
            progress(1.0, "item 2"),
        ]
    );
    assert_eq!(
        items(&client, "zoo/app/walk", mp("[2]")).await,
        (vec![point(0.0, 0.0), point(1.0, 1.0)], None)
    );
    assert_eq!(
        items(&client, "zoo/app/sparse", mp("[4]")).await,
        (
            vec![Value::from(0), Value::Nil, Value::from(2), Value::Nil],
            None
        )
    );
    assert_eq!(
        items(&client, "zoo/app/walk", mp("[0]")).await,
        (vec![], None)
    );
    // An exception in a generator ends the stream after its items.
    assert_eq!(
        items(&client, "zoo/app/countdown", mp("[2]")).await,
        (
            vec![Value::from(2), Value::from(1)],
            Some((
                ErrorKind::NodeError,
                "RuntimeError: countdown reached zero".to_owned()
            ))
        )
    );

    // What callers see in the catalog.
    let count = client.describe("zoo/app/count").await.unwrap();
    assert_eq!(count.kind, NodeKind::Stream);
    assert_eq!(count.item.as_deref(), Some("s64"));
    let params: Vec<(&str, &str)> = count
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.ty.as_str()))
        .collect();
    assert_eq!(params, [("n", "s64"), ("delay-ms", "s64")]);
    let total = client.describe("zoo/total-length").await.unwrap();
    assert_eq!(total.kind, NodeKind::Call);
    assert_eq!(total.result_schema["type"], "integer");
    assert_eq!(total.result_schema["maximum"], u32::MAX);
    let catalog = client.catalog().await.unwrap();
    assert!(
        !catalog.iter().any(|n| n.node == "zoo/helper-without-hints"),
        "a function the module did not mark @node is not a node"
    );
    client.close().await;
    server.stop().await;
}

/// The tool writes docstrings into the `warden:wit` custom section; the
/// host shows them as the nodes' docs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docstrings_are_the_nodes_docs_in_the_catalog() {
    let zoo = python_tool_plugin("zoo");
    let server = Setup::new().plugin("zoo", &zoo, "").start().await;
    let client = server.client().await;
    let docs = |node: &'static str| {
        let client = client.clone();
        async move { client.describe(node).await.unwrap().docs }
    };
    assert_eq!(docs("zoo/add").await.as_deref(), Some("Adds two integers."));
    assert_eq!(
        docs("zoo/reverse").await.as_deref(),
        Some(
            "The same segment, drawn the other way, in the next color.\n\n\
             Its label gets ` (reversed)` appended, when it has one."
        )
    );
    assert_eq!(
        docs("zoo/app/count").await.as_deref(),
        Some("Streams 0, 1, … n-1, reporting progress; `delay-ms` is only named.")
    );
    assert_eq!(docs("zoo/length").await, None, "no docstring, no docs");
    client.close().await;
    server.stop().await;
}

/// `kv`, `blobs` and `invoke` work through warden_guest, and a plugin gets
/// the imports only when its source uses them: served without the grants,
/// the same component does not load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_capabilities_work_and_are_imported_only_when_used() {
    let keeper = python_tool_plugin("keeper");
    let grants = "[grants]\nkv = true\nblobs = \"read-write\"\ninvoke = [\"math/add\"]\n";
    let server = Setup::new()
        .plugin("keeper", &keeper, grants)
        .plugin("ungranted", &keeper, "")
        .plugin("math", &example("math"), "")
        .start()
        .await;
    let client = server.client().await;
    let status = client.status().await.unwrap();
    let ungranted = status
        .plugins
        .iter()
        .find(|p| p.name == "ungranted")
        .unwrap();
    assert_eq!(ungranted.state, PluginState::Failed);
    let why = ungranted.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("imports `warden:node/") && why.contains("is not granted"),
        "{why}"
    );
    let call = |node: &'static str, args: Value| {
        let client = client.clone();
        async move {
            client
                .call(node, args)
                .await
                .unwrap_or_else(|e| panic!("{node}: {e}"))
        }
    };

    assert_eq!(call("keeper/recall", mp(r#"["a"]"#)).await, Value::Nil);
    assert_eq!(
        call("keeper/remember", mp(r#"["a", "one"]"#)).await,
        Value::Nil
    );
    assert_eq!(
        call("keeper/remember", mp(r#"["ab", "two"]"#)).await,
        Value::Nil
    );
    assert_eq!(
        call("keeper/remember", mp(r#"["b", "three"]"#)).await,
        Value::Nil
    );
    assert_eq!(
        call("keeper/recall", mp(r#"["a"]"#)).await,
        Value::from("one")
    );
    assert_eq!(
        call("keeper/keys", mp(r#"["a"]"#)).await,
        strings(&["a", "ab"])
    );
    assert_eq!(
        call("keeper/forget", mp(r#"["a"]"#)).await,
        Value::from(true)
    );
    assert_eq!(
        call("keeper/forget", mp(r#"["a"]"#)).await,
        Value::from(false)
    );
    assert_eq!(
        call("keeper/keys", mp(r#"[""]"#)).await,
        strings(&["ab", "b"])
    );

    let data: Vec<u8> = (0..=255).collect();
    let reference = call(
        "keeper/stash",
        Value::Array(vec![Value::Binary(data.clone())]),
    )
    .await;
    let reference = reference.as_str().unwrap().to_owned();
    assert!(reference.starts_with("blake3:"), "{reference}");
    assert_eq!(
        call("keeper/fetch", mp(&format!(r#"["{reference}"]"#))).await,
        Value::Binary(data)
    );
    assert_eq!(
        call("keeper/size", mp(&format!(r#"["{reference}"]"#))).await,
        Value::from(256)
    );
    let missing = format!("blake3:{}", "0".repeat(64));
    assert_eq!(
        call("keeper/size", mp(&format!(r#"["{missing}"]"#))).await,
        Value::Nil
    );
    // A host error surfaces as HostError, which fails the call.
    let (kind, message) = failure(&client, "keeper/fetch", mp(r#"["not-a-ref"]"#)).await;
    assert_eq!(kind, ErrorKind::NodeError);
    assert!(message.starts_with("HostError: invalid: "), "{message}");

    assert_eq!(call("keeper/add-via", mp("[40, 2]")).await, Value::from(42));
    assert_eq!(
        call(
            "keeper/call-raw",
            Value::Array(vec![
                Value::from("math/add"),
                Value::Binary(vec![0x92, 1, 2])
            ])
        )
        .await,
        Value::Binary(vec![3])
    );
    let answer = call("keeper/try-call", mp(r#"["math/divide"]"#)).await;
    let answer = answer.as_str().unwrap();
    assert!(answer.starts_with("denied: "), "{answer}");
    assert!(answer.contains("math/divide"), "{answer}");
    client.close().await;
    server.stop().await;
}

/// An unsupported hint fails the build before componentize-py runs, naming
/// the file, line, function and parameter, without a traceback.
#[test]
fn an_unsupported_hint_fails_the_build_naming_function_and_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("bad.py");
    std::fs::write(
        &source,
        "from warden_guest import node\n\n@node\ndef tally(words: list[str], options: dict) -> int:\n    return 0\n",
    )
    .unwrap();
    let out = dir.path().join("bad.wasm");
    let run = Command::new("python3")
        .arg(root().join("guest-py/warden_py.py"))
        .args(["build", "bad.py", "-o"])
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .expect("python3 runs");
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with(
            "bad.py:4: error: function `tally`, parameter `options`: `dict` is not supported"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("use a @dataclass"), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
    assert!(!out.exists(), "no component is written");
}
