//! `oispd audit query`: stored entries matching a time range, a minimum
//! severity and a detector, oldest first, as JSON objects (one per line in
//! the CLI).

use super::store::{open_read_only, sqlite_err};
use super::AuditError;
use oispd_semconv::{format_ts_nanos, parse_ts_nanos, Severity};
use rusqlite::types::Value as SqlValue;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which entries to return; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryFilter {
    /// Entries detected at or after this time.
    pub since: Option<SystemTime>,
    /// Entries detected before this time.
    pub until: Option<SystemTime>,
    /// Entries of at least this severity.
    pub min_severity: Option<Severity>,
    /// Entries of this detector id (`SEC-02`), case-insensitive.
    pub detector: Option<String>,
}

fn unix_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Parses a `--since` / `--until` value: an RFC 3339 timestamp
/// (`2026-01-02T03:04:05Z`) or a duration before `now` (`24h`, `7d`, `90m`).
pub fn parse_time(s: &str, now: SystemTime) -> Result<SystemTime, AuditError> {
    if let Some(ns) = parse_ts_nanos(s) {
        return Ok(UNIX_EPOCH + Duration::from_nanos(ns));
    }
    match humantime::parse_duration(s) {
        Ok(d) => now
            .checked_sub(d)
            .ok_or_else(|| AuditError::Time(format!("{s:?} reaches before 1970"))),
        Err(_) => Err(AuditError::Time(format!(
            "{s:?} is neither an RFC 3339 time (2026-01-02T03:04:05Z) nor a duration ago (24h, 7d)"
        ))),
    }
}

/// The entries of the store at `path` that match `filter`, oldest first.
/// Each is `{"id", "ts", "finding_id", "detector", "severity",
/// "trigger_event_id", "summary", "finding", "previous_hash", "hash"}` with
/// `finding` the stored JSON object.
pub fn query(path: &Path, filter: &QueryFilter) -> Result<Vec<Value>, AuditError> {
    let (conn, shown) = open_read_only(path)?;
    let mut sql = String::from(
        "SELECT id, ts_unix_nano, finding_id, detector, severity, trigger_event_id, summary, finding, \
         previous_hash, hash FROM audit_entries WHERE 1 = 1",
    );
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(t) = filter.since {
        args.push(SqlValue::Integer(unix_nanos(t)));
        sql.push_str(&format!(" AND ts_unix_nano >= ?{}", args.len()));
    }
    if let Some(t) = filter.until {
        args.push(SqlValue::Integer(unix_nanos(t)));
        sql.push_str(&format!(" AND ts_unix_nano < ?{}", args.len()));
    }
    if let Some(s) = filter.min_severity {
        args.push(SqlValue::Integer(s as i64));
        sql.push_str(&format!(" AND severity_rank >= ?{}", args.len()));
    }
    if let Some(d) = &filter.detector {
        args.push(SqlValue::Text(d.clone()));
        sql.push_str(&format!(" AND detector = ?{} COLLATE NOCASE", args.len()));
    }
    sql.push_str(" ORDER BY id");
    let mut stmt = conn.prepare(&sql).map_err(sqlite_err(&shown))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            let ts: i64 = r.get(1)?;
            let finding: String = r.get(7)?;
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "ts": u64::try_from(ts).ok().and_then(format_ts_nanos),
                "finding_id": r.get::<_, String>(2)?,
                "detector": r.get::<_, String>(3)?,
                "severity": r.get::<_, String>(4)?,
                "trigger_event_id": r.get::<_, String>(5)?,
                "summary": r.get::<_, String>(6)?,
                "finding": serde_json::from_str::<Value>(&finding).unwrap_or(Value::String(finding)),
                "previous_hash": r.get::<_, String>(8)?,
                "hash": r.get::<_, String>(9)?,
            }))
        })
        .map_err(sqlite_err(&shown))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_err(&shown))
}
