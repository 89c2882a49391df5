//! Round trips of every WIT type of the value mapping, both ways, with edge
//! values, and the errors for values that do not fit.

use rmpv::Value;
use warden_host::proto::{DecodeError, RawValue};
use warden_host::{Args, CallError, ErrorKind, Limits, Plugin, Reply};

use crate::support::{load, mp, test_plugin};

fn types() -> Plugin {
    load("types", &test_plugin("types"), Limits::default())
}

async fn echo(plugin: &Plugin, node: &str, value: Value) -> Result<Value, CallError> {
    call(plugin, &format!("echo/{node}"), Value::Array(vec![value])).await
}

/// Calls `node` with `args` as values and again encoded, as the QUIC server
/// hands them over (read straight into the guest's values, the answer
/// written straight from its result); both must agree, byte for byte.
async fn call(plugin: &Plugin, node: &str, args: Value) -> Result<Value, CallError> {
    let by_value = plugin.call(node, args.clone(), Default::default()).await;
    let raw = match RawValue::encode(&args) {
        Ok(raw) => raw,
        // A string that is not UTF-8 cannot come off the wire (the server
        // refuses the frame).
        Err(DecodeError::NotUtf8) => return by_value,
        Err(e) => panic!("{node}({args}): {e}"),
    };
    let encoded = plugin
        .call_encoded(node, Args::Encoded(raw), Default::default(), None)
        .await;
    match (&by_value, encoded) {
        (Ok(value), Ok(reply)) => {
            let written = match reply {
                Reply::Encoded(bytes) => bytes,
                Reply::Value(v) => mp_bytes(&v),
                Reply::Bin(bytes) => mp_bytes(&Value::Binary(bytes)),
            };
            assert_eq!(written, mp_bytes(value), "{node}({args}) encoded");
        }
        (Err(e), Err(encoded)) => assert_eq!(&encoded, e, "{node}({args}) encoded"),
        (by_value, encoded) => panic!("{node}({args}): {by_value:?} but encoded {encoded:?}"),
    }
    by_value
}

fn mp_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).unwrap();
    out
}

/// Asserts that `value` comes back unchanged from `node`.
async fn round_trip(plugin: &Plugin, node: &str, value: Value) {
    let back = echo(plugin, node, value.clone())
        .await
        .unwrap_or_else(|e| panic!("{node}({value}) failed: {e}"));
    assert_eq!(back, value, "{node} did not round-trip");
}

/// Asserts that `value` is refused as bad arguments, with `needles` in the message.
async fn refused(plugin: &Plugin, node: &str, value: Value, needles: &[&str]) {
    let err = echo(plugin, node, value.clone())
        .await
        .expect_err(&format!("{node}({value}) should fail"));
    assert_eq!(err.kind, ErrorKind::BadArgs, "{node}({value}): {err}");
    for needle in needles {
        assert!(
            err.message.contains(needle),
            "{node}({value}): `{}` lacks `{needle}`",
            err.message
        );
    }
}

#[tokio::test]
async fn integers_round_trip_at_their_limits_and_reject_out_of_range() {
    let p = types();
    round_trip(&p, "echo-bool", Value::from(true)).await;
    round_trip(&p, "echo-bool", Value::from(false)).await;
    for v in [i8::MIN as i64, -1, 0, i8::MAX as i64] {
        round_trip(&p, "echo-s8", Value::from(v)).await;
    }
    for v in [0u64, u8::MAX as u64] {
        round_trip(&p, "echo-u8", Value::from(v)).await;
    }
    for v in [i16::MIN as i64, i16::MAX as i64] {
        round_trip(&p, "echo-s16", Value::from(v)).await;
    }
    round_trip(&p, "echo-u16", Value::from(u16::MAX)).await;
    for v in [i32::MIN as i64, i32::MAX as i64] {
        round_trip(&p, "echo-s32", Value::from(v)).await;
    }
    round_trip(&p, "echo-u32", Value::from(u32::MAX)).await;
    for v in [i64::MIN, i64::MAX] {
        round_trip(&p, "echo-s64", Value::from(v)).await;
    }
    round_trip(&p, "echo-u64", Value::from(u64::MAX)).await;
    round_trip(&p, "echo-u64", Value::from(0u64)).await;

    refused(
        &p,
        "echo-s8",
        Value::from(128),
        &["parameter `v`", "s8", "128", "out of range"],
    )
    .await;
    refused(&p, "echo-s8", Value::from(-129), &["s8", "-129"]).await;
    refused(&p, "echo-u8", Value::from(-1), &["u8", "-1"]).await;
    refused(&p, "echo-u8", Value::from(256), &["u8", "256"]).await;
    refused(&p, "echo-u16", Value::from(65_536), &["u16"]).await;
    refused(
        &p,
        "echo-s32",
        Value::from(i64::from(i32::MAX) + 1),
        &["s32"],
    )
    .await;
    refused(&p, "echo-u32", Value::from(-5), &["u32"]).await;
    refused(&p, "echo-s64", Value::from(u64::MAX), &["s64"]).await;
    refused(&p, "echo-u64", Value::from(-1), &["u64"]).await;
    refused(&p, "echo-s32", Value::from(1.5), &["s32", "float 1.5"]).await;
    refused(&p, "echo-s32", Value::from("1"), &["s32", "string \"1\""]).await;
    refused(&p, "echo-bool", Value::from(1), &["bool", "integer 1"]).await;
}

