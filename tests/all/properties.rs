//! Property tests (run by `cargo test`, beside the cargo-fuzz target in
//! `fuzz/`): the frame decoder, the request reader, the value decoder and
//! the manifest and host-config parsers take anything without panicking,
//! and what they accept they read back exactly.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use rmpv::Value;
use warden_host::HostConfig;
use warden_host::plugins::Manifest;
use warden_host::proto::{
    FrameDecoder, FrameError, Inbound, MAX_DEPTH, RawError, Request, RequestReader, decode_value,
    frame_bytes, parse_request, skip_value,
};

/// Bounded cases: the suite shares 2 cores.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// MessagePack values a few levels deep, floats without NaN (which is
/// never equal to itself).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(Value::Map),
        ]
    })
}

fn encoded(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("writing to a Vec");
    out
}

proptest! {
    #![proptest_config(config())]

    /// Frames come out whole and in order however the bytes are cut up,
    /// and nothing stays buffered after the last one.
    #[test]
    fn frames_survive_any_chunking(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2048), 0..8),
        piece in 1usize..600,
    ) {
        let mut wire = Vec::new();
        for body in &bodies {
            wire.extend_from_slice(&(body.len() as u32).to_be_bytes());
            wire.extend_from_slice(body);
        }
        let mut decoder = FrameDecoder::new(2048);
        let mut out = Vec::new();
        for chunk in wire.chunks(piece) {
            decoder.push(chunk);
            // A decoder that is drained never holds more than one frame
            // and one piece.
            prop_assert!(decoder.buffered() < 4 + 2048 + piece);
            while let Some(frame) = decoder.next_frame_bytes().unwrap() {
                out.push(frame.to_vec());
            }
        }
        prop_assert_eq!(out, bodies);
        prop_assert_eq!(decoder.buffered(), 0);
        prop_assert!(decoder.finish().is_ok());
    }

    /// A length over the maximum is refused as soon as its 4 bytes are
    /// in, before any of the body.
    #[test]
    fn an_oversized_length_is_refused_before_its_body(
        max in 0usize..100_000,
        over in 1u32..1_000_000,
        rest in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let len = (max as u32).saturating_add(over);
        let mut decoder = FrameDecoder::new(max);
        decoder.push(&len.to_be_bytes());
        decoder.push(&rest);
        let refused = matches!(
            decoder.next_frame_bytes(),
            Err(FrameError::TooLarge { len: l, max: m }) if l == len as usize && m == max
        );
        prop_assert!(refused);
    }

    /// Any bytes, cut anywhere: the request reader answers or refuses, and
    /// never buffers more than it was given.
    #[test]
    fn the_request_reader_takes_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        piece in 1usize..512,
    ) {
        let mut reader = RequestReader::new(1024);
        let mut pushed = 0;
        'feed: for chunk in bytes.chunks(piece) {
            reader.push(chunk);
            pushed += chunk.len();
            loop {
                match reader.next_inbound() {
                    Ok(Some(Inbound::Request(_, args))) => {
                        // Decoding the arguments respects its bound.
                        match args.decode(256) {
                            Ok(_) => prop_assert!(args.extent().decoded_bytes() <= 256),
                            Err(RawError::TooBig { .. }) => {
                                prop_assert!(args.extent().decoded_bytes() > 256)
                            }
                            Err(_) => {}
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
            prop_assert!(reader.buffered() <= pushed);
        }
        let _ = reader.end();
    }

    /// Values read back as written, and walking one without decoding it
    /// finds exactly its bytes.
    #[test]
    fn values_round_trip_and_their_extent_is_exact(v in value()) {
        let bytes = encoded(&v);
        prop_assert_eq!(decode_value(&bytes, MAX_DEPTH).unwrap(), v);
        let extent = skip_value(&bytes, 0, MAX_DEPTH).unwrap();
        prop_assert_eq!(extent.len, bytes.len());
    }

    /// Arbitrary bytes: decoding fails cleanly or yields a value that the
    /// walk agrees covers every byte.
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if decode_value(&bytes, MAX_DEPTH).is_ok() {
            let extent = skip_value(&bytes, 0, MAX_DEPTH).unwrap();
            prop_assert_eq!(extent.len, bytes.len());
        }
    }

    /// A call request parsed lazily gives the same node and arguments as
    /// one decoded whole.
    #[test]
    fn a_lazily_parsed_call_matches_the_request_sent(
        node in "[a-z]{1,8}/[a-z-]{1,16}",
        args in value(),
        deadline in proptest::option::of(any::<u64>()),
        meta in proptest::option::of(value()),
    ) {
        let request = Request::Call { node: node.clone(), args: args.clone(), deadline_ms: deadline, meta };
        let frame = frame_bytes(&request.to_value());
        let (parsed, raw) = parse_request(Bytes::copy_from_slice(&frame[4..])).unwrap();
        match parsed {
            Request::Call { node: n, deadline_ms, .. } => {
                prop_assert_eq!(n, node);
                prop_assert_eq!(deadline_ms, deadline);
            }
            other => prop_assert!(false, "parsed as {:?}", other),
        }
        prop_assert_eq!(raw.decode(usize::MAX).unwrap(), args);
    }
}

/// A manifest or host-config value: in range, out of range, of the wrong
/// type, or not a value at all.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("1e30".to_owned()),
        Just("-1".to_owned()),
        Just("nan".to_owned()),
        Just("inf".to_owned()),
        (
            0u64..1 << 40,
            prop_oneof![
                Just(""),
                Just(" KiB"),
                Just(" MiB"),
                Just(" GiB"),
                Just(" TB")
            ]
        )
            .prop_map(|(n, u)| format!("\"{n}{u}\"")),
        (
            0u64..1 << 40,
            prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h"), Just("")]
        )
            .prop_map(|(n, u)| format!("\"{n}{u}\"")),
        "\"[ -~]{0,12}\"",
        Just("[\"a/*\", \"*\"]".to_owned()),
        Just("true".to_owned()),
        "[ -~]{0,12}",
    ]
}

