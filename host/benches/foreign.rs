//! Benchmark (not a test) of a big component from another toolchain, in
//! process: the componentize-py type zoo (`tests/plugins-py/zoo`, about
//! 18 MB with CPython inside, its memory pre-initialized), each figure
//! beside a baseline from the same run:
//!
//! - `Plugin::call` of `zoo/add` (fresh instance + call + conversion, as
//!   every Warden call runs) against the same for `math/add` of the small
//!   Rust example plugin;
//! - wasmtime alone making a fresh store, instantiating the zoo and calling
//!   `add` (typed), and instantiating it without a call, against the same
//!   for the small component: what the engine costs before Warden adds
//!   anything;
//! - the page faults per call: the pages of the pre-initialized image a
//!   call touches that are faulted in again on every call;
//! - `zoo/add` on an instance made ahead of it (calls 3 ms apart, as a
//!   server does between calls) against making its own;
//! - compiling (cold) with `Runtime::compile`, which compiles on an engine
//!   of its own and hands the compiler's memory back, against
//!   `Component::new` on the runtime's engine, for the zoo and for `math`.
//!
//! Needs componentize-py (`pip install componentize-py==0.25.1`). Run with
//! `cargo bench --bench foreign`.

use std::path::Path;
use std::time::{Duration, Instant};

use rmpv::Value;
use warden_host::caps::Capabilities;
use warden_host::{Limits, Runtime};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};

#[path = "../../tests/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::bare_wasm::{Ctx, fresh_store};
use harness::timing::{median, report};

/// Minor and major page faults of this process so far.
fn faults() -> (i64, i64) {
    // SAFETY: `getrusage` fills the struct it is given; a zeroed
    // `rusage` is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (usage.ru_minflt, usage.ru_majflt)
}

