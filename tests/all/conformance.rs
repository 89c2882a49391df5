//! The language-neutral conformance suite (`tests/conformance/cases.json`)
//! through the Rust client; `clients/python/tests` runs the same cases
//! through the Python client. `tests/conformance/README.md` describes the
//! format.

use std::time::Duration;

use rmpv::Value;
use serde_json::Value as Json;
use warden_host::rpc::{CallOpts, Client, ClientError, Event};

use crate::harness::server::Setup;
use crate::support::{example, root, test_plugin};

/// How long a job may take in the suite.
const JOB_WAIT: Duration = Duration::from_secs(30);

fn suite() -> Json {
    let path = root().join("tests/conformance/cases.json");
    let text = std::fs::read_to_string(&path).expect("tests/conformance/cases.json is readable");
    serde_json::from_str(&text).expect("cases.json is JSON")
}

/// A server with the suite's plugins.
async fn serve(suite: &Json) -> crate::harness::server::TestServer {
    let mut setup = Setup::new();
    for plugin in suite["plugins"].as_array().expect("plugins") {
        let name = plugin["name"].as_str().expect("a plugin name");
        let source = plugin["wasm"].as_str().expect("a plugin source");
        let wasm = match source.split_once(':') {
            Some(("examples", crate_name)) => example(crate_name),
            Some(("tests", crate_name)) => test_plugin(crate_name),
            _ => panic!("unknown plugin source `{source}`"),
        };
        setup = setup.plugin(name, &wasm, plugin["manifest"].as_str().unwrap_or(""));
    }
    setup.start().await
}

/// A case's JSON as the MessagePack value it stands for: `{"$bytes": hex}`
/// is bin, `{"$float": x}` a float (`"NaN"`, `"Infinity"`, `"-Infinity"`
/// included), `{"$ref": true}` the case's blob reference.
fn decode(json: &Json, reference: Option<&str>) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (None, Some(u), _) => Value::from(u),
            (None, None, f) => Value::F64(f.expect("a number")),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(|v| decode(v, reference)).collect()),
        Json::Object(map) => {
            if map.len() == 1 {
                let (key, inner) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "$bytes" => return Value::Binary(hex(inner.as_str().expect("hex digits"))),
                    "$float" => {
                        return Value::F64(match inner {
                            Json::String(s) => match s.as_str() {
                                "NaN" => f64::NAN,
                                "Infinity" => f64::INFINITY,
                                "-Infinity" => f64::NEG_INFINITY,
                                other => panic!("unknown float `{other}`"),
                            },
                            n => n.as_f64().expect("a number"),
                        });
                    }
                    "$ref" => return Value::from(reference.expect("a blob reference")),
                    _ => {}
                }
            }
            Value::Map(
                map.iter()
                    .map(|(k, v)| (Value::from(k.as_str()), decode(v, reference)))
                    .collect(),
            )
        }
    }
}

fn hex(digits: &str) -> Vec<u8> {
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// Whether `actual` is `expected`, types included: a float is not an int,
/// NaN is NaN, maps compare by key whatever their order.
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::F64(e), Value::F64(a)) => e == a || (e.is_nan() && a.is_nan()),
        (Value::F64(e), Value::F32(a)) => *e == f64::from(*a) || (e.is_nan() && a.is_nan()),
        (Value::Integer(e), Value::Integer(a)) => {
            e.as_i64() == a.as_i64() && e.as_u64() == a.as_u64()
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| same(e, a))
        }
        (Value::Map(e), Value::Map(a)) => {
            e.len() == a.len()
                && e.iter().all(|(k, v)| {
                    a.iter()
                        .find(|(ak, _)| ak == k)
                        .is_some_and(|(_, av)| same(v, av))
                })
        }
        (e, a) => e == a,
    }
}

fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// `outcome` failed as `case["error"]` expects: its kind and details.
fn check_error(case: &Json, error: &ClientError) -> Result<(), String> {
    let expected = &case["error"];
    let ClientError::Call(call) = error else {
        return Err(format!("expected a call error, got {error}"));
    };
    let kind = expected["kind"].as_str().expect("an error kind");
    if call.kind.as_str() != kind {
        return Err(format!("expected `{kind}`, got {error}"));
    }
    if let Some(details) = expected.get("details") {
        let got = call.details.clone().unwrap_or(Value::Nil);
        if !same(&decode(details, None), &got) {
            return Err(format!("details: got {got}"));
        }
    }
    Ok(())
}

/// The outcome of an operation that either fails as expected or gives a
/// value to check.
fn expect_ok<T>(case: &Json, outcome: Result<T, ClientError>) -> Result<Option<T>, String> {
    match (outcome, case.get("error")) {
        (Ok(_), Some(e)) => Err(format!("expected {e}, it succeeded")),
        (Ok(v), None) => Ok(Some(v)),
        (Err(e), Some(_)) => check_error(case, &e).map(|()| None),
        (Err(e), None) => Err(format!("unexpected error[{}]: {}", e.kind(), e.message())),
    }
}

