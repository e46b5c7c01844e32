//! The durable audit store: one SQLite file in WAL mode
//! (`sentinel: {store: {path: FILE, max_age: 30d, max_rows: N}}`).
//!
//! Tables: `audit_entries` (one row per entry, `id` = chain position),
//! `audit_anchor` (one row: id and hash of the last entry removed by
//! retention, and how many were removed in all) and `audit_meta` (the format
//! name). Retention removes the oldest entries, by age and by row count, and
//! in the same transaction moves the anchor to the last one removed, so the
//! first remaining entry still links to a known hash and the rest of the
//! chain stays verifiable.
//!
//! Modes: findings quote prompts, so the database and its `-wal` / `-shm`
//! files are 0600 and a directory created for them 0700. SQLite creates the
//! WAL and SHM files (and a rollback journal) with the permissions of the
//! database file, so the database file is created by oispd first, 0600 at
//! creation, and SQLite only ever opens it; no umask change is needed
//! (the umask is process-wide and would race with every other thread that
//! creates a file). Files left with looser modes by an older version are
//! tightened before SQLite opens them.

use super::chain::{AuditEntry, Chain, GENESIS_HASH};
use super::AuditError;
use oispd_component::{private_fs, ComponentConfig};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The format name stored in `audit_meta`.
pub(crate) const FORMAT: &str = "oispd-audit-v1";

/// Default retention by age: 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default retention by row count.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;

/// How long a writer waits for a lock held by a reader (`oispd audit query`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_entries (
    id INTEGER PRIMARY KEY,
    ts_unix_nano INTEGER NOT NULL,
    finding_id TEXT NOT NULL,
    detector TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    trigger_event_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    finding TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_ts ON audit_entries(ts_unix_nano);
CREATE TABLE IF NOT EXISTS audit_anchor (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_pruned_id INTEGER NOT NULL,
    last_pruned_hash TEXT NOT NULL,
    pruned_total INTEGER NOT NULL
);
";

/// `sentinel.store`: where and how long audit entries are kept.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file (created if missing).
    pub path: PathBuf,
    /// Entries older than this are removed (`30d`, `12h`). Default 30 days.
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_age: Option<Duration>,
    /// At most this many entries are kept, newest first. Default 1,000,000.
    #[serde(default = "default_max_rows")]
    pub max_rows: Option<u64>,
}

fn default_max_age() -> Option<Duration> {
    Some(DEFAULT_MAX_AGE)
}

fn default_max_rows() -> Option<u64> {
    Some(DEFAULT_MAX_ROWS)
}

impl StoreConfig {
    /// A store at `path` with the default retention.
    pub fn at(path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            path: path.into(),
            max_age: default_max_age(),
            max_rows: default_max_rows(),
        }
    }
}

impl ComponentConfig for StoreConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push("'store.path' must be set".to_string());
        }
        if self.max_rows == Some(0) {
            problems.push("'store.max_rows' must be at least 1".to_string());
        }
        if self.max_age == Some(Duration::ZERO) {
            problems.push("'store.max_age' must be longer than 0s".to_string());
        }
        problems
    }
}

/// The retention anchor: the last entry removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub last_pruned_id: u64,
    pub last_pruned_hash: String,
    pub pruned_total: u64,
}

/// An open audit store.
pub struct AuditStore {
    conn: Connection,
    path: String,
    max_age: Option<Duration>,
    max_rows: Option<u64>,
}

pub(crate) fn sqlite_err(path: &str) -> impl Fn(rusqlite::Error) -> AuditError + '_ {
    move |source| AuditError::Sqlite {
        path: path.to_string(),
        source,
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Checks that an opened file is an oispd audit store of a known format.
pub(crate) fn check_format(conn: &Connection, path: &str) -> Result<(), AuditError> {
    let format: Option<String> = conn
        .query_row(
            "SELECT value FROM audit_meta WHERE key = 'format'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|_| AuditError::Format {
            path: path.to_string(),
            message: "not an oispd audit store (no audit_meta table)".to_string(),
        })?;
    match format.as_deref() {
        Some(FORMAT) => Ok(()),
        Some(other) => Err(AuditError::Format {
            path: path.to_string(),
            message: format!("unknown format {other:?}, expected {FORMAT:?}"),
        }),
        None => Err(AuditError::Format {
            path: path.to_string(),
            message: "not an oispd audit store (no format)".to_string(),
        }),
    }
}

/// Reads the anchor, if retention ever removed entries.
pub(crate) fn read_anchor(conn: &Connection, path: &str) -> Result<Option<Anchor>, AuditError> {
    conn.query_row(
        "SELECT last_pruned_id, last_pruned_hash, pruned_total FROM audit_anchor WHERE singleton = 1",
        [],
        |r| {
            Ok(Anchor {
                last_pruned_id: to_u64(r.get(0)?),
                last_pruned_hash: r.get(1)?,
                pruned_total: to_u64(r.get(2)?),
            })
        },
    )
    .optional()
    .map_err(sqlite_err(path))
}

