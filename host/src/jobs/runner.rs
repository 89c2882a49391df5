//! Starting, tracking, cancelling and finishing jobs.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::shared::{SharedJobs, execute};
use super::store::{JobStore, args_bytes, now_ms};
use super::usage::{JobQuotas, Usage};
use crate::proto::{CallError, ErrorKind, JobInfo, JobState};

/// A future a [`JobExecutor`] returns.
pub type JobFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Called by a [`JobExecutor`] once the job's call was admitted and starts:
/// the job is `queued` until then and `running` from then on.
pub type Started = Box<dyn FnOnce() + Send>;

/// Runs jobs' calls: whoever serves the nodes (the host service) implements
/// it, so a job is admitted and run like any other call of its caller.
pub trait JobExecutor: Send + Sync + 'static {
    /// Runs `job`'s call for `job.caller`, waiting for a free slot rather
    /// than failing when the plugin or the host is busy, and calling
    /// `started` when the call starts.
    fn run(&self, job: &JobInfo, started: Started) -> JobFuture<Result<Value, CallError>>;
    /// Calls `job.callback` with the outcome; why it could not, if it could
    /// not.
    fn deliver(&self, job: &JobInfo) -> JobFuture<Result<(), String>>;
    /// Whether `job`'s callback is delivered after its outcome is recorded
    /// (a URL that may take retries) rather than before (a node).
    fn delivers_later(&self, _job: &JobInfo) -> bool {
        false
    }
}

/// How a job is submitted, beyond its node and arguments.
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    /// A node to call with the outcome, or an allow-listed URL to send it to.
    pub callback: Option<String>,
    /// For a URL callback: `POST` (when absent) or `PUT`.
    pub callback_method: Option<String>,
    /// For a URL callback: send `{KEY: record}` instead of the record.
    pub callback_key: Option<String>,
    /// The submitter's trace; the job's call joins it.
    pub trace: Option<crate::proto::TraceContext>,
}

/// The largest arguments a job may have (they are stored until it ends):
/// 1 MiB. Send bigger data as a blob reference.
pub const JOB_ARGS_MAX: usize = 1 << 20;

/// Jobs running at once; more wait in `queued`.
const MAX_RUNNING: usize = 64;

/// How long a finished job's result is kept when nobody fetches it.
const KEEP_FINISHED: Duration = Duration::from_secs(24 * 3600);