#[tokio::test]
async fn floats_keep_nan_infinity_and_signed_zero() {
    let p = types();
    round_trip(&p, "echo-f64", Value::F64(1.25)).await;
    round_trip(&p, "echo-f64", Value::F64(f64::MAX)).await;
    round_trip(&p, "echo-f64", Value::F64(f64::NEG_INFINITY)).await;
    round_trip(&p, "echo-f32", Value::F32(-3.5)).await;
    round_trip(&p, "echo-f32", Value::F32(f32::INFINITY)).await;

    let nan = echo(&p, "echo-f64", Value::F64(f64::NAN)).await.unwrap();
    assert!(matches!(nan, Value::F64(f) if f.is_nan()), "{nan}");
    let nan = echo(&p, "echo-f32", Value::F32(f32::NAN)).await.unwrap();
    assert!(matches!(nan, Value::F32(f) if f.is_nan()), "{nan}");
    let zero = echo(&p, "echo-f64", Value::F64(-0.0)).await.unwrap();
    assert!(
        matches!(zero, Value::F64(f) if f == 0.0 && f.is_sign_negative()),
        "{zero}"
    );

    // An integer is accepted where a float is expected.
    assert_eq!(
        echo(&p, "echo-f64", Value::from(3)).await.unwrap(),
        Value::F64(3.0)
    );
    assert_eq!(
        echo(&p, "echo-f32", Value::from(-2)).await.unwrap(),
        Value::F32(-2.0)
    );
    refused(&p, "echo-f64", Value::from("1.0"), &["f64", "\"NaN\""]).await;
    // How JSON writes what it has no numbers for, as the CLI prints it.
    let inf = echo(&p, "echo-f64", Value::from("Infinity")).await.unwrap();
    assert_eq!(inf, Value::F64(f64::INFINITY));
    let neg = echo(&p, "echo-f32", Value::from("-Infinity"))
        .await
        .unwrap();
    assert_eq!(neg, Value::F32(f32::NEG_INFINITY));
    let nan = echo(&p, "echo-f32", Value::from("NaN")).await.unwrap();
    assert!(matches!(nan, Value::F32(f) if f.is_nan()), "{nan}");
    let printed = warden_host::json::from_msgpack(&Value::F64(f64::NEG_INFINITY));
    let back = warden_host::json::to_msgpack(&printed);
    assert_eq!(
        echo(&p, "echo-f64", back).await.unwrap(),
        Value::F64(f64::NEG_INFINITY),
        "what the CLI prints it takes back"
    );
}

#[tokio::test]
async fn chars_and_strings_handle_unicode_and_emptiness() {
    let p = types();
    for c in ["a", "é", "😀", "\u{10FFFF}"] {
        round_trip(&p, "echo-char", Value::from(c)).await;
    }
    refused(
        &p,
        "echo-char",
        Value::from("ab"),
        &["char", "2 characters"],
    )
    .await;
    refused(&p, "echo-char", Value::from(""), &["char", "0 characters"]).await;
    for s in ["", "plain", "héllo wörld 😀 مرحبا", "nul\0inside"] {
        round_trip(&p, "echo-string", Value::from(s)).await;
    }
    round_trip(&p, "echo-string", Value::from("x".repeat(100_000))).await;
    // A msgpack str (0xa2: two bytes) holding invalid UTF-8.
    let invalid = rmpv::decode::read_value(&mut &[0xa2, 0xff, 0xfe][..]).unwrap();
    refused(&p, "echo-string", invalid, &["invalid UTF-8"]).await;
}