/// Creates the database file 0600 if it is missing, so that SQLite's WAL,
/// SHM and journal files, which take its permissions, are 0600 too; and
/// takes group and other permissions away from an existing database and
/// its companion files.
fn make_private(db: &Path) -> std::io::Result<()> {
    let file = private_fs::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(db)?;
    private_fs::tighten_open(&file, db)?;
    let companions: Vec<PathBuf> = ["-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
        .collect();
    private_fs::tighten_all(
        companions.iter().map(PathBuf::as_path),
        "audit store WAL/SHM files",
    )
}

/// Opens an existing store for reading only.
pub(crate) fn open_read_only(path: &Path) -> Result<(Connection, String), AuditError> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(AuditError::Format {
            path: shown,
            message: "no such file".to_string(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(&shown))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_err(&shown))?;
    check_format(&conn, &shown)?;
    Ok((conn, shown))
}

impl AuditStore {
    /// Opens (creating if needed) the store of `config`, in WAL mode, and
    /// applies retention once.
    pub fn open(config: &StoreConfig) -> Result<AuditStore, AuditError> {
        let path = config.path.display().to_string();
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_fs::create_dir_all(dir).map_err(|e| AuditError::Format {
                path: path.clone(),
                message: format!("creating directory {}: {e}", dir.display()),
            })?;
        }
        make_private(&config.path).map_err(|e| AuditError::Format {
            path: path.clone(),
            message: format!("making the store readable by its owner only: {e}"),
        })?;
        let conn = Connection::open(&config.path).map_err(sqlite_err(&path))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_err(&path))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sqlite_err(&path))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(AuditError::Format {
                path,
                message: format!("could not switch to WAL mode (journal_mode is {mode})"),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite_err(&path))?;
        conn.execute_batch(SCHEMA).map_err(sqlite_err(&path))?;
        conn.execute(
            "INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('format', ?1)",
            params![FORMAT],
        )
        .map_err(sqlite_err(&path))?;
        check_format(&conn, &path)?;
        Ok(AuditStore {
            conn,
            path,
            max_age: config.max_age,
            max_rows: config.max_rows,
        })
    }

    /// The file, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The chain head to continue from: the last entry, else the anchor,
    /// else genesis.
    pub fn head(&self) -> Result<Chain, AuditError> {
        let last: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT id, hash FROM audit_entries ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sqlite_err(&self.path))?;
        if let Some((id, hash)) = last {
            return Ok(Chain::resume(to_u64(id), hash));
        }
        Ok(match read_anchor(&self.conn, &self.path)? {
            Some(a) => Chain::resume(a.last_pruned_id, a.last_pruned_hash),
            None => Chain::resume(0, GENESIS_HASH.to_string()),
        })
    }

    /// Writes `entries` in one transaction.
    pub fn insert(&mut self, entries: &[AuditEntry]) -> Result<(), AuditError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite_err(&path))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO audit_entries (id, ts_unix_nano, finding_id, detector, severity, severity_rank, \
                     trigger_event_id, summary, finding, previous_hash, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(sqlite_err(&path))?;
            for e in entries {
                stmt.execute(params![
                    to_i64(e.id),
                    e.entry.ts_unix_nano,
                    e.entry.finding_id,
                    e.entry.detector,
                    e.entry.severity.as_str(),
                    e.entry.severity as i64,
                    e.entry.trigger_event_id,
                    e.entry.summary,
                    e.entry.finding,
                    e.previous_hash,
                    e.hash,
                ])
                .map_err(sqlite_err(&path))?;
            }
        }
        tx.commit().map_err(sqlite_err(&path))
    }

    /// Applies retention as of `now_unix_nano`: removes entries older than
    /// `max_age` and all but the newest `max_rows`, moving the anchor to the
    /// last entry removed. Returns how many were removed.
    pub fn prune(&mut self, now_unix_nano: i64) -> Result<u64, AuditError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite_err(&path))?;
        let mut cutoff: Option<i64> = None;
        if let Some(age) = self.max_age {
            let oldest =
                now_unix_nano.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
            let id: Option<i64> = tx
                .query_row(
                    "SELECT MAX(id) FROM audit_entries WHERE ts_unix_nano < ?1",
                    params![oldest],
                    |r| r.get(0),
                )
                .map_err(sqlite_err(&path))?;
            cutoff = cutoff.max(id);
        }
        if let Some(max_rows) = self.max_rows {
            let max_id: Option<i64> = tx
                .query_row("SELECT MAX(id) FROM audit_entries", [], |r| r.get(0))
                .map_err(sqlite_err(&path))?;
            if let Some(max_id) = max_id {
                let keep_from = max_id.saturating_sub(to_i64(max_rows)) + 1;
                if keep_from > 1 {
                    cutoff = cutoff.max(Some(keep_from - 1));
                }
            }
        }
        let Some(cutoff) = cutoff else {
            return Ok(0);
        };
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, hash FROM audit_entries WHERE id <= ?1 ORDER BY id DESC LIMIT 1",
                params![cutoff],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sqlite_err(&path))?;
        let Some((last_id, last_hash)) = last else {
            return Ok(0);
        };
        let removed = tx
            .execute("DELETE FROM audit_entries WHERE id <= ?1", params![last_id])
            .map_err(sqlite_err(&path))?;
        tx.execute(
            "INSERT INTO audit_anchor (singleton, last_pruned_id, last_pruned_hash, pruned_total) \
             VALUES (1, ?1, ?2, ?3) \
             ON CONFLICT(singleton) DO UPDATE SET last_pruned_id = excluded.last_pruned_id, \
             last_pruned_hash = excluded.last_pruned_hash, \
             pruned_total = audit_anchor.pruned_total + excluded.pruned_total",
            params![last_id, last_hash, removed as i64],
        )
        .map_err(sqlite_err(&path))?;
        tx.commit().map_err(sqlite_err(&path))?;
        Ok(removed as u64)
    }
}
