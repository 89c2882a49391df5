//! Jobs shared by the hosts of a cluster: records in the KV bucket
//! `warden_<cluster>_jobs`, and a work queue, the stream
//! `warden_<cluster>_jobq` with one subject per plugin
//! (`warden.<cluster>.jobq.<plugin>`).
//!
//! - **Submit** (any host): the record is created (`queued`), then the
//!   record's key is published on the plugin's subject; the job is accepted
//!   once JetStream has stored both.
//! - **Run** (every host serving the plugin): a durable pull consumer per
//!   plugin, `jobs-<plugin>`, shared by those hosts, so each job goes to one
//!   of them. The host marks the record `running`, runs the call through
//!   the host service (admitted as the submitter's call), writes the
//!   outcome, then acknowledges the message. While it runs it tells
//!   JetStream every [`PROGRESS_EVERY`] that it is still working.
//! - **At least once**: a host that dies (or leaves) before acknowledging
//!   leaves its message unacknowledged, and JetStream hands it to another
//!   host after [`ACK_WAIT`] (at once when the host left cleanly): the job
//!   runs again there, so a job may run more than once. A job whose host
//!   stopped [`MAX_DELIVERIES`] times fails instead of running again.
//! - **Cancel** (any host): the record is set `cancelled` (compare-and-set,
//!   so a cancel and an outcome never overwrite each other) and the hosts
//!   are told on `warden.<cluster>.jobs-cancel`; the host running it stops
//!   the call.
//! - **Results** are read from any host; a finished job is removed once
//!   fetched (unless kept), and every record after 24 hours (the bucket's
//!   age limit, which also drops a job still queued after a day).
//!
//! A record holds the arguments and the result, so it must fit in one NATS
//! message: a job whose record would not is refused (or, for a result,
//! fails) with `resource-limit` saying so; pass big data as blob
//! references. Per-caller job quotas are those of the local store and are
//! not counted across the cluster; the queue holds at most [`QUEUE_MAX`]
//! jobs, and the records what the NATS server's JetStream storage allows
//! (`max_file_store`): past either, a submit fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::kv::Operation;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::{Semaphore, oneshot};

use super::kv::{Bucket, hex};
use super::{ClusterError, Shared};
use crate::host::{Host, is_token};
use crate::jobs::{SharedJobs, Started, execute, not_found};
use crate::proto::{CallError, ErrorKind, JobInfo, JobState};

/// How long a job's message may go unacknowledged before another host
/// gets it.
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// How often a host running a job tells JetStream it still works on it.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// Starts of a job (each ended by its host stopping) before it fails.
pub const MAX_DELIVERIES: i64 = 5;
/// How long a record is kept: a day, as on a single host.
const KEEP: Duration = Duration::from_secs(24 * 3600);
/// The most jobs queued at once in the cluster.
pub const QUEUE_MAX: i64 = 1_000_000;
/// Jobs one host runs at once (as on a single host).
const MAX_RUNNING: usize = 64;
/// Room for the key and the protocol's headers beside a record.
const RECORD_OVERHEAD: usize = 4096;
/// Compare-and-set attempts when other hosts change a record meanwhile.
const CAS_TRIES: usize = 16;

/// The cluster's job records and queue, as the host's [`SharedJobs`].
pub(super) struct ClusterJobs {
    shared: Arc<Shared>,
    js: jetstream::Context,
    records: jetstream::kv::Store,
    /// The largest record NATS carries.
    max_record: usize,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> CallError {
    CallError::new(
        ErrorKind::Unavailable,
        format!("the cluster's job store failed to {what}: {e}"),
    )
}

/// The record of `caller`'s job `id`: `c<caller in hex>.<id>`, or `None`
/// for an id no job has (ids are letters and digits).
fn record_key(caller: &str, id: &str) -> Option<String> {
    let valid = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| format!("c{}.{id}", hex(caller)))
}

/// Why a record could not be written.
enum WriteError {
    /// Another host changed it first.
    Conflict,
    /// Anything else.
    Failed(CallError),
}

