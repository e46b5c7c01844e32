//! Tests of the audit chain: hashing, the store, continuation across
//! restarts, retention with its anchor, and verification under each kind of
//! tampering.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use oispd_semconv::Severity;
use rusqlite::{params, Connection};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const SEC: i64 = 1_000_000_000;
/// 2026-01-01T00:00:00Z in nanoseconds.
const T0: i64 = 1_767_225_600 * SEC;

fn entry(n: i64, detector: &str, severity: Severity) -> NewEntry {
    NewEntry {
        ts_unix_nano: T0 + n * SEC,
        finding_id: format!("01FINDING{n:04}"),
        detector: detector.to_string(),
        severity,
        trigger_event_id: format!("01TRIGGER{n:04}"),
        summary: format!("finding {n}"),
        finding: format!("{{\"n\":{n}}}"),
    }
}

/// A store with `n` entries: detectors alternate SEC-01 / SEC-02, severities
/// cycle low, medium, high, critical.
fn store_with(dir: &Path, n: i64) -> StoreConfig {
    let cfg = StoreConfig {
        path: dir.join("audit.db"),
        max_age: None,
        max_rows: None,
    };
    let mut store = AuditStore::open(&cfg).unwrap();
    let mut chain = store.head().unwrap();
    let sev = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    let entries: Vec<AuditEntry> = (1..=n)
        .map(|i| {
            let det = if i % 2 == 1 { "SEC-01" } else { "SEC-02" };
            chain.append(entry(i, det, sev[(i as usize - 1) % 4]))
        })
        .collect();
    store.insert(&entries).unwrap();
    cfg
}

fn sql(cfg: &StoreConfig, statement: &str) {
    let conn = Connection::open(&cfg.path).unwrap();
    conn.execute_batch(statement).unwrap();
}

fn broken_at(cfg: &StoreConfig) -> (u64, BreakReason) {
    match verify(&cfg.path) {
        Err(VerifyError::Broken { first_bad, reason }) => (first_bad, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

/// Scenario: the same entries hashed twice, and with one field changed.
/// Guarantees: hashing is deterministic, covers every field, and length
/// prefixes keep field boundaries unambiguous.
#[test]
fn hash_is_deterministic_and_covers_every_field() {
    let e = entry(1, "SEC-01", Severity::High);
    let h = entry_hash(GENESIS_HASH, 1, &e);
    assert_eq!(h, entry_hash(GENESIS_HASH, 1, &e));
    assert_eq!(h.len(), 64);
    let variants: Vec<NewEntry> = vec![
        NewEntry {
            ts_unix_nano: e.ts_unix_nano + 1,
            ..e.clone()
        },
        NewEntry {
            finding_id: "x".into(),
            ..e.clone()
        },
        NewEntry {
            detector: "SEC-02".into(),
            ..e.clone()
        },
        NewEntry {
            severity: Severity::Low,
            ..e.clone()
        },
        NewEntry {
            trigger_event_id: "y".into(),
            ..e.clone()
        },
        NewEntry {
            summary: "z".into(),
            ..e.clone()
        },
        NewEntry {
            finding: "{}".into(),
            ..e.clone()
        },
    ];
    for v in variants {
        assert_ne!(entry_hash(GENESIS_HASH, 1, &v), h, "{v:?}");
    }
    assert_ne!(entry_hash(GENESIS_HASH, 2, &e), h);
    assert_ne!(entry_hash(&"1".repeat(64), 1, &e), h);
    // Moving bytes between fields changes the hash.
    let a = NewEntry {
        summary: "ab".into(),
        finding: "c".into(),
        ..e.clone()
    };
    let b = NewEntry {
        summary: "a".into(),
        finding: "bc".into(),
        ..e
    };
    assert_ne!(
        entry_hash(GENESIS_HASH, 1, &a),
        entry_hash(GENESIS_HASH, 1, &b)
    );
}

/// Scenario: a chain of three entries in memory.
/// Guarantees: ids are contiguous from 1, each links to the one before.
#[test]
fn chain_links_entries() {
    let mut c = Chain::genesis();
    let a = c.append(entry(1, "SEC-01", Severity::Low));
    let b = c.append(entry(2, "SEC-01", Severity::Low));
    assert_eq!((a.id, b.id), (1, 2));
    assert_eq!(a.previous_hash, GENESIS_HASH);
    assert_eq!(b.previous_hash, a.hash);
    assert_eq!(c.last_hash(), b.hash);
}

/// Scenario: an untouched store of 10 entries.
/// Guarantees: verify checks all 10.
#[test]
fn intact_store_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 10);
    let report = verify(&cfg.path).unwrap();
    assert_eq!(report.checked, 10);
    assert_eq!(report.last_id, 10);
    assert_eq!(report.anchor_id, None);
}

/// Scenario: an entry's summary, severity, or hash edited in place.
/// Guarantees: verify names that entry as modified.
#[test]
fn modified_entry_is_found() {
    for statement in [
        "UPDATE audit_entries SET summary = 'nothing to see' WHERE id = 4",
        "UPDATE audit_entries SET severity = 'low', severity_rank = 1 WHERE id = 4",
        "UPDATE audit_entries SET severity_rank = 0 WHERE id = 4",
        "UPDATE audit_entries SET finding = '{\"n\":0}' WHERE id = 4",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = store_with(dir.path(), 6);
        sql(&cfg, statement);
        assert_eq!(broken_at(&cfg), (4, BreakReason::Modified), "{statement}");
    }
    // Rewriting an entry and recomputing its own hash breaks the next link.
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 6);
    let conn = Connection::open(&cfg.path).unwrap();
    let prev: String = conn
        .query_row(
            "SELECT previous_hash FROM audit_entries WHERE id = 4",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut forged = entry(4, "SEC-02", Severity::None);
    forged.summary = "benign".into();
    let h = entry_hash(&prev, 4, &forged);
    conn.execute(
        "UPDATE audit_entries SET summary = 'benign', severity = 'none', severity_rank = 0, hash = ?1 WHERE id = 4",
        params![h],
    )
    .unwrap();
    assert_eq!(broken_at(&cfg), (5, BreakReason::Unlinked));
}

/// Scenario: an entry in the middle deleted, and the first entry deleted.
/// Guarantees: verify names the missing id.
#[test]
fn deleted_entry_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 6);
    sql(&cfg, "DELETE FROM audit_entries WHERE id = 3");
    assert_eq!(
        broken_at(&cfg),
        (
            3,
            BreakReason::Deleted {
                missing_from: 3,
                missing_to: 3
            }
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 6);
    sql(&cfg, "DELETE FROM audit_entries WHERE id <= 2");
    assert_eq!(
        broken_at(&cfg),
        (
            1,
            BreakReason::Deleted {
                missing_from: 1,
                missing_to: 2
            }
        )
    );
}

