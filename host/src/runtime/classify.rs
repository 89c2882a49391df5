//! Turning a failed call's wasmtime error into a typed [`CallError`].
//!
//! The kind comes from typed facts, in this order: the call's own flags
//! (its deadline passed, its memory or table limiter refused to grow), then
//! wasmtime's typed errors (`Trap` codes, `PoolConcurrencyLimitError`,
//! WASI's `I32Exit`). The one exception is wasmtime 48's hostcall-fuel
//! error, whose type is private: it is recognised by comparing the root
//! cause with wasmtime's exact message, here and nowhere else, and the
//! `hostile` tests pin that message so an upgrade that changes it fails.
//!
//! A Rust guest's panic message is read from its stderr to make the
//! message of a `trap` useful; it never decides the kind.

use wasmtime::{PoolConcurrencyLimitError, Trap};

use super::config::{Limits, RuntimeConfig};
use super::store::CallState;
use crate::proto::{CallError, ErrorKind};
use crate::text::{bytes_text, duration_text};

/// wasmtime 48's message for exhausted hostcall fuel (its error type is not
/// public).
const HOSTCALL_FUEL_EXHAUSTED: &str = "too much data is being copied between the host and the \
                                       guest: fuel allocated for hostcalls has been exhausted";

/// Why the call of `full` failed with `error`, given its store's state.
pub(super) fn classify(
    state: &CallState,
    full: &str,
    limits: &Limits,
    config: &RuntimeConfig,
    error: wasmtime::Error,
    stderr: &str,
) -> CallError {
    if state.timed_out {
        return CallError::new(
            ErrorKind::Timeout,
            format!(
                "`{full}` did not finish within its deadline ({})",
                duration_text(limits.timeout)
            ),
        );
    }
    if let Some(asked) = state.limiter.memory_hit {
        return CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "`{full}` hit its memory limit of {} (it asked for {} more)",
                bytes_text(state.limiter.memory_limit()),
                bytes_text(asked)
            ),
        );
    }
    if state.limiter.table_hit {
        return CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "`{full}` hit its table size limit of {} elements",
                limits.table_elements
            ),
        );
    }
    if let Some(pool) = error.downcast_ref::<PoolConcurrencyLimitError>() {
        return CallError::new(
            ErrorKind::Overloaded,
            format!("no instance slot is free for `{full}`: {pool}"),
        );
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return CallError::new(
            ErrorKind::Trap,
            format!("`{full}` exited the process with status {}", exit.0),
        );
    }
    match error.downcast_ref::<Trap>().copied() {
        Some(Trap::StackOverflow) => CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "`{full}` overflowed its stack (limit {}); unbounded recursion?",
                bytes_text(config.max_wasm_stack)
            ),
        ),
        Some(trap) => match panic_message(stderr) {
            Some(panic) => CallError::new(ErrorKind::Trap, format!("`{full}` panicked: {panic}")),
            None if trap == Trap::MemoryOutOfBounds => CallError::new(
                ErrorKind::Trap,
                format!(
                    "`{full}` trapped: out of bounds memory access (a guest whose stack \
                     overflows, e.g. by unbounded recursion, ends like this)"
                ),
            ),
            None => CallError::new(ErrorKind::Trap, format!("`{full}` trapped: {trap}")),
        },
        None if error.root_cause().to_string() == HOSTCALL_FUEL_EXHAUSTED => CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "`{full}` moved more than {} between guest and host in one step \
                 (the plugin's hostcall fuel)",
                bytes_text(limits.hostcall_fuel)
            ),
        ),
        None => CallError::new(ErrorKind::Trap, format!("`{full}` failed: {error:#}")),
    }
}

/// Finds a Rust panic message (`thread '…' panicked at FILE:\nMESSAGE`) in
/// a guest's stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let at = stderr.find("panicked at")?;
    let rest = &stderr[at + "panicked at".len()..];
    let mut lines = rest.lines();
    let location = lines
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches(':');
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.trim().is_empty())
        .collect();
    if message.is_empty() {
        return Some(format!("at {location}"));
    }
    Some(format!("{} (at {location})", message.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rust_panic_messages() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:12:5:\nboom: 42\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("boom: 42 (at src/lib.rs:12:5)")
        );
        assert_eq!(panic_message("nothing here"), None);
    }
}