/// How often expired jobs are removed.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Removes finished jobs older than [`KEEP_FINISHED`], reading one record
/// at a time.
fn sweep(inner: &Inner) -> Result<(), String> {
    let now = now_ms();
    let keep = KEEP_FINISHED.as_millis() as u64;
    let mut expired = Vec::new();
    inner.store.for_each(|job, _| {
        if job.state.is_finished()
            && job
                .finished_ms
                .is_some_and(|t| now.saturating_sub(t) > keep)
        {
            expired.push((job.id.clone(), job.caller.clone(), args_bytes(&job)));
        }
    })?;
    for (id, caller, args) in expired {
        let _records = inner.lock_records();
        // A `job` request may have fetched (and removed) it meanwhile.
        let record = inner.store.remove(&id)?;
        if record > 0 {
            inner.usage.removed(&caller, true, args, record);
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
    usage: Usage,
    executor: OnceLock<Arc<dyn JobExecutor>>,
    slots: Arc<Semaphore>,
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Held while a record is read, checked and written back, so a cancel
    /// and a job's own end do not overwrite each other.
    records: Mutex<()>,
    /// Set by [`Jobs::shutdown`]: no new job tasks.
    closed: std::sync::atomic::AtomicBool,
    /// Bumped whenever a job finishes, for waiters.
    finished: watch::Sender<u64>,
    /// Where new jobs go in a cluster ([`Jobs::share`]).
    shared: OnceLock<Arc<dyn SharedJobs>>,
}

/// The answer for a job that does not exist, or not for this caller.
pub(crate) fn not_found(id: &str) -> CallError {
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
    /// Opens the job store `path`, whose jobs may take what `quotas`
    /// allow. Jobs that were running when the host stopped are marked
    /// failed and finished ones older than a day are removed; queued ones
    /// wait for [`Jobs::start`]. Records are read one at a time.
    ///
    /// # Errors
    ///
    /// When the store cannot be opened.
    pub fn open(path: &Path, quotas: JobQuotas) -> Result<Jobs, String> {
        let store = JobStore::open(path)?;
        let jobs = Jobs {
            inner: Arc::new(Inner {
                store,
                usage: Usage::new(quotas),
                executor: OnceLock::new(),
                slots: Arc::new(Semaphore::new(MAX_RUNNING)),
                tasks: Mutex::default(),
                records: Mutex::default(),
                closed: std::sync::atomic::AtomicBool::new(false),
                finished: watch::channel(0).0,
                shared: OnceLock::new(),
            }),
        };
        let inner = &jobs.inner;
        let mut interrupted = Vec::new();
        inner.store.for_each(|job, record| {
            let finished = job.state.is_finished();
            inner
                .usage
                .found(&job.caller, finished, args_bytes(&job), record);
            if job.state == JobState::Running {
                interrupted.push(job.id);
            }
        })?;
        let now = now_ms();
        for id in interrupted {
            let Some(mut job) = inner.store.get(&id)? else {
                continue;
            };
            job.state = JobState::Failed;
            job.error_kind = Some(ErrorKind::Internal);
            job.error = Some("the host stopped while the job was running; submit it again".into());
            job.finished_ms = Some(now);
            tracing::warn!(job = %job.id, node = %job.node, "a job was running when the host stopped; marked failed");
            let (before, after) = inner.store.put(&job)?;
            inner.usage.rewritten(before, after);
            inner.usage.finished(&job.caller);
        }
        sweep(inner)?;
        Ok(jobs)
    }

    /// Starts running jobs through `executor`: the queued ones from before a
    /// restart at once, new ones as they are submitted. Expired results are
    /// swept every few minutes from now on. Call it once, inside a tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// When the store cannot be read.
    pub fn start(&self, executor: Arc<dyn JobExecutor>) -> Result<(), String> {
        if self.inner.executor.set(executor).is_err() {
            return Ok(());
        }
        let mut queued = Vec::new();
        self.inner.store.for_each(|job, _| {
            if job.state == JobState::Queued {
                queued.push(job.id);
            }
        })?;
        for id in queued {
            self.spawn(id);
        }
        // The sweeper holds no strong reference, so it ends with the jobs.
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(inner) = weak.upgrade() else { break };
                if let Err(e) = sweep(&inner) {
                    tracing::warn!("sweeping expired jobs failed: {e}");
                }
            }
        });
        Ok(())
    }

    /// From now on, keeps new jobs in `shared` (a cluster's store and
    /// queue) instead of this host's store. Set once; a second call
    /// returns `false` and changes nothing.
    pub fn share(&self, shared: Arc<dyn SharedJobs>) -> bool {
        self.inner.shared.set(shared).is_ok()
    }

    /// The shared store, if [`Jobs::share`] set one.
    pub fn shared(&self) -> Option<&Arc<dyn SharedJobs>> {
        self.inner.shared.get()
    }

    /// What runs the jobs' calls, once [`Jobs::start`] was called.
    pub fn executor(&self) -> Option<Arc<dyn JobExecutor>> {
        self.inner.executor.get().cloned()
    }

    /// Queues a call of `node` with `args` for `caller`; `callback` is a
    /// node to call with the outcome. The caller (the host service) has
    /// checked the node, the arguments and the permissions. Returns the
    /// queued job.
    ///
    /// # Errors
    ///
    /// `resource-limit` for arguments over [`JOB_ARGS_MAX`] or past one of
    /// the caller's quotas, `overloaded` when the store is full, `internal`
    /// when the store fails.
    pub fn submit(
        &self,
        caller: &str,
        node: &str,
        args: Value,
        options: JobOptions,
    ) -> Result<JobInfo, CallError> {
        let (job, encoded) = prepare(caller, node, args, options)?;
        self.inner.usage.admit(caller, encoded)?;
        match self.inner.store.put(&job) {
            Ok((before, after)) => self.inner.usage.rewritten(before, after),
            Err(e) => {
                self.inner.usage.unadmit(caller, encoded);
                return Err(internal(e));
            }
        }
        tracing::debug!(job = %job.id, node, caller, "job submitted");
        self.spawn(job.id.clone());
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
                    let _records = self.inner.lock_records();
                    let record = self.inner.store.remove(id).map_err(internal)?;
                    if record > 0 {
                        let args = args_bytes(&job);
                        self.inner.usage.removed(&job.caller, true, args, record);
                    }
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
        let _records = self.inner.lock_records();
        let mut job = self.load(caller, id)?;
        if job.state.is_finished() {
            return Ok(job);
        }
        if let Some(task) = self.tasks().remove(id) {
            task.abort();
        }
        job.state = JobState::Cancelled;
        job.finished_ms = Some(now_ms());
        let (before, after) = self.inner.store.put(&job).map_err(internal)?;
        self.inner.usage.rewritten(before, after);
        self.inner.usage.finished(caller);
        self.inner.finished.send_modify(|n| *n += 1);
        tracing::debug!(job = %id, "job cancelled");
        Ok(job)
    }

    /// The jobs of `caller`, newest first (at most its quota of them).
    /// Reads the store one record at a time: call it off the async threads.
    ///
    /// # Errors
    ///
    /// `internal` when the store cannot be read.
    pub fn list(&self, caller: &str) -> Result<Vec<JobInfo>, CallError> {
        let mut jobs = Vec::new();
        self.inner
            .store
            .for_each(|job, _| {
                if job.caller == caller {
                    jobs.push(job);
                }
            })
            .map_err(internal)?;
        jobs.sort_by_key(|job| std::cmp::Reverse(job.created_ms));
        Ok(jobs)
    }

    /// Jobs stored in all, and how many of them are unfinished (queued or
    /// running).
    pub fn counts(&self) -> (usize, usize) {
        self.inner.usage.totals()
    }

    /// Stops every job task: running jobs are marked failed, queued ones
    /// stay queued for the next start. Returns once the tasks have ended
    /// (at most 5 s), so the store can be reopened.
    pub async fn shutdown(&self) {
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        let tasks: Vec<(String, JoinHandle<()>)> = self.tasks().drain().collect();
        for (_, task) in &tasks {
            task.abort();
        }
        for (id, task) in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            let _records = self.inner.lock_records();
            if let Ok(Some(mut job)) = self.inner.store.get(&id)
                && job.state == JobState::Running
            {
                job.state = JobState::Failed;
                job.error_kind = Some(ErrorKind::Cancelled);
                job.error = Some("the host shut down while the job was running".into());
                job.finished_ms = Some(now_ms());
                if let Ok((before, after)) = self.inner.store.put(&job) {
                    self.inner.usage.rewritten(before, after);
                    self.inner.usage.finished(&job.caller);
                }
            }
        }
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn load(&self, caller: &str, id: &str) -> Result<JobInfo, CallError> {
        match self.inner.store.get(id).map_err(internal)? {
            Some(job) if job.caller == caller => Ok(job),
            _ => Err(not_found(id)),
        }
    }

    fn spawn(&self, id: String) {
        if self.inner.closed.load(std::sync::atomic::Ordering::Acquire) {
            // Shutting down: it stays queued for the next start.
            return;
        }
        let Some(executor) = self.inner.executor.get().cloned() else {
            // Not started yet: `start` picks queued jobs up.
            return;
        };
        let mut tasks = self.tasks();
        // The task removes itself when it ends, which takes this lock: it
        // cannot end before it is recorded here.
        let inner = self.inner.clone();
        let own = id.clone();
        let task = tokio::spawn(async move {
            run(inner.clone(), executor, own.clone()).await;
            inner
                .tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&own);
        });
        tasks.insert(id, task);
    }
}