#[tokio::test]
async fn lists_bytes_and_tuples() {
    let p = types();
    round_trip(&p, "echo-bytes", Value::Binary(vec![])).await;
    round_trip(&p, "echo-bytes", Value::Binary((0..=255).collect())).await;
    // An array of ints is accepted for list<u8>, and comes back as bin.
    assert_eq!(
        echo(&p, "echo-bytes", mp("[1, 2, 255]")).await.unwrap(),
        Value::Binary(vec![1, 2, 255])
    );
    refused(&p, "echo-bytes", mp("[1, 256]"), &["at `[1]`", "u8", "256"]).await;
    round_trip(&p, "echo-list", mp("[]")).await;
    round_trip(&p, "echo-list", mp("[1, -2, 2147483647]")).await;
    refused(&p, "echo-list", mp("[1, \"two\"]"), &["at `[1]`", "s32"]).await;
    refused(&p, "echo-list", mp("{\"a\": 1}"), &["list<s32>", "map"]).await;
    round_trip(&p, "echo-strings", mp("[\"\", \"a\", \"ü\"]")).await;
    round_trip(&p, "echo-tuple", mp("[\"a\", 7, true]")).await;
    refused(
        &p,
        "echo-tuple",
        mp("[\"a\", 7]"),
        &["tuple<string, u8, bool>", "array of 2"],
    )
    .await;
    refused(
        &p,
        "echo-tuple",
        mp("[\"a\", 700, true]"),
        &["at `[1]`", "u8"],
    )
    .await;
}

