//! `submit`, `job` and `cancel`: jobs, checked like calls and scoped to the
//! caller that submitted them.

use std::time::Duration;

use rmpv::Value;

use super::Shared;
use crate::access::Identity;
use crate::jobs::Jobs;
use crate::proto::Response;
use crate::{CallError, ErrorKind};

fn jobs(shared: &Shared) -> Result<&Jobs, CallError> {
    shared.jobs.as_ref().ok_or_else(|| {
        CallError::new(
            ErrorKind::NotFound,
            "this server does not keep jobs (it runs without a state directory)",
        )
    })
}

/// Whether `identity` may call `node` as a job or a callback.
fn check(shared: &Shared, identity: &Identity, node: &str) -> Result<(), CallError> {
    let registry = shared.plugins.snapshot();
    let Some((served, name)) = registry.resolve(node) else {
        return Err(super::stream::not_found(node));
    };
    if served.access.is_private(name) {
        return Err(CallError::new(
            ErrorKind::Denied,
            format!("`{node}` is private: only other nodes may call it, through `invoke`"),
        ));
    }
    identity.authorize(node, &served.access)
}

fn answer(result: Result<crate::proto::JobInfo, CallError>) -> Response {
    match result {
        Ok(job) => Response::Ok(job.to_value()),
        Err(e) => Response::Err(e),
    }
}

pub(super) fn submit(
    shared: &Shared,
    identity: &Identity,
    node: &str,
    args: Value,
    callback: Option<String>,
) -> Response {
    let submitted = jobs(shared).and_then(|jobs| {
        check(shared, identity, node)?;
        if let Some(callback) = &callback {
            check(shared, identity, callback)?;
        }
        jobs.submit(identity.name(), node, args, callback)
    });
    answer(submitted)
}

pub(super) async fn get(
    shared: &Shared,
    identity: &Identity,
    id: &str,
    wait_ms: Option<u64>,
    keep: bool,
) -> Response {
    let jobs = match jobs(shared) {
        Ok(jobs) => jobs,
        Err(e) => return Response::Err(e),
    };
    let wait = wait_ms.map(Duration::from_millis);
    answer(jobs.get(identity.name(), id, wait, keep).await)
}

pub(super) fn cancel(shared: &Shared, identity: &Identity, id: &str) -> Response {
    answer(jobs(shared).and_then(|jobs| jobs.cancel(identity.name(), id)))
}