impl ClusterJobs {
    /// Opens (or creates) the cluster's job records and queue.
    pub(super) async fn open(shared: &Arc<Shared>) -> Result<ClusterJobs, ClusterError> {
        use jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
        let name = &shared.name;
        let max_payload = shared.client.server_info().max_payload;
        let records = Bucket {
            name: format!("warden_{name}_jobs"),
            description: "Warden: job records",
            max_value: max_payload,
            max_age: KEEP,
            // Bounded by the NATS server's JetStream storage.
            max_bytes: -1,
        }
        .open(&shared.client)
        .await?;
        let js = jetstream::new(shared.client.clone());
        let queue = Config {
            name: format!("warden_{name}_jobq"),
            subjects: vec![shared.subject("jobq.*")],
            description: Some("Warden: queued jobs, one subject per plugin".into()),
            retention: RetentionPolicy::WorkQueue,
            max_messages: QUEUE_MAX,
            max_bytes: -1,
            max_message_size: 1024,
            max_age: KEEP,
            discard: DiscardPolicy::New,
            storage: StorageType::File,
            num_replicas: 1,
            ..Config::default()
        };
        js.get_or_create_stream(queue).await.map_err(|e| {
            ClusterError::Store(format!(
                "cannot open the job queue `warden_{name}_jobq`: {e}"
            ))
        })?;
        Ok(ClusterJobs {
            shared: shared.clone(),
            js,
            records,
            max_record: max_payload.saturating_sub(RECORD_OVERHEAD),
        })
    }

    fn queue(&self) -> String {
        format!("warden_{}_jobq", self.shared.name)
    }

    /// The record under `key` and its revision.
    async fn load(&self, key: &str) -> Result<Option<(JobInfo, u64)>, CallError> {
        let entry = self
            .records
            .entry(key)
            .await
            .map_err(|e| unavailable("read a job", e))?;
        let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
            return Ok(None);
        };
        let value = rmpv::decode::read_value(&mut entry.value.as_ref()).map_err(|e| {
            CallError::new(ErrorKind::Internal, format!("a job record is corrupt: {e}"))
        })?;
        let job = JobInfo::from_value(value).map_err(|e| {
            CallError::new(ErrorKind::Internal, format!("a job record is corrupt: {e}"))
        })?;
        Ok(Some((job, entry.revision)))
    }

    /// `job` encoded, or `resource-limit` when it does not fit a message.
    fn encode(&self, job: &JobInfo) -> Result<Bytes, CallError> {
        let mut bytes = Vec::new();
        let _ = rmpv::encode::write_value(&mut bytes, &job.to_stored());
        if bytes.len() > self.max_record {
            return Err(CallError::new(
                ErrorKind::ResourceLimit,
                format!(
                    "in this cluster a job's record (its arguments and result) may take {} \
                     bytes, NATS's largest message; this one takes {}: pass big data as a blob \
                     reference",
                    self.max_record,
                    bytes.len()
                ),
            ));
        }
        Ok(Bytes::from(bytes))
    }

    /// Writes `job` under `key` if the record is still at `revision`.
    async fn update(&self, key: &str, job: &JobInfo, revision: u64) -> Result<u64, WriteError> {
        let bytes = self.encode(job).map_err(WriteError::Failed)?;
        self.records
            .update(key, bytes, revision)
            .await
            .map_err(|e| match e.kind() {
                jetstream::kv::UpdateErrorKind::WrongLastRevision => WriteError::Conflict,
                _ => WriteError::Failed(unavailable("write a job", e)),
            })
    }

    /// Changes the record under `key` with `change` (which returns `None`
    /// to leave it), retrying when another host changed it meanwhile.
    /// Returns the record as it is after.
    async fn modify(
        &self,
        key: &str,
        id: &str,
        change: impl Fn(&JobInfo) -> Option<JobInfo>,
    ) -> Result<JobInfo, CallError> {
        for _ in 0..CAS_TRIES {
            let Some((current, revision)) = self.load(key).await? else {
                return Err(not_found(id));
            };
            let Some(next) = change(&current) else {
                return Ok(current);
            };
            match self.update(key, &next, revision).await {
                Ok(_) => return Ok(next),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Failed(e)) => return Err(e),
            }
        }
        Err(unavailable("change a job", "other hosts kept changing it"))
    }
}

