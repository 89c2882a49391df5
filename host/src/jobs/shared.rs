//! Jobs kept somewhere every host of a cluster reaches, instead of this
//! host's own store.
//!
//! The cluster front end implements [`SharedJobs`] and hands it to
//! [`Jobs::share`](super::Jobs::share); from then on the host service
//! submits, reads, cancels and lists jobs there, and the front end runs
//! the jobs it takes from the shared queue with [`execute`] through the
//! host's [`JobExecutor`]. Jobs queued in the local store before stay
//! there and run here.

use std::time::Duration;

use futures::future::BoxFuture;

use super::runner::{JobExecutor, Started};
use crate::proto::{CallError, JobInfo, JobState};

/// A job store and queue shared by several hosts.
pub trait SharedJobs: Send + Sync {
    /// Records `job` (queued, checked and given an id by the host) and
    /// queues it for a host that serves its node. Returns once both are
    /// durable.
    fn submit(&self, job: JobInfo) -> BoxFuture<'_, Result<(), CallError>>;

    /// Job `id` of `caller`, waiting up to `wait` for it to finish; a
    /// finished job is removed once returned, unless `keep`.
    fn get<'a>(
        &'a self,
        caller: &'a str,
        id: &'a str,
        wait: Option<Duration>,
        keep: bool,
    ) -> BoxFuture<'a, Result<JobInfo, CallError>>;

    /// Cancels job `id` of `caller` if it has not finished; returns it.
    fn cancel<'a>(
        &'a self,
        caller: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<JobInfo, CallError>>;

    /// The jobs of `caller`, newest first.
    fn list<'a>(&'a self, caller: &'a str) -> BoxFuture<'a, Result<Vec<JobInfo>, CallError>>;
}

/// Runs `job`'s call through `executor` (calling `started` once it is
/// admitted) and, unless its callback is sent later (a URL:
/// [`JobExecutor::delivers_later`]), delivers the callback. Returns the
/// finished record, and whether the callback is still to be delivered.
pub async fn execute(
    executor: &dyn JobExecutor,
    mut job: JobInfo,
    started: Started,
) -> (JobInfo, bool) {
    match executor.run(&job, started).await {
        Ok(value) => {
            job.state = JobState::Done;
            job.result = Some(value);
        }
        Err(e) => {
            job.state = JobState::Failed;
            job.error_kind = Some(e.kind);
            job.error = Some(e.message);
        }
    }
    job.finished_ms = Some(super::store::now_ms());
    let later = executor.delivers_later(&job);
    if job.callback.is_some()
        && !later
        && let Err(e) = executor.deliver(&job).await
    {
        tracing::warn!(job = %job.id, "the job's callback failed: {e}");
        job.callback_error = Some(e);
    }
    let later = later && job.callback.is_some();
    (job, later)
}
