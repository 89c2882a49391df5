//! Starting, tracking, cancelling and finishing jobs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{Semaphore, watch};
use tokio::task::AbortHandle;

use super::store::{JobStore, now_ms};
use crate::plugins::Plugins;
use crate::proto::{JobInfo, JobState};
use crate::{CallError, CallOptions, ErrorKind};

/// The largest arguments a job may have (they are stored until it ends):
/// 1 MiB. Send bigger data as a blob reference.
pub const JOB_ARGS_MAX: usize = 1 << 20;

/// Jobs running at once; more wait in `queued`.
const MAX_RUNNING: usize = 64;

/// How long a finished job's result is kept when nobody fetches it.
const KEEP_FINISHED: Duration = Duration::from_secs(24 * 3600);

/// How often expired jobs are removed.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Removes finished jobs older than [`KEEP_FINISHED`].
fn sweep(inner: &Inner) -> Result<(), String> {
    let now = now_ms();
    for job in inner.store.all()? {
        if job.state.is_finished()
            && job
                .finished_ms
                .is_some_and(|t| now.saturating_sub(t) > KEEP_FINISHED.as_millis() as u64)
        {
            inner.store.remove(&job.id)?;
        }
    }
    Ok(())
}

/// The host's jobs. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

struct Inner {
    store: JobStore,
    plugins: Plugins,
    slots: Arc<Semaphore>,
    tasks: Mutex<HashMap<String, AbortHandle>>,
    /// Bumped whenever a job finishes, for waiters.
    finished: watch::Sender<u64>,
}

fn not_found(id: &str) -> CallError {
    CallError::new(
        ErrorKind::NotFound,
        format!(
            "no job `{id}` here: jobs are only visible to whoever submitted them, and a \
             finished job is removed once fetched or after 24 hours"
        ),
    )
}

fn internal(e: String) -> CallError {
    CallError::new(ErrorKind::Internal, format!("the job store failed: {e}"))
}

impl Jobs {
    /// Opens the job store `path` for the plugins in `plugins`. Jobs that
    /// were running when the host stopped are marked failed; queued ones are
    /// started again; finished ones older than a day are removed. Call it
    /// inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// When the store cannot be opened.
    pub fn open(path: &Path, plugins: Plugins) -> Result<Jobs, String> {
        let store = JobStore::open(path)?;
        let jobs = Jobs {
            inner: Arc::new(Inner {
                store,
                plugins,
                slots: Arc::new(Semaphore::new(MAX_RUNNING)),
                tasks: Mutex::default(),
                finished: watch::channel(0).0,
            }),
        };
        let now = now_ms();
        for mut job in jobs.inner.store.all()? {
            match job.state {
                JobState::Running => {
                    job.state = JobState::Failed;
                    job.error_kind = Some(ErrorKind::Internal.as_str().into());
                    job.error =
                        Some("the host stopped while the job was running; submit it again".into());
                    job.finished_ms = Some(now);
                    tracing::warn!(job = %job.id, node = %job.node, "a job was running when the host stopped; marked failed");
                    jobs.inner.store.put(&job)?;
                }
                JobState::Queued => jobs.start(job.id.clone()),
                _ => {}
            }
        }
        sweep(&jobs.inner)?;
        // Expired results are swept every few minutes while the host runs;
        // the sweeper holds no strong reference, so it ends with the jobs.
        let weak = Arc::downgrade(&jobs.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(inner) = weak.upgrade() else { break };
                if let Err(e) = sweep(&inner) {
                    tracing::warn!("sweeping expired jobs failed: {e}");
                }
            }
        });
        Ok(jobs)
    }

    /// Submits a call of `node` with `args` for `caller`; `callback` is a
    /// node to call with the outcome. Returns the queued job.
    ///
    /// # Errors
    ///
    /// `not-found` for an unknown node or callback, `resource-limit` for
    /// arguments over [`JOB_ARGS_MAX`], `internal` when the store fails.
    pub fn submit(
        &self,
        caller: &str,
        node: &str,
        args: Value,
        callback: Option<String>,
    ) -> Result<JobInfo, CallError> {
        let registry = self.inner.plugins.snapshot();
        for name in std::iter::once(node).chain(callback.as_deref()) {
            let callable = registry
                .resolve(name)
                .and_then(|(s, n)| s.plugin.node(n))
                .is_some_and(|d| d.not_callable.is_none());
            if !callable {
                return Err(CallError::new(
                    ErrorKind::NotFound,
                    format!("no node `{name}` is served here; `warden nodes` lists them"),
                ));
            }
        }
        let mut encoded = Vec::new();
        let _ = rmpv::encode::write_value(&mut encoded, &args);
        if encoded.len() > JOB_ARGS_MAX {
            return Err(CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "a job's arguments may take {JOB_ARGS_MAX} bytes, these take {}; upload big \
                     data as a blob and pass its reference",
                    encoded.len()
                ),
            ));
        }
        let job = JobInfo {
            id: new_id().map_err(internal)?,
            node: node.to_owned(),
            args,
            caller: caller.to_owned(),
            state: JobState::Queued,
            result: None,
            error_kind: None,
            error: None,
            callback,
            callback_error: None,
            created_ms: now_ms(),
            finished_ms: None,
        };
        self.inner.store.put(&job).map_err(internal)?;
        tracing::debug!(job = %job.id, node, caller, "job submitted");
        self.start(job.id.clone());
        Ok(job)
    }

    /// The job `id` of `caller`. With `wait`, waits up to that long for it
    /// to finish. A finished job is removed once returned, unless `keep`.
    ///
    /// # Errors
    ///
    /// `not-found` when there is no such job for this caller.
    pub async fn get(
        &self,
        caller: &str,
        id: &str,
        wait: Option<Duration>,
        keep: bool,
    ) -> Result<JobInfo, CallError> {
        let mut finished = self.inner.finished.subscribe();
        let until = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            let job = self.load(caller, id)?;
            if job.state.is_finished() {
                if !keep {
                    self.inner.store.remove(id).map_err(internal)?;
                }
                return Ok(job);
            }
            let Some(until) = until else {
                return Ok(job);
            };
            if tokio::time::timeout_at(until, finished.changed())
                .await
                .is_err()
            {
                return Ok(job);
            }
        }
    }

    /// Cancels job `id` of `caller` if it has not finished; returns it.
    ///
    /// # Errors
    ///
    /// `not-found` when there is no such job for this caller.
    pub fn cancel(&self, caller: &str, id: &str) -> Result<JobInfo, CallError> {
        let mut job = self.load(caller, id)?;
        if job.state.is_finished() {
            return Ok(job);
        }
        if let Some(task) = self.tasks().remove(id) {
            task.abort();
        }
        job.state = JobState::Cancelled;
        job.finished_ms = Some(now_ms());
        self.inner.store.put(&job).map_err(internal)?;
        self.inner.finished.send_modify(|n| *n += 1);
        tracing::debug!(job = %id, "job cancelled");
        Ok(job)
    }

    /// Stops every running job and marks it failed (the host is shutting down).
    pub fn shutdown(&self) {
        let tasks: Vec<(String, AbortHandle)> = self.tasks().drain().collect();
        for (id, task) in tasks {
            task.abort();
            if let Ok(Some(mut job)) = self.inner.store.get(&id)
                && !job.state.is_finished()
            {
                job.state = JobState::Failed;
                job.error_kind = Some(ErrorKind::Cancelled.as_str().into());
                job.error = Some("the host shut down while the job was running".into());
                job.finished_ms = Some(now_ms());
                let _ = self.inner.store.put(&job);
            }
        }
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, AbortHandle>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn load(&self, caller: &str, id: &str) -> Result<JobInfo, CallError> {
        match self.inner.store.get(id).map_err(internal)? {
            Some(job) if job.caller == caller => Ok(job),
            _ => Err(not_found(id)),
        }
    }

    fn start(&self, id: String) {
        let task = tokio::spawn(run(self.inner.clone(), id.clone()));
        let mut tasks = self.tasks();
        if !task.is_finished() {
            tasks.insert(id, task.abort_handle());
        }
    }
}

