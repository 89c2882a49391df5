//! What the stored jobs take, per caller and in all, against the quotas.
//! Counted from the records once at start (one record at a time), then
//! kept up to date as jobs are submitted, finish and are removed.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::proto::{CallError, ErrorKind};
use crate::text::bytes_text;

/// What one caller's jobs, and all jobs, may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobQuotas {
    /// Jobs kept per caller, finished ones included.
    pub per_caller: usize,
    /// Jobs per caller not finished yet.
    pub queued_per_caller: usize,
    /// Bytes of one caller's jobs' arguments together.
    pub args_per_caller: usize,
    /// Bytes of all job records together.
    pub store: usize,
}

impl Default for JobQuotas {
    fn default() -> Self {
        JobQuotas {
            per_caller: 1000,
            queued_per_caller: 100,
            args_per_caller: 64 << 20,
            store: 1 << 30,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct CallerUse {
    jobs: usize,
    unfinished: usize,
    args: usize,
}

#[derive(Debug, Default)]
struct Counts {
    callers: HashMap<String, CallerUse>,
    store: usize,
}

/// The jobs' usage against their quotas.
#[derive(Debug)]
pub(crate) struct Usage {
    quotas: JobQuotas,
    counts: Mutex<Counts>,
}

impl Usage {
    pub(crate) fn new(quotas: JobQuotas) -> Self {
        Usage {
            quotas,
            counts: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Jobs stored in all, and how many of them are unfinished.
    pub(crate) fn totals(&self) -> (usize, usize) {
        let counts = self.lock();
        counts
            .callers
            .values()
            .fold((0, 0), |(jobs, unfinished), used| {
                (jobs + used.jobs, unfinished + used.unfinished)
            })
    }

    /// Counts a record found in the store.
    pub(crate) fn found(&self, caller: &str, finished: bool, args: usize, record: usize) {
        let mut counts = self.lock();
        counts.store += record;
        let used = counts.callers.entry(caller.to_owned()).or_default();
        used.jobs += 1;
        used.unfinished += usize::from(!finished);
        used.args += args;
    }

    /// Takes room for a new job of `caller` whose arguments take `args`
    /// bytes, if every quota allows.
    ///
    /// # Errors
    ///
    /// `resource-limit` past one of the caller's quotas, `overloaded` when
    /// the whole store is full.
    pub(crate) fn admit(&self, caller: &str, args: usize) -> Result<(), CallError> {
        let q = self.quotas;
        let mut counts = self.lock();
        if counts.store.saturating_add(args) > q.store {
            return Err(CallError::new(
                ErrorKind::Overloaded,
                format!(
                    "the job store holds its maximum of {}; retry once jobs have been fetched \
                     or have expired",
                    bytes_text(q.store)
                ),
            ));
        }
        let used = counts.callers.entry(caller.to_owned()).or_default();
        let refuse = |why: String| Err(CallError::new(ErrorKind::ResourceLimit, why));
        if used.jobs >= q.per_caller {
            return refuse(format!(
                "caller `{caller}` keeps its maximum of {} jobs; fetch finished ones (a `job` \
                 request removes them) or wait for them to expire",
                q.per_caller
            ));
        }
        if used.unfinished >= q.queued_per_caller {
            return refuse(format!(
                "caller `{caller}` has its maximum of {} unfinished jobs; wait for some to \
                 finish, or cancel them",
                q.queued_per_caller
            ));
        }
        if used.args.saturating_add(args) > q.args_per_caller {
            return refuse(format!(
                "the jobs of caller `{caller}` would hold more than {} of arguments; pass big \
                 data as blob references",
                bytes_text(q.args_per_caller)
            ));
        }
        used.jobs += 1;
        used.unfinished += 1;
        used.args += args;
        Ok(())
    }

    /// Gives back what [`Usage::admit`] took, for a job that was not stored.
    pub(crate) fn unadmit(&self, caller: &str, args: usize) {
        let mut counts = self.lock();
        if let Some(used) = counts.callers.get_mut(caller) {
            used.jobs = used.jobs.saturating_sub(1);
            used.unfinished = used.unfinished.saturating_sub(1);
            used.args = used.args.saturating_sub(args);
        }
    }

    /// A record was written: it took `before` bytes and takes `after`.
    pub(crate) fn rewritten(&self, before: usize, after: usize) {
        let mut counts = self.lock();
        counts.store = counts.store.saturating_sub(before).saturating_add(after);
    }

    /// A job of `caller` finished.
    pub(crate) fn finished(&self, caller: &str) {
        if let Some(used) = self.lock().callers.get_mut(caller) {
            used.unfinished = used.unfinished.saturating_sub(1);
        }
    }

    /// A record of `caller` taking `record` bytes, with arguments of `args`
    /// bytes, was removed; it had `finished` or not.
    pub(crate) fn removed(&self, caller: &str, finished: bool, args: usize, record: usize) {
        let mut counts = self.lock();
        counts.store = counts.store.saturating_sub(record);
        if let Some(used) = counts.callers.get_mut(caller) {
            used.jobs = used.jobs.saturating_sub(1);
            if !finished {
                used.unfinished = used.unfinished.saturating_sub(1);
            }
            used.args = used.args.saturating_sub(args);
            if used.jobs == 0 {
                counts.callers.remove(caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_quota_refuses_with_its_kind() {
        let usage = Usage::new(JobQuotas {
            per_caller: 3,
            queued_per_caller: 2,
            args_per_caller: 100,
            store: 1000,
        });
        usage.admit("a", 10).unwrap();
        usage.admit("a", 10).unwrap();
        let queued = usage.admit("a", 10).unwrap_err();
        assert_eq!(queued.kind, ErrorKind::ResourceLimit);
        assert!(
            queued.message.contains("2 unfinished"),
            "{}",
            queued.message
        );
        usage.finished("a");
        usage.admit("a", 10).unwrap();
        usage.finished("a");
        usage.finished("a");
        assert!(usage.admit("a", 10).unwrap_err().message.contains("3 jobs"));
        // Another caller is not affected, within its own argument quota.
        assert!(
            usage
                .admit("b", 101)
                .unwrap_err()
                .message
                .contains("arguments")
        );
        usage.admit("b", 100).unwrap();
        usage.rewritten(0, 990);
        assert_eq!(
            usage.admit("c", 20).unwrap_err().kind,
            ErrorKind::Overloaded
        );
        usage.removed("b", false, 100, 990);
        usage.admit("c", 20).unwrap();
    }
}
