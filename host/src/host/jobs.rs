//! Jobs through the host: submitting checks the node, the callback, the
//! permissions and the arguments at once; running a job (and delivering its
//! callback) is admitted like a call of the caller that submitted it,
//! waiting for a slot instead of failing when the plugin is busy.

use std::sync::Weak;
use std::time::Duration;

use rmpv::Value;

use super::admit::{CallIo, Origin, Wait};
use super::{Host, HostInner};
use crate::access::Identity;
use crate::jobs::JobOptions;
use crate::jobs::{JobExecutor, JobFuture, Jobs, Started};
use crate::proto::{CallError, ErrorKind, JobInfo};

/// The parameters a callback node may declare.
const CALLBACK_PARAMS: [&str; 5] = ["job", "node", "state", "result", "error"];

impl Host {
    fn keeps_jobs(&self) -> Result<&Jobs, CallError> {
        self.inner.jobs.as_ref().ok_or_else(|| {
            CallError::new(
                ErrorKind::NotFound,
                "this server does not keep jobs (it runs without a state directory)",
            )
        })
    }

    /// Queues a call of `node` with `args` as a job of `who`; `callback`
    /// names a node to call with the outcome. The node, the callback, the
    /// permissions and the arguments are checked now, so a job that is
    /// accepted can run.
    ///
    /// # Errors
    ///
    /// As a call's admission (`not-found`, `unavailable`, `denied`,
    /// `unauthenticated`), `bad-args` for arguments that do not fit or a
    /// callback with parameters other than `job`, `node`, `state`,
    /// `result` and `error`, `resource-limit` for arguments over 1 MiB.
    pub async fn submit(
        &self,
        who: &Identity,
        node: &str,
        args: Value,
        callback: Option<String>,
    ) -> Result<JobInfo, CallError> {
        let options = JobOptions {
            callback,
            ..JobOptions::default()
        };
        self.submit_with(who, node, args, options).await
    }

    /// [`Host::submit`] with every option: a URL callback's method and
    /// wrapping key, and the submitter's trace.
    ///
    /// # Errors
    ///
    /// As [`Host::submit`]; `bad-request` for a method other than `POST` or
    /// `PUT`, or a method or key without a URL callback.
    pub async fn submit_with(
        &self,
        who: &Identity,
        node: &str,
        args: Value,
        options: JobOptions,
    ) -> Result<JobInfo, CallError> {
        let callback = &options.callback;
        let jobs = self.keeps_jobs()?;
        if self.is_closed() {
            return Err(super::admit::shutting_down());
        }
        let shared = jobs.shared().cloned();
        self.job_node(who, node, Some(&args), shared.is_some())?;
        let url = callback.as_deref().filter(|c| super::webhooks::is_url(c));
        super::webhooks::check_delivery(url.is_some(), &options)?;
        if let Some(url) = url {
            self.inner.webhooks.check(url)?;
        } else if let Some(callback) = callback {
            let params = self.job_node(who, callback, None, shared.is_some())?;
            if let Some(bad) = params
                .iter()
                .find(|p| !CALLBACK_PARAMS.contains(&p.name.as_str()))
            {
                return Err(CallError::new(
                    ErrorKind::BadArgs,
                    format!(
                        "callback `{callback}` has a parameter `{}`; a callback takes some of \
                         `job`, `node`, `state`, `result` and `error`",
                        bad.name
                    ),
                ));
            }
        }
        match shared {
            None => jobs.submit(who.name(), node, args, options),
            Some(shared) => {
                let (job, _) = crate::jobs::prepare(who.name(), node, args, options)?;
                shared.submit(job.clone()).await?;
                tracing::debug!(job = %job.id, node, caller = who.name(), "job submitted to the cluster");
                Ok(job)
            }
        }
    }

    /// Whether `who` may submit jobs of `node`, before its arguments are
    /// even decoded: as [`Host::check`], and in a cluster that keeps jobs,
    /// a node another host serves counts too.
    ///
    /// # Errors
    ///
    /// As a call's admission.
    pub fn check_job(&self, who: &Identity, node: &str) -> Result<(), CallError> {
        let anywhere = self.keeps_jobs()?.shared().is_some();
        self.job_node(who, node, None, anywhere).map(drop)
    }

    /// Checks that `who` may call `node` (with `args`, when given) and
    /// returns its parameters. With `anywhere` (jobs kept by a cluster), a
    /// node another host serves counts too (its arguments are checked
    /// where it runs).
    fn job_node(
        &self,
        who: &Identity,
        node: &str,
        args: Option<&Value>,
        anywhere: bool,
    ) -> Result<Vec<crate::proto::ParamInfo>, CallError> {
        match self.check(Origin::Caller(who), node) {
            Ok((served, name)) => {
                if let Some(args) = args {
                    served.plugin.check_args(&name, args)?;
                }
                Ok(served
                    .plugin
                    .node(&name)
                    .map(|d| d.info.params.clone())
                    .unwrap_or_default())
            }
            Err(local) => {
                let remote = self.remote().filter(|_| anywhere);
                let Some(remote) = remote else {
                    return Err(local);
                };
                match self.check_remote(remote.as_ref(), Origin::Caller(who), node)? {
                    Some(found) => Ok(found.info.params),
                    None => Err(local),
                }
            }
        }
    }