/// A new job's record (queued, with a fresh id) and its arguments' size
/// encoded.
///
/// # Errors
///
/// `resource-limit` for arguments over [`JOB_ARGS_MAX`], `internal` when
/// no id can be made.
pub fn prepare(
    caller: &str,
    node: &str,
    args: Value,
    options: JobOptions,
) -> Result<(JobInfo, usize), CallError> {
    let JobOptions {
        callback,
        callback_method,
        callback_key,
        trace,
    } = options;
    let mut encoded = Vec::new();
    let _ = rmpv::encode::write_value(&mut encoded, &args);
    if encoded.len() > JOB_ARGS_MAX {
        return Err(CallError::new(
            ErrorKind::ResourceLimit,
            format!(
                "a job's arguments may take {JOB_ARGS_MAX} bytes, these take {}; upload big data \
                 as a blob and pass its reference",
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
        trace: trace.map(|t| t.header()),
        callback_method,
        callback_key,
    };
    Ok((job, encoded.len()))
}

/// Runs one job when a slot is free and records how it ended.
async fn run(inner: Arc<Inner>, executor: Arc<dyn JobExecutor>, id: String) {
    let Ok(_slot) = inner.slots.clone().acquire_owned().await else {
        return;
    };
    let job = match inner.store.get(&id) {
        Ok(Some(job)) if job.state == JobState::Queued => job,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(job = %id, "cannot read the job: {e}");
            return;
        }
    };
    // `running` once admitted: until then it waits for a slot (or for its
    // plugin to load) as `queued`.
    let started: Started = {
        let inner = inner.clone();
        let id = id.clone();
        Box::new(move || {
            let _records = inner.lock_records();
            if let Ok(Some(mut job)) = inner.store.get(&id)
                && job.state == JobState::Queued
            {
                job.state = JobState::Running;
                match inner.store.put(&job) {
                    Ok((before, after)) => inner.usage.rewritten(before, after),
                    Err(e) => tracing::error!(job = %id, "cannot record the job as running: {e}"),
                }
            }
        })
    };
    let (job, later) = execute(executor.as_ref(), job, started).await;
    {
        let _records = inner.lock_records();
        // A cancel that came while the call finished wins, and a job
        // cancelled and then fetched meanwhile is gone for good.
        match inner.store.get(&id) {
            Ok(Some(current)) if !current.state.is_finished() => {}
            Ok(_) => return,
            Err(e) => tracing::error!(job = %id, "cannot read the job's record: {e}"),
        }
        match inner.store.put(&job) {
            Ok((before, after)) => {
                inner.usage.rewritten(before, after);
                inner.usage.finished(&job.caller);
            }
            Err(e) => tracing::error!(job = %id, "cannot record the job's outcome: {e}"),
        }
    }
    inner.finished.send_modify(|n| *n += 1);
    tracing::debug!(job = %id, state = ?job.state, "job finished");
    if later {
        // Retries to a slow receiver do not hold a job slot.
        drop(_slot);
        if let Err(e) = executor.deliver(&job).await {
            tracing::warn!(job = %id, "the job's callback failed: {e}");
            note_callback_error(&inner, &id, e);
        }
    }
}

/// Records why job `id`'s callback failed, if the job is still kept.
fn note_callback_error(inner: &Inner, id: &str, error: String) {
    let _records = inner.lock_records();
    if let Ok(Some(mut job)) = inner.store.get(id) {
        job.callback_error = Some(error);
        match inner.store.put(&job) {
            Ok((before, after)) => inner.usage.rewritten(before, after),
            Err(e) => tracing::error!(job = %id, "cannot record the callback's failure: {e}"),
        }
    }
}

impl Inner {
    fn lock_records(&self) -> std::sync::MutexGuard<'_, ()> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
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
