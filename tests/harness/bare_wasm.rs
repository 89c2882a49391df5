//! wasmtime alone, as a baseline: a fresh store, an instance from
//! `InstancePre` and one typed call, on the engine Warden uses (pooling
//! allocator), with an empty WASI context. What any sandboxed call costs
//! before RPC, value conversion or admission.

use std::path::Path;

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, InstancePre, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The store's data: an empty WASI context.
pub(crate) struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A store with an empty WASI context that never hits its epoch deadline.
pub(crate) fn fresh_store(engine: &wasmtime::Engine) -> Store<Ctx> {
    let mut store = Store::new(
        engine,
        Ctx {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

/// One function of a component, ready to be called on fresh instances.
pub(crate) struct BareCall {
    engine: wasmtime::Engine,
    pre: InstancePre<Ctx>,
    func: ComponentExportIndex,
}

impl BareCall {
    /// Function `func` of the component at `path` (compiled by
    /// `runtime`): exported by the world itself, or with `interface`, by
    /// the exported interface whose name ends with `/{interface}`.
    pub(crate) fn new(
        runtime: &warden_host::Runtime,
        path: &Path,
        interface: Option<&str>,
        func: &str,
    ) -> BareCall {
        let bytes = std::fs::read(path).expect("the component reads");
        let engine = runtime.engine().clone();
        let component = runtime.compile("bare", &bytes).expect("it compiles");
        let mut linker = Linker::<Ctx>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI links");
        // Warden's own imports (log, progress...) trap: the calls timed
        // here do not use them.
        linker
            .define_unknown_imports_as_traps(&component)
            .expect("the other imports are stubbed");
        let iface = interface.map(|interface| {
            let suffix = format!("/{interface}");
            let iface_name = component
                .component_type()
                .exports(&engine)
                .map(|(name, _)| name.to_owned())
                .find(|name| name.ends_with(&suffix))
                .expect("the interface is exported");
            component
                .get_export_index(None, &iface_name)
                .expect("the interface has an index")
        });
        let func = component
            .get_export_index(iface.as_ref(), func)
            .expect("the function is exported");
        let pre = linker.instantiate_pre(&component).expect("it links");
        BareCall { engine, pre, func }
    }

    /// A fresh instance and one typed call `(i64, i64) -> i64`.
    pub(crate) fn call_s64_s64(&self, a: i64, b: i64) -> i64 {
        let mut store = fresh_store(&self.engine);
        let instance = self.pre.instantiate(&mut store).expect("it instantiates");
        let f = instance
            .get_typed_func::<(i64, i64), (i64,)>(&mut store, self.func)
            .expect("the signature matches");
        f.call(&mut store, (a, b)).expect("the call succeeds").0
    }
}
