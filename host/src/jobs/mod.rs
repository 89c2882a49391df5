//! Submitted jobs: a call that runs in the background, identified by an id,
//! polled, waited for or cancelled from any connection, its result kept in
//! the state directory until fetched or expired.
//!
//! - `store`: the job records in `STATE/jobs.redb` (redb), read one at a
//!   time;
//! - `usage`: what each caller's jobs take, against [`JobQuotas`].
//! - `runner`: [`Jobs`], which queues, tracks, cancels and finishes jobs,
//!   and on open reports jobs that were running when the host stopped as
//!   failed. The calls themselves run through a [`JobExecutor`] (the host
//!   service), admitted like every other call.
//! - `shared`: [`SharedJobs`], where a cluster keeps jobs instead, and
//!   [`execute`], running one job's call and callback for it.

mod runner;
mod shared;
mod store;
mod usage;

pub(crate) use runner::not_found;
pub use runner::{JOB_ARGS_MAX, JobExecutor, JobFuture, JobOptions, Jobs, Started, prepare};
pub use shared::{SharedJobs, execute};
pub(crate) use store::now_ms;
pub use usage::JobQuotas;
