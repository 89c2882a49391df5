//! `warden run FILE.wasm NODE [ARGS]`

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::Failure;
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
}

pub(crate) fn run(args: RunArgs) -> Result<(), Failure> {
    let call_args = super::client::parse_args(&args.args)?;
    let mut limits = Limits::default();
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
    let plugin = runtime.load_file(&name, &args.file, limits)?;
    let options = CallOptions::with_events(|event| {
        if let CallEvent::Progress { fraction, message } = event {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "[{:>3.0}%] {message}", fraction * 100.0);
        }
    });
    let result = super::tokio()?.block_on(plugin.call(&args.node, call_args, options))?;
    println!("{}", crate::json::from_msgpack(&result));
    Ok(())
}
