//! Job records in a redb table, one MessagePack value per job. Records are
//! read one at a time (never all at once), and every write says how many
//! bytes the record took before and takes now, for the quotas.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable, TableDefinition};

use crate::proto::JobInfo as JobRecord;

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");

/// The database's page cache: records are read one by one, so a small one
/// does (redb's default is a gigabyte).
const CACHE_BYTES: usize = 8 << 20;

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
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| {
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

    /// Stores `job`; the bytes its record took before (0 if new) and takes
    /// now.
    pub(crate) fn put(&self, job: &JobRecord) -> Result<(usize, usize), String> {
        let bytes = encode(job)?;
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        let before = {
            let mut table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
            let old = table
                .insert(job.id.as_str(), bytes.as_slice())
                .map_err(|e| e.to_string())?;
            old.map_or(0, |v| v.value().len())
        };
        txn.commit().map_err(|e| e.to_string())?;
        Ok((before, bytes.len()))
    }

    pub(crate) fn get(&self, id: &str) -> Result<Option<JobRecord>, String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
        let Some(bytes) = table.get(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        decode(bytes.value()).map(Some)
    }

    /// Removes job `id`; the bytes its record took (0 if there was none).
    pub(crate) fn remove(&self, id: &str) -> Result<usize, String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        let removed = {
            let mut table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
            let old = table.remove(id).map_err(|e| e.to_string())?;
            old.map_or(0, |v| v.value().len())
        };
        txn.commit().map_err(|e| e.to_string())?;
        Ok(removed)
    }

    /// Calls `each` with every record and the bytes it takes, one at a
    /// time; records that cannot be read are skipped with a warning.
    pub(crate) fn for_each(&self, mut each: impl FnMut(JobRecord, usize)) -> Result<(), String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(JOBS).map_err(|e| e.to_string())?;
        for entry in table.iter().map_err(|e| e.to_string())? {
            let (_, bytes) = entry.map_err(|e| e.to_string())?;
            let bytes = bytes.value();
            match decode(bytes) {
                Ok(job) => each(job, bytes.len()),
                Err(e) => tracing::warn!("skipping a job record: {e}"),
            }
        }
        Ok(())
    }
}

fn encode(job: &JobRecord) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &job.to_stored()).map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Result<JobRecord, String> {
    let value =
        crate::proto::decode_value(bytes, crate::proto::MAX_DEPTH).map_err(|e| e.to_string())?;
    JobRecord::from_value(value).map_err(|e| e.0)
}

/// The bytes a job's arguments take encoded.
pub(crate) fn args_bytes(job: &JobRecord) -> usize {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut bytes, &job.args);
    bytes.len()
}