/// Scenario: a forged entry inserted in the middle (later ids shifted up)
/// and one appended with a made-up previous hash.
/// Guarantees: verify finds the first entry that no longer holds.
#[test]
fn inserted_entry_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 5);
    let conn = Connection::open(&cfg.path).unwrap();
    // Shift 4.. up by one (descending to keep ids unique), then insert a
    // self-consistent entry 4 after entry 3.
    conn.execute_batch("UPDATE audit_entries SET id = id + 100 WHERE id >= 4; UPDATE audit_entries SET id = id - 99 WHERE id >= 100;")
        .unwrap();
    let prev: String = conn
        .query_row("SELECT hash FROM audit_entries WHERE id = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    let forged = entry(99, "SEC-01", Severity::Low);
    let h = entry_hash(&prev, 4, &forged);
    conn.execute(
        "INSERT INTO audit_entries VALUES (4, ?1, ?2, ?3, 'low', 1, ?4, ?5, ?6, ?7, ?8)",
        params![
            forged.ts_unix_nano,
            forged.finding_id,
            forged.detector,
            forged.trigger_event_id,
            forged.summary,
            forged.finding,
            prev,
            h
        ],
    )
    .unwrap();
    // Entry 4 is consistent; the shifted old entry 4 (now 5) is not.
    assert_eq!(broken_at(&cfg), (5, BreakReason::Modified));

    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 3);
    let conn = Connection::open(&cfg.path).unwrap();
    let forged = entry(4, "SEC-01", Severity::Low);
    let fake_prev = "f".repeat(64);
    let h = entry_hash(&fake_prev, 4, &forged);
    conn.execute(
        "INSERT INTO audit_entries VALUES (4, ?1, ?2, ?3, 'low', 1, ?4, ?5, ?6, ?7, ?8)",
        params![
            forged.ts_unix_nano,
            forged.finding_id,
            forged.detector,
            forged.trigger_event_id,
            forged.summary,
            forged.finding,
            fake_prev,
            h
        ],
    )
    .unwrap();
    assert_eq!(broken_at(&cfg), (4, BreakReason::Unlinked));
}

