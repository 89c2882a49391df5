//! The connections whose caller has not said who it is (on a host with
//! access control), at most so many at once: past the limit the oldest is
//! closed. A caller with a token says who it is right after connecting, so
//! it is never the oldest for long and always gets in; a flood of tokenless
//! connections only pushes out the others.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use quinn::{Connection, VarInt};

use crate::proto::codes;

/// The tokenless connections, oldest first.
pub(super) struct Tokenless {
    max: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next: u64,
    by_age: BTreeMap<u64, Connection>,
}

/// A connection's place among the tokenless ones; given back when dropped
/// (its caller said who it is, or it ended).
pub(super) struct Place {
    owner: Arc<Tokenless>,
    id: u64,
}

impl Tokenless {
    /// At most `max` tokenless connections.
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Tokenless {
            max: max.max(1),
            open: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tokenless connections open now.
    pub(super) fn len(&self) -> usize {
        self.lock().by_age.len()
    }

    /// Counts `connection` among the tokenless ones, closing the oldest
    /// when they are at the limit.
    pub(super) fn enter(self: &Arc<Self>, connection: &Connection) -> Place {
        let mut open = self.lock();
        while open.by_age.len() >= self.max {
            let Some((_, oldest)) = open.by_age.pop_first() else {
                break;
            };
            let reason = format!(
                "closed to make room: the server keeps at most {} connections without a caller \
                 token, the oldest going first; connect with a token (`--token`) to stay",
                self.max
            );
            tracing::debug!(remote = %oldest.remote_address(), "{reason}");
            oldest.close(VarInt::from_u32(codes::CONNECTION_LIMIT), reason.as_bytes());
        }
        let id = open.next;
        open.next += 1;
        open.by_age.insert(id, connection.clone());
        Place {
            owner: self.clone(),
            id,
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.owner.lock().by_age.remove(&self.id);
    }
}
