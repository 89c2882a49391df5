//! Benchmark (not a test) of calls in process, each beside a baseline from
//! the same run:
//!
//! - a typed call on a live instance (wasmtime's static bindings): the floor;
//! - a dynamic call (`Val`s) on a live instance: what Warden's generic path
//!   costs before any MessagePack;
//! - `Plugin::call`: fresh instance + call + value conversion, as every
//!   Warden call runs, against wasmtime alone doing a fresh store +
//!   instantiate + typed call on the same engine;
//! - a 64 KiB `list<u8>` and a 16,384-element `list<s32>` through
//!   `Plugin::call`, against the typed call with the same data: the cost of
//!   converting big arguments and results; the list also as the RPC server
//!   calls it (`Plugin::call_encoded`: MessagePack in and out), beside what
//!   decoding and encoding it with `rmpv` alone costs;
//! - records, variants, options and strings (`echo-deep`, 512 entries) and
//!   one `s64` as the RPC server calls them (MessagePack read straight into
//!   `Val`s and written straight from them) against `Plugin::call` through
//!   `rmpv::Value`s, with the encoding and decoding around it.
//!
//! Run with `cargo bench --bench calls`.

use rmpv::Value;
use warden_host::{Args, Limits, Reply, Runtime, RuntimeConfig};
use wasmtime::component::{ComponentExportIndex, Linker, Val};

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::bare_wasm::{Ctx, fresh_store};
use harness::timing::{median, report};

/// `args` as the RPC server hands them to the runtime: the bytes of a call
/// frame's `args`, not decoded.
fn wire_args(node: &str, args: &Value) -> warden_host::proto::RawValue {
    let mut frame = Vec::new();
    rmpv::encode::write_value(
        &mut frame,
        &Value::Map(vec![
            ("type".into(), "call".into()),
            ("node".into(), format!("types/{node}").into()),
            ("args".into(), args.clone()),
        ]),
    )
    .unwrap();
    warden_host::proto::parse_request(frame.into()).unwrap().1
}