/// Scenario: two entries swap places (ids exchanged), and two entries'
/// contents swapped under their ids.
/// Guarantees: verify finds the first moved entry.
#[test]
fn reordered_entries_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 6);
    sql(
        &cfg,
        "UPDATE audit_entries SET id = 100 WHERE id = 2; UPDATE audit_entries SET id = 2 WHERE id = 5; UPDATE audit_entries SET id = 5 WHERE id = 100;",
    );
    assert_eq!(broken_at(&cfg), (2, BreakReason::Modified));

    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 6);
    let conn = Connection::open(&cfg.path).unwrap();
    // Swap every column but id between rows 2 and 3, keeping each row's own hash.
    conn.execute_batch(
        "CREATE TEMP TABLE t AS SELECT * FROM audit_entries WHERE id IN (2, 3);
         UPDATE audit_entries SET (ts_unix_nano, finding_id, detector, severity, severity_rank, trigger_event_id, summary, finding, previous_hash, hash)
           = (SELECT ts_unix_nano, finding_id, detector, severity, severity_rank, trigger_event_id, summary, finding, previous_hash, hash FROM t WHERE t.id = 5 - audit_entries.id)
           WHERE id IN (2, 3);",
    )
    .unwrap();
    assert_eq!(broken_at(&cfg), (2, BreakReason::Modified));
}

/// Scenario: an audit log opened, written, closed, opened again, written.
/// Guarantees: the chain continues across the restart (ids and links) and
/// the whole store verifies.
#[test]
fn chain_continues_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::at(dir.path().join("nested/dir/audit.db"));
    let mut log = AuditLog::open(&cfg).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let fresh = |n: i64| NewEntry {
        ts_unix_nano: now,
        ..entry(n, "SEC-05", Severity::Medium)
    };
    let first = log.append(vec![fresh(1), fresh(2)]);
    assert!(first.store_error.is_none());
    let last_hash = first.entries[1].hash.clone();
    drop(log);
    let mut log = AuditLog::open(&cfg).unwrap();
    assert_eq!(log.chain().last_id(), 2);
    assert_eq!(log.chain().last_hash(), last_hash);
    let second = log.append(vec![fresh(3)]);
    assert_eq!(second.entries[0].id, 3);
    assert_eq!(second.entries[0].previous_hash, last_hash);
    assert_eq!(verify(&cfg.path).unwrap().checked, 3);
}

/// Scenario: retention by row count, then by age, then a restart after
/// everything was pruned.
/// Guarantees: the anchor keeps the remaining chain verifiable, pruning the
/// anchor's successor is still detected, and new entries chain onto the
/// anchor when the table is empty.
#[test]
fn retention_keeps_the_chain_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = store_with(dir.path(), 10);
    cfg.max_rows = Some(4);
    let mut store = AuditStore::open(&cfg).unwrap();
    assert_eq!(store.prune(T0).unwrap(), 6);
    let report = verify(&cfg.path).unwrap();
    assert_eq!(
        report,
        VerifyReport {
            checked: 4,
            anchor_id: Some(6),
            last_id: 10
        }
    );

    // By age: entries 7 and 8 are older than T0 + 8.5 s - 1 s.
    cfg.max_rows = None;
    cfg.max_age = Some(Duration::from_secs(1));
    let mut store = AuditStore::open(&cfg).unwrap();
    assert_eq!(store.prune(T0 + 9 * SEC + SEC / 2).unwrap(), 2);
    let report = verify(&cfg.path).unwrap();
    assert_eq!(
        report,
        VerifyReport {
            checked: 2,
            anchor_id: Some(8),
            last_id: 10
        }
    );
    let conn = Connection::open(&cfg.path).unwrap();
    let total: i64 = conn
        .query_row("SELECT pruned_total FROM audit_anchor", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 8);
    drop(conn);

    // Deleting the entry right after the anchor is still caught.
    let dir2 = tempfile::tempdir().unwrap();
    let mut cfg2 = store_with(dir2.path(), 5);
    cfg2.max_rows = Some(3);
    AuditStore::open(&cfg2).unwrap().prune(T0).unwrap();
    sql(&cfg2, "DELETE FROM audit_entries WHERE id = 3");
    assert_eq!(
        broken_at(&cfg2),
        (
            3,
            BreakReason::Deleted {
                missing_from: 3,
                missing_to: 3
            }
        )
    );

    // Everything pruned: the head is the anchor, and the chain goes on.
    cfg.max_age = Some(Duration::from_secs(1));
    let mut store = AuditStore::open(&cfg).unwrap();
    assert_eq!(store.prune(T0 + 100 * SEC).unwrap(), 2);
    let head = store.head().unwrap();
    assert_eq!(head.last_id(), 10);
    let mut chain = head;
    let e = chain.append(entry(11, "SEC-01", Severity::High));
    store.insert(&[e]).unwrap();
    assert_eq!(verify(&cfg.path).unwrap().checked, 1);
}