#[tokio::test]
async fn records_variants_enums_and_flags() {
    let p = types();
    round_trip(&p, "echo-record", mp(r#"{"x": -1, "y": 2}"#)).await;
    refused(&p, "echo-record", mp(r#"{"x": 1}"#), &["without field `y`"]).await;
    refused(
        &p,
        "echo-record",
        mp(r#"{"x": 1, "y": 2, "z": 3}"#),
        &["unknown field `z`"],
    )
    .await;
    refused(
        &p,
        "echo-record",
        mp(r#"{"x": 1, "y": "2"}"#),
        &["at `.y`", "s32"],
    )
    .await;

    round_trip(&p, "echo-variant", mp(r#"{"circle": 1.5}"#)).await;
    round_trip(&p, "echo-variant", mp(r#"{"rect": {"x": 1, "y": 2}}"#)).await;
    round_trip(&p, "echo-variant", mp(r#""empty""#)).await;
    refused(
        &p,
        "echo-variant",
        mp(r#""circle""#),
        &["without its payload"],
    )
    .await;
    refused(
        &p,
        "echo-variant",
        mp(r#""square""#),
        &["unknown case `square`"],
    )
    .await;
    refused(
        &p,
        "echo-variant",
        mp(r#"{"empty": 1}"#),
        &["does not take"],
    )
    .await;
    refused(
        &p,
        "echo-variant",
        mp(r#"{"rect": {"x": 1}}"#),
        &["at `.rect`"],
    )
    .await;

    round_trip(&p, "echo-enum", mp(r#""green""#)).await;
    refused(
        &p,
        "echo-enum",
        mp(r#""purple""#),
        &["unknown case `purple`"],
    )
    .await;

    round_trip(&p, "echo-flags", mp(r#"["read", "exec"]"#)).await;
    round_trip(&p, "echo-flags", mp("[]")).await;
    // Flags come back in declaration order.
    assert_eq!(
        echo(&p, "echo-flags", mp(r#"["exec", "read"]"#))
            .await
            .unwrap(),
        mp(r#"["read", "exec"]"#)
    );
    refused(&p, "echo-flags", mp(r#"["fly"]"#), &["unknown flag `fly`"]).await;
}

#[tokio::test]
async fn options_nest_and_results_map_to_ok_and_err() {
    let p = types();
    round_trip(&p, "echo-option", Value::Nil).await;
    round_trip(&p, "echo-option", Value::from("x")).await;
    round_trip(&p, "echo-option", Value::from("")).await;
    // option<option<s32>>: none, some(none), some(some(5)).
    round_trip(&p, "echo-nested-option", Value::Nil).await;
    round_trip(&p, "echo-nested-option", mp("[null]")).await;
    round_trip(&p, "echo-nested-option", mp("[5]")).await;
    refused(&p, "echo-nested-option", mp("5"), &["option<option<s32>>"]).await;

    round_trip(&p, "echo-results", mp(r#"[{"ok": "a"}, {"err": 3}]"#)).await;
    round_trip(
        &p,
        "echo-unit-result",
        mp(r#"[{"ok": null}, {"err": null}]"#),
    )
    .await;
    refused(
        &p,
        "echo-results",
        mp(r#"[{"maybe": 1}]"#),
        &["case `maybe`"],
    )
    .await;

    let deep = mp(
        r#"[null, [], [[{"x": 1, "y": 2}, null], [{"x": 3, "y": 4}, {"rect": {"x": 5, "y": 6}}],
            [{"x": 0, "y": 0}, "empty"]]]"#,
    );
    round_trip(&p, "echo-deep", deep).await;
    refused(
        &p,
        "echo-deep",
        mp(r#"[[[{"x": 1, "y": 2}, {"rect": {"x": 5, "y": "six"}}]]]"#),
        &["at `[0][0][1].rect.y`", "s32"],
    )
    .await;
}

#[tokio::test]
async fn a_top_level_result_unwraps_ok_and_turns_err_into_a_node_error() {
    let p = types();
    assert_eq!(
        echo(&p, "check", mp(r#"{"ok": "fine"}"#)).await.unwrap(),
        Value::from("fine")
    );
    let err = echo(&p, "check", mp(r#"{"err": 7}"#)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NodeError);
    assert_eq!(err.details, Some(Value::from(7)));
}

#[tokio::test]
async fn arguments_come_as_a_map_or_an_array() {
    let p = types();
    let describe = |args| call(&p, "echo/describe", args);
    assert_eq!(
        describe(mp(r#"[1, "b", 3]"#)).await.unwrap(),
        Value::from("1/b/Some(3)")
    );
    assert_eq!(
        describe(mp(r#"{"b": "x", "a": 2, "c": null}"#))
            .await
            .unwrap(),
        Value::from("2/x/None")
    );
    // An omitted optional parameter is none.
    assert_eq!(
        describe(mp(r#"{"a": 2, "b": "y"}"#)).await.unwrap(),
        Value::from("2/y/None")
    );
    let err = describe(mp(r#"{"a": 2}"#)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadArgs);
    assert!(
        err.message.contains("missing parameter `b`"),
        "{}",
        err.message
    );
    let err = describe(mp(r#"{"a": 2, "b": "y", "d": 1}"#))
        .await
        .unwrap_err();
    assert!(err.message.contains("no parameter `d`"), "{}", err.message);
    let err = describe(mp(r#"[1, "b"]"#)).await.unwrap_err();
    assert!(
        err.message.contains("takes 3 argument(s)"),
        "{}",
        err.message
    );
    let err = describe(mp("42")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadArgs);
    assert!(
        err.message.contains("a map by parameter name or an array"),
        "{}",
        err.message
    );
    // No parameters and no result: nil in, nil out.
    assert_eq!(
        call(&p, "echo/nothing", Value::Nil).await.unwrap(),
        Value::Nil
    );
    assert_eq!(
        call(&p, "echo/nothing", mp("[]")).await.unwrap(),
        Value::Nil
    );
    // A parameter named twice goes the general way (the first one counts).
    assert_eq!(
        call(
            &p,
            "echo/describe",
            Value::Map(vec![
                ("a".into(), 1.into()),
                ("b".into(), "x".into()),
                ("a".into(), 2.into()),
            ])
        )
        .await
        .unwrap(),
        Value::from("1/x/None")
    );
}

#[tokio::test]
async fn unknown_nodes_and_resource_functions_are_not_found() {
    let p = types();
    let err = p
        .call("echo/nope", mp("[]"), Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(
        err.message.contains("no node `echo/nope`"),
        "{}",
        err.message
    );

    let desc = p
        .node("handles/make-counter")
        .expect("listed, though not callable");
    let why = desc
        .not_callable
        .as_deref()
        .expect("resource functions are not nodes");
    assert!(why.contains("resource"), "{why}");
    let err = p
        .call("handles/make-counter", mp("[1]"), Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("not callable"), "{}", err.message);
}

#[test]
fn node_descriptions_carry_types_and_json_schemas() {
    let p = types();
    let node = p.node("echo/describe").unwrap();
    let params: Vec<(&str, &str)> = node
        .info
        .params
        .iter()
        .map(|x| (x.name.as_str(), x.ty.as_str()))
        .collect();
    assert_eq!(params, [("a", "u8"), ("b", "string"), ("c", "option<u32>")]);
    assert_eq!(node.info.result.as_deref(), Some("string"));
    assert_eq!(
        node.signature(),
        "describe: func(a: u8, b: string, c: option<u32>) -> string"
    );
    let schema = &node.info.params_schema;
    assert_eq!(schema["properties"]["a"]["maximum"], 255);
    assert_eq!(schema["required"], serde_json::json!(["a", "b"]));

    let record = p.node("echo/echo-record").unwrap();
    assert_eq!(
        record.info.params[0].schema["required"],
        serde_json::json!(["x", "y"])
    );
    assert_eq!(record.info.params[0].schema["additionalProperties"], false);
    let check = p.node("echo/check").unwrap();
    // A top-level result's schema is that of its ok value.
    assert_eq!(
        check.info.result_schema,
        serde_json::json!({"type": "string"})
    );
    let flags = p.node("echo/echo-flags").unwrap();
    assert_eq!(
        flags.info.result_schema["items"]["enum"],
        serde_json::json!(["read", "write", "exec"])
    );
}

#[tokio::test]
async fn bytes_nodes_take_the_typed_path_with_the_same_results_and_limits() {
    // `(list<u8>) -> list<u8>` is called through typed bindings when the
    // argument is `bin`; an array of ints takes the general path. Both agree.
    let p = types();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let by_map = p
        .call(
            "echo/echo-bytes",
            Value::Map(vec![("v".into(), Value::Binary(data.clone()))]),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_map, Value::Binary(data.clone()));
    let ints = Value::Array(data[..300].iter().map(|&b| Value::from(b)).collect());
    assert_eq!(
        echo(&p, "echo-bytes", ints).await.unwrap(),
        Value::Binary(data[..300].to_vec())
    );
    let small = load(
        "types-small",
        &test_plugin("types"),
        Limits::default().with_max_result_bytes(1000),
    );
    let err = echo(&small, "echo-bytes", Value::Binary(data))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{err}");
    assert!(err.message.contains("result cap"), "{}", err.message);
}

#[tokio::test]
async fn number_list_nodes_take_the_typed_path_with_the_same_results_and_limits() {
    // `(list<s32>) -> list<s32>` is called through typed bindings; values
    // the typed path cannot take go the general way and are refused alike.
    let p = types();
    let ints: Vec<Value> = (0..16_384)
        .map(|i: i64| Value::from((i - 8192) * 262_139))
        .collect();
    round_trip(&p, "echo-list", Value::Array(ints.clone())).await;
    let by_map = p
        .call(
            "echo/echo-list",
            Value::Map(vec![("v".into(), Value::Array(ints[..10].to_vec()))]),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_map, Value::Array(ints[..10].to_vec()));
    refused(
        &p,
        "echo-list",
        mp("[1, 2147483648]"),
        &["at `[1]`", "out of range"],
    )
    .await;
    refused(&p, "echo-list", mp("[1.5]"), &["at `[0]`", "s32"]).await;
    // The result cap counts 9 bytes a number, as on the general path.
    let small = load(
        "types-small",
        &test_plugin("types"),
        Limits::default().with_max_result_bytes(1000),
    );
    let fits: Vec<Value> = (0..110).map(Value::from).collect();
    assert_eq!(
        echo(&small, "echo-list", Value::Array(fits.clone()))
            .await
            .unwrap(),
        Value::Array(fits)
    );
    let err = echo(&small, "echo-list", Value::Array(ints))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ResourceLimit, "{err}");
    assert!(err.message.contains("result cap"), "{}", err.message);
}
