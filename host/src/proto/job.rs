//! Submitted jobs as the protocol shows them.

use rmpv::Value;
use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

    /// Whether the job has ended.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// Everything known about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub error_kind: Option<String>,
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
}

impl JobInfo {
    /// The record as a MessagePack map (what `job` requests return).
    pub fn to_value(&self) -> Value {
        rmpv::ext::to_value(self).unwrap_or(Value::Nil)
    }

    /// Reads a record.
    ///
    /// # Errors
    ///
    /// When the value is not a job record.
    pub fn from_value(value: Value) -> Result<JobInfo, String> {
        rmpv::ext::from_value(value).map_err(|e| format!("malformed job record: {e}"))
    }
}