/// Tables and keys of manifests and the host config, some of them wrong.
fn toml_key() -> impl Strategy<Value = (&'static str, &'static str)> {
    let keys: &[(&str, &str)] = &[
        ("limits", "memory"),
        ("limits", "timeout"),
        ("limits", "max_concurrent_calls"),
        ("limits", "max_result"),
        ("limits", "hostcall_fuel"),
        ("limits", "kv_quota"),
        ("grants", "kv"),
        ("grants", "blobs"),
        ("grants", "invoke"),
        ("access", "private"),
        ("access", "callers"),
        ("connections", "max"),
        ("connections", "max_per_ip"),
        ("connections", "handshakes"),
        ("connections", "validate_above"),
        ("connections", "handshake_timeout"),
        ("connections", "streams_before_hello"),
        ("connections", "frame_before_hello"),
        ("connections", "buffered"),
        ("connections", "buffered_before_hello"),
        ("connections", "buffered_per_connection"),
        ("connections", "frame_timeout"),
        ("connections", "uploads_per_connection"),
        ("connections", "tokenless"),
        ("blobs", "uploads_per_caller"),
        ("blobs", "upload_idle"),
        ("blobs", "max_blob"),
        ("jobs", "per_caller"),
        ("jobs", "queued_per_caller"),
        ("jobs", "args_per_caller"),
        ("jobs", "store"),
        ("", "version"),
        ("", "description"),
        ("limits", "memroy"),
    ];
    proptest::sample::select(keys)
}

/// A document of up to 6 settings, grouped by table.
fn toml_document() -> impl Strategy<Value = String> {
    proptest::collection::vec((toml_key(), toml_value()), 0..6).prop_map(|settings| {
        let mut top = String::new();
        let mut tables: Vec<(&str, String)> = Vec::new();
        for ((table, key), value) in settings {
            let line = format!("{key} = {value}\n");
            if table.is_empty() {
                top.push_str(&line);
            } else if let Some((_, body)) = tables.iter_mut().find(|(t, _)| *t == table) {
                body.push_str(&line);
            } else {
                tables.push((table, line));
            }
        }
        for (table, body) in tables {
            top.push_str(&format!("[{table}]\n{body}"));
        }
        top
    })
}

/// Whether a deadline this far off can be computed without overflowing.
fn usable(d: Duration) -> bool {
    Instant::now().checked_add(d).is_some() && tokio::time::Instant::now().checked_add(d).is_some()
}

proptest! {
    #![proptest_config(config())]

    /// Manifests: never a panic; an error names the file; what is accepted
    /// is within range and usable.
    #[test]
    fn any_manifest_parses_or_is_refused_with_its_file_named(doc in toml_document()) {
        let file = Path::new("plugins/p.toml");
        match Manifest::parse(&doc, file) {
            Ok(manifest) => {
                prop_assert!(manifest.limits.validate().is_ok());
                let limits = manifest.limits.apply(&Default::default());
                prop_assert!(usable(limits.timeout));
                prop_assert!(limits.timeout <= Duration::from_secs(24 * 3600));
            }
            Err(e) => {
                prop_assert_eq!(e.file.as_path(), file);
                prop_assert!(e.to_string().starts_with("plugins/p.toml"), "{}", e);
            }
        }
    }

    /// The host config: the same rules.
    #[test]
    fn any_host_config_parses_or_is_refused_with_its_file_named(doc in toml_document()) {
        let file = Path::new("warden.toml");
        match HostConfig::parse(&doc, file) {
            Ok(config) => {
                let budgets = config.connections.budgets();
                prop_assert!(usable(budgets.handshake_timeout));
                prop_assert!(usable(budgets.frame_timeout));
                prop_assert!(usable(config.blobs.upload_idle()));
                let _ = config.jobs.quotas();
                prop_assert!(usable(config.limits.apply(&Default::default()).timeout));
            }
            Err(e) => prop_assert!(e.to_string().starts_with("warden.toml"), "{}", e),
        }
    }

    /// Any text at all: no panic.
    #[test]
    fn any_text_is_not_a_panic(doc in "(?s).{0,200}") {
        let _ = Manifest::parse(&doc, Path::new("p.toml"));
        let _ = HostConfig::parse(&doc, Path::new("warden.toml"));
    }
}
