//! Loading components, reflecting them, and the log and progress imports.

use std::sync::{Arc, Mutex};

use rmpv::Value;
use warden_host::{
    CallEvent, CallOptions, ErrorKind, Limits, LoadError, LogLevel, Runtime, RuntimeConfig,
};

use crate::support::{example, load, mp, runtime};

#[tokio::test]
async fn the_example_nodes_answer() {
    let math = load("math", &example("math"), Limits::default());
    assert_eq!(
        math.call("add", mp("[1, 2]"), Default::default())
            .await
            .unwrap(),
        Value::from(3)
    );
    assert_eq!(
        math.call("add", mp(r#"{"a": 5, "b": -7}"#), Default::default())
            .await
            .unwrap(),
        Value::from(-2)
    );
    assert_eq!(
        math.call("divide", mp("[1, 4]"), Default::default())
            .await
            .unwrap(),
        Value::F64(0.25)
    );
    let err = math
        .call("divide", mp("[1, 0]"), Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(err.details, Some(Value::from("cannot divide 1 by zero")));

    let text = load("text", &example("text"), Limits::default());
    let call =
        |node: &'static str, args: &'static str| text.call(node, mp(args), Default::default());
    assert_eq!(
        call("strings/upper", r#"["héllo"]"#).await.unwrap(),
        Value::from("HÉLLO")
    );
    assert_eq!(
        call("strings/reverse", r#"["abc"]"#).await.unwrap(),
        Value::from("cba")
    );
    assert_eq!(
        call("strings/words", r#"[" a  b "]"#).await.unwrap(),
        mp(r#"["a", "b"]"#)
    );
    assert_eq!(
        call("strings/join", r#"[["a", "b"], "-"]"#).await.unwrap(),
        Value::from("a-b")
    );
    assert_eq!(
        call("stats", r#"["hello big world\nok"]"#).await.unwrap(),
        mp(r#"{"chars": 18, "words": 4, "lines": 2, "longest-word": "world"}"#)
    );
    assert_eq!(
        call(
            "apply",
            r#"{"s": "hi there", "style": {"letter-case": "title", "prefix": "> ", "repeat": 1}}"#
        )
        .await
        .unwrap(),
        Value::from("> Hi There")
    );
    assert_eq!(
        call("tokenize", r#"["ab 12,"]"#).await.unwrap(),
        mp(r#"[{"word": "ab"}, "space", {"number": 12}, {"punct": ","}]"#)
    );
    assert_eq!(
        call("case-of", r#"["ABC"]"#).await.unwrap(),
        Value::from("upper")
    );
    assert_eq!(call("case-of", r#"["123"]"#).await.unwrap(), Value::Nil);
}

#[test]
fn nodes_are_reflected_with_interface_names() {
    let text = load("text", &example("text"), Limits::default());
    let names: Vec<&str> = text.nodes().map(|n| n.name()).collect();
    assert_eq!(
        names,
        [
            "apply",
            "case-of",
            "stats",
            "strings/join",
            "strings/reverse",
            "strings/upper",
            "strings/words",
            "tokenize"
        ]
    );
    let math = load("math", &example("math"), Limits::default());
    let imports: Vec<&str> = math
        .imports()
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| n.starts_with("warden:"))
        .collect();
    assert_eq!(
        imports,
        ["warden:node/log@0.1.0", "warden:node/progress@0.1.0"]
    );
}

#[tokio::test]
async fn progress_and_log_lines_reach_the_caller_in_order() {
    let math = load("math", &example("math"), Limits::default());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let options = CallOptions::with_events(move |e| sink.lock().unwrap().push(e));
    let sum = math.call("slow-sum", mp("[4, 1]"), options).await.unwrap();
    assert_eq!(sum, Value::from(10));
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events[0],
        CallEvent::Log {
            level: LogLevel::Info,
            message: "summing 1..=4".into()
        }
    );
    let progress: Vec<(f32, String)> = events[1..]
        .iter()
        .map(|e| match e {
            CallEvent::Progress { fraction, message } => (*fraction, message.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        progress,
        [
            (0.25, "added 1 of 4".to_owned()),
            (0.5, "added 2 of 4".to_owned()),
            (0.75, "added 3 of 4".to_owned()),
            (1.0, "added 4 of 4".to_owned()),
        ]
    );
}

#[test]
fn files_that_are_not_components_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = runtime()
        .load_file("core", &core, Limits::default())
        .unwrap_err();
    assert!(matches!(err, LoadError::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");

    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm at all").unwrap();
    let err = runtime()
        .load_file("garbage", &garbage, Limits::default())
        .unwrap_err();
    assert!(matches!(err, LoadError::NotWasm { .. }), "{err}");

    // A component header with a broken body.
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x0d\0\x01\0\xff\xff\xff").unwrap();
    let err = runtime()
        .load_file("broken", &broken, Limits::default())
        .unwrap_err();
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");

    let err = runtime()
        .load_file(
            "missing",
            dir.path().join("missing.wasm"),
            Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }), "{err}");
}

#[tokio::test]
async fn a_runtime_with_settings_of_its_own_compiles_and_runs_plugins() {
    // `Runtime::compile` compiles on a short-lived engine of its own and
    // loads the artifact into the runtime's engine: both must agree on the
    // settings that shape compiled code, whatever the runtime's are.
    let own = Runtime::with_config(RuntimeConfig {
        max_instances: 4,
        warm_instances: 0,
        max_wasm_stack: 256 << 10,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let math = own
        .load_file("math", example("math"), Limits::default())
        .unwrap();
    assert_eq!(
        math.call("add", mp("[1, 2]"), Default::default())
            .await
            .unwrap(),
        Value::from(3)
    );
}

#[test]
fn limits_above_the_engine_maximum_are_refused_at_load() {
    let too_big = Limits::default().with_memory_bytes(runtime().config().max_memory_bytes + 1);
    let err = runtime()
        .load_file("math", example("math"), too_big)
        .unwrap_err();
    assert!(matches!(err, LoadError::LimitTooHigh { .. }), "{err}");
}