/// Runs one job when a slot is free and records how it ended.
async fn run(inner: Arc<Inner>, id: String) {
    let Ok(_slot) = inner.slots.clone().acquire_owned().await else {
        return;
    };
    let mut job = match inner.store.get(&id) {
        Ok(Some(job)) if job.state == JobState::Queued => job,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(job = %id, "cannot read the job: {e}");
            return;
        }
    };
    job.state = JobState::Running;
    if let Err(e) = inner.store.put(&job) {
        tracing::error!(job = %id, "cannot record the job as running: {e}");
        return;
    }
    let outcome = call(&inner.plugins, &job.node, job.args.clone()).await;
    match outcome {
        Ok(value) => {
            job.state = JobState::Done;
            job.result = Some(value);
        }
        Err(e) => {
            job.state = JobState::Failed;
            job.error_kind = Some(e.kind.as_str().into());
            job.error = Some(e.message);
        }
    }
    job.finished_ms = Some(now_ms());
    if let Some(callback) = job.callback.clone()
        && let Err(e) = deliver(&inner.plugins, &callback, &job).await
    {
        tracing::warn!(job = %id, callback, "the job's callback failed: {e}");
        job.callback_error = Some(e);
    }
    // A cancel that came while the call finished wins.
    if let Ok(Some(current)) = inner.store.get(&id)
        && current.state == JobState::Cancelled
    {
        return;
    }
    if let Err(e) = inner.store.put(&job) {
        tracing::error!(job = %id, "cannot record the job's outcome: {e}");
    }
    inner
        .tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    inner.finished.send_modify(|n| *n += 1);
    tracing::debug!(job = %id, state = ?job.state, "job finished");
}

async fn call(plugins: &Plugins, node: &str, args: Value) -> Result<Value, CallError> {
    let registry = plugins.snapshot();
    let Some((served, name)) = registry.resolve(node) else {
        return Err(CallError::new(
            ErrorKind::NotFound,
            format!("no node `{node}` is served here any more"),
        ));
    };
    let options = CallOptions {
        invoker: Some(Arc::new(plugins.clone())),
        ..CallOptions::default()
    };
    served.plugin.call(name, args, options).await
}

/// Calls `callback` with the parameters it declares among `job`, `node`,
/// `state`, `result` and `error`.
async fn deliver(plugins: &Plugins, callback: &str, job: &JobInfo) -> Result<(), String> {
    let registry = plugins.snapshot();
    let desc = registry
        .resolve(callback)
        .and_then(|(s, n)| s.plugin.node(n))
        .ok_or_else(|| format!("no node `{callback}` is served here any more"))?;
    let mut args = Vec::new();
    for param in &desc.params {
        let value = match param.name.as_str() {
            "job" => Value::from(job.id.as_str()),
            "node" => Value::from(job.node.as_str()),
            "state" => Value::from(job.state.as_str()),
            "result" => job.result.clone().unwrap_or(Value::Nil),
            "error" => job.error.as_deref().map_or(Value::Nil, Value::from),
            other => {
                return Err(format!(
                    "callback `{callback}` has a parameter `{other}`; a callback takes some of \
                     `job`, `node`, `state`, `result` and `error`"
                ));
            }
        };
        args.push((Value::from(param.name.as_str()), value));
    }
    call(plugins, callback, Value::Map(args))
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// 16 random hex digits.
fn new_id() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random number generator failed".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