fn main() {
    let bytes = std::fs::read(harness::plugins::test_plugin("types")).unwrap();
    // Every instance made on the call path, as the wasmtime-only baseline does.
    let runtime = Runtime::with_config(RuntimeConfig {
        warm_instances: 0,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let plugin = runtime
        .load_bytes("types", &bytes, Limits::default())
        .unwrap();
    let engine = runtime.engine().clone();
    let component = runtime.compile("types", &bytes).unwrap();

    let mut linker = Linker::<Ctx>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let mut store = fresh_store(&engine);
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let iface_name = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .find(|name| name.ends_with("/echo"))
        .unwrap();
    let iface = component.get_export_index(None, &iface_name).unwrap();
    let index =
        |f: &str| -> ComponentExportIndex { component.get_export_index(Some(&iface), f).unwrap() };

    println!(
        "warden in-process calls ({} CPUs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    let typed = instance
        .get_typed_func::<(i64,), (i64,)>(&mut store, index("echo-s64"))
        .unwrap();
    let typed_time = median(20_000, || {
        let (r,) = typed.call(&mut store, (7,)).unwrap();
        assert_eq!(r, 7);
    });
    let dynamic = instance.get_func(&mut store, index("echo-s64")).unwrap();
    let dynamic_time = median(20_000, || {
        let mut out = [Val::Bool(false)];
        dynamic.call(&mut store, &[Val::S64(7)], &mut out).unwrap();
    });
    report(
        "dynamic call (Val), live instance",
        dynamic_time,
        typed_time,
        "baseline: typed call, live instance",
    );

    // wasmtime alone: a fresh store, instantiate from `InstancePre`, one
    // typed call, on the same engine (pooling allocator).
    let pre = linker.instantiate_pre(&component).unwrap();
    let echo_s64 = index("echo-s64");
    let bare_fresh = median(5_000, || {
        let mut store = fresh_store(&engine);
        let instance = pre.instantiate(&mut store).unwrap();
        let f = instance
            .get_typed_func::<(i64,), (i64,)>(&mut store, echo_s64)
            .unwrap();
        assert_eq!(f.call(&mut store, (7,)).unwrap().0, 7);
    });

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let args = Value::Array(vec![7.into()]);
    let fresh = median(5_000, || {
        let r = tokio
            .block_on(plugin.call("echo/echo-s64", args.clone(), Default::default()))
            .unwrap();
        assert_eq!(r, Value::from(7));
    });
    report(
        "Plugin::call: fresh instance + call",
        fresh,
        bare_fresh,
        "target <= 10 us; baseline: wasmtime fresh store + instantiate + typed call",
    );

    let data = vec![0x5au8; 64 << 10];
    let typed_bytes = instance
        .get_typed_func::<(&[u8],), (Vec<u8>,)>(&mut store, index("echo-bytes"))
        .unwrap();
    let typed_bytes_time = median(500, || {
        let (r,) = typed_bytes.call(&mut store, (&data,)).unwrap();
        assert_eq!(r.len(), data.len());
    });
    let bytes_args = Value::Array(vec![Value::Binary(data.clone())]);
    let warden_bytes = median(500, || {
        let r = tokio
            .block_on(plugin.call("echo/echo-bytes", bytes_args.clone(), Default::default()))
            .unwrap();
        assert_eq!(r.as_slice().map(<[u8]>::len), Some(data.len()));
    });
    report(
        "64 KiB list<u8> echo, Plugin::call",
        warden_bytes,
        typed_bytes_time,
        "baseline: typed call, live instance",
    );

    let ints: Vec<i32> = (0..16_384).collect();
    let typed_list = instance
        .get_typed_func::<(&[i32],), (Vec<i32>,)>(&mut store, index("echo-list"))
        .unwrap();
    let typed_list_time = median(500, || {
        let (r,) = typed_list.call(&mut store, (&ints,)).unwrap();
        assert_eq!(r.len(), ints.len());
    });
    let list_args = Value::Array(vec![Value::Array(
        ints.iter().map(|&i| Value::from(i)).collect(),
    )]);
    let warden_list = median(500, || {
        let r = tokio
            .block_on(plugin.call("echo/echo-list", list_args.clone(), Default::default()))
            .unwrap();
        assert_eq!(r.as_array().map(Vec::len), Some(ints.len()));
    });
    report(
        "16,384 x s32 list echo, Plugin::call",
        warden_list,
        typed_list_time,
        "baseline: typed call, live instance",
    );
    // As a front end that speaks MessagePack calls it: the arguments as
    // they came off the wire, the answer written as MessagePack.
    let raw_args = wire_args("echo/echo-list", &list_args);
    let warden_encoded = median(500, || {
        let r = tokio
            .block_on(plugin.call_encoded(
                "echo/echo-list",
                Args::Encoded(raw_args.clone()),
                Default::default(),
                None,
            ))
            .unwrap();
        assert!(matches!(r, Reply::Encoded(ref b) if b.len() + 1 == raw_args.bytes().len()));
    });
    report(
        "16,384 x s32 list echo, MessagePack in and out",
        warden_encoded,
        typed_list_time,
        "target <= 10x; baseline: typed call, live instance",
    );
    // What the values themselves cost around the same call: the arguments
    // as they come off the wire decoded into `rmpv::Value`s and the answer
    // encoded back, with no wasm at all.
    let mut request = Vec::new();
    rmpv::encode::write_value(&mut request, &list_args).unwrap();
    let mut answer = Vec::with_capacity(request.len());
    let msgpack_alone = median(500, || {
        let decoded = rmpv::decode::read_value(&mut &request[..]).unwrap();
        answer.clear();
        rmpv::encode::write_value(&mut answer, &decoded[0]).unwrap();
        assert_eq!(answer.len() + 1, request.len());
    });
    report(
        "16,384 x s32: rmpv decode + encode alone",
        msgpack_alone,
        typed_list_time,
        "baseline: typed call, live instance",
    );
    let clone_alone = median(500, || {
        let args = list_args.clone();
        assert_eq!(args.as_array().map(Vec::len), Some(1));
    });
    report(
        "16,384 x s32: the bench's clone of the arguments",
        clone_alone,
        typed_list_time,
        "baseline: typed call, live instance",
    );

    // Any other shape over the wire: MessagePack straight to and from
    // `Val`s, against the same call through `rmpv::Value`s (decoding the
    // arguments first and encoding the answer after, as a front end must).
    let deep: Vec<Value> = (0..512)
        .map(|i: i64| {
            let point = Value::Map(vec![("x".into(), i.into()), ("y".into(), (-i).into())]);
            let shape = match i % 3 {
                0 => Value::Map(vec![("circle".into(), Value::F64(i as f64 / 2.0))]),
                1 => Value::Map(vec![("rect".into(), point.clone())]),
                _ => Value::from("empty"),
            };
            Value::Array(vec![Value::Array(vec![point, shape])])
        })
        .collect();
    for (node, args, what) in [
        (
            "echo/echo-deep",
            Value::Array(vec![Value::Array(deep)]),
            "512 x tuple<point, option<shape>>",
        ),
        ("echo/echo-s64", Value::Array(vec![7.into()]), "one s64"),
    ] {
        let raw = wire_args(node, &args);
        let mut out = Vec::new();
        let through_values = median(2_000, || {
            let decoded = raw.decode(usize::MAX).unwrap();
            let r = tokio
                .block_on(plugin.call(node, decoded, Default::default()))
                .unwrap();
            out.clear();
            rmpv::encode::write_value(&mut out, &r).unwrap();
        });
        let straight = median(2_000, || {
            let r = tokio
                .block_on(plugin.call_encoded(
                    node,
                    Args::Encoded(raw.clone()),
                    Default::default(),
                    None,
                ))
                .unwrap();
            let Reply::Encoded(bytes) = r else {
                panic!("{node} did not answer encoded")
            };
            assert_eq!(bytes.len(), out.len());
        });
        report(
            &format!("{what}: MessagePack straight to Val and back"),
            straight,
            through_values,
            "baseline: the same through rmpv::Value",
        );
    }
}
