//! Submitted jobs as the protocol shows them.

use rmpv::Value;

use super::error::ErrorKind;
use super::record::{MapIn, MapOut, ProtoError};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for a free slot.
    Queued,
    /// Its node is running.
    Running,
    /// Finished with a result.
    Done,
    /// Finished with an error (also: the host stopped while it ran).
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobState {
    /// Every state, in the order a job passes through them.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `name`, if it is one.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job has ended.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// Everything known about one job. On the wire a map with these keys, in
/// this order; see PROTOCOL.md.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    /// The job's id.
    pub id: String,
    /// The node it calls.
    pub node: String,
    /// Its arguments.
    pub args: Value,
    /// Who submitted it; only that caller sees it.
    pub caller: String,
    /// Where it is.
    pub state: JobState,
    /// The result, once `done`.
    pub result: Option<Value>,
    /// The error kind, once `failed`.
    pub error_kind: Option<ErrorKind>,
    /// The error message, once `failed`.
    pub error: Option<String>,
    /// A node to call with the outcome.
    pub callback: Option<String>,
    /// Why the callback failed, if it did.
    pub callback_error: Option<String>,
    /// When it was submitted, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// When it finished.
    pub finished_ms: Option<u64>,
    /// The submitting request's `traceparent`, which the job's call joins.
    /// Kept with the job by the host; not part of the record on the wire.
    pub trace: Option<String>,
    /// For a URL callback: the method (`POST` when absent, or `PUT`).
    /// Kept with the job; not on the wire.
    pub callback_method: Option<String>,
    /// For a URL callback: send `{KEY: record}` instead of the record. Kept
    /// with the job; not on the wire.
    pub callback_key: Option<String>,
}

impl JobInfo {
    /// The record as a MessagePack map (what `submit`, `job` and `cancel`
    /// return).
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put("id", self.id.as_str())
            .put("node", self.node.as_str())
            .put("args", self.args.clone())
            .put("caller", self.caller.as_str())
            .put("state", self.state.as_str())
            .opt("result", self.result.clone())
            .opt("error_kind", self.error_kind.map(ErrorKind::as_str))
            .opt("error", self.error.as_deref())
            .opt("callback", self.callback.as_deref())
            .opt("callback_error", self.callback_error.as_deref())
            .put("created_ms", self.created_ms)
            .opt("finished_ms", self.finished_ms)
            .build()
    }

    /// The record as the host stores it: [`JobInfo::to_value`], its trace
    /// and how its callback is sent.
    pub fn to_stored(&self) -> Value {
        let mut value = self.to_value();
        if let Value::Map(entries) = &mut value {
            for (key, field) in [
                ("trace", &self.trace),
                ("callback_method", &self.callback_method),
                ("callback_key", &self.callback_key),
            ] {
                if let Some(text) = field {
                    entries.push((Value::from(key), Value::from(text.as_str())));
                }
            }
        }
        value
    }

    /// Reads a record. An error kind this version does not know reads as
    /// `internal`.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming the field that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<JobInfo, ProtoError> {
        let mut map = MapIn::new(value, "job record")?;
        let state = map.name(
            "state",
            JobState::parse,
            "`queued`, `running`, `done`, `failed` or `cancelled`",
        )?;
        let result = map.take("result");
        Ok(JobInfo {
            id: map.str("id")?,
            node: map.str("node")?,
            args: map.take("args").unwrap_or(Value::Nil),
            caller: map.str("caller")?,
            state,
            // A `done` job whose node returns nothing has the result nil.
            result: match state {
                JobState::Done => Some(result.unwrap_or(Value::Nil)),
                _ => result,
            },
            error_kind: map
                .opt_str("error_kind")?
                .map(|k| k.parse().unwrap_or(ErrorKind::Internal)),
            error: map.opt_str("error")?,
            callback: map.opt_str("callback")?,
            callback_error: map.opt_str("callback_error")?,
            created_ms: map.u64("created_ms")?,
            finished_ms: map.opt_u64("finished_ms")?,
            trace: map.opt_str("trace")?,
            callback_method: map.opt_str("callback_method")?,
            callback_key: map.opt_str("callback_key")?,
        })
    }
}