impl SharedJobs for ClusterJobs {
    fn submit(&self, job: JobInfo) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move {
            let plugin = job.node.split('/').next().unwrap_or_default();
            if !is_token(plugin) {
                return Err(CallError::new(
                    ErrorKind::NotFound,
                    format!("plugin `{plugin}` has a name the cluster cannot queue jobs for"),
                ));
            }
            let key = record_key(&job.caller, &job.id).ok_or_else(|| {
                CallError::new(ErrorKind::Internal, "a new job got an invalid id")
            })?;
            let bytes = self.encode(&job)?;
            self.records
                .create(&key, bytes)
                .await
                .map_err(|e| unavailable("record the job", e))?;
            let queued = async {
                let subject = self.shared.subject(&format!("jobq.{plugin}"));
                self.js
                    .publish(subject, Bytes::from(key.clone()))
                    .await
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = queued.await {
                // Not queued: the record must not linger as `queued`.
                let _ = self.records.purge(&key).await;
                return Err(CallError::new(
                    ErrorKind::Overloaded,
                    format!("the cluster's job queue did not take the job: {e}"),
                ));
            }
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        caller: &'a str,
        id: &'a str,
        wait: Option<Duration>,
        keep: bool,
    ) -> BoxFuture<'a, Result<JobInfo, CallError>> {
        Box::pin(async move {
            let key = record_key(caller, id).ok_or_else(|| not_found(id))?;
            let until = wait.map(|w| tokio::time::Instant::now() + w);
            // Polled: quickly at first, then every half second.
            let mut pause = Duration::from_millis(20);
            loop {
                let Some((job, _)) = self.load(&key).await? else {
                    return Err(not_found(id));
                };
                if job.caller != caller {
                    return Err(not_found(id));
                }
                if job.state.is_finished() {
                    if !keep && let Err(e) = self.records.purge(&key).await {
                        tracing::warn!(job = %id, "cannot remove a fetched job: {e}");
                    }
                    return Ok(job);
                }
                let Some(until) = until else {
                    return Ok(job);
                };
                let now = tokio::time::Instant::now();
                if now >= until {
                    return Ok(job);
                }
                tokio::time::sleep(pause.min(until - now)).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        })
    }

    fn cancel<'a>(
        &'a self,
        caller: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<JobInfo, CallError>> {
        Box::pin(async move {
            let key = record_key(caller, id).ok_or_else(|| not_found(id))?;
            let job = self
                .modify(&key, id, |job| {
                    if job.caller != caller || job.state.is_finished() {
                        return None;
                    }
                    let mut job = job.clone();
                    job.state = JobState::Cancelled;
                    job.finished_ms = Some(crate::jobs::now_ms());
                    Some(job)
                })
                .await?;
            if job.caller != caller {
                return Err(not_found(id));
            }
            if job.state == JobState::Cancelled {
                // The host running it stops the call.
                let subject = self.shared.subject("jobs-cancel");
                if let Err(e) = self.shared.client.publish(subject, Bytes::from(key)).await {
                    tracing::warn!(job = %id, "cannot tell the hosts a job was cancelled: {e}");
                }
            }
            Ok(job)
        })
    }

    fn list<'a>(&'a self, caller: &'a str) -> BoxFuture<'a, Result<Vec<JobInfo>, CallError>> {
        Box::pin(async move {
            let prefix = format!("c{}.", hex(caller));
            let mut keys = self
                .records
                .keys()
                .await
                .map_err(|e| unavailable("list jobs", e))?;
            let mut mine = Vec::new();
            while let Some(key) = keys.next().await {
                let key = key.map_err(|e| unavailable("list jobs", e))?;
                if key.starts_with(&prefix) {
                    mine.push(key);
                }
            }
            let mut jobs = Vec::new();
            for key in mine {
                if let Some((job, _)) = self.load(&key).await?
                    && job.caller == caller
                {
                    jobs.push(job);
                }
            }
            jobs.sort_by_key(|job| std::cmp::Reverse(job.created_ms));
            Ok(jobs)
        })
    }
}

/// Returns once the cluster stops.
async fn stopping(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The jobs running here, by record key, each with what stops it.
type Running = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

/// Runs the cluster's jobs of the plugins ready here until the cluster
/// stops: one consumer per plugin, and the cancels the hosts announce.
pub(super) async fn run(jobs: Arc<ClusterJobs>, host: Host) {
    let shared = jobs.shared.clone();
    let mut stop = shared.stop.subscribe();
    let mut changes = host.plugins().subscribe();
    let slots = Arc::new(Semaphore::new(MAX_RUNNING));
    let running: Running = Arc::default();
    match shared.client.subscribe(shared.subject("jobs-cancel")).await {
        Ok(cancels) => {
            tokio::spawn(take_cancels(cancels, running.clone(), shared.clone()));
        }
        Err(e) => tracing::warn!("cannot hear the cluster's job cancels: {e}"),
    }
    let mut consuming: HashMap<String, oneshot::Sender<()>> = HashMap::new();
    loop {
        let ready = super::serve::ready_plugins(&host);
        consuming.retain(|name, _| ready.contains(name));
        for name in ready {
            if consuming.contains_key(&name) {
                continue;
            }
            let (done, stopped) = oneshot::channel();
            consuming.insert(name.clone(), done);
            let worker = Worker {
                jobs: jobs.clone(),
                host: host.clone(),
                slots: slots.clone(),
                running: running.clone(),
            };
            tokio::spawn(worker.consume(name, stopped));
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Stops the jobs running here that another host cancelled.
async fn take_cancels(mut cancels: async_nats::Subscriber, running: Running, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let message = tokio::select! {
            message = cancels.next() => match message {
                Some(message) => message,
                None => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok(key) = std::str::from_utf8(&message.payload) else {
            continue;
        };
        let stopper = running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if let Some(stopper) = stopper {
            let _ = stopper.send(());
        }
    }
}

/// What running one plugin's jobs needs.
#[derive(Clone)]
struct Worker {
    jobs: Arc<ClusterJobs>,
    host: Host,
    slots: Arc<Semaphore>,
    running: Running,
}

impl Worker {
    /// Takes `plugin`'s jobs, one whenever a slot is free, until `stopped`
    /// or the cluster stops.
    async fn consume(self, plugin: String, mut stopped: oneshot::Receiver<()>) {
        let mut stop = self.jobs.shared.stop.subscribe();
        let consumer = loop {
            match self.consumer(&plugin).await {
                Ok(consumer) => break consumer,
                Err(e) => {
                    tracing::warn!(plugin = %plugin, "cannot take the cluster's jobs: {e}");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = &mut stopped => return,
                _ = stop.wait_for(|s| *s) => return,
            }
        };
        loop {
            let slot = tokio::select! {
                slot = self.slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => return,
                },
                _ = &mut stopped => return,
                _ = stop.wait_for(|s| *s) => return,
            };
            let fetched = async {
                let mut batch = consumer
                    .fetch()
                    .max_messages(1)
                    .expires(Duration::from_secs(2))
                    .messages()
                    .await
                    .map_err(|e| e.to_string())?;
                batch.next().await.transpose().map_err(|e| e.to_string())
            };
            let message = tokio::select! {
                fetched = fetched => fetched,
                _ = &mut stopped => return,
                _ = stop.wait_for(|s| *s) => return,
            };
            match message {
                Ok(Some(message)) => {
                    let worker = self.clone();
                    tokio::spawn(async move {
                        worker.handle(message).await;
                        drop(slot);
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(plugin = %plugin, "cannot fetch the cluster's jobs: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// `plugin`'s consumer, shared by every host serving it.
    async fn consumer(&self, plugin: &str) -> Result<jetstream::consumer::PullConsumer, String> {
        use jetstream::consumer::{AckPolicy, pull};
        let stream = self
            .jobs
            .js
            .get_stream(self.jobs.queue())
            .await
            .map_err(|e| e.to_string())?;
        let name = format!("jobs-{plugin}");
        stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: self.jobs.shared.subject(&format!("jobq.{plugin}")),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_ack_pending: -1,
                    ..pull::Config::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs the job `message` names, records its outcome and acknowledges
    /// it; hands it back to the queue if this host stops meanwhile.
    async fn handle(&self, message: jetstream::Message) {
        let Ok(key) = std::str::from_utf8(&message.payload).map(str::to_owned) else {
            let _ = message.ack().await;
            return;
        };
        let deliveries = message.info().map_or(1, |i| i.delivered);
        let loaded = match self.jobs.load(&key).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::warn!(job = %key, "cannot read a queued job: {}", e.message);
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
                return;
            }
        };
        // Gone (fetched, expired) or already ended (cancelled): done.
        let Some((job, _)) = loaded.filter(|(job, _)| !job.state.is_finished()) else {
            let _ = message.double_ack().await;
            return;
        };
        if deliveries > MAX_DELIVERIES {
            let failed = self.finish(&key, |current| {
                let mut job = current.clone();
                job.state = JobState::Failed;
                job.error_kind = Some(ErrorKind::Unavailable);
                job.error = Some(format!(
                    "the job was started {MAX_DELIVERIES} times and each time its host stopped \
                     before it ended; submit it again"
                ));
                job.finished_ms = Some(crate::jobs::now_ms());
                job
            });
            failed.await;
            let _ = message.double_ack().await;
            return;
        }
        let Some(executor) = self.host.jobs().and_then(|j| j.executor()) else {
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
            return;
        };
        let (stopper, mut cancelled) = oneshot::channel();
        self.lock_running().insert(key.clone(), stopper);
        tracing::debug!(job = %job.id, node = %job.node, deliveries, "running a cluster job");
        let started: Started = {
            let jobs = self.jobs.clone();
            let key = key.clone();
            let id = job.id.clone();
            Box::new(move || {
                tokio::spawn(async move {
                    let marked = jobs
                        .modify(&key, &id, |job| {
                            (job.state == JobState::Queued).then(|| {
                                let mut job = job.clone();
                                job.state = JobState::Running;
                                job
                            })
                        })
                        .await;
                    if let Err(e) = marked {
                        tracing::warn!(job = %id, "cannot mark a job running: {}", e.message);
                    }
                });
            })
        };
        let work = execute(executor.as_ref(), job, started);
        tokio::pin!(work);
        let mut stop = self.jobs.shared.stop.subscribe();
        let mut alive = tokio::time::interval(PROGRESS_EVERY);
        alive.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break Some(outcome),
                _ = alive.tick() => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
                // Cancelled elsewhere: the record says so already.
                _ = &mut cancelled => break None,
                () = stopping(&mut stop) => break None,
            }
        };
        self.lock_running().remove(&key);
        let Some((finished, later)) = outcome.filter(|_| !self.host.is_closed()) else {
            if *stop.borrow() || self.host.is_closed() {
                // Leaving: another host runs it again.
                let _ = message.ack_with(AckKind::Nak(None)).await;
            } else {
                let _ = message.double_ack().await;
            }
            return;
        };
        let recorded = finished.clone();
        self.finish(&key, move |_| recorded.clone()).await;
        let _ = message.double_ack().await;
        if later && let Err(e) = executor.deliver(&finished).await {
            tracing::warn!(job = %finished.id, "the job's callback failed: {e}");
            let noted = self.jobs.modify(&key, &finished.id, |job| {
                let mut job = job.clone();
                job.callback_error = Some(e.clone());
                Some(job)
            });
            let _ = noted.await;
        }
    }

    /// Records a job's end as `end` makes it from the current record, unless
    /// it ended already (a cancel that came first wins).
    async fn finish(&self, key: &str, end: impl Fn(&JobInfo) -> JobInfo) {
        let id = key.rsplit('.').next().unwrap_or(key).to_owned();
        let written = self
            .jobs
            .modify(key, &id, |current| {
                (!current.state.is_finished()).then(|| end(current))
            })
            .await;
        match written {
            Ok(job) => tracing::debug!(job = %id, state = ?job.state, "cluster job finished"),
            Err(e) if e.kind == ErrorKind::ResourceLimit => {
                // The result does not fit a record: the job fails saying so.
                let message = e.message.clone();
                let failed = self
                    .jobs
                    .modify(key, &id, |current| {
                        (!current.state.is_finished()).then(|| {
                            let mut job = current.clone();
                            job.state = JobState::Failed;
                            job.error_kind = Some(ErrorKind::ResourceLimit);
                            job.error = Some(message.clone());
                            job.finished_ms = Some(crate::jobs::now_ms());
                            job
                        })
                    })
                    .await;
                if let Err(e) = failed {
                    tracing::error!(job = %id, "cannot record a job's end: {}", e.message);
                }
            }
            Err(e) => tracing::error!(job = %id, "cannot record a job's end: {}", e.message),
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}