    /// Job `id` of `who`, waiting up to `wait` for it to finish. A finished
    /// job is removed once returned, unless `keep`.
    ///
    /// # Errors
    ///
    /// `not-found` when `who` has no such job.
    pub async fn job(
        &self,
        who: &Identity,
        id: &str,
        wait: Option<Duration>,
        keep: bool,
    ) -> Result<JobInfo, CallError> {
        let jobs = self.keeps_jobs()?;
        if let Some(shared) = jobs.shared() {
            match shared.get(who.name(), id, wait, keep).await {
                // A job queued here before the host joined stays here.
                Err(e) if e.kind == ErrorKind::NotFound => {}
                other => return other,
            }
        }
        jobs.get(who.name(), id, wait, keep).await
    }

    /// The jobs of `who`, newest first.
    ///
    /// # Errors
    ///
    /// `internal` when the store cannot be read.
    pub async fn jobs_of(&self, who: &Identity) -> Result<Vec<JobInfo>, CallError> {
        let jobs = self.keeps_jobs()?.clone();
        let caller = who.name().to_owned();
        let mut listed = match jobs.shared() {
            Some(shared) => shared.list(&caller).await?,
            None => Vec::new(),
        };
        // The local store is read one record at a time, off the async
        // threads.
        let local = tokio::task::spawn_blocking(move || jobs.list(&caller))
            .await
            .map_err(|e| {
                CallError::new(ErrorKind::Internal, format!("listing jobs failed: {e}"))
            })??;
        listed.extend(local);
        listed.sort_by_key(|job| std::cmp::Reverse(job.created_ms));
        Ok(listed)
    }

    /// Cancels job `id` of `who` if it has not finished; its record as it
    /// is then (`cancelled`, or how it had already ended).
    ///
    /// # Errors
    ///
    /// `not-found` when `who` has no such job.
    pub async fn cancel(&self, who: &Identity, id: &str) -> Result<JobInfo, CallError> {
        let jobs = self.keeps_jobs()?;
        if let Some(shared) = jobs.shared() {
            match shared.cancel(who.name(), id).await {
                Err(e) if e.kind == ErrorKind::NotFound => {}
                other => return other,
            }
        }
        jobs.cancel(who.name(), id)
    }
}

/// Runs jobs through a host's admission. It holds the host weakly: the
/// jobs belong to the host, not the other way round.
pub(super) struct HostJobs(pub(super) Weak<HostInner>);

impl HostJobs {
    fn host(&self) -> Result<Host, CallError> {
        self.0
            .upgrade()
            .map(|inner| Host { inner })
            .ok_or_else(super::admit::shutting_down)
    }
}

impl JobExecutor for HostJobs {
    fn run(&self, job: &JobInfo, started: Started) -> JobFuture<Result<Value, CallError>> {
        let host = self.host();
        let (caller, node, args) = (job.caller.clone(), job.node.clone(), job.args.clone());
        let trace = job
            .trace
            .as_deref()
            .and_then(crate::proto::TraceContext::parse);
        Box::pin(async move {
            let host = host?;
            let who = host.identity_named(&caller)?;
            let admitted = host
                .admit(Origin::Caller(&who), &node, None, Wait::Yes)
                .await?
                .with_trace(trace);
            started();
            admitted.run(args, CallIo::default()).await
        })
    }

    fn delivers_later(&self, job: &JobInfo) -> bool {
        job.callback.as_deref().is_some_and(super::webhooks::is_url)
    }

    fn deliver(&self, job: &JobInfo) -> JobFuture<Result<(), String>> {
        let host = self.host();
        let job = job.clone();
        Box::pin(async move {
            let host = host.map_err(|e| e.to_string())?;
            let Some(callback) = &job.callback else {
                return Ok(());
            };
            if super::webhooks::is_url(callback) {
                return host.inner.webhooks.deliver(callback, &job).await;
            }
            let who = host
                .identity_named(&job.caller)
                .map_err(|e| e.to_string())?;
            let trace = job
                .trace
                .as_deref()
                .and_then(crate::proto::TraceContext::parse);
            let admitted = host
                .admit(Origin::Caller(&who), callback, None, Wait::Yes)
                .await
                .map_err(|e| e.to_string())?
                .with_trace(trace);
            let mut args = Vec::new();
            for param in &admitted.node().params {
                let value = match param.name.as_str() {
                    "job" => Value::from(job.id.as_str()),
                    "node" => Value::from(job.node.as_str()),
                    "state" => Value::from(job.state.as_str()),
                    "result" => job.result.clone().unwrap_or(Value::Nil),
                    "error" => job.error.as_deref().map_or(Value::Nil, Value::from),
                    other => {
                        return Err(format!(
                            "callback `{callback}` has a parameter `{other}`; a callback takes \
                             some of `job`, `node`, `state`, `result` and `error`"
                        ));
                    }
                };
                args.push((Value::from(param.name.as_str()), value));
            }
            admitted
                .run(Value::Map(args), CallIo::default())
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}
