//! Job records in a redb table, one MessagePack value per job.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable, TableDefinition};

use crate::proto::JobInfo as JobRecord;

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The job table.
pub(crate) struct JobStore {
    db: Database,
}

impl JobStore {
    pub(crate) fn open(path: &Path) -> Result<JobStore, String> {
        let db = Database::create(path).map_err(|e| {
            format!(
                "cannot open the job store `{}`: {e} (is another `warden serve` using the \
                 same --state-dir?)",
                path.display()
            )
        })?;
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        txn.open_table(JOBS).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())?;
        Ok(JobStore { db })
    }

    pub(crate) fn put(&self, job: &JobRecord) -> Result<(), String> {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &job.to_value()).map_err(|e| e.to_string())?;
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
            table
                .insert(job.id.as_str(), bytes.as_slice())
                .map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }

    pub(crate) fn get(&self, id: &str) -> Result<Option<JobRecord>, String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
        let Some(bytes) = table.get(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        decode(bytes.value()).map(Some)
    }

    pub(crate) fn remove(&self, id: &str) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
            table.remove(id).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// Every record (for the start-up sweep).
    pub(crate) fn all(&self) -> Result<Vec<JobRecord>, String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| e.to_string())? {
            let (_, bytes) = entry.map_err(|e| e.to_string())?;
            match decode(bytes.value()) {
                Ok(job) => out.push(job),
                Err(e) => tracing::warn!("skipping a job record: {e}"),
            }
        }
        Ok(out)
    }
}

fn decode(mut bytes: &[u8]) -> Result<JobRecord, String> {
    let value = rmpv::decode::read_value(&mut bytes).map_err(|e| e.to_string())?;
    JobRecord::from_value(value).map_err(|e| e.0)
}
