//! `warden run FILE.wasm NODE [ARGS]`

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::Failure;
use crate::caps::{Capabilities, Stores};
use crate::plugins::CompiledCache;
use crate::{CallEvent, CallOptions, Limits};

/// Arguments of `warden run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The component file.
    file: PathBuf,
    /// The node: the function's name in the component, e.g. `add` or `iface/f`.
    node: String,
    /// The arguments. One JSON array or object is the whole argument list
    /// (`'[1,2]'`, `'{"a":1,"b":2}'`); otherwise each ARG is one argument in
    /// order, read as JSON or else as a string (`1 2`, `hello`).
    args: Vec<String>,
    /// Wall-clock limit of the call, in seconds.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Memory limit of the call, in MiB.
    #[arg(long, value_name = "MIB")]
    memory: Option<usize>,
    /// The state directory: its compiled cache (so a component is compiled
    /// once, as by `warden serve`), and the key-value and blob stores for a
    /// plugin whose manifest (`FILE.toml` beside `FILE.wasm`) grants `kv` or
    /// `blobs`.
    #[arg(long, value_name = "DIR", default_value_os_t = crate::rpc::default_state_dir())]
    state_dir: PathBuf,
}

pub(crate) fn run(args: RunArgs) -> Result<(), Failure> {
    let call_args = super::client::parse_args(&args.args)?;
    let toml = args.file.with_extension("toml");
    let manifest = super::manifest_of(&toml, false)?.unwrap_or_default();
    let mut limits = manifest.limits.apply(&Limits::default());
    if let Some(secs) = args.timeout {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(Failure::new(
                "bad-args",
                "--timeout must be a positive number of seconds",
            ));
        }
        limits = limits.with_timeout(Duration::from_secs_f64(secs));
    }
    if let Some(mib) = args.memory {
        limits = limits.with_memory_bytes(mib.saturating_mul(1 << 20));
    }
    let runtime = super::runtime()?;
    let name = super::plugin_name(&args.file);
    let grants = manifest.grants;
    let stores = if grants.kv || grants.blobs.is_some() {
        Some(Stores::open(&args.state_dir).map_err(|e| Failure::new("state", e))?)
    } else {
        None
    };
    let bytes = super::read_component(&args.file)?;
    let cache = CompiledCache::new(args.state_dir.join("cache"), runtime.engine());
    let hash = crate::digest::sha256_hex(&bytes);
    let (component, outcome) =
        cache.get_or_compile(runtime.engine(), &hash, || runtime.compile(&name, &bytes))?;
    tracing::debug!(?outcome, file = %args.file.display(), "compiled cache");
    let caps = Capabilities::new(grants, stores, Some(toml));
    let plugin = runtime.load_described(&name, &bytes, component, limits, caps)?;
    let options = CallOptions::with_events(|event| {
        if let CallEvent::Progress { fraction, message } = event {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "[{:>3.0}%] {message}", fraction * 100.0);
        }
    });
    let streams = plugin
        .node(&args.node)
        .is_some_and(|n| n.kind() != crate::NodeKind::Call);
    if !streams {
        let result = super::tokio()?.block_on(plugin.call(&args.node, call_args, options))?;
        println!("{}", crate::json::from_msgpack(&result));
        return Ok(());
    }
    // A stream node: one JSON value per line as the items arrive.
    super::tokio()?.block_on(async {
        let (items, mut received) = tokio::sync::mpsc::channel(16);
        let io = crate::StreamIo {
            items,
            inputs: None,
        };
        let call = plugin.call_stream(&args.node, call_args, options, io);
        tokio::pin!(call);
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                Some(item) = received.recv() => println!("{}", crate::json::from_msgpack(&item)),
            }
        };
        while let Ok(item) = received.try_recv() {
            println!("{}", crate::json::from_msgpack(&item));
        }
        result.map(drop).map_err(Failure::from)
    })
}
