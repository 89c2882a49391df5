//! Bytes of unfinished frames the server holds, against a budget per
//! connection and one for the whole server. A stream's share grows as its
//! bytes arrive and shrinks as its frames complete; it is given back when
//! the stream ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A number of bytes shared by many holders, against a limit.
#[derive(Debug)]
pub(super) struct ByteBudget {
    used: AtomicUsize,
    max: usize,
}

impl ByteBudget {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(ByteBudget {
            used: AtomicUsize::new(0),
            max,
        })
    }

    /// Bytes held now.
    pub(super) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn try_take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.max)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Which budget a stream could not grow within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exhausted {
    /// Its connection's.
    Connection,
    /// The server's.
    Server,
}

/// What one stream holds of its connection's budget and the server's.
#[derive(Debug)]
pub(super) struct Held {
    connection: Arc<ByteBudget>,
    server: Arc<ByteBudget>,
    bytes: usize,
}

impl Held {
    pub(super) fn new(connection: Arc<ByteBudget>, server: Arc<ByteBudget>) -> Self {
        Held {
            connection,
            server,
            bytes: 0,
        }
    }

    /// Makes the stream hold `bytes`: grows (from both budgets, or from
    /// neither) or shrinks its share.
    pub(super) fn resize(&mut self, bytes: usize) -> Result<(), Exhausted> {
        if bytes <= self.bytes {
            let freed = self.bytes - bytes;
            self.connection.give(freed);
            self.server.give(freed);
            self.bytes = bytes;
            return Ok(());
        }
        let more = bytes - self.bytes;
        if !self.connection.try_take(more) {
            return Err(Exhausted::Connection);
        }
        if !self.server.try_take(more) {
            self.connection.give(more);
            return Err(Exhausted::Server);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.resize(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_grow_within_both_budgets_and_come_back() {
        let server = ByteBudget::new(100);
        let (a, b) = (ByteBudget::new(60), ByteBudget::new(60));
        let mut one = Held::new(a.clone(), server.clone());
        let mut two = Held::new(b.clone(), server.clone());
        assert_eq!(one.resize(50), Ok(()));
        assert_eq!(one.resize(61), Err(Exhausted::Connection));
        assert_eq!(two.resize(55), Err(Exhausted::Server));
        assert_eq!((a.used(), b.used(), server.used()), (50, 0, 50));
        assert_eq!(one.resize(10), Ok(()));
        assert_eq!(two.resize(55), Ok(()));
        drop(one);
        drop(two);
        assert_eq!((a.used(), b.used(), server.used()), (0, 0, 0));
    }
}
