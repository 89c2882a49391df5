//! Who may call what: caller identities from tokens, the node patterns each
//! may call, and guards on incoming connections.
//!
//! A host without an `[access]` table in its config is *open*: every
//! connection may call every public node, and `warden serve` then listens
//! on loopback addresses only. With `[access]`, a connection is anonymous
//! until it presents a token in a `hello` request; each call is checked
//! against the caller's node patterns and then against the plugin
//! manifest's `access.callers`.

mod callers;
mod guard;

pub use callers::{AccessConfig, Caller, CallerConfig, Identity, hash_token, new_token};
pub use guard::{ConnectionBudgets, ConnectionGuard, ConnectionLimits, GuardSlot, Refusal};