fn check_value(expected: &Json, got: &Value, reference: Option<&str>) -> Result<(), String> {
    if same(&decode(expected, reference), got) {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {got}"))
    }
}

/// Reads a call's events until its end: the items, progress count, log
/// lines, and the result.
async fn drain(
    mut stream: warden_host::rpc::CallStream,
) -> (
    Vec<Value>,
    usize,
    Vec<(String, String)>,
    Result<Value, ClientError>,
) {
    let (mut items, mut progress, mut logs) = (Vec::new(), 0, Vec::new());
    while let Some(event) = stream.next().await {
        match event {
            Event::Item(v) => items.push(v),
            Event::Progress { fraction, .. } => {
                assert!((0.0..=1.0).contains(&fraction), "progress {fraction}");
                progress += 1;
            }
            Event::Log { level, message } => logs.push((level.as_str().to_owned(), message)),
        }
    }
    (items, progress, logs, stream.result().await)
}

/// Runs one case (or step), returning what did not match.
async fn run(client: &Client, case: &Json, reference: Option<&str>) -> Result<(), String> {
    let args = decode(case.get("args").unwrap_or(&Json::Array(vec![])), reference);
    if let (Some(steps), None) = (case.get("steps"), case.get("blob")) {
        for step in steps.as_array().expect("steps") {
            Box::pin(run(client, step, reference)).await?;
        }
        return Ok(());
    }
    if let Some(node) = case["call"].as_str() {
        let opts = CallOpts {
            deadline: case["timeout_ms"].as_u64().map(Duration::from_millis),
            meta: None,
        };
        let stream = client
            .call_with(node, args, opts)
            .await
            .map_err(|e| format!("the request failed: {e}"))?;
        let (_, progress, logs, result) = drain(stream).await;
        let Some(result) = expect_ok(case, result)? else {
            return Ok(());
        };
        check_value(&case["result"], &result, reference)?;
        let events = &case["events"];
        if progress < events["progress"].as_u64().unwrap_or(0) as usize {
            return Err(format!("{progress} progress events"));
        }
        for log in events["logs"].as_array().into_iter().flatten() {
            let wanted = (
                log["level"].as_str().unwrap_or("").to_owned(),
                log["message"].as_str().unwrap_or("").to_owned(),
            );
            if !logs.contains(&wanted) {
                return Err(format!("no log line {wanted:?} in {logs:?}"));
            }
        }
        return Ok(());
    }
    if case.get("stream").is_some() || case.get("channel").is_some() {
        let (stream, expected) = if let Some(node) = case["stream"].as_str() {
            let stream = client.call_with(node, args, CallOpts::default()).await;
            (stream, &case["items"])
        } else {
            let node = case["channel"].as_str().expect("a node");
            let opened = client.channel(node, args, CallOpts::default()).await;
            let stream = match opened {
                Ok((mut sender, stream)) => {
                    for message in case["send"].as_array().expect("send") {
                        sender
                            .send(decode(message, None))
                            .await
                            .map_err(|e| format!("send: {e}"))?;
                    }
                    sender.finish();
                    Ok(stream)
                }
                Err(e) => Err(e),
            };
            (stream, &case["replies"])
        };
        let stream = stream.map_err(|e| format!("the request failed: {e}"))?;
        let (items, _, _, result) = drain(stream).await;
        expect_ok(case, result)?;
        return check_value(expected, &Value::Array(items), None);
    }
    if let Some(node) = case["submit"].as_str() {
        let Some(job) = expect_ok(case, client.submit(node, args, None).await)? else {
            return Ok(());
        };
        if job.id.len() != 16 || job.node != node || job.state.as_str() != "queued" {
            return Err(format!("submitted: {job:?}"));
        }
        let done = if case["cancel"].as_bool() == Some(true) {
            client.cancel(&job.id).await
        } else {
            client.job(&job.id, Some(JOB_WAIT), false).await
        }
        .map_err(|e| format!("fetching the job: {e}"))?;
        let state = case["state"].as_str().expect("a state");
        if done.state.as_str() != state {
            return Err(format!("expected state `{state}`, got {done:?}"));
        }
        if state == "done" {
            check_value(
                &case["result"],
                done.result.as_ref().unwrap_or(&Value::Nil),
                None,
            )?;
        }
        if let Some(kind) = case["error_kind"].as_str()
            && done.error_kind.map(|k| k.as_str()) != Some(kind)
        {
            return Err(format!("expected error kind `{kind}`, got {done:?}"));
        }
        return Ok(());
    }
    if let Some(blob) = case.get("blob") {
        let Value::Binary(data) = decode(blob, None) else {
            return Err("a blob is {\"$bytes\": ..}".into());
        };
        let info = client
            .put_blob(std::io::Cursor::new(data.clone()), Some(data.len() as u64))
            .await
            .map_err(|e| format!("put: {e}"))?;
        if let Some(expected) = case["ref"].as_str()
            && info.reference != expected
        {
            return Err(format!("expected {expected}, got {}", info.reference));
        }
        if Some(info.size) != case["size"].as_u64() || info.size != data.len() as u64 {
            return Err(format!("size {}", info.size));
        }
        let mut back = Vec::new();
        client
            .get_blob(&info.reference, &mut back)
            .await
            .map_err(|e| format!("get: {e}"))?;
        if back != data {
            return Err("the blob came back different".into());
        }
        for step in case["steps"].as_array().into_iter().flatten() {
            Box::pin(run(client, step, Some(&info.reference))).await?;
        }
        return Ok(());
    }
    if let Some(reference) = case["blob_get"].as_str() {
        let outcome = client.get_blob(reference, &mut Vec::new()).await;
        return expect_ok(case, outcome).map(drop);
    }
    if let Some(node) = case["describe"].as_str() {
        let Some(info) = expect_ok(case, client.describe(node).await)? else {
            return Ok(());
        };
        let entry = info.to_value();
        for (key, expected) in case["entry"].as_object().expect("an entry") {
            let got = field(&entry, key).cloned().unwrap_or(Value::Nil);
            check_value(expected, &got, None).map_err(|e| format!("`{key}`: {e}"))?;
        }
        return Ok(());
    }
    if case.get("catalog").is_some() {
        let catalog = client.catalog().await.map_err(|e| e.to_string())?;
        let names: Vec<&str> = catalog.iter().map(|n| n.node.as_str()).collect();
        if !names.is_sorted() {
            return Err("the catalog is not sorted by name".into());
        }
        for name in case["contains"].as_array().expect("contains") {
            if !names.contains(&name.as_str().expect("a name")) {
                return Err(format!("{name} is missing"));
            }
        }
        for name in case["absent"].as_array().into_iter().flatten() {
            if names.contains(&name.as_str().expect("a name")) {
                return Err(format!("{name} is listed"));
            }
        }
        return Ok(());
    }
    if let Some(cancel) = case.get("cancel") {
        let node = cancel["node"].as_str().expect("a node");
        let mut call = client
            .call_with(node, decode(&cancel["args"], None), CallOpts::default())
            .await
            .map_err(|e| e.to_string())?;
        if call.next().await.is_none() {
            return Err("the call ended before its first event".into());
        }
        drop(call);
        // The node held the plugin's only slot: until it has stopped, calls
        // are `overloaded`. It would run for seconds more if not stopped.
        let then = &case["then"];
        let node = then["call"].as_str().expect("a node");
        let until = tokio::time::Instant::now()
            + Duration::from_millis(case["within_ms"].as_u64().expect("within_ms"));
        loop {
            match client.call(node, decode(&then["args"], None)).await {
                Ok(result) => return check_value(&then["result"], &result, None),
                Err(ClientError::Call(e))
                    if e.kind == warden_host::ErrorKind::Overloaded
                        && tokio::time::Instant::now() < until =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(format!("after cancelling: {e}")),
            }
        }
    }
    Err("no operation this runner knows".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_through_the_rust_client() {
    let suite = suite();
    let server = serve(&suite).await;
    let client = server.client().await;
    let cases = suite["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "the suite has its cases");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("a case name");
        let outcome = tokio::time::timeout(Duration::from_secs(60), run(&client, case, None)).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("{name}: {why}")),
            Err(_) => failures.push(format!("{name}: no outcome within 60 s")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    client.close().await;
    server.stop().await;
}

#[test]
fn the_runner_tells_values_apart() {
    // The comparison is what makes the suite mean something.
    let j = |s: &str| serde_json::from_str::<Json>(s).unwrap();
    assert!(same(&decode(&j("1"), None), &Value::from(1)));
    assert!(!same(&decode(&j("1"), None), &Value::F64(1.0)));
    assert!(same(
        &decode(&j(r#"{"$float": 1}"#), None),
        &Value::F64(1.0)
    ));
    assert!(same(
        &decode(&j(r#"{"$float": "NaN"}"#), None),
        &Value::F32(f32::NAN)
    ));
    assert!(!same(
        &decode(&j(r#"{"$float": "NaN"}"#), None),
        &Value::F64(0.0)
    ));
    assert!(same(
        &decode(&j(r#"{"$bytes": "00ff"}"#), None),
        &Value::Binary(vec![0, 255])
    ));
    assert!(!same(
        &decode(&j(r#"{"$bytes": "00ff"}"#), None),
        &Value::Array(vec![0.into(), 255.into()])
    ));
    assert!(same(
        &decode(&j(r#"{"a": 1, "b": [true]}"#), None),
        &Value::Map(vec![
            ("b".into(), Value::Array(vec![true.into()])),
            ("a".into(), 1.into())
        ])
    ));
    assert!(!same(&decode(&j(r#"{"a": 1}"#), None), &Value::Map(vec![])));
    assert!(same(
        &decode(&j("18446744073709551615"), None),
        &Value::from(u64::MAX)
    ));
    assert!(!same(
        &decode(&j("[1, 2]"), None),
        &Value::Array(vec![1.into()])
    ));
    assert_eq!(
        decode(&j(r#"{"$ref": true}"#), Some("blake3:x")),
        Value::from("blake3:x")
    );
}
