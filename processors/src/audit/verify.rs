//! `oispd audit verify`: walks the stored chain from the retention anchor (or
//! genesis) and reports the first entry where it breaks.
//!
//! Checks per entry, in id order: the id follows the previous one (a gap is
//! a deleted entry), `previous_hash` equals the previous entry's hash
//! (deleted, inserted or reordered entries), the stored hash equals the hash
//! recomputed from the entry's fields (modified entries), and the
//! query-only `severity_rank` column agrees with `severity`.

use super::chain::{entry_hash, NewEntry, GENESIS_HASH};
use super::store::{open_read_only, read_anchor, sqlite_err};
use super::AuditError;
use oispd_semconv::Severity;
use std::fmt;
use std::path::Path;

/// A chain that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries checked.
    pub checked: u64,
    /// Id of the last entry removed by retention, if any (the chain starts
    /// after it).
    pub anchor_id: Option<u64>,
    /// Id of the last entry (0 when the store is empty).
    pub last_id: u64,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain breaks at `first_bad`.
    #[error("audit chain breaks at entry {first_bad}: {reason}")]
    Broken {
        /// The first entry id where the chain does not hold.
        first_bad: u64,
        /// What is wrong there.
        reason: BreakReason,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] AuditError),
}

impl VerifyError {
    /// The first bad entry id, when the chain itself is broken.
    pub fn first_bad(&self) -> Option<u64> {
        match self {
            VerifyError::Broken { first_bad, .. } => Some(*first_bad),
            VerifyError::Store(_) => None,
        }
    }
}

/// How the chain breaks at an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakReason {
    /// Entries are missing before this one (`missing_from..=missing_to`).
    Deleted {
        /// First missing id.
        missing_from: u64,
        /// Last missing id.
        missing_to: u64,
    },
    /// The entry's previous hash is not the previous entry's hash.
    Unlinked,
    /// The entry's fields no longer give its stored hash.
    Modified,
    /// A stored field is not valid (unknown severity, negative id...).
    Invalid(String),
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::Deleted {
                missing_from,
                missing_to,
            } if missing_from == missing_to => write!(f, "entry {missing_from} is missing (deleted)"),
            BreakReason::Deleted {
                missing_from,
                missing_to,
            } => write!(f, "entries {missing_from} to {missing_to} are missing (deleted)"),
            BreakReason::Unlinked => f.write_str(
                "previous_hash does not match the entry before it (entries inserted, deleted or reordered)",
            ),
            BreakReason::Modified => f.write_str("contents do not match the stored hash (modified)"),
            BreakReason::Invalid(what) => write!(f, "invalid entry: {what}"),
        }
    }
}

struct Row {
    id: i64,
    ts: i64,
    finding_id: String,
    detector: String,
    severity: String,
    severity_rank: i64,
    trigger: String,
    summary: String,
    finding: String,
    previous_hash: String,
    hash: String,
}

/// Verifies the store at `path`.
pub fn verify(path: &Path) -> Result<VerifyReport, VerifyError> {
    let (conn, shown) = open_read_only(path)?;
    let anchor = read_anchor(&conn, &shown)?;
    let (mut expected_id, mut expected_prev) = match &anchor {
        Some(a) => (a.last_pruned_id + 1, a.last_pruned_hash.clone()),
        None => (1, GENESIS_HASH.to_string()),
    };
    let mut stmt = conn
        .prepare(
            "SELECT id, ts_unix_nano, finding_id, detector, severity, severity_rank, trigger_event_id, \
             summary, finding, previous_hash, hash FROM audit_entries ORDER BY id",
        )
        .map_err(sqlite_err(&shown))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                ts: r.get(1)?,
                finding_id: r.get(2)?,
                detector: r.get(3)?,
                severity: r.get(4)?,
                severity_rank: r.get(5)?,
                trigger: r.get(6)?,
                summary: r.get(7)?,
                finding: r.get(8)?,
                previous_hash: r.get(9)?,
                hash: r.get(10)?,
            })
        })
        .map_err(sqlite_err(&shown))?;
    let mut checked = 0u64;
    let mut last_id = 0u64;
    for row in rows {
        let row = row.map_err(sqlite_err(&shown))?;
        let Ok(id) = u64::try_from(row.id) else {
            return Err(VerifyError::Broken {
                first_bad: 0,
                reason: BreakReason::Invalid(format!("negative id {}", row.id)),
            });
        };
        let broken = |reason| {
            Err(VerifyError::Broken {
                first_bad: id,
                reason,
            })
        };
        if id < expected_id {
            return broken(BreakReason::Invalid(format!(
                "id {id} comes before the retention anchor (expected {expected_id})"
            )));
        }
        if id > expected_id {
            return Err(VerifyError::Broken {
                first_bad: expected_id,
                reason: BreakReason::Deleted {
                    missing_from: expected_id,
                    missing_to: id - 1,
                },
            });
        }
        let Ok(severity) = row.severity.parse::<Severity>() else {
            return broken(BreakReason::Invalid(format!(
                "unknown severity {:?}",
                row.severity
            )));
        };
        if row.severity_rank != severity as i64 {
            return broken(BreakReason::Modified);
        }
        let entry = NewEntry {
            ts_unix_nano: row.ts,
            finding_id: row.finding_id,
            detector: row.detector,
            severity,
            trigger_event_id: row.trigger,
            summary: row.summary,
            finding: row.finding,
        };
        if entry_hash(&row.previous_hash, id, &entry) != row.hash {
            return broken(BreakReason::Modified);
        }
        if row.previous_hash != expected_prev {
            return broken(BreakReason::Unlinked);
        }
        expected_prev = row.hash;
        expected_id += 1;
        checked += 1;
        last_id = id;
    }
    Ok(VerifyReport {
        checked,
        anchor_id: anchor.map(|a| a.last_pruned_id),
        last_id,
    })
}
