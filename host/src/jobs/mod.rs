//! Submitted jobs: a call that runs in the background, identified by an id,
//! polled, waited for or cancelled from any connection, its result kept in
//! the state directory until fetched or expired.
//!
//! - `store`: the job records in `STATE/jobs.redb` (redb).
//! - `runner`: [`Jobs`], which starts, tracks, cancels and finishes jobs,
//!   delivers results to callback nodes, and on start reports jobs that were
//!   running when the host stopped as failed.

mod runner;
mod store;

pub use crate::proto::{JobInfo, JobState};
pub use runner::{JOB_ARGS_MAX, Jobs};