/// Scenario: queries by time range, minimum severity and detector.
/// Guarantees: the filters combine, results are oldest first with the
/// stored finding parsed.
#[test]
fn query_filters() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 8);
    let all = query(&cfg.path, &QueryFilter::default()).unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all[0]["id"], 1);
    assert_eq!(all[0]["finding"]["n"], 1);
    assert_eq!(all[0]["ts"], "2026-01-01T00:00:01.000000Z");
    assert_eq!(all[0]["previous_hash"], GENESIS_HASH);

    let at = |s: i64| UNIX_EPOCH + Duration::from_nanos((T0 + s * SEC) as u64);
    let ids = |f: QueryFilter| -> Vec<i64> {
        query(&cfg.path, &f)
            .unwrap()
            .iter()
            .map(|v| v["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        ids(QueryFilter {
            since: Some(at(3)),
            until: Some(at(6)),
            ..Default::default()
        }),
        vec![3, 4, 5]
    );
    assert_eq!(
        ids(QueryFilter {
            min_severity: Some(Severity::High),
            ..Default::default()
        }),
        vec![3, 4, 7, 8]
    );
    assert_eq!(
        ids(QueryFilter {
            detector: Some("sec-02".into()),
            ..Default::default()
        }),
        vec![2, 4, 6, 8]
    );
    assert_eq!(
        ids(QueryFilter {
            detector: Some("SEC-02".into()),
            min_severity: Some(Severity::Critical),
            ..Default::default()
        }),
        vec![4, 8]
    );
}

/// Scenario: `--since` values as RFC 3339 and as durations.
/// Guarantees: both parse; garbage is a clear error.
#[test]
fn time_arguments() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    assert_eq!(
        parse_time("24h", now).unwrap(),
        UNIX_EPOCH + Duration::from_secs(1_000_000 - 86_400)
    );
    assert_eq!(
        parse_time("1970-01-02T00:00:00Z", now).unwrap(),
        UNIX_EPOCH + Duration::from_secs(86_400)
    );
    let err = parse_time("yesterday", now).unwrap_err().to_string();
    assert!(err.contains("RFC 3339"), "{err}");
}

/// Scenario: verify and query on a missing file and on a SQLite file that is
/// not an audit store.
/// Guarantees: a store error naming the file, not a chain break.
#[test]
fn not_an_audit_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let err = verify(&missing).unwrap_err();
    assert!(err.first_bad().is_none());
    assert!(err.to_string().contains("nope.db"), "{err}");
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER);")
        .unwrap();
    let err = query(&other, &QueryFilter::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an oispd audit store"), "{err}");
}

/// Scenario: the store is opened by the sentinel.
/// Guarantees: it is in WAL mode.
#[test]
fn store_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 1);
    let conn = Connection::open(&cfg.path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Scenario: a store created in a directory that does not exist yet, with
/// entries written (the WAL and SHM files exist while it is open).
/// Guarantees: the directory is 0700; the database, its -wal and its -shm
/// files are 0600.
#[test]
fn store_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        path: dir.path().join("made/audit.db"),
        max_age: None,
        max_rows: None,
    };
    let mut store = AuditStore::open(&cfg).unwrap();
    let mut chain = store.head().unwrap();
    store
        .insert(&[chain.append(entry(1, "SEC-01", Severity::High))])
        .unwrap();
    assert_eq!(mode(&dir.path().join("made")), 0o700);
    for suffix in ["", "-wal", "-shm"] {
        let f = with_suffix(&cfg.path, suffix);
        assert!(f.exists(), "{} missing", f.display());
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

/// Scenario: a store and its WAL/SHM files (kept by a second open
/// connection) left 0644 by an older version.
/// Guarantees: reopening makes all three 0600 and keeps the entries.
#[test]
fn loose_store_files_are_tightened_on_open() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = store_with(dir.path(), 3);
    let other = Connection::open(&cfg.path).unwrap();
    other.execute_batch("SELECT 1").unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let f = with_suffix(&cfg.path, suffix);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let store = AuditStore::open(&cfg).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let f = with_suffix(&cfg.path, suffix);
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert_eq!(store.head().unwrap().last_id(), 3);
    drop(other);
}

/// Scenario: the store config in YAML with retention, and with bad values.
/// Guarantees: humantime durations parse; zero values and typos are errors.
#[test]
fn store_config() {
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("{path: /tmp/a.db, max_age: 7d, max_rows: 10}").unwrap();
    let cfg: StoreConfig = oispd_component::parse_config(&v).unwrap();
    assert_eq!(cfg.max_age, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(cfg.max_rows, Some(10));
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str("{path: /tmp/a.db}").unwrap();
    let cfg: StoreConfig = oispd_component::parse_config(&v).unwrap();
    assert_eq!(cfg.max_age, Some(DEFAULT_MAX_AGE));
    assert_eq!(cfg.max_rows, Some(DEFAULT_MAX_ROWS));
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("{path: /tmp/a.db, max_rows: 0}").unwrap();
    assert!(oispd_component::parse_config::<StoreConfig>(&v).is_err());
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str("{path: /tmp/a.db, max_ag: 1d}").unwrap();
    let errs = oispd_component::parse_config::<StoreConfig>(&v).unwrap_err();
    assert_eq!(errs[0].to_string(), "'' has invalid keys: max_ag");
}
