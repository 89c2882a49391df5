//! Host implementations of the `warden:node` WIT interfaces.
//!
//! `log` and `progress` are linked for every plugin. `kv`, `blobs` and
//! `invoke` are declared in `wit/` and arrive with the capability grants.

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::CallState;
use crate::runtime::{CallEvent, LogLevel};

/// Bindings generated from `wit/`, the single source of truth.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "warden:node/host",
    });
}

use bindings::warden::node::{log, progress};

/// The `warden:node` interfaces whose names a component may import, with the
/// grant each needs (`None`: always granted).
pub const INTERFACES: [(&str, Option<&str>); 6] = [
    ("log", None),
    ("progress", None),
    ("types", None),
    ("kv", Some("kv = true")),
    ("blobs", Some("blobs = \"read\"")),
    ("invoke", Some("invoke = [\"plugin/*\"]")),
];

/// The longest log or progress message kept; longer ones are cut.
const MAX_MESSAGE_BYTES: usize = 64 << 10;

pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> anyhow::Result<()> {
    log::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| anyhow::anyhow!("failed to link warden:node/log: {e:#}"))?;
    progress::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        .map_err(|e| anyhow::anyhow!("failed to link warden:node/progress: {e:#}"))?;
    Ok(())
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        CallState::log(self, level, &truncate(message));
    }
}

impl progress::Host for CallState {
    fn report(&mut self, fraction: f32, message: String) {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.emit(CallEvent::Progress {
            fraction,
            message: truncate(message),
        });
    }
}
