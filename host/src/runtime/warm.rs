//! Instances made ahead of calls.
//!
//! Every call still runs in an instance of its own that no other call has
//! touched; a warm pool only moves the making of it (store, WASI context,
//! instantiation: most of a small call's cost) off the request path. The
//! server makes the next one after it has sent a call's answer, while the
//! answer travels and the client prepares its next call
//! ([`crate::Plugin::make_ready`]).
//!
//! Ready instances take pooling-allocator slots of their own (the engine has
//! [`crate::RuntimeConfig::warm_instances`] extra slots for them), so they
//! never crowd out calls. A plugin whose instantiation fails ahead of a call
//! stops being pre-instantiated: its calls instantiate on the request path,
//! where the failure is reported to the caller.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Instance;

use super::store::CallState;

/// Ready instances one plugin keeps.
pub(crate) const PER_PLUGIN: usize = 2;

/// Calls must come this many times further apart than making an instance
/// takes for instances to be made ahead.
const IDLE_FACTOR: u64 = 4;

/// A store with an instance made in it, not yet called.
pub(crate) struct Ready {
    store: Store<CallState>,
    instance: Instance,
    _slot: Slot,
}

impl Ready {
    /// The store and its instance; the budget slot is given back.
    pub(crate) fn into_parts(self) -> (Store<CallState>, Instance) {
        (self.store, self.instance)
    }
}

/// The runtime-wide count of ready instances, against its budget.
#[derive(Debug)]
pub(crate) struct Budget {
    max: usize,
    held: Arc<AtomicUsize>,
}

/// One unit of the budget, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Budget {
    pub(crate) fn new(max: usize) -> Self {
        Budget {
            max,
            held: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn try_take(&self) -> Option<Slot> {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.held.clone()))
    }

    /// Ready instances held right now, across all plugins.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

/// One plugin's ready instances.
pub(crate) struct Pool {
    ready: Mutex<Vec<Ready>>,
    /// An instance is being made.
    filling: AtomicBool,
    /// Making one ahead failed; the plugin instantiates on the call path only.
    off: AtomicBool,
    /// Instances made ahead so far.
    made: AtomicU64,
    /// The last call came long enough after the one before it.
    idle: AtomicBool,
    /// When the last call started, in nanoseconds since `epoch`.
    last_start: AtomicU64,
    /// How long making the last instance ahead took, in nanoseconds.
    make_ns: AtomicU64,
    epoch: Instant,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            ready: Mutex::default(),
            filling: AtomicBool::new(false),
            off: AtomicBool::new(false),
            made: AtomicU64::new(0),
            idle: AtomicBool::new(true),
            last_start: AtomicU64::new(0),
            make_ns: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl Pool {
    /// Starts a call: takes a ready instance if one is waiting, and notes
    /// whether calls come far enough apart to make more ahead. Under load,
    /// making them ahead would only add work; each is made on its call's
    /// path then.
    pub(crate) fn enter(&self) -> Option<Ready> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.last_start.swap(now, Ordering::Relaxed);
        let gap = now.saturating_sub(last);
        let idle = gap
            >= self
                .make_ns
                .load(Ordering::Relaxed)
                .saturating_mul(IDLE_FACTOR);
        self.idle.store(idle, Ordering::Relaxed);
        self.lock().pop()
    }

    /// Leave to make one more instance, while the pool wants one and the
    /// budget has room; none while another is being made.
    pub(crate) fn want(&self, budget: &Budget) -> Option<Making<'_>> {
        if self.off.load(Ordering::Relaxed)
            || !self.idle.load(Ordering::Relaxed)
            || self.lock().len() >= PER_PLUGIN
        {
            return None;
        }
        let slot = budget.try_take()?;
        if self.filling.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(Making {
            pool: self,
            slot: Some(slot),
        })
    }

    /// Stops pre-instantiating this plugin.
    pub(crate) fn turn_off(&self) {
        self.off.store(true, Ordering::Relaxed);
    }

    /// Ready instances waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Instances made ahead so far.
    pub(crate) fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Ready>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An instance being made: holds its budget slot, and the pool's leave to
/// make one until it is put in the pool or dropped.
pub(crate) struct Making<'p> {
    pool: &'p Pool,
    slot: Option<Slot>,
}

impl Making<'_> {
    /// Puts the instance made, taking `took`, into the pool.
    pub(crate) fn put(mut self, store: Store<CallState>, instance: Instance, took: Duration) {
        let pool = self.pool;
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        pool.make_ns.store(ns, Ordering::Relaxed);
        pool.made.fetch_add(1, Ordering::Relaxed);
        if let Some(slot) = self.slot.take() {
            pool.lock().push(Ready {
                store,
                instance,
                _slot: slot,
            });
        }
    }
}

impl Drop for Making<'_> {
    fn drop(&mut self) {
        self.pool.filling.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_never_exceeded_and_slots_come_back() {
        let budget = Budget::new(2);
        let a = budget.try_take();
        let b = budget.try_take();
        assert!(a.is_some() && b.is_some());
        assert!(budget.try_take().is_none());
        assert_eq!(budget.held(), 2);
        drop(a);
        assert_eq!(budget.held(), 1);
        assert!(budget.try_take().is_some());
    }
}
