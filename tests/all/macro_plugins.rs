//! Plugins written with `#[warden_guest::plugin]` and no WIT file
//! (`tests/plugins/macro-zoo`, `examples/plugins/math`), called over a real
//! host and QUIC: every type the attribute supports with real values,
//! records as maps and variants as the value mapping says, a stream, a
//! channel, errors, a `pub mod` as an interface, and the docs the attribute
//! embeds.

use futures::StreamExt;
use rmpv::Value;
use warden_host::rpc::{CallOpts, Client, ClientError, Event};
use warden_host::{ErrorKind, NodeKind};

use crate::harness::server::{Setup, TestServer};
use crate::support::{example, map, mp, point, strings, test_plugin};

/// `macro-zoo` as plugin `zoo`, `math` as `math`.
async fn serve() -> TestServer {
    Setup::new()
        .plugin("zoo", &test_plugin("macro_zoo"), "")
        .plugin("math", &example("math"), "")
        .start()
        .await
}

/// Calls `zoo/NODE` with the JSON `args`; its result.
async fn call(client: &Client, node: &str, args: &str) -> Value {
    client
        .call(&format!("zoo/{node}"), mp(args))
        .await
        .unwrap_or_else(|e| panic!("zoo/{node}({args}) failed: {e}"))
}

/// Calls `zoo/NODE` with the JSON `args`, expecting an error.
async fn call_err(client: &Client, node: &str, args: &str) -> warden_host::CallError {
    match client.call(&format!("zoo/{node}"), mp(args)).await {
        Err(ClientError::Call(e)) => e,
        other => panic!("zoo/{node}({args}): expected a call error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primitives_strings_lists_options_and_tuples_cross_both_ways() {
    let served = serve().await;
    let client = served.client().await;

    let all = call(
        &client,
        "primitives",
        r#"[true, -128, -32768, -2147483648, -9223372036854775808, 255, 65535,
            4294967295, 18446744073709551615, 1.5, -2.25, "é"]"#,
    )
    .await;
    assert_eq!(
        all,
        Value::Array(vec![
            Value::from(true),
            Value::from(i8::MIN),
            Value::from(i16::MIN),
            Value::from(i32::MIN),
            Value::from(i64::MIN),
            Value::from(u8::MAX),
            Value::from(u16::MAX),
            Value::from(u32::MAX),
            Value::from(u64::MAX),
            Value::F32(1.5),
            Value::F64(-2.25),
            Value::from("é"),
        ])
    );
    // A `&str` parameter, by name.
    assert_eq!(
        call(&client, "greet", r#"{"name": "world"}"#).await,
        Value::from("hello, world")
    );
    // `Vec<u8>` is bytes both ways; `Vec<i32>` a list.
    assert_eq!(
        call(&client, "reverse-bytes", "[[1, 2, 255]]").await,
        Value::Binary(vec![255, 2, 1])
    );
    assert_eq!(
        call(&client, "sum-all", "[[1, 2, 2147483647]]").await,
        Value::from(2_147_483_650_i64)
    );
    assert_eq!(
        call(&client, "first-word", r#"["  hello there"]"#).await,
        Value::from("hello")
    );
    assert_eq!(call(&client, "first-word", r#"["   "]"#).await, Value::Nil);
    assert_eq!(
        call(&client, "swap", r#"[["a", 7]]"#).await,
        Value::Array(vec![Value::from(7), Value::from("a")])
    );
    // A parameter typed with an alias (`type Id = u64`).
    assert_eq!(call(&client, "next-id", "[41]").await, Value::from(42));
    assert_eq!(call(&client, "nothing", "[]").await, Value::Nil);
    assert_eq!(call(&client, "uses-helper", "[]").await, Value::from(7));
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_enums_variants_and_flags_arrive_as_the_value_mapping_says() {
    let served = serve().await;
    let client = served.client().await;

    // A record holding records, as maps by kebab-case field name.
    let grown = call(
        &client,
        "grow",
        r#"[{"label": "box", "corner": {"x": 1, "y": 2}, "size": {"x": 3, "y": 4},
             "tags": ["t"]}, 0.5]"#,
    )
    .await;
    assert_eq!(
        grown,
        map(&[
            ("label", Value::from("box")),
            ("corner", point(1.5, 2.0)),
            ("size", point(3.0, 4.0)),
            ("tags", strings(&["t", "grown"])),
        ])
    );
    let grown = call(
        &client,
        "grow",
        r#"{"item": {"label": "b", "corner": {"x": 0, "y": 0}, "size": null, "tags": []},
            "by": -1}"#,
    )
    .await;
    assert_eq!(
        grown,
        map(&[
            ("label", Value::from("b")),
            ("corner", point(-1.0, 0.0)),
            ("size", Value::Nil),
            ("tags", strings(&["grown"])),
        ])
    );
    // A record with a field missing is refused before the plugin runs.
    let err = call_err(
        &client,
        "grow",
        r#"[{"label": "b", "corner": {"x": 0, "y": 0}, "size": null}, 1]"#,
    )
    .await;
    assert_eq!(err.kind, ErrorKind::BadArgs, "{err}");
    assert!(err.message.contains("tags"), "{}", err.message);

    // Enums are strings.
    assert_eq!(
        call(&client, "colors-between", r#"["blue", "red"]"#).await,
        strings(&["red", "green", "blue"])
    );
    // Variants: `"case"` without a payload, `{"case": payload}` with one; a
    // case with two values carries a tuple.
    assert_eq!(
        call(&client, "shapes", "[]").await,
        Value::Array(vec![
            map(&[("circle", Value::F64(1.5))]),
            map(&[("rect", Value::Array(vec![point(0.0, 0.0), point(2.0, 3.0)]))]),
            map(&[("dot", point(1.0, -1.0))]),
            Value::from("empty"),
        ])
    );
    assert_eq!(
        call(
            &client,
            "area",
            r#"[{"rect": [{"x": 0, "y": 0}, {"x": 2, "y": 3}]}]"#
        )
        .await,
        Value::F64(6.0)
    );
    assert_eq!(
        call(&client, "area", r#"[{"circle": 1}]"#).await,
        Value::F64(std::f64::consts::PI)
    );
    assert_eq!(call(&client, "area", r#"["empty"]"#).await, Value::F64(0.0));
    // Flags are the list of the set names.
    assert_eq!(
        call(&client, "toggle", r#"[["read", "exec"]]"#).await,
        strings(&["write"])
    );
    assert_eq!(
        call(&client, "toggle", "[[]]").await,
        strings(&["read", "write", "exec"])
    );
    // Derived types deep inside lists, options and tuples.
    let nested = r#"[[[{"x": 1, "y": 2}, "green"], null, [{"x": -3, "y": 0.5}, "red"]]]"#;
    assert_eq!(
        call(&client, "nested", nested).await,
        Value::Array(vec![
            Value::Array(vec![point(1.0, 2.0), Value::from("green")]),
            Value::Nil,
            Value::Array(vec![point(-3.0, 0.5), Value::from("red")]),
        ])
    );
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_err_result_is_a_node_error_with_the_error_as_details() {
    let served = serve().await;
    let client = served.client().await;
    assert_eq!(
        call(&client, "parse-int", r#"[" 42 "]"#).await,
        Value::from(42)
    );
    let err = call_err(&client, "parse-int", r#"["x"]"#).await;
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(
        err.message,
        "`x` is not an integer: invalid digit found in string"
    );
    assert_eq!(err.details, Some(Value::from(err.message.clone())));

    // A derived enum as the error type.
    assert_eq!(call(&client, "checked-div", "[7, 2]").await, Value::from(3));
    let err = call_err(&client, "checked-div", "[1, 0]").await;
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(err.details, Some(Value::from("divide-by-zero")));
    let err = call_err(&client, "checked-div", "[-2147483648, -1]").await;
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(
        err.details,
        Some(map(&[("overflow", Value::from("-2147483648 / -1"))]))
    );

    // The converted example keeps its behaviour.
    let err = match client.call("math/divide", mp("[1, 0]")).await {
        Err(ClientError::Call(e)) => e,
        other => panic!("expected a node error, got {other:?}"),
    };
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(err.details, Some(Value::from("cannot divide 1 by zero")));
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterator_functions_are_stream_nodes() {
    let served = serve().await;
    let client = served.client().await;
    let info = client.describe("zoo/zoo/count").await.unwrap();
    assert_eq!(info.kind, NodeKind::Stream);
    assert_eq!(info.item.as_deref(), Some("u32"));

    let items: Vec<Value> = client
        .stream("zoo/zoo/count", mp("[5]"))
        .await
        .unwrap()
        .map(|item| item.unwrap())
        .collect()
        .await;
    assert_eq!(items, (1..=5).map(Value::from).collect::<Vec<_>>());

    let points: Vec<Value> = client
        .stream("zoo/zoo/diagonal", mp("[3]"))
        .await
        .unwrap()
        .map(|item| item.unwrap())
        .collect()
        .await;
    assert_eq!(
        points,
        vec![point(0.0, 0.0), point(1.0, 1.0), point(2.0, 2.0)]
    );

    // `Item = Result<T, E>`: the items before the error, then the error.
    let items: Vec<Result<Value, ClientError>> = client
        .stream("zoo/zoo/fail-at", mp("[3]"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &Value::from(1));
    assert_eq!(items[1].as_ref().unwrap(), &Value::from(2));
    match &items[2] {
        Err(ClientError::Call(e)) => {
            assert_eq!(e.kind, ErrorKind::NodeError);
            assert_eq!(e.message, "failed at 3");
        }
        other => panic!("expected a node error, got {other:?}"),
    }
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_functions_answer_each_message_and_finish() {
    let served = serve().await;
    let client = served.client().await;
    let info = client.describe("zoo/zoo/echo").await.unwrap();
    assert_eq!(info.kind, NodeKind::Channel);
    assert_eq!(
        (info.input.as_deref(), info.item.as_deref()),
        (Some("string"), Some("string"))
    );

    let (mut sender, mut answers) = client
        .channel("zoo/zoo/echo", mp(r#"["> "]"#), CallOpts::default())
        .await
        .unwrap();
    sender.send(Value::from("a")).await.unwrap();
    sender.send(Value::from("b")).await.unwrap();
    sender.finish();
    let mut got = Vec::new();
    while let Some(event) = answers.next().await {
        if let Event::Item(v) = event {
            got.push(v);
        }
    }
    assert_eq!(answers.result().await.unwrap(), Value::Nil);
    assert_eq!(
        got,
        vec![
            Value::from("> a #1"),
            Value::from("> b #2"),
            Value::from("bye after 1 finish"),
        ]
    );

    // Records in and out; no `finish` closure sends nothing more.
    let (mut sender, mut answers) = client
        .channel("zoo/zoo/mirror", mp("[]"), CallOpts::default())
        .await
        .unwrap();
    sender.send(mp(r#"{"x": 1, "y": 2}"#)).await.unwrap();
    sender.finish();
    let mut got = Vec::new();
    while let Some(event) = answers.next().await {
        if let Event::Item(v) = event {
            got.push(v);
        }
    }
    assert_eq!(answers.result().await.unwrap(), Value::Nil);
    assert_eq!(got, vec![point(-1.0, 2.0), point(1.0, -2.0)]);
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_has_every_pub_fn_with_its_signature_and_no_helper() {
    let served = serve().await;
    let client = served.client().await;
    let mut nodes: Vec<String> = client
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .filter(|n| n.starts_with("zoo/"))
        .collect();
    nodes.sort();
    let mut expected = vec![
        "zoo/area",
        "zoo/checked-div",
        "zoo/colors-between",
        "zoo/first-word",
        "zoo/geometry/corners",
        "zoo/geometry/length",
        "zoo/greet",
        "zoo/grow",
        "zoo/nested",
        "zoo/next-id",
        "zoo/nothing",
        "zoo/parse-int",
        "zoo/primitives",
        "zoo/reverse-bytes",
        "zoo/segment",
        "zoo/shapes",
        "zoo/sum-all",
        "zoo/swap",
        "zoo/toggle",
        "zoo/uses-helper",
        "zoo/zoo/count",
        "zoo/zoo/diagonal",
        "zoo/zoo/echo",
        "zoo/zoo/fail-at",
        "zoo/zoo/mirror",
    ];
    expected.sort();
    assert_eq!(nodes, expected);

    let info = client.describe("zoo/parse-int").await.unwrap();
    let params: Vec<(&str, &str)> = info
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.ty.as_str()))
        .collect();
    assert_eq!(params, [("s", "string")]);
    assert_eq!(info.result.as_deref(), Some("result<s64, string>"));

    // The converted example's signatures are unchanged.
    let signature = |info: warden_host::NodeInfo| {
        let params: Vec<String> = info
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        format!(
            "func({}){}",
            params.join(", "),
            info.result.map(|r| format!(" -> {r}")).unwrap_or_default()
        )
    };
    for (node, expected) in [
        ("math/add", "func(a: s64, b: s64) -> s64"),
        ("math/divide", "func(a: f64, b: f64) -> result<f64, string>"),
        ("math/slow-sum", "func(n: u32, delay-ms: u32) -> u64"),
    ] {
        assert_eq!(signature(client.describe(node).await.unwrap()), expected);
    }
    client.close().await;
    served.stop().await;
}

/// The docs come from the `warden:wit` section the attribute embeds: the
/// function's doc comment, with a parameter's appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_shows_the_doc_comments() {
    let served = serve().await;
    let client = served.client().await;
    let docs = |node: &'static str| {
        let client = client.clone();
        async move { client.describe(node).await.unwrap().docs }
    };
    assert_eq!(
        docs("math/add").await.as_deref(),
        Some("Adds two integers (wrapping on overflow).")
    );
    assert_eq!(
        docs("math/divide").await.as_deref(),
        Some(
            "Divides `a` by `b`; dividing by zero is an error the caller receives\n\
             as a `node-error` with the message as details."
        )
    );
    assert_eq!(
        docs("zoo/greet").await.as_deref(),
        Some("Greets `name` (a `&str` parameter).\n\n- `name`: Who to greet.")
    );
    assert_eq!(
        docs("zoo/zoo/count").await.as_deref(),
        Some("Streams 1, 2, … `n` (a stream node).")
    );
    assert_eq!(
        docs("zoo/geometry/length").await.as_deref(),
        Some("The length of `segment`.")
    );
    client.close().await;
    served.stop().await;
}

/// A `pub mod` is an interface: its plain and stream functions are nodes
/// `zoo/geometry/...`, and a type it declares crosses both ways, there and
/// in the plugin module's nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_mods_are_interfaces_of_nodes() {
    let served = serve().await;
    let client = served.client().await;

    let segment = call(
        &client,
        "segment",
        r#"[{"x": 1, "y": 1}, {"x": 4, "y": 5}]"#,
    )
    .await;
    assert_eq!(
        segment,
        map(&[("from", point(1.0, 1.0)), ("to", point(4.0, 5.0))])
    );
    let length = call(
        &client,
        "geometry/length",
        r#"[{"from": {"x": 1, "y": 1}, "to": {"x": 4, "y": 5}}]"#,
    )
    .await;
    assert_eq!(length, Value::F64(5.0));
    let info = client.describe("zoo/geometry/length").await.unwrap();
    assert_eq!(info.params[0].ty, "segment");

    let info = client.describe("zoo/geometry/corners").await.unwrap();
    assert_eq!(info.kind, NodeKind::Stream);
    let corners: Vec<Value> = client
        .stream(
            "zoo/geometry/corners",
            mp(r#"[{"rect": [{"x": 0, "y": 0}, {"x": 2, "y": 3}]}]"#),
        )
        .await
        .unwrap()
        .map(|item| item.unwrap())
        .collect()
        .await;
    assert_eq!(
        corners,
        vec![
            point(0.0, 0.0),
            point(2.0, 0.0),
            point(2.0, 3.0),
            point(0.0, 3.0)
        ]
    );
    client.close().await;
    served.stop().await;
}