/// A component ready for fresh instances on `runtime`'s engine, with
/// nothing but an empty WASI context (Warden's own imports trap), and the
/// index of its top-level function `func`.
fn bare(
    runtime: &Runtime,
    component: &Component,
    func: &str,
) -> (InstancePre<Ctx>, ComponentExportIndex) {
    let mut linker = Linker::<Ctx>::new(runtime.engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    // Warden's own interfaces (log, progress...) trap: `add` does not use
    // them. (`define_unknown_imports_as_traps` would also shadow WASI
    // versions the linker resolves by semver, such as `@0.2.9`.)
    let engine = runtime.engine();
    for (import, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(ty) = item.ty else {
            continue;
        };
        if !import.starts_with("warden:") {
            continue;
        }
        let mut instance = linker.instance(import).unwrap();
        for (func, item) in ty.exports(engine) {
            if let ComponentItem::ComponentFunc(_) = item.ty {
                let what = format!("{import}#{func}");
                instance
                    .func_new(func, move |_, _, _, _| {
                        Err(wasmtime::format_err!("{what} is not linked here"))
                    })
                    .unwrap();
            }
        }
    }
    let index = component.get_export_index(None, func).unwrap();
    (linker.instantiate_pre(component).unwrap(), index)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn main() {
    let zoo_bytes = read(&harness::plugins::python_tool_plugin("zoo"));
    let math_bytes = read(&harness::plugins::example("math"));
    // `Plugin::call` makes its own instance unless one was made ahead with
    // `Plugin::make_ready` (only the last figure does that).
    let runtime = Runtime::new().unwrap();
    println!(
        "warden: a componentize-py component in process ({} CPUs, zoo {:.1} MB, math {:.0} KB)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        zoo_bytes.len() as f64 / 1e6,
        math_bytes.len() as f64 / 1e3
    );
    println!();

    let timed = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        started.elapsed()
    };
    let mut zoo_component = None;
    let compile_zoo =
        timed(&mut || zoo_component = Some(runtime.compile("zoo", &zoo_bytes).unwrap()));
    let zoo_component = zoo_component.unwrap();
    let new_zoo = timed(&mut || drop(Component::new(runtime.engine(), &zoo_bytes).unwrap()));
    report(
        "compile the zoo: Runtime::compile",
        compile_zoo,
        new_zoo,
        "baseline: Component::new on the runtime's engine; one each",
    );
    let math_component = runtime.compile("math", &math_bytes).unwrap();
    let compile_math = median(10, || drop(runtime.compile("math", &math_bytes).unwrap()));
    let new_math = median(10, || {
        drop(Component::new(runtime.engine(), &math_bytes).unwrap())
    });
    report(
        "compile math: Runtime::compile",
        compile_math,
        new_math,
        "baseline: Component::new on the runtime's engine",
    );

    let load = |runtime: &Runtime, name: &str, bytes: &[u8], component: &Component| {
        runtime
            .load_described(
                name,
                bytes,
                component.clone(),
                Limits::default(),
                Capabilities::default(),
            )
            .unwrap()
    };
    let zoo = load(&runtime, "zoo", &zoo_bytes, &zoo_component);
    let math = load(&runtime, "math", &math_bytes, &math_component);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let args = Value::Array(vec![40.into(), 2.into()]);
    let call = |plugin: &warden_host::Plugin| {
        let r = tokio
            .block_on(plugin.call("add", args.clone(), Default::default()))
            .unwrap();
        assert_eq!(r, Value::from(42));
    };
    let math_call = median(2_000, || call(&math));
    let zoo_call = median(1_000, || call(&zoo));
    report(
        "Plugin::call zoo/add (componentize-py)",
        zoo_call,
        math_call,
        "baseline: Plugin::call math/add (Rust)",
    );

    let (zoo_pre, zoo_add) = bare(&runtime, &zoo_component, "add");
    let (math_pre, math_add) = bare(&runtime, &math_component, "add");
    let engine = runtime.engine().clone();
    let bare_zoo_call = median(1_000, || {
        let mut store = fresh_store(&engine);
        let instance = zoo_pre.instantiate(&mut store).unwrap();
        let f = instance
            .get_typed_func::<(i64, i64), (Result<i64, String>,)>(&mut store, zoo_add)
            .unwrap();
        assert_eq!(f.call(&mut store, (40, 2)).unwrap().0, Ok(42));
    });
    let bare_math_call = median(2_000, || {
        let mut store = fresh_store(&engine);
        let instance = math_pre.instantiate(&mut store).unwrap();
        let f = instance
            .get_typed_func::<(i64, i64), (i64,)>(&mut store, math_add)
            .unwrap();
        assert_eq!(f.call(&mut store, (40, 2)).unwrap().0, 42);
    });
    report(
        "wasmtime alone: fresh zoo instance + add",
        bare_zoo_call,
        bare_math_call,
        "baseline: the same for math",
    );
    report(
        "Plugin::call zoo/add",
        zoo_call,
        bare_zoo_call,
        "baseline: wasmtime alone, fresh instance + add",
    );
    let bare_zoo_new = median(1_000, || {
        let mut store = fresh_store(&engine);
        zoo_pre.instantiate(&mut store).unwrap();
    });
    let bare_math_new = median(2_000, || {
        let mut store = fresh_store(&engine);
        math_pre.instantiate(&mut store).unwrap();
    });
    report(
        "wasmtime alone: fresh zoo instance, no call",
        bare_zoo_new,
        bare_math_new,
        "baseline: the same for math",
    );

    const N: i64 = 500;
    let per_call = |f: &mut dyn FnMut()| {
        let (minor, major) = faults();
        for _ in 0..N {
            f();
        }
        let (minor2, major2) = faults();
        ((minor2 - minor) / N, (major2 - major) / N)
    };
    let zoo_faults = per_call(&mut || call(&zoo));
    let math_faults = per_call(&mut || call(&math));
    println!(
        "page faults per call: zoo/add {} minor, {} major; math/add {} minor, {} major",
        zoo_faults.0, zoo_faults.1, math_faults.0, math_faults.1
    );
    println!(
        "{{\"bench\":\"page faults per call, zoo/add\",\"unit\":\"faults\",\"value\":{},\"baseline\":{},\"ratio\":{:.3}}}",
        zoo_faults.0,
        math_faults.0,
        zoo_faults.0 as f64 / math_faults.0.max(1) as f64
    );

    // Instances made ahead, as a server makes them after each answer; calls
    // far enough apart for the plugin to make them.
    let warm_zoo = load(&runtime, "zoo", &zoo_bytes, &zoo_component);
    let mut ahead = Vec::new();
    let mut made = 0;
    for i in 0..320 {
        std::thread::sleep(Duration::from_millis(3));
        let started = Instant::now();
        call(&warm_zoo);
        if i >= 20 {
            ahead.push(started.elapsed());
        }
        made += u32::from(tokio.block_on(warm_zoo.make_ready()));
    }
    ahead.sort();
    report(
        &format!("zoo/add on an instance made ahead ({made} made)"),
        ahead[ahead.len() / 2],
        zoo_call,
        "baseline: Plugin::call making its own",
    );
}
